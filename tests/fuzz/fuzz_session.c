/*
 * fuzz_session.c: libFuzzer target for gui-daemon's window model and policies
 * (gui-daemon/session.c) with X stubbed (stub_x11.c): the agent's byte stream
 * goes through a real connection (daemon role) into the session, interleaved
 * with X events (the window manager moving windows, a tray embedding icons,
 * exposures, screen changes). The stub checks every call the session makes;
 * every message the session sends must be one an agent accepts; at the end
 * every window, image and grant mapping is released.
 *
 * Grants: a fake mapper (grant_impl.h's vtable) hands out anonymous read-only
 * pages at once, or refuses refs that look like the fuzzer asked for it, so
 * dumps cost no round trip; the grant mapper itself has fuzz_grant_map.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "fz.h"
#include "grant_impl.h"
#include "qgui/conn.h"
#include "qgui/log.h"
#include "session.h"
#include "stub_x11.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---------------------------------------------------------------- the fake grant mapper */

struct fake_mapping {
	struct grant_mapping base;
	void *addr;
};

static const struct grant_mapping_ops fake_mapping_ops;

static int fake_map(struct grant_mapper *m, const uint32_t *refs, size_t n, struct grant_mapping **out)
{
	struct fake_mapping *g;

	(void)m;
	for (size_t i = 0; i < n; i++) {
		if ((refs[i] & 0xfff00000u) == 0xbad00000u) {
			return -EPROTO; /* the owner's violation */
		}
	}
	if (refs[0] == 0xffffffffu) {
		return -ENOMEM; /* a local failure */
	}
	g = calloc(1, sizeof(*g));
	FZ_ASSERT(g != NULL);
	g->addr = mmap(NULL, n * GRANT_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	FZ_ASSERT(g->addr != MAP_FAILED);
	g->base.ops = &fake_mapping_ops;
	g->base.npages = n;
	*out = &g->base;
	return 0;
}

static void fake_mapper_destroy(struct grant_mapper *m)
{
	(void)m;
}

static const void *fake_addr(struct grant_mapping *base)
{
	return ((struct fake_mapping *)base)->addr;
}

static int fake_fd(const struct grant_mapping *g, size_t *offset)
{
	(void)g;
	(void)offset;
	return -1;
}

static void fake_destroy(struct grant_mapping *base)
{
	struct fake_mapping *g = (struct fake_mapping *)base;

	munmap(g->addr, g->base.npages * GRANT_PAGE_SIZE);
	free(g);
}

static const struct grant_mapper_ops fake_mapper_ops = { .map = fake_map, .destroy = fake_mapper_destroy };
static const struct grant_mapping_ops fake_mapping_ops = { .addr = fake_addr, .fd = fake_fd,
	.destroy = fake_destroy };

/* ---------------------------------------------------------------- screens */

static const struct {
	uint32_t w, h;
} screens[8] = { { 1024, 768 }, { 1920, 1080 }, { 640, 480 }, { 100, 80 }, { 3840, 2160 }, { 32, 24 }, { 800, 600 },
	{ 8, 8 } };

static void pick_screen(uint8_t b, uint32_t *w, uint32_t *h, struct rect *work)
{
	*w = screens[b & 7].w;
	*h = screens[b & 7].h;
	switch ((b >> 3) & 3) {
	case 0:
		*work = (struct rect){ 0, 0, (int32_t)*w, (int32_t)*h };
		break;
	case 1: /* a panel at the top */
		*work = (struct rect){ 0, 24, (int32_t)*w, (int32_t)*h - 24 > 1 ? (int32_t)*h - 24 : 1 };
		break;
	case 2: /* a panel at the left and one at the bottom */
		*work = (struct rect){ 48, 0, (int32_t)*w - 48 > 1 ? (int32_t)*w - 48 : 1,
			(int32_t)*h - 30 > 1 ? (int32_t)*h - 30 : 1 };
		break;
	default: /* a small work area in the middle */
		*work = (struct rect){ (int32_t)*w / 4, (int32_t)*h / 4, (int32_t)*w / 2 + 1, (int32_t)*h / 2 + 1 };
		break;
	}
}

static struct rect get_rect(struct fz_in *in)
{
	return (struct rect){ (int16_t)fz_u16(in), (int16_t)fz_u16(in), fz_u16(in) % 5000, fz_u16(in) % 5000 };
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(getenv("FUZZ_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	return 0;
}

/*
 * Input: byte 0: configuration bits (override-redirect allowed, its
 * protection, a window manager running, -T, invisible, the peer stops
 * reading, allow_fullscreen, UTF-8 titles); byte 1: border width, tray
 * mode, events_max_delay 1 ms (bit 6); byte 2: the screen and work area; byte 3: the agent's minor version;
 * byte 4: the image budget. Then operations: a byte below 0x80 is a chunk of
 * that many + 1 bytes of the agent's stream (handled at once); 0x80 and up
 * are X events on the window chosen by the next byte.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t b0 = fz_u8(&in), b1 = fz_u8(&in), b2 = fz_u8(&in), b3 = fz_u8(&in), b4 = fz_u8(&in);
	static const uint64_t budgets[4] = { 256u << 20, 1u << 20, 64u << 10, 0 };
	struct grant_mapper mapper = { .ops = &fake_mapper_ops };
	struct gd_config cfg;
	struct conn_params p;
	struct transport *t = fz_transport_create();
	struct fz_check chk;
	struct session_ref ref = { NULL };
	struct x11 *x;
	struct conn *c;
	struct rect work;
	uint32_t sw, sh, v;
	uint8_t vw[4];
	int rc;

	config_defaults(&cfg);
	snprintf(cfg.vmname, sizeof(cfg.vmname), "fuzzvm");
	cfg.domid = 5;
	cfg.override_redirect_allowed = (b0 & 1) == 0;
	cfg.override_redirect_protection = (b0 & 2) == 0;
	cfg.title_prefix = (b0 & 8) != 0;
	cfg.invisible = (b0 & 16) != 0 && (b0 & 32) != 0;
	cfg.allow_fullscreen = (b0 & 64) != 0;
	cfg.allow_utf8_titles = (b0 & 128) != 0;
	cfg.border_width = b1 % 5;
	cfg.tray_mode = (enum tray_mode)((b1 >> 3) & 3);
	cfg.events_max_delay = (b1 & 0x40) ? 1 : 0; /* the delay queue, at 1 ms (real time) */
	snprintf(cfg.clipboard_dir, sizeof(cfg.clipboard_dir), "/nonexistent");
	pick_screen(b2, &sw, &sh, &work);
	x = stub_x11_create(&cfg, sw, sh, &work, budgets[b4 & 3]);
	stub_x11_set_wm(x, (b0 & 4) != 0);

	conn_params_default(&p, CONN_DAEMON);
	proto_xconf_for_screen(sw, sh, 24, &p.xconf);
	p.clipboard_max = cfg.max_clipboard_size;
	p.utf8_titles = cfg.allow_utf8_titles;
	if ((b0 & 48) == 32) {
		fz_transport_stall(t, 16, 2000); /* the agent reads a little, then never again */
		p.out_cap = 4096;
	}
	v = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, b3 % 9);
	proto_encode_version(v, vw);
	fz_transport_feed(t, vw, sizeof(vw));
	fz_check_init(&chk, PROTO_D2A, v, (v >= QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION ? 4 : 0) + 16);
	fz_transport_check(t, &chk);
	c = conn_create(t, &p);
	FZ_ASSERT(c != NULL);
	rc = conn_next(c, &(struct proto_msg){ 0 });
	FZ_ASSERT(rc == CONN_READY && conn_version(c) == v);
	ref.s = session_create(&cfg, x, c, &mapper);
	FZ_ASSERT(ref.s != NULL);

	while (in.left > 0) {
		uint8_t op = fz_u8(&in);
		struct gwin *w;
		struct rect r;

		if (op < 0x80) {
			const uint8_t *chunk;
			size_t n = fz_bytes(&in, (size_t)op + 1, &chunk);

			fz_transport_feed(t, chunk, n);
			if (session_process(ref.s, 1000) != SESSION_RUNNING) {
				break;
			}
			continue;
		}
		w = stub_x11_nwin(x) ? stub_x11_win(x, fz_u8(&in) % stub_x11_nwin(x)) : NULL;
		op &= 0x1f;
		if (w == NULL && op != 4 && op != 13) {
			continue;
		}
		switch (op) {
		case 0: /* the window manager moved or resized it (without one, only override-redirect windows
			   are watched: nothing but the local user moves the others) */
			r = get_rect(&in);
			if (r.w > 0 && r.h > 0 && ((b0 & 4) != 0 || w->override_redirect)) {
				session_x11_events.configured(&ref, w, &r);
			}
			break;
		case 1:
			session_x11_events.mapped(&ref, w);
			break;
		case 2:
			if (w->docked) {
				session_x11_events.embedded(&ref, w, (int16_t)fz_u16(&in), (int16_t)fz_u16(&in));
			}
			break;
		case 3:
			r = get_rect(&in);
			if (r.w > 0 && r.h > 0 && r.x >= 0 && r.y >= 0) {
				session_x11_events.expose(&ref, w, &r);
			}
			break;
		case 4: { /* xrandr or a panel: a new screen, then SIGHUP or the X event */
			uint8_t b = fz_u8(&in);

			pick_screen(b, &sw, &sh, &work);
			stub_x11_set_screen(x, sw, sh, &work);
			if (b & 0x80) {
				session_screen_changed(ref.s);
			} else {
				session_x11_events.screen_changed(&ref);
			}
			break;
		}
		case 5:
			session_x11_events.close_request(&ref, w);
			break;
		case 6:
			session_x11_events.state(&ref, w, fz_u8(&in) & (WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_DEMANDS_ATTENTION |
						WINDOW_FLAG_MINIMIZE));
			break;
		case 7:
			session_x11_events.focus(&ref, w, (fz_u8(&in) & 1) ? QGUI_FocusIn : QGUI_FocusOut, 0);
			break;
		case 8:
			session_x11_events.key(&ref, w, QGUI_KeyPress, 1, 2, 0, 38);
			session_x11_events.button(&ref, w, QGUI_ButtonPress, 3, 4, 0, 1);
			session_x11_events.motion(&ref, w, 5, 6, 0, 0);
			break;
		case 9:
			session_x11_events.secure_copy(&ref, w, fz_u32(&in));
			break;
		case 10:
			session_x11_events.secure_paste(&ref, w, fz_u32(&in));
			break;
		case 11:
			session_x11_events.crossing(&ref, w, (fz_u8(&in) & 1) ? QGUI_EnterNotify : QGUI_LeaveNotify, 1, 1, 0,
					0, 0, 1);
			break;
		case 13: {
			uint8_t b = fz_u8(&in);

			stub_x11_set_failures(x, (b & 3) == 3, (b & 12) == 12);
			break;
		}
		default:
			break;
		}
		if (session_process(ref.s, 1000) != SESSION_RUNNING) {
			break;
		}
		FZ_ASSERT(session_timeout(ref.s) <= 1000); /* the loop always wakes up within a second */
		(void)session_throttled(ref.s);
	}
	/* the agent goes away: everything it had disappears */
	fz_transport_close(t);
	(void)session_process(ref.s, 100000);
	session_destroy(ref.s);
	stub_x11_destroy(x);
	grant_mapper_destroy(&mapper); /* INVARIANT: no mapping outlives the session */
	conn_destroy(c);
	transport_destroy(t);
	return 0;
}

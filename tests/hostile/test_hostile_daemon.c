/*
 * test_hostile_daemon.c: hostile agents against gui-daemon, one attack per case, all on one Xvfb.
 *
 * Each case starts a daemon for a hostile agent (VM "hostile") beside the honest
 * agent (VM "work") that runs for the whole program, gives the hostile agent a
 * mapped window, then makes one attack. The engine (run_case) checks what
 * tests/hostile/README.md promises:
 *   IGNORED:      the hostile session goes on (a barrier round trip), with at
 *                 most the one log line named by the case;
 *   SESSION_ENDS: that daemon exits with status 3 after exactly one log line
 *                 about it, naming the VM, and the agent sees the disconnect;
 * and in both cases: the whole log is printable ASCII (no VM bytes reached it
 * raw), the honest agent's next frame is acknowledged and drawn, so its daemon
 * and the X server answer. Floods also bound the daemon's VmRSS and fds.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include "gd.h"
#include "gdfix.h"
#include "peer.h"
#include "procwatch.h"
#include "test.h"
#include "wire.h"

#define dpy gdfix_dpy
#define LABEL GDFIX_LABEL
#define T_MS GDFIX_MS
#define SW GDFIX_SCREEN_W
#define SH GDFIX_SCREEN_H
#define VM "hostile"
#define HW 0x10u          /* the hostile agent's mapped window, at (HX, HY), HWW x HWH */
#define HX 100
#define HY 100
#define HWW 64
#define HWH 48
#define HRGB 0x804020u
#define NW 0x20u          /* a window id the attacks create */
#define GOOD 0x10u        /* the honest agent's window, at (GX, GY), 100 x 80 */
#define GX 800
#define GY 600
#define NO_SUCH_TYPE 0xffffu
#define FLOOD_RSS_KIB (16 * 1024) /* what a flood may add to the daemon's VmRSS */

enum outcome { IGNORED, SESSION_ENDS };

struct hctx;

struct hcase {
	const char *name;
	enum outcome expect;
	const char *log;                 /* the one log line about the attack contains this (IGNORED: may be NULL) */
	struct wire msg;                 /* the attack, when attack is NULL */
	int (*attack)(struct hctx *c);   /* 0, or -1 having said why */
	int (*check)(struct hctx *c);    /* IGNORED: what the user sees afterwards; 0 or -1 */
	uint32_t version;                /* the hostile agent's offer (0: 1.8) */
	const char *const *args;         /* more daemon options */
	const char *conf;                /* a guid.conf global section for the daemon (-C), or NULL */
	bool handshake;                  /* the attack plays the handshake itself (the daemon is only spawned) */
	bool bare;                       /* no window HW (nor its grants) before the attack */
};

struct hctx {
	const struct hcase *hc;
	struct fixture f;
	long log_from;
};

#define MSG(t, win, l, ...) .msg = { (t), (win), (l), __VA_ARGS__ }
#define W WIRE_W
#define Z WIRE_Z

static struct fixture honest;
static uint32_t honest_rgb = 0x101010;

/* ------------------------------------------------------------------ helpers */

static bool fail_msg(const char *what)
{
	test_fail(__FILE__, __LINE__, "%s", what);
	return false;
}

/* The honest agent's next frame is acknowledged and shown: its daemon and the X server work. */
static bool honest_ok(void)
{
	struct proto_msg m;

	honest_rgb = honest_rgb >= 0x1010f0 ? 0x101010 : honest_rgb + 1;
	if (tagent_fill(honest.a, GOOD, 100, 80, honest_rgb) != 0 ||
			tagent_expect_win(honest.a, MSG_WINDOW_DUMP_ACK, GOOD, T_MS, &m) != 0) {
		return fail_msg("the honest agent's frame was not acknowledged");
	}
	if (!xrig_wait_pixel(dpy, GX + 50, GY + 40, honest_rgb, T_MS)) {
		return fail_msg("the honest agent's frame is not on the screen");
	}
	return true;
}

static Window hostile_window(uint32_t id)
{
	return xrig_find_vm_window(dpy, VM, id, T_MS);
}

/* ------------------------------------------------------------------ attacks and checks */

static int title_is(uint32_t id, const char *want)
{
	char got[512];
	Window w = hostile_window(id);

	if (w == None || xrig_get_string(dpy, w, "_NET_WM_NAME", got, sizeof(got)) != 0) {
		printf("#   no title on window 0x%x\n", id);
		return -1;
	}
	if (strcmp(got, want) != 0) {
		printf("#   title \"%s\", expected \"%s\"\n", got, want);
		return -1;
	}
	return 0;
}

static int a_title_escapes(struct hctx *c)
{
	static const char t[] = "\x1b]0;root@dom0\x07\x1b[2J\x1b[31mred\r\nnext\x7f\x9b";

	return wire_send_text(c->f.a, MSG_WMNAME, HW, t, sizeof(t) - 1, NULL, 0);
}

static int k_title_escapes(struct hctx *c)
{
	(void)c;
	return title_is(HW, "_]0;root@dom0__[2J_[31mred__next__");
}

static int a_title_unterminated(struct hctx *c)
{
	char t[128];

	memset(t, 'A', sizeof(t));
	return wire_send_text(c->f.a, MSG_WMNAME, HW, t, sizeof(t), NULL, 0);
}

static int k_title_unterminated(struct hctx *c)
{
	char want[128];

	(void)c;
	memset(want, 'A', 127);
	want[127] = '\0';
	return title_is(HW, want);
}

static int a_title_bytes(struct hctx *c)
{
	static const char t[] = "ok\xff\xc0\xaf\xe2\x80\xae!"; /* invalid UTF-8, an overlong '/', U+202E */

	return wire_send_text(c->f.a, MSG_WMNAME, HW, t, sizeof(t) - 1, NULL, 0);
}

static int k_title_bytes(struct hctx *c)
{
	(void)c;
	return title_is(HW, "ok______!");
}

static int a_title_bidi(struct hctx *c)
{
	/* allowed UTF-8 around RLO, LRI and PDI: the reordering marks go, the letters stay */
	static const char t[] = "abc\xe2\x80\xae" "fdp.exe\xe2\x81\xa6x\xe2\x81\xa9 \xc3\xa9";

	return wire_send_text(c->f.a, MSG_WMNAME, HW, t, sizeof(t) - 1, NULL, 0);
}

static int k_title_bidi(struct hctx *c)
{
	(void)c;
	return title_is(HW, "abc___fdp.exe___x___ \xc3\xa9");
}

static int a_title_dom0(struct hctx *c)
{
	static const char t[] = "  [dom0] Terminal";

	return wire_send_text(c->f.a, MSG_WMNAME, HW, t, sizeof(t) - 1, NULL, 0);
}

static int k_title_dom0(struct hctx *c)
{
	(void)c;
	return title_is(HW, "[" VM "]   [dom0] Terminal");
}

static int a_class_escapes(struct hctx *c)
{
	static const char cls[] = "\x1b[31mXTerm\x07", name[] = "xterm\n\x1b]2;dom0\x07";

	if (tagent_create(c->f.a, NW, 300, 100, 40, 30, false, NULL, false) != 0) {
		return -1;
	}
	return wire_send_text(c->f.a, MSG_WMCLASS, NW, cls, sizeof(cls) - 1, name, sizeof(name) - 1);
}

static int class_is(uint32_t id, const char *res_name, const char *res_class)
{
	XClassHint ch = { NULL, NULL };
	Window w = hostile_window(id);
	int rc = -1;

	if (w != None && XGetClassHint(dpy, w, &ch)) {
		rc = strcmp(ch.res_name, res_name) == 0 && strcmp(ch.res_class, res_class) == 0 ? 0 : -1;
		if (rc) {
			printf("#   WM_CLASS \"%s\", \"%s\"; expected \"%s\", \"%s\"\n", ch.res_name, ch.res_class, res_name,
					res_class);
		}
		XFree(ch.res_name);
		XFree(ch.res_class);
	} else {
		printf("#   no WM_CLASS on window 0x%x\n", id);
	}
	return rc;
}

static int k_class_escapes(struct hctx *c)
{
	(void)c;
	return class_is(NW, VM ":xterm__]2;dom0_", VM ":_[31mXTerm_");
}

static int a_class_after_map(struct hctx *c)
{
	if (tagent_create(c->f.a, NW, 300, 100, 40, 30, false, NULL, false) != 0 ||
			wire_send_text(c->f.a, MSG_WMCLASS, NW, "Good", 4, "good", 4) != 0) {
		return -1;
	}
	/* NW mapped, then a class change: ICCCM allows it only while withdrawn */
	if (tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_MAP, .window = NW }) != 0) {
		return -1;
	}
	return wire_send_text(c->f.a, MSG_WMCLASS, NW, "Firefox", 7, "firefox", 7);
}

static int k_class_after_map(struct hctx *c)
{
	(void)c;
	return class_is(NW, VM ":good", VM ":Good");
}

static int a_hints(struct hctx *c)
{
	/* every flag; min over the maximum, max 0, increments at the maximum, base huge */
	static const uint32_t h[] = { 0xffffffffu, 16385, 10, 0, 20, 16384, 6144, 0xffffffffu, 0xffffffffu };

	return wire_send_words(c->f.a, MSG_WINDOW_HINTS, HW, h, 9);
}

static int k_hints(struct hctx *c)
{
	XSizeHints sh;
	long supplied = 0;
	Window w = hostile_window(HW);

	(void)c;
	if (w == None || !XGetWMNormalHints(dpy, w, &sh, &supplied)) {
		printf("#   no WM_NORMAL_HINTS\n");
		return -1;
	}
	/* nothing passes but the positions: the sizes were all out of range, the rest is never allowed */
	if ((sh.flags & ~(long)(PPosition | USPosition)) != 0) {
		printf("#   hint flags 0x%lx got through\n", sh.flags);
		return -1;
	}
	return 0;
}

static int a_create_negative(struct hctx *c)
{
	static const uint32_t b[] = { 300, 100, 0xffffffffu, 30, 0, 0 };

	return wire_send_words(c->f.a, MSG_CREATE, NW, b, 6);
}

static int k_absent(struct hctx *c)
{
	(void)c;
	if (xrig_find_vm_window(dpy, VM, NW, 0) != None) {
		printf("#   window 0x%x exists\n", NW);
		return -1;
	}
	return 0;
}

/* Frame of window id within (x0, y0)..(x1, y1), and at most mw x mh. */
static int frame_within(uint32_t id, int x0, int y0, int x1, int y1, unsigned mw, unsigned mh)
{
	Window w = hostile_window(id);
	int x, y;
	unsigned fw, fh;

	if (w == None || xrig_geometry(dpy, w, &x, &y, &fw, &fh) != 0) {
		printf("#   no window 0x%x\n", id);
		return -1;
	}
	if (x < x0 || y < y0 || x > x1 || y > y1 || fw > mw || fh > mh) {
		printf("#   window 0x%x at %d,%d %ux%u\n", id, x, y, fw, fh);
		return -1;
	}
	return 0;
}

static int a_create_huge(struct hctx *c)
{
	static const uint32_t b[] = { 0, 0, 0x7fffffff, 0x7fffffff, 0, 0 };

	return wire_send_words(c->f.a, MSG_CREATE, NW, b, 6);
}

static int k_create_huge(struct hctx *c)
{
	(void)c;
	/* clamped to the largest size (reference 4.1); unmapped, it is placed when it is shown */
	return frame_within(NW, -2, -2, -2, -2, 16384 + 4, 6144 + 4);
}

static int a_create_far(struct hctx *c)
{
	static const uint32_t b[] = { 0x7fffffff, 0x80000000u, 10, 10, 0, 0 };

	if (wire_send_words(c->f.a, MSG_CREATE, NW, b, 6) != 0) {
		return -1;
	}
	return tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_MAP, .window = NW });
}

static int k_create_far(struct hctx *c)
{
	(void)c;
	/* clamped to x <= 16384, y >= -6144: entirely off the screen, left there */
	return frame_within(NW, 16384 - 2, -6144 - 2, 16384 - 2, -6144 - 2, 14, 14);
}

static int a_configure_huge(struct hctx *c)
{
	static const uint32_t b[] = { 0x80000000u, 0x80000000u, 0xffffffffu, 0xffffffffu, 1 };

	if (tagent_create(c->f.a, NW, 300, 100, 40, 30, false, NULL, false) != 0) {
		return -1;
	}
	return wire_send_words(c->f.a, MSG_CONFIGURE, NW, b, 5);
}

static int k_configure_huge(struct hctx *c)
{
	(void)c;
	return frame_within(NW, 0, 0, 0, 0, SW, SH);
}

/* The hostile window's content and its border are as before the attack. */
static int k_border_intact(struct hctx *c)
{
	(void)c;
	if (!xrig_wait_pixel(dpy, HX + HWW / 2, HY + HWH / 2, HRGB, T_MS) || xrig_root_pixel(dpy, HX - 1, HY) != LABEL ||
			xrig_root_pixel(dpy, HX + HWW, HY + HWH) != LABEL || xrig_root_pixel(dpy, HX + HWW + 2, HY) == HRGB) {
		printf("#   the hostile window's content or border changed\n");
		return -1;
	}
	return 0;
}

static int a_shmimage_overflow(struct hctx *c)
{
	static const uint32_t r[][4] = {
		{ 0, 0, 0x7fffffff, 0x7fffffff },
		{ 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff },
		{ HWW - 1, HWH - 1, 0x7fffffff, 2 },
		{ 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < 4; i++) {
		if (wire_send_words(c->f.a, MSG_SHMIMAGE, HW, r[i], 4) != 0) {
			return -1;
		}
	}
	return 0;
}

static bool frame_or(uint32_t id)
{
	XWindowAttributes a;
	Window w = hostile_window(id);

	return w != None && XGetWindowAttributes(dpy, w, &a) && a.override_redirect;
}

static int a_or_huge(struct hctx *c)
{
	return tagent_create(c->f.a, NW, 0, 0, SW - 20, SH - 20, true, NULL, false);
}

static int k_not_or(struct hctx *c)
{
	(void)c;
	if (frame_or(NW)) {
		printf("#   window 0x%x is override-redirect\n", NW);
		return -1;
	}
	return 0;
}

static int a_or_gain_on_map(struct hctx *c)
{
	if (tagent_create(c->f.a, NW, 300, 100, 40, 30, false, NULL, true) != 0) {
		return -1;
	}
	return tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_MAP, .window = NW, .u.map = { 0, true } });
}

static int a_or_plain(struct hctx *c)
{
	return tagent_create(c->f.a, NW, 300, 100, 40, 30, true, NULL, false);
}

static int a_or_offscreen(struct hctx *c)
{
	if (tagent_create(c->f.a, NW, -30, -20, 60, 40, true, NULL, true) != 0) {
		return -1;
	}
	return tagent_fill(c->f.a, NW, 60, 40, 0x0000c0);
}

static int k_or_offscreen(struct hctx *c)
{
	(void)c;
	/* pulled inside the screen, border and all: the label colour at the corner, content just inside */
	if (!frame_or(NW) || !xrig_wait_pixel(dpy, 5, 5, 0x0000c0, T_MS) || xrig_root_pixel(dpy, 0, 0) != LABEL ||
			xrig_root_pixel(dpy, 1, 20) != LABEL) {
		printf("#   the override-redirect window is not on the screen with its border\n");
		return -1;
	}
	return 0;
}

static int a_dock_twice(struct hctx *c)
{
	if (tagent_create(c->f.a, NW, 300, 100, 16, 16, false, NULL, false) != 0 ||
			tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_DOCK, .window = NW }) != 0) {
		return -1;
	}
	return tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_DOCK, .window = NW });
}

static int a_dock_or(struct hctx *c)
{
	if (tagent_create(c->f.a, NW, 300, 100, 16, 16, true, NULL, false) != 0) {
		return -1;
	}
	return tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_DOCK, .window = NW });
}

static int a_clipboard_unrequested(struct hctx *c)
{
	static char data[MAX_CLIPBOARD_BUFFER_SIZE + 1];

	memset(data, 'x', sizeof(data));
	return wire_send(c->f.a, &(struct wire){ MSG_CLIPBOARD_DATA, 0, sizeof(data), NULL, 0, data, sizeof(data), 0 });
}

static int k_clipboard_untouched(struct hctx *c)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/qubes-clipboard.bin", c->f.clipdir);
	if (procwatch_size(path) != 0) {
		printf("#   the global clipboard was written\n");
		return -1;
	}
	return 0;
}

static int a_destroy_then_use(struct hctx *c)
{
	if (tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_DESTROY, .window = HW }) != 0) {
		return -1;
	}
	return tagent_send(c->f.a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = HW,
					    .u.shmimage = { 0, 0, 1, 1 } });
}

static int a_dump_bad_refs(struct hctx *c)
{
	static const uint32_t b[] = { 0, 32, 32, 32, 0x12345678, 0x12345679, 0x1234567a, 0x1234567b };

	return wire_send_words(c->f.a, MSG_WINDOW_DUMP, HW, b, 8);
}

/* A dump of a sparse memfd of 1 TiB, served by a hostile grant owner (the agent's own never shares it). */
static int a_dump_huge_memfd(struct hctx *c)
{
	struct peer_fake_cfg cfg = { c->f.agent_dom, 1, 1ull << 40, 4, 4, 0xee, 0, false };
	static const uint32_t b[] = { 0, 64, 64, 32, 100, 101, 102, 103 };
	struct kid owner = { 0 };
	int rc;

	if (!kid_spawn(&owner, KID_TRACKED, peer_fake_owner_main, &cfg) || peer_ready(&owner) != 0 ||
			tagent_create(c->f.a, HW, HX, HY, HWW, HWH, false, NULL, true) != 0) {
		kid_finish(&owner);
		return -1;
	}
	rc = wire_send_words(c->f.a, MSG_WINDOW_DUMP, HW, b, 8);
	if (xrig_wait(c->f.daemon, T_MS) != 3) { /* the owner must answer until the daemon has decided */
		rc = -1;
	}
	c->f.daemon = 0;
	kid_finish(&owner);
	return rc;
}

static int a_too_many_windows(struct hctx *c)
{
	enum { N = GD_MAX_WINDOWS + 1 };
	uint8_t *buf = malloc((size_t)N * 36), *p = buf;
	int rc;

	if (buf == NULL) {
		return -1;
	}
	for (uint32_t i = 0; i < N; i++, p += 36) {
		wire_put32(p, MSG_CREATE);
		wire_put32(p + 4, 0x1000 + i);
		wire_put32(p + 8, 24);
		memset(p + 12, 0, 24);
		wire_put32(p + 12, (uint32_t)-100); /* off the screen, 1 x 1 */
		wire_put32(p + 20, 1);
		wire_put32(p + 24, 1);
	}
	rc = tagent_send_raw(c->f.a, buf, (size_t)N * 36);
	free(buf);
	return rc;
}

/*
 * The agent keeps answering the daemon's configure with another geometry and never
 * reads: each answer makes the daemon repeat its own (reference 2.5), until its
 * output queue reaches its cap.
 */
static int a_output_cap(struct hctx *c)
{
	enum { N = 2000 }; /* per write: each is taken well within tagent_send_raw's time limit */
	uint8_t *buf = wire_configures(NW, 500, 300, 40, 30, N);
	struct proto_msg m;

	if (buf == NULL || tagent_create(c->f.a, NW, -20, 300, 40, 30, false, NULL, true) != 0 ||
			tagent_expect_win(c->f.a, MSG_CONFIGURE, NW, T_MS, &m) != 0) {
		free(buf);
		return -1;
	}
	/* one 32-byte answer per message: the 10 MB cap is met after 10 MB (up to 32 MB sent) */
	for (int round = 0; round < 500 && !tagent_disconnected(c->f.a) && xrig_wait(c->f.daemon, 0) == -1; round++) {
		(void)tagent_send_raw(c->f.a, buf, (size_t)N * 32);
	}
	free(buf);
	return 0;
}

/* A valid CREATE split: 22 bytes, a pause (the honest agent is served meanwhile), the rest a byte at a time. */
static int a_split_message(struct hctx *c)
{
	uint8_t b[36];

	wire_put32(b, MSG_CREATE);
	wire_put32(b + 4, NW);
	wire_put32(b + 8, 24);
	memset(b + 12, 0, 24);
	wire_put32(b + 12, 300);
	wire_put32(b + 16, 100);
	wire_put32(b + 20, 40);
	wire_put32(b + 24, 30);
	if (tagent_send_raw(c->f.a, b, 22) != 0 || !honest_ok()) {
		return -1;
	}
	for (size_t i = 22; i < sizeof(b); i++) {
		if (tagent_send_raw(c->f.a, b + i, 1) != 0) {
			return -1;
		}
		test_sleep_ms(2);
	}
	return 0;
}

static int k_present(struct hctx *c)
{
	(void)c;
	return hostile_window(NW) != None ? 0 : -1;
}

/* A stalled half message: the daemon still serves X and stops on SIGTERM (status 0). */
static int a_stall_then_term(struct hctx *c)
{
	static const uint8_t b[] = { MSG_CREATE, 0, 0, 0, 0x20, 0, 0, 0, 24, 0, 0, 0, 1, 2, 3 };

	if (tagent_send_raw(c->f.a, b, sizeof(b)) != 0 || !honest_ok()) {
		return -1;
	}
	if (xrig_stop(c->f.daemon, T_MS) != 0) {
		printf("#   the daemon did not stop cleanly on SIGTERM\n");
		return -1;
	}
	c->f.daemon = 0;
	return 0;
}

/* The agent closes during the handshake: not a violation; the daemon waits and serves the next agent. */
static int a_handshake_eof(struct hctx *c)
{
	int dom = c->f.agent_dom;

	tagent_destroy(c->f.a);
	c->f.a = tagent_start(QGUI_BACKEND_SOCKET, dom, 1, 0);
	if (c->f.a == NULL || tagent_accept(c->f.a, T_MS) != 0) {
		return -1;
	}
	/* once more, after the handshake and before any message */
	if (tagent_reaccept(c->f.a, 2 * T_MS) != 0) {
		return -1;
	}
	return tagent_create(c->f.a, HW, HX, HY, HWW, HWH, false, NULL, true);
}

/* A refused version: the handshake fails on the agent's side, the daemon ends. */
static int a_bad_version(struct hctx *c)
{
	return tagent_accept(c->f.a, T_MS) == 0 ? -1 : 0;
}

/* An agent offering 1.65535 gets 1.8. */
static int a_version_high_minor(struct hctx *c)
{
	if (tagent_accept(c->f.a, T_MS) != 0 || tagent_version(c->f.a) != QUBES_GUID_PROTOCOL_VERSION) {
		printf("#   negotiated 0x%x\n", tagent_version(c->f.a));
		return -1;
	}
	return 0;
}

/* Below 1.6 a wrong length is a warning: the type's own size is read, as upstream. */
static int a_length_warning_1_5(struct hctx *c)
{
	static const uint32_t b[] = { 300, 100, 40, 30, 0, 0 };

	return wire_send(c->f.a, &(struct wire){ MSG_CREATE, NW, 20, b, 6, NULL, 0, 0 });
}

/* ------------------------------------------------------------------ floods */

struct cost {
	long rss;
	int fds;
};

static struct cost cost_of(pid_t pid)
{
	return (struct cost){ procwatch_rss_kib(pid), procwatch_fds(pid) };
}

/* After a flood: the daemon's fds are as before and its VmRSS grew by less than FLOOD_RSS_KIB. */
static int bounded(struct hctx *c, struct cost before)
{
	struct cost after;

	if (gdfix_barrier(&c->f) != 0) {
		return -1;
	}
	after = cost_of(c->f.daemon);
	printf("#   daemon VmRSS %ld -> %ld KiB, fds %d -> %d\n", before.rss, after.rss, before.fds, after.fds);
	if (before.rss <= 0 || after.rss <= 0 || after.rss - before.rss > FLOOD_RSS_KIB || after.fds != before.fds) {
		printf("#   the flood was not bounded\n");
		return -1;
	}
	return 0;
}

/* Sends n copies of one encoded message in rounds, the honest agent checked after each round. */
static int flood(struct hctx *c, const uint8_t *one, size_t len, size_t n, int rounds)
{
	size_t per = n / (size_t)rounds;
	uint8_t *buf = wire_repeat(one, len, per);
	int rc = 0;

	if (buf == NULL) {
		return -1;
	}
	for (int r = 0; r < rounds && rc == 0; r++) {
		rc = tagent_send_raw(c->f.a, buf, per * len) == 0 && honest_ok() ? 0 : -1;
	}
	free(buf);
	return rc;
}

static int a_flood_damage(struct hctx *c)
{
	struct cost before = cost_of(c->f.daemon);
	uint8_t one[28];

	proto_encode(&(struct proto_msg){ .type = MSG_SHMIMAGE, .window = HW, .u.shmimage = { 0, 0, HWW, HWH } },
			QUBES_GUID_PROTOCOL_VERSION, one);
	if (flood(c, one, sizeof(one), 40000, 4) != 0) {
		return -1;
	}
	return bounded(c, before);
}

static int a_flood_titles(struct hctx *c)
{
	struct cost before = cost_of(c->f.daemon);
	struct proto_msg m = { .type = MSG_WMNAME, .window = HW };
	uint8_t one[12 + 128];

	memset(m.u.wmname.title, 'T', 126);
	proto_encode(&m, QUBES_GUID_PROTOCOL_VERSION, one);
	if (flood(c, one, sizeof(one), 10000, 4) != 0) {
		return -1;
	}
	return bounded(c, before);
}

static int a_flood_windows(struct hctx *c)
{
	struct cost before = cost_of(c->f.daemon);

	for (uint32_t round = 0; round < 4; round++) {
		uint8_t *buf = malloc(500 * 48), *p = buf;
		int rc;

		if (buf == NULL) {
			return -1;
		}
		for (uint32_t i = 0; i < 500; i++, p += 48) {
			proto_encode(&(struct proto_msg){ .type = MSG_CREATE, .window = 0x1000 + i,
					     .u.create = { (int)i % 200, 400, 20, 20, false } },
					QUBES_GUID_PROTOCOL_VERSION, p);
			proto_encode(&(struct proto_msg){ .type = MSG_DESTROY, .window = 0x1000 + i },
					QUBES_GUID_PROTOCOL_VERSION, p + 36);
		}
		rc = tagent_send_raw(c->f.a, buf, 500 * 48);
		free(buf);
		/* the DESTROY acks: read them, as an agent does */
		for (int i = 0; rc == 0 && i < 500; i++) {
			rc = tagent_expect(c->f.a, MSG_DESTROY, T_MS, &(struct proto_msg){ 0 });
		}
		if (rc != 0 || !honest_ok()) {
			return -1;
		}
	}
	return bounded(c, before);
}

/* 300 frames, each in new grant pages: every mapping the daemon made is gone again. */
static int a_flood_dumps(struct hctx *c)
{
	struct cost before;

	/* the first frames' buffers are released by later acks; settle before measuring */
	for (int i = 0; i < 4; i++) {
		if (tagent_fill(c->f.a, HW, HWW, HWH, HRGB) != 0) {
			return -1;
		}
	}
	if (gdfix_barrier(&c->f) != 0) {
		return -1;
	}
	before = cost_of(c->f.daemon);
	for (int i = 0; i < 300; i++) {
		if (tagent_fill(c->f.a, HW, HWW, HWH, HRGB + (uint32_t)(i % 2)) != 0 ||
				(i % 100 == 99 && !honest_ok())) {
			return -1;
		}
	}
	if (tagent_fill(c->f.a, HW, HWW, HWH, HRGB) != 0) {
		return -1;
	}
	return bounded(c, before);
}

/* A normal window pushed past the screen's edge with no window manager: its border is kept on the screen. */
static int a_border_off_screen(struct hctx *c)
{
	if (tagent_create(c->f.a, NW, -100, 300, 300, 200, false, NULL, true) != 0) {
		return -1;
	}
	return tagent_fill(c->f.a, NW, 300, 200, 0x3c3c3c);
}

static int k_border_on_screen(struct hctx *c)
{
	(void)c;
	if (!xrig_wait_pixel(dpy, 10, 400, 0x3c3c3c, T_MS) || xrig_root_pixel(dpy, 0, 400) != LABEL ||
			xrig_root_pixel(dpy, 1, 400) != LABEL) {
		printf("#   no label colour at the screen's edge\n");
		return -1;
	}
	return 0;
}

/* Unmapped windows of 1 MiB images on the copy path against a 16 MiB budget: refused, acked, logged once. */
static int a_image_budget(struct hctx *c)
{
	struct cost before = cost_of(c->f.daemon), after;
	struct proto_msg m;

	tagent_set_extra_pages(c->f.a, 1); /* a share larger than its image: never zero copy */
	for (uint32_t i = 0; i < 40; i++) {
		if (tagent_create(c->f.a, NW + i, 300, 100, 512, 512, false, NULL, false) != 0 ||
				tagent_fill(c->f.a, NW + i, 512, 512, 0x400000 + i) != 0 ||
				tagent_expect_win(c->f.a, MSG_WINDOW_DUMP_ACK, NW + i, T_MS, &m) != 0 ||
				(i % 10 == 9 && !honest_ok())) {
			return -1;
		}
	}
	if (gdfix_barrier(&c->f) != 0) {
		return -1;
	}
	after = cost_of(c->f.daemon);
	printf("#   daemon VmRSS %ld -> %ld KiB for 40 MiB of images\n", before.rss, after.rss);
	return after.rss - before.rss < 24 * 1024 ? 0 : -1;
}

/* Thousands of windows created and mapped (off the screen): the other agent is served throughout. */
static int a_flood_create_map(struct hctx *c)
{
	struct cost before = cost_of(c->f.daemon);

	for (uint32_t round = 0; round < 4; round++) {
		uint8_t *buf = malloc(500 * 56), *p = buf;
		int rc;

		if (buf == NULL) {
			return -1;
		}
		for (uint32_t i = 0; i < 500; i++, p += 56) {
			uint32_t id = 0x1000 + round * 500 + i;

			proto_encode(&(struct proto_msg){ .type = MSG_CREATE, .window = id,
					     .u.create = { -50, (int)i, 10, 10, false } },
					QUBES_GUID_PROTOCOL_VERSION, p);
			proto_encode(&(struct proto_msg){ .type = MSG_MAP, .window = id }, QUBES_GUID_PROTOCOL_VERSION,
					p + 36);
		}
		rc = tagent_send_raw(c->f.a, buf, 500 * 56);
		free(buf);
		if (rc != 0 || !honest_ok()) {
			return -1;
		}
	}
	return bounded(c, before);
}

/* ------------------------------------------------------------------ the cases */

static const char *const or_disabled[] = { "--override-redirect=disabled", NULL };

static const struct hcase cases[] = {
	/* lengths: from 1.6 every fixed-size type must have its exact size (reference 1.3) */
	{ "len_create_short", SESSION_ENDS, "message length does not match its type", MSG(MSG_CREATE, NW, 23, Z(23)) },
	{ "len_create_long", SESSION_ENDS, "message length does not match its type", MSG(MSG_CREATE, NW, 25, Z(25)) },
	{ "len_destroy_body", SESSION_ENDS, "message length does not match its type", MSG(MSG_DESTROY, HW, 4, Z(4)) },
	{ "len_map_empty", SESSION_ENDS, "message length does not match its type", MSG(MSG_MAP, HW, 0) },
	{ "len_unmap_body", SESSION_ENDS, "message length does not match its type", MSG(MSG_UNMAP, HW, 8, Z(8)) },
	{ "len_configure_16", SESSION_ENDS, "message length does not match its type", MSG(MSG_CONFIGURE, HW, 16, Z(16)) },
	{ "len_shmimage_15", SESSION_ENDS, "message length does not match its type", MSG(MSG_SHMIMAGE, HW, 15, Z(15)) },
	{ "len_wmname_127", SESSION_ENDS, "message length does not match its type", MSG(MSG_WMNAME, HW, 127, Z(127)) },
	{ "len_wmclass_129", SESSION_ENDS, "message length does not match its type", MSG(MSG_WMCLASS, HW, 129, Z(129)) },
	{ "len_hints_32", SESSION_ENDS, "message length does not match its type", MSG(MSG_WINDOW_HINTS, HW, 32, Z(32)) },
	{ "len_flags_4", SESSION_ENDS, "message length does not match its type", MSG(MSG_WINDOW_FLAGS, HW, 4, Z(4)) },
	{ "len_cursor_8", SESSION_ENDS, "message length does not match its type", MSG(MSG_CURSOR, HW, 8, Z(8)) },
	{ "len_dock_body", SESSION_ENDS, "message length does not match its type", MSG(MSG_DOCK, HW, 4, Z(4)) },
	{ "len_4gib", SESSION_ENDS, "message length does not match its type", MSG(MSG_CREATE, NW, 0xffffffffu) },
	{ "len_dump_short", SESSION_ENDS, "bad MSG_WINDOW_DUMP length", MSG(MSG_WINDOW_DUMP, HW, 15, Z(15)) },
	{ "len_dump_unaligned", SESSION_ENDS, "bad MSG_WINDOW_DUMP length", MSG(MSG_WINDOW_DUMP, HW, 19, Z(19)) },
	{ "len_dump_too_many_refs", SESSION_ENDS, "bad MSG_WINDOW_DUMP length",
		MSG(MSG_WINDOW_DUMP, HW, 16 + 4 * (MAX_GRANT_REFS_COUNT + 1)) },
	{ "len_clipboard_over_max", SESSION_ENDS, "clipboard data over the protocol maximum",
		MSG(MSG_CLIPBOARD_DATA, 0, MAX_CLIPBOARD_BUFFER_SIZE + 2) },
	{ "len_clipboard_65001_at_1_7", SESSION_ENDS, "clipboard data over 65000 bytes before protocol 1.8",
		MSG(MSG_CLIPBOARD_DATA, 0, 65001), .version = 0x00010007 },
	{ "len_wrong_at_1_5_warns", IGNORED, "wrong length (protocol < 1.6: warning only)", .attack = a_length_warning_1_5,
		.check = k_present, .version = 0x00010005 },

	/* types: unknown, daemon-to-agent only, obsolete, dom0-only (reference 1.3, 2.2) */
	{ "type_zero", SESSION_ENDS, "unknown message type", MSG(0, HW, 0) },
	{ "type_msg_min", SESSION_ENDS, "unknown message type", MSG(MSG_MIN, HW, 0) },
	{ "type_msg_max", SESSION_ENDS, "unknown message type", MSG(MSG_MAX, HW, 0) },
	{ "type_high_bit", SESSION_ENDS, "unknown message type", MSG(0x80000082u, HW, 24, Z(24)) },
	{ "type_keypress_from_agent", SESSION_ENDS, "not allowed in this direction", MSG(MSG_KEYPRESS, HW, 20, Z(20)) },
	{ "type_focus_from_agent", SESSION_ENDS, "not allowed in this direction", MSG(MSG_FOCUS, HW, 12, Z(12)) },
	{ "type_close_from_agent", SESSION_ENDS, "not allowed in this direction", MSG(MSG_CLOSE, HW, 0) },
	{ "type_clipboard_req_from_agent", SESSION_ENDS, "not allowed in this direction", MSG(MSG_CLIPBOARD_REQ, HW, 0) },
	{ "type_keymap_from_agent", SESSION_ENDS, "not allowed in this direction",
		MSG(MSG_KEYMAP_NOTIFY, 0, 32, Z(32)) },
	{ "type_dump_ack_from_agent", SESSION_ENDS, "not allowed in this direction", MSG(MSG_WINDOW_DUMP_ACK, HW, 0) },
	{ "type_resize_obsolete", SESSION_ENDS, "not allowed in this direction", MSG(MSG_RESIZE, HW, 8, Z(8)) },
	{ "type_execute_obsolete", SESSION_ENDS, "not allowed in this direction", MSG(MSG_EXECUTE, HW, 255, Z(255)) },
	{ "type_mfndump", SESSION_ENDS, "MSG_MFNDUMP is accepted only in dom0", MSG(MSG_MFNDUMP, HW, 32, Z(32)) },

	/* window ids (reference 1.3: lookup first; duplicates and unknown ids are fatal) */
	{ "id_unknown_window", SESSION_ENDS, "no such window", MSG(MSG_MAP, 0x9999, 8, Z(8)) },
	{ "id_screen_window_unknown", SESSION_ENDS, "no such window", MSG(MSG_SHMIMAGE, 0, 16, Z(16)) },
	{ "id_duplicate_create", SESSION_ENDS, "window already exists", MSG(MSG_CREATE, HW, 24, W(1, 1, 10, 10, 0, 0)) },
	{ "id_used_after_destroy", SESSION_ENDS, "no such window", .attack = a_destroy_then_use },
	{ "id_too_many_windows", SESSION_ENDS, "too many windows", .attack = a_too_many_windows },

	/* geometry: VERIFY checks drop the message, clamps and the on-screen rule apply (reference 4.1) */
	{ "create_negative_size", IGNORED, "negative window size", .attack = a_create_negative, .check = k_absent },
	{ "create_huge_clamped", IGNORED, NULL, .attack = a_create_huge, .check = k_create_huge },
	{ "create_far_clamped", IGNORED, NULL, .attack = a_create_far, .check = k_create_far },
	{ "configure_zero_size", IGNORED, "zero window size", MSG(MSG_CONFIGURE, HW, 20, W(HX, HY, 0, 10, 0)),
		.check = k_border_intact },
	{ "configure_huge_clamped", IGNORED, NULL, .attack = a_configure_huge, .check = k_configure_huge },
	{ "shmimage_negative", IGNORED, "negative damage rectangle",
		MSG(MSG_SHMIMAGE, HW, 16, W(0, 0, 0xffffffffu, 10)), .check = k_border_intact },
	{ "shmimage_overflow_clipped", IGNORED, NULL, .attack = a_shmimage_overflow, .check = k_border_intact },
	{ "flags_set_and_unset", IGNORED, "window flags both set and unset", MSG(MSG_WINDOW_FLAGS, HW, 8, W(1, 1)) },
	{ "flags_unknown_bits", IGNORED, NULL, MSG(MSG_WINDOW_FLAGS, HW, 8, W(0xfffffff8u, 0)) },
	{ "cursor_past_glyphs", IGNORED, "cursor out of range", MSG(MSG_CURSOR, HW, 4, W(CURSOR_X11_MAX)) },
	{ "cursor_without_x11_bit", IGNORED, "cursor out of range", MSG(MSG_CURSOR, HW, 4, W(5)) },
	{ "hints_filtered", IGNORED, NULL, .attack = a_hints, .check = k_hints },

	/* override-redirect (reference 4.2) */
	{ "or_over_90_percent", IGNORED, "over 90% of the screen", .attack = a_or_huge, .check = k_not_or },
	{ "or_gained_on_map", IGNORED, NULL, .attack = a_or_gain_on_map, .check = k_not_or },
	{ "or_when_disabled", IGNORED, NULL, .attack = a_or_plain, .check = k_not_or, .args = or_disabled },
	{ "or_pulled_on_screen", IGNORED, NULL, .attack = a_or_offscreen, .check = k_or_offscreen },
	{ "border_kept_on_screen", IGNORED, NULL, .attack = a_border_off_screen, .check = k_border_on_screen },
	{ "dock_twice", IGNORED, "dock request refused", .attack = a_dock_twice },
	{ "dock_mapped_window", IGNORED, "dock request refused", MSG(MSG_DOCK, HW, 0) },
	{ "dock_clears_or", IGNORED, NULL, .attack = a_dock_or, .check = k_not_or },

	/* strings (reference 4.4) */
	{ "title_escape_sequences", IGNORED, NULL, .attack = a_title_escapes, .check = k_title_escapes },
	{ "title_unterminated", IGNORED, NULL, .attack = a_title_unterminated, .check = k_title_unterminated },
	{ "title_bad_bytes", IGNORED, NULL, .attack = a_title_bytes, .check = k_title_bytes },
	{ "title_bidi_controls", IGNORED, NULL, .attack = a_title_bidi, .check = k_title_bidi, .conf = "allow_utf8_titles = true;" },
	{ "title_imitates_dom0", IGNORED, NULL, .attack = a_title_dom0, .check = k_title_dom0 },
	{ "class_escape_sequences", IGNORED, NULL, .attack = a_class_escapes, .check = k_class_escapes },
	{ "class_after_map", IGNORED, NULL, .attack = a_class_after_map, .check = k_class_after_map },

	/* dumps (reference 2.1) and grants (emulation.md v1.1) */
	{ "dump_unknown_type", SESSION_ENDS, "unknown window dump type", MSG(MSG_WINDOW_DUMP, HW, 20, W(1, 1, 1, 32, 7)) },
	{ "dump_too_wide", SESSION_ENDS, "window dump too large", MSG(MSG_WINDOW_DUMP, HW, 20, W(0, 16385, 1, 32, 7)) },
	{ "dump_too_high", SESSION_ENDS, "window dump too large", MSG(MSG_WINDOW_DUMP, HW, 20, W(0, 1, 6145, 32, 7)) },
	{ "dump_too_few_pages", SESSION_ENDS, "too few pages", MSG(MSG_WINDOW_DUMP, HW, 20, W(0, 64, 64, 32, 7)) },
	{ "dump_unknown_window", SESSION_ENDS, "no such window", MSG(MSG_WINDOW_DUMP, 0x9999, 20, W(0, 1, 1, 32, 7)) },
	{ "dump_ungranted_refs", SESSION_ENDS, "bad grant references", .attack = a_dump_bad_refs },
	{ "dump_1tib_memfd", SESSION_ENDS, "larger than 4 GiB", .attack = a_dump_huge_memfd, .bare = true },
	{ "dump_empty_acked", IGNORED, NULL, MSG(MSG_WINDOW_DUMP, HW, 16, W(0, 0, 0, 32)) },
	{ "dump_over_image_budget", IGNORED, "image memory over its budget", .attack = a_image_budget,
		.conf = "max_image_memory = 16;" },

	/* clipboard (reference 4.7) */
	{ "clipboard_unrequested_max", IGNORED, "did not ask for", .attack = a_clipboard_unrequested,
		.check = k_clipboard_untouched },

	/* the connection: reassembly, stalls, the handshake, the output cap */
	{ "split_byte_by_byte", IGNORED, NULL, .attack = a_split_message, .check = k_present },
	{ "stalled_half_message", IGNORED, NULL, .attack = a_stall_then_term },
	{ "handshake_eof_reconnects", IGNORED, NULL, .attack = a_handshake_eof, .handshake = true },
	{ "handshake_major_2", SESSION_ENDS, "agent protocol version 2.8 is not supported", .attack = a_bad_version,
		.version = 0x00020008, .handshake = true },
	{ "handshake_major_0", SESSION_ENDS, "agent protocol version 0.8 is not supported", .attack = a_bad_version,
		.version = 0x00000008, .handshake = true },
	{ "handshake_minor_65535", IGNORED, NULL, .attack = a_version_high_minor, .version = 0x0001ffff,
		.handshake = true },
	{ "output_cap_not_reading", SESSION_ENDS, "cannot send MSG_CONFIGURE to the agent", .attack = a_output_cap },

	/* floods of valid messages: bounded memory and fds, the honest agent served throughout */
	{ "flood_damage", IGNORED, NULL, .attack = a_flood_damage },
	{ "flood_titles", IGNORED, NULL, .attack = a_flood_titles },
	{ "flood_create_destroy", IGNORED, NULL, .attack = a_flood_windows },
	{ "flood_dumps", IGNORED, NULL, .attack = a_flood_dumps },
	{ "flood_create_map", IGNORED, NULL, .attack = a_flood_create_map },
};

/* ------------------------------------------------------------------ the engine */

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* The hostile agent's window HW, mapped and drawn. */
static bool setup(struct hctx *c)
{
	if (tagent_create(c->f.a, HW, HX, HY, HWW, HWH, false, "victim", true) != 0 ||
			tagent_fill(c->f.a, HW, HWW, HWH, HRGB) != 0 || gdfix_barrier(&c->f) != 0) {
		return fail_msg("the hostile agent's window could not be set up");
	}
	return true;
}

/* The log after the attack: `want` lines containing what the case names, each naming the VM. */
static bool log_says(struct hctx *c, const char *what, int want)
{
	char line[1024];
	int n = procwatch_lines(c->f.log, c->log_from, what, line, sizeof(line));

	if (n != want) {
		printf("#   %d log lines contain \"%s\", expected %d\n", n, what, want);
		gdfix_show_log(&c->f);
		return fail_msg("wrong log");
	}
	if (n > 0 && strstr(line, "] " VM ": ") == NULL) {
		printf("#   log line without the VM name: %s\n", line);
		return fail_msg("wrong log");
	}
	return true;
}

static bool verdict(struct hctx *c)
{
	const struct hcase *hc = c->hc;
	long bad;
	int rc;

	rc = hc->attack ? hc->attack(c) : wire_send(c->f.a, &hc->msg);
	if (hc->expect == SESSION_ENDS) {
		/* a send may meet the closed connection: what counts is how the daemon ended */
		if (c->f.daemon > 0) {
			rc = xrig_wait(c->f.daemon, 2 * T_MS);
			c->f.daemon = 0;
			if (rc != 3) {
				printf("#   the daemon's exit status is %d, expected 3\n", rc);
				gdfix_show_log(&c->f);
				return fail_msg("the session did not end as a violation");
			}
		}
		if (c->f.a && tagent_expect(c->f.a, NO_SUCH_TYPE, T_MS, &(struct proto_msg){ 0 }) != -1) {
			return fail_msg("the agent is still connected");
		}
		/* the one line about it (a second "ending the session" would be a second report) */
		if (!log_says(c, hc->log, 1)) {
			return false;
		}
		if (procwatch_lines(c->f.log, c->log_from, "ending the session", NULL, 0) > 1) {
			return fail_msg("more than one line about the violation");
		}
	} else {
		if (rc != 0) {
			gdfix_show_log(&c->f);
			return fail_msg("the attack could not be made");
		}
		if (c->f.daemon > 0 && (xrig_wait(c->f.daemon, 0) != -1 || gdfix_barrier(&c->f) != 0)) {
			gdfix_show_log(&c->f);
			return fail_msg("the session did not go on");
		}
		if (hc->log && !log_says(c, hc->log, 1)) {
			return false;
		}
		if (!log_says(c, "ending the session", 0)) {
			return false;
		}
		if (hc->check && hc->check(c) != 0) {
			gdfix_show_log(&c->f);
			return fail_msg("the user sees what the attack wanted");
		}
	}
	if (!procwatch_printable(c->f.log, &bad)) {
		printf("#   byte %ld of the log is not printable\n", bad);
		return fail_msg("VM bytes reached the log");
	}
	return honest_ok();
}

static const char *case_name(size_t i, void *arg)
{
	(void)arg;
	return cases[i].name;
}

static void case_run(size_t i, void *arg)
{
	const struct hcase *hc = &cases[i];
	struct gdfix_opts o = { QGUI_BACKEND_SOCKET, NULL, NULL, VM, NULL, hc->version, false };
	struct hctx c = { .hc = hc };
	const char *args[8] = { NULL };
	size_t n = 0;
	int rc;

	(void)arg;
	for (size_t k = 0; hc->args && hc->args[k] && n < 5; k++) {
		args[n++] = hc->args[k];
	}
	if (hc->conf) {
		args[n++] = "-C";
		args[n++] = gdfix_conf("hostile.conf", hc->conf);
	}
	rc = hc->handshake ? gdfix_spawn(&c.f, &o, args) : gdfix_start(&c.f, &o, args);
	if (rc != 0) {
		test_fail(__FILE__, __LINE__, "the hostile agent's daemon did not start");
	} else if (hc->handshake || hc->bare || setup(&c)) {
		c.log_from = procwatch_size(c.f.log);
		verdict(&c);
	}
	gdfix_stop(&c.f);
}

int main(int argc, char **argv)
{
	int rc;

	if (gdfix_setup(SW, SH) != 0) {
		return 1;
	}
	if (gdfix_start(&honest, NULL, NULL) != 0 ||
			tagent_create(honest.a, GOOD, GX, GY, 100, 80, false, "honest", true) != 0) {
		printf("not ok - setup: the honest agent\n");
		gdfix_teardown();
		return 1;
	}
	rc = test_main_indexed(argc, argv, N_CASES, case_name, case_run, NULL);
	gdfix_stop(&honest);
	gdfix_teardown();
	return rc;
}

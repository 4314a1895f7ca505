/*
 * test_hostile_proxy.c: a hostile GUI qube (exporter) against guivm-proxy, one attack per case.
 *
 * One proxy (dom0, -v so that what it ignores is logged too) runs on one Xvfb
 * for the whole program; every case is a fresh session of the exporter
 * (domain 1), which first shows its screen, then makes one attack. The engine
 * checks what tests/hostile/README.md promises:
 *   IGNORED:      the session goes on: the next frame is acknowledged and drawn;
 *   SESSION_ENDS: the exporter is disconnected after exactly one log line about
 *                 it naming the GUI qube, and the proxy, alive, shows the next
 *                 session's frames;
 * and in both cases: the proxy's whole log is printable ASCII, dom0's escape
 * key still gives dom0 its screen back and takes it again, and floods leave the
 * proxy's VmRSS and fds bounded.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "peer.h"
#include "procwatch.h"
#include "tagent.h"
#include "test.h"
#include "wire.h"
#include "xrig.h"

#define SW 1024
#define SH 768
#define CW (SW - 4)       /* the content area inside the proxy's 2-px border */
#define CH (SH - 4)
#define LABEL 0x00ff00u   /* -c 0x00ff00 */
#define ROOT_BG 0x204060u /* dom0's own screen */
#define WIN 0x42u
#define T_MS 5000
#define VM "sys-gui"
#define NO_SUCH_TYPE 0xffffu
#define FLOOD_RSS_KIB (16 * 1024)
#define DEADLINE_MS "3000" /* --dump-deadline: a held LOOKUP ends the session after it */
#define W WIRE_W
#define Z WIRE_Z

enum outcome { IGNORED, SESSION_ENDS };

struct pcase {
	const char *name;
	enum outcome expect;
	const char *log;               /* the one log line about the attack contains this (IGNORED: may be NULL) */
	struct wire msg;               /* the attack, when attack is NULL */
	int (*attack)(void);           /* 0, or -1 having said why */
	int (*check)(void);            /* IGNORED: what dom0's user sees afterwards; 0 or -1 */
	bool bare;                     /* the exporter has no window (nor grants) before the attack */
	bool refused;                  /* the attack itself saw the session end (and set up a new exporter) */
};

#define MSG(t, win, l, ...) .msg = { (t), (win), (l), __VA_ARGS__ }

static struct xserver dom0;
static Display *dpy;
static pid_t proxy;
static char plog[PATH_MAX];
static struct tagent *ex;    /* the exporter (domain 1), one session per case */
static long log_from;
static uint32_t rgb = 0x300000;

/* ------------------------------------------------------------------ helpers */

static bool fail_msg(const char *what)
{
	test_fail(__FILE__, __LINE__, "%s", what);
	return false;
}

static uint32_t next_rgb(void)
{
	rgb = rgb >= 0x3000f0 ? 0x300001 : rgb + 1;
	return rgb;
}

/* The exporter's next frame is acknowledged and drawn inside the border. */
static bool frame_shown(uint32_t c)
{
	struct proto_msg m;

	return tagent_fill(ex, WIN, CW, CH, c) == 0 && tagent_expect_win(ex, MSG_WINDOW_DUMP_ACK, WIN, T_MS, &m) == 0 &&
	       xrig_wait_pixel(dpy, 500, 400, c, T_MS) && xrig_root_pixel(dpy, 0, 0) == LABEL;
}

/* The exporter's screen window, full-screen, mapped and drawn. */
static bool show(void)
{
	return tagent_create(ex, WIN, 0, 0, CW, CH, false, "desktop", true) == 0 && frame_shown(next_rgb());
}

/* dom0's escape sequence (Ctrl+Alt+Shift+F12) at dom0's keyboard. */
static void press_escape(void)
{
	static const KeySym seq[] = { XK_Control_L, XK_Alt_L, XK_Shift_L, XK_F12 };

	for (int down = 1; down >= 0; down--) {
		for (size_t i = 0; i < 4; i++) {
			XTestFakeKeyEvent(dpy, XKeysymToKeycode(dpy, seq[down ? i : 3 - i]), down, 0);
		}
	}
	XSync(dpy, False);
}

/* The escape key gives dom0 its screen and takes it back to what shows at (500, 400). */
static bool escape_works(void)
{
	uint32_t shown = xrig_root_pixel(dpy, 500, 400);

	press_escape();
	if (!xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS)) {
		return fail_msg("the escape key did not give dom0 its screen");
	}
	press_escape();
	if (!xrig_wait_pixel(dpy, 500, 400, shown, T_MS)) {
		return fail_msg("the escape key did not give the screen back");
	}
	return true;
}

/*
 * Waits until the proxy has handled everything sent so far, without touching the
 * screen: a CONFIGURE it must answer (not its geometry), and the echo of its answer.
 */
static bool barrier(void)
{
	struct proto_msg m = { .type = MSG_CONFIGURE, .window = WIN, .u.configure = { 0, 0, 10, 10, false } };

	if (tagent_send(ex, &m) != 0 || tagent_expect_win(ex, MSG_CONFIGURE, WIN, T_MS, &m) != 0 ||
			tagent_send(ex, &m) != 0) {
		return fail_msg("the proxy did not answer a configure");
	}
	return true;
}

/* A new exporter (domain 1) in place of the old one, connected: its grant socket is its own again. */
static bool fresh_exporter(void)
{
	tagent_destroy(ex);
	ex = tagent_start(QGUI_BACKEND_SOCKET, 1, 0, 0);
	if (ex == NULL || tagent_accept(ex, 2 * T_MS) != 0) {
		return fail_msg("no new exporter");
	}
	return true;
}

/* A new session of the exporter: the old one (if any) is dropped, the proxy connects again. */
static bool new_session(void)
{
	if (tagent_reaccept(ex, 2 * T_MS) != 0) {
		return fail_msg("the proxy did not connect again");
	}
	return true;
}

static int send_words(uint32_t type, const uint32_t *w, size_t n)
{
	return wire_send_words(ex, type, WIN, w, n);
}

/* ------------------------------------------------------------------ attacks and checks */

static int a_title_escapes(void)
{
	static const char t[] = "\x1b]0;dom0\x07\x1b[2J\x1b[?1049h\r\n\x9b" "31m\xff";

	return wire_send_text(ex, MSG_WMNAME, WIN, t, sizeof(t) - 1, NULL, 0);
}

static int k_title_logged_sanitised(void)
{
	char line[512];

	if (procwatch_lines(plog, log_from, "MSG_WMNAME ignored: title _]0;dom0__[2J_[?1049h___31m_", line,
			    sizeof(line)) != 1) {
		printf("#   the ignored title is not logged sanitised\n");
		return -1;
	}
	return 0;
}

static int a_class_escapes(void)
{
	return wire_send_text(ex, MSG_WMCLASS, WIN, "\x1b[31m", 5, "\x1b]2;x\x07", 6);
}

/* The border and the content of the whole screen are as they were. */
static int k_screen_intact(void)
{
	if (!xrig_wait_pixel(dpy, 500, 400, rgb, T_MS) || xrig_root_pixel(dpy, 2, 2) != rgb ||
			xrig_root_pixel(dpy, SW - 3, SH - 3) != rgb || xrig_root_pixel(dpy, 1, 1) != LABEL ||
			xrig_root_pixel(dpy, SW - 1, SH - 1) != LABEL || xrig_root_pixel(dpy, SW - 2, 300) != LABEL) {
		printf("#   the screen or its border changed\n");
		return -1;
	}
	return 0;
}

static int a_damage_overflow(void)
{
	static const uint32_t r[][4] = {
		{ 0, 0, 0x7fffffff, 0x7fffffff },
		{ 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff },
		{ CW - 1, CH - 1, 0x7fffffff, 0x7fffffff },
		{ 0, 0, 0, 0 },
	};

	/* pixels the border would show if a put were not clipped: the image's last row and column */
	if (tagent_paint(ex, WIN, 0, 0, CW, CH, 0xff00ff, false) != 0) {
		return -1;
	}
	for (size_t i = 0; i < 4; i++) {
		if (send_words(MSG_SHMIMAGE, r[i], 4) != 0) {
			return -1;
		}
	}
	return 0;
}

static int k_damage_clipped(void)
{
	if (!xrig_wait_pixel(dpy, 500, 400, 0xff00ff, T_MS) || xrig_root_pixel(dpy, SW - 3, SH - 3) != 0xff00ff ||
			xrig_root_pixel(dpy, SW - 2, SH - 2) != LABEL || xrig_root_pixel(dpy, 1, 1) != LABEL) {
		printf("#   the damage was not clipped to the image\n");
		return -1;
	}
	rgb = 0xff00ff;
	return 0;
}

/* The exporter asks for override-redirect: refused, its window is the full-screen one with dom0's border. */
static int a_or_window(void)
{
	return tagent_create(ex, WIN, 100, 100, 50, 50, true, NULL, true) == 0 && frame_shown(next_rgb()) ? 0 : -1;
}

static int k_bordered(void)
{
	if (xrig_root_pixel(dpy, 0, 0) != LABEL || xrig_root_pixel(dpy, SW - 1, 300) != LABEL) {
		printf("#   dom0's border is not around the exporter's window\n");
		return -1;
	}
	return 0;
}

static int a_unmap_then_damage(void)
{
	static const uint32_t r[] = { 0, 0, CW, CH };

	if (tagent_send(ex, &(struct proto_msg){ .type = MSG_UNMAP, .window = WIN }) != 0 ||
			tagent_paint(ex, WIN, 0, 0, CW, CH, 0x0000ff, false) != 0) {
		return -1;
	}
	return send_words(MSG_SHMIMAGE, r, 4);
}

static int k_unmapped_not_drawn(void)
{
	/* the waiting state: the content is black, the new pixels never shown */
	if (!xrig_wait_pixel(dpy, 500, 400, 0x000000, T_MS)) {
		printf("#   the unmapped window's pixels are on the screen\n");
		return -1;
	}
	if (tagent_send(ex, &(struct proto_msg){ .type = MSG_MAP, .window = WIN }) != 0) {
		return -1;
	}
	return 0;
}

static int a_split_message(void)
{
	uint8_t b[28];

	wire_put32(b, MSG_SHMIMAGE);
	wire_put32(b + 4, WIN);
	wire_put32(b + 8, 16);
	wire_put32(b + 12, 10);
	wire_put32(b + 16, 10);
	wire_put32(b + 20, 20);
	wire_put32(b + 24, 20);
	if (tagent_paint(ex, WIN, 10, 10, 20, 20, 0x00ffff, false) != 0) {
		return -1;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		if (tagent_send_raw(ex, b + i, 1) != 0) {
			return -1;
		}
		test_sleep_ms(2);
	}
	return xrig_wait_pixel(dpy, 2 + 15, 2 + 15, 0x00ffff, T_MS) ? 0 : -1;
}

/* A refused version: the session is refused (seen here), the proxy serves the next exporter. */
static int a_major_2(void)
{
	struct tagent *bad;
	int rc = 0;

	tagent_destroy(ex);
	ex = NULL;
	bad = tagent_start(QGUI_BACKEND_SOCKET, 1, 0, 0x00020008);
	if (bad == NULL) {
		return -1;
	}
	if (tagent_accept(bad, T_MS) == 0 || !tagent_disconnected(bad)) {
		printf("#   a 2.8 exporter was not refused\n");
		rc = -1;
	}
	tagent_destroy(bad);
	return fresh_exporter() ? rc : -1;
}

/* Up to 64 refs from 100 on, for a hostile owner of the exporter's grant socket. */
static int dump_from_fake_owner(struct kid *owner, struct peer_fake_cfg *cfg, uint32_t w, uint32_t h)
{
	uint32_t n = (w * h * 4 + GRANT_PAGE_SIZE - 1) / GRANT_PAGE_SIZE, b[4 + 64] = { 0, w, h, 32 };

	cfg->own = 1;
	cfg->grantee = 0;
	if (n > 64 || tagent_create(ex, WIN, 0, 0, CW, CH, false, NULL, true) != 0 ||
			!kid_spawn(owner, KID_TRACKED, peer_fake_owner_main, cfg) || peer_ready(owner) != 0) {
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		b[4 + i] = 100 + i;
	}
	return send_words(MSG_WINDOW_DUMP, b, 4 + n);
}

/* The dump's end is the session's; the hostile owner goes once the proxy has decided. */
static int fake_owner_attack(struct peer_fake_cfg cfg, uint32_t w, uint32_t h)
{
	struct kid owner = { 0 };
	int rc = dump_from_fake_owner(&owner, &cfg, w, h);

	if (tagent_expect(ex, NO_SUCH_TYPE, 3 * T_MS, &(struct proto_msg){ 0 }) != -1 || !tagent_disconnected(ex)) {
		rc = -1;
	}
	if (owner.pid > 0) {
		kid_finish(&owner);
	}
	/* the hostile owner took the exporter's grant socket: the next exporter binds its own */
	return fresh_exporter() ? rc : -1;
}

static int a_lookup_runs(void)
{
	return fake_owner_attack((struct peer_fake_cfg){ 0, 0, GRANT_PAGE_SIZE, 1, 1, 0x5a, 0, false }, 128, 160);
}

static int a_memfd_1tib(void)
{
	return fake_owner_attack((struct peer_fake_cfg){ 0, 0, 1ull << 40, 4, 4, 0x5a, 0, false }, 32, 32);
}

/*
 * A LOOKUP reply held for ever: dom0's escape key works while the dump is pending
 * (before the dump's deadline, DEADLINE_MS, ends the session), both ways.
 */
static int a_escape_while_held(void)
{
	struct peer_fake_cfg cfg = { 0, 0, GRANT_PAGE_SIZE, 1, 1, 0x5a, 0, true };
	struct kid owner = { 0 };
	struct peer_cmd st = { .op = PEER_FAKE_STATS };
	int rc = dump_from_fake_owner(&owner, &cfg, 32, 32);

	for (int i = 0; rc == 0 && i < T_MS / 10 && st.a < 1; i++) {
		st = (struct peer_cmd){ .op = PEER_FAKE_STATS };
		if (peer_call(&owner, &st) != 0) {
			rc = -1;
		}
		test_sleep_ms(10);
	}
	if (rc == 0) {
		press_escape();
		rc = xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS) ? 0 : -1;
		(void)tagent_expect(ex, NO_SUCH_TYPE, 0, &(struct proto_msg){ 0 });
		if (rc != 0 || tagent_disconnected(ex)) {
			printf("#   the escape key was not served while the dump was pending\n");
			rc = -1;
		}
		press_escape();
		if (!xrig_wait_pixel(dpy, 1, 300, LABEL, T_MS)) {
			rc = -1;
		}
	}
	if (tagent_expect(ex, NO_SUCH_TYPE, 3 * T_MS, &(struct proto_msg){ 0 }) != -1 || !tagent_disconnected(ex)) {
		rc = -1;
	}
	if (owner.pid > 0) {
		kid_finish(&owner);
	}
	return fresh_exporter() ? rc : -1;
}

static int a_dump_bad_refs(void)
{
	static const uint32_t b[] = { 0, 32, 32, 32, 0x12345678, 0x12345679, 0x1234567a, 0x1234567b };

	return send_words(MSG_WINDOW_DUMP, b, 8);
}

/* The exporter answers the proxy's configure with other sizes and never reads: the output cap. */
static int a_output_cap(void)
{
	enum { N = 2000 }; /* per write: each is taken well within tagent_send_raw's time limit */
	uint8_t *buf = wire_configures(WIN, 0, 0, 100, 100, N);

	if (buf == NULL) {
		return -1;
	}
	/* one 32-byte answer per 2 messages: the 10 MB cap is met after 20 MB (up to 64 MB sent) */
	for (int round = 0; round < 1000 && !tagent_disconnected(ex); round++) {
		(void)tagent_send_raw(ex, buf, (size_t)N * 32);
	}
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------ floods */

struct flood_job {
	const uint8_t *buf;
	size_t len;
	int rc;
};

static void *flood_thread(void *arg)
{
	struct flood_job *j = arg;

	j->rc = tagent_send_raw(ex, j->buf, j->len);
	return NULL;
}

/*
 * n copies of one message sent from another thread while dom0's user uses the escape key;
 * afterwards the proxy's VmRSS grew by less than FLOOD_RSS_KIB and its fds are as before.
 */
static int flood(const struct proto_msg *m, size_t n)
{
	uint8_t one[12 + 128];
	size_t len = proto_encode(m, QUBES_GUID_PROTOCOL_VERSION, one);
	long rss0 = procwatch_rss_kib(proxy), rss1;
	int fds0 = procwatch_fds(proxy), fds1;
	struct flood_job j = { wire_repeat(one, len, n), len * n, -1 };
	pthread_t th;
	bool esc;

	if (j.buf == NULL || pthread_create(&th, NULL, flood_thread, &j) != 0) {
		free((void *)j.buf);
		return -1;
	}
	press_escape();
	esc = xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS);
	press_escape();
	pthread_join(th, NULL); /* before the agent is used again here */
	free((void *)j.buf);
	if (!esc || j.rc != 0 || !frame_shown(next_rgb())) {
		printf("#   escape %d, flood sent %d\n", esc, j.rc);
		return -1;
	}
	rss1 = procwatch_rss_kib(proxy);
	fds1 = procwatch_fds(proxy);
	printf("#   proxy VmRSS %ld -> %ld KiB, fds %d -> %d\n", rss0, rss1, fds0, fds1);
	return rss0 > 0 && rss1 - rss0 < FLOOD_RSS_KIB && fds1 == fds0 ? 0 : -1;
}

static int a_flood_damage(void)
{
	return flood(&(struct proto_msg){ .type = MSG_SHMIMAGE, .window = WIN, .u.shmimage = { 0, 0, CW, CH } },
			100000);
}

static int a_flood_titles(void)
{
	struct proto_msg m = { .type = MSG_WMNAME, .window = WIN };

	memset(m.u.wmname.title, 'T', 100);
	return flood(&m, 20000);
}

static int a_flood_configure(void)
{
	return flood(&(struct proto_msg){ .type = MSG_CONFIGURE, .window = WIN, .u.configure = { 0, 0, CW, CH, 0 } },
			50000);
}

static int a_flood_dumps(void)
{
	long rss0, rss1;
	int fds0, fds1;

	for (int i = 0; i < 4; i++) {
		if (!frame_shown(next_rgb())) {
			return -1;
		}
	}
	rss0 = procwatch_rss_kib(proxy);
	fds0 = procwatch_fds(proxy);
	for (int i = 0; i < 100; i++) {
		if (tagent_fill(ex, WIN, 64 + (uint32_t)i, 64, 0x123456) != 0) {
			return -1;
		}
	}
	if (!frame_shown(next_rgb())) {
		return -1;
	}
	rss1 = procwatch_rss_kib(proxy);
	fds1 = procwatch_fds(proxy);
	printf("#   proxy VmRSS %ld -> %ld KiB, fds %d -> %d\n", rss0, rss1, fds0, fds1);
	return rss1 - rss0 < FLOOD_RSS_KIB && fds1 == fds0 ? 0 : -1;
}

/* ------------------------------------------------------------------ the cases */

static const struct pcase cases[] = {
	/* the exporter has exactly one window */
	{ "second_window", SESSION_ENDS, "a second window", MSG(MSG_CREATE, WIN + 1, 24, W(0, 0, 10, 10, 0, 1)) },
	{ "same_window_again", SESSION_ENDS, "a second window", MSG(MSG_CREATE, WIN, 24, W(0, 0, 10, 10, 0, 0)) },
	{ "other_window", SESSION_ENDS, "no such window", MSG(MSG_MAP, WIN + 7, 8, Z(8)) },
	{ "damage_before_create", SESSION_ENDS, "no such window", MSG(MSG_SHMIMAGE, WIN, 16, Z(16)), .bare = true },
	{ "screen_window_not_created", SESSION_ENDS, "no such window", MSG(MSG_SHMIMAGE, 0, 16, Z(16)) },

	/* lengths and types (reference 1.3) */
	{ "len_shmimage_15", SESSION_ENDS, "message length does not match its type", MSG(MSG_SHMIMAGE, WIN, 15, Z(15)) },
	{ "len_4gib", SESSION_ENDS, "message length does not match its type", MSG(MSG_CONFIGURE, WIN, 0xffffffffu) },
	{ "len_dump_unaligned", SESSION_ENDS, "bad MSG_WINDOW_DUMP length", MSG(MSG_WINDOW_DUMP, WIN, 18, Z(18)) },
	{ "len_clipboard_over_max", SESSION_ENDS, "clipboard data over the protocol maximum",
		MSG(MSG_CLIPBOARD_DATA, 0, MAX_CLIPBOARD_BUFFER_SIZE + 2) },
	{ "type_unknown", SESSION_ENDS, "unknown message type", MSG(MSG_MIN, WIN, 0) },
	{ "type_keypress_from_exporter", SESSION_ENDS, "not allowed in this direction",
		MSG(MSG_KEYPRESS, WIN, 20, Z(20)) },
	{ "type_mfndump", SESSION_ENDS, "MSG_MFNDUMP is accepted only in dom0", MSG(MSG_MFNDUMP, WIN, 28, Z(28)) },
	{ "handshake_major_2", SESSION_ENDS, "version 2.8 is not supported", .attack = a_major_2, .bare = true,
		.refused = true },

	/* dumps and grants: what dom0 maps is bounded by its screen, and lookups never block its loop */
	{ "dump_wider_than_screen", SESSION_ENDS, "an image larger than the screen",
		MSG(MSG_WINDOW_DUMP, WIN, 24, W(0, SW + 8, 1, 32, 7, 8)) },
	{ "dump_taller_than_screen", SESSION_ENDS, "an image larger than the screen",
		MSG(MSG_WINDOW_DUMP, WIN, 20, W(0, 1, SH + 1, 32, 7)) },
	{ "dump_unknown_type", SESSION_ENDS, "unknown window dump type", MSG(MSG_WINDOW_DUMP, WIN, 20, W(2, 1, 1, 32, 7)) },
	{ "dump_too_few_pages", SESSION_ENDS, "too few pages", MSG(MSG_WINDOW_DUMP, WIN, 20, W(0, 64, 64, 32, 7)) },
	{ "dump_ungranted_refs", SESSION_ENDS, "not granted", .attack = a_dump_bad_refs },
	{ "dump_lookup_runs", SESSION_ENDS, "more than 16 runs", .attack = a_lookup_runs, .bare = true,
		.refused = true },
	{ "dump_1tib_memfd", SESSION_ENDS, "larger than 4 GiB", .attack = a_memfd_1tib, .bare = true, .refused = true },
	{ "escape_while_lookup_held", SESSION_ENDS, "deadline", .attack = a_escape_while_held, .bare = true,
		.refused = true },
	{ "output_cap_not_reading", SESSION_ENDS, "cannot send MSG_CONFIGURE to the exporter", .attack = a_output_cap },

	/* what the proxy ignores, as the reference daemon does */
	{ "title_escape_sequences", IGNORED, NULL, .attack = a_title_escapes, .check = k_title_logged_sanitised },
	{ "class_escape_sequences", IGNORED, NULL, .attack = a_class_escapes, .check = k_screen_intact },
	{ "damage_negative", IGNORED, "negative damage rectangle", MSG(MSG_SHMIMAGE, WIN, 16, W(0, 0, 0xfffffff0u, 5)),
		.check = k_screen_intact },
	{ "damage_overflow_clipped", IGNORED, NULL, .attack = a_damage_overflow, .check = k_damage_clipped },
	{ "flags_set_and_unset", IGNORED, "window flags both set and unset", MSG(MSG_WINDOW_FLAGS, WIN, 8, W(3, 1)) },
	{ "cursor_out_of_range", IGNORED, "cursor out of range", MSG(MSG_CURSOR, WIN, 4, W(0xffffffffu)) },
	{ "configure_zero", IGNORED, "zero window size", MSG(MSG_CONFIGURE, WIN, 20, W(0, 0, 0, 0, 0)),
		.check = k_screen_intact },
	{ "hints_huge", IGNORED, NULL, MSG(MSG_WINDOW_HINTS, WIN, 36, W(0xffffffffu, 1, 1, 0xffffffffu, 0xffffffffu, 0,
									0, 0, 0)), .check = k_screen_intact },
	{ "dock_request", IGNORED, NULL, MSG(MSG_DOCK, WIN, 0), .check = k_screen_intact },
	{ "clipboard_data", IGNORED, NULL, MSG(MSG_CLIPBOARD_DATA, 0, 1000, Z(1000)), .check = k_screen_intact },
	{ "override_redirect_refused", IGNORED, NULL, .attack = a_or_window, .check = k_bordered, .bare = true },
	{ "unmapped_damage_not_drawn", IGNORED, NULL, .attack = a_unmap_then_damage, .check = k_unmapped_not_drawn },
	{ "split_byte_by_byte", IGNORED, NULL, .attack = a_split_message },

	/* floods, with dom0's escape key pressed meanwhile */
	{ "flood_damage", IGNORED, NULL, .attack = a_flood_damage },
	{ "flood_titles", IGNORED, NULL, .attack = a_flood_titles },
	{ "flood_configure", IGNORED, NULL, .attack = a_flood_configure },
	{ "flood_dumps", IGNORED, NULL, .attack = a_flood_dumps },
};

/* ------------------------------------------------------------------ the engine */

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static bool log_says(const char *what, int want)
{
	char line[1024];
	int n = procwatch_lines(plog, log_from, what, line, sizeof(line));

	if (n != want) {
		printf("#   %d log lines contain \"%s\", expected %d\n", n, what, want);
		return fail_msg("wrong log");
	}
	if (n > 0 && strstr(line, "] " VM ": ") == NULL) {
		printf("#   log line without the GUI qube's name: %s\n", line);
		return fail_msg("wrong log");
	}
	return true;
}

static bool verdict(const struct pcase *pc)
{
	long bad;
	int rc = pc->attack ? pc->attack() : wire_send(ex, &pc->msg);

	if (xrig_wait(proxy, 0) != -1) {
		proxy = 0;
		return fail_msg("the proxy is gone");
	}
	if (pc->expect == SESSION_ENDS) {
		if (pc->refused ? rc != 0 : tagent_expect(ex, NO_SUCH_TYPE, 3 * T_MS, &(struct proto_msg){ 0 }) != -1 ||
				!tagent_disconnected(ex)) {
			return fail_msg("the session did not end");
		}
		if (!log_says(pc->log, 1)) {
			return false;
		}
		if (procwatch_lines(plog, log_from, "ending the session", NULL, 0) > 1) {
			return fail_msg("more than one line about the violation");
		}
		/* the next session is shown */
		if (!new_session() || !show()) {
			return fail_msg("the next session is not shown");
		}
	} else {
		if (rc != 0) {
			return fail_msg("the attack could not be made");
		}
		if (!barrier()) {
			return false;
		}
		if (pc->log && !log_says(pc->log, 1)) {
			return false;
		}
		if (!log_says("ending the session", 0)) {
			return false;
		}
		if (pc->check && pc->check() != 0) {
			return fail_msg("dom0's user sees what the attack wanted");
		}
		if (tagent_disconnected(ex) || !frame_shown(next_rgb())) {
			return fail_msg("the session did not go on");
		}
	}
	if (!procwatch_printable(plog, &bad)) {
		printf("#   byte %ld of the log is not printable\n", bad);
		return fail_msg("the GUI qube's bytes reached dom0's log");
	}
	return escape_works();
}

static const char *case_name(size_t i, void *arg)
{
	(void)arg;
	return cases[i].name;
}

static void show_log_tail(void)
{
	char line[512];
	FILE *fp = fopen(plog, "r");

	if (fp && log_from > 0) {
		fseek(fp, log_from, SEEK_SET);
	}
	while (fp && fgets(line, sizeof(line), fp)) {
		printf("#   proxy: %s", line);
	}
	if (fp) {
		fclose(fp);
	}
}

static void case_run(size_t i, void *arg)
{
	const struct pcase *pc = &cases[i];

	(void)arg;
	if (proxy <= 0 || ex == NULL) {
		test_fail(__FILE__, __LINE__, "no proxy or exporter (an earlier case broke them)");
		return;
	}
	log_from = procwatch_size(plog);
	if (!new_session() || (!pc->bare && !show())) {
		test_fail(__FILE__, __LINE__, "the exporter's screen could not be set up");
	} else {
		log_from = procwatch_size(plog);
		verdict(pc);
	}
	if (!test_ok()) {
		show_log_tail();
	}
}

static int start_proxy(void)
{
	char self[PATH_MAX], path[PATH_MAX + 32], sockenv[PATH_MAX + 32], dispenv[64];
	char *argv[] = { path, (char *)"-d", (char *)"1", (char *)"-N", (char *)VM, (char *)"-c", (char *)"0x00ff00",
		(char *)"-v", (char *)"--dump-deadline=" DEADLINE_MS, NULL };
	char *env[] = { sockenv, (char *)"VCHAN_DOMAIN=0", dispenv, NULL };
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len <= 0) {
		return -1;
	}
	self[len] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/../../bin/guivm-proxy", self);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", dom0.name);
	snprintf(plog, sizeof(plog), "%s/proxy.log", test_tmpdir());
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1);
	ex = tagent_start(QGUI_BACKEND_SOCKET, 1, 0, 0);
	if (ex == NULL || access(path, X_OK) != 0) {
		return -1;
	}
	proxy = xrig_spawn(argv, env, plog);
	return proxy > 0 && tagent_accept(ex, T_MS) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (xrig_xvfb_start(&dom0, SW, SH, NULL) != 0 || (dpy = xrig_open(dom0.name)) == NULL) {
		printf("not ok - setup: an Xvfb for dom0\n");
		xrig_server_stop(&dom0);
		return 1;
	}
	XSetWindowBackground(dpy, DefaultRootWindow(dpy), ROOT_BG);
	XClearWindow(dpy, DefaultRootWindow(dpy));
	XSync(dpy, False);
	if (start_proxy() != 0) {
		printf("not ok - setup: guivm-proxy and an exporter\n");
		show_log_tail();
	} else {
		rc = test_main_indexed(argc, argv, N_CASES, case_name, case_run, NULL);
	}
	if (proxy > 0 && xrig_stop(proxy, T_MS) != 0) {
		printf("not ok - the proxy did not stop cleanly on SIGTERM\n");
		rc = 1;
	}
	tagent_destroy(ex);
	XCloseDisplay(dpy);
	xrig_server_stop(&dom0);
	return rc;
}

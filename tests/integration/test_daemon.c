/* test_daemon.c: gui-daemon on Xvfb driven by a scripted agent: what a user sees and what the agent gets. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "gdfix.h"
#include "test.h"

#define LABEL GDFIX_LABEL
#define T_MS GDFIX_MS
#define dpy gdfix_dpy
#define start(f, extra) gdfix_start(f, NULL, extra)
#define stop gdfix_stop

/* ------------------------------------------------------------------ cases */

static void content_and_border(void)
{
	struct fixture f;
	Window w;

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_create(f.a, 0x100, 100, 120, 200, 100, false, "hello", true), 0);
	T_EQ(tagent_fill(f.a, 0x100, 200, 100, 0x336699), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 150, 150, 0x336699, T_MS));
	/* content exactly at the agent's coordinates */
	T_EQ(xrig_root_pixel(dpy, 100, 120), 0x336699);
	T_EQ(xrig_root_pixel(dpy, 299, 219), 0x336699);
	/* the trusted border: 2 px of label colour around it, on every side */
	T_EQ(xrig_root_pixel(dpy, 99, 150), LABEL);
	T_EQ(xrig_root_pixel(dpy, 98, 150), LABEL);
	T_EQ(xrig_root_pixel(dpy, 300, 150), LABEL);
	T_EQ(xrig_root_pixel(dpy, 301, 150), LABEL);
	T_EQ(xrig_root_pixel(dpy, 150, 118), LABEL);
	T_EQ(xrig_root_pixel(dpy, 150, 221), LABEL);
	T_ASSERT(xrig_root_pixel(dpy, 97, 150) != LABEL);
	/* damage the whole image with the label's colour's opposite: the border stays */
	T_EQ(tagent_paint(f.a, 0x100, 0, 0, 200, 100, 0xff00ff, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 100, 120, 0xff00ff, T_MS));
	T_EQ(xrig_root_pixel(dpy, 99, 119), LABEL);
	w = xrig_find_vm_window(dpy, "work", 0x100, T_MS);
	T_ASSERT(w != None);
	stop(&f);
}

static void identity_properties(void)
{
	struct fixture f;
	Window w;
	unsigned long v[4];
	int format = 0;
	char s[256];
	XClassHint ch;
	struct proto_msg m = { .type = MSG_WMCLASS, .window = 0x200,
		.u.wmclass = { "Xterm\x01", "xterm" } };

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_create(f.a, 0x200, 10, 10, 50, 50, false, NULL, false), 0);
	T_EQ(tagent_send(f.a, &m), 0);
	m = (struct proto_msg){ .type = MSG_WMNAME, .window = 0x200, .u.wmname = { "title \x1b[31m red" } };
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(tagent_create(f.a, 0x201, 10, 10, 50, 50, false, NULL, false), 0);
	T_EQ(tagent_expect(f.a, MSG_KEYPRESS, 300, &m), -1); /* (lets the daemon catch up) */
	w = xrig_find_vm_window(dpy, "work", 0x200, T_MS);
	T_ASSERT(w != None);
	T_EQ(xrig_get_cardinals(dpy, w, "_QUBES_LABEL", v, 4, &format), 1);
	T_EQ(format, 8);
	T_EQ(v[0], 3);
	T_EQ(xrig_get_cardinals(dpy, w, "_QUBES_LABEL_COLOR", v, 4, &format), 1);
	T_EQ(v[0], LABEL);
	T_EQ(xrig_get_cardinals(dpy, w, "_QUBES_VMWINDOWID", v, 4, &format), 1);
	T_EQ(v[0], 0x200);
	T_EQ(xrig_get_cardinals(dpy, w, "_NET_WM_PID", v, 4, &format), 1);
	T_EQ(v[0], f.daemon);
	T_EQ(xrig_get_string(dpy, w, "_QUBES_VMNAME", s, sizeof(s)), 0);
	T_STR(s, "work");
	T_EQ(xrig_get_string(dpy, w, "_NET_WM_NAME", s, sizeof(s)), 0);
	T_STR(s, "title _[31m red");
	T_EQ(xrig_get_string(dpy, w, "WM_NAME", s, sizeof(s)), 0);
	T_STR(s, "title _[31m red");
	T_ASSERT(XGetClassHint(dpy, w, &ch));
	T_STR(ch.res_class, "work:Xterm_");
	T_STR(ch.res_name, "work:xterm");
	XFree(ch.res_class);
	XFree(ch.res_name);
	T_ASSERT(xrig_get_cardinals(dpy, w, "WM_PROTOCOLS", v, 4, &format) == 2);
	stop(&f);
}

static void acks_in_order_and_destroy(void)
{
	struct fixture f;
	struct proto_msg m;

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_create(f.a, 0x300, 0, 0, 64, 64, false, NULL, true), 0);
	for (int i = 0; i < 5; i++) {
		T_EQ(tagent_fill(f.a, 0x300, 64, 64, 0x101010u * (uint32_t)(i + 1)), 0);
	}
	for (int i = 0; i < 5; i++) {
		T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, 0x300, T_MS, &m), 0);
	}
	T_EQ(tagent_acks(f.a), 5);
	T_ASSERT(xrig_wait_pixel(dpy, 10, 10, 0x505050, T_MS));
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_DESTROY, .window = 0x300 }), 0);
	T_EQ(tagent_expect_win(f.a, MSG_DESTROY, 0x300, T_MS, &m), 0);
	T_ASSERT(xrig_find_vm_window(dpy, "work", 0x300, 100) == None);
	stop(&f);
}

static void configure_both_ways(void)
{
	struct fixture f;
	struct proto_msg m;
	Window w;
	int x, y;
	unsigned ww, hh;

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_create(f.a, 0x400, 50, 60, 120, 80, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x400, 120, 80, 0x123456), 0);
	w = xrig_find_vm_window(dpy, "work", 0x400, T_MS);
	T_ASSERT(w != None);
	T_ASSERT(xrig_wait_pixel(dpy, 60, 70, 0x123456, T_MS));
	/* agent -> daemon */
	m = (struct proto_msg){ .type = MSG_CONFIGURE, .window = 0x400, .u.configure = { 300, 200, 120, 80, false } };
	T_EQ(tagent_send(f.a, &m), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 310, 210, 0x123456, T_MS));
	T_EQ(xrig_root_pixel(dpy, 298, 198), LABEL);
	/* the user (here: the test, as a window manager would) moves and resizes the frame */
	XMoveResizeWindow(dpy, w, 500, 400, 204, 104);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x400, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 502);
	T_EQ(m.u.configure.y, 402);
	T_EQ(m.u.configure.width, 200);
	T_EQ(m.u.configure.height, 100);
	/* the configure handshake: until the agent echoes, a different agent configure is answered, not applied */
	m = (struct proto_msg){ .type = MSG_CONFIGURE, .window = 0x400, .u.configure = { 0, 0, 10, 10, false } };
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x400, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 502);
	T_EQ(m.u.configure.width, 200);
	T_EQ(tagent_send(f.a, &m), 0); /* the echo */
	T_EQ(tagent_fill(f.a, 0x400, 200, 100, 0x654321), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 502 + 199, 402 + 99, 0x654321, T_MS));
	T_EQ(xrig_geometry(dpy, w, &x, &y, &ww, &hh), 0);
	T_EQ(x, 500);
	T_EQ(ww, 204);
	stop(&f);
}

/*
 * An application that resizes, then moves its window at once (xterm at start-up): the agent's
 * configures arrive in one read, before the X server reports the daemon's first resize. That
 * stale report is not the user's move: the window ends where the agent put it and the daemon
 * sends the agent nothing to undo it.
 */
static void agent_configure_burst_is_kept(void)
{
	struct fixture f;
	struct proto_msg m;
	uint8_t buf[5 * 64];
	size_t n = 0;
	Window w;
	int x, y;
	unsigned ww, hh;

	T_EQ(start(&f, NULL), 0);
	/* on the screen with its border: no window manager here, so (0, 0) would be moved to (2, 2) */
	m = (struct proto_msg){ .type = MSG_CREATE, .window = 0x410, .u.create = { 10, 10, 1, 1, false } };
	n += proto_encode(&m, tagent_version(f.a), buf + n);
	m = (struct proto_msg){ .type = MSG_CONFIGURE, .window = 0x410, .u.configure = { 10, 10, 12, 19, false } };
	n += proto_encode(&m, tagent_version(f.a), buf + n);
	m = (struct proto_msg){ .type = MSG_MAP, .window = 0x410 };
	n += proto_encode(&m, tagent_version(f.a), buf + n);
	m = (struct proto_msg){ .type = MSG_CONFIGURE, .window = 0x410, .u.configure = { 10, 10, 366, 110, false } };
	n += proto_encode(&m, tagent_version(f.a), buf + n);
	m.u.configure = (struct proto_configure){ 40, 40, 366, 110, false };
	n += proto_encode(&m, tagent_version(f.a), buf + n);
	T_EQ(tagent_send_raw(f.a, buf, n), 0);
	T_EQ(gdfix_barrier(&f), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x410, 300, &m), -1);
	w = xrig_find_vm_window(dpy, "work", 0x410, T_MS);
	T_ASSERT(w != None);
	T_EQ(xrig_geometry(dpy, w, &x, &y, &ww, &hh), 0);
	T_EQ(x, 40 - 2);
	T_EQ(y, 40 - 2);
	T_EQ(ww, 366 + 4);
	T_EQ(hh, 110 + 4);
	stop(&f);
}

/*
 * The daemon places a window the agent mapped at (0, 0) inside the screen (no window manager);
 * before the agent sees that, the application moves itself (xterm -geometry +40+40 does, after
 * mapping). The application's move wins, placed by the same rules: the daemon sends it, takes
 * the agent's stale echo of its first placement as stale, and the window ends at (40, 40).
 */
static void agent_move_crossing_placement_wins(void)
{
	struct fixture f;
	struct proto_msg m;
	Window w;
	int x, y;
	unsigned ww, hh;

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_CREATE, .window = 0x420,
				      .u.create = { 0, 0, 300, 100, false } }), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_MAP, .window = 0x420 }), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x420, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 2); /* placed: its border on the screen */
	T_EQ(m.u.configure.y, 2);
	/* the agent's own move, sent before it saw the placement */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_CONFIGURE, .window = 0x420,
				      .u.configure = { 40, 40, 300, 100, false } }), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x420, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 40);
	T_EQ(m.u.configure.y, 40);
	/* the agent echoes both, in order */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_CONFIGURE, .window = 0x420,
				      .u.configure = { 2, 2, 300, 100, false } }), 0);
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x420, 500, &m), -1);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x420, T_MS);
	T_ASSERT(w != None);
	T_EQ(xrig_geometry(dpy, w, &x, &y, &ww, &hh), 0);
	T_EQ(x, 38);
	T_EQ(y, 38);
	stop(&f);
}

static void input_reaches_agent(void)
{
	struct fixture f;
	struct proto_msg m;

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_create(f.a, 0x500, 600, 100, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x500, 100, 100, 0x777777), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 650, 150, 0x777777, T_MS));
	XTestFakeMotionEvent(dpy, 0, 630, 140, 0);
	XSync(dpy, False);
	/* entering sends the keymap first, then the crossing */
	T_EQ(tagent_expect(f.a, MSG_KEYMAP_NOTIFY, T_MS, &m), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CROSSING, 0x500, T_MS, &m), 0);
	T_EQ(m.u.crossing.type, QGUI_EnterNotify);
	XTestFakeButtonEvent(dpy, 1, True, 0);
	XTestFakeButtonEvent(dpy, 1, False, 0);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_BUTTON, 0x500, T_MS, &m), 0);
	T_EQ(m.u.button.type, QGUI_ButtonPress);
	T_EQ(m.u.button.x, 30);
	T_EQ(m.u.button.y, 40);
	T_EQ(m.u.button.button, 1);
	XTestFakeKeyEvent(dpy, XKeysymToKeycode(dpy, XK_a), True, 0);
	XTestFakeKeyEvent(dpy, XKeysymToKeycode(dpy, XK_a), False, 0);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_KEYPRESS, 0x500, T_MS, &m), 0);
	T_EQ(m.u.key.type, QGUI_KeyPress);
	T_EQ(m.u.key.keycode, XKeysymToKeycode(dpy, XK_a));
	XTestFakeMotionEvent(dpy, 0, 5, 5, 0);
	XSync(dpy, False);
	stop(&f);
}

static void violation_ends_session(void)
{
	struct fixture f;
	struct proto_msg m;

	T_EQ(start(&f, NULL), 0);
	/* a message for a window that does not exist */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_UNMAP, .window = 0x9999 }), 0);
	T_EQ(xrig_wait(f.daemon, T_MS), 3);
	T_EQ(tagent_expect(f.a, 0, 1000, &m), -1);
	T_ASSERT(tagent_disconnected(f.a));
	f.daemon = 0;
	stop(&f);
}


static void sigterm_and_usage(void)
{
	struct fixture f;
	char *bad[] = { (char *)gdfix_daemon_path(), "-d", "5", "-N", "work", "--bogus", NULL };
	char log[PATH_MAX], buf[512] = "";
	FILE *fp;
	pid_t pid;

	T_EQ(start(&f, NULL), 0);
	T_EQ(tagent_create(f.a, 0x600, 20, 600, 50, 50, false, NULL, true), 0);
	T_ASSERT(xrig_find_vm_window(dpy, "work", 0x600, T_MS) != None);
	/* SIGTERM: a clean exit, windows gone */
	T_EQ(xrig_stop(f.daemon, T_MS), 0);
	f.daemon = 0;
	T_ASSERT(xrig_find_vm_window(dpy, "work", 0x600, 50) == None);
	stop(&f);
	/* an unknown option: status 2 and a line naming it */
	snprintf(log, sizeof(log), "%s/usage.log", test_tmpdir());
	pid = xrig_spawn(bad, NULL, log);
	T_EQ(xrig_wait(pid, T_MS), 2);
	fp = fopen(log, "r");
	T_ASSERT(fp != NULL);
	T_ASSERT(fgets(buf, sizeof(buf), fp) != NULL);
	fclose(fp);
	T_ASSERT(strstr(buf, "--bogus") != NULL);
}

static void forks_like_qubes_guid(void)
{
	char dom[16], sockenv[PATH_MAX + 32], dispenv[64], log[PATH_MAX];
	char kpid[16];
	char *argv[] = { (char *)gdfix_daemon_path(), "-d", dom, "-N", "work", "-K", kpid, NULL };
	char *sleeper[] = { "/bin/sleep", "100", NULL };
	pid_t victim = xrig_spawn(sleeper, NULL, NULL);
	char *env[] = { sockenv, "VCHAN_DOMAIN=1", dispenv, NULL };
	struct tagent *a;
	unsigned long pid = 0;
	int format;
	Window w;
	pid_t parent;

	snprintf(dom, sizeof(dom), "%d", 90);
	snprintf(kpid, sizeof(kpid), "%d", (int)victim);
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", gdfix_xs.name);
	snprintf(log, sizeof(log), "%s/fork.log", test_tmpdir());
	a = tagent_start(QGUI_BACKEND_SOCKET, 90, 1, 0);
	T_ASSERT(a != NULL);
	/* without -f the parent waits for the connection, then exits 0; the child serves */
	parent = xrig_spawn(argv, env, log);
	if (tagent_accept(a, T_MS) != 0) {
		struct fixture shown;

		snprintf(shown.log, sizeof(shown.log), "%s", log);
		gdfix_show_log(&shown);
		T_ASSERT(!"the daemon did not connect");
	}
	T_EQ(xrig_wait(parent, T_MS), 0);
	/* -K: the process named (upstream: the stubdomain's daemon) gets SIGUSR1 once connected */
	T_EQ(xrig_wait(victim, T_MS), 128 + SIGUSR1);
	T_EQ(tagent_create(a, 0x700, 20, 20, 30, 30, false, NULL, false), 0);
	w = xrig_find_vm_window(dpy, "work", 0x700, T_MS);
	T_ASSERT(w != None);
	T_EQ(xrig_get_cardinals(dpy, w, "_NET_WM_PID", &pid, 1, &format), 1);
	T_ASSERT(pid != (unsigned long)parent && pid > 1);
	kill((pid_t)pid, SIGTERM);
	T_EQ(tagent_expect(a, 0, T_MS, &(struct proto_msg){ 0 }), -1);
	T_ASSERT(tagent_disconnected(a));
	tagent_destroy(a);
}

/* Two VMs at once: one reconnecting again and again, the other redrawing a 1920x1080 window all along. */
static void two_agents_busy_and_reconnecting(void)
{
	struct fixture busy, flaky;
	const char *const red[] = { "-c", "0xff0000", NULL };
	unsigned frames = 0;

	T_EQ(start(&busy, NULL), 0);
	T_EQ(gdfix_start(&flaky, NULL, red), 0);
	T_EQ(tagent_create(busy.a, 0x800, 0, 0, 1920, 1080, false, NULL, true), 0);
	T_EQ(tagent_fill(busy.a, 0x800, 1920, 1080, 0x000001), 0);
	for (int round = 0; round < 5; round++) {
		uint32_t id = 0x900 + (uint32_t)round, rgb = 0xc00000u + (uint32_t)round;

		T_EQ(tagent_create(flaky.a, id, 600, 500, 100, 80, false, NULL, true), 0);
		T_EQ(tagent_fill(flaky.a, id, 100, 80, rgb), 0);
		/* meanwhile the big window keeps changing, full-frame damage each time */
		for (int i = 0; i < 6; i++, frames++) {
			uint32_t c = 0x010101u * (frames % 200 + 1);

			T_EQ(tagent_paint(busy.a, 0x800, 0, 0, 1920, 1080, c, true), 0);
			T_ASSERT(xrig_wait_pixel(dpy, 300, 300, c, T_MS));
		}
		T_ASSERT(xrig_wait_pixel(dpy, 650, 540, rgb, T_MS));
		T_EQ(xrig_root_pixel(dpy, 599, 540), 0xff0000);
		T_EQ(tagent_reaccept(flaky.a, 3 * T_MS), 0);
		T_ASSERT(xrig_wait_pixel(dpy, 650, 540, 0x010101u * (frames % 200), T_MS));
	}
	T_ASSERT(frames == 30);
	stop(&flaky);
	stop(&busy);
}

static const struct test_case cases[] = {
	TEST(content_and_border), TEST(identity_properties), TEST(acks_in_order_and_destroy),
	TEST(configure_both_ways), TEST(agent_configure_burst_is_kept), TEST(agent_move_crossing_placement_wins), TEST(input_reaches_agent), TEST(violation_ends_session), TEST(sigterm_and_usage),
	TEST(forks_like_qubes_guid), TEST(two_agents_busy_and_reconnecting),
};

int main(int argc, char **argv)
{
	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

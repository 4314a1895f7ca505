/* test_proxy.c: guivm-proxy on a "dom0" Xvfb, showing a scripted exporter (the GUI qube, domain 1). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/Xrandr.h>
#include <X11/keysym.h>

#include "peer.h"
#include "procwatch.h"
#include "tagent.h"
#include "test.h"
#include "xrig.h"

#define SW 1024
#define SH 768
#define LABEL 0x00ff00u   /* -c 0x00ff00 */
#define ROOT_BG 0x204060u /* dom0's own screen, seen when the proxy lets go */
#define WIN 0x42u         /* the exporter's window id */
#define T_MS 5000
#define NO_SUCH_TYPE 0xffffu /* tagent_expect for it returns only at the disconnect (or timeout) */

static struct xserver dom0;
static Display *dpy;
static Window root;
static char build_dir[PATH_MAX], proxy_path[PATH_MAX + 32];

struct pfix {
	struct tagent *a;
	pid_t pid;
	char log[PATH_MAX];
};

static struct pfix live; /* the last fixture started and not stopped (a failed case returns early) */
static int px_stop(struct pfix *f);

/* ---------------------------------------------------------------- helpers */

static void show_log(const struct pfix *f)
{
	char line[512];
	FILE *fp = fopen(f->log, "r");

	while (fp && fgets(line, sizeof(line), fp)) {
		printf("#   proxy: %s", line);
	}
	if (fp) {
		fclose(fp);
	}
}

/* The proxy's top-level window (named "sys-gui" or "waiting for sys-gui"), and its name. */
static Window proxy_window(char *name, size_t len)
{
	Window r, p, *kids = NULL, found = None;
	unsigned n = 0;

	XSync(dpy, False);
	if (!XQueryTree(dpy, root, &r, &p, &kids, &n)) {
		return None;
	}
	for (unsigned i = 0; i < n && found == None; i++) {
		char *s = NULL;

		if (XFetchName(dpy, kids[i], &s) && s) {
			if (strcmp(s, "sys-gui") == 0 || strcmp(s, "waiting for sys-gui") == 0) {
				found = kids[i];
				snprintf(name, len, "%s", s);
			}
			XFree(s);
		}
	}
	if (kids) {
		XFree(kids);
	}
	return found;
}

static bool wait_title(const char *want, int ms)
{
	char name[64];

	for (int i = 0; i <= ms / 5; i++) {
		if (proxy_window(name, sizeof(name)) != None && strcmp(name, want) == 0) {
			return true;
		}
		usleep(5000);
	}
	return false;
}

/* Whether any pixel of the root rectangle has colour rgb. */
static bool region_has(int x, int y, int w, int h, uint32_t rgb)
{
	XImage *img = XGetImage(dpy, root, x, y, (unsigned)w, (unsigned)h, AllPlanes, ZPixmap);
	bool yes = false;

	for (int j = 0; img && j < h && !yes; j++) {
		for (int i = 0; i < w && !yes; i++) {
			yes = (XGetPixel(img, i, j) & 0xffffff) == rgb;
		}
	}
	if (img) {
		XDestroyImage(img);
	}
	return yes;
}

static int screen_width(void)
{
	Window r;
	int x, y;
	unsigned w = 0, h, bw, d;

	XSync(dpy, False);
	XGetGeometry(dpy, root, &r, &x, &y, &w, &h, &bw, &d);
	return (int)w;
}

/* dom0's screen size through RandR (Xvfb: at most the size it started with). 0 or -1. */
static int set_screen(int w, int h)
{
	XRRScreenResources *res = XRRGetScreenResources(dpy, root);
	RRMode mode = None;
	RROutput out;
	char name[32];
	XRRModeInfo mi;

	if (res == NULL || res->ncrtc < 1 || res->noutput < 1) {
		return -1;
	}
	out = res->outputs[0];
	for (int i = 0; i < res->nmode; i++) {
		if ((int)res->modes[i].width == w && (int)res->modes[i].height == h) {
			mode = res->modes[i].id;
		}
	}
	if (mode == None) {
		memset(&mi, 0, sizeof(mi));
		snprintf(name, sizeof(name), "test%dx%d", w, h);
		mi.width = (unsigned)w;
		mi.height = (unsigned)h;
		mi.hTotal = (unsigned)w;
		mi.vTotal = (unsigned)h;
		mi.dotClock = 60ul * (unsigned)w * (unsigned)h;
		mi.name = name;
		mi.nameLength = (unsigned)strlen(name);
		mode = XRRCreateMode(dpy, root, &mi);
		XRRAddOutputMode(dpy, out, mode);
	}
	/* the CRTC must fit the new screen: off, resize, on */
	XRRSetCrtcConfig(dpy, res, res->crtcs[0], CurrentTime, 0, 0, None, RR_Rotate_0, NULL, 0);
	XRRSetScreenSize(dpy, root, w, h, w * 254 / 960, h * 254 / 960);
	XRRSetCrtcConfig(dpy, res, res->crtcs[0], CurrentTime, 0, 0, mode, RR_Rotate_0, &out, 1);
	XRRFreeScreenResources(res);
	return screen_width() == w ? 0 : -1;
}

static void key(KeySym ks, bool down)
{
	XTestFakeKeyEvent(dpy, XKeysymToKeycode(dpy, ks), down, 0);
}

/* dom0's escape sequence, Ctrl+Alt+Shift+F12, pressed and released at dom0's keyboard. */
static void press_escape(void)
{
	static const KeySym seq[] = { XK_Control_L, XK_Alt_L, XK_Shift_L, XK_F12 };

	for (size_t i = 0; i < 4; i++) {
		key(seq[i], true);
	}
	for (size_t i = 4; i > 0; i--) {
		key(seq[i - 1], false);
	}
	XSync(dpy, False);
}

/*
 * Starts an exporter (domain 1) and the proxy (domain 0, -d 1 -N sys-gui -c 0x00ff00 -v plus extra),
 * and waits for the handshake. Returns 0 or -1 (log shown).
 */
static int px_spawn(struct pfix *f, const char *const *extra, const char *preload, bool agent)
{
	static unsigned seq;
	char sockenv[PATH_MAX + 32], dispenv[64], preenv[PATH_MAX + 16];
	char *env[] = { sockenv, (char *)"VCHAN_DOMAIN=0", dispenv, preload ? preenv : NULL, NULL };
	char *argv[24] = { proxy_path, (char *)"-d", (char *)"1", (char *)"-N", (char *)"sys-gui", (char *)"-c",
		(char *)"0x00ff00", (char *)"-v" };
	int n = 8;

	if (live.a != NULL || live.pid > 0) {
		px_stop(&live); /* what a failed case left behind */
	}
	memset(f, 0, sizeof(*f));
	if (screen_width() != SW && set_screen(SW, SH) != 0) {
		printf("# cannot restore dom0's screen size\n");
	}
	for (size_t i = 0; extra && extra[i] && n < 23; i++) {
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", dom0.name);
	snprintf(preenv, sizeof(preenv), "LD_PRELOAD=%s", preload ? preload : "");
	snprintf(f->log, sizeof(f->log), "%s/proxy-%u.log", test_tmpdir(), seq++);
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1);
	f->a = agent ? tagent_start(QGUI_BACKEND_SOCKET, 1, 0, 0) : NULL;
	if (agent && f->a == NULL) {
		return -1;
	}
	f->pid = xrig_spawn(argv, env, f->log);
	live = *f;
	if (f->pid < 0 || (agent && tagent_accept(f->a, T_MS) != 0)) {
		show_log(f);
		return -1;
	}
	return 0;
}

static int px_start(struct pfix *f, const char *const *extra)
{
	return px_spawn(f, extra, NULL, true);
}

/* SIGTERM: the proxy must exit 0. Then its window must be gone before the next case. */
static int px_stop(struct pfix *f)
{
	int rc = f->pid > 0 ? xrig_stop(f->pid, T_MS) : 0;
	char name[64];

	tagent_destroy(f->a);
	f->a = NULL;
	f->pid = 0;
	live = *f;
	for (int i = 0; i < 400 && proxy_window(name, sizeof(name)) != None; i++) {
		usleep(5000);
	}
	if (!test_ok() || rc != 0 || getenv("TEST_PROXY_LOG")) {
		show_log(f);
	}
	return rc;
}

/* The exporter's window at the content size (border b), mapped, filled with rgb; waits until it shows. */
static int show_screen_id(struct pfix *f, uint32_t id, int b, uint32_t rgb)
{
	uint32_t w = (uint32_t)(SW - 2 * b), h = (uint32_t)(SH - 2 * b);

	if (tagent_create(f->a, id, 0, 0, w, h, false, "desktop", true) != 0 || tagent_fill(f->a, id, w, h, rgb) != 0) {
		return -1;
	}
	return xrig_wait_pixel(dpy, b + 10, b + 10, rgb, T_MS) ? 0 : -1;
}

static int show_screen(struct pfix *f, int b, uint32_t rgb)
{
	return show_screen_id(f, WIN, b, rgb);
}

/* The waiting state: title, content cleared (no stale pixels), the text drawn in the middle. */
static bool waiting_state(int b)
{
	return wait_title("waiting for sys-gui", T_MS) && xrig_wait_pixel(dpy, b + 5, b + 5, 0x000000, T_MS) &&
	       xrig_root_pixel(dpy, SW - b - 5, SH - b - 5) == 0 && xrig_root_pixel(dpy, 0, 0) == LABEL &&
	       region_has(SW / 2 - 100, SH / 2 - 10, 200, 20, 0xffffff);
}

/* ---------------------------------------------------------------- (a) pixels and border */

static void frames_and_border(void)
{
	const char *const b3[] = { "--border-width=3", NULL }, *const b0[] = { "--border-width=0", NULL };
	struct pfix f;

	T_EQ(px_start(&f, b3), 0);
	/* the xconf is the content area (width rounded up to 8, as the reference) */
	T_EQ(tagent_xconf(f.a)->w, 1024);
	T_EQ(tagent_xconf(f.a)->h, SH - 6);
	T_ASSERT(waiting_state(3));
	T_EQ(show_screen(&f, 3, 0x336699), 0);
	T_ASSERT(wait_title("sys-gui", T_MS));
	/* content at the content offset, to the last pixel */
	T_EQ(xrig_root_pixel(dpy, 3, 3), 0x336699);
	T_EQ(xrig_root_pixel(dpy, SW - 4, SH - 4), 0x336699);
	/* 3 px of label colour on every side, drawn by the proxy */
	for (int i = 0; i < 3; i++) {
		T_EQ(xrig_root_pixel(dpy, i, 300), LABEL);
		T_EQ(xrig_root_pixel(dpy, SW - 1 - i, 300), LABEL);
		T_EQ(xrig_root_pixel(dpy, 500, i), LABEL);
		T_EQ(xrig_root_pixel(dpy, 500, SH - 1 - i), LABEL);
	}
	/* damage: a rectangle of the image, at its place */
	T_EQ(tagent_paint(f.a, WIN, 100, 50, 10, 10, 0xff00ff, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 103, 53, 0xff00ff, T_MS));
	T_EQ(xrig_root_pixel(dpy, 112, 62), 0xff00ff);
	T_EQ(xrig_root_pixel(dpy, 113, 63), 0x336699);
	/* damage past the image is clipped: the border stays */
	T_EQ(tagent_paint(f.a, WIN, 0, 0, 100000, 100000, 0x00ffff, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, SW - 4, SH - 4, 0x00ffff, T_MS));
	T_EQ(xrig_root_pixel(dpy, SW - 3, SH - 3), LABEL);
	/* a smaller image: what it does not cover is cleared, not left stale */
	T_EQ(tagent_fill(f.a, WIN, 200, 100, 0xffff00), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 3 + 199, 3 + 99, 0xffff00, T_MS));
	T_EQ(xrig_root_pixel(dpy, 3 + 200, 3 + 50), 0);
	T_EQ(xrig_root_pixel(dpy, 3 + 500, 3 + 500), 0);
	T_EQ(px_stop(&f), 0);

	T_EQ(px_start(&f, b0), 0);
	T_EQ(tagent_xconf(f.a)->h, SH);
	T_EQ(show_screen(&f, 0, 0x123456), 0);
	T_EQ(xrig_root_pixel(dpy, 0, 0), 0x123456);
	T_EQ(xrig_root_pixel(dpy, SW - 1, SH - 1), 0x123456);
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (b) acks */

static void one_ack_per_dump(void)
{
	struct pfix f;
	struct proto_msg m;

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x010101), 0);
	for (uint32_t i = 2; i <= 6; i++) {
		T_EQ(tagent_fill(f.a, WIN, SW - 4, SH - 4, 0x010101u * i), 0);
	}
	/* a configure the proxy must answer: a sync point after every ack it would send */
	m = (struct proto_msg){ .type = MSG_CONFIGURE, .window = WIN, .u.configure = { 0, 0, 10, 10, false } };
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, WIN, T_MS, &m), 0);
	T_EQ(m.u.configure.width, SW - 4);
	T_EQ(m.u.configure.height, SH - 4);
	T_EQ(tagent_dumps(f.a), 6);
	T_EQ(tagent_acks(f.a), 6);
	T_ASSERT(xrig_wait_pixel(dpy, 500, 400, 0x060606, T_MS));
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (c) input */

static void input_reaches_exporter(void)
{
	struct pfix f;
	struct proto_msg m;
	KeyCode a = XKeysymToKeycode(dpy, XK_a);
	bool found = false;

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x777777), 0);
	XTestFakeMotionEvent(dpy, 0, 100, 120, 0);
	XSync(dpy, False);
	while (!found && tagent_expect_win(f.a, MSG_MOTION, WIN, T_MS, &m) == 0) {
		found = m.u.motion.x == 98 && m.u.motion.y == 118;
	}
	T_ASSERT(found);
	XTestFakeButtonEvent(dpy, 1, True, 0);
	XTestFakeButtonEvent(dpy, 1, False, 0);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_BUTTON, WIN, T_MS, &m), 0);
	T_EQ(m.u.button.type, QGUI_ButtonPress);
	T_EQ(m.u.button.x, 98);
	T_EQ(m.u.button.y, 118);
	T_EQ(m.u.button.button, 1);
	T_EQ(tagent_expect_win(f.a, MSG_BUTTON, WIN, T_MS, &m), 0);
	T_EQ(m.u.button.type, QGUI_ButtonRelease);
	XTestFakeKeyEvent(dpy, a, True, 0);
	XTestFakeKeyEvent(dpy, a, False, 0);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_KEYPRESS, WIN, T_MS, &m), 0);
	T_EQ(m.u.key.type, QGUI_KeyPress);
	T_EQ(m.u.key.keycode, a);
	T_EQ(m.u.key.x, 98);
	T_EQ(m.u.key.y, 118);
	T_EQ(tagent_expect_win(f.a, MSG_KEYPRESS, WIN, T_MS, &m), 0);
	T_EQ(m.u.key.type, QGUI_KeyRelease);
	/* synthetic input (XSendEvent by another dom0 client) is never forwarded: the 'z' below never arrives */
	{
		char name[64];
		XEvent ev = { .xkey = { .type = KeyPress, .display = dpy, .root = root, .same_screen = True, .x = 5,
			.y = 5, .keycode = XKeysymToKeycode(dpy, XK_z) } };

		ev.xkey.window = proxy_window(name, sizeof(name));
		T_ASSERT(XSendEvent(dpy, ev.xkey.window, True, KeyPressMask, &ev));
		XTestFakeKeyEvent(dpy, a, True, 0);
		XTestFakeKeyEvent(dpy, a, False, 0);
		XSync(dpy, False);
		T_EQ(tagent_expect_win(f.a, MSG_KEYPRESS, WIN, T_MS, &m), 0);
		T_EQ(m.u.key.keycode, a);
	}
	/* on the border: coordinates outside the content, still the exporter's window */
	XTestFakeMotionEvent(dpy, 0, 0, 0, 0);
	XSync(dpy, False);
	found = false;
	while (!found && tagent_expect_win(f.a, MSG_MOTION, WIN, T_MS, &m) == 0) {
		found = m.u.motion.x == -2 && m.u.motion.y == -2;
	}
	T_ASSERT(found);
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (d) the escape sequence */

static void escape_releases_and_exits(void)
{
	const char *const ex[] = { "--escape-action=exit", NULL };
	struct pfix f;
	struct proto_msg m;
	KeyCode f12 = XKeysymToKeycode(dpy, XK_F12), b = XKeysymToKeycode(dpy, XK_b);
	bool keymap = false, focus_in = false, crossing = false, saw_f12 = false, done = false;
	char name[64];

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x445566), 0);
	press_escape();
	/* released: dom0's own screen shows, the session stays */
	T_ASSERT(xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS));
	T_EQ(xrig_root_pixel(dpy, 0, 0), ROOT_BG);
	T_ASSERT(!xrig_viewable(dpy, proxy_window(name, sizeof(name))));
	/* frames are still acknowledged while hidden */
	T_EQ(tagent_fill(f.a, WIN, SW - 4, SH - 4, 0x556677), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, WIN, T_MS, &m), 0);
	/* the same sequence takes the screen back, with the new frame */
	press_escape();
	T_ASSERT(xrig_wait_pixel(dpy, 500, 400, 0x556677, T_MS));
	T_EQ(xrig_root_pixel(dpy, 0, 0), LABEL);
	key(XK_b, true);
	key(XK_b, false);
	XSync(dpy, False);
	/* everything up to that 'b': no F12 ever; the focus comes back with the keymap first */
	while (!done && tagent_expect(f.a, 0, T_MS, &m) == 0) {
		if (m.type == MSG_KEYPRESS) {
			saw_f12 |= m.u.key.keycode == f12;
			done = m.u.key.keycode == b && m.u.key.type == QGUI_KeyPress;
		} else if (m.type == MSG_KEYMAP_NOTIFY) {
			keymap = true;
			T_EQ(m.window, 0);
		} else if (m.type == MSG_FOCUS && m.u.focus.type == QGUI_FocusIn) {
			focus_in = keymap;
		} else if (m.type == MSG_CROSSING && m.u.crossing.type == QGUI_EnterNotify) {
			crossing = keymap;
		}
	}
	T_ASSERT(done);
	T_ASSERT(!saw_f12);
	T_ASSERT(focus_in);
	T_ASSERT(crossing);
	T_EQ(px_stop(&f), 0);

	/* --escape-action=exit: status 0 */
	T_EQ(px_start(&f, ex), 0);
	T_EQ(show_screen(&f, 2, 0x445566), 0);
	press_escape();
	T_EQ(xrig_wait(f.pid, T_MS), 0);
	f.pid = live.pid = 0; /* reaped */
	T_ASSERT(xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS));
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (e) the GUI qube restarts */

static void exporter_restart(void)
{
	struct pfix f;

	struct proto_msg m;

	T_EQ(px_start(&f, NULL), 0);
	for (uint32_t round = 0; round < 3; round++) {
		uint32_t rgb = 0x808000u + round;

		/* any window id, once per session: 0 is what guivm-export uses (the "screen window") */
		T_EQ(show_screen_id(&f, round == 1 ? 0 : WIN, 2, rgb), 0);
		T_ASSERT(wait_title("sys-gui", T_MS));
		T_EQ(tagent_reaccept(f.a, T_MS), 0);
		/* the new session is up, its window not yet: the waiting state, no stale pixels */
		T_ASSERT(waiting_state(2));
		T_ASSERT(!region_has(0, SH / 2 - 40, SW, 80, rgb));
	}
	/* the exporter destroys its window: the session ends (not a violation), the next one is shown */
	T_EQ(show_screen(&f, 2, 0x0000c0), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_DESTROY, .window = WIN }), 0);
	T_EQ(tagent_expect(f.a, NO_SUCH_TYPE, T_MS, &m), -1);
	T_ASSERT(tagent_disconnected(f.a));
	T_EQ(tagent_reaccept(f.a, T_MS), 0);
	T_ASSERT(waiting_state(2));
	T_EQ(show_screen(&f, 2, 0x0000c1), 0);
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (f) dom0's screen size */

static void screen_resize(void)
{
	struct pfix f;
	struct proto_msg m;
	unsigned w, h;
	int x, y;
	char name[64];

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x303030), 0);
	T_EQ(set_screen(800, 600), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, WIN, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 0);
	T_EQ(m.u.configure.y, 0);
	T_EQ(m.u.configure.width, 796);
	T_EQ(m.u.configure.height, 596);
	T_EQ(xrig_geometry(dpy, proxy_window(name, sizeof(name)), &x, &y, &w, &h), 0);
	T_EQ(w, 800);
	T_EQ(h, 600);
	/* the exporter echoes (the configure handshake) and redraws at the new size */
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(tagent_fill(f.a, WIN, 796, 596, 0x404040), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 797, 597, 0x404040, T_MS));
	T_EQ(xrig_root_pixel(dpy, 798, 598), LABEL);
	/* back to the full size: a new configure */
	T_EQ(set_screen(SW, SH), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, WIN, T_MS, &m), 0);
	T_EQ(m.u.configure.width, SW - 4);
	T_EQ(m.u.configure.height, SH - 4);
	/* echoed; SIGHUP re-reads the screen and says it again */
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(kill(f.pid, SIGHUP), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, WIN, T_MS, &m), 0);
	T_EQ(m.u.configure.width, SW - 4);
	T_EQ(px_stop(&f), 0);
}

/* Two RandR monitors side by side, printed in qubes.SetMonitorLayout form, in content coordinates. */
static void monitor_layout(void)
{
	char *argv[] = { proxy_path, (char *)"--print-monitor-layout", NULL }, dispenv[64], out[PATH_MAX], buf[256];
	char *env[] = { dispenv, NULL };
	XRRMonitorInfo *mon = XRRAllocateMonitor(dpy, 0);
	size_t n;
	FILE *fp;
	pid_t pid;
	int rc;

	T_ASSERT(mon != NULL);
	mon->name = XInternAtom(dpy, "TEST-RIGHT", False);
	mon->x = 512;
	mon->y = 0;
	mon->width = 512;
	mon->height = SH;
	mon->mwidth = 135;
	mon->mheight = 203;
	XRRSetMonitor(dpy, root, mon);
	mon->name = XInternAtom(dpy, "TEST-LEFT", False);
	mon->x = 0;
	XRRSetMonitor(dpy, root, mon);
	XSync(dpy, False);
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", dom0.name);
	snprintf(out, sizeof(out), "%s/layout.out", test_tmpdir());
	pid = xrig_spawn(argv, env, out);
	rc = xrig_wait(pid, T_MS);
	XRRDeleteMonitor(dpy, root, XInternAtom(dpy, "TEST-RIGHT", False));
	XRRDeleteMonitor(dpy, root, XInternAtom(dpy, "TEST-LEFT", False));
	XSync(dpy, False);
	XRRFreeMonitors(mon);
	T_EQ(rc, 0);
	fp = fopen(out, "r");
	T_ASSERT(fp != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* the left monitor, then the right one, clipped to the content area (2 px border) */
	T_ASSERT(strstr(buf, "510 764 0 0\n") != NULL);
	T_ASSERT(strstr(buf, "510 764 510 0\n") != NULL);
}

/* The Xen back-ends (libxenvchan, xengnttab) under the xenshim: grants mapped, pixels copied (no zero-copy fd). */
static void xen_path_copies(void)
{
	const char *const xen[] = { "--transport=xen", NULL };
	char shim[PATH_MAX + 32];
	struct pfix f;

	snprintf(shim, sizeof(shim), "%s/libxenshim.so", build_dir);
	T_ASSERT(access(shim, R_OK) == 0);
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1); /* the shim comes before libasan under ASan */
	T_EQ(px_spawn(&f, xen, shim, true), 0);
	T_EQ(show_screen(&f, 2, 0x3c5a78), 0);
	T_EQ(tagent_paint(f.a, WIN, 10, 10, 20, 20, 0xffeedd, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 12 + 19, 12 + 19, 0xffeedd, T_MS));
	T_EQ(xrig_root_pixel(dpy, 12 + 20, 12 + 20), 0x3c5a78);
	T_EQ(xrig_root_pixel(dpy, 1, 300), LABEL);
	T_EQ(tagent_fill(f.a, WIN, SW - 4, SH - 4, 0x102030), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, WIN, T_MS, &(struct proto_msg){ 0 }), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 600, 500, 0x102030, T_MS));
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (g) hostile exporters */

/* The end of every hostile case: the session is gone, the proxy alive and waiting, and a good exporter shows. */
static bool survives(struct pfix *f, uint32_t rgb)
{
	struct proto_msg m;

	if (tagent_expect(f->a, NO_SUCH_TYPE, T_MS, &m) != -1 || !tagent_disconnected(f->a)) {
		printf("#   the proxy did not end the session\n");
		return false;
	}
	if (xrig_wait(f->pid, 0) != -1 || !waiting_state(2)) {
		printf("#   the proxy is not alive and waiting\n");
		return false;
	}
	if (tagent_reaccept(f->a, T_MS) != 0 || show_screen(f, 2, rgb) != 0) {
		printf("#   a good exporter is not shown afterwards\n");
		return false;
	}
	return true;
}

static void hostile_second_window(void)
{
	struct pfix f;

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x990000), 0);
	T_EQ(tagent_create(f.a, WIN + 1, 0, 0, 100, 100, true, NULL, false), 0);
	T_ASSERT(survives(&f, 0x009900));
	/* the same id again is a second window too */
	T_EQ(tagent_create(f.a, WIN, 0, 0, 100, 100, false, NULL, false), 0);
	T_ASSERT(survives(&f, 0x009901));
	/* and a message for another window */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_MAP, .window = WIN + 7 }), 0);
	T_ASSERT(survives(&f, 0x009902));
	T_EQ(px_stop(&f), 0);
}

static void hostile_oversize_dump(void)
{
	struct pfix f;

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x990000), 0);
	/* granted and large enough for what it claims, but wider than dom0's screen */
	/* (the SHMIMAGE tagent_fill sends after the dump may meet a closed connection) */
	(void)tagent_fill(f.a, WIN, SW + 8, 16, 0xffffff);
	T_ASSERT(survives(&f, 0x009900));
	(void)tagent_fill(f.a, WIN, 64, SH, 0xffffff);
	T_ASSERT(survives(&f, 0x009901));
	T_EQ(px_stop(&f), 0);
}

static void hostile_bad_grants(void)
{
	struct pfix f;
	uint8_t refs[8] = { 0x78, 0x56, 0x34, 0x12, 0x79, 0x56, 0x34, 0x12 };
	struct proto_msg m = { .type = MSG_WINDOW_DUMP, .window = WIN,
		.u.dump = { .width = 32, .height = 32, .bpp = 32, .nrefs = 2, .refs = refs } };

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x990000), 0);
	T_EQ(tagent_send(f.a, &m), 0);
	T_ASSERT(survives(&f, 0x009900));
	T_EQ(px_stop(&f), 0);
}

static void hostile_wrong_length(void)
{
	struct pfix f;
	uint8_t raw[12 + 15] = { 0x88, 0, 0, 0, WIN, 0, 0, 0, 15, 0, 0, 0 }; /* MSG_SHMIMAGE of 15 bytes, not 16 */

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x990000), 0);
	T_EQ(tagent_send_raw(f.a, raw, sizeof(raw)), 0);
	T_ASSERT(survives(&f, 0x009900));
	T_EQ(px_stop(&f), 0);
}

struct flood {
	struct tagent *a;
	uint8_t *buf;
	size_t len;
	int rc;
	bool done; /* atomic: the last byte was handed to the transport */
};

static void *send_flood(void *arg)
{
	struct flood *fl = arg;
	size_t chunk = 28 * 10000;

	fl->rc = 0;
	for (size_t off = 0; off < fl->len && fl->rc == 0; off += chunk) {
		fl->rc = tagent_send_raw(fl->a, fl->buf + off, fl->len - off < chunk ? fl->len - off : chunk);
	}
	__atomic_store_n(&fl->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void hostile_flood(void)
{
	enum { N = 100000 };
	struct pfix f;
	struct proto_msg m = { .type = MSG_SHMIMAGE, .window = WIN, .u.shmimage = { 0, 0, SW, SH } };
	struct flood fl;
	uint8_t one[28];
	uint8_t raw[12 + 15] = { 0x88, 0, 0, 0, WIN, 0, 0, 0, 15, 0, 0, 0 };
	pthread_t th;
	bool released, during;

	T_EQ(px_start(&f, NULL), 0);
	T_EQ(show_screen(&f, 2, 0x990000), 0);
	T_EQ(proto_encode(&m, tagent_version(f.a), one), 28);
	fl = (struct flood){ f.a, malloc((size_t)N * 28), (size_t)N * 28, -1, false };
	T_ASSERT(fl.buf != NULL);
	for (size_t i = 0; i < N; i++) {
		memcpy(fl.buf + i * 28, one, 28);
	}
	/* the exporter floods from another thread while dom0's user presses the escape sequence */
	T_EQ(pthread_create(&th, NULL, send_flood, &fl), 0);
	press_escape();
	released = xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS);
	during = !__atomic_load_n(&fl.done, __ATOMIC_ACQUIRE);
	pthread_join(th, NULL); /* before any assertion: the thread uses the agent */
	free(fl.buf);
	printf("# the escape sequence took effect %s the flood was sent\n", during ? "before" : "after");
	T_ASSERT(released);
	T_EQ(fl.rc, 0);
	press_escape();
	T_ASSERT(xrig_wait_pixel(dpy, 500, 400, 0x990000, T_MS));
	/* the flood was valid; the session still runs: it ends with a violation */
	T_EQ(tagent_paint(f.a, WIN, 0, 0, 8, 8, 0x0000ff, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 2, 2, 0x0000ff, T_MS));
	T_EQ(tagent_send_raw(f.a, raw, sizeof(raw)), 0);
	T_ASSERT(survives(&f, 0x009900));
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- (i) a GUI qube answering LOOKUPs slowly */

/* Lines of the proxy's log containing text. */
static int log_count(const struct pfix *f, const char *text)
{
	return procwatch_lines(f->log, 0, text, NULL, 0);
}

/*
 * The exporter's window, mapped, and a WINDOW_DUMP of w x h whose refs (from
 * 100) are answered by the hostile owner of cfg (domain 1, the exporter's
 * own grant socket: the agent has shared nothing yet). 0 or -1.
 */
static int slow_dump(struct pfix *f, struct kid *owner, struct peer_fake_cfg *cfg, uint32_t w, uint32_t h)
{
	uint32_t n = (w * h * 4 + GRANT_PAGE_SIZE - 1) / GRANT_PAGE_SIZE;
	uint8_t refs[64 * 4];
	struct proto_msg m = { .type = MSG_WINDOW_DUMP, .window = WIN,
		.u.dump = { .width = w, .height = h, .bpp = 32, .nrefs = n, .refs = refs } };

	if (n > 64 || tagent_create(f->a, WIN, 0, 0, SW - 4, SH - 4, false, "desktop", true) != 0) {
		return -1;
	}
	cfg->own = 1;
	cfg->grantee = 0;
	if (!kid_spawn(owner, KID_TRACKED, peer_fake_owner_main, cfg) || peer_ready(owner) != 0) {
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t b = 0; b < 4; b++) {
			refs[4 * i + b] = (uint8_t)((100 + i) >> (8 * b));
		}
	}
	if (tagent_send(f->a, &m) != 0) {
		return -1;
	}
	/* its damage, queued behind the dump (the proxy handles it once the dump is mapped) */
	m = (struct proto_msg){ .type = MSG_SHMIMAGE, .window = WIN, .u.shmimage = { 0, 0, (int32_t)w, (int32_t)h } };
	return tagent_send(f->a, &m);
}

/* The owner's counts (LOOKUPs received, replies sent), or -1 in both. */
static void owner_stats(struct kid *owner, int *got, int *sent)
{
	struct peer_cmd c = { .op = PEER_FAKE_STATS };

	*got = *sent = -1;
	if (peer_call(owner, &c) == 0) {
		*got = (int)c.a;
		*sent = (int)c.b;
	}
}

/*
 * dom0's escape key while the GUI qube holds a LOOKUP reply of a screen
 * image: the proxy's loop serves it while the dump is still pending (the
 * owner still holds the reply, the session still runs); then the owner
 * answers slowly, one run at a time, and the image shows.
 */
static void escape_while_lookups_are_slow(void)
{
	const char *const dl[] = { "--dump-deadline=10000", NULL };
	struct peer_fake_cfg cfg = { 0, 0, GRANT_PAGE_SIZE, 1, 1, 0x5a, 100, true };
	struct kid owner = { 0 };
	struct proto_msg m;
	struct pfix f;
	int got = 0, sent = 0;

	T_EQ(px_start(&f, dl), 0);
	/* 64 x 64 x 4 = 4 pages, each its own run: 4 LOOKUPs, the first held */
	T_EQ(slow_dump(&f, &owner, &cfg, 64, 64), 0);
	for (int i = 0; i < T_MS / 10 && got < 1; i++) {
		owner_stats(&owner, &got, &sent);
		usleep(10000);
	}
	T_EQ(got, 1);
	press_escape();
	T_ASSERT(xrig_wait_pixel(dpy, 500, 400, ROOT_BG, T_MS));
	/* served while pending: the reply is still held and the session runs (no deadline passed) */
	owner_stats(&owner, &got, &sent);
	T_EQ(got, 1);
	T_EQ(sent, 0);
	T_EQ(log_count(&f, "screen released to dom0"), 1);
	T_EQ(log_count(&f, "broke the grant protocol"), 0);
	T_ASSERT(!tagent_disconnected(f.a));
	/* and taken back, still pending */
	press_escape();
	T_ASSERT(xrig_wait_pixel(dpy, 1, 300, LABEL, T_MS));
	T_EQ(log_count(&f, "showing the GUI qube again"), 1);
	/* the owner answers, 100 ms a run: the dump completes, is acked and shows (0x5a5a5a) */
	T_EQ(peer_owner_cmd(&owner, PEER_FAKE_RELEASE, 0), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, WIN, T_MS, &m), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 2 + 10, 2 + 10, 0x5a5a5a, T_MS));
	owner_stats(&owner, &got, &sent);
	T_EQ(sent, 4);
	T_EQ(kid_finish(&owner), 0);
	T_EQ(px_stop(&f), 0);
}

/* A dump whose LOOKUPs never finish ends at its deadline; one with more runs than the cap ends at once. */
static void slow_or_split_dumps_end_the_session(void)
{
	struct peer_fake_cfg held = { 0, 0, GRANT_PAGE_SIZE, 1, 1, 0x5a, 0, true };
	struct peer_fake_cfg split = { 0, 0, GRANT_PAGE_SIZE, 1, 1, 0x5a, 0, false };
	struct kid owner = { 0 };
	struct proto_msg m;
	struct pfix f;
	int got, sent;

	/* held for ever: the default 1 s deadline of the whole dump, one log line */
	T_EQ(px_start(&f, NULL), 0);
	T_EQ(slow_dump(&f, &owner, &held, 32, 32), 0);
	T_EQ(tagent_expect(f.a, NO_SUCH_TYPE, T_MS, &m), -1);
	T_ASSERT(tagent_disconnected(f.a));
	T_EQ(log_count(&f, "broke the grant protocol"), 1);
	T_EQ(log_count(&f, "1000 ms deadline"), 1);
	T_EQ(log_count(&f, "ending the session"), 0);
	T_EQ(kid_finish(&owner), 0); /* frees the exporter's grant socket for its own owner */
	T_ASSERT(survives(&f, 0x009900));
	T_EQ(px_stop(&f), 0);

	/* 128 x 160 x 4 = 20 pages in 20 runs: the 17th LOOKUP is never sent */
	T_EQ(px_start(&f, NULL), 0);
	T_EQ(slow_dump(&f, &owner, &split, 128, 160), 0);
	T_EQ(tagent_expect(f.a, NO_SUCH_TYPE, T_MS, &m), -1);
	T_ASSERT(tagent_disconnected(f.a));
	T_EQ(log_count(&f, "broke the grant protocol"), 1);
	T_EQ(log_count(&f, "more than 16 runs"), 1);
	owner_stats(&owner, &got, &sent);
	T_EQ(got, 16);
	T_EQ(kid_finish(&owner), 0);
	T_ASSERT(survives(&f, 0x009901));
	T_EQ(px_stop(&f), 0);
}

/* ---------------------------------------------------------------- with the real exporter */

/* The GUI qube's display exported by guivm-export, shown by the proxy: pixels, changes, the pointer. */
static bool e2e(struct pfix *f, Display *g, const char *gui, pid_t *exporter)
{
	char export_path[PATH_MAX + 32], sockenv[PATH_MAX + 32], dispenv[64], log[PATH_MAX];
	char *argv[] = { export_path, (char *)"-d", (char *)"0", (char *)"-v", NULL };
	char *env[] = { sockenv, (char *)"VCHAN_DOMAIN=1", dispenv, NULL };
	Window groot = DefaultRootWindow(g), w, rr, cr;
	int rx = 0, ry = 0, wx, wy;
	unsigned mask;

	snprintf(export_path, sizeof(export_path), "%s/bin/guivm-export", build_dir);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", gui);
	snprintf(log, sizeof(log), "%s/export.log", test_tmpdir());
	XSetWindowBackground(g, groot, 0x112233);
	XClearWindow(g, groot);
	w = XCreateSimpleWindow(g, groot, 100, 100, 200, 100, 0, 0, 0xc0ffee);
	XMapWindow(g, w);
	XSync(g, False);
	*exporter = xrig_spawn(argv, env, log);
	if (*exporter < 0 || px_spawn(f, NULL, NULL, false) != 0) {
		return false;
	}
	/* the GUI qube's window at the same place, inside dom0's border; its desktop around it */
	if (!xrig_wait_pixel(dpy, 2 + 100, 2 + 100, 0xc0ffee, T_MS) || xrig_root_pixel(dpy, 2 + 299, 2 + 199) != 0xc0ffee ||
			xrig_root_pixel(dpy, 2 + 99, 2 + 150) != 0x112233 || xrig_root_pixel(dpy, 0, 0) != LABEL) {
		printf("#   the exported screen is not shown\n");
		return false;
	}
	XSetWindowBackground(g, w, 0xbada55);
	XClearWindow(g, w);
	XSync(g, False);
	if (!xrig_wait_pixel(dpy, 2 + 150, 2 + 150, 0xbada55, T_MS)) {
		printf("#   a change is not shown\n");
		return false;
	}
	/* dom0's pointer drives the GUI qube's, content-relative */
	XTestFakeMotionEvent(dpy, 0, 2 + 210, 2 + 160, 0);
	XSync(dpy, False);
	for (int i = 0; i < T_MS / 5 && (rx != 210 || ry != 160); i++) {
		usleep(5000);
		XQueryPointer(g, groot, &rr, &cr, &rx, &ry, &wx, &wy, &mask);
	}
	if (rx != 210 || ry != 160) {
		printf("#   the GUI qube's pointer is at %d,%d\n", rx, ry);
		return false;
	}
	return true;
}

static void with_guivm_export(void)
{
	struct xserver gui;
	struct pfix f = { 0 };
	Display *g = NULL;
	pid_t exporter = -1;
	bool ok;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/bin/guivm-export", build_dir);
	if (access(path, X_OK) != 0) {
		printf("# with_guivm_export: no guivm-export built; nothing to check\n");
		return;
	}
	if (live.a != NULL || live.pid > 0) {
		px_stop(&live);
	}
	T_EQ(xrig_xvfb_start(&gui, 1280, 1024, NULL), 0);
	g = xrig_open(gui.name);
	ok = g != NULL && e2e(&f, g, gui.name, &exporter);
	if (f.pid > 0) {
		T_EQ(px_stop(&f), 0);
	}
	if (exporter > 0) {
		T_EQ(xrig_stop(exporter, T_MS), 0);
	}
	if (g) {
		XCloseDisplay(g);
	}
	xrig_server_stop(&gui);
	T_ASSERT(ok);
}

/* ---------------------------------------------------------------- (h) command line */

static int run_cli(char *const argv[], char *first_line, size_t len)
{
	char log[PATH_MAX];
	FILE *fp;
	pid_t pid;
	int rc;

	snprintf(log, sizeof(log), "%s/cli.log", test_tmpdir());
	unlink(log);
	pid = xrig_spawn(argv, NULL, log);
	rc = xrig_wait(pid, T_MS);
	first_line[0] = '\0';
	fp = fopen(log, "r");
	if (fp) {
		if (fgets(first_line, (int)len, fp) == NULL) {
			first_line[0] = '\0';
		}
		fclose(fp);
	}
	return rc;
}

static void command_line(void)
{
	char *help[] = { proxy_path, (char *)"--help", NULL };
	char *version[] = { proxy_path, (char *)"--version", NULL };
	char *bogus[] = { proxy_path, (char *)"-d", (char *)"1", (char *)"-N", (char *)"sys-gui", (char *)"--bogus", NULL };
	char *badname[] = { proxy_path, (char *)"-d", (char *)"1", (char *)"-N", (char *)"sys-gui-dm", NULL };
	char *badname2[] = { proxy_path, (char *)"-d", (char *)"1", (char *)"-N", (char *)"1abc", NULL };
	char *border[] = { proxy_path, (char *)"-d", (char *)"1", (char *)"-N", (char *)"a", (char *)"--border-width=33",
		NULL };
	char *esc[] = { proxy_path, (char *)"-d", (char *)"1", (char *)"-N", (char *)"a", (char *)"--escape=Ctrl-Nokey",
		NULL };
	char *nod[] = { proxy_path, (char *)"-N", (char *)"a", NULL };
	char line[512];

	T_EQ(run_cli(help, line, sizeof(line)), 0);
	T_ASSERT(strstr(line, "usage") != NULL);
	T_EQ(run_cli(version, line, sizeof(line)), 0);
	T_ASSERT(strstr(line, "1.8") != NULL);
	T_EQ(run_cli(bogus, line, sizeof(line)), 2);
	T_ASSERT(strstr(line, "--bogus") != NULL);
	T_EQ(run_cli(badname, line, sizeof(line)), 2);
	T_ASSERT(strstr(line, "-N") != NULL);
	T_EQ(run_cli(badname2, line, sizeof(line)), 2);
	T_ASSERT(strstr(line, "-N") != NULL);
	T_EQ(run_cli(border, line, sizeof(line)), 2);
	T_ASSERT(strstr(line, "--border-width") != NULL);
	T_EQ(run_cli(esc, line, sizeof(line)), 2);
	T_ASSERT(strstr(line, "--escape") != NULL);
	T_EQ(run_cli(nod, line, sizeof(line)), 2);
	T_ASSERT(strstr(line, "-d") != NULL);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST(command_line), TEST(frames_and_border), TEST(one_ack_per_dump), TEST(input_reaches_exporter),
		TEST(escape_releases_and_exits), TEST(exporter_restart), TEST(screen_resize), TEST(monitor_layout),
		TEST(xen_path_copies),
		TEST(hostile_second_window), TEST(hostile_oversize_dump), TEST(hostile_bad_grants),
		TEST(hostile_wrong_length), TEST(hostile_flood), TEST(escape_while_lookups_are_slow),
		TEST(slow_or_split_dumps_end_the_session), TEST(with_guivm_export),
	};
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (len <= 0) {
		return 1;
	}
	self[len] = '\0';
	snprintf(build_dir, sizeof(build_dir), "%s/../..", dirname(self));
	snprintf(proxy_path, sizeof(proxy_path), "%s/bin/guivm-proxy", build_dir);
	if (access(proxy_path, X_OK) != 0 || xrig_xvfb_start(&dom0, SW, SH, NULL) != 0 ||
			(dpy = xrig_open(dom0.name)) == NULL) {
		printf("not ok - setup: guivm-proxy at %s and an Xvfb\n", proxy_path);
		xrig_server_stop(&dom0);
		return 1;
	}
	root = DefaultRootWindow(dpy);
	XSetWindowBackground(dpy, root, ROOT_BG);
	XClearWindow(dpy, root);
	XSync(dpy, False);
	rc = test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
	XCloseDisplay(dpy);
	xrig_server_stop(&dom0);
	return rc;
}

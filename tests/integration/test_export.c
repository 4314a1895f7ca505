/* test_export.c: guivm-export on a GUI qube's Xvfb, shown by gui-daemon on dom0's Xvfb: pixels, input, restarts, sizes. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/Xrandr.h>
#include <X11/keysym.h>

#include "test.h"
#include "xrig.h"

#define T_MS 5000
#define GUI_DOM 1
#define VMNAME "sys-gui"
#define BORDER 2 /* gui-daemon's default trusted border, drawn outside the content (off-screen here) */

static char export_path[PATH_MAX], daemon_path[PATH_MAX], shim_path[PATH_MAX];

/* The GUI qube (its X server and guivm-export) and dom0 (its X server and the viewer, gui-daemon). */
struct rig {
	struct xserver gui, dom0;
	Display *g, *d;
	pid_t exporter, daemon;
	int n;                    /* processes started, for log names */
	char elog[PATH_MAX], dlog[PATH_MAX], conf[PATH_MAX], clip[PATH_MAX];
};

static void show_log(const char *who, const char *path)
{
	char line[512];
	FILE *fp = fopen(path, "r");

	while (fp && fgets(line, sizeof(line), fp)) {
		printf("#   %s: %s", who, line);
	}
	if (fp) {
		fclose(fp);
	}
}

/* Whether the file at path contains needle. */
static bool log_has(const char *path, const char *needle)
{
	char line[1024];
	FILE *fp = fopen(path, "r");
	bool found = false;

	while (fp && !found && fgets(line, sizeof(line), fp)) {
		found = strstr(line, needle) != NULL;
	}
	if (fp) {
		fclose(fp);
	}
	return found;
}

/* Waits until the file at path contains needle (a program's log line as the synchronisation point). */
static bool wait_log(const char *path, const char *needle, int timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;

	while (!log_has(path, needle)) {
		if (test_now_ms() >= deadline) {
			return false;
		}
		test_sleep_ms(10);
	}
	return true;
}

/* ------------------------------------------------------------------ processes */

static int start_exporter(struct rig *r, const char *const *extra, const char *preload)
{
	char sockenv[PATH_MAX + 32], dispenv[64], preenv[PATH_MAX + 16];
	char *argv[16], *env[6];
	int n = 0, e = 0;

	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", r->gui.name);
	snprintf(r->elog, sizeof(r->elog), "%s/export-%d.log", test_tmpdir(), ++r->n);
	env[e++] = sockenv;
	env[e++] = "VCHAN_DOMAIN=1";
	env[e++] = dispenv;
	if (preload) {
		snprintf(preenv, sizeof(preenv), "LD_PRELOAD=%s", preload);
		env[e++] = preenv;
		env[e++] = "ASAN_OPTIONS=verify_asan_link_order=0"; /* the shim comes before libasan under ASan */
	}
	env[e] = NULL;
	argv[n++] = export_path;
	argv[n++] = "-d";
	argv[n++] = "0";
	argv[n++] = "-v";
	for (size_t i = 0; extra && extra[i] && n < 15; i++) {
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	r->exporter = xrig_spawn(argv, env, r->elog);
	return r->exporter > 0 ? 0 : -1;
}

/* A stock-qubes-guid-style viewer in dom0: gui-daemon -f -d <GUI qube> -N sys-gui, allow_fullscreen = true. */
static int start_daemon(struct rig *r)
{
	char sockenv[PATH_MAX + 32], dispenv[64], dom[16];
	char *argv[] = { daemon_path, "-f", "-d", dom, "-N", VMNAME, "-c", "0x00ff00", "-C", r->conf, "--clipboard-dir",
		r->clip, "-v", NULL };
	char *env[] = { sockenv, "VCHAN_DOMAIN=0", dispenv, NULL };

	snprintf(dom, sizeof(dom), "%d", GUI_DOM);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", r->dom0.name);
	snprintf(r->dlog, sizeof(r->dlog), "%s/daemon-%d.log", test_tmpdir(), ++r->n);
	r->daemon = xrig_spawn(argv, env, r->dlog);
	return r->daemon > 0 ? 0 : -1;
}

/* Both X servers (gw x gh for the GUI qube, dw x dh for dom0), the viewer and guivm-export. */
static int rig_start(struct rig *r, int gw, int gh, int dw, int dh)
{
	FILE *fp;

	memset(r, 0, sizeof(*r));
	snprintf(r->conf, sizeof(r->conf), "%s/guid.conf", test_tmpdir());
	snprintf(r->clip, sizeof(r->clip), "%s/clip", test_tmpdir());
	mkdir(r->clip, 0700);
	fp = fopen(r->conf, "w");
	if (fp == NULL) {
		return -1;
	}
	fprintf(fp, "global: {\n  allow_fullscreen = true;\n};\n");
	fclose(fp);
	if (xrig_xvfb_start(&r->gui, gw, gh, NULL) != 0 || xrig_xvfb_start(&r->dom0, dw, dh, NULL) != 0 ||
			(r->g = xrig_open(r->gui.name)) == NULL || (r->d = xrig_open(r->dom0.name)) == NULL) {
		return -1;
	}
	return 0;
}

static void rig_show_logs(const struct rig *r)
{
	if (r->elog[0]) {
		show_log("export", r->elog);
	}
	if (r->dlog[0]) {
		show_log("daemon", r->dlog);
	}
}

/* Stops everything by pid; guivm-export must exit 0 on SIGTERM (no sanitizer report, no leak). */
static void rig_stop(struct rig *r)
{
	if (r->exporter > 0) {
		int status = xrig_stop(r->exporter, 3000);

		if (status != 0) {
			test_fail(__FILE__, __LINE__, "guivm-export exited with status %d after SIGTERM", status);
		}
	}
	if (r->daemon > 0) {
		xrig_stop(r->daemon, 3000);
	}
	if (!test_ok()) {
		rig_show_logs(r);
	}
	if (r->g) {
		XCloseDisplay(r->g);
	}
	if (r->d) {
		XCloseDisplay(r->d);
	}
	xrig_server_stop(&r->gui);
	xrig_server_stop(&r->dom0);
	memset(r, 0, sizeof(*r));
}

/* Assertions inside a case with a rig: on failure the rig is stopped (and its logs shown) before returning. */
#define R_ASSERT(r, c) \
	do { \
		if (!(c)) { \
			test_fail(__FILE__, __LINE__, "assertion failed: %s", #c); \
			rig_stop(r); \
			return; \
		} \
	} while (0)

#define R_EQ(r, a, b) \
	do { \
		long long a_ = (long long)(a), b_ = (long long)(b); \
		if (a_ != b_) { \
			test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); \
			rig_stop(r); \
			return; \
		} \
	} while (0)

/* ------------------------------------------------------------------ X helpers */

static void fill(Display *dpy, Window win, int x, int y, int w, int h, uint32_t rgb)
{
	GC gc = XCreateGC(dpy, win, 0, NULL);

	XSetForeground(dpy, gc, rgb); /* depth-24 TrueColor: the pixel is 0xRRGGBB */
	XFillRectangle(dpy, win, gc, x, y, (unsigned)w, (unsigned)h);
	XFreeGC(dpy, gc);
	XSync(dpy, False);
}

static void fill_root(Display *dpy, int x, int y, int w, int h, uint32_t rgb)
{
	fill(dpy, DefaultRootWindow(dpy), x, y, w, h, rgb);
}

static void root_size(Display *dpy, unsigned *w, unsigned *h)
{
	Window r;
	int x, y;
	unsigned bw, depth;

	*w = *h = 0;
	XGetGeometry(dpy, DefaultRootWindow(dpy), &r, &x, &y, w, h, &bw, &depth);
}

/* The first pixel where the two displays' roots differ over w x h, or -1 when they are equal. */
static long screens_differ(Display *a, Display *b, int w, int h)
{
	XImage *ia = XGetImage(a, DefaultRootWindow(a), 0, 0, (unsigned)w, (unsigned)h, 0xffffff, ZPixmap);
	XImage *ib = XGetImage(b, DefaultRootWindow(b), 0, 0, (unsigned)w, (unsigned)h, 0xffffff, ZPixmap);
	long at = ia && ib ? -1 : 0;

	for (int y = 0; ia && ib && at < 0 && y < h; y++) {
		const uint32_t *ra = (const uint32_t *)(ia->data + (size_t)y * (size_t)ia->bytes_per_line);
		const uint32_t *rb = (const uint32_t *)(ib->data + (size_t)y * (size_t)ib->bytes_per_line);

		for (int x = 0; x < w; x++) {
			if ((ra[x] & 0xffffff) != (rb[x] & 0xffffff)) {
				at = (long)y * w + x;
				break;
			}
		}
	}
	if (ia) {
		XDestroyImage(ia);
	}
	if (ib) {
		XDestroyImage(ib);
	}
	return at;
}

/* Waits until dom0's screen equals the GUI qube's over w x h. */
static bool wait_same_screen(struct rig *r, int w, int h, int timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;
	long at;

	while ((at = screens_differ(r->g, r->d, w, h)) >= 0) {
		if (test_now_ms() >= deadline) {
			printf("#   screens differ at (%ld, %ld): gui 0x%06x, dom0 0x%06x\n", at % w, at / w,
					xrig_root_pixel(r->g, (int)(at % w), (int)(at / w)),
					xrig_root_pixel(r->d, (int)(at % w), (int)(at / w)));
			return false;
		}
		test_sleep_ms(10);
	}
	return true;
}

/* The viewer's window (the exported screen: remote window 0) and its content size, waiting for it to be w x h. */
static bool wait_window_size(struct rig *r, unsigned w, unsigned h, int timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;
	Window win = xrig_find_vm_window(r->d, VMNAME, 0, timeout_ms);
	unsigned ww = 0, hh = 0;
	int x = 0, y = 0;

	while (win != None) {
		if (xrig_geometry(r->d, win, &x, &y, &ww, &hh) == 0 && ww == w + 2 * BORDER && hh == h + 2 * BORDER &&
				x == -BORDER && y == -BORDER) {
			return true;
		}
		if (test_now_ms() >= deadline) {
			break;
		}
		test_sleep_ms(10);
	}
	printf("#   viewer window 0x%lx is %ux%u+%d+%d, expected %ux%u+%d+%d\n", win, ww, hh, x, y, w + 2 * BORDER,
			h + 2 * BORDER, -BORDER, -BORDER);
	return false;
}

/* Waits for the next event of type on dpy (others are dropped). */
static bool next_event(Display *dpy, int type, XEvent *out, int timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;

	for (;;) {
		while (XPending(dpy)) {
			XNextEvent(dpy, out);
			if (out->type == type) {
				return true;
			}
		}
		if (test_now_ms() >= deadline) {
			return false;
		}
		struct pollfd p = { ConnectionNumber(dpy), POLLIN, 0 };
		poll(&p, 1, 10);
	}
}

/* Sets dpy's screen to w x h with RandR, as a user's xrandr would: a mode of that size on the one output. */
static int randr_set_size(Display *dpy, unsigned w, unsigned h)
{
	Window root = DefaultRootWindow(dpy);
	XRRScreenResources *res = XRRGetScreenResources(dpy, root);
	XRRModeInfo mi;
	RRMode mode = None;
	RROutput out;
	RRCrtc crtc;
	char name[32];
	Status st;

	if (res == NULL || res->noutput < 1 || res->ncrtc < 1) {
		return -1;
	}
	out = res->outputs[0];
	crtc = res->crtcs[0];
	for (int i = 0; i < res->nmode && mode == None; i++) {
		if (res->modes[i].width == w && res->modes[i].height == h) {
			mode = res->modes[i].id;
		}
	}
	if (mode == None) {
		memset(&mi, 0, sizeof(mi));
		snprintf(name, sizeof(name), "test-%ux%u", w, h);
		mi.width = w;
		mi.height = h;
		mi.hTotal = w;
		mi.vTotal = h;
		mi.dotClock = (unsigned long)w * h * 60;
		mi.name = name;
		mi.nameLength = (unsigned)strlen(name);
		mode = XRRCreateMode(dpy, root, &mi);
		XRRAddOutputMode(dpy, out, mode);
	}
	XGrabServer(dpy);
	XRRSetCrtcConfig(dpy, res, crtc, CurrentTime, 0, 0, None, RR_Rotate_0, NULL, 0);
	XRRSetScreenSize(dpy, root, (int)w, (int)h, (int)w / 4, (int)h / 4);
	st = XRRSetCrtcConfig(dpy, res, crtc, CurrentTime, 0, 0, mode, RR_Rotate_0, &out, 1);
	XUngrabServer(dpy);
	XSync(dpy, False);
	XRRFreeScreenResources(res);
	return st == RRSetConfigSuccess ? 0 : -1;
}

/* Starts everything and waits until dom0 shows the GUI qube's screen. */
static int rig_up(struct rig *r, int gw, int gh, int dw, int dh)
{
	if (rig_start(r, gw, gh, dw, dh) != 0 || start_daemon(r) != 0 || start_exporter(r, NULL, NULL) != 0) {
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ cases */

/* (a) Pixels drawn on the GUI qube's display appear at the same root position on dom0's, across the screen. */
static void pixels_at_same_place(void)
{
	struct rig r;
	Window child;
	XSetWindowAttributes a = { .background_pixel = 0x4080c0 };

	R_EQ(&r, rig_up(&r, 640, 480, 640, 480), 0);
	fill_root(r.g, 0, 0, 640, 480, 0x202020);
	fill_root(r.g, 0, 0, 1, 1, 0xff0000);        /* the corners, exactly */
	fill_root(r.g, 639, 0, 1, 1, 0x00ff00);
	fill_root(r.g, 0, 479, 1, 1, 0x0000ff);
	fill_root(r.g, 639, 479, 1, 1, 0xffff00);
	fill_root(r.g, 100, 50, 123, 77, 0x336699);
	/* a window of another client: exported too (damage and capture include the root's children) */
	child = XCreateWindow(r.g, DefaultRootWindow(r.g), 300, 200, 150, 100, 0, CopyFromParent, InputOutput,
			CopyFromParent, CWBackPixel, &a);
	XMapWindow(r.g, child);
	fill(r.g, child, 10, 10, 20, 20, 0xabcdef);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 639, 479, 0xffff00, T_MS));
	R_ASSERT(&r, xrig_wait_pixel(r.d, 315, 215, 0xabcdef, T_MS));
	R_EQ(&r, xrig_root_pixel(r.d, 0, 0), 0xff0000);
	R_EQ(&r, xrig_root_pixel(r.d, 639, 0), 0x00ff00);
	R_EQ(&r, xrig_root_pixel(r.d, 0, 479), 0x0000ff);
	R_EQ(&r, xrig_root_pixel(r.d, 100, 50), 0x336699);
	R_EQ(&r, xrig_root_pixel(r.d, 222, 126), 0x336699);
	R_EQ(&r, xrig_root_pixel(r.d, 223, 126), 0x202020);
	R_EQ(&r, xrig_root_pixel(r.d, 305, 205), 0x4080c0);
	/* the whole screen, pixel for pixel */
	R_ASSERT(&r, wait_same_screen(&r, 640, 480, T_MS));
	R_ASSERT(&r, wait_window_size(&r, 640, 480, T_MS));
	rig_stop(&r);
}

/* (b) A change arrives, and of many quick successive changes the last one is what dom0 shows. */
static void changes_arrive(void)
{
	struct rig r;
	GC gc;
	Window root;

	R_EQ(&r, rig_up(&r, 640, 480, 640, 480), 0);
	fill_root(r.g, 0, 0, 640, 480, 0x000000);
	fill_root(r.g, 200, 150, 40, 30, 0x11aa22);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 210, 160, 0x11aa22, T_MS));
	fill_root(r.g, 500, 400, 10, 10, 0xcc3300);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 505, 405, 0xcc3300, T_MS));
	/* 500 changes without waiting: small rectangles all over the screen, then one last one */
	root = DefaultRootWindow(r.g);
	gc = XCreateGC(r.g, root, 0, NULL);
	for (int i = 0; i < 500; i++) {
		XSetForeground(r.g, gc, 0x010203u * (unsigned)(i % 80) + 0x100000u);
		XFillRectangle(r.g, root, gc, (i * 37) % 620, (i * 53) % 460, 20, 20);
	}
	XFreeGC(r.g, gc);
	fill_root(r.g, 600, 20, 30, 30, 0xfedcba);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 615, 35, 0xfedcba, T_MS));
	R_ASSERT(&r, wait_same_screen(&r, 640, 480, T_MS));
	rig_stop(&r);
}

/* (c) Input injected at dom0 over the exported window reaches an X client of the GUI qube at the right place. */
static void input_reaches_client(void)
{
	struct rig r;
	Window win;
	XEvent ev;
	XSetWindowAttributes a = { .background_pixel = 0x5a5a00 };
	KeyCode key;

	R_EQ(&r, rig_up(&r, 640, 480, 640, 480), 0);
	win = XCreateWindow(r.g, DefaultRootWindow(r.g), 100, 80, 200, 150, 0, CopyFromParent, InputOutput,
			CopyFromParent, CWBackPixel, &a);
	XSelectInput(r.g, win, KeyPressMask | KeyReleaseMask | ButtonPressMask | ButtonReleaseMask |
			PointerMotionMask | EnterWindowMask);
	XMapWindow(r.g, win);
	XSync(r.g, False);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 150, 120, 0x5a5a00, T_MS));
	/* the user at dom0: the pointer to (160, 130) over the exported window, a click, the key "a" */
	XTestFakeMotionEvent(r.d, 0, 160, 130, 0);
	XSync(r.d, False);
	R_ASSERT(&r, next_event(r.g, MotionNotify, &ev, T_MS));
	while (ev.xmotion.x != 60 || ev.xmotion.y != 50) {
		R_ASSERT(&r, next_event(r.g, MotionNotify, &ev, T_MS));
	}
	R_ASSERT(&r, !ev.xmotion.send_event);
	XTestFakeButtonEvent(r.d, 1, True, 0);
	XTestFakeButtonEvent(r.d, 1, False, 0);
	XSync(r.d, False);
	R_ASSERT(&r, next_event(r.g, ButtonPress, &ev, T_MS));
	R_EQ(&r, ev.xbutton.button, 1);
	R_EQ(&r, ev.xbutton.x, 60);
	R_EQ(&r, ev.xbutton.y, 50);
	R_EQ(&r, ev.xbutton.x_root, 160);
	R_EQ(&r, ev.xbutton.y_root, 130);
	R_ASSERT(&r, !ev.xbutton.send_event);
	R_ASSERT(&r, next_event(r.g, ButtonRelease, &ev, T_MS));
	key = XKeysymToKeycode(r.d, XK_a);
	XTestFakeKeyEvent(r.d, key, True, 0);
	XTestFakeKeyEvent(r.d, key, False, 0);
	XSync(r.d, False);
	R_ASSERT(&r, next_event(r.g, KeyPress, &ev, T_MS));
	R_EQ(&r, ev.xkey.keycode, XKeysymToKeycode(r.g, XK_a));
	R_ASSERT(&r, !ev.xkey.send_event);
	R_ASSERT(&r, next_event(r.g, KeyRelease, &ev, T_MS));
	R_EQ(&r, ev.xkey.keycode, XKeysymToKeycode(r.g, XK_a));
	/* a second click elsewhere in the window: coordinates follow */
	XTestFakeMotionEvent(r.d, 0, 290, 220, 0);
	XTestFakeButtonEvent(r.d, 3, True, 0);
	XTestFakeButtonEvent(r.d, 3, False, 0);
	XSync(r.d, False);
	R_ASSERT(&r, next_event(r.g, ButtonPress, &ev, T_MS));
	R_EQ(&r, ev.xbutton.button, 3);
	R_EQ(&r, ev.xbutton.x, 190);
	R_EQ(&r, ev.xbutton.y, 140);
	rig_stop(&r);
}

/* (d) dom0's viewer goes away and comes back: the screen is shown again; and the same when guivm-export restarts. */
static void viewer_and_exporter_restart(void)
{
	struct rig r;
	int status;

	R_EQ(&r, rig_up(&r, 640, 480, 640, 480), 0);
	fill_root(r.g, 0, 0, 640, 480, 0x102030);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 320, 240, 0x102030, T_MS));
	for (int round = 0; round < 2; round++) {
		uint32_t rgb = 0x800000u + (uint32_t)round * 0x10;

		status = xrig_stop(r.daemon, T_MS);
		r.daemon = 0;
		R_EQ(&r, status, 0);
		R_ASSERT(&r, xrig_find_vm_window(r.d, VMNAME, 0, 0) == None);
		fill_root(r.g, 0, 0, 640, 480, rgb); /* changes while nobody watches */
		R_EQ(&r, start_daemon(&r), 0);
		R_ASSERT(&r, xrig_wait_pixel(r.d, 320, 240, rgb, T_MS));
		R_ASSERT(&r, wait_window_size(&r, 640, 480, T_MS));
	}
	/* the GUI qube's side restarts: the viewer reconnects by itself and shows the new exporter's frames */
	status = xrig_stop(r.exporter, T_MS);
	r.exporter = 0;
	R_EQ(&r, status, 0);
	R_ASSERT(&r, log_has(r.elog, "frames sent"));
	fill_root(r.g, 0, 0, 640, 480, 0x00a0a0);
	R_EQ(&r, start_exporter(&r, NULL, NULL), 0);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 320, 240, 0x00a0a0, 3 * T_MS));
	fill_root(r.g, 10, 10, 50, 50, 0xa0a000);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 20, 20, 0xa0a000, T_MS));
	R_ASSERT(&r, wait_same_screen(&r, 640, 480, T_MS));
	rig_stop(&r);
}

/* (e) The GUI qube's display is resized with RandR: the new size reaches dom0, and so do its new pixels. */
static void follows_randr(void)
{
	struct rig r;
	unsigned w, h;

	R_EQ(&r, rig_up(&r, 800, 600, 800, 600), 0);
	fill_root(r.g, 0, 0, 800, 600, 0x303030);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 700, 500, 0x303030, T_MS));
	R_ASSERT(&r, wait_window_size(&r, 800, 600, T_MS));
	R_EQ(&r, randr_set_size(r.g, 640, 480), 0);
	root_size(r.g, &w, &h);
	R_EQ(&r, w, 640);
	R_EQ(&r, h, 480);
	R_ASSERT(&r, wait_window_size(&r, 640, 480, T_MS));
	fill_root(r.g, 600, 440, 40, 40, 0x77aa55);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 639, 479, 0x77aa55, T_MS));
	R_ASSERT(&r, wait_same_screen(&r, 640, 480, T_MS));
	/* and back up to the size Xvfb started with */
	R_EQ(&r, randr_set_size(r.g, 800, 600), 0);
	R_ASSERT(&r, wait_window_size(&r, 800, 600, T_MS));
	fill_root(r.g, 700, 500, 100, 100, 0x5577aa);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 799, 599, 0x5577aa, T_MS));
	R_ASSERT(&r, wait_same_screen(&r, 800, 600, T_MS));
	rig_stop(&r);
}

/*
 * The display is sized to dom0's screen from the handshake's xconf, then to what dom0's CONFIGURE asks
 * (a window manager resizing the viewer's window); a size the server cannot take is refused with a log
 * line, and the size in effect is echoed, so that dom0's window follows the real size.
 */
static void sized_by_dom0(void)
{
	struct rig r;
	Window win;
	unsigned w = 0, h = 0;
	long long deadline;

	R_EQ(&r, rig_up(&r, 1024, 768, 800, 600), 0);
	R_ASSERT(&r, wait_window_size(&r, 800, 600, T_MS));
	root_size(r.g, &w, &h);
	R_EQ(&r, w, 800);
	R_EQ(&r, h, 600);
	fill_root(r.g, 0, 0, 800, 600, 0x224466);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 799, 599, 0x224466, T_MS));
	/* dom0's window manager makes the window 640x480 */
	win = xrig_find_vm_window(r.d, VMNAME, 0, T_MS);
	R_ASSERT(&r, win != None);
	XMoveResizeWindow(r.d, win, -BORDER, -BORDER, 640 + 2 * BORDER, 480 + 2 * BORDER);
	XSync(r.d, False);
	deadline = test_now_ms() + T_MS;
	do {
		test_sleep_ms(10);
		root_size(r.g, &w, &h);
	} while ((w != 640 || h != 480) && test_now_ms() < deadline);
	R_EQ(&r, w, 640);
	R_EQ(&r, h, 480);
	fill_root(r.g, 0, 0, 640, 480, 0x446622);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 639, 479, 0x446622, T_MS));
	/* larger than this Xvfb can ever be: refused, said so, and dom0's window is put back to the real size */
	XMoveResizeWindow(r.d, win, -BORDER, -BORDER, 1200 + 2 * BORDER, 900 + 2 * BORDER);
	XSync(r.d, False);
	R_ASSERT(&r, wait_log(r.elog, "cannot size display", T_MS));
	R_ASSERT(&r, log_has(r.elog, "1200x900"));
	R_ASSERT(&r, wait_window_size(&r, 640, 480, T_MS));
	root_size(r.g, &w, &h);
	R_EQ(&r, w, 640);
	R_EQ(&r, h, 480);
	R_ASSERT(&r, wait_same_screen(&r, 640, 480, T_MS));
	/*
	 * a window manager insisting on that size: the refusal is echoed twice more, then no longer
	 * (no endless resize ping-pong with dom0), and the window keeps what dom0 gave it
	 */
	for (int i = 0; i < 3; i++) {
		XMoveResizeWindow(r.d, win, -BORDER, -BORDER, 1200 + 2 * BORDER, 900 + 2 * BORDER);
		XSync(r.d, False);
		if (i < 2) {
			R_ASSERT(&r, wait_window_size(&r, 640, 480, T_MS));
		}
	}
	R_ASSERT(&r, wait_log(r.elog, "not echoed", T_MS));
	R_ASSERT(&r, wait_window_size(&r, 1200, 900, T_MS));
	/* a size the display can take is taken again */
	XMoveResizeWindow(r.d, win, -BORDER, -BORDER, 800 + 2 * BORDER, 600 + 2 * BORDER);
	XSync(r.d, False);
	R_ASSERT(&r, wait_window_size(&r, 800, 600, T_MS));
	deadline = test_now_ms() + T_MS;
	do {
		test_sleep_ms(10);
		root_size(r.g, &w, &h);
	} while ((w != 800 || h != 600) && test_now_ms() < deadline);
	R_EQ(&r, w, 800);
	R_ASSERT(&r, wait_same_screen(&r, 800, 600, T_MS));
	rig_stop(&r);
}

/*
 * (f) Double buffering: the GUI qube's screen flips between all-red and all-blue as fast as it can for
 * about a second while dom0's screen is sampled: two far-apart points (top and bottom of one column) in
 * one XGetImage each time, a one-pixel-wide strip, so that samples are cheap and many. Both points always
 * show the same colour: dom0 never shows part of one frame and part of another.
 */
static void never_half_drawn(void)
{
	enum { W = 1280, H = 1024, RED = 0xff0000, BLUE = 0x0000ff, X = W / 2, Y0 = 4, Y1 = H - 5 };
	struct rig r;
	pid_t painter;
	int samples = 0, torn = 0, changes = 0, status;
	uint32_t last = 0;

	R_EQ(&r, rig_up(&r, W, H, W, H), 0);
	fill_root(r.g, 0, 0, W, H, RED);
	R_ASSERT(&r, xrig_wait_pixel(r.d, W - 1, H - 1, RED, T_MS));
	fflush(NULL);
	painter = fork();
	R_ASSERT(&r, painter >= 0);
	if (painter == 0) {
		Display *dpy = XOpenDisplay(r.gui.name);
		long long end = test_now_ms() + 1000;

		if (dpy == NULL) {
			_exit(1);
		}
		for (unsigned i = 1; test_now_ms() < end; i++) {
			fill_root(dpy, 0, 0, W, H, i % 2 ? BLUE : RED);
		}
		fill_root(dpy, 0, 0, W, H, BLUE);
		_exit(0);
	}
	while (waitpid(painter, &status, WNOHANG) == 0) {
		XImage *img = XGetImage(r.d, DefaultRootWindow(r.d), X, Y0, 1, Y1 - Y0 + 1, 0xffffff, ZPixmap);
		uint32_t a, b;

		if (img == NULL) {
			continue;
		}
		a = (uint32_t)XGetPixel(img, 0, 0) & 0xffffff;
		b = (uint32_t)XGetPixel(img, 0, Y1 - Y0) & 0xffffff;
		XDestroyImage(img);
		samples++;
		if (a != b || (a != RED && a != BLUE)) {
			if (torn++ < 5) {
				printf("#   sample %d: (%d,%d) is 0x%06x, (%d,%d) is 0x%06x\n", samples, X, Y0, a, X, Y1, b);
			}
		}
		changes += a != last && last != 0;
		last = a;
	}
	R_ASSERT(&r, WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("#   %d samples, %d colour changes seen, %d torn\n", samples, changes, torn);
	R_EQ(&r, torn, 0);
	R_ASSERT(&r, changes >= 3); /* frames really were flowing while we looked */
	R_ASSERT(&r, xrig_wait_pixel(r.d, W / 2, H / 2, BLUE, T_MS));
	R_ASSERT(&r, wait_same_screen(&r, W, H, T_MS));
	rig_stop(&r);
}

/* SIGTERM: exit 0, a last line with the frames and copies, the sockets gone. */
static void sigterm_is_clean(void)
{
	struct rig r;
	char path[PATH_MAX];
	struct stat st;
	int status;

	R_EQ(&r, rig_up(&r, 320, 240, 320, 240), 0);
	fill_root(r.g, 0, 0, 320, 240, 0x406080);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 160, 120, 0x406080, T_MS));
	snprintf(path, sizeof(path), "%s/vchan.1.0.6000.sock", xrig_socket_dir());
	R_EQ(&r, stat(path, &st), 0);
	status = xrig_stop(r.exporter, T_MS);
	r.exporter = 0;
	R_EQ(&r, status, 0);
	R_ASSERT(&r, log_has(r.elog, "socket back-end"));
	R_ASSERT(&r, log_has(r.elog, "frames sent"));
	R_ASSERT(&r, !log_has(r.elog, "frames sent: 0;"));
	R_ASSERT(&r, log_has(r.elog, "rectangles straight into shares"));
	R_ASSERT(&r, stat(path, &st) != 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/gntshr.1.0.sock", xrig_socket_dir());
	R_ASSERT(&r, stat(path, &st) != 0 && errno == ENOENT);
	rig_stop(&r);
}

/* The Xen back-ends (libxenvchan, xengntshr) under the xenshim, against the socket/gntemu viewer. */
static void xen_backend_under_shim(void)
{
	const char *const xen[] = { "--transport=xen", NULL };
	struct rig r = { 0 };

	R_ASSERT(&r, access(shim_path, R_OK) == 0);
	R_EQ(&r, rig_start(&r, 640, 480, 640, 480), 0);
	R_EQ(&r, start_daemon(&r), 0);
	R_EQ(&r, start_exporter(&r, xen, shim_path), 0);
	fill_root(r.g, 0, 0, 640, 480, 0x3c5a78);
	fill_root(r.g, 20, 30, 5, 400, 0xffeedd); /* narrow: the copy path in any case */
	R_ASSERT(&r, xrig_wait_pixel(r.d, 22, 300, 0xffeedd, T_MS));
	R_ASSERT(&r, wait_same_screen(&r, 640, 480, T_MS));
	fill_root(r.g, 0, 200, 640, 40, 0x123456);
	R_ASSERT(&r, xrig_wait_pixel(r.d, 600, 220, 0x123456, T_MS));
	R_ASSERT(&r, log_has(r.elog, "xen back-end"));
	R_ASSERT(&r, log_has(r.elog, "private segment"));
	rig_stop(&r);
}

/* (g) The command line: --help, --version, and one clear line plus status 2 for each mistake. */
static void command_line(void)
{
	static const struct {
		const char *args[4];
		int status;
		const char *says;
	} cases[] = {
		{ { "--help" }, 0, "usage: guivm-export -d" },
		{ { "--version" }, 0, "guivm-export (guivm-stack) " },
		{ { "-d", "0", "--bogus" }, 2, "--bogus" },
		{ { "-d", "0", "-x" }, 2, "-x" },
		{ { "-d", "abc" }, 2, "-d" },
		{ { "-d", "0", "--transport=carrier-pigeon" }, 2, "--transport" },
		{ { "-d", "0", "extra" }, 2, "extra" },
		{ { "--display" }, 2, "--display" },
		{ { "-v" }, 2, "-d DOM0_DOMID is required" },
		{ { "-d", "1" }, 2, "VCHAN_DOMAIN" }, /* own domain (VCHAN_DOMAIN=1) equals the peer */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char log[PATH_MAX], first[512] = "";
		char *argv[6] = { export_path };
		char *env[] = { "VCHAN_DOMAIN=1", NULL };
		FILE *fp;
		pid_t pid;

		for (int a = 0; a < 4 && cases[i].args[a]; a++) {
			argv[a + 1] = (char *)cases[i].args[a];
		}
		snprintf(log, sizeof(log), "%s/cli-%zu.log", test_tmpdir(), i);
		pid = xrig_spawn(argv, env, log);
		T_EQ(xrig_wait(pid, T_MS), cases[i].status);
		fp = fopen(log, "r");
		T_ASSERT(fp != NULL);
		T_ASSERT(fgets(first, sizeof(first), fp) != NULL);
		if (cases[i].status != 0) {
			/* exactly one line */
			char more[64];

			T_ASSERT(fgets(more, sizeof(more), fp) == NULL);
		}
		fclose(fp);
		if (strstr(first, cases[i].says) == NULL) {
			printf("#   %s: expected \"%s\" in \"%s\"\n", cases[i].args[0], cases[i].says, first);
		}
		T_ASSERT(strstr(first, cases[i].says) != NULL);
	}
}

static const struct test_case cases[] = {
	TEST(command_line), TEST(pixels_at_same_place), TEST(changes_arrive), TEST(input_reaches_client),
	TEST(viewer_and_exporter_restart), TEST(follows_randr), TEST(sized_by_dom0), TEST(never_half_drawn),
	TEST(sigterm_is_clean), TEST(xen_backend_under_shim),
};

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *dir;

	signal(SIGPIPE, SIG_IGN);
	if (len <= 0) {
		return 1;
	}
	self[len] = '\0';
	dir = dirname(self);
	snprintf(export_path, sizeof(export_path), "%s/../../bin/guivm-export", dir);
	snprintf(daemon_path, sizeof(daemon_path), "%s/../../bin/gui-daemon", dir);
	snprintf(shim_path, sizeof(shim_path), "%s/../../libxenshim.so", dir);
	if (access(export_path, X_OK) != 0 || access(daemon_path, X_OK) != 0) {
		printf("not ok - setup: guivm-export and gui-daemon beside the test (%s, %s)\n", export_path, daemon_path);
		return 1;
	}
	return test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

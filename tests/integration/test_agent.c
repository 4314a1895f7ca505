/* test_agent.c: gui-agent mirroring an "AppVM" Xvfb with real X applications to gui-daemon on a "GUI qube" Xvfb. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/cursorfont.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "test.h"
#include "xrig.h"

#define SCREEN_W 1024
#define SCREEN_H 768
#define LABEL 0x00ff00u /* the daemon's -c */
#define T_MS 10000      /* deadline of every wait (generous for sanitizer builds) */
#define GUI_DOM 1

static char agent_path[PATH_MAX], daemon_path[PATH_MAX], shim_path[PATH_MAX];
static int next_dom = 20;

/* One rig: the AppVM's display with its agent and applications, the GUI qube's display with its daemon. */
struct rig {
	struct xserver vm, gui;
	Display *vd, *gd;      /* the test's own connections to them */
	int dom;               /* the AppVM's domain id */
	pid_t daemon, agent;
	pid_t apps[8];
	int napps;
	char dlog[PATH_MAX], alog[PATH_MAX], applog[PATH_MAX], clipdir[PATH_MAX];
};

/* ------------------------------------------------------------------ time and files */

static void nap(void)
{
	struct timespec ts = { 0, 10 * 1000000L }; /* between polls of a condition, never instead of one */

	nanosleep(&ts, NULL);
}

/* Reads a small file into buf (NUL-terminated). Returns its length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t r;

	if (f == NULL) {
		buf[0] = '\0';
		return -1;
	}
	r = fread(buf, 1, n - 1, f);
	buf[r] = '\0';
	fclose(f);
	return (ssize_t)r;
}

static bool wait_file(const char *path, const char *want, int ms)
{
	long long deadline = test_now_ms() + ms;
	char buf[4096];

	do {
		if (slurp(path, buf, sizeof(buf)) >= 0 && strcmp(buf, want) == 0) {
			return true;
		}
		nap();
	} while (test_now_ms() < deadline);
	printf("#   %s holds \"%s\", expected \"%s\"\n", path, buf, want);
	return false;
}

static bool file_has(const char *path, const char *needle)
{
	static char buf[1 << 20];

	return slurp(path, buf, sizeof(buf)) >= 0 && strstr(buf, needle) != NULL;
}

static void show_log(const char *who, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f) && n++ < 200) {
		printf("#   %s: %s", who, line);
	}
	if (f) {
		fclose(f);
	}
}

/* ------------------------------------------------------------------ the rig */

static bool rig_start(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->dom = next_dom++;
	snprintf(r->dlog, sizeof(r->dlog), "%s/daemon-%d.log", test_tmpdir(), r->dom);
	snprintf(r->alog, sizeof(r->alog), "%s/agent-%d.log", test_tmpdir(), r->dom);
	snprintf(r->applog, sizeof(r->applog), "%s/apps-%d.log", test_tmpdir(), r->dom);
	snprintf(r->clipdir, sizeof(r->clipdir), "%s/clip-%d", test_tmpdir(), r->dom);
	mkdir(r->clipdir, 0700);
	if (xrig_xvfb_start(&r->vm, SCREEN_W, SCREEN_H, NULL) != 0 ||
			xrig_xvfb_start(&r->gui, SCREEN_W, SCREEN_H, NULL) != 0 ||
			(r->vd = xrig_open(r->vm.name)) == NULL || (r->gd = xrig_open(r->gui.name)) == NULL) {
		test_fail(__FILE__, __LINE__, "cannot start the two X servers");
		return false;
	}
	return true;
}

/* gui-daemon for the AppVM, on the GUI display (extra: more arguments, NULL-terminated, may be NULL). */
static pid_t rig_daemon(struct rig *r, const char *const *extra)
{
	char dom[16], sock[PATH_MAX + 32], disp[64];
	char *argv[24] = { daemon_path, "-f", "-d", dom, "-N", "work", "-c", "0x00ff00", "--clipboard-dir", r->clipdir,
		"--paste-policy-command", "/bin/true" };
	char *env[] = { sock, "VCHAN_DOMAIN=1", disp, NULL };
	int n = 12;

	snprintf(dom, sizeof(dom), "%d", r->dom);
	snprintf(sock, sizeof(sock), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(disp, sizeof(disp), "DISPLAY=%s", r->gui.name);
	for (size_t i = 0; extra && extra[i] && n < 22; i++) {
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	r->daemon = xrig_spawn(argv, env, r->dlog);
	return r->daemon;
}

/* gui-agent on the AppVM display, serving domain 1 (preload: LD_PRELOAD or NULL). */
static pid_t rig_agent(struct rig *r, const char *const *extra, const char *preload)
{
	char dom[32], sock[PATH_MAX + 32], disp[64], pre[PATH_MAX + 16];
	char *argv[16] = { agent_path, "-d", "1", "-v" };
	char *env[6] = { sock, dom, disp, NULL };
	int n = 4;

	snprintf(dom, sizeof(dom), "VCHAN_DOMAIN=%d", r->dom);
	snprintf(sock, sizeof(sock), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(disp, sizeof(disp), "DISPLAY=%s", r->vm.name);
	if (preload) {
		snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", preload);
		env[3] = pre;
		env[4] = "ASAN_OPTIONS=verify_asan_link_order=0"; /* the shim comes before libasan */
		env[5] = NULL;
	}
	for (size_t i = 0; extra && extra[i] && n < 15; i++) {
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	r->agent = xrig_spawn(argv, env, r->alog);
	return r->agent;
}

/* An application on the AppVM display (argv[0] a path). */
static pid_t rig_app(struct rig *r, const char *const *argv)
{
	char disp[64];
	char *env[] = { disp, NULL };
	pid_t pid;

	snprintf(disp, sizeof(disp), "DISPLAY=%s", r->vm.name);
	pid = xrig_spawn((char *const *)argv, env, r->applog);
	if (pid > 0 && r->napps < 8) {
		r->apps[r->napps++] = pid;
	}
	return pid;
}

/*
 * Stops everything by pid. The daemon and the agent must exit 0 on SIGTERM: a
 * crash, or a sanitizer's report (leaks included) at exit, fails the case.
 */
static void rig_stop(struct rig *r)
{
	int daemon_rc = 0, agent_rc = 0;

	for (int i = 0; i < r->napps; i++) {
		xrig_stop(r->apps[i], 2000);
	}
	/* the daemon first: once its agent is gone it spends up to a second in each reconnection attempt */
	if (r->daemon > 0) {
		daemon_rc = xrig_stop(r->daemon, 3000);
	}
	if (r->agent > 0) {
		agent_rc = xrig_stop(r->agent, 3000);
	}
	if (daemon_rc != 0 || agent_rc != 0) {
		test_fail(__FILE__, __LINE__, "exit statuses: gui-daemon %d, gui-agent %d (expected 0)", daemon_rc,
				agent_rc);
	}
	if (!test_ok()) {
		show_log("agent", r->alog);
		show_log("daemon", r->dlog);
		show_log("apps", r->applog);
	}
	if (r->vd) {
		XCloseDisplay(r->vd);
	}
	if (r->gd) {
		XCloseDisplay(r->gd);
	}
	xrig_server_stop(&r->vm);
	xrig_server_stop(&r->gui);
}

/* Each case gets a fresh rig, stopped whatever the body does (its assertions return early). */
#define CASE(name) \
	static void name##_body(struct rig *r); \
	static void name(void) \
	{ \
		struct rig r; \
		if (rig_start(&r)) { \
			name##_body(&r); \
		} \
		rig_stop(&r); \
	} \
	static void name##_body(struct rig *r)

/* ------------------------------------------------------------------ X helpers */

/* The first child of the AppVM's root that match() accepts, polling up to ms; None on timeout. */
static Window vm_child(struct rig *r, bool (*match)(Display *d, Window w, const void *arg), const void *arg, int ms)
{
	long long deadline = test_now_ms() + ms;

	do {
		Window root, parent, *kids = NULL, found = None;
		unsigned n = 0;

		XSync(r->vd, False);
		if (XQueryTree(r->vd, DefaultRootWindow(r->vd), &root, &parent, &kids, &n)) {
			for (unsigned i = 0; i < n && found == None; i++) {
				if (match(r->vd, kids[i], arg)) {
					found = kids[i];
				}
			}
			XFree(kids);
		}
		if (found != None) {
			return found;
		}
		nap();
	} while (test_now_ms() < deadline);
	return None;
}

static bool app_named(Display *d, Window w, const void *res_name)
{
	XClassHint ch = { NULL, NULL };
	bool yes = false;

	if (xrig_viewable(d, w) && XGetClassHint(d, w, &ch)) {
		yes = ch.res_name && strcmp(ch.res_name, res_name) == 0;
		XFree(ch.res_name);
		XFree(ch.res_class);
	}
	return yes;
}

static bool mapped_or_except(Display *d, Window w, const void *except)
{
	XWindowAttributes wa;

	return w != *(const Window *)except && XGetWindowAttributes(d, w, &wa) && wa.map_state == IsViewable &&
	       wa.override_redirect && wa.class == InputOutput;
}

/* A mapped child of the AppVM's root whose WM_CLASS name is res_name, waiting up to ms. */
static Window vm_app_window(struct rig *r, const char *res_name, int ms)
{
	return vm_child(r, app_named, res_name, ms);
}

/* A mapped override-redirect child of the AppVM's root other than except, waiting up to ms. */
static Window vm_or_window(struct rig *r, Window except, int ms)
{
	return vm_child(r, mapped_or_except, &except, ms);
}

/* The daemon's frame for remote window id, viewable, waiting up to ms. */
static Window gui_frame(struct rig *r, Window id, int ms)
{
	long long deadline = test_now_ms() + ms;
	Window f = xrig_find_vm_window(r->gd, "work", (uint32_t)id, ms);

	while (f != None && !xrig_viewable(r->gd, f) && test_now_ms() < deadline) {
		nap();
	}
	return f != None && xrig_viewable(r->gd, f) ? f : None;
}

/* Waits until the daemon has no window for remote id at all. */
static bool wait_destroyed(struct rig *r, Window id, int ms)
{
	long long deadline = test_now_ms() + ms;

	do {
		if (xrig_find_vm_window(r->gd, "work", (uint32_t)id, 0) == None) {
			return true;
		}
		nap();
	} while (test_now_ms() < deadline);
	return false;
}

/* Waits until the daemon's window for remote id is gone or unmapped. */
static bool wait_gone(struct rig *r, Window id, int ms)
{
	long long deadline = test_now_ms() + ms;

	do {
		Window f = xrig_find_vm_window(r->gd, "work", (uint32_t)id, 0);

		if (f == None || !xrig_viewable(r->gd, f)) {
			return true;
		}
		nap();
	} while (test_now_ms() < deadline);
	return false;
}

/*
 * Waits until the GUI display shows, at the same root position, exactly the
 * pixels of the AppVM window vw's inside (XGetImage of the window itself).
 */
static bool wait_same_pixels(struct rig *r, Window vw, int ms)
{
	long long deadline = test_now_ms() + ms;
	int x = 0, y = 0, bx = -1, by = -1;
	unsigned long want = 0, got = 0;

	do {
		XWindowAttributes wa;
		Window child;
		XImage *a = NULL, *b = NULL;
		bool same = false;

		XSync(r->gd, False);
		if (XGetWindowAttributes(r->vd, vw, &wa) &&
				XTranslateCoordinates(r->vd, vw, DefaultRootWindow(r->vd), 0, 0, &x, &y, &child) &&
				x >= 0 && y >= 0 && x + wa.width <= SCREEN_W && y + wa.height <= SCREEN_H) {
			a = XGetImage(r->vd, vw, 0, 0, (unsigned)wa.width, (unsigned)wa.height, AllPlanes, ZPixmap);
			b = XGetImage(r->gd, DefaultRootWindow(r->gd), x, y, (unsigned)wa.width, (unsigned)wa.height,
					AllPlanes, ZPixmap);
		}
		if (a && b) {
			same = true;
			for (int j = 0; j < wa.height && same; j++) {
				for (int i = 0; i < wa.width && same; i++) {
					want = XGetPixel(a, i, j) & 0xffffff;
					got = XGetPixel(b, i, j) & 0xffffff;
					if (want != got) {
						same = false;
						bx = x + i;
						by = y + j;
					}
				}
			}
		}
		if (a) {
			XDestroyImage(a);
		}
		if (b) {
			XDestroyImage(b);
		}
		if (same) {
			return true;
		}
		nap();
	} while (test_now_ms() < deadline);
	printf("#   window 0x%lx at %d,%d: GUI pixel %d,%d is 0x%06lx, the AppVM's 0x%06lx\n", vw, x, y, bx, by, got,
			want);
	return false;
}

/* The pixel at (x, y) of the AppVM's root. */
static uint32_t vm_pixel(struct rig *r, int x, int y)
{
	return xrig_root_pixel(r->vd, x, y);
}

/* A plain window drawn with Xlib in the AppVM (border 0), mapped, with a name and WM_DELETE_WINDOW. */
static Window vm_window(struct rig *r, int x, int y, unsigned w, unsigned h, unsigned long bg, const char *name,
		bool override_redirect)
{
	XSetWindowAttributes a = { .background_pixel = bg, .override_redirect = override_redirect };
	Window win = XCreateWindow(r->vd, DefaultRootWindow(r->vd), x, y, w, h, 0, CopyFromParent, InputOutput,
			CopyFromParent, CWBackPixel | CWOverrideRedirect, &a);
	Atom del = XInternAtom(r->vd, "WM_DELETE_WINDOW", False);
	XClassHint ch = { (char *)"testwin", (char *)"TestWin" };

	XStoreName(r->vd, win, name);
	XSetClassHint(r->vd, win, &ch);
	XSetWMProtocols(r->vd, win, &del, 1);
	XMapWindow(r->vd, win);
	XSync(r->vd, False);
	return win;
}

static void fill(Display *d, Window w, int x, int y, unsigned width, unsigned height, unsigned long rgb)
{
	GC gc = XCreateGC(d, w, 0, NULL);

	XSetForeground(d, gc, rgb);
	XFillRectangle(d, w, gc, x, y, width, height);
	XFreeGC(d, gc);
	XSync(d, False);
}

static void gui_key(struct rig *r, KeySym ks, bool down)
{
	XTestFakeKeyEvent(r->gd, XKeysymToKeycode(r->gd, ks), down, 0);
}

static void gui_type(struct rig *r, const char *s)
{
	for (; *s; s++) {
		char name[2] = { *s, 0 };
		KeySym ks = *s == ' ' ? XK_space : *s == '\n' ? XK_Return : XStringToKeysym(name);

		gui_key(r, ks, true);
		gui_key(r, ks, false);
	}
	XSync(r->gd, False);
}

/* Sends WM_DELETE_WINDOW to the daemon's frame, as a window manager on the GUI display would. */
static void gui_close(struct rig *r, Window frame)
{
	XEvent ev;

	memset(&ev, 0, sizeof(ev));
	ev.xclient.type = ClientMessage;
	ev.xclient.window = frame;
	ev.xclient.message_type = XInternAtom(r->gd, "WM_PROTOCOLS", False);
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = (long)XInternAtom(r->gd, "WM_DELETE_WINDOW", False);
	ev.xclient.data.l[1] = CurrentTime;
	XSendEvent(r->gd, frame, False, NoEventMask, &ev);
	XSync(r->gd, False);
}

static bool sock_exists(const char *name)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", xrig_socket_dir(), name);
	return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------ cases */

/*
 * (a) An application started before the agent (picked up by XQueryTree) shows on the
 * GUI display at the same position, inside the label-coloured border, with exactly
 * the AppVM's pixels; SIGTERM ends the agent cleanly.
 */
CASE(xlogo_same_pixels_and_border)
{
	const char *const xlogo[] = { "/usr/bin/xlogo", "-geometry", "200x150+50+60", NULL };
	char name[64], line[128];
	Window vw, f;
	int x, y;
	unsigned w, h;

	T_ASSERT(rig_app(r, xlogo) > 0);
	vw = vm_app_window(r, "xlogo", T_MS);
	T_ASSERT(vw != None);
	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	f = gui_frame(r, vw, T_MS);
	T_ASSERT(f != None);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	/* the mirrored box is xlogo's outer box (its 1-px X border included) at 50,60 */
	T_EQ(xrig_geometry(r->gd, f, &x, &y, &w, &h), 0);
	T_EQ(x, 48);
	T_EQ(y, 58);
	T_EQ(w, 202 + 4);
	T_EQ(h, 152 + 4);
	T_EQ(xrig_root_pixel(r->gd, 50, 100), vm_pixel(r, 50, 100)); /* xlogo's own border */
	T_EQ(xrig_root_pixel(r->gd, 49, 100), LABEL);
	T_EQ(xrig_root_pixel(r->gd, 48, 100), LABEL);
	T_EQ(xrig_root_pixel(r->gd, 252, 100), LABEL);
	T_EQ(xrig_root_pixel(r->gd, 253, 100), LABEL);
	T_EQ(xrig_root_pixel(r->gd, 150, 58), LABEL);
	T_EQ(xrig_root_pixel(r->gd, 150, 213), LABEL);
	T_ASSERT(xrig_root_pixel(r->gd, 47, 100) != LABEL);
	/* SIGTERM: exit 0, the sockets removed, one summary line */
	T_EQ(xrig_stop(r->agent, 5000), 0);
	r->agent = 0;
	snprintf(name, sizeof(name), "vchan.%d.1.6000.sock", r->dom);
	T_ASSERT(!sock_exists(name));
	snprintf(name, sizeof(name), "gntshr.%d.1.sock", r->dom);
	T_ASSERT(!sock_exists(name));
	T_ASSERT(file_has(r->alog, "exiting: windows mirrored: 1, frames sent: "));
	snprintf(line, sizeof(line), "bytes copied by the agent: 0 ");
	T_ASSERT(file_has(r->alog, line)); /* zero copy: the X server wrote every frame into the grants */
	T_ASSERT(file_has(r->alog, "not a Qubes agent"));
}

/* (b) Drawing in the AppVM window arrives; the application resizing and moving it too. */
CASE(redraw_resize_and_move_arrive)
{
	Window vw, f;
	int x, y;
	unsigned w, h;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	vw = vm_window(r, 300, 200, 160, 120, 0x3366cc, "drawn", false);
	f = gui_frame(r, vw, T_MS);
	T_ASSERT(f != None);
	T_ASSERT(xrig_wait_pixel(r->gd, 380, 260, 0x3366cc, T_MS));
	fill(r->vd, vw, 20, 30, 40, 25, 0xcc3311);
	T_ASSERT(xrig_wait_pixel(r->gd, 300 + 20, 200 + 30, 0xcc3311, T_MS));
	T_ASSERT(xrig_wait_pixel(r->gd, 300 + 59, 200 + 54, 0xcc3311, T_MS));
	T_EQ(xrig_root_pixel(r->gd, 300 + 60, 200 + 54), 0x3366cc);
	T_EQ(xrig_root_pixel(r->gd, 300 + 19, 200 + 30), 0x3366cc);
	/* many small changes in a row: the last state arrives */
	for (int i = 0; i < 30; i++) {
		fill(r->vd, vw, 5 + i * 4, 100, 3, 3, 0x101010u * (unsigned)(i % 15 + 1));
	}
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	/* the application resizes its window: a new pixmap, a new frame size */
	XResizeWindow(r->vd, vw, 240, 150);
	XSync(r->vd, False);
	T_ASSERT(xrig_wait_pixel(r->gd, 300 + 235, 200 + 145, 0x3366cc, T_MS));
	T_EQ(xrig_geometry(r->gd, f, &x, &y, &w, &h), 0);
	T_EQ(w, 244);
	T_EQ(h, 154);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	/* (the resize cleared it: ForgetGravity) */
	fill(r->vd, vw, 20, 30, 40, 25, 0xcc3311);
	XMoveWindow(r->vd, vw, 500, 400);
	XSync(r->vd, False);
	T_ASSERT(xrig_wait_pixel(r->gd, 520, 430, 0xcc3311, T_MS));
	T_EQ(xrig_root_pixel(r->gd, 498, 450), LABEL);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
}

/* The GUI qube's user moves the frame: the AppVM window follows (configure handshake). */
CASE(configure_from_the_daemon)
{
	Window vw, f;
	XWindowAttributes wa;
	long long deadline;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	vw = vm_window(r, 100, 100, 120, 90, 0x227744, "moved", false);
	f = gui_frame(r, vw, T_MS);
	T_ASSERT(f != None);
	T_ASSERT(xrig_wait_pixel(r->gd, 150, 150, 0x227744, T_MS));
	/* as a window manager would: frame outer corner to 398,298 and 184x134 (content 180x130 at 400,300) */
	XMoveResizeWindow(r->gd, f, 398, 298, 184, 134);
	XSync(r->gd, False);
	deadline = test_now_ms() + T_MS;
	do {
		XSync(r->vd, False);
		if (XGetWindowAttributes(r->vd, vw, &wa) && wa.x == 400 && wa.y == 300 && wa.width == 180 &&
				wa.height == 130) {
			break;
		}
		nap();
	} while (test_now_ms() < deadline);
	T_EQ(wa.x, 400);
	T_EQ(wa.y, 300);
	T_EQ(wa.width, 180);
	T_EQ(wa.height, 130);
	T_ASSERT(xrig_wait_pixel(r->gd, 400 + 175, 300 + 125, 0x227744, T_MS));
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
}

/* (c) Text typed at the GUI display (XTEST over the mirrored window) reaches an xterm. */
CASE(typing_reaches_xterm)
{
	char out[PATH_MAX], cmd[PATH_MAX + 32];
	const char *const xterm[] = { "/usr/bin/xterm", "-geometry", "60x10+100+100", "-e", "sh", "-c", cmd, NULL };
	Window vw;
	XWindowAttributes wa;

	snprintf(out, sizeof(out), "%s/typed-%d.txt", test_tmpdir(), r->dom);
	snprintf(cmd, sizeof(cmd), "exec cat > '%s'", out);
	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	T_ASSERT(rig_app(r, xterm) > 0);
	vw = vm_app_window(r, "xterm", T_MS);
	T_ASSERT(vw != None);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	T_ASSERT(XGetWindowAttributes(r->vd, vw, &wa));
	/* the pointer goes over the mirror (the daemon forwards the crossing), then the keys */
	XTestFakeMotionEvent(r->gd, 0, wa.x + wa.width / 2, wa.y + wa.height / 2, 0);
	gui_type(r, "hello from the gui qube\n");
	T_ASSERT(wait_file(out, "hello from the gui qube\n", T_MS));
	/* the xterm shows it, and so does the mirror */
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
}

/* (d) xterm's Ctrl+left-click menu (override-redirect) shows with its border, inside the screen. */
CASE(override_redirect_menu)
{
	const char *const xterm[] = { "/usr/bin/xterm", "-geometry", "40x6+700+560", NULL };
	Window vw, menu, f;
	XWindowAttributes wa;
	int x, y;
	unsigned w, h;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	T_ASSERT(rig_app(r, xterm) > 0);
	vw = vm_app_window(r, "xterm", T_MS);
	T_ASSERT(vw != None);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	T_ASSERT(XGetWindowAttributes(r->vd, vw, &wa));
	XTestFakeMotionEvent(r->gd, 0, wa.x + wa.width - 20, wa.y + wa.height - 10, 0);
	gui_key(r, XK_Control_L, true);
	XTestFakeButtonEvent(r->gd, 1, True, 0);
	XSync(r->gd, False);
	menu = vm_or_window(r, vw, T_MS);
	T_ASSERT(menu != None);
	f = gui_frame(r, menu, T_MS);
	T_ASSERT(f != None);
	T_ASSERT(wait_same_pixels(r, menu, T_MS));
	T_EQ(xrig_geometry(r->gd, f, &x, &y, &w, &h), 0);
	T_ASSERT(x >= 0 && y >= 0 && x + (int)w <= SCREEN_W && y + (int)h <= SCREEN_H);
	T_EQ(xrig_root_pixel(r->gd, x, y + (int)h / 2), LABEL);
	T_EQ(xrig_root_pixel(r->gd, x + 1, y + (int)h / 2), LABEL);
	T_EQ(xrig_root_pixel(r->gd, x + (int)w - 1, y + (int)h / 2), LABEL);
	T_EQ(xrig_root_pixel(r->gd, x + (int)w / 2, y + (int)h - 1), LABEL);
	/* away from the menu, then release: nothing chosen, the menu goes on both displays */
	XTestFakeMotionEvent(r->gd, 0, 5, 5, 0);
	XTestFakeButtonEvent(r->gd, 1, False, 0);
	gui_key(r, XK_Control_L, false);
	XSync(r->gd, False);
	T_ASSERT(wait_gone(r, menu, T_MS));
}

/* (d) An override-redirect window partly off the screen is kept on it, and the AppVM agrees (echo). */
CASE(override_redirect_kept_on_screen)
{
	Window vw, f;
	XWindowAttributes wa;
	long long deadline;
	int x, y;
	unsigned w, h;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	vw = vm_window(r, SCREEN_W - 60, 200, 150, 80, 0x884499, "popup", true);
	f = gui_frame(r, vw, T_MS);
	T_ASSERT(f != None);
	/* the daemon moves it (with its 2-px border) inside the screen and tells the agent */
	deadline = test_now_ms() + T_MS;
	do {
		XSync(r->vd, False);
		if (XGetWindowAttributes(r->vd, vw, &wa) && wa.x == SCREEN_W - 2 - 150) {
			break;
		}
		nap();
	} while (test_now_ms() < deadline);
	T_EQ(wa.x, SCREEN_W - 2 - 150);
	T_EQ(wa.y, 200);
	T_ASSERT(xrig_wait_pixel(r->gd, SCREEN_W - 3, 240, 0x884499, T_MS));
	T_EQ(xrig_geometry(r->gd, f, &x, &y, &w, &h), 0);
	T_EQ(x + (int)w, SCREEN_W);
	T_EQ(xrig_root_pixel(r->gd, SCREEN_W - 1, 240), LABEL);
	T_EQ(xrig_root_pixel(r->gd, SCREEN_W - 2 - 150 - 1, 240), LABEL);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	/* it settled: no configure ping-pong (the agent still answers promptly) */
	fill(r->vd, vw, 0, 0, 10, 10, 0x111111);
	T_ASSERT(xrig_wait_pixel(r->gd, SCREEN_W - 152 + 5, 205, 0x111111, T_MS));
}

/* (e) Closing the mirror at the GUI display closes the application. */
CASE(close_ends_application)
{
	const char *const xlogo[] = { "/usr/bin/xlogo", "-geometry", "120x100+400+300", NULL };
	pid_t pid;
	Window vw, f;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	pid = rig_app(r, xlogo);
	T_ASSERT(pid > 0);
	vw = vm_app_window(r, "xlogo", T_MS);
	T_ASSERT(vw != None);
	f = gui_frame(r, vw, T_MS);
	T_ASSERT(f != None);
	gui_close(r, f);
	T_EQ(xrig_wait(pid, T_MS), 0); /* it quit by itself (WM_DELETE_WINDOW), not killed */
	r->napps = 0;
	T_ASSERT(wait_destroyed(r, vw, T_MS));
}

/* (f) Title and class arrive (class prefixed by the daemon); titles follow changes; long UTF-8 titles are cut. */
CASE(title_class_and_hints)
{
	const char *const xlogo[] = { "/usr/bin/xlogo", "-geometry", "100x80+20+20", NULL };
	char conf[PATH_MAX], s[512], want[256];
	const char *const extra[] = { "-C", conf, NULL };
	Window vw, f, tw, tf;
	XClassHint ch;
	XSizeHints sh;
	long supplied;
	FILE *fp;
	long long deadline;
	char title[400] = "";

	snprintf(conf, sizeof(conf), "%s/guid-%d.conf", test_tmpdir(), r->dom);
	fp = fopen(conf, "w");
	T_ASSERT(fp != NULL);
	fputs("global: { allow_utf8_titles = true; }\n", fp);
	fclose(fp);
	T_ASSERT(rig_daemon(r, extra) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	T_ASSERT(rig_app(r, xlogo) > 0);
	vw = vm_app_window(r, "xlogo", T_MS);
	T_ASSERT(vw != None);
	f = gui_frame(r, vw, T_MS);
	T_ASSERT(f != None);
	T_EQ(xrig_get_string(r->gd, f, "WM_NAME", s, sizeof(s)), 0);
	T_STR(s, "xlogo");
	T_ASSERT(XGetClassHint(r->gd, f, &ch));
	T_STR(ch.res_class, "work:XLogo");
	T_STR(ch.res_name, "work:xlogo");
	XFree(ch.res_class);
	XFree(ch.res_name);
	/* a window with size hints, a UTF-8 title that is changed, then one too long for the protocol */
	tw = XCreateSimpleWindow(r->vd, DefaultRootWindow(r->vd), 300, 300, 100, 60, 0, 0, 0x445566);
	sh.flags = PMinSize;
	sh.min_width = 50;
	sh.min_height = 40;
	XSetWMNormalHints(r->vd, tw, &sh);
	XChangeProperty(r->vd, tw, XInternAtom(r->vd, "_NET_WM_NAME", False), XInternAtom(r->vd, "UTF8_STRING", False),
			8, PropModeReplace, (const unsigned char *)"caf\xc3\xa9 one", 9);
	XMapWindow(r->vd, tw);
	XSync(r->vd, False);
	tf = gui_frame(r, tw, T_MS);
	T_ASSERT(tf != None);
	deadline = test_now_ms() + T_MS;
	while (test_now_ms() < deadline && (xrig_get_string(r->gd, tf, "_NET_WM_NAME", s, sizeof(s)) != 0 ||
					      strcmp(s, "caf\xc3\xa9 one") != 0)) {
		nap();
	}
	T_STR(s, "caf\xc3\xa9 one");
	T_ASSERT(XGetWMNormalHints(r->gd, tf, &sh, &supplied));
	T_ASSERT(sh.flags & PMinSize);
	T_EQ(sh.min_width, 50 + 4); /* the daemon's frame: plus its border on both sides */
	T_EQ(sh.min_height, 40 + 4);
	/* 100 x "é" (200 bytes): cut on a character boundary at 124 bytes or less, then "…" */
	for (int i = 0; i < 100; i++) {
		strcat(title, "\xc3\xa9");
	}
	XChangeProperty(r->vd, tw, XInternAtom(r->vd, "_NET_WM_NAME", False), XInternAtom(r->vd, "UTF8_STRING", False),
			8, PropModeReplace, (const unsigned char *)title, (int)strlen(title));
	XSync(r->vd, False);
	memcpy(want, title, 124);
	strcpy(want + 124, "\xe2\x80\xa6");
	deadline = test_now_ms() + T_MS;
	while (test_now_ms() < deadline &&
			(xrig_get_string(r->gd, tf, "_NET_WM_NAME", s, sizeof(s)) != 0 || strcmp(s, want) != 0)) {
		nap();
	}
	T_STR(s, want);
	T_EQ(strlen(s), 127);
	/* a plain WM_NAME change (Latin-1 STRING) arrives as UTF-8 */
	XDeleteProperty(r->vd, tw, XInternAtom(r->vd, "_NET_WM_NAME", False));
	XStoreName(r->vd, tw, "na\xefve");
	XSync(r->vd, False);
	deadline = test_now_ms() + T_MS;
	while (test_now_ms() < deadline && (xrig_get_string(r->gd, tf, "_NET_WM_NAME", s, sizeof(s)) != 0 ||
					      strcmp(s, "na\xc3\xafve") != 0)) {
		nap();
	}
	T_STR(s, "na\xc3\xafve");
}

/* (g) The daemon restarts: the agent replays every window, and they reappear with their pixels. */
CASE(daemon_restart_replays)
{
	const char *const xlogo[] = { "/usr/bin/xlogo", "-geometry", "150x120+600+100", NULL };
	Window vw, hidden;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	T_ASSERT(rig_app(r, xlogo) > 0);
	vw = vm_app_window(r, "xlogo", T_MS);
	T_ASSERT(vw != None);
	hidden = XCreateSimpleWindow(r->vd, DefaultRootWindow(r->vd), 10, 10, 30, 30, 0, 0, 0x123456);
	XStoreName(r->vd, hidden, "unmapped");
	XSync(r->vd, False);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	for (int round = 0; round < 2; round++) {
		T_EQ(xrig_stop(r->daemon, 5000), 0);
		r->daemon = 0;
		T_ASSERT(xrig_find_vm_window(r->gd, "work", (uint32_t)vw, 0) == None);
		/* the screen is empty now; the next daemon gets everything again */
		T_ASSERT(xrig_wait_pixel(r->gd, 675, 160, 0x000000, T_MS));
		T_ASSERT(rig_daemon(r, NULL) > 0);
		T_ASSERT(gui_frame(r, vw, T_MS) != None);
		T_ASSERT(wait_same_pixels(r, vw, T_MS));
		T_ASSERT(xrig_find_vm_window(r->gd, "work", (uint32_t)hidden, T_MS) != None); /* created, not mapped */
		T_ASSERT(!xrig_viewable(r->gd, xrig_find_vm_window(r->gd, "work", (uint32_t)hidden, 0)));
	}
	/* and it still follows changes */
	XMoveWindow(r->vd, vw, 610, 110);
	XSync(r->vd, False);
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	T_EQ(xrig_wait(r->agent, 0), -1); /* alive */
}

/* (h) --help says what it is not; bad options end with status 2 and one line naming them. */
static void command_line(void)
{
	char log[PATH_MAX], buf[8192];
	const char *cases[][3] = {
		{ "--bogus", NULL, "--bogus" },
		{ "-x", NULL, "-x" },
		{ "--transport=carrier-pigeon", "-d1", "carrier-pigeon" },
		{ "-d", "abc", "abc" },
		{ "-v", NULL, "-d" }, /* no -d */
	};
	pid_t pid;

	snprintf(log, sizeof(log), "%s/cli-help.log", test_tmpdir());
	pid = xrig_spawn((char *const[]){ agent_path, "--help", NULL }, NULL, log);
	T_EQ(xrig_wait(pid, T_MS), 0);
	T_ASSERT(slurp(log, buf, sizeof(buf)) > 0);
	T_ASSERT(strstr(buf, "not a replacement for the Qubes GUI") != NULL);
	T_ASSERT(strstr(buf, "development and tests") != NULL);
	T_ASSERT(strstr(buf, "--transport=xen|socket|auto") != NULL);
	snprintf(log, sizeof(log), "%s/cli-version.log", test_tmpdir());
	pid = xrig_spawn((char *const[]){ agent_path, "--version", NULL }, NULL, log);
	T_EQ(xrig_wait(pid, T_MS), 0);
	T_ASSERT(slurp(log, buf, sizeof(buf)) > 0 && strstr(buf, "1.8") != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *nl;

		snprintf(log, sizeof(log), "%s/cli-bad-%zu.log", test_tmpdir(), i);
		pid = xrig_spawn((char *const[]){ agent_path, (char *)cases[i][0], (char *)cases[i][1], NULL }, NULL,
				log);
		T_EQ(xrig_wait(pid, T_MS), 2);
		T_ASSERT(slurp(log, buf, sizeof(buf)) > 0);
		nl = strchr(buf, '\n');
		T_ASSERT(nl != NULL && nl[1] == '\0'); /* exactly one line */
		if (strstr(buf, cases[i][2]) == NULL) {
			test_fail(__FILE__, __LINE__, "\"%s\" does not name %s", buf, cases[i][2]);
			return;
		}
	}
}

/* Serves SelectionRequests for the test's own CLIPBOARD on the AppVM display. */
static void serve_selection(Display *d, const char *text)
{
	while (XPending(d) > 0) {
		XEvent ev, out;
		XSelectionRequestEvent *q = &ev.xselectionrequest;

		XNextEvent(d, &ev);
		if (ev.type != SelectionRequest) {
			continue;
		}
		memset(&out, 0, sizeof(out));
		out.xselection.type = SelectionNotify;
		out.xselection.requestor = q->requestor;
		out.xselection.selection = q->selection;
		out.xselection.target = q->target;
		out.xselection.time = q->time;
		if (q->target == XInternAtom(d, "UTF8_STRING", False)) {
			XChangeProperty(d, q->requestor, q->property, q->target, 8, PropModeReplace,
					(const unsigned char *)text, (int)strlen(text));
			out.xselection.property = q->property;
		}
		XSendEvent(d, q->requestor, False, NoEventMask, &out);
		XFlush(d);
	}
}

/* Reads the AppVM's CLIPBOARD as UTF8_STRING into buf (through the test's window me). 0 or -1. */
static int read_clipboard(Display *d, Window me, char *buf, size_t n)
{
	Atom clip = XInternAtom(d, "CLIPBOARD", False), utf8 = XInternAtom(d, "UTF8_STRING", False);
	Atom prop = XInternAtom(d, "TEST_CLIP", False), type;
	long long deadline = test_now_ms() + T_MS;
	int format;
	unsigned long items, after;
	unsigned char *data = NULL;

	XConvertSelection(d, clip, utf8, prop, me, CurrentTime);
	XFlush(d);
	for (;;) {
		XEvent ev;

		if (XCheckTypedWindowEvent(d, me, SelectionNotify, &ev)) {
			if (ev.xselection.property == None) {
				return -1;
			}
			break;
		}
		if (test_now_ms() > deadline) {
			return -1;
		}
		nap();
	}
	if (XGetWindowProperty(d, me, prop, 0, (long)n / 4, True, AnyPropertyType, &type, &format, &items, &after,
			    &data) != Success || data == NULL || format != 8 || items >= n) {
		if (data) {
			XFree(data);
		}
		return -1;
	}
	memcpy(buf, data, items);
	buf[items] = '\0';
	XFree(data);
	return 0;
}

/* The clipboard both ways: the secure copy reads the AppVM's CLIPBOARD, the secure paste makes the agent own it. */
CASE(clipboard_both_ways)
{
	const char *text = "copied in the VM \xe2\x9c\x93";
	Atom clip = XInternAtom(r->vd, "CLIPBOARD", False);
	Window vw, owner;
	char path[PATH_MAX + 32], buf[256];
	long long deadline;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	vw = vm_window(r, 200, 200, 200, 100, 0x336633, "clip", false);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(xrig_wait_pixel(r->gd, 250, 250, 0x336633, T_MS));
	owner = XCreateSimpleWindow(r->vd, DefaultRootWindow(r->vd), 0, 0, 1, 1, 0, 0, 0);
	XSetSelectionOwner(r->vd, clip, owner, CurrentTime);
	XSync(r->vd, False);
	T_ASSERT(XGetSelectionOwner(r->vd, clip) == owner);
	/* Ctrl+Shift+c over the mirror: the daemon asks the agent, which asks the AppVM's owner */
	XTestFakeMotionEvent(r->gd, 0, 260, 240, 0);
	gui_key(r, XK_Control_L, true);
	gui_key(r, XK_Shift_L, true);
	gui_key(r, XK_c, true);
	gui_key(r, XK_c, false);
	gui_key(r, XK_Shift_L, false);
	gui_key(r, XK_Control_L, false);
	XSync(r->gd, False);
	snprintf(path, sizeof(path), "%s/qubes-clipboard.bin", r->clipdir);
	deadline = test_now_ms() + T_MS;
	do {
		serve_selection(r->vd, text);
		if (slurp(path, buf, sizeof(buf)) > 0 && strcmp(buf, text) == 0) {
			break;
		}
		nap();
	} while (test_now_ms() < deadline);
	T_STR(buf, text);
	/* Ctrl+Shift+v: the agent becomes the owner of the AppVM's CLIPBOARD with those bytes */
	gui_key(r, XK_Control_L, true);
	gui_key(r, XK_Shift_L, true);
	gui_key(r, XK_v, true);
	gui_key(r, XK_v, false);
	gui_key(r, XK_Shift_L, false);
	gui_key(r, XK_Control_L, false);
	XSync(r->gd, False);
	deadline = test_now_ms() + T_MS;
	do {
		serve_selection(r->vd, text);
		XSync(r->vd, False);
		if (XGetSelectionOwner(r->vd, clip) != owner && XGetSelectionOwner(r->vd, clip) != None) {
			break;
		}
		nap();
	} while (test_now_ms() < deadline);
	T_ASSERT(XGetSelectionOwner(r->vd, clip) != owner);
	T_EQ(read_clipboard(r->vd, owner, buf, sizeof(buf)), 0);
	T_STR(buf, text);
}

/* A window manager reparents a mirrored window into its frame: the frame is mirrored, with the client's title. */
CASE(reparented_window_follows_client)
{
	Window c, frame, f;
	long wm_state[2] = { NormalState, None };
	long long deadline;
	char s[256];
	bool got_delete = false;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	c = vm_window(r, 100, 100, 120, 80, 0x2255aa, "client-title", false);
	T_ASSERT(gui_frame(r, c, T_MS) != None);
	/* the test plays the window manager */
	frame = XCreateSimpleWindow(r->vd, DefaultRootWindow(r->vd), 300, 300, 140, 110, 0, 0, 0x884422);
	XReparentWindow(r->vd, c, frame, 10, 20);
	XChangeProperty(r->vd, c, XInternAtom(r->vd, "WM_STATE", False), XInternAtom(r->vd, "WM_STATE", False), 32,
			PropModeReplace, (unsigned char *)wm_state, 2);
	XMapWindow(r->vd, c);
	XMapWindow(r->vd, frame);
	XSync(r->vd, False);
	f = gui_frame(r, frame, T_MS);
	T_ASSERT(f != None);
	T_ASSERT(wait_destroyed(r, c, T_MS)); /* no longer a top-level */
	T_ASSERT(xrig_wait_pixel(r->gd, 305, 305, 0x884422, T_MS));
	T_ASSERT(xrig_wait_pixel(r->gd, 300 + 10 + 5, 300 + 20 + 5, 0x2255aa, T_MS));
	deadline = test_now_ms() + T_MS;
	while (test_now_ms() < deadline &&
			(xrig_get_string(r->gd, f, "WM_NAME", s, sizeof(s)) != 0 || strcmp(s, "client-title") != 0)) {
		nap();
	}
	T_STR(s, "client-title");
	/* closing the frame's mirror asks the client, not the frame */
	gui_close(r, f);
	deadline = test_now_ms() + T_MS;
	while (!got_delete && test_now_ms() < deadline) {
		XEvent ev;

		XSync(r->vd, False);
		while (XCheckTypedWindowEvent(r->vd, c, ClientMessage, &ev)) {
			got_delete |= (Atom)ev.xclient.data.l[0] == XInternAtom(r->vd, "WM_DELETE_WINDOW", False);
		}
		nap();
	}
	T_ASSERT(got_delete);
}

/*
 * Windows appear and vanish faster than the agent can look at them (BadWindow,
 * BadDrawable, BadMatch all around): the agent and the daemon survive, and what
 * is left is shown right.
 */
CASE(windows_vanish_at_any_time)
{
	Window last = None;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	last = vm_window(r, 10, 10, 50, 50, 0x777777, "first", false);
	T_ASSERT(gui_frame(r, last, T_MS) != None);
	for (int i = 0; i < 60; i++) {
		Window w = XCreateSimpleWindow(r->vd, DefaultRootWindow(r->vd), 20 + i * 5, 40 + i * 3, 80, 60, 0, 0,
				0x010101u * (unsigned)(i + 40));

		XMapWindow(r->vd, w);
		fill(r->vd, w, 0, 0, 20, 20, 0xff0000);
		if (i % 3 == 0) {
			XResizeWindow(r->vd, w, 90, 70);
		}
		if (i % 2 == 0) {
			XFlush(r->vd);
			nap();
		}
		XDestroyWindow(r->vd, w);
	}
	XDestroyWindow(r->vd, last);
	last = vm_window(r, 600, 500, 100, 80, 0x4488cc, "last", false);
	T_ASSERT(gui_frame(r, last, T_MS) != None);
	T_ASSERT(wait_same_pixels(r, last, T_MS));
	T_EQ(xrig_wait(r->agent, 0), -1);  /* both alive */
	T_EQ(xrig_wait(r->daemon, 0), -1);
	T_ASSERT(!file_has(r->dlog, "violation"));
}

/* The Xen back-ends (under the xenshim): shares cannot go to the X server, so frames are copied; same result. */
CASE(xen_transport_copies_frames)
{
	const char *const extra[] = { "--transport=xen", NULL };
	Window vw;

	T_ASSERT(access(shim_path, R_OK) == 0);
	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, extra, shim_path) > 0);
	vw = vm_window(r, 150, 150, 130, 90, 0x3c5a78, "xen", false);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(xrig_wait_pixel(r->gd, 200, 200, 0x3c5a78, T_MS));
	fill(r->vd, vw, 10, 10, 20, 20, 0xffeedd);
	T_ASSERT(xrig_wait_pixel(r->gd, 165, 165, 0xffeedd, T_MS));
	T_ASSERT(wait_same_pixels(r, vw, T_MS));
	T_EQ(xrig_stop(r->agent, 5000), 0);
	r->agent = 0;
	T_ASSERT(file_has(r->alog, "copying frames instead"));
	T_ASSERT(!file_has(r->alog, "bytes copied by the agent: 0 "));
}


/* The cursor of the AppVM window under the pointer (by its name) becomes the mirror's cursor on the GUI display. */
static bool same_cursor(const XFixesCursorImage *a, const XFixesCursorImage *b)
{
	if (a->width != b->width || a->height != b->height || a->xhot != b->xhot || a->yhot != b->yhot) {
		return false;
	}
	for (size_t i = 0; i < (size_t)a->width * a->height; i++) {
		if (a->pixels[i] != b->pixels[i]) {
			return false;
		}
	}
	return true;
}

CASE(cursor_follows_the_pointer)
{
	XSetWindowAttributes at = { .background_pixel = 0x555555 };
	Window ref, vw;
	Cursor c;
	XFixesCursorImage *want = NULL, *got = NULL, *root_cursor;
	long long deadline;
	bool same = false;

	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	/* what the root's cursor and hand2 look like on the GUI display */
	XTestFakeMotionEvent(r->gd, 0, 5, 5, 0);
	XSync(r->gd, False);
	root_cursor = XFixesGetCursorImage(r->gd);
	T_ASSERT(root_cursor != NULL);
	at.cursor = XCreateFontCursor(r->gd, XC_hand2);
	ref = XCreateWindow(r->gd, DefaultRootWindow(r->gd), 900, 700, 40, 40, 0, CopyFromParent, InputOutput,
			CopyFromParent, CWBackPixel | CWCursor, &at);
	XMapWindow(r->gd, ref);
	XTestFakeMotionEvent(r->gd, 0, 920, 720, 0);
	deadline = test_now_ms() + T_MS;
	do {
		if (want) {
			XFree(want);
		}
		XSync(r->gd, False);
		want = XFixesGetCursorImage(r->gd);
		same = want && same_cursor(want, root_cursor);
		if (want && !same) {
			break;
		}
		nap();
	} while (test_now_ms() < deadline);
	XFree(root_cursor);
	T_ASSERT(want != NULL && !same); /* hand2 is not the root's cursor */
	XTestFakeMotionEvent(r->gd, 0, 5, 5, 0);
	/* an AppVM window whose cursor is named hand2 (as Xcursor names the cursors it loads); its shape is
	 * another glyph: the agent goes by the name */
	vw = vm_window(r, 100, 100, 120, 90, 0x225588, "cursor", false);
	c = XCreateFontCursor(r->vd, XC_xterm);
	XFixesSetCursorName(r->vd, c, "hand2");
	XDefineCursor(r->vd, vw, c);
	XSync(r->vd, False);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(xrig_wait_pixel(r->gd, 150, 150, 0x225588, T_MS));
	XTestFakeMotionEvent(r->gd, 0, 150, 140, 0);
	XSync(r->gd, False);
	deadline = test_now_ms() + T_MS;
	do {
		if (got) {
			XFree(got);
		}
		XSync(r->gd, False);
		got = XFixesGetCursorImage(r->gd);
		if (got && same_cursor(got, want)) {
			break;
		}
		nap();
	} while (test_now_ms() < deadline);
	same = got && same_cursor(got, want);
	if (got) {
		XFree(got);
	}
	XFree(want);
	T_ASSERT(same);
}

/* A depth-32 (ARGB) window: its colour arrives, the alpha byte ignored. */
CASE(argb_window)
{
	XVisualInfo vi;
	XSetWindowAttributes at;
	Window vw;

	T_ASSERT(XMatchVisualInfo(r->vd, DefaultScreen(r->vd), 32, TrueColor, &vi));
	T_ASSERT(rig_daemon(r, NULL) > 0);
	T_ASSERT(rig_agent(r, NULL, NULL) > 0);
	at.colormap = XCreateColormap(r->vd, DefaultRootWindow(r->vd), vi.visual, AllocNone);
	at.background_pixel = 0x80c08040;
	at.border_pixel = 0;
	vw = XCreateWindow(r->vd, DefaultRootWindow(r->vd), 400, 100, 100, 60, 0, 32, InputOutput, vi.visual,
			CWColormap | CWBackPixel | CWBorderPixel, &at);
	XMapWindow(r->vd, vw);
	XSync(r->vd, False);
	T_ASSERT(gui_frame(r, vw, T_MS) != None);
	T_ASSERT(xrig_wait_pixel(r->gd, 450, 130, 0xc08040, T_MS));
	fill(r->vd, vw, 10, 10, 10, 10, 0xff0000ff);
	T_ASSERT(xrig_wait_pixel(r->gd, 415, 115, 0x0000ff, T_MS));
	T_EQ(xrig_root_pixel(r->gd, 399, 130), LABEL);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST(xlogo_same_pixels_and_border),
		TEST(redraw_resize_and_move_arrive),
		TEST(configure_from_the_daemon),
		TEST(typing_reaches_xterm),
		TEST(override_redirect_menu),
		TEST(override_redirect_kept_on_screen),
		TEST(close_ends_application),
		TEST(title_class_and_hints),
		TEST(daemon_restart_replays),
		TEST(command_line),
		TEST(clipboard_both_ways),
		TEST(reparented_window_follows_client),
		TEST(windows_vanish_at_any_time),
		TEST(xen_transport_copies_frames),
		TEST(cursor_follows_the_pointer),
		TEST(argb_window),
	};
	char self[PATH_MAX], *dir;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len <= 0) {
		return 1;
	}
	self[len] = '\0';
	dir = dirname(self);
	snprintf(agent_path, sizeof(agent_path), "%s/../../bin/gui-agent", dir);
	snprintf(daemon_path, sizeof(daemon_path), "%s/../../bin/gui-daemon", dir);
	snprintf(shim_path, sizeof(shim_path), "%s/../../libxenshim.so", dir);
	if (access(agent_path, X_OK) != 0 || access(daemon_path, X_OK) != 0) {
		printf("not ok - setup: gui-agent and gui-daemon beside the tests (%s)\n", agent_path);
		return 1;
	}
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1);
	return test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

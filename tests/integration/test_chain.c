/* test_chain.c: the whole chain with real applications: AppVM -> gui-agent -> gui-daemon -> guivm-export -> dom0. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "stack.h"
#include "test.h"
#include "xrig.h"

#define W 1024
#define H 768
#define T_MS 15000

/* The stack with one application window per AppVM, shown on dom0. */
struct chain {
	struct stack st;
	Display *d0, *vm[STACK_VMS];
	pid_t app[STACK_VMS];
};

static bool app_box(struct chain *c, int vm, int *x, int *y, int *w, int *h);

/*
 * Is AppVM vm's application window shown on dom0 inside its label colour, where the AppVM has
 * it? Waits up to T_MS. (Where it is, not where its -geometry asked: an application that maps
 * at (0, 0) and then moves itself, as xterm does, may be placed by the daemon's on-screen rule
 * first, without a window manager.)
 */
static bool app_shown(struct chain *c, int vm)
{
	for (int i = 0; i < T_MS / 10; i++) {
		int x, y, w, h, dx, dy;

		if (app_box(c, vm, &x, &y, &w, &h)) {
			stack_dom0_pos(&c->st, x - 1, y + h / 2, &dx, &dy);
			if (xrig_root_pixel(c->d0, dx, dy) == c->st.vms[vm].label) {
				return true;
			}
		}
		test_sleep_ms(10);
	}
	return false;
}

static int chain_start(struct chain *c, bool direct, char *const app0[], char *const app1[])
{
	memset(c, 0, sizeof(*c));
	if (stack_start(&c->st, W, H, false, direct, NULL) != 0) {
		return -1;
	}
	c->app[0] = stack_spawn_in_vm(&c->st, 0, "app-work", app0);
	c->app[1] = stack_spawn_in_vm(&c->st, 1, "app-personal", app1);
	c->d0 = xrig_open(c->st.dom0.name);
	c->vm[0] = xrig_open(c->st.vms[0].xs.name);
	c->vm[1] = xrig_open(c->st.vms[1].xs.name);
	if (!c->d0 || !c->vm[0] || !c->vm[1]) {
		return -1;
	}
	/* both windows show on dom0 inside their VM's border */
	return app_shown(c, 0) && app_shown(c, 1) ? 0 : -1;
}

static void chain_stop(struct chain *c);

/* The outer box (X border included) of the first viewable top-level window of AppVM vm. */
static bool app_box(struct chain *c, int vm, int *x, int *y, int *w, int *h)
{
	Window r, p, *kids = NULL;
	unsigned n = 0;
	bool found = false;

	if (XQueryTree(c->vm[vm], DefaultRootWindow(c->vm[vm]), &r, &p, &kids, &n)) {
		for (unsigned k = 0; k < n && !found; k++) {
			XWindowAttributes a;

			if (XGetWindowAttributes(c->vm[vm], kids[k], &a) && a.map_state == IsViewable) {
				*x = a.x;
				*y = a.y;
				*w = a.width + 2 * a.border_width;
				*h = a.height + 2 * a.border_width;
				found = true;
			}
		}
		XFree(kids);
	}
	return found;
}

static void chain_stop(struct chain *c)
{
	for (int i = 0; i < STACK_VMS; i++) {
		if (c->vm[i]) {
			XCloseDisplay(c->vm[i]);
		}
	}
	if (c->d0) {
		XCloseDisplay(c->d0);
	}
	stack_stop(&c->st);
}

/* Do w x h pixels at (x, y) of AppVM vm's screen show the same on dom0? Retries until T_MS. */
static bool same_on_dom0(struct chain *c, int vm, int x, int y, int w, int h)
{
	for (int tries = 0; tries < T_MS / 20; tries++) {
		XImage *a = XGetImage(c->vm[vm], DefaultRootWindow(c->vm[vm]), x, y, (unsigned)w, (unsigned)h, 0xffffff,
				ZPixmap);
		int dx, dy;
		XImage *b;
		bool same = a != NULL;

		stack_dom0_pos(&c->st, x, y, &dx, &dy);
		b = XGetImage(c->d0, DefaultRootWindow(c->d0), dx, dy, (unsigned)w, (unsigned)h, 0xffffff, ZPixmap);
		same = same && b != NULL;
		for (int j = 0; same && j < h; j++) {
			for (int i = 0; same && i < w; i++) {
				same = (XGetPixel(a, i, j) & 0xffffff) == (XGetPixel(b, i, j) & 0xffffff);
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
		usleep(20000);
	}
	return false;
}

/* Is pid running under a seccomp filter (Seccomp: 2) with no_new_privs? */
static bool sandboxed(pid_t pid)
{
	char path[64], line[128];
	bool filter = false, nnp = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		filter |= strcmp(line, "Seccomp:\t2\n") == 0;
		nnp |= strcmp(line, "NoNewPrivs:\t1\n") == 0;
	}
	if (f) {
		fclose(f);
	}
	return filter && nnp;
}

static void pixels_body(struct chain *c, bool direct)
{
	char *logo[] = { "/usr/bin/xlogo", "-geometry", "200x150+60+50", NULL };
	char *eyes[] = { "/usr/bin/xeyes", "-geometry", "180x120+400+300", NULL };
	int dx, dy, x, y, w, h;

	T_EQ(chain_start(c, direct, logo, eyes), 0);
	T_ASSERT(app_box(c, 0, &x, &y, &w, &h));
	/* the same pixels as on the AppVM's own display, at the same place (inside dom0's proxy border) */
	T_ASSERT(same_on_dom0(c, 0, x, y, w, h));
	/* each VM's label colour around its windows; the GUI qube's around dom0's screen */
	stack_dom0_pos(&c->st, x - 1, y + h / 2, &dx, &dy);
	T_EQ(xrig_root_pixel(c->d0, dx, dy), c->st.vms[0].label);
	stack_dom0_pos(&c->st, x + w, y + h / 2, &dx, &dy);
	T_EQ(xrig_root_pixel(c->d0, dx, dy), c->st.vms[0].label);
	T_ASSERT(app_box(c, 1, &x, &y, &w, &h));
	stack_dom0_pos(&c->st, x - 1, y + h / 2, &dx, &dy);
	T_EQ(xrig_root_pixel(c->d0, dx, dy), c->st.vms[1].label);
	T_EQ(xrig_root_pixel(c->d0, 0, 300), STACK_GUI_LABEL);
	T_EQ(xrig_root_pixel(c->d0, W - 1, 300), STACK_GUI_LABEL);
	/* every program that reads another domain's bytes runs under its seccomp filter */
	T_ASSERT(sandboxed(c->st.proxy));
	T_ASSERT(sandboxed(c->st.exporter));
	for (int i = 0; i < STACK_VMS; i++) {
		T_ASSERT(sandboxed(c->st.vms[i].daemon));
		T_ASSERT(sandboxed(c->st.vms[i].agent));
	}
}

static void pixels_and_borders(bool direct)
{
	struct chain c;

	pixels_body(&c, direct);
	chain_stop(&c);
}

static void pixels_nested(void)
{
	pixels_and_borders(false);
}

static void pixels_direct(void)
{
	pixels_and_borders(true);
}

static bool file_has(const char *path, const char *want)
{
	for (int i = 0; i < T_MS / 10; i++) {
		char buf[256] = "";
		int fd = open(path, O_RDONLY);

		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			buf[n > 0 ? n : 0] = '\0';
			close(fd);
			if (strstr(buf, want)) {
				return true;
			}
		}
		usleep(10000);
	}
	return false;
}

static void type_at(Display *d, const char *text)
{
	for (const char *ch = text; *ch; ch++) {
		KeySym ks = *ch == ' ' ? XK_space : *ch == '\n' ? XK_Return : (KeySym)(unsigned char)*ch;
		KeyCode kc = XKeysymToKeycode(d, ks);

		XTestFakeKeyEvent(d, kc, True, 0);
		XTestFakeKeyEvent(d, kc, False, 0);
		XSync(d, False);
	}
}

/*
 * Moves dom0's pointer to (x, y) of AppVM vm's screen and waits until the AppVM's pointer is
 * there. First the application's window must have settled: shown on dom0 where the AppVM
 * has it (an application may move itself after mapping, and a motion that reaches the GUI
 * qube while the window moves lands where the window was). If the AppVM's pointer is not
 * there after a while, the pointer is moved again, as a user would.
 */
static bool point_at(struct chain *c, int vm, int x, int y)
{
	int dx, dy, bx, by, bw, bh;

	if (!app_box(c, vm, &bx, &by, &bw, &bh) || !same_on_dom0(c, vm, bx, by, bw, bh)) {
		return false;
	}
	stack_dom0_pos(&c->st, x, y, &dx, &dy);
	for (int i = 0; i < T_MS / 5; i++) {
		Window r, ch;
		int rx, ry, wx, wy;
		unsigned mask;

		if (i % 200 == 0) { /* every second */
			XTestFakeMotionEvent(c->d0, 0, dx - 1, dy, 0);
			XTestFakeMotionEvent(c->d0, 0, dx, dy, 0);
			XSync(c->d0, False);
		}
		XQueryPointer(c->vm[vm], DefaultRootWindow(c->vm[vm]), &r, &ch, &rx, &ry, &wx, &wy, &mask);
		if (rx == x && ry == y) {
			return true;
		}
		usleep(5000);
	}
	return false;
}

static void typing_body(struct chain *c)
{
	char out[512], cmd[600];
	char *term[] = { "/usr/bin/xterm", "-geometry", "60x8+40+40", "-e", "sh", "-c", cmd, NULL };
	char *logo[] = { "/usr/bin/xlogo", "-geometry", "100x100+500+400", NULL };

	snprintf(out, sizeof(out), "%s/typed-chain.txt", test_tmpdir());
	snprintf(cmd, sizeof(cmd), "cat > %s", out);
	T_EQ(chain_start(c, false, term, logo), 0);
	T_ASSERT(point_at(c, 0, 140, 80));
	type_at(c->d0, "typed at dom0\n");
	T_ASSERT(file_has(out, "typed at dom0\n"));
}

static void typing_reaches_xterm(void)
{
	struct chain c;

	typing_body(&c);
	chain_stop(&c);
}

static void menu_body(struct chain *c)
{
	char *term[] = { "/usr/bin/xterm", "-geometry", "60x8+40+40", NULL };
	char *logo[] = { "/usr/bin/xlogo", "-geometry", "100x100+500+400", NULL };
	KeyCode ctrl;
	bool found = false;

	T_EQ(chain_start(c, false, term, logo), 0);
	T_ASSERT(point_at(c, 0, 140, 80));
	ctrl = XKeysymToKeycode(c->d0, XK_Control_L);
	XTestFakeKeyEvent(c->d0, ctrl, True, 0);
	XTestFakeButtonEvent(c->d0, 1, True, 0);
	XSync(c->d0, False);
	/* the menu is an override-redirect window in the AppVM: wait for it there, then find it on dom0 */
	for (int i = 0; i < T_MS / 10 && !found; i++) {
		Window r, p, *kids = NULL;
		unsigned n = 0;

		if (XQueryTree(c->vm[0], DefaultRootWindow(c->vm[0]), &r, &p, &kids, &n)) {
			for (unsigned k = 0; k < n && !found; k++) {
				XWindowAttributes a;
				int dx, dy;

				if (XGetWindowAttributes(c->vm[0], kids[k], &a) && a.override_redirect &&
						a.map_state == IsViewable && a.width > 20) {
					/* its trusted border on dom0, inside the screen */
					stack_dom0_pos(&c->st, a.x - 1, a.y + a.height / 2, &dx, &dy);
					found = xrig_wait_pixel(c->d0, dx, dy, c->st.vms[0].label, T_MS) && dx >= 0 &&
						dy >= 0 && dx + a.width < W && dy < H &&
						same_on_dom0(c, 0, a.x, a.y, a.width, a.height);
				}
			}
			XFree(kids);
		}
		if (!found) {
			usleep(10000);
		}
	}
	XTestFakeButtonEvent(c->d0, 1, False, 0);
	XTestFakeKeyEvent(c->d0, ctrl, False, 0);
	XSync(c->d0, False);
	T_ASSERT(found);
}

static void xterm_menu_on_screen_with_border(void)
{
	struct chain c;

	menu_body(&c);
	chain_stop(&c);
}

/* The frame gui-daemon made for the first top-level window of VM vm, on the GUI qube's desktop. */
static Window frame_in_gui_qube(struct chain *c, Display *desk, int vm)
{
	Window r, p, *kids = NULL, found = None;
	unsigned n = 0;

	if (XQueryTree(c->vm[vm], DefaultRootWindow(c->vm[vm]), &r, &p, &kids, &n)) {
		for (unsigned k = 0; k < n && found == None; k++) {
			XWindowAttributes a;

			if (XGetWindowAttributes(c->vm[vm], kids[k], &a) && a.map_state == IsViewable) {
				found = xrig_find_vm_window(desk, c->st.vms[vm].name, (uint32_t)kids[k], T_MS);
			}
		}
		XFree(kids);
	}
	return found;
}

static void close_body(struct chain *c)
{
	char *logo[] = { "/usr/bin/xlogo", "-geometry", "150x120+50+50", NULL };
	char *eyes[] = { "/usr/bin/xclock", "-geometry", "150x150+400+300", "-update", "1", NULL };
	Display *desk;
	Window frame;
	XEvent e;

	T_EQ(chain_start(c, false, logo, eyes), 0);
	desk = xrig_open(c->st.desk);
	T_ASSERT(desk != NULL);
	/* the GUI qube's window manager closes the window the user closed at dom0: WM_DELETE_WINDOW */
	frame = frame_in_gui_qube(c, desk, 0);
	T_ASSERT(frame != None);
	memset(&e, 0, sizeof(e));
	e.xclient.type = ClientMessage;
	e.xclient.window = frame;
	e.xclient.message_type = XInternAtom(desk, "WM_PROTOCOLS", False);
	e.xclient.format = 32;
	e.xclient.data.l[0] = (long)XInternAtom(desk, "WM_DELETE_WINDOW", False);
	XSendEvent(desk, frame, False, NoEventMask, &e);
	XSync(desk, False);
	T_EQ(xrig_wait(c->app[0], T_MS), 0); /* xlogo exits by itself */
	stack_forget(&c->st, c->app[0]);
	c->app[0] = 0;
	XCloseDisplay(desk);
	desk = NULL;
	/* killing this VM's agent leaves the other VM's windows working */
	T_EQ(stack_stop_proc(&c->st, c->st.vms[0].agent, T_MS), 0);
	{
		/* the clock redraws every second: its pixels keep matching dom0's */
		XImage *before;
		int dx, dy;

		T_ASSERT(same_on_dom0(c, 1, 400, 300, 150, 150));
		before = XGetImage(c->vm[1], DefaultRootWindow(c->vm[1]), 400, 300, 150, 150, 0xffffff, ZPixmap);
		T_ASSERT(before != NULL);
		for (int i = 0; i < 300; i++) { /* wait for the second hand to move */
			XImage *now = XGetImage(c->vm[1], DefaultRootWindow(c->vm[1]), 400, 300, 150, 150, 0xffffff, ZPixmap);
			bool changed = now && memcmp(now->data, before->data, (size_t)before->bytes_per_line * 150) != 0;

			if (now) {
				XDestroyImage(now);
			}
			if (changed) {
				break;
			}
			usleep(10000);
		}
		XDestroyImage(before);
		T_ASSERT(same_on_dom0(c, 1, 400, 300, 150, 150));
		stack_dom0_pos(&c->st, 399, 350, &dx, &dy);
		T_EQ(xrig_root_pixel(c->d0, dx, dy), c->st.vms[1].label);
	}
}

static void close_ends_application_and_other_vm_survives(void)
{
	struct chain c;

	close_body(&c);
	chain_stop(&c);
}

TEST_MAIN(TEST(pixels_nested), TEST(pixels_direct), TEST(typing_reaches_xterm), TEST(xterm_menu_on_screen_with_border),
		TEST(close_ends_application_and_other_vm_survives))

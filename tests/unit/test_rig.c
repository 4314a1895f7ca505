/* test_rig.c: the test rig itself: private X servers, pixels, properties, PNG, processes, and the scripted agent. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <X11/Xatom.h>
#include <X11/Xlib.h>

#include "qgui/log.h"
#include "tagent.h"
#include "test.h"
#include "xrig.h"

#define COLOUR 0x336699u

static bool path_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Whether pid is a zombie (dead, not reaped yet). */
static bool is_zombie(pid_t pid)
{
	char path[64], st[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL) {
		return false;
	}
	if (fgets(st, sizeof(st), f) == NULL) {
		st[0] = '\0';
	}
	fclose(f);
	return strstr(st, ") Z ") != NULL;
}

static void server_socket_path(const struct xserver *xs, char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/.X11-unix/X%d", xs->display);
}

/* A mapped w x h window at x, y on the root of dpy (no WM), filled with rgb by an explicit fill. */
static Window draw_rect(Display *dpy, int x, int y, unsigned w, unsigned h, uint32_t rgb)
{
	XSetWindowAttributes swa;
	Window win;
	GC gc;

	memset(&swa, 0, sizeof(swa));
	swa.background_pixel = 0; /* black until drawn: the fill below is what makes the colour */
	swa.override_redirect = True;
	win = XCreateWindow(dpy, DefaultRootWindow(dpy), x, y, w, h, 0, CopyFromParent, InputOutput, CopyFromParent,
			CWBackPixel | CWOverrideRedirect, &swa);
	XMapWindow(dpy, win);
	XSync(dpy, False);
	gc = XCreateGC(dpy, win, 0, NULL);
	XSetForeground(dpy, gc, rgb);
	XFillRectangle(dpy, win, gc, 0, 0, w, h);
	XFreeGC(dpy, gc);
	XSync(dpy, False);
	return win;
}

/* ---------------------------------------------------------------- Xvfb: pixels, properties, geometry, PNG */

static void xvfb_body(struct xserver *xs, Display *dpy)
{
	Window win;
	unsigned long id = 0x1234, vals[4];
	const char *vm = "work";
	char s[64], png[512];
	uint8_t sig[8];
	int fmt = 0, x = -1, y = -1, fd;
	unsigned w = 0, h = 0;
	long long t0;
	struct stat st;
	png_image pi;
	uint8_t *buf;

	T_ASSERT(xs->pid > 0);
	T_ASSERT(xs->display >= 0);
	T_ASSERT(xs->name[0] == ':');
	T_EQ(DisplayWidth(dpy, DefaultScreen(dpy)), 640);
	T_EQ(DisplayHeight(dpy, DefaultScreen(dpy)), 480);
	T_EQ(DefaultDepth(dpy, DefaultScreen(dpy)), 24);

	win = draw_rect(dpy, 100, 100, 50, 40, COLOUR);
	T_ASSERT(xrig_wait_pixel(dpy, 110, 110, COLOUR, 2000));
	T_EQ_U(xrig_root_pixel(dpy, 110, 110), COLOUR);
	T_EQ_U(xrig_root_pixel(dpy, 100, 100), COLOUR);  /* first pixel inside */
	T_EQ_U(xrig_root_pixel(dpy, 149, 139), COLOUR);  /* last pixel inside */
	T_ASSERT(xrig_root_pixel(dpy, 150, 139) != COLOUR);
	T_ASSERT(xrig_root_pixel(dpy, 10, 10) != COLOUR);
	T_EQ_U(xrig_root_pixel(dpy, 10, 10), 0x000000); /* Xvfb's default root (black, -noreset) */
	/* outside the screen: an X error, recorded by xrig_open's handler, not fatal */
	T_EQ_U(xrig_root_pixel(dpy, 5000, 5000), 0xffffffffu);

	/* wait_pixel times out (and does take about the time asked for) */
	t0 = test_now_ms();
	T_ASSERT(!xrig_wait_pixel(dpy, 10, 10, COLOUR, 150));
	T_ASSERT(test_now_ms() - t0 >= 150);
	T_ASSERT(test_now_ms() - t0 < 2000);

	/* geometry and viewability */
	T_EQ(xrig_geometry(dpy, win, &x, &y, &w, &h), 0);
	T_EQ(x, 100);
	T_EQ(y, 100);
	T_EQ(w, 50);
	T_EQ(h, 40);
	T_ASSERT(xrig_viewable(dpy, win));

	/* properties as the daemon sets them: WINDOW/32 id and STRING vm name */
	T_EQ(xrig_find_vm_window(dpy, vm, 0x1234, 0), None);
	XChangeProperty(dpy, win, XInternAtom(dpy, "_QUBES_VMWINDOWID", False), XA_WINDOW, 32, PropModeReplace,
			(unsigned char *)&id, 1);
	XChangeProperty(dpy, win, XInternAtom(dpy, "_QUBES_VMNAME", False), XA_STRING, 8, PropModeReplace,
			(const unsigned char *)vm, (int)strlen(vm));
	XSync(dpy, False);
	T_EQ(xrig_get_string(dpy, win, "_QUBES_VMNAME", s, sizeof(s)), 0);
	T_STR(s, "work");
	T_EQ(xrig_get_string(dpy, win, "_QUBES_VMNAME", s, 3), 0); /* truncated, terminated */
	T_STR(s, "wo");
	T_EQ(xrig_get_string(dpy, win, "_QUBES_NO_SUCH_PROPERTY_XRIG", s, sizeof(s)), -1);
	T_EQ(xrig_get_string(dpy, win, "_QUBES_VMWINDOWID", s, sizeof(s)), -1); /* not a string */
	T_EQ(xrig_get_cardinals(dpy, win, "_QUBES_VMWINDOWID", vals, 4, &fmt), 1);
	T_EQ(fmt, 32);
	T_EQ_U(vals[0], 0x1234);
	T_EQ(xrig_find_vm_window(dpy, vm, 0x1234, 1000), win);
	T_EQ(xrig_find_vm_window(dpy, vm, 0x1235, 30), None);
	T_EQ(xrig_find_vm_window(dpy, "personal", 0x1234, 30), None);
	/* CARDINAL/32 is accepted too */
	XChangeProperty(dpy, win, XInternAtom(dpy, "_QUBES_VMWINDOWID", False), XA_CARDINAL, 32, PropModeReplace,
			(unsigned char *)&id, 1);
	T_EQ(xrig_find_vm_window(dpy, vm, 0x1234, 1000), win);
	/* a client window one level below a top-level "frame" is found too */
	{
		Window frame = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 300, 300, 60, 60, 0, 0, 0);
		Window client = XCreateSimpleWindow(dpy, frame, 5, 20, 50, 35, 0, 0, 0);
		unsigned long id2 = 77;

		XChangeProperty(dpy, client, XInternAtom(dpy, "_QUBES_VMWINDOWID", False), XA_WINDOW, 32,
				PropModeReplace, (unsigned char *)&id2, 1);
		XChangeProperty(dpy, client, XInternAtom(dpy, "_QUBES_VMNAME", False), XA_STRING, 8, PropModeReplace,
				(const unsigned char *)"sys-net", 7);
		XMapWindow(dpy, client);
		XMapWindow(dpy, frame);
		T_EQ(xrig_find_vm_window(dpy, "sys-net", 77, 1000), client);
		T_EQ(xrig_geometry(dpy, client, &x, &y, &w, &h), 0);
		T_EQ(x, 305);
		T_EQ(y, 320);
		T_ASSERT(xrig_viewable(dpy, client));
		XUnmapWindow(dpy, frame); /* the client stays mapped but is no longer viewable */
		XSync(dpy, False);
		T_ASSERT(!xrig_viewable(dpy, client));
		XDestroyWindow(dpy, frame);
		XSync(dpy, False);
		T_ASSERT(!xrig_viewable(dpy, client)); /* destroyed: BadWindow, recorded */
	}

	/* screenshot: a PNG file whose pixel at (110,110) is the colour */
	snprintf(png, sizeof(png), "%s/shot.png", test_tmpdir());
	T_EQ(xrig_screenshot_png(dpy, png), 0);
	T_EQ(stat(png, &st), 0);
	T_ASSERT(st.st_size > 0);
	fd = open(png, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_EQ(read(fd, sig, 8), 8);
	close(fd);
	T_MEM(sig, "\x89PNG\r\n\x1a\n", 8);
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	T_ASSERT(png_image_begin_read_from_file(&pi, png));
	T_EQ(pi.width, 640);
	T_EQ(pi.height, 480);
	pi.format = PNG_FORMAT_RGB;
	buf = malloc(PNG_IMAGE_SIZE(pi));
	T_ASSERT(buf != NULL);
	if (!png_image_finish_read(&pi, NULL, buf, 0, NULL)) {
		free(buf);
		T_ASSERT(!"png_image_finish_read");
	}
	{
		const uint8_t *p = buf + (110 * 640 + 110) * 3, *q = buf + (10 * 640 + 10) * 3;
		uint32_t in = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		uint32_t out = (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];

		free(buf);
		T_EQ_U(in, COLOUR);
		T_EQ_U(out, 0);
	}

	/* unmapped: not viewable, and the pixel goes back to the root's */
	XUnmapWindow(dpy, win);
	XSync(dpy, False);
	T_ASSERT(!xrig_viewable(dpy, win));
	T_ASSERT(xrig_wait_pixel(dpy, 110, 110, 0x000000, 2000));
}

static void test_xvfb(void)
{
	struct xserver xs;
	Display *dpy;
	char sock[64];

	T_EQ(xrig_xvfb_start(&xs, 640, 480, NULL), 0);
	server_socket_path(&xs, sock, sizeof(sock));
	dpy = xrig_open(xs.name);
	if (!path_exists(sock)) {
		test_fail(__FILE__, __LINE__, "no %s", sock);
	}
	if (dpy != NULL) {
		xvfb_body(&xs, dpy);
		XCloseDisplay(dpy);
	} else {
		test_fail(__FILE__, __LINE__, "cannot open %s", xs.name);
	}
	xrig_server_stop(&xs);
	T_EQ(xs.pid, 0);
	T_ASSERT(!path_exists(sock));
}

/* Two servers at once get two different numbers (-displayfd), and extra arguments are passed on. */
static void test_xvfb_two(void)
{
	struct xserver a, b;
	const char *extra[] = { "-nocursor", NULL };
	char sa[64], sb[64];

	T_EQ(xrig_xvfb_start(&a, 320, 200, extra), 0);
	if (xrig_xvfb_start(&b, 200, 100, NULL) != 0) {
		xrig_server_stop(&a);
		T_ASSERT(!"second Xvfb");
	}
	server_socket_path(&a, sa, sizeof(sa));
	server_socket_path(&b, sb, sizeof(sb));
	if (a.display == b.display) {
		test_fail(__FILE__, __LINE__, "both servers on %s", a.name);
	}
	/* a server killed outright leaves its socket and lock: xrig_server_stop removes them */
	kill(b.pid, SIGKILL);
	for (int i = 0; i < 1000 && !is_zombie(b.pid); i++) {
		usleep(5000); /* dead but not reaped: xrig_server_stop reaps it */
	}
	if (!path_exists(sb)) {
		test_fail(__FILE__, __LINE__, "Xvfb killed by SIGKILL removed %s itself?", sb);
	}
	xrig_server_stop(&b);
	xrig_server_stop(&a);
	T_ASSERT(!path_exists(sa));
	T_ASSERT(!path_exists(sb));
}

/* ---------------------------------------------------------------- Xephyr nested on Xvfb */

static void xephyr_body(Display *outer, Display *inner)
{
	Window root_ret, parent_ret, *kids = NULL, ephyr = None;
	unsigned nkids = 0;
	int ox = 0, oy = 0;
	unsigned w = 0, h = 0;

	T_EQ(DisplayWidth(inner, DefaultScreen(inner)), 320);
	T_EQ(DisplayHeight(inner, DefaultScreen(inner)), 240);
	draw_rect(inner, 20, 30, 40, 20, COLOUR);
	T_ASSERT(xrig_wait_pixel(inner, 25, 35, COLOUR, 2000));

	/* where is Xephyr's window on the outer server? (no WM: a top-level of 320x240) */
	T_ASSERT(XQueryTree(outer, DefaultRootWindow(outer), &root_ret, &parent_ret, &kids, &nkids));
	for (unsigned i = 0; i < nkids && ephyr == None; i++) {
		if (xrig_viewable(outer, kids[i]) && xrig_geometry(outer, kids[i], &ox, &oy, &w, &h) == 0 && w == 320 &&
				h == 240) {
			ephyr = kids[i];
		}
	}
	if (kids) {
		XFree(kids);
	}
	T_ASSERT(ephyr != None);
	/* what Xephyr draws shows up in the outer framebuffer */
	T_ASSERT(xrig_wait_pixel(outer, ox + 25, oy + 35, COLOUR, 3000));
	T_ASSERT(xrig_wait_pixel(outer, ox + 59, oy + 49, COLOUR, 3000));
	T_ASSERT(xrig_root_pixel(outer, ox + 61, oy + 51) != COLOUR);
}

static void test_xephyr(void)
{
	struct xserver xv, xe;
	Display *outer = NULL, *inner = NULL;
	char sv[64], se[64];

	T_EQ(xrig_xvfb_start(&xv, 640, 480, NULL), 0);
	if (xrig_xephyr_start(&xe, xv.name, 320, 240) != 0) {
		xrig_server_stop(&xv);
		T_ASSERT(!"Xephyr did not start");
	}
	if (xe.display == xv.display) {
		test_fail(__FILE__, __LINE__, "Xephyr and Xvfb both on %s", xe.name);
	}
	server_socket_path(&xv, sv, sizeof(sv));
	server_socket_path(&xe, se, sizeof(se));
	outer = xrig_open(xv.name);
	inner = xrig_open(xe.name);
	if (outer && inner) {
		xephyr_body(outer, inner);
	} else {
		test_fail(__FILE__, __LINE__, "cannot open the displays");
	}
	if (inner) {
		XCloseDisplay(inner);
	}
	if (outer) {
		XCloseDisplay(outer);
	}
	xrig_server_stop(&xe);
	xrig_server_stop(&xv);
	T_ASSERT(!path_exists(se));
	T_ASSERT(!path_exists(sv));
}

/* ---------------------------------------------------------------- processes */

static void test_spawn(void)
{
	char *exit7[] = { "/bin/sh", "-c", "exit 7", NULL };
	char *echo[] = { "/bin/sh", "-c", "echo \"$XRIG_T:$HOME\"; echo err >&2", NULL };
	char *env[] = { "XRIG_T=hello", "HOME=/xrig-home", NULL };
	char *sleeper[] = { "/bin/sleep", "100", NULL };
	char *nosuch[] = { "/nonexistent/xrig-program", NULL };
	char log[512], buf[128];
	pid_t pid;
	FILE *f;
	size_t n;

	pid = xrig_spawn(exit7, NULL, NULL);
	T_ASSERT(pid > 0);
	T_EQ(xrig_wait(pid, 5000), 7);
	T_EQ(xrig_wait(pid, 0), -1); /* already reaped */

	/* extra environment (added and replacing), output appended to a log */
	snprintf(log, sizeof(log), "%s/spawn.log", test_tmpdir());
	f = fopen(log, "w");
	T_ASSERT(f != NULL);
	fputs("before\n", f);
	fclose(f);
	pid = xrig_spawn(echo, env, log);
	T_ASSERT(pid > 0);
	T_EQ(xrig_wait(pid, 5000), 0);
	f = fopen(log, "r");
	T_ASSERT(f != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	T_STR(buf, "before\nhello:/xrig-home\nerr\n");

	pid = xrig_spawn(nosuch, NULL, NULL);
	T_ASSERT(pid > 0);
	T_EQ(xrig_wait(pid, 5000), 127);

	pid = xrig_spawn(sleeper, NULL, NULL);
	T_ASSERT(pid > 0);
	T_EQ(xrig_wait(pid, 50), -1); /* still running */
	T_EQ(xrig_stop(pid, 2000), 128 + SIGTERM);
	T_EQ(xrig_stop(0, 10), -1);  /* never kill(0) */
	T_EQ(xrig_stop(-1, 10), -1); /* never kill(-1) */
}

/* A test process killed by SIGKILL leaves no helper behind (PR_SET_PDEATHSIG in the child). */
static void test_spawn_parent_death(void)
{
	int p[2], rc;
	pid_t mid, helper = -1;
	ssize_t n;

	/* orphans come back to this process, so that the helper can be reaped and its fate checked */
	T_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	T_EQ(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	if (mid == 0) {
		char *sleeper[] = { "/bin/sleep", "100", NULL };
		pid_t h = xrig_spawn(sleeper, NULL, NULL);
		char comm_path[64], comm[32] = "";

		/* report the helper only once it runs sleep (past fork, prctl and exec) */
		snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", (int)h);
		for (int i = 0; i < 1000 && strcmp(comm, "sleep\n") != 0; i++) {
			FILE *f = fopen(comm_path, "r");

			comm[0] = '\0';
			if (f != NULL) {
				if (fgets(comm, sizeof(comm), f) == NULL) {
					comm[0] = '\0';
				}
				fclose(f);
			}
			usleep(5000);
		}
		if (write(p[1], &h, sizeof(h)) != (ssize_t)sizeof(h)) {
			_exit(1);
		}
		pause();
		_exit(0);
	}
	close(p[1]);
	T_ASSERT(mid > 0);
	{
		struct pollfd pfd = { p[0], POLLIN, 0 };

		if (poll(&pfd, 1, 5000) == 1) {
			n = read(p[0], &helper, sizeof(helper));
			if (n != (ssize_t)sizeof(helper)) {
				helper = -1;
			}
		}
	}
	close(p[0]);
	kill(mid, SIGKILL);
	T_EQ(xrig_wait(mid, 5000), 128 + SIGKILL);
	T_ASSERT(helper > 0);
	rc = xrig_wait(helper, 5000);
	if (rc < 0) {
		xrig_stop(helper, 100);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	T_EQ(rc, 128 + SIGKILL);
}

static void test_socket_dir(void)
{
	const char *d = xrig_socket_dir();
	struct stat st;

	T_ASSERT(d != NULL);
	T_ASSERT(strncmp(d, test_tmpdir(), strlen(test_tmpdir())) == 0);
	T_EQ(stat(d, &st), 0);
	T_ASSERT(S_ISDIR(st.st_mode));
	T_ASSERT(xrig_socket_dir() == d);
}

/* ---------------------------------------------------------------- tagent against a minimal library daemon */

#define WIN_ID 7u
#define WIN_W 64u
#define WIN_H 32u
#define COLOUR2 0x00ff00u

/* The daemon side: messages until one of type (skipping others), or READY when type == 0. */
static int d_next(struct conn *c, uint32_t type, struct proto_msg *m, int timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd;
		int rc;

		while ((rc = conn_next(c, m)) != CONN_NONE) {
			if (rc < 0) {
				return rc;
			}
			if ((type == 0 && rc == CONN_READY) || (rc == CONN_MSG && m->type == type)) {
				return 0;
			}
		}
		if (test_now_ms() >= deadline) {
			return -ETIMEDOUT;
		}
		conn_pollfd(c, &pfd);
		if (poll(&pfd, 1, 50) < 0 && errno != EINTR) {
			return -errno;
		}
		rc = conn_handle(c, pfd.revents);
		if (rc < 0 && rc != -EPIPE) {
			return rc;
		}
	}
}

/* Maps a dump and checks its first and last pixels. 0, or -1 (mapping failed), -2 (wrong pixels). */
static int d_check_dump(struct grant_mapper *gm, const uint32_t *refs, uint32_t nrefs, uint32_t rgb)
{
	struct grant_mapping *g = NULL;
	const uint32_t *px;
	int rc = 0;

	if (grant_mapper_map(gm, refs, nrefs, &g) != 0) {
		return -1;
	}
	px = grant_mapping_addr(g);
	if (px == NULL) {
		rc = -1;
	} else if (px[0] != rgb || px[WIN_W * WIN_H - 1] != rgb) {
		fprintf(stderr, "daemon: pixel 0x%x, expected 0x%x\n", px[0], rgb);
		rc = -2;
	}
	grant_mapping_destroy(g);
	return rc;
}

static int d_dump(struct conn *c, struct grant_mapper *gm, uint32_t rgb, uint32_t *refs, uint32_t *nrefs)
{
	struct proto_msg m;
	struct proto_msg ack;

	if (d_next(c, MSG_WINDOW_DUMP, &m, 5000) != 0) {
		return 20;
	}
	if (m.window != WIN_ID || m.u.dump.width != WIN_W || m.u.dump.height != WIN_H || m.u.dump.bpp != 32 ||
			m.u.dump.nrefs != (WIN_W * WIN_H * 4 + 4095) / 4096) {
		return 21;
	}
	*nrefs = m.u.dump.nrefs;
	for (uint32_t i = 0; i < *nrefs; i++) {
		refs[i] = proto_dump_ref(&m.u.dump, i);
	}
	if (d_check_dump(gm, refs, *nrefs, rgb) != 0) {
		return 22;
	}
	if (d_next(c, MSG_SHMIMAGE, &m, 5000) != 0 || m.window != WIN_ID || m.u.shmimage.x != 0 ||
			m.u.shmimage.y != 0 || m.u.shmimage.width != (int32_t)WIN_W ||
			m.u.shmimage.height != (int32_t)WIN_H) {
		return 23;
	}
	memset(&ack, 0, sizeof(ack));
	ack.type = MSG_WINDOW_DUMP_ACK;
	ack.window = WIN_ID;
	return conn_send(c, &ack) == 0 ? 0 : 24;
}

/* Sends everything queued (at most 5 s). 0 or -1. */
static int d_flush(struct conn *c)
{
	long long deadline = test_now_ms() + 5000;

	while (conn_queued(c) > 0) {
		struct pollfd pfd;

		if (test_now_ms() >= deadline) {
			return -1;
		}
		conn_pollfd(c, &pfd);
		if (poll(&pfd, 1, 50) < 0 && errno != EINTR) {
			return -1;
		}
		if (conn_handle(c, pfd.revents) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Reads (and drops) messages until the session ends; returns how it ended (-EPIPE, -EPROTO, ...). */
static int d_wait_end(struct conn *c)
{
	struct proto_msg m;
	int rc;

	do {
		rc = d_next(c, MSG_MAX, &m, 5000); /* MSG_MAX never arrives */
	} while (rc == 0);
	return rc;
}

/* The first daemon: handshake, CREATE, two dumps acked, then the first image must be unshared. */
static int daemon_one(void)
{
	struct transport *t;
	struct conn *c;
	struct grant_mapper *gm;
	struct conn_params p;
	struct proto_msg m;
	uint32_t refs1[8], refs2[8], n1 = 0, n2 = 0;
	int rc;

	t = transport_client_create(QGUI_BACKEND_SOCKET, 1, 2, QGUI_VCHAN_PORT, 5000);
	if (t == NULL) {
		return 10;
	}
	conn_params_default(&p, CONN_DAEMON);
	proto_xconf_for_screen(640, 480, 24, &p.xconf);
	c = conn_create(t, &p);
	gm = grant_mapper_create(QGUI_BACKEND_SOCKET, 1, 2);
	if (c == NULL || gm == NULL) {
		return 11;
	}
	if (d_next(c, 0, &m, 5000) != 0 || conn_version(c) != QUBES_GUID_PROTOCOL_VERSION) {
		return 12;
	}
	if (d_next(c, MSG_CREATE, &m, 5000) != 0 || m.window != WIN_ID || m.u.create.width != WIN_W ||
			m.u.create.height != WIN_H || m.u.create.x != 10 || m.u.create.y != 20) {
		return 13;
	}
	if (d_next(c, MSG_WMNAME, &m, 5000) != 0 || strcmp(m.u.wmname.title, "rig") != 0) {
		return 14;
	}
	if (d_next(c, MSG_MAP, &m, 5000) != 0 || m.window != WIN_ID) {
		return 15;
	}
	rc = d_dump(c, gm, COLOUR, refs1, &n1);
	if (rc != 0) {
		return rc;
	}
	rc = d_dump(c, gm, COLOUR2, refs2, &n2);
	if (rc != 0) {
		return 40 + rc;
	}
	/* the agent has processed both ACKs when it sends this */
	if (d_next(c, MSG_WMNAME, &m, 5000) != 0 || strcmp(m.u.wmname.title, "sync") != 0) {
		return 16;
	}
	if (d_check_dump(gm, refs1, n1, COLOUR) != -1) {
		return 17; /* dump 2 was acked: dump 1's image must be unshared */
	}
	if (d_check_dump(gm, refs2, n2, COLOUR2) != 0) {
		return 18; /* the current image stays shared */
	}
	/* done: close, which the agent must notice */
	rc = d_flush(c) == 0 ? 0 : 19;
	conn_destroy(c);
	transport_destroy(t);
	grant_mapper_destroy(gm);
	return rc;
}

/* The second daemon (after the agent's reaccept): CREATE of window 9, answered with CLOSE. */
static int daemon_two(void)
{
	struct transport *t;
	struct conn *c;
	struct conn_params p;
	struct proto_msg m;
	int rc;

	t = transport_client_create(QGUI_BACKEND_SOCKET, 1, 2, QGUI_VCHAN_PORT, 5000);
	if (t == NULL) {
		return 50;
	}
	conn_params_default(&p, CONN_DAEMON);
	proto_xconf_for_screen(800, 600, 24, &p.xconf);
	c = conn_create(t, &p);
	if (c == NULL || d_next(c, 0, &m, 5000) != 0) {
		return 51;
	}
	if (d_next(c, MSG_CREATE, &m, 5000) != 0 || m.window != 9) {
		return 52;
	}
	memset(&m, 0, sizeof(m));
	m.type = MSG_CLOSE;
	m.window = 8; /* first a CLOSE for another window: tagent_expect_win must skip it */
	if (conn_send(c, &m) != 0) {
		return 53;
	}
	m.window = 9;
	if (conn_send(c, &m) != 0) {
		return 53;
	}
	/* the agent's raw junk (an invalid header) must end the session as a protocol violation */
	rc = d_wait_end(c);
	conn_destroy(c);
	transport_destroy(t);
	return rc == -EPROTO ? 0 : 54;
}

static pid_t fork_daemon(int (*fn)(void))
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(99);
		}
		setenv("VCHAN_DOMAIN", "1", 1);
		log_init("test-daemon", NULL);
		_exit(fn());
	}
	return pid;
}

static void tagent_body(struct tagent *a, pid_t *d1)
{
	struct proto_msg m;
	uint32_t w = 0, h = 0, *px;
	int rc;

	T_EQ(tagent_accept(a, 5000), 0);
	T_EQ_U(tagent_version(a), QUBES_GUID_PROTOCOL_VERSION);
	T_EQ(tagent_xconf(a)->w, 640);
	T_EQ(tagent_xconf(a)->h, 480);
	T_EQ(tagent_xconf(a)->depth, 24);
	T_EQ(tagent_create(a, WIN_ID, 10, 20, WIN_W, WIN_H, false, "rig", true), 0);

	T_EQ(tagent_fill(a, WIN_ID, WIN_W, WIN_H, COLOUR), 0);
	T_EQ(tagent_dumps(a), 1);
	px = tagent_pixels(a, WIN_ID, &w, &h);
	T_ASSERT(px != NULL);
	T_EQ(w, WIN_W);
	T_EQ(h, WIN_H);
	T_EQ_U(px[0], COLOUR);
	T_EQ(tagent_expect(a, MSG_WINDOW_DUMP_ACK, 5000, &m), 0);
	T_EQ(m.window, WIN_ID);
	T_EQ(tagent_acks(a), 1);

	T_EQ(tagent_fill(a, WIN_ID, WIN_W, WIN_H, COLOUR2), 0);
	T_EQ(tagent_dumps(a), 2);
	T_EQ(tagent_expect_win(a, MSG_WINDOW_DUMP_ACK, WIN_ID, 5000, NULL), 0);
	T_EQ(tagent_acks(a), 2);
	T_EQ(tagent_paint(a, WIN_ID, 1, 1, 2, 2, COLOUR, false), 0);
	px = tagent_pixels(a, WIN_ID, NULL, NULL);
	T_EQ_U(px[0], COLOUR2);
	T_EQ_U(px[WIN_W + 1], COLOUR);
	T_EQ_U(px[2 * WIN_W + 2], COLOUR);
	T_EQ_U(px[3 * WIN_W + 3], COLOUR2);

	memset(&m, 0, sizeof(m));
	m.type = MSG_WMNAME;
	m.window = WIN_ID;
	strcpy(m.u.wmname.title, "sync");
	T_EQ(tagent_send(a, &m), 0);
	/* the daemon checks the release rule and exits: 0 when every check passed */
	rc = xrig_wait(*d1, 8000);
	if (rc >= 0) {
		*d1 = -1; /* reaped */
	}
	T_EQ(rc, 0);
	T_EQ(tagent_expect(a, 0, 2000, NULL), -1);
	T_ASSERT(tagent_disconnected(a));
	T_EQ(tagent_send(a, &m), -1);
	T_EQ(tagent_acks(a), 2);
}

static void tagent_body2(struct tagent *a)
{
	struct proto_msg m;
	/* a whole header (12 bytes) of an unknown type: a fatal violation for the daemon */
	const uint8_t junk[12] = { 0xff, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0, 0, 0, 0 };

	T_EQ(tagent_reaccept(a, 5000), 0);
	T_ASSERT(!tagent_disconnected(a));
	T_EQ(tagent_xconf(a)->w, 800);
	T_EQ(tagent_create(a, 9, 0, 0, 16, 16, false, NULL, false), 0);
	memset(&m, 0, sizeof(m));
	T_EQ(tagent_expect_win(a, MSG_CLOSE, 9, 5000, &m), 0);
	T_EQ(m.type, MSG_CLOSE);
	T_EQ(m.window, 9);
	/* raw bytes go out as they are (here: an invalid header after which the daemon gives up) */
	T_EQ(tagent_send_raw(a, junk, sizeof(junk)), 0);
}

static void test_tagent(void)
{
	const char *dir = xrig_socket_dir();
	pid_t d1 = -1, d2 = -1;
	struct tagent *a = NULL;
	int rc;

	T_ASSERT(dir != NULL);
	T_EQ(setenv("VCHAN_SOCKET_DIR", dir, 1), 0);
	d1 = fork_daemon(daemon_one);
	T_ASSERT(d1 > 0);
	setenv("VCHAN_DOMAIN", "2", 1);
	a = tagent_start(QGUI_BACKEND_SOCKET, 2, 1, 0);
	if (a == NULL) {
		test_fail(__FILE__, __LINE__, "tagent_start failed");
	} else {
		tagent_body(a, &d1);
	}
	if (d1 > 0) {
		rc = xrig_wait(d1, 0);
		if (rc < 0) {
			rc = xrig_stop(d1, 500);
		}
		test_fail(__FILE__, __LINE__, "first daemon: status %d (still running or not reaped)", rc);
	}
	/* second session on the same agent: reaccept, expect_win, send_raw */
	if (a != NULL && test_ok()) {
		d2 = fork_daemon(daemon_two);
		if (d2 > 0) {
			tagent_body2(a);
			rc = xrig_wait(d2, 5000);
			if (rc < 0) {
				rc = xrig_stop(d2, 500);
			}
			if (rc != 0) {
				test_fail(__FILE__, __LINE__, "second daemon exited with %d", rc);
			}
		} else {
			test_fail(__FILE__, __LINE__, "fork failed");
		}
	}
	tagent_destroy(a);
	unsetenv("VCHAN_DOMAIN");
}

TEST_MAIN(TEST(test_xvfb), TEST(test_xvfb_two), TEST(test_xephyr), TEST(test_spawn), TEST(test_spawn_parent_death),
		TEST(test_socket_dir), TEST(test_tagent))

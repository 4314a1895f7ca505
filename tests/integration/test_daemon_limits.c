/* test_daemon_limits.c: what one agent may cost (image memory, X server time) and borders kept on screen. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>

#include "gdfix.h"
#include "procwatch.h"
#include "test.h"

#define dpy gdfix_dpy
#define LABEL GDFIX_LABEL
#define T_MS GDFIX_MS
#define SW GDFIX_SCREEN_W
#define SH GDFIX_SCREEN_H

/* ------------------------------------------------------------------ image memory */

#define HOG_WINDOWS 48
#define HOG_SIZE 512 /* 1 MiB images: 2 MiB each on the copy path (buffer + pages) */

static void image_memory_budget(void)
{
	struct fixture hog, honest;
	struct gdfix_opts o;
	char shim[PATH_MAX];
	const char *const opts[] = { "-C", gdfix_conf("budget.conf", "max_image_memory = 16;"), NULL };
	struct proto_msg m;
	long before, after;

	T_EQ(gdfix_xen_opts(&o, shim, sizeof(shim)), 0);
	T_EQ(gdfix_start(&honest, NULL, NULL), 0);
	T_EQ(tagent_create(honest.a, 0x10, 700, 600, 100, 80, false, NULL, true), 0);
	T_EQ(tagent_fill(honest.a, 0x10, 100, 80, 0x102030), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 750, 640, 0x102030, T_MS));

	T_EQ(gdfix_start(&hog, &o, opts), 0);
	T_EQ(gdfix_barrier(&hog), 0);
	before = procwatch_rss_kib(hog.daemon);
	T_ASSERT(before > 0);
	/* 48 windows of 2 MiB on the copy path against a budget of 16 MiB, every pixel damaged */
	for (uint32_t i = 0; i < HOG_WINDOWS; i++) {
		T_EQ(tagent_create(hog.a, 0x100 + i, (int)(i % 8) * 10, (int)(i / 8) * 10, HOG_SIZE, HOG_SIZE, false, NULL,
				     true), 0);
		T_EQ(tagent_fill(hog.a, 0x100 + i, HOG_SIZE, HOG_SIZE, 0x400000 + i), 0);
		T_EQ(tagent_expect_win(hog.a, MSG_WINDOW_DUMP_ACK, 0x100 + i, T_MS, &m), 0);
		if (i % 8 == 7) {
			/* meanwhile the other agent is acknowledged and drawn as always */
			T_EQ(tagent_fill(honest.a, 0x10, 100, 80, 0x102030 + i), 0);
			T_EQ(tagent_expect_win(honest.a, MSG_WINDOW_DUMP_ACK, 0x10, T_MS, &m), 0);
			T_ASSERT(xrig_wait_pixel(dpy, 750, 640, 0x102030 + i, T_MS));
		}
	}
	T_EQ(gdfix_barrier(&hog), 0);
	after = procwatch_rss_kib(hog.daemon);
	/* refused, not ended: every dump acknowledged, the session goes on, one log line */
	T_EQ(tagent_acks(hog.a), tagent_dumps(hog.a));
	T_ASSERT(!tagent_disconnected(hog.a));
	T_EQ(xrig_wait(hog.daemon, 0), -1);
	T_EQ(procwatch_lines(hog.log, 0, "image memory over its budget", NULL, 0), 1);
	/* the first windows are drawn; the last one, over the budget, shows its background */
	T_EQ(xrig_root_pixel(dpy, 0 + 2 + 5, 0 + 2 + 5), 0x400000);
	T_EQ(xrig_root_pixel(dpy, 70 + 2 + 300, 50 + 2 + 300), 0xffffff);
	/* the budget (16 MiB) plus a margin, not 48 x 2 MiB */
	if (after - before > 16 * 1024 + 8 * 1024) {
		test_fail(__FILE__, __LINE__, "VmRSS grew by %ld KiB (from %ld)", after - before, before);
	}
	/* closing windows frees their share: a new image fits again */
	for (uint32_t i = 0; i < 4; i++) {
		T_EQ(tagent_send(hog.a, &(struct proto_msg){ .type = MSG_DESTROY, .window = 0x100 + i }), 0);
	}
	T_EQ(tagent_fill(hog.a, 0x100 + HOG_WINDOWS - 1, HOG_SIZE, HOG_SIZE, 0x00a0a0), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 70 + 2 + 300, 50 + 2 + 300, 0x00a0a0, T_MS));
	/* the honest agent still gets its updates */
	T_EQ(tagent_fill(honest.a, 0x10, 100, 80, 0x0f0e0d), 0);
	T_EQ(tagent_expect_win(honest.a, MSG_WINDOW_DUMP_ACK, 0x10, T_MS, &m), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 750, 640, 0x0f0e0d, T_MS));
	gdfix_stop(&hog);
	gdfix_stop(&honest);
}

/* ------------------------------------------------------------------ borders without a window manager */

/*
 * A normal window at (x, y) of w x h with no window manager: its frame is kept on the screen, so
 * the label colour shows on the border; the agent is told the geometry (content inside the border).
 */
static void border_kept_on_screen(int x, int y, uint32_t w, uint32_t h, int cx, int cy, int cw, int ch)
{
	struct fixture f;
	struct proto_msg m;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x20, x, y, w, h, false, NULL, true), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x20, T_MS, &m), 0);
	T_EQ(m.u.configure.x, cx);
	T_EQ(m.u.configure.y, cy);
	T_EQ(m.u.configure.width, cw);
	T_EQ(m.u.configure.height, ch);
	T_EQ(tagent_send(f.a, &m), 0); /* the agent's echo */
	T_EQ(tagent_fill(f.a, 0x20, (uint32_t)cw, (uint32_t)ch, 0x5a5a5a), 0);
	T_ASSERT(xrig_wait_pixel(dpy, cx + cw / 2, cy + ch / 2, 0x5a5a5a, T_MS));
	/* the border: just outside the content on each side, where the screen has room for it */
	T_EQ_U(xrig_root_pixel(dpy, cx - 1, cy + ch / 2), LABEL);
	T_EQ_U(xrig_root_pixel(dpy, cx + cw / 2, cy - 1), LABEL);
	T_EQ_U(xrig_root_pixel(dpy, cx + cw, cy + ch / 2), LABEL);
	T_EQ_U(xrig_root_pixel(dpy, cx + cw / 2, cy + ch), LABEL);
	gdfix_stop(&f);
}

static void border_on_screen_without_wm(void)
{
	/* full screen at (0, 0): the frame would be at (-2, -2), its border all off-screen */
	border_kept_on_screen(0, 0, SW, SH, 2, 2, SW - 4, SH - 4);
	/* larger than the screen, and beyond its top-left corner */
	border_kept_on_screen(-50, -40, SW + 300, SH + 200, 2, 2, SW - 4, SH - 4);
	/* partly off the left edge */
	border_kept_on_screen(-100, 100, 300, 200, 2, 100, 300, 200);
	/* partly off the bottom-right corner */
	border_kept_on_screen(SW - 100, SH - 50, 300, 200, SW - 2 - 300, SH - 2 - 200, 300, 200);
}

/*
 * Full screen asked for by the agent (WINDOW_FLAGS before MAP, as agents send it): without
 * allow_fullscreen the border stays on the screen; with it (the user's choice, as in
 * qubes-guid) the window covers the screen, and gets its border back when it leaves full screen.
 */
static void fullscreen_only_where_allowed(void)
{
	for (int allowed = 0; allowed < 2; allowed++) {
		const char *const conf[] = { "-C", gdfix_conf(allowed ? "fs1.conf" : "fs0.conf",
								 allowed ? "allow_fullscreen = true;" : "allow_fullscreen = false;"), NULL };
		struct fixture f;
		struct proto_msg m;
		int fx, fy;
		unsigned fw, fh;

		T_EQ(gdfix_start(&f, NULL, conf), 0);
		T_EQ(tagent_create(f.a, 0x40, 0, 0, SW, SH, false, NULL, false), 0);
		T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = 0x40,
					      .u.flags = { WINDOW_FLAG_FULLSCREEN, 0 } }), 0);
		T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_MAP, .window = 0x40 }), 0);
		if (allowed) {
			/* gdfix_barrier would swallow a CONFIGURE: none may come */
			T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x40, 500, &m), -1);
			T_EQ(tagent_fill(f.a, 0x40, SW, SH, 0x5a5a5a), 0);
			T_ASSERT(xrig_wait_pixel(dpy, 0, 0, 0x5a5a5a, T_MS));
			T_EQ(xrig_geometry(dpy, xrig_find_vm_window(dpy, "work", 0x40, T_MS), &fx, &fy, &fw, &fh), 0);
			T_EQ(fx, -2);
			T_EQ(fy, -2);
			/* out of full screen: back inside the screen with its border */
			T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = 0x40,
						      .u.flags = { 0, WINDOW_FLAG_FULLSCREEN } }), 0);
		}
		T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x40, T_MS, &m), 0);
		T_EQ(m.u.configure.x, 2);
		T_EQ(m.u.configure.y, 2);
		T_EQ(m.u.configure.width, SW - 4);
		T_EQ(tagent_send(f.a, &m), 0); /* the agent's echo */
		T_ASSERT(xrig_wait_pixel(dpy, 0, 0, LABEL, T_MS));
		T_EQ_U(xrig_root_pixel(dpy, SW - 1, SH / 2), LABEL);
		gdfix_stop(&f);
	}
}

/*
 * An agent cannot fill the log: of 500 ignored messages (negative damage rectangles, which
 * the reference ignores too) the first 32 are logged, then one line says the rest are
 * counted, and the count is logged when the session ends.
 */
static void ignored_messages_cannot_fill_the_log(void)
{
	struct fixture f;
	char line[256];

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x50, 10, 10, 40, 40, false, NULL, true), 0);
	for (int i = 0; i < 500; i++) {
		T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = 0x50,
					      .u.shmimage = { 0, 0, -1, 10 } }), 0);
	}
	T_EQ(gdfix_barrier(&f), 0);
	T_EQ(procwatch_lines(f.log, 0, "ignored a message", NULL, 0), 32);
	T_EQ(procwatch_lines(f.log, 0, "next ignored messages are counted, not logged", NULL, 0), 1);
	tagent_destroy(f.a); /* the agent goes: the session ends */
	f.a = NULL;
	for (int i = 0; i < T_MS / 10 && procwatch_lines(f.log, 0, "more ignored messages", NULL, 0) == 0; i++) {
		test_sleep_ms(10);
	}
	T_EQ(procwatch_lines(f.log, 0, "more ignored messages were not logged", line, sizeof(line)), 1);
	T_ASSERT(strstr(line, " 468 more") != NULL);
	gdfix_stop(&f);
}

/* With an EWMH window manager the manager places windows: the daemon does not move them. */
static void wm_places_normal_windows(void)
{
	struct fixture f;
	struct proto_msg m;
	Window root = DefaultRootWindow(dpy), check = XCreateSimpleWindow(dpy, root, 0, 0, 1, 1, 0, 0, 0);
	Atom a = XInternAtom(dpy, "_NET_SUPPORTING_WM_CHECK", False);
	int fx, fy;
	unsigned fw, fh;

	XChangeProperty(dpy, check, a, XA_WINDOW, 32, PropModeReplace, (unsigned char *)&check, 1);
	XChangeProperty(dpy, root, a, XA_WINDOW, 32, PropModeReplace, (unsigned char *)&check, 1);
	XSync(dpy, False);
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x30, 0, 0, SW, SH, false, NULL, true), 0);
	T_EQ(gdfix_barrier(&f), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x30, 300, &m), -1);
	T_EQ(xrig_geometry(dpy, xrig_find_vm_window(dpy, "work", 0x30, T_MS), &fx, &fy, &fw, &fh), 0);
	T_EQ(fx, -2);
	T_EQ(fy, -2);
	/* the manager goes away: the window is brought back on the screen */
	XDeleteProperty(dpy, root, a);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x30, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 2);
	T_EQ(m.u.configure.width, SW - 4);
	gdfix_stop(&f);
	XDestroyWindow(dpy, check);
	XSync(dpy, False);
}

/* ------------------------------------------------------------------ X server time */

#define FLOOD_WINDOWS 3000

/*
 * One agent floods CREATE/MAP; its daemon holds it to its share of X work (messages wait in
 * the connection), which is not a violation: every window is made in the end. Meanwhile the
 * other agent's updates keep being acknowledged and drawn.
 */
static void flood_is_paced_not_ended(void)
{
	struct fixture flood, honest;
	const char *const blue[] = { "-c", "0x0000ff", NULL };
	struct proto_msg m;

	T_EQ(gdfix_start(&honest, NULL, NULL), 0);
	T_EQ(tagent_create(honest.a, 0x10, 800, 600, 100, 80, false, NULL, true), 0);
	T_EQ(gdfix_start(&flood, NULL, blue), 0);
	for (uint32_t i = 0; i < FLOOD_WINDOWS; i++) {
		uint32_t id = 0x1000 + i;

		T_EQ(tagent_send(flood.a, &(struct proto_msg){ .type = MSG_CREATE, .window = id,
					      .u.create = { (int)(id * 37 % 500), (int)(id * 53 % 500), 60, 40, false } }),
				0);
		T_EQ(tagent_send(flood.a, &(struct proto_msg){ .type = MSG_MAP, .window = id }), 0);
		while (tagent_expect(flood.a, 0, 0, &m) == 0) {
			/* the daemon's MAP notifications */
		}
		if (i % 300 == 299) {
			uint32_t rgb = 0x200000 + i;

			T_EQ(tagent_fill(honest.a, 0x10, 100, 80, rgb), 0);
			T_EQ(tagent_expect_win(honest.a, MSG_WINDOW_DUMP_ACK, 0x10, T_MS, &m), 0);
			T_ASSERT(xrig_wait_pixel(dpy, 850, 640, rgb, T_MS));
		}
	}
	T_EQ(gdfix_barrier(&flood), 0);
	T_ASSERT(!tagent_disconnected(flood.a));
	T_EQ(xrig_wait(flood.daemon, 0), -1);
	T_ASSERT(xrig_find_vm_window(dpy, "work", 0x1000 + FLOOD_WINDOWS - 1, T_MS) != None);
	T_ASSERT(xrig_viewable(dpy, xrig_find_vm_window(dpy, "work", 0x1000 + FLOOD_WINDOWS - 1, T_MS)));
	gdfix_stop(&flood);
	gdfix_stop(&honest);
}

static const struct test_case cases[] = {
	TEST(image_memory_budget), TEST(border_on_screen_without_wm), TEST(fullscreen_only_where_allowed), TEST(ignored_messages_cannot_fill_the_log), TEST(wm_places_normal_windows),
	TEST(flood_is_paced_not_ended),
};

int main(int argc, char **argv)
{
	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

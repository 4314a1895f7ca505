/* test_daemon_policy.c: gui-daemon's window rules: override-redirect, flags, hints, the screen window, sessions. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>

#include "gdfix.h"
#include "test.h"

#define dpy gdfix_dpy
#define LABEL GDFIX_LABEL
#define T_MS GDFIX_MS

static bool frame_or(Window w)
{
	XWindowAttributes a;

	return XGetWindowAttributes(dpy, w, &a) && a.override_redirect;
}

static void or_menu_has_border(void)
{
	struct fixture f;
	Window w;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x10, 40, 30, 100, 50, true, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x10, 100, 50, 0xabcdef), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 60, 40, 0xabcdef, T_MS));
	w = xrig_find_vm_window(dpy, "work", 0x10, T_MS);
	T_ASSERT(w != None);
	T_ASSERT(frame_or(w));
	/* unmanaged windows carry the trusted border too */
	T_EQ(xrig_root_pixel(dpy, 39, 40), LABEL);
	T_EQ(xrig_root_pixel(dpy, 140, 80), LABEL);
	gdfix_stop(&f);
}

static void or_refused_when_huge_or_disabled(void)
{
	struct fixture f;
	const char *const disabled[] = { "--override-redirect=disabled", NULL };
	Window w;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	/* 1000x740 covers over 90 % of 1024x768 */
	T_EQ(tagent_create(f.a, 0x20, 0, 0, 1000, 740, true, NULL, false), 0);
	T_EQ(tagent_create(f.a, 0x21, 0, 0, 900, 700, true, NULL, false), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x20, T_MS);
	T_ASSERT(w != None && !frame_or(w));
	w = xrig_find_vm_window(dpy, "work", 0x21, T_MS);
	T_ASSERT(w != None && frame_or(w));
	gdfix_stop(&f);

	T_EQ(gdfix_start(&f, NULL, disabled), 0);
	T_EQ(tagent_create(f.a, 0x22, 0, 0, 20, 20, true, NULL, false), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x22, T_MS);
	T_ASSERT(w != None && !frame_or(w));
	gdfix_stop(&f);
}

static void or_forced_on_screen(void)
{
	struct fixture f;
	struct proto_msg m;
	Window w;
	int x, y;
	unsigned ww, hh;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x30, 900, 700, 200, 100, true, NULL, true), 0);
	/* the daemon moved it, border included, inside the screen, and says so */
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x30, T_MS, &m), 0);
	T_EQ(m.u.configure.x, GDFIX_SCREEN_W - 2 - 200);
	T_EQ(m.u.configure.y, GDFIX_SCREEN_H - 2 - 100);
	T_EQ(m.u.configure.width, 200);
	T_EQ(tagent_send(f.a, &m), 0); /* echo */
	T_EQ(tagent_fill(f.a, 0x30, 200, 100, 0x445566), 0);
	T_ASSERT(xrig_wait_pixel(dpy, GDFIX_SCREEN_W - 3, GDFIX_SCREEN_H - 3, 0x445566, T_MS));
	T_EQ(xrig_root_pixel(dpy, GDFIX_SCREEN_W - 1, GDFIX_SCREEN_H - 1), LABEL);
	/* a window entirely off-screen is left where it is */
	T_EQ(tagent_create(f.a, 0x31, 3000, 3000, 50, 50, true, NULL, true), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x31, T_MS);
	T_EQ(xrig_geometry(dpy, w, &x, &y, &ww, &hh), 0);
	T_EQ(x, 2998);
	T_EQ(y, 2998);
	gdfix_stop(&f);
}

static bool has_state(Window w, const char *name)
{
	unsigned long v[16];
	int format, n = xrig_get_cardinals(dpy, w, "_NET_WM_STATE", v, 16, &format);
	Atom a = XInternAtom(dpy, name, False);

	for (int i = 0; i < n; i++) {
		if (v[i] == a) {
			return true;
		}
	}
	return false;
}

static void fullscreen_is_maximise(void)
{
	struct fixture f;
	struct proto_msg m = { .type = MSG_WINDOW_FLAGS, .window = 0x40,
		.u.flags = { WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_DEMANDS_ATTENTION, 0 } };
	Window w;
	Atom st[2];

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x40, 10, 10, 100, 100, false, NULL, false), 0);
	T_EQ(tagent_send(f.a, &m), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x40, T_MS);
	T_ASSERT(w != None);
	T_ASSERT(has_state(w, "_NET_WM_STATE_MAXIMIZED_VERT"));
	T_ASSERT(has_state(w, "_NET_WM_STATE_MAXIMIZED_HORZ"));
	T_ASSERT(has_state(w, "_NET_WM_STATE_DEMANDS_ATTENTION"));
	T_ASSERT(!has_state(w, "_NET_WM_STATE_FULLSCREEN"));
	/* the request the agent made before mapping is not echoed back to it when the window maps */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_MAP, .window = 0x40 }), 0);
	T_EQ(tagent_expect_win(f.a, MSG_MAP, 0x40, T_MS, &m), 0);
	/* mapped: the agent asks for fullscreen; when the window manager maximises it, the agent hears "fullscreen" */
	T_EQ(tagent_create(f.a, 0x43, 10, 10, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_expect_win(f.a, MSG_MAP, 0x43, T_MS, &m), 0);
	w = xrig_find_vm_window(dpy, "work", 0x43, T_MS);
	T_ASSERT(w != None);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = 0x43,
					  .u.flags = { WINDOW_FLAG_FULLSCREEN, 0 } }), 0);
	T_EQ(gdfix_barrier(&f), 0);
	st[0] = XInternAtom(dpy, "_NET_WM_STATE_MAXIMIZED_VERT", False);
	st[1] = XInternAtom(dpy, "_NET_WM_STATE_MAXIMIZED_HORZ", False);
	XChangeProperty(dpy, w, XInternAtom(dpy, "_NET_WM_STATE", False), XA_ATOM, 32, PropModeReplace,
			(unsigned char *)st, 2);
	XSync(dpy, False);
	T_EQ(tagent_expect(f.a, MSG_WINDOW_FLAGS, T_MS, &m), 0);
	T_EQ(m.window, 0x43); /* nothing for 0x40, whose state did not change */
	T_EQ_U(m.u.flags.set, WINDOW_FLAG_FULLSCREEN);
	T_EQ(m.u.flags.unset, 0);
	gdfix_stop(&f);
}

static void real_fullscreen_when_allowed(void)
{
	struct fixture f;
	const char *const allow[] = { "-C", NULL, NULL };
	char conf[512];
	FILE *fp;
	Window w;

	snprintf(conf, sizeof(conf), "%s/guid-fs.conf", test_tmpdir());
	fp = fopen(conf, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "global: {\n  allow_fullscreen = true;\n};\n");
	fclose(fp);
	((const char **)allow)[1] = conf;
	T_EQ(gdfix_start(&f, NULL, allow), 0);
	T_EQ(tagent_create(f.a, 0x41, 10, 10, 100, 100, false, NULL, false), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = 0x41,
					  .u.flags = { WINDOW_FLAG_FULLSCREEN, 0 } }), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x41, T_MS);
	T_ASSERT(has_state(w, "_NET_WM_STATE_FULLSCREEN"));
	gdfix_stop(&f);
}

static void hints_filtered_and_sized_for_frame(void)
{
	struct fixture f;
	struct proto_msg m = { .type = MSG_WINDOW_HINTS, .window = 0x50,
		.u.hints = { QGUI_PMinSize | QGUI_PMaxSize | QGUI_PResizeInc, 50, 40, 300, 200, 5, 6, 0, 0 } };
	XSizeHints sh;
	long supplied;
	Window w;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x50, 10, 10, 100, 100, false, NULL, false), 0);
	T_EQ(tagent_send(f.a, &m), 0);
	/* raw hints with flags the filter must drop (aspect, gravity) */
	{
		uint8_t raw[12 + 36] = { 0 };
		uint32_t v[12] = { MSG_WINDOW_HINTS, 0x50, 36, QGUI_PAspect | QGUI_PWinGravity | QGUI_PMinSize, 7, 8 };

		memcpy(raw, v, sizeof(raw));
		T_EQ(tagent_send_raw(f.a, raw, sizeof(raw)), 0);
	}
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x50, T_MS);
	T_ASSERT(XGetWMNormalHints(dpy, w, &sh, &supplied));
	T_EQ(sh.flags & (PAspect | PWinGravity), 0);
	T_ASSERT(sh.flags & PMinSize);
	T_EQ(sh.min_width, 7 + 4); /* content size plus the border on both sides */
	T_EQ(sh.min_height, 8 + 4);
	gdfix_stop(&f);
}

/*
 * Window 0 (a whole-desktop framebuffer, as Qubes Windows Tools share it) paints the windows
 * that have no dump of their own, at their place, and a later SHMIMAGE of such a window
 * shows window 0's new pixels there (seamless mode): on the zero-copy path and on the copy
 * path (the Xen back-end under the shim: every window on Xen).
 */
static void screen_window_paints(bool xen)
{
	struct fixture f;
	struct gdfix_opts o;
	char shim[PATH_MAX];

	if (xen) {
		T_EQ(gdfix_xen_opts(&o, shim, sizeof(shim)), 0);
	}
	T_EQ(gdfix_start(&f, xen ? &o : NULL, NULL), 0);
	/* window 0: a whole-desktop framebuffer (not mapped itself) */
	T_EQ(tagent_create(f.a, 0, 0, 0, 400, 300, false, NULL, false), 0);
	T_EQ(tagent_fill(f.a, 0, 400, 300, 0x202020), 0);
	T_EQ(tagent_paint(f.a, 0, 100, 100, 50, 50, 0xe0e000, false), 0);
	/* a window without a dump of its own shows the screen image at its position */
	T_EQ(tagent_create(f.a, 0x60, 90, 90, 80, 80, false, NULL, true), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = 0x60,
					  .u.shmimage = { 0, 0, 80, 80 } }), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 120, 120, 0xe0e000, T_MS));
	T_EQ(xrig_root_pixel(dpy, 95, 95), 0x202020);
	T_EQ(xrig_root_pixel(dpy, 89, 95), LABEL);
	/* window 0 changes (no damage of its own: it is not mapped), the seamless window is damaged */
	T_EQ(tagent_paint(f.a, 0, 130, 130, 20, 20, 0x00c0c0, false), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = 0x60,
					  .u.shmimage = { 40, 40, 20, 20 } }), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 140, 140, 0x00c0c0, T_MS));
	T_EQ(xrig_root_pixel(dpy, 120, 120), 0xe0e000);
	gdfix_stop(&f);
}

static void screen_window_paints_others(void)
{
	screen_window_paints(false);
}

static void screen_window_paints_others_copy_path(void)
{
	screen_window_paints(true);
}

static void expose_repaints(void)
{
	struct fixture f;
	Window cover;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x70, 300, 300, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x70, 100, 100, 0x0a0b0c), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 350, 350, 0x0a0b0c, T_MS));
	cover = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 320, 320, 50, 50, 0, 0, 0xff0000);
	XSetWindowAttributes a = { .override_redirect = True };
	XChangeWindowAttributes(dpy, cover, CWOverrideRedirect, &a);
	XMapRaised(dpy, cover);
	XSync(dpy, False);
	T_ASSERT(xrig_wait_pixel(dpy, 340, 340, 0xff0000, T_MS));
	XDestroyWindow(dpy, cover);
	XSync(dpy, False);
	/* no new damage from the agent: the daemon repaints from the image on Expose */
	T_ASSERT(xrig_wait_pixel(dpy, 340, 340, 0x0a0b0c, T_MS));
	gdfix_stop(&f);
}

static void invisible_still_acks(void)
{
	struct fixture f;
	const char *const inv[] = { "-I", NULL };
	struct proto_msg m;

	T_EQ(gdfix_start(&f, NULL, inv), 0);
	T_EQ(tagent_create(f.a, 0x80, 500, 500, 60, 60, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x80, 60, 60, 0x998877), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, 0x80, T_MS, &m), 0);
	T_ASSERT(!xrig_viewable(dpy, xrig_find_vm_window(dpy, "work", 0x80, T_MS)));
	T_ASSERT(xrig_root_pixel(dpy, 530, 530) != 0x998877);
	gdfix_stop(&f);
}

static void unmapped_dump_acked(void)
{
	struct fixture f;
	struct proto_msg m;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x90, 0, 0, 32, 32, false, NULL, false), 0);
	T_EQ(tagent_fill(f.a, 0x90, 32, 32, 0x111111), 0);
	T_EQ(tagent_fill(f.a, 0x90, 32, 32, 0x222222), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, 0x90, T_MS, &m), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, 0x90, T_MS, &m), 0);
	gdfix_stop(&f);
}

static void reconnect_replaces_windows(void)
{
	struct fixture f;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0xa0, 600, 50, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0xa0, 100, 100, 0x0000aa), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 650, 100, 0x0000aa, T_MS));
	/* the agent goes away and comes back (as after a VM-side restart), replaying its windows */
	T_EQ(tagent_reaccept(f.a, 3 * T_MS), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 650, 100, 0x000000, T_MS)); /* the old window is gone */
	T_EQ(tagent_create(f.a, 0xa1, 600, 300, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0xa1, 100, 100, 0x00aa00), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 650, 350, 0x00aa00, T_MS));
	T_ASSERT(xrig_find_vm_window(dpy, "work", 0xa0, 50) == None);
	gdfix_stop(&f);
}

static void hostile_agent_ends_only_its_session(void)
{
	static const struct {
		const char *what;
		uint32_t words[10];
		size_t n;
	} attacks[] = {
		{ "duplicate create", { MSG_CREATE, 0xc0, 24, 0, 0, 10, 10, 0, 0 }, 9 },
		{ "unknown type", { 77, 0xc0, 0 }, 3 },
		{ "daemon-only type", { MSG_KEYPRESS, 0xc0, 20, 2, 0, 0, 0, 38 }, 8 },
		{ "wrong length", { MSG_MAP, 0xc0, 12, 0, 0, 0 }, 6 },
		{ "dump with too few pages", { MSG_WINDOW_DUMP, 0xc0, 20, 0, 64, 64, 32, 5 }, 8 },
		{ "refs never granted", { MSG_WINDOW_DUMP, 0xc0, 20, 0, 16, 16, 32, 0x7777 }, 8 },
	};
	struct fixture good, bad;
	const char *const red[] = { "-c", "0xff0000", NULL };

	T_EQ(gdfix_start(&good, NULL, red), 0);
	T_EQ(tagent_create(good.a, 0xd0, 700, 500, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_fill(good.a, 0xd0, 100, 100, 0x505050), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 750, 550, 0x505050, T_MS));
	T_EQ(xrig_root_pixel(dpy, 699, 550), 0xff0000);
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		uint32_t rgb = 0x010101u * (uint32_t)(i + 1);

		T_EQ(gdfix_start(&bad, NULL, NULL), 0);
		T_EQ(tagent_create(bad.a, 0xc0, 100, 500, 50, 50, false, NULL, true), 0);
		T_EQ(tagent_send_raw(bad.a, attacks[i].words, attacks[i].n * 4), 0);
		if (xrig_wait(bad.daemon, T_MS) != 3) {
			test_fail(__FILE__, __LINE__, "attack '%s' did not end the session with status 3", attacks[i].what);
			gdfix_show_log(&bad);
			gdfix_stop(&bad);
			return;
		}
		bad.daemon = 0;
		gdfix_stop(&bad);
		/* the other VM's daemon is alive and still drawing */
		T_EQ(tagent_fill(good.a, 0xd0, 100, 100, rgb), 0);
		T_ASSERT(xrig_wait_pixel(dpy, 750, 550, rgb, T_MS));
	}
	gdfix_stop(&good);
}

static void xen_backend_under_shim(void)
{
	struct fixture f;
	struct gdfix_opts o;
	char shim[PATH_MAX];

	T_EQ(gdfix_xen_opts(&o, shim, sizeof(shim)), 0);
	T_EQ(gdfix_start(&f, &o, NULL), 0);
	T_EQ(tagent_create(f.a, 0xe0, 200, 600, 120, 60, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0xe0, 120, 60, 0x3c5a78), 0);
	/* the Xen path maps the grants and copies damaged rectangles */
	T_ASSERT(xrig_wait_pixel(dpy, 250, 620, 0x3c5a78, T_MS));
	T_EQ(tagent_paint(f.a, 0xe0, 10, 10, 20, 20, 0xffeedd, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 215, 615, 0xffeedd, T_MS));
	T_EQ(xrig_root_pixel(dpy, 199, 620), LABEL);
	gdfix_stop(&f);
}


static void delayed_input_keeps_order(void)
{
	struct fixture f;
	const char *const delay[] = { "-C", NULL, NULL };
	char conf[512];
	FILE *fp;
	struct proto_msg m;

	snprintf(conf, sizeof(conf), "%s/guid-delay.conf", test_tmpdir());
	fp = fopen(conf, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "global: {\n  events_max_delay = 40;\n};\n");
	fclose(fp);
	((const char **)delay)[1] = conf;
	T_EQ(gdfix_start(&f, NULL, delay), 0);
	T_EQ(tagent_create(f.a, 0xf0, 400, 400, 100, 100, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0xf0, 100, 100, 0x0f0f0f), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 450, 450, 0x0f0f0f, T_MS));
	for (int i = 0; i < 30; i++) {
		XTestFakeMotionEvent(dpy, 0, 410 + i, 420, 0);
	}
	XSync(dpy, False);
	/* every motion arrives, in order, whatever its random delay */
	for (int i = 0; i < 30; i++) {
		T_EQ(tagent_expect_win(f.a, MSG_MOTION, 0xf0, T_MS, &m), 0);
		T_EQ(m.u.motion.x, 10 + i);
	}
	XTestFakeMotionEvent(dpy, 0, 5, 5, 0);
	XSync(dpy, False);
	gdfix_stop(&f);
}


/* Waits (as the window manager) for a ClientMessage of type to the root about window w; returns it in *out. */
static bool wm_gets(Atom type, Window w, XClientMessageEvent *out)
{
	for (int i = 0; i < T_MS / 5; i++) {
		while (XPending(dpy)) {
			XEvent e;

			XNextEvent(dpy, &e);
			if (e.type == MapRequest) {
				XMapWindow(dpy, e.xmaprequest.window); /* a window manager that maps everything */
			} else if (e.type == ClientMessage && e.xclient.message_type == type && e.xclient.window == w) {
				*out = e.xclient;
				return true;
			}
		}
		XSync(dpy, False);
		usleep(5000);
	}
	return false;
}

static void minimise_and_attention_reach_the_wm(void)
{
	struct fixture f;
	XClientMessageEvent c;
	Window w, root = DefaultRootWindow(dpy);

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	XSelectInput(dpy, root, SubstructureRedirectMask); /* the test plays the window manager */
	XSync(dpy, False);
	T_EQ(tagent_create(f.a, 0x42, 50, 50, 80, 80, false, NULL, true), 0);
	w = xrig_find_vm_window(dpy, "work", 0x42, T_MS);
	T_ASSERT(w != None);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = 0x42,
					  .u.flags = { WINDOW_FLAG_DEMANDS_ATTENTION, 0 } }), 0);
	T_ASSERT(wm_gets(XInternAtom(dpy, "_NET_WM_STATE", False), w, &c));
	T_EQ(c.data.l[0], 1); /* add */
	T_EQ(c.data.l[1], (long)XInternAtom(dpy, "_NET_WM_STATE_DEMANDS_ATTENTION", False));
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = 0x42,
					  .u.flags = { WINDOW_FLAG_MINIMIZE, 0 } }), 0);
	T_ASSERT(wm_gets(XInternAtom(dpy, "WM_CHANGE_STATE", False), w, &c));
	T_EQ(c.data.l[0], IconicState);
	XSelectInput(dpy, root, NoEventMask);
	XSync(dpy, False);
	gdfix_stop(&f);
}

static const struct test_case cases[] = {
	TEST(or_menu_has_border), TEST(or_refused_when_huge_or_disabled), TEST(or_forced_on_screen),
	TEST(fullscreen_is_maximise), TEST(real_fullscreen_when_allowed), TEST(hints_filtered_and_sized_for_frame),
	TEST(screen_window_paints_others), TEST(screen_window_paints_others_copy_path), TEST(expose_repaints), TEST(invisible_still_acks),
	TEST(unmapped_dump_acked), TEST(reconnect_replaces_windows), TEST(hostile_agent_ends_only_its_session),
	TEST(xen_backend_under_shim), TEST(delayed_input_keeps_order), TEST(minimise_and_attention_reach_the_wm),
};

int main(int argc, char **argv)
{
	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

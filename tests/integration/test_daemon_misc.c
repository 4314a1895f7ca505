/* test_daemon_misc.c: gui-daemon's identity options, titles, icon, close and focus, screen lockers, work area. */
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include "gdfix.h"
#include "test.h"

#define dpy gdfix_dpy
#define LABEL GDFIX_LABEL
#define T_MS GDFIX_MS

static void extra_props_and_title_prefix(void)
{
	struct fixture f;
	const char *const opts[] = { "-T", "-p", "_KDE_NET_WM_COLOR_SCHEME=s:/usr/share/color-schemes/green",
		"-p", "_TEST_CARDS=c:1,2,300", "-p", "_TEST_ATOM=a:WM_NAME", NULL };
	unsigned long v[8];
	int format;
	char s[256];
	Window w;

	T_EQ(gdfix_start(&f, NULL, opts), 0);
	T_EQ(tagent_create(f.a, 0x10, 10, 10, 40, 40, false, "editor", false), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x10, T_MS);
	T_ASSERT(w != None);
	T_EQ(xrig_get_string(dpy, w, "_NET_WM_NAME", s, sizeof(s)), 0);
	T_STR(s, "[work] editor");
	T_EQ(xrig_get_string(dpy, w, "_KDE_NET_WM_COLOR_SCHEME", s, sizeof(s)), 0);
	T_STR(s, "/usr/share/color-schemes/green");
	T_EQ(xrig_get_cardinals(dpy, w, "_TEST_CARDS", v, 8, &format), 3);
	T_EQ(v[2], 300);
	T_EQ(xrig_get_cardinals(dpy, w, "_TEST_ATOM", v, 8, &format), 1);
	T_EQ(v[0], XA_WM_NAME);
	gdfix_stop(&f);
}

static void utf8_titles(void)
{
	struct fixture f;
	const char *const utf8[] = { "-C", gdfix_conf("utf8.conf", "allow_utf8_titles = true;"), NULL };
	char s[256];
	Window w;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x20, 10, 10, 40, 40, false, "caf\xc3\xa9 \xe2\x80\xa6", false), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x20, T_MS);
	T_EQ(xrig_get_string(dpy, w, "_NET_WM_NAME", s, sizeof(s)), 0);
	T_STR(s, "caf__ ...");
	gdfix_stop(&f);

	T_EQ(gdfix_start(&f, NULL, utf8), 0);
	T_EQ(tagent_create(f.a, 0x21, 10, 10, 40, 40, false, "caf\xc3\xa9 \xe2\x80\xa6 \xed\xa0\x80", false), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x21, T_MS);
	T_EQ(xrig_get_string(dpy, w, "_NET_WM_NAME", s, sizeof(s)), 0);
	T_STR(s, "caf\xc3\xa9 \xe2\x80\xa6 ___"); /* a surrogate is not valid UTF-8 */
	gdfix_stop(&f);
}

/* The title of window id as _NET_WM_NAME and WM_NAME show it (both must agree), into out. */
static int title_of(uint32_t id, char *out, size_t len)
{
	char wm[256];
	Window w = xrig_find_vm_window(dpy, "work", id, T_MS);

	if (w == None || xrig_get_string(dpy, w, "_NET_WM_NAME", out, len) != 0 ||
			xrig_get_string(dpy, w, "WM_NAME", wm, sizeof(wm)) != 0 || strcmp(out, wm) != 0) {
		return -1;
	}
	return 0;
}

static void titles_imitating_a_prefix(void)
{
	static const struct {
		const char *title, *shown;
	} cases[] = {
		{ "[dom0] Terminal", "[work] [dom0] Terminal" },
		{ "  [personal] mail", "[work]   [personal] mail" },
		{ "[", "[work] [" },
		{ "editor [draft]", "editor [draft]" },
		{ "_[dom0] x", "_[dom0] x" },
		/* a right-to-left override would make "]0mod[" read as "[dom0]": it is replaced, the prefix stays */
		{ "\xe2\x80\xae]0mod[ x", "___]0mod[ x" },
		/* look-alike brackets (UTF-8 titles allowed): U+FF3B, U+3010 */
		{ "\xef\xbc\xbb" "dom0\xef\xbc\xbd x", "[work] \xef\xbc\xbb" "dom0\xef\xbc\xbd x" },
		{ "\xe3\x80\x90" "dom0\xe3\x80\x91 x", "[work] \xe3\x80\x90" "dom0\xe3\x80\x91 x" },
		/* blanks first: U+00A0, U+3000 */
		{ "\xc2\xa0\xe3\x80\x80[dom0] x", "[work] \xc2\xa0\xe3\x80\x80[dom0] x" },
		/* titles in other scripts are not brackets: left alone */
		{ "\xc3\x89" "diteur", "\xc3\x89" "diteur" },
		{ "\xe6\x96\x87\xe6\x9b\xb8", "\xe6\x96\x87\xe6\x9b\xb8" },
	};
	struct fixture f;
	const char *const utf8[] = { "-C", gdfix_conf("utf8p.conf", "allow_utf8_titles = true;"), NULL };
	char s[256];

	/* no -T, no Qubes-aware window manager (none at all here) */
	T_EQ(gdfix_start(&f, NULL, utf8), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_EQ(tagent_create(f.a, 0x80 + (uint32_t)i, 10, 10, 40, 40, false, cases[i].title, false), 0);
	}
	T_EQ(gdfix_barrier(&f), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_EQ(title_of(0x80 + (uint32_t)i, s, sizeof(s)), 0);
		T_STR(s, cases[i].shown);
	}
	/* a later WMNAME is judged again */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_WMNAME, .window = 0x83,
				      .u.wmname = { "[dom0] root shell" } }), 0);
	T_EQ(gdfix_barrier(&f), 0);
	T_EQ(title_of(0x83, s, sizeof(s)), 0);
	T_STR(s, "[work] [dom0] root shell");
	gdfix_stop(&f);
}

static void icon_from_png(void)
{
	struct fixture f;
	char path[512];
	const char *opts[] = { "-i", path, NULL };
	uint32_t px[16 * 16];
	png_image img;
	unsigned long v[4];
	int format;
	XClassHint ch;
	Window w;

	snprintf(path, sizeof(path), "%s/icon.png", test_tmpdir());
	for (int i = 0; i < 16 * 16; i++) {
		px[i] = 0xff112233; /* BGRA bytes in memory: 33 22 11 ff */
	}
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = 16;
	img.height = 16;
	img.format = PNG_FORMAT_BGRA;
	T_ASSERT(png_image_write_to_file(&img, path, 0, px, 0, NULL));
	T_EQ(gdfix_start(&f, NULL, opts), 0);
	T_EQ(tagent_create(f.a, 0x30, 10, 10, 40, 40, false, NULL, false), 0);
	T_EQ(gdfix_barrier(&f), 0);
	w = xrig_find_vm_window(dpy, "work", 0x30, T_MS);
	T_EQ(xrig_get_cardinals(dpy, w, "_NET_WM_ICON", v, 4, &format), 4);
	T_EQ(v[0], 16);
	T_EQ(v[1], 16);
	T_EQ(v[2] & 0xffffffffu, 0xff112233); /* Xlib sign-extends format-32 items */
	/* with an icon file the class is the VM's name until the agent sends its own */
	T_ASSERT(XGetClassHint(dpy, w, &ch));
	T_STR(ch.res_class, "work");
	XFree(ch.res_name);
	XFree(ch.res_class);
	gdfix_stop(&f);
}

static void close_and_focus(void)
{
	struct fixture f;
	struct proto_msg m;
	XEvent e;
	Window w;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x40, 300, 300, 100, 100, false, NULL, true), 0);
	w = xrig_find_vm_window(dpy, "work", 0x40, T_MS);
	T_ASSERT(w != None);
	T_EQ(tagent_expect_win(f.a, MSG_MAP, 0x40, T_MS, &m), 0);
	/* a window manager's close button: WM_DELETE_WINDOW becomes MSG_CLOSE */
	memset(&e, 0, sizeof(e));
	e.xclient.type = ClientMessage;
	e.xclient.window = w;
	e.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
	e.xclient.format = 32;
	e.xclient.data.l[0] = (long)XInternAtom(dpy, "WM_DELETE_WINDOW", False);
	XSendEvent(dpy, w, False, NoEventMask, &e);
	XSync(dpy, False);
	T_EQ(tagent_expect_win(f.a, MSG_CLOSE, 0x40, T_MS, &m), 0);
	/* focus: the keymap first, then FocusIn with mode NotifyNormal */
	XSetInputFocus(dpy, w, RevertToParent, CurrentTime);
	XSync(dpy, False);
	T_EQ(tagent_expect(f.a, MSG_KEYMAP_NOTIFY, T_MS, &m), 0);
	T_EQ(tagent_expect_win(f.a, MSG_FOCUS, 0x40, T_MS, &m), 0);
	T_EQ(m.u.focus.type, QGUI_FocusIn);
	T_EQ(m.u.focus.mode, 0);
	XSetInputFocus(dpy, PointerRoot, RevertToPointerRoot, CurrentTime);
	XSync(dpy, False);
	gdfix_stop(&f);
}

static void menus_stay_below_screen_locker(void)
{
	struct fixture f;
	Window locker;
	XClassHint ch = { "xscreensaver", "XScreenSaver" };
	XSetWindowAttributes a = { .override_redirect = True, .background_pixel = 0x8000ff };

	locker = XCreateWindow(dpy, DefaultRootWindow(dpy), 0, 0, GDFIX_SCREEN_W, GDFIX_SCREEN_H, 0, CopyFromParent,
			InputOutput, CopyFromParent, CWOverrideRedirect | CWBackPixel, &a);
	XSetClassHint(dpy, locker, &ch);
	XMapRaised(dpy, locker);
	XSync(dpy, False);
	T_ASSERT(xrig_wait_pixel(dpy, 500, 500, 0x8000ff, T_MS));
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x50, 480, 480, 60, 60, true, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x50, 60, 60, 0x00ffff), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, 0x50, T_MS, &(struct proto_msg){ 0 }), 0);
	T_EQ(gdfix_barrier(&f), 0);
	/* the VM's menu is mapped but stays under the locker */
	T_ASSERT(xrig_viewable(dpy, xrig_find_vm_window(dpy, "work", 0x50, T_MS)));
	T_EQ(xrig_root_pixel(dpy, 500, 500), 0x8000ff);
	XDestroyWindow(dpy, locker);
	XSync(dpy, False);
	T_ASSERT(xrig_wait_pixel(dpy, 500, 500, 0x00ffff, T_MS));
	gdfix_stop(&f);
}

static void work_area_limits_menus(void)
{
	struct fixture f;
	struct proto_msg m;
	long wa[4] = { 0, 0, 600, 500 }, cur = 0;
	Atom workarea = XInternAtom(dpy, "_NET_WORKAREA", False);

	XChangeProperty(dpy, DefaultRootWindow(dpy), XInternAtom(dpy, "_NET_CURRENT_DESKTOP", False), XA_CARDINAL, 32,
			PropModeReplace, (unsigned char *)&cur, 1);
	XChangeProperty(dpy, DefaultRootWindow(dpy), workarea, XA_CARDINAL, 32, PropModeReplace, (unsigned char *)wa, 4);
	XSync(dpy, False);
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x60, 550, 450, 100, 100, true, NULL, true), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x60, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 600 - 2 - 100);
	T_EQ(m.u.configure.y, 500 - 2 - 100);
	/* an absurd work area is ignored (upstream crashed on one, #8824): the screen is used instead */
	wa[2] = 1L << 30;
	XChangeProperty(dpy, DefaultRootWindow(dpy), workarea, XA_CARDINAL, 32, PropModeReplace, (unsigned char *)wa, 4);
	XSync(dpy, False);
	T_EQ(tagent_send(f.a, &m), 0); /* echo */
	T_EQ(tagent_create(f.a, 0x61, 950, 700, 100, 100, true, NULL, true), 0);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x61, T_MS, &m), 0);
	T_EQ(m.u.configure.x, GDFIX_SCREEN_W - 2 - 100);
	XDeleteProperty(dpy, DefaultRootWindow(dpy), workarea);
	XSync(dpy, False);
	gdfix_stop(&f);
}


static void sighup_rereads_and_continues(void)
{
	struct fixture f;

	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x70, 100, 600, 80, 60, true, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x70, 80, 60, 0x135724), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 120, 620, 0x135724, T_MS));
	T_EQ(kill(f.daemon, SIGHUP), 0);
	T_EQ(gdfix_barrier(&f), 0);
	T_EQ(tagent_fill(f.a, 0x70, 80, 60, 0x246813), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 120, 620, 0x246813, T_MS));
	T_EQ(xrig_root_pixel(dpy, 99, 620), LABEL);
	gdfix_stop(&f);
}

static const struct test_case cases[] = {
	TEST(extra_props_and_title_prefix), TEST(utf8_titles), TEST(titles_imitating_a_prefix), TEST(icon_from_png), TEST(close_and_focus),
	TEST(menus_stay_below_screen_locker), TEST(work_area_limits_menus), TEST(sighup_rereads_and_continues),
};

int main(int argc, char **argv)
{
	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

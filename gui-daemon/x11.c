/* x11.c: gui-daemon's X side: windows with trusted borders, properties, images, input events. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib-xcb.h>
#include <X11/Xlib.h>
#include <X11/Xresource.h>
#include <X11/Xutil.h>
#include <X11/cursorfont.h>
#include <xcb/shm.h>

#include "qgui/grant.h"
#include "qgui/log.h"
#include "x11.h"
#include "xerr.h"

/* The X side of an image: a segment the server reads, at an offset. */
struct ximg {
	uint32_t seg;
	uint32_t offset;
	uint8_t *own;     /* our copy buffer (copy path), else NULL */
	size_t own_size;
	uint32_t w, h;    /* own: its size in pixels (stride w * 4) */
	size_t charged;   /* what it counts against the image memory budget */
};

enum atom_id {
	A_QUBES_VMNAME, A_QUBES_LABEL, A_QUBES_LABEL_COLOR, A_QUBES_VMWINDOWID, A_NET_WM_PID, A_WM_PROTOCOLS,
	A_WM_DELETE_WINDOW, A_NET_WM_PING, A_NET_WM_NAME, A_NET_WM_ICON_NAME, A_UTF8_STRING, A_NET_WM_ICON,
	A_NET_WM_STATE, A_NET_WM_STATE_FULLSCREEN, A_NET_WM_STATE_DEMANDS_ATTENTION, A_NET_WM_STATE_HIDDEN,
	A_NET_WM_STATE_MAXIMIZED_VERT, A_NET_WM_STATE_MAXIMIZED_HORZ, A_NET_WORKAREA, A_NET_CURRENT_DESKTOP,
	A_XEMBED, A_XEMBED_INFO, A_NET_SYSTEM_TRAY_OPCODE, A_NET_SYSTEM_TRAY_S0, A_MANAGER, A_NET_SUPPORTING_WM_CHECK,
	A_COUNT
};

static const char *const atom_names[A_COUNT] = {
	"_QUBES_VMNAME", "_QUBES_LABEL", "_QUBES_LABEL_COLOR", "_QUBES_VMWINDOWID", "_NET_WM_PID", "WM_PROTOCOLS",
	"WM_DELETE_WINDOW", "_NET_WM_PING", "_NET_WM_NAME", "_NET_WM_ICON_NAME", "UTF8_STRING", "_NET_WM_ICON",
	"_NET_WM_STATE", "_NET_WM_STATE_FULLSCREEN", "_NET_WM_STATE_DEMANDS_ATTENTION", "_NET_WM_STATE_HIDDEN",
	"_NET_WM_STATE_MAXIMIZED_VERT", "_NET_WM_STATE_MAXIMIZED_HORZ", "_NET_WORKAREA", "_NET_CURRENT_DESKTOP",
	"_XEMBED", "_XEMBED_INFO", "_NET_SYSTEM_TRAY_OPCODE", "_NET_SYSTEM_TRAY_S0", "MANAGER",
	"_NET_SUPPORTING_WM_CHECK",
};

#define MAX_DOCKED 64

struct x11 {
	const struct gd_config *cfg;
	const struct x11_events *ev;
	void *ctx;
	Display *dpy;
	xcb_connection_t *xcb;
	int screen;
	Window root;
	Visual *visual;
	GC gc;
	XContext wctx;
	Atom atoms[A_COUNT];
	unsigned long label_pixel, bg_pixel;
	uint32_t label_rgb;
	uint32_t root_w, root_h, depth;
	struct rect work;
	KeyCode copy_key, paste_key;
	unsigned long *icon;   /* _NET_WM_ICON data, or NULL */
	size_t icon_len;
	char hostname[256];
	Cursor cursors[XC_num_glyphs];
	struct gwin *docked[MAX_DOCKED];
	size_t ndocked;
	Window tray_owner;
	uint64_t img_bytes, img_max; /* the copy path's memory in use, and the budget (max_image_memory) */
	bool wm_present;             /* an EWMH window manager runs (_NET_SUPPORTING_WM_CHECK) */
	uint64_t put_pixels;         /* pixels put so far (x11_work) */
};

static void ximg_free(struct x11 *x, struct ximg *xi);

/* "0xRRGGBB" or an X colour name into a pixel value of the default colormap. */
static int resolve_color(struct x11 *x, const char *spec, unsigned long *pixel, uint32_t *rgb)
{
	XColor c;

	if (strncmp(spec, "0x", 2) == 0 && strlen(spec) == 8 && strspn(spec + 2, "0123456789abcdefABCDEF") == 6) {
		unsigned long v = strtoul(spec + 2, NULL, 16);

		c.red = (unsigned short)(((v >> 16) & 0xff) * 257);
		c.green = (unsigned short)(((v >> 8) & 0xff) * 257);
		c.blue = (unsigned short)((v & 0xff) * 257);
	} else if (!XParseColor(x->dpy, DefaultColormap(x->dpy, x->screen), spec, &c)) {
		return -1;
	}
	c.flags = DoRed | DoGreen | DoBlue;
	if (!XAllocColor(x->dpy, DefaultColormap(x->dpy, x->screen), &c)) {
		return -1;
	}
	*pixel = c.pixel;
	if (rgb) {
		*rgb = (uint32_t)(c.red >> 8) << 16 | (uint32_t)(c.green >> 8) << 8 | (uint32_t)(c.blue >> 8);
	}
	return 0;
}

/* Loads a PNG into _NET_WM_ICON form (width, height, ARGB pixels as longs). */
static void load_icon(struct x11 *x, const char *path)
{
	png_image img;
	uint32_t *px;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path)) {
		log_info("cannot read icon %s: %s", path, img.message);
		return;
	}
	img.format = PNG_FORMAT_BGRA;
	if (img.width > 512 || img.height > 512) {
		log_info("icon %s is larger than 512x512, not used", path);
		png_image_free(&img);
		return;
	}
	px = malloc(PNG_IMAGE_SIZE(img));
	x->icon = calloc(2 + (size_t)img.width * img.height, sizeof(unsigned long));
	if (px == NULL || x->icon == NULL || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
		log_info("cannot decode icon %s", path);
		free(px);
		free(x->icon);
		x->icon = NULL;
		return;
	}
	x->icon[0] = img.width;
	x->icon[1] = img.height;
	for (size_t i = 0; i < (size_t)img.width * img.height; i++) {
		x->icon[2 + i] = px[i]; /* BGRA bytes = 0xAARRGGBB little-endian */
	}
	x->icon_len = 2 + (size_t)img.width * img.height;
	free(px);
}

static void read_workarea(struct x11 *x)
{
	Atom type;
	int format;
	unsigned long n, after;
	unsigned char *data = NULL;
	long desktop = 0;

	x->work = (struct rect){ 0, 0, (int32_t)x->root_w, (int32_t)x->root_h };
	if (XGetWindowProperty(x->dpy, x->root, x->atoms[A_NET_CURRENT_DESKTOP], 0, 1, False, XA_CARDINAL, &type,
			    &format, &n, &after, &data) == Success && data) {
		if (format == 32 && n == 1) {
			desktop = ((long *)data)[0];
		}
		XFree(data);
		data = NULL;
	}
	if (desktop < 0 || desktop > (1 << 20)) {
		return; /* absurd: keep the whole screen (upstream crashed on such values, #8824) */
	}
	if (XGetWindowProperty(x->dpy, x->root, x->atoms[A_NET_WORKAREA], desktop * 4, 4, False, XA_CARDINAL, &type,
			    &format, &n, &after, &data) == Success && data) {
		long *v = (long *)data;

		if (format == 32 && n == 4 && v[0] >= 0 && v[1] >= 0 && v[2] > 0 && v[3] > 0 && v[0] < (1 << 20) &&
				v[1] < (1 << 20) && v[2] <= (1 << 20) && v[3] <= (1 << 20)) {
			x->work = (struct rect){ (int32_t)v[0], (int32_t)v[1], (int32_t)v[2], (int32_t)v[3] };
		}
		XFree(data);
	}
}

/* The window _NET_SUPPORTING_WM_CHECK of win names, or None. */
static Window wm_check(struct x11 *x, Window win)
{
	Atom type;
	int format;
	unsigned long n, after;
	unsigned char *data = NULL;
	Window v = None;

	if (XGetWindowProperty(x->dpy, win, x->atoms[A_NET_SUPPORTING_WM_CHECK], 0, 1, False, XA_WINDOW, &type,
			    &format, &n, &after, &data) == Success && data) {
		if (format == 32 && n == 1) {
			v = (Window)((unsigned long *)data)[0];
		}
		XFree(data);
	}
	return v;
}

/* EWMH: a window manager runs when the root's check window names itself too (a stale property does not). */
static void read_wm(struct x11 *x)
{
	Window w = wm_check(x, x->root);

	x->wm_present = w != None && wm_check(x, w) == w;
}

bool x11_wm_manages(const struct x11 *x, const struct gwin *w)
{
	return x->wm_present || w->reparented;
}

static void read_screen(struct x11 *x)
{
	XWindowAttributes a;

	if (XGetWindowAttributes(x->dpy, x->root, &a)) {
		x->root_w = (uint32_t)a.width;
		x->root_h = (uint32_t)a.height;
		x->depth = (uint32_t)a.depth;
	}
	read_workarea(x);
	read_wm(x);
	x->img_max = config_image_budget(x->cfg, x->root_w, x->root_h);
}

void x11_reread_screen(struct x11 *x)
{
	read_screen(x);
}

struct x11 *x11_open(const struct gd_config *cfg, const struct x11_events *ev, void *ctx)
{
	struct x11 *x = calloc(1, sizeof(*x));
	xcb_shm_query_version_reply_t *shm;
	KeySym ks;

	if (x == NULL) {
		return NULL;
	}
	x->cfg = cfg;
	x->ev = ev;
	x->ctx = ctx;
	x->dpy = XOpenDisplay(NULL);
	if (x->dpy == NULL) {
		log_error("cannot open the X display %.64s", getenv("DISPLAY") ? getenv("DISPLAY") : "(DISPLAY unset)");
		free(x);
		return NULL;
	}
	xerr_install(); /* errors an agent can provoke (a window it destroyed, a bad size) must not end the daemon */
	x->xcb = XGetXCBConnection(x->dpy);
	x->screen = DefaultScreen(x->dpy);
	x->root = RootWindow(x->dpy, x->screen);
	x->visual = DefaultVisual(x->dpy, x->screen);
	shm = xcb_shm_query_version_reply(x->xcb, xcb_shm_query_version(x->xcb), NULL);
	if (shm == NULL || shm->major_version < 1 || (shm->major_version == 1 && shm->minor_version < 2) ||
			DefaultDepth(x->dpy, x->screen) != 24) {
		log_error("the X server needs MIT-SHM 1.2 (fd passing) and a depth-24 default visual");
		free(shm);
		XCloseDisplay(x->dpy);
		free(x);
		return NULL;
	}
	free(shm);
	XInternAtoms(x->dpy, (char **)atom_names, A_COUNT, False, x->atoms);
	{
		char name[32];

		snprintf(name, sizeof(name), "_NET_SYSTEM_TRAY_S%d", x->screen);
		x->atoms[A_NET_SYSTEM_TRAY_S0] = XInternAtom(x->dpy, name, False);
	}
	if (resolve_color(x, cfg->color, &x->label_pixel, &x->label_rgb) != 0) {
		log_error("cannot use label colour '%.32s'", cfg->color);
		XCloseDisplay(x->dpy);
		free(x);
		return NULL;
	}
	if (resolve_color(x, cfg->window_background_color, &x->bg_pixel, NULL) != 0) {
		log_info("cannot use background colour '%.32s', using white", cfg->window_background_color);
		x->bg_pixel = WhitePixel(x->dpy, x->screen);
	}
	ks = (KeySym)cfg->copy_seq.keysym;
	x->copy_key = ks ? XKeysymToKeycode(x->dpy, ks) : 0;
	ks = (KeySym)cfg->paste_seq.keysym;
	x->paste_key = ks ? XKeysymToKeycode(x->dpy, ks) : 0;
	x->gc = XCreateGC(x->dpy, x->root, 0, NULL);
	/*
	 * every cursor-font cursor now, during set-up, from the core cursor font:
	 * XCreateFontCursor would load libXcursor and read cursor theme files
	 * when first used, which the seccomp filter installed after set-up
	 * forbids (no file opens, no executable mappings)
	 */
	{
		XColor black = { .red = 0, .green = 0, .blue = 0 }, white = { .red = 0xffff, .green = 0xffff, .blue = 0xffff };
		Font font = XLoadFont(x->dpy, "cursor");

		for (unsigned g = 0; g < XC_num_glyphs; g += 2) {
			x->cursors[g] = XCreateGlyphCursor(x->dpy, font, font, g, g + 1, &black, &white);
		}
		XUnloadFont(x->dpy, font);
	}
	x->wctx = XUniqueContext();
	if (gethostname(x->hostname, sizeof(x->hostname) - 1) != 0) {
		strcpy(x->hostname, "localhost");
	}
	if (cfg->icon[0] == '/') {
		load_icon(x, cfg->icon);
	}
	XSelectInput(x->dpy, x->root, PropertyChangeMask | StructureNotifyMask);
	read_screen(x);
	x->tray_owner = XGetSelectionOwner(x->dpy, x->atoms[A_NET_SYSTEM_TRAY_S0]);
	XSync(x->dpy, False);
	return x;
}

void x11_close(struct x11 *x)
{
	if (x == NULL) {
		return;
	}
	for (size_t i = 0; i < XC_num_glyphs; i++) {
		if (x->cursors[i]) {
			XFreeCursor(x->dpy, x->cursors[i]);
		}
	}
	XFreeGC(x->dpy, x->gc);
	XCloseDisplay(x->dpy);
	free(x->icon);
	free(x);
}

int x11_fd(const struct x11 *x)
{
	return ConnectionNumber(x->dpy);
}

uint64_t x11_work(const struct x11 *x)
{
	return (uint64_t)NextRequest(x->dpy) + (x->put_pixels >> 16);
}

void x11_flush(struct x11 *x)
{
	XFlush(x->dpy);
}

void x11_sync(struct x11 *x)
{
	XSync(x->dpy, False);
}

void x11_screen(const struct x11 *x, uint32_t *w, uint32_t *h, uint32_t *depth)
{
	*w = x->root_w;
	*h = x->root_h;
	*depth = x->depth;
}

void x11_workarea(const struct x11 *x, struct rect *r)
{
	*r = x->work;
}

int x11_border(const struct x11 *x, const struct gwin *w)
{
	return w->docked ? 0 : (int)x->cfg->border_width;
}

/* ----------------------------------------------------------------- windows */

static int16_t clamp16(int32_t v)
{
	return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static unsigned dim(int32_t v)
{
	return v < 1 ? 1u : (unsigned)v; /* X windows cannot be 0 pixels wide */
}

static void set_cardinal(struct x11 *x, Window win, Atom prop, Atom type, int format, const void *data, int n)
{
	XChangeProperty(x->dpy, win, prop, type, format, PropModeReplace, data, n);
}

static void set_identity(struct x11 *x, struct gwin *w)
{
	const struct gd_config *cfg = x->cfg;
	unsigned char label = (unsigned char)cfg->label_index;
	unsigned long color = x->label_rgb, remote = w->remote, pid = (unsigned long)getpid();
	Atom protocols[2] = { x->atoms[A_WM_DELETE_WINDOW], x->atoms[A_NET_WM_PING] };
	XClassHint ch;
	XSizeHints sh = { .flags = PSize, .width = (int)dim(w->geom.w), .height = (int)dim(w->geom.h) };
	XTextProperty machine;
	char *host = x->hostname;
	char name[] = "VMapp command";

	set_cardinal(x, w->frame, x->atoms[A_QUBES_LABEL], XA_CARDINAL, 8, &label, 1);
	set_cardinal(x, w->frame, x->atoms[A_QUBES_LABEL_COLOR], XA_CARDINAL, 32, &color, 1);
	XChangeProperty(x->dpy, w->frame, x->atoms[A_QUBES_VMNAME], XA_STRING, 8, PropModeReplace,
			(const unsigned char *)cfg->vmname, (int)strlen(cfg->vmname));
	set_cardinal(x, w->frame, x->atoms[A_QUBES_VMWINDOWID], XA_WINDOW, 32, &remote, 1);
	set_cardinal(x, w->frame, x->atoms[A_NET_WM_PID], XA_CARDINAL, 32, &pid, 1);
	XSetWMProtocols(x->dpy, w->frame, protocols, 2);
	if (XStringListToTextProperty(&host, 1, &machine)) {
		XSetWMClientMachine(x->dpy, w->frame, &machine);
		XFree(machine.value);
	}
	XStoreName(x->dpy, w->frame, name);
	XSetWMNormalHints(x->dpy, w->frame, &sh);
	if (x->icon) {
		ch.res_name = ch.res_class = (char *)cfg->vmname;
		set_cardinal(x, w->frame, x->atoms[A_NET_WM_ICON], XA_CARDINAL, 32, x->icon, (int)x->icon_len);
	} else {
		ch.res_name = ch.res_class = (char *)(cfg->icon[0] ? cfg->icon : cfg->vmname);
	}
	XSetClassHint(x->dpy, w->frame, &ch);
	for (size_t i = 0; i < cfg->nprops; i++) {
		const struct extra_prop *p = &cfg->props[i];
		Atom a = XInternAtom(x->dpy, p->name, False);

		if (p->type == 's') {
			XChangeProperty(x->dpy, w->frame, a, XA_STRING, 8, PropModeReplace,
					(const unsigned char *)p->value, (int)strlen(p->value));
		} else if (p->type == 'a') {
			Atom v = XInternAtom(x->dpy, p->value, False);

			set_cardinal(x, w->frame, a, XA_ATOM, 32, &v, 1);
		} else {
			unsigned long v[64];
			int n = 0;
			char *end;

			for (const char *s = p->value; *s && n < 64; s = *end ? end + 1 : end) {
				v[n++] = strtoul(s, &end, 10);
			}
			set_cardinal(x, w->frame, a, XA_CARDINAL, 32, v, n);
		}
	}
}

int x11_win_create(struct x11 *x, struct gwin *w)
{
	XSetWindowAttributes a;
	int b = x11_border(x, w);

	a.background_pixel = x->label_pixel; /* the frame is the border: painted by the server only */
	a.override_redirect = w->override_redirect;
	a.event_mask = KeyPressMask | KeyReleaseMask | ButtonPressMask | ButtonReleaseMask | PointerMotionMask |
		       EnterWindowMask | LeaveWindowMask | FocusChangeMask | StructureNotifyMask | PropertyChangeMask;
	w->frame = XCreateWindow(x->dpy, x->root, clamp16(w->geom.x - b), clamp16(w->geom.y - b),
			dim(w->geom.w) + 2u * (unsigned)b, dim(w->geom.h) + 2u * (unsigned)b, 0, CopyFromParent,
			InputOutput, CopyFromParent, CWBackPixel | CWOverrideRedirect | CWEventMask, &a);
	a.background_pixel = x->bg_pixel;
	a.event_mask = ExposureMask;
	a.bit_gravity = NorthWestGravity;
	w->content = XCreateWindow(x->dpy, w->frame, b, b, dim(w->geom.w), dim(w->geom.h), 0, CopyFromParent,
			InputOutput, CopyFromParent, CWBackPixel | CWEventMask | CWBitGravity, &a);
	if (!w->frame || !w->content) {
		return -1;
	}
	XSaveContext(x->dpy, w->frame, x->wctx, (XPointer)w);
	XSaveContext(x->dpy, w->content, x->wctx, (XPointer)w);
	set_identity(x, w);
	XMapWindow(x->dpy, w->content);
	return 0;
}

static void forget_docked(struct x11 *x, struct gwin *w)
{
	for (size_t i = 0; i < x->ndocked; i++) {
		if (x->docked[i] == w) {
			x->docked[i] = x->docked[--x->ndocked];
			return;
		}
	}
}

void x11_win_destroy(struct x11 *x, struct gwin *w)
{
	if (!w->frame) {
		return;
	}
	forget_docked(x, w);
	if (w->tray) {
		ximg_free(x, w->tray);
		w->tray = NULL;
	}
	XDeleteContext(x->dpy, w->frame, x->wctx);
	XDeleteContext(x->dpy, w->content, x->wctx);
	XDestroyWindow(x->dpy, w->frame);
	w->frame = w->content = 0;
}

void x11_win_configure(struct x11 *x, struct gwin *w)
{
	int b = x11_border(x, w);

	if (w->docked) {
		XResizeWindow(x->dpy, w->frame, dim(w->geom.w), dim(w->geom.h));
	} else {
		/*
		 * ConfigureNotify events the server made before this request report a geometry it
		 * replaces: on_configure drops them, or a stale one would be taken for the user's
		 * move and undo what the agent asked for meanwhile.
		 */
		w->cfg_serial = NextRequest(x->dpy);
		XMoveResizeWindow(x->dpy, w->frame, clamp16(w->geom.x - b), clamp16(w->geom.y - b),
				dim(w->geom.w) + 2u * (unsigned)b, dim(w->geom.h) + 2u * (unsigned)b);
	}
	x11_win_fit_content(x, w);
}

void x11_win_fit_content(struct x11 *x, struct gwin *w)
{
	int b = x11_border(x, w);

	XMoveResizeWindow(x->dpy, w->content, b, b, dim(w->geom.w), dim(w->geom.h));
}

void x11_win_set_override_redirect(struct x11 *x, struct gwin *w)
{
	XSetWindowAttributes a = { .override_redirect = w->override_redirect };

	XChangeWindowAttributes(x->dpy, w->frame, CWOverrideRedirect, &a);
}

/* Is win a mapped screen locker (its WM_CLASS name is one of the configured screensaver names)? */
static bool is_screensaver(struct x11 *x, Window win)
{
	XClassHint ch = { NULL, NULL };
	XWindowAttributes a;
	bool yes = false;

	if (!XGetWindowAttributes(x->dpy, win, &a) || a.map_state != IsViewable || !XGetClassHint(x->dpy, win, &ch)) {
		return false;
	}
	for (size_t i = 0; i < x->cfg->nscreensavers && ch.res_name; i++) {
		yes |= strcmp(ch.res_name, x->cfg->screensaver_names[i]) == 0;
	}
	XFree(ch.res_name);
	XFree(ch.res_class);
	return yes;
}

void x11_win_map(struct x11 *x, struct gwin *w)
{
	if (w->override_redirect) {
		Window r, p, *kids = NULL, locker = 0;
		unsigned n = 0;

		if (XQueryTree(x->dpy, x->root, &r, &p, &kids, &n)) {
			for (unsigned i = 0; i < n && !locker; i++) {
				if (kids[i] != w->frame && is_screensaver(x, kids[i])) {
					locker = kids[i];
				}
			}
			XFree(kids);
		}
		if (locker) {
			/* a VM menu must never cover the screen locker */
			XWindowChanges c = { .sibling = locker, .stack_mode = Below };

			XConfigureWindow(x->dpy, w->frame, CWSibling | CWStackMode, &c);
		} else {
			XRaiseWindow(x->dpy, w->frame);
		}
	}
	XMapWindow(x->dpy, w->frame);
}

void x11_win_unmap(struct x11 *x, struct gwin *w)
{
	XUnmapWindow(x->dpy, w->frame);
}

void x11_win_title(struct x11 *x, struct gwin *w, const char *title)
{
	int n = (int)strlen(title);
	const unsigned char *t = (const unsigned char *)title;

	XChangeProperty(x->dpy, w->frame, XA_WM_NAME, x->atoms[A_UTF8_STRING], 8, PropModeReplace, t, n);
	XChangeProperty(x->dpy, w->frame, x->atoms[A_NET_WM_NAME], x->atoms[A_UTF8_STRING], 8, PropModeReplace, t, n);
	XChangeProperty(x->dpy, w->frame, XA_WM_ICON_NAME, x->atoms[A_UTF8_STRING], 8, PropModeReplace, t, n);
	XChangeProperty(x->dpy, w->frame, x->atoms[A_NET_WM_ICON_NAME], x->atoms[A_UTF8_STRING], 8, PropModeReplace,
			t, n);
}

void x11_win_class(struct x11 *x, struct gwin *w, const char *res_class, const char *res_name)
{
	char cls[128], name[128];
	XClassHint ch = { name, cls };

	snprintf(cls, sizeof(cls), "%s:%s", x->cfg->vmname, res_class);
	snprintf(name, sizeof(name), "%s:%s", x->cfg->vmname, res_name);
	XSetClassHint(x->dpy, w->frame, &ch);
}

void x11_win_hints(struct x11 *x, struct gwin *w, const struct proto_hints *h)
{
	int b2 = 2 * x11_border(x, w);
	XSizeHints sh;

	memset(&sh, 0, sizeof(sh));
	sh.flags = (long)h->flags;
	/* sizes are the frame's: content plus the border on both sides */
	sh.min_width = (int)h->min_width + b2;
	sh.min_height = (int)h->min_height + b2;
	sh.max_width = (int)h->max_width + b2;
	sh.max_height = (int)h->max_height + b2;
	sh.width_inc = (int)h->width_inc;
	sh.height_inc = (int)h->height_inc;
	sh.base_width = (int)h->base_width + b2;
	sh.base_height = (int)h->base_height + b2;
	sh.x = w->geom.x - b2 / 2;
	sh.y = w->geom.y - b2 / 2;
	XSetWMNormalHints(x->dpy, w->frame, &sh);
}

void x11_win_cursor(struct x11 *x, struct gwin *w, uint32_t cursor)
{
	Cursor c = None;

	if (cursor & CURSOR_X11) {
		unsigned glyph = cursor & ~(unsigned)CURSOR_X11;

		/* odd ids are not glyphs of their own (each is the mask of the one before) */
		if (glyph < XC_num_glyphs && glyph % 2 == 0) {
			if (!x->cursors[glyph]) {
				x->cursors[glyph] = XCreateFontCursor(x->dpy, glyph);
			}
			c = x->cursors[glyph];
		}
	}
	XDefineCursor(x->dpy, w->content, c);
}

void x11_win_transient(struct x11 *x, struct gwin *w, const struct gwin *parent)
{
	if (parent) {
		XSetTransientForHint(x->dpy, w->frame, parent->frame);
	} else {
		XDeleteProperty(x->dpy, w->frame, XA_WM_TRANSIENT_FOR);
	}
}

static void state_message(struct x11 *x, struct gwin *w, long action, Atom a1, Atom a2)
{
	XEvent e;

	memset(&e, 0, sizeof(e));
	e.xclient.type = ClientMessage;
	e.xclient.window = w->frame;
	e.xclient.message_type = x->atoms[A_NET_WM_STATE];
	e.xclient.format = 32;
	e.xclient.data.l[0] = action; /* 0 remove, 1 add */
	e.xclient.data.l[1] = (long)a1;
	e.xclient.data.l[2] = (long)a2;
	e.xclient.data.l[3] = 1; /* source: a normal application */
	XSendEvent(x->dpy, x->root, False, SubstructureRedirectMask | SubstructureNotifyMask, &e);
}

void x11_win_flags(struct x11 *x, struct gwin *w, uint32_t set, uint32_t unset)
{
	Atom fs = x->atoms[A_NET_WM_STATE_FULLSCREEN], da = x->atoms[A_NET_WM_STATE_DEMANDS_ATTENTION];
	Atom mv = x->atoms[A_NET_WM_STATE_MAXIMIZED_VERT], mh = x->atoms[A_NET_WM_STATE_MAXIMIZED_HORZ];
	bool real_fs = x->cfg->allow_fullscreen;

	if (!w->mapped) {
		/* before mapping the state is a property the WM reads at map time (set list only) */
		Atom st[4];
		int n = 0;

		if (set & WINDOW_FLAG_FULLSCREEN) {
			if (real_fs) {
				st[n++] = fs;
			} else {
				st[n++] = mv;
				st[n++] = mh;
			}
		}
		if (set & WINDOW_FLAG_DEMANDS_ATTENTION) {
			st[n++] = da;
		}
		if (set & WINDOW_FLAG_MINIMIZE) {
			st[n++] = x->atoms[A_NET_WM_STATE_HIDDEN];
		}
		XChangeProperty(x->dpy, w->frame, x->atoms[A_NET_WM_STATE], XA_ATOM, 32, PropModeReplace,
				(unsigned char *)st, n);
		return;
	}
	if (set & WINDOW_FLAG_MINIMIZE) {
		XIconifyWindow(x->dpy, w->frame, x->screen); /* minimise wins over fullscreen */
	} else if (set & WINDOW_FLAG_FULLSCREEN) {
		if (real_fs) {
			state_message(x, w, 1, fs, 0);
		} else {
			state_message(x, w, 1, mv, mh);
		}
	}
	if (unset & WINDOW_FLAG_FULLSCREEN) {
		if (real_fs) {
			state_message(x, w, 0, fs, 0);
		} else {
			state_message(x, w, 0, mv, mh);
		}
	}
	if (set & WINDOW_FLAG_DEMANDS_ATTENTION) {
		state_message(x, w, 1, da, 0);
	}
	if (unset & WINDOW_FLAG_DEMANDS_ATTENTION) {
		state_message(x, w, 0, da, 0);
	}
}

static void send_dock_request(struct x11 *x, struct gwin *w)
{
	XEvent e;

	if (!x->tray_owner) {
		return;
	}
	memset(&e, 0, sizeof(e));
	e.xclient.type = ClientMessage;
	e.xclient.window = x->tray_owner;
	e.xclient.message_type = x->atoms[A_NET_SYSTEM_TRAY_OPCODE];
	e.xclient.format = 32;
	e.xclient.data.l[0] = CurrentTime;
	e.xclient.data.l[1] = SYSTEM_TRAY_REQUEST_DOCK;
	e.xclient.data.l[2] = (long)w->frame;
	XSendEvent(x->dpy, x->tray_owner, False, NoEventMask, &e);
}

void x11_win_dock(struct x11 *x, struct gwin *w)
{
	unsigned long info[2] = { 0, XEMBED_MAPPED };

	set_cardinal(x, w->frame, x->atoms[A_XEMBED_INFO], x->atoms[A_XEMBED_INFO], 32, info, 2);
	x11_win_configure(x, w); /* docked windows have no border */
	if (x->ndocked < MAX_DOCKED) {
		x->docked[x->ndocked++] = w;
	}
	send_dock_request(x, w);
}

void x11_keymap(struct x11 *x, uint8_t keys[32])
{
	char k[32];

	XQueryKeymap(x->dpy, k);
	memcpy(keys, k, 32);
}

/* ----------------------------------------------------------------- images */

/* Attaches fd (ownership taken) as xi's segment. 0, or -1 (logged). */
static int attach_seg(struct x11 *x, struct ximg *xi, int fd)
{
	xcb_generic_error_t *err;

	xi->seg = xcb_generate_id(x->xcb);
	err = xcb_request_check(x->xcb, xcb_shm_attach_fd_checked(x->xcb, xi->seg, fd, 1));
	if (err) {
		log_error("MIT-SHM attach failed (X error %u)", err->error_code);
		free(err);
		return -1;
	}
	return 0;
}

/*
 * A buffer of our own of w x h pixels, attached to the X server, charged
 * w * h * 4 + extra bytes against the budget. The budget is checked before
 * anything is allocated: -EDQUOT when it would be exceeded, -1 on other
 * failures (logged).
 */
static int own_buffer(struct x11 *x, uint32_t w, uint32_t h, size_t extra, struct ximg **out)
{
	size_t bytes = (size_t)w * h * 4;
	struct ximg *xi;
	int fd;

	if (bytes + extra > x->img_max || x->img_bytes > x->img_max - (bytes + extra)) {
		return -EDQUOT;
	}
	xi = calloc(1, sizeof(*xi));
	if (xi == NULL) {
		return -1;
	}
	xi->w = w;
	xi->h = h;
	xi->own_size = bytes ? bytes : 4;
	/* a sealed memfd of our own, filled from the agent's pages on every put */
	fd = memfd_create("gui-daemon-image", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)xi->own_size) != 0) {
		goto fail;
	}
	xi->own = mmap(NULL, xi->own_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (xi->own == MAP_FAILED) {
		xi->own = NULL;
		goto fail;
	}
	if (attach_seg(x, xi, fd) != 0) {
		fd = -1;
		goto fail;
	}
	xi->charged = bytes + extra;
	x->img_bytes += xi->charged;
	*out = xi;
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
	}
	if (xi->own) {
		munmap(xi->own, xi->own_size);
	}
	free(xi);
	return -1;
}

static void ximg_free(struct x11 *x, struct ximg *xi)
{
	xcb_shm_detach(x->xcb, xi->seg);
	if (xi->own) {
		explicit_bzero(xi->own, xi->own_size); /* a copy of VM pixels */
		munmap(xi->own, xi->own_size);
	}
	x->img_bytes -= xi->charged;
	free(xi);
}

int x11_img_attach(struct x11 *x, struct gwin *w)
{
	struct gimage *img = &w->img;
	size_t offset = 0, bytes = (size_t)img->width * img->height * 4;
	int fd = w->docked ? -1 : grant_mapping_fd(img->mapping, &offset);
	struct ximg *xi;

	if (fd < 0 || offset > UINT32_MAX - bytes) {
		/* copy path: it holds our buffer and the agent's pages it reads, both charged */
		int rc = own_buffer(x, img->width, img->height, grant_mapping_size(img->mapping), &xi);

		if (rc == 0) {
			img->x = xi;
		}
		return rc;
	}
	xi = calloc(1, sizeof(*xi));
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the X call takes ownership of its fd */
	if (xi == NULL || fd < 0) {
		if (fd >= 0) {
			close(fd);
		}
		free(xi);
		return -1;
	}
	xi->offset = (uint32_t)offset;
	if (attach_seg(x, xi, fd) != 0) {
		free(xi);
		return -1;
	}
	img->x = xi;
	return 0;
}

void x11_img_release(struct x11 *x, struct gimage *img)
{
	if (img->x == NULL) {
		return;
	}
	ximg_free(x, img->x);
	img->x = NULL;
}

void x11_img_budget(const struct x11 *x, uint64_t *used, uint64_t *max)
{
	*used = x->img_bytes;
	*max = x->img_max;
}

/* Tray colouring of one pixel (reference 4.6, tint mode): the label's hue and saturation, the pixel's lightness. */
static uint32_t tint(uint32_t px, uint32_t label, unsigned mods)
{
	int r = (int)(px >> 16 & 0xff), g = (int)(px >> 8 & 0xff), b = (int)(px & 0xff);
	int l = (r * 30 + g * 59 + b * 11) / 100;
	int lr = (int)(label >> 16 & 0xff), lg = (int)(label >> 8 & 0xff), lb = (int)(label & 0xff);
	int ll = (lr * 30 + lg * 59 + lb * 11) / 100;
	int out[3] = { lr, lg, lb };

	for (int i = 0; i < 3; i++) {
		int v = ll ? out[i] * l / (ll ? ll : 1) : l;

		if (mods & TRAY_MOD_SATURATION50) {
			v = (v + l) / 2;
		}
		out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
	}
	px = (uint32_t)out[0] << 16 | (uint32_t)out[1] << 8 | (uint32_t)out[2];
	if ((mods & TRAY_MOD_WHITEHACK) && px == 0xffffff) {
		px = 0xfefefe;
	}
	return px;
}

/* The tray colouring of the pixel at (px, py) of a w x h icon whose top-left pixel is key (reference 4.6). */
static uint32_t tray_pixel(const struct x11 *x, uint32_t v, uint32_t px, uint32_t py, uint32_t w, uint32_t h,
		uint32_t key)
{
	const struct gd_config *cfg = x->cfg;
	bool edge1 = px == 0 || py == 0 || px + 1 == w || py + 1 == h;
	bool edge2 = !edge1 && (px == 1 || py == 1 || px + 2 == w || py + 2 == h);

	switch (cfg->tray_mode) {
	case TRAY_BG:
		return v == key ? 0xffffff : v; /* the top-left colour is the background */
	case TRAY_BORDER1:
		return edge1 ? x->label_rgb : v;
	case TRAY_BORDER2:
		return edge2 ? x->label_rgb : v;
	case TRAY_TINT:
	default:
		if (((cfg->tray_mods & TRAY_MOD_BORDER1) && edge1) || ((cfg->tray_mods & TRAY_MOD_BORDER2) && edge2)) {
			return x->label_rgb;
		}
		return tint(v, x->label_rgb, cfg->tray_mods);
	}
}

/*
 * Copies rectangle r of the agent's pages src (sw x sh pixels) seen at offset (sx, sy) into
 * our buffer dst at r, applying the tray mode to docked windows (dst is then the icon: its
 * size decides the edges, and the source pixel at the icon's top-left is the bg key).
 */
static void copy_rect(struct x11 *x, const struct gwin *w, struct ximg *dst, const uint8_t *src, uint32_t sw,
		uint32_t sh, int sx, int sy, const struct rect *r)
{
	uint32_t key = 0;

	/* the caller clipped r; this guards the buffers whatever it did */
	if (r->x < 0 || r->y < 0 || (uint32_t)r->x + (uint32_t)r->w > dst->w || (uint32_t)r->y + (uint32_t)r->h > dst->h ||
			(int64_t)r->x + sx < 0 || (int64_t)r->y + sy < 0 || (int64_t)r->x + r->w + sx > sw ||
			(int64_t)r->y + r->h + sy > sh) {
		return;
	}
	if (w->docked && sx >= 0 && sy >= 0 && (uint32_t)sx < sw && (uint32_t)sy < sh) {
		memcpy(&key, src + ((size_t)sy * sw + (size_t)sx) * 4, 4);
		key &= 0xffffff;
	}
	for (int32_t row = 0; row < r->h; row++) {
		const uint8_t *s = src + ((size_t)(r->y + sy + row) * sw + (size_t)(r->x + sx)) * 4;
		uint8_t *d = dst->own + ((size_t)(r->y + row) * dst->w + (size_t)r->x) * 4;

		if (!w->docked) {
			memcpy(d, s, (size_t)r->w * 4);
			continue;
		}
		for (int32_t col = 0; col < r->w; col++) {
			uint32_t v;

			memcpy(&v, s + col * 4, 4);
			v = tray_pixel(x, v & 0xffffff, (uint32_t)(r->x + col), (uint32_t)(r->y + row), dst->w, dst->h,
					key);
			memcpy(d + col * 4, &v, 4);
		}
	}
}

static void put(struct x11 *x, struct gwin *w, const struct ximg *xi, uint32_t iw, uint32_t ih, const struct rect *r,
		int sx, int sy)
{
	x->put_pixels += (uint64_t)r->w * (uint64_t)r->h;
	xcb_shm_put_image(x->xcb, (xcb_drawable_t)w->content, (xcb_gcontext_t)XGContextFromGC(x->gc), (uint16_t)iw,
			(uint16_t)ih, (uint16_t)(r->x + sx), (uint16_t)(r->y + sy), (uint16_t)r->w, (uint16_t)r->h,
			(int16_t)r->x, (int16_t)r->y, 24, XCB_IMAGE_FORMAT_Z_PIXMAP, 0, xi->seg, xi->offset);
}

int x11_img_put(struct x11 *x, struct gwin *w, const struct gimage *src, const struct rect *r, int sx, int sy)
{
	const struct gimage *img = src ? src : &w->img;
	struct ximg *xi = img->x;
	const uint8_t *pages;

	if (xi == NULL || r->w <= 0 || r->h <= 0) {
		return 0;
	}
	if (w->docked) {
		/*
		 * Every tray pixel goes through trayicon_mode, also when the icon is painted from
		 * the screen window's image: into a buffer of the icon's own, coloured on the way.
		 */
		struct ximg *dst = src ? w->tray : xi;

		if (src && dst == NULL) {
			int rc = own_buffer(x, (uint32_t)w->geom.w, (uint32_t)w->geom.h, 0, &w->tray);

			if (rc != 0) {
				return rc;
			}
			dst = w->tray;
		}
		if (dst->own == NULL || (pages = grant_mapping_addr(img->mapping)) == NULL) {
			return 0; /* never VM pixels as they are */
		}
		copy_rect(x, w, dst, pages, img->width, img->height, src ? sx : 0, src ? sy : 0, r);
		put(x, w, dst, dst->w, dst->h, r, 0, 0);
		return 0;
	}
	if (xi->own) {
		/*
		 * The copy path: the rectangle is copied into our buffer first, where the put reads
		 * it; from another window's image (the screen window's: seamless Windows agents damage
		 * each window only), at its place in that image.
		 */
		struct rect at = src ? (struct rect){ r->x + sx, r->y + sy, r->w, r->h } : *r;

		if ((pages = grant_mapping_addr(img->mapping)) == NULL) {
			return 0;
		}
		copy_rect(x, w, xi, pages, img->width, img->height, 0, 0, &at);
	}
	put(x, w, xi, img->width, img->height, r, sx, sy);
	return 0;
}

/* ----------------------------------------------------------------- events */

static struct gwin *lookup(struct x11 *x, Window win)
{
	XPointer p = NULL;

	if (win == None || XFindContext(x->dpy, win, x->wctx, &p) != 0) {
		return NULL;
	}
	return (struct gwin *)p;
}

#define SEQ_MODS (ShiftMask | ControlMask | Mod1Mask | Mod3Mask | Mod4Mask)

/* The secure copy/paste sequences: both press and release are swallowed; the action fires on press. */
static bool secure_key(struct x11 *x, struct gwin *w, XKeyEvent *k)
{
	unsigned mods = k->state & SEQ_MODS;

	if (x->copy_key && k->keycode == x->copy_key && mods == x->cfg->copy_seq.mask) {
		if (k->type == KeyPress) {
			x->ev->secure_copy(x->ctx, w, (uint32_t)k->time);
		}
		return true;
	}
	if (x->paste_key && k->keycode == x->paste_key && mods == x->cfg->paste_seq.mask) {
		if (k->type == KeyPress) {
			x->ev->secure_paste(x->ctx, w, (uint32_t)k->time);
		}
		return true;
	}
	return false;
}

static uint32_t read_state(struct x11 *x, struct gwin *w)
{
	Atom type, *st;
	int format;
	unsigned long n = 0, after;
	unsigned char *data = NULL;
	uint32_t flags = 0;
	bool mv = false, mh = false;

	if (XGetWindowProperty(x->dpy, w->frame, x->atoms[A_NET_WM_STATE], 0, 64, False, XA_ATOM, &type, &format, &n,
			    &after, &data) != Success || data == NULL) {
		return 0;
	}
	st = (Atom *)data;
	for (unsigned long i = 0; format == 32 && i < n; i++) {
		if (st[i] == x->atoms[A_NET_WM_STATE_FULLSCREEN]) {
			flags |= WINDOW_FLAG_FULLSCREEN;
		} else if (st[i] == x->atoms[A_NET_WM_STATE_DEMANDS_ATTENTION]) {
			flags |= WINDOW_FLAG_DEMANDS_ATTENTION;
		} else if (st[i] == x->atoms[A_NET_WM_STATE_HIDDEN]) {
			flags |= WINDOW_FLAG_MINIMIZE;
		} else if (st[i] == x->atoms[A_NET_WM_STATE_MAXIMIZED_VERT]) {
			mv = true;
		} else if (st[i] == x->atoms[A_NET_WM_STATE_MAXIMIZED_HORZ]) {
			mh = true;
		}
	}
	XFree(data);
	/* fake fullscreen: the maximise we asked for instead is reported as fullscreen */
	if (!x->cfg->allow_fullscreen && w->fullscreen_requested && mv && mh) {
		flags |= WINDOW_FLAG_FULLSCREEN;
	}
	return flags;
}

static void on_client_message(struct x11 *x, XClientMessageEvent *c)
{
	struct gwin *w = lookup(x, c->window);

	if (c->window == x->root && c->message_type == x->atoms[A_MANAGER] &&
			(Atom)c->data.l[1] == x->atoms[A_NET_SYSTEM_TRAY_S0]) {
		/* a new tray manager: dock every icon again */
		x->tray_owner = (Window)c->data.l[2];
		for (size_t i = 0; i < x->ndocked; i++) {
			send_dock_request(x, x->docked[i]);
		}
		return;
	}
	if (w == NULL || c->window != w->frame) {
		return;
	}
	if (c->message_type == x->atoms[A_WM_PROTOCOLS] && c->format == 32) {
		if ((Atom)c->data.l[0] == x->atoms[A_WM_DELETE_WINDOW]) {
			x->ev->close_request(x->ctx, w);
		} else if ((Atom)c->data.l[0] == x->atoms[A_NET_WM_PING]) {
			XEvent e = { .xclient = *c };

			e.xclient.window = x->root; /* answered here, never forwarded */
			XSendEvent(x->dpy, x->root, False, SubstructureRedirectMask | SubstructureNotifyMask, &e);
		}
	} else if (c->message_type == x->atoms[A_XEMBED] && w->docked && c->format == 32) {
		if (c->data.l[1] == XEMBED_EMBEDDED_NOTIFY) {
			Window child;
			int rx = 0, ry = 0;

			XTranslateCoordinates(x->dpy, w->frame, x->root, 0, 0, &rx, &ry, &child);
			x->ev->embedded(x->ctx, w, rx, ry);
		} else if (c->data.l[1] == XEMBED_FOCUS_IN) {
			x->ev->focus(x->ctx, w, QGUI_FocusIn, NotifyNonlinear);
		}
	}
}

static void on_configure(struct x11 *x, XConfigureEvent *e)
{
	struct gwin *w = lookup(x, e->window);
	int b, fx = e->x, fy = e->y;
	struct rect r;

	if (e->window == x->root) {
		read_screen(x);
		x->ev->screen_changed(x->ctx);
		return;
	}
	if (w == NULL || e->window != w->frame || (long)(e->serial - w->cfg_serial) < 0) {
		return; /* not a VM window's frame, or older than our last configure of it */
	}
	b = x11_border(x, w);
	if (!e->send_event && w->reparented) {
		/*
		 * A real event is relative to the parent: a WM frame, translated to the root now. (On
		 * the root the event's own position is used: translating now would pair today's
		 * position with the event's old size.)
		 */
		Window child;

		XTranslateCoordinates(x->dpy, w->frame, x->root, 0, 0, &fx, &fy, &child);
	}
	r = (struct rect){ fx + b, fy + b, e->width - 2 * b, e->height - 2 * b };
	if (r.w < 1 || r.h < 1) {
		return;
	}
	x->ev->configured(x->ctx, w, &r);
}

int x11_dispatch(struct x11 *x)
{
	while (XPending(x->dpy)) {
		XEvent e;
		struct gwin *w;
		int b;

		XNextEvent(x->dpy, &e);
		w = lookup(x, e.xany.window);
		b = w ? x11_border(x, w) : 0;
		switch (e.type) {
		case KeyPress:
		case KeyRelease:
			/* synthetic input (XSendEvent by another client) is never forwarded to a VM */
			if (w && !e.xkey.send_event && !secure_key(x, w, &e.xkey)) {
				x->ev->key(x->ctx, w, (uint32_t)e.type, e.xkey.x - b, e.xkey.y - b, e.xkey.state,
						e.xkey.keycode);
			}
			break;
		case ButtonPress:
		case ButtonRelease:
			if (w && !e.xbutton.send_event) {
				x->ev->button(x->ctx, w, (uint32_t)e.type, e.xbutton.x - b, e.xbutton.y - b,
						e.xbutton.state, e.xbutton.button);
			}
			break;
		case MotionNotify:
			if (w && !e.xmotion.send_event) {
				x->ev->motion(x->ctx, w, e.xmotion.x - b, e.xmotion.y - b, e.xmotion.state,
						(uint32_t)e.xmotion.is_hint);
			}
			break;
		case EnterNotify:
		case LeaveNotify:
			/* moving between the border and the content is not a crossing for the VM */
			if (w && !e.xcrossing.send_event && e.xcrossing.detail != NotifyInferior) {
				x->ev->crossing(x->ctx, w, (uint32_t)e.type, e.xcrossing.x - b, e.xcrossing.y - b,
						e.xcrossing.state, (uint32_t)e.xcrossing.mode,
						(uint32_t)e.xcrossing.detail, (uint32_t)e.xcrossing.focus);
			}
			break;
		case FocusIn:
		case FocusOut:
			if (w && (e.xfocus.mode == NotifyNormal || e.xfocus.mode == NotifyWhileGrabbed)) {
				x->ev->focus(x->ctx, w, (uint32_t)e.type, (uint32_t)e.xfocus.detail);
			}
			break;
		case Expose:
			if (w && e.xexpose.window == w->content) {
				struct rect r = { e.xexpose.x, e.xexpose.y, e.xexpose.width, e.xexpose.height };

				x->ev->expose(x->ctx, w, &r);
			}
			break;
		case ConfigureNotify:
			on_configure(x, &e.xconfigure);
			break;
		case MapNotify:
			if (w && e.xmap.window == w->frame) {
				x->ev->mapped(x->ctx, w);
			}
			break;
		case ReparentNotify:
			/* a window manager that reparents the frame manages it (also without EWMH) */
			if (w && e.xreparent.window == w->frame) {
				w->reparented = e.xreparent.parent != x->root;
			}
			break;
		case ClientMessage:
			on_client_message(x, &e.xclient);
			break;
		case PropertyNotify:
			if (e.xproperty.window == x->root && (e.xproperty.atom == x->atoms[A_NET_WORKAREA] ||
								     e.xproperty.atom == x->atoms[A_NET_CURRENT_DESKTOP])) {
				read_workarea(x);
				x->ev->screen_changed(x->ctx);
			} else if (e.xproperty.window == x->root &&
					e.xproperty.atom == x->atoms[A_NET_SUPPORTING_WM_CHECK]) {
				read_wm(x); /* a window manager started or stopped: the on-screen rule changes */
				x->ev->screen_changed(x->ctx);
			} else if (w && e.xproperty.window == w->frame && e.xproperty.atom == x->atoms[A_NET_WM_STATE]) {
				x->ev->state(x->ctx, w, read_state(x, w));
			}
			break;
		default:
			break;
		}
	}
	XFlush(x->dpy);
	return 0;
}

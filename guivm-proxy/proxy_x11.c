/* proxy_x11.c: guivm-proxy's X side: the full-screen window and its border, images, input, the escape key, RandR. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <X11/XKBlib.h>
#include <X11/Xlib-xcb.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xrandr.h>
#include <X11/keysym.h>
#include <xcb/shm.h>

#include "proxy.h"
#include "qgui/log.h"
#include "xerr.h"

struct pximg {
	struct grant_mapping *g;
	uint32_t seg;       /* MIT-SHM segment, 0 when not attached */
	uint32_t offset;    /* of the image in the segment */
	uint32_t w, h;
	uint8_t *own;       /* copy path: our buffer of w*h*4 bytes, else NULL */
	size_t own_size;
};

struct pxx {
	const struct px_opts *o;
	const struct pxx_events *ev;
	void *ctx;
	Display *dpy;
	xcb_connection_t *xcb;
	Window root, frame, content;
	GC gc;
	XFontStruct *font;
	unsigned long label_px;
	int root_w, root_h;
	int rr_base;        /* RandR event base, or -1 without RandR */
	bool rr_monitors;   /* RandR 1.5: XRRGetMonitors */
	KeyCode esc_code;
	bool esc_down;      /* the escape key is held: auto-repeat does not toggle again */
	bool shown, waiting;
};

/* The label colour: "0xRRGGBB" (qubes-guid's -c) or anything XParseColor takes. */
static bool resolve_color(struct pxx *x, unsigned long *pixel)
{
	Colormap cm = DefaultColormap(x->dpy, DefaultScreen(x->dpy));
	const char *spec = x->o->color;
	char hex[8];
	XColor c;

	if (strncmp(spec, "0x", 2) == 0 && strlen(spec) == 8 && strspn(spec + 2, "0123456789abcdefABCDEF") == 6) {
		snprintf(hex, sizeof(hex), "#%s", spec + 2);
		spec = hex;
	}
	if (!XParseColor(x->dpy, cm, spec, &c) || !XAllocColor(x->dpy, cm, &c)) {
		return false;
	}
	*pixel = c.pixel;
	return true;
}

void pxx_content_size(const struct pxx *x, uint32_t *w, uint32_t *h)
{
	int b2 = 2 * (int)x->o->border;

	*w = x->root_w > b2 ? (uint32_t)(x->root_w - b2) : 1;
	*h = x->root_h > b2 ? (uint32_t)(x->root_h - b2) : 1;
}

/* ---------------------------------------------------------------- the escape key */

/* The modifier bits a keysym is bound to (NumLock is Mod2 on most keyboards, but not all). */
static unsigned modifier_of(Display *dpy, KeySym ks)
{
	XModifierKeymap *mm = XGetModifierMapping(dpy);
	KeyCode kc = XKeysymToKeycode(dpy, ks);
	unsigned mask = 0;

	for (int i = 0; mm && kc && i < 8; i++) {
		for (int j = 0; j < mm->max_keypermod; j++) {
			if (mm->modifiermap[i * mm->max_keypermod + j] == kc) {
				mask |= 1u << i;
			}
		}
	}
	if (mm) {
		XFreeModifiermap(mm);
	}
	return mask;
}

/*
 * Grabs the escape sequence on the root window, with every combination of the
 * lock modifiers, so that it works whatever the lock state and whether or not
 * our window is shown; the GUI qube never sees it (the grab delivers it to
 * the root window, never to our window). Returns 0, -ENOENT (no such key on
 * this keyboard) or -EBUSY (another client holds the grab).
 */
static int grab_escape(struct pxx *x)
{
	unsigned mods = x->o->esc_mods, ignore;
	unsigned long before;

	if (x->esc_code) {
		XUngrabKey(x->dpy, x->esc_code, AnyModifier, x->root);
	}
	x->esc_code = XKeysymToKeycode(x->dpy, (KeySym)x->o->esc_keysym);
	if (x->esc_code == 0) {
		return -ENOENT;
	}
	ignore = (LockMask | modifier_of(x->dpy, XK_Num_Lock) | modifier_of(x->dpy, XK_Scroll_Lock)) & ~mods;
	XSync(x->dpy, False);
	before = xerr_count();
	for (unsigned sub = ignore;; sub = (sub - 1) & ignore) {
		XGrabKey(x->dpy, x->esc_code, mods | sub, x->root, False, GrabModeAsync, GrabModeAsync);
		if (sub == 0) {
			break;
		}
	}
	XSync(x->dpy, False);
	return xerr_count() == before ? 0 : -EBUSY;
}

static void show(struct pxx *x, bool on)
{
	x->shown = on;
	if (on) {
		XMapRaised(x->dpy, x->frame);
		XSetInputFocus(x->dpy, x->frame, RevertToPointerRoot, CurrentTime);
	} else {
		XUnmapWindow(x->dpy, x->frame);
	}
}

/* KeyPress/KeyRelease delivered to the root window: only our grab does that. */
static int on_escape(struct pxx *x, const XKeyEvent *k)
{
	if (k->keycode != x->esc_code) {
		return 0; /* another key pressed while the grab is active: swallowed */
	}
	if (k->type == KeyRelease) {
		x->esc_down = false;
		return 0;
	}
	if (x->esc_down) {
		return 0; /* auto-repeat */
	}
	x->esc_down = true;
	if (x->o->esc_exit) {
		return PXX_EXIT;
	}
	show(x, !x->shown);
	log_info("escape sequence: %s", x->shown ? "showing the GUI qube again" : "screen released to dom0");
	return 0;
}

/* ---------------------------------------------------------------- screen and waiting state */

static void draw_waiting(struct pxx *x)
{
	char text[PX_NAME_MAX + 16];
	uint32_t cw, ch;
	int n, tw;

	if (x->font == NULL) {
		return;
	}
	n = snprintf(text, sizeof(text), "waiting for %s", x->o->name);
	tw = XTextWidth(x->font, text, n);
	pxx_content_size(x, &cw, &ch);
	XDrawString(x->dpy, x->content, x->gc, ((int)cw - tw) / 2,
			((int)ch + x->font->ascent - x->font->descent) / 2, text, n);
}

void pxx_set_waiting(struct pxx *x, bool waiting)
{
	char title[PX_NAME_MAX + 16];

	x->waiting = waiting;
	snprintf(title, sizeof(title), "%s%s", waiting ? "waiting for " : "", x->o->name);
	XStoreName(x->dpy, x->frame, title);
	XClearWindow(x->dpy, x->content); /* no stale pixels from a session that ended */
	if (waiting) {
		draw_waiting(x);
	}
	XSync(x->dpy, False);
}

int pxx_rescan(struct pxx *x)
{
	Window r;
	int gx, gy;
	unsigned w, h, bw, depth;

	if (!XGetGeometry(x->dpy, x->root, &r, &gx, &gy, &w, &h, &bw, &depth) || w == 0 || h == 0 || w > 32767 ||
			h > 32767 || ((int)w == x->root_w && (int)h == x->root_h)) {
		return 0;
	}
	x->root_w = (int)w;
	x->root_h = (int)h;
	log_info("dom0's screen is now %ux%u", w, h);
	if (x->frame) {
		pxx_content_size(x, &w, &h);
		XMoveResizeWindow(x->dpy, x->frame, 0, 0, (unsigned)x->root_w, (unsigned)x->root_h);
		XMoveResizeWindow(x->dpy, x->content, (int)x->o->border, (int)x->o->border, w, h);
		if (x->waiting) {
			pxx_set_waiting(x, true); /* centre the text again */
		}
	}
	return PXX_SCREEN;
}

void pxx_monitor_layout(struct pxx *x, FILE *out)
{
	int n = 0, b = (int)x->o->border;
	uint32_t cw, ch;
	XRRMonitorInfo *m = x->rr_monitors ? XRRGetMonitors(x->dpy, x->root, True, &n) : NULL;
	XRRMonitorInfo whole = { .x = 0, .y = 0, .width = x->root_w, .height = x->root_h };

	pxx_content_size(x, &cw, &ch);
	for (int i = 0; i < (m && n > 0 ? n : 1); i++) {
		const XRRMonitorInfo *mi = m && n > 0 ? &m[i] : &whole;
		/* the GUI qube's screen is the content area: clip to it, in its coordinates */
		long x0 = mi->x - b, y0 = mi->y - b, x1 = x0 + mi->width, y1 = y0 + mi->height;

		x0 = x0 < 0 ? 0 : x0;
		y0 = y0 < 0 ? 0 : y0;
		x1 = x1 > (long)cw ? (long)cw : x1;
		y1 = y1 > (long)ch ? (long)ch : y1;
		if (x1 <= x0 || y1 <= y0) {
			continue;
		}
		if (out) {
			fprintf(out, "%ld %ld %ld %ld\n", x1 - x0, y1 - y0, x0, y0);
		} else {
			log_info("monitor %d: %ldx%ld+%ld+%ld (in the GUI qube's screen)", i, x1 - x0, y1 - y0, x0, y0);
		}
	}
	if (m) {
		XRRFreeMonitors(m);
	}
}

/* ---------------------------------------------------------------- open and close */

static void create_windows(struct pxx *x)
{
	XSetWindowAttributes a;
	XClassHint ch = { (char *)"guivm-proxy", (char *)"guivm-proxy" };
	XGCValues gv = { .foreground = WhitePixel(x->dpy, DefaultScreen(x->dpy)), .graphics_exposures = False };
	uint32_t cw, chh;

	memset(&a, 0, sizeof(a));
	pxx_content_size(x, &cw, &chh);
	/* the frame is the border: painted by the X server in the label colour, never from the GUI qube's pixels */
	a.background_pixel = x->label_px;
	a.override_redirect = True;
	a.event_mask = KeyPressMask | KeyReleaseMask | ButtonPressMask | ButtonReleaseMask | PointerMotionMask |
		       EnterWindowMask | LeaveWindowMask | FocusChangeMask;
	x->frame = XCreateWindow(x->dpy, x->root, 0, 0, (unsigned)x->root_w, (unsigned)x->root_h, 0, CopyFromParent,
			InputOutput, CopyFromParent, CWBackPixel | CWOverrideRedirect | CWEventMask, &a);
	a.background_pixel = BlackPixel(x->dpy, DefaultScreen(x->dpy));
	a.event_mask = ExposureMask;
	a.bit_gravity = NorthWestGravity;
	x->content = XCreateWindow(x->dpy, x->frame, (int)x->o->border, (int)x->o->border, cw, chh, 0,
			CopyFromParent, InputOutput, CopyFromParent, CWBackPixel | CWEventMask | CWBitGravity, &a);
	x->font = XLoadQueryFont(x->dpy, "fixed");
	if (x->font == NULL) {
		log_info("no core font \"fixed\": the waiting state shows no text");
	} else {
		gv.font = x->font->fid;
	}
	x->gc = XCreateGC(x->dpy, x->content, GCForeground | GCGraphicsExposures | (x->font ? GCFont : 0), &gv);
	XSetClassHint(x->dpy, x->frame, &ch);
	XMapWindow(x->dpy, x->content);
	show(x, true);
	pxx_set_waiting(x, true);
}

struct pxx *pxx_open(const struct px_opts *o, const struct pxx_events *ev, void *ctx, bool *usage)
{
	struct pxx *x = calloc(1, sizeof(*x));
	xcb_shm_query_version_reply_t *shm;
	int err_base, major = 0, minor = 0, rc;

	*usage = false;
	if (x == NULL) {
		log_error("out of memory");
		return NULL;
	}
	x->o = o;
	x->ev = ev;
	x->ctx = ctx;
	x->rr_base = -1;
	x->dpy = XOpenDisplay(NULL);
	if (x->dpy == NULL) {
		log_error("cannot open the X display %.64s", getenv("DISPLAY") ? getenv("DISPLAY") : "(DISPLAY unset)");
		free(x);
		return NULL;
	}
	xerr_install(); /* errors are survived: a resize race or a stale id must never end dom0's view */
	x->xcb = XGetXCBConnection(x->dpy);
	x->root = DefaultRootWindow(x->dpy);
	x->root_w = DisplayWidth(x->dpy, DefaultScreen(x->dpy));
	x->root_h = DisplayHeight(x->dpy, DefaultScreen(x->dpy));
	if (XRRQueryExtension(x->dpy, &x->rr_base, &err_base) && XRRQueryVersion(x->dpy, &major, &minor)) {
		x->rr_monitors = major > 1 || (major == 1 && minor >= 5);
	} else {
		x->rr_base = -1;
		log_info("no RandR: dom0's screen size is followed through the root window only");
	}
	if (o->print_layout) {
		return x;
	}
	shm = xcb_shm_query_version_reply(x->xcb, xcb_shm_query_version(x->xcb), NULL);
	if (shm == NULL || shm->major_version < 1 || (shm->major_version == 1 && shm->minor_version < 2) ||
			DefaultDepth(x->dpy, DefaultScreen(x->dpy)) != 24) {
		log_error("the X server needs MIT-SHM 1.2 (fd passing) and a depth-24 default visual");
		goto fail;
	}
	if (!resolve_color(x, &x->label_px)) {
		log_error("-c: unknown colour '%.64s'", o->color);
		*usage = true;
		goto fail;
	}
	XkbSetDetectableAutoRepeat(x->dpy, True, NULL);
	rc = grab_escape(x);
	if (rc != 0) {
		log_error(rc == -ENOENT ? "--escape: the key is not on this keyboard" :
					  "--escape: another X client already grabs this key sequence");
		*usage = rc == -ENOENT;
		goto fail;
	}
	XSelectInput(x->dpy, x->root, StructureNotifyMask);
	if (x->rr_base >= 0) {
		XRRSelectInput(x->dpy, x->root, RRScreenChangeNotifyMask);
	}
	create_windows(x);
	free(shm);
	return x;
fail:
	free(shm);
	pxx_close(x);
	return NULL;
}

void pxx_close(struct pxx *x)
{
	if (x == NULL) {
		return;
	}
	if (x->gc) {
		XFreeGC(x->dpy, x->gc);
	}
	if (x->font) {
		XFreeFont(x->dpy, x->font);
	}
	XCloseDisplay(x->dpy); /* the windows go with the connection */
	free(x);
}

int pxx_fd(const struct pxx *x)
{
	return ConnectionNumber(x->dpy);
}

void pxx_sync(struct pxx *x)
{
	XSync(x->dpy, False);
}

bool pxx_pending(struct pxx *x)
{
	return XQLength(x->dpy) > 0;
}

/* ---------------------------------------------------------------- images */

struct pximg *pxx_img_create(struct pxx *x, struct grant_mapping *g, uint32_t w, uint32_t h)
{
	struct pximg *img = calloc(1, sizeof(*img));
	size_t off = 0, bytes = (size_t)w * h * 4;
	int fd;
	xcb_generic_error_t *err;

	if (img == NULL) {
		grant_mapping_destroy(g);
		log_error("out of memory");
		return NULL;
	}
	*img = (struct pximg){ .g = g, .w = w, .h = h };
	fd = grant_mapping_fd(g, &off);
	if (fd >= 0 && off <= UINT32_MAX - bytes) {
		/* zero copy: the X server reads the exporter's pages; the X call takes ownership of its fd */
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		img->offset = (uint32_t)off;
	} else {
		/* copy path (Xen, scattered pages): a buffer of our own, filled from the mapping on every put */
		fd = memfd_create("guivm-proxy-image", MFD_CLOEXEC);
		img->own_size = bytes;
		img->own = fd < 0 || ftruncate(fd, (off_t)bytes) != 0 ? MAP_FAILED :
				mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (img->own == MAP_FAILED) {
			img->own = NULL;
			if (fd >= 0) {
				close(fd);
			}
			fd = -1;
		}
	}
	if (fd < 0) {
		log_error("cannot show a %ux%u image: %s", w, h, strerror(errno));
		pxx_img_destroy(x, img);
		return NULL;
	}
	img->seg = xcb_generate_id(x->xcb);
	err = xcb_request_check(x->xcb, xcb_shm_attach_fd_checked(x->xcb, img->seg, fd, 1));
	if (err) {
		log_error("cannot show a %ux%u image: MIT-SHM attach failed (X error %u)", w, h, err->error_code);
		free(err);
		img->seg = 0;
		pxx_img_destroy(x, img);
		return NULL;
	}
	return img;
}

void pxx_img_destroy(struct pxx *x, struct pximg *img)
{
	if (img == NULL) {
		return;
	}
	if (img->seg) {
		xcb_shm_detach(x->xcb, img->seg);
	}
	if (img->own) {
		explicit_bzero(img->own, img->own_size); /* a copy of the GUI qube's pixels */
		munmap(img->own, img->own_size);
	}
	grant_mapping_destroy(img->g);
	free(img);
}

void pxx_img_put(struct pxx *x, struct pximg *img, struct px_rect r)
{
	uint32_t cw, ch;
	int64_t x0, y0, x1, y1;

	if (img == NULL) {
		return;
	}
	pxx_content_size(x, &cw, &ch);
	x0 = r.x < 0 ? 0 : r.x;
	y0 = r.y < 0 ? 0 : r.y;
	x1 = (int64_t)r.x + r.w;
	y1 = (int64_t)r.y + r.h;
	x1 = x1 > img->w ? img->w : x1;
	x1 = x1 > cw ? cw : x1;
	y1 = y1 > img->h ? img->h : y1;
	y1 = y1 > ch ? ch : y1;
	if (x1 <= x0 || y1 <= y0) {
		return;
	}
	if (img->own) {
		const uint8_t *src = grant_mapping_addr(img->g);

		if (src == NULL) {
			return;
		}
		for (int64_t row = y0; row < y1; row++) {
			size_t at = ((size_t)row * img->w + (size_t)x0) * 4;

			memcpy(img->own + at, src + at, (size_t)(x1 - x0) * 4);
		}
	}
	/* image sizes are <= MAX_WINDOW_WIDTH x MAX_WINDOW_HEIGHT (decoder), so every value fits 16 bits */
	xcb_shm_put_image(x->xcb, (xcb_drawable_t)x->content, (xcb_gcontext_t)XGContextFromGC(x->gc),
			(uint16_t)img->w, (uint16_t)img->h, (uint16_t)x0, (uint16_t)y0, (uint16_t)(x1 - x0),
			(uint16_t)(y1 - y0), (int16_t)x0, (int16_t)y0, 24, XCB_IMAGE_FORMAT_Z_PIXMAP, 0, img->seg,
			img->offset);
}

void pxx_clear_outside(struct pxx *x, uint32_t w, uint32_t h)
{
	uint32_t cw, ch;

	pxx_content_size(x, &cw, &ch);
	if (w < cw) {
		XClearArea(x->dpy, x->content, (int)w, 0, 0, 0, False);
	}
	if (h < ch) {
		XClearArea(x->dpy, x->content, 0, (int)h, 0, 0, False);
	}
}

/* ---------------------------------------------------------------- events */

/* Passes m on; keymap: the keyboard's state first (MSG_KEYMAP_NOTIFY), so that no key stays stuck over there. */
static void input(struct pxx *x, bool keymap, struct proto_msg m)
{
	if (keymap) {
		struct proto_msg k = { .type = MSG_KEYMAP_NOTIFY };
		char keys[32];

		XQueryKeymap(x->dpy, keys);
		memcpy(k.u.keymap.keys, keys, 32);
		x->ev->input(x->ctx, &k);
	}
	x->ev->input(x->ctx, &m);
}

int pxx_dispatch(struct pxx *x)
{
	int r = 0, b = (int)x->o->border;

	while (XPending(x->dpy)) {
		XEvent e;
		bool ours;

		XNextEvent(x->dpy, &e);
		if (x->rr_base >= 0 && e.type == x->rr_base + RRScreenChangeNotify) {
			XRRUpdateConfiguration(&e);
			r |= pxx_rescan(x);
			continue;
		}
		/* synthetic events (XSendEvent by any client) are never forwarded, nor taken for the escape key */
		ours = e.xany.window == x->frame && !e.xany.send_event;
		switch (e.type) {
		case KeyPress:
		case KeyRelease:
			if (e.xkey.window == x->root && !e.xkey.send_event) {
				r |= on_escape(x, &e.xkey);
			} else if (ours) {
				input(x, false, (struct proto_msg){ .type = MSG_KEYPRESS, .u.key = { (uint32_t)e.type,
					e.xkey.x - b, e.xkey.y - b, e.xkey.state, e.xkey.keycode } });
			}
			break;
		case ButtonPress:
		case ButtonRelease:
			if (ours) {
				input(x, false, (struct proto_msg){ .type = MSG_BUTTON, .u.button = { (uint32_t)e.type,
					e.xbutton.x - b, e.xbutton.y - b, e.xbutton.state, e.xbutton.button } });
			}
			break;
		case MotionNotify:
			if (ours) {
				input(x, false, (struct proto_msg){ .type = MSG_MOTION, .u.motion = { e.xmotion.x - b,
					e.xmotion.y - b, e.xmotion.state, (uint32_t)e.xmotion.is_hint } });
			}
			break;
		case EnterNotify:
		case LeaveNotify:
			/* between the border and the content is not a crossing for the GUI qube */
			if (ours && e.xcrossing.detail != NotifyInferior) {
				input(x, e.type == EnterNotify, (struct proto_msg){ .type = MSG_CROSSING,
					.u.crossing = { (uint32_t)e.type, e.xcrossing.x - b, e.xcrossing.y - b,
						e.xcrossing.state, (uint32_t)e.xcrossing.mode,
						(uint32_t)e.xcrossing.detail, (uint32_t)e.xcrossing.focus } });
			}
			break;
		case FocusIn:
		case FocusOut:
			/* grab and ungrab (the escape key) are dom0's business; the mode sent is always NotifyNormal */
			if (ours && (e.xfocus.mode == NotifyNormal || e.xfocus.mode == NotifyWhileGrabbed)) {
				input(x, e.type == FocusIn, (struct proto_msg){ .type = MSG_FOCUS,
					.u.focus = { (uint32_t)e.type, NotifyNormal, (uint32_t)e.xfocus.detail } });
			}
			break;
		case Expose:
			if (e.xexpose.window != x->content) {
				break;
			}
			if (x->waiting && e.xexpose.count == 0) {
				draw_waiting(x);
			} else if (!x->waiting) {
				x->ev->expose(x->ctx, &(struct px_rect){ e.xexpose.x, e.xexpose.y, e.xexpose.width,
								 e.xexpose.height });
			}
			break;
		case ConfigureNotify:
			if (e.xconfigure.window == x->root) {
				r |= pxx_rescan(x);
			}
			break;
		case MappingNotify:
			XRefreshKeyboardMapping(&e.xmapping);
			if (e.xmapping.request != MappingPointer && grab_escape(x) != 0) {
				log_error("the keyboard changed and the escape sequence is no longer available");
			}
			break;
		default:
			break;
		}
	}
	XFlush(x->dpy);
	return r;
}

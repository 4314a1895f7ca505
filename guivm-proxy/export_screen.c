/* export_screen.c: guivm-export's X side: DAMAGE on the root, RandR sizing, MIT-SHM captures into grant shares. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <X11/Xlib-xcb.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xrandr.h>
#include <xcb/shm.h>

#include "export_screen.h"
#include "qgui/log.h"
#include "qubes-gui-protocol.h"
#include "xerr.h"

/* Share segments kept attached: the two buffers of one size, plus two of a size being retired. */
#define SEG_CACHE 4
/* GetImage requests in flight before their replies are collected. */
#define MAX_PENDING 16

struct seg_entry {
	uint32_t seg;        /* 0: free slot */
	dev_t dev;           /* identity of the memfd: a live inode is never reused, and the server */
	ino_t ino;           /* keeps every attached one alive, so (dev, ino) cannot go stale */
	unsigned long used;  /* for LRU eviction */
};

struct export_screen {
	Display *dpy;
	xcb_connection_t *xcb;
	char name[64];
	Window root;
	uint32_t root_w, root_h;   /* as the server says */
	uint32_t w, h;             /* clamped to the protocol's maximum */
	int damage_event;
	Damage damage;
	bool randr;                /* RandR 1.2 or later */
	int randr_event;
	bool recheck;              /* a capture failed: read the root size again */
	bool zero_copy_off;        /* the server cannot write into shares (Xen, or attach refused) */
	struct seg_entry segs[SEG_CACHE];
	unsigned long clock;
	uint32_t scratch_seg;      /* private segment (copy path), 0 until needed */
	uint8_t *scratch;
	size_t scratch_size;
	uint32_t refused_w, refused_h; /* the last size refused (logged once) */
	struct export_stats stats;
};

/* Reads the root size; true when it changed. */
static bool read_size(struct export_screen *s)
{
	Window r;
	int x, y;
	unsigned w = 0, h = 0, bw, depth;
	uint32_t cw, ch;

	if (!XGetGeometry(s->dpy, s->root, &r, &x, &y, &w, &h, &bw, &depth) || w == 0 || h == 0) {
		return false;
	}
	if (w == s->root_w && h == s->root_h) {
		return false;
	}
	cw = w > MAX_WINDOW_WIDTH ? MAX_WINDOW_WIDTH : w;
	ch = h > MAX_WINDOW_HEIGHT ? MAX_WINDOW_HEIGHT : h;
	if (cw != w || ch != h) {
		log_info("the display is %ux%u; the protocol allows at most %dx%d: exporting its top-left %ux%u", w, h,
				MAX_WINDOW_WIDTH, MAX_WINDOW_HEIGHT, cw, ch);
	}
	s->root_w = w;
	s->root_h = h;
	s->w = cw;
	s->h = ch;
	return true;
}

/* The pixel layout the protocol assumes: 24-bit depth in 32-bit little-endian pixels (x8r8g8b8). */
static bool layout_ok(Display *dpy, int screen)
{
	int n = 0;
	XPixmapFormatValues *f = XListPixmapFormats(dpy, &n);
	bool ok = false;

	for (int i = 0; f && i < n; i++) {
		if (f[i].depth == 24) {
			ok = f[i].bits_per_pixel == 32;
		}
	}
	XFree(f);
	return ok && DefaultDepth(dpy, screen) == 24 && ImageByteOrder(dpy) == LSBFirst;
}

struct export_screen *export_screen_open(const char *name)
{
	struct export_screen *s = calloc(1, sizeof(*s));
	xcb_shm_query_version_reply_t *shm;
	int dmg_err, rr_err, major = 0, minor = 0, screen;

	if (s == NULL) {
		log_error("out of memory");
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name ? name : (getenv("DISPLAY") ? getenv("DISPLAY") : ""));
	s->dpy = XOpenDisplay(name);
	if (s->dpy == NULL) {
		log_error("cannot open display \"%s\"", s->name);
		free(s);
		return NULL;
	}
	xerr_install(); /* errors are survived; a lost server exits 1, which runs main's atexit cleanup */
	s->xcb = XGetXCBConnection(s->dpy);
	screen = DefaultScreen(s->dpy);
	s->root = RootWindow(s->dpy, screen);
	if (!layout_ok(s->dpy, screen)) {
		log_error("display %s: the root must be depth 24 in 32-bit little-endian pixels (x8r8g8b8)", s->name);
		goto fail;
	}
	shm = xcb_shm_query_version_reply(s->xcb, xcb_shm_query_version(s->xcb), NULL);
	if (shm == NULL || shm->major_version < 1 || (shm->major_version == 1 && shm->minor_version < 2)) {
		log_error("display %s: MIT-SHM 1.2 (fd passing) is needed", s->name);
		free(shm);
		goto fail;
	}
	free(shm);
	if (!XDamageQueryExtension(s->dpy, &s->damage_event, &dmg_err)) {
		log_error("display %s: the DAMAGE extension is needed", s->name);
		goto fail;
	}
	s->damage = XDamageCreate(s->dpy, s->root, XDamageReportRawRectangles);
	if (XRRQueryExtension(s->dpy, &s->randr_event, &rr_err) && XRRQueryVersion(s->dpy, &major, &minor) &&
			(major > 1 || (major == 1 && minor >= 2))) {
		s->randr = true;
		XRRSelectInput(s->dpy, s->root, RRScreenChangeNotifyMask);
	} else {
		log_info("display %s has no RandR 1.2: its size is followed through the root window only, never set",
				s->name);
	}
	XSelectInput(s->dpy, s->root, StructureNotifyMask);
	read_size(s);
	XSync(s->dpy, False);
	return s;
fail:
	XCloseDisplay(s->dpy);
	free(s);
	return NULL;
}

static void drop_scratch(struct export_screen *s)
{
	if (s->scratch_seg) {
		xcb_shm_detach(s->xcb, s->scratch_seg);
		s->scratch_seg = 0;
	}
	if (s->scratch) {
		explicit_bzero(s->scratch, s->scratch_size); /* a copy of the screen */
		munmap(s->scratch, s->scratch_size);
		s->scratch = NULL;
	}
	s->scratch_size = 0;
}

void export_screen_forget_shares(struct export_screen *s)
{
	for (int i = 0; i < SEG_CACHE; i++) {
		if (s->segs[i].seg) {
			xcb_shm_detach(s->xcb, s->segs[i].seg);
		}
		memset(&s->segs[i], 0, sizeof(s->segs[i]));
	}
	xcb_flush(s->xcb);
}

void export_screen_close(struct export_screen *s)
{
	if (s == NULL) {
		return;
	}
	export_screen_forget_shares(s);
	drop_scratch(s);
	XDamageDestroy(s->dpy, s->damage);
	XCloseDisplay(s->dpy);
	free(s);
}

Display *export_screen_display(struct export_screen *s)
{
	return s->dpy;
}

int export_screen_fd(struct export_screen *s)
{
	return ConnectionNumber(s->dpy);
}

const char *export_screen_name(const struct export_screen *s)
{
	return s->name;
}

void export_screen_size(const struct export_screen *s, uint32_t *w, uint32_t *h)
{
	*w = s->w;
	*h = s->h;
}

const struct export_stats *export_screen_stats(const struct export_screen *s)
{
	return &s->stats;
}

int export_screen_dispatch(struct export_screen *s, struct export_region *damage, bool *resized)
{
	bool changed = s->recheck;
	int n = 0;

	s->recheck = false;
	while (XPending(s->dpy)) {
		XEvent e;

		XNextEvent(s->dpy, &e);
		n++;
		if (e.type == s->damage_event + XDamageNotify) {
			const XDamageNotifyEvent *d = (const XDamageNotifyEvent *)&e;

			export_region_add(damage, (struct qgui_rect){ d->area.x, d->area.y, d->area.width, d->area.height });
		} else if ((s->randr && e.type == s->randr_event + RRScreenChangeNotify) ||
				(e.type == ConfigureNotify && e.xconfigure.window == s->root)) {
			XRRUpdateConfiguration(&e); /* keeps Xlib's idea of the screen size current */
			changed = true;
		}
	}
	if (changed && read_size(s)) {
		*resized = true;
		export_region_add(damage, (struct qgui_rect){ 0, 0, (int32_t)s->w, (int32_t)s->h });
	}
	return n;
}

/* ----------------------------------------------------------------- RandR */

/* Logs why the display cannot be w x h, once per size asked for. */
static int refuse(struct export_screen *s, uint32_t w, uint32_t h, const char *why)
{
	if (s->refused_w != w || s->refused_h != h) {
		log_info("cannot size display %s to %ux%u: %s; keeping %ux%u", s->name, w, h, why, s->root_w, s->root_h);
		s->refused_w = w;
		s->refused_h = h;
	}
	return -1;
}

/* A mode of exactly w x h for output out: an existing one, else a new one added to the output. None on failure. */
static RRMode find_or_make_mode(struct export_screen *s, XRRScreenResources *res, RROutput out, uint32_t w,
		uint32_t h)
{
	XRROutputInfo *oi = XRRGetOutputInfo(s->dpy, res, out);
	RRMode mode = None;
	bool on_output = false;
	XRRModeInfo mi;
	char name[32];

	for (int i = 0; i < res->nmode && mode == None; i++) {
		if (res->modes[i].width == w && res->modes[i].height == h) {
			mode = res->modes[i].id;
		}
	}
	for (int i = 0; oi && mode != None && i < oi->nmode; i++) {
		on_output |= oi->modes[i] == mode;
	}
	if (oi) {
		XRRFreeOutputInfo(oi);
	}
	if (mode == None) {
		memset(&mi, 0, sizeof(mi));
		snprintf(name, sizeof(name), "%ux%u", w, h);
		mi.width = w;
		mi.height = h;
		mi.hTotal = w;
		mi.vTotal = h;
		mi.dotClock = (unsigned long)w * h * 60; /* 60 Hz, for clients that compute a rate */
		mi.name = name;
		mi.nameLength = (unsigned)strlen(name);
		mode = XRRCreateMode(s->dpy, s->root, &mi);
	}
	if (mode != None && !on_output) {
		XRRAddOutputMode(s->dpy, out, mode);
	}
	return mode;
}

int export_screen_set_size(struct export_screen *s, uint32_t w, uint32_t h)
{
	int minw, minh, maxw, maxh, active = 0, mmw, mmh;
	XRRScreenResources *res;
	RRCrtc crtc = None;
	RROutput out = None;
	RRMode mode, old_mode = None;
	unsigned long errors;
	char why[160];

	read_size(s);
	if (w == s->root_w && h == s->root_h) {
		return 0;
	}
	if (!s->randr) {
		return refuse(s, w, h, "the X server has no RandR 1.2");
	}
	if (!XRRGetScreenSizeRange(s->dpy, s->root, &minw, &minh, &maxw, &maxh)) {
		return refuse(s, w, h, "the X server does not say which sizes it supports");
	}
	if ((int64_t)w < minw || (int64_t)h < minh || (int64_t)w > maxw || (int64_t)h > maxh) {
		snprintf(why, sizeof(why),
				"the server allows %dx%d to %dx%d (an Xvfb's largest size is the -screen size it started "
				"with)",
				minw, minh, maxw, maxh);
		return refuse(s, w, h, why);
	}
	res = XRRGetScreenResourcesCurrent(s->dpy, s->root);
	if (res == NULL) {
		return refuse(s, w, h, "RandR gave no screen resources");
	}
	for (int i = 0; i < res->ncrtc; i++) {
		XRRCrtcInfo *ci = XRRGetCrtcInfo(s->dpy, res, res->crtcs[i]);

		if (ci && ci->mode != None && ci->noutput > 0) {
			active++;
			crtc = res->crtcs[i];
			out = ci->outputs[0];
			old_mode = ci->mode;
		}
		if (ci) {
			XRRFreeCrtcInfo(ci);
		}
	}
	if (active > 1) {
		XRRFreeScreenResources(res);
		snprintf(why, sizeof(why), "it shows %d monitors, and only a one-monitor display is resized", active);
		return refuse(s, w, h, why);
	}
	/* keep the DPI: the physical size scales with the pixels */
	mmw = DisplayWidthMM(s->dpy, DefaultScreen(s->dpy));
	mmh = DisplayHeightMM(s->dpy, DefaultScreen(s->dpy));
	mmw = s->root_w && mmw > 0 ? (int)((int64_t)mmw * w / s->root_w) : (int)(w * 254 / 960);
	mmh = s->root_h && mmh > 0 ? (int)((int64_t)mmh * h / s->root_h) : (int)(h * 254 / 960);
	errors = xerr_count();
	mode = crtc != None ? find_or_make_mode(s, res, out, w, h) : None;
	XSync(s->dpy, False);
	if (crtc != None && (mode == None || xerr_count() != errors)) {
		XRRFreeScreenResources(res);
		return refuse(s, w, h, "RandR refused a mode of that size");
	}
	/*
	 * Under a grab, so that no client sees the display without its monitor:
	 * switch the monitor off, size the screen, switch it on in the new mode
	 * (a monitor must always fit inside the screen).
	 */
	XGrabServer(s->dpy);
	if (crtc != None) {
		XRRSetCrtcConfig(s->dpy, res, crtc, CurrentTime, 0, 0, None, RR_Rotate_0, NULL, 0);
	}
	XRRSetScreenSize(s->dpy, s->root, (int)w, (int)h, mmw > 0 ? mmw : 1, mmh > 0 ? mmh : 1);
	if (crtc != None) {
		XSync(s->dpy, False);
		if (XRRSetCrtcConfig(s->dpy, res, crtc, CurrentTime, 0, 0, mode, RR_Rotate_0, &out, 1) != RRSetConfigSuccess &&
				old_mode != None) {
			XRRSetCrtcConfig(s->dpy, res, crtc, CurrentTime, 0, 0, old_mode, RR_Rotate_0, &out, 1);
		}
	}
	XUngrabServer(s->dpy);
	XSync(s->dpy, False);
	XRRFreeScreenResources(res);
	read_size(s);
	if (s->root_w != w || s->root_h != h) {
		snprintf(why, sizeof(why), "RandR refused it (%lu X errors)", xerr_count() - errors);
		return refuse(s, w, h, why);
	}
	log_info("display %s is now %ux%u", s->name, w, h);
	s->refused_w = s->refused_h = 0;
	return 0;
}

/* ----------------------------------------------------------------- captures */

/* An X segment of the server's own mapping of share sh, attached read-write once per share; 0 when impossible. */
static uint32_t share_segment(struct export_screen *s, struct grant_owner *o, const struct grant_share *sh)
{
	struct stat st;
	struct seg_entry *victim = &s->segs[0];
	xcb_generic_error_t *err;
	uint32_t seg;
	int fd;

	if (s->zero_copy_off) {
		return 0;
	}
	fd = grant_share_fd(o, sh);
	if (fd < 0) {
		log_info("the X server cannot write into grant pages here (%s): frames go through a private segment",
				errno == ENOTSUP ? "Xen shares have no fd" : strerror(errno));
		s->zero_copy_off = true;
		return 0;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return 0;
	}
	s->clock++;
	for (int i = 0; i < SEG_CACHE; i++) {
		if (s->segs[i].seg && s->segs[i].dev == st.st_dev && s->segs[i].ino == st.st_ino) {
			s->segs[i].used = s->clock;
			close(fd);
			return s->segs[i].seg;
		}
		if (!s->segs[i].seg || (victim->seg && s->segs[i].used < victim->used)) {
			victim = &s->segs[i];
		}
	}
	seg = xcb_generate_id(s->xcb);
	/* read_only 0: the server writes the frame into the share; the fd is the server's now */
	err = xcb_request_check(s->xcb, xcb_shm_attach_fd_checked(s->xcb, seg, fd, 0));
	if (err) {
		log_info("the X server refused to attach a share (X error %u): frames go through a private segment",
				err->error_code);
		free(err);
		s->zero_copy_off = true;
		return 0;
	}
	if (victim->seg) {
		xcb_shm_detach(s->xcb, victim->seg);
	}
	*victim = (struct seg_entry){ seg, st.st_dev, st.st_ino, s->clock };
	return seg;
}

/* A private segment of at least size bytes, attached read-write. 0 or -1. */
static int ensure_scratch(struct export_screen *s, size_t size)
{
	xcb_generic_error_t *err;
	int fd;

	if (s->scratch_size >= size) {
		return 0;
	}
	drop_scratch(s);
	fd = memfd_create("guivm-export-frame", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		goto fail;
	}
	s->scratch = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->scratch == MAP_FAILED) {
		s->scratch = NULL;
		goto fail;
	}
	s->scratch_size = size;
	s->scratch_seg = xcb_generate_id(s->xcb);
	err = xcb_request_check(s->xcb, xcb_shm_attach_fd_checked(s->xcb, s->scratch_seg, fd, 0));
	fd = -1; /* the server's now */
	if (err) {
		log_error("the X server refused to attach a private segment (X error %u)", err->error_code);
		free(err);
		s->scratch_seg = 0;
		drop_scratch(s);
		return -1;
	}
	return 0;
fail:
	log_error("cannot make a %zu-byte private segment: %s", size, strerror(errno));
	if (fd >= 0) {
		close(fd);
	}
	drop_scratch(s);
	return -1;
}

struct pending {
	xcb_shm_get_image_cookie_t ck;
	struct qgui_rect r;  /* where it goes in the frame */
	bool band;           /* full-width rows straight into the share */
	size_t off;          /* scratch offset (copy path) */
};

/* Collects the replies of the requests in flight; copies the scratch ones into the frame. 0 or -1. */
static int collect(struct export_screen *s, struct pending *p, size_t np, uint8_t *pixels, uint32_t w)
{
	int rc = 0;

	for (size_t i = 0; i < np; i++) {
		xcb_generic_error_t *err = NULL;
		xcb_shm_get_image_reply_t *rep = xcb_shm_get_image_reply(s->xcb, p[i].ck, &err);
		size_t rw = p[i].band ? w : (size_t)p[i].r.w;
		size_t bytes = rw * (size_t)p[i].r.h * 4;

		if (err || rep == NULL || rep->size != bytes) {
			if (err) {
				log_debug("ShmGetImage refused (X error %u): the screen changed meanwhile", err->error_code);
			} else if (rep) {
				log_error("ShmGetImage returned %u bytes for %zu", rep->size, bytes);
			}
			free(err);
			free(rep);
			rc = -1;
			continue;
		}
		free(rep);
		s->stats.x_bytes += bytes;
		if (p[i].band) {
			s->stats.zero_copy++;
			continue;
		}
		for (int32_t row = 0; row < p[i].r.h; row++) {
			memcpy(pixels + ((size_t)(p[i].r.y + row) * w + (size_t)p[i].r.x) * 4,
					s->scratch + p[i].off + (size_t)row * rw * 4, rw * 4);
		}
		s->stats.own_bytes += bytes;
		s->stats.copied++;
	}
	return rc;
}

int export_screen_capture(struct export_screen *s, struct grant_owner *o, const struct grant_share *sh,
		uint8_t *pixels, uint32_t w, uint32_t h, const struct qgui_rect *rects, size_t n)
{
	struct pending p[MAX_PENDING];
	size_t np = 0, off = 0, frame = (size_t)w * h * 4;
	uint32_t zseg = share_segment(s, o, sh);
	bool grab = n > 1;
	int rc = 0;

	INVARIANT(sh != NULL && sh->npages * (size_t)GRANT_PAGE_SIZE >= frame);
	if (w != s->w || h != s->h) {
		s->recheck = true;
		return -1;
	}
	if (grab) {
		XGrabServer(s->dpy); /* the frame is one snapshot, even across several requests */
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct qgui_rect r = rects[i];

		INVARIANT(r.x >= 0 && r.y >= 0 && r.w > 0 && r.h > 0 && (uint32_t)r.x + (uint32_t)r.w <= w &&
				(uint32_t)r.y + (uint32_t)r.h <= h);
		if (np == MAX_PENDING) {
			rc = collect(s, p, np, pixels, w);
			np = off = 0;
		}
		/*
		 * ShmGetImage writes a packed image. A band of whole rows has the
		 * frame's stride, so it can go straight into the share (one copy, by
		 * the server); a narrower rectangle goes through the private segment
		 * and is copied row by row (two copies, of the rectangle only). A
		 * band moves w*h_r pixels, the other way 2*w_r*h_r: bands win from
		 * half the width on (measured: README.md).
		 */
		if (zseg && (uint64_t)r.w * 2 >= w) {
			p[np] = (struct pending){ xcb_shm_get_image(s->xcb, s->root, 0, (int16_t)r.y, (uint16_t)w,
							  (uint16_t)r.h, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, zseg,
							  (uint32_t)((size_t)r.y * w * 4)),
				r, true, 0 };
			np++;
			continue;
		}
		if (ensure_scratch(s, frame) != 0) {
			rc = -1;
			break;
		}
		if (off + (size_t)r.w * (size_t)r.h * 4 > s->scratch_size) {
			rc = collect(s, p, np, pixels, w);
			np = off = 0;
		}
		p[np] = (struct pending){ xcb_shm_get_image(s->xcb, s->root, (int16_t)r.x, (int16_t)r.y, (uint16_t)r.w,
						  (uint16_t)r.h, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, s->scratch_seg,
						  (uint32_t)off),
			r, false, off };
		off += (size_t)r.w * (size_t)r.h * 4;
		np++;
	}
	if (collect(s, p, np, pixels, w) != 0) {
		rc = -1;
	}
	if (grab) {
		XUngrabServer(s->dpy);
		XFlush(s->dpy);
	}
	if (rc != 0) {
		s->recheck = true;
	}
	return rc;
}

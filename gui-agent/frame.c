/* frame.c: window contents: Composite pixmaps and DAMAGE, double-buffered frames read by the X server into the grants. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <X11/Xlib-xcb.h>
#include <xcb/composite.h>
#include <xcb/shm.h>

#include "agent.h"
#include "qgui/log.h"

#define BATCH 64                    /* windows read in one round of pipelined ShmGetImage requests */
#define BACKLOG (1024 * 1024)       /* no new frames while this much output waits for the daemon */
#define MAX_FAILURES 3              /* frames failing in a row before a window waits for new damage */

static bool rect_empty(struct qgui_rect r)
{
	return r.w <= 0 || r.h <= 0;
}

/* r clipped to a w x h image. */
static struct qgui_rect clip_to(struct qgui_rect r, int w, int h)
{
	int64_t x0 = r.x < 0 ? 0 : r.x, y0 = r.y < 0 ? 0 : r.y;
	int64_t x1 = (int64_t)r.x + r.w, y1 = (int64_t)r.y + r.h;

	if (rect_empty(r)) {
		return (struct qgui_rect){ 0, 0, 0, 0 };
	}
	x1 = x1 > w ? w : x1;
	y1 = y1 > h ? h : y1;
	if (x1 <= x0 || y1 <= y0) {
		return (struct qgui_rect){ 0, 0, 0, 0 };
	}
	return (struct qgui_rect){ (int32_t)x0, (int32_t)y0, (int32_t)(x1 - x0), (int32_t)(y1 - y0) };
}

/* ---------------------------------------------------------------- segments */

static void seg_free(struct agent *a, struct xseg *s)
{
	if (s->id) {
		xcb_shm_detach(a->xcb, s->id);
	}
	if (s->map) {
		munmap(s->map, s->size);
	}
	memset(s, 0, sizeof(*s));
}

static void segs_free(struct agent *a, struct awin *w)
{
	seg_free(a, &w->segs[0]);
	seg_free(a, &w->segs[1]);
}

/*
 * Zero copy: the X server's attachment of the share behind the frame begun
 * (read-write, so that ShmGetImage writes the frame straight into the pages
 * the daemon maps). Each share is attached once; the two most recently used
 * stay attached. A share is recognised by its memory's inode, never by its
 * address, which a later share may reuse. Returns the segment, or 0
 * (a->zero_copy is cleared when the back-end cannot do this: Xen).
 */
static uint32_t share_seg(struct agent *a, struct awin *w, const struct grant_share *share)
{
	struct stat st;
	int fd, slot;

	if (share == NULL) {
		return 0;
	}
	fd = grant_share_fd(a->go, share);
	if (fd < 0) {
		if (errno == ENOTSUP) {
			log_info("the grant back-end cannot hand shares to the X server: copying frames instead");
			a->zero_copy = false;
		} else {
			log_error("window 0x%lx: no fd for its share: %s", w->id, strerror(errno));
		}
		return 0;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (w->segs[i].id && w->segs[i].dev == st.st_dev && w->segs[i].ino == st.st_ino) {
			close(fd);
			w->segs[i].used = ++a->seg_clock;
			return w->segs[i].id;
		}
	}
	slot = !w->segs[0].id ? 0 : !w->segs[1].id ? 1 : w->segs[0].used < w->segs[1].used ? 0 : 1;
	seg_free(a, &w->segs[slot]);
	w->segs[slot].id = xcb_generate_id(a->xcb);
	w->segs[slot].dev = st.st_dev;
	w->segs[slot].ino = st.st_ino;
	w->segs[slot].used = ++a->seg_clock;
	xcb_shm_attach_fd(a->xcb, w->segs[slot].id, fd, 0); /* xcb sends and closes fd */
	return w->segs[slot].id;
}

/* Copy path: a segment of our own of at least size bytes, attached read-write. 0 on failure. */
static uint32_t priv_seg(struct agent *a, struct awin *w, size_t size)
{
	struct xseg *s = &w->priv;
	int fd;

	if (s->id && s->size >= size) {
		return s->id;
	}
	seg_free(a, s);
	fd = memfd_create("gui-agent-frame", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		log_error("window 0x%lx: no %zu-byte copy buffer: %s", w->id, size, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return 0;
	}
	s->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		close(fd);
		return 0;
	}
	s->size = size;
	s->id = xcb_generate_id(a->xcb);
	xcb_shm_attach_fd(a->xcb, s->id, fd, 0);
	return s->id;
}

/* ---------------------------------------------------------------- pixmaps and damage */

void frame_track(struct agent *a, struct awin *w)
{
	w->damage = XDamageCreate(a->dpy, w->id, XDamageReportRawRectangles);
}

static void drop_pixmap(struct agent *a, struct awin *w)
{
	if (w->pixmap) {
		XFreePixmap(a->dpy, w->pixmap);
	}
	w->pixmap = 0;
	w->pw = w->ph = 0;
}

/* Names w's composite pixmap (it changes at every map and resize) and learns its size. 0 or -1. */
static int name_pixmap(struct agent *a, struct awin *w)
{
	xcb_void_cookie_t nck;
	xcb_get_geometry_cookie_t gck;
	xcb_generic_error_t *err, *gerr = NULL;
	xcb_get_geometry_reply_t *g;
	uint32_t pix;

	drop_pixmap(a, w);
	w->rename = false;
	pix = xcb_generate_id(a->xcb);
	nck = xcb_composite_name_window_pixmap_checked(a->xcb, (xcb_window_t)w->id, pix);
	gck = xcb_get_geometry(a->xcb, pix);
	err = xcb_request_check(a->xcb, nck);
	g = xcb_get_geometry_reply(a->xcb, gck, &gerr);
	if (err || gerr || g == NULL) {
		/* unmapped or gone meanwhile: its Unmap or Destroy event is on its way */
		log_debug("window 0x%lx: no composite pixmap", w->id);
		free(err);
		free(gerr);
		free(g);
		if (err == NULL) {
			XFreePixmap(a->dpy, pix);
		}
		return -1;
	}
	w->pixmap = pix;
	w->pw = g->width;
	w->ph = g->height;
	w->dmg = (struct qgui_rect){ 0, 0, w->pw, w->ph };
	free(g);
	return 0;
}

void frame_reset(struct agent *a, struct awin *w)
{
	(void)a;
	w->rename = true;
	w->failures = 0;
	w->dmg = (struct qgui_rect){ 0, 0, w->w, w->h };
}

void frame_unmapped(struct agent *a, struct awin *w)
{
	drop_pixmap(a, w);
	w->rename = false;
	w->dmg = (struct qgui_rect){ 0, 0, 0, 0 };
}

void frame_damage(struct agent *a, const XDamageNotifyEvent *e)
{
	struct awin *w = win_find(a, e->drawable);
	struct qgui_rect r;

	if (w == NULL) {
		return;
	}
	/* damage is relative to the window's inside; the pixmap starts at the outer corner of its border */
	r = (struct qgui_rect){ e->area.x + w->bw, e->area.y + w->bw, e->area.width, e->area.height };
	r = clip_to(r, w->w, w->h);
	if (!rect_empty(r)) {
		w->dmg = qgui_rect_union(w->dmg, r);
	}
}

static void retire(struct agent *a, Window id, struct dbuf *db)
{
	struct retired *r;

	if (db == NULL) {
		return;
	}
	if (!a->ready || dbuf_unacked(db) == 0) {
		dbuf_destroy(db);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		/* cannot wait for the acks: keep the pages shared until the session ends (leaked) */
		log_error("out of memory: window 0x%lx's buffers stay shared", id);
		return;
	}
	/*
	 * Dumps of this window may still be on their way to the daemon, which
	 * looks their grants up when it reads them: unsharing now would make
	 * those look-ups fail, a violation on our part. Unshared once acked.
	 */
	r->id = id;
	r->db = db;
	r->next = a->retired;
	a->retired = r;
}

void frame_forget(struct agent *a, struct awin *w, bool gone)
{
	drop_pixmap(a, w);
	segs_free(a, w);
	seg_free(a, &w->priv);
	if (!gone && w->damage) {
		XDamageDestroy(a->dpy, w->damage); /* one of a destroyed window went with it */
	}
	w->damage = 0;
	retire(a, w->id, w->db);
	w->db = NULL;
}

/* ---------------------------------------------------------------- frames */

struct pending {
	struct awin *w;
	xcb_shm_get_image_cookie_t ck;
	uint32_t *px;       /* the back buffer */
	int y0, rows;       /* the band read: full-width rows */
	uint32_t offset;    /* of the band in the segment */
	bool copy;          /* read into our own segment: copy the rows out */
};

static void failed(struct agent *a, struct awin *w, const char *why)
{
	log_debug("window 0x%lx: frame failed: %s", w->id, why);
	w->failures++;
	segs_free(a, w); /* attached again at the next try */
	w->rename = true;
	if (w->failures >= MAX_FAILURES) {
		w->dmg = (struct qgui_rect){ 0, 0, 0, 0 }; /* until new damage, a map or a resize */
	}
}

/* Begins w's next frame and asks the X server for the rows that must be drawn. true when a request went out. */
static bool start_frame(struct agent *a, struct awin *w, struct pending *p)
{
	struct qgui_rect stale, all;
	uint32_t *px, seg = 0;
	size_t stride;
	int rc;

	if (w->rename && name_pixmap(a, w) != 0) {
		w->dmg = (struct qgui_rect){ 0, 0, 0, 0 };
		return false;
	}
	if (w->pixmap == 0 || (w->depth != 24 && w->depth != 32) || w->pw > MAX_WINDOW_WIDTH ||
			w->ph > MAX_WINDOW_HEIGHT) {
		/* no contents we can send: x8r8g8b8 only, within the protocol's limits */
		log_debug("window 0x%lx: %dx%d at depth %d: contents not sent", w->id, w->pw, w->ph, w->depth);
		w->dmg = (struct qgui_rect){ 0, 0, 0, 0 };
		return false;
	}
	w->dmg = clip_to(w->dmg, w->pw, w->ph);
	if (rect_empty(w->dmg)) {
		return false; /* damage reported for a size the window no longer has */
	}
	if (w->db == NULL && (w->db = dbuf_create(a->go)) == NULL) {
		return false;
	}
	rc = dbuf_begin(w->db, (uint32_t)w->pw, (uint32_t)w->ph, &px, &stale);
	if (rc == -EAGAIN) {
		return false; /* both buffers held: damage accumulates until the ack */
	}
	if (rc != 0) {
		log_error("window 0x%lx: no %dx%d buffer: %s", w->id, w->pw, w->ph, strerror(-rc));
		w->dmg = (struct qgui_rect){ 0, 0, 0, 0 };
		return false;
	}
	all = clip_to(qgui_rect_union(w->dmg, stale), w->pw, w->ph);
	stride = (size_t)w->pw * 4;
	*p = (struct pending){ w, { 0 }, px, all.y, all.h, (uint32_t)((size_t)all.y * stride), false };
	if (a->zero_copy) {
		seg = share_seg(a, w, dbuf_back_share(w->db));
	}
	if (seg == 0 && !a->zero_copy) {
		seg = priv_seg(a, w, stride * (size_t)w->ph);
		p->copy = true;
	}
	if (seg == 0) {
		failed(a, w, "no segment");
		return false;
	}
	/*
	 * Full-width rows: ShmGetImage writes a packed image whose stride is the
	 * pixmap's (w * 4 at depth 24 and 32), so the band lands at its place
	 * in the buffer and the server does the only copy.
	 */
	p->ck = xcb_shm_get_image(a->xcb, (xcb_drawable_t)w->pixmap, 0, (int16_t)all.y, (uint16_t)w->pw,
			(uint16_t)all.h, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, seg, p->offset);
	return true;
}

/* Waits for the band of p, then presents the frame and sends it. */
static void finish_frame(struct agent *a, struct pending *p)
{
	struct awin *w = p->w;
	size_t bytes = (size_t)p->rows * (size_t)w->pw * 4;
	struct proto_msg m = { .type = MSG_WINDOW_DUMP, .window = (uint32_t)w->id };
	xcb_generic_error_t *err = NULL;
	xcb_shm_get_image_reply_t *r = xcb_shm_get_image_reply(a->xcb, p->ck, &err);
	bool ok = r && !err && r->size == bytes;

	free(r);
	free(err);
	if (!ok) {
		failed(a, w, "ShmGetImage");
		return; /* the frame begun is simply begun again next time */
	}
	if (p->copy) {
		/* the Xen path: shares cannot be given to the X server */
		memcpy((uint8_t *)p->px + p->offset, w->priv.map + p->offset, bytes);
		a->copied += bytes;
	}
	if (dbuf_present(w->db, w->dmg, &m.u.dump) != 0) {
		return;
	}
	link_send(a, &m);
	if (!rect_empty(w->dmg)) {
		m = (struct proto_msg){ .type = MSG_SHMIMAGE, .window = (uint32_t)w->id,
			.u.shmimage = { w->dmg.x, w->dmg.y, w->dmg.w, w->dmg.h } };
		link_send(a, &m);
	}
	if (a->c && conn_version(a->c) < QUBES_GUID_MIN_MSG_WINDOW_DUMP_ACK) {
		dbuf_ack(w->db); /* a daemon older than 1.7 never acks (it may show a frame being drawn) */
	}
	w->dmg = (struct qgui_rect){ 0, 0, 0, 0 };
	w->failures = 0;
	a->nframes++;
}

void frame_flush(struct agent *a)
{
	struct pending p[BATCH];
	bool more = true;

	while (more && a->ready && !a->broken && link_queued(a) < BACKLOG) {
		size_t n = 0;

		more = false;
		for (struct awin *w = win_first(a); w; w = win_next(a, w)) {
			if (!w->mapped || rect_empty(w->dmg) || (w->db && dbuf_unacked(w->db) >= 2)) {
				continue;
			}
			if (n == BATCH) {
				more = true;
				break;
			}
			if (start_frame(a, w, &p[n])) {
				n++;
			}
		}
		/* every request is out before the first reply is awaited: one round trip for the batch */
		for (size_t i = 0; i < n; i++) {
			finish_frame(a, &p[i]);
		}
	}
}

void frame_ack(struct agent *a, Window id)
{
	struct retired **pp, **oldest = NULL;
	struct awin *w;

	/* acks come in dump order: those of a destroyed window's dumps come before any of a new one with its id */
	for (pp = &a->retired; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			oldest = pp;
		}
	}
	if (oldest) {
		struct retired *r = *oldest;

		dbuf_ack(r->db);
		if (dbuf_unacked(r->db) == 0) {
			*oldest = r->next;
			dbuf_destroy(r->db);
			free(r);
		}
		return;
	}
	w = win_find(a, id);
	if (w && w->db) {
		dbuf_ack(w->db);
	}
}

void frame_session_end(struct agent *a)
{
	for (struct awin *w = win_first(a); w; w = win_next(a, w)) {
		segs_free(a, w);
		dbuf_destroy(w->db);
		w->db = NULL;
	}
	while (a->retired) {
		struct retired *r = a->retired;

		a->retired = r->next;
		dbuf_destroy(r->db);
		free(r);
	}
}

/* proxy_session.c: guivm-proxy's policy for the exporter's messages: one window, full-screen; acks; configure handshake. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "qgui/log.h"

struct pxs {
	struct pxx *x;
	struct transport *t;
	struct conn *c;
	struct grant_mapper *gm;
	enum pxs_end end;
	bool have_win, mapped;
	uint32_t win;          /* the exporter's one window */
	bool cfg_pending;      /* a configure of ours the exporter has not echoed yet */
	uint32_t pend_w, pend_h;
	uint32_t lim_w, lim_h; /* largest dump accepted: the xconf or any content size told since (never shrinks,
	                          so that dumps in flight while dom0's screen shrinks are no violation) */
	struct pximg *img;
	uint32_t img_w, img_h;
	struct px_rect dmg;    /* damage collected in this batch, clipped to the image; w == 0: none */
	/* a WINDOW_DUMP whose grants are being mapped: no message is handled until it is done */
	struct grant_map_op *op;
	struct proto_msg dump; /* its header fields (refs not kept: the op has its own copy) */
	struct pollfd op_pfd;
	int op_timeout;
};

static void violation(struct pxs *s, const struct proto_msg *m, const char *why)
{
	log_error("protocol violation in %s for window 0x%x: %s; ending the session", proto_type_name(m->type),
			m->window, why);
	s->end = PXS_VIOLATION;
}

static void send(struct pxs *s, const struct proto_msg *m)
{
	int rc = conn_send(s->c, m);

	if (rc < 0 && s->end == PXS_RUNNING) {
		log_error("cannot send %s to the exporter: %s", proto_type_name(m->type), strerror(-rc));
		/* -ENOBUFS: it stopped reading while we had input for it */
		s->end = rc == -ENOBUFS ? PXS_VIOLATION : PXS_EOF;
	}
}

/* The window is always full-screen at the content size: tell the exporter, and wait for its echo. */
static void send_configure(struct pxs *s)
{
	struct proto_msg m = { .type = MSG_CONFIGURE, .window = s->win };

	pxx_content_size(s->x, &s->pend_w, &s->pend_h);
	m.u.configure = (struct proto_configure){ 0, 0, s->pend_w, s->pend_h, false };
	s->cfg_pending = true;
	send(s, &m);
}

static bool is_ours(const struct pxs *s, int32_t x, int32_t y, uint32_t w, uint32_t h)
{
	uint32_t cw, ch;

	pxx_content_size(s->x, &cw, &ch);
	return x == 0 && y == 0 && w == cw && h == ch;
}

static void flush_damage(struct pxs *s)
{
	if (s->dmg.w > 0 && s->img) {
		pxx_img_put(s->x, s->img, s->dmg);
	}
	s->dmg.w = 0;
}

/* ---------------------------------------------------------------- message handlers */

static void on_create(struct pxs *s, const struct proto_msg *m)
{
	const struct proto_create *c = &m->u.create;

	s->have_win = true;
	s->win = m->window;
	log_info("the GUI qube's screen is window 0x%x, %ux%u", m->window, c->width, c->height);
	if (c->override_redirect) {
		log_debug("override-redirect refused: the window is shown full-screen, as a managed one");
	}
	if (!is_ours(s, c->x, c->y, c->width, c->height)) {
		send_configure(s);
	}
}

static void on_destroy(struct pxs *s, const struct proto_msg *m)
{
	(void)m;
	log_info("the exporter destroyed its window; ending the session");
	s->end = PXS_EOF;
}

static void on_map(struct pxs *s, const struct proto_msg *m)
{
	if (m->u.map.override_redirect) {
		log_debug("override-redirect refused");
	}
	if (!s->mapped) {
		s->mapped = true;
		pxx_set_waiting(s->x, false);
		pxx_img_put(s->x, s->img, (struct px_rect){ 0, 0, (int32_t)s->img_w, (int32_t)s->img_h });
	}
}

static void on_unmap(struct pxs *s, const struct proto_msg *m)
{
	(void)m;
	if (s->mapped) {
		s->mapped = false;
		s->dmg.w = 0;
		pxx_set_waiting(s->x, true);
	}
}

/*
 * The configure handshake (reference 1.6), loop-free: the exporter's CONFIGURE
 * after one of ours is its answer, whatever size it names (a display that
 * cannot take ours answers with the size in effect; its image is shown at the
 * top left either way, clipped or with black around it). Ours goes again only
 * when dom0's screen changed meanwhile, or when the exporter announces on its
 * own a geometry other than the one shown. Re-sending on every mismatch, as
 * the reference does for ordinary windows, would ping-pong with such a display.
 */
static void on_configure(struct pxs *s, const struct proto_msg *m)
{
	const struct proto_configure *c = &m->u.configure;
	uint32_t w, h;

	pxx_content_size(s->x, &w, &h);
	if (s->cfg_pending) {
		s->cfg_pending = false;
		if (w != s->pend_w || h != s->pend_h) {
			send_configure(s);
		}
	} else if (!is_ours(s, c->x, c->y, c->width, c->height)) {
		send_configure(s);
	}
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static void on_shmimage(struct pxs *s, const struct proto_msg *m)
{
	const struct proto_shmimage *d = &m->u.shmimage; /* x, y, width, height >= 0 (decoder) */
	int64_t x0, y0, x1, y1;

	if (!s->mapped || s->img == NULL) {
		return;
	}
	/* clip to the image, then join with the batch's damage: one put per batch, however many messages */
	x0 = min64(d->x, s->img_w);
	y0 = min64(d->y, s->img_h);
	x1 = min64((int64_t)d->x + d->width, s->img_w);
	y1 = min64((int64_t)d->y + d->height, s->img_h);
	if (x1 <= x0 || y1 <= y0) {
		return;
	}
	if (s->dmg.w > 0) {
		x0 = min64(x0, s->dmg.x);
		y0 = min64(y0, s->dmg.y);
		x1 = max64(x1, (int64_t)s->dmg.x + s->dmg.w);
		y1 = max64(y1, (int64_t)s->dmg.y + s->dmg.h);
	}
	s->dmg = (struct px_rect){ (int32_t)x0, (int32_t)y0, (int32_t)(x1 - x0), (int32_t)(y1 - y0) };
}

/*
 * The dump's grants are mapped (g), or not (g NULL after a local failure):
 * the new image replaces the old one, and the dump is acknowledged.
 */
static void dump_done(struct pxs *s, const struct proto_msg *m, struct grant_mapping *g)
{
	const struct proto_dump *d = &m->u.dump;
	struct pximg *old = s->img;

	s->img = g != NULL ? pxx_img_create(s->x, g, d->width, d->height) : NULL;
	s->img_w = s->img_h = 0;
	if (s->img) {
		s->img_w = d->width;
		s->img_h = d->height;
	}
	/*
	 * Release the image this dump replaces and acknowledge only once the X
	 * server has processed the detach: after the ack the exporter reuses
	 * that buffer, which must never be on screen while it is rewritten.
	 */
	pxx_img_destroy(s->x, old);
	if (s->mapped) {
		pxx_clear_outside(s->x, s->img_w, s->img_h);
	}
	pxx_sync(s->x);
	if (conn_version(s->c) >= QUBES_GUID_MIN_MSG_WINDOW_DUMP_ACK) {
		send(s, &(struct proto_msg){ .type = MSG_WINDOW_DUMP_ACK, .window = m->window });
	}
}

/* Moves the map in flight on, without waiting; at its end, the dump's image and ack. */
static void dump_step(struct pxs *s)
{
	struct grant_mapping *g = NULL;
	int rc;

	if (s->op == NULL) {
		return;
	}
	rc = grant_map_step(s->op, &g, &s->op_pfd, &s->op_timeout);
	if (rc == -EINPROGRESS) {
		return;
	}
	s->op = NULL;
	if (rc == -EPROTO) {
		/* the session's one line is the grant library's, naming the check, the deadline or the run cap */
		s->end = PXS_VIOLATION;
		return;
	}
	if (rc != 0) {
		log_error("cannot map the screen image: %s", strerror(-rc));
	}
	dump_done(s, &s->dump, g);
}

static void on_dump(struct pxs *s, const struct proto_msg *m)
{
	const struct proto_dump *d = &m->u.dump; /* nrefs * 4096 >= width * height * 4 (decoder) */
	uint32_t *refs;
	int rc;

	/* bounds what the exporter can make us map and the X server read */
	if (d->width > s->lim_w || d->height > s->lim_h) {
		violation(s, m, "an image larger than the screen");
		return;
	}
	flush_damage(s);
	if (d->nrefs == 0 || d->width == 0 || d->height == 0) {
		dump_done(s, m, NULL);
		return;
	}
	refs = malloc((size_t)d->nrefs * sizeof(*refs));
	if (refs == NULL) {
		s->end = PXS_LOCAL;
		return;
	}
	for (uint32_t i = 0; i < d->nrefs; i++) {
		refs[i] = proto_dump_ref(d, i);
	}
	/*
	 * Mapped step by step from the main loop's poll (dump_step), so that a
	 * GUI qube answering its LOOKUPs slowly never holds up dom0's keyboard.
	 * The old image stays on screen until then.
	 */
	rc = grant_map_start(s->gm, refs, d->nrefs, &s->op);
	free(refs);
	if (rc != 0) {
		log_error("cannot map the screen image: %s", strerror(-rc));
		s->end = PXS_LOCAL;
		return;
	}
	s->dump = *m;
	s->dump.u.dump.refs = NULL;
	dump_step(s);
}

/* Refused as the protocol allows (nothing for a full-screen view). A title is sanitised by the decoder, only logged. */
static void on_ignored(struct pxs *s, const struct proto_msg *m)
{
	(void)s;
	log_debug("%s ignored%s%.100s", proto_type_name(m->type), m->type == MSG_WMNAME ? ": title " : "",
			m->type == MSG_WMNAME ? m->u.wmname.title : "");
}

/* What the exporter may send. Every message but the first CREATE names that one window. */
typedef void (*handler_fn)(struct pxs *, const struct proto_msg *);
static const struct {
	uint32_t type;
	handler_fn fn;
} dispatch[] = {
	{ MSG_CREATE, on_create }, { MSG_DESTROY, on_destroy }, { MSG_MAP, on_map }, { MSG_UNMAP, on_unmap },
	{ MSG_CONFIGURE, on_configure }, { MSG_SHMIMAGE, on_shmimage }, { MSG_WINDOW_DUMP, on_dump },
	{ MSG_WMNAME, on_ignored }, { MSG_WMCLASS, on_ignored }, { MSG_WINDOW_HINTS, on_ignored },
	{ MSG_WINDOW_FLAGS, on_ignored }, { MSG_CURSOR, on_ignored }, { MSG_DOCK, on_ignored },
	{ MSG_CLIPBOARD_DATA, on_ignored }, /* its window field is ignored, as the reference does */
};

static void handle(struct pxs *s, const struct proto_msg *m)
{
	for (size_t i = 0; i < sizeof(dispatch) / sizeof(dispatch[0]); i++) {
		if (dispatch[i].type != m->type) {
			continue;
		}
		if (m->type == MSG_CREATE && s->have_win) {
			violation(s, m, "a second window (the GUI qube has exactly one)");
		} else if (m->type != MSG_CREATE && m->type != MSG_CLIPBOARD_DATA &&
				(!s->have_win || m->window != s->win)) {
			violation(s, m, "no such window");
		} else {
			dispatch[i].fn(s, m);
		}
		return;
	}
	violation(s, m, "unexpected message");
}

enum pxs_end pxs_process(struct pxs *s, int budget, bool *more)
{
	int i;

	*more = false;
	dump_step(s);
	for (i = 0; i < budget && s->end == PXS_RUNNING && s->op == NULL; i++) {
		struct proto_msg m;
		int rc = conn_next(s->c, &m);

		if (rc == CONN_NONE) {
			break;
		}
		if (rc == CONN_READY) {
			log_info("the exporter connected, protocol %u.%u", conn_version(s->c) >> 16,
					conn_version(s->c) & 0xffff);
		} else if (rc == CONN_DROPPED) {
			log_debug("a message was dropped: %s", conn_error(s->c));
		} else if (rc == CONN_MSG) {
			handle(s, &m);
		} else if (rc == -EPIPE) {
			log_info("the exporter disconnected");
			s->end = PXS_EOF;
		} else if (rc == -EPROTO || rc == -EPROTONOSUPPORT) {
			log_error("protocol violation: %s; ending the session", conn_error(s->c));
			s->end = PXS_VIOLATION;
		} else {
			log_error("the connection failed: %s", strerror(rc < 0 ? -rc : EIO));
			s->end = rc == -ENOMEM ? PXS_LOCAL : PXS_EOF;
		}
	}
	*more = i == budget;
	flush_damage(s);
	return s->end;
}

/* ---------------------------------------------------------------- lifetime, poll, X events */

struct pxs *pxs_create(struct pxx *x, struct transport *t, enum qgui_backend be, int own, const struct px_opts *o)
{
	struct pxs *s = calloc(1, sizeof(*s));
	struct conn_params p;
	uint32_t w, h;

	conn_params_default(&p, CONN_DAEMON);
	pxx_content_size(x, &w, &h);
	proto_xconf_for_screen(w, h, 24, &p.xconf);
	if (s == NULL || (s->gm = grant_mapper_create(be, own, o->domid)) == NULL ||
			grant_mapper_set_limits(s->gm, o->dump_deadline_ms, PX_DUMP_MAX_RUNS) != 0 ||
			(s->c = conn_create(t, &p)) == NULL) {
		log_error("cannot start a session: %s", strerror(errno));
		grant_mapper_destroy(s ? s->gm : NULL);
		transport_destroy(t);
		free(s);
		return NULL;
	}
	s->x = x;
	s->t = t;
	s->lim_w = p.xconf.w;
	s->lim_h = p.xconf.h;
	return s;
}

void pxs_destroy(struct pxs *s)
{
	if (s == NULL) {
		return;
	}
	grant_map_cancel(s->op);
	pxx_img_destroy(s->x, s->img); /* before the mapper: the image is one of its mappings */
	pxx_sync(s->x);
	grant_mapper_destroy(s->gm);
	conn_destroy(s->c);
	transport_destroy(s->t);
	free(s);
}

int pxs_pollfd(struct pxs *s, struct pollfd *conn, struct pollfd *grant)
{
	conn_pollfd(s->c, conn);
	*grant = (struct pollfd){ .fd = -1 };
	if (s->op == NULL) {
		return -1;
	}
	/* the exporter's next messages wait for the dump: no reading them meanwhile, only sending */
	conn->events &= (short)~POLLIN;
	*grant = s->op_pfd;
	return s->op_timeout;
}

void pxs_handle(struct pxs *s, short revents)
{
	int rc = conn_handle(s->c, revents);

	/* -EPIPE: conn_next reports it, after what the exporter sent before closing */
	if (rc < 0 && rc != -EPIPE && s->end == PXS_RUNNING) {
		log_error("the connection failed: %s", strerror(-rc));
		s->end = rc == -ENOBUFS ? PXS_VIOLATION : PXS_EOF;
	}
}

void pxs_input(struct pxs *s, const struct proto_msg *m)
{
	struct proto_msg out;

	if (s == NULL || s->end != PXS_RUNNING || !s->mapped) {
		return;
	}
	out = *m;
	out.window = m->type == MSG_KEYMAP_NOTIFY ? 0 : s->win; /* the keymap goes to window 0, as the reference */
	send(s, &out);
}

void pxs_expose(struct pxs *s, const struct px_rect *r)
{
	if (s != NULL && s->mapped) {
		pxx_img_put(s->x, s->img, *r);
	}
}

void pxs_screen_changed(struct pxs *s)
{
	uint32_t w, h;

	if (s == NULL || s->end != PXS_RUNNING) {
		return;
	}
	pxx_content_size(s->x, &w, &h);
	w = (w + 7u) & ~7u; /* as in the xconf: the width the exporter may use */
	s->lim_w = w > s->lim_w ? w : s->lim_w;
	s->lim_h = h > s->lim_h ? h : s->lim_h;
	if (conn_ready(s->c) && s->have_win && !s->cfg_pending) {
		send_configure(s); /* when one is pending, the echo brings the new size (on_configure) */
	}
}

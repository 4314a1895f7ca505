/* tests/lib/tagent.c: a scripted GUI agent (vchan server + grant owner) for integration tests. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"
#include "tagent.h"
#include "test.h"

/*
 * Buffer release rule (double buffering, as a real agent does it):
 *
 * Each window has one *current* share (the image tagent_fill made last; tagent_paint and
 * tagent_pixels work on it) and a FIFO of dumps sent and not yet acknowledged. Every
 * WINDOW_DUMP pushes one FIFO entry holding the share it *replaced* (the previous current
 * share, or none for the window's first dump). Every WINDOW_DUMP_ACK for that window pops the
 * oldest entry and unshares the share stored in it: once dump N is acked, the daemon no longer
 * draws from dump N-1's image, so that image is released. The current share is never released
 * by an ACK. An ACK for a window with an empty FIFO (or an unknown window) is only counted.
 * Below protocol 1.7 no ACK ever comes, so replaced shares stay until tagent_reaccept (which
 * releases every replaced share: the daemon that mapped them is gone) or tagent_destroy.
 */

struct pending {
	struct grant_share *replaced; /* may be NULL */
};

struct twin {
	uint32_t id;
	uint32_t w, h;
	struct grant_share *cur;
	struct pending *fifo; /* ring buffer */
	size_t fifo_cap, fifo_head, fifo_len;
};

struct tagent {
	enum qgui_backend backend;
	int own, gui;
	uint32_t offer;
	struct transport *t;
	struct grant_owner *go;
	struct conn *c;
	bool disconnected;
	unsigned acks, dumps;
	uint32_t version;
	struct msg_xconf xconf;
	struct twin *wins;
	size_t nwins, wins_cap;
	uint8_t *clip; /* copy of the last returned clipboard data */
	size_t extra_pages; /* shared after each image's pages, never named in its dump */
};

static int left_ms(long long deadline)
{
	long long l = deadline - test_now_ms();

	return l < 0 ? 0 : (l > 1000000 ? 1000000 : (int)l);
}

/* ---------------------------------------------------------------- windows and shares */

static struct twin *win_find(struct tagent *a, uint32_t id)
{
	for (size_t i = 0; i < a->nwins; i++) {
		if (a->wins[i].id == id) {
			return &a->wins[i];
		}
	}
	return NULL;
}

static struct twin *win_get(struct tagent *a, uint32_t id)
{
	struct twin *w = win_find(a, id);

	if (w != NULL) {
		return w;
	}
	if (a->nwins == a->wins_cap) {
		size_t cap = a->wins_cap ? a->wins_cap * 2 : 8;
		struct twin *n = realloc(a->wins, cap * sizeof(*n));

		if (n == NULL) {
			return NULL;
		}
		a->wins = n;
		a->wins_cap = cap;
	}
	w = &a->wins[a->nwins++];
	memset(w, 0, sizeof(*w));
	w->id = id;
	return w;
}

static int fifo_push(struct twin *w, struct grant_share *replaced)
{
	if (w->fifo_len == w->fifo_cap) {
		size_t cap = w->fifo_cap ? w->fifo_cap * 2 : 4;
		struct pending *n = malloc(cap * sizeof(*n));

		if (n == NULL) {
			return -1;
		}
		for (size_t i = 0; i < w->fifo_len; i++) {
			n[i] = w->fifo[(w->fifo_head + i) % w->fifo_cap];
		}
		free(w->fifo);
		w->fifo = n;
		w->fifo_cap = cap;
		w->fifo_head = 0;
	}
	w->fifo[(w->fifo_head + w->fifo_len) % w->fifo_cap].replaced = replaced;
	w->fifo_len++;
	return 0;
}

/* Unshares every replaced share still waiting for an ACK. */
static void fifo_release_all(struct tagent *a, struct twin *w)
{
	while (w->fifo_len > 0) {
		grant_owner_unshare(a->go, w->fifo[w->fifo_head].replaced);
		w->fifo_head = (w->fifo_head + 1) % w->fifo_cap;
		w->fifo_len--;
	}
	w->fifo_head = 0;
}

static void on_ack(struct tagent *a, uint32_t id)
{
	struct twin *w = win_find(a, id);

	a->acks++;
	if (w == NULL || w->fifo_len == 0) {
		return;
	}
	grant_owner_unshare(a->go, w->fifo[w->fifo_head].replaced);
	w->fifo_head = (w->fifo_head + 1) % w->fifo_cap;
	w->fifo_len--;
}

/* ---------------------------------------------------------------- lifetime */

struct tagent *tagent_start(enum qgui_backend backend, int own_domid, int gui_domid, uint32_t offer_version)
{
	struct tagent *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		fprintf(stderr, "tagent: out of memory\n");
		return NULL;
	}
	a->backend = backend;
	a->own = own_domid;
	a->gui = gui_domid;
	a->offer = offer_version ? offer_version : QUBES_GUID_PROTOCOL_VERSION;
	/* $QGUI_RECORD_DIR: the session's streams are recorded as seeds for tests/fuzz (record.h) */
	a->t = record_wrap(transport_server_create(backend, own_domid, gui_domid, QGUI_VCHAN_PORT, 4096), "tagent");
	if (a->t == NULL) {
		fprintf(stderr, "tagent: vchan server %d -> %d: %s\n", own_domid, gui_domid, strerror(errno));
		free(a);
		return NULL;
	}
	a->go = grant_owner_create(backend, own_domid, gui_domid);
	if (a->go == NULL) {
		fprintf(stderr, "tagent: grant owner %d -> %d: %s\n", own_domid, gui_domid, strerror(errno));
		transport_destroy(a->t);
		free(a);
		return NULL;
	}
	return a;
}

void tagent_destroy(struct tagent *a)
{
	if (a == NULL) {
		return;
	}
	conn_destroy(a->c);
	transport_destroy(a->t);
	for (size_t i = 0; i < a->nwins; i++) {
		fifo_release_all(a, &a->wins[i]);
		grant_owner_unshare(a->go, a->wins[i].cur);
		free(a->wins[i].fifo);
	}
	grant_owner_destroy(a->go);
	free(a->wins);
	free(a->clip);
	free(a);
}

int tagent_accept(struct tagent *a, int timeout_ms)
{
	long long deadline = test_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct conn_params p;

	if (a == NULL || a->c != NULL) {
		return -1;
	}
	/* 1. a client connects to the vchan server */
	while (transport_state(a->t) != TRANSPORT_CONNECTED) {
		struct pollfd pfd;
		int n, wait = left_ms(deadline);

		transport_pollfd(a->t, false, &pfd);
		n = poll(&pfd, 1, wait < 50 ? wait : 50);
		if (n < 0 && errno != EINTR) {
			return -1;
		}
		if (transport_handle(a->t, n > 0 ? pfd.revents : 0) == TRANSPORT_CONNECTED) {
			break;
		}
		if (test_now_ms() >= deadline) {
			fprintf(stderr, "tagent: no daemon connected within %d ms\n", timeout_ms);
			return -1;
		}
	}
	/* 2. the handshake */
	conn_params_default(&p, CONN_AGENT);
	p.version = a->offer;
	a->c = conn_create(a->t, &p);
	if (a->c == NULL) {
		return -1;
	}
	a->disconnected = false;
	for (;;) {
		struct proto_msg m;
		struct pollfd pfd;
		int rc, n, wait;

		while ((rc = conn_next(a->c, &m)) != CONN_NONE) {
			if (rc == CONN_READY) {
				a->version = conn_version(a->c);
				a->xconf = *conn_xconf(a->c);
				return 0;
			}
			if (rc < 0) {
				fprintf(stderr, "tagent: handshake failed: %s (%s)\n", strerror(-rc), conn_error(a->c));
				a->disconnected = true;
				return -1;
			}
		}
		if (test_now_ms() >= deadline) {
			fprintf(stderr, "tagent: handshake timed out\n");
			return -1;
		}
		conn_pollfd(a->c, &pfd);
		wait = left_ms(deadline);
		n = poll(&pfd, 1, wait < 50 ? wait : 50);
		if (n < 0 && errno != EINTR) {
			return -1;
		}
		rc = conn_handle(a->c, n > 0 ? pfd.revents : 0);
		if (rc < 0 && rc != -EPIPE) {
			/* -EPIPE: the daemon may have closed after sending; conn_next delivers what it sent first */
			fprintf(stderr, "tagent: handshake: %s\n", strerror(-rc));
			a->disconnected = true;
			return -1;
		}
	}
}

int tagent_reaccept(struct tagent *a, int timeout_ms)
{
	if (a == NULL) {
		return -1;
	}
	conn_destroy(a->c);
	a->c = NULL;
	/* the daemon that mapped the replaced images is gone: no ACK will come for them */
	for (size_t i = 0; i < a->nwins; i++) {
		fifo_release_all(a, &a->wins[i]);
	}
	if (transport_server_reset(a->t) != 0) {
		fprintf(stderr, "tagent: transport_server_reset failed\n");
		return -1;
	}
	a->disconnected = false;
	return tagent_accept(a, timeout_ms);
}

uint32_t tagent_version(const struct tagent *a)
{
	return a->version;
}

const struct msg_xconf *tagent_xconf(const struct tagent *a)
{
	return &a->xconf;
}

unsigned tagent_acks(const struct tagent *a)
{
	return a->acks;
}

unsigned tagent_dumps(const struct tagent *a)
{
	return a->dumps;
}

bool tagent_disconnected(const struct tagent *a)
{
	return a->disconnected;
}

/* ---------------------------------------------------------------- sending */

static int flush_all(struct tagent *a, long long deadline);

/*
 * Queues m and waits (at most 5 s) until the transport took all queued output, so that a
 * test which then only looks at the screen never leaves bytes sitting in the queue.
 */
int tagent_send(struct tagent *a, const struct proto_msg *m)
{
	int rc;

	if (a == NULL || a->c == NULL || a->disconnected) {
		return -1;
	}
	rc = conn_send(a->c, m);
	if (rc < 0) {
		if (rc == -EPIPE) {
			a->disconnected = true;
		}
		fprintf(stderr, "tagent: sending %s: %s\n", proto_type_name(m->type), strerror(-rc));
		return -1;
	}
	if (flush_all(a, test_now_ms() + 5000) != 0) {
		fprintf(stderr, "tagent: sending %s: the daemon does not read\n", proto_type_name(m->type));
		return -1;
	}
	return 0;
}

/* Waits (at most until deadline) until the session's queued output has gone to the transport. */
static int flush_all(struct tagent *a, long long deadline)
{
	while (conn_queued(a->c) > 0) {
		struct pollfd pfd;
		int n, rc;

		if (test_now_ms() >= deadline) {
			return -1;
		}
		conn_pollfd(a->c, &pfd);
		n = poll(&pfd, 1, left_ms(deadline));
		if (n < 0 && errno != EINTR) {
			return -1;
		}
		rc = conn_handle(a->c, n > 0 ? pfd.revents : 0);
		if (rc < 0) {
			if (rc == -EPIPE) {
				a->disconnected = true;
			}
			return -1;
		}
	}
	return 0;
}

int tagent_send_raw(struct tagent *a, const void *buf, size_t len)
{
	long long deadline = test_now_ms() + 5000;
	size_t done = 0;

	if (a == NULL || a->c == NULL) {
		return -1;
	}
	/* bytes the session already queued go first, so the stream keeps its order */
	if (flush_all(a, deadline) != 0) {
		return -1;
	}
	while (done < len) {
		struct pollfd pfd;
		ssize_t w = transport_write(a->t, (const uint8_t *)buf + done, len - done);
		int n;

		if (w < 0) {
			if (errno == EPIPE) {
				a->disconnected = true;
			}
			return -1;
		}
		done += (size_t)w;
		if (done == len) {
			break;
		}
		if (test_now_ms() >= deadline) {
			return -1;
		}
		transport_pollfd(a->t, true, &pfd);
		n = poll(&pfd, 1, left_ms(deadline) < 50 ? left_ms(deadline) : 50);
		if (n < 0 && errno != EINTR) {
			return -1;
		}
		transport_handle(a->t, n > 0 ? pfd.revents : 0);
	}
	return 0;
}

int tagent_create(struct tagent *a, uint32_t id, int x, int y, uint32_t w, uint32_t h, bool override_redirect,
		const char *title, bool map)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_CREATE;
	m.window = id;
	m.u.create.x = x;
	m.u.create.y = y;
	m.u.create.width = w;
	m.u.create.height = h;
	m.u.create.override_redirect = override_redirect;
	if (tagent_send(a, &m) != 0) {
		return -1;
	}
	if (title != NULL) {
		memset(&m, 0, sizeof(m));
		m.type = MSG_WMNAME;
		m.window = id;
		snprintf(m.u.wmname.title, sizeof(m.u.wmname.title), "%s", title);
		if (tagent_send(a, &m) != 0) {
			return -1;
		}
	}
	if (map) {
		memset(&m, 0, sizeof(m));
		m.type = MSG_CONFIGURE;
		m.window = id;
		m.u.configure.x = x;
		m.u.configure.y = y;
		m.u.configure.width = w;
		m.u.configure.height = h;
		m.u.configure.override_redirect = override_redirect;
		if (tagent_send(a, &m) != 0) {
			return -1;
		}
		memset(&m, 0, sizeof(m));
		m.type = MSG_MAP;
		m.window = id;
		m.u.map.transient_for = 0;
		m.u.map.override_redirect = override_redirect;
		if (tagent_send(a, &m) != 0) {
			return -1;
		}
	}
	return 0;
}

static int send_shmimage(struct tagent *a, uint32_t id, int x, int y, int w, int h)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_SHMIMAGE;
	m.window = id;
	m.u.shmimage.x = x;
	m.u.shmimage.y = y;
	m.u.shmimage.width = w;
	m.u.shmimage.height = h;
	return tagent_send(a, &m);
}

int tagent_fill(struct tagent *a, uint32_t id, uint32_t w, uint32_t h, uint32_t rgb)
{
	struct twin *win;
	struct grant_share *s = NULL;
	struct proto_msg m;
	uint64_t bytes = (uint64_t)w * h * 4;
	size_t npages = (size_t)((bytes + GRANT_PAGE_SIZE - 1) / GRANT_PAGE_SIZE);
	uint32_t *px;
	uint8_t *refs;
	int rc;

	if (a == NULL || a->c == NULL || w > MAX_WINDOW_WIDTH || h > MAX_WINDOW_HEIGHT) {
		return -1;
	}
	if (npages == 0) {
		npages = 1;
	}
	win = win_get(a, id);
	if (win == NULL) {
		return -1;
	}
	rc = grant_owner_share(a->go, npages + a->extra_pages, &s);
	if (rc != 0) {
		fprintf(stderr, "tagent: sharing %zu pages: %s\n", npages, strerror(-rc));
		return -1;
	}
	px = s->addr;
	for (uint64_t i = 0; i < (uint64_t)w * h; i++) {
		px[i] = rgb & 0xffffffu;
	}
	refs = malloc(npages * 4);
	if (refs == NULL || fifo_push(win, win->cur) != 0) {
		free(refs);
		grant_owner_unshare(a->go, s);
		return -1;
	}
	for (size_t i = 0; i < npages; i++) {
		uint32_t r = s->refs[i];

		refs[i * 4 + 0] = (uint8_t)r;
		refs[i * 4 + 1] = (uint8_t)(r >> 8);
		refs[i * 4 + 2] = (uint8_t)(r >> 16);
		refs[i * 4 + 3] = (uint8_t)(r >> 24);
	}
	/* from here on the new share is the window's image, whatever happens to the messages */
	win->cur = s;
	win->w = w;
	win->h = h;
	memset(&m, 0, sizeof(m));
	m.type = MSG_WINDOW_DUMP;
	m.window = id;
	m.u.dump.width = w;
	m.u.dump.height = h;
	m.u.dump.bpp = 32;
	m.u.dump.nrefs = (uint32_t)npages;
	m.u.dump.refs = refs;
	rc = tagent_send(a, &m);
	free(refs);
	if (rc != 0) {
		return -1;
	}
	a->dumps++;
	return send_shmimage(a, id, 0, 0, (int)w, (int)h);
}

void tagent_set_extra_pages(struct tagent *a, size_t extra)
{
	a->extra_pages = extra;
}

int tagent_paint(struct tagent *a, uint32_t id, int x, int y, int rw, int rh, uint32_t rgb, bool damage)
{
	struct twin *win = a ? win_find(a, id) : NULL;
	long long x0, y0, x1, y1;
	uint32_t *px;

	if (win == NULL || win->cur == NULL) {
		return -1;
	}
	/* pixels: the part of the rectangle inside the image; the damage message: as given */
	x0 = x < 0 ? 0 : x;
	y0 = y < 0 ? 0 : y;
	x1 = (long long)x + (rw > 0 ? rw : 0);
	y1 = (long long)y + (rh > 0 ? rh : 0);
	if (x1 > win->w) {
		x1 = win->w;
	}
	if (y1 > win->h) {
		y1 = win->h;
	}
	px = win->cur->addr;
	for (long long yy = y0; yy < y1; yy++) {
		for (long long xx = x0; xx < x1; xx++) {
			px[yy * win->w + xx] = rgb & 0xffffffu;
		}
	}
	return damage ? send_shmimage(a, id, x, y, rw, rh) : 0;
}

uint32_t *tagent_pixels(struct tagent *a, uint32_t id, uint32_t *w, uint32_t *h)
{
	struct twin *win = a ? win_find(a, id) : NULL;

	if (win == NULL || win->cur == NULL) {
		return NULL;
	}
	if (w) {
		*w = win->w;
	}
	if (h) {
		*h = win->h;
	}
	return win->cur->addr;
}

/* ---------------------------------------------------------------- receiving */

/* Whether m is what the caller waits for; copies clipboard data out of the session's buffer. */
static bool wanted(struct tagent *a, const struct proto_msg *m, uint32_t type, bool any_window, uint32_t window,
		struct proto_msg *out)
{
	if ((type != 0 && m->type != type) || (!any_window && m->window != window)) {
		return false;
	}
	if (out != NULL) {
		*out = *m;
		if (m->type == MSG_CLIPBOARD_DATA && m->u.clipboard.data != NULL) {
			uint8_t *copy = malloc(m->u.clipboard.len ? m->u.clipboard.len : 1);

			if (copy == NULL) {
				out->u.clipboard.data = NULL;
				out->u.clipboard.len = 0;
				return true;
			}
			memcpy(copy, m->u.clipboard.data, m->u.clipboard.len);
			free(a->clip);
			a->clip = copy;
			out->u.clipboard.data = copy;
		}
	}
	return true;
}

static int expect(struct tagent *a, uint32_t type, bool any_window, uint32_t window, int timeout_ms,
		struct proto_msg *out)
{
	long long deadline = test_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	bool peer_gone = false;

	if (a == NULL || a->c == NULL || a->disconnected) {
		return -1;
	}
	for (;;) {
		struct proto_msg m;
		struct pollfd pfd;
		int rc, n;

		/* everything already readable first: bytes sent before a close are delivered */
		while ((rc = conn_next(a->c, &m)) != CONN_NONE) {
			if (rc < 0) {
				a->disconnected = true;
				return -1;
			}
			if (rc != CONN_MSG) {
				continue; /* CONN_DROPPED: refused by a decoder check; ignored */
			}
			if (m.type == MSG_WINDOW_DUMP_ACK) {
				on_ack(a, m.window);
			}
			if (wanted(a, &m, type, any_window, window, out)) {
				return 0;
			}
		}
		if (peer_gone) {
			a->disconnected = true;
			return -1;
		}
		if (test_now_ms() >= deadline) {
			return -1;
		}
		conn_pollfd(a->c, &pfd);
		n = poll(&pfd, 1, left_ms(deadline));
		if (n < 0 && errno != EINTR) {
			return -1;
		}
		rc = conn_handle(a->c, n > 0 ? pfd.revents : 0);
		if (rc < 0) {
			peer_gone = true; /* read what is left once more, then report the disconnect */
		}
	}
}

int tagent_expect(struct tagent *a, uint32_t type, int timeout_ms, struct proto_msg *out)
{
	return expect(a, type, true, 0, timeout_ms, out);
}

int tagent_expect_win(struct tagent *a, uint32_t type, uint32_t window, int timeout_ms, struct proto_msg *out)
{
	return expect(a, type, false, window, timeout_ms, out);
}

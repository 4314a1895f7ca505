/* session.c: the policy for one agent's messages (window rules, acks, clipboard) and its input events. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clipboard.h"
#include "qgui/log.h"
#include "session.h"

#define HASH_BUCKETS 1024
#define DELAY_QUEUE_MAX 1024 /* input events held back by events_max_delay; more are sent at once */

/*
 * What one agent may cost the X server it shares with the other qubes' daemons, in work
 * units (x11_work: one per X request, one more per 64 Ki pixels put): a token bucket that
 * refills at x_work_rate per second (guid.conf, default 20000; 0 = unlimited) up to a quarter
 * of that. While it is empty the agent's messages
 * wait in the connection (the agent sees back-pressure, never an error) and the loop sleeps
 * until it refills, still serving X events and signals. An honest agent stays far below:
 * creating a window is about 25 units, a full 1920x1080 frame 32, 60 such frames a second
 * 1900; a flood of CREATE/MAP is held to about a thousand windows a second.
 */

struct wnode {
	struct gwin w;
	struct wnode *next;
};

struct session {
	const struct gd_config *cfg;
	struct x11 *x;
	struct conn *conn;
	struct grant_mapper *mapper;
	struct wnode *buckets[HASH_BUCKETS];
	size_t nwin;
	struct gwin *screen_win;       /* remote id 0, if created */
	uint32_t focused;              /* remote id of the window with focus, for clipboard requests */
	bool clip_requested;           /* a secure copy is pending: the next CLIPBOARD_DATA is wanted */
	uint32_t clip_time;
	bool or_warned;
	bool budget_warned;            /* an image was refused for the memory budget (logged once) */
	uint64_t notes;                /* messages ignored with a note (the first NOTES_LOGGED are logged) */
	enum session_end end;
	int64_t tokens;                /* X work the agent may still cause now (x_work_rate) */
	int64_t tokens_ms;             /* when tokens was last refilled */
	uint32_t *refs;                /* scratch: a dump's refs, aligned */
	/* events_max_delay: input events wait in this FIFO until their (non-decreasing) due time */
	struct {
		struct proto_msg m;
		int64_t due;
	} *dq;
	size_t dq_head, dq_len;
	int64_t dq_last;
	uint64_t rng;
};

/* ----------------------------------------------------------------- notes */

/* Lines about ignored messages logged per session: after that they are counted, so an agent cannot fill the log. */
#define NOTES_LOGGED 32

static void note(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs that a message of the agent was ignored, within the session's log budget. */
static void note(struct session *s, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (s->notes++ >= NOTES_LOGGED) {
		if (s->notes == NOTES_LOGGED + 1) {
			log_info("this agent's next ignored messages are counted, not logged");
		}
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
}

/* ----------------------------------------------------------------- window table */

static size_t bucket(uint32_t id)
{
	return (id * 2654435761u) % HASH_BUCKETS;
}

static struct gwin *win_find(struct session *s, uint32_t id)
{
	for (struct wnode *n = s->buckets[bucket(id)]; n; n = n->next) {
		if (n->w.remote == id) {
			return &n->w;
		}
	}
	return NULL;
}

static struct gwin *win_add(struct session *s, uint32_t id)
{
	struct wnode *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		return NULL;
	}
	n->w.remote = id;
	n->next = s->buckets[bucket(id)];
	s->buckets[bucket(id)] = n;
	s->nwin++;
	return &n->w;
}

static void win_remove(struct session *s, struct gwin *w)
{
	struct wnode **pp = &s->buckets[bucket(w->remote)];

	while (*pp && &(*pp)->w != w) {
		pp = &(*pp)->next;
	}
	INVARIANT(*pp != NULL);
	{
		struct wnode *n = *pp;

		*pp = n->next;
		free(n);
	}
	s->nwin--;
}

/* ----------------------------------------------------------------- helpers */

static enum session_end violation(struct session *s, uint32_t type, uint32_t window, const char *why)
{
	log_error("protocol violation in %s for window 0x%x: %s; ending the session", proto_type_name(type), window,
			why);
	s->end = SESSION_VIOLATION;
	return s->end;
}

static void send(struct session *s, const struct proto_msg *m)
{
	int rc = conn_send(s->conn, m);

	if (rc < 0 && s->end == SESSION_RUNNING) {
		log_error("cannot send %s to the agent: %s", proto_type_name(m->type), strerror(-rc));
		s->end = rc == -ENOBUFS ? SESSION_VIOLATION : SESSION_EOF;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the delayed input events that are due (all of them when all is true). */
static void flush_delayed(struct session *s, bool all)
{
	int64_t now = now_ms();

	while (s->dq_len > 0 && (all || s->dq[s->dq_head].due <= now)) {
		send(s, &s->dq[s->dq_head].m);
		s->dq_head = (s->dq_head + 1) % DELAY_QUEUE_MAX;
		s->dq_len--;
	}
}

/*
 * Input for the agent. With events_max_delay, each event waits a random time
 * (0..max ms) to blur keystroke timing, never overtaking the one before it.
 */
static void send_input(struct session *s, const struct proto_msg *m)
{
	int64_t due;

	if (s->cfg->events_max_delay <= 0 || s->dq == NULL) {
		send(s, m);
		return;
	}
	s->rng ^= s->rng << 13; /* xorshift64: timing noise, seeded from getrandom */
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	due = now_ms() + (int64_t)(s->rng % ((uint64_t)s->cfg->events_max_delay + 1));
	if (due < s->dq_last) {
		due = s->dq_last;
	}
	if (s->dq_len == DELAY_QUEUE_MAX) {
		flush_delayed(s, false);
		if (s->dq_len == DELAY_QUEUE_MAX) {
			send(s, &s->dq[s->dq_head].m); /* full: the oldest goes now */
			s->dq_head = (s->dq_head + 1) % DELAY_QUEUE_MAX;
			s->dq_len--;
		}
	}
	s->dq[(s->dq_head + s->dq_len) % DELAY_QUEUE_MAX].m = *m;
	s->dq[(s->dq_head + s->dq_len) % DELAY_QUEUE_MAX].due = due;
	s->dq_len++;
	s->dq_last = due;
}

/* Refills the work bucket for the time gone by; true when the agent may cause X work now. */
static bool may_work(struct session *s)
{
	int64_t rate = s->cfg->x_work_rate, burst = rate / 4, now = now_ms(), add = (now - s->tokens_ms) * rate / 1000;

	if (rate == 0) {
		return true; /* x_work_rate = 0: unlimited */
	}
	if (add > 0) {
		s->tokens = s->tokens + add > burst ? burst : s->tokens + add;
		s->tokens_ms = now;
	}
	return s->tokens > 0;
}

bool session_throttled(struct session *s)
{
	return s != NULL && s->end == SESSION_RUNNING && !may_work(s);
}

int session_timeout(struct session *s)
{
	int64_t left = -1;

	if (s == NULL) {
		return -1;
	}
	if (!may_work(s)) {
		left = (1 - s->tokens) * 1000 / s->cfg->x_work_rate + 1; /* until the bucket holds a token again */
	}
	if (s->dq_len > 0) {
		flush_delayed(s, false);
	}
	if (s->dq_len > 0) {
		int64_t due = s->dq[s->dq_head].due - now_ms();

		left = left < 0 || due < left ? due : left;
	}
	return left < 0 ? (int)left : left > 1000 ? 1000 : (int)left;
}

static bool rect_eq(const struct rect *a, const struct rect *b)
{
	return a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h;
}

/*
 * Tells the agent the window's geometry and waits for its echo before sending another.
 * placed: only to place the agent's own geometry by our rules (on screen, override-redirect),
 * so that a CONFIGURE of the agent's that crosses it is taken (placed again), not refused
 * as a user's move would refuse it.
 */
static void send_geometry(struct session *s, struct gwin *w, bool placed)
{
	struct proto_msg m = { .type = MSG_CONFIGURE, .window = w->remote };

	m.u.configure = (struct proto_configure){ w->geom.x, w->geom.y, (uint32_t)w->geom.w, (uint32_t)w->geom.h,
		w->override_redirect };
	send(s, &m);
	if (w->remote != FULLSCREEN_WINDOW_ID) {
		w->has_prev = w->configure_pending && !rect_eq(&w->pending, &w->geom);
		if (w->has_prev) {
			w->prev = w->pending;
		}
		w->configure_pending = true;
		w->pending = w->geom;
		w->pending_placed = placed;
	}
}

static void send_configure(struct session *s, struct gwin *w)
{
	send_geometry(s, w, false);
}

/* The override-redirect rules of reference 4.2: what the window may have, given what it asks for. */
static bool allowed_or(struct session *s, struct gwin *w, bool requested, int32_t width, int32_t height)
{
	struct rect work;

	if (!requested || !s->cfg->override_redirect_allowed || w->docked) {
		return false;
	}
	if (w->mapped && !w->override_redirect) {
		return false; /* a mapped window cannot gain override-redirect */
	}
	x11_workarea(s->x, &work);
	/* a window covering over 90 % of the screen could impersonate it: manage it instead */
	if (s->cfg->override_redirect_protection &&
			(uint64_t)width * (uint64_t)height * 10 > (uint64_t)work.w * (uint64_t)work.h * 9) {
		if (!s->or_warned) {
			log_info("window 0x%x asked to cover over 90%% of the screen unmanaged: shown as a normal window",
					w->remote);
			s->or_warned = true;
		}
		return false;
	}
	return true;
}

/*
 * Keeps a window (with its border) inside the work area unless it is entirely off-screen, so
 * that whatever the VM shows has the label colour beside it: override-redirect windows always,
 * normal windows when no window manager manages them (nothing else would keep their border on
 * the screen: a full-screen window at (0, 0) would have its frame at (-b, -b)). Tray icons
 * are placed by the tray; a normal window whose agent asked for full screen may cover the
 * screen where the user allowed it (allow_fullscreen), as with qubes-guid.
 */
static bool force_on_screen(struct session *s, struct gwin *w)
{
	int b = x11_border(s->x, w);
	struct rect work, f = { w->geom.x - b, w->geom.y - b, w->geom.w + 2 * b, w->geom.h + 2 * b }, old = w->geom;

	if (w->docked || (!w->override_redirect && (x11_wm_manages(s->x, w) ||
						    (s->cfg->allow_fullscreen && w->fullscreen_requested)))) {
		return false;
	}
	x11_workarea(s->x, &work);
	if (f.x + f.w <= work.x || f.y + f.h <= work.y || f.x >= work.x + work.w || f.y >= work.y + work.h) {
		return false;
	}
	if (f.w > work.w) {
		f.w = work.w;
	}
	if (f.h > work.h) {
		f.h = work.h;
	}
	if (f.x < work.x) {
		f.x = work.x;
	}
	if (f.y < work.y) {
		f.y = work.y;
	}
	if (f.x + f.w > work.x + work.w) {
		f.x = work.x + work.w - f.w;
	}
	if (f.y + f.h > work.y + work.h) {
		f.y = work.y + work.h - f.h;
	}
	w->geom = (struct rect){ f.x + b, f.y + b, f.w - 2 * b, f.h - 2 * b };
	if (w->geom.w < 1) {
		w->geom.w = 1;
	}
	if (w->geom.h < 1) {
		w->geom.h = 1;
	}
	return !rect_eq(&old, &w->geom);
}

/* Clips r (content coordinates) to the window and to an image of iw x ih seen at offset (sx, sy). */
static bool clip(struct rect *r, const struct gwin *w, uint32_t iw, uint32_t ih, int32_t sx, int32_t sy)
{
	int64_t x0 = r->x, y0 = r->y, x1 = (int64_t)r->x + r->w, y1 = (int64_t)r->y + r->h;

	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x0 = x0 < -(int64_t)sx ? -(int64_t)sx : x0;
	y0 = y0 < -(int64_t)sy ? -(int64_t)sy : y0;
	x1 = x1 > w->geom.w ? w->geom.w : x1;
	y1 = y1 > w->geom.h ? w->geom.h : y1;
	x1 = x1 > (int64_t)iw - sx ? (int64_t)iw - sx : x1;
	y1 = y1 > (int64_t)ih - sy ? (int64_t)ih - sy : y1;
	if (x1 <= x0 || y1 <= y0) {
		return false;
	}
	*r = (struct rect){ (int32_t)x0, (int32_t)y0, (int32_t)(x1 - x0), (int32_t)(y1 - y0) };
	return true;
}

/*
 * An image refused for the memory budget (max_image_memory): the protocol lets the daemon
 * show nothing for a dump it acknowledges, so this is a refusal, not a violation; the
 * window shows its background until an image fits. Logged once per session.
 */
static void over_budget(struct session *s, struct gwin *w, uint32_t width, uint32_t height)
{
	uint64_t used, max;

	if (s->budget_warned) {
		return;
	}
	s->budget_warned = true;
	x11_img_budget(s->x, &used, &max);
	log_error("window 0x%x: a %ux%u image would take the image memory over its budget (%llu of %llu MiB in "
		  "use): not shown, nor any other image over the budget", w->remote, width, height,
			(unsigned long long)(used >> 20), (unsigned long long)(max >> 20));
}

/* Draws rectangle r of w from its own image, or from the screen window's image (reference 2.3). */
static void repaint(struct session *s, struct gwin *w, struct rect r)
{
	if (s->cfg->invisible) {
		return;
	}
	if (w->img.x) {
		if (clip(&r, w, w->img.width, w->img.height, 0, 0)) {
			x11_img_put(s->x, w, NULL, &r, 0, 0);
		}
	} else if (s->screen_win && s->screen_win != w && s->screen_win->img.x) {
		const struct gimage *src = &s->screen_win->img;

		if (clip(&r, w, src->width, src->height, w->geom.x, w->geom.y) &&
				x11_img_put(s->x, w, src, &r, w->geom.x, w->geom.y) == -EDQUOT) {
			over_budget(s, w, (uint32_t)w->geom.w, (uint32_t)w->geom.h); /* a tray icon's coloured copy */
		}
	}
}

static void repaint_all(struct session *s, struct gwin *w)
{
	repaint(s, w, (struct rect){ 0, 0, w->geom.w, w->geom.h });
}

static void image_release(struct session *s, struct gimage *img)
{
	x11_img_release(s->x, img);
	grant_mapping_destroy(img->mapping);
	memset(img, 0, sizeof(*img));
}

static void window_destroy(struct session *s, struct gwin *w)
{
	image_release(s, &w->img);
	x11_win_destroy(s->x, w);
	if (s->screen_win == w) {
		s->screen_win = NULL;
	}
	if (s->focused == w->remote) {
		s->focused = 0;
	}
	for (size_t b = 0; b < HASH_BUCKETS; b++) {
		for (struct wnode *n = s->buckets[b]; n; n = n->next) {
			if (n->w.transient_for == w->remote && &n->w != w) {
				n->w.transient_for = 0;
				x11_win_transient(s->x, &n->w, NULL);
			}
		}
	}
	win_remove(s, w);
}

/* ----------------------------------------------------------------- message handlers */

static enum session_end on_create(struct session *s, const struct proto_msg *m, struct gwin *unused)
{
	const struct proto_create *c = &m->u.create;
	struct gwin *w;

	(void)unused;
	if (s->nwin >= GD_MAX_WINDOWS) {
		return violation(s, m->type, m->window, "too many windows");
	}
	w = win_add(s, m->window);
	if (w == NULL) {
		s->end = SESSION_LOCAL;
		return s->end;
	}
	/* a 0-pixel side (CREATE allows it) is 1, as on the X server: no CONFIGURE of ours may carry a 0 size */
	w->geom = (struct rect){ c->x, c->y, c->width ? (int32_t)c->width : 1, c->height ? (int32_t)c->height : 1 };
	w->override_redirect = allowed_or(s, w, c->override_redirect, w->geom.w, w->geom.h);
	if (w->override_redirect) {
		force_on_screen(s, w); /* a normal window is placed when it is mapped: its flags may come first */
	}
	if (x11_win_create(s->x, w) != 0) {
		log_error("cannot create an X window for 0x%x", m->window);
		win_remove(s, w);
		s->end = SESSION_LOCAL;
		return s->end;
	}
	if (m->window == FULLSCREEN_WINDOW_ID) {
		s->screen_win = w;
	}
	return SESSION_RUNNING;
}

static enum session_end on_destroy(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	window_destroy(s, w);
	x11_sync(s->x); /* once the agent has the ack, the window is gone from the screen */
	if (conn_version(s->conn) >= QUBES_GUID_MIN_BIDIRECTIONAL_MSG_DESTROY) {
		send(s, &(struct proto_msg){ .type = MSG_DESTROY, .window = m->window });
	}
	return SESSION_RUNNING;
}

static enum session_end on_map(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	struct gwin *parent;

	if (w->docked) {
		return SESSION_RUNNING; /* tray icons are mapped by the tray manager */
	}
	w->transient_for = m->u.map.transient_for;
	parent = w->transient_for ? win_find(s, w->transient_for) : NULL;
	x11_win_transient(s->x, w, parent);
	if (!w->mapped) {
		bool or = allowed_or(s, w, m->u.map.override_redirect, w->geom.w, w->geom.h);

		if (or != w->override_redirect) {
			w->override_redirect = or;
			x11_win_set_override_redirect(s->x, w);
		}
	}
	if (force_on_screen(s, w)) {
		x11_win_configure(s->x, w);
		send_geometry(s, w, true);
	}
	w->mapped = true;
	if (!s->cfg->invisible) {
		x11_win_map(s->x, w);
		if (w->override_redirect) {
			repaint_all(s, w);
		}
	}
	return SESSION_RUNNING;
}

static enum session_end on_unmap(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	(void)m;
	if (w->docked) {
		return SESSION_RUNNING;
	}
	w->mapped = false;
	x11_win_unmap(s->x, w);
	if (w != s->screen_win) {
		image_release(s, &w->img); /* the agent dumps again at the next map */
	}
	return SESSION_RUNNING;
}

static enum session_end on_configure(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	const struct proto_configure *c = &m->u.configure;
	struct rect r = { c->x, c->y, (int32_t)c->width, (int32_t)c->height };
	bool or, crossed = false;

	if (w->docked) {
		send_configure(s, w); /* tray icons keep the size the tray gave them */
		return SESSION_RUNNING;
	}
	if (w->configure_pending) {
		if (rect_eq(&r, &w->pending)) {
			w->configure_pending = w->has_prev = false;
			if (!rect_eq(&w->geom, &w->pending)) {
				send_configure(s, w); /* the window moved again meanwhile */
			}
			return SESSION_RUNNING;
		}
		if (w->has_prev && rect_eq(&r, &w->prev)) {
			return SESSION_RUNNING; /* the echo of what we sent before: the pending one's follows */
		}
		if (!w->pending_placed) {
			/* the user moved it and the agent has not seen that yet: say it again, ignore this one */
			send_configure(s, w);
			return SESSION_RUNNING;
		}
		/*
		 * Ours only placed the agent's earlier geometry, and the agent moved the window on
		 * its own meanwhile (an application placing itself after mapping): its new geometry
		 * wins, placed by the same rules, and is sent, since the agent will apply ours first.
		 */
		crossed = true;
	}
	w->geom = r;
	/* the agent's override_redirect field is ignored; the flag is re-checked for the new size */
	or = allowed_or(s, w, w->override_redirect, r.w, r.h);
	if (or != w->override_redirect) {
		w->override_redirect = or;
		if (w->mapped && !s->cfg->invisible) { /* -I: never mapped on X, and must stay so */
			x11_win_unmap(s->x, w); /* so that a window manager notices the change */
			x11_win_set_override_redirect(s->x, w);
			x11_win_map(s->x, w);
		} else {
			x11_win_set_override_redirect(s->x, w);
		}
	}
	if (force_on_screen(s, w) || crossed) {
		x11_win_configure(s->x, w);
		send_geometry(s, w, true);
		return SESSION_RUNNING;
	}
	x11_win_configure(s->x, w);
	return SESSION_RUNNING;
}

static enum session_end on_shmimage(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	const struct proto_shmimage *d = &m->u.shmimage;

	if (w->mapped || w->docked) {
		repaint(s, w, (struct rect){ d->x, d->y, d->width, d->height });
	}
	return SESSION_RUNNING;
}

/* The code point at *p (UTF-8, already validated by the decoder), advancing *p; 0 at the end. */
static uint32_t next_cp(const unsigned char **p)
{
	const unsigned char *q = *p;
	uint32_t c = *q;
	int n = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;

	if (c == 0) {
		return 0;
	}
	c &= n == 0 ? 0x7fu : n == 1 ? 0x1fu : n == 2 ? 0x0fu : 0x07u;
	for (q++; n > 0 && (*q & 0xc0) == 0x80; n--, q++) {
		c = c << 6 | (*q & 0x3fu);
	}
	*p = q;
	return c;
}

/*
 * Could this (sanitised) title pass for another qube's "[name] title"? Its first character
 * after blanks (ASCII, no-break and typographic spaces, zero-width ones) is '[' or a bracket
 * that looks like one (fullwidth, CJK lenticular and tortoise-shell, mathematical white,
 * ceiling/floor corners, bracket pieces). The window manager cannot be asked whether it
 * shows the qube's name itself (no property says so), so such titles always get the prefix;
 * other titles, in any script, are left alone.
 */
static bool imitates_prefix(const char *title)
{
	static const uint32_t brackets[] = { '[', 0x2045, 0x2308, 0x230a, 0x23a1, 0x23a3, 0x27e6, 0x298b, 0x298d,
		0x298f, 0x2e22, 0x2e24, 0x3010, 0x3014, 0x3016, 0x3018, 0x301a, 0xfe47, 0xfe5d, 0xff3b, 0xff62 };
	const unsigned char *p = (const unsigned char *)title;
	uint32_t c;

	do {
		c = next_cp(&p);
	} while (c == ' ' || c == 0xa0 || (c >= 0x2000 && c <= 0x200b) || c == 0x202f || c == 0x205f ||
		 c == 0x2060 || c == 0x3000 || c == 0xfeff);
	for (size_t i = 0; i < sizeof(brackets) / sizeof(brackets[0]); i++) {
		if (c == brackets[i]) {
			return true;
		}
	}
	return false;
}

static enum session_end on_wmname(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	char title[192];

	if (s->cfg->title_prefix || imitates_prefix(m->u.wmname.title)) {
		snprintf(title, sizeof(title), "[%s] %s", s->cfg->vmname, m->u.wmname.title);
	} else {
		snprintf(title, sizeof(title), "%s", m->u.wmname.title);
	}
	x11_win_title(s->x, w, title);
	return SESSION_RUNNING;
}

static enum session_end on_wmclass(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	if (!w->mapped) { /* ICCCM: WM_CLASS changes only in the Withdrawn state */
		x11_win_class(s->x, w, m->u.wmclass.res_class, m->u.wmclass.res_name);
	}
	return SESSION_RUNNING;
}

static enum session_end on_hints(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	x11_win_hints(s->x, w, &m->u.hints);
	return SESSION_RUNNING;
}

static enum session_end on_flags(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	if (m->u.flags.set & WINDOW_FLAG_FULLSCREEN) {
		w->fullscreen_requested = true;
	}
	if (m->u.flags.unset & WINDOW_FLAG_FULLSCREEN) {
		w->fullscreen_requested = false;
	}
	if (!w->mapped) {
		/* written as the window's initial state: the agent knows it, so it is not reported back at map */
		w->flags_state = (w->flags_state | m->u.flags.set) & ~m->u.flags.unset;
	}
	x11_win_flags(s->x, w, m->u.flags.set, m->u.flags.unset);
	if (w->mapped && force_on_screen(s, w)) {
		x11_win_configure(s->x, w); /* no longer full screen: its border back on the screen */
		send_geometry(s, w, true);
	}
	return SESSION_RUNNING;
}

static enum session_end on_cursor(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	x11_win_cursor(s->x, w, m->u.cursor.cursor);
	return SESSION_RUNNING;
}

static enum session_end on_dock(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	(void)m;
	if (w->mapped || w->docked) {
		note(s, "window 0x%x: dock request refused (already mapped or docked)", w->remote);
		return SESSION_RUNNING;
	}
	w->docked = true;
	if (w->override_redirect) {
		w->override_redirect = false;
		x11_win_set_override_redirect(s->x, w);
	}
	if (w->img.x) {
		/* an image dumped before the dock may be zero copy: tray pixels are always coloured copies */
		x11_img_release(s->x, &w->img);
		if (x11_img_attach(s->x, w) != 0) {
			image_release(s, &w->img);
		}
	}
	x11_win_dock(s->x, w);
	return SESSION_RUNNING;
}

static enum session_end on_dump(struct session *s, const struct proto_msg *m, struct gwin *w)
{
	const struct proto_dump *d = &m->u.dump;
	struct gimage old = w->img;
	int rc;

	memset(&w->img, 0, sizeof(w->img));
	/* the replaced image's X side goes first: what it held is free for the new one's budget */
	x11_img_release(s->x, &old);
	if (d->nrefs > 0 && d->width > 0 && d->height > 0 && !s->cfg->invisible) {
		for (uint32_t i = 0; i < d->nrefs; i++) {
			s->refs[i] = proto_dump_ref(d, i);
		}
		rc = grant_mapper_map(s->mapper, s->refs, d->nrefs, &w->img.mapping);
		if (rc == -EPROTO) {
			w->img = old;
			return violation(s, m->type, m->window, "bad grant references");
		}
		if (rc == 0) {
			w->img.width = d->width;
			w->img.height = d->height;
			rc = x11_img_attach(s->x, w);
			if (rc == -EDQUOT) {
				over_budget(s, w, d->width, d->height);
			} else if (rc != 0) {
				log_error("window 0x%x: cannot show its %ux%u image", w->remote, d->width, d->height);
			}
			if (rc != 0) {
				grant_mapping_destroy(w->img.mapping);
				memset(&w->img, 0, sizeof(w->img));
			}
		} else {
			log_error("window 0x%x: cannot map its image: %s", w->remote, strerror(-rc));
		}
	}
	/*
	 * Release the image this dump replaces, and acknowledge only once the X
	 * server has processed the detach: after the ack the agent may reuse
	 * that buffer, and it must never be on screen while it is rewritten.
	 */
	if (old.mapping || old.x) {
		image_release(s, &old);
	}
	x11_sync(s->x);
	if (conn_version(s->conn) >= QUBES_GUID_MIN_MSG_WINDOW_DUMP_ACK) {
		send(s, &(struct proto_msg){ .type = MSG_WINDOW_DUMP_ACK, .window = m->window });
	}
	return SESSION_RUNNING;
}

static enum session_end on_clipboard(struct session *s, const struct proto_msg *m, struct gwin *unused)
{
	const struct proto_clipboard *c = &m->u.clipboard;
	struct clip_ctx cc = { s->cfg->clipboard_dir, s->cfg->vmname, QUBES_GUID_PROTOCOL_VERSION,
		conn_version(s->conn), s->cfg->max_clipboard_size, s->cfg->qrexec_clipboard,
		s->cfg->paste_policy_command };
	enum clip_result r;

	(void)unused;
	if (!s->clip_requested) {
		note(s, "clipboard data the user did not ask for: dropped");
		return SESSION_RUNNING;
	}
	s->clip_requested = false;
	r = clipboard_copy(&cc, s->clip_time, c->data, c->len, c->oversized);
	if (r == CLIP_STALE) {
		note(s, "clipboard data older than the global clipboard: dropped");
	} else if (c->oversized) {
		log_info("clipboard data of %u bytes is over the limit of %u: clipboard cleared", c->len,
				s->cfg->max_clipboard_size);
	} else {
		log_info("copied %u bytes to the global clipboard", c->len);
	}
	return SESSION_RUNNING;
}

/* Which messages an agent may send, and whether they name an existing window (the monitor-style table). */
typedef enum session_end (*handler_fn)(struct session *, const struct proto_msg *, struct gwin *);
enum win_rule { WIN_NONE, WIN_NEW, WIN_EXISTING };
static const struct {
	uint32_t type;
	enum win_rule rule;
	handler_fn fn;
} dispatch[] = {
	{ MSG_CREATE, WIN_NEW, on_create },
	{ MSG_DESTROY, WIN_EXISTING, on_destroy },
	{ MSG_MAP, WIN_EXISTING, on_map },
	{ MSG_UNMAP, WIN_EXISTING, on_unmap },
	{ MSG_CONFIGURE, WIN_EXISTING, on_configure },
	{ MSG_SHMIMAGE, WIN_EXISTING, on_shmimage },
	{ MSG_WMNAME, WIN_EXISTING, on_wmname },
	{ MSG_WMCLASS, WIN_EXISTING, on_wmclass },
	{ MSG_WINDOW_HINTS, WIN_EXISTING, on_hints },
	{ MSG_WINDOW_FLAGS, WIN_EXISTING, on_flags },
	{ MSG_CURSOR, WIN_EXISTING, on_cursor },
	{ MSG_DOCK, WIN_EXISTING, on_dock },
	{ MSG_WINDOW_DUMP, WIN_EXISTING, on_dump },
	{ MSG_CLIPBOARD_DATA, WIN_NONE, on_clipboard },
};

static enum session_end handle(struct session *s, const struct proto_msg *m)
{
	for (size_t i = 0; i < sizeof(dispatch) / sizeof(dispatch[0]); i++) {
		struct gwin *w;

		if (dispatch[i].type != m->type) {
			continue;
		}
		w = dispatch[i].rule == WIN_NONE ? NULL : win_find(s, m->window);
		if (dispatch[i].rule == WIN_NEW && w) {
			return violation(s, m->type, m->window, "window already exists");
		}
		if (dispatch[i].rule == WIN_EXISTING && !w) {
			return violation(s, m->type, m->window, "no such window");
		}
		return dispatch[i].fn(s, m, w);
	}
	return violation(s, m->type, m->window, "unexpected message");
}

enum session_end session_process(struct session *s, int max)
{
	for (int i = 0; i < max && s->end == SESSION_RUNNING && may_work(s); i++) {
		struct proto_msg m;
		int rc = conn_next(s->conn, &m);

		if (rc == CONN_NONE) {
			break;
		}
		if (rc == CONN_DROPPED) {
			note(s, "ignored a message: %s", conn_error(s->conn));
			continue;
		}
		if (rc == -EPIPE) {
			log_info("the agent disconnected");
			s->end = SESSION_EOF;
		} else if (rc == -EPROTO || rc == -EPROTONOSUPPORT) {
			log_error("protocol violation: %s; ending the session", conn_error(s->conn));
			s->end = SESSION_VIOLATION;
		} else if (rc < 0) {
			log_error("connection failed: %s", strerror(-rc));
			s->end = SESSION_EOF;
		} else if (rc == CONN_MSG) {
			uint64_t work = x11_work(s->x);

			handle(s, &m);
			s->tokens -= (int64_t)(x11_work(s->x) - work);
		}
	}
	x11_flush(s->x);
	return s->end;
}

struct session *session_create(const struct gd_config *cfg, struct x11 *x, struct conn *conn,
		struct grant_mapper *mapper)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		return NULL;
	}
	s->refs = calloc(MAX_GRANT_REFS_COUNT, sizeof(uint32_t));
	if (s->refs == NULL) {
		free(s);
		return NULL;
	}
	s->cfg = cfg;
	s->x = x;
	s->conn = conn;
	s->mapper = mapper;
	s->end = SESSION_RUNNING;
	s->tokens = cfg->x_work_rate / 4;
	s->tokens_ms = now_ms();
	if (cfg->events_max_delay > 0) {
		s->dq = calloc(DELAY_QUEUE_MAX, sizeof(*s->dq));
		if (s->dq == NULL || getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng) || s->rng == 0) {
			s->rng = (uint64_t)now_ms() | 1;
		}
	}
	return s;
}

void session_destroy(struct session *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t b = 0; b < HASH_BUCKETS; b++) {
		while (s->buckets[b]) {
			struct gwin *w = &s->buckets[b]->w;

			image_release(s, &w->img);
			x11_win_destroy(s->x, w);
			win_remove(s, w);
		}
	}
	x11_sync(s->x);
	if (s->notes > NOTES_LOGGED) {
		log_info("%llu more ignored messages were not logged", (unsigned long long)(s->notes - NOTES_LOGGED));
	}
	free(s->dq);
	free(s->refs);
	free(s);
}

void session_screen_changed(struct session *s)
{
	for (size_t b = 0; s && b < HASH_BUCKETS; b++) {
		for (struct wnode *n = s->buckets[b]; n; n = n->next) {
			if (force_on_screen(s, &n->w)) {
				x11_win_configure(s->x, &n->w);
				send_geometry(s, &n->w, true);
			}
		}
	}
}

/* ----------------------------------------------------------------- X events -> agent */

static struct session *S(void *ctx)
{
	struct session_ref *ref = ctx;

	return ref->s && ref->s->end == SESSION_RUNNING ? ref->s : NULL;
}

static void send_keymap(struct session *s)
{
	struct proto_msg m = { .type = MSG_KEYMAP_NOTIFY, .window = 0 };

	x11_keymap(s->x, m.u.keymap.keys);
	send_input(s, &m);
}

static void ev_key(void *ctx, struct gwin *w, uint32_t type, int x, int y, uint32_t state, uint32_t keycode)
{
	struct session *s = S(ctx);

	if (s) {
		send_input(s, &(struct proto_msg){ .type = MSG_KEYPRESS, .window = w->remote,
					 .u.key = { type, x, y, state, keycode } });
	}
}

static void ev_button(void *ctx, struct gwin *w, uint32_t type, int x, int y, uint32_t state, uint32_t button)
{
	struct session *s = S(ctx);

	if (s) {
		send_input(s, &(struct proto_msg){ .type = MSG_BUTTON, .window = w->remote,
					 .u.button = { type, x, y, state, button } });
	}
}

static void ev_motion(void *ctx, struct gwin *w, int x, int y, uint32_t state, uint32_t is_hint)
{
	struct session *s = S(ctx);

	if (s) {
		send_input(s, &(struct proto_msg){ .type = MSG_MOTION, .window = w->remote,
					 .u.motion = { x, y, state, is_hint } });
	}
}

static void ev_crossing(void *ctx, struct gwin *w, uint32_t type, int x, int y, uint32_t state, uint32_t mode,
		uint32_t detail, uint32_t focus)
{
	struct session *s = S(ctx);

	if (s) {
		if (type == QGUI_EnterNotify) {
			send_keymap(s);
		}
		send_input(s, &(struct proto_msg){ .type = MSG_CROSSING, .window = w->remote,
					 .u.crossing = { type, x, y, state, mode, detail, focus } });
	}
}

static void ev_focus(void *ctx, struct gwin *w, uint32_t type, uint32_t detail)
{
	struct session *s = S(ctx);

	if (s) {
		if (type == QGUI_FocusIn) {
			send_keymap(s);
			s->focused = w->remote;
		}
		/* the mode is always NotifyNormal: grabs are the GUI qube's business */
		send_input(s, &(struct proto_msg){ .type = MSG_FOCUS, .window = w->remote, .u.focus = { type, 0, detail } });
	}
}

static void ev_configured(void *ctx, struct gwin *w, const struct rect *r)
{
	struct session *s = S(ctx);

	if (s == NULL || w->docked || rect_eq(r, &w->geom)) {
		return;
	}
	w->geom = *r;
	if (force_on_screen(s, w)) {
		x11_win_configure(s->x, w); /* something moved an unmanaged window off the screen: move it back */
	} else {
		x11_win_fit_content(s->x, w);
	}
	if (!w->configure_pending) {
		send_configure(s, w);
	} else {
		w->pending_placed = false; /* the user's move: sent at the echo, and wins over the agent's */
	}
}

static void ev_mapped(void *ctx, struct gwin *w)
{
	struct session *s = S(ctx);

	if (s == NULL) {
		return;
	}
	if (!w->mapped && !w->docked) {
		x11_win_unmap(s->x, w); /* the window manager mapped what the VM has not */
		return;
	}
	send(s, &(struct proto_msg){ .type = MSG_MAP, .window = w->remote, .u.map = { 0, w->override_redirect } });
}

static void ev_close(void *ctx, struct gwin *w)
{
	struct session *s = S(ctx);

	if (s) {
		send(s, &(struct proto_msg){ .type = MSG_CLOSE, .window = w->remote });
	}
}

static void ev_state(void *ctx, struct gwin *w, uint32_t flags)
{
	struct session *s = S(ctx);
	uint32_t set = flags & ~w->flags_state, unset = ~flags & w->flags_state;

	if (s == NULL || !w->mapped || (set | unset) == 0) {
		return;
	}
	w->flags_state = flags;
	send(s, &(struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = w->remote, .u.flags = { set, unset } });
}

static void ev_expose(void *ctx, struct gwin *w, const struct rect *r)
{
	struct session *s = S(ctx);

	if (s && (w->mapped || w->docked)) {
		repaint(s, w, *r);
	}
}

static void ev_secure_copy(void *ctx, struct gwin *w, uint32_t xtime)
{
	struct session *s = S(ctx);

	if (s == NULL) {
		return;
	}
	if (s->cfg->qrexec_clipboard) {
		struct clip_ctx cc = { s->cfg->clipboard_dir, s->cfg->vmname, QUBES_GUID_PROTOCOL_VERSION,
			conn_version(s->conn), s->cfg->max_clipboard_size, true, s->cfg->paste_policy_command };

		log_info("copy through qubes.ClipboardCopy: %s", clipboard_qrexec_copy(&cc, xtime) == CLIP_STORED
									    ? "stored" : "nothing stored");
		return;
	}
	s->clip_requested = true;
	s->clip_time = xtime;
	send(s, &(struct proto_msg){ .type = MSG_CLIPBOARD_REQ, .window = w->remote });
}

static void ev_secure_paste(void *ctx, struct gwin *w, uint32_t xtime)
{
	struct session *s = S(ctx);
	struct clip_ctx cc;
	uint8_t *data = NULL;
	size_t len = 0;
	enum clip_result r;

	if (s == NULL) {
		return;
	}
	cc = (struct clip_ctx){ s->cfg->clipboard_dir, s->cfg->vmname, QUBES_GUID_PROTOCOL_VERSION,
		conn_version(s->conn), s->cfg->max_clipboard_size, s->cfg->qrexec_clipboard,
		s->cfg->paste_policy_command };
	r = clipboard_paste(&cc, xtime, &data, &len);
	if (r == CLIP_STORED && s->cfg->qrexec_clipboard) {
		if (clipboard_qrexec_paste(&cc, data, len) == CLIP_STORED) {
			log_info("pasted %zu bytes through qubes.ClipboardPaste", len);
		}
	} else if (r == CLIP_STORED) {
		send(s, &(struct proto_msg){ .type = MSG_CLIPBOARD_DATA, .window = w->remote,
					 .u.clipboard = { data, (uint32_t)len, false } });
		log_info("pasted %zu bytes into window 0x%x", len, w->remote);
	} else if (r == CLIP_DENIED) {
		log_info("paste into window 0x%x refused by the policy", w->remote);
	}
	free(data);
}

static void ev_embedded(void *ctx, struct gwin *w, int x, int y)
{
	struct session *s = S(ctx);

	if (s == NULL) {
		return;
	}
	w->geom.x = x;
	w->geom.y = y;
	if (!s->cfg->invisible) {
		x11_win_map(s->x, w);
	}
	send_configure(s, w);
	w->configure_pending = false; /* tray icons are positioned by the tray, not the agent */
}

static void ev_screen_changed(void *ctx)
{
	struct session *s = S(ctx);

	if (s) {
		session_screen_changed(s);
	}
}

const struct x11_events session_x11_events = {
	.key = ev_key,
	.button = ev_button,
	.motion = ev_motion,
	.crossing = ev_crossing,
	.focus = ev_focus,
	.configured = ev_configured,
	.mapped = ev_mapped,
	.close_request = ev_close,
	.state = ev_state,
	.expose = ev_expose,
	.secure_copy = ev_secure_copy,
	.secure_paste = ev_secure_paste,
	.embedded = ev_embedded,
	.screen_changed = ev_screen_changed,
};

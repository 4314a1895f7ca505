/* win.c: the window model: the display's top-level windows, their properties, and what the daemon is told. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>

#include "agent.h"
#include "qgui/log.h"

#define TITLE_READ_MAX 4096 /* bytes of a title property read; the protocol keeps 127 */
#define CLIENT_SEARCH_DEPTH 4

/* ---------------------------------------------------------------- the table */

static size_t bucket(Window id)
{
	return (size_t)(((uint64_t)id * 2654435761u) % AGENT_BUCKETS);
}

struct awin *win_find(struct agent *a, Window id)
{
	for (struct awin *w = a->buckets[bucket(id)]; w; w = w->next) {
		if (w->id == id) {
			return w;
		}
	}
	return NULL;
}

struct awin *win_first(struct agent *a)
{
	for (size_t b = 0; b < AGENT_BUCKETS; b++) {
		if (a->buckets[b]) {
			return a->buckets[b];
		}
	}
	return NULL;
}

struct awin *win_next(struct agent *a, struct awin *w)
{
	if (w->next) {
		return w->next;
	}
	for (size_t b = bucket(w->id) + 1; b < AGENT_BUCKETS; b++) {
		if (a->buckets[b]) {
			return a->buckets[b];
		}
	}
	return NULL;
}

struct awin *win_find_client(struct agent *a, Window client)
{
	for (struct awin *w = win_first(a); w; w = win_next(a, w)) {
		if (w->client == client) {
			return w;
		}
	}
	return NULL;
}

static struct awin *win_add(struct agent *a, Window id)
{
	struct awin *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		log_error("out of memory for window 0x%lx", id);
		return NULL;
	}
	w->id = id;
	w->client = id;
	w->cursor = CURSOR_DEFAULT;
	w->next = a->buckets[bucket(id)];
	a->buckets[bucket(id)] = w;
	return w;
}

static void win_remove(struct agent *a, struct awin *w)
{
	struct awin **pp = &a->buckets[bucket(w->id)];

	while (*pp && *pp != w) {
		pp = &(*pp)->next;
	}
	INVARIANT(*pp == w);
	*pp = w->next;
	free(w);
}

/* ---------------------------------------------------------------- reading properties */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80) {
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (left < n) {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return n;
}

/*
 * A title for MSG_WMNAME: valid UTF-8 (each invalid byte becomes '?'), up to
 * the first NUL; when longer than 127 bytes, cut on a character boundary to at
 * most 124 bytes and ended with U+2026, as the Qubes agent does.
 */
static void title_fit(const unsigned char *in, size_t len, char out[128])
{
	char buf[TITLE_READ_MAX + 4];
	size_t n = 0;

	for (size_t i = 0; i < len && in[i] != '\0' && n < TITLE_READ_MAX;) {
		size_t k = utf8_seq(in + i, len - i);

		if (k == 0) {
			buf[n++] = '?';
			i++;
			continue;
		}
		if (n + k > TITLE_READ_MAX) {
			break;
		}
		memcpy(buf + n, in + i, k);
		n += k;
		i += k;
	}
	if (n > 127) {
		n = 124;
		while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80) {
			n--; /* buf[n] would start the cut-off part: step back to a character's first byte */
		}
		memcpy(buf + n, "\xe2\x80\xa6", 3);
		n += 3;
	}
	memcpy(out, buf, n);
	memset(out + n, 0, 128 - n);
}

/* Latin-1 (STRING) to UTF-8, at most outlen bytes, whole characters only. Returns the length. */
static size_t latin1_to_utf8(const unsigned char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] < 0x80) {
			if (n + 1 > outlen) {
				break;
			}
			out[n++] = in[i];
		} else {
			if (n + 2 > outlen) {
				break;
			}
			out[n++] = (unsigned char)(0xc0 | in[i] >> 6);
			out[n++] = (unsigned char)(0x80 | (in[i] & 0x3f));
		}
	}
	return n;
}

static void read_title(struct agent *a, Window win, char out[128])
{
	Atom type = None;
	int format = 0;
	unsigned long n = 0, after = 0;
	unsigned char *data = NULL;
	unsigned char conv[TITLE_READ_MAX];
	XTextProperty tp;

	memset(out, 0, 128);
	if (XGetWindowProperty(a->dpy, win, a->atoms[A_NET_WM_NAME], 0, TITLE_READ_MAX / 4, False,
			    a->atoms[A_UTF8_STRING], &type, &format, &n, &after, &data) == Success && data &&
			type == a->atoms[A_UTF8_STRING] && format == 8) {
		title_fit(data, n, out);
		XFree(data);
		return;
	}
	if (data) {
		XFree(data);
	}
	if (!XGetWMName(a->dpy, win, &tp) || tp.value == NULL) {
		return;
	}
	if (tp.format != 8) {
		/* nothing to read */
	} else if (tp.encoding == XA_STRING) {
		title_fit(conv, latin1_to_utf8(tp.value, tp.nitems, conv, sizeof(conv)), out);
	} else if (tp.encoding == a->atoms[A_UTF8_STRING]) {
		title_fit(tp.value, tp.nitems, out);
	} else {
		char **list = NULL;
		int count = 0;

		/* COMPOUND_TEXT and the like: let Xlib convert */
		if (Xutf8TextPropertyToTextList(a->dpy, &tp, &list, &count) >= Success && count > 0 && list) {
			title_fit((const unsigned char *)list[0], strlen(list[0]), out);
		}
		if (list) {
			XFreeStringList(list);
		}
	}
	XFree(tp.value);
}

/* Reads the _NET_WM_STATE atoms of win into st (at most max); returns the count. */
static int read_state(struct agent *a, Window win, Atom *st, int max)
{
	Atom type = None;
	int format = 0, k = 0;
	unsigned long n = 0, after = 0;
	unsigned char *data = NULL;

	if (XGetWindowProperty(a->dpy, win, a->atoms[A_NET_WM_STATE], 0, max, False, XA_ATOM, &type, &format, &n,
			    &after, &data) == Success && data && type == XA_ATOM && format == 32) {
		for (unsigned long i = 0; i < n && k < max; i++) {
			st[k++] = (Atom)((unsigned long *)(void *)data)[i];
		}
	}
	if (data) {
		XFree(data);
	}
	return k;
}

#define STATE_MAX 32

static uint32_t state_flags(struct agent *a, const Atom *st, int n)
{
	uint32_t f = 0;

	for (int i = 0; i < n; i++) {
		if (st[i] == a->atoms[A_NET_WM_STATE_FULLSCREEN]) {
			f |= WINDOW_FLAG_FULLSCREEN;
		} else if (st[i] == a->atoms[A_NET_WM_STATE_DEMANDS_ATTENTION]) {
			f |= WINDOW_FLAG_DEMANDS_ATTENTION;
		}
	}
	return f;
}

static bool has_state(const Atom *st, int n, Atom s)
{
	for (int i = 0; i < n; i++) {
		if (st[i] == s) {
			return true;
		}
	}
	return false;
}

static bool has_wm_state(struct agent *a, Window win)
{
	Atom type = None;
	int format = 0;
	unsigned long n = 0, after = 0;
	unsigned char *data = NULL;
	bool yes = XGetWindowProperty(a->dpy, win, a->atoms[A_WM_STATE], 0, 2, False, AnyPropertyType, &type,
				  &format, &n, &after, &data) == Success && type != None;

	if (data) {
		XFree(data);
	}
	return yes;
}

/* The client window of a top-level: itself, or the descendant a window manager marked with WM_STATE. */
static Window search_client(struct agent *a, Window win, int depth)
{
	Window root, parent, *kids = NULL, found = None;
	unsigned n = 0;

	if (depth == 0 || !XQueryTree(a->dpy, win, &root, &parent, &kids, &n)) {
		return None;
	}
	for (unsigned i = n; i-- > 0 && found == None;) { /* topmost first */
		if (has_wm_state(a, kids[i])) {
			found = kids[i];
		}
	}
	for (unsigned i = n; i-- > 0 && found == None;) {
		found = search_client(a, kids[i], depth - 1);
	}
	if (kids) {
		XFree(kids);
	}
	return found;
}

static void set_client(struct agent *a, struct awin *w, Window client)
{
	if (client == None) {
		client = w->id;
	}
	if (client != w->client && client != w->id) {
		XSelectInput(a->dpy, client, PropertyChangeMask); /* titles etc. live there */
	}
	w->client = client;
}

static void find_client(struct agent *a, struct awin *w)
{
	set_client(a, w, has_wm_state(a, w->id) ? w->id : search_client(a, w->id, CLIENT_SEARCH_DEPTH));
}

/* ---------------------------------------------------------------- telling the daemon */

static bool live(const struct agent *a, const struct awin *w)
{
	return a->ready && w->created;
}

static void send_title(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_WMNAME, .window = (uint32_t)w->id };

	if (live(a, w)) {
		read_title(a, w->client, m.u.wmname.title);
		link_send(a, &m);
	}
}

static void send_class(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_WMCLASS, .window = (uint32_t)w->id };
	XClassHint ch = { NULL, NULL };

	if (!live(a, w) || !XGetClassHint(a->dpy, w->client, &ch)) {
		return;
	}
	snprintf(m.u.wmclass.res_class, sizeof(m.u.wmclass.res_class), "%s", ch.res_class ? ch.res_class : "");
	snprintf(m.u.wmclass.res_name, sizeof(m.u.wmclass.res_name), "%s", ch.res_name ? ch.res_name : "");
	XFree(ch.res_class);
	XFree(ch.res_name);
	link_send(a, &m);
}

static uint32_t hint_size(long v, int b2)
{
	return v <= 0 ? 0u : (uint32_t)(v > MAX_WINDOW_WIDTH ? MAX_WINDOW_WIDTH : v) + (uint32_t)b2;
}

static void send_hints(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_WINDOW_HINTS, .window = (uint32_t)w->id };
	struct proto_hints *h = &m.u.hints;
	XSizeHints sh;
	long supplied = 0;
	/* sizes are the mirrored box's: the X border on both sides (a frame's client has its own) */
	int b2 = w->client == w->id ? 2 * w->bw : 0;

	if (!live(a, w)) {
		return;
	}
	memset(&sh, 0, sizeof(sh));
	if (!XGetWMNormalHints(a->dpy, w->client, &sh, &supplied)) {
		sh.flags = 0;
	}
	h->flags = (uint32_t)sh.flags & 0x3ffu;
	h->min_width = hint_size(sh.min_width, b2);
	h->min_height = hint_size(sh.min_height, b2);
	h->max_width = hint_size(sh.max_width, b2);
	h->max_height = hint_size(sh.max_height, b2);
	h->width_inc = hint_size(sh.width_inc, 0);
	h->height_inc = hint_size(sh.height_inc, 0);
	h->base_width = hint_size(sh.base_width, b2);
	h->base_height = hint_size(sh.base_height, b2);
	link_send(a, &m);
}

/* Tells the daemon the fullscreen / demands-attention state now in _NET_WM_STATE, when it changed. */
static void send_flags(struct agent *a, struct awin *w, bool always)
{
	Atom st[STATE_MAX];
	uint32_t now = state_flags(a, st, read_state(a, w->client, st, STATE_MAX));
	struct proto_msg m = { .type = MSG_WINDOW_FLAGS, .window = (uint32_t)w->id };

	m.u.flags.set = now & ~w->flags;
	m.u.flags.unset = always ? 0 : ~now & w->flags;
	w->flags = now;
	if (live(a, w) && (m.u.flags.set | m.u.flags.unset) != 0) {
		link_send(a, &m);
	}
}

static void send_configure(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_CONFIGURE, .window = (uint32_t)w->id };

	if (!live(a, w)) {
		return;
	}
	m.u.configure = (struct proto_configure){ w->x, w->y, (uint32_t)w->w, (uint32_t)w->h, w->override_redirect };
	w->sx = w->x;
	w->sy = w->y;
	w->sw = w->w;
	w->sh = w->h;
	link_send(a, &m);
}

/* WM_TRANSIENT_FOR as a mirrored window's id, or 0. */
static uint32_t transient_for(struct agent *a, struct awin *w)
{
	Window t = None;
	struct awin *p;

	if (!XGetTransientForHint(a->dpy, w->client, &t) || t == None) {
		return 0;
	}
	p = win_find(a, t);
	if (p == NULL) {
		p = win_find_client(a, t);
	}
	return p && p != w ? (uint32_t)p->id : 0;
}

static void send_map(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_MAP, .window = (uint32_t)w->id };

	if (!live(a, w)) {
		return;
	}
	m.u.map = (struct proto_map){ transient_for(a, w), w->override_redirect };
	link_send(a, &m);
}

static void send_cursor(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_CURSOR, .window = (uint32_t)w->id, .u.cursor = { w->cursor } };

	link_send(a, &m);
}

/* CREATE and every property, as the Qubes agents send a new window. */
static void send_create(struct agent *a, struct awin *w)
{
	struct proto_msg m = { .type = MSG_CREATE, .window = (uint32_t)w->id };

	if (!a->ready) {
		return;
	}
	m.u.create = (struct proto_create){ w->x, w->y, (uint32_t)w->w, (uint32_t)w->h, w->override_redirect };
	link_send(a, &m);
	w->created = true;
	w->sx = w->x;
	w->sy = w->y;
	w->sw = w->w;
	w->sh = w->h;
	send_title(a, w);
	send_class(a, w);
	send_hints(a, w);
	if (w->flags) {
		w->flags = 0;
		send_flags(a, w, true);
	}
}

/* CONFIGURE, MAP and the cursor of a mapped window; its contents follow (frame.c). */
static void send_shown(struct agent *a, struct awin *w)
{
	send_configure(a, w);
	send_map(a, w);
	if (live(a, w) && w->cursor != CURSOR_DEFAULT) {
		send_cursor(a, w);
	}
}

/* ---------------------------------------------------------------- X events */

static void set_geometry(struct awin *w, int x, int y, int width, int height, int bw)
{
	w->x = x;
	w->y = y;
	w->bw = bw;
	w->w = width + 2 * bw;
	w->h = height + 2 * bw;
}

/* Starts mirroring id (a child of the root). Returns the window, or NULL when it is not one we mirror. */
static struct awin *track(struct agent *a, Window id)
{
	XWindowAttributes wa;
	struct awin *w;

	if (id == a->helper) {
		return NULL;
	}
	w = win_find(a, id);
	if (w) {
		return w;
	}
	/* InputOnly windows have no contents to show; a window already gone fails here */
	if (!XGetWindowAttributes(a->dpy, id, &wa) || wa.class == InputOnly) {
		return NULL;
	}
	w = win_add(a, id);
	if (w == NULL) {
		return NULL;
	}
	set_geometry(w, wa.x, wa.y, wa.width, wa.height, wa.border_width);
	w->depth = wa.depth;
	w->override_redirect = wa.override_redirect;
	w->mapped = wa.map_state == IsViewable;
	/* property changes from now on; the values set before are read below */
	XSelectInput(a->dpy, id, PropertyChangeMask);
	find_client(a, w);
	{
		Atom st[STATE_MAX];

		w->flags = state_flags(a, st, read_state(a, w->client, st, STATE_MAX));
	}
	frame_track(a, w);
	a->nmirrored++;
	log_debug("window 0x%lx: %dx%d+%d+%d%s%s", id, w->w, w->h, w->x, w->y,
			w->override_redirect ? ", override-redirect" : "", w->mapped ? ", mapped" : "");
	send_create(a, w);
	if (w->mapped) {
		frame_reset(a, w);
		send_shown(a, w);
	}
	return w;
}

void win_scan(struct agent *a)
{
	Window root, parent, *kids = NULL;
	unsigned n = 0;

	if (!XQueryTree(a->dpy, a->root, &root, &parent, &kids, &n)) {
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		track(a, kids[i]);
	}
	if (kids) {
		XFree(kids);
	}
}

void win_created(struct agent *a, Window id)
{
	track(a, id);
}

/* Stops mirroring w: DESTROY to the daemon, its contents released. gone: the X window no longer exists. */
static void untrack(struct agent *a, struct awin *w, bool gone)
{
	if (live(a, w)) {
		link_send(a, &(struct proto_msg){ .type = MSG_DESTROY, .window = (uint32_t)w->id });
	}
	frame_forget(a, w, gone);
	for (struct awin *o = win_first(a); o; o = win_next(a, o)) {
		if (o->client == w->id && o != w) {
			o->client = o->id;
		}
	}
	win_remove(a, w);
}

void win_destroyed(struct agent *a, Window id)
{
	struct awin *w = win_find(a, id);

	if (w) {
		untrack(a, w, true);
	}
	for (struct awin *o = win_first(a); o; o = win_next(a, o)) {
		if (o->client == id) {
			o->client = o->id; /* a frame's client went away */
		}
	}
}

void win_mapped(struct agent *a, const XMapEvent *e)
{
	struct awin *w = track(a, e->window);

	if (w == NULL || w->mapped) {
		return;
	}
	w->mapped = true;
	w->override_redirect = e->override_redirect;
	find_client(a, w);
	frame_reset(a, w);
	/* ICCCM: the class is fixed while mapped, and the daemon ignores it then: say it now */
	send_class(a, w);
	send_shown(a, w);
}

void win_unmapped(struct agent *a, Window id)
{
	struct awin *w = win_find(a, id);

	if (w == NULL || !w->mapped) {
		return;
	}
	w->mapped = false;
	frame_unmapped(a, w);
	if (live(a, w)) {
		link_send(a, &(struct proto_msg){ .type = MSG_UNMAP, .window = (uint32_t)w->id });
	}
}

void win_configured(struct agent *a, const XConfigureEvent *e)
{
	struct awin *w = win_find(a, e->window);
	int ow, oh;

	if (w == NULL) {
		return;
	}
	ow = w->w;
	oh = w->h;
	set_geometry(w, e->x, e->y, e->width, e->height, e->border_width);
	w->override_redirect = e->override_redirect;
	if (w->mapped && (w->w != ow || w->h != oh)) {
		frame_reset(a, w); /* Composite gave it a new pixmap */
	}
	if (live(a, w) && (w->x != w->sx || w->y != w->sy || w->w != w->sw || w->h != w->sh)) {
		send_configure(a, w);
	}
}

void win_reparented(struct agent *a, const XReparentEvent *e)
{
	Window top = e->parent, root, parent, *kids;
	unsigned n;
	struct awin *w, *frame;

	if (e->parent == a->root) {
		/* back on the root (its window manager left): a top-level again */
		for (struct awin *o = win_first(a); o; o = win_next(a, o)) {
			if (o->client == e->window) {
				o->client = o->id;
			}
		}
		track(a, e->window);
		return;
	}
	/* it left the root for a window manager's frame: the frame is the top-level now, this its client */
	w = win_find(a, e->window);
	if (w) {
		untrack(a, w, false);
	}
	for (int depth = 0; depth < 16; depth++) {
		kids = NULL;
		if (!XQueryTree(a->dpy, top, &root, &parent, &kids, &n)) {
			return;
		}
		if (kids) {
			XFree(kids);
		}
		if (parent == a->root || parent == None) {
			break;
		}
		top = parent;
	}
	frame = win_find(a, top);
	if (frame) {
		set_client(a, frame, e->window);
		send_title(a, frame);
		send_hints(a, frame);
		if (!frame->mapped) {
			send_class(a, frame);
		}
	}
}

void win_property(struct agent *a, const XPropertyEvent *e)
{
	struct awin *w = win_find_client(a, e->window);
	Atom p = e->atom;

	if (w == NULL) {
		return;
	}
	if (p == XA_WM_NAME || p == a->atoms[A_NET_WM_NAME]) {
		send_title(a, w);
	} else if (p == XA_WM_CLASS) {
		if (!w->mapped) {
			send_class(a, w);
		}
	} else if (p == XA_WM_NORMAL_HINTS) {
		send_hints(a, w);
	} else if (p == a->atoms[A_NET_WM_STATE]) {
		send_flags(a, w, false);
	}
}

void win_cursor(struct agent *a, Atom name)
{
	Window root, child = None;
	int rx, ry, wx, wy;
	unsigned mask;
	struct awin *w;
	char *s = NULL;
	uint32_t c;

	/* the cursor shown is the one of the window under the pointer */
	if (!XQueryPointer(a->dpy, a->root, &root, &child, &rx, &ry, &wx, &wy, &mask) || child == None) {
		return;
	}
	w = win_find(a, child);
	if (w == NULL) {
		return;
	}
	if (name != None) {
		s = XGetAtomName(a->dpy, name);
	}
	c = cursor_from_name(s);
	if (s) {
		XFree(s);
	}
	if (c != w->cursor) {
		w->cursor = c;
		if (live(a, w)) {
			send_cursor(a, w);
		}
	}
}

/* ---------------------------------------------------------------- sessions */

void win_replay(struct agent *a)
{
	Window root, parent, *kids = NULL;
	unsigned n = 0;

	/* every window first, bottom to top, so that transient-for names one the daemon knows */
	if (XQueryTree(a->dpy, a->root, &root, &parent, &kids, &n)) {
		for (unsigned i = 0; i < n; i++) {
			struct awin *w = win_find(a, kids[i]);

			if (w && !w->created) {
				send_create(a, w);
			}
		}
	}
	for (struct awin *w = win_first(a); w; w = win_next(a, w)) {
		if (!w->created) {
			send_create(a, w);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct awin *w = win_find(a, kids[i]);

		if (w && w->mapped) {
			frame_reset(a, w);
			send_shown(a, w);
		}
	}
	if (kids) {
		XFree(kids);
	}
}

void win_session_end(struct agent *a)
{
	for (struct awin *w = win_first(a); w; w = win_next(a, w)) {
		w->created = false;
	}
}

/* ---------------------------------------------------------------- requests from the daemon */

/*
 * The daemon moved or resized the window (its user, or its rule that keeps
 * override-redirect windows on screen). Applied to every window, override-
 * redirect ones too: the daemon waits for the agent to echo exactly the
 * geometry it sent, and the VM must agree with what is shown for input to
 * land where the user points.
 */
void win_configure_request(struct agent *a, struct awin *w, const struct proto_configure *c)
{
	int iw = (int)c->width - 2 * w->bw, ih = (int)c->height - 2 * w->bw;
	struct proto_msg m = { .type = MSG_CONFIGURE, .window = (uint32_t)w->id };
	Window root;
	int gx, gy;
	unsigned gw, gh, gbw, depth;

	/*
	 * The application may have moved its window since we last told the daemon (xterm maps at
	 * (0, 0), then moves itself), and the daemon answers what it knew: placed by its rules or
	 * moved by its user. Where the window is not where we last said, the daemon's request is
	 * older than the application's: we tell it where the window is (a placement is redone on
	 * that; a user's move is said again, and then applied here).
	 */
	if (XGetGeometry(a->dpy, w->id, &root, &gx, &gy, &gw, &gh, &gbw, &depth)) {
		int ow = w->w, oh = w->h;

		set_geometry(w, gx, gy, (int)gw, (int)gh, (int)gbw);
		if (w->mapped && (w->w != ow || w->h != oh)) {
			frame_reset(a, w); /* as win_configured would: the ConfigureNotify will find no change */
		}
		if (w->x != w->sx || w->y != w->sy || w->w != w->sw || w->h != w->sh) {
			send_configure(a, w);
			return;
		}
	}

	XMoveResizeWindow(a->dpy, w->id, c->x, c->y, (unsigned)(iw < 1 ? 1 : iw), (unsigned)(ih < 1 ? 1 : ih));
	/* the echo that ends the daemon's configure handshake; the ConfigureNotify that follows matches it */
	w->sx = c->x;
	w->sy = c->y;
	w->sw = (int)c->width;
	w->sh = (int)c->height;
	m.u.configure = (struct proto_configure){ c->x, c->y, c->width, c->height, w->override_redirect };
	link_send(a, &m);
}

/*
 * MSG_MAP: the daemon's window was mapped. It un-minimises: a window that is
 * iconic (WM_STATE, with a window manager) is mapped again, and a mapped one
 * loses _NET_WM_STATE_HIDDEN. Otherwise it is the echo of our own MAP and may
 * be stale (the application may have unmapped the window since): ignored.
 */
void win_map_request(struct agent *a, struct awin *w)
{
	Atom st[STATE_MAX];
	int n = read_state(a, w->client, st, STATE_MAX);

	if (w->mapped) {
		if (has_state(st, n, a->atoms[A_NET_WM_STATE_HIDDEN])) {
			int k = 0;

			for (int i = 0; i < n; i++) {
				if (st[i] != a->atoms[A_NET_WM_STATE_HIDDEN]) {
					st[k++] = st[i];
				}
			}
			XChangeProperty(a->dpy, w->client, a->atoms[A_NET_WM_STATE], XA_ATOM, 32, PropModeReplace,
					(unsigned char *)st, k);
		}
		return;
	}
	{
		Atom type = None;
		int format = 0;
		unsigned long items = 0, after = 0;
		unsigned char *data = NULL;
		bool iconic = false;

		if (XGetWindowProperty(a->dpy, w->client, a->atoms[A_WM_STATE], 0, 2, False, a->atoms[A_WM_STATE],
				    &type, &format, &items, &after, &data) == Success && data && format == 32 &&
				items >= 1) {
			iconic = ((unsigned long *)(void *)data)[0] == IconicState;
		}
		if (data) {
			XFree(data);
		}
		if (iconic) {
			XMapWindow(a->dpy, w->client);
		}
	}
}

void win_close_request(struct agent *a, struct awin *w)
{
	Atom *protos = NULL;
	int n = 0;
	bool del = false;

	if (XGetWMProtocols(a->dpy, w->client, &protos, &n)) {
		for (int i = 0; i < n; i++) {
			del |= protos[i] == a->atoms[A_WM_DELETE_WINDOW];
		}
		XFree(protos);
	}
	if (del) {
		XEvent ev;

		memset(&ev, 0, sizeof(ev));
		ev.xclient.type = ClientMessage;
		ev.xclient.window = w->client;
		ev.xclient.message_type = a->atoms[A_WM_PROTOCOLS];
		ev.xclient.format = 32;
		ev.xclient.data.l[0] = (long)a->atoms[A_WM_DELETE_WINDOW];
		ev.xclient.data.l[1] = CurrentTime;
		XSendEvent(a->dpy, w->client, False, NoEventMask, &ev);
		log_debug("window 0x%lx: asked to close (WM_DELETE_WINDOW)", w->id);
	} else {
		log_info("window 0x%lx does not support WM_DELETE_WINDOW: closing its client's connection", w->id);
		XKillClient(a->dpy, w->client);
	}
}

/* FocusIn gives the window the keyboard focus; FocusOut is left to the pointer (focus reverts to PointerRoot). */
void win_focus_request(struct agent *a, struct awin *w, const struct proto_focus *f)
{
	XWindowAttributes wa;

	if (f->type == QGUI_FocusIn && w->mapped && XGetWindowAttributes(a->dpy, w->client, &wa) &&
			wa.map_state == IsViewable) {
		XSetInputFocus(a->dpy, w->client, RevertToPointerRoot, CurrentTime);
	}
}

/*
 * The daemon's user changed the window's state. Without a window manager in
 * the VM the meaningful part is _NET_WM_STATE itself (fullscreen, demands
 * attention, hidden for minimised), which the application reads.
 */
void win_flags_request(struct agent *a, struct awin *w, const struct proto_flags *f)
{
	static const struct {
		uint32_t flag;
		enum atom_id atom;
	} map[] = {
		{ WINDOW_FLAG_FULLSCREEN, A_NET_WM_STATE_FULLSCREEN },
		{ WINDOW_FLAG_DEMANDS_ATTENTION, A_NET_WM_STATE_DEMANDS_ATTENTION },
		{ WINDOW_FLAG_MINIMIZE, A_NET_WM_STATE_HIDDEN },
	};
	Atom st[STATE_MAX + 3];
	int n = read_state(a, w->client, st, STATE_MAX);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		Atom s = a->atoms[map[i].atom];

		if ((f->set & map[i].flag) && !has_state(st, n, s)) {
			st[n++] = s;
		} else if ((f->unset & map[i].flag) && has_state(st, n, s)) {
			int k = 0;

			for (int j = 0; j < n; j++) {
				if (st[j] != s) {
					st[k++] = st[j];
				}
			}
			n = k;
		}
	}
	/* both sides now agree: the PropertyNotify that follows finds nothing to report */
	w->flags = (w->flags | (f->set & (WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_DEMANDS_ATTENTION))) & ~f->unset;
	XChangeProperty(a->dpy, w->client, a->atoms[A_NET_WM_STATE], XA_ATOM, 32, PropModeReplace, (unsigned char *)st,
			n);
}

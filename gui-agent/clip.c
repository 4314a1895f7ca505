/* clip.c: the clipboard: the display's selection read for MSG_CLIPBOARD_REQ, and owned with MSG_CLIPBOARD_DATA. */
#include <stdlib.h>
#include <string.h>

#include <X11/Xatom.h>

#include "agent.h"
#include "qgui/log.h"

static void send_data(struct agent *a, const uint8_t *data, size_t len)
{
	struct proto_msg m = { .type = MSG_CLIPBOARD_DATA, .window = 0 };

	m.u.clipboard.data = len ? data : NULL;
	m.u.clipboard.len = (uint32_t)len;
	a->clip_pending = false;
	link_send(a, &m);
	log_debug("sent %zu bytes of clipboard", len);
}

/* Latin-1 to UTF-8 into a new buffer of at most max bytes (whole characters). *out is freed by the caller. */
static size_t latin1_to_utf8(const uint8_t *in, size_t len, size_t max, uint8_t **out)
{
	uint8_t *o = malloc(len * 2 + 1);
	size_t n = 0;

	*out = o;
	if (o == NULL) {
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		size_t k = in[i] < 0x80 ? 1 : 2;

		if (n + k > max) {
			break;
		}
		if (k == 1) {
			o[n++] = in[i];
		} else {
			o[n++] = (uint8_t)(0xc0 | in[i] >> 6);
			o[n++] = (uint8_t)(0x80 | (in[i] & 0x3f));
		}
	}
	return n;
}

/* UTF-8 to Latin-1 (characters beyond U+00FF become '?'). *out is freed by the caller. */
static size_t utf8_to_latin1(const uint8_t *in, size_t len, uint8_t **out)
{
	uint8_t *o = malloc(len + 1);
	size_t n = 0;

	*out = o;
	if (o == NULL) {
		return 0;
	}
	for (size_t i = 0; i < len;) {
		if (in[i] < 0x80) {
			o[n++] = in[i++];
		} else if ((in[i] & 0xe0) == 0xc0 && i + 1 < len && (in[i + 1] & 0xc0) == 0x80) {
			uint32_t cp = (uint32_t)(in[i] & 0x1f) << 6 | (in[i + 1] & 0x3fu);

			o[n++] = cp <= 0xff ? (uint8_t)cp : '?';
			i += 2;
		} else {
			o[n++] = '?';
			i++;
			while (i < len && (in[i] & 0xc0) == 0x80) {
				i++;
			}
		}
	}
	return n;
}

static bool own(struct agent *a, Atom sel)
{
	return XGetSelectionOwner(a->dpy, sel) == a->helper;
}

/* ---------------------------------------------------------------- MSG_CLIPBOARD_REQ */

static void convert(struct agent *a, Atom target)
{
	XDeleteProperty(a->dpy, a->helper, a->atoms[A_AGENT_SEL]);
	XConvertSelection(a->dpy, a->clip_sel, target, a->atoms[A_AGENT_SEL], a->helper, CurrentTime);
	a->clip_target = target;
	a->clip_pending = true;
	a->clip_deadline = agent_now_ms() + AGENT_CLIP_TIMEOUT_MS;
}

void clip_request(struct agent *a)
{
	Window owner;

	if (a->clip_pending) {
		log_debug("a clipboard request is already being answered");
		return;
	}
	a->clip_sel = a->atoms[A_CLIPBOARD];
	owner = XGetSelectionOwner(a->dpy, a->clip_sel);
	if (owner == None) {
		a->clip_sel = XA_PRIMARY;
		owner = XGetSelectionOwner(a->dpy, a->clip_sel);
	}
	if (owner == None) {
		send_data(a, NULL, 0); /* nothing selected */
		return;
	}
	if (owner == a->helper) {
		send_data(a, a->clip_data, a->clip_len);
		return;
	}
	convert(a, a->atoms[A_UTF8_STRING]);
}

static void on_notify(struct agent *a, const XSelectionEvent *e)
{
	Atom type = None;
	int format = 0;
	unsigned long n = 0, after = 0;
	unsigned char *data = NULL;
	uint8_t *conv = NULL;
	size_t len;

	if (!a->clip_pending || e->selection != a->clip_sel) {
		return; /* late: already answered (empty) at the timeout */
	}
	if (e->property == None) {
		if (a->clip_target == a->atoms[A_UTF8_STRING]) {
			convert(a, XA_STRING); /* an older client: Latin-1 */
			return;
		}
		send_data(a, NULL, 0);
		return;
	}
	/* one more 32-bit unit than the limit, to notice data over it */
	if (XGetWindowProperty(a->dpy, a->helper, a->atoms[A_AGENT_SEL], 0, AGENT_CLIP_MAX / 4 + 1, True,
			    AnyPropertyType, &type, &format, &n, &after, &data) != Success || data == NULL) {
		send_data(a, NULL, 0);
		return;
	}
	if (type == a->atoms[A_INCR]) {
		log_info("clipboard data offered in pieces (INCR) is not supported: sent empty");
		XFree(data);
		send_data(a, NULL, 0);
		return;
	}
	if (format != 8) {
		XFree(data);
		send_data(a, NULL, 0);
		return;
	}
	len = n;
	if (type == XA_STRING) {
		len = latin1_to_utf8(data, len, AGENT_CLIP_MAX, &conv);
	} else if (len > AGENT_CLIP_MAX) {
		len = AGENT_CLIP_MAX;
	}
	if (n > AGENT_CLIP_MAX || after > 0) {
		log_info("clipboard data over %u bytes: cut", AGENT_CLIP_MAX);
	}
	send_data(a, conv ? conv : data, conv || type != XA_STRING ? len : 0);
	free(conv);
	XFree(data);
}

int clip_timeout_ms(const struct agent *a)
{
	long long left;

	if (!a->clip_pending) {
		return -1;
	}
	left = a->clip_deadline - agent_now_ms();
	return left < 0 ? 0 : (int)left;
}

void clip_tick(struct agent *a)
{
	if (a->clip_pending && agent_now_ms() >= a->clip_deadline) {
		log_info("the selection owner did not answer within %d ms: sent empty clipboard data",
				AGENT_CLIP_TIMEOUT_MS);
		send_data(a, NULL, 0);
	}
}

/* ---------------------------------------------------------------- MSG_CLIPBOARD_DATA */

void clip_data(struct agent *a, const uint8_t *data, size_t len)
{
	free(a->clip_data);
	a->clip_data = NULL;
	a->clip_len = 0;
	if (len == 0) {
		log_debug("empty clipboard data from the daemon: nothing to paste");
		return;
	}
	a->clip_data = malloc(len);
	if (a->clip_data == NULL) {
		log_error("out of memory for %zu bytes of clipboard", len);
		return;
	}
	memcpy(a->clip_data, data, len);
	a->clip_len = len;
	XSetSelectionOwner(a->dpy, a->atoms[A_CLIPBOARD], a->helper, CurrentTime);
	XSetSelectionOwner(a->dpy, XA_PRIMARY, a->helper, CurrentTime);
	if (!own(a, a->atoms[A_CLIPBOARD])) {
		log_error("could not own the CLIPBOARD selection");
	}
	log_debug("own the clipboard: %zu bytes", len);
}

/* Another client asks us (the owner) for the data. */
static void on_request(struct agent *a, const XSelectionRequestEvent *r)
{
	XEvent out;
	Atom prop = r->property != None ? r->property : r->target; /* None: an obsolete client */

	memset(&out, 0, sizeof(out));
	out.xselection.type = SelectionNotify;
	out.xselection.display = r->display;
	out.xselection.requestor = r->requestor;
	out.xselection.selection = r->selection;
	out.xselection.target = r->target;
	out.xselection.property = None; /* refused unless set below */
	out.xselection.time = r->time;
	if (a->clip_data == NULL) {
		/* nothing to give */
	} else if (r->target == a->atoms[A_TARGETS]) {
		Atom t[] = { a->atoms[A_TARGETS], a->atoms[A_UTF8_STRING], XA_STRING, a->atoms[A_TEXT] };

		XChangeProperty(a->dpy, r->requestor, prop, XA_ATOM, 32, PropModeReplace, (unsigned char *)t, 4);
		out.xselection.property = prop;
	} else if (r->target == a->atoms[A_UTF8_STRING] || r->target == a->atoms[A_TEXT]) {
		XChangeProperty(a->dpy, r->requestor, prop, a->atoms[A_UTF8_STRING], 8, PropModeReplace, a->clip_data,
				(int)a->clip_len);
		out.xselection.property = prop;
	} else if (r->target == XA_STRING) {
		uint8_t *l1;
		size_t n = utf8_to_latin1(a->clip_data, a->clip_len, &l1);

		if (l1) {
			XChangeProperty(a->dpy, r->requestor, prop, XA_STRING, 8, PropModeReplace, l1, (int)n);
			out.xselection.property = prop;
			free(l1);
		}
	}
	XSendEvent(a->dpy, r->requestor, False, NoEventMask, &out);
}

bool clip_event(struct agent *a, XEvent *ev)
{
	switch (ev->type) {
	case SelectionNotify:
		if (ev->xselection.requestor != a->helper) {
			return false;
		}
		on_notify(a, &ev->xselection);
		return true;
	case SelectionRequest:
		if (ev->xselectionrequest.owner != a->helper) {
			return false;
		}
		on_request(a, &ev->xselectionrequest);
		return true;
	case SelectionClear:
		if (ev->xselectionclear.window != a->helper) {
			return false;
		}
		if (!own(a, a->atoms[A_CLIPBOARD]) && !own(a, XA_PRIMARY)) {
			free(a->clip_data); /* someone else's selection now, on both */
			a->clip_data = NULL;
			a->clip_len = 0;
		}
		return true;
	case PropertyNotify:
		return ev->xproperty.window == a->helper;
	default:
		return false;
	}
}

void clip_finish(struct agent *a)
{
	free(a->clip_data);
	a->clip_data = NULL;
	a->clip_len = 0;
	a->clip_pending = false;
}

/* link.c: the session with the gui-daemon: vchan server, handshake, replay, and the daemon's messages. */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "inject.h"
#include "qgui/log.h"

int link_open(struct agent *a)
{
	a->t = transport_server_create(a->backend, a->own, a->gui, QGUI_VCHAN_PORT, 4096);
	if (a->t == NULL) {
		return -1; /* logged */
	}
	a->go = grant_owner_create(a->backend, a->own, a->gui);
	if (a->go == NULL) {
		transport_destroy(a->t);
		a->t = NULL;
		return -1;
	}
	return 0;
}

void link_close(struct agent *a)
{
	conn_destroy(a->c);
	a->c = NULL;
	a->ready = false;
	transport_destroy(a->t);
	a->t = NULL;
	grant_owner_destroy(a->go);
	a->go = NULL;
}

size_t link_queued(const struct agent *a)
{
	return a->c ? conn_queued(a->c) : 0;
}

void link_send(struct agent *a, const struct proto_msg *m)
{
	int rc;

	if (a->c == NULL || !a->ready || a->broken) {
		return; /* no daemon: the replay at the next connection tells it everything */
	}
	rc = conn_send(a->c, m);
	if (rc < 0) {
		log_error("cannot send %s to the daemon: %s", proto_type_name(m->type), strerror(-rc));
		a->broken = true;
	}
}

void link_pollfd(struct agent *a, struct pollfd *pfd)
{
	if (a->c) {
		conn_pollfd(a->c, pfd);
	} else if (a->t) {
		transport_pollfd(a->t, false, pfd);
	} else {
		*pfd = (struct pollfd){ -1, 0, 0 };
	}
}

/* The daemon is gone: drop everything it was told and listen for the next one. */
static void end_session(struct agent *a, const char *why)
{
	log_info("the daemon disconnected (%s); waiting for it to come back", why);
	a->ready = false;
	a->broken = false;
	a->clip_pending = false;
	frame_session_end(a); /* unshares every buffer */
	win_session_end(a);
	conn_destroy(a->c);
	a->c = NULL;
	if (transport_server_reset(a->t) != 0) {
		/* a Xen server that could not set up new rings: start over */
		transport_destroy(a->t);
		a->t = transport_server_create(a->backend, a->own, a->gui, QGUI_VCHAN_PORT, 4096);
		if (a->t == NULL) {
			log_error("cannot serve the daemon any more");
		}
	}
}

static void start_session(struct agent *a)
{
	struct conn_params p;

	conn_params_default(&p, CONN_AGENT);
	a->c = conn_create(a->t, &p);
	if (a->c == NULL) {
		log_error("out of memory for a session");
		transport_server_reset(a->t);
		return;
	}
	conn_flush(a->c); /* our version word goes first */
}

/* One message from the daemon (validated by the decoder). */
static void dispatch(struct agent *a, const struct proto_msg *m)
{
	struct awin *w = win_find(a, m->window);

	switch (m->type) {
	case MSG_KEYPRESS:
	case MSG_BUTTON:
	case MSG_MOTION:
	case MSG_CROSSING:
	case MSG_KEYMAP_NOTIFY:
		if (w) {
			inject_event(a->dpy, m, w->x, w->y);
		} else if (m->type == MSG_KEYPRESS || m->type == MSG_KEYMAP_NOTIFY) {
			inject_event(a->dpy, m, 0, 0); /* no position needed: a key released after its window went */
		}
		break;
	case MSG_FOCUS:
		if (w) {
			win_focus_request(a, w, &m->u.focus);
		}
		break;
	case MSG_CONFIGURE:
		if (w) {
			win_configure_request(a, w, &m->u.configure);
		}
		break;
	case MSG_MAP:
		if (w) {
			win_map_request(a, w);
		}
		break;
	case MSG_CLOSE:
		if (w) {
			win_close_request(a, w);
		}
		break;
	case MSG_WINDOW_FLAGS:
		if (w) {
			win_flags_request(a, w, &m->u.flags);
		}
		break;
	case MSG_CLIPBOARD_REQ:
		clip_request(a);
		break;
	case MSG_CLIPBOARD_DATA:
		clip_data(a, m->u.clipboard.data, m->u.clipboard.len);
		break;
	case MSG_WINDOW_DUMP_ACK:
		frame_ack(a, m->window);
		break;
	case MSG_DESTROY: /* the daemon's acknowledgement of ours */
	default:
		break;
	}
}

void link_handle(struct agent *a, short revents)
{
	int rc;

	if (a->t == NULL) {
		return;
	}
	if (a->c == NULL) {
		enum transport_state st = transport_handle(a->t, revents);

		if (st == TRANSPORT_DISCONNECTED) {
			transport_server_reset(a->t); /* came and went before we spoke */
			return;
		}
		if (st != TRANSPORT_CONNECTED) {
			return;
		}
		start_session(a);
		if (a->c == NULL) {
			return;
		}
		revents = 0;
	}
	rc = conn_handle(a->c, revents);
	/* bytes that arrived before a close are handled first */
	while (!a->broken) {
		struct proto_msg m;
		int ev = conn_next(a->c, &m);

		if (ev == CONN_NONE) {
			break;
		}
		if (ev == CONN_READY) {
			log_info("daemon connected, protocol %u.%u", conn_version(a->c) >> 16, conn_version(a->c) & 0xffff);
			a->ready = true;
			win_replay(a);
		} else if (ev == CONN_MSG) {
			dispatch(a, &m);
		} else if (ev == CONN_DROPPED) {
			log_info("ignored a message from the daemon: %s", conn_error(a->c));
		} else {
			end_session(a, ev == -EPIPE ? "it closed the connection"
					: ev == -EPROTO || ev == -EPROTONOSUPPORT ? conn_error(a->c) : strerror(-ev));
			return;
		}
	}
	if (a->broken) {
		end_session(a, "sending failed");
	} else if (rc < 0) {
		end_session(a, rc == -EPIPE ? "it closed the connection" : strerror(-rc));
	}
}

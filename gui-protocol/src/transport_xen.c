/* transport_xen.c: the Xen vchan back-end, a non-blocking stream over libxenvchan. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "qgui/log.h"
#include "transport_impl.h"

/* "/local/domain/<5 digits>/data/vchan/<5 digits>/<10 digits>" and its NUL */
#define XS_PATH_MAX 64

struct xen_transport {
	struct transport base;
	struct libxenvchan *ctrl; /* NULL only after a failed server re-init */
	bool is_server;
	int peer_domid;
	size_t ring_min;          /* server: for the re-init of transport_server_reset */
	char xs_path[XS_PATH_MAX];
};

static const struct transport_ops xen_ops;

static struct xen_transport *xen_from_base(struct transport *t)
{
	INVARIANT(t->ops == &xen_ops);
	return (struct xen_transport *)t;
}

/* libxenvchan prints nothing when /dev/xen is missing (rig-facts.md section 4): say it ourselves. */
static bool no_dev_xen(void)
{
	return access("/dev/xen", F_OK) != 0;
}

static struct xen_transport *xen_alloc(bool is_server, int own_domid, int peer_domid, int port,
		size_t ring_min)
{
	struct xen_transport *x = calloc(1, sizeof(*x));
	int server = is_server ? own_domid : peer_domid, client = is_server ? peer_domid : own_domid;

	if (x == NULL) {
		log_error("xen vchan: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	x->base.ops = &xen_ops;
	x->is_server = is_server;
	x->peer_domid = peer_domid;
	x->ring_min = ring_min;
	/* cannot truncate: domain ids have at most 5 digits and port at most 10 */
	snprintf(x->xs_path, sizeof(x->xs_path), "/local/domain/%d/data/vchan/%d/%d", server, client, port);
	return x;
}

/* server_init and the settings every new vchan gets; 0 or -errno */
static int xen_server_init(struct xen_transport *x)
{
	x->ctrl = libxenvchan_server_init(NULL, x->peer_domid, x->xs_path, x->ring_min, x->ring_min);
	if (x->ctrl == NULL) {
		int e = errno != 0 ? errno : EIO;

		if (e == ENOENT && no_dev_xen()) {
			log_error("xen vchan: /dev/xen not available (not running under Xen?); use --transport=socket");
		} else {
			log_error("xen vchan: cannot serve domain %d on %s: %s", x->peer_domid, x->xs_path, strerror(e));
		}
		return -e;
	}
	x->ctrl->blocking = 0; /* a bit-field callers set directly; libxenvchan leaves it unset */
	x->base.state = TRANSPORT_WAITING;
	return 0;
}

struct transport *transport_xen_server_create(int own_domid, int client_domid, int port, size_t ring_min)
{
	struct xen_transport *x = xen_alloc(true, own_domid, client_domid, port, ring_min);
	int r;

	if (x == NULL) {
		return NULL;
	}
	r = xen_server_init(x);
	if (r < 0) {
		free(x);
		errno = -r;
		return NULL;
	}
	log_debug("xen vchan: server for domain %d on %s", client_domid, x->xs_path);
	return &x->base;
}

struct transport *transport_xen_client_create(int own_domid, int server_domid, int port, int timeout_ms)
{
	struct xen_transport *x = xen_alloc(false, own_domid, server_domid, port, 0);
	int64_t deadline = transport_now_ms() + timeout_ms;
	int e;

	if (x == NULL) {
		return NULL;
	}
	for (;;) {
		int64_t left;

		errno = 0;
		x->ctrl = libxenvchan_client_init(NULL, server_domid, x->xs_path);
		if (x->ctrl != NULL) {
			break;
		}
		/* ENOENT: no server entries in xenstore (or no socket under the xenshim) yet */
		e = errno != 0 ? errno : EIO;
		if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN && e != EINTR) {
			log_error("xen vchan: cannot connect to domain %d on %s: %s", server_domid, x->xs_path,
					strerror(e));
			goto fail;
		}
		left = deadline - transport_now_ms();
		if (left <= 0) {
			if (e == ENOENT && no_dev_xen()) {
				/* ENOENT is also all libxenvchan says without Xen: name the likelier cause */
				log_error("xen vchan: no server on %s within %d ms, and /dev/xen not available "
						"(not running under Xen?); use --transport=socket", x->xs_path, timeout_ms);
			} else {
				log_debug("xen vchan: no server on %s within %d ms", x->xs_path, timeout_ms);
				e = ETIMEDOUT;
			}
			goto fail;
		}
		if (e != EINTR) {
			transport_pause_ms(left < TRANSPORT_RETRY_MS ? left : TRANSPORT_RETRY_MS);
		}
	}
	x->ctrl->blocking = 0;
	x->base.state = TRANSPORT_CONNECTED;
	log_debug("xen vchan: connected to domain %d on %s", server_domid, x->xs_path);
	return &x->base;

fail:
	free(x);
	errno = e;
	return NULL;
}

static void xen_destroy(struct transport *t)
{
	struct xen_transport *x = xen_from_base(t);

	if (x->ctrl != NULL) {
		libxenvchan_close(x->ctrl);
	}
	free(x);
}

/*
 * Brings the state up to date from libxenvchan_is_open (2: no client yet,
 * 1: connected, 0: closed). DISCONNECTED stays until transport_server_reset,
 * even if a client maps the same rings again.
 */
static enum transport_state xen_update(struct xen_transport *x)
{
	if (x->ctrl == NULL || x->base.state == TRANSPORT_DISCONNECTED) {
		x->base.state = TRANSPORT_DISCONNECTED;
		return x->base.state;
	}
	switch (libxenvchan_is_open(x->ctrl)) {
	case 2:
		if (x->is_server) {
			x->base.state = TRANSPORT_WAITING;
			break;
		}
		/* a client is never "waiting" */
		x->base.state = TRANSPORT_CONNECTED;
		break;
	case 1:
		x->base.state = TRANSPORT_CONNECTED;
		break;
	default:
		x->base.state = TRANSPORT_DISCONNECTED;
		break;
	}
	return x->base.state;
}

static void xen_pollfd(struct transport *t, bool want_write, struct pollfd *pfd)
{
	struct xen_transport *x = xen_from_base(t);

	/* one event fd for everything: bytes in, room freed, connect, close */
	(void)want_write;
	if (x->ctrl != NULL) {
		pfd->fd = libxenvchan_fd_for_select(x->ctrl);
		pfd->events = POLLIN;
	}
}

static enum transport_state xen_handle(struct transport *t, short revents)
{
	struct xen_transport *x = xen_from_base(t);

	if (x->ctrl != NULL && (revents & POLLIN) != 0) {
		struct pollfd p = { .fd = libxenvchan_fd_for_select(x->ctrl), .events = POLLIN };

		/*
		 * libxenvchan_wait consumes the pending notification and blocks when
		 * there is none. revents may be stale (a second call with the same
		 * value), so check that one is still pending first.
		 */
		if (p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0) {
			(void)libxenvchan_wait(x->ctrl);
		}
	}
	return xen_update(x);
}

static ssize_t xen_read(struct transport *t, void *buf, size_t len)
{
	struct xen_transport *x = xen_from_base(t);
	enum transport_state st;
	int ready, n;

	/*
	 * The state first, then data_ready: bytes sent before a close are in the
	 * ring by the time the close shows, so none is lost to an early EPIPE.
	 */
	st = xen_update(x);
	if (st == TRANSPORT_WAITING || len == 0) {
		return 0;
	}
	if (x->ctrl == NULL) {
		errno = EPIPE;
		return -1;
	}
	/*
	 * data_ready comes from ring indexes the peer writes; libxenvchan clamps
	 * it to the ring size, and we never copy more than len whatever it says.
	 */
	ready = libxenvchan_data_ready(x->ctrl);
	if (ready > 0) {
		size_t want = len < (size_t)ready ? len : (size_t)ready;

		n = libxenvchan_read(x->ctrl, buf, want);
		if (n > 0) {
			return n;
		}
		if (n == 0) {
			return 0;
		}
		st = xen_update(x);
	}
	if (st == TRANSPORT_DISCONNECTED) {
		errno = EPIPE;
		return -1;
	}
	if (ready < 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static ssize_t xen_write(struct transport *t, const void *buf, size_t len)
{
	struct xen_transport *x = xen_from_base(t);
	enum transport_state st = xen_update(x);
	int space, n;
	size_t want;

	if (st == TRANSPORT_WAITING) {
		return 0;
	}
	if (st == TRANSPORT_DISCONNECTED) {
		errno = EPIPE;
		return -1;
	}
	if (len == 0) {
		return 0;
	}
	space = libxenvchan_buffer_space(x->ctrl);
	if (space <= 0) {
		return 0;
	}
	want = len < (size_t)space ? len : (size_t)space;
	n = libxenvchan_write(x->ctrl, buf, want);
	if (n >= 0) {
		return n;
	}
	if (xen_update(x) == TRANSPORT_DISCONNECTED) {
		errno = EPIPE;
	} else {
		errno = EIO;
	}
	return -1;
}

/* On Xen a finished server is closed and set up again: new rings, new xenstore entries. */
static int xen_server_reset(struct transport *t)
{
	struct xen_transport *x = xen_from_base(t);

	if (!x->is_server) {
		return -EINVAL;
	}
	if (x->ctrl != NULL) {
		libxenvchan_close(x->ctrl);
		x->ctrl = NULL;
	}
	x->base.state = TRANSPORT_DISCONNECTED;
	return xen_server_init(x);
}

static const struct transport_ops xen_ops = {
	.backend = QGUI_BACKEND_XEN,
	.destroy = xen_destroy,
	.pollfd = xen_pollfd,
	.handle = xen_handle,
	.read = xen_read,
	.write = xen_write,
	.server_reset = xen_server_reset,
};

/* tests/lib/record.c: a transport that records what passes through it (see record.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../gui-protocol/src/transport_impl.h"
#include "record.h"

struct rec {
	struct transport base;
	struct transport *inner;
	char name[32];
	int fd_in, fd_out; /* -1 until the connection is up */
};

static const struct transport_ops rec_socket_ops, rec_xen_ops;

static struct rec *rec_from_base(struct transport *t)
{
	if (t->ops != &rec_socket_ops && t->ops != &rec_xen_ops) {
		abort();
	}
	return (struct rec *)t;
}

static void files_close(struct rec *r)
{
	if (r->fd_in >= 0) {
		close(r->fd_in);
		close(r->fd_out);
	}
	r->fd_in = r->fd_out = -1;
}

/* Mirrors the inner state, and opens the next pair of files when a connection is up. */
static enum transport_state sync_state(struct rec *r)
{
	r->base.state = transport_state(r->inner);
	if (r->base.state == TRANSPORT_CONNECTED && r->fd_in < 0) {
		static unsigned conns; /* every connection recorded by this process, whatever its transport */
		char p[4200];

		snprintf(p, sizeof(p), "%s/%s-%d-%u.in", getenv("QGUI_RECORD_DIR"), r->name, (int)getpid(), conns);
		r->fd_in = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		snprintf(p, sizeof(p), "%s/%s-%d-%u.out", getenv("QGUI_RECORD_DIR"), r->name, (int)getpid(), conns);
		r->fd_out = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		conns++;
	}
	return r->base.state;
}

static void rec_destroy(struct transport *t)
{
	struct rec *r = rec_from_base(t);

	files_close(r);
	transport_destroy(r->inner);
	free(r);
}

static void rec_pollfd(struct transport *t, bool want_write, struct pollfd *pfd)
{
	transport_pollfd(rec_from_base(t)->inner, want_write, pfd);
}

static enum transport_state rec_handle(struct transport *t, short revents)
{
	struct rec *r = rec_from_base(t);

	transport_handle(r->inner, revents);
	return sync_state(r);
}

/* After a read (in) or write of n bytes at buf on the inner transport: records them, keeps errno. */
static ssize_t recorded(struct rec *r, bool in, const void *buf, ssize_t n)
{
	int e = errno;

	sync_state(r);
	if (n > 0 && (in ? r->fd_in : r->fd_out) >= 0 && write(in ? r->fd_in : r->fd_out, buf, (size_t)n) != n) {
		fprintf(stderr, "record: write failed\n");
	}
	errno = e;
	return n;
}

static ssize_t rec_read(struct transport *t, void *buf, size_t len)
{
	struct rec *r = rec_from_base(t);

	return recorded(r, true, buf, transport_read(r->inner, buf, len));
}

static ssize_t rec_write(struct transport *t, const void *buf, size_t len)
{
	struct rec *r = rec_from_base(t);

	return recorded(r, false, buf, transport_write(r->inner, buf, len));
}

static int rec_server_reset(struct transport *t)
{
	struct rec *r = rec_from_base(t);
	int rc = transport_server_reset(r->inner);

	files_close(r);
	sync_state(r);
	return rc;
}

static const struct transport_ops rec_socket_ops = {
	.backend = QGUI_BACKEND_SOCKET, .destroy = rec_destroy, .pollfd = rec_pollfd, .handle = rec_handle,
	.read = rec_read, .write = rec_write, .server_reset = rec_server_reset,
};
static const struct transport_ops rec_xen_ops = {
	.backend = QGUI_BACKEND_XEN, .destroy = rec_destroy, .pollfd = rec_pollfd, .handle = rec_handle,
	.read = rec_read, .write = rec_write, .server_reset = rec_server_reset,
};

struct transport *record_wrap(struct transport *t, const char *name)
{
	struct rec *r;

	if (t == NULL || getenv("QGUI_RECORD_DIR") == NULL || *getenv("QGUI_RECORD_DIR") == '\0') {
		return t;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return t; /* recording is a test aid: the session goes on unrecorded */
	}
	r->base.ops = transport_backend(t) == QGUI_BACKEND_XEN ? &rec_xen_ops : &rec_socket_ops;
	r->inner = t;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->fd_in = r->fd_out = -1;
	sync_state(r);
	return &r->base;
}

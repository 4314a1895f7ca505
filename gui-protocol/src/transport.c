/* transport.c: the public transport API; checks arguments and dispatches to the socket or Xen back-end. */
#include <errno.h>
#include <time.h>

#include "qgui/log.h"
#include "transport_impl.h"

static bool domid_ok(int domid)
{
	return domid >= 0 && domid < QGUI_DOMID_LIMIT;
}

int64_t transport_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		return 0;
	}
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void transport_pause_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0) {
		return;
	}
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

struct transport *transport_server_create(enum qgui_backend backend, int own_domid, int client_domid,
		int port, size_t ring_min)
{
	if (!domid_ok(own_domid) || !domid_ok(client_domid) || port < 0) {
		log_error("vchan server: bad arguments (own domain %d, client domain %d, port %d)", own_domid,
				client_domid, port);
		errno = EINVAL;
		return NULL;
	}
	switch (backend_resolve(backend)) {
	case QGUI_BACKEND_SOCKET:
		return transport_socket_server_create(own_domid, client_domid, port);
	case QGUI_BACKEND_XEN:
		return transport_xen_server_create(own_domid, client_domid, port, ring_min);
	case QGUI_BACKEND_AUTO:
		break;
	}
	log_error("vchan server: unknown back-end %d", (int)backend);
	errno = EINVAL;
	return NULL;
}

struct transport *transport_client_create(enum qgui_backend backend, int own_domid, int server_domid,
		int port, int timeout_ms)
{
	if (!domid_ok(own_domid) || !domid_ok(server_domid) || port < 0 || timeout_ms < 0) {
		log_error("vchan client: bad arguments (own domain %d, server domain %d, port %d, timeout %d ms)",
				own_domid, server_domid, port, timeout_ms);
		errno = EINVAL;
		return NULL;
	}
	switch (backend_resolve(backend)) {
	case QGUI_BACKEND_SOCKET:
		return transport_socket_client_create(own_domid, server_domid, port, timeout_ms);
	case QGUI_BACKEND_XEN:
		return transport_xen_client_create(own_domid, server_domid, port, timeout_ms);
	case QGUI_BACKEND_AUTO:
		break;
	}
	log_error("vchan client: unknown back-end %d", (int)backend);
	errno = EINVAL;
	return NULL;
}

struct transport *transport_from_fd(int fd)
{
	return transport_socket_from_fd(fd);
}

void transport_destroy(struct transport *t)
{
	if (t != NULL) {
		t->ops->destroy(t);
	}
}

void transport_pollfd(struct transport *t, bool want_write, struct pollfd *pfd)
{
	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	t->ops->pollfd(t, want_write, pfd);
}

enum transport_state transport_handle(struct transport *t, short revents)
{
	return t->ops->handle(t, revents);
}

enum transport_state transport_state(const struct transport *t)
{
	return t->state;
}

ssize_t transport_read(struct transport *t, void *buf, size_t len)
{
	return t->ops->read(t, buf, len);
}

ssize_t transport_write(struct transport *t, const void *buf, size_t len)
{
	return t->ops->write(t, buf, len);
}

int transport_server_reset(struct transport *t)
{
	return t->ops->server_reset(t);
}

enum qgui_backend transport_backend(const struct transport *t)
{
	return t->ops->backend;
}

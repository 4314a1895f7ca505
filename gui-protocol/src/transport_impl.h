/* transport_impl.h: the ops vtable and constructors shared by transport.c and its back-ends (private). */
#ifndef QGUI_TRANSPORT_IMPL_H
#define QGUI_TRANSPORT_IMPL_H

#include <stdint.h>

#include "qgui/transport.h"

/* Client start-up: pause between two connection attempts (emulation.md section 2). */
#define TRANSPORT_RETRY_MS 10

/*
 * One back-end's implementation of the public calls. transport.c checks the
 * arguments common to all back-ends before calling these; each entry has the
 * return convention of the public function of the same name.
 */
struct transport_ops {
	enum qgui_backend backend;
	void (*destroy)(struct transport *t);
	void (*pollfd)(struct transport *t, bool want_write, struct pollfd *pfd);
	enum transport_state (*handle)(struct transport *t, short revents);
	ssize_t (*read)(struct transport *t, void *buf, size_t len);
	ssize_t (*write)(struct transport *t, const void *buf, size_t len);
	int (*server_reset)(struct transport *t);
};

/*
 * The common head of every transport. A back-end embeds it as its first
 * member and downcasts only after checking ops (its *_from_base() helper).
 */
struct transport {
	const struct transport_ops *ops; /* first: says which back-end this is */
	enum transport_state state;      /* what transport_state() reports */
};

/*
 * Back-end constructors, called by transport.c with validated arguments
 * (domain ids in 0..QGUI_DOMID_LIMIT-1, port >= 0, timeout_ms >= 0). Same
 * conventions as the public transport_server_create() and
 * transport_client_create(): a transport the caller frees with
 * transport_destroy(), or NULL with errno set and one log line.
 */
struct transport *transport_socket_server_create(int own_domid, int client_domid, int port);
struct transport *transport_socket_client_create(int own_domid, int server_domid, int port, int timeout_ms);
/* As transport_from_fd(): takes ownership of fd even on failure. */
struct transport *transport_socket_from_fd(int fd);
struct transport *transport_xen_server_create(int own_domid, int client_domid, int port, size_t ring_min);
struct transport *transport_xen_client_create(int own_domid, int server_domid, int port, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t transport_now_ms(void);

/* Sleeps about ms milliseconds (pacing of connection retries only; EINTR ends it early). */
void transport_pause_ms(int64_t ms);

#endif

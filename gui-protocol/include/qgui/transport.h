/* qgui/transport.h: non-blocking byte streams between two domains (socket vchan or Xen vchan). */
#ifndef QGUI_TRANSPORT_H
#define QGUI_TRANSPORT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "qgui/backend.h"

/* The GUI protocol's vchan port. */
#define QGUI_VCHAN_PORT 6000

/* Same values as Qubes' VCHAN_DISCONNECTED / VCHAN_CONNECTED / VCHAN_WAITING. */
enum transport_state {
	TRANSPORT_DISCONNECTED = 0,
	TRANSPORT_CONNECTED = 1,
	TRANSPORT_WAITING = 2, /* a server with no client yet */
};

/* Opaque. One vchan: one peer, one bidirectional stream. */
struct transport;

/*
 * Creates a vchan server: domain own_domid serves client_domid on port.
 *   SOCKET: listens on $VCHAN_SOCKET_DIR/vchan.<own>.<client>.<port>.sock
 *     (emulation.md section 2): replaces a stale socket (one that refuses
 *     connections), fails with EADDRINUSE when a live process listens there,
 *     EEXIST when a non-socket file is in the way. Mode 0660.
 *   XEN: libxenvchan_server_init(NULL, client_domid,
 *     "/local/domain/<own>/data/vchan/<client>/<port>", ring_min, ring_min).
 * backend AUTO is resolved first. Starts in TRANSPORT_WAITING. Never blocks.
 * Returns the transport (caller frees with transport_destroy), or NULL with
 * errno set and one log line saying why (for Xen without /dev/xen, a line
 * that says so and suggests --transport=socket).
 *   SOCKET: a live server is told from a stale one by the socket file itself
 *     (sock_diag, else /proc/net/unix), never by connecting to it. A missing
 *     $VCHAN_SOCKET_DIR is created (one level, 0770). EINVAL for a bad domain
 *     id or port, ENAMETOOLONG when the path does not fit sun_path.
 */
struct transport *transport_server_create(enum qgui_backend backend, int own_domid, int client_domid,
		int port, size_t ring_min);

/*
 * Creates a vchan client: domain own_domid connects to server_domid's server
 * on port. Retries a missing or refusing server every 10 ms until timeout_ms
 * has passed (0: one attempt). Blocks for at most about timeout_ms.
 *   SOCKET: connects to vchan.<server>.<own>.<port>.sock.
 *   XEN: libxenvchan_client_init(NULL, server_domid,
 *     "/local/domain/<server>/data/vchan/<own>/<port>").
 * Returns a CONNECTED transport, or NULL with errno set (ETIMEDOUT when the
 * server never appeared) and one log line. XEN without /dev/xen: ENOENT
 * instead of ETIMEDOUT, as libxenvchan cannot tell "no Xen" from "no server
 * yet" (under the xenshim, which has no /dev/xen either, a missing server
 * also ends with ENOENT).
 */
struct transport *transport_client_create(enum qgui_backend backend, int own_domid, int server_domid,
		int port, int timeout_ms);

/*
 * Wraps an already connected stream socket (for example one end of a
 * socketpair) as a CONNECTED socket transport. Takes ownership of fd even on
 * failure. Returns NULL with errno set on failure (ENOTSOCK, EINVAL for a
 * non-stream socket, ENOTCONN, EBADF).
 */
struct transport *transport_from_fd(int fd);

/*
 * Closes the stream; a server also unlinks its socket file (only if it is
 * still the file it bound, and only in the process that created the server,
 * so a forked child freeing its copy leaves it alone). Accepts NULL.
 */
void transport_destroy(struct transport *t);

/*
 * Fills *pfd for poll(): the fd to wait on and the events wanted. want_write:
 * the caller has bytes queued and wants to know when it can write more.
 *   SOCKET: the listening socket (POLLIN) while WAITING; the connection
 *     (POLLIN, plus POLLOUT with want_write) while CONNECTED; once
 *     DISCONNECTED, the connection (POLLIN) until read has returned EPIPE,
 *     then fd -1 (nothing left to wait for).
 *   XEN: always libxenvchan's event fd with POLLIN, which also signals room
 *     to write; fd -1 only after a failed transport_server_reset.
 */
void transport_pollfd(struct transport *t, bool want_write, struct pollfd *pfd);

/*
 * Call after poll() reported revents (may be 0) on the fd from
 * transport_pollfd(): accepts a waiting client, consumes Xen event
 * notifications, notices a closed peer. Never blocks, even when revents is
 * stale. Returns the new state. DISCONNECTED lasts until
 * transport_server_reset (a Xen server does not go back to CONNECTED by
 * itself when a client maps its rings again).
 */
enum transport_state transport_handle(struct transport *t, short revents);

/* The current state, without doing any I/O. */
enum transport_state transport_state(const struct transport *t);

/*
 * Reads up to len bytes without blocking. Returns the number read (> 0), 0
 * when nothing is available now (or no client yet), or -1 with errno: EPIPE
 * once the peer has closed and every byte it sent has been read; other values
 * on errors. Bytes sent before a close are always delivered first.
 */
ssize_t transport_read(struct transport *t, void *buf, size_t len);

/*
 * Writes up to len bytes without blocking. Returns the number written (> 0,
 * possibly fewer than len), 0 when there is no room now (or no client yet),
 * or -1 with errno EPIPE when the peer has closed; other values on errors.
 * Never raises SIGPIPE.
 */
ssize_t transport_write(struct transport *t, const void *buf, size_t len);

/*
 * Server only: forgets a finished client and waits for the next one (back to
 * TRANSPORT_WAITING). Returns 0, or -errno (EINVAL on a client transport).
 *   SOCKET: closes the connection (unread bytes are dropped) and keeps
 *     listening; a client queued in the backlog is accepted by the next
 *     transport_handle.
 *   XEN: closes the vchan and sets up a new server on the same path (new
 *     rings, as on Xen). If that fails the transport stays DISCONNECTED
 *     with no fd; only transport_destroy is then useful.
 */
int transport_server_reset(struct transport *t);

/* The backend in use (never AUTO). */
enum qgui_backend transport_backend(const struct transport *t);

#endif

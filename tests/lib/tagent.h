/* tests/lib/tagent.h: a scripted GUI agent for integration tests (socket vchan + gntemu, or Xen under xenshim). */
#ifndef QGUI_TAGENT_H
#define QGUI_TAGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "qgui/conn.h"
#include "qgui/grant.h"
#include "qgui/proto.h"
#include "qgui/transport.h"

struct tagent; /* opaque */

/*
 * Starts an agent of domain own_domid serving gui_domid (the daemon's domain) on the GUI
 * port: a vchan server and a grant owner, with VCHAN_SOCKET_DIR from the environment.
 * Does not block. offer_version: the version word it will send (0: 1.8).
 * Returns NULL on failure (message on stderr).
 */
struct tagent *tagent_start(enum qgui_backend backend, int own_domid, int gui_domid, uint32_t offer_version);

/* Stops serving, unshares everything, removes sockets. Accepts NULL. */
void tagent_destroy(struct tagent *a);

/*
 * Waits up to timeout_ms for a daemon to connect and the handshake to finish.
 * Returns 0, or -1 (timeout, refused version, ...).
 */
int tagent_accept(struct tagent *a, int timeout_ms);

/* After the daemon went away: drop the session and wait for the next connection (server reset). 0 or -1. */
int tagent_reaccept(struct tagent *a, int timeout_ms);

/* The negotiated version and the daemon's xconf, valid after tagent_accept. */
uint32_t tagent_version(const struct tagent *a);
const struct msg_xconf *tagent_xconf(const struct tagent *a);

/* Sends a message (any type; values as given). 0 or -1. */
int tagent_send(struct tagent *a, const struct proto_msg *m);

/* Sends raw bytes as they are (for hostile tests). 0 or -1. */
int tagent_send_raw(struct tagent *a, const void *buf, size_t len);

/* Convenience: CREATE (+ WMNAME title if non-NULL) and, when map, CONFIGURE + MAP. 0 or -1. */
int tagent_create(struct tagent *a, uint32_t id, int x, int y, uint32_t w, uint32_t h, bool override_redirect,
		const char *title, bool map);

/*
 * Gives window id a w x h image filled with rgb (0xRRGGBB, stored as x8r8g8b8), shared as a
 * fresh grant (the previous image of that window is kept until its WINDOW_DUMP_ACK comes back,
 * then unshared, as a double-buffering agent would), sends WINDOW_DUMP and a full SHMIMAGE.
 * Returns 0 or -1.
 */
int tagent_fill(struct tagent *a, uint32_t id, uint32_t w, uint32_t h, uint32_t rgb);

/*
 * From the next tagent_fill on, each image's share has `extra` pages more
 * than its dump names (one memfd larger than the image: the daemon must not
 * hand it to its X server). 0 (the default) shares exactly the image's pages.
 */
void tagent_set_extra_pages(struct tagent *a, size_t extra);

/*
 * Writes rgb into the rectangle (x, y, rw, rh) of window id's current image (no message sent).
 * With damage true, also sends SHMIMAGE for it. 0 or -1.
 */
int tagent_paint(struct tagent *a, uint32_t id, int x, int y, int rw, int rh, uint32_t rgb, bool damage);

/* Pointer to window id's current image pixels (w*h x8r8g8b8, stride w*4), or NULL. */
uint32_t *tagent_pixels(struct tagent *a, uint32_t id, uint32_t *w, uint32_t *h);

/*
 * Processes incoming messages for up to timeout_ms and returns the first of the given type
 * (any type when type == 0) in *out (clipboard data copied into an internal buffer valid
 * until the next call). DUMP_ACKs are always processed (they release buffers) and also
 * returned when asked for. Returns 0, or -1 on timeout or when the daemon disconnected
 * (tagent_disconnected() then says so).
 */
int tagent_expect(struct tagent *a, uint32_t type, int timeout_ms, struct proto_msg *out);

/* Like tagent_expect but also requires the window field to equal window. */
int tagent_expect_win(struct tagent *a, uint32_t type, uint32_t window, int timeout_ms, struct proto_msg *out);

/* Number of DUMP_ACKs received so far, and of dumps sent. */
unsigned tagent_acks(const struct tagent *a);
unsigned tagent_dumps(const struct tagent *a);

/* True once the daemon closed the connection. */
bool tagent_disconnected(const struct tagent *a);

#endif

/*
 * qgui/dbuf.h: an agent's double-buffered window image over grant shares.
 *
 * Two shares are drawn in turn. A frame goes into the back buffer, is
 * dumped (MSG_WINDOW_DUMP), and becomes the front; the buffer it replaced
 * stays untouched until the daemon acknowledges that dump (the daemon acks
 * only once its X server can no longer read the replaced buffer), so no
 * frame is ever shown half-drawn. Damage a buffer missed while it was held
 * is tracked (as a bounding box) and must be redrawn before it is reused.
 */
#ifndef QGUI_DBUF_H
#define QGUI_DBUF_H

#include <stdint.h>

#include "qgui/grant.h"
#include "qgui/proto.h"

struct qgui_rect {
	int32_t x, y, w, h;
};

/* Smallest rectangle holding both (an empty one, w or h <= 0, is ignored). */
struct qgui_rect qgui_rect_union(struct qgui_rect a, struct qgui_rect b);

struct dbuf; /* opaque */

/* Creates an empty double buffer whose shares come from o (borrowed). NULL on ENOMEM. */
struct dbuf *dbuf_create(struct grant_owner *o);

/* Unshares every buffer (call once the daemon can no longer read them). Accepts NULL. */
void dbuf_destroy(struct dbuf *b);

/*
 * Starts a frame of w x h (1..MAX_WINDOW_WIDTH x 1..MAX_WINDOW_HEIGHT) pixels.
 * Returns 0 with *pixels (x8r8g8b8, stride w*4, owned by the dbuf) and *stale:
 * the part of the back buffer that is out of date and must be drawn besides
 * this frame's own damage (all of it after a size change or at first use).
 * Returns -EAGAIN when both buffers are held by the daemon (wait for an ack),
 * or another -errno from the grant owner.
 */
int dbuf_begin(struct dbuf *b, uint32_t w, uint32_t h, uint32_t **pixels, struct qgui_rect *stale);

/*
 * Presents the frame begun last: damage is what changed since the previous
 * frame (the other buffer will need it too). Fills *dump with the dump to send
 * for this frame (refs valid until the next dbuf call). 0, or -EINVAL when no
 * frame was begun.
 */
int dbuf_present(struct dbuf *b, struct qgui_rect damage, struct proto_dump *dump);

/*
 * One MSG_WINDOW_DUMP_ACK for this window: releases the buffer that the acked
 * dump replaced (buffers of an old size are unshared). Extra acks are ignored.
 */
void dbuf_ack(struct dbuf *b);

/*
 * The share behind the frame begun last (valid from a successful
 * dbuf_begin until dbuf_present or the next dbuf_begin), for example to hand it to an X server with
 * grant_share_fd() so that the server writes the frame straight into it.
 * NULL when no frame is begun. Owned by the dbuf.
 */
const struct grant_share *dbuf_back_share(const struct dbuf *b);

/* Dumps presented and not yet acknowledged. */
unsigned dbuf_unacked(const struct dbuf *b);

#endif

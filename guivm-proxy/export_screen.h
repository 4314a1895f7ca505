/* export_screen.h: guivm-export's X side: the exported display's damage, size (RandR) and pixels (MIT-SHM). */
#ifndef EXPORT_SCREEN_H
#define EXPORT_SCREEN_H

#include <stdbool.h>
#include <stdint.h>

#include <X11/Xlib.h>

#include "export_region.h"
#include "qgui/grant.h"

struct export_screen; /* opaque */

/* What the copies of the frames so far cost (reported at exit and in the README). */
struct export_stats {
	uint64_t x_bytes;       /* bytes the X server wrote for us (ShmGetImage) */
	uint64_t own_bytes;     /* bytes guivm-export copied itself (memcpy into a share) */
	uint64_t zero_copy;     /* rectangles the X server wrote straight into a share */
	uint64_t copied;        /* rectangles that went through the private segment */
};

/*
 * Opens the display name (NULL: $DISPLAY) and sets up everything the export
 * needs: an X error handler that logs and never exits, a DAMAGE object on the
 * root window (raw rectangles), RandR screen-change events, MIT-SHM 1.2. The
 * root must be depth 24 in 32-bit little-endian pixels (the protocol's
 * x8r8g8b8). Returns NULL with one log line saying what is missing.
 * Caller frees with export_screen_close().
 */
struct export_screen *export_screen_open(const char *name);

/* Detaches every segment and closes the display. Accepts NULL. */
void export_screen_close(struct export_screen *s);

/* The Xlib display (for input injection) and its fd (for poll). Borrowed. */
Display *export_screen_display(struct export_screen *s);
int export_screen_fd(struct export_screen *s);

/* The display's name as opened (never NULL). */
const char *export_screen_name(const struct export_screen *s);

/* The current root size, clamped to MAX_WINDOW_WIDTH x MAX_WINDOW_HEIGHT. */
void export_screen_size(const struct export_screen *s, uint32_t *w, uint32_t *h);

/*
 * Reads every queued X event without blocking: damage is added to *damage; a
 * change of the root size (also one noticed by a failed capture) sets
 * *resized (the new size is in export_screen_size) and adds the whole new
 * screen to *damage. Returns the number of events read.
 */
int export_screen_dispatch(struct export_screen *s, struct export_region *damage, bool *resized);

/*
 * Tries to make the display w x h with RandR (a mode of that size on the one
 * active output, created when missing, and the screen size). Returns 0 when
 * the display now has that size, or -1 after one log line saying why not
 * (no RandR 1.2, outside the server's size range, several monitors, refused);
 * the same refusal is logged once, not again for every retry. The size in
 * effect is export_screen_size() either way.
 */
int export_screen_set_size(struct export_screen *s, uint32_t w, uint32_t h);

/*
 * Copies the n rectangles rects (already clipped to w x h, which must be the
 * current root size) from the screen into pixels, the w x h back buffer
 * (stride w*4) of share sh (from owner o). Where the X server can write into
 * the share itself (gntemu: grant_share_fd, attached once per share),
 * rectangles at least half the screen wide are fetched as full-width bands
 * straight into it (one copy, by the server); the others go through a
 * private segment and are copied row by row (two copies). All requests of a
 * frame run under one server grab, so the frame is one consistent snapshot.
 * Returns 0, or -1 when the server refused a request (the screen changed
 * size meanwhile): the caller keeps its damage and tries again after the
 * next event.
 */
int export_screen_capture(struct export_screen *s, struct grant_owner *o, const struct grant_share *sh,
		uint8_t *pixels, uint32_t w, uint32_t h, const struct qgui_rect *rects, size_t n);

/* Detaches the segments of shares (call when the shares go away, e.g. at the end of a session). */
void export_screen_forget_shares(struct export_screen *s);

/* The copy counters so far. */
const struct export_stats *export_screen_stats(const struct export_screen *s);

#endif

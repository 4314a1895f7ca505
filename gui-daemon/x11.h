/* x11.h: the only part of gui-daemon that talks to the X server. */
#ifndef GD_X11_H
#define GD_X11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "gd.h"

/* What the X side reports to the session (ctx is the pointer given to x11_open). */
struct x11_events {
	void (*key)(void *ctx, struct gwin *w, uint32_t type, int x, int y, uint32_t state, uint32_t keycode);
	void (*button)(void *ctx, struct gwin *w, uint32_t type, int x, int y, uint32_t state, uint32_t button);
	void (*motion)(void *ctx, struct gwin *w, int x, int y, uint32_t state, uint32_t is_hint);
	void (*crossing)(void *ctx, struct gwin *w, uint32_t type, int x, int y, uint32_t state, uint32_t mode,
			uint32_t detail, uint32_t focus);
	void (*focus)(void *ctx, struct gwin *w, uint32_t type, uint32_t detail);
	/* the window manager or user moved/resized the window: r is the new content geometry */
	void (*configured)(void *ctx, struct gwin *w, const struct rect *r);
	/* the frame became mapped on the X server */
	void (*mapped)(void *ctx, struct gwin *w);
	void (*close_request)(void *ctx, struct gwin *w);
	/* _NET_WM_STATE changed: WINDOW_FLAG_* now in effect (fullscreen per the fake-fullscreen rule) */
	void (*state)(void *ctx, struct gwin *w, uint32_t flags);
	void (*expose)(void *ctx, struct gwin *w, const struct rect *r);
	/* the secure copy / paste key sequence was pressed on w (the key never reaches the agent) */
	void (*secure_copy)(void *ctx, struct gwin *w, uint32_t xtime);
	void (*secure_paste)(void *ctx, struct gwin *w, uint32_t xtime);
	/* a tray manager embedded docked window w at root position (x, y) */
	void (*embedded)(void *ctx, struct gwin *w, int x, int y);
	/* the screen or the work area changed */
	void (*screen_changed)(void *ctx);
};

struct x11; /* opaque */

/*
 * Connects to $DISPLAY, checks MIT-SHM 1.2 (fd passing), resolves the label
 * and background colours and the secure key sequences, loads the icon.
 * Installs an X error handler that logs and never exits (errors an agent can
 * provoke must not end the daemon). Returns NULL with one log line on failure.
 */
struct x11 *x11_open(const struct gd_config *cfg, const struct x11_events *ev, void *ctx);
void x11_close(struct x11 *x);

/* The X connection's fd, for poll(). */
int x11_fd(const struct x11 *x);

/* Handles every queued X event (calls the callbacks). Returns 0, or -1 when the X connection broke. */
int x11_dispatch(struct x11 *x);

/* X work caused so far (one unit per request, one more per 64 Ki pixels put), for fairness budgets. */
uint64_t x11_work(const struct x11 *x);

/* Flushes requests; x11_sync also waits until the server has processed them all. */
void x11_flush(struct x11 *x);
void x11_sync(struct x11 *x);

/* Reads the root size and the work area again (SIGHUP, as qubes-guid). */
void x11_reread_screen(struct x11 *x);

/* Root size and depth; the work area (the screen, or _NET_WORKAREA of the current desktop). */
void x11_screen(const struct x11 *x, uint32_t *w, uint32_t *h, uint32_t *depth);
void x11_workarea(const struct x11 *x, struct rect *r);

/*
 * Whether a window manager manages w: an EWMH one runs (_NET_SUPPORTING_WM_CHECK on the
 * root, confirmed by its check window), or w's frame was reparented away from the root.
 */
bool x11_wm_manages(const struct x11 *x, const struct gwin *w);

/* The trusted border width in use for w (0 for docked windows). */
int x11_border(const struct x11 *x, const struct gwin *w);

/* ----------------------------------------------------------------- windows */

/* Creates w's frame and content windows (unmapped) with every identity property. 0 or -1. */
int x11_win_create(struct x11 *x, struct gwin *w);
/* Destroys w's X windows. */
void x11_win_destroy(struct x11 *x, struct gwin *w);
/* Applies w->geom (and w->override_redirect, which needs the window unmapped). */
void x11_win_configure(struct x11 *x, struct gwin *w);
/* After the window manager resized the frame: fits the content window to w->geom's size. */
void x11_win_fit_content(struct x11 *x, struct gwin *w);
void x11_win_set_override_redirect(struct x11 *x, struct gwin *w);
/* Maps w (raising override-redirect windows, below any screen locker). */
void x11_win_map(struct x11 *x, struct gwin *w);
void x11_win_unmap(struct x11 *x, struct gwin *w);
/* Title (already sanitised), WM_CLASS parts (sanitised, not prefixed), hints, cursor, transient-for. */
void x11_win_title(struct x11 *x, struct gwin *w, const char *title);
void x11_win_class(struct x11 *x, struct gwin *w, const char *res_class, const char *res_name);
void x11_win_hints(struct x11 *x, struct gwin *w, const struct proto_hints *h);
void x11_win_cursor(struct x11 *x, struct gwin *w, uint32_t cursor);
void x11_win_transient(struct x11 *x, struct gwin *w, const struct gwin *parent);
/* Asks for window states (WINDOW_FLAG_*) to be set / unset, as upstream (4.5). */
void x11_win_flags(struct x11 *x, struct gwin *w, uint32_t set, uint32_t unset);
/* Makes w a tray icon: XEmbed info, dock request to the tray manager. */
void x11_win_dock(struct x11 *x, struct gwin *w);
/* The keyboard state (XQueryKeymap) for MSG_KEYMAP_NOTIFY. */
void x11_keymap(struct x11 *x, uint8_t keys[32]);

/* ----------------------------------------------------------------- images */

/*
 * Gives the X server w->img's pages: zero copy when the mapping is one memfd
 * run (MIT-SHM attach of that fd, drawn at its offset), else a buffer of our
 * own that damaged rectangles are copied into. Docked windows always use the
 * copy path (the tray colouring rewrites pixels). The copy path is charged
 * its buffer plus the mapped pages against the budget (max_image_memory),
 * checked before anything is allocated. 0, -EDQUOT (over the budget, nothing
 * allocated) or -1 (logged); the caller still acknowledges the dump.
 */
int x11_img_attach(struct x11 *x, struct gwin *w);

/* Releases an image's X side (detach; the server stops reading it once x11_sync returns). */
void x11_img_release(struct x11 *x, struct gimage *img);

/*
 * Draws rectangle r (content coordinates, already clipped by the caller to
 * the image and the window) of w's image, or of the screen image src at
 * offset (sx, sy) when src != NULL. Docked windows are always drawn through
 * trayicon_mode; painted from the screen image they need a buffer of their
 * own (charged like the copy path). 0, or -EDQUOT (nothing drawn).
 */
int x11_img_put(struct x11 *x, struct gwin *w, const struct gimage *src, const struct rect *r, int sx, int sy);

/* The copy path's memory in use and the budget, in bytes. */
void x11_img_budget(const struct x11 *x, uint64_t *used, uint64_t *max);

#endif

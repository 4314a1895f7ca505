/* proxy.h: guivm-proxy's modules: the X side (proxy_x11.c) and the policy for the exporter's messages (proxy_session.c). */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "qgui/conn.h"
#include "qgui/grant.h"
#include "qgui/transport.h"

#define PX_NAME_MAX 32    /* a qube name: at most 31 bytes */
#define PX_BORDER_MAX 32
#define PX_MSG_BUDGET 256 /* messages handled per loop iteration, so that a flood never starves X */
/*
 * A screen image's grants: the GUI qube's LOOKUP answers are awaited by the
 * main loop's poll, never in a call that blocks it (dom0's keyboard is read
 * meanwhile); the whole map must be done within the deadline (default, or
 * --dump-deadline) and take at most PX_DUMP_MAX_RUNS LOOKUPs (guivm-export
 * needs one: one memfd per buffer). Either failure is the GUI qube's violation.
 */
#define PX_DUMP_DEADLINE_MS 1000
#define PX_DUMP_MAX_RUNS 16

/* The command line, checked. */
struct px_opts {
	int domid;                /* the GUI qube */
	char name[PX_NAME_MAX];   /* a valid qube name */
	char color[64];           /* "0xRRGGBB" or an X colour name (resolved by the X side) */
	unsigned border;          /* 0..PX_BORDER_MAX */
	unsigned esc_mods;        /* the escape sequence: X modifier mask ... */
	unsigned long esc_keysym; /* ... and key */
	bool esc_exit;            /* --escape-action=exit */
	enum qgui_backend backend;
	int log_level;
	bool print_layout;        /* --print-monitor-layout */
	unsigned dump_deadline_ms; /* --dump-deadline, 100..10000 */
};

/* A rectangle in content coordinates. */
struct px_rect {
	int32_t x, y, w, h;
};

/* ---------------------------------------------------------------- X side: the only module that talks to X */

struct pxx;   /* opaque */
struct pximg; /* opaque: one image the X server reads */

/* What the X side reports; ctx is passed back. */
struct pxx_events {
	/* Input for the GUI qube, filtered (no synthetic events, no escape sequence); window field 0. */
	void (*input)(void *ctx, const struct proto_msg *m);
	/* The content area needs pixels again (exposed while not in the waiting state). */
	void (*expose)(void *ctx, const struct px_rect *r);
};

/*
 * Opens the display named by DISPLAY, checks MIT-SHM 1.2 and a depth-24
 * visual, resolves the label colour, grabs the escape sequence on the root
 * window and shows the full-screen window (focused, waiting state). With
 * o->print_layout only the display is opened. Returns NULL after one log line;
 * *usage then says whether an option value was the cause (unknown colour,
 * escape key not on this keyboard). Caller frees with pxx_close().
 */
struct pxx *pxx_open(const struct px_opts *o, const struct pxx_events *ev, void *ctx, bool *usage);
void pxx_close(struct pxx *x); /* accepts NULL */
int pxx_fd(const struct pxx *x);

/* pxx_dispatch() results (bits) */
enum { PXX_EXIT = 1, PXX_SCREEN = 2 };

/*
 * Handles every queued X event: input goes to ev->input; the escape sequence
 * releases or takes back the screen, or returns PXX_EXIT (--escape-action=exit);
 * PXX_SCREEN: dom0's screen size changed (the windows already follow). Flushes.
 */
int pxx_dispatch(struct pxx *x);

/* Events already read from the connection and not dispatched (poll() cannot see them). */
bool pxx_pending(struct pxx *x);

/* Re-reads the root size (SIGHUP, RandR). Returns PXX_SCREEN when it changed, else 0. */
int pxx_rescan(struct pxx *x);

/* The content area: the root minus the border on each side, at least 1 x 1. */
void pxx_content_size(const struct pxx *x, uint32_t *w, uint32_t *h);

/* The RandR monitors in content coordinates: logged, or with out != NULL printed as "W H X Y" lines. */
void pxx_monitor_layout(struct pxx *x, FILE *out);

/*
 * waiting: the content area cleared with "waiting for <name>" in it, and that
 * title; otherwise cleared (black) for the exporter's pixels, titled <name>.
 * Synchronous: the X server has done it on return (no stale pixels).
 */
void pxx_set_waiting(struct pxx *x, bool waiting);

/*
 * A w x h image (1..MAX_WINDOW_WIDTH x 1..MAX_WINDOW_HEIGHT) from mapping g:
 * zero-copy when grant_mapping_fd gives an fd (MIT-SHM attach of a dup),
 * else a buffer of our own filled at each put. Takes ownership of g even on
 * failure. Returns NULL after one log line. Freed with pxx_img_destroy().
 */
struct pximg *pxx_img_create(struct pxx *x, struct grant_mapping *g, uint32_t w, uint32_t h);

/* Detaches and frees it and its mapping; the caller syncs before telling the exporter. Accepts NULL. */
void pxx_img_destroy(struct pxx *x, struct pximg *img);

/* Puts rectangle r of img at the same place of the content area, clipped to both. img may be NULL. */
void pxx_img_put(struct pxx *x, struct pximg *img, struct px_rect r);

/* Clears the content area right of and below a w x h image. */
void pxx_clear_outside(struct pxx *x, uint32_t w, uint32_t h);

void pxx_sync(struct pxx *x);

/* ---------------------------------------------------------------- one exporter session */

enum pxs_end {
	PXS_RUNNING = 0,
	PXS_EOF,       /* the exporter closed or destroyed its window */
	PXS_VIOLATION, /* it broke the protocol or the one-window rule */
	PXS_LOCAL,     /* out of memory */
};

struct pxs; /* opaque */

/*
 * Starts the daemon side of the protocol on t (taken over, even on failure)
 * with the xconf of the current content area, and a grant mapper for domain
 * o->domid's pages (own: our domain) with the dump deadline of o and
 * PX_DUMP_MAX_RUNS. Returns NULL after one log line. Freed (image released
 * synchronously, a map in flight cancelled, mapper, connection, transport) by
 * pxs_destroy(), which accepts NULL.
 */
struct pxs *pxs_create(struct pxx *x, struct transport *t, enum qgui_backend be, int own, const struct px_opts *o);
void pxs_destroy(struct pxs *s);

/*
 * What to poll for: the connection in *conn, and while a screen image is
 * being mapped, the grant owner's socket in *grant (else fd -1). Returns the
 * poll timeout in ms (the map's next deadline), or -1 for none.
 */
int pxs_pollfd(struct pxs *s, struct pollfd *conn, struct pollfd *grant);
void pxs_handle(struct pxs *s, short revents); /* after poll(): transport work, flushing */

/*
 * Moves a screen image being mapped on (never waiting), then handles at most
 * budget messages: none while the image is being mapped (they follow it, in
 * order). *more is set when the budget ran out (poll without waiting: more
 * may be buffered). Returns how the session stands.
 */
enum pxs_end pxs_process(struct pxs *s, int budget, bool *more);

/* From the X side (s may be NULL: no session). */
void pxs_input(struct pxs *s, const struct proto_msg *m);
void pxs_expose(struct pxs *s, const struct px_rect *r);
void pxs_screen_changed(struct pxs *s);

#endif

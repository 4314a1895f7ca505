/* agent.h: gui-agent's shared state (the X display, the mirrored windows, the daemon link) and module interfaces. */
#ifndef GA_AGENT_H
#define GA_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <X11/Xlib.h>
#include <X11/extensions/Xdamage.h>
#include <xcb/xcb.h>

#include "qgui/conn.h"
#include "qgui/dbuf.h"
#include "qgui/grant.h"
#include "qgui/transport.h"

enum atom_id {
	A_WM_PROTOCOLS, A_WM_DELETE_WINDOW, A_WM_STATE, A_NET_WM_NAME, A_UTF8_STRING, A_NET_WM_STATE,
	A_NET_WM_STATE_FULLSCREEN, A_NET_WM_STATE_DEMANDS_ATTENTION, A_NET_WM_STATE_HIDDEN, A_CLIPBOARD,
	A_TARGETS, A_TEXT, A_INCR, A_AGENT_SEL, A_COUNT
};

/* An MIT-SHM segment the X server writes frames into. */
struct xseg {
	uint32_t id;       /* segment id; 0 = none */
	dev_t dev;         /* zero copy: the share's memory (memfd) it is, by inode; the cache key */
	ino_t ino;
	uint64_t used;     /* zero copy: last use, for replacing the older of two */
	uint8_t *map;      /* copy path: our own mapping of it */
	size_t size;
};

/*
 * One top-level window of the display, mirrored with its X id as the remote
 * id. Geometry is the window's outer box (its X border included), so that the
 * daemon shows exactly the pixels of that box at the same root position.
 */
struct awin {
	Window id;
	Window client;            /* where properties live and where focus and close go: id itself,
	                             or the client window inside a window manager's frame */
	struct awin *next;        /* hash chain */
	int x, y;                 /* outer top-left corner in root coordinates */
	int w, h;                 /* outer size (border included) */
	int bw;                   /* X border width */
	int depth;
	bool override_redirect;
	bool mapped;
	/* what the daemon of the current session was told */
	bool created;             /* CREATE sent */
	int sx, sy, sw, sh;       /* the geometry it has (last CREATE, CONFIGURE or echo) */
	uint32_t flags;           /* WINDOW_FLAG_FULLSCREEN | _DEMANDS_ATTENTION both sides agree on */
	uint32_t cursor;          /* last MSG_CURSOR value */
	/* contents (frame.c) */
	Damage damage;
	Pixmap pixmap;            /* composite pixmap named after the last map or resize; 0 none */
	int pw, ph;               /* its size */
	bool rename;              /* name the pixmap again before the next frame */
	struct qgui_rect dmg;     /* damage not yet sent, in pixmap coordinates */
	unsigned failures;        /* frames that failed in a row */
	struct dbuf *db;          /* this session's double buffer; NULL until the first frame */
	struct xseg segs[2];      /* zero copy: the X server's attachments of the dbuf's two shares */
	struct xseg priv;         /* copy path: our own segment, rows copied out of it */
};

/* A destroyed window's double buffer: kept until the daemon acknowledged every dump of it. */
struct retired {
	Window id;
	struct dbuf *db;
	struct retired *next;
};

#define AGENT_BUCKETS 256
/* Clipboard data either way is at most this long (MAX_CLIPBOARD_BUFFER_SIZE). */
#define AGENT_CLIP_MAX 256000u
/* How long the owner of a selection has to answer a conversion. */
#define AGENT_CLIP_TIMEOUT_MS 1000

struct agent {
	/* X */
	Display *dpy;
	xcb_connection_t *xcb;
	Window root;
	Window helper;            /* our InputOnly window: owns selections, receives conversions; never mirrored */
	int damage_event;
	int fixes_event;
	Atom atoms[A_COUNT];
	bool zero_copy;           /* the X server writes frames straight into the shares (gntemu) */
	uint64_t seg_clock;
	/* windows */
	struct awin *buckets[AGENT_BUCKETS];
	struct retired *retired;
	/* the daemon */
	enum qgui_backend backend;
	int own, gui;
	struct transport *t;
	struct grant_owner *go;
	struct conn *c;           /* the session; NULL while no daemon is connected */
	bool ready;               /* handshake done, windows replayed */
	bool broken;              /* sending failed: the session ends at the next link_handle */
	/* clipboard */
	uint8_t *clip_data;       /* what we own on CLIPBOARD and PRIMARY (from the daemon), or NULL */
	size_t clip_len;
	bool clip_pending;        /* a conversion for MSG_CLIPBOARD_REQ is under way */
	Atom clip_sel, clip_target;
	long long clip_deadline;  /* ms, monotonic */
	/* statistics for the exit line */
	unsigned long long nmirrored, nframes, copied;
};

/* Monotonic milliseconds. */
long long agent_now_ms(void);

/* ---------------------------------------------------------------- x11.c: the display */

/*
 * Connects to display (NULL: $DISPLAY), checks Composite 0.2, DAMAGE, XFixes 2,
 * MIT-SHM 1.2 and XTEST, installs error handlers that never exit on a
 * protocol error, redirects the root's children (automatic) and selects the
 * events the agent follows. 0, or -1 with one log line.
 */
int x11_open(struct agent *a, const char *display);
void x11_close(struct agent *a);

/* Handles the events already queued or readable (at most a few thousand per call). Returns 0. */
int x11_dispatch(struct agent *a);

/* ---------------------------------------------------------------- win.c: the window model */

/* Finds a mirrored window by its id, or by its client window. NULL when not mirrored. */
struct awin *win_find(struct agent *a, Window id);
struct awin *win_find_client(struct agent *a, Window client);

/* Starts mirroring every top-level window that exists now (XQueryTree, bottom to top). */
void win_scan(struct agent *a);

/* Events on the root's children (the X side of the model). */
void win_created(struct agent *a, Window id);
void win_destroyed(struct agent *a, Window id);
void win_mapped(struct agent *a, const XMapEvent *e);
void win_unmapped(struct agent *a, Window id);
void win_configured(struct agent *a, const XConfigureEvent *e);
void win_reparented(struct agent *a, const XReparentEvent *e);
void win_property(struct agent *a, const XPropertyEvent *e);
/* The displayed cursor changed; name is its XFixes name (None: unnamed). */
void win_cursor(struct agent *a, Atom name);

/* Sends every window to a freshly connected daemon (CREATE and properties, then MAPs). */
void win_replay(struct agent *a);
/* The daemon went away: nothing was told to anyone any more. */
void win_session_end(struct agent *a);

/* Requests from the daemon (validated messages). */
void win_configure_request(struct agent *a, struct awin *w, const struct proto_configure *c);
void win_map_request(struct agent *a, struct awin *w);
void win_close_request(struct agent *a, struct awin *w);
void win_focus_request(struct agent *a, struct awin *w, const struct proto_focus *f);
void win_flags_request(struct agent *a, struct awin *w, const struct proto_flags *f);

/* Iterates: the first window (NULL when none), then the next one after w. */
struct awin *win_first(struct agent *a);
struct awin *win_next(struct agent *a, struct awin *w);

/* ---------------------------------------------------------------- frame.c: contents */

/* Starts following w's contents (a DAMAGE object). */
void frame_track(struct agent *a, struct awin *w);
/* w was mapped or resized: its pixmap is named again and all of it is sent. */
void frame_reset(struct agent *a, struct awin *w);
/* w was unmapped: its pixmap is let go. */
void frame_unmapped(struct agent *a, struct awin *w);
/*
 * w is no longer mirrored: frees its X side (gone: the X window no longer
 * exists); its double buffer waits for the daemon's last acks.
 */
void frame_forget(struct agent *a, struct awin *w, bool gone);
/* A DamageNotify. */
void frame_damage(struct agent *a, const XDamageNotifyEvent *e);
/* Sends a frame for every mapped window with damage whose back buffer is free. */
void frame_flush(struct agent *a);
/* One MSG_WINDOW_DUMP_ACK for window id. */
void frame_ack(struct agent *a, Window id);
/* The daemon went away: unshares every buffer (it can no longer read them). */
void frame_session_end(struct agent *a);

/* ---------------------------------------------------------------- clip.c: the clipboard */

/* MSG_CLIPBOARD_REQ: reads CLIPBOARD (or PRIMARY) and answers with MSG_CLIPBOARD_DATA. */
void clip_request(struct agent *a);
/* MSG_CLIPBOARD_DATA: owns CLIPBOARD and PRIMARY with these bytes (borrowed; copied). */
void clip_data(struct agent *a, const uint8_t *data, size_t len);
/* SelectionRequest, SelectionClear, SelectionNotify. True when ev was one of ours. */
bool clip_event(struct agent *a, XEvent *ev);
/* Milliseconds until the pending conversion times out, or -1. */
int clip_timeout_ms(const struct agent *a);
/* Answers a conversion that has timed out. */
void clip_tick(struct agent *a);
/* Frees what clip.c holds. */
void clip_finish(struct agent *a);

/* ---------------------------------------------------------------- link.c: the daemon */

/*
 * Creates the vchan server (own -> gui, port 6000) and the grant owner.
 * 0, or -1 (logged).
 */
int link_open(struct agent *a);
/* Ends any session, removes the sockets. */
void link_close(struct agent *a);
/* For poll(): the listening socket or the session's connection. */
void link_pollfd(struct agent *a, struct pollfd *pfd);
/* After poll(): accepts, reads and dispatches the daemon's messages, flushes. */
void link_handle(struct agent *a, short revents);
/* Queues m for the daemon when a session is ready; otherwise drops it (the replay will tell). */
void link_send(struct agent *a, const struct proto_msg *m);
/* Bytes queued for the daemon (0 without a session). */
size_t link_queued(const struct agent *a);

/* ---------------------------------------------------------------- cursor.c */

/*
 * The MSG_CURSOR value for an X cursor name: CURSOR_X11 + XC_* glyph for a
 * font-cursor name (and common theme aliases such as "pointer" or "text"),
 * else CURSOR_DEFAULT. name may be NULL.
 */
uint32_t cursor_from_name(const char *name);

#endif

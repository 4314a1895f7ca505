/* gd.h: gui-daemon's in-memory model of one agent's windows, shared by session.c and x11.c. */
#ifndef GD_GD_H
#define GD_GD_H

#include <stdbool.h>
#include <stdint.h>

#include "qgui/proto.h"

struct x11;
struct ximg;
struct grant_mapping;

/* Most windows one agent may have at once (upstream has no limit; ours protects the X server). */
#define GD_MAX_WINDOWS 4096

/* A rectangle in some stated coordinate space. */
struct rect {
	int32_t x, y;
	int32_t w, h;
};

/* The current image of a window: one WINDOW_DUMP's pages, as the X server can draw them. */
struct gimage {
	uint32_t width, height;         /* image size in pixels (stride width * 4) */
	struct grant_mapping *mapping;  /* the agent's pages (read-only, live, hostile) */
	struct ximg *x;                 /* the X side: an attached segment (zero copy) or our own copy buffer */
};

/* One agent window and its X windows. All geometry is the agent's content area in root coordinates. */
struct gwin {
	uint32_t remote;               /* the agent's window id (0 is the screen window) */
	struct rect geom;              /* position and size of the content */
	bool mapped;                   /* the agent has it mapped (MSG_MAP without a later UNMAP) */
	bool override_redirect;        /* granted, not requested */
	bool docked;                   /* a tray icon */
	bool reparented;               /* its frame has a parent other than the root (a WM frame, a tray) */
	bool configure_pending;        /* we sent a CONFIGURE and wait for the agent to echo it */
	struct rect pending;           /* what we sent */
	bool pending_placed;           /* ...only to place the agent's own geometry by our rules (not the user's) */
	bool has_prev;                 /* a CONFIGURE sent before the pending one, still unechoed: */
	struct rect prev;              /* ...its geometry (an echo of it is stale) */
	unsigned long cfg_serial;      /* X request serial of our last configure of the frame */
	uint32_t transient_for;        /* remote id, 0 = none */
	uint32_t flags_state;          /* WINDOW_FLAG_* as last reported to the agent */
	bool fullscreen_requested;     /* agent asked for fullscreen, shown as maximised */
	struct gimage img;             /* width == 0: no image */
	struct ximg *tray;             /* docked and painted from the screen window: its coloured copy */
	unsigned long frame, content;  /* X ids (frame carries the border and the properties) */
};

#endif

/* inject.h: input from a GUI daemon injected into an X display with XTEST (guivm-export, gui-agent). */
#ifndef INJECT_H
#define INJECT_H

#include <X11/Xlib.h>

#include "qgui/proto.h"

/*
 * Applies one decoded daemon->agent input message to dpy: MSG_KEYPRESS,
 * MSG_BUTTON, MSG_MOTION, MSG_CROSSING (enter: the pointer moves there) and
 * MSG_KEYMAP_NOTIFY (keys down here but not on the daemon's side are
 * released, so that no key stays stuck after a focus change). Coordinates
 * are window-relative; (ox, oy) is the root position of the window's origin.
 * Events are synthesised with XTEST (never XSendEvent, which clients ignore).
 * Returns 1 when m was an input message (and was applied), 0 otherwise.
 * The caller flushes.
 */
int inject_event(Display *dpy, const struct proto_msg *m, int ox, int oy);

/* 1 when the display has XTEST 2.2 or later, else 0. */
int inject_supported(Display *dpy);

#endif

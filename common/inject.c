/* inject.c: XTEST injection of protocol input events (shared by guivm-export and gui-agent). */
#include <string.h>

#include <X11/extensions/XTest.h>

#include "inject.h"

int inject_supported(Display *dpy)
{
	int ev, err, major, minor;

	return XTestQueryExtension(dpy, &ev, &err, &major, &minor) && (major > 2 || (major == 2 && minor >= 2));
}

/* Releases every key that is down here but not in the daemon's keymap. */
static void sync_keymap(Display *dpy, const uint8_t remote[32])
{
	char local[32];

	XQueryKeymap(dpy, local);
	for (int i = 0; i < 32; i++) {
		unsigned stuck = (unsigned char)local[i] & ~(unsigned)remote[i];

		for (int bit = 0; bit < 8 && stuck; bit++) {
			if (stuck & (1u << bit)) {
				XTestFakeKeyEvent(dpy, (unsigned)(i * 8 + bit), False, CurrentTime);
			}
		}
	}
}

int inject_event(Display *dpy, const struct proto_msg *m, int ox, int oy)
{
	switch (m->type) {
	case MSG_KEYPRESS:
		if (m->u.key.keycode >= 8 && m->u.key.keycode <= 255) {
			XTestFakeKeyEvent(dpy, m->u.key.keycode, m->u.key.type == QGUI_KeyPress, CurrentTime);
		}
		return 1;
	case MSG_BUTTON:
		XTestFakeMotionEvent(dpy, -1, ox + m->u.button.x, oy + m->u.button.y, CurrentTime);
		if (m->u.button.button >= 1 && m->u.button.button <= 255) {
			XTestFakeButtonEvent(dpy, m->u.button.button, m->u.button.type == QGUI_ButtonPress, CurrentTime);
		}
		return 1;
	case MSG_MOTION:
		XTestFakeMotionEvent(dpy, -1, ox + m->u.motion.x, oy + m->u.motion.y, CurrentTime);
		return 1;
	case MSG_CROSSING:
		if (m->u.crossing.type == QGUI_EnterNotify) {
			XTestFakeMotionEvent(dpy, -1, ox + m->u.crossing.x, oy + m->u.crossing.y, CurrentTime);
		}
		return 1;
	case MSG_KEYMAP_NOTIFY:
		sync_keymap(dpy, m->u.keymap.keys);
		return 1;
	default:
		return 0;
	}
}

/* x11.c: gui-agent's connection to the mirrored display: extensions, error handlers, event routing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xlib-xcb.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xcomposite.h>
#include <X11/extensions/Xfixes.h>
#include <xcb/shm.h>

#include "agent.h"
#include "inject.h"
#include "qgui/log.h"
#include "xerr.h"

static const char *const atom_names[A_COUNT] = {
	"WM_PROTOCOLS", "WM_DELETE_WINDOW", "WM_STATE", "_NET_WM_NAME", "UTF8_STRING", "_NET_WM_STATE",
	"_NET_WM_STATE_FULLSCREEN", "_NET_WM_STATE_DEMANDS_ATTENTION", "_NET_WM_STATE_HIDDEN", "CLIPBOARD",
	"TARGETS", "TEXT", "INCR", "_QGUI_AGENT_SELECTION",
};

/* When the display is gone, before exit(1): unshares and removes our sockets. */
static void on_lost_display(void *agent)
{
	link_close(agent);
}

static int check_extensions(struct agent *a)
{
	int ev, err, major = 0, minor = 0;
	xcb_shm_query_version_reply_t *shm;
	bool shm_ok;

	if (!XCompositeQueryExtension(a->dpy, &ev, &err) || !XCompositeQueryVersion(a->dpy, &major, &minor) ||
			(major == 0 && minor < 2)) {
		log_error("the X display has no Composite 0.2 (needed to read window contents)");
		return -1;
	}
	if (!XDamageQueryExtension(a->dpy, &a->damage_event, &err)) {
		log_error("the X display has no DAMAGE extension");
		return -1;
	}
	if (!XFixesQueryExtension(a->dpy, &a->fixes_event, &err) || !XFixesQueryVersion(a->dpy, &major, &minor) ||
			major < 2) {
		log_error("the X display has no XFixes 2.0");
		return -1;
	}
	shm = xcb_shm_query_version_reply(a->xcb, xcb_shm_query_version(a->xcb), NULL);
	shm_ok = shm && (shm->major_version > 1 || (shm->major_version == 1 && shm->minor_version >= 2));
	free(shm);
	if (!shm_ok) {
		log_error("the X display has no MIT-SHM 1.2 (fd passing)");
		return -1;
	}
	if (!inject_supported(a->dpy)) {
		log_info("the X display has no XTEST 2.2: input from the daemon will not work");
	}
	return 0;
}

int x11_open(struct agent *a, const char *display)
{
	XSetWindowAttributes attr = { .override_redirect = True };

	a->dpy = XOpenDisplay(display);
	if (a->dpy == NULL) {
		log_error("cannot open the X display %.64s", display ? display : "(DISPLAY unset)");
		return -1;
	}
	xerr_install(); /* windows of other clients vanish at any moment: requests about them fail, harmlessly */
	xerr_on_io_error(on_lost_display, a);
	a->xcb = XGetXCBConnection(a->dpy);
	a->root = DefaultRootWindow(a->dpy);
	if (check_extensions(a) != 0) {
		XCloseDisplay(a->dpy);
		a->dpy = NULL;
		return -1;
	}
	XInternAtoms(a->dpy, (char **)atom_names, A_COUNT, False, a->atoms);
	/* never mirrored: InputOnly, unmapped, and skipped by id */
	a->helper = XCreateWindow(a->dpy, a->root, -10, -10, 1, 1, 0, 0, InputOnly, CopyFromParent,
			CWOverrideRedirect, &attr);
	XSelectInput(a->dpy, a->helper, PropertyChangeMask);
	/*
	 * Select before looking (win_scan): a window created in between is seen
	 * twice, which the model ignores, and never missed.
	 */
	XSelectInput(a->dpy, a->root, SubstructureNotifyMask);
	XCompositeRedirectSubwindows(a->dpy, a->root, CompositeRedirectAutomatic);
	XFixesSelectCursorInput(a->dpy, a->root, XFixesDisplayCursorNotifyMask);
	XSync(a->dpy, False);
	return 0;
}

void x11_close(struct agent *a)
{
	if (a->dpy == NULL) {
		return;
	}
	if (a->helper) {
		XDestroyWindow(a->dpy, a->helper);
	}
	XCompositeUnredirectSubwindows(a->dpy, a->root, CompositeRedirectAutomatic);
	XSync(a->dpy, False);
	xerr_on_io_error(NULL, NULL);
	XCloseDisplay(a->dpy);
	a->dpy = NULL;
}

static void handle(struct agent *a, XEvent *ev)
{
	if (ev->type == a->damage_event + XDamageNotify) {
		frame_damage(a, (XDamageNotifyEvent *)ev);
		return;
	}
	if (ev->type == a->fixes_event + XFixesCursorNotify) {
		win_cursor(a, ((XFixesCursorNotifyEvent *)ev)->cursor_name);
		return;
	}
	if (clip_event(a, ev)) {
		return;
	}
	switch (ev->type) {
	case CreateNotify:
		if (ev->xcreatewindow.parent == a->root) {
			win_created(a, ev->xcreatewindow.window);
		}
		break;
	case DestroyNotify:
		if (ev->xdestroywindow.event == a->root) {
			win_destroyed(a, ev->xdestroywindow.window);
		}
		break;
	case MapNotify:
		if (ev->xmap.event == a->root) {
			win_mapped(a, &ev->xmap);
		}
		break;
	case UnmapNotify:
		if (ev->xunmap.event == a->root) {
			win_unmapped(a, ev->xunmap.window);
		}
		break;
	case ConfigureNotify:
		if (ev->xconfigure.event == a->root) {
			win_configured(a, &ev->xconfigure);
		}
		break;
	case ReparentNotify:
		if (ev->xreparent.event == a->root) {
			win_reparented(a, &ev->xreparent);
		}
		break;
	case PropertyNotify:
		win_property(a, &ev->xproperty);
		break;
	case MappingNotify:
		XRefreshKeyboardMapping(&ev->xmapping);
		break;
	default:
		break;
	}
}

#define DISPATCH_SLICE 4096 /* events per call; the main loop comes back at once for the rest */

int x11_dispatch(struct agent *a)
{
	for (int n = 0; n < DISPATCH_SLICE && XPending(a->dpy) > 0; n++) {
		XEvent ev;

		XNextEvent(a->dpy, &ev);
		handle(a, &ev);
	}
	return 0;
}

/* xerr.c: the X error handlers shared by the programs: errors counted and survived, a lost server exits 1. */
#include <stdlib.h>

#include <X11/Xlib.h>

#include "qgui/log.h"
#include "xerr.h"

static unsigned long n_errors;
static void (*io_hook)(void *arg);
static void *io_arg;

/*
 * Windows of other clients vanish at any moment, and an agent can provoke
 * errors on purpose: requests that fail (BadWindow, BadMatch, a refused
 * RandR mode, ...) are normal here and must never end the program.
 */
static int on_x_error(Display *dpy, XErrorEvent *e)
{
	char text[80];

	XGetErrorText(dpy, e->error_code, text, sizeof(text));
	n_errors++;
	log_debug("X error %u (%s) for request %u.%u, resource 0x%lx", e->error_code, text, e->request_code,
			e->minor_code, e->resourceid);
	return 0;
}

/* Xlib calls this only when the connection itself is gone; it must not return. */
static int on_x_io_error(Display *dpy)
{
	(void)dpy;
	log_error("lost the connection to the X server");
	if (io_hook) {
		io_hook(io_arg);
	}
	exit(1);
}

void xerr_install(void)
{
	XSetErrorHandler(on_x_error);
	XSetIOErrorHandler(on_x_io_error);
}

unsigned long xerr_count(void)
{
	return n_errors;
}

void xerr_on_io_error(void (*fn)(void *arg), void *arg)
{
	io_hook = fn;
	io_arg = arg;
}

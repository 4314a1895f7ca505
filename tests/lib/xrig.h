/* tests/lib/xrig.h: integration-test rig: private X servers, child processes, pixels and properties. */
#ifndef QGUI_XRIG_H
#define QGUI_XRIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <X11/Xlib.h>

/* A private X server started with -displayfd (never a fixed display number), -noreset, -nolisten tcp. */
struct xserver {
	pid_t pid;
	int display;      /* the number the server chose */
	char name[16];    /* ":N" */
};

/*
 * Starts Xvfb with one screen of w x h x 24 (extra_args may be NULL or a NULL-terminated list
 * appended to the command line). Waits until it accepts connections (at most 10 s).
 * Returns 0, or -1 with a message on stderr.
 */
int xrig_xvfb_start(struct xserver *xs, int w, int h, const char *const *extra_args);

/*
 * Starts Xephyr as a w x h window on the server named outer (":N"), itself a server with
 * -displayfd. Returns 0 or -1.
 */
int xrig_xephyr_start(struct xserver *xs, const char *outer, int w, int h);

/* Kills the server by pid (SIGTERM, then SIGKILL after 2 s), reaps it, removes its /tmp/.X11-unix socket and lock. */
void xrig_server_stop(struct xserver *xs);

/*
 * Starts argv[0] (a path) with argv, with the extra environment entries env ("NAME=value",
 * NULL-terminated, may be NULL) added to the current environment. stdout and stderr go to
 * log_path (appended; NULL: inherited). Returns the pid, or -1.
 */
pid_t xrig_spawn(char *const argv[], char *const env[], const char *log_path);

/* Waits up to timeout_ms for pid to exit; returns its exit status (0..255), 128+signal, or -1 on timeout. */
int xrig_wait(pid_t pid, int timeout_ms);

/* SIGTERM, then SIGKILL after timeout_ms; reaps. Returns the exit status as xrig_wait, or -1. */
int xrig_stop(pid_t pid, int timeout_ms);

/* Opens a display connection (":N"), with an error handler that records instead of exiting. */
Display *xrig_open(const char *name);

/* The pixel at absolute root coordinates (x, y) as 0xRRGGBB (depth 24), or 0xffffffff on error. */
uint32_t xrig_root_pixel(Display *dpy, int x, int y);

/*
 * Waits up to timeout_ms until the pixel at root (x, y) equals rgb (polls with XSync, 5 ms apart).
 * Returns true on success. Used instead of sleeps: the condition is what a user would see.
 */
bool xrig_wait_pixel(Display *dpy, int x, int y, uint32_t rgb, int timeout_ms);

/* Writes the whole root window of dpy as a PNG file (for failure reports and the demo). 0 or -1. */
int xrig_screenshot_png(Display *dpy, const char *path);

/*
 * Finds a top-level (child of root, or the client window inside a WM frame) window whose
 * _QUBES_VMWINDOWID property equals remote_id and whose _QUBES_VMNAME equals vmname, waiting
 * up to timeout_ms. Returns the window or None.
 */
Window xrig_find_vm_window(Display *dpy, const char *vmname, uint32_t remote_id, int timeout_ms);

/* A string property (STRING or UTF8_STRING) of win into out (NUL-terminated). 0 or -1 when absent. */
int xrig_get_string(Display *dpy, Window win, const char *prop, char *out, size_t outlen);

/* Up to max CARDINAL/WINDOW/ATOM items of a property (format 8, 16 or 32) into out; returns the count or -1. */
int xrig_get_cardinals(Display *dpy, Window win, const char *prop, unsigned long *out, int max, int *format);

/* The window's geometry in root coordinates (x, y of its top-left outer corner) and size. 0 or -1. */
int xrig_geometry(Display *dpy, Window win, int *x, int *y, unsigned *w, unsigned *h);

/* Whether win is viewable (mapped, and its ancestors too). */
bool xrig_viewable(Display *dpy, Window win);

/* A fresh private directory for sockets (VCHAN_SOCKET_DIR) under the test's tmpdir. */
const char *xrig_socket_dir(void);

#endif

/* tests/lib/gdfix.h: a gui-daemon under test on a private Xvfb, with a scripted agent in this process. */
#ifndef QGUI_GDFIX_H
#define QGUI_GDFIX_H

#include <limits.h>
#include <sys/types.h>
#include <X11/Xlib.h>

#include "tagent.h"
#include "test.h"
#include "xrig.h"

#define GDFIX_SCREEN_W 1024
#define GDFIX_SCREEN_H 768
#define GDFIX_LABEL 0x00ff00u /* the daemons' label colour unless a test passes -c */
#define GDFIX_MS 5000

/* The X server of this test program and a connection to it (set by gdfix_main). */
extern struct xserver gdfix_xs;
extern Display *gdfix_dpy;

struct fixture {
	struct tagent *a;
	pid_t daemon;
	int agent_dom;
	char log[PATH_MAX];
	char clipdir[PATH_MAX];
};

struct gdfix_opts {
	enum qgui_backend agent_backend;  /* default SOCKET */
	const char *daemon_transport;     /* --transport value, or NULL */
	const char *preload;              /* LD_PRELOAD for the daemon, or NULL */
	const char *vmname;               /* default "work" */
	const char *clipdir;              /* shared clipboard dir, or NULL for a private one */
	uint32_t offer_version;           /* 0: 1.8 */
	bool dom0_paste_policy;           /* no --paste-policy-command /bin/true: dom0's policy decides */
};

/*
 * Starts an agent of a fresh domain and a gui-daemon (-f -d <dom> -N work -c 0x00ff00 -l 3
 * --clipboard-dir <dir> plus extra, NULL-terminated) for it, and waits for the handshake.
 * opts may be NULL. Returns 0 or -1 (the daemon's log is printed).
 */
int gdfix_start(struct fixture *f, const struct gdfix_opts *opts, const char *const *extra);

/*
 * gdfix_start without the handshake: the agent listens and the daemon is started
 * (f->a and f->daemon set, even on failure), so that a test can play the
 * handshake itself (tagent_accept, or a hostile one). Returns 0 or -1.
 */
int gdfix_spawn(struct fixture *f, const struct gdfix_opts *opts, const char *const *extra);

/*
 * Waits until the daemon has handled every message the agent sent so far and
 * synced X: a CREATE then DESTROY of a scratch window (ids from 0x7ff00000 up),
 * whose DESTROY echo the daemon sends after XSync. 0, or -1 on timeout.
 */
int gdfix_barrier(struct fixture *f);

/*
 * Options for a daemon on the Xen back-end under the xenshim (libxenshim.so beside ../../ of this
 * program; shim: its path, len bytes): every image takes the copy path. 0, or -1 without the shim.
 */
int gdfix_xen_opts(struct gdfix_opts *o, char *shim, size_t len);

/* Stops the daemon (by pid) and the agent. */
void gdfix_stop(struct fixture *f);

/*
 * Writes a guid.conf named name in the test's tmpdir whose "global" group holds body.
 * Returns its path (a static buffer, valid until the next call), for -C.
 */
const char *gdfix_conf(const char *name, const char *body);

/* Prints the daemon's log as test diagnostics. */
void gdfix_show_log(const struct fixture *f);

/* The path of the gui-daemon binary beside this test program. */
const char *gdfix_daemon_path(void);

/* Starts the Xvfb (w x h) and finds gui-daemon beside the program (../../bin). 0 or -1. */
int gdfix_setup(int w, int h);
void gdfix_teardown(void);

/* gdfix_setup at the default size, runs the cases, gdfix_teardown. Use as main's body. */
int gdfix_main(int argc, char **argv, const struct test_case *cases, size_t n);

#endif

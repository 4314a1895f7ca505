/* tests/lib/stack.h: the whole stack on one machine: dom0, a GUI qube, AppVMs (tools/rig and the chain tests). */
#ifndef QGUI_STACK_H
#define QGUI_STACK_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "xrig.h"

#define STACK_MAX_PROCS 32
#define STACK_VMS 2
#define STACK_PROXY_BORDER 2
#define STACK_GUI_LABEL 0x3874d8u /* the GUI qube's label (blue), drawn by guivm-proxy in dom0 */

struct stack_vm {
	const char *name;
	int domid;
	uint32_t label;
	const char *label_spec;
	int label_index;
	struct xserver xs;   /* the AppVM's own display */
	pid_t daemon, agent; /* its gui-daemon (in the GUI qube) and gui-agent */
};

struct stack_proc {
	pid_t pid;
	char name[48];
	char log[PATH_MAX];
};

struct stack {
	int w, h;                  /* dom0's screen */
	bool direct;               /* the desktop runs on the export server (no Xephyr) */
	struct xserver dom0;       /* guivm-proxy's display */
	struct xserver gexport;    /* the GUI qube's export server */
	struct xserver nest;       /* Xephyr full-screen on it: the GUI qube's desktop (nested layout) */
	const char *desk;          /* the desktop's display name */
	struct stack_vm vms[STACK_VMS];
	struct stack_proc procs[STACK_MAX_PROCS];
	int nprocs;
	pid_t proxy, exporter;
	char bindir[PATH_MAX - 64];
};

/*
 * Starts everything but the applications: displays chosen with -displayfd,
 * then gui-daemon per AppVM and guivm-export in the GUI qube, guivm-proxy in
 * dom0, gui-agent per AppVM, all over the socket vchan in a private
 * directory (VCHAN_SOCKET_DIR is set in this process too). live: dom0 is a
 * Xephyr window on $DISPLAY. Programs are found in bindir (NULL: beside this
 * program, or in ../../bin for tests). 0, or -1 with a message (stack_stop
 * still cleans up).
 */
int stack_start(struct stack *s, int w, int h, bool live, bool direct, const char *bindir);

/* Starts a program (argv[0] a path) on AppVM vm's display; logged as name. The pid, or -1. */
pid_t stack_spawn_in_vm(struct stack *s, int vm, const char *name, char *const argv[]);

/* Where content at (x, y) of an AppVM's screen shows on dom0's screen. */
void stack_dom0_pos(const struct stack *s, int x, int y, int *dx, int *dy);

/* The last number after "frames" in a process's log (its exit line), or -1. */
long stack_frames(const struct stack_proc *p);

/* Stops one process of the stack by pid (SIGTERM, then SIGKILL) and forgets it. Its exit status, or -1. */
int stack_stop_proc(struct stack *s, pid_t pid, int timeout_ms);

/* Forgets a process that has already exited and been reaped (so that no one signals its pid again). */
void stack_forget(struct stack *s, pid_t pid);

/* Stops every process by pid (last started first), then every X server. */
void stack_stop_procs(struct stack *s);
void stack_stop(struct stack *s);

#endif

/* sandbox.h: the seccomp allow lists of the programs that handle another domain's bytes. */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <sys/types.h>

#include "qgui/backend.h"

/* Whose steady state the filter allows (the README of each program has the table). */
enum sandbox_profile {
	SANDBOX_GUI_DAEMON,  /* gui-daemon: X client, vchan client (reconnects), grantee */
	SANDBOX_PROXY,       /* guivm-proxy (dom0): X client, vchan client, grantee */
	SANDBOX_EXPORT,      /* guivm-export: X client, vchan server, grant owner */
	SANDBOX_AGENT,       /* gui-agent: X client, vchan server, grant owner */
	SANDBOX_EXEC_HELPER, /* gui-daemon's clipboard helper: runs its two fixed commands */
};

/*
 * Installs, for this process and every thread it has or starts later, a
 * seccomp filter built with libseccomp that allows only the system calls
 * profile needs once set-up is done, with their arguments checked where it
 * matters (no PROT_EXEC mappings, thread-only clone, AF_UNIX sockets only, no
 * exec but in SANDBOX_EXEC_HELPER). Any other call, and any call through
 * another ABI (x32 numbers, i386), kills the whole process with SIGSYS.
 * be == QGUI_BACKEND_XEN adds what the Xen libraries need after set-up (the
 * /dev/xen devices and their ioctls). usr1_target > 0: the one process the
 * program may send SIGUSR1 (gui-daemon -K); signals otherwise go to itself only. Sanitizer builds (ASan/UBSan) also allow
 * what their run-time needs to report. Sets no_new_privs first.
 * Returns 0, or -1 with one log line (no filter installed); the programs treat
 * -1 as fatal.
 */
int sandbox_enter(enum sandbox_profile profile, enum qgui_backend be, pid_t usr1_target);

#endif

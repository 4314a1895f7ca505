/* sandbox.h: a seccomp filter for the programs that handle another domain's bytes. */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stdbool.h>

/*
 * Denies, from now on and in every thread started later, the system calls
 * that a display program never needs but an exploit would: debugging other
 * processes (ptrace, process_vm_*), kernel modules, kexec, mounts and
 * namespaces, BPF, perf, userfaultfd, keyrings, io_uring, clock and system
 * settings; and, unless allow_exec, execve/execveat. A denied call fails with
 * EPERM (the process is not killed: a library probing for a feature keeps
 * working). Sets no_new_privs first. x86-64 and aarch64; elsewhere it does
 * nothing and says so. Returns 0, or -1 with one log line (the caller
 * decides; the programs go on without it).
 */
int sandbox_enter(bool allow_exec);

#endif

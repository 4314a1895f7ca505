/* tests/lib/procwatch.h: what a process under attack costs (/proc) and what it logged (its log file). */
#ifndef QGUI_PROCWATCH_H
#define QGUI_PROCWATCH_H

#include <stdbool.h>
#include <sys/types.h>

/* A "kB" field of /proc/PID/status ("VmRSS", "VmSize", ...) in KiB, or -1 when the process is gone. */
long procwatch_status_kib(pid_t pid, const char *field);

/* VmRSS of pid in KiB, or -1 when the process is gone. */
long procwatch_rss_kib(pid_t pid);

/* Number of open file descriptors of pid (entries of /proc/PID/fd), or -1. */
int procwatch_fds(pid_t pid);

/* Size of the file at path in bytes (0 when it does not exist): an offset for procwatch_lines. */
long procwatch_size(const char *path);

/*
 * Lines of the file at path that start at or after byte offset `from` and contain
 * needle. With first != NULL, the first such line is copied there (NUL-terminated,
 * cut at len - 1 bytes, newline removed). Returns the count, or -1 when the file
 * cannot be read.
 */
int procwatch_lines(const char *path, long from, const char *needle, char *first, size_t len);

/*
 * Whether every byte of the file at path is printable ASCII (0x20-0x7e) or a
 * newline: a log that never passed a peer's control bytes (escape sequences,
 * NULs, bytes >= 0x80) to the terminal that shows it. With bad != NULL, the
 * offset of the first other byte is stored there (-1 when there is none).
 */
bool procwatch_printable(const char *path, long *bad);

#endif

/* qgui/log.h: one line per event on stderr, tagged with the program and VM name. */
#ifndef QGUI_LOG_H
#define QGUI_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

/*
 * Sets the tag of every following line: "<prog>[<pid>] <vm>: ...".
 * Both strings are copied (prog up to 31 bytes, vm up to 31 bytes), sanitised.
 * vm may be NULL (no VM part).
 */
void log_init(const char *prog, const char *vm);

/* Lines above this level are dropped. Default LOG_LVL_INFO. Clamped to 0..2. */
void log_set_level(int level);
int log_get_level(void);

/*
 * Writes one line (a trailing newline is added; embedded newlines and other
 * control bytes in the formatted text are replaced by '?').
 * Never pass peer-supplied bytes as fmt; print them through log_sanitize().
 * When stderr is the journal ($JOURNAL_STREAM names its device and inode, as
 * systemd sets it) the line starts with its sd-daemon priority: <3> error,
 * <4> warning, <6> info, <7> debug, so journald keeps the levels.
 */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning: shown at the error level (also with -q), priority <4> in the journal. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Forgets whether stderr is the journal, so that the next line checks again (tests). */
void log_reset_journal(void);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Copies at most srclen bytes of untrusted src into dst (size dstlen >= 1) as
 * printable ASCII: bytes outside 0x20..0x7e become '?'; stops at a NUL byte.
 * Output is truncated to dstlen-1 bytes and always NUL-terminated.
 * Returns dst, for use as a printf argument.
 */
char *log_sanitize(char *dst, size_t dstlen, const void *src, size_t srclen);

/* Broken internal invariant: logs file:line and the expression, then abort()s in every build. */
void invariant_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
#define INVARIANT(c) do { if (!(c)) { invariant_fail(__FILE__, __LINE__, #c); } } while (0)

#endif

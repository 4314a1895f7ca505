/* log.c: one sanitised line per event on stderr. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qgui/log.h"

static char log_prog[32] = "qgui";
static char log_vm[32];
static int log_level = LOG_LVL_INFO;

char *log_sanitize(char *dst, size_t dstlen, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	size_t i;

	if (dstlen == 0) {
		return dst;
	}
	for (i = 0; i < srclen && i + 1 < dstlen && s[i] != '\0'; i++) {
		dst[i] = (s[i] >= 0x20 && s[i] <= 0x7e) ? (char)s[i] : '?';
	}
	dst[i] = '\0';
	return dst;
}

void log_init(const char *prog, const char *vm)
{
	const char *base = prog ? strrchr(prog, '/') : NULL;

	base = base ? base + 1 : prog;
	if (base != NULL) {
		log_sanitize(log_prog, sizeof(log_prog), base, strlen(base));
	}
	if (vm != NULL) {
		log_sanitize(log_vm, sizeof(log_vm), vm, strlen(vm));
	} else {
		log_vm[0] = '\0';
	}
}

void log_set_level(int level)
{
	log_level = level < LOG_LVL_ERROR ? LOG_LVL_ERROR : level > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : level;
}

int log_get_level(void)
{
	return log_level;
}

/*
 * Is stderr the journal? systemd sets JOURNAL_STREAM=<device>:<inode> of the stream it connected;
 * a process whose stderr was redirected since inherits the variable, so the fd must match it.
 * -1: not checked yet.
 */
static int journal = -1;

static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int used = 0;

	if (journal < 0) {
		journal = js != NULL && sscanf(js, "%llu:%llu%n", &dev, &ino, &used) == 2 && js[used] == '\0' &&
				fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
				(unsigned long long)st.st_ino == ino;
	}
	return journal == 1;
}

void log_reset_journal(void)
{
	journal = -1;
}

enum { PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_INFO = 6, PRIO_DEBUG = 7 }; /* sd-daemon.h / syslog.h */

static void log_line(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void log_line(int prio, const char *fmt, va_list ap)
{
	char text[1024], line[1200], tag[8] = "";
	int n;

	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0) {
		return;
	}
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
			*p = '?';
		}
	}
	if (stderr_is_journal()) {
		snprintf(tag, sizeof(tag), "<%d>", prio);
	}
	n = snprintf(line, sizeof(line), "%s%s[%d]%s%s: %s\n", tag, log_prog, (int)getpid(), log_vm[0] ? " " : "",
			log_vm, text);
	if (n > 0) {
		/* one write() per line, so lines from several processes never interleave */
		ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		(void)w;
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { PRIO_ERR, PRIO_INFO, PRIO_DEBUG };
	va_list ap;

	if ((int)lvl > log_level || (unsigned)lvl > LOG_LVL_DEBUG) {
		return;
	}
	va_start(ap, fmt);
	log_line(prio[lvl], fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(PRIO_WARNING, fmt, ap);
	va_end(ap);
}

void invariant_fail(const char *file, int line, const char *expr)
{
	log_msg(LOG_LVL_ERROR, "internal error at %s:%d: %s", file, line, expr);
	abort();
}

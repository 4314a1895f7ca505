/* log.c: one sanitised line per event on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char text[1024], line[1200];
	va_list ap;
	int n;

	if ((int)lvl > log_level) {
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
			*p = '?';
		}
	}
	n = snprintf(line, sizeof(line), "%s[%d]%s%s: %s\n", log_prog, (int)getpid(),
			log_vm[0] ? " " : "", log_vm, text);
	if (n > 0) {
		/* one write() per line, so lines from several processes never interleave */
		ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		(void)w;
	}
}

void invariant_fail(const char *file, int line, const char *expr)
{
	log_msg(LOG_LVL_ERROR, "internal error at %s:%d: %s", file, line, expr);
	abort();
}

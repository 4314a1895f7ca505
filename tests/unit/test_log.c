/* test_log.c: log lines on stderr, with sd-daemon priorities when stderr is the journal (JOURNAL_STREAM). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qgui/log.h"
#include "test.h"

/*
 * Runs emit() with stderr redirected to a fresh file and JOURNAL_STREAM set to journal_stream
 * (NULL: unset; "match": the device and inode of that file, as systemd sets it); returns what
 * was written, in out.
 */
static void capture(const char *journal_stream, void (*emit)(void), char *out, size_t len)
{
	char path[512], js[64];
	struct stat st;
	int fd, saved;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr.%d", test_tmpdir(), rand());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(STDERR_FILENO);
	out[0] = '\0';
	if (fd < 0 || saved < 0 || fstat(fd, &st) != 0) {
		test_fail(__FILE__, __LINE__, "cannot redirect stderr");
		return;
	}
	if (journal_stream == NULL) {
		unsetenv("JOURNAL_STREAM");
	} else if (strcmp(journal_stream, "match") == 0) {
		snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", js, 1);
	} else {
		setenv("JOURNAL_STREAM", journal_stream, 1);
	}
	log_reset_journal();
	dup2(fd, STDERR_FILENO);
	emit();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	log_reset_journal();
}

static void emit_levels(void)
{
	log_init("gui-daemon", "work");
	log_set_level(LOG_LVL_DEBUG);
	log_error("e %d", 1);
	log_warn("w %d", 2);
	log_info("i %d", 3);
	log_debug("d %d", 4);
	log_set_level(LOG_LVL_INFO);
}

/* want[i]: the priority tag ("" for none) of the lines "e 1", "w 2", "i 3", "d 4" */
static void expect_lines(const char *got, const char *const want[4])
{
	static const char *const text[4] = { "e 1", "w 2", "i 3", "d 4" };
	char line[256];
	const char *p = got;
	int pid = (int)getpid();

	for (int i = 0; i < 4; i++) {
		const char *nl = strchr(p, '\n');

		snprintf(line, sizeof(line), "%sgui-daemon[%d] work: %s", want[i], pid, text[i]);
		if (nl == NULL || (size_t)(nl - p) != strlen(line) || strncmp(p, line, strlen(line)) != 0) {
			test_fail(__FILE__, __LINE__, "line %d: want \"%s\", got \"%.*s\"", i, line,
					nl ? (int)(nl - p) : (int)strlen(p), p);
			return;
		}
		p = nl + 1;
	}
	T_STR(p, "");
}

static void journal_priorities(void)
{
	static const char *const want[4] = { "<3>", "<4>", "<6>", "<7>" };
	char out[2048];

	capture("match", emit_levels, out, sizeof(out));
	expect_lines(out, want);
}

static void plain_without_journal(void)
{
	static const char *const want[4] = { "", "", "", "" };
	char out[2048];

	capture(NULL, emit_levels, out, sizeof(out));
	expect_lines(out, want);
	/* inherited from a unit but stderr redirected since: another stream, so no priorities */
	capture("1:2", emit_levels, out, sizeof(out));
	expect_lines(out, want);
	capture("garbage", emit_levels, out, sizeof(out));
	expect_lines(out, want);
}

static void emit_quiet(void)
{
	log_init("guivm-proxy", NULL);
	log_set_level(LOG_LVL_ERROR); /* -q */
	log_info("hidden");
	log_debug("hidden too");
	log_warn("stale file\nwith a newline");
	log_error("failed");
	log_set_level(LOG_LVL_INFO);
}

/* -q keeps errors and warnings; the priority tag comes before the program; control bytes become '?'. */
static void quiet_keeps_warnings(void)
{
	char out[1024], want[256];

	capture("match", emit_quiet, out, sizeof(out));
	snprintf(want, sizeof(want), "<4>guivm-proxy[%d]: stale file?with a newline\n<3>guivm-proxy[%d]: failed\n",
			(int)getpid(), (int)getpid());
	T_STR(out, want);
}

TEST_MAIN(TEST(journal_priorities), TEST(plain_without_journal), TEST(quiet_keeps_warnings))

/* tests/lib/test.c: the harness behind test.h. */
#include <errno.h>
#include <ftw.h>
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static int case_failed, any_failed;
static char tmpdir[256];
static pid_t tmpdir_owner;

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	case_failed = any_failed = 1;
	fprintf(stdout, "#   %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

int test_ok(void)
{
	return !case_failed;
}

int64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void test_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tmpdir(void)
{
	if (tmpdir[0] && getpid() == tmpdir_owner) {
		/* TEST_KEEP_FAILED=1: a failing program's logs and files stay for a post-mortem */
		if (any_failed && getenv("TEST_KEEP_FAILED")) {
			printf("# kept %s\n", tmpdir);
			return;
		}
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

const char *test_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/qgui-test.XXXXXX", base && *base ? base : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		tmpdir_owner = getpid();
		atexit(rm_tmpdir);
	}
	return tmpdir;
}

/*
 * Kills every process whose parent is this one. With PR_SET_CHILD_SUBREAPER that includes the
 * orphans of what the cases started (a daemon's forked child after its parent exited), so a
 * failing case never leaves a process behind.
 */
static void kill_leftovers(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[64], line[256];

	while (d && (e = readdir(d)) != NULL) {
		FILE *f;
		long pid = strtol(e->d_name, NULL, 10), ppid = -1;

		if (pid <= 1) {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (strncmp(line, "PPid:", 5) == 0) {
				ppid = strtol(line + 5, NULL, 10);
				break;
			}
		}
		if (f) {
			fclose(f);
		}
		if (ppid == (long)getpid()) {
			kill((pid_t)pid, SIGKILL);
		}
	}
	if (d) {
		closedir(d);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int test_main_indexed(int argc, char **argv, size_t ncases, const char *(*name)(size_t i, void *arg),
		void (*fn)(size_t i, void *arg), void *arg)
{
	int passed = 0, failed = 0;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	atexit(kill_leftovers); /* after main's own clean-up, before the temporary directory goes */

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < ncases; i++) {
		int wanted = argc <= 1;

		for (int a = 1; a < argc; a++) {
			wanted |= strcmp(argv[a], name(i, arg)) == 0;
		}
		if (!wanted) {
			continue;
		}
		case_failed = 0;
		fn(i, arg);
		printf("%s - %s\n", case_failed ? "not ok" : "ok", name(i, arg));
		if (case_failed) {
			failed++;
		} else {
			passed++;
		}
	}
	printf("# %s: %d passed, %d failed\n", argv[0], passed, failed);
	return (failed || passed == 0) ? 1 : 0;
}

static const char *case_name(size_t i, void *arg)
{
	return ((const struct test_case *)arg)[i].name;
}

static void case_run(size_t i, void *arg)
{
	((const struct test_case *)arg)[i].fn();
}

int test_main(int argc, char **argv, const struct test_case *cases, size_t ncases)
{
	return test_main_indexed(argc, argv, ncases, case_name, case_run, (void *)cases);
}

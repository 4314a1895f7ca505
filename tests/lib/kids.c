/* tests/lib/kids.c: forked child processes for tests, each driven over a pair of pipes (see kids.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kids.h"
#include "test.h"

/* The KID_TRACKED children; a free slot has pid 0. */
static struct kid kids[KID_MAX];

static void close_fds_except(int a, int b)
{
	unsigned lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ? b : a);

	if (lo > 3) {
		close_range(3, lo - 1, 0);
	}
	if (hi > lo + 1) {
		close_range(lo + 1, hi - 1, 0);
	}
	close_range(hi + 1, ~0u, 0);
}

bool kid_spawn(struct kid *k, unsigned flags, void (*fn)(int in, int out, void *arg), void *arg)
{
	int down[2], up[2];
	size_t slot = 0;

	if (flags & KID_TRACKED) {
		for (slot = 0; slot < KID_MAX && kids[slot].pid > 0; slot++) {
		}
		if (slot == KID_MAX) {
			return false;
		}
	}
	if (pipe2(down, O_CLOEXEC) != 0) {
		return false;
	}
	if (pipe2(up, O_CLOEXEC) != 0) {
		close(down[0]);
		close(down[1]);
		return false;
	}
	fflush(stdout);
	fflush(stderr);
	k->pid = fork();
	if (k->pid == 0) {
		close(down[1]);
		close(up[0]);
		if (flags & KID_ISOLATED) {
			close_fds_except(down[0], up[1]);
		}
		fn(down[0], up[1], arg);
		_exit(test_ok() ? 0 : 1);
	}
	close(down[0]);
	close(up[1]);
	if (k->pid < 0) {
		close(down[1]);
		close(up[0]);
		return false;
	}
	k->to = down[1];
	k->from = up[0];
	if (flags & KID_TRACKED) {
		kids[slot] = *k;
	}
	return true;
}

/* kid_start's fn, carried through kid_spawn's arg (the child has its own copy of the parent's stack). */
struct plain {
	void (*fn)(int in, int out);
};

static void run_plain(int in, int out, void *arg)
{
	((const struct plain *)arg)->fn(in, out);
}

bool kid_start(struct kid *k, void (*fn)(int in, int out))
{
	struct plain p = { fn };

	return kid_spawn(k, KID_ISOLATED | KID_TRACKED, run_plain, &p);
}

/* Drops pid from the tracked children, closing the pipe ends recorded there that are still open. */
static void kid_forget(pid_t pid)
{
	for (size_t i = 0; i < KID_MAX; i++) {
		if (kids[i].pid == pid) {
			if (kids[i].to >= 0) {
				close(kids[i].to);
			}
			if (kids[i].from >= 0) {
				close(kids[i].from);
			}
			kids[i] = (struct kid){ .pid = 0, .to = -1, .from = -1 };
		}
	}
}

/* Waits up to ms for pid to exit (a pidfd, so no polling loop). */
static bool exited_within(pid_t pid, int ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	int r;

	if (pfd < 0) {
		return false;
	}
	p = (struct pollfd){ .fd = pfd, .events = POLLIN };
	r = poll(&p, 1, ms);
	close(pfd);
	return r == 1;
}

bool kid_ok(struct kid *k)
{
	int status = 0;
	pid_t pid = k->pid;
	bool tracked = false;

	close(k->to);
	for (size_t i = 0; i < KID_MAX; i++) {
		if (kids[i].pid == pid) {
			kids[i].to = -1;
			tracked = true;
		}
	}
	if (!exited_within(pid, KID_WAIT_MS)) {
		test_fail(__FILE__, __LINE__, "child %d did not exit; killing it", (int)pid);
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
	if (tracked) {
		kid_forget(pid);
	} else {
		close(k->from);
	}
	k->pid = 0;
	if (WIFSIGNALED(status)) {
		test_fail(__FILE__, __LINE__, "child %d died of signal %d", (int)pid, WTERMSIG(status));
		return false;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int kid_finish(struct kid *k)
{
	int st = 0;

	if (k->pid <= 0) {
		return -1;
	}
	for (size_t i = 0; i < KID_MAX; i++) {
		if (kids[i].pid == k->pid) {
			kids[i] = (struct kid){ .pid = 0, .to = -1, .from = -1 }; /* its fds are k's, closed here */
		}
	}
	close(k->to);
	close(k->from);
	if (waitpid(k->pid, &st, 0) != k->pid) {
		st = -1;
	}
	k->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void kid_reap_all(void)
{
	for (size_t i = 0; i < KID_MAX; i++) {
		pid_t pid = kids[i].pid;

		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			kid_forget(pid);
		}
	}
}

bool kid_say(int fd, char c)
{
	return write(fd, &c, 1) == 1;
}

int kid_hear(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned char c;

	if (poll(&p, 1, KID_WAIT_MS) != 1 || read(fd, &c, 1) != 1) {
		return -1;
	}
	return c;
}

bool kid_say_size(int fd, size_t v)
{
	return write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

bool kid_hear_size(int fd, size_t *v)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, KID_WAIT_MS) == 1 && read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v);
}

int kid_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int kid_recv(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;
	size_t have = 0;

	while (have < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, timeout_ms);
		ssize_t n;

		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			return -1;
		}
		n = read(fd, p + have, len - have);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		have += (size_t)n;
	}
	return 0;
}

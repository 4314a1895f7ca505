/* clipboard.c: the global clipboard files shared by every gui-daemon of the GUI qube. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clipboard.h"
#include "qgui/log.h"
#include "qubes-gui-protocol.h"

static void path(const struct clip_ctx *c, const char *suffix, char *out, size_t n)
{
	snprintf(out, n, "%s/qubes-clipboard.bin%s", c->dir, suffix);
}

static int lock_take(const struct clip_ctx *c)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/appviewer.lock", c->dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		log_error("clipboard: cannot lock %.300s: %s", p, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	return fd;
}

static void lock_drop(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

/* Replaces a file's contents (umask 0007, as upstream). */
static int write_file(const struct clip_ctx *c, const char *suffix, const void *data, size_t len)
{
	char p[512];
	mode_t old = umask(0007);
	int fd, rc = 0;

	path(c, suffix, p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	umask(old);
	if (fd < 0) {
		log_error("clipboard: cannot write %.300s: %s", p, strerror(errno));
		return -1;
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, (const char *)data + done, len - done);

		if (w <= 0) {
			rc = -1;
			break;
		}
		done += (size_t)w;
	}
	close(fd);
	return rc;
}

/* Reads at most max bytes of a file; returns the length or -1 (a missing file reads as empty). */
static ssize_t read_file(const struct clip_ctx *c, const char *suffix, void *buf, size_t max)
{
	char p[512];
	ssize_t n, total = 0;
	int fd;

	path(c, suffix, p, sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? 0 : -1;
	}
	while ((size_t)total < max && (n = read(fd, (char *)buf + total, max - (size_t)total)) > 0) {
		total += n;
	}
	close(fd);
	return total;
}

static uint32_t stored_time(const struct clip_ctx *c, bool *have)
{
	char buf[32];
	ssize_t n = read_file(c, ".xevent", buf, sizeof(buf) - 1);

	*have = n > 0;
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	return (uint32_t)strtoul(buf, NULL, 10);
}

/* Is the stored copy newer than t? X timestamps wrap around modulo 2^32. */
static bool newer_than(const struct clip_ctx *c, uint32_t t)
{
	bool have;
	uint32_t s = stored_time(c, &have);

	return have && (int32_t)(s - t) > 0;
}

struct meta {
	uint32_t xtime;
	bool successful, copy, paste, malformed, oversized, cleared;
	size_t sent;
};

static void write_metadata(const struct clip_ctx *c, const char *vmname, const struct meta *m)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf),
			"{\n\"vmname\":\"%s\",\n\"xevent_timestamp\":%u,\n\"successful\":%s,\n\"copy_action\":%s,\n"
			"\"paste_action\":%s,\n\"malformed_request\":%s,\n\"oversized_request\":%s,\n\"cleared\":%s,\n"
			"\"qrexec_clipboard\":%s,\n\"sent_size\":%zu,\n\"buffer_size\":%u,\n"
			"\"protocol_version_xside\":%u,\n\"protocol_version_vmside\":%u\n}\n",
			vmname, m->xtime, m->successful ? "true" : "false", m->copy ? "true" : "false",
			m->paste ? "true" : "false", m->malformed ? "true" : "false", m->oversized ? "true" : "false",
			m->cleared ? "true" : "false", c->qrexec ? "true" : "false", m->sent, c->buffer_size,
			c->version_daemon, c->version_agent);

	if (n > 0 && (size_t)n < sizeof(buf)) {
		write_file(c, ".metadata", buf, (size_t)n);
	}
}

enum clip_result clipboard_copy(const struct clip_ctx *c, uint32_t req_time, const uint8_t *data, size_t len,
		bool oversized)
{
	struct meta m = { .xtime = req_time, .copy = true };
	enum clip_result r;
	char t[16];
	int lock = lock_take(c);

	if (lock < 0) {
		return CLIP_ERROR;
	}
	if (newer_than(c, req_time)) {
		lock_drop(lock);
		return CLIP_STALE;
	}
	snprintf(t, sizeof(t), "%u", req_time);
	if (oversized || len == 0) {
		m.oversized = oversized;
		m.cleared = true;
		m.successful = !oversized;
		r = (write_file(c, "", "", 0) || write_file(c, ".source", "", 0)) ? CLIP_ERROR : CLIP_CLEARED;
	} else {
		m.successful = true;
		m.sent = len;
		r = (write_file(c, "", data, len) || write_file(c, ".source", c->vmname, strlen(c->vmname)))
			    ? CLIP_ERROR : CLIP_STORED;
	}
	write_file(c, ".xevent", t, strlen(t));
	write_metadata(c, c->vmname, &m);
	lock_drop(lock);
	return r;
}

/* Runs the paste policy command "cmd SOURCE TARGET"; true when it exits 0. */
static bool policy_allows(const struct clip_ctx *c, const char *source)
{
	pid_t pid;
	int status;

	if (c->policy_cmd == NULL || c->policy_cmd[0] == '\0') {
		return true;
	}
	pid = fork();
	if (pid < 0) {
		return false;
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\" \"$2\"", c->policy_cmd, source, c->vmname, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

enum clip_result clipboard_paste(const struct clip_ctx *c, uint32_t t, uint8_t **data, size_t *len)
{
	struct meta m = { .xtime = t, .paste = true };
	char source[64], src_clean[64];
	ssize_t n, sn;
	uint8_t *buf;
	int lock = lock_take(c);

	*data = NULL;
	*len = 0;
	if (lock < 0) {
		return CLIP_ERROR;
	}
	if (newer_than(c, t)) {
		lock_drop(lock);
		return CLIP_STALE;
	}
	buf = malloc(c->buffer_size + 1);
	sn = read_file(c, ".source", source, sizeof(source) - 1);
	n = buf ? read_file(c, "", buf, c->buffer_size + 1) : -1;
	if (n < 0 || sn < 0) {
		free(buf);
		lock_drop(lock);
		return CLIP_ERROR;
	}
	source[sn] = '\0';
	log_sanitize(src_clean, sizeof(src_clean), source, (size_t)sn);
	if (n == 0 || (size_t)n > c->buffer_size) {
		/* nothing, or more than this VM accepts */
		m.oversized = (size_t)n > c->buffer_size;
		write_metadata(c, src_clean, &m);
		free(buf);
		lock_drop(lock);
		return CLIP_EMPTY;
	}
	if (!policy_allows(c, src_clean)) {
		write_metadata(c, src_clean, &m);
		free(buf);
		lock_drop(lock);
		return CLIP_DENIED;
	}
	/* one paste per copy: empty the global clipboard */
	write_file(c, "", "", 0);
	write_file(c, ".source", "", 0);
	m.successful = true;
	m.cleared = true;
	m.sent = (size_t)n;
	write_metadata(c, src_clean, &m);
	lock_drop(lock);
	*data = buf;
	*len = (size_t)n;
	return CLIP_STORED;
}

/* ----------------------------------------------------------------- -Q: qrexec services */

/*
 * Runs `qrexec-client-vm VM SERVICE`, writing in (in_len bytes) to its stdin
 * and reading at most out_max bytes of its stdout into out (NULL: none), for
 * at most 5 s. Returns the bytes read (out_max + 1 means "more"), or -1.
 */
static ssize_t run_service(const struct clip_ctx *c, const char *service, const uint8_t *in, size_t in_len,
		uint8_t *out, size_t out_max)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, status = 0;
	size_t sent = 0, got = 0;
	struct timespec t0;
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) {
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		goto fail;
	}
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execlp("qrexec-client-vm", "qrexec-client-vm", c->vmname, service, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	to[0] = from[1] = -1;
	if (in_len == 0) {
		close(to[1]);
		to[1] = -1;
	}
	fcntl(from[0], F_SETFL, O_NONBLOCK);
	if (to[1] >= 0) {
		fcntl(to[1], F_SETFL, O_NONBLOCK);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = { { from[0], POLLIN, 0 }, { to[1], POLLOUT, 0 } };
		struct timespec now;
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = 5000 - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(p, to[1] >= 0 ? 2 : 1, (int)left) < 0) {
			kill(pid, SIGKILL); /* a service that hangs must not hold the VM's GUI */
			break;
		}
		if (to[1] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(to[1], in + sent, in_len - sent);
			sent += n > 0 ? (size_t)n : 0;
			if (n < 0 || sent == in_len) {
				close(to[1]);
				to[1] = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t sink[4096];
			size_t room = out && got <= out_max ? out_max + 1 - got : 0;

			n = read(from[0], room ? out + got : sink, room ? room : sizeof(sink));
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				break;
			}
			if (n > 0 && room) {
				got += (size_t)n;
			}
		}
	}
	close(from[0]);
	if (to[1] >= 0) {
		close(to[1]);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("clipboard: qrexec-client-vm %s %s failed (status 0x%x)", c->vmname, service, status);
		return -1;
	}
	return (ssize_t)got;
fail:
	log_error("clipboard: cannot run qrexec-client-vm: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0) {
			close(to[i]);
		}
		if (from[i] >= 0) {
			close(from[i]);
		}
	}
	return -1;
}

enum clip_result clipboard_qrexec_copy(const struct clip_ctx *c, uint32_t req_time)
{
	uint8_t *buf = malloc((size_t)c->buffer_size + 1);
	ssize_t n = buf ? run_service(c, "qubes.ClipboardCopy", NULL, 0, buf, c->buffer_size) : -1;
	enum clip_result r = CLIP_ERROR;

	if (n >= 0) {
		r = clipboard_copy(c, req_time, buf, (size_t)n, (size_t)n > c->buffer_size);
	}
	free(buf);
	return r;
}

enum clip_result clipboard_qrexec_paste(const struct clip_ctx *c, const uint8_t *data, size_t len)
{
	return run_service(c, "qubes.ClipboardPaste", data, len, NULL, 0) < 0 ? CLIP_ERROR : CLIP_STORED;
}

/* clipboard.c: the global clipboard files shared by every gui-daemon of the GUI qube. */
#include <errno.h>
#include <fcntl.h>
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

/* clipboard.c: the global clipboard files shared by every gui-daemon of the GUI qube, and the helper that owns them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clipboard.h"
#include "qgui/log.h"
#include "qubes-gui-protocol.h"
#include "sandbox.h"

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

static enum clip_result do_copy(const struct clip_ctx *c, uint32_t req_time, const uint8_t *data, size_t len,
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

/* A qube name as Qubes allows it (what the helper passes to a command): letters, digits, '_', '-', '.'. */
static bool vm_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31 || s[0] == '-' || s[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
				s[i] == '_' || s[i] == '-' || s[i] == '.')) {
			return false;
		}
	}
	return true;
}

static ssize_t run_command(char *const argv[], bool path_lookup, const uint8_t *in, size_t in_len, uint8_t *out,
		size_t out_max);

#define QUBES_RELEASE "/etc/qubes-release" /* only dom0 has it (qubes-guid tells dom0 from a GUI qube so) */
#define POLICY_ALLOW "result=allow\n"
#define POLICY_DENY "result=deny\n"

/*
 * Asks dom0's qrexec policy whether source may paste into this qube, as qubes-guid does in
 * a GUI qube: `qrexec-client-vm -- @adminvm policy.EvalGUI+qubes.ClipboardPaste` with
 * "SOURCE\0TARGET" on its standard input; only an answer starting "result=allow\n" from a
 * command that exits 0 within RUN_MS allows. A denial, any other answer, a failure or a
 * hang refuses.
 */
static bool dom0_policy_allows(const struct clip_ctx *c, const char *source)
{
	char *argv[] = { "qrexec-client-vm", "--", "@adminvm", "policy.EvalGUI+qubes.ClipboardPaste", NULL };
	size_t sl = strlen(source), tl = strlen(c->vmname);
	uint8_t in[64], out[64];
	ssize_t n;

	memcpy(in, source, sl + 1); /* both <= 31 bytes: checked by the caller */
	memcpy(in + sl + 1, c->vmname, tl);
	n = run_command(argv, true, in, sl + 1 + tl, out, sizeof(out) - 1);
	if (n >= (ssize_t)strlen(POLICY_ALLOW) && memcmp(out, POLICY_ALLOW, strlen(POLICY_ALLOW)) == 0) {
		return true;
	}
	if (n >= (ssize_t)strlen(POLICY_DENY) && memcmp(out, POLICY_DENY, strlen(POLICY_DENY)) == 0) {
		log_info("clipboard: paste from %s refused by dom0's policy", source);
	} else {
		log_info("clipboard: paste from %s refused: dom0's policy gave no answer", source);
	}
	return false;
}

/*
 * Whether a paste from source may go to this qube: the paste policy command "cmd SOURCE
 * TARGET" when one is set (exit 0 within the time limit allows), otherwise dom0's policy
 * in a GUI qube; in dom0 without a command, every paste.
 */
static bool policy_allows(const struct clip_ctx *c, const char *source)
{
	char *argv[] = { "/bin/sh", "-c", "exec $0 \"$1\" \"$2\"", (char *)c->policy_cmd, (char *)source,
		(char *)c->vmname, NULL };
	bool ask_dom0 = c->policy_cmd == NULL || c->policy_cmd[0] == '\0';

	if (ask_dom0 && access(QUBES_RELEASE, F_OK) == 0) {
		return true;
	}
	if (!vm_name_ok(source) || !vm_name_ok(c->vmname)) {
		log_error("clipboard: paste from an unnamed source refused (the policy needs a qube name)");
		return false;
	}
	if (ask_dom0) {
		return dom0_policy_allows(c, source);
	}
	if (run_command(argv, false, NULL, 0, NULL, 0) < 0) {
		log_info("clipboard: paste from %s refused by the paste policy", source);
		return false;
	}
	return true;
}

static enum clip_result do_paste(const struct clip_ctx *c, uint32_t t, uint8_t **data, size_t *len)
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

#define RUN_MS 5000 /* a command that takes longer is killed and counts as a failure (a refusal) */

/*
 * Runs argv (argv[0] a path, or a name looked up on PATH), in its own process
 * group, writing in (in_len bytes) to its stdin and reading at most out_max
 * bytes of its stdout into out (NULL: the output is read and dropped); its
 * stderr goes nowhere (the bytes are not trusted in the log). Returns the
 * bytes read (out_max + 1 means "more"), or -1 when it cannot start, exits
 * other than 0, dies of a signal, outlives RUN_MS (the whole group is then
 * SIGKILLed) or cannot be waited for: every failure refuses.
 */
static ssize_t run_command(char *const argv[], bool path_lookup, const uint8_t *in, size_t in_len, uint8_t *out,
		size_t out_max)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, status = 0, null_fd = -1;
	size_t sent = 0, got = 0;
	bool timed_out = false;
	struct timespec t0;
	pid_t pid, w;

	if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0 ||
			(null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		goto fail;
	}
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL); /* (ignored signals would stay ignored across exec) */
		if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0 || dup2(null_fd, 2) < 0) {
			_exit(127);
		}
		if (path_lookup) {
			execvp(argv[0], argv);
		} else {
			execv(argv[0], argv);
		}
		_exit(127);
	}
	setpgid(pid, pid); /* (both sides: the group exists before either goes on) */
	close(to[0]);
	close(from[1]);
	close(null_fd);
	to[0] = from[1] = null_fd = -1;
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
		int pr;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = RUN_MS - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		pr = left > 0 ? poll(p, to[1] >= 0 ? 2 : 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			/* a command that hangs must not hold the VM's clipboard, nor leave children behind */
			timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (to[1] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(to[1], in + sent, in_len - sent);
			sent += n > 0 ? (size_t)n : 0;
			if ((n < 0 && errno != EAGAIN) || sent == in_len) {
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
	do {
		w = waitpid(pid, &status, 0);
	} while (w < 0 && errno == EINTR);
	if (w != pid) {
		log_error("clipboard: cannot wait for %s: %s", argv[0], strerror(errno));
		kill(-pid, SIGKILL);
		return -1;
	}
	kill(-pid, SIGKILL); /* whatever it started in its group goes with it */
	if (timed_out) {
		log_error("clipboard: %s did not finish within %d ms: killed", argv[0], RUN_MS);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_info("clipboard: %s failed (%s %d)", argv[0], WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? WTERMSIG(status) : -1);
		return -1;
	}
	return (ssize_t)got;
fail:
	log_error("clipboard: cannot run %s: %s", argv[0], strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (to[i] >= 0) {
			close(to[i]);
		}
		if (from[i] >= 0) {
			close(from[i]);
		}
	}
	if (null_fd >= 0) {
		close(null_fd);
	}
	return -1;
}

/* `qrexec-client-vm VM SERVICE` (on PATH), one of the two clipboard services only. */
static ssize_t run_service(const struct clip_ctx *c, const char *service, const uint8_t *in, size_t in_len,
		uint8_t *out, size_t out_max)
{
	char *argv[] = { "qrexec-client-vm", (char *)c->vmname, (char *)service, NULL };

	if (!vm_name_ok(c->vmname)) {
		return -1;
	}
	return run_command(argv, true, in, in_len, out, out_max);
}

static enum clip_result do_qrexec_copy(const struct clip_ctx *c, uint32_t req_time)
{
	uint8_t *buf = malloc((size_t)c->buffer_size + 1);
	ssize_t n = buf ? run_service(c, "qubes.ClipboardCopy", NULL, 0, buf, c->buffer_size) : -1;
	enum clip_result r = CLIP_ERROR;

	if (n >= 0) {
		r = do_copy(c, req_time, buf, (size_t)n, (size_t)n > c->buffer_size);
	}
	free(buf);
	return r;
}

static enum clip_result do_qrexec_paste(const struct clip_ctx *c, const uint8_t *data, size_t len)
{
	return run_service(c, "qubes.ClipboardPaste", data, len, NULL, 0) < 0 ? CLIP_ERROR : CLIP_STORED;
}

/* ----------------------------------------------------------------- the helper process */

/*
 * The daemon's filter allows neither opening files nor running programs, so
 * every clipboard operation is done by a helper forked before the filter:
 * it holds its own copy of the fixed settings (directory, VM name, size
 * limit, -Q, policy command) and serves four requests over a socketpair.
 * The daemon may be compromised by its agent: the helper trusts nothing it
 * sends but an X timestamp, the agent's protocol version (for the metadata)
 * and at most buffer_size bytes of clipboard data; which command runs, with
 * which arguments, is fixed at fork.
 */
enum { OP_COPY = 1, OP_PASTE, OP_QRCOPY, OP_QRPASTE };

struct clip_req {
	uint32_t op;
	uint32_t xtime;
	uint32_t version_agent;
	uint32_t oversized;
	uint32_t len; /* bytes that follow: OP_COPY, OP_QRPASTE */
};

struct clip_rep {
	uint32_t result; /* enum clip_result */
	uint32_t len;    /* bytes that follow: OP_PASTE's data */
};

#define HELPER_WAIT_MS (2 * RUN_MS + 2000) /* the daemon's patience: a command's limit, the file work, slack */

static enum { HELPER_NONE, HELPER_UP, HELPER_DOWN } helper_state;
static int helper_fd = -1;

static int io_all(int fd, void *buf, size_t len, bool wr)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = wr ? send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL)
			       : read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static bool valid_result(uint32_t r)
{
	return r <= CLIP_ERROR;
}

/* The helper's loop: one request at a time until the daemon goes away. */
static void helper_serve(int fd, const struct clip_ctx *fixed)
{
	uint8_t *data = malloc((size_t)fixed->buffer_size + 1);

	if (data == NULL) {
		_exit(1);
	}
	for (;;) {
		struct clip_req q;
		struct clip_rep r = { CLIP_ERROR, 0 };
		struct clip_ctx c = *fixed;
		uint8_t *pasted = NULL;
		size_t plen = 0;

		if (io_all(fd, &q, sizeof(q), false) != 0) {
			_exit(0); /* the daemon is gone */
		}
		if (q.op < OP_COPY || q.op > OP_QRPASTE || q.len > fixed->buffer_size ||
				(q.len != 0 && q.op != OP_COPY && q.op != OP_QRPASTE) || q.oversized > 1 ||
				io_all(fd, data, q.len, false) != 0) {
			log_error("clipboard helper: malformed request from the daemon; exiting");
			_exit(1);
		}
		c.version_agent = q.version_agent;
		switch (q.op) {
		case OP_COPY:
			r.result = do_copy(&c, q.xtime, data, q.len, q.oversized != 0);
			break;
		case OP_PASTE:
			r.result = do_paste(&c, q.xtime, &pasted, &plen);
			r.len = r.result == CLIP_STORED ? (uint32_t)plen : 0;
			break;
		case OP_QRCOPY:
			c.qrexec = true;
			r.result = fixed->qrexec ? do_qrexec_copy(&c, q.xtime) : CLIP_ERROR;
			break;
		default:
			r.result = fixed->qrexec ? do_qrexec_paste(&c, data, q.len) : CLIP_ERROR;
			break;
		}
		if (io_all(fd, &r, sizeof(r), true) != 0 || io_all(fd, pasted, r.len, true) != 0) {
			_exit(0);
		}
		free(pasted);
	}
}

int clipboard_helper_start(const struct clip_ctx *c)
{
	static char dir[256], vm[32], policy[512];
	struct clip_ctx fixed = *c;
	int sv[2];
	pid_t pid;

	if (strlen(c->dir) >= sizeof(dir) || strlen(c->vmname) >= sizeof(vm) ||
			(c->policy_cmd && strlen(c->policy_cmd) >= sizeof(policy))) {
		log_error("clipboard: settings too long for the helper");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || (pid = fork()) < 0) {
		log_error("clipboard: cannot start the helper: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(sv[1]);
		helper_fd = sv[0];
		helper_state = HELPER_UP;
		return 0;
	}
	/* the helper: nothing of the daemon's but its end of the pair and stdio */
	close(sv[0]);
	if (dup2(sv[1], 3) != 3) {
		_exit(1);
	}
	close_range(4, ~0u, 0);
	{
		sigset_t none;
		int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD };

		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			signal(sigs[i], SIG_DFL);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1) {
		_exit(0);
	}
	snprintf(dir, sizeof(dir), "%s", c->dir);
	snprintf(vm, sizeof(vm), "%s", c->vmname);
	snprintf(policy, sizeof(policy), "%s", c->policy_cmd ? c->policy_cmd : "");
	fixed.dir = dir;
	fixed.vmname = vm;
	fixed.policy_cmd = policy;
	if (sandbox_enter(SANDBOX_EXEC_HELPER, QGUI_BACKEND_AUTO, 0) != 0) {
		_exit(1);
	}
	helper_serve(3, &fixed);
	_exit(0);
}

/* One request to the helper and its reply; data_out (OP_PASTE) gets a malloc'd copy. CLIP_ERROR on any failure. */
static enum clip_result helper_call(const struct clip_ctx *c, uint32_t op, uint32_t xtime, const uint8_t *data,
		size_t len, bool oversized, uint8_t **data_out, size_t *len_out)
{
	struct clip_req q = { op, xtime, c->version_agent, oversized, (uint32_t)len };
	struct clip_rep r;
	struct pollfd p = { helper_fd, POLLIN, 0 };
	uint8_t *buf = NULL;

	if (helper_state != HELPER_UP) {
		return CLIP_ERROR;
	}
	if (len > c->buffer_size) {
		return CLIP_ERROR;
	}
	if (io_all(helper_fd, &q, sizeof(q), true) != 0 || io_all(helper_fd, (void *)data, len, true) != 0) {
		goto broken;
	}
	if (poll(&p, 1, HELPER_WAIT_MS) != 1 || io_all(helper_fd, &r, sizeof(r), false) != 0 ||
			!valid_result(r.result) || r.len > c->buffer_size || (r.len != 0 && op != OP_PASTE)) {
		goto broken;
	}
	if (r.len != 0) {
		buf = malloc(r.len);
		if (buf == NULL || io_all(helper_fd, buf, r.len, false) != 0) {
			free(buf);
			goto broken;
		}
	}
	if (data_out) {
		*data_out = buf;
		*len_out = r.len;
	}
	return r.result;
broken:
	/* a helper that does not answer in time is as good as dead: no clipboard from now on */
	log_error("clipboard: the helper does not answer; the clipboard is off");
	close(helper_fd);
	helper_fd = -1;
	helper_state = HELPER_DOWN;
	return CLIP_ERROR;
}

enum clip_result clipboard_copy(const struct clip_ctx *c, uint32_t req_time, const uint8_t *data, size_t len,
		bool oversized)
{
	if (helper_state == HELPER_NONE) {
		return do_copy(c, req_time, data, len, oversized);
	}
	return helper_call(c, OP_COPY, req_time, data, oversized ? 0 : len, oversized, NULL, NULL);
}

enum clip_result clipboard_paste(const struct clip_ctx *c, uint32_t t, uint8_t **data, size_t *len)
{
	enum clip_result r;

	*data = NULL;
	*len = 0;
	if (helper_state == HELPER_NONE) {
		return do_paste(c, t, data, len);
	}
	r = helper_call(c, OP_PASTE, t, NULL, 0, false, data, len);
	if (r == CLIP_STORED && *data == NULL) {
		r = CLIP_EMPTY; /* (a helper never stores nothing; but the caller wants bytes with CLIP_STORED) */
	}
	return r;
}

enum clip_result clipboard_qrexec_copy(const struct clip_ctx *c, uint32_t req_time)
{
	if (helper_state == HELPER_NONE) {
		return do_qrexec_copy(c, req_time);
	}
	return helper_call(c, OP_QRCOPY, req_time, NULL, 0, false, NULL, NULL);
}

enum clip_result clipboard_qrexec_paste(const struct clip_ctx *c, const uint8_t *data, size_t len)
{
	if (helper_state == HELPER_NONE) {
		return do_qrexec_paste(c, data, len);
	}
	return helper_call(c, OP_QRPASTE, 0, data, len, false, NULL, NULL);
}

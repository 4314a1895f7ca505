/* test_xen_transport.c: the Xen vchan back-end, under the xenshim, against the native socket back-end in another process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qgui/transport.h"
#include "test.h"

/*
 * Run with LD_PRELOAD=libxenshim.so (make check does): libxenvchan then
 * speaks the socket vchan, so the Xen back-end of one process talks to the
 * socket back-end of another. The helpers below are the same as in
 * tests/unit/test_transport.c.
 */

#define SRV 2                  /* server domain (an AppVM agent) */
#define CLI 1                  /* client domain (the GUI qube's daemon) */
#define PORT QGUI_VCHAN_PORT
#define WAIT_MS 10000          /* guard on every wait; only reached when something is broken */
#define MAX_KIDS 4
#define BIG (4u << 20)

/* ------------------------------------------------------------------ helpers: time, files */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char case_dir[512];

/* A fresh socket directory per case, as VCHAN_SOCKET_DIR. */
static void case_begin(const char *name)
{
	snprintf(case_dir, sizeof(case_dir), "%s/%s", test_tmpdir(), name);
	mkdir(case_dir, 0700);
	setenv("VCHAN_SOCKET_DIR", case_dir, 1);
}

static const char *vchan_path(int s, int c, int port)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/vchan.%d.%d.%d.sock", case_dir, s, c, port);
	return p;
}

/* ------------------------------------------------------------------ helpers: child processes */

struct kid {
	pid_t pid;
	int to;   /* parent -> child; closing it releases the child */
	int from; /* child -> parent */
};

static struct kid kids[MAX_KIDS];

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

/*
 * Forks a child that runs fn(in, out) with only stdio and its two pipe ends
 * open (so it holds no copy of the parent's sockets or other children's
 * pipes), then exits 0 when no assertion failed in it.
 */
static bool kid_start(struct kid *k, void (*fn)(int in, int out))
{
	int down[2], up[2];
	size_t slot;

	for (slot = 0; slot < MAX_KIDS && kids[slot].pid > 0; slot++) {
	}
	if (slot == MAX_KIDS || pipe2(down, O_CLOEXEC) != 0) {
		return false;
	}
	if (pipe2(up, O_CLOEXEC) != 0) {
		close(down[0]);
		close(down[1]);
		return false;
	}
	fflush(stdout);
	k->pid = fork();
	if (k->pid == 0) {
		close(down[1]);
		close(up[0]);
		close_fds_except(down[0], up[1]);
		fn(down[0], up[1]);
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
	kids[slot] = *k;
	return true;
}

static void kid_forget(pid_t pid)
{
	for (size_t i = 0; i < MAX_KIDS; i++) {
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

/* Releases the child (closes its input), reaps it (SIGKILL after WAIT_MS); true when it exited 0. */
static bool kid_ok(struct kid *k)
{
	int status = 0;
	pid_t pid = k->pid;

	close(k->to);
	for (size_t i = 0; i < MAX_KIDS; i++) {
		if (kids[i].pid == pid) {
			kids[i].to = -1;
		}
	}
	if (!exited_within(pid, WAIT_MS)) {
		test_fail(__FILE__, __LINE__, "child %d did not exit; killing it", (int)pid);
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
	kid_forget(pid);
	k->pid = 0;
	if (WIFSIGNALED(status)) {
		test_fail(__FILE__, __LINE__, "child %d died of signal %d", (int)pid, WTERMSIG(status));
		return false;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* After every case: no child outlives it, whatever failed. */
static void case_end(void)
{
	for (size_t i = 0; i < MAX_KIDS; i++) {
		pid_t pid = kids[i].pid;

		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			kid_forget(pid);
		}
	}
}

#define CASE(name) \
	static void name##_body(void); \
	static void name(void) \
	{ \
		case_begin(#name); \
		name##_body(); \
		case_end(); \
	} \
	static void name##_body(void)

static bool say(int fd, char c)
{
	return write(fd, &c, 1) == 1;
}

/* One byte from the other process, or -1 on EOF, error or WAIT_MS without one. */
static int hear(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned char c;

	if (poll(&p, 1, WAIT_MS) != 1 || read(fd, &c, 1) != 1) {
		return -1;
	}
	return c;
}

static bool say_size(int fd, size_t v)
{
	return write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static bool hear_size(int fd, size_t *v)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1 && read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v);
}

/* ------------------------------------------------------------------ helpers: streams */

/* A byte of stream `seed` at offset off: any lost, repeated or reordered chunk shows. */
static uint8_t pat(uint32_t seed, size_t off)
{
	uint64_t x = ((uint64_t)off + (uint64_t)seed * 0x100000001b3ull) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56);
}

static uint8_t out_pat[BIG], in_pat[BIG], in_buf[BIG];

/* One exchange: send out_len bytes of out, expect exactly in_len bytes equal to exp. */
struct flow {
	const uint8_t *out, *exp;
	size_t out_len, in_len, out_done, in_done;
	unsigned short_writes; /* writes that took fewer bytes than offered (0 included) */
};

static struct flow flow_pattern(size_t out_len, uint32_t out_seed, size_t in_len, uint32_t in_seed)
{
	for (size_t i = 0; i < out_len; i++) {
		out_pat[i] = pat(out_seed, i);
	}
	for (size_t i = 0; i < in_len; i++) {
		in_pat[i] = pat(in_seed, i);
	}
	return (struct flow){ .out = out_pat, .exp = in_pat, .out_len = out_len, .in_len = in_len };
}

/* Call sizes cycle through these, so reads and writes split the stream everywhere. */
static const size_t chunks[] = { 1, 7, 4096, 65536, 1u << 20, BIG, 13, 300000 };

/*
 * Runs f to completion with non-blocking calls only, polling the transport
 * when neither direction moves (this also accepts a waiting client). Reads
 * never ask for more than f still expects, so the next exchange's bytes stay
 * queued. Reports and returns false on an error, wrong bytes or WAIT_MS.
 */
static bool pump(struct transport *t, struct flow *f)
{
	int64_t deadline = now_ms() + WAIT_MS;
	size_t k = 0;

	while (f->out_done < f->out_len || f->in_done < f->in_len) {
		bool moved = false;
		struct pollfd p;
		int64_t left;

		while (f->out_done < f->out_len) {
			size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];
			ssize_t r;

			n = n < f->out_len - f->out_done ? n : f->out_len - f->out_done;
			r = transport_write(t, f->out + f->out_done, n);
			if (r < 0 || (size_t)r > n) {
				test_fail(__FILE__, __LINE__, "write after %zu of %zu bytes: %zd (%s)", f->out_done,
						f->out_len, r, strerror(errno));
				return false;
			}
			f->short_writes += (size_t)r < n;
			if (r == 0) {
				break;
			}
			f->out_done += (size_t)r;
			moved = true;
		}
		while (f->in_done < f->in_len) {
			size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];
			ssize_t r;

			n = n < f->in_len - f->in_done ? n : f->in_len - f->in_done;
			r = transport_read(t, in_buf, n);
			if (r < 0 || (size_t)r > n) {
				test_fail(__FILE__, __LINE__, "read after %zu of %zu bytes: %zd (%s)", f->in_done,
						f->in_len, r, strerror(errno));
				return false;
			}
			if (r == 0) {
				break;
			}
			if (memcmp(in_buf, f->exp + f->in_done, (size_t)r) != 0) {
				test_fail(__FILE__, __LINE__, "wrong bytes in [%zu, %zu) of %zu", f->in_done,
						f->in_done + (size_t)r, f->in_len);
				return false;
			}
			f->in_done += (size_t)r;
			moved = true;
		}
		if (moved) {
			continue;
		}
		left = deadline - now_ms();
		transport_pollfd(t, f->out_done < f->out_len, &p);
		if (left <= 0 || p.fd < 0) {
			test_fail(__FILE__, __LINE__, "stalled: sent %zu of %zu, received %zu of %zu, state %d",
					f->out_done, f->out_len, f->in_done, f->in_len, (int)transport_state(t));
			return false;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			test_fail(__FILE__, __LINE__, "poll: %s", strerror(errno));
			return false;
		}
		transport_handle(t, p.revents);
	}
	return true;
}

/* Polls and handles t until it is CONNECTED (a server accepts its client). */
static bool wait_connected(struct transport *t)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (transport_handle(t, 0) != TRANSPORT_CONNECTED) {
		struct pollfd p;
		int64_t left = deadline - now_ms();

		transport_pollfd(t, false, &p);
		if (left <= 0 || p.fd < 0 || transport_state(t) == TRANSPORT_DISCONNECTED) {
			test_fail(__FILE__, __LINE__, "not connected (state %d)", (int)transport_state(t));
			return false;
		}
		if (poll(&p, 1, (int)left) > 0) {
			transport_handle(t, p.revents);
		}
	}
	return true;
}

/* Reads until -1/EPIPE (anything else fails), then checks that the end is sticky. */
static bool expect_epipe(struct transport *t)
{
	int64_t deadline = now_ms() + WAIT_MS;
	unsigned char b;

	for (;;) {
		struct pollfd p;
		ssize_t r = transport_read(t, &b, 1);
		int64_t left;

		if (r < 0) {
			if (errno != EPIPE) {
				test_fail(__FILE__, __LINE__, "read: %s, expected EPIPE", strerror(errno));
				return false;
			}
			break;
		}
		if (r > 0) {
			test_fail(__FILE__, __LINE__, "a byte more than the peer sent");
			return false;
		}
		left = deadline - now_ms();
		transport_pollfd(t, false, &p);
		if (left <= 0 || p.fd < 0) {
			test_fail(__FILE__, __LINE__, "no end of stream (state %d)", (int)transport_state(t));
			return false;
		}
		if (poll(&p, 1, (int)left) > 0) {
			transport_handle(t, p.revents);
		}
	}
	if (transport_state(t) != TRANSPORT_DISCONNECTED || transport_read(t, &b, 1) != -1 || errno != EPIPE ||
			transport_write(t, "x", 1) != -1 || errno != EPIPE) {
		test_fail(__FILE__, __LINE__, "EPIPE not sticky (state %d)", (int)transport_state(t));
		return false;
	}
	return true;
}

/* The exchanges of the stream tests: {server -> client, client -> server} bytes, at once. */
static const size_t rounds[][2] = {
	{ 1, 1 }, { 2, 3 }, { 4095, 4097 }, { 65536, 65536 }, { 100000, 1 }, { 1, 100000 },
	{ 1u << 20, 1 }, { 1, 1u << 20 }, { 1u << 20, 1u << 20 },
};

/* Runs every round on t from one side; counts its writes that were cut short. */
static bool run_rounds(struct transport *t, bool server, size_t nrounds, unsigned *short_writes)
{
	for (size_t i = 0; i < nrounds; i++) {
		size_t s2c = rounds[i][0], c2s = rounds[i][1];
		uint32_t s_seed = (uint32_t)(2 * i + 1), c_seed = (uint32_t)(2 * i + 2);
		struct flow f = server ? flow_pattern(s2c, s_seed, c2s, c_seed) : flow_pattern(c2s, c_seed, s2c, s_seed);

		if (!pump(t, &f)) {
			test_fail(__FILE__, __LINE__, "round %zu (%zu bytes to the client, %zu to the server)", i, s2c, c2s);
			return false;
		}
		*short_writes += f.short_writes;
	}
	return true;
}

#define NROUNDS (sizeof(rounds) / sizeof(rounds[0]))

/* ------------------------------------------------------------------ cases */

static void set_domain(int d)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", d);
	setenv("VCHAN_DOMAIN", v, 1);
}

/* A Xen server before any client: WAITING, the shim's socket in place, reads and writes 0; a live one is never replaced. */
CASE(xen_server_waiting)
{
	struct transport *t, *t2;
	struct pollfd p;
	struct stat st;
	unsigned char b[4];

	set_domain(SRV);
	t = transport_server_create(QGUI_BACKEND_XEN, SRV, CLI, PORT, 65536);
	T_ASSERT(t != NULL);
	T_EQ(transport_backend(t), QGUI_BACKEND_XEN);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_EQ(lstat(vchan_path(SRV, CLI, PORT), &st), 0);
	T_ASSERT(S_ISSOCK(st.st_mode));
	T_EQ(transport_read(t, b, sizeof(b)), 0);
	T_EQ(transport_write(t, "early", 5), 0);
	transport_pollfd(t, true, &p);
	T_ASSERT(p.fd >= 0);
	T_EQ(p.events, POLLIN);
	T_EQ(transport_handle(t, 0), TRANSPORT_WAITING);

	/* a second server on the same vchan, Xen or socket: EADDRINUSE, and no probe connection */
	errno = 0;
	t2 = transport_server_create(QGUI_BACKEND_XEN, SRV, CLI, PORT, 65536);
	T_ASSERT(t2 == NULL);
	T_EQ(errno, EADDRINUSE);
	errno = 0;
	t2 = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t2 == NULL);
	T_EQ(errno, EADDRINUSE);
	T_EQ(transport_handle(t, POLLIN), TRANSPORT_WAITING);
	transport_destroy(t);
	T_EQ(lstat(vchan_path(SRV, CLI, PORT), &st), -1);
}

static void kid_socket_client(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, WAIT_MS);
	unsigned shorts = 0;
	struct flow tail;

	T_ASSERT(c != NULL);
	T_ASSERT(run_rounds(c, false, NROUNDS, &shorts));
	T_EQ(hear(in), 'g'); /* the parent has checked that it is still connected */
	tail = flow_pattern(50000, 99, 0, 0);
	T_ASSERT(pump(c, &tail)); /* fits in the rings: sent before the parent reads it */
	transport_destroy(c);
	T_ASSERT(say(out, 'z'));
	T_EQ(hear(in), -1);
}

static void kid_socket_client_again(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, WAIT_MS);
	unsigned shorts = 0;
	struct flow tail;

	T_ASSERT(c != NULL);
	T_ASSERT(run_rounds(c, false, 6, &shorts));
	T_ASSERT(say(out, 'd'));
	T_EQ(hear(in), 'x'); /* the Xen server has written its tail and closed */
	tail = flow_pattern(0, 0, 30000, 98);
	T_ASSERT(pump(c, &tail));
	T_ASSERT(expect_epipe(c));
	transport_destroy(c);
}

/* Xen server <-> socket client: streams both ways, the client's close (bytes first, then EPIPE), reset, the server's close. */
CASE(xen_server_socket_client)
{
	struct transport *t;
	struct flow tail;
	unsigned shorts = 0;
	struct kid k;
	struct stat st;

	set_domain(SRV);
	t = transport_server_create(QGUI_BACKEND_XEN, SRV, CLI, PORT, 65536);
	T_ASSERT(t != NULL);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_ASSERT(kid_start(&k, kid_socket_client));
	T_ASSERT(run_rounds(t, true, NROUNDS, &shorts));
	T_EQ(transport_state(t), TRANSPORT_CONNECTED);
	T_ASSERT(shorts > 0); /* 1 MiB does not fit the 64 KiB ring: partial writes */
	T_ASSERT(say(k.to, 'g'));
	T_EQ(hear(k.from), 'z');
	tail = flow_pattern(0, 0, 50000, 99);
	T_ASSERT(pump(t, &tail));
	T_ASSERT(expect_epipe(t));
	T_ASSERT(kid_ok(&k));

	T_EQ(transport_server_reset(t), 0);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_EQ(lstat(vchan_path(SRV, CLI, PORT), &st), 0);
	T_ASSERT(kid_start(&k, kid_socket_client_again));
	T_ASSERT(run_rounds(t, true, 6, &shorts));
	T_EQ(hear(k.from), 'd');
	tail = flow_pattern(30000, 98, 0, 0);
	T_ASSERT(pump(t, &tail));
	transport_destroy(t); /* what is still in the ring reaches the client before its EOF */
	T_ASSERT(say(k.to, 'x'));
	T_ASSERT(kid_ok(&k));
}

static void kid_socket_server(int in, int out)
{
	struct transport *t;
	struct flow tail;
	unsigned shorts = 0;

	T_EQ(hear(in), 'g');
	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_ASSERT(run_rounds(t, true, NROUNDS, &shorts));
	T_EQ(hear(in), 'x'); /* the Xen client has written its tail and closed */
	tail = flow_pattern(0, 0, 40000, 97);
	T_ASSERT(pump(t, &tail));
	T_ASSERT(expect_epipe(t));
	T_EQ(transport_server_reset(t), 0);
	tail = flow_pattern(20000, 96, 0, 0);
	T_ASSERT(pump(t, &tail)); /* accepts the second client first */
	transport_destroy(t);
	T_ASSERT(say(out, 'z'));
	T_EQ(hear(in), -1);
}

/* Socket server <-> Xen client: the client retries until the server appears; streams; closes both ways. */
CASE(socket_server_xen_client)
{
	struct transport *c;
	struct flow tail;
	unsigned shorts = 0;
	struct kid k;
	int64_t t0;

	set_domain(CLI);
	T_ASSERT(kid_start(&k, kid_socket_server));
	t0 = now_ms();
	errno = 0;
	T_ASSERT(transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, 0) == NULL);
	T_ASSERT(errno == ENOENT || errno == ETIMEDOUT); /* ENOENT: the shim has no /dev/xen either */
	T_ASSERT(now_ms() - t0 < 1000);
	T_ASSERT(say(k.to, 'g'));
	c = transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, WAIT_MS);
	T_ASSERT(c != NULL);
	T_EQ(transport_backend(c), QGUI_BACKEND_XEN);
	T_EQ(transport_state(c), TRANSPORT_CONNECTED);
	T_EQ(transport_server_reset(c), -EINVAL);
	T_ASSERT(run_rounds(c, false, NROUNDS, &shorts));
	T_ASSERT(shorts > 0);
	tail = flow_pattern(40000, 97, 0, 0);
	T_ASSERT(pump(c, &tail));
	transport_destroy(c);
	T_ASSERT(say(k.to, 'x'));

	c = transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, WAIT_MS);
	T_ASSERT(c != NULL);
	T_EQ(hear(k.from), 'z'); /* the server wrote its tail and closed */
	tail = flow_pattern(0, 0, 20000, 96);
	T_ASSERT(pump(c, &tail));
	T_ASSERT(expect_epipe(c));
	transport_destroy(c);
	T_ASSERT(kid_ok(&k));
}

/* Socket peer that reads nothing until told how much was written. */
static void kid_slow_peer(struct transport *t, int in, int out)
{
	size_t total = 0;
	struct flow f;

	T_ASSERT(t != NULL);
	T_ASSERT(say(out, 'c'));
	T_ASSERT(hear_size(in, &total));
	f = flow_pattern(0, 0, total, 77);
	T_ASSERT(pump(t, &f));
	T_ASSERT(say(out, 'd'));
	T_EQ(hear(in), -1);
	transport_destroy(t);
}

static void kid_slow_server(int in, int out)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);

	T_ASSERT(t != NULL);
	T_ASSERT(wait_connected(t));
	kid_slow_peer(t, in, out);
}

static void kid_slow_client(int in, int out)
{
	kid_slow_peer(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, WAIT_MS), in, out);
}

/* Writes to t until it has returned 0 three times, each call returning at once; then the peer drains it all. */
static bool fill_until_zero(struct transport *t, struct kid *k)
{
	int64_t deadline;
	size_t total = 0;
	int zeros = 0;
	ssize_t r;

	flow_pattern(BIG, 77, 0, 0);
	while (zeros < 3) {
		int64_t t0 = now_ms();

		if (total >= BIG) {
			test_fail(__FILE__, __LINE__, "%zu bytes written and still no 0", total);
			return false;
		}
		r = transport_write(t, out_pat + total, 65536);
		if (r < 0 || now_ms() - t0 > 1000) {
			test_fail(__FILE__, __LINE__, "write: %zd (%s)", r, strerror(errno));
			return false;
		}
		total += (size_t)r;
		zeros += r == 0;
	}
	if (total == 0 || !say_size(k->to, total) || hear(k->from) != 'd') {
		test_fail(__FILE__, __LINE__, "the peer did not read the %zu bytes written", total);
		return false;
	}
	/* room again: an event comes, and write takes bytes */
	deadline = now_ms() + WAIT_MS;
	while ((r = transport_write(t, "x", 1)) == 0) {
		struct pollfd p;
		int64_t left = deadline - now_ms();

		transport_pollfd(t, true, &p);
		if (left <= 0 || p.fd < 0) {
			test_fail(__FILE__, __LINE__, "no room after the peer read everything");
			return false;
		}
		if (poll(&p, 1, (int)left) > 0) {
			transport_handle(t, p.revents);
		}
	}
	return r == 1;
}

/* A socket peer that stops reading: the Xen client's (4 KiB ring) writes return 0, never block, lose nothing. */
CASE(xen_client_full_ring)
{
	struct transport *c;
	struct kid k;

	set_domain(CLI);
	setenv("XENSHIM_CLIENT_RING", "4096", 1);
	T_ASSERT(kid_start(&k, kid_slow_server));
	c = transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, WAIT_MS);
	unsetenv("XENSHIM_CLIENT_RING");
	T_ASSERT(c != NULL);
	T_EQ(hear(k.from), 'c');
	T_ASSERT(fill_until_zero(c, &k));
	T_ASSERT(kid_ok(&k));
	transport_destroy(c);
}

/* The same for a Xen server with a 4 KiB ring. */
CASE(xen_server_full_ring)
{
	struct transport *t;
	struct kid k;

	set_domain(SRV);
	t = transport_server_create(QGUI_BACKEND_XEN, SRV, CLI, PORT, 4096);
	T_ASSERT(t != NULL);
	T_ASSERT(kid_start(&k, kid_slow_client));
	T_EQ(hear(k.from), 'c');
	T_ASSERT(wait_connected(t));
	T_ASSERT(fill_until_zero(t, &k));
	T_ASSERT(kid_ok(&k));
	transport_destroy(t);
}

TEST_MAIN(TEST(xen_server_waiting), TEST(xen_server_socket_client), TEST(socket_server_xen_client),
		TEST(xen_client_full_ring), TEST(xen_server_full_ring))

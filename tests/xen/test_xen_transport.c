/* test_xen_transport.c: the Xen vchan back-end, under the xenshim, against the native socket back-end in another process. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kids.h"
#include "qgui/transport.h"
#include "streams.h"
#include "test.h"

/*
 * Run with LD_PRELOAD=libxenshim.so (make check does): libxenvchan then
 * speaks the socket vchan, so the Xen back-end of one process talks to the
 * socket back-end of another. The helpers are shared with
 * tests/unit/test_transport.c (tests/lib/kids.h, tests/lib/streams.h).
 */

#define SRV 2                  /* server domain (an AppVM agent) */
#define CLI 1                  /* client domain (the GUI qube's daemon) */
#define PORT QGUI_VCHAN_PORT

/* The exchanges of the stream tests: {server -> client, client -> server} bytes, at once. */
static const size_t rounds[][2] = {
	{ 1, 1 }, { 2, 3 }, { 4095, 4097 }, { 65536, 65536 }, { 100000, 1 }, { 1, 100000 },
	{ 1u << 20, 1 }, { 1, 1u << 20 }, { 1u << 20, 1u << 20 },
};

#define NROUNDS (sizeof(rounds) / sizeof(rounds[0]))

/* ------------------------------------------------------------------ cases */

static void set_domain(int d)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", d);
	setenv("VCHAN_DOMAIN", v, 1);
}

/* A Xen server before any client: WAITING, the shim's socket in place, reads and writes 0; a live one is never replaced. */
STREAM_CASE(xen_server_waiting)
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
	T_EQ(lstat(stream_vchan_path(SRV, CLI, PORT), &st), 0);
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
	T_EQ(lstat(stream_vchan_path(SRV, CLI, PORT), &st), -1);
}

static void kid_socket_client(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	unsigned shorts = 0;
	struct stream_flow tail;

	T_ASSERT(c != NULL);
	T_ASSERT(stream_run_rounds(c, false, rounds, NROUNDS, &shorts));
	T_EQ(kid_hear(in), 'g'); /* the parent has checked that it is still connected */
	tail = stream_flow_pattern(50000, 99, 0, 0);
	T_ASSERT(stream_pump(c, &tail)); /* fits in the rings: sent before the parent reads it */
	transport_destroy(c);
	T_ASSERT(kid_say(out, 'z'));
	T_EQ(kid_hear(in), -1);
}

static void kid_socket_client_again(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	unsigned shorts = 0;
	struct stream_flow tail;

	T_ASSERT(c != NULL);
	T_ASSERT(stream_run_rounds(c, false, rounds, 6, &shorts));
	T_ASSERT(kid_say(out, 'd'));
	T_EQ(kid_hear(in), 'x'); /* the Xen server has written its tail and closed */
	tail = stream_flow_pattern(0, 0, 30000, 98);
	T_ASSERT(stream_pump(c, &tail));
	T_ASSERT(stream_expect_epipe(c));
	transport_destroy(c);
}

/* Xen server <-> socket client: streams both ways, the client's close (bytes first, then EPIPE), reset, the server's close. */
STREAM_CASE(xen_server_socket_client)
{
	struct transport *t;
	struct stream_flow tail;
	unsigned shorts = 0;
	struct kid k;
	struct stat st;

	set_domain(SRV);
	t = transport_server_create(QGUI_BACKEND_XEN, SRV, CLI, PORT, 65536);
	T_ASSERT(t != NULL);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_ASSERT(kid_start(&k, kid_socket_client));
	T_ASSERT(stream_run_rounds(t, true, rounds, NROUNDS, &shorts));
	T_EQ(transport_state(t), TRANSPORT_CONNECTED);
	T_ASSERT(shorts > 0); /* 1 MiB does not fit the 64 KiB ring: partial writes */
	T_ASSERT(kid_say(k.to, 'g'));
	T_EQ(kid_hear(k.from), 'z');
	tail = stream_flow_pattern(0, 0, 50000, 99);
	T_ASSERT(stream_pump(t, &tail));
	T_ASSERT(stream_expect_epipe(t));
	T_ASSERT(kid_ok(&k));

	T_EQ(transport_server_reset(t), 0);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_EQ(lstat(stream_vchan_path(SRV, CLI, PORT), &st), 0);
	T_ASSERT(kid_start(&k, kid_socket_client_again));
	T_ASSERT(stream_run_rounds(t, true, rounds, 6, &shorts));
	T_EQ(kid_hear(k.from), 'd');
	tail = stream_flow_pattern(30000, 98, 0, 0);
	T_ASSERT(stream_pump(t, &tail));
	transport_destroy(t); /* what is still in the ring reaches the client before its EOF */
	T_ASSERT(kid_say(k.to, 'x'));
	T_ASSERT(kid_ok(&k));
}

static void kid_socket_server(int in, int out)
{
	struct transport *t;
	struct stream_flow tail;
	unsigned shorts = 0;

	T_EQ(kid_hear(in), 'g');
	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_ASSERT(stream_run_rounds(t, true, rounds, NROUNDS, &shorts));
	T_EQ(kid_hear(in), 'x'); /* the Xen client has written its tail and closed */
	tail = stream_flow_pattern(0, 0, 40000, 97);
	T_ASSERT(stream_pump(t, &tail));
	T_ASSERT(stream_expect_epipe(t));
	T_EQ(transport_server_reset(t), 0);
	tail = stream_flow_pattern(20000, 96, 0, 0);
	T_ASSERT(stream_pump(t, &tail)); /* accepts the second client first */
	transport_destroy(t);
	T_ASSERT(kid_say(out, 'z'));
	T_EQ(kid_hear(in), -1);
}

/* Socket server <-> Xen client: the client retries until the server appears; streams; closes both ways. */
STREAM_CASE(socket_server_xen_client)
{
	struct transport *c;
	struct stream_flow tail;
	unsigned shorts = 0;
	struct kid k;
	int64_t t0;

	set_domain(CLI);
	T_ASSERT(kid_start(&k, kid_socket_server));
	t0 = test_now_ms();
	errno = 0;
	T_ASSERT(transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, 0) == NULL);
	T_ASSERT(errno == ENOENT || errno == ETIMEDOUT); /* ENOENT: the shim has no /dev/xen either */
	T_ASSERT(test_now_ms() - t0 < 1000);
	T_ASSERT(kid_say(k.to, 'g'));
	c = transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, KID_WAIT_MS);
	T_ASSERT(c != NULL);
	T_EQ(transport_backend(c), QGUI_BACKEND_XEN);
	T_EQ(transport_state(c), TRANSPORT_CONNECTED);
	T_EQ(transport_server_reset(c), -EINVAL);
	T_ASSERT(stream_run_rounds(c, false, rounds, NROUNDS, &shorts));
	T_ASSERT(shorts > 0);
	tail = stream_flow_pattern(40000, 97, 0, 0);
	T_ASSERT(stream_pump(c, &tail));
	transport_destroy(c);
	T_ASSERT(kid_say(k.to, 'x'));

	c = transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, KID_WAIT_MS);
	T_ASSERT(c != NULL);
	T_EQ(kid_hear(k.from), 'z'); /* the server wrote its tail and closed */
	tail = stream_flow_pattern(0, 0, 20000, 96);
	T_ASSERT(stream_pump(c, &tail));
	T_ASSERT(stream_expect_epipe(c));
	transport_destroy(c);
	T_ASSERT(kid_ok(&k));
}

/* Socket peer that reads nothing until told how much was written. */
static void kid_slow_peer(struct transport *t, int in, int out)
{
	size_t total = 0;
	struct stream_flow f;

	T_ASSERT(t != NULL);
	T_ASSERT(kid_say(out, 'c'));
	T_ASSERT(kid_hear_size(in, &total));
	f = stream_flow_pattern(0, 0, total, 77);
	T_ASSERT(stream_pump(t, &f));
	T_ASSERT(kid_say(out, 'd'));
	T_EQ(kid_hear(in), -1);
	transport_destroy(t);
}

static void kid_slow_server(int in, int out)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);

	T_ASSERT(t != NULL);
	T_ASSERT(stream_wait_connected(t));
	kid_slow_peer(t, in, out);
}

static void kid_slow_client(int in, int out)
{
	kid_slow_peer(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS), in, out);
}

/* Writes to t until it has returned 0 three times, each call returning at once; then the peer drains it all. */
static bool fill_until_zero(struct transport *t, struct kid *k)
{
	const uint8_t *src = stream_flow_pattern(STREAM_BIG, 77, 0, 0).out;
	int64_t deadline;
	size_t total = 0;
	int zeros = 0;
	ssize_t r;

	while (zeros < 3) {
		int64_t t0 = test_now_ms();

		if (total >= STREAM_BIG) {
			test_fail(__FILE__, __LINE__, "%zu bytes written and still no 0", total);
			return false;
		}
		r = transport_write(t, src + total, 65536);
		if (r < 0 || test_now_ms() - t0 > 1000) {
			test_fail(__FILE__, __LINE__, "write: %zd (%s)", r, strerror(errno));
			return false;
		}
		total += (size_t)r;
		zeros += r == 0;
	}
	if (total == 0 || !kid_say_size(k->to, total) || kid_hear(k->from) != 'd') {
		test_fail(__FILE__, __LINE__, "the peer did not read the %zu bytes written", total);
		return false;
	}
	/* room again: an event comes, and write takes bytes */
	deadline = test_now_ms() + KID_WAIT_MS;
	while ((r = transport_write(t, "x", 1)) == 0) {
		struct pollfd p;
		int64_t left = deadline - test_now_ms();

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
STREAM_CASE(xen_client_full_ring)
{
	struct transport *c;
	struct kid k;

	set_domain(CLI);
	setenv("XENSHIM_CLIENT_RING", "4096", 1);
	T_ASSERT(kid_start(&k, kid_slow_server));
	c = transport_client_create(QGUI_BACKEND_XEN, CLI, SRV, PORT, KID_WAIT_MS);
	unsetenv("XENSHIM_CLIENT_RING");
	T_ASSERT(c != NULL);
	T_EQ(kid_hear(k.from), 'c');
	T_ASSERT(fill_until_zero(c, &k));
	T_ASSERT(kid_ok(&k));
	transport_destroy(c);
}

/* The same for a Xen server with a 4 KiB ring. */
STREAM_CASE(xen_server_full_ring)
{
	struct transport *t;
	struct kid k;

	set_domain(SRV);
	t = transport_server_create(QGUI_BACKEND_XEN, SRV, CLI, PORT, 4096);
	T_ASSERT(t != NULL);
	T_ASSERT(kid_start(&k, kid_slow_client));
	T_EQ(kid_hear(k.from), 'c');
	T_ASSERT(stream_wait_connected(t));
	T_ASSERT(fill_until_zero(t, &k));
	T_ASSERT(kid_ok(&k));
	transport_destroy(t);
}

TEST_MAIN(TEST(xen_server_waiting), TEST(xen_server_socket_client), TEST(socket_server_xen_client),
		TEST(xen_client_full_ring), TEST(xen_server_full_ring))

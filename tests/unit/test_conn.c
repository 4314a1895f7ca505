/* test_conn.c: the session object: handshake in both roles, partial reads and writes, caps, errors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qgui/conn.h"
#include "test.h"

/* A connected pair: one end wrapped as a transport, the other a raw non-blocking fd. */
struct pair {
	struct transport *t;
	int raw;
};

static int pair_open(struct pair *p)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		return -1;
	}
	p->t = transport_from_fd(sv[0]);
	p->raw = sv[1];
	return p->t ? 0 : -1;
}

static void pair_close(struct pair *p)
{
	transport_destroy(p->t);
	if (p->raw >= 0) {
		close(p->raw);
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* the wire is little-endian, as is every host this runs on */
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Reads exactly n bytes from fd within 5 s. */
static int read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, 5000) <= 0) {
			return -1;
		}
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0) {
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* True when fd has nothing to read right now. */
static int quiet(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 20) == 0;
}

/* Calls conn_next until it returns something other than CONN_NONE (polling up to 5 s). */
static int next_event(struct conn *c, struct proto_msg *m)
{
	for (int i = 0; i < 500; i++) {
		struct pollfd pfd;
		int rc = conn_next(c, m);

		if (rc != CONN_NONE) {
			return rc;
		}
		conn_pollfd(c, &pfd);
		poll(&pfd, 1, 10);
		if (conn_handle(c, pfd.revents) < 0 && pfd.revents == 0) {
			break;
		}
	}
	return CONN_NONE;
}

static void write_all(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);

		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (w <= 0) {
			return;
		}
		done += (size_t)w;
	}
}

static void daemon_handshake_versions(void)
{
	for (uint32_t minor = 0; minor <= 9; minor++) {
		struct pair p;
		struct conn_params cp;
		struct conn *c;
		struct proto_msg m;
		uint8_t buf[20];
		uint32_t expect = minor < 8 ? minor : 8;

		T_EQ(pair_open(&p), 0);
		conn_params_default(&cp, CONN_DAEMON);
		proto_xconf_for_screen(1366, 768, 24, &cp.xconf);
		c = conn_create(p.t, &cp);
		T_ASSERT(c != NULL);
		T_EQ(conn_next(c, &m), CONN_NONE);
		T_EQ(conn_send(c, &(struct proto_msg){ .type = MSG_CLOSE }), -EAGAIN);
		put32(buf, 0x00010000 | minor);
		write_all(p.raw, buf, 4);
		T_EQ(next_event(c, &m), CONN_READY);
		T_EQ(conn_version(c), 0x00010000 | expect);
		T_EQ(conn_peer_version(c), 0x00010000 | minor);
		if (expect >= 4) {
			/* from 1.4 the daemon answers with the negotiated version, then xconf */
			T_EQ(read_exact(p.raw, buf, 20), 0);
			T_EQ_U(get32(buf), 0x00010000 | expect);
			T_EQ(get32(buf + 4), 1368);
			T_EQ(get32(buf + 8), 768);
			T_EQ(get32(buf + 12), 24);
			T_EQ(get32(buf + 16), 1368 * 768 * 4 / 1024 + 1);
		} else {
			T_EQ(read_exact(p.raw, buf, 16), 0);
			T_EQ(get32(buf), 1368);
		}
		T_ASSERT(quiet(p.raw));
		conn_destroy(c);
		pair_close(&p);
	}
}

static void daemon_refuses_major(void)
{
	static const uint32_t bad[] = { 0x00020000, 0x00020008, 0x00000008, 0xffffffff };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pair p;
		struct conn_params cp;
		struct conn *c;
		struct proto_msg m;
		uint8_t buf[4];

		T_EQ(pair_open(&p), 0);
		conn_params_default(&cp, CONN_DAEMON);
		c = conn_create(p.t, &cp);
		put32(buf, bad[i]);
		write_all(p.raw, buf, 4);
		T_EQ(next_event(c, &m), -EPROTONOSUPPORT);
		T_ASSERT(strstr(conn_error(c), "not supported") != NULL);
		T_EQ(conn_next(c, &m), -EPROTONOSUPPORT); /* stays broken */
		T_ASSERT(quiet(p.raw));                   /* no xconf for a refused agent */
		conn_destroy(c);
		pair_close(&p);
	}
}

static void agent_handshake_versions(void)
{
	for (uint32_t minor = 0; minor <= 9; minor++) {
		struct pair p;
		struct conn_params cp;
		struct conn *c;
		struct proto_msg m;
		uint8_t buf[20];
		uint32_t answer = minor < 8 ? minor : 8;
		size_t n = 0;

		T_EQ(pair_open(&p), 0);
		conn_params_default(&cp, CONN_AGENT);
		cp.version = 0x00010000 | minor;
		c = conn_create(p.t, &cp);
		T_ASSERT(c != NULL);
		/* the agent speaks first: its version word */
		T_EQ(read_exact(p.raw, buf, 4), 0);
		T_EQ_U(get32(buf), 0x00010000 | minor);
		if (minor >= 4) {
			put32(buf, 0x00010000 | answer);
			n = 4;
		}
		put32(buf + n, 800), put32(buf + n + 4, 600), put32(buf + n + 8, 24), put32(buf + n + 12, 1876);
		write_all(p.raw, buf, n + 16);
		T_EQ(next_event(c, &m), CONN_READY);
		T_EQ(conn_version(c), 0x00010000 | (minor >= 4 ? answer : minor));
		T_EQ(conn_xconf(c)->w, 800);
		T_EQ(conn_xconf(c)->mem, 1876);
		conn_destroy(c);
		pair_close(&p);
	}
}

static void agent_refuses_daemon(void)
{
	/* answers an agent offering 1.7 must refuse: below 1.4, above its offer, another major */
	static const uint32_t bad[] = { 0x00010003, 0x00010008, 0x00020007, 0x00000007 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pair p;
		struct conn_params cp;
		struct conn *c;
		struct proto_msg m;
		uint8_t buf[20] = { 0 };

		T_EQ(pair_open(&p), 0);
		conn_params_default(&cp, CONN_AGENT);
		cp.version = 0x00010007;
		c = conn_create(p.t, &cp);
		T_EQ(read_exact(p.raw, buf, 4), 0);
		put32(buf, bad[i]);
		write_all(p.raw, buf, 20);
		T_EQ(next_event(c, &m), -EPROTONOSUPPORT);
		T_ASSERT(strstr(conn_error(c), "daemon protocol version") != NULL);
		conn_destroy(c);
		pair_close(&p);
	}
}

/* A daemon session past its handshake, with the raw agent end. */
static struct conn *ready_daemon(struct pair *p, const struct conn_params *cpin)
{
	struct conn_params cp;
	struct conn *c;
	struct proto_msg m;
	uint8_t buf[20];

	if (pair_open(p) != 0) {
		return NULL;
	}
	if (cpin) {
		cp = *cpin;
	} else {
		conn_params_default(&cp, CONN_DAEMON);
	}
	c = conn_create(p->t, &cp);
	put32(buf, QUBES_GUID_PROTOCOL_VERSION);
	write_all(p->raw, buf, 4);
	if (next_event(c, &m) != CONN_READY || read_exact(p->raw, buf, 20) != 0) {
		conn_destroy(c);
		return NULL;
	}
	return c;
}

static void partial_reads(void)
{
	struct pair p;
	struct conn *c = ready_daemon(&p, NULL);
	struct proto_msg m;
	uint8_t msg[12 + 128];
	size_t n;

	T_ASSERT(c != NULL);
	n = proto_encode(&(struct proto_msg){ MSG_WMNAME, 77, .u.wmname = { "slow title" } },
			QUBES_GUID_PROTOCOL_VERSION, msg);
	for (size_t i = 0; i < n; i++) {
		T_EQ(conn_next(c, &m), CONN_NONE);
		write_all(p.raw, msg + i, 1);
		if (i + 1 < n) {
			T_ASSERT(quiet(p.raw)); /* (lets the byte arrive) */
		}
	}
	T_EQ(next_event(c, &m), CONN_MSG);
	T_EQ(m.type, MSG_WMNAME);
	T_EQ(m.window, 77);
	T_STR(m.u.wmname.title, "slow title");
	T_EQ(conn_next(c, &m), CONN_NONE);
	conn_destroy(c);
	pair_close(&p);
}

static void big_dump_in_pieces(void)
{
	struct pair p;
	struct conn *c = ready_daemon(&p, NULL);
	struct proto_msg m;
	size_t nrefs = 98304, len = 12 + 16 + nrefs * 4, sent = 0, piece = 1;
	uint8_t *wire = malloc(len), *refs = malloc(nrefs * 4);
	int got = 0;

	T_ASSERT(c != NULL && wire && refs);
	for (size_t i = 0; i < nrefs; i++) {
		put32(refs + 4 * i, (uint32_t)(i * 7 + 1));
	}
	proto_encode(&(struct proto_msg){ MSG_WINDOW_DUMP, 3, .u.dump = { 16384, 6144, 32, (uint32_t)nrefs, refs } },
			QUBES_GUID_PROTOCOL_VERSION, wire);
	fcntl(p.raw, F_SETFL, O_NONBLOCK);
	while (sent < len || !got) {
		if (sent < len) {
			size_t k = piece < len - sent ? piece : len - sent;
			ssize_t w = write(p.raw, wire + sent, k);

			if (w > 0) {
				sent += (size_t)w;
			}
			piece = piece * 3 + 1; /* 1, 4, 13, ... uneven pieces */
			if (piece > 50000) {
				piece = 17;
			}
		}
		int rc = conn_next(c, &m);

		T_ASSERT(rc == CONN_NONE || rc == CONN_MSG);
		if (rc == CONN_MSG) {
			T_EQ(sent, len); /* never delivered before the last byte */
			got = 1;
		}
	}
	T_EQ(m.type, MSG_WINDOW_DUMP);
	T_EQ(m.u.dump.nrefs, nrefs);
	T_EQ(proto_dump_ref(&m.u.dump, 0), 1);
	T_EQ(proto_dump_ref(&m.u.dump, 98303), 98303 * 7 + 1);
	free(wire);
	free(refs);
	conn_destroy(c);
	pair_close(&p);
}

static void truncated_then_close(void)
{
	struct pair p;
	struct conn *c = ready_daemon(&p, NULL);
	struct proto_msg m;
	uint8_t msg[12 + 24];

	T_ASSERT(c != NULL);
	proto_encode(&(struct proto_msg){ MSG_CREATE, 1, .u.create = { 0, 0, 10, 10, false } },
			QUBES_GUID_PROTOCOL_VERSION, msg);
	write_all(p.raw, msg, 20); /* header and part of the body */
	T_EQ(conn_next(c, &m), CONN_NONE);
	close(p.raw);
	p.raw = -1;
	T_EQ(next_event(c, &m), -EPIPE);
	T_EQ(conn_next(c, &m), -EPIPE);
	conn_destroy(c);
	pair_close(&p);
}

static void violations_and_drops(void)
{
	struct pair p;
	struct conn *c = ready_daemon(&p, NULL);
	struct proto_msg m;
	uint8_t msg[64];
	size_t n;

	T_ASSERT(c != NULL);
	/* a dropped message (zero-size configure) does not end the session */
	n = proto_encode(&(struct proto_msg){ MSG_CONFIGURE, 1, .u.configure = { 0, 0, 0, 5, false } },
			QUBES_GUID_PROTOCOL_VERSION, msg);
	write_all(p.raw, msg, n);
	n = proto_encode(&(struct proto_msg){ .type = MSG_UNMAP, .window = 9 }, QUBES_GUID_PROTOCOL_VERSION, msg);
	write_all(p.raw, msg, n);
	T_EQ(next_event(c, &m), CONN_DROPPED);
	T_STR(conn_error(c), "zero window size");
	T_EQ(next_event(c, &m), CONN_MSG);
	T_EQ(m.type, MSG_UNMAP);
	T_EQ(m.window, 9);
	/* a wrong length ends it, and it stays ended */
	put32(msg, MSG_UNMAP), put32(msg + 4, 1), put32(msg + 8, 4);
	write_all(p.raw, msg, 16);
	T_EQ(next_event(c, &m), -EPROTO);
	T_STR(conn_error(c), "message length does not match its type");
	T_EQ(conn_next(c, &m), -EPROTO);
	T_EQ(conn_send(c, &(struct proto_msg){ .type = MSG_CLOSE, .window = 1 }), -EPROTO);
	conn_destroy(c);
	pair_close(&p);

	/* a huge declared length is refused from the header alone: nothing more is read */
	c = ready_daemon(&p, NULL);
	T_ASSERT(c != NULL);
	put32(msg, MSG_CLIPBOARD_DATA), put32(msg + 4, 0), put32(msg + 8, 0x7fffffff);
	write_all(p.raw, msg, 12);
	T_EQ(next_event(c, &m), -EPROTO);
	conn_destroy(c);
	pair_close(&p);
}

static void output_cap(void)
{
	struct pair p;
	struct conn_params cp;
	struct conn *c;
	struct proto_msg key = { MSG_KEYPRESS, 1, .u.key = { QGUI_KeyPress, 1, 2, 0, 38 } };
	size_t sent = 0;
	int rc = 0;

	conn_params_default(&cp, CONN_DAEMON);
	cp.out_cap = 1 << 20;
	c = ready_daemon(&p, &cp);
	T_ASSERT(c != NULL);
	/* the agent reads nothing: sends never block, the queue grows, then the cap ends the session */
	while (sent < 200000 && (rc = conn_send(c, &key)) == 0) {
		sent++;
	}
	T_EQ(rc, -ENOBUFS);
	T_ASSERT(sent > (1 << 20) / 32);
	T_ASSERT(conn_queued(c) <= (size_t)1 << 20);
	T_ASSERT(strstr(conn_error(c), "cap") != NULL);
	conn_destroy(c);
	pair_close(&p);
}

static void queued_output_arrives_in_order(void)
{
	struct pair p;
	struct conn *c = ready_daemon(&p, NULL);
	uint8_t buf[32];
	uint32_t n = 20000;

	T_ASSERT(c != NULL);
	for (uint32_t i = 0; i < n; i++) {
		T_EQ(conn_send(c, &(struct proto_msg){ MSG_MOTION, i, .u.motion = { (int32_t)i, 0, 0, 0 } }), 0);
	}
	T_ASSERT(conn_queued(c) > 0); /* 560 000 bytes do not fit in a socket buffer */
	for (uint32_t i = 0; i < n; i++) {
		if (i % 64 == 0) {
			struct pollfd pfd;

			conn_pollfd(c, &pfd);
			T_ASSERT(conn_queued(c) == 0 || (pfd.events & POLLOUT));
			poll(&pfd, 1, 0);
			T_EQ(conn_handle(c, pfd.revents), 0);
		}
		T_EQ(read_exact(p.raw, buf, 28), 0);
		T_EQ(get32(buf), MSG_MOTION);
		T_EQ(get32(buf + 4), i);
		T_EQ(get32(buf + 8), 16);
		T_EQ(get32(buf + 12), i);
	}
	T_EQ(conn_queued(c), 0);
	conn_destroy(c);
	pair_close(&p);
}

static void agent_and_daemon_talk(void)
{
	int sv[2];
	struct transport *ta, *td;
	struct conn_params pa, pd;
	struct conn *a, *d;
	struct proto_msg m;
	const uint8_t refs[8] = { 5, 0, 0, 0, 6, 0, 0, 0 };

	T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ta = transport_from_fd(sv[0]);
	td = transport_from_fd(sv[1]);
	conn_params_default(&pa, CONN_AGENT);
	conn_params_default(&pd, CONN_DAEMON);
	a = conn_create(ta, &pa);
	d = conn_create(td, &pd);
	T_EQ(next_event(d, &m), CONN_READY);
	T_EQ(next_event(a, &m), CONN_READY);
	T_EQ(conn_send(a, &(struct proto_msg){ MSG_CREATE, 0x400001, .u.create = { 1, 2, 30, 40, false } }), 0);
	T_EQ(conn_send(a, &(struct proto_msg){ MSG_WINDOW_DUMP, 0x400001,
					  .u.dump = { 30, 40, 32, 2, refs } }), 0);
	T_EQ(next_event(d, &m), CONN_MSG);
	T_EQ(m.type, MSG_CREATE);
	T_EQ(m.u.create.height, 40);
	T_EQ(next_event(d, &m), CONN_MSG);
	T_EQ(m.type, MSG_WINDOW_DUMP);
	T_EQ(proto_dump_ref(&m.u.dump, 1), 6);
	T_EQ(conn_send(d, &(struct proto_msg){ .type = MSG_WINDOW_DUMP_ACK, .window = 0x400001 }), 0);
	T_EQ(next_event(a, &m), CONN_MSG);
	T_EQ(m.type, MSG_WINDOW_DUMP_ACK);
	T_EQ(m.window, 0x400001);
	conn_destroy(a);
	conn_destroy(d);
	transport_destroy(ta);
	transport_destroy(td);
}


/* A valid stream cut at every byte, then closed: every whole message arrives, then -EPIPE, never a hang. */
static void stream_cut_everywhere(void)
{
	static const uint8_t refs[8] = { 1, 0, 0, 0, 2, 0, 0, 0 };
	const struct proto_msg msgs[] = {
		{ MSG_CREATE, 1, .u.create = { 0, 0, 32, 32, false } },
		{ MSG_WMNAME, 1, .u.wmname = { "cut" } },
		{ MSG_WINDOW_DUMP, 1, .u.dump = { 32, 32, 32, 2, refs } },
		{ MSG_CLIPBOARD_DATA, 0, .u.clipboard = { (const uint8_t *)"abcdef", 6, false } },
		{ MSG_MAP, 1, .u.map = { 0, false } },
	};
	uint8_t stream[1024];
	size_t ends[5], len = 0;

	for (size_t i = 0; i < 5; i++) {
		len += proto_encode(&msgs[i], QUBES_GUID_PROTOCOL_VERSION, stream + len);
		ends[i] = len;
	}
	for (size_t cut = 0; cut <= len; cut++) {
		struct pair p;
		struct conn *c = ready_daemon(&p, NULL);
		struct proto_msg m;
		size_t whole = 0;
		int rc;

		T_ASSERT(c != NULL);
		write_all(p.raw, stream, cut);
		close(p.raw);
		p.raw = -1;
		while ((rc = next_event(c, &m)) == CONN_MSG) {
			T_EQ(m.type, msgs[whole].type);
			whole++;
		}
		T_EQ(rc, -EPIPE);
		for (size_t i = 0; i < 5; i++) {
			if (ends[i] <= cut) {
				T_ASSERT(whole > i);
			}
		}
		T_ASSERT(whole == 5 || ends[whole] > cut);
		conn_destroy(c);
		pair_close(&p);
	}
}

TEST_MAIN(TEST(daemon_handshake_versions), TEST(daemon_refuses_major), TEST(agent_handshake_versions),
		TEST(agent_refuses_daemon), TEST(partial_reads), TEST(big_dump_in_pieces), TEST(truncated_then_close),
		TEST(violations_and_drops), TEST(output_cap), TEST(queued_output_arrives_in_order),
		TEST(agent_and_daemon_talk), TEST(stream_cut_everywhere))

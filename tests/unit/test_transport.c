/* test_transport.c: the socket vchan between real processes, its file rules, and the Xen back-end without Xen. */
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
#include <sys/un.h>
#include <unistd.h>

#include "kids.h"
#include "qgui/transport.h"
#include "streams.h"
#include "test.h"

#define SRV 2                  /* server domain (an AppVM agent) */
#define CLI 1                  /* client domain (the GUI qube's daemon) */
#define PORT QGUI_VCHAN_PORT

/* ------------------------------------------------------------------ helpers */

/* Points a at path; false when it does not fit sun_path. */
static bool set_addr(struct sockaddr_un *a, const char *path)
{
	size_t n = strlen(path);

	if (n >= sizeof(a->sun_path)) {
		return false;
	}
	memcpy(a->sun_path, path, n + 1);
	return true;
}

/* The exchanges of the stream tests: {server -> client, client -> server} bytes, at once. */
static const size_t rounds[][2] = {
	{ 1, 1 }, { 2, 3 }, { 4095, 4097 }, { 65536, 65536 }, { 100000, 1 }, { 1, 100000 },
	{ 1u << 20, 1u << 20 }, { STREAM_BIG, 1 }, { 1, STREAM_BIG }, { STREAM_BIG, STREAM_BIG },
};

#define NROUNDS (sizeof(rounds) / sizeof(rounds[0]))

/* ------------------------------------------------------------------ cases */

static void kid_client_rounds(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	unsigned shorts = 0;

	(void)in;
	T_ASSERT(c != NULL);
	T_EQ(transport_state(c), TRANSPORT_CONNECTED);
	T_EQ(transport_backend(c), QGUI_BACKEND_SOCKET);
	T_ASSERT(stream_run_rounds(c, false, rounds, NROUNDS, &shorts));
	T_ASSERT(shorts > 0); /* 4 MiB never fits a socket buffer: partial writes happened */
	T_ASSERT(kid_say(out, 'd'));
	T_EQ(kid_hear(in), -1); /* the parent checked the stream; now close */
	transport_destroy(c);
}

/* Server first: the client connects at once; streams of 1 B to 4 MiB both ways. */
STREAM_CASE(server_first_streams)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	struct kid k;
	unsigned shorts = 0;

	T_ASSERT(t != NULL);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_ASSERT(kid_start(&k, kid_client_rounds));
	T_ASSERT(stream_run_rounds(t, true, rounds, NROUNDS, &shorts));
	T_EQ(transport_state(t), TRANSPORT_CONNECTED);
	T_ASSERT(shorts > 0);
	T_EQ(kid_hear(k.from), 'd');
	T_ASSERT(kid_ok(&k));
	T_ASSERT(stream_expect_epipe(t));
	transport_destroy(t);
}

static void kid_client_first(int in, int out)
{
	struct transport *c;
	int64_t t0 = test_now_ms();
	unsigned shorts = 0;

	c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0);
	T_ASSERT(c == NULL);
	T_EQ(errno, ETIMEDOUT); /* no server yet: this client really came first */
	T_ASSERT(kid_say(out, 'r'));
	c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	T_ASSERT(c != NULL);
	T_ASSERT(test_now_ms() - t0 < KID_WAIT_MS);
	T_ASSERT(stream_run_rounds(c, false, rounds, NROUNDS, &shorts));
	T_EQ(kid_hear(in), -1);
	transport_destroy(c);
}

/* Client first: it retries until the server appears; then the same streams. */
STREAM_CASE(client_first_streams)
{
	struct transport *t;
	struct kid k;
	unsigned shorts = 0;

	T_ASSERT(kid_start(&k, kid_client_first));
	T_EQ(kid_hear(k.from), 'r');
	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_ASSERT(stream_run_rounds(t, true, rounds, NROUNDS, &shorts));
	T_ASSERT(kid_ok(&k));
	T_ASSERT(stream_expect_epipe(t));
	transport_destroy(t);
}

/* No server: ETIMEDOUT after about timeout_ms (and at once for 0), also when a stale socket refuses. */
STREAM_CASE(client_timeout)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int64_t t0, el;
	int fd;

	t0 = test_now_ms();
	errno = 0;
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 150) == NULL);
	el = test_now_ms() - t0;
	T_EQ(errno, ETIMEDOUT);
	T_ASSERT(el >= 150);
	T_ASSERT(el < 2000);

	t0 = test_now_ms();
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0) == NULL);
	T_EQ(errno, ETIMEDOUT);
	T_ASSERT(test_now_ms() - t0 < 1000);

	/* a stale socket file (nobody listening) refuses: retried the same way */
	T_ASSERT(set_addr(&a, stream_vchan_path(SRV, CLI, PORT)));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(fd >= 0);
	T_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	t0 = test_now_ms();
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 60) == NULL);
	T_EQ(errno, ETIMEDOUT);
	T_ASSERT(test_now_ms() - t0 >= 60);
}

/* The file is exactly vchan.<S>.<C>.<P>.sock, mode 0660 whatever the umask; only that client gets in. */
STREAM_CASE(path_and_mode)
{
	struct transport *t, *c;
	struct stat st;
	DIR *d;
	struct dirent *e;
	int n = 0;
	mode_t old = umask(0);

	t = transport_server_create(QGUI_BACKEND_AUTO, 5, 7, 6123, 4096);
	umask(old);
	T_ASSERT(t != NULL);
	T_EQ(transport_backend(t), QGUI_BACKEND_SOCKET); /* AUTO without /dev/xen/gntdev */
	T_EQ(lstat(stream_vchan_path(5, 7, 6123), &st), 0);
	T_ASSERT(S_ISSOCK(st.st_mode));
	T_EQ_U(st.st_mode & 07777, 0660);
	d = opendir(stream_case_dir());
	T_ASSERT(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
			if (strcmp(e->d_name, "vchan.5.7.6123.sock") != 0) {
				test_fail(__FILE__, __LINE__, "unexpected file %s", e->d_name);
			}
		}
	}
	closedir(d);
	T_EQ(n, 1);
	T_ASSERT(test_ok());

	/* wrong client domain, wrong server domain, wrong port: not this socket */
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, 8, 5, 6123, 0) == NULL);
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, 7, 6, 6123, 0) == NULL);
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, 7, 5, 6124, 0) == NULL);
	T_EQ(transport_handle(t, 0), TRANSPORT_WAITING);
	c = transport_client_create(QGUI_BACKEND_SOCKET, 7, 5, 6123, 0);
	T_ASSERT(c != NULL);
	T_ASSERT(stream_wait_connected(t));
	transport_destroy(c);
	transport_destroy(t);

	/* with a restrictive umask too */
	old = umask(077);
	t = transport_server_create(QGUI_BACKEND_SOCKET, 5, 7, 6123, 0);
	umask(old);
	T_ASSERT(t != NULL);
	T_EQ(lstat(stream_vchan_path(5, 7, 6123), &st), 0);
	T_EQ_U(st.st_mode & 07777, 0660);
	transport_destroy(t);
}

/* A missing socket directory is created (one level); a missing parent is an error. */
STREAM_CASE(socket_dir_created)
{
	char dir[600], deep[700];
	struct transport *t;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/sub", stream_case_dir());
	setenv("VCHAN_SOCKET_DIR", dir, 1);
	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_EQ(stat(dir, &st), 0);
	T_ASSERT(S_ISDIR(st.st_mode));
	transport_destroy(t);

	snprintf(deep, sizeof(deep), "%s/a/b", stream_case_dir());
	setenv("VCHAN_SOCKET_DIR", deep, 1);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0) == NULL);
	T_EQ(errno, ENOENT);
	setenv("VCHAN_SOCKET_DIR", stream_case_dir(), 1);
}

/* A socket file nobody listens on (its server died) is replaced, and the new server works. */
STREAM_CASE(stale_socket_replaced)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct transport *t, *c;
	struct stat st;
	int fd;

	T_ASSERT(set_addr(&a, stream_vchan_path(SRV, CLI, PORT)));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(fd >= 0);
	T_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	T_EQ(listen(fd, 1), 0);
	close(fd); /* the file stays: stale */
	T_EQ(lstat(a.sun_path, &st), 0);

	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_EQ(lstat(a.sun_path, &st), 0);
	T_EQ_U(st.st_mode & 07777, 0660);
	c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0);
	T_ASSERT(c != NULL);
	T_ASSERT(stream_wait_connected(t));
	{
		struct stream_flow f = stream_flow_bytes("hi", 2, NULL, 0), g = stream_flow_bytes(NULL, 0, "hi", 2);

		T_ASSERT(stream_pump(c, &f));
		T_ASSERT(stream_pump(t, &g));
	}
	transport_destroy(c);
	transport_destroy(t);
}

static void kid_live_server(int in, int out)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);

	T_ASSERT(t != NULL);
	T_ASSERT(kid_say(out, 'r'));
	T_EQ(kid_hear(in), -1);
	/* the parent's failed attempt did not connect to find out: no client arrived */
	T_EQ(transport_handle(t, POLLIN), TRANSPORT_WAITING);
	transport_destroy(t);
}

/* A live server (in another process, or this one) is never replaced: EADDRINUSE, and it sees no client. */
STREAM_CASE(live_server_eaddrinuse)
{
	struct transport *t1, *t2;
	struct stat before, after;
	struct kid k;

	T_ASSERT(kid_start(&k, kid_live_server));
	T_EQ(kid_hear(k.from), 'r');
	T_EQ(lstat(stream_vchan_path(SRV, CLI, PORT), &before), 0);
	errno = 0;
	t2 = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t2 == NULL);
	T_EQ(errno, EADDRINUSE);
	T_EQ(lstat(stream_vchan_path(SRV, CLI, PORT), &after), 0);
	T_EQ_U(after.st_ino, before.st_ino);
	T_ASSERT(kid_ok(&k));

	t1 = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT + 1, 0);
	T_ASSERT(t1 != NULL);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT + 1, 0) == NULL);
	T_EQ(errno, EADDRINUSE);
	T_EQ(transport_handle(t1, POLLIN), TRANSPORT_WAITING);
	transport_destroy(t1);
}

/* Binds a plain socket to path; listening or not. Returns the fd or -1. */
static int raw_bind(const char *path, bool listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || !set_addr(&a, path) || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
			(listening && listen(fd, 1) != 0)) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	return fd;
}

/*
 * Liveness goes by the socket file itself, not its name: a live server seen
 * through another spelling of the directory is still live, and a listener
 * whose file was unlinked does not keep a new stale file of that name.
 */
STREAM_CASE(live_server_by_inode)
{
	char other[600], cwd[600];
	struct transport *t1, *t2;
	int orphan, stale;

	t1 = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t1 != NULL);
	snprintf(other, sizeof(other), "%s/./", stream_case_dir());
	setenv("VCHAN_SOCKET_DIR", other, 1);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0) == NULL);
	T_EQ(errno, EADDRINUSE);
	T_ASSERT(getcwd(cwd, sizeof(cwd)) != NULL);
	T_EQ(chdir(stream_case_dir()), 0);
	setenv("VCHAN_SOCKET_DIR", ".", 1);
	errno = 0;
	t2 = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_EQ(chdir(cwd), 0);
	setenv("VCHAN_SOCKET_DIR", stream_case_dir(), 1);
	T_ASSERT(t2 == NULL);
	T_EQ(errno, EADDRINUSE);
	T_EQ(transport_handle(t1, POLLIN), TRANSPORT_WAITING); /* and it saw no probe */
	transport_destroy(t1);

	/* an orphaned listener of the same name, and a stale file in its place */
	orphan = raw_bind(stream_vchan_path(SRV, CLI, PORT), true);
	T_ASSERT(orphan >= 0);
	T_EQ(unlink(stream_vchan_path(SRV, CLI, PORT)), 0);
	stale = raw_bind(stream_vchan_path(SRV, CLI, PORT), false);
	T_ASSERT(stale >= 0);
	close(stale);
	t1 = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	close(orphan);
	T_ASSERT(t1 != NULL);
	transport_destroy(t1);
}

/* A non-socket file in the way: EEXIST, and it is left alone. */
STREAM_CASE(regular_file_eexist)
{
	const char *p = stream_vchan_path(SRV, CLI, PORT);
	char buf[32] = { 0 };
	int fd;

	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	T_ASSERT(fd >= 0);
	T_EQ(write(fd, "not a socket", 12), 12);
	close(fd);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0) == NULL);
	T_EQ(errno, EEXIST);
	fd = open(p, O_RDONLY);
	T_ASSERT(fd >= 0);
	T_EQ(read(fd, buf, sizeof(buf)), 12);
	close(fd);
	T_STR(buf, "not a socket");

	T_EQ(mkdir(stream_vchan_path(SRV, CLI, PORT + 1), 0700), 0);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT + 1, 0) == NULL);
	T_EQ(errno, EEXIST);
}

static void kid_slow_reader(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	size_t total = 0;
	struct stream_flow f;

	T_ASSERT(c != NULL);
	T_ASSERT(kid_say(out, 'c'));
	T_ASSERT(kid_hear_size(in, &total)); /* reads nothing until the parent's writes return 0 */
	f = stream_flow_pattern(0, 0, total, 77);
	T_ASSERT(stream_pump(c, &f));
	T_ASSERT(kid_say(out, 'd'));
	T_EQ(kid_hear(in), -1);
	transport_destroy(c);
}

/* A peer that does not read: write returns 0 (never blocks); nothing is lost; room comes back. */
STREAM_CASE(write_full_returns_zero)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	const uint8_t *src;
	size_t total = 0;
	int zeros = 0;
	struct pollfd p;
	struct kid k;
	ssize_t r;

	T_ASSERT(t != NULL);
	T_ASSERT(kid_start(&k, kid_slow_reader));
	T_EQ(kid_hear(k.from), 'c');
	T_ASSERT(stream_wait_connected(t));
	src = stream_flow_pattern(STREAM_BIG, 77, 0, 0).out;
	while (zeros < 3) {
		int64_t t0 = test_now_ms();

		T_ASSERT(total < STREAM_BIG);
		r = transport_write(t, src + total, 65536);
		T_ASSERT(r >= 0);
		T_ASSERT(test_now_ms() - t0 < 1000);
		total += (size_t)r;
		zeros += r == 0;
	}
	T_ASSERT(total > 0);
	T_ASSERT(kid_say_size(k.to, total));
	T_EQ(kid_hear(k.from), 'd'); /* the child read every byte, in order */
	transport_pollfd(t, true, &p);
	T_EQ(poll(&p, 1, KID_WAIT_MS), 1);
	T_ASSERT(p.revents & POLLOUT);
	T_EQ(transport_handle(t, p.revents), TRANSPORT_CONNECTED);
	T_ASSERT(transport_write(t, "x", 1) == 1);
	T_ASSERT(kid_ok(&k));
	transport_destroy(t);
}

static void kid_send_then_close(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	struct stream_flow f = stream_flow_pattern(60000, 5, 0, 0);

	T_ASSERT(c != NULL);
	T_ASSERT(kid_say(out, 'c'));
	T_ASSERT(stream_pump(c, &f)); /* fits in the socket buffer: done before the parent reads */
	T_EQ(kid_hear(in), 'x'); /* the parent's bytes are queued to us, and we do not read them */
	transport_destroy(c);
	T_ASSERT(kid_say(out, 'z'));
	T_EQ(kid_hear(in), -1);
}

/* Everything sent before a close is read, then EPIPE (also when the closer left our bytes unread). */
STREAM_CASE(bytes_before_close_then_epipe)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	struct stream_flow out = stream_flow_bytes("unread by the peer", 18, NULL, 0), in;
	struct pollfd p;
	struct kid k;

	T_ASSERT(t != NULL);
	T_ASSERT(kid_start(&k, kid_send_then_close));
	T_EQ(kid_hear(k.from), 'c');
	T_ASSERT(stream_wait_connected(t));
	T_ASSERT(stream_pump(t, &out));
	T_ASSERT(kid_say(k.to, 'x'));
	T_EQ(kid_hear(k.from), 'z'); /* closed before we read a byte */
	in = stream_flow_pattern(0, 0, 60000, 5);
	T_ASSERT(stream_pump(t, &in));
	T_ASSERT(stream_expect_epipe(t));
	transport_pollfd(t, false, &p);
	T_EQ(p.fd, -1); /* nothing left to wait for */
	T_ASSERT(kid_ok(&k));
	transport_destroy(t);
}

static void kid_write_after_close(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	unsigned char b;

	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this child */
	T_ASSERT(c != NULL);
	T_ASSERT(kid_say(out, 'c'));
	T_EQ(kid_hear(in), 'x'); /* the server is gone */
	errno = 0;
	T_EQ(transport_write(c, "abc", 3), -1);
	T_EQ(errno, EPIPE);
	T_EQ(transport_state(c), TRANSPORT_DISCONNECTED);
	T_EQ(transport_write(c, "abc", 3), -1);
	T_EQ(errno, EPIPE);
	T_EQ(transport_read(c, &b, 1), -1);
	T_EQ(errno, EPIPE);
	transport_destroy(c);
}

/* Writing to a closed peer is -1/EPIPE and never SIGPIPE (checked in a child with SIGPIPE's default action). */
STREAM_CASE(no_sigpipe)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	struct kid k;

	T_ASSERT(t != NULL);
	T_ASSERT(kid_start(&k, kid_write_after_close));
	T_EQ(kid_hear(k.from), 'c');
	T_ASSERT(stream_wait_connected(t));
	transport_destroy(t);
	T_ASSERT(kid_say(k.to, 'x'));
	T_ASSERT(kid_ok(&k));
}

static void kid_first_client(int in, int out)
{
	struct transport *c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, KID_WAIT_MS);
	struct stream_flow f = stream_flow_bytes("first", 5, NULL, 0);

	T_ASSERT(c != NULL);
	T_ASSERT(stream_pump(c, &f));
	T_ASSERT(kid_say(out, '1'));
	T_EQ(kid_hear(in), 'q');
	transport_destroy(c);
	T_EQ(kid_hear(in), -1);
}

static void kid_second_client(int in, int out)
{
	struct transport *c;
	struct stream_flow f = stream_flow_bytes("second", 6, "reply2", 6);

	T_EQ(kid_hear(in), 'g');
	c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0);
	T_ASSERT(c != NULL); /* connected: it waits in the backlog */
	T_ASSERT(transport_write(c, "second", 6) == 6);
	f.out_done = 6;
	T_ASSERT(kid_say(out, '2'));
	T_ASSERT(stream_pump(c, &f));
	T_EQ(kid_hear(in), -1);
	transport_destroy(c);
}

/* One client at a time: a second one waits in the backlog until transport_server_reset. */
STREAM_CASE(reset_and_second_client)
{
	struct transport *t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	struct stream_flow first = stream_flow_bytes(NULL, 0, "first", 5);
	struct stream_flow second = stream_flow_bytes("reply2", 6, "second", 6);
	struct kid k1, k2;
	unsigned char b[8];

	T_ASSERT(t != NULL);
	T_ASSERT(kid_start(&k1, kid_first_client));
	T_ASSERT(stream_pump(t, &first));
	T_EQ(kid_hear(k1.from), '1');
	T_ASSERT(kid_start(&k2, kid_second_client));
	T_ASSERT(kid_say(k2.to, 'g'));
	T_EQ(kid_hear(k2.from), '2');
	/* the second client's bytes are queued, but not on this connection */
	T_EQ(transport_handle(t, POLLIN), TRANSPORT_CONNECTED);
	T_EQ(transport_read(t, b, sizeof(b)), 0);
	T_ASSERT(kid_say(k1.to, 'q'));
	T_ASSERT(stream_expect_epipe(t));
	T_EQ(transport_server_reset(t), 0);
	T_EQ(transport_state(t), TRANSPORT_WAITING);
	T_EQ(transport_read(t, b, sizeof(b)), 0);
	T_EQ(transport_write(t, "early", 5), 0); /* no client yet */
	T_ASSERT(stream_pump(t, &second));
	T_EQ(transport_state(t), TRANSPORT_CONNECTED);
	T_ASSERT(kid_ok(&k2));
	T_ASSERT(kid_ok(&k1));
	transport_destroy(t);
}

static struct transport *inherited;

static void kid_destroy_inherited(int in, int out)
{
	(void)in;
	transport_destroy(inherited); /* the child's copy: must not remove the parent's socket */
	T_ASSERT(kid_say(out, 'd'));
}

/* destroy unlinks the socket: only its own file, and only in the process that bound it. */
STREAM_CASE(destroy_unlinks_socket)
{
	const char *p = stream_vchan_path(SRV, CLI, PORT);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct transport *t, *c;
	struct stat st;
	struct kid k;
	int fd;

	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_EQ(lstat(p, &st), 0);
	transport_destroy(t);
	T_EQ(lstat(p, &st), -1);
	T_EQ(errno, ENOENT);

	/* replaced by someone else's socket meanwhile: left alone */
	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_EQ(unlink(p), 0);
	T_ASSERT(set_addr(&a, p));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(fd >= 0);
	T_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	transport_destroy(t);
	T_EQ(lstat(p, &st), 0);
	close(fd);
	T_EQ(unlink(p), 0);

	/* a forked child freeing its inherited copy */
	inherited = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(inherited != NULL);
	T_ASSERT(kid_start(&k, kid_destroy_inherited));
	T_EQ(kid_hear(k.from), 'd');
	T_ASSERT(kid_ok(&k));
	T_EQ(lstat(p, &st), 0);
	c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0);
	T_ASSERT(c != NULL);
	T_ASSERT(stream_wait_connected(inherited));
	transport_destroy(c);
	transport_destroy(inherited);
	T_EQ(lstat(p, &st), -1);
}

/* Receives exactly n bytes on a plain socket within KID_WAIT_MS, then checks that nothing more came. */
static bool raw_recv_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;
	unsigned char extra;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, KID_WAIT_MS) != 1) {
			return false;
		}
		r = recv(fd, (unsigned char *)buf + got, n - got, MSG_DONTWAIT);
		if (r <= 0) {
			return false;
		}
		got += (size_t)r;
	}
	return recv(fd, &extra, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

/* Plain AF_UNIX peers (no library) see exactly the bytes written: no framing, no greeting. */
STREAM_CASE(raw_peer_no_framing)
{
	static const unsigned char up[] = { 0, 1, 2, 'h', 'e', 'l', 'l', 'o', 0xff, 0x80, 0, 0, 0, 7 };
	static const unsigned char down[] = { 0xde, 0xad, 0, 0xbe, 0xef, '\n', 0, 0, 0, 0 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct transport *t, *c;
	struct stream_flow f;
	unsigned char b[32];
	int fd, lfd;

	/* raw client, library server */
	t = transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0);
	T_ASSERT(t != NULL);
	T_ASSERT(set_addr(&a, stream_vchan_path(SRV, CLI, PORT)));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(fd >= 0);
	T_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	T_ASSERT(stream_wait_connected(t));
	T_EQ(recv(fd, b, 1, MSG_DONTWAIT), -1); /* the server said nothing on its own */
	T_EQ(errno, EAGAIN);
	T_EQ(send(fd, up, sizeof(up), 0), (ssize_t)sizeof(up));
	f = stream_flow_bytes(down, sizeof(down), up, sizeof(up));
	T_ASSERT(stream_pump(t, &f));
	T_EQ(transport_read(t, b, sizeof(b)), 0);
	T_ASSERT(raw_recv_exact(fd, b, sizeof(down)));
	T_MEM(b, down, sizeof(down));
	close(fd);
	T_ASSERT(stream_expect_epipe(t));
	transport_destroy(t);

	/* raw server, library client */
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(lfd >= 0);
	T_EQ(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	T_EQ(listen(lfd, 1), 0);
	c = transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0);
	T_ASSERT(c != NULL);
	fd = accept(lfd, NULL, NULL);
	T_ASSERT(fd >= 0);
	T_EQ(recv(fd, b, 1, MSG_DONTWAIT), -1); /* the client said nothing on connect */
	T_EQ(errno, EAGAIN);
	f = stream_flow_bytes(up, sizeof(up), NULL, 0);
	T_ASSERT(stream_pump(c, &f));
	T_ASSERT(raw_recv_exact(fd, b, sizeof(up)));
	T_MEM(b, up, sizeof(up));
	T_EQ(send(fd, down, sizeof(down), 0), (ssize_t)sizeof(down));
	f = stream_flow_bytes(NULL, 0, down, sizeof(down));
	T_ASSERT(stream_pump(c, &f));
	close(fd);
	T_ASSERT(stream_expect_epipe(c));
	transport_destroy(c);
	close(lfd);
	unlink(a.sun_path);
}

/* transport_from_fd: any connected stream socket, made non-blocking and close-on-exec; fd owned even on failure. */
STREAM_CASE(from_fd)
{
	struct transport *a, *b;
	struct stream_flow f;
	struct pollfd p;
	int sv[2], pfd[2];

	T_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a = transport_from_fd(sv[0]);
	b = transport_from_fd(sv[1]);
	T_ASSERT(a != NULL && b != NULL);
	T_EQ(transport_state(a), TRANSPORT_CONNECTED);
	T_EQ(transport_backend(a), QGUI_BACKEND_SOCKET);
	transport_pollfd(a, true, &p);
	T_EQ(p.fd, sv[0]);
	T_EQ(p.events, POLLIN | POLLOUT);
	T_ASSERT(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	T_ASSERT(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	T_EQ(transport_server_reset(a), -EINVAL);
	T_EQ(transport_write(a, "pair", 4), 4);
	f = stream_flow_bytes(NULL, 0, "pair", 4);
	T_ASSERT(stream_pump(b, &f));
	T_EQ(transport_read(b, pfd, 0), 0);
	transport_destroy(a);
	T_ASSERT(stream_expect_epipe(b));
	transport_destroy(b);

	T_EQ(pipe(pfd), 0);
	errno = 0;
	T_ASSERT(transport_from_fd(pfd[0]) == NULL);
	T_EQ(errno, ENOTSOCK);
	T_EQ(fcntl(pfd[0], F_GETFD), -1); /* closed */
	close(pfd[1]);
	T_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	errno = 0;
	T_ASSERT(transport_from_fd(sv[0]) == NULL);
	T_EQ(errno, EINVAL);
	T_EQ(fcntl(sv[0], F_GETFD), -1);
	close(sv[1]);
	pfd[0] = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(pfd[0] >= 0);
	errno = 0;
	T_ASSERT(transport_from_fd(pfd[0]) == NULL);
	T_EQ(errno, ENOTCONN);
	T_EQ(fcntl(pfd[0], F_GETFD), -1);
	errno = 0;
	T_ASSERT(transport_from_fd(-1) == NULL);
	T_EQ(errno, EBADF);
}

/* Bad domain ids, ports, timeouts, back-ends and over-long paths: EINVAL / ENAMETOOLONG, nothing created. */
STREAM_CASE(bad_arguments)
{
	char longdir[200];

	transport_destroy(NULL);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, -1, CLI, PORT, 0) == NULL);
	T_EQ(errno, EINVAL);
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, QGUI_DOMID_LIMIT, PORT, 0) == NULL);
	T_EQ(errno, EINVAL);
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, -1, 0) == NULL);
	T_EQ(errno, EINVAL);
	T_ASSERT(transport_server_create((enum qgui_backend)42, SRV, CLI, PORT, 0) == NULL);
	T_EQ(errno, EINVAL);
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, -1) == NULL);
	T_EQ(errno, EINVAL);
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, QGUI_DOMID_LIMIT, SRV, PORT, 0) == NULL);
	T_EQ(errno, EINVAL);
	T_ASSERT(transport_client_create((enum qgui_backend)42, CLI, SRV, PORT, 0) == NULL);
	T_EQ(errno, EINVAL);

	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	setenv("VCHAN_SOCKET_DIR", longdir, 1);
	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_SOCKET, SRV, CLI, PORT, 0) == NULL);
	T_EQ(errno, ENAMETOOLONG);
	T_ASSERT(transport_client_create(QGUI_BACKEND_SOCKET, CLI, SRV, PORT, 0) == NULL);
	T_EQ(errno, ENAMETOOLONG);
	setenv("VCHAN_SOCKET_DIR", stream_case_dir(), 1);
}

/*
 * The Xen back-end on a machine without Xen (this binary runs without the
 * xenshim): NULL with ENOENT, no crash, and one clear line per failure.
 */
STREAM_CASE(xen_without_dev_xen)
{
	const char *pre = getenv("LD_PRELOAD");
	char log_path[600], text[4096], *line;
	int64_t t0, el;
	int fd, saved, e1, e2, e3, lines = 0;
	ssize_t n;

	if (access("/dev/xen", F_OK) == 0 || (pre != NULL && strstr(pre, "xenshim") != NULL)) {
		printf("# xen_without_dev_xen: Xen (or the xenshim) is present; nothing to check\n");
		return;
	}
	snprintf(log_path, sizeof(log_path), "%s/stderr.log", stream_case_dir());
	fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(fd >= 0);
	saved = dup(STDERR_FILENO);
	T_ASSERT(saved >= 0);
	dup2(fd, STDERR_FILENO);

	errno = 0;
	T_ASSERT(transport_server_create(QGUI_BACKEND_XEN, 0, 1, PORT, 4096) == NULL);
	e1 = errno;
	errno = 0;
	T_ASSERT(transport_client_create(QGUI_BACKEND_XEN, 1, 0, PORT, 0) == NULL);
	e2 = errno;
	t0 = test_now_ms();
	errno = 0;
	T_ASSERT(transport_client_create(QGUI_BACKEND_XEN, 1, 0, PORT, 50) == NULL);
	e3 = errno;
	el = test_now_ms() - t0;

	dup2(saved, STDERR_FILENO);
	close(saved);
	T_EQ(e1, ENOENT);
	T_EQ(e2, ENOENT);
	T_EQ(e3, ENOENT);
	T_ASSERT(el >= 50 && el < 2000);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	T_ASSERT(n > 0);
	text[n] = '\0';
	for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		lines++;
		if (strstr(line, "/dev/xen not available") == NULL || strstr(line, "--transport=socket") == NULL) {
			test_fail(__FILE__, __LINE__, "unclear log line: %s", line);
		}
	}
	T_EQ(lines, 3);
}

TEST_MAIN(TEST(server_first_streams), TEST(client_first_streams), TEST(client_timeout), TEST(path_and_mode),
		TEST(socket_dir_created), TEST(stale_socket_replaced), TEST(live_server_eaddrinuse), TEST(live_server_by_inode),
		TEST(regular_file_eexist), TEST(write_full_returns_zero), TEST(bytes_before_close_then_epipe),
		TEST(no_sigpipe), TEST(reset_and_second_client), TEST(destroy_unlinks_socket),
		TEST(raw_peer_no_framing), TEST(from_fd), TEST(bad_arguments), TEST(xen_without_dev_xen))

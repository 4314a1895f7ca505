/* transport_socket.c: the socket vchan (emulation.md section 2): raw bytes over a Unix stream socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "qgui/log.h"
#include "transport_impl.h"

/* Linux's __SO_ACCEPTCON in the Flags column of /proc/net/unix: a listening socket. */
#define PROC_UNIX_LISTENING 0x10000UL

struct sock_transport {
	struct transport base;
	int lfd;          /* server: the listening socket; -1 for a client */
	int fd;           /* the connection, or -1 */
	bool eof;         /* the peer's stream has ended and every byte of it was read */
	pid_t owner;      /* server: the process that bound the socket file */
	dev_t dev;        /* server: the socket file we bound, to unlink only our own */
	ino_t ino;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static const struct transport_ops sock_ops;

static struct sock_transport *sock_from_base(struct transport *t)
{
	INVARIANT(t->ops == &sock_ops);
	return (struct sock_transport *)t;
}

static struct sock_transport *sock_alloc(void)
{
	struct sock_transport *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		return NULL;
	}
	s->base.ops = &sock_ops;
	s->lfd = -1;
	s->fd = -1;
	return s;
}

/* $VCHAN_SOCKET_DIR/vchan.<server>.<client>.<port>.sock; -ENAMETOOLONG when it does not fit. */
static int sock_address(struct sockaddr_un *a, int server, int client, int port)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path, sizeof(a->sun_path), "%s/vchan.%d.%d.%d.sock", backend_socket_dir(), server,
			client, port);
	if (n < 0 || (size_t)n >= sizeof(a->sun_path)) {
		log_error("socket vchan: socket path under %s is too long", backend_socket_dir());
		return -ENAMETOOLONG;
	}
	return 0;
}

/*
 * Is a live socket listening on the socket file (dev, ino)? Asked of the
 * kernel's sock_diag, which reports the inode each socket is bound to, so
 * that another spelling of the same path (a relative or symlinked
 * VCHAN_SOCKET_DIR) cannot hide a live server, and a listener whose file was
 * unlinked does not count. Returns 1, 0, or -1 when sock_diag is unavailable.
 */
static int listened_on_inode(dev_t dev, ino_t ino)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t buf[2048]; /* u32 aligns the netlink headers */
	int fd, live = -1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		return -1;
	}
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	q.req.sdiag_family = AF_UNIX;
	q.req.udiag_states = 1u << TCP_LISTEN;
	q.req.udiag_show = UDIAG_SHOW_VFS;
	if (sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&kernel, sizeof(kernel)) != (ssize_t)sizeof(q)) {
		close(fd);
		return -1;
	}
	while (live == -1) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		size_t left, off = 0;

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		left = (size_t)n;
		/* the kernel's own reply, but still walked with bounds checked against what arrived */
		while (live == -1 && left - off >= sizeof(struct nlmsghdr)) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)buf + off);
			size_t mlen = h->nlmsg_len, alen, aoff;
			const struct unix_diag_msg *m;

			if (mlen < sizeof(*h) || mlen > left - off) {
				break;
			}
			off += NLMSG_ALIGN(mlen) < left - off ? NLMSG_ALIGN(mlen) : left - off;
			if (h->nlmsg_type == NLMSG_DONE) {
				live = 0;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				break; /* no unix_diag in this kernel */
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || mlen < NLMSG_LENGTH(sizeof(*m))) {
				continue;
			}
			m = NLMSG_DATA(h);
			if (m->udiag_state != TCP_LISTEN) {
				continue;
			}
			alen = mlen - NLMSG_LENGTH(sizeof(*m));
			for (aoff = 0; alen - aoff >= sizeof(struct rtattr);) {
				const struct rtattr *a = (const struct rtattr *)((const char *)(m + 1) + aoff);
				struct unix_diag_vfs vfs;

				if (a->rta_len < sizeof(*a) || a->rta_len > alen - aoff) {
					break;
				}
				if (a->rta_type == UNIX_DIAG_VFS && a->rta_len >= RTA_LENGTH(sizeof(vfs))) {
					memcpy(&vfs, RTA_DATA(a), sizeof(vfs));
					/* udiag_vfs_dev is the kernel's dev_t: major << 20 | minor */
					if (vfs.udiag_vfs_ino == (uint32_t)ino && vfs.udiag_vfs_dev >> 20 == major(dev) &&
							(vfs.udiag_vfs_dev & 0xfffffu) == minor(dev)) {
						live = 1;
					}
				}
				aoff += RTA_ALIGN(a->rta_len);
				if (aoff > alen) {
					break;
				}
			}
		}
	}
	close(fd);
	return live;
}

/*
 * Fallback without sock_diag: is a live socket listening on path, by name,
 * from /proc/net/unix (a name spelt differently is missed). Returns 1, 0,
 * or -1 when the table cannot be read.
 */
static int listened_on(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char *line = NULL;
	size_t cap = 0, plen = strlen(path);
	int live = 0;

	if (f == NULL) {
		return -1;
	}
	while (!live && getline(&line, &cap, f) > 0) {
		unsigned long flags = 0;
		int off = 0;

		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %n", &flags, &off) != 1 || off <= 0) {
			continue;
		}
		live = (flags & PROC_UNIX_LISTENING) != 0 && strcspn(line + off, "\n") == plen &&
				memcmp(line + off, path, plen) == 0;
	}
	free(line);
	fclose(f);
	return live;
}

/*
 * Last resort when neither table can be read: connect and see whether anyone
 * answers. A live server does see this as a client that leaves at once.
 */
static int answers_connect(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r, e;

	if (fd < 0) {
		return 0;
	}
	r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	e = errno;
	close(fd);
	return r == 0 || e == EAGAIN;
}

/*
 * Binds fd to a->sun_path, replacing a stale socket file. Returns 0 or
 * -errno: -EEXIST when a non-socket file is in the way, -EADDRINUSE when a
 * live server listens there.
 */
static int bind_replacing(int fd, const struct sockaddr_un *a)
{
	struct stat st;
	int live;

	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) == 0) {
		return 0;
	}
	if (errno != EADDRINUSE) {
		return -errno;
	}
	if (lstat(a->sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			return -EEXIST;
		}
		/* not by connecting: that would look like a client to a live server */
		live = listened_on_inode(st.st_dev, st.st_ino);
		if (live < 0) {
			live = listened_on(a->sun_path);
		}
		if (live < 0) {
			live = answers_connect(a);
		}
		if (live) {
			return -EADDRINUSE;
		}
		/* stale: its server is gone (a live one is told apart just above) */
		if (unlink(a->sun_path) != 0 && errno != ENOENT) {
			return -errno;
		}
	}
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) != 0) {
		return -errno;
	}
	return 0;
}

struct transport *transport_socket_server_create(int own_domid, int client_domid, int port)
{
	const char *dir = backend_socket_dir();
	struct sock_transport *s;
	struct sockaddr_un a;
	struct stat st;
	int r, e;

	r = sock_address(&a, own_domid, client_domid, port);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	/* one level only, as the xenshim does; a missing parent is an error */
	if (mkdir(dir, 0770) == 0) {
		log_debug("socket vchan: created %s", dir);
	} else if (errno != EEXIST) {
		e = errno;
		log_error("socket vchan: cannot create socket directory %s: %s", dir, strerror(e));
		errno = e;
		return NULL;
	}
	s = sock_alloc();
	if (s == NULL) {
		log_error("socket vchan: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0) {
		e = errno;
		log_error("socket vchan: socket: %s", strerror(e));
		goto fail;
	}
	r = bind_replacing(s->lfd, &a);
	if (r < 0) {
		e = -r;
		if (e == EADDRINUSE) {
			log_error("socket vchan: %s is served by another live vchan server", a.sun_path);
		} else if (e == EEXIST) {
			log_error("socket vchan: %s exists and is not a socket", a.sun_path);
		} else {
			log_error("socket vchan: cannot bind %s: %s", a.sun_path, strerror(e));
		}
		goto fail;
	}
	/*
	 * The file mode is the emulation's only access control (0660). It is set
	 * before listen(): until then every connection attempt is refused, so no
	 * client gets in under the umask's mode.
	 */
	if (chmod(a.sun_path, 0660) != 0 || lstat(a.sun_path, &st) != 0 || listen(s->lfd, 1) != 0) {
		e = errno;
		log_error("socket vchan: cannot listen on %s: %s", a.sun_path, strerror(e));
		unlink(a.sun_path);
		goto fail;
	}
	s->owner = getpid();
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	memcpy(s->path, a.sun_path, sizeof(s->path));
	s->base.state = TRANSPORT_WAITING;
	log_debug("socket vchan: server for domain %d listening on %s", client_domid, s->path);
	return &s->base;

fail:
	if (s->lfd >= 0) {
		close(s->lfd);
	}
	free(s);
	errno = e;
	return NULL;
}

/*
 * One non-blocking connection attempt. Returns the connected fd, or -errno.
 * (A full backlog gives -EAGAIN rather than blocking.)
 */
static int connect_once(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int e;

	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0) {
		return fd;
	}
	e = errno;
	if (e == EINPROGRESS) {
		/* not done by AF_UNIX; treated as a refusal and retried */
		e = EAGAIN;
	}
	close(fd);
	return -e;
}

struct transport *transport_socket_client_create(int own_domid, int server_domid, int port, int timeout_ms)
{
	struct sock_transport *s;
	struct sockaddr_un a;
	int64_t deadline = transport_now_ms() + timeout_ms;
	int fd, r;

	r = sock_address(&a, server_domid, own_domid, port);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	for (;;) {
		int64_t left;

		fd = connect_once(&a);
		if (fd >= 0) {
			break;
		}
		if (fd != -EINTR && fd != -ENOENT && fd != -ECONNREFUSED && fd != -EAGAIN) {
			log_error("socket vchan: cannot connect to %s: %s", a.sun_path, strerror(-fd));
			errno = -fd;
			return NULL;
		}
		left = deadline - transport_now_ms();
		if (left <= 0) {
			log_debug("socket vchan: no server on %s within %d ms", a.sun_path, timeout_ms);
			errno = ETIMEDOUT;
			return NULL;
		}
		if (fd != -EINTR) {
			transport_pause_ms(left < TRANSPORT_RETRY_MS ? left : TRANSPORT_RETRY_MS);
		}
	}
	s = sock_alloc();
	if (s == NULL) {
		close(fd);
		log_error("socket vchan: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->fd = fd;
	s->base.state = TRANSPORT_CONNECTED;
	log_debug("socket vchan: connected to %s", a.sun_path);
	return &s->base;
}

struct transport *transport_socket_from_fd(int fd)
{
	struct sock_transport *s;
	struct sockaddr_storage peer;
	int type = 0, fl, e;
	socklen_t tlen = sizeof(type), plen = sizeof(peer);

	if (fd < 0) {
		log_error("socket vchan: transport_from_fd: bad fd %d", fd);
		errno = EBADF;
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) {
		e = errno;
		log_error("socket vchan: transport_from_fd: fd %d: %s", fd, strerror(e));
		goto fail;
	}
	if (type != SOCK_STREAM) {
		log_error("socket vchan: transport_from_fd: fd %d is not a stream socket", fd);
		e = EINVAL;
		goto fail;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) {
		e = errno;
		log_error("socket vchan: transport_from_fd: fd %d is not connected: %s", fd, strerror(e));
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		e = errno;
		log_error("socket vchan: transport_from_fd: fcntl: %s", strerror(e));
		goto fail;
	}
	s = sock_alloc();
	if (s == NULL) {
		log_error("socket vchan: out of memory");
		e = ENOMEM;
		goto fail;
	}
	s->fd = fd;
	s->base.state = TRANSPORT_CONNECTED;
	return &s->base;

fail:
	close(fd);
	errno = e;
	return NULL;
}

static void sock_destroy(struct transport *t)
{
	struct sock_transport *s = sock_from_base(t);
	struct stat st;

	if (s->fd >= 0) {
		close(s->fd);
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		/*
		 * Only the file we bound, and only from the process that bound it: a
		 * newer server may have replaced it since, and a forked child that
		 * frees its copy must not remove its parent's socket.
		 */
		if (s->owner == getpid() && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
				st.st_ino == s->ino) {
			unlink(s->path);
		}
	}
	free(s);
}

static void sock_pollfd(struct transport *t, bool want_write, struct pollfd *pfd)
{
	struct sock_transport *s = sock_from_base(t);

	switch (s->base.state) {
	case TRANSPORT_WAITING:
		pfd->fd = s->lfd;
		pfd->events = POLLIN;
		break;
	case TRANSPORT_CONNECTED:
		pfd->fd = s->fd;
		pfd->events = (short)(POLLIN | (want_write ? POLLOUT : 0));
		break;
	case TRANSPORT_DISCONNECTED:
		/* readable until the caller has read the rest and seen EPIPE */
		pfd->fd = s->eof ? -1 : s->fd;
		pfd->events = s->eof ? 0 : POLLIN;
		break;
	}
}

/* The peer's stream is over: every byte it sent has been read. */
static void sock_ended(struct sock_transport *s)
{
	s->eof = true;
	s->base.state = TRANSPORT_DISCONNECTED;
}

static enum transport_state sock_handle(struct transport *t, short revents)
{
	struct sock_transport *s = sock_from_base(t);
	unsigned char byte;
	ssize_t n;
	int c;

	switch (s->base.state) {
	case TRANSPORT_WAITING:
		/* tried whatever revents says: accept4 never blocks here */
		c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c >= 0) {
			s->fd = c;
			s->eof = false;
			s->base.state = TRANSPORT_CONNECTED;
			log_debug("socket vchan: client connected on %s", s->path);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
			log_debug("socket vchan: accept on %s: %s", s->path, strerror(errno));
		}
		break;
	case TRANSPORT_CONNECTED:
		if ((revents & (POLLHUP | POLLERR | POLLRDHUP)) == 0) {
			break;
		}
		/* the peer hung up: only over once every byte it sent has been read */
		do {
			n = recv(s->fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
		} while (n < 0 && errno == EINTR);
		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
			sock_ended(s);
		}
		break;
	case TRANSPORT_DISCONNECTED:
		break;
	}
	return s->base.state;
}

static ssize_t sock_read(struct transport *t, void *buf, size_t len)
{
	struct sock_transport *s = sock_from_base(t);
	ssize_t n;

	if (s->eof) {
		errno = EPIPE;
		return -1;
	}
	if (s->fd < 0 || len == 0) {
		return 0; /* no client yet (or nothing asked: recv would say 0 = EOF) */
	}
	if (len > SSIZE_MAX) {
		len = SSIZE_MAX;
	}
	for (;;) {
		n = recv(s->fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			return n;
		}
		if (n == 0) {
			sock_ended(s);
			errno = EPIPE;
			return -1;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return 0;
		}
		/* a peer that closed with our bytes unread: the kernel delivers its data first, then this */
		if (errno == ECONNRESET || errno == EPIPE) {
			sock_ended(s);
			errno = EPIPE;
		}
		return -1;
	}
}

static ssize_t sock_write(struct transport *t, const void *buf, size_t len)
{
	struct sock_transport *s = sock_from_base(t);
	ssize_t n;

	if (s->base.state == TRANSPORT_WAITING) {
		return 0;
	}
	if (s->base.state == TRANSPORT_DISCONNECTED || s->fd < 0) {
		errno = EPIPE;
		return -1;
	}
	if (len == 0) {
		return 0;
	}
	if (len > SSIZE_MAX) {
		len = SSIZE_MAX;
	}
	for (;;) {
		n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			return n;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return 0;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			/* bytes the peer sent before it left stay readable (eof is not set) */
			s->base.state = TRANSPORT_DISCONNECTED;
			errno = EPIPE;
		}
		return -1;
	}
}

static int sock_server_reset(struct transport *t)
{
	struct sock_transport *s = sock_from_base(t);

	if (s->lfd < 0) {
		return -EINVAL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->eof = false;
	s->base.state = TRANSPORT_WAITING;
	return 0;
}

static const struct transport_ops sock_ops = {
	.backend = QGUI_BACKEND_SOCKET,
	.destroy = sock_destroy,
	.pollfd = sock_pollfd,
	.handle = sock_handle,
	.read = sock_read,
	.write = sock_write,
	.server_reset = sock_server_reset,
};

/* tests/fuzz/fz.c: the fuzz targets' shared helpers (see fz.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fz.h"
#include "transport_impl.h"

void fz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* ---------------------------------------------------------------- fuzzer input */

uint8_t fz_u8(struct fz_in *in)
{
	if (in->left == 0) {
		return 0;
	}
	in->left--;
	return *in->p++;
}

uint16_t fz_u16(struct fz_in *in)
{
	uint16_t v = fz_u8(in);

	return (uint16_t)(v | fz_u8(in) << 8);
}

uint32_t fz_u32(struct fz_in *in)
{
	uint32_t v = fz_u16(in);

	return v | (uint32_t)fz_u16(in) << 16;
}

size_t fz_bytes(struct fz_in *in, size_t len, const uint8_t **out)
{
	if (len > in->left) {
		len = in->left;
	}
	*out = in->p;
	in->p += len;
	in->left -= len;
	return len;
}

/* ---------------------------------------------------------------- the in-memory transport */

struct fz_transport {
	struct transport base;
	uint8_t *in;
	size_t in_len, in_off, in_cap;
	const uint8_t *chunks;
	size_t nchunks, ci;
	bool closed;
	size_t out_per_call, out_total;
	struct fz_check *check;
};

static const struct transport_ops fz_ops;

static struct fz_transport *fz_from_base(struct transport *t)
{
	FZ_ASSERT(t->ops == &fz_ops);
	return (struct fz_transport *)t;
}

static void fz_destroy(struct transport *base)
{
	struct fz_transport *t = fz_from_base(base);

	free(t->in);
	free(t);
}

static void fz_pollfd(struct transport *base, bool want_write, struct pollfd *pfd)
{
	(void)base;
	(void)want_write;
	pfd->fd = -1;
}

static enum transport_state fz_handle(struct transport *base, short revents)
{
	(void)revents;
	return base->state;
}

static ssize_t fz_read(struct transport *base, void *buf, size_t len)
{
	struct fz_transport *t = fz_from_base(base);
	size_t n = t->in_len - t->in_off;

	FZ_ASSERT(len > 0); /* the library never asks for nothing */
	if (n == 0) {
		if (t->closed) {
			base->state = TRANSPORT_DISCONNECTED;
			errno = EPIPE;
			return -1;
		}
		return 0;
	}
	if (t->nchunks > 0) {
		size_t c = t->chunks[t->ci++ % t->nchunks];

		if (c == 0) {
			return 0; /* "nothing now": the caller must come back later */
		}
		n = n < c ? n : c;
	}
	n = n < len ? n : len;
	memcpy(buf, t->in + t->in_off, n);
	t->in_off += n;
	return (ssize_t)n;
}

static ssize_t fz_write(struct transport *base, const void *buf, size_t len)
{
	struct fz_transport *t = fz_from_base(base);
	size_t n = len;

	FZ_ASSERT(len > 0);
	if (n > t->out_per_call) {
		n = t->out_per_call;
	}
	if (n > t->out_total) {
		n = t->out_total;
	}
	t->out_total -= n;
	if (t->check && n > 0) {
		fz_check_bytes(t->check, buf, n);
	}
	return (ssize_t)n;
}

static int fz_server_reset(struct transport *base)
{
	(void)base;
	return -EINVAL;
}

static const struct transport_ops fz_ops = {
	.backend = QGUI_BACKEND_SOCKET,
	.destroy = fz_destroy,
	.pollfd = fz_pollfd,
	.handle = fz_handle,
	.read = fz_read,
	.write = fz_write,
	.server_reset = fz_server_reset,
};

struct transport *fz_transport_create(void)
{
	struct fz_transport *t = calloc(1, sizeof(*t));

	FZ_ASSERT(t != NULL);
	t->base.ops = &fz_ops;
	t->base.state = TRANSPORT_CONNECTED;
	t->out_per_call = t->out_total = SIZE_MAX;
	return &t->base;
}

void fz_transport_feed(struct transport *base, const uint8_t *data, size_t len)
{
	struct fz_transport *t = fz_from_base(base);

	if (t->in_len + len > t->in_cap) {
		t->in_cap = (t->in_len + len) * 2;
		t->in = realloc(t->in, t->in_cap);
		FZ_ASSERT(t->in != NULL);
	}
	if (len > 0) {
		memcpy(t->in + t->in_len, data, len);
	}
	t->in_len += len;
}

void fz_transport_chunks(struct transport *base, const uint8_t *sizes, size_t n)
{
	struct fz_transport *t = fz_from_base(base);

	t->chunks = sizes;
	t->nchunks = n;
	t->ci = 0;
}

void fz_transport_close(struct transport *base)
{
	fz_from_base(base)->closed = true;
}

void fz_transport_stall(struct transport *base, size_t per_call, size_t total)
{
	struct fz_transport *t = fz_from_base(base);

	t->out_per_call = per_call;
	t->out_total = total;
}

size_t fz_transport_unread(const struct transport *base)
{
	const struct fz_transport *t = (const struct fz_transport *)base;

	return t->in_len - t->in_off;
}

void fz_transport_check(struct transport *t, struct fz_check *c)
{
	fz_from_base(t)->check = c;
}

/* ---------------------------------------------------------------- the checker of what we send */

void fz_check_init(struct fz_check *c, enum proto_dir dir, uint32_t version, size_t skip)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	c->skip = skip;
	proto_opts_default(&c->o);
	c->o.version = version;
	c->o.clipboard_max = MAX_CLIPBOARD_BUFFER_SIZE;
	c->o.utf8_titles = true;
}

void fz_check_bytes(struct fz_check *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t need, n, *skip = c->skip > 0 ? &c->skip : c->body_skip > 0 ? &c->body_skip : NULL;

		if (skip != NULL) { /* handshake bytes, or a body too large to keep */
			n = len < *skip ? len : *skip;
			*skip -= n;
			p += n;
			len -= n;
			continue;
		}
		need = c->in_body ? PROTO_HDR_LEN + c->f.body_len : PROTO_HDR_LEN;
		n = need - c->have < len ? need - c->have : len;
		memcpy(c->buf + c->have, p, n);
		c->have += n;
		p += n;
		len -= n;
		if (c->have < need) {
			continue;
		}
		if (!c->in_body) {
			const char *why = NULL;
			int rc = proto_check_hdr(c->dir, c->buf, &c->o, &c->f, &why);

			if (rc != 0) {
				fprintf(stderr, "we sent a header our peer refuses: %s\n", why ? why : "?");
			}
			FZ_ASSERT(rc == 0);
			FZ_ASSERT(!c->f.len_mismatch);
			if (c->f.body_len > sizeof(c->buf) - PROTO_HDR_LEN) {
				c->body_skip = c->f.body_len; /* a clipboard or dump larger than we keep */
				c->have = 0;
				c->msgs++;
				continue;
			}
			c->in_body = true;
			if (c->f.body_len > 0) {
				continue;
			}
		}
		{
			struct proto_msg m;
			const char *why = NULL;
			int rc = proto_decode(c->dir, &c->f, c->buf + PROTO_HDR_LEN, &c->o, &m, &why);

			if (rc != 0) {
				fprintf(stderr, "we sent a %s our peer %s: %s\n", proto_type_name(c->f.type),
						rc == PROTO_DROP ? "drops" : "refuses", why ? why : "?");
			}
			FZ_ASSERT(rc == 0);
			c->in_body = false;
			c->have = 0;
			c->msgs++;
		}
	}
}

/* ---------------------------------------------------------------- the fake gntemu owner */

struct owner {
	int lfd;
	fz_answer_fn fn;
	void *ctx;
};

#define OWNER_CONNS 8

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void fz_reply_ok(struct fz_reply *r, uint32_t first, uint32_t count, uint32_t pgoff, int fd)
{
	memset(r, 0, sizeof(*r));
	put_le32(r->bytes + 4, first);
	put_le32(r->bytes + 8, count);
	put_le32(r->bytes + 12, pgoff);
	r->len = 20;
	r->fds[0] = fd;
	r->nfds = 1;
}

void fz_reply_enoent(struct fz_reply *r)
{
	memset(r, 0, sizeof(*r));
	put_le32(r->bytes, (uint32_t)-ENOENT);
	r->len = 20;
}

/* Sends r on fd. false: the connection is to be closed. */
static bool send_reply(int fd, const struct fz_reply *r)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 5)];
	} cm;
	uint8_t dummy = 0;
	struct iovec iov = { .iov_base = r->len ? (void *)r->bytes : &dummy, .iov_len = r->len ? r->len : 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (r->len == 0 && r->nfds == 0) {
		return false;
	}
	if (r->nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * r->nfds);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int) * r->nfds);
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), r->fds, sizeof(int) * r->nfds);
	}
	if (r->len == 0) {
		/* fds with no byte cannot be sent on a stream socket: one byte of a short reply carries them */
		iov.iov_len = 1;
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n == (ssize_t)iov.iov_len) {
			break;
		}
		if (n >= 0 || errno != EINTR) {
			return false;
		}
	}
	return r->len >= 20 && !r->close_after;
}

static void *owner_thread(void *arg)
{
	struct owner *o = arg;
	int conns[OWNER_CONNS];
	size_t nconns = 0;

	for (;;) {
		struct pollfd pfd[OWNER_CONNS + 1];

		pfd[0] = (struct pollfd){ .fd = o->lfd, .events = POLLIN };
		for (size_t i = 0; i < nconns; i++) {
			pfd[i + 1] = (struct pollfd){ .fd = conns[i], .events = POLLIN };
		}
		if (poll(pfd, nconns + 1, -1) < 0) {
			continue;
		}
		for (size_t i = nconns; i-- > 0;) {
			uint8_t req[8];
			size_t got = 0;
			bool keep = true;

			if (pfd[i + 1].revents == 0) {
				continue;
			}
			/* a request arrives whole (8 bytes in one send); wait briefly for a split one */
			while (got < sizeof(req)) {
				ssize_t n = recv(conns[i], req + got, sizeof(req) - got, 0);

				if (n < 0 && errno == EINTR) {
					continue; /* libFuzzer's timer signals */
				}
				if (n <= 0) {
					keep = false;
					break;
				}
				got += (size_t)n;
			}
			if (keep) {
				struct fz_reply r;
				uint32_t ref = (uint32_t)req[4] | (uint32_t)req[5] << 8 | (uint32_t)req[6] << 16 |
						(uint32_t)req[7] << 24;

				FZ_ASSERT(req[0] == 1 && req[1] == 0 && req[2] == 0 && req[3] == 0); /* LOOKUP */
				memset(&r, 0, sizeof(r));
				o->fn(o->ctx, ref, &r);
				keep = send_reply(conns[i], &r);
			}
			if (!keep) {
				close(conns[i]);
				conns[i] = conns[--nconns];
			}
		}
		if (pfd[0].revents & POLLIN) {
			int c = accept4(o->lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0) {
				if (nconns == OWNER_CONNS) {
					close(conns[0]); /* the oldest: the grantee has long dropped it */
					conns[0] = conns[--nconns];
				}
				conns[nconns++] = c;
			}
		}
	}
	return NULL;
}

void fz_socket_dir(void)
{
	static char dir[] = "/tmp/qgui-fuzz-XXXXXX";
	static bool done;

	if (done) {
		return;
	}
	done = true;
	if (getenv("VCHAN_SOCKET_DIR") != NULL && *getenv("VCHAN_SOCKET_DIR") != '\0') {
		return;
	}
	FZ_ASSERT(mkdtemp(dir) != NULL);
	setenv("VCHAN_SOCKET_DIR", dir, 1);
}

void fz_owner_start(int owner, int grantee, fz_answer_fn fn, void *ctx)
{
	struct owner *o = calloc(1, sizeof(*o));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	pthread_t th;

	FZ_ASSERT(o != NULL);
	fz_socket_dir();
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/gntshr.%d.%d.sock", getenv("VCHAN_SOCKET_DIR"), owner, grantee);
	unlink(a.sun_path);
	o->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FZ_ASSERT(o->lfd >= 0);
	FZ_ASSERT(bind(o->lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	FZ_ASSERT(listen(o->lfd, 16) == 0);
	o->fn = fn;
	o->ctx = ctx;
	FZ_ASSERT(pthread_create(&th, NULL, owner_thread, o) == 0);
	pthread_detach(th);
}

int fz_memfd(uint32_t id, uint64_t size, unsigned seals, uint64_t tag_pages)
{
	int fd = memfd_create("fzpool", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	FZ_ASSERT(fd >= 0);
	FZ_ASSERT(ftruncate(fd, (off_t)size) == 0);
	for (uint64_t i = 0; i < tag_pages && (i + 1) * 4096 <= size; i++) {
		uint8_t tag[12];

		put_le32(tag, 0x46555a5a);
		put_le32(tag + 4, id);
		put_le32(tag + 8, (uint32_t)i);
		FZ_ASSERT(pwrite(fd, tag, sizeof(tag), (off_t)(i * 4096)) == (ssize_t)sizeof(tag));
	}
	if (seals != 0) {
		FZ_ASSERT(fcntl(fd, F_ADD_SEALS, (int)seals) == 0);
	}
	return fd;
}

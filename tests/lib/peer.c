/* tests/lib/peer.c: grant test peers driven over pipes with struct peer_cmd (see peer.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

#define PG GRANT_PAGE_SIZE

int peer_call(struct kid *p, struct peer_cmd *c)
{
	if (kid_send(p->to, c, sizeof(*c)) != 0 || kid_recv(p->from, c, sizeof(*c), KID_WAIT_MS) != 0) {
		return PEER_GONE;
	}
	return c->rc;
}

int peer_ready(struct kid *p)
{
	struct peer_cmd c;

	return kid_recv(p->from, &c, sizeof(c), KID_WAIT_MS) == 0 && c.op == PEER_READY ? c.rc : PEER_GONE;
}

int peer_page_is(const void *view, size_t page, uint8_t byte)
{
	const uint8_t *p = (const uint8_t *)view + page * PG;

	for (size_t i = 0; i < PG; i++) {
		if (p[i] != byte) {
			return 0;
		}
	}
	return 1;
}

void peer_owner_main(int in, int out, void *arg)
{
	const struct peer_owner_cfg *cfg = arg;
	struct grant_share *sh[16] = { NULL };
	struct grant_owner *o;
	struct peer_cmd c = { .op = PEER_READY };
	char dom[16];

	snprintf(dom, sizeof(dom), "%d", cfg->own);
	setenv("VCHAN_DOMAIN", dom, 1); /* the Xen back-end under xenshim learns its domain here */
	o = grant_owner_create(cfg->backend, cfg->own, cfg->grantee);
	c.rc = o != NULL ? 0 : -errno;
	kid_send(out, &c, sizeof(c));
	if (o == NULL) {
		return;
	}
	while (kid_recv(in, &c, sizeof(c), -1) == 0) {
		switch (c.op) {
		case PEER_SHARE: {
			uint32_t i = 0;

			while (i < 16 && sh[i] != NULL) {
				i++;
			}
			c.rc = i < 16 ? grant_owner_share(o, c.a, &sh[i]) : -ENOSPC;
			c.b = i;
			c.n = 0;
			if (c.rc == 0) {
				c.n = sh[i]->npages < 64 ? (uint32_t)sh[i]->npages : 64;
				memcpy(c.refs, sh[i]->refs, sizeof(uint32_t) * c.n);
				for (size_t k = 0; cfg->check_zeroed && k < sh[i]->npages; k++) {
					if (!peer_page_is(sh[i]->addr, k, 0)) {
						c.rc = PEER_NOT_ZEROED;
					}
				}
			}
			break;
		}
		case PEER_FILL:
			memset((uint8_t *)sh[c.a]->addr + (size_t)c.b * PG, (int)c.c, PG);
			c.rc = 0;
			break;
		case PEER_UNSHARE:
			grant_owner_unshare(o, sh[c.a]);
			sh[c.a] = NULL;
			c.rc = 0;
			break;
		case PEER_DESTROY:
			grant_owner_destroy(o);
			o = NULL;
			c.rc = 0;
			break;
		case PEER_EXIT:
			_exit(0);
		case PEER_EXIT_CLEAN:
			exit(0);
		default:
			c.rc = -EINVAL;
			break;
		}
		kid_send(out, &c, sizeof(c));
	}
	grant_owner_destroy(o);
}

int peer_owner_share(struct kid *p, uint32_t npages, uint32_t *slot, uint32_t *refs)
{
	struct peer_cmd c = { .op = PEER_SHARE, .a = npages };
	int rc = peer_call(p, &c);

	if (rc == 0) {
		*slot = c.b;
		memcpy(refs, c.refs, sizeof(uint32_t) * c.n);
	}
	return rc;
}

int peer_owner_fill(struct kid *p, uint32_t slot, uint32_t page, uint8_t byte)
{
	struct peer_cmd c = { .op = PEER_FILL, .a = slot, .b = page, .c = byte };

	return peer_call(p, &c);
}

int peer_owner_cmd(struct kid *p, int op, uint32_t a)
{
	struct peer_cmd c = { .op = op, .a = a };

	return peer_call(p, &c);
}

/* ---------------------------------------------------------------- a hostile owner on the wire */

static int64_t fake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fake_memfd(const struct peer_fake_cfg *cfg)
{
	int fd = memfd_create("peer-fake-owner", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint8_t page[PG];

	memset(page, cfg->fill, sizeof(page));
	if (fd < 0 || ftruncate(fd, (off_t)cfg->memfd_bytes) != 0) {
		goto fail;
	}
	for (uint32_t i = 0; i < cfg->fill_pages; i++) {
		if (pwrite(fd, page, PG, (off_t)i * PG) != (ssize_t)PG) {
			goto fail;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0) {
		close(fd);
	}
	return -1;
}

bool peer_accept_newest(int lfd, int *conn)
{
	int n = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (n < 0) {
		return false;
	}
	if (*conn >= 0) {
		close(*conn); /* the grantee gave up on the old one */
	}
	*conn = n;
	return true;
}

static int fake_reply(int conn, uint32_t ref, uint32_t count, int fd)
{
	uint32_t f[5] = { 0, ref, count, 0, 0 };
	uint8_t rep[20];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *ch;

	for (int i = 0; i < 5; i++) {
		for (int b = 0; b < 4; b++) {
			rep[4 * i + b] = (uint8_t)(f[i] >> (8 * b));
		}
	}
	memset(&cm, 0, sizeof(cm));
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(fd));
	return sendmsg(conn, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(rep) ? 0 : -1;
}

void peer_fake_owner_main(int in, int out, void *arg)
{
	const struct peer_fake_cfg *cfg = arg;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *dir = getenv("VCHAN_SOCKET_DIR");
	struct peer_cmd c = { .op = PEER_READY };
	uint32_t nreq = 0, nrep = 0, ref = 0;
	bool hold = cfg->hold, pending = false;
	int64_t due = 0;
	int lfd = -1, conn = -1, mfd;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/gntshr.%d.%d.sock", dir ? dir : "/var/run/vchan", cfg->own,
			cfg->grantee);
	unlink(a.sun_path);
	mfd = fake_memfd(cfg);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c.rc = (mfd >= 0 && lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 8) == 0) ?
			0 : -errno;
	kid_send(out, &c, sizeof(c));
	while (c.rc == 0) {
		struct pollfd pfd[3] = {
			{ .fd = in, .events = POLLIN },
			{ .fd = lfd, .events = POLLIN },
			{ .fd = pending ? -1 : conn, .events = POLLIN }, /* one request at a time */
		};
		int64_t left = pending && !hold ? due - fake_now_ms() : -1;

		if (poll(pfd, 3, left < 0 ? (pending && !hold ? 0 : -1) : (int)left) < 0) {
			continue;
		}
		if (pfd[0].revents != 0) {
			if (kid_recv(in, &c, sizeof(c), -1) != 0) {
				break;
			}
			if (c.op == PEER_FAKE_STATS) {
				c.a = nreq;
				c.b = nrep;
			} else if (c.op == PEER_FAKE_RELEASE) {
				hold = false;
			}
			c.rc = c.op == PEER_FAKE_STATS || c.op == PEER_FAKE_RELEASE ? 0 : -EINVAL;
			kid_send(out, &c, sizeof(c));
			c.rc = 0;
		}
		if (pfd[1].revents != 0 && peer_accept_newest(lfd, &conn)) {
			pending = false;
			continue;
		}
		if (conn >= 0 && pfd[2].revents != 0) {
			uint8_t req[8];

			if (recv(conn, req, sizeof(req), MSG_WAITALL) != (ssize_t)sizeof(req)) {
				close(conn);
				conn = -1;
				continue;
			}
			nreq++;
			ref = (uint32_t)req[4] | (uint32_t)req[5] << 8 | (uint32_t)req[6] << 16 | (uint32_t)req[7] << 24;
			pending = true;
			due = fake_now_ms() + cfg->delay_ms;
		}
		if (pending && !hold && fake_now_ms() >= due && conn >= 0) {
			pending = false;
			if (fake_reply(conn, ref, cfg->run_pages, mfd) == 0) {
				nrep++;
			}
		}
	}
	if (conn >= 0) {
		close(conn);
	}
	if (lfd >= 0) {
		close(lfd);
	}
	if (mfd >= 0) {
		close(mfd);
	}
	unlink(a.sun_path);
}

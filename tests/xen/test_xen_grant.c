/* test_xen_grant.c: the Xen grant back-end in both roles, under the xenshim, against native gntemu in another process. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qgui/grant.h"
#include "test.h"

/*
 * Run with LD_PRELOAD=libxenshim.so (make check does): libxengntshr and
 * libxengnttab then speak gntemu (emulation.md 3), so the Xen back-end of
 * one process shares with, or maps from, the native gntemu back-end of
 * another, byte for byte. The shim learns its own domain from VCHAN_DOMAIN.
 * The peer helpers are the same as in tests/unit/test_grant.c.
 */

#define PG GRANT_PAGE_SIZE
#define GRANTEE 1
#define IO_TIMEOUT_MS 10000

enum {
	C_READY = 1,
	C_SHARE,   /* a = npages -> b = slot, n refs */
	C_FILL,    /* a = slot, b = page, c = byte */
	C_UNSHARE, /* a = slot */
};

struct cmd {
	int32_t op;
	int32_t rc;
	uint32_t a, b, c, n;
	uint32_t refs[64];
};

struct peer {
	pid_t pid;
	int to, from;
};

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmd_read(int fd, struct cmd *c, int timeout_ms)
{
	char *p = (char *)c;
	size_t have = 0;

	while (have < sizeof(*c)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, timeout_ms);
		ssize_t n;

		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			return -1;
		}
		n = read(fd, p + have, sizeof(*c) - have);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		have += (size_t)n;
	}
	return 0;
}

static int peer_start(struct peer *p, void (*fn)(int in, int out, void *arg), void *arg)
{
	int a[2], b[2];

	if (pipe2(a, O_CLOEXEC) != 0) {
		return -1;
	}
	if (pipe2(b, O_CLOEXEC) != 0) {
		close(a[0]);
		close(a[1]);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	if (p->pid == 0) {
		close(a[1]);
		close(b[0]);
		fn(a[0], b[1], arg);
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	p->to = a[1];
	p->from = b[0];
	if (p->pid < 0) {
		close(p->to);
		close(p->from);
		return -1;
	}
	return 0;
}

static int call(struct peer *p, struct cmd *c)
{
	if (write_full(p->to, c, sizeof(*c)) != 0 || cmd_read(p->from, c, IO_TIMEOUT_MS) != 0) {
		return -9999;
	}
	return c->rc;
}

static int peer_ready(struct peer *p)
{
	struct cmd c;

	return cmd_read(p->from, &c, IO_TIMEOUT_MS) == 0 && c.op == C_READY ? c.rc : -9999;
}

static int peer_finish(struct peer *p)
{
	int st = 0;

	if (p->pid <= 0) {
		return -1;
	}
	close(p->to);
	close(p->from);
	if (waitpid(p->pid, &st, 0) != p->pid) {
		st = -1;
	}
	p->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void env_setup(int own)
{
	const char *pre = getenv("LD_PRELOAD");
	char d[16];

	if (pre == NULL || strstr(pre, "xenshim") == NULL) {
		printf("# run with LD_PRELOAD=.../libxenshim.so (make check does), or the Xen calls find no /dev/xen\n");
	}

	snprintf(d, sizeof(d), "%d", own);
	setenv("VCHAN_SOCKET_DIR", test_tmpdir(), 1);
	setenv("VCHAN_DOMAIN", d, 1);
	unsetenv("GNTEMU_TIMEOUT_MS");
}

static int page_is(const void *view, size_t page, uint8_t byte)
{
	const uint8_t *p = (const uint8_t *)view + page * PG;

	for (size_t i = 0; i < PG; i++) {
		if (p[i] != byte) {
			return 0;
		}
	}
	return 1;
}

/* ---------------------------------------------------------------- the owner in a child */

struct owner_cfg {
	enum qgui_backend backend;
	int own, grantee;
};

static void owner_main(int in, int out, void *arg)
{
	const struct owner_cfg *cfg = arg;
	struct grant_share *sh[16] = { NULL };
	struct grant_owner *o;
	struct cmd c = { .op = C_READY };
	char dom[16];

	snprintf(dom, sizeof(dom), "%d", cfg->own);
	setenv("VCHAN_DOMAIN", dom, 1);
	o = grant_owner_create(cfg->backend, cfg->own, cfg->grantee);
	c.rc = o != NULL ? 0 : -errno;
	write_full(out, &c, sizeof(c));
	if (o == NULL) {
		return;
	}
	while (cmd_read(in, &c, -1) == 0) {
		switch (c.op) {
		case C_SHARE: {
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
				/* new pages are zero-filled */
				c.c = 1;
				for (size_t k = 0; k < sh[i]->npages; k++) {
					c.c &= (uint32_t)page_is(sh[i]->addr, k, 0);
				}
			}
			break;
		}
		case C_FILL:
			memset((uint8_t *)sh[c.a]->addr + (size_t)c.b * PG, (int)c.c, PG);
			c.rc = 0;
			break;
		case C_UNSHARE:
			grant_owner_unshare(o, sh[c.a]);
			sh[c.a] = NULL;
			c.rc = 0;
			break;
		default:
			c.rc = -EINVAL;
			break;
		}
		write_full(out, &c, sizeof(c));
	}
	grant_owner_destroy(o);
}

static int owner_share(struct peer *p, uint32_t npages, uint32_t *slot, uint32_t *refs)
{
	struct cmd c = { .op = C_SHARE, .a = npages };
	int rc = call(p, &c);

	if (rc == 0) {
		*slot = c.b;
		memcpy(refs, c.refs, sizeof(uint32_t) * c.n);
		if (c.c != 1) {
			return -1000; /* not zero-filled */
		}
	}
	return rc;
}

static int owner_fill(struct peer *p, uint32_t slot, uint32_t page, uint8_t byte)
{
	struct cmd c = { .op = C_FILL, .a = slot, .b = page, .c = byte };

	return call(p, &c);
}

static int owner_unshare(struct peer *p, uint32_t slot)
{
	struct cmd c = { .op = C_UNSHARE, .a = slot };

	return call(p, &c);
}

/*
 * The grantee's side of every case: owner dom `owner` (back-end in the child
 * per cfg) shares two shares; this process maps them with mapper_backend.
 */
static void grant_roundtrip(enum qgui_backend owner_backend, enum qgui_backend mapper_backend, int owner)
{
	struct owner_cfg cfg = { owner_backend, owner, GRANTEE };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL, *g2 = NULL;
	struct peer p = { 0 };
	uint32_t a, b, ra[64], rb[64], refs[4];
	const uint8_t *v;
	size_t off = 99;
	int fd;

	env_setup(GRANTEE);
	T_EQ(peer_start(&p, owner_main, &cfg), 0);
	T_EQ(peer_ready(&p), 0);
	T_EQ(owner_share(&p, 4, &a, ra), 0);
	T_EQ(owner_share(&p, 2, &b, rb), 0);
	for (uint32_t i = 0; i < 4; i++) {
		T_EQ(owner_fill(&p, a, i, (uint8_t)(0x10 + i)), 0);
	}
	T_EQ(owner_fill(&p, b, 0, 0xb0), 0);
	T_EQ(owner_fill(&p, b, 1, 0xb1), 0);

	m = grant_mapper_create(mapper_backend, GRANTEE, owner);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, ra, 4, &g), 0);
	T_EQ(grant_mapping_size(g), 4 * PG);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL);
	for (size_t i = 0; i < 4; i++) {
		T_ASSERT(page_is(v, i, (uint8_t)(0x10 + i)));
	}
	fd = grant_mapping_fd(g, &off);
	if (mapper_backend == QGUI_BACKEND_XEN) {
		T_EQ(fd, -1); /* Xen pages are not an fd */
	} else {
		/* both owners keep one memfd per share and send it read-only */
		T_ASSERT(fd >= 0);
		T_EQ(off, 0);
		T_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	}
	/* live updates */
	T_EQ(owner_fill(&p, a, 3, 0xee), 0);
	T_ASSERT(page_is(v, 3, 0xee));
	/* read-only for the grantee */
	T_ASSERT(mprotect((void *)(uintptr_t)v, PG, PROT_READ | PROT_WRITE) != 0);

	/* pages of both shares in one call */
	refs[0] = rb[1];
	refs[1] = ra[0];
	refs[2] = rb[0];
	refs[3] = ra[2];
	T_EQ(grant_mapper_map(m, refs, 4, &g2), 0);
	T_EQ(grant_mapping_fd(g2, &off), -1);
	v = grant_mapping_addr(g2);
	T_ASSERT(v != NULL && page_is(v, 0, 0xb1) && page_is(v, 1, 0x10) && page_is(v, 2, 0xb0) &&
			page_is(v, 3, 0x12));
	T_EQ(owner_fill(&p, b, 1, 0x5b), 0);
	T_ASSERT(page_is(v, 0, 0x5b));
	grant_mapping_destroy(g2);
	g2 = NULL;

	/* unshare: later maps fail, the earlier mapping keeps its pages */
	T_EQ(owner_unshare(&p, a), 0);
	T_EQ(grant_mapper_map(m, ra, 4, &g2), -EPROTO);
	T_ASSERT(g2 == NULL);
	v = grant_mapping_addr(g);
	T_ASSERT(page_is(v, 0, 0x10) && page_is(v, 3, 0xee));
	T_EQ(grant_mapper_map(m, rb, 2, &g2), 0);
	T_ASSERT(page_is(grant_mapping_addr(g2), 1, 0x5b));
	grant_mapping_destroy(g2);
	grant_mapping_destroy(g);

	/* the owner goes away: a clean failure */
	T_EQ(peer_finish(&p), 0);
	T_EQ(grant_mapper_map(m, rb, 2, &g2), -EPROTO);
	grant_mapper_destroy(m);
}

static void xen_owner_to_gntemu_grantee(void)
{
	grant_roundtrip(QGUI_BACKEND_XEN, QGUI_BACKEND_SOCKET, 2);
}

static void gntemu_owner_to_xen_grantee(void)
{
	grant_roundtrip(QGUI_BACKEND_SOCKET, QGUI_BACKEND_XEN, 3);
}

static void xen_owner_to_xen_grantee(void)
{
	grant_roundtrip(QGUI_BACKEND_XEN, QGUI_BACKEND_XEN, 4);
}

static void gntemu_both(void)
{
	grant_roundtrip(QGUI_BACKEND_SOCKET, QGUI_BACKEND_SOCKET, 5);
}

/* The Xen owner in this process (the shim's helper thread answers), a gntemu grantee in the same one. */
static void xen_owner_in_process(void)
{
	struct grant_owner *o;
	struct grant_mapper *m;
	struct grant_share *s = NULL;
	struct grant_mapping *g = NULL;

	env_setup(6);
	o = grant_owner_create(QGUI_BACKEND_XEN, 6, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 3, &s), 0);
	T_ASSERT(s->npages == 3 && s->addr != NULL);
	memset(s->addr, 0x66, 3 * PG);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 6);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, s->refs, 3, &g), 0);
	T_ASSERT(page_is(grant_mapping_addr(g), 2, 0x66));
	grant_mapping_destroy(g);
	grant_owner_unshare(o, s);
	g = NULL;
	{
		uint32_t ref = 8;

		T_EQ(grant_mapper_map(m, &ref, 1, &g), -EPROTO);
	}
	grant_mapper_destroy(m);
	grant_owner_destroy(o);
}

TEST_MAIN(TEST(xen_owner_to_gntemu_grantee), TEST(gntemu_owner_to_xen_grantee), TEST(xen_owner_to_xen_grantee),
		TEST(gntemu_both), TEST(xen_owner_in_process))

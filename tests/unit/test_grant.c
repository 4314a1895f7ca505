/* test_grant.c: gntemu grant tables (both roles, in two processes), hostile owners, the reply parser, fd checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gntemu.h"
#include "peer.h"
#include "qgui/grant.h"
#include "qgui/log.h"
#include "test.h"

#define PG GRANT_PAGE_SIZE
#define GRANTEE 1
#define IO_TIMEOUT_MS 10000

/* ---------------------------------------------------------------- helpers (the peers: tests/lib/peer.h) */

/* This file's own operations, after peer.h's. */
enum {
	C_MAP = PEER_OP_FREE, /* grantee: map n refs; rc, c = elapsed ms, refs[i] = first byte of page i */
	C_TRY_SHARE,          /* share on an owner inherited through fork */
	C_SCENARIO,           /* fake owner: a = scenario, b = how many requests it applies to */
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static void env_setup(void)
{
	setenv("VCHAN_SOCKET_DIR", test_tmpdir(), 1);
	unsetenv("VCHAN_DOMAIN");
}

/* stderr (the log) goes to a file between capture_begin and capture_end */
static int cap_fd = -1, cap_saved = -1;

static void capture_begin(void)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/stderr.log", test_tmpdir());
	cap_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cap_saved = dup(STDERR_FILENO);
	if (cap_fd >= 0 && cap_saved >= 0) {
		dup2(cap_fd, STDERR_FILENO);
	}
}

/* Restores stderr; returns the number of lines logged meanwhile (text in buf), or -1. */
static int capture_end(char *buf, size_t len)
{
	ssize_t n = -1;
	int lines = 0;

	if (cap_saved >= 0) {
		dup2(cap_saved, STDERR_FILENO);
		close(cap_saved);
	}
	if (cap_fd >= 0) {
		n = pread(cap_fd, buf, len - 1, 0);
		close(cap_fd);
	}
	cap_fd = cap_saved = -1;
	if (n < 0) {
		return -1;
	}
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		lines += buf[i] == '\n';
	}
	fputs(buf, stderr); /* still in the test's log */
	return lines;
}

static void sock_name(char *buf, size_t len, int owner, int grantee)
{
	snprintf(buf, len, "%s/gntshr.%d.%d.sock", test_tmpdir(), owner, grantee);
}

/* ---------------------------------------------------------------- a grantee in a child */

struct grantee_cfg {
	int own, owner;
	unsigned deadline_ms; /* grant_mapper_set_limits, 0: none */
};

static void grantee_main(int in, int out, void *arg)
{
	const struct grantee_cfg *cfg = arg;
	struct grant_mapper *m;
	struct peer_cmd c = { .op = PEER_READY };

	m = grant_mapper_create(QGUI_BACKEND_SOCKET, cfg->own, cfg->owner);
	if (m != NULL && grant_mapper_set_limits(m, cfg->deadline_ms, GRANT_MAX_RUNS) != 0) {
		grant_mapper_destroy(m);
		m = NULL;
	}
	c.rc = m != NULL ? 0 : -errno;
	kid_send(out, &c, sizeof(c));
	if (m == NULL) {
		return;
	}
	while (kid_recv(in, &c, sizeof(c), -1) == 0) {
		if (c.op == C_MAP) {
			struct grant_mapping *g = NULL;
			long long t0 = test_now_ms();

			c.rc = grant_mapper_map(m, c.refs, c.n, &g);
			c.c = (uint32_t)(test_now_ms() - t0);
			if (c.rc == 0) {
				const uint8_t *v = grant_mapping_addr(g);

				for (uint32_t i = 0; i < c.n; i++) {
					c.refs[i] = v != NULL ? v[(size_t)i * PG] : 0xffffu;
				}
			}
			grant_mapping_destroy(g);
		} else {
			c.rc = -EINVAL;
		}
		kid_send(out, &c, sizeof(c));
	}
	grant_mapper_destroy(m);
}

/* ---------------------------------------------------------------- the parser and the fd checks */

static void le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void parse_reply_table(void)
{
	static const struct {
		const char *name;
		uint32_t status, first, count, pgoff, flags;
		size_t len;
		int nfds;
		uint32_t ref;
		int want;
	} cases[] = {
		{ "ok, ref is first", 0, 8, 4, 0, 0, 20, 1, 8, 0 },
		{ "ok, ref is last", 0, 8, 4, 0, 0, 20, 1, 11, 0 },
		{ "ok, big table", 0, 4096, 1, 4096, 0, 20, 1, 4096, 0 },
		{ "ok, run ends at 2^32", 0, 0xfffffff0u, 16, 0, 0, 20, 1, 0xffffffffu, 0 },
		{ "not granted", (uint32_t)-ENOENT, 0, 0, 0, 0, 20, 0, 8, -ENOENT },
		{ "ref below first", 0, 9, 4, 0, 0, 20, 1, 8, -EPROTO },
		{ "ref at first + count", 0, 8, 4, 0, 0, 20, 1, 12, -EPROTO },
		{ "empty run", 0, 8, 0, 0, 0, 20, 1, 8, -EPROTO },
		{ "run wraps past 2^32", 0, 0xfffffff0u, 0x100, 0, 0, 20, 1, 0xfffffff8u, -EPROTO },
		{ "wrap lets a small ref in", 0, 0xfffffff0u, 0x100, 0, 0, 20, 1, 100, -EPROTO },
		{ "count 2^32-1 from 1", 0, 1, 0xffffffffu, 0, 0, 20, 1, 5, 0 },
		{ "count 2^32-1 from 2", 0, 2, 0xffffffffu, 0, 0, 20, 1, 5, -EPROTO },
		{ "flags", 0, 8, 4, 0, 1, 20, 1, 8, -EPROTO },
		{ "flags high bit", 0, 8, 4, 0, 0x80000000u, 20, 1, 8, -EPROTO },
		{ "no fd", 0, 8, 4, 0, 0, 20, 0, 8, -EPROTO },
		{ "two fds", 0, 8, 4, 0, 0, 20, 2, 8, -EPROTO },
		{ "truncated control", 0, 8, 4, 0, 0, 20, -1, 8, -EPROTO },
		{ "short reply", 0, 8, 4, 0, 0, 19, 1, 8, -EPROTO },
		{ "empty reply", 0, 8, 4, 0, 0, 0, 1, 8, -EPROTO },
		{ "long reply", 0, 8, 4, 0, 0, 21, 1, 8, -EPROTO },
		{ "status -EPERM", (uint32_t)-EPERM, 0, 0, 0, 0, 20, 0, 8, -EPROTO },
		{ "status 1", 1, 8, 4, 0, 0, 20, 1, 8, -EPROTO },
		{ "status -EINVAL", (uint32_t)-EINVAL, 0, 0, 0, 0, 20, 0, 8, -EPROTO },
		{ "-ENOENT with an fd", (uint32_t)-ENOENT, 0, 0, 0, 0, 20, 1, 8, -EPROTO },
		{ "-ENOENT with first", (uint32_t)-ENOENT, 8, 0, 0, 0, 20, 0, 8, -EPROTO },
		{ "-ENOENT with count", (uint32_t)-ENOENT, 0, 1, 0, 0, 20, 0, 8, -EPROTO },
		{ "-ENOENT with pgoff", (uint32_t)-ENOENT, 0, 0, 1, 0, 20, 0, 8, -EPROTO },
		{ "-ENOENT with flags", (uint32_t)-ENOENT, 0, 0, 0, 1, 20, 0, 8, -EPROTO },
		{ "-ENOENT, truncated control", (uint32_t)-ENOENT, 0, 0, 0, 0, 20, -1, 8, -EPROTO },
	};
	uint8_t buf[32];
	struct gntemu_run run;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		int rc;

		memset(buf, 0, sizeof(buf));
		le(buf, cases[i].status);
		le(buf + 4, cases[i].first);
		le(buf + 8, cases[i].count);
		le(buf + 12, cases[i].pgoff);
		le(buf + 16, cases[i].flags);
		memset(&run, 0xa5, sizeof(run));
		rc = gntemu_parse_reply_why(buf, cases[i].len, cases[i].nfds, cases[i].ref, &run, &why);
		if (rc != cases[i].want) {
			test_fail(__FILE__, __LINE__, "case \"%s\": %d, expected %d", cases[i].name, rc, cases[i].want);
			return;
		}
		T_EQ(gntemu_parse_reply(buf, cases[i].len, cases[i].nfds, cases[i].ref, &run), rc);
		if (rc == 0) {
			T_EQ_U(run.first, cases[i].first);
			T_EQ_U(run.count, cases[i].count);
			T_EQ_U(run.pgoff, cases[i].pgoff);
		} else {
			T_EQ_U(run.first | run.count | run.pgoff, 0);
			T_ASSERT(rc == -ENOENT || why != NULL);
		}
	}
	T_EQ(gntemu_parse_reply(NULL, 20, 1, 8, &run), -EPROTO);
}

/* A memfd of npages; seals as given (-1: not sealable at all). */
static int make_memfd(size_t npages, int seals, unsigned int extra_flags)
{
	int fd = memfd_create("test", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0u) | extra_flags);

	if (fd < 0) {
		return -1;
	}
	if (ftruncate(fd, (off_t)(npages * PG)) != 0 || (seals > 0 && fcntl(fd, F_ADD_SEALS, seals) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A sparse memfd of bytes (ftruncate, then seal). */
static int make_sized_memfd(unsigned long long bytes, int seals)
{
	int fd = memfd_create("test-sized", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0) {
		return -1;
	}
	if (ftruncate(fd, (off_t)bytes) != 0 || fcntl(fd, F_ADD_SEALS, seals) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int shm_file(size_t npages)
{
	char path[] = "/dev/shm/qgui-test-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		return -1;
	}
	unlink(path);
	if (ftruncate(fd, (off_t)(npages * PG)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int disk_file(size_t npages)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/disk-XXXXXX", test_tmpdir());
	fd = mkstemp(path);
	if (fd < 0) {
		return -1;
	}
	unlink(path);
	if (ftruncate(fd, (off_t)(npages * PG)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void check_fd_cases(void)
{
	int fd, p[2];

	env_setup();
	fd = make_memfd(4, F_SEAL_SHRINK | F_SEAL_GROW, 0);
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), 0);
	T_EQ(gntemu_check_fd(fd, 3, 1), 0);
	T_EQ(gntemu_check_fd(fd, 1, 4), -EPROTO);  /* one page too short */
	T_EQ(gntemu_check_fd(fd, 4, 1), -EPROTO);
	T_EQ(gntemu_check_fd(fd, 0xffffffffu, 0xffffffffu), -EPROTO); /* (pgoff + count) * 4096 would overflow 32 bits */
	T_EQ(gntemu_check_fd(fd, 0xffffffffu, 2), -EPROTO);
	close(fd);

	fd = make_memfd(4, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | F_SEAL_WRITE, 0);
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), 0);
	close(fd);

	fd = make_memfd(4, 0, 0); /* sealable, unsealed */
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), -EPROTO);
	close(fd);
	fd = make_memfd(4, -1, 0); /* not sealable: F_SEAL_SEAL only */
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), -EPROTO);
	close(fd);
	fd = make_memfd(4, F_SEAL_GROW | F_SEAL_SEAL, 0); /* sealed, but may shrink */
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), -EPROTO);
	close(fd);
	fd = make_memfd(4, F_SEAL_SHRINK | F_SEAL_SEAL, 0); /* v1.1: sealed, but may grow */
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), -EPROTO);
	close(fd);

	/* v1.1: at most 4 GiB (sparse files cost the owner nothing) */
	fd = make_sized_memfd(1ull << 32, F_SEAL_SHRINK | F_SEAL_GROW);
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), 0);
	close(fd);
	fd = make_sized_memfd((1ull << 32) + PG, F_SEAL_SHRINK | F_SEAL_GROW);
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), -EPROTO);
	close(fd);
	fd = make_sized_memfd(1ull << 40, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL); /* 1 TiB */
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 4), -EPROTO);
	close(fd);

	T_EQ(pipe2(p, O_CLOEXEC), 0);
	T_EQ(gntemu_check_fd(p[0], 0, 1), -EPROTO);
	close(p[0]);
	close(p[1]);
	fd = disk_file(4);
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 1), -EPROTO);
	close(fd);
	fd = shm_file(4);
	if (fd >= 0) {
		T_EQ(gntemu_check_fd(fd, 0, 1), -EPROTO);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0);
	T_EQ(gntemu_check_fd(fd, 0, 1), -EPROTO);
	close(fd);
	T_EQ(gntemu_check_fd(-1, 0, 1), -EPROTO);

	/* hugetlb memfds (when the kernel allows creating one): 2 MiB pages */
	fd = memfd_create("test-huge", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
	if (fd >= 0) {
		(void)!ftruncate(fd, 2 << 20);
		(void)!fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
		T_EQ(gntemu_check_fd(fd, 0, 1), -EPROTO);
		close(fd);
	}
}

/* ---------------------------------------------------------------- honest owner and grantee in two processes */

static void share_map_live(void)
{
	struct peer_owner_cfg cfg = { QGUI_BACKEND_SOCKET, 10, GRANTEE, false };
	struct grant_mapper *m = NULL;
	struct grant_mapping *g = NULL, *g2 = NULL;
	struct kid p = { 0 };
	uint32_t slot, refs[64];
	const uint8_t *v;
	size_t off = 1;
	int fd, fds0;

	env_setup();
	fds0 = count_fds();
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 4, &slot, refs), 0);
	for (uint32_t i = 0; i < 4; i++) {
		T_EQ_U(refs[i], refs[0] + i);
		T_EQ(peer_owner_fill(&p, slot, i, (uint8_t)(0x10 + i)), 0);
	}
	T_ASSERT(refs[0] >= 8);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 10);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, refs, 4, &g), 0);
	T_EQ(grant_mapping_size(g), 4 * PG);
	fd = grant_mapping_fd(g, &off);
	T_ASSERT(fd >= 0);
	T_EQ(off, 0);
	T_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY); /* read-only grant: read-only fd */
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL);
	T_ASSERT(grant_mapping_addr(g) == v);
	for (size_t i = 0; i < 4; i++) {
		T_ASSERT(peer_page_is(v, i, (uint8_t)(0x10 + i)));
	}
	/* live: the owner writes, the grantee's existing view sees it */
	T_EQ(peer_owner_fill(&p, slot, 2, 0xee), 0);
	T_ASSERT(peer_page_is(v, 2, 0xee));
	/* never writable through the view */
	T_ASSERT(mprotect((void *)(uintptr_t)v, PG, PROT_READ | PROT_WRITE) != 0);

	/* consecutive refs in the middle: the memfd holds pages this mapping does not use, so no fd (v1.1) */
	T_EQ(grant_mapper_map(m, refs + 1, 2, &g2), 0);
	T_EQ(grant_mapping_fd(g2, &off), -1);
	v = grant_mapping_addr(g2);
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0x11) && peer_page_is(v, 1, 0xee));
	T_EQ(peer_owner_fill(&p, slot, 1, 0x77), 0);
	T_ASSERT(peer_page_is(v, 0, 0x77));
	grant_mapping_destroy(g2);
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
	T_EQ(count_fds(), fds0);
}

static void unshare_revokes(void)
{
	struct peer_owner_cfg cfg = { QGUI_BACKEND_SOCKET, 11, GRANTEE, false };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL, *g2 = NULL;
	struct kid p = { 0 };
	uint32_t a, b, ra[64], rb[64];
	const uint8_t *v;

	env_setup();
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 2, &a, ra), 0);
	T_EQ(peer_owner_share(&p, 2, &b, rb), 0);
	T_EQ(peer_owner_fill(&p, a, 0, 0x21), 0);
	T_EQ(peer_owner_fill(&p, a, 1, 0x22), 0);
	T_EQ(peer_owner_fill(&p, b, 0, 0x31), 0);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 11);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, ra, 2, &g), 0);
	v = grant_mapping_addr(g); /* mapped before the unshare */
	T_ASSERT(v != NULL);
	T_EQ(peer_owner_cmd(&p, PEER_UNSHARE, a), 0);
	/* refs of the unshared run are gone: a dump naming them is a violation */
	T_EQ(grant_mapper_map(m, ra, 2, &g2), -EPROTO);
	T_ASSERT(g2 == NULL);
	T_EQ(grant_mapper_map(m, ra + 1, 1, &g2), -EPROTO);
	/* the earlier mapping keeps its pages */
	T_ASSERT(peer_page_is(v, 0, 0x21) && peer_page_is(v, 1, 0x22));
	/* the other share is untouched */
	T_EQ(grant_mapper_map(m, rb, 2, &g2), 0);
	T_ASSERT(peer_page_is(grant_mapping_addr(g2), 0, 0x31));
	grant_mapping_destroy(g2);
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
}

static void two_shares_in_one_map(void)
{
	struct peer_owner_cfg cfg = { QGUI_BACKEND_SOCKET, 12, GRANTEE, false };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct kid p = { 0 };
	uint32_t a, b, ra[64], rb[64], refs[8];
	const uint8_t *v;
	size_t off;

	env_setup();
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 3, &a, ra), 0);
	T_EQ(peer_owner_share(&p, 2, &b, rb), 0);
	for (uint32_t i = 0; i < 3; i++) {
		T_EQ(peer_owner_fill(&p, a, i, (uint8_t)(0xa0 + i)), 0);
	}
	for (uint32_t i = 0; i < 2; i++) {
		T_EQ(peer_owner_fill(&p, b, i, (uint8_t)(0xb0 + i)), 0);
	}
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 12);
	T_ASSERT(m != NULL);

	/* scattered over two memfds: no single fd, but one correct live view */
	refs[0] = rb[0];
	refs[1] = ra[1];
	refs[2] = ra[2];
	refs[3] = rb[1];
	refs[4] = ra[0];
	T_EQ(grant_mapper_map(m, refs, 5, &g), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL);
	T_ASSERT(peer_page_is(v, 0, 0xb0) && peer_page_is(v, 1, 0xa1) && peer_page_is(v, 2, 0xa2) &&
			peer_page_is(v, 3, 0xb1) && peer_page_is(v, 4, 0xa0));
	T_EQ(peer_owner_fill(&p, b, 1, 0x5b), 0);
	T_EQ(peer_owner_fill(&p, a, 0, 0x5a), 0);
	T_ASSERT(peer_page_is(v, 3, 0x5b) && peer_page_is(v, 4, 0x5a));
	grant_mapping_destroy(g);

	/* consecutive numbers across the two shares are still two memfds */
	if (rb[0] == ra[2] + 1) {
		uint32_t all[5] = { ra[0], ra[1], ra[2], rb[0], rb[1] };

		T_EQ(grant_mapper_map(m, all, 5, &g), 0);
		T_EQ(grant_mapping_fd(g, &off), -1);
		v = grant_mapping_addr(g);
		T_ASSERT(v != NULL && peer_page_is(v, 0, 0x5a) && peer_page_is(v, 2, 0xa2) &&
				peer_page_is(v, 3, 0xb0) && peer_page_is(v, 4, 0x5b));
		grant_mapping_destroy(g);
	}

	/* reversed pages of one share: one lookup, three segments */
	refs[0] = ra[2];
	refs[1] = ra[1];
	refs[2] = ra[0];
	T_EQ(grant_mapper_map(m, refs, 3, &g), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0xa2) && peer_page_is(v, 1, 0xa1) && peer_page_is(v, 2, 0x5a));
	grant_mapping_destroy(g);

	/* the same page twice */
	refs[0] = ra[1];
	refs[1] = ra[1];
	T_EQ(grant_mapper_map(m, refs, 2, &g), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0xa1) && peer_page_is(v, 1, 0xa1));
	grant_mapping_destroy(g);

	/* the whole second share, in order: its fd, from offset 0 */
	T_EQ(grant_mapper_map(m, rb, 2, &g), 0);
	off = 1;
	T_ASSERT(grant_mapping_fd(g, &off) >= 0);
	T_EQ(off, 0);
	grant_mapping_destroy(g);
	/* part of a share (its end, its start): no fd, the pages through the view */
	T_EQ(grant_mapper_map(m, rb + 1, 1, &g), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	T_ASSERT(peer_page_is(grant_mapping_addr(g), 0, 0x5b));
	grant_mapping_destroy(g);
	T_EQ(grant_mapper_map(m, ra, 2, &g), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0x5a) && peer_page_is(v, 1, 0xa1));
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
}

/* Owner and grantee in one process (the helper thread answers), socket life cycle. */
static void socket_lifecycle(void)
{
	struct grant_owner *o;
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct grant_share *s = NULL, *s2 = NULL;
	char path[300];
	struct stat st;

	env_setup();
	sock_name(path, sizeof(path), 13, GRANTEE);
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 13, GRANTEE);
	T_ASSERT(o != NULL);
	T_ASSERT(stat(path, &st) != 0); /* bound with the first share, not before */
	T_EQ(grant_owner_share(o, 3, &s), 0);
	T_ASSERT(s != NULL && s->addr != NULL && s->npages == 3);
	T_EQ(stat(path, &st), 0);
	T_ASSERT(S_ISSOCK(st.st_mode));
	T_EQ(st.st_mode & 07777, 0660);
	/* zero-filled, writable */
	T_ASSERT(peer_page_is(s->addr, 2, 0));
	memset(s->addr, 0x42, 3 * PG);
	/* refs of live shares are distinct */
	T_EQ(grant_owner_share(o, 2, &s2), 0);
	T_ASSERT(s2->refs[0] >= s->refs[2] + 1 || s2->refs[1] < s->refs[0]);

	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 13);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, s->refs, 3, &g), 0);
	T_ASSERT(peer_page_is(grant_mapping_addr(g), 1, 0x42));
	grant_mapping_destroy(g);
	grant_owner_unshare(o, s);
	grant_owner_unshare(o, NULL);
	grant_owner_destroy(o);
	T_ASSERT(stat(path, &st) != 0 && errno == ENOENT); /* unlinked on destroy */
	grant_owner_destroy(NULL);

	/* the mapper survives its owner: a later map fails cleanly */
	uint32_t ref = 8;
	T_EQ(grant_mapper_map(m, &ref, 1, &g), -EPROTO);
	grant_mapper_destroy(m);
	grant_mapper_destroy(NULL);
	grant_mapping_destroy(NULL);
}

static void stale_socket_replaced(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct grant_owner *o;
	struct grant_share *s = NULL;
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct stat before, after;
	int fd;

	env_setup();
	sock_name(a.sun_path, sizeof(a.sun_path), 14, GRANTEE);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(fd >= 0);
	T_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd); /* stale: the file stays, nobody listens */
	T_EQ(stat(a.sun_path, &before), 0);

	o = grant_owner_create(QGUI_BACKEND_SOCKET, 14, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 1, &s), 0);
	T_EQ(stat(a.sun_path, &after), 0);
	T_ASSERT(after.st_ino != before.st_ino);
	T_EQ(after.st_mode & 07777, 0660);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 14);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, s->refs, 1, &g), 0);
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);
	grant_owner_destroy(o);

	/* a file that is not a socket is not ours to replace */
	fd = open(a.sun_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	T_ASSERT(fd >= 0);
	close(fd);
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 14, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 1, &s), -EEXIST);
	grant_owner_destroy(o);
	T_EQ(unlink(a.sun_path), 0);
}

static void second_owner_in_use(void)
{
	struct peer_owner_cfg cfg = { QGUI_BACKEND_SOCKET, 15, GRANTEE, false };
	struct grant_owner *o, *o2;
	struct grant_share *s = NULL;
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct kid p = { 0 };
	uint32_t slot, refs[64];
	char path[300];
	struct stat st;

	env_setup();
	sock_name(path, sizeof(path), 15, GRANTEE);
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 2, &slot, refs), 0);
	T_EQ(peer_owner_fill(&p, slot, 0, 0x66), 0);

	/* another live process serves (15 -> 1): this one may not take over */
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 15, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 1, &s), -EADDRINUSE);
	T_ASSERT(s == NULL);
	/* ... and the first owner still answers */
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 15);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, refs, 2, &g), 0);
	T_ASSERT(peer_page_is(grant_mapping_addr(g), 0, 0x66));
	grant_mapping_destroy(g);
	grant_owner_destroy(o); /* never served: must leave the socket alone */
	T_EQ(stat(path, &st), 0);

	/* a second owner in the same process, same pair */
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 16, GRANTEE);
	o2 = grant_owner_create(QGUI_BACKEND_SOCKET, 16, GRANTEE);
	T_ASSERT(o != NULL && o2 != NULL);
	T_EQ(grant_owner_share(o, 1, &s), 0);
	T_EQ(grant_owner_share(o2, 1, &s), -EADDRINUSE);
	grant_owner_destroy(o2);
	grant_owner_destroy(o);

	T_EQ(peer_owner_cmd(&p, PEER_DESTROY, 0), 0);
	T_ASSERT(stat(path, &st) != 0);
	T_EQ(grant_mapper_map(m, refs, 2, &g), -EPROTO);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
}

static void owner_exit(void)
{
	struct peer_owner_cfg cfg = { QGUI_BACKEND_SOCKET, 17, GRANTEE, false };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL, *kept = NULL;
	struct kid p = { 0 };
	uint32_t slot, refs[64];
	char path[300];
	struct stat st;
	long long t0;

	env_setup();
	sock_name(path, sizeof(path), 17, GRANTEE);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 17);
	T_ASSERT(m != NULL);

	/* killed without any clean-up: kept connection sees EOF, reconnects to a stale socket */
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 2, &slot, refs), 0);
	T_EQ(peer_owner_fill(&p, slot, 1, 0x99), 0);
	T_EQ(grant_mapper_map(m, refs, 2, &kept), 0);
	T_ASSERT(peer_page_is(grant_mapping_addr(kept), 1, 0x99));
	kill(p.pid, SIGKILL);
	kid_finish(&p);
	T_EQ(stat(path, &st), 0); /* stale */
	t0 = test_now_ms();
	T_EQ(grant_mapper_map(m, refs, 2, &g), -EPROTO);
	T_ASSERT(test_now_ms() - t0 < 2500);
	/* pages mapped before the owner died stay readable */
	T_ASSERT(peer_page_is(grant_mapping_addr(kept), 1, 0x99));
	grant_mapping_destroy(kept);

	/* _exit without destroy: the same, and the next owner replaces the stale socket */
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 2, &slot, refs), 0);
	T_EQ(grant_mapper_map(m, refs, 2, &g), 0);
	grant_mapping_destroy(g);
	peer_owner_cmd(&p, PEER_EXIT, 0);
	T_EQ(kid_finish(&p), 0);
	T_EQ(grant_mapper_map(m, refs, 2, &g), -EPROTO);

	/* exit() without destroy: the socket goes at exit */
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 2, &slot, refs), 0);
	T_EQ(grant_mapper_map(m, refs, 2, &g), 0);
	grant_mapping_destroy(g);
	peer_owner_cmd(&p, PEER_EXIT_CLEAN, 0);
	T_EQ(kid_finish(&p), 0);
	T_ASSERT(stat(path, &st) != 0 && errno == ENOENT);
	T_EQ(grant_mapper_map(m, refs, 2, &g), -EPROTO);
	grant_mapper_destroy(m);
}

/* A child forked from an owner keeps none of its sockets: the grantee sees the owner's close at once. */
static void fork_drops_owner_sockets(void)
{
	struct grantee_cfg gcfg = { GRANTEE, 18, 4000 };
	struct grant_owner *o;
	struct grant_share *s = NULL;
	struct kid gp = { 0 };
	struct peer_cmd c;
	pid_t pid;
	int sync[2];

	env_setup();
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 18, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 2, &s), 0);
	memset(s->addr, 0x18, 2 * PG);
	T_ASSERT(kid_spawn(&gp, 0, grantee_main, &gcfg));
	T_EQ(peer_ready(&gp), 0);
	c = (struct peer_cmd){ .op = C_MAP, .n = 2, .refs = { s->refs[0], s->refs[1] } };
	T_EQ(peer_call(&gp, &c), 0); /* the grantee now keeps a connection our thread accepted */
	T_EQ_U(c.refs[1], 0x18);

	/* fork with the connection open; the child sits on it until told to go */
	T_EQ(pipe2(sync, O_CLOEXEC), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct grant_share *s2 = NULL;
		char b;
		int rc = grant_owner_share(o, 1, &s2); /* the parent's owner: not ours to use */

		close(sync[1]);
		(void)!read(sync[0], &b, 1);
		_exit(rc == -EBADF ? 0 : 1);
	}
	T_ASSERT(pid > 0);
	close(sync[0]);
	grant_owner_destroy(o);
	c = (struct peer_cmd){ .op = C_MAP, .n = 1, .refs = { 8 } };
	T_EQ(peer_call(&gp, &c), -EPROTO);
	/* EOF on the kept connection, reconnect, no socket: well inside the 4000 ms reply timeout */
	T_ASSERT(c.c < 2000);
	close(sync[1]);
	T_EQ(waitpid(pid, &c.rc, 0), pid);
	T_ASSERT(WIFEXITED(c.rc) && WEXITSTATUS(c.rc) == 0);
	T_EQ(kid_finish(&gp), 0);
}

/* ---------------------------------------------------------------- our owner against raw grantees */

static int raw_connect(int owner)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sock_name(a.sun_path, sizeof(a.sun_path), owner, GRANTEE);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int raw_send(int fd, uint32_t op, uint32_t ref)
{
	uint8_t req[8];

	le(req, op);
	le(req + 4, ref);
	return send(fd, req, sizeof(req), MSG_NOSIGNAL) == (ssize_t)sizeof(req) ? 0 : -1;
}

/* Reads one whole reply (fields f, *fd or -1). Returns the number of fds, or -1 on EOF/timeout. */
static int raw_reply(int sock, uint32_t f[5], int *fd)
{
	uint8_t rep[20];
	size_t have = 0;
	int nfds = 0;

	*fd = -1;
	while (have < sizeof(rep)) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 4)];
		} cm;
		struct iovec iov = { .iov_base = rep + have, .iov_len = sizeof(rep) - have };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			.msg_controllen = sizeof(cm.buf) };
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, IO_TIMEOUT_MS) != 1) {
			return -1;
		}
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0) {
			return -1;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t j = 0; j < k; j++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + j * sizeof(int), sizeof(got));
				if (*fd < 0) {
					*fd = got;
				} else {
					close(got);
				}
				nfds++;
			}
		}
		have += (size_t)n;
	}
	for (int i = 0; i < 5; i++) {
		f[i] = (uint32_t)rep[4 * i] | (uint32_t)rep[4 * i + 1] << 8 | (uint32_t)rep[4 * i + 2] << 16 |
				(uint32_t)rep[4 * i + 3] << 24;
	}
	return nfds;
}

/* EOF within the I/O timeout (after reading and closing whatever is still queued). */
static int raw_sees_eof(int sock)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 4)];
		} cm;
		char b[256];
		struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			.msg_controllen = sizeof(cm.buf) };
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, IO_TIMEOUT_MS) != 1) {
			return 0;
		}
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			return 1;
		}
		if (n < 0) {
			return 0;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t j = 0; j < k; j++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + j * sizeof(int), sizeof(got));
				close(got);
			}
		}
	}
}

static void owner_vs_raw_grantees(void)
{
	struct grant_owner *o;
	struct grant_share *s = NULL;
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	uint32_t f[5];
	int c1, c2, fd, seals, many[24], fds0;
	struct stat st;
	uint8_t half[8];

	env_setup();
	fds0 = count_fds();
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 21, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 3, &s), 0);
	memset(s->addr, 0x21, 3 * PG);

	/* a granted ref: status 0, the run, pgoff 0, flags 0, one read-only sealed memfd */
	c1 = raw_connect(21);
	T_ASSERT(c1 >= 0);
	T_EQ(raw_send(c1, 1, s->refs[1]), 0);
	T_EQ(raw_reply(c1, f, &fd), 1);
	T_EQ_U(f[0], 0);
	T_EQ_U(f[1], s->refs[0]);
	T_EQ_U(f[2], 3);
	T_EQ_U(f[3], 0);
	T_EQ_U(f[4], 0);
	T_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	seals = fcntl(fd, F_GET_SEALS);
	T_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	T_EQ(fstat(fd, &st), 0);
	T_EQ(st.st_size, 3 * PG);
	T_EQ(gntemu_check_fd(fd, 0, 3), 0);
	close(fd);

	/* not granted: exactly {-ENOENT, 0, 0, 0, 0} and no fd */
	T_EQ(raw_send(c1, 1, s->refs[2] + 1), 0);
	T_EQ(raw_reply(c1, f, &fd), 0);
	T_EQ_U(f[0], (uint32_t)-ENOENT);
	T_EQ_U(f[1] | f[2] | f[3] | f[4], 0);

	/* pipelined requests, one of them split in two writes: answered in order */
	T_EQ(raw_send(c1, 1, 7), 0);
	T_EQ(raw_send(c1, 1, s->refs[0]), 0);
	le(half, 1);
	le(half + 4, s->refs[2]);
	T_EQ(send(c1, half, 3, MSG_NOSIGNAL), 3);
	T_EQ(raw_reply(c1, f, &fd), 0);
	T_EQ_U(f[0], (uint32_t)-ENOENT);
	T_EQ(raw_reply(c1, f, &fd), 1);
	close(fd);
	T_EQ(send(c1, half + 3, 5, MSG_NOSIGNAL), 5);
	T_EQ(raw_reply(c1, f, &fd), 1);
	T_EQ_U(f[1], s->refs[0]);
	close(fd);

	/* garbage op: -EINVAL as 3.2 says, then the owner hangs up */
	c2 = raw_connect(21);
	T_ASSERT(c2 >= 0);
	T_EQ(raw_send(c2, 0x41414141u, s->refs[0]), 0);
	T_EQ(raw_reply(c2, f, &fd), 0);
	T_EQ_U(f[0], (uint32_t)-EINVAL);
	T_EQ_U(f[1] | f[2] | f[3] | f[4], 0);
	T_ASSERT(raw_sees_eof(c2));
	close(c2);

	/* a grantee that sends without ever reading is dropped; it never blocks the owner */
	c2 = raw_connect(21);
	T_ASSERT(c2 >= 0);
	for (int i = 0; i < 1000000; i++) {
		struct pollfd pfd = { .fd = c2, .events = POLLOUT };

		if (poll(&pfd, 1, IO_TIMEOUT_MS) != 1) {
			test_fail(__FILE__, __LINE__, "the owner neither read nor dropped a grantee that never reads");
			break;
		}
		if (raw_send(c2, 1, s->refs[0]) != 0) {
			break; /* EPIPE / ECONNRESET: dropped */
		}
	}
	T_ASSERT(test_ok());
	T_ASSERT(raw_sees_eof(c2));
	close(c2);

	/* more connections than the owner keeps: the extra ones are closed, the others still work */
	for (int i = 0; i < 24; i++) {
		many[i] = raw_connect(21);
		T_ASSERT(many[i] >= 0);
	}
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 21);
	T_ASSERT(m != NULL);
	T_EQ(raw_send(c1, 1, s->refs[0]), 0); /* c1 predates them: still served */
	T_EQ(raw_reply(c1, f, &fd), 1);
	close(fd);
	for (int i = 0; i < 24; i++) {
		close(many[i]);
	}
	T_EQ(grant_mapper_map(m, s->refs, 3, &g), 0); /* a fresh connection once the others are gone */
	T_ASSERT(peer_page_is(grant_mapping_addr(g), 2, 0x21));
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);

	/* destroy closes the grantee's connection */
	grant_owner_destroy(o);
	T_ASSERT(raw_sees_eof(c1));
	close(c1);
	T_EQ(count_fds(), fds0);
}

/* The owner can hand its share's memory to another writer (an X server) through a read-write fd. */
static void share_fd_writes_into_share(void)
{
	struct grant_owner *o;
	struct grant_share *s = NULL;
	int fd, flags;
	uint32_t v = 0xdeadbeef;

	setenv("VCHAN_SOCKET_DIR", test_tmpdir(), 1);
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 7, 8);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 2, &s), 0);
	fd = grant_share_fd(o, s);
	T_ASSERT(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	T_EQ(flags & O_ACCMODE, O_RDWR);
	T_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	T_EQ(pwrite(fd, &v, 4, 4096 + 8), 4);
	T_EQ(((uint32_t *)s->addr)[1024 + 2], 0xdeadbeef);
	close(fd);
	T_EQ(grant_share_fd(o, NULL), -1);
	T_EQ(errno, EINVAL);
	grant_owner_unshare(o, s);
	grant_owner_destroy(o);
}

static void bad_arguments(void)
{
	struct grant_owner *o;
	struct grant_mapper *m;
	struct grant_share *s = NULL;
	struct grant_mapping *g = NULL;
	uint32_t ref = 8;

	env_setup();
	errno = 0;
	T_ASSERT(grant_owner_create(QGUI_BACKEND_SOCKET, -1, 1) == NULL && errno == EINVAL);
	T_ASSERT(grant_owner_create(QGUI_BACKEND_SOCKET, 1, QGUI_DOMID_LIMIT) == NULL && errno == EINVAL);
	T_ASSERT(grant_mapper_create(QGUI_BACKEND_SOCKET, 1, -5) == NULL && errno == EINVAL);
	o = grant_owner_create(QGUI_BACKEND_SOCKET, 19, GRANTEE);
	T_ASSERT(o != NULL);
	T_EQ(grant_owner_share(o, 0, &s), -EINVAL);
	T_EQ(grant_owner_share(o, GRANT_MAX_PAGES + 1, &s), -EINVAL);
	T_EQ(grant_owner_share(NULL, 1, &s), -EINVAL);
	T_EQ(grant_owner_share(o, GRANT_MAX_PAGES, &s), 0); /* 384 MiB, sparse */
	T_EQ(s->npages, GRANT_MAX_PAGES);
	T_EQ_U(s->refs[GRANT_MAX_PAGES - 1], s->refs[0] + GRANT_MAX_PAGES - 1);
	grant_owner_destroy(o);

	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 19);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, &ref, 0, &g), -EINVAL);
	T_EQ(grant_mapper_map(m, NULL, 1, &g), -EINVAL);
	T_EQ(grant_mapper_map(m, &ref, GRANT_MAX_PAGES + 1, &g), -EINVAL);
	T_EQ(grant_mapper_map(m, &ref, 1, &g), -EPROTO); /* no socket: not granted */
	grant_mapper_destroy(m);
	T_EQ(grant_mapping_fd(NULL, NULL), -1);
	T_EQ(grant_mapping_size(NULL), 0);

	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 19);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_set_limits(NULL, 100, 1), -EINVAL);
	T_EQ(grant_mapper_set_limits(m, 100, 0), -EINVAL);
	T_EQ(grant_mapper_set_limits(m, 100, GRANT_MAX_RUNS + 1), -EINVAL);
	T_EQ(grant_mapper_set_limits(m, GRANT_MAX_DEADLINE_MS + 1, 1), -EINVAL);
	T_EQ(grant_mapper_set_limits(m, 250, 16), 0);
	T_EQ(grant_mapper_set_limits(m, 0, GRANT_MAX_RUNS), 0);
	grant_map_cancel(NULL);
	grant_mapper_destroy(m);
}

static void xen_without_dev_xen(void)
{
	if (access("/dev/xen/gntdev", F_OK) == 0 || access("/dev/xen/gntalloc", F_OK) == 0) {
		printf("# skipped: running under Xen\n");
		return;
	}
	errno = 0;
	T_ASSERT(grant_owner_create(QGUI_BACKEND_XEN, 2, 1) == NULL);
	T_EQ(errno, ENOENT);
	errno = 0;
	T_ASSERT(grant_mapper_create(QGUI_BACKEND_XEN, 1, 2) == NULL);
	T_EQ(errno, ENOENT);
}

/* ---------------------------------------------------------------- hostile owners */

#define H_REF 100u
#define H_FIRST 100u
#define H_COUNT 4u
#define H_PGOFF 2u /* an honest owner with a big table: run starts at page 2 of its fd */

enum scenario {
	S_HONEST,
	S_UNSEALED,
	S_NO_SHRINK,
	S_DISK_FILE,
	S_PIPE,
	S_SHM_FILE,
	S_HUGETLB,
	S_TOO_SHORT,
	S_PGOFF_HUGE,
	S_REF_OUTSIDE,
	S_WRAP,
	S_TRUNCATED,
	S_NO_FD,
	S_TWO_FDS,
	S_EPERM,
	S_EINVAL,
	S_FLAGS,
	S_ENOENT_FD,
	S_ENOENT_FIELDS,
	S_ENOENT,      /* honest "not granted": for a dump ref, still -EPROTO from map */
	S_SLOW,        /* never answers */
	S_CLOSE,       /* closes the connection on the request, no reply */
	S_SPLIT,       /* honest, in three sendmsg()s, the fd with the middle one */
	S_FD_LAST,     /* honest, in two sendmsg()s, the fd with the last one */
	S_GARBAGE_OUT, /* 20 honest bytes plus 20 bytes of another reply later */
	S_GROWABLE,    /* v1.1: sealed SHRINK but not GROW */
	S_SPARSE_1TIB, /* v1.1: sealed, but 1 TiB (sparse) */
	S_EXACT,       /* honest, one memfd per share: pgoff 0, the memfd exactly the run's pages */
	S_OVERSIZED,   /* honest-looking, pgoff 0, but the memfd has pages after the run */
};

/* A sealed memfd of npages whose run of H_COUNT pages from page pgoff holds 0x40, 0x41, ... */
static int pages_memfd(uint32_t npages, uint32_t pgoff)
{
	int fd = make_memfd(npages, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, 0);
	uint8_t page[PG];

	if (fd < 0) {
		return -1;
	}
	for (uint32_t i = 0; i < H_COUNT; i++) {
		memset(page, (int)(0x40 + i), PG);
		if (pwrite(fd, page, PG, (off_t)((pgoff + i) * PG)) != (ssize_t)PG) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int honest_memfd(void)
{
	return pages_memfd(H_PGOFF + H_COUNT, H_PGOFF);
}

static int send_reply(int conn, const uint32_t f[5], size_t len, const int *fds, size_t nfds)
{
	uint8_t rep[20];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} cm;
	struct iovec iov = { .iov_base = rep, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	for (int i = 0; i < 5; i++) {
		le(rep + 4 * i, f[i]);
	}
	if (nfds > 0) {
		struct cmsghdr *ch;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * nfds);
	}
	return sendmsg(conn, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Sends bytes [from, to) of the reply f, with fds if nfds. */
static int send_part(int conn, const uint32_t f[5], size_t from, size_t to, const int *fds, size_t nfds)
{
	uint8_t rep[20];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = rep + from, .iov_len = to - from };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	for (int i = 0; i < 5; i++) {
		le(rep + 4 * i, f[i]);
	}
	if (nfds > 0) {
		struct cmsghdr *ch;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), fds, sizeof(int));
	}
	return sendmsg(conn, &mh, MSG_NOSIGNAL) == (ssize_t)(to - from) ? 0 : -1;
}

/* Answers one request on conn according to sc. Returns 0, or -1 when conn must be closed. */
static int fake_answer(int conn, enum scenario sc, uint32_t ref)
{
	uint32_t ok[5] = { 0, H_FIRST, H_COUNT, H_PGOFF, 0 };
	uint32_t f[5];
	int fds[2] = { -1, -1 }, p[2], rc = 0;

	memcpy(f, ok, sizeof(f));
	if (ref < H_FIRST || ref >= H_FIRST + H_COUNT) {
		sc = S_ENOENT;
	}
	switch (sc) {
	case S_HONEST:
	case S_FLAGS:
	case S_REF_OUTSIDE:
	case S_WRAP:
	case S_PGOFF_HUGE:
	case S_ENOENT_FD:
	case S_TWO_FDS:
	case S_SPLIT:
	case S_FD_LAST:
	case S_GARBAGE_OUT:
		fds[0] = honest_memfd();
		break;
	case S_UNSEALED:
		fds[0] = make_memfd(H_PGOFF + H_COUNT, 0, 0);
		break;
	case S_NO_SHRINK:
		fds[0] = make_memfd(H_PGOFF + H_COUNT, F_SEAL_GROW | F_SEAL_SEAL, 0);
		break;
	case S_DISK_FILE:
		fds[0] = disk_file(H_PGOFF + H_COUNT);
		break;
	case S_PIPE:
		if (pipe2(p, O_CLOEXEC) == 0) {
			close(p[1]);
			fds[0] = p[0];
		}
		break;
	case S_SHM_FILE:
		fds[0] = shm_file(H_PGOFF + H_COUNT);
		if (fds[0] < 0) {
			fds[0] = make_memfd(H_PGOFF + H_COUNT, 0, 0); /* no /dev/shm: still a refusal */
		}
		break;
	case S_HUGETLB:
		fds[0] = memfd_create("hostile-huge", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
		if (fds[0] >= 0) {
			(void)!ftruncate(fds[0], 2 << 20);
			(void)!fcntl(fds[0], F_ADD_SEALS, F_SEAL_SHRINK);
		} else {
			fds[0] = make_memfd(H_PGOFF + H_COUNT, 0, 0); /* no hugetlb here: still a refusal */
		}
		break;
	case S_TOO_SHORT:
		fds[0] = make_memfd(H_PGOFF + H_COUNT - 1, F_SEAL_SHRINK | F_SEAL_GROW, 0);
		break;
	case S_GROWABLE:
		fds[0] = make_memfd(H_PGOFF + H_COUNT, F_SEAL_SHRINK | F_SEAL_SEAL, 0);
		break;
	case S_SPARSE_1TIB:
		fds[0] = make_sized_memfd(1ull << 40, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
		break;
	case S_EXACT:
	case S_OVERSIZED:
		fds[0] = pages_memfd(H_COUNT + (sc == S_OVERSIZED), 0);
		f[3] = 0;
		break;
	default:
		break;
	}
	switch (sc) {
	case S_HONEST:
	case S_UNSEALED:
	case S_NO_SHRINK:
	case S_DISK_FILE:
	case S_PIPE:
	case S_SHM_FILE:
	case S_HUGETLB:
	case S_TOO_SHORT:
	case S_GROWABLE:
	case S_SPARSE_1TIB:
	case S_EXACT:
	case S_OVERSIZED:
		rc = send_reply(conn, f, 20, fds, 1);
		break;
	case S_PGOFF_HUGE:
		f[3] = 0xfffffffeu;
		rc = send_reply(conn, f, 20, fds, 1);
		break;
	case S_REF_OUTSIDE:
		f[1] = H_FIRST + H_COUNT;
		rc = send_reply(conn, f, 20, fds, 1);
		break;
	case S_WRAP:
		f[1] = 0xfffffff0u;
		f[2] = 0x100;
		rc = send_reply(conn, f, 20, fds, 1);
		break;
	case S_FLAGS:
		f[4] = 1;
		rc = send_reply(conn, f, 20, fds, 1);
		break;
	case S_TRUNCATED:
		send_reply(conn, f, 10, NULL, 0);
		rc = -1;
		break;
	case S_NO_FD:
		rc = send_reply(conn, f, 20, NULL, 0);
		break;
	case S_TWO_FDS:
		fds[1] = honest_memfd();
		rc = send_reply(conn, f, 20, fds, 2);
		break;
	case S_EPERM:
	case S_EINVAL:
	case S_ENOENT:
	case S_ENOENT_FIELDS:
	case S_ENOENT_FD:
		memset(f, 0, sizeof(f));
		f[0] = sc == S_EPERM ? (uint32_t)-EPERM : sc == S_EINVAL ? (uint32_t)-EINVAL : (uint32_t)-ENOENT;
		if (sc == S_ENOENT_FIELDS) {
			f[1] = H_FIRST;
		}
		rc = send_reply(conn, f, 20, fds, sc == S_ENOENT_FD ? 1 : 0);
		break;
	case S_SLOW:
		break; /* the grantee times out and hangs up */
	case S_CLOSE:
		rc = -1;
		break;
	case S_SPLIT:
		rc = send_part(conn, f, 0, 3, NULL, 0) || send_part(conn, f, 3, 11, fds, 1) ||
				send_part(conn, f, 11, 20, NULL, 0);
		break;
	case S_FD_LAST:
		rc = send_part(conn, f, 0, 19, NULL, 0) || send_part(conn, f, 19, 20, fds, 1);
		break;
	case S_GARBAGE_OUT: {
		/* one sendmsg: the honest reply and, behind it, a reply nobody asked for */
		uint8_t two[40] = { 0 };
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		struct iovec iov = { .iov_base = two, .iov_len = sizeof(two) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			.msg_controllen = sizeof(cm.buf) };
		struct cmsghdr *ch;

		for (int i = 0; i < 5; i++) {
			le(two + 4 * i, f[i]);
		}
		le(two + 20, (uint32_t)-ENOENT);
		memset(&cm, 0, sizeof(cm));
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), fds, sizeof(int));
		rc = sendmsg(conn, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(two) ? 0 : -1;
		break;
	}
	}
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	return rc;
}

struct fake_cfg {
	int own, grantee;
};

/* A fake owner speaking raw bytes; hostile for the next `left` requests, honest after. */
static void fake_owner_main(int in, int out, void *arg)
{
	const struct fake_cfg *cfg = arg;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	enum scenario sc = S_HONEST;
	uint32_t left = 0;
	int lfd, conn = -1;
	struct peer_cmd c = { .op = PEER_READY };

	sock_name(a.sun_path, sizeof(a.sun_path), cfg->own, cfg->grantee);
	unlink(a.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c.rc = (lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 8) == 0) ? 0 : -errno;
	kid_send(out, &c, sizeof(c));
	if (c.rc != 0) {
		return;
	}
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = in, .events = POLLIN },
			{ .fd = lfd, .events = POLLIN },
			{ .fd = conn, .events = POLLIN },
		};

		if (poll(pfd, 3, -1) < 0) {
			continue;
		}
		if (pfd[0].revents != 0) {
			if (kid_recv(in, &c, sizeof(c), -1) != 0) {
				break;
			}
			sc = (enum scenario)c.a;
			left = c.b;
			c.rc = 0;
			kid_send(out, &c, sizeof(c));
		}
		if (pfd[1].revents != 0 && peer_accept_newest(lfd, &conn)) {
			continue; /* pfd[2] was about the old connection */
		}
		if (conn >= 0 && pfd[2].revents != 0) {
			uint8_t req[8];
			ssize_t n = recv(conn, req, sizeof(req), MSG_WAITALL);
			enum scenario now = S_HONEST;

			if (n != (ssize_t)sizeof(req)) {
				close(conn);
				conn = -1;
				continue;
			}
			if (left > 0) {
				now = sc;
				left--;
			}
			if (fake_answer(conn, now, (uint32_t)req[4] | (uint32_t)req[5] << 8 |
							(uint32_t)req[6] << 16 | (uint32_t)req[7] << 24) != 0) {
				close(conn);
				conn = -1;
			}
		}
	}
	if (conn >= 0) {
		close(conn);
	}
	close(lfd);
	unlink(a.sun_path);
}

static int set_scenario(struct kid *p, enum scenario sc, uint32_t times)
{
	struct peer_cmd c = { .op = C_SCENARIO, .a = sc, .b = times };

	return peer_call(p, &c);
}

/* An honest lookup right after: it works, with the honest owner's pages. */
static int honest_map_works(struct grant_mapper *m)
{
	uint32_t refs[3] = { H_REF, H_REF + 1, H_REF + 2 };
	struct grant_mapping *g = NULL;
	const uint8_t *v;
	size_t off = 0;
	int ok;

	if (grant_mapper_map(m, refs, 3, &g) != 0) {
		return 0;
	}
	v = grant_mapping_addr(g);
	/* the honest owner's table has pages before the run: never handed to an X server (v1.1) */
	ok = v != NULL && peer_page_is(v, 0, 0x40) && peer_page_is(v, 1, 0x41) && peer_page_is(v, 2, 0x42) &&
			grant_mapping_fd(g, &off) == -1;
	grant_mapping_destroy(g);
	return ok;
}

static void hostile_owners(void)
{
	static const struct {
		const char *name;
		enum scenario sc;
		uint32_t times;
		int want;
	} cases[] = {
		{ "unsealed memfd", S_UNSEALED, 1, -EPROTO },
		{ "memfd sealed without SHRINK", S_NO_SHRINK, 1, -EPROTO },
		{ "regular file on disk", S_DISK_FILE, 1, -EPROTO },
		{ "pipe", S_PIPE, 1, -EPROTO },
		{ "/dev/shm tmpfs file", S_SHM_FILE, 1, -EPROTO },
		{ "hugetlb memfd", S_HUGETLB, 1, -EPROTO },
		{ "memfd that can still grow", S_GROWABLE, 1, -EPROTO },
		{ "sparse 1 TiB memfd", S_SPARSE_1TIB, 1, -EPROTO },
		{ "file too short", S_TOO_SHORT, 1, -EPROTO },
		{ "pgoff past any size", S_PGOFF_HUGE, 1, -EPROTO },
		{ "ref outside the run", S_REF_OUTSIDE, 1, -EPROTO },
		{ "first + count overflows", S_WRAP, 1, -EPROTO },
		{ "truncated reply, then close", S_TRUNCATED, 1, -EPROTO },
		{ "reply without fd", S_NO_FD, 1, -EPROTO },
		{ "reply with two fds", S_TWO_FDS, 1, -EPROTO },
		{ "status -EPERM", S_EPERM, 1, -EPROTO },
		{ "status -EINVAL", S_EINVAL, 1, -EPROTO },
		{ "status 0, flags != 0", S_FLAGS, 1, -EPROTO },
		{ "status -ENOENT with an fd", S_ENOENT_FD, 1, -EPROTO },
		{ "status -ENOENT with a run", S_ENOENT_FIELDS, 1, -EPROTO },
		{ "dump ref not granted", S_ENOENT, 1, -EPROTO },
		{ "close on the kept connection: reconnect once", S_CLOSE, 1, 0 },
		{ "close again after the reconnect", S_CLOSE, 2, -EPROTO },
		{ "reply split in three, fd in the middle", S_SPLIT, 1, 0 },
		{ "fd with the last byte", S_FD_LAST, 1, 0 },
		{ "unsolicited bytes after a reply", S_GARBAGE_OUT, 1, 0 },
	};
	struct fake_cfg cfg = { 20, GRANTEE };
	struct grant_mapper *m, *slow;
	struct grant_mapping *g = NULL;
	struct kid p = { 0 };
	uint32_t ref = H_REF;
	int fds0;
	long long t0;

	env_setup();
	fds0 = count_fds();
	T_ASSERT(kid_spawn(&p, 0, fake_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 20);
	T_ASSERT(m != NULL);
	T_ASSERT(honest_map_works(m));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		char text[2048];
		int lines;

		T_EQ(set_scenario(&p, cases[i].sc, cases[i].times), 0);
		capture_begin();
		rc = grant_mapper_map(m, &ref, 1, &g);
		lines = capture_end(text, sizeof(text));
		/* a refusal is one log line naming the owner; a success none */
		if (lines != (rc == 0 ? 0 : 1) || (rc != 0 && strstr(text, "dom 20") == NULL)) {
			test_fail(__FILE__, __LINE__, "\"%s\": %d log lines: %s", cases[i].name, lines, text);
			grant_mapping_destroy(g);
			break;
		}
		if (rc != cases[i].want) {
			test_fail(__FILE__, __LINE__, "\"%s\": map returned %d, expected %d", cases[i].name, rc,
					cases[i].want);
			grant_mapping_destroy(g);
			break;
		}
		grant_mapping_destroy(g);
		g = NULL;
		if (cases[i].sc == S_GARBAGE_OUT) {
			/* the next lookup finds the unsolicited bytes waiting: refused, then a fresh connection */
			T_EQ(grant_mapper_map(m, &ref, 1, &g), -EPROTO);
		}
		if (!honest_map_works(m)) {
			test_fail(__FILE__, __LINE__, "\"%s\": the honest lookup after it failed", cases[i].name);
			break;
		}
	}

	/* too slow: a 200 ms deadline */
	slow = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 20);
	T_ASSERT(slow != NULL);
	T_EQ(grant_mapper_set_limits(slow, 200, GRANT_MAX_RUNS), 0);
	T_ASSERT(honest_map_works(slow));
	T_EQ(set_scenario(&p, S_SLOW, 1), 0);
	t0 = test_now_ms();
	T_EQ(grant_mapper_map(slow, &ref, 1, &g), -EPROTO);
	T_ASSERT(test_now_ms() - t0 >= 190);
	T_ASSERT(honest_map_works(slow));
	grant_mapper_destroy(slow);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
	T_EQ(count_fds(), fds0); /* every fd a hostile owner sent was closed */
}

/*
 * v1.1: an fd for the X server only when the memfd is exactly the mapping's
 * pages; a larger memfd is still mapped (copy path), and the limits on size
 * and seals are each one refusal with one log line.
 */
static void fd_only_for_exact_memfds(void)
{
	struct fake_cfg cfg = { 22, GRANTEE };
	uint32_t refs[H_COUNT];
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct kid p = { 0 };
	const uint8_t *v;
	struct stat st;
	char text[2048];
	size_t off;
	int fd;

	env_setup();
	for (uint32_t i = 0; i < H_COUNT; i++) {
		refs[i] = H_FIRST + i;
	}
	T_ASSERT(kid_spawn(&p, 0, fake_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 22);
	T_ASSERT(m != NULL);

	/* exactly sized: the memfd itself, from offset 0, of exactly the mapping's size */
	T_EQ(set_scenario(&p, S_EXACT, 1000), 0);
	T_EQ(grant_mapper_map(m, refs, H_COUNT, &g), 0);
	off = 1;
	fd = grant_mapping_fd(g, &off);
	T_ASSERT(fd >= 0);
	T_EQ(off, 0);
	T_EQ(fstat(fd, &st), 0);
	T_EQ(st.st_size, H_COUNT * PG);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0x40) && peer_page_is(v, H_COUNT - 1, 0x40 + H_COUNT - 1));
	grant_mapping_destroy(g);
	/* a dump of fewer pages than that memfd: copy */
	T_EQ(grant_mapper_map(m, refs, H_COUNT - 1, &g), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0x40) && peer_page_is(v, H_COUNT - 2, 0x40 + H_COUNT - 2));
	grant_mapping_destroy(g);

	/* one page more than the run: mapped, no log line, but never an fd (the X server would map it all) */
	T_EQ(set_scenario(&p, S_OVERSIZED, 1000), 0);
	capture_begin();
	T_EQ(grant_mapper_map(m, refs, H_COUNT, &g), 0);
	T_EQ(capture_end(text, sizeof(text)), 0);
	T_EQ(grant_mapping_fd(g, &off), -1);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL);
	for (uint32_t i = 0; i < H_COUNT; i++) {
		T_ASSERT(peer_page_is(v, i, (uint8_t)(0x40 + i)));
	}
	grant_mapping_destroy(g);

	/* growable, and 1 TiB sparse: -EPROTO with one line saying why */
	T_EQ(set_scenario(&p, S_GROWABLE, 1), 0);
	capture_begin();
	T_EQ(grant_mapper_map(m, refs, H_COUNT, &g), -EPROTO);
	T_EQ(capture_end(text, sizeof(text)), 1);
	T_ASSERT(strstr(text, "dom 22") != NULL && strstr(text, "F_SEAL_GROW") != NULL);
	T_EQ(set_scenario(&p, S_SPARSE_1TIB, 1), 0);
	capture_begin();
	T_EQ(grant_mapper_map(m, refs, H_COUNT, &g), -EPROTO);
	T_EQ(capture_end(text, sizeof(text)), 1);
	T_ASSERT(strstr(text, "dom 22") != NULL && strstr(text, "larger than 4 GiB") != NULL);
	T_ASSERT(g == NULL);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
}

/* A slow owner answering one-page runs: one deadline for the whole map, and a cap on its LOOKUPs. */
static void deadline_per_map_and_run_cap(void)
{
	struct peer_fake_cfg cfg = { 23, GRANTEE, 4 * PG, 1, 1, 0x5c, 50, false };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct peer_cmd st = { .op = PEER_FAKE_STATS };
	struct kid p = { 0 };
	uint32_t refs[40], before;
	char text[2048];

	env_setup();
	for (uint32_t i = 0; i < 40; i++) {
		refs[i] = 200 + i;
	}
	T_ASSERT(kid_spawn(&p, 0, peer_fake_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 23);
	T_ASSERT(m != NULL);

	/* each LOOKUP well inside its 5 s, 40 of them: the map's 300 ms deadline ends it, with one line */
	T_EQ(grant_mapper_set_limits(m, 300, GRANT_MAX_RUNS), 0);
	capture_begin();
	T_EQ(grant_mapper_map(m, refs, 40, &g), -EPROTO);
	T_EQ(capture_end(text, sizeof(text)), 1);
	T_ASSERT(strstr(text, "dom 23") != NULL && strstr(text, "300 ms deadline") != NULL);
	T_EQ(peer_call(&p, &st), 0);
	T_ASSERT(st.b < 40); /* it gave up before the owner had answered every run */

	/* at most 4 runs: the fifth LOOKUP is never sent */
	T_EQ(grant_mapper_set_limits(m, 0, 4), 0);
	T_EQ(peer_call(&p, &st), 0);
	before = st.a;
	capture_begin();
	T_EQ(grant_mapper_map(m, refs, 5, &g), -EPROTO);
	T_EQ(capture_end(text, sizeof(text)), 1);
	T_ASSERT(strstr(text, "more than 4 runs") != NULL);
	T_EQ(peer_call(&p, &st), 0);
	T_EQ(st.a - before, 4);
	/* 4 runs are allowed */
	T_EQ(grant_mapper_map(m, refs, 4, &g), 0);
	T_ASSERT(peer_page_is(grant_mapping_addr(g), 3, 0x5c));
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
}

/* The non-blocking map: the caller's loop runs while the owner holds its reply. */
static void map_without_waiting(void)
{
	struct peer_fake_cfg cfg = { 24, GRANTEE, 2 * PG, 2, 2, 0x6d, 0, true };
	struct peer_cmd st = { .op = PEER_FAKE_STATS };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	struct grant_map_op *op = NULL;
	struct kid p = { 0 };
	uint32_t refs[2] = { 300, 301 };
	struct pollfd pfd;
	int timeout = -1, rc, steps = 0;

	env_setup();
	T_ASSERT(kid_spawn(&p, 0, peer_fake_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, 24);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_set_limits(m, 10000, 4), 0);

	/* started and stepped: in progress, waiting for the reply on a socket, within the deadline */
	T_EQ(grant_map_start(m, refs, 2, &op), 0);
	T_EQ(grant_map_step(op, &g, &pfd, &timeout), -EINPROGRESS);
	T_ASSERT(pfd.fd >= 0 && pfd.events == POLLIN && timeout > 0 && timeout <= 10000);
	/* the owner has the request and holds it: stepping again changes nothing */
	for (int i = 0; i < 100 && (peer_call(&p, &st), st.a) == 0; i++) {
		test_sleep_ms(10);
	}
	T_EQ(st.a, 1);
	T_EQ(grant_map_step(op, &g, &pfd, &timeout), -EINPROGRESS);
	T_EQ(st.b, 0);
	/* released: the reply comes, the map completes with the owner's pages */
	T_EQ(peer_owner_cmd(&p, PEER_FAKE_RELEASE, 0), 0);
	do {
		(void)poll(&pfd, 1, timeout);
		rc = grant_map_step(op, &g, &pfd, &timeout);
	} while (rc == -EINPROGRESS && ++steps < 1000);
	T_EQ(rc, 0);
	T_ASSERT(g != NULL && peer_page_is(grant_mapping_addr(g), 1, 0x6d));
	grant_mapping_destroy(g);
	g = NULL;

	/* cancelled before and after its LOOKUP went: the mapper is free again, and the next map works */
	T_EQ(grant_map_start(m, refs, 2, &op), 0);
	grant_map_cancel(op);
	T_EQ(grant_map_start(m, refs, 2, &op), 0);
	rc = grant_map_step(op, &g, &pfd, &timeout);
	if (rc == -EINPROGRESS) {
		grant_map_cancel(op);
	} else {
		T_EQ(rc, 0);
		grant_mapping_destroy(g);
	}
	T_EQ(grant_mapper_map(m, refs, 2, &g), 0);
	grant_mapping_destroy(g);
	grant_mapper_destroy(m);
	T_EQ(kid_finish(&p), 0);
}

TEST_MAIN(TEST(share_fd_writes_into_share), TEST(parse_reply_table), TEST(check_fd_cases), TEST(share_map_live), TEST(unshare_revokes),
		TEST(two_shares_in_one_map), TEST(socket_lifecycle), TEST(stale_socket_replaced),
		TEST(second_owner_in_use), TEST(owner_exit), TEST(fork_drops_owner_sockets), TEST(owner_vs_raw_grantees), TEST(bad_arguments),
		TEST(xen_without_dev_xen), TEST(hostile_owners), TEST(fd_only_for_exact_memfds),
		TEST(deadline_per_map_and_run_cap), TEST(map_without_waiting))

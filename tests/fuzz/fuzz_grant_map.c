/*
 * fuzz_grant_map.c: libFuzzer target for the gntemu grantee
 * (gui-protocol/src/grant_gntemu.c): a list of refs is mapped through the real
 * mapper, whose LOOKUPs a fake owner thread (fz.c) answers from a script in
 * the input: runs of any first/count/pgoff, memfds of various sizes and seals,
 * other kinds of fds, several fds, "not granted", short, long and garbled
 * replies, connections closed before or after a reply. Checks: a mapping
 * that succeeds shows, for each ref, the page of a run the owner sent for it
 * (every page readable: no SIGBUS past a file's end); the zero-copy fd is
 * exactly the mapping's pages; failures are -EPROTO; no fd is leaked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz.h"
#include "qgui/grant.h"
#include "qgui/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define OWNER 7
#define GRANTEE 3
#define MAX_REFS 300
#define MAX_SENT 600
#define SEALS_OK (F_SEAL_SHRINK | F_SEAL_GROW)

struct pool_fd {
	int fd;
	uint64_t tagged; /* pages carrying their tag (fz_memfd) */
	bool bad;        /* emulation.md 3.3 (v1.1) refuses it */
};

static struct pool_fd pool[13];
static char pipe_name[64]; /* the pool pipe's /proc/self/fd link */
static size_t npool;

/* What the owner sent in this call: runs that a mapping may show. */
struct sent_run {
	uint32_t first, count, pgoff;
	size_t pool; /* index, or SIZE_MAX for an fd that is not one of ours to check */
};

static struct {
	struct fz_in in;
	struct sent_run sent[MAX_SENT];
	size_t nsent;
	unsigned requests;
	const uint32_t *refs;
	size_t nrefs;
} script;

static void add_pool(int fd, uint64_t tagged, bool bad)
{
	pool[npool++] = (struct pool_fd){ fd, tagged, bad };
}

static void record(uint32_t first, uint32_t count, uint32_t pgoff, size_t pi)
{
	if (script.nsent < MAX_SENT) {
		script.sent[script.nsent++] = (struct sent_run){ first, count, pgoff, pi };
	}
}

/* The owner's thread: the next reply of the script. */
static void answer(void *ctx, uint32_t ref, struct fz_reply *r)
{
	struct fz_in *in = &script.in;
	uint8_t k;
	bool asked = false;

	(void)ctx;
	for (size_t i = 0; i < script.nrefs; i++) {
		asked |= script.refs[i] == ref;
	}
	FZ_ASSERT(asked); /* the mapper looks up only refs it was given */
	script.requests++;
	if (in->left == 0) {
		fz_reply_enoent(r);
		return;
	}
	k = fz_u8(in);
	switch (k & 15) {
	default: { /* a run holding ref, usually a good one */
		uint32_t back = fz_u8(in), fwd = (k & 8) ? fz_u16(in) : fz_u8(in), pgoff = (k & 4) ? fz_u16(in) : fz_u8(in) % 8;
		size_t pi = fz_u8(in) % npool;
		uint32_t first = ref - (back < ref ? back : ref);

		fz_reply_ok(r, first, ref - first + 1 + fwd, pgoff, pool[pi].fd);
		record(first, ref - first + 1 + fwd, pgoff, pi);
		break;
	}
	case 8:
		fz_reply_enoent(r);
		break;
	case 9: { /* 20 bytes of anything, with 0..2 fds */
		const uint8_t *b;
		size_t n = fz_bytes(in, 20, &b);

		memset(r, 0, sizeof(*r));
		memcpy(r->bytes, b, n);
		r->len = 20;
		r->nfds = fz_u8(in) % 3;
		for (size_t i = 0; i < r->nfds; i++) {
			r->fds[i] = pool[fz_u8(in) % npool].fd;
		}
		if (r->nfds == 1) {
			uint32_t first = (uint32_t)r->bytes[4] | (uint32_t)r->bytes[5] << 8 | (uint32_t)r->bytes[6] << 16 |
					(uint32_t)r->bytes[7] << 24;
			uint32_t count = (uint32_t)r->bytes[8] | (uint32_t)r->bytes[9] << 8 |
					(uint32_t)r->bytes[10] << 16 | (uint32_t)r->bytes[11] << 24;
			uint32_t pgoff = (uint32_t)r->bytes[12] | (uint32_t)r->bytes[13] << 8 |
					(uint32_t)r->bytes[14] << 16 | (uint32_t)r->bytes[15] << 24;

			for (size_t i = 0; i < npool; i++) {
				if (pool[i].fd == r->fds[0]) {
					record(first, count, pgoff, i);
				}
			}
		}
		break;
	}
	case 10: /* a good run with two fds */
		fz_reply_ok(r, ref, 1, 0, pool[0].fd);
		r->fds[1] = pool[fz_u8(in) % npool].fd;
		r->nfds = 2;
		break;
	case 11: /* a short reply, then the owner closes */
		fz_reply_ok(r, ref, 1, 0, pool[0].fd);
		r->len = fz_u8(in) % 20;
		r->nfds = fz_u8(in) & 1;
		break;
	case 12: { /* a good run, then the owner closes (the grantee reconnects for the next) */
		uint32_t count = 1u + fz_u8(in);

		fz_reply_ok(r, ref, count, 0, pool[0].fd);
		r->close_after = true;
		record(ref, count, 0, 0);
		break;
	}
	case 13: /* a good run followed by bytes nobody asked for */
		fz_reply_ok(r, ref, 1, 0, pool[0].fd);
		r->len = 20 + 1 + fz_u8(in) % 20;
		record(ref, 1, 0, 0);
		break;
	case 14: /* the owner closes without a word */
		memset(r, 0, sizeof(*r));
		break;
	case 15: { /* a run that would wrap past 2^32 */
		uint32_t back = fz_u8(in);
		uint32_t first = ref - (back < ref ? back : ref);

		fz_reply_ok(r, first, 0u - first + (k >> 4), 0, pool[0].fd);
		record(first, 0u - first + (k >> 4), 0, 0);
		break;
	}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int p[2];
	char path[200];

	(void)argc;
	(void)argv;
	log_set_level(getenv("FUZZ_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	fz_socket_dir();
	add_pool(fz_memfd(0, 64 * 4096, SEALS_OK, 64), 64, false);
	add_pool(fz_memfd(1, 4096, SEALS_OK, 1), 1, false);
	add_pool(fz_memfd(2, 16 * 4096, SEALS_OK | F_SEAL_SEAL | F_SEAL_WRITE, 16), 16, false);
	add_pool(fz_memfd(3, 64 * 4096, F_SEAL_SHRINK, 64), 64, true);           /* v1.0 seals only */
	add_pool(fz_memfd(4, 64 * 4096, 0, 64), 64, true);                       /* unsealed */
	add_pool(fz_memfd(5, 1ull << 32, SEALS_OK, 64), 64, false);               /* the largest accepted (sparse) */
	add_pool(fz_memfd(6, (1ull << 32) + 4096, SEALS_OK, 64), 64, true);      /* one page too many */
	add_pool(fz_memfd(7, 3 * 4096 + 100, SEALS_OK, 3), 3, false);            /* not whole pages */
	add_pool(fz_memfd(8, (uint64_t)GRANT_MAX_PAGES * 4096, SEALS_OK, 64), 64, false);
	add_pool(fz_memfd(9, 64 * 4096, F_SEAL_GROW, 64), 64, true);             /* may shrink */
	add_pool(fz_memfd(10, 256 * 4096, SEALS_OK, 256), 256, false);
	snprintf(path, sizeof(path), "%s", getenv("VCHAN_SOCKET_DIR"));
	add_pool(open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), 0, true);   /* a regular file, not a memfd */
	FZ_ASSERT(pool[npool - 1].fd >= 0 && ftruncate(pool[npool - 1].fd, 64 * 4096) == 0);
	FZ_ASSERT(pipe2(p, O_CLOEXEC) == 0);
	add_pool(p[0], 0, true);
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	FZ_ASSERT(readlink(path, pipe_name, sizeof(pipe_name) - 1) > 0);
	fz_owner_start(OWNER, GRANTEE, answer, NULL);
	return 0;
}

/*
 * Open fds of the kinds the owner hands out: memfds, the temporary file and the
 * pipe (not sockets, as the owner thread's connections come and go, nor the
 * symbolizer's pipes).
 */
static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	FZ_ASSERT(d != NULL);
	while ((e = readdir(d)) != NULL) {
		char p[64], l[64];
		ssize_t k;

		if (e->d_name[0] == '.') {
			continue;
		}
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		k = readlink(p, l, sizeof(l) - 1);
		if (k > 0) {
			l[k] = '\0';
			n += strncmp(l, "/memfd:", 7) == 0 || strstr(l, "qgui-fuzz") != NULL || strcmp(l, pipe_name) == 0;
		}
	}
	closedir(d);
	return n;
}

static uint32_t le32(const volatile uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Page i of the mapping shows ref's page in one of the runs sent for it. */
static void check_page(const volatile uint8_t *pg, uint32_t ref)
{
	uint32_t magic = le32(pg), id = le32(pg + 4), page = le32(pg + 8);

	for (size_t i = 0; i < script.nsent; i++) {
		const struct sent_run *s = &script.sent[i];
		uint64_t want;

		if (pool[s->pool].bad || ref < s->first || ref - s->first >= s->count) {
			continue;
		}
		want = (uint64_t)s->pgoff + (ref - s->first);
		if (want < pool[s->pool].tagged ? (magic == 0x46555a5a && id == s->pool && page == want)
						 : (magic == 0 && id == 0 && page == 0)) {
			return;
		}
	}
	fprintf(stderr, "ref %u shows page {%x, %u, %u}, which no run sent for it holds\n", ref, magic, id, page);
	FZ_ASSERT(0);
}

/*
 * Input: byte 0: bit 0 step by step (grant_map_start/step) else
 * grant_mapper_map, bits 1..4 the run cap (0: the default), and when
 * stepping with bit 1 set, bits 5..7 the step after which the map is
 * cancelled; byte 1: the number of refs (1..MAX_REFS, as 1 + byte * 7 / 6),
 * then the first ref (u32) and one byte per further ref (below 0xc0: the
 * next ref; 0xc0..0xdf: back by up to 31; 0xe0..0xef: forward by a multiple
 * of 17; 0xf0 and up: a u32 follows). The rest is the owner's script.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t base_fds;
	struct fz_in in = { data, size };
	uint32_t refs[MAX_REFS];
	uint8_t mode = fz_u8(&in);
	unsigned max_runs = (mode >> 1) & 15;
	size_t n = 1 + (size_t)fz_u8(&in) * 7 / 6;
	struct grant_mapper *m;
	struct grant_mapping *g = NULL;
	int rc;

	if (base_fds == 0) {
		base_fds = count_fds();
	}
	refs[0] = fz_u32(&in);
	for (size_t i = 1; i < n; i++) {
		uint8_t c = fz_u8(&in);

		if (c < 0xc0) {
			refs[i] = refs[i - 1] + 1;
		} else if (c < 0xe0) {
			refs[i] = refs[i - 1] - (c & 31);
		} else if (c < 0xf0) {
			refs[i] = refs[i - 1] + (c & 15) * 17u;
		} else {
			refs[i] = fz_u32(&in);
		}
	}
	script.in = in;
	script.nsent = 0;
	script.requests = 0;
	script.refs = refs;
	script.nrefs = n;

	m = grant_mapper_create(QGUI_BACKEND_SOCKET, GRANTEE, OWNER);
	FZ_ASSERT(m != NULL);
	if (max_runs != 0) {
		FZ_ASSERT(grant_mapper_set_limits(m, 10000, max_runs) == 0);
	}
	if (mode & 1) {
		/* step by step from a poll loop, as guivm-proxy does (a cancel now and then) */
		struct grant_map_op *op;

		FZ_ASSERT(grant_map_start(m, refs, n, &op) == 0);
		for (unsigned steps = 0;; steps++) {
			struct pollfd pfd = { .fd = -1 };
			int timeout = -1;

			if ((mode & 2) && steps == (unsigned)(mode >> 5)) {
				grant_map_cancel(op);
				rc = -ECANCELED;
				break;
			}
			rc = grant_map_step(op, &g, &pfd, &timeout);
			if (rc != -EINPROGRESS) {
				break;
			}
			FZ_ASSERT(timeout >= 0 && pfd.fd >= 0); /* something to wait for, and not forever */
			FZ_ASSERT(poll(&pfd, 1, timeout) >= 0 || errno == EINTR); /* libFuzzer's timer signals */
		}
	} else {
		rc = grant_mapper_map(m, refs, n, &g);
	}
	if (rc == 0) {
		const volatile uint8_t *v;
		size_t off = 1;
		int fd = grant_mapping_fd(g, &off);

		FZ_ASSERT(grant_mapping_size(g) == n * GRANT_PAGE_SIZE);
		/* a run serves every ref of it in the call: one LOOKUP per ref at most, plus one retry of a
		   request on a kept connection the owner had closed */
		FZ_ASSERT(script.requests <= 2 * n);
		if (fd >= 0) {
			struct stat st;

			/* zero copy only for a memfd that is exactly these pages */
			FZ_ASSERT(off == 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == n * GRANT_PAGE_SIZE);
		}
		v = grant_mapping_addr(g);
		FZ_ASSERT(v != NULL);
		for (size_t i = 0; i < n; i++) {
			check_page(v + i * GRANT_PAGE_SIZE, refs[i]);
		}
		grant_mapping_destroy(g);
	} else if (rc != -ECANCELED) {
		FZ_ASSERT(g == NULL);
		if (rc != -EPROTO) {
			fprintf(stderr, "grant_mapper_map: %s\n", strerror(-rc));
		}
		FZ_ASSERT(rc == -EPROTO);
	}
	grant_mapper_destroy(m);
	FZ_ASSERT(count_fds() == base_fds);
	return 0;
}

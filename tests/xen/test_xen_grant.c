/* test_xen_grant.c: the Xen grant back-end in both roles, under the xenshim, against native gntemu in another process. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "peer.h"
#include "qgui/grant.h"
#include "test.h"

/*
 * Run with LD_PRELOAD=libxenshim.so (make check does): libxengntshr and
 * libxengnttab then speak gntemu (emulation.md 3), so the Xen back-end of
 * one process shares with, or maps from, the native gntemu back-end of
 * another, byte for byte. The shim learns its own domain from VCHAN_DOMAIN.
 * The owner in a child is tests/lib/peer.h's, as in tests/unit/test_grant.c.
 */

#define PG GRANT_PAGE_SIZE
#define GRANTEE 1

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

/*
 * The grantee's side of every case: owner dom `owner` (back-end in the child
 * per cfg) shares two shares; this process maps them with mapper_backend.
 */
static void grant_roundtrip(enum qgui_backend owner_backend, enum qgui_backend mapper_backend, int owner)
{
	struct peer_owner_cfg cfg = { owner_backend, owner, GRANTEE, true };
	struct grant_mapper *m;
	struct grant_mapping *g = NULL, *g2 = NULL;
	struct kid p = { 0 };
	uint32_t a, b, ra[64], rb[64], refs[4];
	const uint8_t *v;
	size_t off = 99;
	int fd;

	env_setup(GRANTEE);
	T_ASSERT(kid_spawn(&p, 0, peer_owner_main, &cfg));
	T_EQ(peer_ready(&p), 0);
	T_EQ(peer_owner_share(&p, 4, &a, ra), 0);
	T_EQ(peer_owner_share(&p, 2, &b, rb), 0);
	for (uint32_t i = 0; i < 4; i++) {
		T_EQ(peer_owner_fill(&p, a, i, (uint8_t)(0x10 + i)), 0);
	}
	T_EQ(peer_owner_fill(&p, b, 0, 0xb0), 0);
	T_EQ(peer_owner_fill(&p, b, 1, 0xb1), 0);

	m = grant_mapper_create(mapper_backend, GRANTEE, owner);
	T_ASSERT(m != NULL);
	T_EQ(grant_mapper_map(m, ra, 4, &g), 0);
	T_EQ(grant_mapping_size(g), 4 * PG);
	v = grant_mapping_addr(g);
	T_ASSERT(v != NULL);
	for (size_t i = 0; i < 4; i++) {
		T_ASSERT(peer_page_is(v, i, (uint8_t)(0x10 + i)));
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
	T_EQ(peer_owner_fill(&p, a, 3, 0xee), 0);
	T_ASSERT(peer_page_is(v, 3, 0xee));
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
	T_ASSERT(v != NULL && peer_page_is(v, 0, 0xb1) && peer_page_is(v, 1, 0x10) &&
			peer_page_is(v, 2, 0xb0) && peer_page_is(v, 3, 0x12));
	T_EQ(peer_owner_fill(&p, b, 1, 0x5b), 0);
	T_ASSERT(peer_page_is(v, 0, 0x5b));
	grant_mapping_destroy(g2);
	g2 = NULL;

	/* unshare: later maps fail, the earlier mapping keeps its pages */
	T_EQ(peer_owner_cmd(&p, PEER_UNSHARE, a), 0);
	T_EQ(grant_mapper_map(m, ra, 4, &g2), -EPROTO);
	T_ASSERT(g2 == NULL);
	v = grant_mapping_addr(g);
	T_ASSERT(peer_page_is(v, 0, 0x10) && peer_page_is(v, 3, 0xee));
	T_EQ(grant_mapper_map(m, rb, 2, &g2), 0);
	T_ASSERT(peer_page_is(grant_mapping_addr(g2), 1, 0x5b));
	grant_mapping_destroy(g2);
	grant_mapping_destroy(g);

	/* the owner goes away: a clean failure */
	T_EQ(kid_finish(&p), 0);
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
	T_ASSERT(peer_page_is(grant_mapping_addr(g), 2, 0x66));
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

/* test_dbuf.c: double buffering: buffers alternate, nothing is redrawn while the daemon may read it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qgui/dbuf.h"
#include "test.h"

static struct grant_owner *owner(void)
{
	setenv("VCHAN_SOCKET_DIR", test_tmpdir(), 1);
	return grant_owner_create(QGUI_BACKEND_SOCKET, 2, 1);
}

static void alternate_and_wait_for_acks(void)
{
	struct grant_owner *o = owner();
	struct dbuf *b = dbuf_create(o);
	uint32_t *p1, *p2, *p3;
	struct qgui_rect stale;
	struct proto_dump d1, d2, d3;
	uint32_t ref1;

	T_ASSERT(o && b);
	T_ASSERT(dbuf_back_share(b) == NULL);
	T_EQ(dbuf_begin(b, 64, 32, &p1, &stale), 0);
	T_ASSERT(dbuf_back_share(b) != NULL && dbuf_back_share(b)->addr == (void *)p1);
	T_EQ(stale.w, 64); /* a new buffer is stale everywhere */
	T_EQ(stale.h, 32);
	T_EQ(dbuf_present(b, (struct qgui_rect){ 0, 0, 64, 32 }, &d1), 0);
	T_ASSERT(dbuf_back_share(b) == NULL); /* nothing begun after a present */
	T_EQ(d1.width, 64);
	T_EQ(d1.nrefs, 2); /* 64*32*4 = 8 KiB */
	memcpy(&ref1, d1.refs, 4);
	T_EQ(dbuf_begin(b, 64, 32, &p2, &stale), 0);
	T_ASSERT(p2 != p1);
	T_EQ(dbuf_present(b, (struct qgui_rect){ 1, 2, 3, 4 }, &d2), 0);
	T_EQ(dbuf_unacked(b), 2);
	/* both held: the first by the unacked second dump, the second as the front */
	T_EQ(dbuf_begin(b, 64, 32, &p3, &stale), -EAGAIN);
	dbuf_ack(b); /* acks dump 1: it replaced nothing */
	T_EQ(dbuf_begin(b, 64, 32, &p3, &stale), -EAGAIN);
	dbuf_ack(b); /* acks dump 2: buffer 1 is free again */
	T_EQ(dbuf_begin(b, 64, 32, &p3, &stale), 0);
	T_ASSERT(p3 == p1);
	/* it missed frame 2's damage */
	T_EQ(stale.x, 1);
	T_EQ(stale.y, 2);
	T_EQ(stale.w, 3);
	T_EQ(stale.h, 4);
	T_EQ(dbuf_present(b, (struct qgui_rect){ 0, 0, 0, 0 }, &d3), 0);
	T_EQ(memcmp(d3.refs, &ref1, 4), 0);
	dbuf_ack(b);
	dbuf_ack(b); /* extra acks are ignored */
	T_EQ(dbuf_unacked(b), 0);
	dbuf_destroy(b);
	grant_owner_destroy(o);
}

static void resize_retires_old_buffers(void)
{
	struct grant_owner *o = owner();
	struct dbuf *b = dbuf_create(o);
	uint32_t *p;
	struct qgui_rect stale;
	struct proto_dump d;

	T_ASSERT(o && b);
	T_EQ(dbuf_begin(b, 16, 16, &p, &stale), 0);
	T_EQ(dbuf_present(b, stale, &d), 0);
	dbuf_ack(b);
	T_EQ(dbuf_begin(b, 100, 10, &p, &stale), 0);
	T_EQ(stale.w, 100);
	T_EQ(dbuf_present(b, stale, &d), 0);
	T_EQ(d.width, 100);
	T_EQ(d.nrefs, 1);
	/* the old-size front is still readable until this dump is acked: the other slot is free */
	T_EQ(dbuf_begin(b, 100, 10, &p, &stale), 0);
	T_EQ(stale.w, 100);
	T_EQ(dbuf_present(b, stale, &d), 0);
	dbuf_ack(b);
	dbuf_ack(b);
	T_EQ(dbuf_unacked(b), 0);
	T_EQ(dbuf_begin(b, 0, 10, &p, &stale), -EINVAL);
	T_EQ(dbuf_present(b, stale, &d), -EINVAL); /* nothing begun */
	dbuf_destroy(b);
	grant_owner_destroy(o);
}

static void rect_union(void)
{
	struct qgui_rect r = qgui_rect_union((struct qgui_rect){ 10, 10, 5, 5 }, (struct qgui_rect){ 0, 12, 2, 10 });

	T_EQ(r.x, 0);
	T_EQ(r.y, 10);
	T_EQ(r.w, 15);
	T_EQ(r.h, 12);
	r = qgui_rect_union((struct qgui_rect){ 0, 0, 0, 0 }, (struct qgui_rect){ 3, 4, 5, 6 });
	T_EQ(r.x, 3);
	T_EQ(r.w, 5);
}

TEST_MAIN(TEST(alternate_and_wait_for_acks), TEST(resize_retires_old_buffers), TEST(rect_union))

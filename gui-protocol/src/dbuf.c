/* dbuf.c: double-buffered agent images: two grant shares drawn in turn, released by DUMP_ACKs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qgui/dbuf.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "grant refs are sent in host order = little-endian");

#define FIFO_MAX 64 /* dumps in flight; more is the daemon's fault, and we stop drawing */

struct buf {
	struct grant_share *share;
	uint32_t w, h;
	int held;                /* the daemon may read it: it is the front, or a dump of it is unacked */
	struct qgui_rect stale;  /* damage it missed */
};

struct dbuf {
	struct grant_owner *o;
	struct buf b[2];
	int front;               /* index of the last presented buffer, -1 none */
	int back;                /* index begun, -1 none */
	/* per unacked dump: the share to release when it is acked (NULL: nothing) and whether to unshare it */
	struct {
		struct grant_share *share;
		int retire;
	} fifo[FIFO_MAX];
	unsigned head, len;
};

struct qgui_rect qgui_rect_union(struct qgui_rect a, struct qgui_rect b)
{
	int32_t x0, y0, x1, y1;

	if (a.w <= 0 || a.h <= 0) {
		return b;
	}
	if (b.w <= 0 || b.h <= 0) {
		return a;
	}
	x0 = a.x < b.x ? a.x : b.x;
	y0 = a.y < b.y ? a.y : b.y;
	x1 = a.x + a.w > b.x + b.w ? a.x + a.w : b.x + b.w;
	y1 = a.y + a.h > b.y + b.h ? a.y + a.h : b.y + b.h;
	return (struct qgui_rect){ x0, y0, x1 - x0, y1 - y0 };
}

struct dbuf *dbuf_create(struct grant_owner *o)
{
	struct dbuf *b = calloc(1, sizeof(*b));

	if (b) {
		b->o = o;
		b->front = b->back = -1;
	}
	return b;
}

void dbuf_destroy(struct dbuf *b)
{
	if (b == NULL) {
		return;
	}
	for (unsigned i = 0; i < b->len; i++) {
		unsigned k = (b->head + i) % FIFO_MAX;

		if (b->fifo[k].retire) {
			grant_owner_unshare(b->o, b->fifo[k].share);
		}
	}
	for (int i = 0; i < 2; i++) {
		grant_owner_unshare(b->o, b->b[i].share);
	}
	free(b);
}

static int fifo_push(struct dbuf *b, struct grant_share *s, int retire)
{
	if (b->len == FIFO_MAX) {
		return -EAGAIN;
	}
	b->fifo[(b->head + b->len) % FIFO_MAX].share = s;
	b->fifo[(b->head + b->len) % FIFO_MAX].retire = retire;
	b->len++;
	return 0;
}

int dbuf_begin(struct dbuf *b, uint32_t w, uint32_t h, uint32_t **pixels, struct qgui_rect *stale)
{
	int i;

	if (w == 0 || h == 0 || w > MAX_WINDOW_WIDTH || h > MAX_WINDOW_HEIGHT) {
		return -EINVAL;
	}
	if (b->len == FIFO_MAX) {
		return -EAGAIN;
	}
	/* the buffer that is not the front; it must not be held (a dump of it unacked) */
	i = b->front == 0 ? 1 : 0;
	if (b->b[i].held) {
		return -EAGAIN;
	}
	if (b->b[i].share && (b->b[i].w != w || b->b[i].h != h)) {
		grant_owner_unshare(b->o, b->b[i].share); /* not held: the daemon no longer reads it */
		b->b[i].share = NULL;
	}
	if (b->b[i].share == NULL) {
		size_t bytes = (size_t)w * h * 4;
		int rc = grant_owner_share(b->o, (bytes + GRANT_PAGE_SIZE - 1) / GRANT_PAGE_SIZE, &b->b[i].share);

		if (rc != 0) {
			b->b[i].share = NULL;
			return rc;
		}
		b->b[i].w = w;
		b->b[i].h = h;
		b->b[i].stale = (struct qgui_rect){ 0, 0, (int32_t)w, (int32_t)h };
	}
	b->back = i;
	*pixels = b->b[i].share->addr;
	*stale = b->b[i].stale;
	return 0;
}

int dbuf_present(struct dbuf *b, struct qgui_rect damage, struct proto_dump *dump)
{
	struct buf *nb;
	struct grant_share *release = NULL;
	int retire = 0, rc;

	if (b->back < 0) {
		return -EINVAL;
	}
	nb = &b->b[b->back];
	if (b->front >= 0) {
		struct buf *old = &b->b[b->front];

		release = old->share;
		/* the old front of another size is replaced for good: unshare it once acked */
		retire = old->w != nb->w || old->h != nb->h;
		if (retire) {
			old->share = NULL;
			old->held = 0;
		} else {
			old->stale = qgui_rect_union(old->stale, damage);
		}
	}
	rc = fifo_push(b, release, retire);
	if (rc != 0) {
		return rc;
	}
	nb->held = 1;
	nb->stale = (struct qgui_rect){ 0, 0, 0, 0 };
	b->front = b->back;
	b->back = -1;
	*dump = (struct proto_dump){ nb->w, nb->h, 32, (uint32_t)nb->share->npages,
		(const uint8_t *)nb->share->refs };
	return 0;
}

void dbuf_ack(struct dbuf *b)
{
	struct grant_share *s;
	int retire;

	if (b->len == 0) {
		return;
	}
	s = b->fifo[b->head].share;
	retire = b->fifo[b->head].retire;
	b->head = (b->head + 1) % FIFO_MAX;
	b->len--;
	if (s == NULL) {
		return;
	}
	if (retire) {
		grant_owner_unshare(b->o, s);
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (b->b[i].share == s && i != b->front) {
			b->b[i].held = 0; /* the daemon has let go of it: free to draw */
		}
	}
}

const struct grant_share *dbuf_back_share(const struct dbuf *b)
{
	return b->back >= 0 ? b->b[b->back].share : NULL;
}

unsigned dbuf_unacked(const struct dbuf *b)
{
	return b->len;
}

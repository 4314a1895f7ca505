/* tests/lib/peer.c: grant test peers driven over pipes with struct peer_cmd (see peer.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* tests/lib/peer.h: grant test peers: a child process (kids.h) answering struct peer_cmd requests, such as a grant owner. */
#ifndef QGUI_TEST_PEER_H
#define QGUI_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kids.h"
#include "qgui/grant.h"

/* Operations (struct peer_cmd.op); peer_owner_main serves PEER_SHARE to PEER_EXIT_CLEAN. */
enum {
	PEER_READY = 1,  /* sent once by the child: rc = 0, or -errno when its set-up failed */
	PEER_SHARE,      /* a = npages -> b = slot, n refs */
	PEER_FILL,       /* a = slot, b = page, c = byte */
	PEER_UNSHARE,    /* a = slot */
	PEER_DESTROY,    /* destroy the owner */
	PEER_EXIT,       /* _exit(0): no destroy, no atexit */
	PEER_EXIT_CLEAN, /* exit(0): atexit handlers run */
	PEER_OP_FREE,    /* the first value a test may use for operations of its own children */
};

#define PEER_GONE (-9999)        /* peer_call, peer_ready: the peer is gone or silent */
#define PEER_NOT_ZEROED (-1000) /* PEER_SHARE with check_zeroed: the new pages were not all 0 */

/* A request, and the reply in the same shape (op kept, rc set). */
struct peer_cmd {
	int32_t op;
	int32_t rc;
	uint32_t a, b, c, n;
	uint32_t refs[64];
};

/* Sends *c to p's child and reads its reply into *c within KID_WAIT_MS. Returns c->rc, or PEER_GONE. */
int peer_call(struct kid *p, struct peer_cmd *c);

/* Waits up to KID_WAIT_MS for the child's PEER_READY. Returns its rc, or PEER_GONE. */
int peer_ready(struct kid *p);

/* What peer_owner_main runs: a grant owner of domain own for grantee, on backend. */
struct peer_owner_cfg {
	enum qgui_backend backend;
	int own, grantee;
	bool check_zeroed; /* PEER_SHARE also checks that the new pages are all 0 */
};

/*
 * A kid_spawn fn; arg: a struct peer_owner_cfg. Sets VCHAN_DOMAIN to own,
 * creates the owner and says PEER_READY; then serves requests on in (up to
 * 16 shares at once, 64 refs reported per share) until EOF, and destroys
 * the owner. Unknown operations get -EINVAL.
 */
void peer_owner_main(int in, int out, void *arg);

/*
 * Asks peer_owner_main for a share of npages. Returns 0 with its slot in
 * *slot and its refs (up to 64) in refs[], or the failure (-errno,
 * PEER_NOT_ZEROED, PEER_GONE).
 */
int peer_owner_share(struct kid *p, uint32_t npages, uint32_t *slot, uint32_t *refs);

/* Fills page `page` of share `slot` with byte. Returns 0, or PEER_GONE. */
int peer_owner_fill(struct kid *p, uint32_t slot, uint32_t page, uint8_t byte);

/* Sends op with argument a (PEER_UNSHARE, PEER_DESTROY, PEER_EXIT...). Returns the reply's rc, or PEER_GONE. */
int peer_owner_cmd(struct kid *p, int op, uint32_t a);

/*
 * A hostile gntemu owner that speaks the LOOKUP wire format itself (emulation.md 3.2):
 * peer_fake_owner_main (a kid_spawn fn; arg: a struct peer_fake_cfg) binds
 * $VCHAN_SOCKET_DIR/gntshr.<own>.<grantee>.sock, says PEER_READY, and answers
 * every LOOKUP of ref with {0, first = ref, count = run_pages, pgoff 0, flags 0}
 * and one fd: a memfd of memfd_bytes (sparse, sealed SHRINK|GROW|SEAL, every
 * byte of its first pages fill_pages 0xfill). Each reply waits delay_ms, and
 * with hold, until PEER_FAKE_RELEASE. One request at a time, on the newest
 * connection. Until EOF on in; unlinks the socket.
 */
struct peer_fake_cfg {
	int own, grantee;
	uint64_t memfd_bytes;
	uint32_t run_pages;
	uint32_t fill_pages;
	uint8_t fill;
	int delay_ms;
	bool hold;
};

enum {
	PEER_FAKE_STATS = PEER_OP_FREE + 100, /* -> a = LOOKUPs received, b = replies sent */
	PEER_FAKE_RELEASE,                     /* held replies go (and later ones are not held) */
};

void peer_fake_owner_main(int in, int out, void *arg);

/* Accepts one connection on lfd and makes it *conn, closing the one before (a fake owner serves the newest). */
bool peer_accept_newest(int lfd, int *conn);

/* Returns 1 when every byte of page `page` (GRANT_PAGE_SIZE) of view is byte, else 0. */
int peer_page_is(const void *view, size_t page, uint8_t byte);

#endif

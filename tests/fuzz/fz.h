/*
 * tests/fuzz/fz.h: helpers shared by the libFuzzer targets: an in-memory
 * transport that plays the peer (its stream in chunks chosen by the fuzzer,
 * a write side that may never drain), a checker for what our side sends, a
 * reader of fuzzer input, and a fake gntemu owner (a thread answering LOOKUPs).
 */
#ifndef QGUI_FUZZ_FZ_H
#define QGUI_FUZZ_FZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "qgui/proto.h"
#include "qgui/transport.h"

/* A broken invariant: names it on stderr and aborts, so libFuzzer records the input. */
#define FZ_ASSERT(c) do { if (!(c)) fz_fail(__FILE__, __LINE__, #c); } while (0)
void fz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* ---------------------------------------------------------------- fuzzer input */

/* A cursor over the fuzzer's bytes; reads past the end give 0. */
struct fz_in {
	const uint8_t *p;
	size_t left;
};

uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
/* Up to len bytes (fewer at the end); returns how many, *out points into the input. */
size_t fz_bytes(struct fz_in *in, size_t len, const uint8_t **out);

/* ---------------------------------------------------------------- the peer, in memory */

/* Checks the bytes our side writes, as the peer would decode them (see fz_check_*). */
struct fz_check {
	enum proto_dir dir;  /* the direction of the bytes we write */
	size_t skip;         /* handshake bytes still to pass over before messages */
	struct proto_opts o;
	uint8_t buf[PROTO_HDR_LEN + 4096];
	size_t have;
	struct proto_frame f;
	bool in_body;
	size_t body_skip;    /* a body too large for buf: only its length is checked */
	unsigned msgs;
};

/*
 * Creates a CONNECTED transport whose peer is the fuzzer. Reads return what
 * fz_transport_feed gave, in pieces of the sizes given by
 * fz_transport_chunks (cycled; size 0 means "nothing now"), then 0 (or -1
 * EPIPE once fz_transport_close was called). Writes take everything unless
 * fz_transport_stall limits them. Freed with transport_destroy.
 */
struct transport *fz_transport_create(void);
/* Appends len bytes to what the peer has sent (copied). */
void fz_transport_feed(struct transport *t, const uint8_t *data, size_t len);
/* Read sizes: sizes[i] bytes at the i-th read (cycled); n == 0: as much as asked. Borrowed. */
void fz_transport_chunks(struct transport *t, const uint8_t *sizes, size_t n);
/* The peer closes once everything fed has been read. */
void fz_transport_close(struct transport *t);
/* The peer reads at most per_call bytes per write and total bytes in all (0: never reads). */
void fz_transport_stall(struct transport *t, size_t per_call, size_t total);
/* Bytes fed and not read yet. */
size_t fz_transport_unread(const struct transport *t);
/* Every byte written is passed to c (borrowed; NULL: not checked). */
void fz_transport_check(struct transport *t, struct fz_check *c);

/*
 * A checker for a stream in direction dir at version (0: the handshake
 * decides: a daemon's stream starts with its version word when >= 1.4 and
 * the xconf; skip says how many handshake bytes come first). Each message
 * must pass proto_check_hdr and decode to 0 (not dropped): what we send, a
 * peer of ours would accept.
 */
void fz_check_init(struct fz_check *c, enum proto_dir dir, uint32_t version, size_t skip);
void fz_check_bytes(struct fz_check *c, const uint8_t *p, size_t len);

/* ---------------------------------------------------------------- a fake gntemu owner */

/* One answer to a LOOKUP. */
struct fz_reply {
	uint8_t bytes[48];
	size_t len;      /* bytes sent (a correct reply has 20) */
	int fds[5];
	size_t nfds;     /* fds sent with the first byte (borrowed: the owner keeps them open) */
	bool close_after; /* the owner closes the connection after sending */
};

/* Fills r for a request of ref; called on the owner's thread. */
typedef void (*fz_answer_fn)(void *ctx, uint32_t ref, struct fz_reply *r);

/*
 * Starts a thread serving gntshr.<owner>.<grantee>.sock in $VCHAN_SOCKET_DIR
 * (made a fresh temporary directory when unset), answering each request
 * through fn. Replies with fewer than 20 bytes always close the connection
 * (the grantee would otherwise wait for its timeout). Never stops.
 */
void fz_owner_start(int owner, int grantee, fz_answer_fn fn, void *ctx);

/* A correct reply: status 0, run first/count at page pgoff of fd. */
void fz_reply_ok(struct fz_reply *r, uint32_t first, uint32_t count, uint32_t pgoff, int fd);
/* "Not granted": status -ENOENT, no fd. */
void fz_reply_enoent(struct fz_reply *r);

/*
 * A memfd of size bytes (sparse) with exactly the given seals (0: none),
 * whose page i, for i < tag_pages, starts with the u32 words {0x46555a5a,
 * id, i}. Aborts on failure.
 */
int fz_memfd(uint32_t id, uint64_t size, unsigned seals, uint64_t tag_pages);

/* Makes $VCHAN_SOCKET_DIR a fresh temporary directory (once). */
void fz_socket_dir(void);

#endif

/* tests/lib/streams.h: byte streams over a transport for the transport tests, and their per-case socket directory. */
#ifndef QGUI_TEST_STREAMS_H
#define QGUI_TEST_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qgui/transport.h"

#define STREAM_BIG (4u << 20) /* the longest flow, and the largest call size stream_pump makes */

/*
 * Defines the test case name: its body runs in a fresh socket directory
 * (stream_case_begin), and no tracked child (kids.h) outlives it (stream_case_end).
 */
#define STREAM_CASE(name) \
	static void name##_body(void); \
	static void name(void) \
	{ \
		stream_case_begin(#name); \
		name##_body(); \
		stream_case_end(); \
	} \
	static void name##_body(void)

/* Creates <test_tmpdir()>/name and makes it VCHAN_SOCKET_DIR, the case directory. */
void stream_case_begin(const char *name);

/* SIGKILLs and reaps every tracked child left (kid_reap_all), whatever failed. */
void stream_case_end(void);

/* The case directory (a static buffer, valid until the next stream_case_begin). */
const char *stream_case_dir(void);

/* The socket vchan file of server s, client c, port in the case directory (a static buffer, rewritten by each call). */
const char *stream_vchan_path(int s, int c, int port);

/* One exchange: send out_len bytes of out, expect exactly in_len bytes equal to exp. */
struct stream_flow {
	const uint8_t *out, *exp;
	size_t out_len, in_len, out_done, in_done;
	unsigned short_writes; /* writes that took fewer bytes than offered (0 included) */
};

/*
 * A flow of out_len bytes of pattern out_seed out and in_len bytes of
 * pattern in_seed in (both at most STREAM_BIG): a lost, repeated or
 * reordered chunk shows. out and exp point into static buffers, rewritten
 * by the next call.
 */
struct stream_flow stream_flow_pattern(size_t out_len, uint32_t out_seed, size_t in_len, uint32_t in_seed);

/* A flow of the caller's bytes (not copied: out and exp must outlive it; either may be NULL with length 0). */
struct stream_flow stream_flow_bytes(const void *out, size_t out_len, const void *exp, size_t in_len);

/*
 * Runs f to completion with non-blocking calls only, polling the transport
 * when neither direction moves (this also accepts a waiting client). Call
 * sizes cycle from 1 byte to STREAM_BIG; reads never ask for more than f
 * still expects, so the next exchange's bytes stay queued. Returns true when
 * done; reports a test failure and returns false on an error, wrong bytes
 * or KID_WAIT_MS without progress.
 */
bool stream_pump(struct transport *t, struct stream_flow *f);

/*
 * Polls and handles t until it is CONNECTED (a server accepts its client).
 * Returns false (a test failure) after KID_WAIT_MS or a disconnect.
 */
bool stream_wait_connected(struct transport *t);

/*
 * Reads until -1/EPIPE, then checks that the end is sticky (DISCONNECTED,
 * reads and writes -1/EPIPE). Returns false (a test failure) on a byte,
 * another error or KID_WAIT_MS without the end.
 */
bool stream_expect_epipe(struct transport *t);

/*
 * Runs rounds[0..nrounds) on t from one side at once, round i being
 * {server -> client, client -> server} byte counts (each at most
 * STREAM_BIG) of patterns 2i+1 and 2i+2. Adds the writes cut short to
 * *short_writes. Returns false (a test failure naming the round) when one fails.
 */
bool stream_run_rounds(struct transport *t, bool server, const size_t (*rounds)[2], size_t nrounds,
		unsigned *short_writes);

#endif

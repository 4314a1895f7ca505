/* tests/lib/wire.h: protocol messages as a hostile peer writes them (any type, length field and body). */
#ifndef QGUI_WIRE_H
#define QGUI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "tagent.h"

/*
 * One message as an attacker writes it: a header (type, window, len as given,
 * whatever the body), then the body: nw words (little-endian), or ns bytes, or
 * `zeros` zero bytes, whichever is given first.
 */
struct wire {
	uint32_t type, window, len;
	const uint32_t *w;
	size_t nw;
	const char *s;
	size_t ns;
	size_t zeros;
};

/* Initialisers of struct wire's body: WIRE_W(1, 2, 3), WIRE_S("bytes", 5), WIRE_Z(24). */
#define WIRE_W(...) .w = (const uint32_t[]){ __VA_ARGS__ }, .nw = sizeof((const uint32_t[]){ __VA_ARGS__ }) / 4
#define WIRE_S(str, n) .s = (str), .ns = (n)
#define WIRE_Z(n) .zeros = (n)

/* Stores v little-endian at p. */
void wire_put32(uint8_t *p, uint32_t v);

/* Sends *w on a's connection as raw bytes (tagent_send_raw). 0 or -1. */
int wire_send(struct tagent *a, const struct wire *w);

/* A message of n words with its length field right (n * 4). 0 or -1. */
int wire_send_words(struct tagent *a, uint32_t type, uint32_t window, const uint32_t *w, size_t n);

/*
 * A 128-byte string message: WMNAME (first only) or WMCLASS (first = res_class,
 * second = res_name, 64 bytes each), the bytes copied as given, unterminated
 * when they fill their field. 0 or -1.
 */
int wire_send_text(struct tagent *a, uint32_t type, uint32_t window, const char *first, size_t n1,
		const char *second, size_t n2);

/*
 * n CONFIGUREs of window at (x, y), h high, their widths w0, w0+1 .. w0+6 in turn: what
 * a peer sends to keep answering the other side's configure with a size of its own.
 * In a buffer of n * 32 bytes the caller frees; NULL when out of memory.
 */
uint8_t *wire_configures(uint32_t window, int32_t x, int32_t y, uint32_t w0, uint32_t h, size_t n);

/* n copies of one message, back to back, in a buffer the caller frees; NULL when out of memory. */
uint8_t *wire_repeat(const uint8_t *one, size_t len, size_t n);

#endif

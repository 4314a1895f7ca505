/* tests/lib/wire.c: raw protocol messages for hostile-peer tests (wire.h). */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int wire_send(struct tagent *a, const struct wire *w)
{
	size_t body = w->w ? w->nw * 4 : w->s ? w->ns : w->zeros;
	uint8_t *buf = calloc(1, 12 + body);
	int rc;

	if (buf == NULL) {
		return -1;
	}
	wire_put32(buf, w->type);
	wire_put32(buf + 4, w->window);
	wire_put32(buf + 8, w->len);
	for (size_t i = 0; w->w && i < w->nw; i++) {
		wire_put32(buf + 12 + 4 * i, w->w[i]);
	}
	if (w->w == NULL && w->s) {
		memcpy(buf + 12, w->s, w->ns);
	}
	rc = tagent_send_raw(a, buf, 12 + body);
	free(buf);
	return rc;
}

int wire_send_words(struct tagent *a, uint32_t type, uint32_t window, const uint32_t *w, size_t n)
{
	return wire_send(a, &(struct wire){ type, window, (uint32_t)(n * 4), w, n, NULL, 0, 0 });
}

int wire_send_text(struct tagent *a, uint32_t type, uint32_t window, const char *first, size_t n1,
		const char *second, size_t n2)
{
	char body[128] = { 0 };

	memcpy(body, first, n1 < 128 ? n1 : 128);
	if (second) {
		memcpy(body + 64, second, n2 < 64 ? n2 : 64);
	}
	return wire_send(a, &(struct wire){ type, window, 128, NULL, 0, body, 128, 0 });
}

uint8_t *wire_repeat(const uint8_t *one, size_t len, size_t n)
{
	uint8_t *buf = malloc(len * (n ? n : 1));

	for (size_t i = 0; buf && i < n; i++) {
		memcpy(buf + i * len, one, len);
	}
	return buf;
}

uint8_t *wire_configures(uint32_t window, int32_t x, int32_t y, uint32_t w0, uint32_t h, size_t n)
{
	uint8_t *buf = malloc(32 * (n ? n : 1)), *p = buf;

	for (size_t i = 0; buf && i < n; i++, p += 32) {
		wire_put32(p, MSG_CONFIGURE);
		wire_put32(p + 4, window);
		wire_put32(p + 8, 20);
		wire_put32(p + 12, (uint32_t)x);
		wire_put32(p + 16, (uint32_t)y);
		wire_put32(p + 20, w0 + (uint32_t)(i % 7));
		wire_put32(p + 24, h);
		wire_put32(p + 28, 0);
	}
	return buf;
}

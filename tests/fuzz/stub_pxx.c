/* tests/fuzz/stub_pxx.c: guivm-proxy's X side (proxy.h pxx_*) with no X, checking what proxy_session.c asks of it. */
#include <stdlib.h>
#include <string.h>

#include "fz.h"
#include "proxy.h"
#include "stub_pxx.h"

struct pximg {
	struct grant_mapping *g;
	uint32_t w, h;
};

struct pxx {
	uint32_t cw, ch;
	bool waiting, fail_img;
	size_t nimg;
};

struct pxx *stub_pxx_create(uint32_t w, uint32_t h)
{
	struct pxx *x = calloc(1, sizeof(*x));

	FZ_ASSERT(x != NULL);
	x->cw = w;
	x->ch = h;
	x->waiting = true;
	return x;
}

void stub_pxx_destroy(struct pxx *x)
{
	FZ_ASSERT(x->nimg == 0); /* every image (and so every grant mapping) was released */
	free(x);
}

void stub_pxx_set_size(struct pxx *x, uint32_t w, uint32_t h)
{
	x->cw = w;
	x->ch = h;
}

void stub_pxx_fail_images(struct pxx *x, bool fail)
{
	x->fail_img = fail;
}

bool stub_pxx_waiting(const struct pxx *x)
{
	return x->waiting;
}

void pxx_content_size(const struct pxx *x, uint32_t *w, uint32_t *h)
{
	*w = x->cw;
	*h = x->ch;
}

void pxx_set_waiting(struct pxx *x, bool waiting)
{
	x->waiting = waiting;
}

struct pximg *pxx_img_create(struct pxx *x, struct grant_mapping *g, uint32_t w, uint32_t h)
{
	struct pximg *img;
	const volatile uint8_t *p;
	uint64_t bytes = (uint64_t)w * h * 4;

	FZ_ASSERT(g != NULL && w >= 1 && h >= 1 && w <= MAX_WINDOW_WIDTH && h <= MAX_WINDOW_HEIGHT);
	/* the decoder's promise: the pages cover the image */
	FZ_ASSERT(grant_mapping_size(g) >= bytes);
	if (x->fail_img) {
		grant_mapping_destroy(g); /* takes ownership even on failure */
		return NULL;
	}
	p = grant_mapping_addr(g);
	FZ_ASSERT(p != NULL);
	(void)p[0];
	(void)p[bytes - 1];
	img = calloc(1, sizeof(*img));
	FZ_ASSERT(img != NULL);
	*img = (struct pximg){ g, w, h };
	x->nimg++;
	return img;
}

void pxx_img_destroy(struct pxx *x, struct pximg *img)
{
	if (img == NULL) {
		return;
	}
	FZ_ASSERT(x->nimg > 0);
	x->nimg--;
	grant_mapping_destroy(img->g);
	free(img);
}

void pxx_img_put(struct pxx *x, struct pximg *img, struct px_rect r)
{
	(void)x;
	if (img == NULL) {
		return;
	}
	/* clipped by pxx itself; what the session batches from damage is inside the image */
	FZ_ASSERT(img->g != NULL && grant_mapping_size(img->g) >= (uint64_t)img->w * img->h * 4);
	(void)r;
}

void pxx_clear_outside(struct pxx *x, uint32_t w, uint32_t h)
{
	(void)x;
	(void)w;
	(void)h;
}

void pxx_sync(struct pxx *x)
{
	(void)x;
}

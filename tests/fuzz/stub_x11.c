/* tests/fuzz/stub_x11.c: every function of gui-daemon/x11.h (and clipboard.h) with no X, checking the session's calls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/X.h>
#include <X11/keysym.h>

#include "clipboard.h"
#include "fz.h"
#include "qgui/grant.h"
#include "stub_x11.h"
#include "x11.h"

struct ximg {
	uint64_t bytes;
	bool live;
};

struct swin {
	struct gwin *w;
	bool mapped;    /* mapped on the (imaginary) X server */
	struct rect at; /* the content geometry the X server has (set by create, configure, fit_content) */
};

struct x11 {
	const struct gd_config *cfg;
	uint32_t sw, sh;
	struct rect work;
	bool wm, fail_create, fail_attach;
	struct swin *wins;
	size_t nwin, cap;
	unsigned long next_id;
	uint64_t used, budget, work_units;
	size_t nimg;
};

struct x11 *stub_x11_create(const struct gd_config *cfg, uint32_t w, uint32_t h, const struct rect *work,
		uint64_t budget)
{
	struct x11 *x = calloc(1, sizeof(*x));

	FZ_ASSERT(x != NULL);
	x->cfg = cfg;
	x->sw = w;
	x->sh = h;
	x->work = *work;
	x->budget = budget;
	x->next_id = 0x200000;
	return x;
}

void stub_x11_destroy(struct x11 *x)
{
	FZ_ASSERT(x->nwin == 0);  /* the session destroyed every window */
	FZ_ASSERT(x->nimg == 0 && x->used == 0); /* and released every image */
	free(x->wins);
	free(x);
}

void stub_x11_set_screen(struct x11 *x, uint32_t w, uint32_t h, const struct rect *work)
{
	x->sw = w;
	x->sh = h;
	x->work = *work;
}

void stub_x11_set_wm(struct x11 *x, bool wm)
{
	x->wm = wm;
}

void stub_x11_set_failures(struct x11 *x, bool fail_create, bool fail_attach)
{
	x->fail_create = fail_create;
	x->fail_attach = fail_attach;
}

size_t stub_x11_nwin(const struct x11 *x)
{
	return x->nwin;
}

struct gwin *stub_x11_win(const struct x11 *x, size_t i)
{
	return i < x->nwin ? x->wins[i].w : NULL;
}

static struct swin *find(struct x11 *x, const struct gwin *w)
{
	for (size_t i = 0; i < x->nwin; i++) {
		if (x->wins[i].w == w) {
			return &x->wins[i];
		}
	}
	return NULL;
}

/* A call on a window the session created and has not destroyed. */
static struct swin *known(struct x11 *x, const struct gwin *w)
{
	struct swin *s = find(x, w);

	FZ_ASSERT(s != NULL);
	return s;
}

/*
 * The on-screen rule, for a window shown at g: a window the session keeps on
 * screen (override-redirect, or any window no window manager manages unless
 * it is full-screen with allow_fullscreen; never a tray icon) has its whole
 * frame, border included, inside the work area, unless it is entirely
 * outside it. Checked when the window is mapped and whenever a mapped window
 * is configured.
 */
static void check_placement(struct x11 *x, const struct gwin *w, const struct rect *g)
{
	int b = x11_border(x, w);
	int64_t fx = (int64_t)g->x - b, fy = (int64_t)g->y - b, fw = (int64_t)g->w + 2 * b, fh = (int64_t)g->h + 2 * b;
	const struct rect *k = &x->work;
	bool forced = !w->docked && (w->override_redirect ||
			(!x->wm && !(x->cfg->allow_fullscreen && w->fullscreen_requested)));

	if (forced && k->w > 2 * b && k->h > 2 * b && g->w > 0 && g->h > 0) {
		bool outside = fx + fw <= k->x || fy + fh <= k->y || fx >= (int64_t)k->x + k->w ||
				fy >= (int64_t)k->y + k->h;
		bool inside = fx >= k->x && fy >= k->y && fx + fw <= (int64_t)k->x + k->w &&
				fy + fh <= (int64_t)k->y + k->h;

		if (!outside && !inside) {
			fprintf(stderr, "window 0x%x: frame %lld,%lld %lldx%lld partly off the work area %d,%d %dx%d\n",
					w->remote, (long long)fx, (long long)fy, (long long)fw, (long long)fh, k->x, k->y,
					k->w, k->h);
		}
		FZ_ASSERT(outside || inside);
	}
	if (w->override_redirect) {
		FZ_ASSERT(!w->docked && x->cfg->override_redirect_allowed);
	}
}

/* When override-redirect is granted: never to a window covering over 90 % of the work area (protection on). */
static void check_or_grant(const struct x11 *x, const struct gwin *w)
{
	if (w->override_redirect && x->cfg->override_redirect_protection) {
		FZ_ASSERT((uint64_t)w->geom.w * (uint64_t)w->geom.h * 10 <= (uint64_t)x->work.w * (uint64_t)x->work.h * 9);
	}
}

/* ----------------------------------------------------------------- connection and screen */

struct x11 *x11_open(const struct gd_config *cfg, const struct x11_events *ev, void *ctx)
{
	(void)cfg;
	(void)ev;
	(void)ctx;
	return NULL; /* the fuzz target uses stub_x11_create */
}

void x11_close(struct x11 *x)
{
	if (x != NULL) {
		stub_x11_destroy(x);
	}
}

int x11_fd(const struct x11 *x)
{
	(void)x;
	return -1;
}

int x11_dispatch(struct x11 *x)
{
	(void)x;
	return 0;
}

uint64_t x11_work(const struct x11 *x)
{
	return x->work_units;
}

void x11_flush(struct x11 *x)
{
	(void)x;
}

void x11_sync(struct x11 *x)
{
	x->work_units++;
}

void x11_reread_screen(struct x11 *x)
{
	(void)x;
}

void x11_screen(const struct x11 *x, uint32_t *w, uint32_t *h, uint32_t *depth)
{
	*w = x->sw;
	*h = x->sh;
	*depth = 24;
}

void x11_workarea(const struct x11 *x, struct rect *r)
{
	*r = x->work;
}

bool x11_wm_manages(const struct x11 *x, const struct gwin *w)
{
	(void)w;
	return x->wm;
}

int x11_border(const struct x11 *x, const struct gwin *w)
{
	return w->docked ? 0 : (int)x->cfg->border_width;
}

/* ----------------------------------------------------------------- windows */

int x11_win_create(struct x11 *x, struct gwin *w)
{
	FZ_ASSERT(find(x, w) == NULL);
	for (size_t i = 0; i < x->nwin; i++) {
		FZ_ASSERT(x->wins[i].w->remote != w->remote); /* one window per agent id */
	}
	FZ_ASSERT(x->nwin < GD_MAX_WINDOWS);
	x->work_units += 4;
	if (x->fail_create) {
		return -1;
	}
	if (x->nwin == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->wins = realloc(x->wins, x->cap * sizeof(*x->wins));
		FZ_ASSERT(x->wins != NULL);
	}
	x->wins[x->nwin++] = (struct swin){ .w = w, .at = w->geom };
	w->frame = x->next_id++;
	w->content = x->next_id++;
	check_or_grant(x, w);
	return 0;
}

void x11_win_destroy(struct x11 *x, struct gwin *w)
{
	struct swin *s = known(x, w);

	FZ_ASSERT(w->img.x == NULL && w->img.mapping == NULL); /* images go first */
	*s = x->wins[--x->nwin];
	x->work_units += 2;
}

void x11_win_configure(struct x11 *x, struct gwin *w)
{
	struct swin *s = known(x, w);

	FZ_ASSERT(w->geom.w >= 1 && w->geom.h >= 1);
	s->at = w->geom;
	if (s->mapped) {
		check_placement(x, w, &s->at);
	}
	x->work_units++;
}

/* The frame is where the window manager (or the user) put it: no rule of ours to check. */
void x11_win_fit_content(struct x11 *x, struct gwin *w)
{
	known(x, w)->at = w->geom;
	x->work_units++;
}

void x11_win_set_override_redirect(struct x11 *x, struct gwin *w)
{
	struct swin *s = known(x, w);

	if (w->override_redirect) {
		FZ_ASSERT(!s->mapped); /* a mapped window cannot gain override-redirect */
		FZ_ASSERT(!w->docked);
		check_or_grant(x, w);
	}
	x->work_units++;
}

void x11_win_map(struct x11 *x, struct gwin *w)
{
	struct swin *s = known(x, w);

	FZ_ASSERT(w->mapped || w->docked);
	FZ_ASSERT(!x->cfg->invisible);
	check_placement(x, w, &s->at); /* where the X server shows it */
	s->mapped = true;
	x->work_units++;
}

void x11_win_unmap(struct x11 *x, struct gwin *w)
{
	known(x, w)->mapped = false;
	x->work_units++;
}

static void check_text(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	FZ_ASSERT(n < max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		FZ_ASSERT(c >= 0x20 && c != 0x7f); /* sanitised: no control characters reach X */
	}
}

void x11_win_title(struct x11 *x, struct gwin *w, const char *title)
{
	const char *t = title;
	char prefix[48];

	known(x, w);
	check_text(title, 256);
	/* a title that starts like a qube's "[name]" (or with a look-alike) carries our own prefix */
	while (*t == ' ') {
		t++;
	}
	snprintf(prefix, sizeof(prefix), "[%s] ", x->cfg->vmname);
	if (*t == '[' || (unsigned char)*t >= 0x80) {
		FZ_ASSERT(strncmp(title, prefix, strlen(prefix)) == 0);
	}
	x->work_units++;
}

void x11_win_class(struct x11 *x, struct gwin *w, const char *res_class, const char *res_name)
{
	known(x, w);
	FZ_ASSERT(!w->mapped);
	check_text(res_class, 64);
	check_text(res_name, 64);
	x->work_units++;
}

void x11_win_hints(struct x11 *x, struct gwin *w, const struct proto_hints *h)
{
	known(x, w);
	FZ_ASSERT((h->flags & ~(uint32_t)PROTO_HINTS_ALLOWED) == 0);
	x->work_units++;
}

void x11_win_cursor(struct x11 *x, struct gwin *w, uint32_t cursor)
{
	known(x, w);
	FZ_ASSERT(cursor == CURSOR_DEFAULT || (cursor >= CURSOR_X11 && cursor < CURSOR_X11_MAX));
	x->work_units++;
}

void x11_win_transient(struct x11 *x, struct gwin *w, const struct gwin *parent)
{
	known(x, w);
	if (parent != NULL) {
		known(x, parent);
	}
	x->work_units++;
}

void x11_win_flags(struct x11 *x, struct gwin *w, uint32_t set, uint32_t unset)
{
	known(x, w);
	FZ_ASSERT((set & unset) == 0);
	FZ_ASSERT((set & ~(uint32_t)PROTO_FLAGS_SET_ALLOWED) == 0 && (unset & ~(uint32_t)PROTO_FLAGS_UNSET_ALLOWED) == 0);
	x->work_units++;
}

void x11_win_dock(struct x11 *x, struct gwin *w)
{
	known(x, w);
	FZ_ASSERT(w->docked && !w->override_redirect && !w->mapped);
	x->work_units++;
}

void x11_keymap(struct x11 *x, uint8_t keys[32])
{
	(void)x;
	memset(keys, 0, 32);
}

/* ----------------------------------------------------------------- images */

int x11_img_attach(struct x11 *x, struct gwin *w)
{
	struct gimage *img = &w->img;
	uint64_t bytes = (uint64_t)img->width * img->height * 4;
	const volatile uint8_t *p;

	known(x, w);
	FZ_ASSERT(img->x == NULL && img->mapping != NULL);
	FZ_ASSERT(img->width >= 1 && img->height >= 1 && img->width <= MAX_WINDOW_WIDTH &&
			img->height <= MAX_WINDOW_HEIGHT);
	/* the decoder's promise, which every put relies on: the pages cover the image */
	FZ_ASSERT(grant_mapping_size(img->mapping) >= bytes);
	x->work_units += 2;
	if (x->fail_attach) {
		return -1;
	}
	if (x->used + bytes > x->budget) {
		return -EDQUOT; /* checked before anything is allocated */
	}
	p = grant_mapping_addr(img->mapping);
	FZ_ASSERT(p != NULL);
	(void)p[0];
	(void)p[bytes - 1];
	img->x = calloc(1, sizeof(*img->x));
	FZ_ASSERT(img->x != NULL);
	img->x->bytes = bytes;
	img->x->live = true;
	x->used += bytes;
	x->nimg++;
	return 0;
}

void x11_img_release(struct x11 *x, struct gimage *img)
{
	if (img->x == NULL) {
		return;
	}
	FZ_ASSERT(img->x->live && x->nimg > 0 && x->used >= img->x->bytes);
	x->used -= img->x->bytes;
	x->nimg--;
	img->x->live = false;
	free(img->x);
	img->x = NULL;
	x->work_units++;
}

int x11_img_put(struct x11 *x, struct gwin *w, const struct gimage *src, const struct rect *r, int sx, int sy)
{
	const struct gimage *img = src ? src : &w->img;

	known(x, w);
	FZ_ASSERT(!x->cfg->invisible);
	FZ_ASSERT(img->x != NULL && img->x->live && img->mapping != NULL);
	/* clipped by the caller to the window ... */
	FZ_ASSERT(r->w > 0 && r->h > 0 && r->x >= 0 && r->y >= 0);
	FZ_ASSERT((int64_t)r->x + r->w <= w->geom.w && (int64_t)r->y + r->h <= w->geom.h);
	/* ... and to the image, seen at (sx, sy) */
	if (src == NULL) {
		FZ_ASSERT(sx == 0 && sy == 0);
	} else {
		FZ_ASSERT(w->remote != FULLSCREEN_WINDOW_ID);
	}
	FZ_ASSERT((int64_t)r->x + sx >= 0 && (int64_t)r->y + sy >= 0);
	FZ_ASSERT((int64_t)r->x + sx + r->w <= img->width && (int64_t)r->y + sy + r->h <= img->height);
	{
		/* read the corners the put would read */
		const volatile uint8_t *p = grant_mapping_addr(img->mapping);
		uint64_t first = ((uint64_t)(r->y + sy) * img->width + (uint64_t)(r->x + sx)) * 4;
		uint64_t last = ((uint64_t)(r->y + sy + r->h - 1) * img->width + (uint64_t)(r->x + sx + r->w - 1)) * 4;

		FZ_ASSERT(p != NULL && last + 4 <= grant_mapping_size(img->mapping));
		(void)p[first];
		(void)p[last + 3];
	}
	x->work_units += 1 + ((uint64_t)r->w * (uint64_t)r->h >> 16);
	if (src != NULL && w->docked && x->used + (uint64_t)w->geom.w * (uint64_t)w->geom.h * 4 > x->budget) {
		return -EDQUOT; /* a tray icon's coloured copy over the budget */
	}
	return 0;
}

void x11_img_budget(const struct x11 *x, uint64_t *used, uint64_t *max)
{
	*used = x->used;
	*max = x->budget;
}

/* ----------------------------------------------------------------- what config.c takes from libX11 */

/* XStringToKeysym for the names config.c's defaults use: letters and digits are their own keysyms. */
KeySym XStringToKeysym(const char *s);
KeySym XStringToKeysym(const char *s)
{
	if (s[0] != '\0' && s[1] == '\0' && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
				(s[0] >= '0' && s[0] <= '9'))) {
		return (KeySym)(unsigned char)s[0];
	}
	return NoSymbol;
}

/* ----------------------------------------------------------------- the clipboard, without files */

enum clip_result clipboard_copy(const struct clip_ctx *c, uint32_t req_time, const uint8_t *data, size_t len,
		bool oversized)
{
	(void)req_time;
	if (oversized) {
		FZ_ASSERT(data == NULL);
		return CLIP_CLEARED;
	}
	FZ_ASSERT(len <= c->buffer_size && (len == 0 || data != NULL));
	for (size_t i = 0; i < len; i++) {
		(void)((const volatile uint8_t *)data)[i];
	}
	return len ? CLIP_STORED : CLIP_CLEARED;
}

enum clip_result clipboard_paste(const struct clip_ctx *c, uint32_t t, uint8_t **data, size_t *len)
{
	(void)c;
	if (t & 1) {
		return CLIP_DENIED;
	}
	*len = 1 + t % 300;
	*data = calloc(1, *len);
	FZ_ASSERT(*data != NULL);
	return CLIP_STORED;
}

enum clip_result clipboard_qrexec_copy(const struct clip_ctx *c, uint32_t req_time)
{
	(void)c;
	(void)req_time;
	return CLIP_ERROR;
}

enum clip_result clipboard_qrexec_paste(const struct clip_ctx *c, const uint8_t *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
	return CLIP_ERROR;
}

int clipboard_helper_start(const struct clip_ctx *c)
{
	(void)c;
	return -1;
}

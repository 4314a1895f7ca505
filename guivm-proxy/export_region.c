/* export_region.c: guivm-export's damage accumulator (a few rectangles, merged by least growth). */
#include <stdint.h>

#include "export_region.h"

static bool empty(struct qgui_rect r)
{
	return r.w <= 0 || r.h <= 0;
}

static bool contains(struct qgui_rect outer, struct qgui_rect inner)
{
	return inner.x >= outer.x && inner.y >= outer.y &&
	       (int64_t)inner.x + inner.w <= (int64_t)outer.x + outer.w &&
	       (int64_t)inner.y + inner.h <= (int64_t)outer.y + outer.h;
}

static int64_t area(struct qgui_rect r)
{
	return empty(r) ? 0 : (int64_t)r.w * r.h;
}

void export_region_clear(struct export_region *g)
{
	g->n = 0;
}

bool export_region_empty(const struct export_region *g)
{
	return g->n == 0;
}

/* Drops kept rectangles that r covers (except index keep). */
static void drop_covered(struct export_region *g, struct qgui_rect r, size_t keep)
{
	size_t i = 0;

	while (i < g->n) {
		if (i != keep && contains(r, g->r[i])) {
			if (keep == g->n - 1) {
				keep = i; /* the kept one moves into this slot */
			}
			g->r[i] = g->r[--g->n];
			continue;
		}
		i++;
	}
}

void export_region_add(struct export_region *g, struct qgui_rect r)
{
	size_t best = 0;
	int64_t best_growth = INT64_MAX;

	if (empty(r)) {
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		if (contains(g->r[i], r)) {
			return;
		}
	}
	drop_covered(g, r, SIZE_MAX);
	if (g->n < EXPORT_REGION_MAX) {
		g->r[g->n++] = r;
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		int64_t growth = area(qgui_rect_union(g->r[i], r)) - area(g->r[i]);

		if (growth < best_growth) {
			best_growth = growth;
			best = i;
		}
	}
	g->r[best] = qgui_rect_union(g->r[best], r);
	drop_covered(g, g->r[best], best);
}

void export_region_clip(struct export_region *g, int32_t w, int32_t h)
{
	size_t i = 0;

	while (i < g->n) {
		struct qgui_rect *r = &g->r[i];
		int64_t x0 = r->x < 0 ? 0 : r->x, y0 = r->y < 0 ? 0 : r->y;
		int64_t x1 = (int64_t)r->x + r->w, y1 = (int64_t)r->y + r->h;

		x1 = x1 > w ? w : x1;
		y1 = y1 > h ? h : y1;
		if (x1 <= x0 || y1 <= y0) {
			g->r[i] = g->r[--g->n];
			continue;
		}
		*r = (struct qgui_rect){ (int32_t)x0, (int32_t)y0, (int32_t)(x1 - x0), (int32_t)(y1 - y0) };
		i++;
	}
}

struct qgui_rect export_region_bbox(const struct export_region *g)
{
	struct qgui_rect b = { 0, 0, 0, 0 };

	for (size_t i = 0; i < g->n; i++) {
		b = qgui_rect_union(b, g->r[i]);
	}
	return b;
}

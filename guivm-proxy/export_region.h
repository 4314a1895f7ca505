/* export_region.h: guivm-export's damage accumulator: a short list of rectangles, merged when it overflows. */
#ifndef EXPORT_REGION_H
#define EXPORT_REGION_H

#include <stdbool.h>
#include <stddef.h>

#include "qgui/dbuf.h"

/*
 * At most this many rectangles are kept; one more is merged into the kept
 * rectangle whose bounding box grows least. Small enough that a frame's
 * copies stay a handful of X requests, large enough that two far-apart
 * changes (a clock and a blinking cursor) are not copied as one huge box.
 */
#define EXPORT_REGION_MAX 8

struct export_region {
	struct qgui_rect r[EXPORT_REGION_MAX];
	size_t n;
};

/* Empties the region. */
void export_region_clear(struct export_region *g);

/* True when the region holds no rectangle. */
bool export_region_empty(const struct export_region *g);

/*
 * Adds r (ignored when r.w or r.h <= 0). A rectangle already covered is not
 * added; kept rectangles that r covers are dropped. Never loses area: the
 * union only grows.
 */
void export_region_add(struct export_region *g, struct qgui_rect r);

/* Clips every rectangle to (0, 0, w, h) and drops those left empty. */
void export_region_clip(struct export_region *g, int32_t w, int32_t h);

/* The bounding box of the region ({0,0,0,0} when empty). */
struct qgui_rect export_region_bbox(const struct export_region *g);

#endif

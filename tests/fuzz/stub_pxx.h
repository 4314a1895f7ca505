/* tests/fuzz/stub_pxx.h: guivm-proxy's X side (proxy.h) with no X, for fuzz_proxy. */
#ifndef QGUI_FUZZ_STUB_PXX_H
#define QGUI_FUZZ_STUB_PXX_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy.h"

/* A content area of w x h, in the waiting state. */
struct pxx *stub_pxx_create(uint32_t w, uint32_t h);
/* Checks that every image was released, and frees it. */
void stub_pxx_destroy(struct pxx *x);
/* dom0's screen changed: the content area is now w x h. */
void stub_pxx_set_size(struct pxx *x, uint32_t w, uint32_t h);
/* Makes pxx_img_create fail (as when the X server refuses the segment). */
void stub_pxx_fail_images(struct pxx *x, bool fail);
bool stub_pxx_waiting(const struct pxx *x);

#endif

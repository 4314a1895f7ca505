/*
 * tests/fuzz/stub_x11.h: gui-daemon's x11.h with no X server, for fuzz_session.
 * It keeps only what it needs to check the session's calls (which windows
 * exist and are mapped, which images are attached and what they cost) and
 * aborts when a call breaks a rule the session promises: a window the
 * session keeps on screen is on screen, a put is clipped to its window and
 * its image, an image covers its pages, override-redirect is never gained
 * while mapped, every window and image is released by the end.
 */
#ifndef QGUI_FUZZ_STUB_X11_H
#define QGUI_FUZZ_STUB_X11_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "gd.h"

/* Creates the stub for a screen of w x h with work area work, and a copy-path budget in bytes. */
struct x11 *stub_x11_create(const struct gd_config *cfg, uint32_t w, uint32_t h, const struct rect *work,
		uint64_t budget);
/* Checks that no window and no image is left, and frees the stub. */
void stub_x11_destroy(struct x11 *x);

/* A new screen size and work area (what x11_reread_screen would find). */
void stub_x11_set_screen(struct x11 *x, uint32_t w, uint32_t h, const struct rect *work);
/* Whether a window manager manages the windows (x11_wm_manages). */
void stub_x11_set_wm(struct x11 *x, bool wm);
/* Makes x11_win_create (fail_create) or x11_img_attach (fail_attach) fail like a broken X connection. */
void stub_x11_set_failures(struct x11 *x, bool fail_create, bool fail_attach);

/* The windows the session has created and not destroyed, in creation order. */
size_t stub_x11_nwin(const struct x11 *x);
struct gwin *stub_x11_win(const struct x11 *x, size_t i);

#endif

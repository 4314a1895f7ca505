/* bench_daemon.c: gui-daemon's drawing paths side by side in one run: zero-copy (gntemu) vs copy (Xen). */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gdfix.h"

#define W 1920
#define H 1080

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Damage updates per second for n updates of rw x rh rectangles spread over the window. */
static double run(struct fixture *f, int n, int rw, int rh)
{
	double t0 = now_s();

	for (int i = 0; i < n; i++) {
		int x = rw < W ? (i * 97 * rw) % (W - rw) : 0, y = rh < H ? (i * 61 * rh) % (H - rh) : 0;

		/* damage only: the agent's own drawing is not what is measured */
		if (tagent_send(f->a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = 0x10,
					      .u.shmimage = { x, y, rw, rh } }) != 0) {
			return -1;
		}
		if (i % 16 == 15 && gdfix_barrier(f) != 0) {
			return -1;
		}
	}
	if (gdfix_barrier(f) != 0) {
		return -1;
	}
	return n / (now_s() - t0);
}

static int start(struct fixture *f, bool xen, const char *shim)
{
	struct gdfix_opts o = { QGUI_BACKEND_SOCKET, xen ? "xen" : NULL, xen ? shim : NULL, NULL, NULL, 0, false };

	if (gdfix_start(f, &o, NULL) != 0 || tagent_create(f->a, 0x10, 0, 0, W, H, false, NULL, true) != 0 ||
			tagent_fill(f->a, 0x10, W, H, 0x202020) != 0) {
		return -1;
	}
	return xrig_wait_pixel(gdfix_dpy, W / 2, H / 2, 0x202020, 10000) ? 0 : -1;
}

int main(void)
{
	static const struct {
		const char *what;
		int n, w, h;
	} cases[] = { { "full frame 1920x1080", 300, W, H }, { "64x64 rectangles", 3000, 64, 64 } };
	char self[PATH_MAX], shim[PATH_MAX + 32];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc = 0;

	if (len <= 0) {
		return 1;
	}
	self[len] = '\0';
	snprintf(shim, sizeof(shim), "%s/../libxenshim.so", dirname(self));
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
	if (gdfix_setup(W, H) != 0) {
		return 1;
	}
	printf("gui-daemon drawing paths, %dx%d window on Xvfb, updates/s (median of 3 runs, side by side)\n", W, H);
	printf("%-24s %14s %14s %8s\n", "update", "zero-copy", "copy (Xen)", "ratio");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double r[2][3];

		for (int rep = 0; rep < 3; rep++) {
			for (int xen = 0; xen < 2; xen++) {
				struct fixture f;

				if (start(&f, xen, shim) != 0) {
					fprintf(stderr, "bench: cannot start the %s daemon\n", xen ? "Xen" : "gntemu");
					gdfix_stop(&f);
					rc = 1;
					goto out;
				}
				r[xen][rep] = run(&f, cases[c].n, cases[c].w, cases[c].h);
				gdfix_stop(&f);
			}
		}
		for (int xen = 0; xen < 2; xen++) { /* medians */
			double *v = r[xen], t;

			if (v[0] > v[1]) {
				t = v[0], v[0] = v[1], v[1] = t;
			}
			if (v[1] > v[2]) {
				t = v[1], v[1] = v[2], v[2] = t;
			}
			if (v[0] > v[1]) {
				t = v[0], v[0] = v[1], v[1] = t;
			}
		}
		printf("%-24s %14.0f %14.0f %7.2fx\n", cases[c].what, r[0][1], r[1][1], r[0][1] / r[1][1]);
	}
out:
	gdfix_teardown();
	return rc;
}

/* bench_fairness.c: one agent's update latency on a shared X server, alone and while another agent floods windows. */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdfix.h"
#include "kids.h"

#define SAMPLES 300
#define FLOOD_BATCH 4000 /* windows created and mapped, then destroyed, over and over */

static struct fixture flood;

/* The flooding agent, in a child: CREATE + MAP as fast as the daemon takes them, until told to stop. */
static void flooder(int in, int out, void *arg)
{
	struct pollfd p = { in, POLLIN, 0 };
	uint32_t next = 0x1000;
	unsigned long created = 0;

	(void)arg;
	while (poll(&p, 1, 0) == 0) {
		struct proto_msg m;

		for (uint32_t i = 0; i < FLOOD_BATCH; i++) {
			uint32_t id = next + i;

			if (tagent_send(flood.a, &(struct proto_msg){ .type = MSG_CREATE, .window = id,
						     .u.create = { (int)(id * 37 % 500), (int)(id * 53 % 600), 60, 40,
							     false } }) != 0 ||
					tagent_send(flood.a, &(struct proto_msg){ .type = MSG_MAP, .window = id }) != 0) {
				goto out;
			}
			while (tagent_expect(flood.a, 0, 0, &m) == 0) {
				/* drain what the daemon says (MAP notifications) so that it never has to wait for us */
			}
		}
		for (uint32_t i = 0; i < FLOOD_BATCH; i++) {
			if (tagent_send(flood.a, &(struct proto_msg){ .type = MSG_DESTROY, .window = next + i }) != 0) {
				goto out;
			}
		}
		created += FLOOD_BATCH;
		next += FLOOD_BATCH;
	}
out:
	kid_say_size(out, created);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* SAMPLES updates of the honest window: ms from sending the damage to the pixel on the screen. */
static int measure(struct fixture *f, double *p50, double *p99, double *max)
{
	static double ms[SAMPLES];

	for (int i = 0; i < SAMPLES; i++) {
		uint32_t rgb = 0x100000u + (uint32_t)i * 0x000101u;
		int64_t t0 = test_now_ms();

		if (tagent_paint(f->a, 0x10, 0, 0, 200, 150, rgb, true) != 0 ||
				!xrig_wait_pixel(gdfix_dpy, 850, 700, rgb, 10000)) {
			return -1;
		}
		ms[i] = (double)(test_now_ms() - t0);
	}
	qsort(ms, SAMPLES, sizeof(ms[0]), cmp);
	*p50 = ms[SAMPLES / 2];
	*p99 = ms[SAMPLES * 99 / 100];
	*max = ms[SAMPLES - 1];
	return 0;
}

int main(void)
{
	struct fixture honest;
	const char *const blue[] = { "-c", "0x0000ff", NULL };
	double r[2][3];
	struct kid k;
	size_t created = 0;
	int64_t t0;
	int rc = 1;
	bool flooding = false, started = false;

	if (gdfix_setup(1024, 768) != 0) {
		return 1;
	}
	started = gdfix_start(&honest, NULL, NULL) == 0;
	if (!started || tagent_create(honest.a, 0x10, 800, 600, 200, 150, false, NULL, true) ||
			tagent_fill(honest.a, 0x10, 200, 150, 0x000000) != 0) {
		fprintf(stderr, "bench: cannot start the honest agent\n");
		goto out;
	}
	if (measure(&honest, &r[0][0], &r[0][1], &r[0][2]) != 0) {
		fprintf(stderr, "bench: updates without a flood failed\n");
		goto out;
	}
	flooding = gdfix_start(&flood, NULL, blue) == 0;
	/* not KID_ISOLATED: the child speaks for the agent on its connection */
	if (!flooding || !kid_spawn(&k, KID_TRACKED, flooder, NULL)) {
		fprintf(stderr, "bench: cannot start the flooding agent\n");
		goto out;
	}
	t0 = test_now_ms();
	test_sleep_ms(500); /* the flood under way */
	if (measure(&honest, &r[1][0], &r[1][1], &r[1][2]) != 0) {
		fprintf(stderr, "bench: updates during the flood failed\n");
		kid_finish(&k);
		goto out;
	}
	kid_say(k.to, 's');
	if (!kid_hear_size(k.from, &created)) {
		created = 0;
	}
	kid_finish(&k);
	printf("honest agent's update latency on a shared Xvfb (200x150 damage to pixel on screen), %d samples\n",
			SAMPLES);
	printf("%-34s %8s %8s %8s\n", "", "p50 ms", "p99 ms", "max ms");
	printf("%-34s %8.0f %8.0f %8.0f\n", "alone", r[0][0], r[0][1], r[0][2]);
	printf("%-34s %8.0f %8.0f %8.0f\n", "another agent flooding CREATE/MAP", r[1][0], r[1][1], r[1][2]);
	printf("flood: %zu windows created and mapped in %.1f s (%.0f/s)\n", created,
			(double)(test_now_ms() - t0) / 1000, (double)created * 1000 / (double)(test_now_ms() - t0));
	rc = 0;
out:
	if (flooding) {
		gdfix_stop(&flood);
	}
	if (started) {
		gdfix_stop(&honest);
	}
	gdfix_teardown();
	return rc;
}

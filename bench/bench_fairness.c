/* bench_fairness.c: one agent's update latency on a shared X server, alone and while another agent floods windows. */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static double now_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* SAMPLES updates of the honest window: ms from sending the damage to the pixel on the screen. */
static int measure(struct fixture *f, double r[3])
{
	static double ms[SAMPLES];

	for (int i = 0; i < SAMPLES; i++) {
		uint32_t rgb = 0x100000u + (uint32_t)i * 0x000101u;
		double t0 = now_ms_f();

		if (tagent_paint(f->a, 0x10, 0, 0, 200, 150, rgb, true) != 0 ||
				!xrig_wait_pixel(gdfix_dpy, 850, 700, rgb, 10000)) {
			return -1;
		}
		ms[i] = now_ms_f() - t0;
	}
	qsort(ms, SAMPLES, sizeof(ms[0]), cmp);
	r[0] = ms[SAMPLES / 2];
	r[1] = ms[SAMPLES * 99 / 100];
	r[2] = ms[SAMPLES - 1];
	return 0;
}

/*
 * The honest agent's latency while a second daemon (guid.conf body conf) serves a flooding
 * agent. r: p50, p99, max; *rate: windows created a second. 0 or -1.
 */
static int under_flood(struct fixture *honest, const char *name, const char *conf, double r[3], double *rate)
{
	const char *const opts[] = { "-c", "0x0000ff", "-C", gdfix_conf(name, conf), NULL };
	struct kid k;
	size_t created = 0;
	double t0;
	int rc;

	if (gdfix_start(&flood, NULL, opts) != 0) {
		return -1;
	}
	/* not KID_ISOLATED: the child speaks for the agent on its connection */
	if (!kid_spawn(&k, KID_TRACKED, flooder, NULL)) {
		gdfix_stop(&flood);
		return -1;
	}
	t0 = now_ms_f();
	test_sleep_ms(500); /* the flood under way */
	rc = measure(honest, r);
	kid_say(k.to, 's');
	if (!kid_hear_size(k.from, &created)) {
		created = 0;
	}
	*rate = (double)created * 1000 / (now_ms_f() - t0);
	kid_finish(&k);
	gdfix_stop(&flood);
	return rc;
}

int main(void)
{
	static const struct {
		const char *label, *file, *conf;
	} floods[] = {
		{ "flood, x_work_rate default (20000)", "fair.conf", "" },
		{ "flood, x_work_rate = 0 (unlimited)", "unfair.conf", "x_work_rate = 0;" },
	};
	struct fixture honest;
	double r[3], fr[2][3], rate[2];
	int rc = 1;
	bool started = false;

	if (gdfix_setup(1024, 768) != 0) {
		return 1;
	}
	started = gdfix_start(&honest, NULL, NULL) == 0;
	if (!started || tagent_create(honest.a, 0x10, 800, 600, 200, 150, false, NULL, true) ||
			tagent_fill(honest.a, 0x10, 200, 150, 0x000000) != 0) {
		fprintf(stderr, "bench: cannot start the honest agent\n");
		goto out;
	}
	if (measure(&honest, r) != 0) {
		fprintf(stderr, "bench: updates without a flood failed\n");
		goto out;
	}
	for (size_t i = 0; i < 2; i++) {
		if (under_flood(&honest, floods[i].file, floods[i].conf, fr[i], &rate[i]) != 0) {
			fprintf(stderr, "bench: updates during the flood (%s) failed\n", floods[i].label);
			goto out;
		}
	}
	printf("honest agent's update latency on a shared Xvfb (200x150 damage to pixel on screen), %d samples\n",
			SAMPLES);
	printf("%-36s %8s %8s %8s %12s\n", "", "p50 ms", "p99 ms", "max ms", "flood win/s");
	printf("%-36s %8.2f %8.2f %8.2f %12s\n", "alone", r[0], r[1], r[2], "-");
	for (size_t i = 0; i < 2; i++) {
		printf("%-36s %8.2f %8.2f %8.2f %12.0f\n", floods[i].label, fr[i][0], fr[i][1], fr[i][2], rate[i]);
	}
	printf("p99 during a flood / alone: %.1fx with the budget, %.1fx without\n", fr[0][1] / r[1], fr[1][1] / r[1]);
	rc = 0;
out:
	if (started) {
		gdfix_stop(&honest);
	}
	gdfix_teardown();
	return rc;
}

/* test_daemon_grant.c: what gui-daemon hands its (shared) X server from an agent's grants (emulation.md 3.3, v1.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdfix.h"
#include "procwatch.h"
#include "peer.h"
#include "test.h"

#define T_MS GDFIX_MS
#define dpy gdfix_dpy
#define REF0 100u /* the hostile owner's refs */

/* Counts the X server's mappings of memfds named name (/proc/PID/maps: "/memfd:name (deleted)"). */
static int xserver_maps(const char *name)
{
	char path[64], line[512], want[128];
	FILE *fp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)gdfix_xs.pid);
	snprintf(want, sizeof(want), "/memfd:%s ", name);
	fp = fopen(path, "r");
	if (fp == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		n += strstr(line, want) != NULL;
	}
	fclose(fp);
	return n;
}

/* Lines of the daemon's log containing text. */
static int log_lines(const struct fixture *f, const char *text)
{
	return procwatch_lines(f->log, 0, text, NULL, 0);
}

/*
 * An image whose memfd is exactly its pages goes to the X server with no copy
 * (the X server maps the agent's memfd); one whose memfd has a page more is
 * copied (the X server maps only the daemon's own buffer), and shows the same.
 */
static void x_server_maps_only_exact_memfds(void)
{
	struct fixture f;

	/* 64 x 64 x 4 = 16 KiB = 4 pages: exactly the share */
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x100, 100, 100, 64, 64, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x100, 64, 64, 0x2266aa), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 130, 130, 0x2266aa, T_MS));
	T_EQ(xrig_root_pixel(dpy, 163, 163), 0x2266aa);
	T_EQ(gdfix_barrier(&f), 0);
	T_ASSERT(xserver_maps("qgui-grant") >= 1);
	T_EQ(xserver_maps("gui-daemon-image"), 0);
	gdfix_stop(&f);

	/* the same image in a share one page larger: the copy path, the same pixels */
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	tagent_set_extra_pages(f.a, 1);
	T_EQ(tagent_create(f.a, 0x100, 300, 100, 64, 64, false, NULL, true), 0);
	T_EQ(tagent_fill(f.a, 0x100, 64, 64, 0x66aa22), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 330, 130, 0x66aa22, T_MS));
	T_EQ(xrig_root_pixel(dpy, 300, 100), 0x66aa22);
	T_EQ(xrig_root_pixel(dpy, 363, 163), 0x66aa22);
	/* damage through the copy path too */
	T_EQ(tagent_paint(f.a, 0x100, 10, 10, 5, 5, 0xaa2266, true), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 314, 114, 0xaa2266, T_MS));
	T_EQ(xrig_root_pixel(dpy, 315, 115), 0x66aa22);
	T_EQ(gdfix_barrier(&f), 0);
	T_EQ(xserver_maps("qgui-grant"), 0);
	T_ASSERT(xserver_maps("gui-daemon-image") >= 1);
	gdfix_stop(&f);
}

/*
 * The attack of issue 9: a dump whose memfd is 64 GiB (sparse, sealed). The
 * daemon refuses it (one log line, that agent's session ends), the X server
 * does not grow, and another agent on the same X server keeps working.
 */
static void sparse_64g_memfd_refused(void)
{
	struct peer_fake_cfg cfg = { 0, 1, 64ull << 30, 4, 4, 0xee, 0, false };
	uint8_t refs[4 * 4];
	struct proto_msg m = { .type = MSG_WINDOW_DUMP, .window = 0x200,
		.u.dump = { .width = 64, .height = 64, .bpp = 32, .nrefs = 4, .refs = refs } };
	struct fixture good, bad;
	struct kid owner = { 0 };
	long vsz0, rss0, vsz1, rss1;
	unsigned acks;

	T_EQ(gdfix_start(&good, NULL, NULL), 0);
	T_EQ(tagent_create(good.a, 0x100, 500, 100, 64, 64, false, NULL, true), 0);
	T_EQ(tagent_fill(good.a, 0x100, 64, 64, 0x118811), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 530, 130, 0x118811, T_MS));

	/* the hostile agent never shares through its library owner: the fake one answers its LOOKUPs */
	T_EQ(gdfix_start(&bad, NULL, NULL), 0);
	cfg.own = bad.agent_dom;
	T_ASSERT(kid_spawn(&owner, KID_TRACKED, peer_fake_owner_main, &cfg));
	T_EQ(peer_ready(&owner), 0);
	T_EQ(tagent_create(bad.a, 0x200, 700, 100, 64, 64, false, NULL, true), 0);
	T_EQ(gdfix_barrier(&bad), 0);
	vsz0 = procwatch_status_kib(gdfix_xs.pid, "VmSize");
	rss0 = procwatch_status_kib(gdfix_xs.pid, "VmRSS");
	T_ASSERT(vsz0 > 0 && rss0 > 0);
	for (uint32_t i = 0; i < 4; i++) {
		for (int b = 0; b < 4; b++) {
			refs[4 * i + (uint32_t)b] = (uint8_t)((REF0 + i) >> (8 * b));
		}
	}
	T_EQ(tagent_send(bad.a, &m), 0);
	T_EQ(xrig_wait(bad.daemon, T_MS), 3); /* the violation status */
	bad.daemon = 0;
	T_EQ(log_lines(&bad, "larger than 4 GiB"), 1);
	T_EQ(log_lines(&bad, "broke the grant protocol"), 1);

	/* the X server did not map it: its size moved by far less than the 64 GiB */
	vsz1 = procwatch_status_kib(gdfix_xs.pid, "VmSize");
	rss1 = procwatch_status_kib(gdfix_xs.pid, "VmRSS");
	printf("# X server VmSize %ld -> %ld KiB, VmRSS %ld -> %ld KiB\n", vsz0, vsz1, rss0, rss1);
	T_ASSERT(vsz1 > 0 && vsz1 - vsz0 < 256 * 1024);
	T_ASSERT(rss1 - rss0 < 256 * 1024);

	/* the other agent still gets its frames shown and acknowledged */
	acks = tagent_acks(good.a);
	T_EQ(tagent_fill(good.a, 0x100, 64, 64, 0x881111), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 530, 130, 0x881111, T_MS));
	T_EQ(tagent_expect_win(good.a, MSG_WINDOW_DUMP_ACK, 0x100, T_MS, &m), 0);
	T_ASSERT(tagent_acks(good.a) > acks);
	T_EQ(kid_finish(&owner), 0);
	gdfix_stop(&bad);
	gdfix_stop(&good);
}

static const struct test_case cases[] = {
	TEST(x_server_maps_only_exact_memfds),
	TEST(sparse_64g_memfd_refused),
};

int main(int argc, char **argv)
{
	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

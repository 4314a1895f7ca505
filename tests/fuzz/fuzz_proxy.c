/*
 * fuzz_proxy.c: libFuzzer target for guivm-proxy's session (guivm-proxy/proxy_session.c)
 * with X stubbed (stub_pxx.c): the exporter's byte stream goes through a real
 * connection into the session, interleaved with dom0's input, exposures and
 * screen changes. Dumps are mapped by the real gntemu mapper from a fake
 * owner thread (fz.c) that grants every ref in runs of 1024 pages, except
 * refs 0xbadxxxxx ("not granted": the exporter's violation). Checks: the stub's
 * (every image covered by its pages, all released at the end, and with them
 * every grant mapping), and every message sent to the exporter is one it
 * accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "fz.h"
#include "proxy.h"
#include "qgui/log.h"
#include "stub_pxx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define OWN 0
#define GUIVM 2
#define RUN_PAGES 1024u

static int run_fd;

static void answer(void *ctx, uint32_t ref, struct fz_reply *r)
{
	(void)ctx;
	if ((ref & 0xfff00000u) == 0xbad00000u) {
		fz_reply_enoent(r);
		return;
	}
	fz_reply_ok(r, ref & ~(RUN_PAGES - 1), RUN_PAGES, 0, run_fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(getenv("FUZZ_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	run_fd = fz_memfd(0, RUN_PAGES * 4096, F_SEAL_SHRINK | F_SEAL_GROW, 0);
	fz_owner_start(GUIVM, OWN, answer, NULL);
	return 0;
}

static const struct {
	uint32_t w, h;
} sizes[8] = { { 1024, 768 }, { 1916, 1076 }, { 640, 480 }, { 100, 80 }, { 1, 1 }, { 33, 17 }, { 800, 600 }, { 8, 8 } };

/* Handles what the session can, waiting for the fake owner while a screen image is being mapped. */
static enum pxs_end run(struct pxs *s, int budget)
{
	for (;;) {
		struct pollfd conn, grant;
		bool more = false;
		enum pxs_end e = pxs_process(s, budget, &more);
		int timeout = pxs_pollfd(s, &conn, &grant);

		if (e != PXS_RUNNING) {
			return e;
		}
		if (grant.fd >= 0) {
			/* the owner answers at once: the deadline (10 s) is never what ends a wait here */
			FZ_ASSERT(poll(&grant, 1, timeout) >= 0 || errno == EINTR); /* libFuzzer's timer signals */
			continue;
		}
		if (!more) {
			return e;
		}
	}
}

/*
 * Input: byte 0: dom0's content size (low 3 bits), the exporter stops reading
 * (bit 3), images fail (bit 4); byte 1: the exporter's minor version. Then
 * operations: a byte below 0x80 is a chunk of that many + 1 bytes of the
 * exporter's stream; 0x80 and up: dom0's input, an exposure, a screen change.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t b0 = fz_u8(&in), b1 = fz_u8(&in);
	struct pxx *x = stub_pxx_create(sizes[b0 & 7].w, sizes[b0 & 7].h);
	struct transport *t = fz_transport_create();
	struct fz_check chk;
	struct pxs *s;
	uint32_t v = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, b1 % 9);
	uint8_t vw[4];
	struct px_opts opts = { .domid = GUIVM, .backend = QGUI_BACKEND_SOCKET, .dump_deadline_ms = 10000 };

	proto_encode_version(v, vw);
	fz_transport_feed(t, vw, sizeof(vw));
	fz_check_init(&chk, PROTO_D2A, v, (v >= QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION ? 4 : 0) + 16);
	fz_transport_check(t, &chk);
	if (b0 & 8) {
		fz_transport_stall(t, 16, 200);
	}
	stub_pxx_fail_images(x, (b0 & 16) != 0);
	s = pxs_create(x, t, QGUI_BACKEND_SOCKET, OWN, &opts);
	FZ_ASSERT(s != NULL);
	while (in.left > 0) {
		uint8_t op = fz_u8(&in);

		if (op < 0x80) {
			const uint8_t *chunk;
			size_t n = fz_bytes(&in, (size_t)op + 1, &chunk);

			fz_transport_feed(t, chunk, n);
		} else {
			switch (op & 7) {
			case 0: {
				struct proto_msg m = { .type = MSG_KEYPRESS, .u.key = { QGUI_KeyPress, 1, 2, 0, 38 } };

				pxs_input(s, &m);
				m = (struct proto_msg){ .type = MSG_KEYMAP_NOTIFY };
				pxs_input(s, &m);
				break;
			}
			case 1: {
				struct px_rect r = { fz_u16(&in) % 3000, fz_u16(&in) % 3000, fz_u16(&in) % 3000,
					fz_u16(&in) % 3000 };

				pxs_expose(s, &r);
				break;
			}
			case 2: {
				uint8_t k = fz_u8(&in);

				stub_pxx_set_size(x, sizes[k & 7].w, sizes[k & 7].h);
				pxs_screen_changed(s);
				break;
			}
			default:
				pxs_handle(s, 0);
				break;
			}
		}
		if (run(s, 1 + (op & 0x3f)) != PXS_RUNNING) {
			goto out;
		}
	}
	fz_transport_close(t);
	(void)run(s, 100000);
out:
	pxs_destroy(s); /* frees the transport, the connection and the mapper (no mapping may be left) */
	stub_pxx_destroy(x);
	return 0;
}

/* fuzz_decode.c: libFuzzer target for the message decoder (header check + body decode), both directions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto_invariants.h"
#include "qgui/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: byte 0 picks the direction, negotiated minor version, clipboard
 * limit and UTF-8 titles; the rest is a stream of messages, decoded one after
 * another as a session would until the bytes run out or one is fatal.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_opts o;
	enum proto_dir dir;
	size_t off = 1;

	if (size < 1) {
		return 0;
	}
	proto_opts_default(&o);
	dir = (data[0] & 1) ? PROTO_D2A : PROTO_A2D;
	o.version = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, (data[0] >> 1) & 0xf);
	o.utf8_titles = (data[0] & 0x20) != 0;
	o.clipboard_max = (data[0] & 0x40) ? MIN_CLIPBOARD_BUFFER_SIZE : MAX_CLIPBOARD_BUFFER_SIZE;
	while (size - off >= PROTO_HDR_LEN) {
		struct proto_frame f;
		struct proto_msg m;
		uint8_t *body;
		const char *why;
		int rc = proto_check_hdr(dir, data + off, &o, &f, &why);

		if (rc != 0) {
			if (rc != -EPROTO || why == NULL) {
				abort();
			}
			break;
		}
		if (f.body_len > PROTO_MAX_BODY) {
			abort(); /* the header check promised a cap */
		}
		off += PROTO_HDR_LEN;
		if (size - off < f.body_len) {
			break;
		}
		/* an exact-size heap copy, so ASan sees any read past the body */
		body = malloc(f.body_len ? f.body_len : 1);
		if (body == NULL) {
			return 0;
		}
		memcpy(body, data + off, f.body_len);
		off += f.body_len;
		rc = proto_decode(dir, &f, body, &o, &m, &why);
		if (rc == 0 && proto_invariant_violation(dir, &m, &o, f.body_len) != NULL) {
			abort();
		}
		if (rc != 0 && rc != PROTO_DROP && rc != -EPROTO) {
			abort();
		}
		if (rc != 0 && why == NULL) {
			abort();
		}
		free(body);
		if (rc == -EPROTO) {
			break;
		}
	}
	return 0;
}

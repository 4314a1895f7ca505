/* test_mutation.c: deterministic bit flips and truncations over valid messages; nothing may slip through. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto_invariants.h"
#include "qgui/proto.h"
#include "test.h"

/* The samples: one valid message of every type, each direction. */
static size_t samples(enum proto_dir dir, uint8_t *out[], size_t max)
{
	static const uint8_t refs[12] = { 8, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0 };
	static const struct proto_msg a2d[] = {
		{ MSG_CREATE, 0x400001, .u.create = { 10, 20, 30, 40, true } },
		{ MSG_DESTROY, 0x400001, .u = { { 0 } } },
		{ MSG_MAP, 0x400001, .u.map = { 0x400002, false } },
		{ MSG_UNMAP, 0x400001, .u = { { 0 } } },
		{ MSG_CONFIGURE, 0x400001, .u.configure = { -5, 6, 70, 80, false } },
		{ MSG_SHMIMAGE, 0x400001, .u.shmimage = { 1, 2, 3, 4 } },
		{ MSG_WMNAME, 0x400001, .u.wmname = { "Mozilla Firefox \xe2\x80\xa6" } },
		{ MSG_WMCLASS, 0x400001, .u.wmclass = { "Navigator", "firefox-esr" } },
		{ MSG_WINDOW_HINTS, 0x400001,
				.u.hints = { QGUI_PMinSize | QGUI_PMaxSize | QGUI_PBaseSize, 10, 10, 500, 500, 0, 0, 1, 1 } },
		{ MSG_WINDOW_FLAGS, 0x400001, .u.flags = { WINDOW_FLAG_DEMANDS_ATTENTION, WINDOW_FLAG_FULLSCREEN } },
		{ MSG_CURSOR, 0x400001, .u.cursor = { 0x100 + 68 } },
		{ MSG_WINDOW_DUMP, 0x400001, .u.dump = { 50, 60, 32, 3, refs } },
		{ MSG_CLIPBOARD_DATA, 0, .u.clipboard = { (const uint8_t *)"secret text", 11, false } },
		{ MSG_DOCK, 0x400001, .u = { { 0 } } },
	};
	static const struct proto_msg d2a[] = {
		{ MSG_KEYPRESS, 0x400001, .u.key = { QGUI_KeyPress, 10, 10, 0x4, 54 } },
		{ MSG_BUTTON, 0x400001, .u.button = { QGUI_ButtonPress, 10, 10, 0, 3 } },
		{ MSG_MOTION, 0x400001, .u.motion = { 11, 12, 0, 0 } },
		{ MSG_CROSSING, 0x400001, .u.crossing = { QGUI_LeaveNotify, 1, 1, 0, 0, 0, 1 } },
		{ MSG_FOCUS, 0x400001, .u.focus = { QGUI_FocusOut, 0, 3 } },
		{ MSG_CONFIGURE, 0x400001, .u.configure = { 0, 0, 640, 480, false } },
		{ MSG_MAP, 0x400001, .u.map = { 0, false } },
		{ MSG_CLOSE, 0x400001, .u = { { 0 } } },
		{ MSG_CLIPBOARD_REQ, 0x400001, .u = { { 0 } } },
		{ MSG_CLIPBOARD_DATA, 0x400001, .u.clipboard = { (const uint8_t *)"pasted", 6, false } },
		{ MSG_KEYMAP_NOTIFY, 0, .u.keymap = { { 0xff, 0, 1 } } },
		{ MSG_WINDOW_FLAGS, 0x400001, .u.flags = { WINDOW_FLAG_FULLSCREEN, 0 } },
		{ MSG_WINDOW_DUMP_ACK, 0x400001, .u = { { 0 } } },
		{ MSG_DESTROY, 0x400001, .u = { { 0 } } },
	};
	const struct proto_msg *src = dir == PROTO_A2D ? a2d : d2a;
	size_t n = dir == PROTO_A2D ? sizeof(a2d) / sizeof(a2d[0]) : sizeof(d2a) / sizeof(d2a[0]);

	for (size_t i = 0; i < n && i < max; i++) {
		out[i] = calloc(1, proto_encoded_len(&src[i]) + 4);
		proto_encode(&src[i], QUBES_GUID_PROTOCOL_VERSION, out[i]);
	}
	return n;
}

static size_t wire_len(const uint8_t *w)
{
	uint32_t l;

	memcpy(&l, w + 8, 4);
	return PROTO_HDR_LEN + l;
}

struct tally {
	unsigned accepted, dropped, refused;
};

/* Decodes len bytes as one message; fails the case on any broken promise. */
static int run_one(enum proto_dir dir, const uint8_t *w, size_t len, const struct proto_opts *o, struct tally *t)
{
	struct proto_frame f;
	struct proto_msg m;
	const char *why = NULL, *bad;
	int rc;

	if (len < PROTO_HDR_LEN) {
		return 0;
	}
	rc = proto_check_hdr(dir, w, o, &f, &why);
	if (rc != 0) {
		if (rc != -EPROTO || why == NULL) {
			test_fail(__FILE__, __LINE__, "header check returned %d", rc);
			return -1;
		}
		t->refused++;
		return 0;
	}
	if (f.body_len > len - PROTO_HDR_LEN) {
		t->refused++; /* a session would wait for more bytes: covered by the stream test */
		return 0;
	}
	{
		/* an exact-size copy, so the sanitizers catch any read past the body */
		uint8_t *body = malloc(f.body_len + 1);

		memcpy(body, w + PROTO_HDR_LEN, f.body_len);
		rc = proto_decode(dir, &f, body, o, &m, &why);
		bad = rc == 0 ? proto_invariant_violation(dir, &m, o, f.body_len) : NULL;
		free(body);
	}
	if (bad) {
		test_fail(__FILE__, __LINE__, "accepted %s breaks a promise: %s", proto_type_name(f.type), bad);
		return -1;
	}
	if (rc == 0) {
		t->accepted++;
	} else if (rc == PROTO_DROP && why) {
		t->dropped++;
	} else if (rc == -EPROTO && why) {
		t->refused++;
	} else {
		test_fail(__FILE__, __LINE__, "decode returned %d (why %s)", rc, why ? why : "NULL");
		return -1;
	}
	return 0;
}

static void flips(enum proto_dir dir)
{
	uint8_t *s[32];
	size_t n = samples(dir, s, 32);
	struct tally t = { 0, 0, 0 };
	struct proto_opts o;

	proto_opts_default(&o);
	for (int utf8 = 0; utf8 < 2; utf8++) {
		o.utf8_titles = utf8;
		for (size_t i = 0; i < n; i++) {
			size_t len = wire_len(s[i]);

			T_EQ(run_one(dir, s[i], len, &o, &t), 0); /* the sample itself */
			for (size_t bit = 0; bit < len * 8; bit++) {
				s[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
				T_EQ(run_one(dir, s[i], len, &o, &t), 0);
				s[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			/* every byte set to the values parsers trip on */
			for (size_t b = 0; b < len; b++) {
				static const uint8_t vals[] = { 0x00, 0x7f, 0x80, 0xff, 0xc0, 0xe2 };
				uint8_t keep = s[i][b];

				for (size_t v = 0; v < sizeof(vals); v++) {
					s[i][b] = vals[v];
					T_EQ(run_one(dir, s[i], len, &o, &t), 0);
				}
				s[i][b] = keep;
			}
		}
	}
	/* the mutations must exercise every outcome, or this test proves nothing */
	T_ASSERT(t.accepted > 1000);
	T_ASSERT(t.refused > 1000);
	if (dir == PROTO_A2D) {
		T_ASSERT(t.dropped > 10);
	}
	for (size_t i = 0; i < n; i++) {
		free(s[i]);
	}
}

static void flips_a2d(void)
{
	flips(PROTO_A2D);
}

static void flips_d2a(void)
{
	flips(PROTO_D2A);
}

/* Truncating the body under a valid header must never decode: each prefix is refused. */
static void truncations(void)
{
	uint8_t *s[32];
	size_t n = samples(PROTO_A2D, s, 32);
	struct proto_opts o;

	proto_opts_default(&o);
	for (size_t i = 0; i < n; i++) {
		size_t len = wire_len(s[i]);
		struct proto_frame f;

		T_EQ(proto_check_hdr(PROTO_A2D, s[i], &o, &f, NULL), 0);
		for (size_t cut = 0; cut < f.body_len; cut++) {
			struct proto_frame short_f = f;
			struct proto_msg m;
			uint8_t *body = malloc(cut + 1);

			/* a caller that lied about the length: the bounded reader refuses */
			memcpy(body, s[i] + PROTO_HDR_LEN, cut);
			short_f.body_len = (uint32_t)cut;
			if (f.type != MSG_CLIPBOARD_DATA && f.type != MSG_WINDOW_DUMP) {
				T_EQ(proto_decode(PROTO_A2D, &short_f, body, &o, &m, NULL), -EPROTO);
			}
			free(body);
		}
		(void)len;
		free(s[i]);
	}
}

TEST_MAIN(TEST(flips_a2d), TEST(flips_d2a), TEST(truncations))

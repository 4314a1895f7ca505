/* test_proto.c: every rule of the decoder (each rejection path), the encoders, round trips. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qgui/proto.h"
#include "test.h"

static uint8_t body[PROTO_MAX_BODY + 64];

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void hdr(uint8_t h[12], uint32_t type, uint32_t window, uint32_t len)
{
	put32(h, type);
	put32(h + 4, window);
	put32(h + 8, len);
}

static struct proto_opts opts(uint32_t minor)
{
	struct proto_opts o;

	proto_opts_default(&o);
	o.version = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, minor);
	return o;
}

static int check(enum proto_dir dir, uint32_t minor, uint32_t type, uint32_t len, struct proto_frame *f)
{
	uint8_t h[12];
	struct proto_opts o = opts(minor);

	hdr(h, type, 7, len);
	return proto_check_hdr(dir, h, &o, f, NULL);
}

/* Decodes a body of words (A->D unless dir says otherwise) at protocol 1.8. */
static int decode_words(enum proto_dir dir, uint32_t type, const uint32_t *w, size_t n, struct proto_msg *m)
{
	struct proto_frame f;
	struct proto_opts o = opts(8);
	uint8_t h[12];
	int rc;

	hdr(h, type, 42, (uint32_t)(n * 4));
	rc = proto_check_hdr(dir, h, &o, &f, NULL);
	if (rc != 0) {
		return 100 + rc;
	}
	for (size_t i = 0; i < n; i++) {
		put32(body + 4 * i, w[i]);
	}
	return proto_decode(dir, &f, body, &o, m, NULL);
}

static const uint32_t a2d_fixed[][2] = {
	{ MSG_CREATE, 24 }, { MSG_DESTROY, 0 }, { MSG_MAP, 8 }, { MSG_UNMAP, 0 }, { MSG_CONFIGURE, 20 },
	{ MSG_SHMIMAGE, 16 }, { MSG_WMNAME, 128 }, { MSG_DOCK, 0 }, { MSG_WINDOW_HINTS, 36 },
	{ MSG_WINDOW_FLAGS, 8 }, { MSG_WMCLASS, 128 }, { MSG_CURSOR, 4 },
};
static const uint32_t d2a_fixed[][2] = {
	{ MSG_KEYPRESS, 20 }, { MSG_BUTTON, 20 }, { MSG_MOTION, 16 }, { MSG_CROSSING, 28 }, { MSG_FOCUS, 12 },
	{ MSG_DESTROY, 0 }, { MSG_MAP, 8 }, { MSG_CONFIGURE, 20 }, { MSG_CLOSE, 0 }, { MSG_CLIPBOARD_REQ, 0 },
	{ MSG_KEYMAP_NOTIFY, 32 }, { MSG_WINDOW_FLAGS, 8 }, { MSG_WINDOW_DUMP_ACK, 0 },
};

static void hdr_unknown_types(void)
{
	static const uint32_t bad[] = { 0, 1, MSG_MIN, MSG_MAX, 151, 0x7fffffff, 0xffffffff };
	struct proto_frame f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ(check(PROTO_A2D, 8, bad[i], 0, &f), -EPROTO);
		T_EQ(check(PROTO_D2A, 8, bad[i], 0, &f), -EPROTO);
		T_EQ(f.body_len, 0);
	}
}

static void hdr_wrong_direction(void)
{
	static const uint32_t d2a_only[] = { MSG_KEYPRESS, MSG_BUTTON, MSG_MOTION, MSG_CROSSING, MSG_FOCUS,
		MSG_RESIZE, MSG_CLOSE, MSG_EXECUTE, MSG_CLIPBOARD_REQ, MSG_KEYMAP_NOTIFY, MSG_WINDOW_DUMP_ACK };
	static const uint32_t a2d_only[] = { MSG_CREATE, MSG_UNMAP, MSG_SHMIMAGE, MSG_WMNAME, MSG_DOCK,
		MSG_WINDOW_HINTS, MSG_WMCLASS, MSG_WINDOW_DUMP, MSG_CURSOR, MSG_MFNDUMP, MSG_RESIZE, MSG_EXECUTE };
	struct proto_frame f;
	const char *why = NULL;
	uint8_t h[12];
	struct proto_opts o = opts(8);

	for (size_t i = 0; i < sizeof(d2a_only) / sizeof(d2a_only[0]); i++) {
		T_EQ(check(PROTO_A2D, 8, d2a_only[i], 0, &f), -EPROTO);
		T_EQ(check(PROTO_A2D, 8, d2a_only[i], 20, &f), -EPROTO);
	}
	for (size_t i = 0; i < sizeof(a2d_only) / sizeof(a2d_only[0]); i++) {
		T_EQ(check(PROTO_D2A, 8, a2d_only[i], 24, &f), -EPROTO);
	}
	/* MFNDUMP: refused with a message that says why */
	hdr(h, MSG_MFNDUMP, 1, 28);
	T_EQ(proto_check_hdr(PROTO_A2D, h, &o, &f, &why), -EPROTO);
	T_ASSERT(why != NULL && strstr(why, "dom0") != NULL);
}

static void hdr_fixed_lengths(void)
{
	struct proto_frame f;

	for (size_t i = 0; i < sizeof(a2d_fixed) / sizeof(a2d_fixed[0]); i++) {
		uint32_t t = a2d_fixed[i][0], len = a2d_fixed[i][1];

		T_EQ(check(PROTO_A2D, 8, t, len, &f), 0);
		T_EQ(f.body_len, len);
		T_EQ(f.type, t);
		T_EQ(f.window, 7);
		T_EQ(f.len_mismatch, 0);
		T_EQ(check(PROTO_A2D, 8, t, len + 1, &f), -EPROTO);
		T_EQ(check(PROTO_A2D, 6, t, len + 4, &f), -EPROTO);
		T_EQ(check(PROTO_A2D, 8, t, 0xffffffff, &f), -EPROTO);
		if (len) {
			T_EQ(check(PROTO_A2D, 8, t, len - 1, &f), -EPROTO);
		}
		/* below 1.6: a warning, and the type's own size is read */
		T_EQ(check(PROTO_A2D, 5, t, len + 4, &f), 0);
		T_EQ(f.len_mismatch, 1);
		T_EQ(f.body_len, len);
	}
	for (size_t i = 0; i < sizeof(d2a_fixed) / sizeof(d2a_fixed[0]); i++) {
		uint32_t t = d2a_fixed[i][0], len = d2a_fixed[i][1];

		T_EQ(check(PROTO_D2A, 8, t, len, &f), 0);
		T_EQ(f.body_len, len);
		T_EQ(check(PROTO_D2A, 8, t, len + 4, &f), -EPROTO);
	}
}

static void hdr_variable_lengths(void)
{
	struct proto_frame f;
	uint8_t h[12];
	struct proto_opts o = opts(1);

	/* WINDOW_DUMP: 16 + 4n, n <= 98304 */
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 15, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 0, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 16, &f), 0);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 17, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 18, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 20, &f), 0);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 16 + 4 * 98304, &f), 0);
	T_EQ(f.body_len, 16 + 4 * 98304);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 16 + 4 * 98305, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 8, MSG_WINDOW_DUMP, 0xfffffff0, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 5, MSG_WINDOW_DUMP, 15, &f), -EPROTO);
	/* CLIPBOARD_DATA from the agent: 256001 at 1.8, 65000 before */
	T_EQ(check(PROTO_A2D, 8, MSG_CLIPBOARD_DATA, 0, &f), 0);
	T_EQ(check(PROTO_A2D, 8, MSG_CLIPBOARD_DATA, 256001, &f), 0);
	T_EQ(f.body_len, 256001);
	T_EQ(check(PROTO_A2D, 8, MSG_CLIPBOARD_DATA, 256002, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 8, MSG_CLIPBOARD_DATA, 0xffffffff, &f), -EPROTO);
	T_EQ(check(PROTO_A2D, 7, MSG_CLIPBOARD_DATA, 65000, &f), 0);
	T_EQ(check(PROTO_A2D, 7, MSG_CLIPBOARD_DATA, 65001, &f), -EPROTO);
	/* from the daemon: at most 256000; before 1.2 the length is in the window field */
	T_EQ(check(PROTO_D2A, 8, MSG_CLIPBOARD_DATA, 256000, &f), 0);
	T_EQ(check(PROTO_D2A, 8, MSG_CLIPBOARD_DATA, 256001, &f), -EPROTO);
	hdr(h, MSG_CLIPBOARD_DATA, 300, 0);
	T_EQ(proto_check_hdr(PROTO_D2A, h, &o, &f, NULL), 0);
	T_EQ(f.body_len, 300);
	T_EQ(f.window, 0);
	hdr(h, MSG_CLIPBOARD_DATA, 65001, 0);
	T_EQ(proto_check_hdr(PROTO_D2A, h, &o, &f, NULL), -EPROTO);
}

static void create_rules(void)
{
	struct proto_msg m;
	uint32_t w[6] = { (uint32_t)-20000, 7000, 20000, 7000, 0x1234, 5 };

	T_EQ(decode_words(PROTO_A2D, MSG_CREATE, w, 6, &m), 0);
	T_EQ(m.window, 42);
	T_EQ(m.u.create.x, -16384);
	T_EQ(m.u.create.y, 6144);
	T_EQ(m.u.create.width, 16384);
	T_EQ(m.u.create.height, 6144);
	T_EQ(m.u.create.override_redirect, 1);
	w[0] = 10, w[1] = (uint32_t)-7000, w[2] = 0, w[3] = 0, w[5] = 0;
	T_EQ(decode_words(PROTO_A2D, MSG_CREATE, w, 6, &m), 0);
	T_EQ(m.u.create.x, 10);
	T_EQ(m.u.create.y, -6144);
	T_EQ(m.u.create.width, 0);
	T_EQ(m.u.create.override_redirect, 0);
	/* a negative size is a VERIFY failure: dropped, not fatal */
	w[2] = 0x80000000;
	T_EQ(decode_words(PROTO_A2D, MSG_CREATE, w, 6, &m), PROTO_DROP);
	T_EQ(m.u.create.width, 0);
	w[2] = 5, w[3] = 0xffffffff;
	T_EQ(decode_words(PROTO_A2D, MSG_CREATE, w, 6, &m), PROTO_DROP);
}

static void configure_rules(void)
{
	struct proto_msg m;
	uint32_t w[5] = { 16385, (uint32_t)-6145, 0xffffffff, 0x80000000, 1 };

	T_EQ(decode_words(PROTO_A2D, MSG_CONFIGURE, w, 5, &m), 0);
	T_EQ(m.u.configure.x, 16384);
	T_EQ(m.u.configure.y, -6144);
	T_EQ(m.u.configure.width, 16384);
	T_EQ(m.u.configure.height, 6144);
	T_EQ(m.u.configure.override_redirect, 1);
	w[2] = 0;
	T_EQ(decode_words(PROTO_A2D, MSG_CONFIGURE, w, 5, &m), PROTO_DROP);
	w[2] = 5, w[3] = 0;
	T_EQ(decode_words(PROTO_A2D, MSG_CONFIGURE, w, 5, &m), PROTO_DROP);
	T_EQ(decode_words(PROTO_D2A, MSG_CONFIGURE, w, 5, &m), PROTO_DROP);
	w[3] = 9;
	T_EQ(decode_words(PROTO_D2A, MSG_CONFIGURE, w, 5, &m), 0);
	T_EQ(m.u.configure.width, 5);
	T_EQ(m.u.configure.height, 9);
}

static void map_shmimage_rules(void)
{
	struct proto_msg m;
	uint32_t w[4] = { 99, 2, 0, 0 };

	T_EQ(decode_words(PROTO_A2D, MSG_MAP, w, 2, &m), 0);
	T_EQ(m.u.map.transient_for, 99);
	T_EQ(m.u.map.override_redirect, 1);
	w[0] = 1, w[1] = 2, w[2] = 3, w[3] = 4;
	T_EQ(decode_words(PROTO_A2D, MSG_SHMIMAGE, w, 4, &m), 0);
	T_EQ(m.u.shmimage.x, 1);
	T_EQ(m.u.shmimage.height, 4);
	for (int i = 0; i < 4; i++) {
		uint32_t v[4] = { 1, 2, 3, 4 };

		v[i] = (uint32_t)-1;
		T_EQ(decode_words(PROTO_A2D, MSG_SHMIMAGE, v, 4, &m), PROTO_DROP);
	}
}

static int decode_title(const char *raw, size_t n, bool utf8, char out[128])
{
	struct proto_frame f;
	struct proto_opts o = opts(8);
	struct proto_msg m;
	uint8_t h[12];
	int rc;

	o.utf8_titles = utf8;
	hdr(h, MSG_WMNAME, 1, 128);
	if (proto_check_hdr(PROTO_A2D, h, &o, &f, NULL) != 0) {
		return -1000;
	}
	memset(body, 0, 128);
	memcpy(body, raw, n);
	rc = proto_decode(PROTO_A2D, &f, body, &o, &m, NULL);
	strcpy(out, m.u.wmname.title);
	return rc;
}

static void wmname_rules(void)
{
	char t[128], raw[128], expect[128];

	T_EQ(decode_title("hello \x01\n\x7f\xff world", 17, false, t), 0);
	T_STR(t, "hello ____ world");
	/* no NUL in 128 bytes: cut at 127 */
	memset(raw, 'a', 128);
	T_EQ(decode_title(raw, 128, false, t), 0);
	T_EQ(strlen(t), 127);
	/* the agent's ellipsis becomes "..." when UTF-8 is off, stays with it on */
	memset(raw, 'b', 124);
	memcpy(raw + 124, "\xe2\x80\xa6", 3);
	raw[127] = 0;
	T_EQ(decode_title(raw, 128, false, t), 0);
	memset(expect, 'b', 124);
	strcpy(expect + 124, "...");
	T_STR(t, expect);
	T_EQ(decode_title(raw, 128, true, t), 0);
	T_MEM(t + 124, "\xe2\x80\xa6", 4);
	/* UTF-8: valid kept, invalid replaced byte by byte */
	T_EQ(decode_title("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, true, t), 0);
	T_STR(t, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	T_EQ(decode_title("caf\xc3\xa9", 5, false, t), 0);
	T_STR(t, "caf__");
	T_EQ(decode_title("\xc0\x80", 2, true, t), 0); /* overlong NUL */
	T_STR(t, "__");
	T_EQ(decode_title("\xe0\x80\xaf", 3, true, t), 0); /* overlong '/' */
	T_STR(t, "___");
	T_EQ(decode_title("\xed\xa0\x80", 3, true, t), 0); /* surrogate */
	T_STR(t, "___");
	T_EQ(decode_title("\xf4\x90\x80\x80", 4, true, t), 0); /* beyond U+10FFFF */
	T_STR(t, "____");
	T_EQ(decode_title("a\xe2\x80", 3, true, t), 0); /* truncated */
	T_STR(t, "a__");
	T_EQ(decode_title("\xe2\x80\x8b\x1b", 4, true, t), 0); /* a zero-width space is kept, ESC not */
	T_STR(t, "\xe2\x80\x8b_");
	/* marks that reorder text (and C1 controls, line separators) are replaced like control bytes */
	{
		static const char *const marks[] = {
			"\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae", /* U+202A..E */
			"\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9", /* U+2066..9 isolates */
			"\xe2\x80\x8e", "\xe2\x80\x8f", "\xd8\x9c", /* LRM, RLM, ALM */
			"\xc2\x85", "\xc2\x9b", "\xe2\x80\xa8", "\xe2\x80\xa9", /* NEL, CSI, LS, PS */
		};

		for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
			char in[32], want[32];
			size_t n = strlen(marks[i]);

			snprintf(in, sizeof(in), "[a%sb]", marks[i]);
			snprintf(want, sizeof(want), "[a%.*sb]", (int)n, "____");
			T_EQ(decode_title(in, strlen(in), true, t), 0);
			T_STR(t, want);
			T_EQ(decode_title(in, strlen(in), false, t), 0);
			T_STR(t, want);
		}
	}
	/* "exe.\u202Efdp" would read "exe.pdf" backwards; the override is gone, the neighbours stay */
	{
		static const char spoof[] = "\xd7\x90 exe.\xe2\x80\xae" "fdp";

		T_EQ(decode_title(spoof, strlen(spoof), true, t), 0);
		T_STR(t, "\xd7\x90 exe.___fdp");
	}
}

static void wmclass_rules(void)
{
	struct proto_frame f;
	struct proto_opts o = opts(8);
	struct proto_msg m;
	uint8_t h[12];
	char expect[64];

	hdr(h, MSG_WMCLASS, 1, 128);
	T_EQ(proto_check_hdr(PROTO_A2D, h, &o, &f, NULL), 0);
	memset(body, 'c', 64); /* no NUL: cut at 63 */
	memcpy(body + 64, "na\tme\xc3\xa9", 8);
	memset(body + 72, 0, 56);
	o.utf8_titles = true; /* never applies to classes */
	T_EQ(proto_decode(PROTO_A2D, &f, body, &o, &m, NULL), 0);
	memset(expect, 'c', 63);
	expect[63] = 0;
	T_STR(m.u.wmclass.res_class, expect);
	T_STR(m.u.wmclass.res_name, "na_me__");
}

static void hints_rules(void)
{
	struct proto_msg m;
	uint32_t all = QGUI_USPosition | QGUI_USSize | QGUI_PPosition | QGUI_PSize | QGUI_PMinSize | QGUI_PMaxSize |
		       QGUI_PResizeInc | QGUI_PAspect | QGUI_PBaseSize | QGUI_PWinGravity;
	uint32_t w[9] = { all, 10, 20, 300, 400, 5, 6, 7, 8 };

	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, PROTO_HINTS_ALLOWED);
	T_EQ(m.u.hints.min_width, 10);
	T_EQ(m.u.hints.max_height, 400);
	T_EQ(m.u.hints.width_inc, 5);
	T_EQ(m.u.hints.base_height, 8);
	/* each flag is dropped (and its values zeroed) when its values are out of range */
	w[1] = 16385;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, PROTO_HINTS_ALLOWED & ~QGUI_PMinSize);
	T_EQ(m.u.hints.min_width, 0);
	w[1] = 10, w[3] = 0;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, PROTO_HINTS_ALLOWED & ~QGUI_PMaxSize);
	w[3] = 300, w[4] = 6145;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, PROTO_HINTS_ALLOWED & ~QGUI_PMaxSize);
	T_EQ(m.u.hints.max_width, 0);
	w[4] = 400, w[5] = 16384;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, PROTO_HINTS_ALLOWED & ~QGUI_PResizeInc);
	w[5] = 5, w[8] = 6145;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, PROTO_HINTS_ALLOWED & ~QGUI_PBaseSize);
	T_EQ(m.u.hints.base_width, 0);
	/* values of flags not given are not passed on */
	w[0] = QGUI_PPosition;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_HINTS, w, 9, &m), 0);
	T_EQ_U(m.u.hints.flags, QGUI_PPosition);
	T_EQ(m.u.hints.min_width, 0);
	T_EQ(m.u.hints.max_width, 0);
}

static void flags_rules(void)
{
	struct proto_msg m;
	uint32_t w[2] = { 0xffffff00 | WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_MINIMIZE, 0 };

	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_FLAGS, w, 2, &m), 0);
	T_EQ_U(m.u.flags.set, WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_MINIMIZE);
	w[0] = 0, w[1] = 0xffffffff;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_FLAGS, w, 2, &m), 0);
	/* un-minimising goes through MSG_MAP: MINIMIZE cannot be unset */
	T_EQ_U(m.u.flags.unset, WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_DEMANDS_ATTENTION);
	w[0] = WINDOW_FLAG_DEMANDS_ATTENTION, w[1] = WINDOW_FLAG_DEMANDS_ATTENTION;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_FLAGS, w, 2, &m), PROTO_DROP);
	w[0] = 0x10, w[1] = 0x10; /* overlap in bits nobody uses is still refused, as upstream */
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_FLAGS, w, 2, &m), PROTO_DROP);
}

static void cursor_rules(void)
{
	static const uint32_t good[] = { 0, 0x100, 0x102, 0x198, 0x199 };
	static const uint32_t bad[] = { 1, 0xff, 0x19a, 0x1ff, 0x1000, 0x1100, 0xffffffff };
	struct proto_msg m;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		T_EQ(decode_words(PROTO_A2D, MSG_CURSOR, &good[i], 1, &m), 0);
		T_EQ(m.u.cursor.cursor, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ(decode_words(PROTO_A2D, MSG_CURSOR, &bad[i], 1, &m), PROTO_DROP);
	}
}

static void dump_rules(void)
{
	struct proto_msg m;
	uint32_t w[4 + 4] = { 0, 64, 64, 32, 11, 12, 13, 14 };

	/* 64x64x4 = 16 KiB = 4 pages */
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 8, &m), 0);
	T_EQ(m.u.dump.width, 64);
	T_EQ(m.u.dump.nrefs, 4);
	T_EQ(proto_dump_ref(&m.u.dump, 0), 11);
	T_EQ(proto_dump_ref(&m.u.dump, 3), 14);
	T_EQ(proto_dump_ref(&m.u.dump, 4), 0);
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 7, &m), -EPROTO); /* 3 pages: too few */
	w[1] = 65;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 8, &m), -EPROTO);
	w[1] = 64, w[0] = 1;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 8, &m), -EPROTO); /* unknown dump type */
	w[0] = 0, w[1] = 16385, w[2] = 0;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 4, &m), -EPROTO);
	w[1] = 0, w[2] = 6145;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 4, &m), -EPROTO);
	w[1] = 0, w[2] = 0;
	T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, w, 4, &m), 0); /* empty image, no pages */
	T_EQ(m.u.dump.nrefs, 0);
	/* the largest window: 98304 pages, exactly enough */
	{
		uint32_t *big = calloc(4 + 98304, 4);

		T_ASSERT(big != NULL);
		big[1] = 16384, big[2] = 6144, big[3] = 32;
		T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, big, 4 + 98304, &m), 0);
		T_EQ(m.u.dump.nrefs, 98304);
		T_EQ(decode_words(PROTO_A2D, MSG_WINDOW_DUMP, big, 4 + 98303, &m), -EPROTO);
		free(big);
	}
}

static void clipboard_rules(void)
{
	struct proto_frame f;
	struct proto_opts o = opts(8);
	struct proto_msg m;
	uint8_t h[12];

	o.clipboard_max = 1000;
	hdr(h, MSG_CLIPBOARD_DATA, 5, 1000);
	T_EQ(proto_check_hdr(PROTO_A2D, h, &o, &f, NULL), 0);
	memset(body, 'x', 1001);
	T_EQ(proto_decode(PROTO_A2D, &f, body, &o, &m, NULL), 0);
	T_EQ(m.u.clipboard.len, 1000);
	T_EQ(m.u.clipboard.oversized, 0);
	T_ASSERT(m.u.clipboard.data == body);
	hdr(h, MSG_CLIPBOARD_DATA, 5, 1001);
	T_EQ(proto_check_hdr(PROTO_A2D, h, &o, &f, NULL), 0);
	T_EQ(proto_decode(PROTO_A2D, &f, body, &o, &m, NULL), 0);
	T_EQ(m.u.clipboard.oversized, 1);
	T_ASSERT(m.u.clipboard.data == NULL);
	hdr(h, MSG_CLIPBOARD_DATA, 5, 0);
	T_EQ(proto_check_hdr(PROTO_A2D, h, &o, &f, NULL), 0);
	T_EQ(proto_decode(PROTO_A2D, &f, body, &o, &m, NULL), 0);
	T_EQ(m.u.clipboard.len, 0);
	T_ASSERT(m.u.clipboard.data == NULL);
}

static void d2a_event_types(void)
{
	struct proto_msg m;
	uint32_t w[7] = { 0, 1, 2, 3, 4, 5, 6 };
	static const struct {
		uint32_t msg, n, lo, hi;
	} ev[] = {
		{ MSG_KEYPRESS, 5, QGUI_KeyPress, QGUI_KeyRelease },
		{ MSG_BUTTON, 5, QGUI_ButtonPress, QGUI_ButtonRelease },
		{ MSG_CROSSING, 7, QGUI_EnterNotify, QGUI_LeaveNotify },
		{ MSG_FOCUS, 3, QGUI_FocusIn, QGUI_FocusOut },
	};

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		w[0] = ev[i].lo;
		T_EQ(decode_words(PROTO_D2A, ev[i].msg, w, ev[i].n, &m), 0);
		w[0] = ev[i].hi;
		T_EQ(decode_words(PROTO_D2A, ev[i].msg, w, ev[i].n, &m), 0);
		w[0] = ev[i].lo - 1;
		T_EQ(decode_words(PROTO_D2A, ev[i].msg, w, ev[i].n, &m), -EPROTO);
		w[0] = ev[i].hi + 1;
		T_EQ(decode_words(PROTO_D2A, ev[i].msg, w, ev[i].n, &m), -EPROTO);
	}
	w[0] = QGUI_KeyRelease, w[1] = (uint32_t)-5;
	T_EQ(decode_words(PROTO_D2A, MSG_KEYPRESS, w, 5, &m), 0);
	T_EQ(m.u.key.type, QGUI_KeyRelease);
	T_EQ(m.u.key.x, -5);
	T_EQ(m.u.key.keycode, 4);
	w[0] = 1, w[1] = 1;
	T_EQ(decode_words(PROTO_D2A, MSG_WINDOW_FLAGS, w, 2, &m), PROTO_DROP);
}

/* Encodes m, checks the bytes' header, decodes them back and compares the decoded message. */
static void roundtrip_one(enum proto_dir dir, const struct proto_msg *m)
{
	static uint8_t wire[PROTO_HDR_LEN + PROTO_MAX_BODY];
	struct proto_opts o = opts(8);
	struct proto_frame f;
	struct proto_msg back;
	size_t n = proto_encode(m, o.version, wire);

	T_EQ(n, proto_encoded_len(m));
	T_EQ(proto_check_hdr(dir, wire, &o, &f, NULL), 0);
	T_EQ(f.type, m->type);
	T_EQ(f.body_len, n - PROTO_HDR_LEN);
	T_EQ(proto_decode(dir, &f, wire + PROTO_HDR_LEN, &o, &back, NULL), 0);
	T_EQ(back.window, m->window);
	if (m->type == MSG_WINDOW_DUMP) {
		T_EQ(back.u.dump.nrefs, m->u.dump.nrefs);
		T_MEM(back.u.dump.refs, m->u.dump.refs, m->u.dump.nrefs * 4);
		T_EQ(back.u.dump.width, m->u.dump.width);
	} else if (m->type == MSG_CLIPBOARD_DATA) {
		T_EQ(back.u.clipboard.len, m->u.clipboard.len);
		T_MEM(back.u.clipboard.data, m->u.clipboard.data, m->u.clipboard.len);
	} else {
		T_MEM(&back.u, &m->u, sizeof(m->u));
	}
}

static void roundtrip(void)
{
	static const uint8_t refs[8] = { 1, 0, 0, 0, 2, 0, 0, 0 };
	struct proto_msg a2d[13], d2a[14];
	size_t na = 0, nd = 0;

	memset(a2d, 0, sizeof(a2d));
	memset(d2a, 0, sizeof(d2a));
	a2d[na++] = (struct proto_msg){ MSG_CREATE, 5, .u.create = { -3, 4, 100, 200, true } };
	a2d[na++] = (struct proto_msg){ MSG_DESTROY, 5, .u = { { 0 } } };
	a2d[na++] = (struct proto_msg){ MSG_MAP, 5, .u.map = { 9, true } };
	a2d[na++] = (struct proto_msg){ MSG_UNMAP, 5, .u = { { 0 } } };
	a2d[na++] = (struct proto_msg){ MSG_CONFIGURE, 5, .u.configure = { 1, 2, 3, 4, false } };
	a2d[na++] = (struct proto_msg){ MSG_SHMIMAGE, 5, .u.shmimage = { 1, 2, 3, 4 } };
	a2d[na++] = (struct proto_msg){ MSG_WMNAME, 5, .u.wmname = { "a title" } };
	a2d[na++] = (struct proto_msg){ MSG_WMCLASS, 5, .u.wmclass = { "Class", "name" } };
	a2d[na++] = (struct proto_msg){ MSG_WINDOW_HINTS, 5, .u.hints = { QGUI_PMinSize, 1, 2, 0, 0, 0, 0, 0, 0 } };
	a2d[na++] = (struct proto_msg){ MSG_WINDOW_FLAGS, 5, .u.flags = { WINDOW_FLAG_FULLSCREEN, 0 } };
	a2d[na++] = (struct proto_msg){ MSG_CURSOR, 5, .u.cursor = { 0x144 } };
	a2d[na++] = (struct proto_msg){ MSG_WINDOW_DUMP, 5, .u.dump = { 32, 32, 32, 2, refs } };
	a2d[na++] = (struct proto_msg){ MSG_CLIPBOARD_DATA, 0, .u.clipboard = { (const uint8_t *)"clip", 4, false } };
	d2a[nd++] = (struct proto_msg){ MSG_KEYPRESS, 5, .u.key = { QGUI_KeyPress, -1, 2, 0x11, 38 } };
	d2a[nd++] = (struct proto_msg){ MSG_BUTTON, 5, .u.button = { QGUI_ButtonRelease, 3, 4, 0, 1 } };
	d2a[nd++] = (struct proto_msg){ MSG_MOTION, 5, .u.motion = { 5, 6, 0x100, 0 } };
	d2a[nd++] = (struct proto_msg){ MSG_CROSSING, 5, .u.crossing = { QGUI_EnterNotify, 1, 2, 3, 0, 3, 1 } };
	d2a[nd++] = (struct proto_msg){ MSG_FOCUS, 5, .u.focus = { QGUI_FocusIn, 0, 3 } };
	d2a[nd++] = (struct proto_msg){ MSG_DESTROY, 5, .u = { { 0 } } };
	d2a[nd++] = (struct proto_msg){ MSG_MAP, 5, .u.map = { 0, false } };
	d2a[nd++] = (struct proto_msg){ MSG_CONFIGURE, 5, .u.configure = { 10, 20, 30, 40, false } };
	d2a[nd++] = (struct proto_msg){ MSG_CLOSE, 5, .u = { { 0 } } };
	d2a[nd++] = (struct proto_msg){ MSG_CLIPBOARD_REQ, 5, .u = { { 0 } } };
	d2a[nd++] = (struct proto_msg){ MSG_CLIPBOARD_DATA, 5, .u.clipboard = { (const uint8_t *)"x", 1, false } };
	d2a[nd++] = (struct proto_msg){ MSG_KEYMAP_NOTIFY, 0, .u.keymap = { { 1, 2, 3 } } };
	d2a[nd++] = (struct proto_msg){ MSG_WINDOW_FLAGS, 5, .u.flags = { 0, WINDOW_FLAG_MINIMIZE } };
	d2a[nd++] = (struct proto_msg){ MSG_WINDOW_DUMP_ACK, 5, .u = { { 0 } } };
	for (size_t i = 0; i < na && test_ok(); i++) {
		roundtrip_one(PROTO_A2D, &a2d[i]);
	}
	for (size_t i = 0; i < nd && test_ok(); i++) {
		roundtrip_one(PROTO_D2A, &d2a[i]);
	}
}

static void encode_bytes(void)
{
	uint8_t wire[64];
	struct proto_msg m = { MSG_CREATE, 0x01020304, .u.create = { -1, 2, 3, 4, true } };
	static const uint8_t expect[36] = {
		0x82, 0, 0, 0, 4, 3, 2, 1, 24, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	};
	struct proto_msg c = { MSG_CLIPBOARD_DATA, 9, .u.clipboard = { (const uint8_t *)"abc", 3, false } };
	struct msg_xconf x;

	T_EQ(proto_encode(&m, QUBES_GUID_PROTOCOL_VERSION, wire), 36);
	T_MEM(wire, expect, 36);
	/* before 1.2 the clipboard length goes in the window field */
	T_EQ(proto_encode(&c, QUBES_GUID_MAKE_PROTOCOL_VERSION(1, 1), wire), 15);
	T_EQ(wire[4], 3);
	T_EQ(wire[8], 3);
	T_EQ(proto_encode(&c, QUBES_GUID_PROTOCOL_VERSION, wire), 15);
	T_EQ(wire[4], 9);
	T_MEM(wire + 12, "abc", 3);
	proto_encode_version(0x00010008, wire);
	T_MEM(wire, "\x08\x00\x01\x00", 4);
	T_EQ(proto_decode_version(wire), 0x00010008);
	proto_xconf_for_screen(1366, 768, 24, &x);
	T_EQ(x.w, 1368);
	T_EQ(x.h, 768);
	T_EQ(x.depth, 24);
	T_EQ(x.mem, 1368 * 768 * 4 / 1024 + 1);
	proto_encode_xconf(&x, wire);
	T_MEM(wire, "\x58\x05\x00\x00\x00\x03\x00\x00\x18\x00\x00\x00", 12);
	T_STR(proto_type_name(MSG_WINDOW_DUMP_ACK), "MSG_WINDOW_DUMP_ACK");
	T_STR(proto_type_name(7), "unknown");
}

static void trailing_and_short(void)
{
	/* a frame whose body_len disagrees with the type can only come from a caller bug, but the
	   decoder must still refuse it rather than read past the end */
	struct proto_frame f = { MSG_CURSOR, 1, 8, false };
	struct proto_opts o = opts(8);
	struct proto_msg m;
	const char *why = NULL;

	memset(body, 0, 8);
	T_EQ(proto_decode(PROTO_A2D, &f, body, &o, &m, &why), -EPROTO);
	T_ASSERT(why != NULL);
	f.body_len = 2;
	T_EQ(proto_decode(PROTO_A2D, &f, body, &o, &m, &why), -EPROTO);
	f = (struct proto_frame){ MSG_KEYMAP_NOTIFY, 1, 31, false };
	T_EQ(proto_decode(PROTO_D2A, &f, body, &o, &m, &why), -EPROTO);
}

TEST_MAIN(TEST(hdr_unknown_types), TEST(hdr_wrong_direction), TEST(hdr_fixed_lengths), TEST(hdr_variable_lengths),
		TEST(create_rules), TEST(configure_rules), TEST(map_shmimage_rules), TEST(wmname_rules),
		TEST(wmclass_rules), TEST(hints_rules), TEST(flags_rules), TEST(cursor_rules), TEST(dump_rules),
		TEST(clipboard_rules), TEST(d2a_event_types), TEST(roundtrip), TEST(encode_bytes),
		TEST(trailing_and_short))

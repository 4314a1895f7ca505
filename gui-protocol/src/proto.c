/* proto.c: strict decoder of untrusted GUI protocol messages, and the encoders. */
#include <errno.h>
#include <string.h>

#include "qgui/proto.h"

/* ---------------------------------------------------------------- bounded reader */

/* A cursor over untrusted bytes: getters never read past the end. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* 0, or -EPROTO with *out = 0 when fewer than 4 bytes are left. */
static int rd_u32(struct rd *r, uint32_t *out)
{
	if (r->left < 4) {
		*out = 0;
		return -EPROTO;
	}
	*out = le32(r->p);
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int rd_i32(struct rd *r, int32_t *out)
{
	uint32_t v;
	int rc = rd_u32(r, &v);

	*out = (int32_t)v;
	return rc;
}

static int rd_bytes(struct rd *r, void *out, size_t n)
{
	if (r->left < n) {
		memset(out, 0, n);
		return -EPROTO;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

/* -EPROTO when bytes are left over. */
static int rd_done(const struct rd *r)
{
	return r->left == 0 ? 0 : -EPROTO;
}

/* ---------------------------------------------------------------- tables */

#define VAR_LEN UINT32_MAX

/* Body size of each type in each direction; 0 in .ok means the type may not travel that way. */
struct type_rule {
	bool a2d, d2a;
	uint32_t len; /* exact body size, or VAR_LEN */
	const char *name;
};

static const struct type_rule rules[MSG_MAX - MSG_MIN] = {
	[MSG_KEYPRESS - MSG_MIN] = { false, true, sizeof(struct msg_keypress), "MSG_KEYPRESS" },
	[MSG_BUTTON - MSG_MIN] = { false, true, sizeof(struct msg_button), "MSG_BUTTON" },
	[MSG_MOTION - MSG_MIN] = { false, true, sizeof(struct msg_motion), "MSG_MOTION" },
	[MSG_CROSSING - MSG_MIN] = { false, true, sizeof(struct msg_crossing), "MSG_CROSSING" },
	[MSG_FOCUS - MSG_MIN] = { false, true, sizeof(struct msg_focus), "MSG_FOCUS" },
	[MSG_RESIZE - MSG_MIN] = { false, false, sizeof(struct msg_resize), "MSG_RESIZE" },
	[MSG_CREATE - MSG_MIN] = { true, false, sizeof(struct msg_create), "MSG_CREATE" },
	[MSG_DESTROY - MSG_MIN] = { true, true, 0, "MSG_DESTROY" },
	[MSG_MAP - MSG_MIN] = { true, true, sizeof(struct msg_map_info), "MSG_MAP" },
	[MSG_UNMAP - MSG_MIN] = { true, false, 0, "MSG_UNMAP" },
	[MSG_CONFIGURE - MSG_MIN] = { true, true, sizeof(struct msg_configure), "MSG_CONFIGURE" },
	[MSG_MFNDUMP - MSG_MIN] = { false, false, VAR_LEN, "MSG_MFNDUMP" },
	[MSG_SHMIMAGE - MSG_MIN] = { true, false, sizeof(struct msg_shmimage), "MSG_SHMIMAGE" },
	[MSG_CLOSE - MSG_MIN] = { false, true, 0, "MSG_CLOSE" },
	[MSG_EXECUTE - MSG_MIN] = { false, false, sizeof(struct msg_execute), "MSG_EXECUTE" },
	[MSG_CLIPBOARD_REQ - MSG_MIN] = { false, true, 0, "MSG_CLIPBOARD_REQ" },
	[MSG_CLIPBOARD_DATA - MSG_MIN] = { true, true, VAR_LEN, "MSG_CLIPBOARD_DATA" },
	[MSG_WMNAME - MSG_MIN] = { true, false, sizeof(struct msg_wmname), "MSG_WMNAME" },
	[MSG_KEYMAP_NOTIFY - MSG_MIN] = { false, true, sizeof(struct msg_keymap_notify), "MSG_KEYMAP_NOTIFY" },
	[MSG_DOCK - MSG_MIN] = { true, false, 0, "MSG_DOCK" },
	[MSG_WINDOW_HINTS - MSG_MIN] = { true, false, sizeof(struct msg_window_hints), "MSG_WINDOW_HINTS" },
	[MSG_WINDOW_FLAGS - MSG_MIN] = { true, true, sizeof(struct msg_window_flags), "MSG_WINDOW_FLAGS" },
	[MSG_WMCLASS - MSG_MIN] = { true, false, sizeof(struct msg_wmclass), "MSG_WMCLASS" },
	[MSG_WINDOW_DUMP - MSG_MIN] = { true, false, VAR_LEN, "MSG_WINDOW_DUMP" },
	[MSG_CURSOR - MSG_MIN] = { true, false, sizeof(struct msg_cursor), "MSG_CURSOR" },
	[MSG_WINDOW_DUMP_ACK - MSG_MIN] = { false, true, 0, "MSG_WINDOW_DUMP_ACK" },
};

static const struct type_rule *rule_for(uint32_t type)
{
	if (type <= MSG_MIN || type >= MSG_MAX) {
		return NULL;
	}
	return &rules[type - MSG_MIN];
}

const char *proto_type_name(uint32_t type)
{
	const struct type_rule *r = rule_for(type);

	return r ? r->name : "unknown";
}

void proto_opts_default(struct proto_opts *o)
{
	o->version = QUBES_GUID_PROTOCOL_VERSION;
	o->clipboard_max = DEFAULT_CLIPBOARD_BUFFER_SIZE;
	o->utf8_titles = false;
}

/* ---------------------------------------------------------------- header */

static int fail(const char **why, const char *text)
{
	if (why) {
		*why = text;
	}
	return -EPROTO;
}

int proto_check_hdr(enum proto_dir dir, const uint8_t hdr[PROTO_HDR_LEN], const struct proto_opts *o,
		struct proto_frame *out, const char **why)
{
	uint32_t type = le32(hdr), window = le32(hdr + 4), untrusted_len = le32(hdr + 8);
	const struct type_rule *r = rule_for(type);

	memset(out, 0, sizeof(*out));
	if (why) {
		*why = NULL;
	}
	if (r == NULL) {
		return fail(why, "unknown message type");
	}
	if (dir == PROTO_A2D && type == MSG_MFNDUMP) {
		/* MFN dumps need foreign-page mapping that only dom0 has */
		return fail(why, "MSG_MFNDUMP is accepted only in dom0; please upgrade the agent");
	}
	if (!(dir == PROTO_A2D ? r->a2d : r->d2a)) {
		return fail(why, "message type not allowed in this direction");
	}

	if (type == MSG_CLIPBOARD_DATA) {
		if (dir == PROTO_D2A && o->version < QUBES_GUID_MIN_CLIPBOARD_DATA_LEN_IN_LEN) {
			/* before 1.2 the daemon put the length in the window field */
			untrusted_len = window;
			window = 0;
		}
		/* a hard maximum that stops a huge allocation or read */
		if (o->version < QUBES_GUID_MIN_CLIPBOARD_4X && untrusted_len > MAX_CLIPBOARD_SIZE) {
			return fail(why, "clipboard data over 65000 bytes before protocol 1.8");
		}
		if (untrusted_len > (dir == PROTO_A2D ? MAX_CLIPBOARD_BUFFER_SIZE + 1 : MAX_CLIPBOARD_BUFFER_SIZE)) {
			return fail(why, "clipboard data over the protocol maximum");
		}
		out->body_len = untrusted_len;
	} else if (type == MSG_WINDOW_DUMP) {
		/* header, then whole references, no more than a maximal window needs */
		if (untrusted_len < MSG_WINDOW_DUMP_HDR_LEN || (untrusted_len - MSG_WINDOW_DUMP_HDR_LEN) % 4 != 0 ||
				untrusted_len - MSG_WINDOW_DUMP_HDR_LEN > MAX_GRANT_REFS_COUNT * SIZEOF_GRANT_REF) {
			return fail(why, "bad MSG_WINDOW_DUMP length");
		}
		out->body_len = untrusted_len;
	} else if (untrusted_len != r->len) {
		if (o->version >= QUBES_GUID_MIN_FATAL_LENGTH_VERSION) {
			return fail(why, "message length does not match its type");
		}
		/* before 1.6 a wrong length is only a warning: read the type's size, as upstream */
		out->len_mismatch = true;
		out->body_len = r->len;
	} else {
		out->body_len = r->len;
	}
	out->type = type;
	out->window = window;
	return 0;
}

/* ---------------------------------------------------------------- bodies */

static int32_t clamp_i32(int32_t v, int32_t lim)
{
	return v < -lim ? -lim : v > lim ? lim : v;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

uint32_t proto_dump_ref(const struct proto_dump *d, uint32_t i)
{
	if (i >= d->nrefs) {
		return 0;
	}
	return le32(d->refs + (size_t)i * 4);
}

/* Length of the strictly valid UTF-8 sequence at s (n bytes available), or 0; *out gets its code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *out)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80) {
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0; /* continuation byte, overlong lead (c0, c1) or beyond U+10FFFF (f5..) */
	}
	if (len > n) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
			(cp >= 0xd800 && cp <= 0xdfff)) {
		return 0; /* overlong, beyond Unicode, or a surrogate */
	}
	*out = cp;
	return len;
}

/*
 * Code points a title may not show although they are valid UTF-8: C1 controls, line and
 * paragraph separators, and the invisible marks that reorder text (bidi embeddings,
 * overrides and isolates, LRM/RLM, the Arabic letter mark), so that no title can make
 * itself read differently from the bytes it starts with.
 */
static bool title_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f || cp == 0x2028 ||
	       cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void proto_sanitize_title(const char in[128], bool utf8, char out[128])
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strnlen(in, 127), i = 0;

	memcpy(out, in, n);
	out[n] = '\0';
	if (!utf8 && n >= 3 && memcmp(out + n - 3, "\xe2\x80\xa6", 3) == 0) {
		memcpy(out + n - 3, "...", 3); /* the agent's "…" for long titles */
	}
	s = (const unsigned char *)out;
	while (i < n) {
		uint32_t cp = 0;
		size_t len = utf8 ? utf8_seq(s + i, n - i, &cp) : 1;

		if (len > 1 && title_control(cp)) {
			memset(out + i, '_', len); /* replaced like a control byte, one '_' per byte */
			i += len;
			continue;
		}
		if (len > 1) {
			i += len;
			continue;
		}
		if (s[i] < 0x20 || s[i] > 0x7e) {
			out[i] = '_';
		}
		i++;
	}
}

static void sanitize_ascii(const char *in, size_t size, char *out)
{
	size_t n = strnlen(in, size - 1);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '_';
	}
	out[n] = '\0';
}

static int drop(const char **why, const char *text)
{
	if (why) {
		*why = text;
	}
	return PROTO_DROP;
}

static void filter_hints(const uint32_t v[9], struct proto_hints *h)
{
	uint32_t f = v[0] & PROTO_HINTS_ALLOWED;

	memset(h, 0, sizeof(*h));
	if ((f & QGUI_PMinSize) && v[1] <= MAX_WINDOW_WIDTH && v[2] <= MAX_WINDOW_HEIGHT) {
		h->min_width = v[1];
		h->min_height = v[2];
	} else {
		f &= ~QGUI_PMinSize;
	}
	if ((f & QGUI_PMaxSize) && v[3] > 0 && v[3] <= MAX_WINDOW_WIDTH && v[4] > 0 && v[4] <= MAX_WINDOW_HEIGHT) {
		h->max_width = v[3];
		h->max_height = v[4];
	} else {
		f &= ~QGUI_PMaxSize;
	}
	if ((f & QGUI_PResizeInc) && v[5] < MAX_WINDOW_WIDTH && v[6] < MAX_WINDOW_HEIGHT) {
		h->width_inc = v[5];
		h->height_inc = v[6];
	} else {
		f &= ~QGUI_PResizeInc;
	}
	if ((f & QGUI_PBaseSize) && v[7] <= MAX_WINDOW_WIDTH && v[8] <= MAX_WINDOW_HEIGHT) {
		h->base_width = v[7];
		h->base_height = v[8];
	} else {
		f &= ~QGUI_PBaseSize;
	}
	h->flags = f;
}

static int decode_geometry(struct rd *r, bool configure, struct proto_msg *out, const char **why)
{
	int32_t untrusted_x, untrusted_y;
	uint32_t untrusted_w, untrusted_h, untrusted_or, w, h;

	if (rd_i32(r, &untrusted_x) || rd_i32(r, &untrusted_y) || rd_u32(r, &untrusted_w) ||
			rd_u32(r, &untrusted_h)) {
		return fail(why, "short body");
	}
	if (!configure && rd_u32(r, &untrusted_or)) { /* CREATE's parent, ignored */
		return fail(why, "short body");
	}
	if (rd_u32(r, &untrusted_or)) {
		return fail(why, "short body");
	}
	if (!configure && ((int32_t)untrusted_w < 0 || (int32_t)untrusted_h < 0)) {
		return drop(why, "negative window size");
	}
	w = min_u32(untrusted_w, MAX_WINDOW_WIDTH);
	h = min_u32(untrusted_h, MAX_WINDOW_HEIGHT);
	if (configure && (w == 0 || h == 0)) {
		return drop(why, "zero window size");
	}
	if (configure) {
		out->u.configure = (struct proto_configure){ clamp_i32(untrusted_x, MAX_WINDOW_WIDTH),
			clamp_i32(untrusted_y, MAX_WINDOW_HEIGHT), w, h, untrusted_or != 0 };
	} else {
		out->u.create = (struct proto_create){ clamp_i32(untrusted_x, MAX_WINDOW_WIDTH),
			clamp_i32(untrusted_y, MAX_WINDOW_HEIGHT), w, h, untrusted_or != 0 };
	}
	return 0;
}

static int decode_dump(struct rd *r, struct proto_msg *out, const char **why)
{
	uint32_t untrusted_type, untrusted_w, untrusted_h, untrusted_bpp;
	size_t nrefs;

	if (rd_u32(r, &untrusted_type) || rd_u32(r, &untrusted_w) || rd_u32(r, &untrusted_h) ||
			rd_u32(r, &untrusted_bpp)) {
		return fail(why, "short body");
	}
	if (untrusted_type != WINDOW_DUMP_TYPE_GRANT_REFS) {
		return fail(why, "unknown window dump type");
	}
	if (untrusted_w > MAX_WINDOW_WIDTH || untrusted_h > MAX_WINDOW_HEIGHT) {
		return fail(why, "window dump too large");
	}
	nrefs = r->left / SIZEOF_GRANT_REF;
	if (r->left % SIZEOF_GRANT_REF != 0 || nrefs > MAX_GRANT_REFS_COUNT) {
		return fail(why, "bad window dump reference list");
	}
	/* the pages must hold the whole image: w*h*4 fits in 64 bits after the checks above */
	if ((uint64_t)nrefs * XC_PAGE_SIZE_BYTES < (uint64_t)untrusted_w * untrusted_h * 4) {
		return fail(why, "window dump has too few pages for its size");
	}
	out->u.dump = (struct proto_dump){ untrusted_w, untrusted_h, untrusted_bpp, (uint32_t)nrefs,
		nrefs ? r->p : NULL };
	r->p += r->left;
	r->left = 0;
	return 0;
}

static int decode_a2d(struct rd *r, const struct proto_frame *f, const struct proto_opts *o,
		struct proto_msg *out, const char **why)
{
	switch (f->type) {
	case MSG_CREATE:
		return decode_geometry(r, false, out, why);
	case MSG_CONFIGURE:
		return decode_geometry(r, true, out, why);
	case MSG_MAP: {
		uint32_t untrusted_tf, untrusted_or;

		if (rd_u32(r, &untrusted_tf) || rd_u32(r, &untrusted_or)) {
			return fail(why, "short body");
		}
		out->u.map = (struct proto_map){ untrusted_tf, untrusted_or != 0 };
		return 0;
	}
	case MSG_SHMIMAGE: {
		int32_t untrusted_v[4];

		for (int i = 0; i < 4; i++) {
			if (rd_i32(r, &untrusted_v[i])) {
				return fail(why, "short body");
			}
		}
		if (untrusted_v[0] < 0 || untrusted_v[1] < 0 || untrusted_v[2] < 0 || untrusted_v[3] < 0) {
			return drop(why, "negative damage rectangle");
		}
		out->u.shmimage = (struct proto_shmimage){ untrusted_v[0], untrusted_v[1], untrusted_v[2],
			untrusted_v[3] };
		return 0;
	}
	case MSG_WMNAME: {
		char untrusted_title[128];

		if (rd_bytes(r, untrusted_title, sizeof(untrusted_title))) {
			return fail(why, "short body");
		}
		proto_sanitize_title(untrusted_title, o->utf8_titles, out->u.wmname.title);
		return 0;
	}
	case MSG_WMCLASS: {
		char untrusted_class[64], untrusted_name[64];

		if (rd_bytes(r, untrusted_class, 64) || rd_bytes(r, untrusted_name, 64)) {
			return fail(why, "short body");
		}
		sanitize_ascii(untrusted_class, 64, out->u.wmclass.res_class);
		sanitize_ascii(untrusted_name, 64, out->u.wmclass.res_name);
		return 0;
	}
	case MSG_WINDOW_HINTS: {
		uint32_t untrusted_v[9];

		for (int i = 0; i < 9; i++) {
			if (rd_u32(r, &untrusted_v[i])) {
				return fail(why, "short body");
			}
		}
		filter_hints(untrusted_v, &out->u.hints);
		return 0;
	}
	case MSG_WINDOW_FLAGS: {
		uint32_t untrusted_set, untrusted_unset;

		if (rd_u32(r, &untrusted_set) || rd_u32(r, &untrusted_unset)) {
			return fail(why, "short body");
		}
		if (untrusted_set & untrusted_unset) {
			return drop(why, "window flags both set and unset");
		}
		out->u.flags = (struct proto_flags){ untrusted_set & PROTO_FLAGS_SET_ALLOWED,
			untrusted_unset & PROTO_FLAGS_UNSET_ALLOWED };
		return 0;
	}
	case MSG_CURSOR: {
		uint32_t untrusted_cursor;

		if (rd_u32(r, &untrusted_cursor)) {
			return fail(why, "short body");
		}
		if ((untrusted_cursor & CURSOR_X11) ? untrusted_cursor >= CURSOR_X11_MAX
						   : untrusted_cursor != CURSOR_DEFAULT) {
			return drop(why, "cursor out of range");
		}
		out->u.cursor.cursor = untrusted_cursor;
		return 0;
	}
	case MSG_WINDOW_DUMP:
		return decode_dump(r, out, why);
	case MSG_CLIPBOARD_DATA:
		out->u.clipboard.len = f->body_len;
		if (f->body_len > o->clipboard_max) {
			out->u.clipboard.oversized = true; /* read, then discarded by the caller */
		} else if (f->body_len > 0) {
			out->u.clipboard.data = r->p;
		}
		r->p += r->left;
		r->left = 0;
		return 0;
	case MSG_DESTROY:
	case MSG_UNMAP:
	case MSG_DOCK:
		return 0;
	default:
		break;
	}
	return fail(why, "message type not allowed in this direction");
}

static int decode_d2a(struct rd *r, const struct proto_frame *f, struct proto_msg *out, const char **why)
{
	uint32_t untrusted_v[7];
	size_t n = f->type == MSG_CLIPBOARD_DATA || f->type == MSG_KEYMAP_NOTIFY ? 0 : f->body_len / 4;

	for (size_t i = 0; i < n; i++) {
		if (rd_u32(r, &untrusted_v[i])) {
			return fail(why, "short body");
		}
	}
	switch (f->type) {
	case MSG_KEYPRESS:
		if (untrusted_v[0] != QGUI_KeyPress && untrusted_v[0] != QGUI_KeyRelease) {
			return fail(why, "bad key event type");
		}
		out->u.key = (struct proto_key){ untrusted_v[0], (int32_t)untrusted_v[1], (int32_t)untrusted_v[2],
			untrusted_v[3], untrusted_v[4] };
		return 0;
	case MSG_BUTTON:
		if (untrusted_v[0] != QGUI_ButtonPress && untrusted_v[0] != QGUI_ButtonRelease) {
			return fail(why, "bad button event type");
		}
		out->u.button = (struct proto_button){ untrusted_v[0], (int32_t)untrusted_v[1],
			(int32_t)untrusted_v[2], untrusted_v[3], untrusted_v[4] };
		return 0;
	case MSG_MOTION:
		out->u.motion = (struct proto_motion){ (int32_t)untrusted_v[0], (int32_t)untrusted_v[1],
			untrusted_v[2], untrusted_v[3] };
		return 0;
	case MSG_CROSSING:
		if (untrusted_v[0] != QGUI_EnterNotify && untrusted_v[0] != QGUI_LeaveNotify) {
			return fail(why, "bad crossing event type");
		}
		out->u.crossing = (struct proto_crossing){ untrusted_v[0], (int32_t)untrusted_v[1],
			(int32_t)untrusted_v[2], untrusted_v[3], untrusted_v[4], untrusted_v[5], untrusted_v[6] };
		return 0;
	case MSG_FOCUS:
		if (untrusted_v[0] != QGUI_FocusIn && untrusted_v[0] != QGUI_FocusOut) {
			return fail(why, "bad focus event type");
		}
		out->u.focus = (struct proto_focus){ untrusted_v[0], untrusted_v[1], untrusted_v[2] };
		return 0;
	case MSG_CONFIGURE: {
		uint32_t w = min_u32(untrusted_v[2], MAX_WINDOW_WIDTH), h = min_u32(untrusted_v[3], MAX_WINDOW_HEIGHT);

		if (w == 0 || h == 0) {
			return drop(why, "zero window size");
		}
		out->u.configure = (struct proto_configure){ clamp_i32((int32_t)untrusted_v[0], MAX_WINDOW_WIDTH),
			clamp_i32((int32_t)untrusted_v[1], MAX_WINDOW_HEIGHT), w, h, untrusted_v[4] != 0 };
		return 0;
	}
	case MSG_MAP:
		out->u.map = (struct proto_map){ untrusted_v[0], untrusted_v[1] != 0 };
		return 0;
	case MSG_WINDOW_FLAGS:
		if (untrusted_v[0] & untrusted_v[1]) {
			return drop(why, "window flags both set and unset");
		}
		out->u.flags = (struct proto_flags){ untrusted_v[0] & PROTO_FLAGS_SET_ALLOWED,
			untrusted_v[1] & PROTO_FLAGS_SET_ALLOWED };
		return 0;
	case MSG_KEYMAP_NOTIFY:
		if (rd_bytes(r, out->u.keymap.keys, sizeof(out->u.keymap.keys))) {
			return fail(why, "short body");
		}
		return 0;
	case MSG_CLIPBOARD_DATA:
		out->u.clipboard.len = f->body_len;
		out->u.clipboard.data = f->body_len ? r->p : NULL;
		r->p += r->left;
		r->left = 0;
		return 0;
	case MSG_DESTROY:
	case MSG_CLOSE:
	case MSG_CLIPBOARD_REQ:
	case MSG_WINDOW_DUMP_ACK:
		return 0;
	default:
		break;
	}
	return fail(why, "message type not allowed in this direction");
}

int proto_decode(enum proto_dir dir, const struct proto_frame *f, const uint8_t *body, const struct proto_opts *o,
		struct proto_msg *out, const char **why)
{
	struct rd r = { body, f->body_len };
	int rc;

	memset(out, 0, sizeof(*out));
	if (why) {
		*why = NULL;
	}
	out->type = f->type;
	out->window = f->window;
	rc = dir == PROTO_A2D ? decode_a2d(&r, f, o, out, why) : decode_d2a(&r, f, out, why);
	if (rc == 0 && rd_done(&r) != 0) {
		rc = fail(why, "trailing bytes in body");
	}
	if (rc != 0) {
		struct proto_msg keep = { .type = out->type, .window = out->window };

		*out = keep; /* no half-decoded values escape */
	}
	return rc;
}

/* ---------------------------------------------------------------- encoding */

static size_t body_len_of(const struct proto_msg *m)
{
	const struct type_rule *r = rule_for(m->type);

	if (m->type == MSG_WINDOW_DUMP) {
		return MSG_WINDOW_DUMP_HDR_LEN + (size_t)m->u.dump.nrefs * SIZEOF_GRANT_REF;
	}
	if (m->type == MSG_CLIPBOARD_DATA) {
		return m->u.clipboard.len;
	}
	return r && r->len != VAR_LEN ? r->len : 0;
}

size_t proto_encoded_len(const struct proto_msg *m)
{
	return PROTO_HDR_LEN + body_len_of(m);
}

static uint8_t *put_words(uint8_t *p, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++, p += 4) {
		put32(p, v[i]);
	}
	return p;
}

size_t proto_encode(const struct proto_msg *m, uint32_t version, uint8_t *out)
{
	size_t len = body_len_of(m);
	uint8_t *p = out + PROTO_HDR_LEN;
	uint32_t w[9];

	put32(out, m->type);
	put32(out + 4, m->window);
	put32(out + 8, (uint32_t)len);
	switch (m->type) {
	case MSG_CREATE: {
		const struct proto_create *c = &m->u.create;

		w[0] = (uint32_t)c->x, w[1] = (uint32_t)c->y, w[2] = c->width, w[3] = c->height, w[4] = 0;
		w[5] = c->override_redirect;
		put_words(p, w, 6);
		break;
	}
	case MSG_CONFIGURE: {
		const struct proto_configure *c = &m->u.configure;

		w[0] = (uint32_t)c->x, w[1] = (uint32_t)c->y, w[2] = c->width, w[3] = c->height;
		w[4] = c->override_redirect;
		put_words(p, w, 5);
		break;
	}
	case MSG_MAP:
		w[0] = m->u.map.transient_for, w[1] = m->u.map.override_redirect;
		put_words(p, w, 2);
		break;
	case MSG_SHMIMAGE: {
		const struct proto_shmimage *s = &m->u.shmimage;

		w[0] = (uint32_t)s->x, w[1] = (uint32_t)s->y, w[2] = (uint32_t)s->width, w[3] = (uint32_t)s->height;
		put_words(p, w, 4);
		break;
	}
	case MSG_WMNAME:
		memset(p, 0, 128);
		memcpy(p, m->u.wmname.title, strnlen(m->u.wmname.title, 127));
		break;
	case MSG_WMCLASS:
		memset(p, 0, 128);
		memcpy(p, m->u.wmclass.res_class, strnlen(m->u.wmclass.res_class, 63));
		memcpy(p + 64, m->u.wmclass.res_name, strnlen(m->u.wmclass.res_name, 63));
		break;
	case MSG_WINDOW_HINTS: {
		const struct proto_hints *h = &m->u.hints;

		w[0] = h->flags, w[1] = h->min_width, w[2] = h->min_height, w[3] = h->max_width;
		w[4] = h->max_height, w[5] = h->width_inc, w[6] = h->height_inc, w[7] = h->base_width;
		w[8] = h->base_height;
		put_words(p, w, 9);
		break;
	}
	case MSG_WINDOW_FLAGS:
		w[0] = m->u.flags.set, w[1] = m->u.flags.unset;
		put_words(p, w, 2);
		break;
	case MSG_CURSOR:
		put32(p, m->u.cursor.cursor);
		break;
	case MSG_WINDOW_DUMP: {
		const struct proto_dump *d = &m->u.dump;

		w[0] = WINDOW_DUMP_TYPE_GRANT_REFS, w[1] = d->width, w[2] = d->height, w[3] = d->bpp;
		p = put_words(p, w, 4);
		if (d->nrefs) {
			memcpy(p, d->refs, (size_t)d->nrefs * 4);
		}
		break;
	}
	case MSG_CLIPBOARD_DATA:
		if (version < QUBES_GUID_MIN_CLIPBOARD_DATA_LEN_IN_LEN) {
			put32(out + 4, (uint32_t)len); /* old peers read the length from the window field */
		}
		if (len) {
			memcpy(p, m->u.clipboard.data, len);
		}
		break;
	case MSG_KEYPRESS: {
		const struct proto_key *k = &m->u.key;

		w[0] = k->type, w[1] = (uint32_t)k->x, w[2] = (uint32_t)k->y, w[3] = k->state, w[4] = k->keycode;
		put_words(p, w, 5);
		break;
	}
	case MSG_BUTTON: {
		const struct proto_button *b = &m->u.button;

		w[0] = b->type, w[1] = (uint32_t)b->x, w[2] = (uint32_t)b->y, w[3] = b->state, w[4] = b->button;
		put_words(p, w, 5);
		break;
	}
	case MSG_MOTION: {
		const struct proto_motion *mo = &m->u.motion;

		w[0] = (uint32_t)mo->x, w[1] = (uint32_t)mo->y, w[2] = mo->state, w[3] = mo->is_hint;
		put_words(p, w, 4);
		break;
	}
	case MSG_CROSSING: {
		const struct proto_crossing *c = &m->u.crossing;

		w[0] = c->type, w[1] = (uint32_t)c->x, w[2] = (uint32_t)c->y, w[3] = c->state, w[4] = c->mode;
		w[5] = c->detail, w[6] = c->focus;
		put_words(p, w, 7);
		break;
	}
	case MSG_FOCUS:
		w[0] = m->u.focus.type, w[1] = m->u.focus.mode, w[2] = m->u.focus.detail;
		put_words(p, w, 3);
		break;
	case MSG_KEYMAP_NOTIFY:
		memcpy(p, m->u.keymap.keys, 32);
		break;
	default:
		memset(p, 0, len); /* bodiless types; obsolete ones are sent as zeros */
		break;
	}
	return PROTO_HDR_LEN + len;
}

void proto_encode_version(uint32_t version, uint8_t out[4])
{
	put32(out, version);
}

void proto_encode_xconf(const struct msg_xconf *x, uint8_t out[16])
{
	put32(out, x->w);
	put32(out + 4, x->h);
	put32(out + 8, x->depth);
	put32(out + 12, x->mem);
}

uint32_t proto_decode_version(const uint8_t in[4])
{
	return le32(in);
}

void proto_decode_xconf(const uint8_t in[16], struct msg_xconf *out)
{
	out->w = le32(in);
	out->h = le32(in + 4);
	out->depth = le32(in + 8);
	out->mem = le32(in + 12);
}

void proto_xconf_for_screen(uint32_t w, uint32_t h, uint32_t depth, struct msg_xconf *out)
{
	uint64_t vw = ((uint64_t)w + 7) & ~(uint64_t)7;
	uint64_t mem = vw * h * 4 / 1024 + 1;

	out->w = (uint32_t)vw;
	out->h = h;
	out->depth = depth;
	out->mem = mem > UINT32_MAX ? UINT32_MAX : (uint32_t)mem;
}

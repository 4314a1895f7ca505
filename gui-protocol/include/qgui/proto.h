/*
 * qgui/proto.h: decoding untrusted GUI protocol messages into validated types,
 * and encoding validated messages for the wire, in both directions.
 *
 * Decoding is two steps, so that no more bytes are ever read than the rules
 * allow: proto_check_hdr() validates the 12-byte header (type, length rule of
 * reference section 1.3) and says how many body bytes follow; proto_decode()
 * turns that many body bytes into a struct proto_msg whose every field has
 * been checked (section 4 rules that belong to parsing: clamping, string
 * sanitising, hint filtering, flag masks, cursor range, dump sizes).
 * Window ownership and message order are policy, not parsing: the caller's job.
 */
#ifndef QGUI_PROTO_H
#define QGUI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qubes-gui-protocol.h"

/* Who sent the bytes being decoded. */
enum proto_dir {
	PROTO_A2D, /* agent -> daemon: decoded by daemons */
	PROTO_D2A, /* daemon -> agent: decoded by agents */
};

/* What the decoder needs to know about the session. */
struct proto_opts {
	uint32_t version;       /* negotiated version, e.g. 0x00010008 */
	uint32_t clipboard_max; /* configured limit, MIN..MAX_CLIPBOARD_BUFFER_SIZE */
	bool utf8_titles;       /* keep strictly valid UTF-8 in WMNAME */
};

/* Fills *o with version 1.8, clipboard_max DEFAULT_CLIPBOARD_BUFFER_SIZE, no UTF-8 titles. */
void proto_opts_default(struct proto_opts *o);

/* A checked header. */
struct proto_frame {
	uint32_t type;
	uint32_t window;
	uint32_t body_len;  /* exactly this many body bytes follow */
	bool len_mismatch;  /* below 1.6 only: the sender's length was wrong and body_len is the
	                       type's size instead (as the reference daemon does); log a warning */
};

/* Largest body proto_check_hdr() ever accepts (a full WINDOW_DUMP). */
#define PROTO_MAX_BODY (MSG_WINDOW_DUMP_HDR_LEN + MAX_GRANT_REFS_COUNT * SIZEOF_GRANT_REF)
#define PROTO_HDR_LEN 12u

/*
 * Validates a 12-byte header from the peer (direction dir). Returns 0 and
 * fills *out, or -EPROTO (a fatal violation: unknown type, a type not allowed
 * in this direction, a length against its rule, a clipboard over the
 * protocol's hard maximum) with *out zeroed. Never reads past hdr[11].
 * *why (may be NULL) is set to a static description of the failure.
 */
int proto_check_hdr(enum proto_dir dir, const uint8_t hdr[PROTO_HDR_LEN], const struct proto_opts *o,
		struct proto_frame *out, const char **why);

/* ---------------------------------------------------------------- validated bodies */

struct proto_create {
	int32_t x, y;           /* clamped to +-MAX_WINDOW_WIDTH / +-MAX_WINDOW_HEIGHT */
	uint32_t width, height; /* clamped to MAX_WINDOW_WIDTH/HEIGHT (may be 0) */
	bool override_redirect; /* as requested; policy decides */
};

struct proto_configure {
	int32_t x, y;           /* clamped as in create */
	uint32_t width, height; /* 1..MAX_WINDOW_WIDTH, 1..MAX_WINDOW_HEIGHT */
	bool override_redirect; /* A->D: the peer's wish, which the reference ignores */
};

struct proto_map {
	uint32_t transient_for;
	bool override_redirect;
};

struct proto_shmimage {
	int32_t x, y;           /* both >= 0 */
	int32_t width, height;  /* both >= 0 */
};

/* Title: NUL-terminated, printable ASCII (or strict UTF-8 when allowed), at most 127 bytes. */
struct proto_wmname {
	char title[128];
};

/* WM_CLASS parts: NUL-terminated printable ASCII, at most 63 bytes each, not yet prefixed. */
struct proto_wmclass {
	char res_class[64];
	char res_name[64];
};

/* Size hints after filtering: only the flags below survive, each with sane values. */
#define PROTO_HINTS_ALLOWED \
	(QGUI_PMinSize | QGUI_PMaxSize | QGUI_PResizeInc | QGUI_PBaseSize | QGUI_PPosition | QGUI_USPosition)
struct proto_hints {
	uint32_t flags;
	uint32_t min_width, min_height;
	uint32_t max_width, max_height;
	uint32_t width_inc, height_inc;
	uint32_t base_width, base_height;
};

#define PROTO_FLAGS_SET_ALLOWED (WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_DEMANDS_ATTENTION | WINDOW_FLAG_MINIMIZE)
#define PROTO_FLAGS_UNSET_ALLOWED (WINDOW_FLAG_FULLSCREEN | WINDOW_FLAG_DEMANDS_ATTENTION)
struct proto_flags {
	uint32_t set, unset; /* disjoint; A->D masked with the masks above */
};

struct proto_cursor {
	uint32_t cursor; /* CURSOR_DEFAULT, or CURSOR_X11 + glyph with glyph < 154 */
};

/* A grant-refs window dump. refs point into the decoder's input: read them with proto_dump_ref(). */
struct proto_dump {
	uint32_t width, height; /* <= MAX_WINDOW_WIDTH / MAX_WINDOW_HEIGHT */
	uint32_t bpp;           /* as sent; the protocol assumes 32 */
	uint32_t nrefs;         /* nrefs * 4096 >= width * height * 4; nrefs <= MAX_GRANT_REFS_COUNT */
	const uint8_t *refs;    /* nrefs little-endian u32, possibly unaligned */
};

/* Reference i (< d->nrefs) of a dump. */
uint32_t proto_dump_ref(const struct proto_dump *d, uint32_t i);

struct proto_clipboard {
	const uint8_t *data; /* len bytes (not NUL-terminated); NULL when len == 0 or oversized */
	uint32_t len;
	bool oversized;      /* A->D: over the configured limit: discard, clear the clipboard */
};

struct proto_key {
	uint32_t type; /* QGUI_KeyPress or QGUI_KeyRelease */
	int32_t x, y;
	uint32_t state, keycode;
};

struct proto_button {
	uint32_t type; /* QGUI_ButtonPress or QGUI_ButtonRelease */
	int32_t x, y;
	uint32_t state, button;
};

struct proto_motion {
	int32_t x, y;
	uint32_t state, is_hint;
};

struct proto_crossing {
	uint32_t type; /* QGUI_EnterNotify or QGUI_LeaveNotify */
	int32_t x, y;
	uint32_t state, mode, detail, focus;
};

struct proto_focus {
	uint32_t type; /* QGUI_FocusIn or QGUI_FocusOut */
	uint32_t mode, detail;
};

struct proto_keymap {
	uint8_t keys[32];
};

/* One decoded message. Which union member is valid follows from type. */
struct proto_msg {
	uint32_t type;
	uint32_t window;
	union {
		struct proto_create create;       /* MSG_CREATE */
		struct proto_configure configure; /* MSG_CONFIGURE */
		struct proto_map map;             /* MSG_MAP */
		struct proto_shmimage shmimage;   /* MSG_SHMIMAGE */
		struct proto_wmname wmname;       /* MSG_WMNAME */
		struct proto_wmclass wmclass;     /* MSG_WMCLASS */
		struct proto_hints hints;         /* MSG_WINDOW_HINTS */
		struct proto_flags flags;         /* MSG_WINDOW_FLAGS */
		struct proto_cursor cursor;       /* MSG_CURSOR */
		struct proto_dump dump;           /* MSG_WINDOW_DUMP */
		struct proto_clipboard clipboard; /* MSG_CLIPBOARD_DATA */
		struct proto_key key;             /* MSG_KEYPRESS */
		struct proto_button button;       /* MSG_BUTTON */
		struct proto_motion motion;       /* MSG_MOTION */
		struct proto_crossing crossing;   /* MSG_CROSSING */
		struct proto_focus focus;         /* MSG_FOCUS */
		struct proto_keymap keymap;       /* MSG_KEYMAP_NOTIFY */
	} u; /* DESTROY, UNMAP, DOCK, CLOSE, CLIPBOARD_REQ, WINDOW_DUMP_ACK: no body */
};

/* proto_decode() result besides 0 and -EPROTO: well-formed, but refused by a check that the
   reference daemon treats as "suspicious, ignore" (VERIFY). Drop the message, log, go on. */
#define PROTO_DROP 1

/*
 * Decodes the f->body_len bytes at body (the body that followed a header
 * accepted by proto_check_hdr with the same dir and o). Returns 0 with *out
 * filled, PROTO_DROP (message ignored, *why says why), or -EPROTO (fatal
 * violation, *why says why). Pointers in *out borrow from body.
 * *why (may be NULL) gets a static string.
 */
int proto_decode(enum proto_dir dir, const struct proto_frame *f, const uint8_t *body, const struct proto_opts *o,
		struct proto_msg *out, const char **why);

/* ---------------------------------------------------------------- encoding */

/*
 * Bytes proto_encode() writes for m: header plus body. For MSG_WINDOW_DUMP the
 * refs come from m->u.dump.refs (nrefs of them); for MSG_CLIPBOARD_DATA from
 * m->u.clipboard.data (len bytes).
 */
size_t proto_encoded_len(const struct proto_msg *m);

/*
 * Encodes m (a message of any type, either direction) for a peer speaking
 * version (which decides where the clipboard length goes before 1.2) into out,
 * which has room for proto_encoded_len(m) bytes. Returns the bytes written.
 * Values are written as given: callers encode what they decided to send.
 */
size_t proto_encode(const struct proto_msg *m, uint32_t version, uint8_t *out);

/* The handshake records (no header). */
void proto_encode_version(uint32_t version, uint8_t out[4]);
void proto_encode_xconf(const struct msg_xconf *x, uint8_t out[16]);
/* Reads a raw 4-byte version word / 16-byte xconf (no checks beyond decoding). */
uint32_t proto_decode_version(const uint8_t in[4]);
void proto_decode_xconf(const uint8_t in[16], struct msg_xconf *out);

/*
 * The xconf a daemon sends for a root window of w x h at depth: width rounded
 * up to a multiple of 8, mem = w*h*4/1024 + 1 (KiB), as the reference does.
 */
void proto_xconf_for_screen(uint32_t w, uint32_t h, uint32_t depth, struct msg_xconf *out);

/* "MSG_CREATE" etc., or "unknown" for a type outside the enum. Never NULL. */
const char *proto_type_name(uint32_t type);

/*
 * Title sanitising as the reference daemon: the NUL at [127] is forced; with
 * utf8 off a trailing U+2026 becomes "..."; every byte outside 0x20..0x7e
 * becomes '_' except, with utf8 on, strictly valid UTF-8 sequences (RFC 3629:
 * no overlongs, no surrogates, <= U+10FFFF). in has 128 bytes.
 */
void proto_sanitize_title(const char in[128], bool utf8, char out[128]);

#endif

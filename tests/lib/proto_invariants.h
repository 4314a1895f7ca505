/* tests/lib/proto_invariants.h: what every message the decoder accepts must satisfy (tests, fuzzing). */
#ifndef QGUI_PROTO_INVARIANTS_H
#define QGUI_PROTO_INVARIANTS_H

#include <string.h>

#include "qgui/proto.h"

static int title_ok(const char *t, size_t size, int utf8)
{
	size_t n = strnlen(t, size);

	if (n >= size) {
		return 0; /* not terminated */
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c < 0x20 || c == 0x7f || (c > 0x7f && !utf8)) {
			return 0;
		}
	}
	return 1;
}

/*
 * Returns NULL when m (accepted by proto_decode for dir with o) satisfies every
 * promise of proto.h, else a description of the broken promise.
 */
static const char *proto_invariant_violation(enum proto_dir dir, const struct proto_msg *m,
		const struct proto_opts *o, size_t body_len)
{
	switch (m->type) {
	case MSG_CREATE:
		if (m->u.create.width > MAX_WINDOW_WIDTH || m->u.create.height > MAX_WINDOW_HEIGHT ||
				m->u.create.x < -MAX_WINDOW_WIDTH || m->u.create.x > MAX_WINDOW_WIDTH ||
				m->u.create.y < -MAX_WINDOW_HEIGHT || m->u.create.y > MAX_WINDOW_HEIGHT) {
			return "create geometry out of range";
		}
		break;
	case MSG_CONFIGURE:
		if (m->u.configure.width == 0 || m->u.configure.width > MAX_WINDOW_WIDTH ||
				m->u.configure.height == 0 || m->u.configure.height > MAX_WINDOW_HEIGHT ||
				m->u.configure.x < -MAX_WINDOW_WIDTH || m->u.configure.x > MAX_WINDOW_WIDTH ||
				m->u.configure.y < -MAX_WINDOW_HEIGHT || m->u.configure.y > MAX_WINDOW_HEIGHT) {
			return "configure geometry out of range";
		}
		break;
	case MSG_SHMIMAGE:
		if (m->u.shmimage.x < 0 || m->u.shmimage.y < 0 || m->u.shmimage.width < 0 || m->u.shmimage.height < 0) {
			return "negative damage rectangle";
		}
		break;
	case MSG_WMNAME:
		if (!title_ok(m->u.wmname.title, sizeof(m->u.wmname.title), o->utf8_titles)) {
			return "title not sanitised";
		}
		break;
	case MSG_WMCLASS:
		if (!title_ok(m->u.wmclass.res_class, 64, 0) || !title_ok(m->u.wmclass.res_name, 64, 0)) {
			return "class not sanitised";
		}
		break;
	case MSG_WINDOW_HINTS:
		if ((m->u.hints.flags & ~PROTO_HINTS_ALLOWED) || m->u.hints.min_width > MAX_WINDOW_WIDTH ||
				m->u.hints.max_width > MAX_WINDOW_WIDTH || m->u.hints.base_height > MAX_WINDOW_HEIGHT ||
				m->u.hints.width_inc >= MAX_WINDOW_WIDTH || m->u.hints.height_inc >= MAX_WINDOW_HEIGHT) {
			return "hints not filtered";
		}
		break;
	case MSG_WINDOW_FLAGS:
		if ((m->u.flags.set & m->u.flags.unset) || (m->u.flags.set & ~PROTO_FLAGS_SET_ALLOWED) ||
				(dir == PROTO_A2D && (m->u.flags.unset & ~PROTO_FLAGS_UNSET_ALLOWED))) {
			return "flags not masked";
		}
		break;
	case MSG_CURSOR:
		if (m->u.cursor.cursor != CURSOR_DEFAULT &&
				(m->u.cursor.cursor < CURSOR_X11 || m->u.cursor.cursor >= CURSOR_X11_MAX)) {
			return "cursor out of range";
		}
		break;
	case MSG_WINDOW_DUMP:
		if (m->u.dump.width > MAX_WINDOW_WIDTH || m->u.dump.height > MAX_WINDOW_HEIGHT ||
				m->u.dump.nrefs > MAX_GRANT_REFS_COUNT ||
				(uint64_t)m->u.dump.nrefs * 4096 < (uint64_t)m->u.dump.width * m->u.dump.height * 4 ||
				16 + (size_t)m->u.dump.nrefs * 4 != body_len) {
			return "dump sizes inconsistent";
		}
		break;
	case MSG_CLIPBOARD_DATA:
		if (m->u.clipboard.len != body_len || m->u.clipboard.len > MAX_CLIPBOARD_BUFFER_SIZE + 1 ||
				(dir == PROTO_A2D && !m->u.clipboard.oversized && m->u.clipboard.len > o->clipboard_max) ||
				(m->u.clipboard.oversized && m->u.clipboard.data != NULL)) {
			return "clipboard length inconsistent";
		}
		break;
	case MSG_KEYPRESS:
		if (m->u.key.type != QGUI_KeyPress && m->u.key.type != QGUI_KeyRelease) {
			return "bad key type";
		}
		break;
	case MSG_BUTTON:
		if (m->u.button.type != QGUI_ButtonPress && m->u.button.type != QGUI_ButtonRelease) {
			return "bad button type";
		}
		break;
	case MSG_CROSSING:
		if (m->u.crossing.type != QGUI_EnterNotify && m->u.crossing.type != QGUI_LeaveNotify) {
			return "bad crossing type";
		}
		break;
	case MSG_FOCUS:
		if (m->u.focus.type != QGUI_FocusIn && m->u.focus.type != QGUI_FocusOut) {
			return "bad focus type";
		}
		break;
	case MSG_DESTROY:
	case MSG_MAP:
	case MSG_UNMAP:
	case MSG_DOCK:
	case MSG_MOTION:
	case MSG_CLOSE:
	case MSG_CLIPBOARD_REQ:
	case MSG_KEYMAP_NOTIFY:
	case MSG_WINDOW_DUMP_ACK:
		break;
	default:
		return "a type that may not be accepted";
	}
	return NULL;
}

#endif

/*
 * qubes-gui-protocol.h: the wire format of the Qubes GUI protocol, version 1.8.
 *
 * Written for this project from the protocol description in
 * shared/reference/qubes-gui-protocol.md; the names are Qubes' own so that
 * code written against Qubes' header reads the same. Every message is a
 * struct msg_hdr followed by a body, except the two handshake records
 * (msg_version, msg_xconf). Integers are little-endian (host order on
 * x86-64); no struct has padding. Every size and offset is pinned below.
 *
 * Values in these structs are raw and untrusted when they come from a peer:
 * decode them with proto.h, never by casting a buffer.
 */
#ifndef QUBES_GUI_PROTOCOL_H
#define QUBES_GUI_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- versions */
#define QUBES_GUID_PROTOCOL_VERSION_MAJOR 1
#define QUBES_GUID_PROTOCOL_VERSION_MINOR 8
#define QUBES_GUID_MAKE_PROTOCOL_VERSION(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))
#define QUBES_GUID_PROTOCOL_VERSION \
	QUBES_GUID_MAKE_PROTOCOL_VERSION(QUBES_GUID_PROTOCOL_VERSION_MAJOR, QUBES_GUID_PROTOCOL_VERSION_MINOR)

/* feature thresholds (encoded versions) */
#define QUBES_GUID_MIN_CLIPBOARD_DATA_LEN_IN_LEN 0x00010002u /* before: length in hdr.window */
#define QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION 0x00010004u
#define QUBES_GUID_MIN_BIDIRECTIONAL_MSG_DESTROY 0x00010005u
#define QUBES_GUID_MIN_FATAL_LENGTH_VERSION 0x00010006u /* (our name) bad lengths fatal from here */
#define QUBES_GUID_MIN_MSG_WINDOW_DUMP_ACK 0x00010007u
#define QUBES_GUID_MIN_CLIPBOARD_4X 0x00010008u

/* ---------------------------------------------------------------- limits */
#define MAX_WINDOW_WIDTH 16384
#define MAX_WINDOW_HEIGHT 6144
#define DUMMY_DRV_FB_BPP 32
#define MAX_WINDOW_MEM (MAX_WINDOW_WIDTH * MAX_WINDOW_HEIGHT * (DUMMY_DRV_FB_BPP / 8))
#define XC_PAGE_SIZE_BYTES 4096
#define NUM_PAGES(x) (((x) + 4095) >> 12)
#define MAX_MFN_COUNT NUM_PAGES(MAX_WINDOW_MEM)
#define MAX_GRANT_REFS_COUNT NUM_PAGES(MAX_WINDOW_MEM)
#define SIZEOF_SHARED_MFN 4
#define SIZEOF_GRANT_REF 4
#define SHM_CMD_NUM_PAGES 97
#define MSG_WINDOW_DUMP_HDR_LEN 16
#define QUBES_MAX_MSG_WINDOW_DUMP_LEN \
	(MAX_GRANT_REFS_COUNT * SIZEOF_GRANT_REF + sizeof(struct msg_hdr) + MSG_WINDOW_DUMP_HDR_LEN)

#define MAX_CLIPBOARD_SIZE 65000           /* protocol <= 1.7 */
#define MAX_CLIPBOARD_BUFFER_SIZE 256000   /* highest configurable limit (1.8) */
#define MIN_CLIPBOARD_BUFFER_SIZE 256
#define DEFAULT_CLIPBOARD_BUFFER_SIZE 64000

#define CURSOR_DEFAULT 0
#define CURSOR_X11 0x100
#define CURSOR_X11_MAX 0x19a /* exclusive: 0x100 + XC_num_glyphs (154) */

#define WINDOW_FLAG_FULLSCREEN (1u << 0)
#define WINDOW_FLAG_DEMANDS_ATTENTION (1u << 1)
#define WINDOW_FLAG_MINIMIZE (1u << 2)

#define WINDOW_DUMP_TYPE_GRANT_REFS 0

/* the screen window: one whole-desktop framebuffer (see reference 2.6) */
#define FULLSCREEN_WINDOW_ID 0

/* XSizeHints flag bits as carried in msg_window_hints.flags */
#define QGUI_USPosition (1u << 0)
#define QGUI_USSize (1u << 1)
#define QGUI_PPosition (1u << 2)
#define QGUI_PSize (1u << 3)
#define QGUI_PMinSize (1u << 4)
#define QGUI_PMaxSize (1u << 5)
#define QGUI_PResizeInc (1u << 6)
#define QGUI_PAspect (1u << 7)
#define QGUI_PBaseSize (1u << 8)
#define QGUI_PWinGravity (1u << 9)

/* X11 core event codes carried in the type fields */
#define QGUI_KeyPress 2
#define QGUI_KeyRelease 3
#define QGUI_ButtonPress 4
#define QGUI_ButtonRelease 5
#define QGUI_EnterNotify 7
#define QGUI_LeaveNotify 8
#define QGUI_FocusIn 9
#define QGUI_FocusOut 10

/* tray (qubes-xorg-tray-defs.h) */
#define SYSTEM_TRAY_REQUEST_DOCK 0
#define SYSTEM_TRAY_BEGIN_MESSAGE 1
#define SYSTEM_TRAY_CANCEL_MESSAGE 2
#define XEMBED_EMBEDDED_NOTIFY 0
#define XEMBED_WINDOW_ACTIVATE 1
#define XEMBED_WINDOW_DEACTIVATE 2
#define XEMBED_REQUEST_FOCUS 3
#define XEMBED_FOCUS_IN 4
#define XEMBED_FOCUS_OUT 5
#define XEMBED_FOCUS_NEXT 6
#define XEMBED_FOCUS_PREV 7
#define XEMBED_MAPPED (1 << 0)

/* ---------------------------------------------------------------- message types */
enum {
	MSG_MIN = 123,
	MSG_KEYPRESS,        /* 124 D->A */
	MSG_BUTTON,          /* 125 D->A */
	MSG_MOTION,          /* 126 D->A */
	MSG_CROSSING,        /* 127 D->A */
	MSG_FOCUS,           /* 128 D->A */
	MSG_RESIZE,          /* 129 obsolete, never sent */
	MSG_CREATE,          /* 130 A->D */
	MSG_DESTROY,         /* 131 A->D; D->A ack from 1.5 */
	MSG_MAP,             /* 132 both */
	MSG_UNMAP,           /* 133 A->D */
	MSG_CONFIGURE,       /* 134 both */
	MSG_MFNDUMP,         /* 135 A->D, deprecated (dom0 only) */
	MSG_SHMIMAGE,        /* 136 A->D */
	MSG_CLOSE,           /* 137 D->A */
	MSG_EXECUTE,         /* 138 obsolete */
	MSG_CLIPBOARD_REQ,   /* 139 D->A */
	MSG_CLIPBOARD_DATA,  /* 140 both */
	MSG_WMNAME,          /* 141 A->D */
	MSG_KEYMAP_NOTIFY,   /* 142 D->A */
	MSG_DOCK,            /* 143 A->D */
	MSG_WINDOW_HINTS,    /* 144 A->D */
	MSG_WINDOW_FLAGS,    /* 145 both */
	MSG_WMCLASS,         /* 146 A->D */
	MSG_WINDOW_DUMP,     /* 147 A->D */
	MSG_CURSOR,          /* 148 A->D */
	MSG_WINDOW_DUMP_ACK, /* 149 D->A, from 1.7 */
	MSG_MAX
};

/* ---------------------------------------------------------------- structs */
struct msg_hdr {
	uint32_t type;
	uint32_t window;
	uint32_t untrusted_len; /* body length; trusted only for the variable-length types, after checks */
};

struct msg_map_info {
	uint32_t transient_for;
	uint32_t override_redirect;
};

struct msg_create {
	int32_t x;
	int32_t y;
	uint32_t width;
	uint32_t height;
	uint32_t parent; /* ignored */
	uint32_t override_redirect;
};

struct msg_resize {
	uint32_t width;
	uint32_t height;
};

struct msg_keypress {
	uint32_t type;
	int32_t x;
	int32_t y;
	uint32_t state;
	uint32_t keycode;
};

struct msg_button {
	uint32_t type;
	int32_t x;
	int32_t y;
	uint32_t state;
	uint32_t button;
};

struct msg_motion {
	int32_t x;
	int32_t y;
	uint32_t state;
	uint32_t is_hint;
};

struct msg_crossing {
	uint32_t type;
	int32_t x;
	int32_t y;
	uint32_t state;
	uint32_t mode;
	uint32_t detail;
	uint32_t focus;
};

struct msg_configure {
	int32_t x;
	int32_t y;
	uint32_t width;
	uint32_t height;
	uint32_t override_redirect;
};

struct msg_shmimage {
	int32_t x;
	int32_t y;
	uint32_t width;
	uint32_t height;
};

struct msg_focus {
	uint32_t type;
	uint32_t mode;
	uint32_t detail;
};

struct msg_execute {
	char cmd[255];
};

struct msg_version {
	uint32_t version;
};

struct msg_xconf {
	uint32_t w;
	uint32_t h;
	uint32_t depth;
	uint32_t mem; /* KiB */
};

struct msg_wmname {
	char data[128];
};

struct msg_keymap_notify {
	char keys[32];
};

struct msg_window_hints {
	uint32_t flags;
	uint32_t min_width;
	uint32_t min_height;
	uint32_t max_width;
	uint32_t max_height;
	uint32_t width_inc;
	uint32_t height_inc;
	uint32_t base_width;
	uint32_t base_height;
};

struct msg_window_flags {
	uint32_t flags_set;
	uint32_t flags_unset;
};

struct shm_cmd {
	uint32_t shmid;
	uint32_t width;
	uint32_t height;
	uint32_t bpp;
	uint32_t off;
	uint32_t num_mfn;
	uint32_t domid;
	uint32_t mfns[];
};

struct msg_wmclass {
	char res_class[64];
	char res_name[64];
};

struct msg_window_dump_hdr {
	uint32_t type;
	uint32_t width;
	uint32_t height;
	uint32_t bpp;
};

struct msg_window_dump_grant_refs {
	uint32_t refs[0];
};

struct msg_cursor {
	uint32_t cursor;
};

/* ---------------------------------------------------------------- pinned layout */
#define QGUI_PIN(s, sz) _Static_assert(sizeof(struct s) == (sz), "size of struct " #s)
#define QGUI_OFF(s, f, o) _Static_assert(offsetof(struct s, f) == (o), "offset of " #s "." #f)

QGUI_PIN(msg_hdr, 12);
QGUI_OFF(msg_hdr, type, 0);
QGUI_OFF(msg_hdr, window, 4);
QGUI_OFF(msg_hdr, untrusted_len, 8);
QGUI_PIN(msg_map_info, 8);
QGUI_OFF(msg_map_info, transient_for, 0);
QGUI_OFF(msg_map_info, override_redirect, 4);
QGUI_PIN(msg_create, 24);
QGUI_OFF(msg_create, x, 0);
QGUI_OFF(msg_create, y, 4);
QGUI_OFF(msg_create, width, 8);
QGUI_OFF(msg_create, height, 12);
QGUI_OFF(msg_create, parent, 16);
QGUI_OFF(msg_create, override_redirect, 20);
QGUI_PIN(msg_resize, 8);
QGUI_OFF(msg_resize, width, 0);
QGUI_OFF(msg_resize, height, 4);
QGUI_PIN(msg_keypress, 20);
QGUI_OFF(msg_keypress, type, 0);
QGUI_OFF(msg_keypress, x, 4);
QGUI_OFF(msg_keypress, y, 8);
QGUI_OFF(msg_keypress, state, 12);
QGUI_OFF(msg_keypress, keycode, 16);
QGUI_PIN(msg_button, 20);
QGUI_OFF(msg_button, type, 0);
QGUI_OFF(msg_button, x, 4);
QGUI_OFF(msg_button, y, 8);
QGUI_OFF(msg_button, state, 12);
QGUI_OFF(msg_button, button, 16);
QGUI_PIN(msg_motion, 16);
QGUI_OFF(msg_motion, x, 0);
QGUI_OFF(msg_motion, y, 4);
QGUI_OFF(msg_motion, state, 8);
QGUI_OFF(msg_motion, is_hint, 12);
QGUI_PIN(msg_crossing, 28);
QGUI_OFF(msg_crossing, type, 0);
QGUI_OFF(msg_crossing, x, 4);
QGUI_OFF(msg_crossing, y, 8);
QGUI_OFF(msg_crossing, state, 12);
QGUI_OFF(msg_crossing, mode, 16);
QGUI_OFF(msg_crossing, detail, 20);
QGUI_OFF(msg_crossing, focus, 24);
QGUI_PIN(msg_configure, 20);
QGUI_OFF(msg_configure, x, 0);
QGUI_OFF(msg_configure, y, 4);
QGUI_OFF(msg_configure, width, 8);
QGUI_OFF(msg_configure, height, 12);
QGUI_OFF(msg_configure, override_redirect, 16);
QGUI_PIN(msg_shmimage, 16);
QGUI_OFF(msg_shmimage, x, 0);
QGUI_OFF(msg_shmimage, y, 4);
QGUI_OFF(msg_shmimage, width, 8);
QGUI_OFF(msg_shmimage, height, 12);
QGUI_PIN(msg_focus, 12);
QGUI_OFF(msg_focus, type, 0);
QGUI_OFF(msg_focus, mode, 4);
QGUI_OFF(msg_focus, detail, 8);
QGUI_PIN(msg_execute, 255);
QGUI_PIN(msg_version, 4);
QGUI_PIN(msg_xconf, 16);
QGUI_OFF(msg_xconf, w, 0);
QGUI_OFF(msg_xconf, h, 4);
QGUI_OFF(msg_xconf, depth, 8);
QGUI_OFF(msg_xconf, mem, 12);
QGUI_PIN(msg_wmname, 128);
QGUI_PIN(msg_keymap_notify, 32);
QGUI_PIN(msg_window_hints, 36);
QGUI_OFF(msg_window_hints, flags, 0);
QGUI_OFF(msg_window_hints, min_width, 4);
QGUI_OFF(msg_window_hints, min_height, 8);
QGUI_OFF(msg_window_hints, max_width, 12);
QGUI_OFF(msg_window_hints, max_height, 16);
QGUI_OFF(msg_window_hints, width_inc, 20);
QGUI_OFF(msg_window_hints, height_inc, 24);
QGUI_OFF(msg_window_hints, base_width, 28);
QGUI_OFF(msg_window_hints, base_height, 32);
QGUI_PIN(msg_window_flags, 8);
QGUI_OFF(msg_window_flags, flags_set, 0);
QGUI_OFF(msg_window_flags, flags_unset, 4);
QGUI_PIN(shm_cmd, 28);
QGUI_OFF(shm_cmd, shmid, 0);
QGUI_OFF(shm_cmd, width, 4);
QGUI_OFF(shm_cmd, height, 8);
QGUI_OFF(shm_cmd, bpp, 12);
QGUI_OFF(shm_cmd, off, 16);
QGUI_OFF(shm_cmd, num_mfn, 20);
QGUI_OFF(shm_cmd, domid, 24);
QGUI_OFF(shm_cmd, mfns, 28);
QGUI_PIN(msg_wmclass, 128);
QGUI_OFF(msg_wmclass, res_class, 0);
QGUI_OFF(msg_wmclass, res_name, 64);
QGUI_PIN(msg_window_dump_hdr, 16);
QGUI_OFF(msg_window_dump_hdr, type, 0);
QGUI_OFF(msg_window_dump_hdr, width, 4);
QGUI_OFF(msg_window_dump_hdr, height, 8);
QGUI_OFF(msg_window_dump_hdr, bpp, 12);
QGUI_PIN(msg_window_dump_grant_refs, 0);
QGUI_PIN(msg_cursor, 4);

_Static_assert(MSG_KEYPRESS == 124 && MSG_CREATE == 130 && MSG_CLIPBOARD_DATA == 140 &&
		MSG_WINDOW_DUMP == 147 && MSG_WINDOW_DUMP_ACK == 149 && MSG_MAX == 150, "message numbering");
_Static_assert(MAX_WINDOW_MEM == 402653184, "MAX_WINDOW_MEM");
_Static_assert(MAX_GRANT_REFS_COUNT == 98304, "MAX_GRANT_REFS_COUNT");
_Static_assert(QUBES_MAX_MSG_WINDOW_DUMP_LEN == 393244, "QUBES_MAX_MSG_WINDOW_DUMP_LEN");
_Static_assert(QUBES_GUID_PROTOCOL_VERSION == 0x00010008, "protocol version");

#endif

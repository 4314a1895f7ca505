/* config.h: gui-daemon's command line and guid.conf, compatible with qubes-guid. */
#ifndef GD_CONFIG_H
#define GD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "qgui/backend.h"

#define GD_MAX_PROPS 10
#define GD_MAX_SCREENSAVERS 10
#define GD_MAX_WARNINGS 4

/* Trayicon rendering (reference 4.6): a base mode plus modifier flags. */
enum tray_mode { TRAY_BG, TRAY_BORDER1, TRAY_BORDER2, TRAY_TINT };
#define TRAY_MOD_BORDER1 (1u << 0)
#define TRAY_MOD_BORDER2 (1u << 1)
#define TRAY_MOD_SATURATION50 (1u << 2)
#define TRAY_MOD_WHITEHACK (1u << 3)

/* A secure copy/paste key sequence: modifier mask (X11 ShiftMask etc.) and a keysym; disabled when keysym is 0. */
struct key_seq {
	unsigned int mask;
	unsigned long keysym;
};

/* One -p NAME=TYPE:VALUE extra property. type is 's' (string), 'a' (atom) or 'c' (cardinals). */
struct extra_prop {
	char name[64];
	char type;
	char value[256];
};

struct gd_config {
	/* command line (qubes-guid) */
	int domid;                /* -d: the agent's domain (vchan peer, grant owner); required */
	int target_domid;         /* -t: the real VM when -d is its stubdomain; default domid */
	char vmname[32];          /* -N: required, a valid qube name */
	char color[64];           /* -c: "0xRRGGBB" or an X colour name (resolved by x11.c); default "red" */
	unsigned label_index;     /* -l: _QUBES_LABEL; default 0 */
	char icon[256];           /* -i: icon name or absolute PNG path; default "" */
	int log_level;            /* 1 + number of -v - number of -q, clamped 0..2 */
	bool qrexec_clipboard;    /* -Q */
	bool background;          /* -n: startup_timeout = 0 */
	bool foreground;          /* -f: do not fork (also clears kill_on_connect) */
	bool invisible;           /* -I */
	pid_t kill_on_connect;    /* -K: 0 when unset */
	struct extra_prop props[GD_MAX_PROPS]; /* -p, at most 10 */
	size_t nprops;
	bool title_prefix;        /* -T: titles become "[vm] title" */
	char config_path[256];    /* -C; default "/etc/qubes/guid.conf" */
	enum qgui_backend backend; /* --transport=xen|socket (ours); default AUTO */

	/* guid.conf "global" keys, some also long options */
	bool allow_fullscreen;             /* default false */
	bool override_redirect_protection; /* default true */
	bool override_redirect_allowed;    /* override_redirect: "allow" (true, default) or "disabled"/"disable" */
	bool allow_utf8_titles;            /* default false */
	struct key_seq copy_seq;           /* secure_copy_sequence, default "Ctrl-Shift-c" */
	struct key_seq paste_seq;          /* secure_paste_sequence, default "Ctrl-Shift-v" */
	uint32_t max_clipboard_size;       /* 256..256000, default 64000 */
	enum tray_mode tray_mode;          /* trayicon_mode, default tint */
	unsigned tray_mods;                /* TRAY_MOD_* */
	char window_background_color[64];  /* default "white" */
	int startup_timeout;               /* seconds, default 45 */
	int events_max_delay;              /* ms, 0..5000, default 0 */
	char screensaver_names[GD_MAX_SCREENSAVERS][64]; /* --screensaver-name, default {"xscreensaver"} */
	size_t nscreensavers;

	/* this project's additions (documented in gui-daemon/README.md) */
	unsigned border_width;             /* border_width / --border-width: trusted border, 0..32, default 2 */
	char paste_policy_command[512];    /* paste_policy_command: run with source and target VM names as
	                                      arguments; exit 0 = allow. "" (default) = allow without asking */
	char clipboard_dir[256];           /* clipboard_dir / --clipboard-dir: default "/var/run/qubes" */
	uint32_t max_image_memory;         /* max_image_memory: MiB the copy path may hold, 0 (default) =
	                                      automatic (config_image_budget) */
	uint32_t x_work_rate;              /* x_work_rate: units of X work per second an agent may cause
	                                      (burst a quarter of it), default 20000; 0 = unlimited */

	/* warnings met while parsing (a missing file, an ignored value), for the caller to log once it
	   has logged its first line (which names the back-end); at most GD_MAX_WARNINGS are kept */
	char warnings[GD_MAX_WARNINGS][200];
	size_t nwarnings;
};

/* Fills *c with every default above (domid -1, vmname ""). */
void config_defaults(struct gd_config *c);

/* What config_parse did. */
enum config_result {
	CONFIG_OK = 0,     /* run the daemon */
	CONFIG_HELP,       /* --help was given: usage printed on stdout, exit 0 */
	CONFIG_ERROR = 2,  /* bad option or value: err holds one line naming it; exit 2 */
	CONFIG_VERSION = 3, /* --version: "Qubes GUI Daemon protocol version: 1.8" printed, exit 0
	                       (3, not implicitly 2: that would equal CONFIG_ERROR) */
};

/*
 * Parses the command line and the config file, in qubes-guid's order: the file
 * (-C, default /etc/qubes/guid.conf) first, then command-line options override
 * it. An unreadable file only warns (logged); a syntax error or a bad value in
 * it is an error. Unknown keys in the file are ignored; unknown options, a
 * missing -d or -N, non-option arguments and a literal "--" are errors.
 * err (errlen bytes) receives one line for CONFIG_ERROR, e.g.
 * "invalid value for -d: 'abc' (expected a domain id 1..32751)".
 */
enum config_result config_parse(struct gd_config *c, int argc, char **argv, char *err, size_t errlen);

/* Parses "Ctrl-Shift-c" style sequences ("disable"/"none" -> keysym 0). Returns 0 or -EINVAL. */
int config_parse_key_seq(const char *s, struct key_seq *out);

/* Parses a trayicon mode ("tint+border1" ...). Returns 0 or -EINVAL. */
int config_parse_tray_mode(const char *s, enum tray_mode *mode, unsigned *mods);

/*
 * The image memory budget in bytes for a screen of w x h: max_image_memory MiB, or when
 * that is 0 the larger of 256 MiB and 16 screens' worth (w * h * 4 each: eight full-screen
 * windows, as the copy path holds two copies of each).
 */
uint64_t config_image_budget(const struct gd_config *c, uint32_t w, uint32_t h);

/* Writes the usage text to f. */
void config_usage(FILE *f);

#endif

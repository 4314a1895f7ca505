/* config.c: qubes-guid compatible command line and guid.conf (libconfig "global" group) parsing. */
/*
 * Order of work, as in qubes-guid: argv is parsed completely first (every value
 * checked and remembered together with whether it was given), then the config
 * file named by -C (default /etc/qubes/guid.conf) is read, then the values
 * given on the command line are applied on top of the file, so an option given
 * before -C still overrides the file.
 *
 * Deliberate choices where upstream is loose or inconsistent (also in the usage text):
 *  - override_redirect / --override-redirect accept "allow", "disabled" (what
 *    qubes-guid checks for) and "disable" (what qvm-start-daemon's validator
 *    writes).
 *  - trayicon_mode modifiers (+border1, +border2, +saturation50, +whitehack)
 *    are accepted only after "tint", as in qubes-guid; "bg+border1" is an error.
 *    Repeating a modifier is harmless.
 *  - the file's log_level key is parsed (it must be an int) but has no effect:
 *    qubes-guid resets the level to 1 before applying -v/-q.
 *  - a key of the wrong type in the file (allow_fullscreen = "yes") is an error;
 *    qubes-guid silently ignores it. windows_count_limit and subwindows are
 *    ignored like any unknown key.
 *  - max_clipboard_size out of 256..256000 only warns in the file (upstream)
 *    but is an error on the command line (upstream too).
 *  - -d and -t both take a domain id 1..32751; -d and -N may not be repeated.
 *  - -f clears -K whatever their order; -n sets startup_timeout to 0.
 *  - startup_timeout must be 0..86400 (upstream takes any int).
 *  - values that do not fit their buffer are errors, never cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <X11/X.h>
#include <X11/Xlib.h>
#include <X11/keysym.h>
#include <libconfig.h>

#include "config.h"
#include "qgui/log.h"
#include "qgui/version.h"
#include "qubes-gui-protocol.h"

#define DEFAULT_CONFIG_PATH "/etc/qubes/guid.conf"
#define CONFIG_INCLUDE_DIR "/etc/qubes"
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define MAX_EVENTS_DELAY 5000
#define MAX_STARTUP_TIMEOUT 86400
#define MAX_BORDER_WIDTH 32
#define MIN_IMAGE_MEMORY 16          /* MiB; 0 is "automatic" */
#define MAX_IMAGE_MEMORY (1u << 20)  /* MiB: 1 TiB */
#define DEFAULT_X_WORK_RATE 20000    /* units a second (session.c); 0 is unlimited */
#define MIN_X_WORK_RATE 1000
#define MAX_X_WORK_RATE 10000000
#define AUTO_IMAGE_MEMORY (256ull << 20)
#define AUTO_IMAGE_SCREENS 16
#define MAX_KEY_SEQ_LEN 64
#define MAX_TRAY_MODE_LEN 64
#define SHOWN_MAX 64 /* bytes of a bad value echoed in an error */
#define PATH_SHOWN_MAX 255 /* bytes of a file name echoed */

/* long-only options */
enum {
	OPT_TRAY = 256,
	OPT_SCREENSAVER,
	OPT_MAX_CLIP,
	OPT_OVERRIDE_REDIRECT,
	OPT_VERSION,
	OPT_BORDER_WIDTH,
	OPT_PASTE_POLICY,
	OPT_CLIPBOARD_DIR,
	OPT_TRANSPORT,
};

/* qubes-guid's getopt string; "+" stops at the first non-option, ":" reports a missing value */
static const char short_opts[] = "+:C:d:t:N:c:l:i:K:vqQnafIp:Th";

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'C' },
	{ "domid", required_argument, NULL, 'd' },
	{ "target-domid", required_argument, NULL, 't' },
	{ "name", required_argument, NULL, 'N' },
	{ "color", required_argument, NULL, 'c' },
	{ "label", required_argument, NULL, 'l' },
	{ "icon", required_argument, NULL, 'i' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "qrexec-for-clipboard", no_argument, NULL, 'Q' },
	{ "background", no_argument, NULL, 'n' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "invisible", no_argument, NULL, 'I' },
	{ "kill-on-connect", required_argument, NULL, 'K' },
	{ "prop", required_argument, NULL, 'p' },
	{ "title-name", no_argument, NULL, 'T' },
	{ "help", no_argument, NULL, 'h' },
	{ "trayicon-mode", required_argument, NULL, OPT_TRAY },
	{ "screensaver-name", required_argument, NULL, OPT_SCREENSAVER },
	{ "max-clipboard-size", required_argument, NULL, OPT_MAX_CLIP },
	{ "override-redirect", required_argument, NULL, OPT_OVERRIDE_REDIRECT },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "border-width", required_argument, NULL, OPT_BORDER_WIDTH },
	{ "paste-policy-command", required_argument, NULL, OPT_PASTE_POLICY },
	{ "clipboard-dir", required_argument, NULL, OPT_CLIPBOARD_DIR },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ NULL, 0, NULL, 0 },
};

/* file keys that a command-line option overrides, when given */
enum {
	GIVEN_TRAY = 1u << 0,
	GIVEN_MAX_CLIP = 1u << 1,
	GIVEN_OVERRIDE_REDIRECT = 1u << 2,
	GIVEN_BORDER_WIDTH = 1u << 3,
	GIVEN_PASTE_POLICY = 1u << 4,
	GIVEN_CLIPBOARD_DIR = 1u << 5,
};

struct ctx {
	char *err;
	size_t errlen;
};

static void warn(struct gd_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps a warning for the caller to log (see gd_config.warnings); extra ones are dropped. */
static void warn(struct gd_config *c, const char *fmt, ...)
{
	va_list ap;

	if (c->nwarnings == GD_MAX_WARNINGS) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(c->warnings[c->nwarnings++], sizeof(c->warnings[0]), fmt, ap);
	va_end(ap);
}

static enum config_result fail(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum config_result fail(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	if (x->err != NULL && x->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
	}
	return CONFIG_ERROR;
}

/*
 * A printable copy of v for an error line: at most buflen - 4 bytes of it,
 * then "..." when it was longer. buflen must be at least 5.
 */
static const char *shown(char *buf, size_t buflen, const char *v)
{
	size_t n = strlen(v);
	size_t max = buflen - 4;

	log_sanitize(buf, max + 1, v, n);
	if (n > max) {
		strcat(buf, "...");
	}
	return buf;
}

static enum config_result bad_value(struct ctx *x, const char *what, const char *v, const char *expected)
{
	char buf[SHOWN_MAX + 4];

	return fail(x, "invalid value for %s: '%s' (expected %s)", what, shown(buf, sizeof(buf), v), expected);
}

/* ------------------------------------------------------------------ small checks */

/* Copies s into dst when it fits with its NUL; -ENAMETOOLONG (dst untouched) otherwise. */
static int copy_str(char *dst, size_t dstlen, const char *s)
{
	size_t n = strlen(s);

	if (n >= dstlen) {
		return -ENAMETOOLONG;
	}
	memcpy(dst, s, n + 1);
	return 0;
}

static bool printable_ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
			return false;
		}
	}
	return true;
}

/* No ASCII control bytes; bytes >= 0x80 (UTF-8 in paths) are allowed. */
static bool no_controls(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
			return false;
		}
	}
	return true;
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Decimal digits only (leading zeros allowed), no sign, min <= value <= max, no overflow. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (s == NULL || *s == '\0') {
		return -EINVAL;
	}
	for (const char *p = s; *p; p++) {
		unsigned long d;

		if (*p < '0' || *p > '9') {
			return -EINVAL;
		}
		d = (unsigned long)(*p - '0');
		if (v > (max - d) / 10) {
			return -EINVAL;
		}
		v = v * 10 + d;
	}
	if (v < min) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* "0xRRGGBB" (exactly six hex digits) or an X colour name (printable ASCII); resolved by x11.c. */
static int check_color(const char *s, char *dst, size_t dstlen)
{
	if (*s == '\0' || !printable_ascii(s)) {
		return -EINVAL;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (strlen(s) != 8) {
			return -EINVAL;
		}
		for (size_t i = 2; i < 8; i++) {
			if (!is_hex(s[i])) {
				return -EINVAL;
			}
		}
	}
	return copy_str(dst, dstlen, s);
}

/* -d/-t: 1..32751, no sign, no leading zeros, no junk (0 is dom0, never an agent here). */
static int parse_domid(const char *s, int *out)
{
	int v;

	if (backend_parse_domid(s, &v) != 0 || v == 0) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_override_redirect(const char *s, bool *allowed)
{
	if (strcmp(s, "allow") == 0) {
		*allowed = true;
	} else if (strcmp(s, "disabled") == 0 || strcmp(s, "disable") == 0) {
		*allowed = false;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* 's': no control bytes; 'a': a non-empty printable atom name; 'c': "1,2,3" decimal 32-bit cardinals. */
static int parse_prop(const char *s, struct extra_prop *p)
{
	const char *eq = strchr(s, '=');
	const char *val;
	size_t nlen;

	if (eq == NULL || eq == s) {
		return -EINVAL;
	}
	nlen = (size_t)(eq - s);
	if (nlen >= sizeof(p->name)) {
		return -EINVAL;
	}
	for (size_t i = 0; i < nlen; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
			return -EINVAL;
		}
	}
	if ((eq[1] != 's' && eq[1] != 'a' && eq[1] != 'c') || eq[2] != ':') {
		return -EINVAL;
	}
	val = eq + 3;
	if (strlen(val) >= sizeof(p->value)) {
		return -EINVAL;
	}
	switch (eq[1]) {
	case 's':
		if (!no_controls(val)) {
			return -EINVAL;
		}
		break;
	case 'a':
		if (*val == '\0' || !printable_ascii(val)) {
			return -EINVAL;
		}
		break;
	default: /* 'c' */
		for (const char *q = val;;) {
			unsigned long n = 0;
			size_t digits = 0;

			while (q[digits] >= '0' && q[digits] <= '9') {
				unsigned long d = (unsigned long)(q[digits] - '0');

				if (n > (0xffffffffUL - d) / 10) {
					return -EINVAL;
				}
				n = n * 10 + d;
				digits++;
			}
			if (digits == 0) {
				return -EINVAL;
			}
			q += digits;
			if (*q == '\0') {
				break;
			}
			if (*q != ',') {
				return -EINVAL;
			}
			q++;
		}
		break;
	}
	memcpy(p->name, s, nlen);
	p->name[nlen] = '\0';
	p->type = eq[1];
	memcpy(p->value, val, strlen(val) + 1);
	return 0;
}

static int check_clipboard_dir(const char *s, char *dst, size_t dstlen)
{
	if (s[0] != '/' || !no_controls(s)) {
		return -EINVAL;
	}
	return copy_str(dst, dstlen, s);
}

static int check_paste_policy(const char *s, char *dst, size_t dstlen)
{
	if (!no_controls(s)) {
		return -EINVAL;
	}
	return copy_str(dst, dstlen, s);
}

/* ------------------------------------------------------------------ public parsers */

int config_parse_key_seq(const char *s, struct key_seq *out)
{
	static const struct {
		const char *prefix;
		unsigned int mask;
	} mods[] = {
		{ "Shift-", ShiftMask }, { "Ctrl-", ControlMask }, { "Mod1-", Mod1Mask }, { "Alt-", Mod1Mask },
		{ "Mod2-", Mod2Mask },   { "Mod3-", Mod3Mask },    { "Mod4-", Mod4Mask },
	};
	unsigned int mask = 0;
	KeySym ks;
	bool more = true;

	if (s == NULL || strlen(s) >= MAX_KEY_SEQ_LEN || !printable_ascii(s)) {
		return -EINVAL;
	}
	if (strcasecmp(s, "disable") == 0 || strcasecmp(s, "none") == 0) {
		*out = (struct key_seq){ 0, 0 };
		return 0;
	}
	while (more) {
		more = false;
		for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
			size_t n = strlen(mods[i].prefix);

			if (strncasecmp(s, mods[i].prefix, n) == 0) {
				mask |= mods[i].mask;
				s += n;
				more = true;
				break;
			}
		}
	}
	if (*s == '\0') {
		return -EINVAL;
	}
	ks = XStringToKeysym(s); /* a table lookup in libX11: no display needed */
	if (ks == NoSymbol) {
		return -EINVAL;
	}
	*out = (struct key_seq){ mask, (unsigned long)ks };
	return 0;
}

int config_parse_tray_mode(const char *s, enum tray_mode *mode, unsigned *mods)
{
	static const struct {
		const char *name;
		unsigned flag;
	} tint_mods[] = {
		{ "+border1", TRAY_MOD_BORDER1 },
		{ "+border2", TRAY_MOD_BORDER2 },
		{ "+saturation50", TRAY_MOD_SATURATION50 },
		{ "+whitehack", TRAY_MOD_WHITEHACK },
	};
	unsigned flags = 0;

	if (s == NULL || strlen(s) >= MAX_TRAY_MODE_LEN) {
		return -EINVAL;
	}
	if (strcmp(s, "bg") == 0) {
		*mode = TRAY_BG;
		*mods = 0;
		return 0;
	}
	if (strcmp(s, "border1") == 0) {
		*mode = TRAY_BORDER1;
		*mods = 0;
		return 0;
	}
	if (strcmp(s, "border2") == 0) {
		*mode = TRAY_BORDER2;
		*mods = 0;
		return 0;
	}
	if (strncmp(s, "tint", 4) != 0) {
		return -EINVAL;
	}
	/* modifiers only after tint (as qubes-guid); each may repeat */
	for (s += 4; *s;) {
		size_t i;

		for (i = 0; i < sizeof(tint_mods) / sizeof(tint_mods[0]); i++) {
			size_t n = strlen(tint_mods[i].name);

			if (strncmp(s, tint_mods[i].name, n) == 0 && (s[n] == '\0' || s[n] == '+')) {
				flags |= tint_mods[i].flag;
				s += n;
				break;
			}
		}
		if (i == sizeof(tint_mods) / sizeof(tint_mods[0])) {
			return -EINVAL;
		}
	}
	*mode = TRAY_TINT;
	*mods = flags;
	return 0;
}

void config_defaults(struct gd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->domid = -1;
	c->target_domid = -1;
	strcpy(c->color, "red");
	c->log_level = 1;
	strcpy(c->config_path, DEFAULT_CONFIG_PATH);
	c->backend = QGUI_BACKEND_AUTO;
	c->allow_fullscreen = false;
	c->override_redirect_protection = true;
	c->override_redirect_allowed = true;
	c->allow_utf8_titles = false;
	c->copy_seq = (struct key_seq){ ControlMask | ShiftMask, XK_c };
	c->paste_seq = (struct key_seq){ ControlMask | ShiftMask, XK_v };
	c->max_clipboard_size = DEFAULT_CLIPBOARD_BUFFER_SIZE;
	c->tray_mode = TRAY_TINT;
	c->tray_mods = 0;
	strcpy(c->window_background_color, "white");
	c->startup_timeout = 45;
	c->events_max_delay = 0;
	strcpy(c->screensaver_names[0], "xscreensaver");
	c->nscreensavers = 1;
	c->border_width = 2;
	c->x_work_rate = DEFAULT_X_WORK_RATE;
	strcpy(c->clipboard_dir, "/var/run/qubes");
}

uint64_t config_image_budget(const struct gd_config *c, uint32_t w, uint32_t h)
{
	uint64_t screens = (uint64_t)w * h * 4 * AUTO_IMAGE_SCREENS;

	if (c->max_image_memory > 0) {
		return (uint64_t)c->max_image_memory << 20;
	}
	return screens > AUTO_IMAGE_MEMORY ? screens : AUTO_IMAGE_MEMORY;
}

void config_usage(FILE *f)
{
	fputs("Usage: gui-daemon -d domain_id -N domain_name [options]\n"
	      "A drop-in replacement for qubes-guid: shows the windows of one qube.\n"
	      "\n"
	      "  -C, --config=PATH            config file (libconfig, group \"global\"); default " DEFAULT_CONFIG_PATH "\n"
	      "  -d, --domid=ID               domain running the GUI agent, 1..32751 (required, once)\n"
	      "  -t, --target-domid=ID        the real qube when -d is its stubdomain (default: -d)\n"
	      "  -N, --name=NAME              qube name (required, once; a valid qube name)\n"
	      "  -c, --color=COLOR            label colour: 0xRRGGBB or an X colour name (default red)\n"
	      "  -l, --label=INDEX            label index, set as _QUBES_LABEL (default 0)\n"
	      "  -i, --icon=ICON              icon name or absolute PNG path\n"
	      "  -v, --verbose                more logging (repeatable; levels 0..2, default 1)\n"
	      "  -q, --quiet                  less logging (repeatable)\n"
	      "  -Q, --qrexec-for-clipboard   use qubes.ClipboardCopy/Paste instead of protocol messages\n"
	      "  -n, --background             do not wait for the agent (startup_timeout = 0)\n"
	      "  -f, --foreground             do not fork; also cancels -K\n"
	      "  -I, --invisible              process the protocol but show no windows\n"
	      "  -K, --kill-on-connect=PID    send SIGUSR1 to PID (> 0) once connected\n"
	      "  -p, --prop=NAME=TYPE:VALUE   extra property on every window (at most 10); TYPE s (string),\n"
	      "                               a (atom) or c (comma-separated decimal cardinals)\n"
	      "  -T, --title-name             prefix window titles with [NAME]\n"
	      "      --trayicon-mode=MODE     bg, border1, border2 or tint[+border1][+border2][+saturation50]\n"
	      "                               [+whitehack] (modifiers only after tint)\n"
	      "      --screensaver-name=NAME  screensaver window class (repeatable, at most 10; default xscreensaver)\n"
	      "      --max-clipboard-size=N   256..256000 bytes (default 64000)\n"
	      "      --override-redirect=allow|disabled|disable\n"
	      "                               \"disable\" is accepted too, as qvm-start-daemon writes it\n"
	      "      --border-width=N         trusted coloured border, 0..32 pixels (default 2)\n"
	      "      --paste-policy-command=CMD  run CMD SOURCE TARGET before a paste; exit 0 allows\n"
	      "      --clipboard-dir=DIR      global clipboard directory (default /var/run/qubes)\n"
	      "      --transport=xen|socket|auto  vchan and grant back-end (default auto)\n"
	      "  -h, --help                   this text\n"
	      "      --version                the program and GUI protocol version\n"
	      "\n"
	      "The config file is read first and options override it. Keys of its group \"global\"\n"
	      "(see guid.conf(5)) are\n"
	      "  allow_fullscreen, override_redirect_protection, allow_utf8_titles (bool);\n"
	      "  override_redirect (\"allow\", \"disabled\" or \"disable\"); secure_copy_sequence,\n"
	      "  secure_paste_sequence (\"Ctrl-Shift-c\" style: Shift- Ctrl- Alt-/Mod1- Mod2- Mod3- Mod4-,\n"
	      "  or \"disable\"/\"none\"); max_clipboard_size (int; out of range: warning, ignored);\n"
	      "  trayicon_mode; window_background_color; startup_timeout (0..86400 s);\n"
	      "  events_max_delay (0..5000 ms); border_width (0..32); paste_policy_command;\n"
	      "  clipboard_dir; max_image_memory (MiB the copy path may hold per agent, 16..1048576,\n"
	      "  0 = automatic); x_work_rate (X work per second per agent, 1000..10000000, 0 = unlimited).\n"
	      "  log_level is read but has no effect (as in qubes-guid); unknown keys\n"
	      "  are ignored.\n",
	      f);
}

/* ------------------------------------------------------------------ the config file */

static int setting_line(const config_setting_t *s)
{
	return (int)config_setting_source_line(s);
}

/*
 * Getters for one key of the group: CONFIG_OK when absent or read, CONFIG_ERROR
 * (err set) for a value of the wrong type. path is already sanitised.
 */
static enum config_result get_bool(struct ctx *x, const char *path, config_setting_t *g, const char *key,
		bool *out)
{
	config_setting_t *s = config_setting_get_member(g, key);

	if (s == NULL) {
		return CONFIG_OK;
	}
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		return fail(x, "invalid type for %s in %s line %d (expected a boolean, true or false)", key, path,
				setting_line(s));
	}
	*out = config_setting_get_bool(s) != 0;
	return CONFIG_OK;
}

static enum config_result get_int(struct ctx *x, const char *path, config_setting_t *g, const char *key,
		long long *out, bool *present)
{
	config_setting_t *s = config_setting_get_member(g, key);

	*present = false;
	if (s == NULL) {
		return CONFIG_OK;
	}
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		*out = config_setting_get_int(s);
	} else if (config_setting_type(s) == CONFIG_TYPE_INT64) {
		*out = config_setting_get_int64(s);
	} else {
		return fail(x, "invalid type for %s in %s line %d (expected an integer)", key, path, setting_line(s));
	}
	*present = true;
	return CONFIG_OK;
}

static enum config_result get_str(struct ctx *x, const char *path, config_setting_t *g, const char *key,
		const char **out, int *line)
{
	config_setting_t *s = config_setting_get_member(g, key);

	*out = NULL;
	if (s == NULL) {
		return CONFIG_OK;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		return fail(x, "invalid type for %s in %s line %d (expected a string)", key, path, setting_line(s));
	}
	*out = config_setting_get_string(s);
	*line = setting_line(s);
	return *out == NULL ? fail(x, "invalid value for %s in %s", key, path) : CONFIG_OK;
}

static enum config_result file_bad_value(struct ctx *x, const char *key, const char *path, int line,
		const char *v, const char *expected)
{
	char what[PATH_SHOWN_MAX + 100];

	snprintf(what, sizeof(what), "%s in %s line %d", key, path, line);
	return bad_value(x, what, v, expected);
}

static enum config_result file_bad_int(struct ctx *x, const char *key, const char *path, long long v,
		const char *expected)
{
	return fail(x, "invalid value for %s in %s: '%lld' (expected %s)", key, path, v, expected);
}

static enum config_result apply_group(struct ctx *x, struct gd_config *c, const char *path, config_setting_t *g)
{
	const char *sv;
	long long iv;
	bool present;
	int line = 0;

	if (get_bool(x, path, g, "allow_fullscreen", &c->allow_fullscreen) ||
			get_bool(x, path, g, "override_redirect_protection", &c->override_redirect_protection) ||
			get_bool(x, path, g, "allow_utf8_titles", &c->allow_utf8_titles)) {
		return CONFIG_ERROR;
	}

	if (get_str(x, path, g, "override_redirect", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && parse_override_redirect(sv, &c->override_redirect_allowed) != 0) {
		return file_bad_value(x, "override_redirect", path, line, sv, "allow, disabled or disable");
	}

	if (get_str(x, path, g, "secure_copy_sequence", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && config_parse_key_seq(sv, &c->copy_seq) != 0) {
		return file_bad_value(x, "secure_copy_sequence", path, line, sv,
				"a key sequence like Ctrl-Shift-c, or disable");
	}
	if (get_str(x, path, g, "secure_paste_sequence", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && config_parse_key_seq(sv, &c->paste_seq) != 0) {
		return file_bad_value(x, "secure_paste_sequence", path, line, sv,
				"a key sequence like Ctrl-Shift-v, or disable");
	}

	if (get_int(x, path, g, "max_clipboard_size", &iv, &present)) {
		return CONFIG_ERROR;
	}
	if (present) {
		if (iv < MIN_CLIPBOARD_BUFFER_SIZE || iv > MAX_CLIPBOARD_BUFFER_SIZE) {
			/* qubes-guid: a warning, and the value is ignored */
			warn(c, "%s: max_clipboard_size %lld out of range 256..256000, ignored", path, iv);
		} else {
			c->max_clipboard_size = (uint32_t)iv;
		}
	}

	if (get_str(x, path, g, "trayicon_mode", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && config_parse_tray_mode(sv, &c->tray_mode, &c->tray_mods) != 0) {
		return file_bad_value(x, "trayicon_mode", path, line, sv,
				"bg, border1, border2 or tint[+border1|+border2|+saturation50|+whitehack]");
	}

	if (get_str(x, path, g, "window_background_color", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && check_color(sv, c->window_background_color, sizeof(c->window_background_color)) != 0) {
		return file_bad_value(x, "window_background_color", path, line, sv, "0xRRGGBB or an X colour name");
	}

	if (get_int(x, path, g, "startup_timeout", &iv, &present)) {
		return CONFIG_ERROR;
	}
	if (present) {
		if (iv < 0 || iv > MAX_STARTUP_TIMEOUT) {
			return file_bad_int(x, "startup_timeout", path, iv, "0..86400");
		}
		c->startup_timeout = (int)iv;
	}

	if (get_int(x, path, g, "events_max_delay", &iv, &present)) {
		return CONFIG_ERROR;
	}
	if (present) {
		if (iv < 0 || iv > MAX_EVENTS_DELAY) {
			return file_bad_int(x, "events_max_delay", path, iv, "0..5000");
		}
		c->events_max_delay = (int)iv;
	}

	/* read for compatibility; like qubes-guid, -v/-q alone decide the level */
	if (get_int(x, path, g, "log_level", &iv, &present)) {
		return CONFIG_ERROR;
	}

	if (get_int(x, path, g, "border_width", &iv, &present)) {
		return CONFIG_ERROR;
	}
	if (present) {
		if (iv < 0 || iv > MAX_BORDER_WIDTH) {
			return file_bad_int(x, "border_width", path, iv, "0..32");
		}
		c->border_width = (unsigned)iv;
	}

	if (get_int(x, path, g, "max_image_memory", &iv, &present)) {
		return CONFIG_ERROR;
	}
	if (present) {
		if (iv != 0 && (iv < MIN_IMAGE_MEMORY || iv > MAX_IMAGE_MEMORY)) {
			return file_bad_int(x, "max_image_memory", path, iv, "0 (automatic) or 16..1048576 MiB");
		}
		c->max_image_memory = (uint32_t)iv;
	}

	if (get_int(x, path, g, "x_work_rate", &iv, &present)) {
		return CONFIG_ERROR;
	}
	if (present) {
		if (iv != 0 && (iv < MIN_X_WORK_RATE || iv > MAX_X_WORK_RATE)) {
			return file_bad_int(x, "x_work_rate", path, iv, "0 (unlimited) or 1000..10000000 a second");
		}
		c->x_work_rate = (uint32_t)iv;
	}

	if (get_str(x, path, g, "paste_policy_command", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && check_paste_policy(sv, c->paste_policy_command, sizeof(c->paste_policy_command)) != 0) {
		return file_bad_value(x, "paste_policy_command", path, line, sv,
				"a command line of at most 511 bytes without control characters");
	}

	if (get_str(x, path, g, "clipboard_dir", &sv, &line)) {
		return CONFIG_ERROR;
	}
	if (sv != NULL && check_clipboard_dir(sv, c->clipboard_dir, sizeof(c->clipboard_dir)) != 0) {
		return file_bad_value(x, "clipboard_dir", path, line, sv, "an absolute path of at most 255 bytes");
	}
	return CONFIG_OK;
}

/*
 * Reads path into c. A file that cannot be opened, or is not a regular file,
 * only warns (defaults stay); a syntax error or a bad value is an error.
 */
static enum config_result load_file(struct ctx *x, struct gd_config *c, const char *path)
{
	config_t cfg;
	config_setting_t *g;
	struct stat st;
	FILE *f;
	int fd;
	enum config_result r = CONFIG_OK;
	char p[PATH_SHOWN_MAX + 4]; /* path, for messages */
	char e[PATH_SHOWN_MAX + 4];
	char t[SHOWN_MAX + 4];

	shown(p, sizeof(p), path);
	/* O_NONBLOCK: a FIFO must not hang us; only regular files are read */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		warn(c, "cannot open config file %s (%s), using defaults", p, strerror(errno));
		return CONFIG_OK;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		warn(c, "config file %s is not a regular file, using defaults", p);
		close(fd);
		return CONFIG_OK;
	}
	if (st.st_size > CONFIG_MAX_FILE_SIZE) {
		close(fd);
		return fail(x, "config file %s is too large (%lld bytes, at most %d)", p, (long long)st.st_size,
				CONFIG_MAX_FILE_SIZE);
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		r = fail(x, "cannot read config file %s: %s", p, strerror(errno));
		close(fd);
		return r;
	}

	config_init(&cfg);
	config_set_include_dir(&cfg, CONFIG_INCLUDE_DIR);
	if (config_read(&cfg, f) != CONFIG_TRUE) {
		/* config_read() names no file for the top level; an @include names its own */
		const char *efile = config_error_file(&cfg);
		const char *etext = config_error_text(&cfg);

		r = fail(x, "syntax error in %s line %d: %s", efile != NULL ? shown(e, sizeof(e), efile) : p,
				config_error_line(&cfg), shown(t, sizeof(t), etext != NULL ? etext : "?"));
		goto out;
	}
	g = config_lookup(&cfg, "global");
	if (g == NULL) {
		goto out;
	}
	if (!config_setting_is_group(g)) {
		r = fail(x, "invalid type for global in %s line %d (expected a group)", p, setting_line(g));
		goto out;
	}
	r = apply_group(x, c, p, g);
out:
	config_destroy(&cfg);
	fclose(f);
	return r;
}

/* ------------------------------------------------------------------ the command line */

static void option_name(char *buf, size_t len, int opt, int longindex)
{
	if (longindex >= 0) {
		snprintf(buf, len, "--%s", long_opts[longindex].name);
	} else {
		snprintf(buf, len, "-%c", opt);
	}
}

enum config_result config_parse(struct gd_config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct ctx x = { err, errlen };
	struct gd_config cl; /* what the command line said */
	unsigned given = 0;
	bool have_domid = false, have_name = false, screensavers_given = false;
	int nverbose = 0, nquiet = 0, level;
	enum config_result r;
	char name[48];

	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	config_defaults(&cl);
	if (argc < 1 || argv == NULL) {
		return fail(&x, "missing -d (domain id) and -N (qube name)");
	}

	optind = 0; /* glibc: 0 re-initialises getopt completely */
	opterr = 0;
	for (;;) {
		int longindex = -1;
		int before = optind < 1 ? 1 : optind; /* the element getopt works on */
		int opt = getopt_long(argc, argv, short_opts, long_opts, &longindex);
		unsigned long v;

		if (opt == -1) {
			/* getopt consumes a literal "--" (optind moves); it stops without moving on anything else */
			if (optind > before && optind >= 1 && strcmp(argv[optind - 1], "--") == 0) {
				return fail(&x, "'--' is not accepted (no non-option arguments are taken)");
			}
			break;
		}
		option_name(name, sizeof(name), opt, longindex);
		switch (opt) {
		case 'C':
			if (*optarg == '\0' || !no_controls(optarg) ||
					copy_str(cl.config_path, sizeof(cl.config_path), optarg) != 0) {
				return bad_value(&x, name, optarg, "a file path of at most 255 bytes");
			}
			break;
		case 'd':
			if (have_domid) {
				return fail(&x, "option %s given twice (-d/--domid may be given once)", name);
			}
			if (parse_domid(optarg, &cl.domid) != 0) {
				return bad_value(&x, name, optarg, "a domain id 1..32751");
			}
			have_domid = true;
			break;
		case 't':
			if (parse_domid(optarg, &cl.target_domid) != 0) {
				return bad_value(&x, name, optarg, "a domain id 1..32751");
			}
			break;
		case 'N':
			if (have_name) {
				return fail(&x, "option %s given twice (-N/--name may be given once)", name);
			}
			if (!backend_valid_qube_name(optarg)) {
				return bad_value(&x, name, optarg, "a qube name: 1..31 letters, digits, _ . -, starting "
						"with a letter, not ending in -dm, not none/default/Domain-0");
			}
			strcpy(cl.vmname, optarg); /* < 32 bytes: checked above */
			have_name = true;
			break;
		case 'c':
			if (check_color(optarg, cl.color, sizeof(cl.color)) != 0) {
				return bad_value(&x, name, optarg, "0xRRGGBB or an X colour name");
			}
			break;
		case 'l':
			if (parse_ulong(optarg, 0, 0xffffffffUL, &v) != 0) {
				return bad_value(&x, name, optarg, "a label index 0..4294967295");
			}
			cl.label_index = (unsigned)v;
			break;
		case 'i':
			if (!no_controls(optarg) || copy_str(cl.icon, sizeof(cl.icon), optarg) != 0) {
				return bad_value(&x, name, optarg, "an icon name or path of at most 255 bytes");
			}
			break;
		case 'v':
			nverbose++;
			break;
		case 'q':
			nquiet++;
			break;
		case 'Q':
			cl.qrexec_clipboard = true;
			break;
		case 'n':
			cl.background = true;
			break;
		case 'f':
			cl.foreground = true;
			break;
		case 'I':
			cl.invisible = true;
			break;
		case 'K':
			if (parse_ulong(optarg, 1, INT_MAX, &v) != 0) {
				return bad_value(&x, name, optarg, "a process id > 0");
			}
			cl.kill_on_connect = (pid_t)v;
			break;
		case 'p':
			if (cl.nprops >= GD_MAX_PROPS) {
				return fail(&x, "too many %s options (at most %d)", name, GD_MAX_PROPS);
			}
			if (parse_prop(optarg, &cl.props[cl.nprops]) != 0) {
				return bad_value(&x, name, optarg, "NAME=TYPE:VALUE with TYPE s, a or c; NAME 1..63 "
						"printable bytes; c: comma-separated decimal cardinals");
			}
			cl.nprops++;
			break;
		case 'T':
			cl.title_prefix = true;
			break;
		case 'h':
			config_usage(stdout);
			fflush(stdout);
			return CONFIG_HELP;
		case OPT_VERSION:
			qgui_version_print(stdout, "gui-daemon");
			return CONFIG_VERSION;
		case OPT_TRAY:
			if (config_parse_tray_mode(optarg, &cl.tray_mode, &cl.tray_mods) != 0) {
				return bad_value(&x, name, optarg,
						"bg, border1, border2 or tint[+border1|+border2|+saturation50|+whitehack]");
			}
			given |= GIVEN_TRAY;
			break;
		case OPT_SCREENSAVER:
			if (!screensavers_given) {
				cl.nscreensavers = 0; /* the first one replaces the default */
				screensavers_given = true;
			}
			if (cl.nscreensavers >= GD_MAX_SCREENSAVERS) {
				return fail(&x, "too many %s options (at most %d)", name, GD_MAX_SCREENSAVERS);
			}
			if (*optarg == '\0' || !printable_ascii(optarg) ||
					copy_str(cl.screensaver_names[cl.nscreensavers], sizeof(cl.screensaver_names[0]),
							optarg) != 0) {
				return bad_value(&x, name, optarg, "a window class name of 1..63 printable bytes");
			}
			cl.nscreensavers++;
			break;
		case OPT_MAX_CLIP:
			if (parse_ulong(optarg, MIN_CLIPBOARD_BUFFER_SIZE, MAX_CLIPBOARD_BUFFER_SIZE, &v) != 0) {
				return bad_value(&x, name, optarg, "256..256000");
			}
			cl.max_clipboard_size = (uint32_t)v;
			given |= GIVEN_MAX_CLIP;
			break;
		case OPT_OVERRIDE_REDIRECT:
			if (parse_override_redirect(optarg, &cl.override_redirect_allowed) != 0) {
				return bad_value(&x, name, optarg, "allow, disabled or disable");
			}
			given |= GIVEN_OVERRIDE_REDIRECT;
			break;
		case OPT_BORDER_WIDTH:
			if (parse_ulong(optarg, 0, MAX_BORDER_WIDTH, &v) != 0) {
				return bad_value(&x, name, optarg, "0..32");
			}
			cl.border_width = (unsigned)v;
			given |= GIVEN_BORDER_WIDTH;
			break;
		case OPT_PASTE_POLICY:
			if (check_paste_policy(optarg, cl.paste_policy_command, sizeof(cl.paste_policy_command)) != 0) {
				return bad_value(&x, name, optarg,
						"a command line of at most 511 bytes without control characters");
			}
			given |= GIVEN_PASTE_POLICY;
			break;
		case OPT_CLIPBOARD_DIR:
			if (check_clipboard_dir(optarg, cl.clipboard_dir, sizeof(cl.clipboard_dir)) != 0) {
				return bad_value(&x, name, optarg, "an absolute path of at most 255 bytes");
			}
			given |= GIVEN_CLIPBOARD_DIR;
			break;
		case OPT_TRANSPORT:
			if (backend_parse(optarg, &cl.backend) != 0) {
				return bad_value(&x, name, optarg, "xen, socket or auto");
			}
			break;
		case 'a':
			/* in qubes-guid's getopt string, but never handled there either */
			return fail(&x, "option -a is not supported");
		case ':':
		default: { /* '?': unknown, ambiguous or given a value it does not take */
			const char *elem = before < argc ? argv[before] : "";
			const char *what = opt == ':' ? "missing value for option" : "unknown or misused option";
			char buf[SHOWN_MAX + 4];

			if (strncmp(elem, "--", 2) != 0 && optopt > 0x20 && optopt < 0x7f) {
				return fail(&x, "%s -%c", what, optopt);
			}
			return fail(&x, "%s '%s'", what, shown(buf, sizeof(buf), elem));
		}
		}
	}
	if (optind < argc) {
		char buf[SHOWN_MAX + 4];

		return fail(&x, "unexpected argument '%s' (no non-option arguments are taken)",
				shown(buf, sizeof(buf), argv[optind]));
	}
	if (!have_domid) {
		return fail(&x, "missing -d (domain id)");
	}
	if (!have_name) {
		return fail(&x, "missing -N (qube name)");
	}

	/* the file first ... */
	config_defaults(c);
	r = load_file(&x, c, cl.config_path);
	if (r != CONFIG_OK) {
		return r;
	}

	/* ... then the command line on top of it */
	memcpy(c->config_path, cl.config_path, sizeof(c->config_path));
	c->domid = cl.domid;
	c->target_domid = cl.target_domid >= 0 ? cl.target_domid : cl.domid;
	memcpy(c->vmname, cl.vmname, sizeof(c->vmname));
	memcpy(c->color, cl.color, sizeof(c->color));
	c->label_index = cl.label_index;
	memcpy(c->icon, cl.icon, sizeof(c->icon));
	level = 1 + nverbose - nquiet;
	c->log_level = level < 0 ? 0 : level > 2 ? 2 : level;
	c->qrexec_clipboard = cl.qrexec_clipboard;
	c->background = cl.background;
	c->foreground = cl.foreground;
	c->invisible = cl.invisible;
	c->kill_on_connect = cl.foreground ? 0 : cl.kill_on_connect;
	memcpy(c->props, cl.props, sizeof(c->props));
	c->nprops = cl.nprops;
	c->title_prefix = cl.title_prefix;
	c->backend = cl.backend;
	memcpy(c->screensaver_names, cl.screensaver_names, sizeof(c->screensaver_names));
	c->nscreensavers = cl.nscreensavers;
	if (cl.background) {
		c->startup_timeout = 0;
	}
	if (given & GIVEN_TRAY) {
		c->tray_mode = cl.tray_mode;
		c->tray_mods = cl.tray_mods;
	}
	if (given & GIVEN_MAX_CLIP) {
		c->max_clipboard_size = cl.max_clipboard_size;
	}
	if (given & GIVEN_OVERRIDE_REDIRECT) {
		c->override_redirect_allowed = cl.override_redirect_allowed;
	}
	if (given & GIVEN_BORDER_WIDTH) {
		c->border_width = cl.border_width;
	}
	if (given & GIVEN_PASTE_POLICY) {
		memcpy(c->paste_policy_command, cl.paste_policy_command, sizeof(c->paste_policy_command));
	}
	if (given & GIVEN_CLIPBOARD_DIR) {
		memcpy(c->clipboard_dir, cl.clipboard_dir, sizeof(c->clipboard_dir));
	}
	return CONFIG_OK;
}

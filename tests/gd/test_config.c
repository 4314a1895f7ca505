/* test_config.c: gui-daemon's qubes-guid command line and guid.conf parsing (gui-daemon/config.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <X11/X.h>
#include <X11/keysym.h>

#include "config.h"
#include "qgui/log.h"
#include "test.h"

#define MAXARGS 64
#define CS (ControlMask | ShiftMask)

/* Runs config_parse on "gui-daemon" + args (NULL-terminated), on private copies of the strings. */
static enum config_result run(struct gd_config *c, char *err, size_t errlen, const char *const *args)
{
	char *argv[MAXARGS + 2];
	int argc = 0;
	enum config_result r;

	argv[argc++] = strdup("gui-daemon");
	for (size_t i = 0; args[i] != NULL && argc < MAXARGS + 1; i++) {
		argv[argc++] = strdup(args[i]);
	}
	argv[argc] = NULL;
	log_set_level(LOG_LVL_ERROR); /* keep "cannot open config file" notes out of the test log */
	memset(c, 0xa5, sizeof(*c)); /* nothing may depend on the caller's contents */
	r = config_parse(c, argc, argv, err, errlen);
	for (int i = 0; i < argc; i++) {
		free(argv[i]);
	}
	return r;
}

#define PARSE(c, ...) run((c), err, sizeof(err), (const char *const[]){ __VA_ARGS__, NULL })

/* A config path that does not exist, so that the host's /etc/qubes/guid.conf never matters. */
static const char *nofile(void)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s/absent.conf", test_tmpdir());
	return path;
}

#define BASE "-d", "5", "-N", "work", "-C", nofile()

/* Writes text to <tmpdir>/name and returns its path in buf. */
static const char *write_conf(char *buf, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(buf, len, "%s/%s", test_tmpdir(), name);
	f = fopen(buf, "w");
	if (f == NULL) {
		return NULL;
	}
	fputs(text, f);
	fclose(f);
	return buf;
}

static bool has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static bool all_printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
			return false;
		}
	}
	return true;
}

/* Checks everything config_defaults() promises (except the command-line-only identity fields). */
static void check_file_defaults(const struct gd_config *c)
{
	T_EQ(c->allow_fullscreen, false);
	T_EQ(c->override_redirect_protection, true);
	T_EQ(c->override_redirect_allowed, true);
	T_EQ(c->allow_utf8_titles, false);
	T_EQ_U(c->copy_seq.mask, CS);
	T_EQ_U(c->copy_seq.keysym, XK_c);
	T_EQ_U(c->paste_seq.mask, CS);
	T_EQ_U(c->paste_seq.keysym, XK_v);
	T_EQ(c->max_clipboard_size, 64000);
	T_EQ(c->tray_mode, TRAY_TINT);
	T_EQ(c->tray_mods, 0);
	T_STR(c->window_background_color, "white");
	T_EQ(c->startup_timeout, 45);
	T_EQ(c->events_max_delay, 0);
	T_EQ(c->border_width, 2);
	T_EQ(c->x_work_rate, 20000);
	T_EQ(c->max_image_memory, 0);
	T_STR(c->paste_policy_command, "");
	T_STR(c->clipboard_dir, "/var/run/qubes");
}

/* ------------------------------------------------------------------ defaults and options */

static void defaults(void)
{
	struct gd_config c;

	memset(&c, 0x5a, sizeof(c));
	config_defaults(&c);
	T_EQ(c.domid, -1);
	T_EQ(c.target_domid, -1);
	T_STR(c.vmname, "");
	T_STR(c.color, "red");
	T_EQ(c.label_index, 0);
	T_STR(c.icon, "");
	T_EQ(c.log_level, 1);
	T_EQ(c.qrexec_clipboard, false);
	T_EQ(c.background, false);
	T_EQ(c.foreground, false);
	T_EQ(c.invisible, false);
	T_EQ(c.kill_on_connect, 0);
	T_EQ(c.nprops, 0);
	T_EQ(c.title_prefix, false);
	T_STR(c.config_path, "/etc/qubes/guid.conf");
	T_EQ(c.backend, QGUI_BACKEND_AUTO);
	T_EQ(c.nscreensavers, 1);
	T_STR(c.screensaver_names[0], "xscreensaver");
	check_file_defaults(&c);
}

static void minimal_command_line(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, BASE), CONFIG_OK);
	T_EQ(c.domid, 5);
	T_EQ(c.target_domid, 5);
	T_STR(c.vmname, "work");
	T_STR(c.config_path, nofile());
	T_STR(c.color, "red");
	T_EQ(c.log_level, 1);
	T_EQ(c.nprops, 0);
	T_EQ(c.nscreensavers, 1);
	T_STR(c.screensaver_names[0], "xscreensaver");
	T_EQ(c.backend, QGUI_BACKEND_AUTO);
	check_file_defaults(&c);
}

static void short_options(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, "-C", nofile(), "-d", "12", "-t", "11", "-N", "personal", "-c", "orange", "-l", "4", "-i",
			     "appvm-orange", "-v", "-Q", "-n", "-I", "-K", "999", "-p", "_A=s:hello", "-p",
			     "_B=a:ATOM_NAME", "-p", "_C=c:1,2,4294967295", "-T"),
			CONFIG_OK);
	T_STR(c.config_path, nofile());
	T_EQ(c.domid, 12);
	T_EQ(c.target_domid, 11);
	T_STR(c.vmname, "personal");
	T_STR(c.color, "orange");
	T_EQ(c.label_index, 4);
	T_STR(c.icon, "appvm-orange");
	T_EQ(c.log_level, 2);
	T_EQ(c.qrexec_clipboard, true);
	T_EQ(c.background, true);
	T_EQ(c.startup_timeout, 0); /* -n */
	T_EQ(c.foreground, false);
	T_EQ(c.invisible, true);
	T_EQ(c.kill_on_connect, 999);
	T_EQ(c.nprops, 3);
	T_STR(c.props[0].name, "_A");
	T_EQ(c.props[0].type, 's');
	T_STR(c.props[0].value, "hello");
	T_STR(c.props[1].name, "_B");
	T_EQ(c.props[1].type, 'a');
	T_STR(c.props[1].value, "ATOM_NAME");
	T_STR(c.props[2].name, "_C");
	T_EQ(c.props[2].type, 'c');
	T_STR(c.props[2].value, "1,2,4294967295");
	T_EQ(c.title_prefix, true);

	/* -f, -q, clustered flags and attached values */
	T_EQ(PARSE(&c, "-C", nofile(), "-d5", "-Nwork", "-fqQ"), CONFIG_OK);
	T_EQ(c.domid, 5);
	T_STR(c.vmname, "work");
	T_EQ(c.foreground, true);
	T_EQ(c.log_level, 0);
	T_EQ(c.qrexec_clipboard, true);
	T_EQ(c.startup_timeout, 45);
}

static void long_options(void)
{
	struct gd_config c;
	char err[256];
	char conf[320];

	snprintf(conf, sizeof(conf), "--config=%s", nofile());
	T_EQ(PARSE(&c, conf, "--domid=12", "--target-domid=11", "--name=personal", "--color=0x00AAff", "--label=4",
			     "--icon=/usr/share/icons/x.png", "--verbose", "--qrexec-for-clipboard", "--background",
			     "--invisible", "--kill-on-connect=999", "--prop=_A=s:hello", "--title-name",
			     "--trayicon-mode=tint+border2", "--screensaver-name=kscreensaver",
			     "--screensaver-name", "gnome-screensaver", "--max-clipboard-size=256000",
			     "--override-redirect=disabled", "--border-width=0", "--paste-policy-command=/bin/ask --x",
			     "--clipboard-dir=/run/clip", "--transport=socket"),
			CONFIG_OK);
	T_STR(c.config_path, nofile());
	T_EQ(c.domid, 12);
	T_EQ(c.target_domid, 11);
	T_STR(c.vmname, "personal");
	T_STR(c.color, "0x00AAff");
	T_EQ(c.label_index, 4);
	T_STR(c.icon, "/usr/share/icons/x.png");
	T_EQ(c.log_level, 2);
	T_EQ(c.qrexec_clipboard, true);
	T_EQ(c.background, true);
	T_EQ(c.startup_timeout, 0);
	T_EQ(c.invisible, true);
	T_EQ(c.kill_on_connect, 999);
	T_EQ(c.nprops, 1);
	T_STR(c.props[0].name, "_A");
	T_EQ(c.title_prefix, true);
	T_EQ(c.tray_mode, TRAY_TINT);
	T_EQ(c.tray_mods, TRAY_MOD_BORDER2);
	T_EQ(c.nscreensavers, 2);
	T_STR(c.screensaver_names[0], "kscreensaver");
	T_STR(c.screensaver_names[1], "gnome-screensaver");
	T_EQ(c.max_clipboard_size, 256000);
	T_EQ(c.override_redirect_allowed, false);
	T_EQ(c.border_width, 0);
	T_STR(c.paste_policy_command, "/bin/ask --x");
	T_STR(c.clipboard_dir, "/run/clip");
	T_EQ(c.backend, QGUI_BACKEND_SOCKET);

	T_EQ(PARSE(&c, "--domid", "3", "--name", "work", "--config", nofile(), "--foreground", "--quiet",
			     "--override-redirect=disable", "--override-redirect=allow", "--transport=xen",
			     "--max-clipboard-size=256", "--border-width=32", "--trayicon-mode=bg"),
			CONFIG_OK);
	T_EQ(c.foreground, true);
	T_EQ(c.log_level, 0);
	T_EQ(c.override_redirect_allowed, true); /* the last one wins */
	T_EQ(c.backend, QGUI_BACKEND_XEN);
	T_EQ(c.max_clipboard_size, 256);
	T_EQ(c.border_width, 32);
	T_EQ(c.tray_mode, TRAY_BG);
	T_EQ(PARSE(&c, BASE, "--override-redirect=disable"), CONFIG_OK);
	T_EQ(c.override_redirect_allowed, false);
	T_EQ(PARSE(&c, BASE, "--transport=auto"), CONFIG_OK);
	T_EQ(c.backend, QGUI_BACKEND_AUTO);
}

static void verbosity(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, BASE), CONFIG_OK);
	T_EQ(c.log_level, 1);
	T_EQ(PARSE(&c, BASE, "-v"), CONFIG_OK);
	T_EQ(c.log_level, 2);
	T_EQ(PARSE(&c, BASE, "-v", "-v", "-v"), CONFIG_OK);
	T_EQ(c.log_level, 2);
	T_EQ(PARSE(&c, BASE, "-q"), CONFIG_OK);
	T_EQ(c.log_level, 0);
	T_EQ(PARSE(&c, BASE, "-qqq"), CONFIG_OK);
	T_EQ(c.log_level, 0);
	/* 1 + 1 - 2, then clamped: the count is what matters, not the order */
	T_EQ(PARSE(&c, BASE, "-q", "-q", "-v"), CONFIG_OK);
	T_EQ(c.log_level, 0);
	T_EQ(PARSE(&c, BASE, "-v", "-q"), CONFIG_OK);
	T_EQ(c.log_level, 1);
	T_EQ(PARSE(&c, BASE, "--verbose", "-vq", "--quiet", "-v"), CONFIG_OK);
	T_EQ(c.log_level, 2);
}

static void foreground_clears_kill(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, BASE, "-K", "77"), CONFIG_OK);
	T_EQ(c.kill_on_connect, 77);
	T_EQ(PARSE(&c, BASE, "-K", "77", "-f"), CONFIG_OK);
	T_EQ(c.kill_on_connect, 0);
	T_EQ(c.foreground, true);
	T_EQ(PARSE(&c, BASE, "-f", "-K", "77"), CONFIG_OK);
	T_EQ(c.kill_on_connect, 0);
}

static void screensavers_and_props_limits(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, BASE, "--screensaver-name=s1", "--screensaver-name=s2", "--screensaver-name=s3",
			     "--screensaver-name=s4", "--screensaver-name=s5", "--screensaver-name=s6",
			     "--screensaver-name=s7", "--screensaver-name=s8", "--screensaver-name=s9",
			     "--screensaver-name=s10"),
			CONFIG_OK);
	T_EQ(c.nscreensavers, 10);
	T_STR(c.screensaver_names[9], "s10");
	T_EQ(PARSE(&c, BASE, "--screensaver-name=s1", "--screensaver-name=s2", "--screensaver-name=s3",
			     "--screensaver-name=s4", "--screensaver-name=s5", "--screensaver-name=s6",
			     "--screensaver-name=s7", "--screensaver-name=s8", "--screensaver-name=s9",
			     "--screensaver-name=s10", "--screensaver-name=s11"),
			CONFIG_ERROR);
	T_ASSERT(has(err, "--screensaver-name"));
	T_EQ(PARSE(&c, BASE, "--screensaver-name="), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "--screensaver-name=a\tb"), CONFIG_ERROR);

	T_EQ(PARSE(&c, BASE, "-p", "P0=s:", "-p", "P1=s:x", "-p", "P2=s:x", "-p", "P3=s:x", "-p", "P4=s:x", "-p",
			     "P5=s:x", "-p", "P6=s:x", "-p", "P7=s:x", "-p", "P8=s:x", "-p", "P9=s:x"),
			CONFIG_OK);
	T_EQ(c.nprops, 10);
	T_STR(c.props[0].value, "");
	T_STR(c.props[9].name, "P9");
	T_EQ(PARSE(&c, BASE, "-p", "P0=s:", "-p", "P1=s:x", "-p", "P2=s:x", "-p", "P3=s:x", "-p", "P4=s:x", "-p",
			     "P5=s:x", "-p", "P6=s:x", "-p", "P7=s:x", "-p", "P8=s:x", "-p", "P9=s:x", "-p",
			     "P10=s:x"),
			CONFIG_ERROR);
	T_ASSERT(has(err, "-p"));
	T_ASSERT(has(err, "10"));
}

/* ------------------------------------------------------------------ qvm-start-daemon */

/* What qvm-start-daemon writes to /var/run/qubes/guid-conf.<xid> (booleans, quoted strings, ints). */
static const char qvm_conf[] = "global: {\n"
			       "  allow_fullscreen = true;\n"
			       "  override_redirect_protection = true;\n"
			       "  override_redirect = \"disable\";\n"
			       "  allow_utf8_titles = false;\n"
			       "  secure_copy_sequence = \"Ctrl-Shift-c\";\n"
			       "  secure_paste_sequence = \"Ctrl-Shift-v\";\n"
			       "  windows_count_limit = 500;\n"
			       "  trayicon_mode = \"tint+whitehack\";\n"
			       "  window_background_color = \"0x222222\";\n"
			       "  startup_timeout = 45;\n"
			       "  max_clipboard_size = 65000;\n"
			       "};\n";

static void qvm_start_daemon_appvm(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "guid-conf.5", qvm_conf) != NULL);
	T_EQ(PARSE(&c, "-N", "work", "-c", "0x73d216", "-i",
			     "/usr/share/icons/hicolor/128x128/devices/appvm-green.png", "-l", "3", "-q", "-Q", "-C", path,
			     "-d", "5"),
			CONFIG_OK);
	T_STR(c.vmname, "work");
	T_STR(c.color, "0x73d216");
	T_STR(c.icon, "/usr/share/icons/hicolor/128x128/devices/appvm-green.png");
	T_EQ(c.label_index, 3);
	T_EQ(c.log_level, 0);
	T_EQ(c.qrexec_clipboard, true);
	T_STR(c.config_path, path);
	T_EQ(c.domid, 5);
	T_EQ(c.target_domid, 5);
	T_EQ(c.allow_fullscreen, true);
	T_EQ(c.override_redirect_allowed, false);
	T_EQ(c.tray_mode, TRAY_TINT);
	T_EQ(c.tray_mods, TRAY_MOD_WHITEHACK);
	T_STR(c.window_background_color, "0x222222");
	T_EQ(c.startup_timeout, 45);
	T_EQ(c.max_clipboard_size, 65000);
	T_EQ(c.background, false);
	T_EQ(c.kill_on_connect, 0);

	/* a debug qube: -v -v */
	T_EQ(PARSE(&c, "-N", "work", "-c", "0x73d216", "-i",
			     "/usr/share/icons/hicolor/128x128/devices/appvm-green.png", "-l", "3", "-v", "-v", "-C", path,
			     "-d", "5"),
			CONFIG_OK);
	T_EQ(c.log_level, 2);
	T_EQ(c.qrexec_clipboard, false);
}

static void qvm_start_daemon_hvm(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "guid-conf.9", qvm_conf) != NULL);
	T_EQ(PARSE(&c, "-N", "win10", "-c", "0xcc0000", "-i", "/usr/share/icons/hicolor/128x128/devices/appvm-red.png",
			     "-l", "1", "-q", "-C", path, "-d", "9", "-n", "-K", "1234"),
			CONFIG_OK);
	T_STR(c.vmname, "win10");
	T_EQ(c.domid, 9);
	T_EQ(c.target_domid, 9);
	T_EQ(c.background, true);
	T_EQ(c.startup_timeout, 0); /* -n beats the file's 45 */
	T_EQ(c.kill_on_connect, 1234);
	T_EQ(c.foreground, false);
}

static void qvm_start_daemon_stubdomain(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "guid-conf.6", qvm_conf) != NULL);
	T_EQ(PARSE(&c, "-N", "win10", "-c", "0xcc0000", "-i", "/usr/share/icons/hicolor/128x128/devices/appvm-red.png",
			     "-l", "1", "-q", "-C", path, "-d", "7", "-t", "6"),
			CONFIG_OK);
	T_EQ(c.domid, 7);
	T_EQ(c.target_domid, 6);
	T_STR(c.vmname, "win10");
}

static void qvm_start_daemon_kde(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "guid-conf.8", qvm_conf) != NULL);
	T_EQ(PARSE(&c, "-N", "work", "-c", "0x73d216", "-i",
			     "/usr/share/icons/hicolor/128x128/devices/appvm-green.png", "-l", "3", "-q", "-T", "-p",
			     "_KDE_NET_WM_COLOR_SCHEME=s:/home/user/.local/share/qubes-kde/green.colors", "-C", path, "-d",
			     "8"),
			CONFIG_OK);
	T_EQ(c.title_prefix, true);
	T_EQ(c.nprops, 1);
	T_STR(c.props[0].name, "_KDE_NET_WM_COLOR_SCHEME");
	T_EQ(c.props[0].type, 's');
	T_STR(c.props[0].value, "/home/user/.local/share/qubes-kde/green.colors");
	T_EQ(c.domid, 8);
}

/* ------------------------------------------------------------------ rejections */

static void required_options(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, "-N", "work", "-C", nofile()), CONFIG_ERROR);
	T_ASSERT(has(err, "-d"));
	T_EQ(PARSE(&c, "-d", "5", "-C", nofile()), CONFIG_ERROR);
	T_ASSERT(has(err, "-N"));
	T_EQ(run(&c, err, sizeof(err), (const char *const[]){ NULL }), CONFIG_ERROR);
	T_ASSERT(err[0] != '\0');
}

static void bad_domids(void)
{
	static const char *bad[] = { "0", "-1", "32752", "12x", "", "+5", "05", "0x10", " 5", "99999999999" };
	struct gd_config c;
	char err[256];
	char want[100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "-d", bad[i]), CONFIG_ERROR);
		snprintf(want, sizeof(want), "invalid value for -d: '%s' (expected a domain id 1..32751)", bad[i]);
		T_STR(err, want);
		T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "-t", bad[i], "-d", "5"), CONFIG_ERROR);
		T_ASSERT(has(err, "-t"));
	}
	T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "--domid=0"), CONFIG_ERROR);
	T_STR(err, "invalid value for --domid: '0' (expected a domain id 1..32751)");
	T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "-d", "32751"), CONFIG_OK);
	T_EQ(c.domid, 32751);
	/* given twice, even with the same value or in the long form */
	T_EQ(PARSE(&c, BASE, "-d", "6"), CONFIG_ERROR);
	T_ASSERT(has(err, "twice"));
	T_EQ(PARSE(&c, BASE, "-d", "5"), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "--domid=7"), CONFIG_ERROR);
	T_ASSERT(has(err, "--domid"));
}

static void qube_names(void)
{
	static const char *good[] = { "a", "work", "sys-net", "disp1234", "a.b_c-d", "Z9", "dm", "a-d", "ab-dmx",
		"None", "Default", "domain-0", "Domain-00", "nonex", "defaults", "A234567890123456789012345678901",
		"a..", "x-", "work-DM" };
	static const char *bad[] = { "", "1work", "_x", "-work", ".", "..", ".hidden", "work!", "a b", "w\xc3\xb6rk",
		"A2345678901234567890123456789012", "work-dm", "a-dm", "x.-dm", "none", "default", "Domain-0",
		"work/x", "work\n", "wo:rk" };
	struct gd_config c;
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!backend_valid_qube_name(good[i])) {
			test_fail(__FILE__, __LINE__, "valid name '%s' rejected", good[i]);
			return;
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (backend_valid_qube_name(bad[i])) {
			test_fail(__FILE__, __LINE__, "invalid name '%s' accepted", bad[i]);
			return;
		}
		T_EQ(PARSE(&c, "-d", "5", "-C", nofile(), "-N", bad[i]), CONFIG_ERROR);
		T_ASSERT(has(err, "invalid value for -N: '"));
		T_ASSERT(all_printable(err));
	}
	T_EQ(backend_valid_qube_name(NULL), false);
	T_EQ(PARSE(&c, "-d", "5", "-C", nofile(), "--name=none"), CONFIG_ERROR);
	T_ASSERT(has(err, "--name"));
	T_EQ(PARSE(&c, "-d", "5", "-C", nofile(), "-N", "A234567890123456789012345678901"), CONFIG_OK);
	T_STR(c.vmname, "A234567890123456789012345678901");
	T_EQ(PARSE(&c, BASE, "-N", "other"), CONFIG_ERROR); /* -N twice */
	T_ASSERT(has(err, "twice"));
}

static void unknown_and_extra_arguments(void)
{
	struct gd_config c;
	char err[256];

	T_EQ(PARSE(&c, BASE, "-x"), CONFIG_ERROR);
	T_STR(err, "unknown or misused option -x");
	T_EQ(PARSE(&c, BASE, "-vx"), CONFIG_ERROR);
	T_STR(err, "unknown or misused option -x");
	T_EQ(PARSE(&c, "--name=work", "-d", "5", "-xv"), CONFIG_ERROR);
	T_STR(err, "unknown or misused option -x");
	T_EQ(PARSE(&c, BASE, "--bogus"), CONFIG_ERROR);
	T_STR(err, "unknown or misused option '--bogus'");
	T_EQ(PARSE(&c, BASE, "--bogus=1"), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "--help=1"), CONFIG_ERROR);
	T_STR(err, "unknown or misused option '--help=1'");
	T_EQ(PARSE(&c, BASE, "--version=1"), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "-a"), CONFIG_ERROR);
	T_ASSERT(has(err, "-a"));
	T_EQ(PARSE(&c, BASE, "foo"), CONFIG_ERROR);
	T_STR(err, "unexpected argument 'foo' (no non-option arguments are taken)");
	T_EQ(PARSE(&c, "foo", BASE), CONFIG_ERROR);
	T_ASSERT(has(err, "'foo'"));
	T_EQ(PARSE(&c, BASE, "--"), CONFIG_ERROR);
	T_ASSERT(has(err, "'--'"));
	T_EQ(PARSE(&c, "--", BASE), CONFIG_ERROR);
	T_ASSERT(has(err, "'--'"));
	T_EQ(PARSE(&c, BASE, "--", "-v"), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "-"), CONFIG_ERROR); /* a lone "-" is a non-option argument */
	/* missing values */
	T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "-d"), CONFIG_ERROR);
	T_STR(err, "missing value for option -d");
	T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "--domid"), CONFIG_ERROR);
	T_STR(err, "missing value for option '--domid'");
	T_EQ(PARSE(&c, BASE, "--trayicon-mode"), CONFIG_ERROR);
	T_STR(err, "missing value for option '--trayicon-mode'");
	/* an option's value that looks like "--" is taken as the value, not as the end of options */
	T_EQ(PARSE(&c, BASE, "-l", "--"), CONFIG_ERROR);
	T_STR(err, "invalid value for -l: '--' (expected a label index 0..4294967295)");
	/* an ambiguous abbreviation (--co: --config or --color) */
	T_EQ(PARSE(&c, BASE, "--co=red"), CONFIG_ERROR);
	/* an unambiguous abbreviation is fine (getopt_long, as qubes-guid) */
	T_EQ(PARSE(&c, BASE, "--verb"), CONFIG_OK);
	T_EQ(c.log_level, 2);
}

static void bad_option_values(void)
{
	static const struct {
		const char *opt, *val;
	} bad[] = {
		{ "-c", "" },
		{ "-c", "0x12345" },
		{ "-c", "0x1234567" },
		{ "-c", "0xgggggg" },
		{ "-c", "re\nd" },
		{ "-l", "" },
		{ "-l", "abc" },
		{ "-l", "-1" },
		{ "-l", "4294967296" },
		{ "-K", "0" },
		{ "-K", "-5" },
		{ "-K", "abc" },
		{ "-K", "12x" },
		{ "-K", "99999999999" },
		{ "-C", "" },
		{ "-i", "a\tb" },
		{ "--max-clipboard-size", "10" },
		{ "--max-clipboard-size", "255" },
		{ "--max-clipboard-size", "256001" },
		{ "--max-clipboard-size", "" },
		{ "--max-clipboard-size", "-1" },
		{ "--max-clipboard-size", "64k" },
		{ "--max-clipboard-size", "99999999999999999999999" },
		{ "--trayicon-mode", "" },
		{ "--trayicon-mode", "tin" },
		{ "--trayicon-mode", "TINT" },
		{ "--trayicon-mode", "bg+border1" },
		{ "--trayicon-mode", "tint+" },
		{ "--trayicon-mode", "tint+border3" },
		{ "--override-redirect", "" },
		{ "--override-redirect", "Allow" },
		{ "--override-redirect", "enable" },
		{ "--override-redirect", "disabled " },
		{ "--override-redirect", "deny" },
		{ "--transport", "" },
		{ "--transport", "XEN" },
		{ "--transport", "vchan" },
		{ "--border-width", "33" },
		{ "--border-width", "-1" },
		{ "--border-width", "" },
		{ "--border-width", "2x" },
		{ "--clipboard-dir", "" },
		{ "--clipboard-dir", "relative/dir" },
		{ "--paste-policy-command", "a\nb" },
	};
	struct gd_config c;
	char err[256];
	char opt[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *name = bad[i].opt;
		char want[200];

		if (name[1] == '-') {
			snprintf(opt, sizeof(opt), "%s=%s", name, bad[i].val);
			T_EQ(PARSE(&c, BASE, opt), CONFIG_ERROR);
		} else {
			T_EQ(PARSE(&c, BASE, name, bad[i].val), CONFIG_ERROR);
		}
		snprintf(want, sizeof(want), "invalid value for %s: '", name);
		if (strncmp(err, want, strlen(want)) != 0) {
			test_fail(__FILE__, __LINE__, "%s '%s': err '%s'", name, bad[i].val, err);
			return;
		}
		T_ASSERT(all_printable(err));
	}
	T_EQ(PARSE(&c, BASE, "--max-clipboard-size=10"), CONFIG_ERROR);
	T_STR(err, "invalid value for --max-clipboard-size: '10' (expected 256..256000)");
	T_EQ(PARSE(&c, BASE, "--max-clipboard-size", "256001"), CONFIG_ERROR);
	T_STR(err, "invalid value for --max-clipboard-size: '256001' (expected 256..256000)");
	T_EQ(PARSE(&c, BASE, "--border-width=33"), CONFIG_ERROR);
	T_STR(err, "invalid value for --border-width: '33' (expected 0..32)");
	T_EQ(PARSE(&c, BASE, "--transport=vchan"), CONFIG_ERROR);
	T_STR(err, "invalid value for --transport: 'vchan' (expected xen, socket or auto)");
	T_EQ(PARSE(&c, BASE, "--override-redirect=deny"), CONFIG_ERROR);
	T_STR(err, "invalid value for --override-redirect: 'deny' (expected allow, disabled or disable)");
	/* valid edge values */
	T_EQ(PARSE(&c, BASE, "-l", "4294967295", "-K", "2147483647", "-c", "0xABCDEF", "-i", ""), CONFIG_OK);
	T_EQ(c.label_index, 4294967295u);
	T_EQ(c.kill_on_connect, 2147483647);
	T_STR(c.color, "0xABCDEF");
	T_STR(c.icon, "");
}

static void bad_props(void)
{
	static const char *bad[] = {
		"noequals", "=s:x", "N=x:v", "N=s", "N=sx", "N=", "N=S:x", "N=c:", "N=c:1,,2", "N=c:1,", "N=c:,1",
		"N=c:a", "N=c:-1", "N=c:+1", "N=c:1 ", "N=c:4294967296", "N=c:99999999999999999999", "N=a:",
		"N=a:\xc3\xa9", "N\x01=s:x", "N\xc3\xa9=s:x", "N=s:a\nb",
		"A234567890123456789012345678901234567890123456789012345678901234=s:x", /* 64-byte name */
	};
	struct gd_config c;
	char err[256];
	char longval[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ(PARSE(&c, BASE, "-p", bad[i]), CONFIG_ERROR);
		T_ASSERT(has(err, "invalid value for -p: '"));
		T_ASSERT(all_printable(err));
	}
	T_EQ(PARSE(&c, BASE, "--prop=N=q:x"), CONFIG_ERROR);
	T_ASSERT(has(err, "--prop"));
	/* a 255-byte value fits, 256 does not (an error, never cut) */
	memset(longval, 'v', sizeof(longval));
	memcpy(longval, "N=s:", 4);
	longval[4 + 255] = '\0';
	T_EQ(PARSE(&c, BASE, "-p", longval), CONFIG_OK);
	T_EQ(strlen(c.props[0].value), 255);
	longval[4 + 255] = 'v';
	longval[4 + 256] = '\0';
	T_EQ(PARSE(&c, BASE, "-p", longval), CONFIG_ERROR);
	/* 63-byte name fits */
	T_EQ(PARSE(&c, BASE, "-p", "A23456789012345678901234567890123456789012345678901234567890123=c:0"), CONFIG_OK);
	T_EQ(strlen(c.props[0].name), 63);
	/* names may hold '=' only as the separator: the first '=' splits */
	T_EQ(PARSE(&c, BASE, "-p", "N=s:a=b:c"), CONFIG_OK);
	T_STR(c.props[0].name, "N");
	T_STR(c.props[0].value, "a=b:c");
	T_EQ(PARSE(&c, BASE, "-p", "N=c:0,4294967295,007"), CONFIG_OK);
	T_EQ(c.props[0].type, 'c');
}

static void too_long_values_are_errors(void)
{
	struct gd_config c;
	char err[256];
	char buf[600];

	memset(buf, 'x', sizeof(buf));
	buf[0] = '/';
	buf[256] = '\0'; /* 256 bytes: one too many for config_path, icon, clipboard_dir */
	T_EQ(PARSE(&c, BASE, "-C", buf), CONFIG_ERROR);
	T_ASSERT(has(err, "-C"));
	T_EQ(PARSE(&c, BASE, "-i", buf), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "--clipboard-dir", buf), CONFIG_ERROR);
	buf[255] = '\0';
	T_EQ(PARSE(&c, BASE, "-i", buf), CONFIG_OK);
	T_EQ(strlen(c.icon), 255);
	memset(buf, 'x', sizeof(buf));
	buf[512] = '\0';
	T_EQ(PARSE(&c, BASE, "--paste-policy-command", buf), CONFIG_ERROR);
	buf[511] = '\0';
	T_EQ(PARSE(&c, BASE, "--paste-policy-command", buf), CONFIG_OK);
	T_EQ(strlen(c.paste_policy_command), 511);
	buf[64] = '\0';
	T_EQ(PARSE(&c, BASE, "-c", buf), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "--screensaver-name", buf), CONFIG_ERROR);
	buf[63] = '\0';
	T_EQ(PARSE(&c, BASE, "-c", buf), CONFIG_OK);
	T_EQ(PARSE(&c, BASE, "--screensaver-name", buf), CONFIG_OK);
}

static void error_lines_are_sanitised(void)
{
	struct gd_config c;
	char err[256];
	char small[24];
	char longval[400];

	T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "-d", "\x1b[31mred\xff\n"), CONFIG_ERROR);
	T_STR(err, "invalid value for -d: '?[31mred?" "?' (expected a domain id 1..32751)");
	memset(longval, '7', sizeof(longval));
	longval[sizeof(longval) - 1] = '\0';
	T_EQ(PARSE(&c, "-N", "work", "-C", nofile(), "-d", longval), CONFIG_ERROR);
	T_ASSERT(strlen(err) < 160);
	T_ASSERT(has(err, "...'"));
	T_EQ(PARSE(&c, BASE, "\x01\x02"), CONFIG_ERROR);
	T_ASSERT(all_printable(err));
	T_EQ(PARSE(&c, BASE, "--\x01"), CONFIG_ERROR);
	T_ASSERT(all_printable(err));
	/* a small err buffer is filled and terminated; a NULL one is allowed */
	memset(small, 'z', sizeof(small));
	T_EQ(run(&c, small, sizeof(small), (const char *const[]){ "-d", "0", NULL }), CONFIG_ERROR);
	T_EQ(strlen(small), sizeof(small) - 1);
	T_EQ(run(&c, NULL, 0, (const char *const[]){ "-N", "work", NULL }), CONFIG_ERROR);
}

static void repeated_calls(void)
{
	struct gd_config c;
	char err[256];

	/* an error in the middle of a cluster must not leak getopt state into the next call */
	T_EQ(PARSE(&c, BASE, "-vxq"), CONFIG_ERROR);
	T_EQ(PARSE(&c, BASE, "-q"), CONFIG_OK);
	T_EQ(c.log_level, 0);
	T_EQ(PARSE(&c, BASE, "-v"), CONFIG_OK);
	T_EQ(c.log_level, 2);
	T_EQ(PARSE(&c, BASE), CONFIG_OK);
	T_EQ(c.log_level, 1);
}

/* ------------------------------------------------------------------ --help and --version */

static int capture_begin(const char *path)
{
	int saved, fd;

	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved < 0 || fd < 0) {
		return -1;
	}
	dup2(fd, 1);
	close(fd);
	return saved;
}

static void capture_end(int saved)
{
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
}

static size_t slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

static void help_and_version(void)
{
	struct gd_config c;
	char err[256];
	char path[300];
	static char out[16384];
	int saved;
	enum config_result r;

	snprintf(path, sizeof(path), "%s/stdout.txt", test_tmpdir());
	saved = capture_begin(path);
	T_ASSERT(saved >= 0);
	r = PARSE(&c, "--help");
	capture_end(saved);
	T_EQ(r, CONFIG_HELP);
	slurp(path, out, sizeof(out));
	T_ASSERT(has(out, "Usage: gui-daemon -d domain_id -N domain_name"));
	T_ASSERT(has(out, "--override-redirect=allow|disabled|disable"));
	T_ASSERT(has(out, "--transport=xen|socket|auto"));
	T_ASSERT(has(out, "--border-width"));
	T_ASSERT(has(out, "log_level is read but has no effect"));

	saved = capture_begin(path);
	T_ASSERT(saved >= 0);
	r = PARSE(&c, "-h", "-d", "0"); /* help is acted on when met; later options are not examined */
	capture_end(saved);
	T_EQ(r, CONFIG_HELP);

	saved = capture_begin(path);
	T_ASSERT(saved >= 0);
	r = PARSE(&c, "--version");
	capture_end(saved);
	T_EQ(r, CONFIG_VERSION);
	slurp(path, out, sizeof(out));
	T_ASSERT(strncmp(out, "gui-daemon (guivm-stack) ", 25) == 0);
	T_ASSERT(strstr(out, ", Qubes GUI protocol 1.8\n") != NULL);

	/* an earlier bad option wins */
	T_EQ(PARSE(&c, "-d", "0", "--version"), CONFIG_ERROR);
	T_ASSERT(CONFIG_VERSION != CONFIG_ERROR && CONFIG_HELP != CONFIG_ERROR && CONFIG_ERROR == 2);

	/* config_usage on its own */
	{
		FILE *f = fopen(path, "w");

		T_ASSERT(f != NULL);
		config_usage(f);
		fclose(f);
		slurp(path, out, sizeof(out));
		T_ASSERT(has(out, "--screensaver-name"));
	}
}

/* ------------------------------------------------------------------ the config file */

static void file_every_key(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "all.conf",
				 "# every key, none at its default\n"
				 "global: {\n"
				 "  allow_fullscreen = true;\n"
				 "  override_redirect_protection = false;\n"
				 "  override_redirect = \"disabled\";\n"
				 "  allow_utf8_titles = true;\n"
				 "  secure_copy_sequence = \"Mod4-c\";\n"
				 "  secure_paste_sequence = \"Alt-Shift-Insert\";\n"
				 "  max_clipboard_size = 100000;\n"
				 "  trayicon_mode = \"border2\";\n"
				 "  window_background_color = \"black\";\n"
				 "  startup_timeout = 10;\n"
				 "  events_max_delay = 5000;\n"
				 "  log_level = 2;\n"
				 "  border_width = 5;\n"
				 "  max_image_memory = 512;\n"
				 "  x_work_rate = 0;\n"
				 "  paste_policy_command = \"/usr/lib/qgui/ask-paste\";\n"
				 "  clipboard_dir = \"/run/qubes-clip\";\n"
				 "  windows_count_limit = 100;\n"
				 "  subwindows = \"forbid\";\n"
				 "  audio_low_latency = true;\n"
				 "  some_future_key = [ 1, 2 ];\n"
				 "  nested = { a = 1; };\n"
				 "};\n"
				 "VM: { work: { allow_fullscreen = false; }; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ(c.allow_fullscreen, true);
	T_EQ(c.override_redirect_protection, false);
	T_EQ(c.override_redirect_allowed, false);
	T_EQ(c.allow_utf8_titles, true);
	T_EQ_U(c.copy_seq.mask, Mod4Mask);
	T_EQ_U(c.copy_seq.keysym, XK_c);
	T_EQ_U(c.paste_seq.mask, Mod1Mask | ShiftMask);
	T_EQ_U(c.paste_seq.keysym, XK_Insert);
	T_EQ(c.max_clipboard_size, 100000);
	T_EQ(c.tray_mode, TRAY_BORDER2);
	T_EQ(c.tray_mods, 0);
	T_STR(c.window_background_color, "black");
	T_EQ(c.startup_timeout, 10);
	T_EQ(c.events_max_delay, 5000);
	T_EQ(c.log_level, 1); /* the file's log_level has no effect (as in qubes-guid) */
	T_EQ(c.border_width, 5);
	T_EQ(c.max_image_memory, 512);
	T_EQ(c.x_work_rate, 0);
	T_EQ_U(config_image_budget(&c, 1920, 1080), 512ull << 20);
	T_STR(c.paste_policy_command, "/usr/lib/qgui/ask-paste");
	T_STR(c.clipboard_dir, "/run/qubes-clip");
	T_STR(c.config_path, path);
}

static void image_budget_default(void)
{
	struct gd_config c;

	config_defaults(&c);
	/* automatic: 256 MiB, or 16 screens' worth on a screen over 4 MiB (eight copy-path windows) */
	T_EQ_U(config_image_budget(&c, 1024, 768), 256ull << 20);
	T_EQ_U(config_image_budget(&c, 3840, 2160), 16ull * 3840 * 2160 * 4);
	c.max_image_memory = 16;
	T_EQ_U(config_image_budget(&c, 3840, 2160), 16ull << 20);
}

static void file_empty_and_other_groups(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "empty.conf", "") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	check_file_defaults(&c);
	if (!test_ok()) {
		return;
	}
	T_ASSERT(write_conf(path, sizeof(path), "noglobal.conf", "other: { allow_fullscreen = true; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ(c.allow_fullscreen, false);
	T_ASSERT(write_conf(path, sizeof(path), "emptyglobal.conf", "global: { };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	check_file_defaults(&c);
	if (!test_ok()) {
		return;
	}
	/* "global" that is not a group */
	T_ASSERT(write_conf(path, sizeof(path), "globalint.conf", "global = 5;\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
	T_ASSERT(has(err, "global"));
}

static void file_syntax_error(void)
{
	struct gd_config c;
	char err[512];
	char path[300];
	char want[400];

	T_ASSERT(write_conf(path, sizeof(path), "syntax.conf",
				 "global: {\n"
				 "  allow_fullscreen = true;\n"
				 "  oops oops\n"
				 "};\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
	snprintf(want, sizeof(want), "syntax error in %s line 3: ", path);
	if (strncmp(err, want, strlen(want)) != 0) {
		test_fail(__FILE__, __LINE__, "err '%s', expected it to start with '%s'", err, want);
		return;
	}
	T_ASSERT(write_conf(path, sizeof(path), "unterminated.conf", "global: {\n  allow_fullscreen = true;\n") !=
			NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
	T_ASSERT(has(err, "syntax error in "));
	T_ASSERT(has(err, "unterminated.conf"));
	T_ASSERT(write_conf(path, sizeof(path), "badstring.conf", "global: { trayicon_mode = \"tint; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
	T_ASSERT(has(err, "badstring.conf line "));
}

static void file_unreadable(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	/* missing file: only a warning (kept for the caller to log), defaults */
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", nofile()), CONFIG_OK);
	check_file_defaults(&c);
	if (!test_ok()) {
		return;
	}
	T_EQ(c.nwarnings, 1);
	T_ASSERT(strstr(c.warnings[0], "cannot open config file") != NULL);
	/* a directory */
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", test_tmpdir()), CONFIG_OK);
	check_file_defaults(&c);
	T_EQ(c.nwarnings, 1);
	T_ASSERT(strstr(c.warnings[0], "not a regular file") != NULL);
	if (!test_ok()) {
		return;
	}
	/* a FIFO: neither hangs nor is read */
	snprintf(path, sizeof(path), "%s/fifo.conf", test_tmpdir());
	T_EQ(mkfifo(path, 0600), 0);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	check_file_defaults(&c);
	if (!test_ok()) {
		return;
	}
	/* no read permission (root reads it anyway) */
	T_ASSERT(write_conf(path, sizeof(path), "noperm.conf", "global: { border_width = 7; };\n") != NULL);
	T_EQ(chmod(path, 0), 0);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ(c.border_width, geteuid() == 0 ? 7 : 2);
}

static void file_wrong_types(void)
{
	static const char *bad[] = {
		"allow_fullscreen = \"yes\";",
		"allow_fullscreen = 1;",
		"override_redirect_protection = 0;",
		"allow_utf8_titles = \"true\";",
		"override_redirect = true;",
		"secure_copy_sequence = 5;",
		"secure_paste_sequence = false;",
		"max_clipboard_size = \"64000\";",
		"max_clipboard_size = 64000.0;",
		"trayicon_mode = 1;",
		"window_background_color = 0xffffff;",
		"startup_timeout = \"45\";",
		"events_max_delay = true;",
		"log_level = \"debug\";",
		"border_width = 2.5;",
		"paste_policy_command = [ \"a\" ];",
		"clipboard_dir = { a = 1; };",
	};
	struct gd_config c;
	char err[256];
	char path[300];
	char text[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char key[64];

		snprintf(text, sizeof(text), "global: {\n  %s\n};\n", bad[i]);
		T_ASSERT(write_conf(path, sizeof(path), "type.conf", text) != NULL);
		T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(bad[i], " "), bad[i]);
		if (!has(err, "invalid type for ") || !has(err, key) || !has(err, "line 2")) {
			test_fail(__FILE__, __LINE__, "'%s': err '%s'", bad[i], err);
			return;
		}
	}
	/* libconfig's 64-bit ints are ints too */
	T_ASSERT(write_conf(path, sizeof(path), "int64.conf", "global: { max_clipboard_size = 1000L; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ(c.max_clipboard_size, 1000);
}

static void file_bad_values(void)
{
	static const char *bad[] = {
		"override_redirect = \"deny\";",
		"override_redirect = \"Allow\";",
		"secure_copy_sequence = \"Ctrl-Shift-nosuchkey\";",
		"secure_paste_sequence = \"Hyper-v\";",
		"secure_paste_sequence = \"\";",
		"trayicon_mode = \"bg+border1\";",
		"trayicon_mode = \"tint+border9\";",
		"window_background_color = \"\";",
		"window_background_color = \"0x12\";",
		"window_background_color = "
		"\"a234567890123456789012345678901234567890123456789012345678901234\";",
		"events_max_delay = 6000;",
		"events_max_delay = -1;",
		"startup_timeout = -1;",
		"startup_timeout = 86401;",
		"border_width = 33;",
		"border_width = -1;",
		"max_image_memory = 15;",
		"max_image_memory = -1;",
		"max_image_memory = 1048577;",
		"x_work_rate = 999;",
		"x_work_rate = -1;",
		"x_work_rate = 10000001;",
		"clipboard_dir = \"relative\";",
		"paste_policy_command = \"a\\nb\";",
	};
	struct gd_config c;
	char err[256];
	char path[300];
	char text[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char key[64];

		snprintf(text, sizeof(text), "global: {\n  %s\n};\n", bad[i]);
		T_ASSERT(write_conf(path, sizeof(path), "value.conf", text) != NULL);
		T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
		snprintf(key, sizeof(key), "invalid value for %.*s in ", (int)strcspn(bad[i], " "), bad[i]);
		if (!has(err, key) || !has(err, "value.conf") || !all_printable(err)) {
			test_fail(__FILE__, __LINE__, "'%s': err '%s'", bad[i], err);
			return;
		}
	}
	T_ASSERT(write_conf(path, sizeof(path), "delay.conf", "global: { events_max_delay = 6000; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
	{
		char want[400];

		snprintf(want, sizeof(want), "invalid value for events_max_delay in %s: '6000' (expected 0..5000)", path);
		T_STR(err, want);
	}
	T_ASSERT(write_conf(path, sizeof(path), "or.conf", "global: { override_redirect = \"deny\"; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_ERROR);
	T_ASSERT(has(err, "'deny' (expected allow, disabled or disable)"));
	/* boundary values are accepted */
	T_ASSERT(write_conf(path, sizeof(path), "edges.conf",
				 "global: { events_max_delay = 0; startup_timeout = 0; border_width = 0;"
				 " max_clipboard_size = 256; };\n") != NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ(c.events_max_delay, 0);
	T_EQ(c.startup_timeout, 0);
	T_EQ(c.border_width, 0);
	T_EQ(c.max_clipboard_size, 256);
}

static void file_max_clipboard_out_of_range_ignored(void)
{
	static const char *vals[] = { "255", "256001", "0", "-5", "10000000000L" };
	struct gd_config c;
	char err[256];
	char path[300];
	char text[200];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(text, sizeof(text), "global: { max_clipboard_size = %s; allow_fullscreen = true; };\n", vals[i]);
		T_ASSERT(write_conf(path, sizeof(path), "clip.conf", text) != NULL);
		T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
		T_EQ(c.max_clipboard_size, 64000); /* warning, default kept */
		T_EQ(c.allow_fullscreen, true);    /* the rest of the file still applies */
	}
	/* ... while the same value on the command line is an error */
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path, "--max-clipboard-size=255"), CONFIG_ERROR);
}

static void file_override_redirect_spellings(void)
{
	static const struct {
		const char *v;
		bool allowed;
	} cases[] = { { "allow", true }, { "disabled", false }, { "disable", false } };
	struct gd_config c;
	char err[256];
	char path[300];
	char text[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char opt[64];

		snprintf(text, sizeof(text), "global: { override_redirect = \"%s\"; };\n", cases[i].v);
		T_ASSERT(write_conf(path, sizeof(path), "or.conf", text) != NULL);
		T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
		T_EQ(c.override_redirect_allowed, cases[i].allowed);
		snprintf(opt, sizeof(opt), "--override-redirect=%s", cases[i].v);
		T_EQ(PARSE(&c, BASE, opt), CONFIG_OK);
		T_EQ(c.override_redirect_allowed, cases[i].allowed);
	}
}

static void command_line_overrides_file(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "over.conf",
				 "global: {\n"
				 "  trayicon_mode = \"bg\";\n"
				 "  max_clipboard_size = 2000;\n"
				 "  override_redirect = \"disabled\";\n"
				 "  border_width = 9;\n"
				 "  paste_policy_command = \"/file/cmd\";\n"
				 "  clipboard_dir = \"/file/dir\";\n"
				 "  startup_timeout = 30;\n"
				 "  allow_fullscreen = true;\n"
				 "};\n") != NULL);
	/* nothing given: the file's values */
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ(c.tray_mode, TRAY_BG);
	T_EQ(c.max_clipboard_size, 2000);
	T_EQ(c.override_redirect_allowed, false);
	T_EQ(c.border_width, 9);
	T_STR(c.paste_policy_command, "/file/cmd");
	T_STR(c.clipboard_dir, "/file/dir");
	T_EQ(c.startup_timeout, 30);

	/* options after -C */
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path, "--trayicon-mode=tint+saturation50",
			     "--max-clipboard-size=3000", "--override-redirect=allow", "--border-width=1",
			     "--paste-policy-command=/cli/cmd", "--clipboard-dir=/cli/dir", "-n"),
			CONFIG_OK);
	T_EQ(c.tray_mode, TRAY_TINT);
	T_EQ(c.tray_mods, TRAY_MOD_SATURATION50);
	T_EQ(c.max_clipboard_size, 3000);
	T_EQ(c.override_redirect_allowed, true);
	T_EQ(c.border_width, 1);
	T_STR(c.paste_policy_command, "/cli/cmd");
	T_STR(c.clipboard_dir, "/cli/dir");
	T_EQ(c.startup_timeout, 0);
	T_EQ(c.allow_fullscreen, true); /* no option for it: the file's */

	/* the same options before -C still win */
	T_EQ(PARSE(&c, "--trayicon-mode=border1", "--max-clipboard-size=4000", "--override-redirect=allow",
			     "--border-width=0", "--paste-policy-command=", "--clipboard-dir=/cli/dir2", "-n", "-d", "5",
			     "-N", "work", "-C", path),
			CONFIG_OK);
	T_EQ(c.tray_mode, TRAY_BORDER1);
	T_EQ(c.max_clipboard_size, 4000);
	T_EQ(c.override_redirect_allowed, true);
	T_EQ(c.border_width, 0);
	T_STR(c.paste_policy_command, "");
	T_STR(c.clipboard_dir, "/cli/dir2");
	T_EQ(c.startup_timeout, 0);

	/* the last -C is the file read */
	T_EQ(PARSE(&c, "-C", path, "-d", "5", "-N", "work", "-C", nofile()), CONFIG_OK);
	T_EQ(c.border_width, 2);
	T_STR(c.config_path, nofile());
}

static void file_key_sequences(void)
{
	struct gd_config c;
	char err[256];
	char path[300];

	T_ASSERT(write_conf(path, sizeof(path), "keys.conf",
				 "global: { secure_copy_sequence = \"disable\"; secure_paste_sequence = \"none\"; };\n") !=
			NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ_U(c.copy_seq.keysym, 0);
	T_EQ_U(c.copy_seq.mask, 0);
	T_EQ_U(c.paste_seq.keysym, 0);
	T_ASSERT(write_conf(path, sizeof(path), "keys2.conf",
				 "global: { secure_copy_sequence = \"ctrl-alt-C\"; secure_paste_sequence = \"Mod3-F7\"; };\n") !=
			NULL);
	T_EQ(PARSE(&c, "-d", "5", "-N", "work", "-C", path), CONFIG_OK);
	T_EQ_U(c.copy_seq.mask, ControlMask | Mod1Mask);
	T_EQ_U(c.copy_seq.keysym, XK_C);
	T_EQ_U(c.paste_seq.mask, Mod3Mask);
	T_EQ_U(c.paste_seq.keysym, XK_F7);
}

/* ------------------------------------------------------------------ tables */

static void key_sequence_table(void)
{
	static const struct {
		const char *s;
		int rc;
		unsigned int mask;
		unsigned long keysym;
	} cases[] = {
		{ "Ctrl-Shift-c", 0, CS, XK_c },
		{ "Ctrl-Shift-v", 0, CS, XK_v },
		{ "ctrl-shift-V", 0, CS, XK_V },
		{ "SHIFT-CTRL-c", 0, CS, XK_c },
		{ "Shift-Insert", 0, ShiftMask, XK_Insert },
		{ "Alt-x", 0, Mod1Mask, XK_x },
		{ "Mod1-x", 0, Mod1Mask, XK_x },
		{ "alt-Mod1-x", 0, Mod1Mask, XK_x },
		{ "Mod2-a", 0, Mod2Mask, XK_a },
		{ "Mod3-a", 0, Mod3Mask, XK_a },
		{ "Mod4-Return", 0, Mod4Mask, XK_Return },
		{ "Ctrl-Alt-Mod4-Shift-F12", 0, ControlMask | Mod1Mask | Mod4Mask | ShiftMask, XK_F12 },
		{ "Ctrl-Ctrl-c", 0, ControlMask, XK_c },
		{ "F9", 0, 0, XK_F9 },
		{ "c", 0, 0, XK_c },
		{ "Ctrl-space", 0, ControlMask, XK_space },
		{ "disable", 0, 0, 0 },
		{ "DISABLE", 0, 0, 0 },
		{ "none", 0, 0, 0 },
		{ "None", 0, 0, 0 },
		{ "", -EINVAL, 0, 0 },
		{ "Ctrl-", -EINVAL, 0, 0 },
		{ "Ctrl-Shift-", -EINVAL, 0, 0 },
		{ "Ctrl-nosuchkey", -EINVAL, 0, 0 },
		{ "Hyper-c", -EINVAL, 0, 0 },
		{ "Mod5-c", -EINVAL, 0, 0 },
		{ "Ctrl+c", -EINVAL, 0, 0 },
		{ "Ctrl-Shift-c ", -EINVAL, 0, 0 },
		{ " Ctrl-c", -EINVAL, 0, 0 },
		{ "Ctrl-\x01", -EINVAL, 0, 0 },
		{ "Ctrl-\xc3\xa9", -EINVAL, 0, 0 },
		{ "Ctrl-disable", -EINVAL, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct key_seq k = { 0x1234, 0x5678 };
		int rc = config_parse_key_seq(cases[i].s, &k);

		if (rc != cases[i].rc) {
			test_fail(__FILE__, __LINE__, "'%s': rc %d, expected %d", cases[i].s, rc, cases[i].rc);
			return;
		}
		if (rc == 0 && (k.mask != cases[i].mask || k.keysym != cases[i].keysym)) {
			test_fail(__FILE__, __LINE__, "'%s': mask 0x%x keysym 0x%lx, expected 0x%x 0x%lx", cases[i].s,
					k.mask, k.keysym, cases[i].mask, cases[i].keysym);
			return;
		}
		if (rc != 0 && (k.mask != 0x1234 || k.keysym != 0x5678)) {
			test_fail(__FILE__, __LINE__, "'%s': output changed on failure", cases[i].s);
			return;
		}
	}
	{
		struct key_seq k = { 0, 0 };
		char buf[80] = "";

		T_EQ(config_parse_key_seq(NULL, &k), -EINVAL);
		/* length bound: 63 bytes parse, 64 do not */
		for (int i = 0; i < 12; i++) {
			strcat(buf, "Ctrl-");
		}
		strcat(buf, "F12");
		T_EQ(strlen(buf), 63);
		T_EQ(config_parse_key_seq(buf, &k), 0);
		T_EQ_U(k.mask, ControlMask);
		T_EQ_U(k.keysym, XK_F12);
		buf[60] = '\0';
		strcat(buf, "Home");
		T_EQ(strlen(buf), 64);
		T_EQ(config_parse_key_seq(buf, &k), -EINVAL);
	}
}

static void tray_mode_table(void)
{
	static const struct {
		const char *s;
		int rc;
		enum tray_mode mode;
		unsigned mods;
	} cases[] = {
		{ "bg", 0, TRAY_BG, 0 },
		{ "border1", 0, TRAY_BORDER1, 0 },
		{ "border2", 0, TRAY_BORDER2, 0 },
		{ "tint", 0, TRAY_TINT, 0 },
		{ "tint+border1", 0, TRAY_TINT, TRAY_MOD_BORDER1 },
		{ "tint+border2", 0, TRAY_TINT, TRAY_MOD_BORDER2 },
		{ "tint+saturation50", 0, TRAY_TINT, TRAY_MOD_SATURATION50 },
		{ "tint+whitehack", 0, TRAY_TINT, TRAY_MOD_WHITEHACK },
		{ "tint+border1+saturation50+whitehack", 0, TRAY_TINT,
				TRAY_MOD_BORDER1 | TRAY_MOD_SATURATION50 | TRAY_MOD_WHITEHACK },
		{ "tint+whitehack+border2", 0, TRAY_TINT, TRAY_MOD_WHITEHACK | TRAY_MOD_BORDER2 },
		{ "tint+border1+border2", 0, TRAY_TINT, TRAY_MOD_BORDER1 | TRAY_MOD_BORDER2 },
		{ "tint+border2+border2", 0, TRAY_TINT, TRAY_MOD_BORDER2 },
		{ "", -EINVAL, TRAY_BG, 0 },
		{ "Tint", -EINVAL, TRAY_BG, 0 },
		{ "BG", -EINVAL, TRAY_BG, 0 },
		{ "tin", -EINVAL, TRAY_BG, 0 },
		{ "tintx", -EINVAL, TRAY_BG, 0 },
		{ "tintborder1", -EINVAL, TRAY_BG, 0 },
		{ "tint+", -EINVAL, TRAY_BG, 0 },
		{ "tint++border1", -EINVAL, TRAY_BG, 0 },
		{ "tint+border", -EINVAL, TRAY_BG, 0 },
		{ "tint+border12", -EINVAL, TRAY_BG, 0 },
		{ "tint+saturation", -EINVAL, TRAY_BG, 0 },
		{ "tint+saturation500", -EINVAL, TRAY_BG, 0 },
		{ "tint+whitehack+", -EINVAL, TRAY_BG, 0 },
		{ "tint+Border1", -EINVAL, TRAY_BG, 0 },
		{ "tint border1", -EINVAL, TRAY_BG, 0 },
		{ "bg+border1", -EINVAL, TRAY_BG, 0 },
		{ "border1+border2", -EINVAL, TRAY_BG, 0 },
		{ "border2+saturation50", -EINVAL, TRAY_BG, 0 },
		{ "bg ", -EINVAL, TRAY_BG, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tray_mode mode = TRAY_BORDER2;
		unsigned mods = 0x77;
		int rc = config_parse_tray_mode(cases[i].s, &mode, &mods);

		if (rc != cases[i].rc) {
			test_fail(__FILE__, __LINE__, "'%s': rc %d, expected %d", cases[i].s, rc, cases[i].rc);
			return;
		}
		if (rc == 0 && (mode != cases[i].mode || mods != cases[i].mods)) {
			test_fail(__FILE__, __LINE__, "'%s': mode %d mods 0x%x, expected %d 0x%x", cases[i].s, (int)mode,
					mods, (int)cases[i].mode, cases[i].mods);
			return;
		}
		if (rc != 0 && (mode != TRAY_BORDER2 || mods != 0x77)) {
			test_fail(__FILE__, __LINE__, "'%s': output changed on failure", cases[i].s);
			return;
		}
	}
	{
		enum tray_mode mode;
		unsigned mods;

		T_EQ(config_parse_tray_mode(NULL, &mode, &mods), -EINVAL);
	}
}

TEST_MAIN(TEST(defaults), TEST(minimal_command_line), TEST(short_options), TEST(long_options), TEST(verbosity),
		TEST(foreground_clears_kill), TEST(screensavers_and_props_limits), TEST(qvm_start_daemon_appvm),
		TEST(qvm_start_daemon_hvm), TEST(qvm_start_daemon_stubdomain), TEST(qvm_start_daemon_kde),
		TEST(required_options), TEST(bad_domids), TEST(qube_names), TEST(unknown_and_extra_arguments),
		TEST(bad_option_values), TEST(bad_props), TEST(too_long_values_are_errors),
		TEST(error_lines_are_sanitised), TEST(repeated_calls), TEST(help_and_version), TEST(file_every_key),
		TEST(image_budget_default), TEST(file_empty_and_other_groups), TEST(file_syntax_error), TEST(file_unreadable),
		TEST(file_wrong_types), TEST(file_bad_values), TEST(file_max_clipboard_out_of_range_ignored),
		TEST(file_override_redirect_spellings), TEST(command_line_overrides_file), TEST(file_key_sequences),
		TEST(key_sequence_table), TEST(tray_mode_table))

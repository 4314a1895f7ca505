/* proxy.c: guivm-proxy, dom0's full-screen view of one GUI qube: command line, connecting, the main loop. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/keysym.h>

#include "proxy.h"
#include "qgui/log.h"
#include "qgui/version.h"
#include "sandbox.h"
#include "sigs.h"

/* Exit statuses (guivm-proxy/README.md). */
enum {
	EXIT_OK = 0,    /* SIGTERM, SIGINT, or the escape sequence with --escape-action=exit */
	EXIT_LOCAL = 1, /* no X server, lost X, no back-end */
	EXIT_USAGE = 2, /* bad command line */
};

#define PROBE_MS 100    /* while waiting for the exporter: a connection attempt this often ... */
#define PROBE_FAST 50   /* ... for this many attempts, then */
#define PAUSE_MS 1000   /* every second; also the pause after a violation */

/* ---------------------------------------------------------------- command line */

static void usage(FILE *f)
{
	fputs("usage: guivm-proxy -d DOMID -N NAME [options]\n"
	      "Shows the screen of the GUI qube NAME (domain DOMID, exported by its guivm-export) full-screen\n"
	      "on the X display named by DISPLAY, and sends it all input but the escape sequence.\n"
	      "  -c COLOUR                border colour: 0xRRGGBB or an X colour name (default red)\n"
	      "      --border-width=N     border in pixels, 0..32 (default 2)\n"
	      "      --escape=KEYS        dom0's escape sequence (default Ctrl-Alt-Shift-F12): modifiers\n"
	      "                           Shift- Ctrl- Alt-/Mod1- Mod2- .. Mod5- Super-, then an X keysym name\n"
	      "      --escape-action=ACT  release (default: dom0's screen until pressed again) or exit\n"
	      "      --transport=T        xen, socket or auto (default: xen when /dev/xen/gntdev exists)\n"
	      "      --dump-deadline=MS   a screen image's grants must be mapped within MS ms, 100..10000\n"
	      "                           (default 1000); later is the GUI qube's violation\n"
	      "      --print-monitor-layout  print dom0's monitors as qubes.SetMonitorLayout lines and exit\n"
	      "  -v, --verbose / -q, --quiet   more / less logging\n"
	      "      --help, --version\n"
	      "Environment: DISPLAY; VCHAN_DOMAIN (own domain id, default 0); VCHAN_SOCKET_DIR.\n",
			f);
}

static int bad(const char *opt, const char *value, const char *want)
{
	char v[64];

	if (value == NULL) {
		fprintf(stderr, "guivm-proxy: %s: %s (see --help)\n", opt, want);
	} else {
		fprintf(stderr, "guivm-proxy: bad value '%s' for %s: %s\n", log_sanitize(v, sizeof(v), value,
				strlen(value)), opt, want);
	}
	return -1;
}

/* "Ctrl-Alt-Shift-F12": modifier prefixes (any case, any order), then a keysym name. 0 or -1. */
static int parse_keys(const char *s, unsigned *mods, unsigned long *keysym)
{
	static const struct {
		const char *prefix;
		unsigned mask;
	} mod[] = {
		{ "Shift-", ShiftMask }, { "Ctrl-", ControlMask }, { "Control-", ControlMask }, { "Alt-", Mod1Mask },
		{ "Mod1-", Mod1Mask },   { "Mod2-", Mod2Mask },    { "Mod3-", Mod3Mask },        { "Mod4-", Mod4Mask },
		{ "Super-", Mod4Mask },  { "Mod5-", Mod5Mask },
	};
	bool more = true;
	KeySym ks;

	*mods = 0;
	while (more) {
		more = false;
		for (size_t i = 0; i < sizeof(mod) / sizeof(mod[0]); i++) {
			size_t n = strlen(mod[i].prefix);

			if (strncasecmp(s, mod[i].prefix, n) == 0 && s[n] != '\0') {
				*mods |= mod[i].mask;
				s += n;
				more = true;
				break;
			}
		}
	}
	ks = XStringToKeysym(s); /* a table lookup: no display needed */
	if (ks == NoSymbol) {
		return -1;
	}
	*keysym = (unsigned long)ks;
	return 0;
}

/* Returns 0 (run), 1 (--help or --version done: exit 0) or -1 (one line printed: exit 2). */
static int parse_args(int argc, char **argv, struct px_opts *o)
{
	enum { O_BORDER = 256, O_ESCAPE, O_ACTION, O_TRANSPORT, O_LAYOUT, O_HELP, O_VERSION, O_DEADLINE };
	static const struct option longopts[] = {
		{ "border-width", required_argument, NULL, O_BORDER }, { "escape", required_argument, NULL, O_ESCAPE },
		{ "escape-action", required_argument, NULL, O_ACTION }, { "transport", required_argument, NULL, O_TRANSPORT },
		{ "print-monitor-layout", no_argument, NULL, O_LAYOUT }, { "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION }, { "dump-deadline", required_argument, NULL, O_DEADLINE },
		{ NULL, 0, NULL, 0 },
	};
	bool have_d = false, have_n = false;
	int c;

	*o = (struct px_opts){ .border = 2, .esc_mods = ControlMask | Mod1Mask | ShiftMask, .esc_keysym = XK_F12,
		.log_level = LOG_LVL_INFO, .dump_deadline_ms = PX_DUMP_DEADLINE_MS };
	strcpy(o->color, "0xff0000");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:N:c:vq", longopts, NULL)) != -1) {
		const char *opt = argv[optind - 1];

		switch (c) {
		case 'd':
			if (backend_parse_domid(optarg, &o->domid) != 0) {
				return bad("-d", optarg, "a domain id 0..32751");
			}
			have_d = true;
			break;
		case 'N':
			if (!backend_valid_qube_name(optarg)) {
				return bad("-N", optarg, "a qube name: 1..31 letters, digits, _ . -, starting with a letter, "
						"not ending in -dm");
			}
			snprintf(o->name, sizeof(o->name), "%s", optarg);
			have_n = true;
			break;
		case 'c':
			if (optarg[0] == '\0' || strlen(optarg) >= sizeof(o->color)) { /* the X server decides the rest */
				return bad("-c", optarg, "0xRRGGBB or an X colour name");
			}
			snprintf(o->color, sizeof(o->color), "%s", optarg);
			break;
		case O_BORDER: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || v < 0 || v > PX_BORDER_MAX) {
				return bad("--border-width", optarg, "0..32 pixels");
			}
			o->border = (unsigned)v;
			break;
		}
		case O_DEADLINE: {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || v < 100 || v > 10000) {
				return bad("--dump-deadline", optarg, "100..10000 ms");
			}
			o->dump_deadline_ms = (unsigned)v;
			break;
		}
		case O_ESCAPE:
			if (parse_keys(optarg, &o->esc_mods, &o->esc_keysym) != 0) {
				return bad("--escape", optarg, "modifiers like Ctrl-Alt-Shift- then an X keysym name");
			}
			break;
		case O_ACTION:
			if (strcmp(optarg, "release") != 0 && strcmp(optarg, "exit") != 0) {
				return bad("--escape-action", optarg, "release or exit");
			}
			o->esc_exit = strcmp(optarg, "exit") == 0;
			break;
		case O_TRANSPORT:
			if (backend_parse(optarg, &o->backend) != 0) {
				return bad("--transport", optarg, "xen, socket or auto");
			}
			break;
		case O_LAYOUT:
			o->print_layout = true;
			break;
		case 'v':
			o->log_level = LOG_LVL_DEBUG;
			break;
		case 'q':
			o->log_level = LOG_LVL_ERROR;
			break;
		case O_HELP:
			usage(stdout);
			return 1;
		case O_VERSION:
			qgui_version_print(stdout, "guivm-proxy");
			return 1;
		case ':':
			return bad(opt, NULL, "needs a value");
		default: {
			char name[48];

			if (optopt != 0 && opt[0] == '-' && opt[1] != '-') {
				snprintf(name, sizeof(name), "-%c", optopt);
			} else {
				log_sanitize(name, sizeof(name), opt, strcspn(opt, "="));
			}
			return bad(name, NULL, "unknown option");
		}
		}
	}
	if (optind < argc) {
		return bad(argv[optind], NULL, "unexpected argument");
	}
	if (!o->print_layout && (!have_d || !have_n)) {
		return bad(have_d ? "-N" : "-d", NULL, "required");
	}
	return 0;
}

/* ---------------------------------------------------------------- the main loop */

struct proxy {
	const struct px_opts *o;
	struct pxx *x;
	enum qgui_backend be;
	int own;
	struct pxs *s;
	long long next_probe; /* while waiting: when to try to connect */
	unsigned probes;      /* attempts since the last session */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ev_input(void *ctx, const struct proto_msg *m)
{
	pxs_input(((struct proxy *)ctx)->s, m);
}

static void ev_expose(void *ctx, const struct px_rect *r)
{
	pxs_expose(((struct proxy *)ctx)->s, r);
}

static const struct pxx_events events = { ev_input, ev_expose };

/*
 * While waiting: one connection attempt that never blocks (timeout 0; the
 * library reports a missing server at debug level), every PROBE_MS, every
 * second after PROBE_FAST attempts or after a failure that is not "no server yet".
 */
static void try_connect(struct proxy *p)
{
	struct transport *t;
	bool slow;

	if (now_ms() < p->next_probe) {
		return;
	}
	t = transport_client_create(p->be, p->own, p->o->domid, QGUI_VCHAN_PORT, 0);
	slow = t != NULL || ++p->probes > PROBE_FAST || (errno != ETIMEDOUT && errno != ENOENT && errno != ECONNREFUSED);
	p->s = t ? pxs_create(p->x, t, p->be, p->own, p->o) : NULL;
	p->next_probe = now_ms() + (slow ? PAUSE_MS : PROBE_MS); /* (used again only if no session started) */
}

static void session_end(struct proxy *p, enum pxs_end end)
{
	pxs_destroy(p->s);
	p->s = NULL;
	if (end == PXS_RUNNING) {
		return; /* exiting */
	}
	pxx_set_waiting(p->x, true);
	p->probes = 0;
	/* a violation (or local failure) pauses before the next attempt: no reconnect storm */
	p->next_probe = now_ms() + (end == PXS_EOF ? 0 : PAUSE_MS);
	log_info("waiting for %s (domain %d)", p->o->name, p->o->domid);
}

static int run(struct proxy *p, const sigset_t *unblocked)
{
	static const struct timespec now = { 0, 0 };
	int status = EXIT_OK;

	log_info("waiting for %s (domain %d)", p->o->name, p->o->domid);
	while (!sigs_stop()) {
		struct pollfd pfd[3] = { { pxx_fd(p->x), POLLIN, 0 }, { -1, 0, 0 }, { -1, 0, 0 } };
		struct timespec wait;
		bool more = false;
		int xr, left_ms = -1;

		if (p->s == NULL) {
			try_connect(p);
		}
		if (p->s) {
			enum pxs_end end = pxs_process(p->s, PX_MSG_BUDGET, &more);

			if (end != PXS_RUNNING) {
				session_end(p, end);
				more = false;
			}
		}
		xr = pxx_dispatch(p->x);
		if (sigs_take_hup()) { /* re-read the screen: as a RandR change (the configure is sent again) */
			xr |= pxx_rescan(p->x) | PXX_SCREEN;
		}
		if (xr & PXX_EXIT) {
			log_info("escape sequence: exiting");
			break;
		}
		if (xr & PXX_SCREEN) {
			pxs_screen_changed(p->s);
			pxx_monitor_layout(p->x, NULL);
		}
		if (p->s) {
			/* a screen image being mapped adds its grant socket and deadline: it never blocks this loop */
			left_ms = pxs_pollfd(p->s, &pfd[1], &pfd[2]);
		} else {
			long long left = p->next_probe - now_ms();

			left_ms = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		wait = (struct timespec){ (time_t)(left_ms / 1000), (long)(left_ms % 1000) * 1000000L };
		/* signals are blocked except here: none is lost between the checks above and the wait */
		if (ppoll(pfd, 3, more || pxx_pending(p->x) ? &now : left_ms < 0 ? NULL : &wait, unblocked) < 0 &&
				errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			status = EXIT_LOCAL;
			break;
		}
		if (p->s) {
			pxs_handle(p->s, pfd[1].revents);
		}
	}
	if (p->s) {
		session_end(p, PXS_RUNNING);
	}
	return status;
}

int main(int argc, char **argv)
{
	struct px_opts o;
	struct proxy p = { .o = &o };
	sigset_t unblocked;
	bool usage_error;
	int rc, own = 0;

	log_init("guivm-proxy", NULL);
	rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	}
	log_init("guivm-proxy", o.print_layout ? NULL : o.name);
	log_set_level(o.log_level);
	if (!o.print_layout && backend_own_domid(&own) != 0) {
		log_error("VCHAN_DOMAIN is not a valid domain id");
		return EXIT_USAGE;
	}
	sigs_setup(SIGS_HUP, &unblocked); /* handled only inside ppoll(): blocked everywhere else */

	p.x = pxx_open(&o, &events, &p, &usage_error);
	if (p.x == NULL) {
		return usage_error ? EXIT_USAGE : EXIT_LOCAL;
	}
	if (o.print_layout) {
		pxx_monitor_layout(p.x, stdout);
		pxx_close(p.x);
		return EXIT_OK;
	}
	p.be = backend_resolve(o.backend);
	p.own = own;
	log_info("showing %s (domain %d) as domain %d, %s back-end, %u px border", o.name, o.domid, own,
			backend_name(p.be), o.border);
	pxx_monitor_layout(p.x, NULL);
	if (sandbox_enter(SANDBOX_PROXY, p.be, 0) != 0) { /* set-up is done: from here on the GUI qube's bytes arrive */
		pxx_close(p.x);
		return EXIT_LOCAL;
	}
	rc = run(&p, &unblocked);
	pxx_close(p.x);
	log_info("exiting");
	return rc;
}

/* agent.c: gui-agent, a development agent mirroring an X display's windows to a gui-daemon: command line and main loop. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "qgui/backend.h"
#include "qgui/log.h"

enum {
	EXIT_OK = 0,    /* SIGTERM or SIGINT */
	EXIT_LOCAL = 1, /* no X display, no back-end, the display went away */
	EXIT_USAGE = 2, /* bad command line or VCHAN_DOMAIN */
};

struct options {
	int gui;                 /* -d: the GUI qube's domain */
	const char *display;     /* --display, else $DISPLAY */
	enum qgui_backend backend;
	int log_level;
};

static volatile sig_atomic_t got_term;

long long agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- command line */

static void usage(FILE *f)
{
	fputs("Usage: gui-agent -d GUI_DOMID [--display=NAME] [--transport=xen|socket|auto] [-v|-q]\n"
	      "\n"
	      "Mirrors every top-level window of one X display (an Xvfb playing an AppVM) to the\n"
	      "gui-daemon of domain GUI_DOMID, speaking the Qubes GUI protocol 1.8 as the vchan\n"
	      "server: windows, titles, classes, size hints, override-redirect menus and tooltips,\n"
	      "cursors, contents (Composite and DAMAGE, double-buffered grants), input from the\n"
	      "daemon (XTEST) and the clipboard. When the daemon goes away it waits for the next\n"
	      "one and shows it every window again.\n"
	      "\n"
	      "gui-agent exists for development and tests: it lets the whole display stack run on\n"
	      "one machine with real X applications. It is not a replacement for the Qubes GUI\n"
	      "agents (qubes-gui-agent-linux, the Windows tools); real qubes run those.\n"
	      "\n"
	      "  -d, --domid=ID            the GUI qube's domain id (the daemon's); required\n"
	      "      --display=NAME        the X display to mirror (default: $DISPLAY)\n"
	      "      --transport=xen|socket|auto\n"
	      "                            vchan and grant back-end (default auto: Xen when\n"
	      "                            /dev/xen/gntdev exists, else the socket vchan and gntemu)\n"
	      "  -v, --verbose             more log lines (repeatable)\n"
	      "  -q, --quiet               errors only\n"
	      "  -h, --help                this text\n"
	      "      --version             program and protocol version\n"
	      "\n"
	      "Environment: DISPLAY; VCHAN_DOMAIN, this domain's id (default 0); VCHAN_SOCKET_DIR,\n"
	      "the socket back-end's directory (default /var/run/vchan).\n",
			f);
}

/* Parses argv. Returns -1 to go on, or the exit status (help, version, error). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_DISPLAY = 256, OPT_TRANSPORT, OPT_VERSION };
	static const struct option longopts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "display", required_argument, NULL, OPT_DISPLAY },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	bool have_domid = false;
	int c;

	*o = (struct options){ .gui = -1, .display = NULL, .backend = QGUI_BACKEND_AUTO, .log_level = LOG_LVL_INFO };
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":d:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (have_domid || backend_parse_domid(optarg, &o->gui) != 0) {
				fprintf(stderr, "gui-agent: -d wants one domain id (0..%d), not '%.32s'\n",
						QGUI_DOMID_LIMIT - 1, optarg);
				return EXIT_USAGE;
			}
			have_domid = true;
			break;
		case OPT_DISPLAY:
			o->display = optarg;
			break;
		case OPT_TRANSPORT:
			if (backend_parse(optarg, &o->backend) != 0) {
				fprintf(stderr, "gui-agent: --transport must be xen, socket or auto, not '%.32s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			o->log_level++;
			break;
		case 'q':
			o->log_level = LOG_LVL_ERROR;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case OPT_VERSION:
			printf("gui-agent (guivm-stack), Qubes GUI protocol %d.%d\n", QUBES_GUID_PROTOCOL_VERSION_MAJOR,
					QUBES_GUID_PROTOCOL_VERSION_MINOR);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "gui-agent: option '%.64s' needs a value (see --help)\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (optopt > 0 && optopt < 256) {
				fprintf(stderr, "gui-agent: unknown option '-%c' (see --help)\n", optopt);
			} else {
				fprintf(stderr, "gui-agent: unknown option '%.64s' (see --help)\n", argv[optind - 1]);
			}
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gui-agent: unexpected argument '%.64s' (see --help)\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!have_domid) {
		fprintf(stderr, "gui-agent: -d GUI_DOMID is required (see --help)\n");
		return EXIT_USAGE;
	}
	return -1;
}

/* ---------------------------------------------------------------- signals and the loop */

static void on_signal(int sig)
{
	(void)sig;
	got_term = 1;
}

/* SIGTERM/SIGINT stay blocked except inside ppoll, so none is lost between a check and the wait. */
static void setup_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
}

static void run(struct agent *a, const sigset_t *wait_mask)
{
	while (!got_term) {
		struct pollfd pfd[2];
		struct timespec ts, *tp = NULL;
		int timeout;

		/* X events, then the frames they call for */
		x11_dispatch(a);
		frame_flush(a);
		clip_tick(a);
		pfd[0] = (struct pollfd){ ConnectionNumber(a->dpy), POLLIN, 0 };
		link_pollfd(a, &pfd[1]);
		/*
		 * Events still queued (reading frames queues those that arrive
		 * meanwhile; a flood is handled in slices) mean no waiting: the
		 * daemon's side is looked at in between, so that its acks are never
		 * starved by a busy application.
		 */
		timeout = a->broken || XPending(a->dpy) > 0 ? 0 : clip_timeout_ms(a);
		if (timeout >= 0) {
			ts = (struct timespec){ timeout / 1000, (long)(timeout % 1000) * 1000000L };
			tp = &ts;
		}
		if (ppoll(pfd, 2, tp, wait_mask) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return;
		}
		if (got_term) {
			return;
		}
		link_handle(a, pfd[1].fd >= 0 ? pfd[1].revents : 0);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct agent a;
	char host[64];
	sigset_t wait_mask;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0) {
		return rc;
	}
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') {
		snprintf(host, sizeof(host), "appvm");
	}
	host[sizeof(host) - 1] = '\0';
	log_init("gui-agent", host);
	log_set_level(o.log_level);
	memset(&a, 0, sizeof(a));
	a.gui = o.gui;
	a.backend = backend_resolve(o.backend);
	a.zero_copy = true;
	if (backend_own_domid(&a.own) != 0) {
		log_error("VCHAN_DOMAIN is not a valid domain id");
		return EXIT_USAGE;
	}
	setup_signals(&wait_mask);
	if (x11_open(&a, o.display) != 0) {
		return EXIT_LOCAL;
	}
	log_info("mirroring display %.64s to domain %d as domain %d, %s back-end (a development agent, not a "
		 "Qubes agent)", DisplayString(a.dpy), a.gui, a.own, backend_name(a.backend));
	if (link_open(&a) != 0) {
		x11_close(&a);
		return EXIT_LOCAL;
	}
	win_scan(&a);
	run(&a, &wait_mask);

	log_info("exiting: windows mirrored: %llu, frames sent: %llu, bytes copied by the agent: %llu "
		 "(X errors: %lu)", a.nmirrored, a.nframes, a.copied, x11_errors());
	frame_session_end(&a); /* unshares before the owner goes */
	link_close(&a);
	clip_finish(&a);
	for (struct awin *w = win_first(&a); w;) {
		struct awin *next = win_next(&a, w);

		frame_forget(&a, w, false);
		w = next;
	}
	x11_close(&a);
	for (size_t b = 0; b < AGENT_BUCKETS; b++) {
		while (a.buckets[b]) {
			struct awin *w = a.buckets[b];

			a.buckets[b] = w->next;
			free(w);
		}
	}
	return got_term ? EXIT_OK : EXIT_LOCAL;
}

/* agent.c: gui-agent, a development agent mirroring an X display's windows to a gui-daemon: command line and main loop. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agentcli.h"
#include "qgui/backend.h"
#include "qgui/log.h"
#include "sandbox.h"
#include "sigs.h"
#include "xerr.h"

enum {
	EXIT_OK = 0,    /* SIGTERM or SIGINT */
	EXIT_LOCAL = 1, /* no X display, no back-end, the display went away */
	EXIT_USAGE = 2, /* bad command line or VCHAN_DOMAIN */
};

long long agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- command line */

static const char usage[] = "Usage: gui-agent -d GUI_DOMID [--display=NAME] [--transport=xen|socket|auto] [-v|-q]\n"
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
	"  -q, --quiet               fewer log lines (once: errors only)\n"
	"  -h, --help                this text\n"
	"      --version             program and protocol version\n"
	"\n"
	"Environment: DISPLAY; VCHAN_DOMAIN, this domain's id (default 0); VCHAN_SOCKET_DIR,\n"
	"the socket back-end's directory (default /var/run/vchan).\n";

/* ---------------------------------------------------------------- the loop */

static void run(struct agent *a, const sigset_t *wait_mask)
{
	while (!sigs_stop()) {
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
		if (sigs_stop()) {
			return;
		}
		link_handle(a, pfd[1].fd >= 0 ? pfd[1].revents : 0);
	}
}

int main(int argc, char **argv)
{
	static const struct agentcli_prog cli = { .name = "gui-agent", .domid_arg = "GUI_DOMID", .usage = usage };
	struct agentcli_opts o;
	struct agent a;
	char host[64];
	sigset_t wait_mask;
	int rc;

	rc = agentcli_parse(&cli, argc, argv, &o);
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
	a.gui = o.domid;
	a.backend = backend_resolve(o.backend);
	a.zero_copy = true;
	if (backend_own_domid(&a.own) != 0) {
		log_error("VCHAN_DOMAIN is not a valid domain id");
		return EXIT_USAGE;
	}
	sigs_setup(0, &wait_mask); /* SIGTERM/SIGINT blocked but inside ppoll: none lost between check and wait */
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
	if (sandbox_enter(SANDBOX_AGENT, a.backend, 0) != 0) { /* set-up is done: from here on the daemon's bytes arrive */
		x11_close(&a);
		return EXIT_LOCAL;
	}
	run(&a, &wait_mask);

	log_info("exiting: windows mirrored: %llu, frames sent: %llu, bytes copied by the agent: %llu "
		 "(X errors: %lu)", a.nmirrored, a.nframes, a.copied, xerr_count());
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
	return sigs_stop() ? EXIT_OK : EXIT_LOCAL;
}

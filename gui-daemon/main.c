/* main.c: gui-daemon, a drop-in qubes-guid for an unprivileged GUI qube: one process per agent. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clipboard.h"
#include "config.h"
#include "qgui/conn.h"
#include "qgui/grant.h"
#include "qgui/log.h"
#include "qgui/transport.h"
#include "qubes-gui-protocol.h"
#include "runfile.h"
#include "sandbox.h"
#include "session.h"
#include "sigs.h"
#include "x11.h"

/* Exit statuses (documented in gui-daemon/README.md). */
enum {
	EXIT_OK = 0,        /* the agent went away for good, or SIGTERM */
	EXIT_LOCAL = 1,     /* no X server, no back-end, out of memory */
	EXIT_USAGE = 2,     /* bad command line or configuration */
	EXIT_VIOLATION = 3, /* the agent broke the protocol */
	EXIT_TIMEOUT = 4,   /* the waiting parent: no agent within startup_timeout (the daemon goes on waiting) */
};

/* guid-running.<xid> for Qubes' launcher (its keeper process writes and removes it) */
static struct runfile runfile;

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The waiting parent, once the daemon ended before its agent connected: says how, exits with its status. */
static void __attribute__((noreturn)) report_early_end(pid_t pid, int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_OK) {
		log_info("gui-daemon (pid %d) stopped before the agent connected", (int)pid);
		exit(EXIT_OK);
	}
	if (WIFEXITED(st)) {
		log_error("gui-daemon (pid %d) failed before the agent connected (exit status %d, reason above)", (int)pid,
				WEXITSTATUS(st));
		exit(WEXITSTATUS(st));
	}
	log_error("gui-daemon (pid %d) was killed by signal %d before the agent connected", (int)pid,
			WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	exit(EXIT_LOCAL);
}

/*
 * Without -f the process forks, as qubes-guid: the parent waits up to
 * startup_timeout seconds (0 with -n) for the child to connect, then exits 0
 * (connected), the child's status if it ended first, or EXIT_TIMEOUT. Returns
 * the fd the child writes to once connected, or -1.
 */
static int daemonize(const struct gd_config *cfg)
{
	int p[2];
	pid_t pid;

	if (cfg->foreground) {
		return -1;
	}
	if (pipe(p) != 0 || (pid = fork()) < 0) {
		log_error("cannot fork: %s", strerror(errno));
		exit(EXIT_LOCAL);
	}
	if (pid > 0) {
		int timeout = cfg->background ? 0 : cfg->startup_timeout;
		long long deadline = monotonic_ms() + timeout * 1000LL;

		close(p[1]);
		if (timeout == 0) {
			exit(EXIT_OK);
		}
		/* the child's byte, its end, or the deadline; waitpid too, in case a process it forked keeps the pipe */
		while (monotonic_ms() < deadline && !sigs_stop()) {
			struct pollfd pfd = { p[0], POLLIN, 0 };
			int st, r = poll(&pfd, 1, 200);
			char c;

			if (r == 1) {
				if (read(p[0], &c, 1) == 1) {
					exit(EXIT_OK);
				}
				report_early_end(pid, waitpid(pid, &st, 0) == pid ? st : 0);
			}
			if (waitpid(pid, &st, WNOHANG) == pid) {
				report_early_end(pid, st);
			}
		}
		if (sigs_stop()) {
			log_info("stopped waiting for the agent; gui-daemon (pid %d) goes on waiting", (int)pid);
			exit(EXIT_OK);
		}
		log_error("the agent did not connect within %d s; gui-daemon (pid %d) goes on waiting", timeout, (int)pid);
		exit(EXIT_TIMEOUT);
	}
	close(p[0]);
	setsid();
	return p[1];
}

/* Connects to the agent's vchan server, retrying until it appears or we are told to stop. */
static struct transport *connect_agent(const struct gd_config *cfg, enum qgui_backend be, int own)
{
	log_info("waiting for the agent of domain %d (vchan port %d)", cfg->domid, QGUI_VCHAN_PORT);
	while (!sigs_stop()) {
		struct transport *t = transport_client_create(be, own, cfg->domid, QGUI_VCHAN_PORT, 200);

		if (t) {
			return t;
		}
		if (errno != ETIMEDOUT && errno != ENOENT && errno != ECONNREFUSED) {
			log_error("cannot reach the agent of domain %d: %s", cfg->domid, strerror(errno));
			return NULL;
		}
	}
	return NULL;
}

/* Runs one connection from handshake to end. Returns how it ended. */
static enum session_end run_session(const struct gd_config *cfg, struct x11 *x, struct transport *t,
		struct grant_mapper *mapper, struct session_ref *ref, int *notify_fd)
{
	struct conn_params cp;
	struct conn *conn;
	enum session_end end = SESSION_RUNNING;
	uint32_t w, h, depth;

	conn_params_default(&cp, CONN_DAEMON);
	x11_screen(x, &w, &h, &depth);
	proto_xconf_for_screen(w, h, depth, &cp.xconf);
	cp.clipboard_max = cfg->max_clipboard_size;
	cp.utf8_titles = cfg->allow_utf8_titles;
	conn = conn_create(t, &cp);
	if (conn == NULL) {
		return SESSION_LOCAL;
	}
	while (end == SESSION_RUNNING) {
		struct pollfd pfd[2];
		struct proto_msg m;

		if (sigs_stop()) {
			end = SESSION_EOF;
			break;
		}
		if (sigs_take_hup()) {
			x11_reread_screen(x);
			session_screen_changed(ref->s);
		}
		if (ref->s == NULL) {
			int rc = conn_next(conn, &m);

			if (rc == CONN_READY) {
				log_info("agent connected, protocol %u.%u (agent offered %u.%u)", conn_version(conn) >> 16,
						conn_version(conn) & 0xffff, conn_peer_version(conn) >> 16,
						conn_peer_version(conn) & 0xffff);
				ref->s = session_create(cfg, x, conn, mapper);
				if (ref->s == NULL) {
					end = SESSION_LOCAL;
					break;
				}
				runfile_connected(&runfile);
				if (*notify_fd >= 0) {
					if (write(*notify_fd, "1", 1) != 1) {
						log_debug("the parent is gone");
					}
					close(*notify_fd);
					*notify_fd = -1;
				}
				if (cfg->kill_on_connect > 0 && !cfg->foreground) {
					kill(cfg->kill_on_connect, SIGUSR1);
				}
				continue;
			}
			if (rc < 0) {
				log_error("handshake failed: %s", rc == -EPIPE ? "the agent disconnected" : conn_error(conn));
				end = rc == -EPIPE ? SESSION_EOF : SESSION_VIOLATION;
				break;
			}
		} else {
			end = session_process(ref->s, 256);
			if (end != SESSION_RUNNING) {
				break;
			}
		}
		x11_flush(x);
		conn_pollfd(conn, &pfd[0]);
		if (session_throttled(ref->s)) {
			pfd[0].events &= ~POLLIN; /* its messages wait in the connection until session_timeout */
		}
		pfd[1] = (struct pollfd){ x11_fd(x), POLLIN, 0 };
		if (x11_dispatch(x) != 0) {
			end = SESSION_LOCAL;
			break;
		}
		int timeout = session_timeout(ref->s);

		if (poll(pfd, 2, timeout >= 0 && timeout < 1000 ? timeout : 1000) < 0 && errno != EINTR) {
			end = SESSION_LOCAL;
			break;
		}
		if (conn_handle(conn, pfd[0].revents) < 0 && ref->s == NULL) {
			/* the reads that follow report the end, after any bytes still buffered */
		}
		if (x11_dispatch(x) != 0) {
			end = SESSION_LOCAL;
		}
	}
	session_destroy(ref->s);
	ref->s = NULL;
	conn_destroy(conn);
	return end;
}

int main(int argc, char **argv)
{
	struct gd_config cfg;
	char err[256];
	enum qgui_backend be;
	int own = 0, notify_fd;
	struct session_ref ref = { NULL };
	struct x11 *x;
	struct grant_mapper *mapper;
	enum session_end end = SESSION_EOF;

	log_init("gui-daemon", NULL);
	config_defaults(&cfg);
	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
	case CONFIG_VERSION:
		return EXIT_OK;
	case CONFIG_ERROR:
	default:
		fprintf(stderr, "gui-daemon: %s\n", err);
		return EXIT_USAGE;
	}
	log_init("gui-daemon", cfg.vmname);
	log_set_level(cfg.log_level);
	be = backend_resolve(cfg.backend);
	if (backend_own_domid(&own) != 0) {
		log_error("VCHAN_DOMAIN is not a valid domain id");
		return EXIT_USAGE;
	}
	log_info("starting for domain %d as domain %d, %s back-end", cfg.domid, own, backend_name(be));
	for (size_t i = 0; i < cfg.nwarnings; i++) {
		log_warn("%s", cfg.warnings[i]);
	}
	/* before the fork, as qubes-guid: a second daemon for the domain says so in the foreground */
	switch (runfile_claim(&runfile, cfg.domid)) {
	case RUNFILE_RUNNING:
		return EXIT_OK;
	case RUNFILE_ERROR:
		return EXIT_LOCAL;
	default:
		break;
	}
	sigs_setup(SIGS_USR1_STOPS | SIGS_HUP, NULL); /* SIGTERM, SIGINT, SIGUSR1 stop; SIGHUP re-reads the screen */
	notify_fd = daemonize(&cfg);
	if (runfile_keep(&runfile) != 0) {
		return EXIT_LOCAL;
	}
	x = x11_open(&cfg, &session_x11_events, &ref);
	if (x == NULL) {
		return EXIT_LOCAL;
	}
	mapper = grant_mapper_create(be, own, cfg.domid);
	if (mapper == NULL) {
		x11_close(x);
		return EXIT_LOCAL;
	}
	/* set-up is done: from here on only the agent's bytes arrive; the clipboard's files and commands are the helper's */
	if (clipboard_helper_start(&(struct clip_ctx){ cfg.clipboard_dir, cfg.vmname, QUBES_GUID_PROTOCOL_VERSION, 0,
			    cfg.max_clipboard_size, cfg.qrexec_clipboard, cfg.paste_policy_command }) != 0 ||
			sandbox_enter(SANDBOX_GUI_DAEMON, be, cfg.kill_on_connect) != 0) {
		grant_mapper_destroy(mapper);
		x11_close(x);
		return EXIT_LOCAL;
	}
	while (!sigs_stop()) {
		struct transport *t = connect_agent(&cfg, be, own);

		if (t == NULL) {
			if (!sigs_stop()) {
				end = SESSION_LOCAL; /* connect_agent said why */
			}
			break;
		}
		end = run_session(&cfg, x, t, mapper, &ref, &notify_fd);
		transport_destroy(t);
		if (end != SESSION_EOF) {
			break;
		}
	}
	grant_mapper_destroy(mapper);
	x11_close(x);
	switch (end) {
	case SESSION_VIOLATION:
		return EXIT_VIOLATION;
	case SESSION_LOCAL:
		return EXIT_LOCAL;
	default:
		return EXIT_OK;
	}
}

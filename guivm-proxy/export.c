/* export.c: guivm-export, the GUI qube's side of the display export: one X display's whole screen as one window. */
/*
 * guivm-export plays the agent role of the Qubes GUI protocol (vchan server,
 * grant owner) toward dom0, whose guivm-proxy (or a stock qubes-guid with
 * allow_fullscreen) plays the daemon role. Everything dom0 sends is decoded
 * and checked by conn_next(); this file only decides what to do with it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentcli.h"
#include "export_region.h"
#include "export_screen.h"
#include "inject.h"
#include "qgui/backend.h"
#include "qgui/conn.h"
#include "qgui/dbuf.h"
#include "qgui/grant.h"
#include "qgui/log.h"
#include "qgui/transport.h"
#include "sandbox.h"
#include "sigs.h"

/*
 * The one window's id: 0, the reference daemon's "screen window"
 * (FULLSCREEN_WINDOW_ID, reference section 2.6), made for agents that export
 * one whole-desktop framebuffer. For that id qubes-guid (and our gui-daemon)
 * keeps no configure handshake: a CONFIGURE we send is applied as it is.
 * That matters here, because the display cannot always take the size dom0
 * asks for (Xvfb cannot grow): with any other id, an echo of a different
 * size would make the daemon re-send its own, and the two would loop. Its
 * image is also kept across UNMAP. KEYMAP_NOTIFY comes with window 0 too,
 * which is consistent: all input is for this window.
 */
#define EXPORT_WINDOW FULLSCREEN_WINDOW_ID

/* The vchan ring per direction (reference 3.1: one 4 KiB page each way). */
#define RING_SIZE 4096

/* Messages handled per loop turn, so that X events are never starved. */
#define MSGS_PER_TURN 256

enum {
	EXIT_OK = 0,    /* SIGTERM/SIGINT */
	EXIT_LOCAL = 1, /* no X server, no back-end, out of memory */
	EXIT_USAGE = 2, /* bad command line */
};

/* One connection of dom0's proxy, from handshake to disconnect. */
struct session {
	struct conn *conn;
	struct dbuf *dbuf;
	bool shown;             /* handshake done, window created and mapped */
	uint32_t w, h;          /* the size dom0 was last told */
	int32_t x, y;           /* where dom0 says the window is (its business; echoed back) */
	bool capture_blocked;   /* the last capture failed: wait for an X event */
	uint32_t refused_w, refused_h; /* the last size dom0 asked for that the display could not take */
	unsigned refused_echoes;       /* consecutive echoes of that refusal */
};

struct exporter {
	struct agentcli_opts opt;   /* opt.domid: the domain of dom0's proxy (vchan client, grantee) */
	enum qgui_backend be;
	int own;
	struct export_screen *scr;
	struct transport *t;
	struct grant_owner *owner;
	bool xtest;
	char title[128];
	struct export_region damage;
	struct session s;
	uint64_t frames;
	int status;             /* the exit status once the loop stops */
};

/* ----------------------------------------------------------------- command line */

static const char usage[] = "usage: guivm-export -d DOM0_DOMID [options]\n"
	"Exports the whole screen of one X display to dom0 as one full-screen window, through\n"
	"the Qubes GUI protocol (agent role), for guivm-proxy or qubes-guid in dom0.\n"
	"\n"
	"  -d, --domid=ID           domain of dom0's viewer (normally 0), 0..32751 (required)\n"
	"      --display=NAME       the X display to export (default: $DISPLAY)\n"
	"      --transport=xen|socket|auto  vchan and grant back-end (default auto)\n"
	"  -v, --verbose            more logging (repeatable; levels 0..2, default 1)\n"
	"  -q, --quiet              less logging (repeatable)\n"
	"  -h, --help               this text\n"
	"      --version            the program and protocol version\n"
	"\n"
	"Own domain id: $VCHAN_DOMAIN (default 0). Socket back-end directory: $VCHAN_SOCKET_DIR\n"
	"(default /var/run/vchan). Exit status: 0 after SIGTERM/SIGINT, 1 on a local failure,\n"
	"2 on a bad command line.\n";

/* "<hostname> desktop", printable ASCII only, as the title of the window. */
static void make_title(char out[128])
{
	char host[64] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
		snprintf(host, sizeof(host), "GUI qube");
	}
	host[sizeof(host) - 1] = '\0';
	snprintf(out, 128, "%s desktop", host);
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
			*p = '_';
		}
	}
}

/* ----------------------------------------------------------------- the session */

/* Queues m for dom0. A full queue (dom0 stopped reading) ends the session. 0 or a negative errno. */
static int send_msg(struct exporter *e, const struct proto_msg *m)
{
	int rc = conn_send(e->s.conn, m);

	if (rc < 0) {
		log_error("cannot send %s to dom0: %s", proto_type_name(m->type), strerror(-rc));
	}
	return rc;
}

static int send_configure(struct exporter *e)
{
	struct proto_msg m = { .type = MSG_CONFIGURE, .window = EXPORT_WINDOW };

	m.u.configure = (struct proto_configure){ e->s.x, e->s.y, e->s.w, e->s.h, false };
	return send_msg(e, &m);
}

static void damage_all(struct exporter *e)
{
	uint32_t w, h;

	export_screen_size(e->scr, &w, &h);
	export_region_clear(&e->damage);
	export_region_add(&e->damage, (struct qgui_rect){ 0, 0, (int32_t)w, (int32_t)h });
}

/* After the handshake: size the display to dom0's screen, then CREATE, WMNAME, WINDOW_FLAGS, MAP (a replay on every connect). */
static int on_ready(struct exporter *e)
{
	const struct msg_xconf *untrusted_xconf = conn_xconf(e->s.conn);
	uint32_t v = conn_version(e->s.conn);
	struct proto_msg m;
	int rc;

	log_info("dom0 connected, protocol %u.%u; its screen is %ux%u", v >> 16, v & 0xffff, untrusted_xconf->w,
			untrusted_xconf->h);
	if (v < QUBES_GUID_MIN_MSG_WINDOW_DUMP_ACK) {
		/* without acks a buffer is never known to be free: double buffering is impossible */
		log_error("dom0's viewer speaks protocol %u.%u, which has no WINDOW_DUMP_ACK; 1.7 or later is needed",
				v >> 16, v & 0xffff);
		return -EPROTONOSUPPORT;
	}
	/*
	 * xconf is decoded but not checked by conn: it comes from dom0's viewer
	 * (more trusted than we are, still checked here: a size outside the
	 * protocol's limits is not applied). Its width is the root width rounded
	 * up to a multiple of 8 (reference 1.5), so the display may end up a few
	 * pixels wider than dom0's screen; a later CONFIGURE from dom0 corrects it.
	 */
	if (untrusted_xconf->w >= 1 && untrusted_xconf->w <= MAX_WINDOW_WIDTH && untrusted_xconf->h >= 1 &&
			untrusted_xconf->h <= MAX_WINDOW_HEIGHT) {
		export_screen_set_size(e->scr, untrusted_xconf->w, untrusted_xconf->h);
	} else {
		log_info("dom0's screen size %ux%u is outside the protocol's limits: not applied", untrusted_xconf->w,
				untrusted_xconf->h);
	}
	export_screen_size(e->scr, &e->s.w, &e->s.h);
	e->s.x = e->s.y = 0;
	m = (struct proto_msg){ .type = MSG_CREATE, .window = EXPORT_WINDOW,
		.u.create = { 0, 0, e->s.w, e->s.h, false } };
	if ((rc = send_msg(e, &m)) != 0) {
		return rc;
	}
	m = (struct proto_msg){ .type = MSG_WMNAME, .window = EXPORT_WINDOW };
	memcpy(m.u.wmname.title, e->title, sizeof(m.u.wmname.title));
	if ((rc = send_msg(e, &m)) != 0) {
		return rc;
	}
	m = (struct proto_msg){ .type = MSG_WINDOW_FLAGS, .window = EXPORT_WINDOW,
		.u.flags = { WINDOW_FLAG_FULLSCREEN, 0 } };
	if ((rc = send_msg(e, &m)) != 0) {
		return rc;
	}
	m = (struct proto_msg){ .type = MSG_MAP, .window = EXPORT_WINDOW, .u.map = { 0, false } };
	if ((rc = send_msg(e, &m)) != 0) {
		return rc;
	}
	e->s.shown = true;
	damage_all(e);
	log_info("exporting display %s (%ux%u) as window %d", export_screen_name(e->scr), e->s.w, e->s.h,
			EXPORT_WINDOW);
	return 0;
}

/*
 * dom0's CONFIGURE: the size it wants (its screen, or what its window
 * manager gave the window). The display is sized to it where the server
 * can, and the geometry in effect is echoed back (the configure handshake,
 * reference 1.6): dom0's position, our real size.
 *
 * A window manager in dom0 that enforces a size the display cannot take
 * (full screen on a larger monitor than the Xvfb) would answer each echo
 * by resizing the window again, and dom0 would ask again: the same refused
 * request is echoed at most REFUSED_ECHOES_MAX times in a row (with no
 * CONFIGURE of our own in between), then only a different request is
 * answered. Window 0 has no configure handshake, so a daemon never waits
 * for the echoes left out.
 */
#define REFUSED_ECHOES_MAX 3

static int on_configure(struct exporter *e, const struct proto_configure *c)
{
	uint32_t w, h;

	export_screen_set_size(e->scr, c->width, c->height);
	export_screen_size(e->scr, &w, &h);
	if (w != e->s.w || h != e->s.h) {
		damage_all(e);
	}
	e->s.x = c->x;
	e->s.y = c->y;
	e->s.w = w;
	e->s.h = h;
	if (w == c->width && h == c->height) {
		e->s.refused_echoes = 0;
	} else if (c->width == e->s.refused_w && c->height == e->s.refused_h) {
		if (++e->s.refused_echoes > REFUSED_ECHOES_MAX) {
			log_debug("dom0 asks for %ux%u again: not echoed (it cannot be had)", c->width, c->height);
			return 0;
		}
	} else {
		e->s.refused_w = c->width;
		e->s.refused_h = c->height;
		e->s.refused_echoes = 1;
	}
	return send_configure(e);
}

/* One validated message from dom0. Returns 0, or a negative errno that ends the session. */
static int on_message(struct exporter *e, const struct proto_msg *m)
{
	switch (m->type) {
	case MSG_WINDOW_DUMP_ACK:
		if (m->window == EXPORT_WINDOW) {
			dbuf_ack(e->s.dbuf);
		}
		return 0;
	case MSG_CONFIGURE:
		if (e->s.shown && m->window == EXPORT_WINDOW) {
			return on_configure(e, &m->u.configure);
		}
		break;
	case MSG_KEYPRESS:
	case MSG_BUTTON:
	case MSG_MOTION:
	case MSG_CROSSING:
	case MSG_KEYMAP_NOTIFY:
		/* the window is the root, at the origin: window coordinates are root coordinates */
		if (e->xtest && (m->window == EXPORT_WINDOW || m->type == MSG_KEYMAP_NOTIFY)) {
			inject_event(export_screen_display(e->scr), m, 0, 0);
			XFlush(export_screen_display(e->scr));
			return 0;
		}
		break;
	case MSG_FOCUS:
		/* nothing to do: dom0 sends KEYMAP_NOTIFY before FocusIn, which synchronises the keys */
		return 0;
	default:
		/* CLOSE, CLIPBOARD_REQ/DATA, MAP, WINDOW_FLAGS, the DESTROY echo: nothing for a whole screen */
		break;
	}
	log_debug("ignored %s for window 0x%x", proto_type_name(m->type), m->window);
	return 0;
}

/* Handles what dom0 sent. Returns 0, or a negative errno that ends the session. */
static int pump(struct exporter *e)
{
	for (int i = 0; i < MSGS_PER_TURN; i++) {
		struct proto_msg m;
		int rc = conn_next(e->s.conn, &m);

		switch (rc) {
		case CONN_NONE:
			return 0;
		case CONN_READY:
			if ((rc = on_ready(e)) != 0) {
				return rc;
			}
			break;
		case CONN_MSG:
			if ((rc = on_message(e, &m)) != 0) {
				return rc;
			}
			break;
		case CONN_DROPPED:
			log_info("ignored a message from dom0: %s", conn_error(e->s.conn));
			break;
		default:
			if (rc == -EPIPE) {
				log_info("dom0 disconnected");
			} else if (rc == -EPROTO || rc == -EPROTONOSUPPORT) {
				log_error("dom0 broke the protocol: %s", conn_error(e->s.conn));
			} else {
				log_error("connection to dom0 failed: %s", strerror(-rc));
			}
			return rc;
		}
	}
	return 0;
}

/* The size changed under us (RandR, or the root): tell dom0. The damage already covers the new screen. */
static int on_resized(struct exporter *e)
{
	uint32_t w, h;

	export_screen_size(e->scr, &w, &h);
	if (!e->s.shown || (w == e->s.w && h == e->s.h)) {
		return 0;
	}
	log_info("display %s is now %ux%u", export_screen_name(e->scr), w, h);
	e->s.w = w;
	e->s.h = h;
	e->s.refused_echoes = 0; /* dom0 may answer this with its own size again: that is no ping-pong */
	return send_configure(e);
}

/*
 * Sends a frame if anything changed and a buffer is free: the damage and
 * whatever the back buffer missed are copied into it, then WINDOW_DUMP and
 * one SHMIMAGE for the bounding box of the damage (one put on dom0's side,
 * so dom0 never shows part of a frame either). Returns 0 or a negative
 * errno that ends the session.
 */
static int send_frame(struct exporter *e)
{
	struct export_region copy;
	struct qgui_rect stale, box;
	struct proto_dump dump;
	uint32_t *pixels, w, h;
	int rc;

	if (!e->s.shown || e->s.capture_blocked || export_region_empty(&e->damage)) {
		return 0;
	}
	export_screen_size(e->scr, &w, &h);
	export_region_clip(&e->damage, (int32_t)w, (int32_t)h);
	if (export_region_empty(&e->damage)) {
		return 0;
	}
	rc = dbuf_begin(e->s.dbuf, w, h, &pixels, &stale);
	if (rc == -EAGAIN) {
		return 0; /* both buffers are dom0's until an ack: the damage waits */
	}
	if (rc != 0) {
		log_error("cannot get a %ux%u frame buffer: %s", w, h, strerror(-rc));
		return rc;
	}
	copy = e->damage;
	export_region_add(&copy, stale);
	export_region_clip(&copy, (int32_t)w, (int32_t)h);
	if (export_screen_capture(e->scr, e->owner, dbuf_back_share(e->s.dbuf), (uint8_t *)pixels, w, h, copy.r,
			    copy.n) != 0) {
		e->s.capture_blocked = true; /* not presented: the buffer stays ours, the damage stays */
		return 0;
	}
	box = export_region_bbox(&e->damage);
	if ((rc = dbuf_present(e->s.dbuf, box, &dump)) != 0) {
		log_error("cannot present a frame: %s", strerror(-rc));
		return rc;
	}
	rc = send_msg(e, &(struct proto_msg){ .type = MSG_WINDOW_DUMP, .window = EXPORT_WINDOW, .u.dump = dump });
	if (rc == 0) {
		rc = send_msg(e, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = EXPORT_WINDOW,
					 .u.shmimage = { box.x, box.y, box.w, box.h } });
	}
	export_region_clear(&e->damage);
	e->frames++;
	return rc;
}

static int start_session(struct exporter *e)
{
	struct conn_params p;

	conn_params_default(&p, CONN_AGENT);
	memset(&e->s, 0, sizeof(e->s));
	e->s.conn = conn_create(e->t, &p);
	e->s.dbuf = dbuf_create(e->owner);
	if (e->s.conn == NULL || e->s.dbuf == NULL) {
		log_error("out of memory");
		return -ENOMEM;
	}
	log_debug("dom0's viewer connected; handshake");
	return 0;
}

/* Waits up to timeout_ms or a signal. */
static void pause_ms(int timeout_ms)
{
	poll(NULL, 0, timeout_ms);
}

/* Ends the session (the buffers are unshared) and waits for dom0's next connection. 0, or -1 when the back-end is gone. */
static int end_session(struct exporter *e)
{
	conn_destroy(e->s.conn);
	dbuf_destroy(e->s.dbuf);
	memset(&e->s, 0, sizeof(e->s));
	export_screen_forget_shares(e->scr);
	if (e->t && transport_server_reset(e->t) == 0) {
		log_info("waiting for dom0 to connect again");
		return 0;
	}
	/* a Xen server whose reset failed is useless: make a new one */
	transport_destroy(e->t);
	e->t = NULL;
	while (!sigs_stop()) {
		e->t = transport_server_create(e->be, e->own, e->opt.domid, QGUI_VCHAN_PORT, RING_SIZE);
		if (e->t) {
			log_info("waiting for dom0 to connect again");
			return 0;
		}
		pause_ms(1000);
	}
	return -1;
}

/* ----------------------------------------------------------------- main */

/* Undone at any exit, also from Xlib's fatal I/O error handler: no socket or share outlives the process. */
static struct exporter *cleanup_e;

static void cleanup(void)
{
	struct exporter *e = cleanup_e;

	if (e == NULL) {
		return;
	}
	cleanup_e = NULL;
	conn_destroy(e->s.conn);
	dbuf_destroy(e->s.dbuf);
	grant_owner_destroy(e->owner);
	transport_destroy(e->t);
}

/* One turn: X events, dom0's messages, a frame, then poll. Returns 0, or -1 to stop. */
static int turn(struct exporter *e)
{
	struct pollfd pfd[2];
	bool resized = false;
	int rc = 0, timeout = 1000;
	Display *dpy = export_screen_display(e->scr);

	if (export_screen_dispatch(e->scr, &e->damage, &resized) > 0 || resized) {
		e->s.capture_blocked = false;
	}
	if (e->s.conn == NULL && transport_state(e->t) == TRANSPORT_CONNECTED && start_session(e) != 0) {
		e->status = EXIT_LOCAL;
		return -1;
	}
	if (e->s.conn) {
		if (resized) {
			rc = on_resized(e);
		}
		if (rc == 0) {
			rc = pump(e);
		}
		if (rc == 0) {
			rc = send_frame(e);
		}
		if (rc == 0) {
			rc = conn_flush(e->s.conn);
		}
		if (rc != 0) {
			return end_session(e);
		}
	}
	XFlush(dpy);
	pfd[0] = (struct pollfd){ export_screen_fd(e->scr), POLLIN, 0 };
	if (e->s.conn) {
		conn_pollfd(e->s.conn, &pfd[1]);
	} else {
		transport_pollfd(e->t, false, &pfd[1]);
	}
	if (XPending(dpy)) {
		timeout = 0;
	} else if (e->s.capture_blocked) {
		timeout = 100; /* retry a failed capture even if no event comes */
	}
	if (poll(pfd, 2, timeout) == 0 && e->s.capture_blocked) {
		e->s.capture_blocked = false;
	}
	if (e->s.conn) {
		rc = conn_handle(e->s.conn, pfd[1].revents);
		/* -EPIPE: conn_next reports it after the bytes still buffered; anything else ends it now */
		if (rc < 0 && rc != -EPIPE) {
			log_error("connection to dom0 failed: %s", strerror(-rc));
			return end_session(e);
		}
	} else if (pfd[1].fd >= 0) {
		transport_handle(e->t, pfd[1].revents);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct agentcli_prog cli = { .name = "guivm-export", .domid_arg = "DOM0_DOMID", .usage = usage };
	static struct exporter ex;
	struct exporter *e = &ex;
	const struct export_stats *st;
	int rc;

	log_init("guivm-export", "dom0");
	rc = agentcli_parse(&cli, argc, argv, &e->opt);
	if (rc >= 0) {
		return rc;
	}
	log_set_level(e->opt.log_level);
	if (backend_own_domid(&e->own) != 0) {
		fprintf(stderr, "guivm-export: VCHAN_DOMAIN is not a valid domain id\n");
		return EXIT_USAGE;
	}
	if (e->own == e->opt.domid) {
		fprintf(stderr, "guivm-export: own domain (VCHAN_DOMAIN=%d) equals -d %d: set VCHAN_DOMAIN to this "
				"GUI qube's domain id\n", e->own, e->opt.domid);
		return EXIT_USAGE;
	}
	e->be = backend_resolve(e->opt.backend);
	log_info("starting: exporting display %s to domain %d as domain %d, %s back-end",
			e->opt.display ? e->opt.display : (getenv("DISPLAY") ? getenv("DISPLAY") : "(none)"), e->opt.domid,
			e->own, backend_name(e->be));
	sigs_setup(0, NULL);
	make_title(e->title);
	e->scr = export_screen_open(e->opt.display);
	if (e->scr == NULL) {
		return EXIT_LOCAL;
	}
	e->xtest = inject_supported(export_screen_display(e->scr));
	if (!e->xtest) {
		log_info("display %s has no XTEST 2.2: input from dom0 is dropped", export_screen_name(e->scr));
	}
	cleanup_e = e;
	atexit(cleanup);
	e->owner = grant_owner_create(e->be, e->own, e->opt.domid);
	e->t = e->owner ? transport_server_create(e->be, e->own, e->opt.domid, QGUI_VCHAN_PORT, RING_SIZE) : NULL;
	if (e->t == NULL) {
		export_screen_close(e->scr);
		return EXIT_LOCAL;
	}
	log_info("waiting for dom0 (domain %d) to connect", e->opt.domid);
	if (sandbox_enter(SANDBOX_EXPORT, e->be, 0) != 0) { /* set-up is done: from here on dom0's bytes arrive */
		return EXIT_LOCAL;
	}
	while (!sigs_stop()) {
		if (turn(e) != 0) {
			break;
		}
	}
	st = export_screen_stats(e->scr);
	log_info("exiting: frames sent: %llu; bytes copied by the X server: %llu (%llu rectangles straight into "
		 "shares); bytes copied by guivm-export: %llu (%llu rectangles)",
			(unsigned long long)e->frames, (unsigned long long)st->x_bytes,
			(unsigned long long)st->zero_copy, (unsigned long long)st->own_bytes,
			(unsigned long long)st->copied);
	cleanup();
	export_screen_close(e->scr);
	return e->status;
}

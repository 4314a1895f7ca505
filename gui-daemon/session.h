/* session.h: one connected agent: its windows, the policy applied to its messages, input back to it. */
#ifndef GD_SESSION_H
#define GD_SESSION_H

#include <stdbool.h>

#include "config.h"
#include "qgui/conn.h"
#include "qgui/grant.h"
#include "x11.h"

struct session;

/* Why a session ended (also gui-daemon's exit status for it). */
enum session_end {
	SESSION_RUNNING = -1,
	SESSION_EOF = 0,        /* the agent closed the connection: reconnect */
	SESSION_VIOLATION = 3,  /* the agent broke the protocol */
	SESSION_LOCAL = 1,      /* a local failure (X, memory) */
};

/* The X event callbacks that feed a session (pass with the session as ctx to x11_open). */
extern const struct x11_events session_x11_events;

/*
 * Creates a session for a connection that has completed its handshake.
 * Borrows cfg, x, conn and mapper (the caller keeps them alive).
 */
struct session *session_create(const struct gd_config *cfg, struct x11 *x, struct conn *conn,
		struct grant_mapper *mapper);

/* Destroys every window of the session (the old session's windows disappear) and frees it. Accepts NULL. */
void session_destroy(struct session *s);

/*
 * Handles up to max messages that conn_next has ready. Returns SESSION_RUNNING,
 * or why the session ended (one log line says so).
 */
enum session_end session_process(struct session *s, int max);

/* The session that X events are delivered to (x11_open's ctx points at a holder of this). */
struct session_ref {
	struct session *s;
};

/*
 * Milliseconds until a delayed input event (events_max_delay) is due, after
 * sending those already due, or until a throttled agent may go on; -1 when
 * nothing waits. Use as the poll timeout.
 */
int session_timeout(struct session *s);

/*
 * True while the agent has used up the X work it may cause for now: leave its
 * messages in the connection (do not poll it for input) until session_timeout.
 */
bool session_throttled(struct session *s);

/* Called on SIGHUP: re-reads the screen and re-applies the on-screen rules. */
void session_screen_changed(struct session *s);

#endif

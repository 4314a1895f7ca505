/*
 * qgui/conn.h: one GUI protocol session over a transport, for either role.
 *
 * Non-blocking throughout: the handshake (reference section 1.5), incremental
 * reads (a message arrives in any number of pieces; a truncated one never
 * hangs the program) and buffered writes (a peer that stops reading never
 * stalls the program; past the output cap the session ends).
 */
#ifndef QGUI_CONN_H
#define QGUI_CONN_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qgui/proto.h"
#include "qgui/transport.h"

enum conn_role {
	CONN_AGENT,  /* sends its version first, decodes D->A messages */
	CONN_DAEMON, /* answers with version and xconf, decodes A->D messages */
};

/* Default cap on queued output (as the reference daemon's 10 000 000 bytes). */
#define CONN_DEFAULT_OUT_CAP 10000000u

struct conn_params {
	enum conn_role role;
	uint32_t version;        /* agent: the version it offers; daemon: its own (normally 1.8) */
	struct msg_xconf xconf;  /* daemon: sent after the version word */
	uint32_t clipboard_max;  /* daemon: configured clipboard limit (256..256000) */
	bool utf8_titles;        /* daemon: keep valid UTF-8 in titles */
	size_t out_cap;          /* 0: CONN_DEFAULT_OUT_CAP */
};

/* Fills *p with defaults for role: version 1.8, clipboard 64000, no UTF-8 titles. */
void conn_params_default(struct conn_params *p, enum conn_role role);

struct conn; /* opaque */

/*
 * Starts a session on t, which must stay alive until conn_destroy (borrowed).
 * An agent queues its version word at once. Returns NULL with errno set on
 * allocation failure.
 */
struct conn *conn_create(struct transport *t, const struct conn_params *p);

/* Frees the session (queued output is dropped). Accepts NULL. */
void conn_destroy(struct conn *c);

/* For poll(): the transport's fd, with POLLOUT while output is queued. */
void conn_pollfd(struct conn *c, struct pollfd *pfd);

/*
 * After poll(): lets the transport handle revents and flushes queued output.
 * Returns 0, or a negative errno that ends the session (-EPIPE: peer closed).
 */
int conn_handle(struct conn *c, short revents);

/* What conn_next() produced. */
enum conn_event {
	CONN_NONE = 0,  /* nothing complete yet: poll again */
	CONN_READY,     /* the handshake has completed: conn_version()/conn_xconf() are valid */
	CONN_MSG,       /* *msg holds a validated message */
	CONN_DROPPED,   /* a well-formed message was refused by a check (conn_error() says which) */
};

/*
 * Reads what is available without blocking and returns the next event. *msg
 * (for CONN_MSG) borrows from the session's buffer until the next call.
 * Negative returns end the session: -EPROTO (the peer broke the protocol;
 * conn_error() describes it), -EPROTONOSUPPORT (version refused), -EPIPE
 * (the peer closed; also when it closed in the middle of a message),
 * -ENOMEM, or a transport errno. A message body is read only after its
 * header passed proto_check_hdr, so a peer can never make the session
 * allocate or read more than the rules allow.
 */
int conn_next(struct conn *c, struct proto_msg *msg);

/*
 * Queues m for the peer and tries to send. Returns 0, -ENOBUFS when the queue
 * would pass its cap (the session is then broken: end it), -EAGAIN before the
 * handshake completed (only the handshake may be sent then), or -EPIPE.
 */
int conn_send(struct conn *c, const struct proto_msg *m);

/* Sends what the transport takes now. Returns 0 or a negative errno as conn_handle. */
int conn_flush(struct conn *c);

/* Bytes still queued. */
size_t conn_queued(const struct conn *c);

/* True once CONN_READY was returned. */
bool conn_ready(const struct conn *c);

/* Negotiated version (valid after CONN_READY). */
uint32_t conn_version(const struct conn *c);

/* The peer's offered version (daemon role: what the agent sent). */
uint32_t conn_peer_version(const struct conn *c);

/* Agent role: the xconf the daemon sent (valid after CONN_READY). */
const struct msg_xconf *conn_xconf(const struct conn *c);

/* A static description of the last violation or refusal; "" when none. Safe to log. */
const char *conn_error(const struct conn *c);

/* The decoder options in force (version, clipboard limit, UTF-8 titles). */
const struct proto_opts *conn_opts(const struct conn *c);

#endif

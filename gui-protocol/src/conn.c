/* conn.c: a non-blocking GUI protocol session: handshake, incremental reads, capped buffered writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qgui/conn.h"
#include "qgui/log.h"

#define IN_INITIAL 65536u
#define IN_MAX (PROTO_HDR_LEN + PROTO_MAX_BODY)
#define OUT_INITIAL 65536u

enum phase {
	PH_VERSION, /* waiting for the peer's version word */
	PH_XCONF,   /* agent: waiting for the daemon's xconf */
	PH_HDR,     /* waiting for a message header */
	PH_BODY,    /* header accepted, waiting for frame.body_len bytes */
	PH_BROKEN,  /* a fatal error was returned; it is returned again */
};

struct conn {
	struct transport *t;
	struct conn_params p;
	struct proto_opts opts;
	enum phase phase;
	int broken_rc;
	bool ready;
	uint32_t peer_version;
	struct msg_xconf xconf;
	struct proto_frame frame;
	const char *err;
	char err_buf[96];

	uint8_t *in; /* received bytes in [in_start, in_end) */
	size_t in_cap, in_start, in_end;
	uint8_t *out; /* queued bytes in [out_start, out_end) */
	size_t out_alloc, out_start, out_end;
};

void conn_params_default(struct conn_params *p, enum conn_role role)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	p->version = QUBES_GUID_PROTOCOL_VERSION;
	p->clipboard_max = DEFAULT_CLIPBOARD_BUFFER_SIZE;
	p->out_cap = CONN_DEFAULT_OUT_CAP;
	proto_xconf_for_screen(1024, 768, 24, &p->xconf);
}

static int broken(struct conn *c, int rc, const char *why)
{
	c->phase = PH_BROKEN;
	c->broken_rc = rc;
	if (why) {
		c->err = why;
	}
	return rc;
}

/* Appends len bytes (or room for them, when data is NULL) to the output queue. */
static uint8_t *out_reserve(struct conn *c, size_t len)
{
	size_t queued = c->out_end - c->out_start;

	if (len > c->p.out_cap || queued > c->p.out_cap - len) {
		return NULL;
	}
	if (c->out_alloc - c->out_end < len) {
		if (c->out_start > 0 && queued > 0) {
			memmove(c->out, c->out + c->out_start, queued);
			c->out_start = 0;
			c->out_end = queued;
		}
		if (c->out_alloc - c->out_end < len) {
			size_t want = c->out_alloc ? c->out_alloc : OUT_INITIAL;
			uint8_t *n;

			while (want - queued < len) {
				want *= 2;
			}
			n = realloc(c->out, want);
			if (n == NULL) {
				return NULL;
			}
			c->out = n;
			c->out_alloc = want;
		}
	}
	c->out_end += len;
	return c->out + c->out_end - len;
}

int conn_flush(struct conn *c)
{
	while (c->out_end > c->out_start) {
		ssize_t n = transport_write(c->t, c->out + c->out_start, c->out_end - c->out_start);

		if (n < 0) {
			return -(errno ? errno : EPIPE);
		}
		if (n == 0) {
			break;
		}
		c->out_start += (size_t)n;
	}
	if (c->out_start == c->out_end) {
		c->out_start = c->out_end = 0;
	}
	return 0;
}

static int queue_bytes(struct conn *c, const void *data, size_t len)
{
	uint8_t *dst = out_reserve(c, len);

	if (dst == NULL) {
		return broken(c, -ENOBUFS, "output queue over its cap (peer not reading)");
	}
	memcpy(dst, data, len);
	return conn_flush(c);
}

struct conn *conn_create(struct transport *t, const struct conn_params *p)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return NULL;
	}
	c->t = t;
	c->p = *p;
	if (c->p.out_cap == 0) {
		c->p.out_cap = CONN_DEFAULT_OUT_CAP;
	}
	c->err = "";
	proto_opts_default(&c->opts);
	c->opts.version = p->version;
	c->opts.clipboard_max = p->clipboard_max;
	c->opts.utf8_titles = p->utf8_titles;
	c->phase = PH_VERSION;
	if (p->role == CONN_AGENT) {
		uint8_t v[4];

		proto_encode_version(p->version, v);
		/* an agent below 1.4 gets no version word back, only the xconf */
		if (p->version < QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION) {
			c->phase = PH_XCONF;
		}
		if (queue_bytes(c, v, sizeof(v)) == -ENOBUFS) {
			free(c);
			errno = ENOBUFS;
			return NULL;
		}
	}
	return c;
}

void conn_destroy(struct conn *c)
{
	if (c == NULL) {
		return;
	}
	free(c->in);
	free(c->out);
	free(c);
}

void conn_pollfd(struct conn *c, struct pollfd *pfd)
{
	transport_pollfd(c->t, c->out_end > c->out_start, pfd);
}

int conn_handle(struct conn *c, short revents)
{
	transport_handle(c->t, revents);
	return conn_flush(c);
}

/* Makes sure need bytes are buffered, reading what the transport has. 1: ready, 0: not yet, <0: error. */
static int fill(struct conn *c, size_t need)
{
	size_t have = c->in_end - c->in_start;

	if (have >= need) {
		return 1;
	}
	if (c->in_cap - c->in_start < need) {
		if (have > 0) {
			memmove(c->in, c->in + c->in_start, have);
		}
		c->in_start = 0;
		c->in_end = have;
		if (c->in_cap < need) {
			size_t want = c->in_cap ? c->in_cap : IN_INITIAL;
			uint8_t *n;

			while (want < need) {
				want *= 2;
			}
			if (want > IN_MAX) {
				want = IN_MAX; /* need never exceeds IN_MAX: the header check capped it */
			}
			n = realloc(c->in, want);
			if (n == NULL) {
				return -ENOMEM;
			}
			c->in = n;
			c->in_cap = want;
		}
	}
	while (c->in_end - c->in_start < need) {
		ssize_t n = transport_read(c->t, c->in + c->in_end, c->in_cap - c->in_end);

		if (n < 0) {
			return -(errno ? errno : EPIPE);
		}
		if (n == 0) {
			return 0;
		}
		c->in_end += (size_t)n;
	}
	return 1;
}

static int version_refused(struct conn *c, const char *who, uint32_t v)
{
	snprintf(c->err_buf, sizeof(c->err_buf), "%s protocol version %u.%u is not supported", who, v >> 16,
			v & 0xffff);
	return broken(c, -EPROTONOSUPPORT, c->err_buf);
}

static int handshake_step(struct conn *c)
{
	const uint8_t *p = c->in + c->in_start;

	if (c->phase == PH_VERSION) {
		uint32_t untrusted_version = proto_decode_version(p);

		c->in_start += 4;
		c->peer_version = untrusted_version;
		if (c->p.role == CONN_DAEMON) {
			uint32_t own_minor = c->p.version & 0xffff, minor = untrusted_version & 0xffff;
			uint8_t buf[20];
			size_t n = 0;

			if (untrusted_version >> 16 != QUBES_GUID_PROTOCOL_VERSION_MAJOR) {
				return version_refused(c, "agent", untrusted_version);
			}
			c->opts.version = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, minor < own_minor ? minor : own_minor);
			if (c->opts.version >= QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION) {
				proto_encode_version(c->opts.version, buf);
				n = 4;
			}
			proto_encode_xconf(&c->p.xconf, buf + n);
			n += 16;
			c->ready = true;
			c->phase = PH_HDR;
			if (queue_bytes(c, buf, n) == -ENOBUFS) {
				return c->broken_rc;
			}
			return CONN_READY;
		}
		/* agent: the daemon's answer must be 1.4 .. our own offer */
		if (untrusted_version >> 16 != QUBES_GUID_PROTOCOL_VERSION_MAJOR || untrusted_version > c->p.version ||
				(untrusted_version & 0xffff) < 4) {
			return version_refused(c, "daemon", untrusted_version);
		}
		c->opts.version = untrusted_version;
		c->phase = PH_XCONF;
		return CONN_NONE;
	}
	/* PH_XCONF, agent only; the reference agent ignores the values, we pass them on */
	proto_decode_xconf(p, &c->xconf);
	c->in_start += 16;
	c->ready = true;
	c->phase = PH_HDR;
	return CONN_READY;
}

int conn_next(struct conn *c, struct proto_msg *msg)
{
	const enum proto_dir dir = c->p.role == CONN_DAEMON ? PROTO_A2D : PROTO_D2A;

	for (;;) {
		size_t need;
		int rc;

		switch (c->phase) {
		case PH_BROKEN:
			return c->broken_rc;
		case PH_VERSION:
			need = 4;
			break;
		case PH_XCONF:
			need = 16;
			break;
		case PH_HDR:
			need = PROTO_HDR_LEN;
			break;
		case PH_BODY:
			need = c->frame.body_len;
			break;
		default:
			INVARIANT(0);
		}
		rc = fill(c, need);
		if (rc < 0) {
			return broken(c, rc, rc == -EPIPE ? "peer closed the connection" : "transport error");
		}
		if (rc == 0) {
			return CONN_NONE;
		}
		if (c->phase == PH_VERSION || c->phase == PH_XCONF) {
			rc = handshake_step(c);
			if (rc != CONN_NONE) {
				return rc;
			}
			continue;
		}
		if (c->phase == PH_HDR) {
			const char *why = NULL;

			rc = proto_check_hdr(dir, c->in + c->in_start, &c->opts, &c->frame, &why);
			if (rc < 0) {
				return broken(c, -EPROTO, why);
			}
			c->in_start += PROTO_HDR_LEN;
			c->phase = PH_BODY;
			if (c->frame.len_mismatch) {
				log_info("peer sent %s with a wrong length (protocol < 1.6: warning only)",
						proto_type_name(c->frame.type));
			}
			continue;
		}
		/* PH_BODY: the whole body is buffered */
		{
			const char *why = NULL;
			const uint8_t *body = c->in + c->in_start;

			c->in_start += c->frame.body_len;
			c->phase = PH_HDR;
			rc = proto_decode(dir, &c->frame, body, &c->opts, msg, &why);
			if (rc < 0) {
				return broken(c, -EPROTO, why);
			}
			if (rc == PROTO_DROP) {
				c->err = why;
				return CONN_DROPPED;
			}
			return CONN_MSG;
		}
	}
}

int conn_send(struct conn *c, const struct proto_msg *m)
{
	size_t len = proto_encoded_len(m);
	uint8_t *dst;

	if (c->phase == PH_BROKEN) {
		return c->broken_rc;
	}
	if (!c->ready) {
		return -EAGAIN;
	}
	dst = out_reserve(c, len);
	if (dst == NULL) {
		return broken(c, -ENOBUFS, "output queue over its cap (peer not reading)");
	}
	proto_encode(m, c->opts.version, dst);
	return conn_flush(c);
}

size_t conn_queued(const struct conn *c)
{
	return c->out_end - c->out_start;
}

bool conn_ready(const struct conn *c)
{
	return c->ready;
}

uint32_t conn_version(const struct conn *c)
{
	return c->opts.version;
}

uint32_t conn_peer_version(const struct conn *c)
{
	return c->peer_version;
}

const struct msg_xconf *conn_xconf(const struct conn *c)
{
	return &c->xconf;
}

const char *conn_error(const struct conn *c)
{
	return c->err ? c->err : "";
}

const struct proto_opts *conn_opts(const struct conn *c)
{
	return &c->opts;
}

/*
 * fuzz_conn.c: libFuzzer target for a connection (gui-protocol/src/conn.c) in
 * either role: the version handshake, reassembly of the peer's stream read in
 * pieces of fuzzer-chosen sizes, and the output cap against a peer that
 * reads slowly or never. Every event conn_next returns is compared with a
 * reference decoding of the whole stream at once (chunking must change
 * nothing), and every byte we send must be accepted by the peer's decoder.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fz.h"
#include "proto_invariants.h"
#include "qgui/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: the stream decoded in one piece, event after event. */
struct ref {
	const uint8_t *p;
	size_t len, off;
	bool closed;
	enum conn_role role;
	uint32_t own, version;
	bool ready, dead;
	struct proto_opts o;
};

/* The next event the stream holds: a conn_next result; msg filled for CONN_MSG. */
static int ref_next(struct ref *r, struct proto_msg *m, struct msg_xconf *xc, size_t *body_len)
{
	const enum proto_dir dir = r->role == CONN_DAEMON ? PROTO_A2D : PROTO_D2A;
	size_t left = r->len - r->off;
	const char *why;

	if (r->dead) {
		return -1; /* nothing after the end */
	}
	if (!r->ready) {
		bool want_version = r->role == CONN_DAEMON || r->own >= QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION;

		if (want_version && r->version == 0) {
			uint32_t v;

			if (left < 4) {
				return r->closed ? -EPIPE : CONN_NONE;
			}
			v = proto_decode_version(r->p + r->off);
			r->off += 4;
			if (r->role == CONN_DAEMON) {
				uint32_t minor = v & 0xffff, own_minor = r->own & 0xffff;

				if (v >> 16 != 1) {
					return -EPROTONOSUPPORT;
				}
				r->version = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, minor < own_minor ? minor : own_minor);
				r->o.version = r->version;
				r->ready = true;
				return CONN_READY;
			}
			if (v >> 16 != 1 || v > r->own || (v & 0xffff) < 4) {
				return -EPROTONOSUPPORT;
			}
			r->version = v;
			left -= 4;
		}
		/* agent: the xconf */
		if (left < 16) {
			return r->closed ? -EPIPE : CONN_NONE;
		}
		proto_decode_xconf(r->p + r->off, xc);
		r->off += 16;
		if (r->version == 0) {
			r->version = r->own;
		}
		r->o.version = r->version;
		r->ready = true;
		return CONN_READY;
	}
	{
		struct proto_frame f;
		int rc;

		if (left < PROTO_HDR_LEN) {
			return r->closed ? -EPIPE : CONN_NONE;
		}
		if (proto_check_hdr(dir, r->p + r->off, &r->o, &f, &why) != 0) {
			return -EPROTO;
		}
		if (left - PROTO_HDR_LEN < f.body_len) {
			return r->closed ? -EPIPE : CONN_NONE;
		}
		r->off += PROTO_HDR_LEN;
		rc = proto_decode(dir, &f, r->p + r->off, &r->o, m, &why);
		r->off += f.body_len;
		*body_len = f.body_len;
		if (rc < 0) {
			return -EPROTO;
		}
		return rc == PROTO_DROP ? CONN_DROPPED : CONN_MSG;
	}
}

static void same_msg(const struct proto_msg *a, const struct proto_msg *b)
{
	FZ_ASSERT(a->type == b->type && a->window == b->window);
	if (a->type == MSG_WINDOW_DUMP) {
		const struct proto_dump *x = &a->u.dump, *y = &b->u.dump;

		FZ_ASSERT(x->width == y->width && x->height == y->height && x->bpp == y->bpp && x->nrefs == y->nrefs);
		FZ_ASSERT(x->nrefs == 0 || memcmp(x->refs, y->refs, (size_t)x->nrefs * 4) == 0);
	} else if (a->type == MSG_CLIPBOARD_DATA) {
		const struct proto_clipboard *x = &a->u.clipboard, *y = &b->u.clipboard;

		FZ_ASSERT(x->len == y->len && x->oversized == y->oversized && (x->data == NULL) == (y->data == NULL));
		FZ_ASSERT(x->data == NULL || memcmp(x->data, y->data, x->len) == 0);
	} else {
		FZ_ASSERT(memcmp(&a->u, &b->u, sizeof(a->u)) == 0);
	}
}

/* Something to send back, of a type our side sends (a reply to each event, to fill the output queue). */
static void reply_for(enum conn_role role, const struct proto_msg *in, unsigned k, struct proto_msg *out)
{
	memset(out, 0, sizeof(*out));
	out->window = in->window;
	if (role == CONN_DAEMON) {
		switch (k % 3) {
		case 0:
			out->type = MSG_CONFIGURE;
			out->u.configure = (struct proto_configure){ 1, 2, 1 + k % 700, 1 + k % 500, false };
			break;
		case 1:
			out->type = MSG_KEYPRESS;
			out->u.key = (struct proto_key){ QGUI_KeyPress, 3, 4, 0, 38 };
			break;
		default:
			out->type = MSG_WINDOW_DUMP_ACK;
			break;
		}
	} else {
		switch (k % 3) {
		case 0:
			out->type = MSG_SHMIMAGE;
			out->u.shmimage = (struct proto_shmimage){ 0, 0, (int32_t)(k % 64), 8 };
			break;
		case 1:
			out->type = MSG_MAP;
			break;
		default:
			out->type = MSG_WMNAME;
			memcpy(out->u.wmname.title, "fuzz", 5);
			break;
		}
	}
}

/*
 * Input: byte 0: bit 0 role (agent when set), bits 1..4 our version's minor;
 * byte 1: bit 0 the peer closes at the end, bit 1 UTF-8 titles, bit 2 the
 * smallest clipboard limit, bits 3..4 how the peer reads what we send (all,
 * in small pieces, a little then never, never), bits 5..7 the output cap;
 * byte 2: n, then n read sizes; the rest is the peer's stream.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t b0 = fz_u8(&in), b1 = fz_u8(&in);
	const uint8_t *sizes, *stream;
	size_t nsizes = fz_bytes(&in, fz_u8(&in) % 32, &sizes), len = fz_bytes(&in, in.left, &stream);
	static const size_t caps[8] = { 0, 16, 40, 100, 1000, 4096, 65536, CONN_DEFAULT_OUT_CAP };
	struct conn_params p;
	struct transport *t = fz_transport_create();
	struct fz_check chk;
	struct ref r = { .p = stream, .len = len };
	struct conn *c;
	bool any_size = false;
	unsigned sent = 0;
	int last = 0;

	conn_params_default(&p, (b0 & 1) ? CONN_AGENT : CONN_DAEMON);
	p.version = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, ((b0 >> 1) & 0xf) % 9);
	p.utf8_titles = (b1 & 2) != 0;
	p.clipboard_max = (b1 & 4) ? MIN_CLIPBOARD_BUFFER_SIZE : DEFAULT_CLIPBOARD_BUFFER_SIZE;
	p.out_cap = caps[(b1 >> 5) & 7];
	switch ((b1 >> 3) & 3) {
	case 1:
		fz_transport_stall(t, 7, SIZE_MAX);
		break;
	case 2:
		fz_transport_stall(t, 64, 100);
		break;
	case 3:
		fz_transport_stall(t, 0, 0);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < nsizes; i++) {
		any_size |= sizes[i] != 0;
	}
	fz_transport_chunks(t, sizes, any_size ? nsizes : 0);
	fz_transport_feed(t, stream, len);
	if (b1 & 1) {
		fz_transport_close(t);
	}
	r.closed = (b1 & 1) != 0;
	r.role = p.role;
	r.own = p.version;
	proto_opts_default(&r.o);
	r.o.clipboard_max = p.clipboard_max;
	r.o.utf8_titles = p.utf8_titles;
	fz_check_init(&chk, p.role == CONN_DAEMON ? PROTO_D2A : PROTO_A2D, p.version, p.role == CONN_AGENT ? 4 : 0);
	if (p.role == CONN_DAEMON && len >= 4) {
		/* our answer, written before conn_next returns CONN_READY: the version word from 1.4 on, the xconf */
		uint32_t v = proto_decode_version(stream), minor = v & 0xffff, own = p.version & 0xffff;

		v = QUBES_GUID_MAKE_PROTOCOL_VERSION(1, minor < own ? minor : own);
		chk.skip = (v >= QUBES_GUID_MIN_BIDIRECTIONAL_NEGOTIATION_VERSION ? 4 : 0) + 16;
		chk.o.version = v;
	}
	fz_transport_check(t, &chk);

	c = conn_create(t, &p);
	if (c == NULL) {
		/* only an agent whose version word is over its own cap */
		FZ_ASSERT(p.role == CONN_AGENT && p.out_cap != 0 && p.out_cap < 4);
		transport_destroy(t);
		return 0;
	}
	for (size_t iter = 0; iter < 4 * len + 64; iter++) {
		struct proto_msg m, want;
		struct msg_xconf xc;
		size_t body_len = 0;
		int rc = conn_next(c, &m), exp;

		FZ_ASSERT(conn_queued(c) <= (p.out_cap ? p.out_cap : CONN_DEFAULT_OUT_CAP));
		if (rc == CONN_NONE) {
			struct ref peek = r;

			/* nothing yet is right only while bytes are unread, or when the stream holds no more events */
			if (fz_transport_unread(t) == 0) {
				FZ_ASSERT(ref_next(&peek, &want, &xc, &body_len) == CONN_NONE);
				break;
			}
			continue;
		}
		if (rc < 0 && (rc == -ENOBUFS || last == -ENOBUFS)) {
			FZ_ASSERT(rc == -ENOBUFS); /* the cap broke the session: it stays broken */
			FZ_ASSERT(conn_next(c, &m) == -ENOBUFS);
			break;
		}
		exp = ref_next(&r, &want, &xc, &body_len);
		if (exp != rc) {
			fprintf(stderr, "conn_next %d, reference %d\n", rc, exp);
		}
		FZ_ASSERT(exp == rc);
		if (rc < 0) {
			FZ_ASSERT(*conn_error(c) != '\0');
			FZ_ASSERT(conn_next(c, &m) == rc); /* a fatal error is returned again */
			FZ_ASSERT(conn_send(c, &m) == rc);
			break;
		}
		if (rc == CONN_READY) {
			FZ_ASSERT(conn_ready(c) && conn_version(c) == r.version);
			if (p.role == CONN_AGENT) {
				FZ_ASSERT(memcmp(conn_xconf(c), &xc, sizeof(xc)) == 0);
			}
			chk.o.version = r.version;
			continue;
		}
		FZ_ASSERT(conn_ready(c));
		if (rc == CONN_DROPPED) {
			FZ_ASSERT(*conn_error(c) != '\0');
			continue;
		}
		same_msg(&m, &want);
		FZ_ASSERT(proto_invariant_violation(p.role == CONN_DAEMON ? PROTO_A2D : PROTO_D2A, &m, conn_opts(c),
					body_len) == NULL);
		{
			struct proto_msg out;
			size_t before = conn_queued(c), cap = p.out_cap ? p.out_cap : CONN_DEFAULT_OUT_CAP;
			int src;

			reply_for(p.role, &m, sent++, &out);
			src = conn_send(c, &out);
			if (src == -ENOBUFS) {
				/* refused only when it would not fit under the cap */
				FZ_ASSERT(before + proto_encoded_len(&out) > cap);
				last = src;
			} else {
				FZ_ASSERT(src == 0);
			}
		}
	}
	if (last != -ENOBUFS && conn_next(c, &(struct proto_msg){ 0 }) != -ENOBUFS) {
		/* the peer starts reading: everything queued goes out, in order (the checker decodes it) */
		fz_transport_stall(t, 5, SIZE_MAX);
		FZ_ASSERT(conn_handle(c, POLLOUT) == 0 && conn_queued(c) == 0);
	}
	conn_destroy(c);
	transport_destroy(t);
	return 0;
}

/* tests/lib/streams.c: byte streams over a transport for the transport tests (see streams.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kids.h"
#include "streams.h"
#include "test.h"

static char case_dir[512];

void stream_case_begin(const char *name)
{
	snprintf(case_dir, sizeof(case_dir), "%s/%s", test_tmpdir(), name);
	mkdir(case_dir, 0700);
	setenv("VCHAN_SOCKET_DIR", case_dir, 1);
}

void stream_case_end(void)
{
	kid_reap_all();
}

const char *stream_case_dir(void)
{
	return case_dir;
}

const char *stream_vchan_path(int s, int c, int port)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/vchan.%d.%d.%d.sock", case_dir, s, c, port);
	return p;
}

/* A byte of stream `seed` at offset off: any lost, repeated or reordered chunk shows. */
static uint8_t pat(uint32_t seed, size_t off)
{
	uint64_t x = ((uint64_t)off + (uint64_t)seed * 0x100000001b3ull) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56);
}

static uint8_t out_pat[STREAM_BIG], in_pat[STREAM_BIG], in_buf[STREAM_BIG];

struct stream_flow stream_flow_pattern(size_t out_len, uint32_t out_seed, size_t in_len, uint32_t in_seed)
{
	for (size_t i = 0; i < out_len; i++) {
		out_pat[i] = pat(out_seed, i);
	}
	for (size_t i = 0; i < in_len; i++) {
		in_pat[i] = pat(in_seed, i);
	}
	return (struct stream_flow){ .out = out_pat, .exp = in_pat, .out_len = out_len, .in_len = in_len };
}

struct stream_flow stream_flow_bytes(const void *out, size_t out_len, const void *exp, size_t in_len)
{
	return (struct stream_flow){ .out = out, .exp = exp, .out_len = out_len, .in_len = in_len };
}

/* Call sizes cycle through these, so reads and writes split the stream everywhere. */
static const size_t chunks[] = { 1, 7, 4096, 65536, 1u << 20, STREAM_BIG, 13, 300000 };

bool stream_pump(struct transport *t, struct stream_flow *f)
{
	int64_t deadline = test_now_ms() + KID_WAIT_MS;
	size_t k = 0;

	while (f->out_done < f->out_len || f->in_done < f->in_len) {
		bool moved = false;
		struct pollfd p;
		int64_t left;

		while (f->out_done < f->out_len) {
			size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];
			ssize_t r;

			n = n < f->out_len - f->out_done ? n : f->out_len - f->out_done;
			r = transport_write(t, f->out + f->out_done, n);
			if (r < 0 || (size_t)r > n) {
				test_fail(__FILE__, __LINE__, "write after %zu of %zu bytes: %zd (%s)", f->out_done,
						f->out_len, r, strerror(errno));
				return false;
			}
			f->short_writes += (size_t)r < n;
			if (r == 0) {
				break;
			}
			f->out_done += (size_t)r;
			moved = true;
		}
		while (f->in_done < f->in_len) {
			size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];
			ssize_t r;

			n = n < f->in_len - f->in_done ? n : f->in_len - f->in_done;
			r = transport_read(t, in_buf, n);
			if (r < 0 || (size_t)r > n) {
				test_fail(__FILE__, __LINE__, "read after %zu of %zu bytes: %zd (%s)", f->in_done,
						f->in_len, r, strerror(errno));
				return false;
			}
			if (r == 0) {
				break;
			}
			if (memcmp(in_buf, f->exp + f->in_done, (size_t)r) != 0) {
				test_fail(__FILE__, __LINE__, "wrong bytes in [%zu, %zu) of %zu", f->in_done,
						f->in_done + (size_t)r, f->in_len);
				return false;
			}
			f->in_done += (size_t)r;
			moved = true;
		}
		if (moved) {
			continue;
		}
		left = deadline - test_now_ms();
		transport_pollfd(t, f->out_done < f->out_len, &p);
		if (left <= 0 || p.fd < 0) {
			test_fail(__FILE__, __LINE__, "stalled: sent %zu of %zu, received %zu of %zu, state %d",
					f->out_done, f->out_len, f->in_done, f->in_len, (int)transport_state(t));
			return false;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			test_fail(__FILE__, __LINE__, "poll: %s", strerror(errno));
			return false;
		}
		transport_handle(t, p.revents);
	}
	return true;
}

bool stream_wait_connected(struct transport *t)
{
	int64_t deadline = test_now_ms() + KID_WAIT_MS;

	while (transport_handle(t, 0) != TRANSPORT_CONNECTED) {
		struct pollfd p;
		int64_t left = deadline - test_now_ms();

		transport_pollfd(t, false, &p);
		if (left <= 0 || p.fd < 0 || transport_state(t) == TRANSPORT_DISCONNECTED) {
			test_fail(__FILE__, __LINE__, "not connected (state %d)", (int)transport_state(t));
			return false;
		}
		if (poll(&p, 1, (int)left) > 0) {
			transport_handle(t, p.revents);
		}
	}
	return true;
}

bool stream_expect_epipe(struct transport *t)
{
	int64_t deadline = test_now_ms() + KID_WAIT_MS;
	unsigned char b;

	for (;;) {
		struct pollfd p;
		ssize_t r = transport_read(t, &b, 1);
		int64_t left;

		if (r < 0) {
			if (errno != EPIPE) {
				test_fail(__FILE__, __LINE__, "read: %s, expected EPIPE", strerror(errno));
				return false;
			}
			break;
		}
		if (r > 0) {
			test_fail(__FILE__, __LINE__, "a byte more than the peer sent");
			return false;
		}
		left = deadline - test_now_ms();
		transport_pollfd(t, false, &p);
		if (left <= 0 || p.fd < 0) {
			test_fail(__FILE__, __LINE__, "no end of stream (state %d)", (int)transport_state(t));
			return false;
		}
		if (poll(&p, 1, (int)left) > 0) {
			transport_handle(t, p.revents);
		}
	}
	if (transport_state(t) != TRANSPORT_DISCONNECTED || transport_read(t, &b, 1) != -1 || errno != EPIPE ||
			transport_write(t, "x", 1) != -1 || errno != EPIPE) {
		test_fail(__FILE__, __LINE__, "EPIPE not sticky (state %d)", (int)transport_state(t));
		return false;
	}
	return true;
}

bool stream_run_rounds(struct transport *t, bool server, const size_t (*rounds)[2], size_t nrounds,
		unsigned *short_writes)
{
	for (size_t i = 0; i < nrounds; i++) {
		size_t s2c = rounds[i][0], c2s = rounds[i][1];
		uint32_t s_seed = (uint32_t)(2 * i + 1), c_seed = (uint32_t)(2 * i + 2);
		struct stream_flow f = server ? stream_flow_pattern(s2c, s_seed, c2s, c_seed)
					      : stream_flow_pattern(c2s, c_seed, s2c, s_seed);

		if (!stream_pump(t, &f)) {
			test_fail(__FILE__, __LINE__, "round %zu (%zu bytes to the client, %zu to the server)", i, s2c, c2s);
			return false;
		}
		*short_writes += f.short_writes;
	}
	return true;
}

/* tests/lib/kids.h: forked child processes for tests, each driven over a pair of pipes. */
#ifndef QGUI_TEST_KIDS_H
#define QGUI_TEST_KIDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define KID_WAIT_MS 10000 /* guard on every wait; only reached when something is broken */
#define KID_MAX 4         /* how many KID_TRACKED children may be alive at once */

/* A child and the parent's ends of its two pipes. */
struct kid {
	pid_t pid;
	int to;   /* parent -> child; closing it releases the child */
	int from; /* child -> parent */
};

/* kid_spawn flags. */
enum {
	KID_ISOLATED = 1u << 0, /* the child keeps only stdio and its two pipe ends, no other fd of the parent */
	KID_TRACKED = 1u << 1,  /* recorded until kid_ok, kid_finish or kid_reap_all; at most KID_MAX at once */
};

/*
 * Forks a child that runs fn(in, out, arg), in being its end of k->to and
 * out its end of k->from (both close-on-exec), then exits 0 when no
 * assertion has failed in it (test_ok()), 1 otherwise. flags: KID_*.
 * Returns true with k filled in; the caller owns k->to and k->from until
 * kid_ok or kid_finish. False (nothing left open) when the pipes or the
 * fork fail, or when KID_TRACKED and KID_MAX children are already tracked.
 */
bool kid_spawn(struct kid *k, unsigned flags, void (*fn)(int in, int out, void *arg), void *arg);

/* kid_spawn(k, KID_ISOLATED | KID_TRACKED, ...) of fn(in, out); the same return value and ownership. */
bool kid_start(struct kid *k, void (*fn)(int in, int out));

/*
 * Releases the child (closes k->to), waits up to KID_WAIT_MS for it to exit
 * (then SIGKILLs it, a test failure), reaps it and closes k->from. Returns
 * true when it exited 0; a death by signal is also reported as a test
 * failure. k->pid is 0 afterwards.
 */
bool kid_ok(struct kid *k);

/*
 * Closes both of k's pipe ends (the child sees EOF) and waits for the child
 * without a time limit. Returns its exit status, or -1 when k has no child
 * or the child did not exit normally. k->pid is 0 afterwards.
 */
int kid_finish(struct kid *k);

/* SIGKILLs and reaps every tracked child still alive and closes its pipe ends (after every case). */
void kid_reap_all(void);

/* Writes the byte c to fd. Returns true when it was written. */
bool kid_say(int fd, char c);

/* One byte from fd within KID_WAIT_MS. Returns it (0-255), or -1 on EOF, error or timeout. */
int kid_hear(int fd);

/* Writes v to fd in one write. Returns true when all of it was written. */
bool kid_say_size(int fd, size_t v);

/* Reads a size_t that kid_say_size wrote into *v, within KID_WAIT_MS. Returns false on EOF, error or timeout. */
bool kid_hear_size(int fd, size_t *v);

/* Writes all len bytes of buf to fd (retrying short writes and EINTR). Returns 0, or -1 on error or EOF. */
int kid_send(int fd, const void *buf, size_t len);

/*
 * Reads exactly len bytes from fd into buf, waiting up to timeout_ms (-1:
 * forever) for each piece. Returns 0, or -1 on EOF, error or timeout (buf
 * then holds what came).
 */
int kid_recv(int fd, void *buf, size_t len, int timeout_ms);

#endif

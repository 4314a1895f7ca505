/* sigs.h: the signals the programs' main loops follow: stop (SIGTERM, SIGINT), re-read (SIGHUP). */
#ifndef SIGS_H
#define SIGS_H

#include <signal.h>
#include <stdbool.h>

/* What sigs_setup() catches besides SIGTERM and SIGINT (which ask to stop). */
enum sigs_flags {
	SIGS_HUP = 1u << 0,        /* SIGHUP: sets the flag sigs_take_hup() reads */
	SIGS_USR1_STOPS = 1u << 1, /* SIGUSR1 asks to stop too (as qubes-guid) */
};

/*
 * Installs one handler, without SA_RESTART (a blocking poll() returns EINTR,
 * so a signal is seen at once), for SIGTERM, SIGINT and those flags (an OR
 * of enum sigs_flags) names, and ignores SIGPIPE. When wait_mask is not NULL
 * the caught signals are blocked from now on and *wait_mask is set to the
 * mask to hand to ppoll()/pselect() (the previous mask less those signals),
 * so that none arrives unseen between a check and the wait. Once per
 * process, before any thread is started.
 */
void sigs_setup(unsigned flags, sigset_t *wait_mask);

/* True once a signal asking to stop has arrived (it stays true). */
bool sigs_stop(void);

/* True when SIGHUP arrived since the last call, which clears it. */
bool sigs_take_hup(void);

#endif

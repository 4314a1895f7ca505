/* sigs.c: one signal set-up for the programs' main loops: stop and re-read flags, SIGPIPE ignored. */
#include <string.h>

#include "sigs.h"

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		got_hup = 1;
	} else {
		got_stop = 1;
	}
}

void sigs_setup(unsigned flags, sigset_t *wait_mask)
{
	int sigs[4], n = 0;
	struct sigaction sa;
	sigset_t block;

	sigs[n++] = SIGTERM;
	sigs[n++] = SIGINT;
	if (flags & SIGS_USR1_STOPS) {
		sigs[n++] = SIGUSR1;
	}
	if (flags & SIGS_HUP) {
		sigs[n++] = SIGHUP;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	for (int i = 0; i < n; i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	if (wait_mask) {
		sigprocmask(SIG_BLOCK, &block, wait_mask);
		for (int i = 0; i < n; i++) {
			sigdelset(wait_mask, sigs[i]);
		}
	}
}

bool sigs_stop(void)
{
	return got_stop != 0;
}

bool sigs_take_hup(void)
{
	if (!got_hup) {
		return false;
	}
	got_hup = 0;
	return true;
}

/* runfile.h: qubes-guid's guid-booting.<xid> and guid-running.<xid> markers, which Qubes' launcher reads. */
#ifndef GD_RUNFILE_H
#define GD_RUNFILE_H

#include <stdbool.h>

/*
 * qvm-start-daemon starts a GUI daemon for a qube only while
 * <dir>/guid-running.<xid> does not exist, reads the daemon's pid from it
 * (SIGHUP for a new monitor layout, -K for a stubdomain's daemon), and
 * qubes-guid serialises daemons of one domain with a lock on
 * <dir>/guid-booting.<xid>. dir is $GUI_DAEMON_RUN_DIR or /run/qubes.
 */
struct runfile {
	char booting[300];
	char running[300];
	int boot_fd;   /* the locked guid-booting file, until the agent connects */
	int keeper_fd; /* the daemon's end of the pipe to the keeper process, or -1 */
	bool wrote;    /* (keeper) guid-running is ours: removed when the daemon ends */
	bool disabled; /* no run directory (not a Qubes GUI qube): no markers */
};

enum runfile_result {
	RUNFILE_GO,      /* no daemon runs for the domain: go on */
	RUNFILE_RUNNING, /* a live daemon runs for the domain (logged): do not start */
	RUNFILE_ERROR,   /* the run directory cannot be used (logged) */
};

/*
 * Before the daemon forks: takes the boot lock of domain domid (waiting, as
 * qubes-guid, while another daemon for it waits for its agent), then looks
 * for a guid-running file. One naming a live process means RUNFILE_RUNNING;
 * a stale one (its process is gone) is removed. A missing run directory only
 * logs a line and disables the markers.
 */
enum runfile_result runfile_claim(struct runfile *r, int domid);

/*
 * In the daemon process, before it opens X or the back-end: forks the keeper,
 * a small process that holds the boot lock, writes guid-running (with the
 * daemon's pid) when told the agent connected, and removes the markers when
 * the daemon ends in any way (its pipe closes: exit, SIGTERM, a crash), so
 * the sandboxed daemon itself never creates or removes files. The keeper
 * ignores signals and closes every other descriptor. 0, or -1 (logged).
 */
int runfile_keep(struct runfile *r);

/* Once the agent connected: the keeper writes guid-running and drops the boot lock. */
void runfile_connected(struct runfile *r);

#endif

/* runfile.c: guid-booting.<xid> (a lock while a daemon waits for its agent) and guid-running.<xid> (its pid). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qgui/log.h"
#include "runfile.h"

#define DEFAULT_RUN_DIR "/run/qubes" /* qubes-guid's; /var/run/qubes is the same directory */

/* The pid in an existing guid-running file, 0 if it holds none, -1 if there is no such file. */
static long read_pid(const char *path)
{
	char buf[24];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;
	char *end;
	long pid;

	if (fd < 0) {
		return errno == ENOENT ? -1 : 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && (*end == '\n' || *end == '\0') && pid > 0 && pid <= 0x3fffffff ? pid : 0;
}

enum runfile_result runfile_claim(struct runfile *r, int domid)
{
	const char *dir = getenv("GUI_DAEMON_RUN_DIR");
	char shown[128];
	struct stat st;
	long pid;

	*r = (struct runfile){ .boot_fd = -1, .keeper_fd = -1 };
	if (dir == NULL || dir[0] == '\0') {
		dir = DEFAULT_RUN_DIR;
	}
	log_sanitize(shown, sizeof(shown), dir, strlen(dir));
	if ((size_t)snprintf(r->booting, sizeof(r->booting), "%s/guid-booting.%d", dir, domid) >= sizeof(r->booting) ||
			(size_t)snprintf(r->running, sizeof(r->running), "%s/guid-running.%d", dir, domid) >=
					sizeof(r->running)) {
		log_error("run directory %s: path too long", shown);
		return RUNFILE_ERROR;
	}
	if (stat(dir, &st) != 0 && errno == ENOENT) {
		log_info("no run directory %s (not a Qubes GUI qube?): no guid-running file for Qubes' launcher", shown);
		r->disabled = true;
		return RUNFILE_GO;
	}
	r->boot_fd = open(r->booting, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (r->boot_fd < 0) {
		log_error("cannot create %s/guid-booting.%d: %s", shown, domid, strerror(errno));
		return RUNFILE_ERROR;
	}
	if (flock(r->boot_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			log_error("cannot lock %s/guid-booting.%d: %s", shown, domid, strerror(errno));
			return RUNFILE_ERROR;
		}
		log_warn("another gui-daemon for domain %d is waiting for its agent: waiting for it", domid);
		while (flock(r->boot_fd, LOCK_EX) != 0) {
			if (errno != EINTR) {
				log_error("cannot lock %s/guid-booting.%d: %s", shown, domid, strerror(errno));
				return RUNFILE_ERROR;
			}
		}
	}
	pid = read_pid(r->running);
	if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
		log_warn("a gui-daemon for domain %d is already running (pid %ld in %s/guid-running.%d): "
				"not starting another", domid, pid, shown, domid);
		close(r->boot_fd);
		r->boot_fd = -1;
		return RUNFILE_RUNNING;
	}
	if (pid >= 0) {
		log_warn("removing the stale %s/guid-running.%d (its daemon is gone)", shown, domid);
		if (unlink(r->running) != 0 && errno != ENOENT) {
			log_error("cannot remove %s/guid-running.%d: %s", shown, domid, strerror(errno));
			return RUNFILE_ERROR;
		}
	}
	return RUNFILE_GO;
}

/* Keeper: guid-running with the daemon's pid, and no more boot lock. */
static void mark_running(struct runfile *r, pid_t daemon)
{
	char buf[24];
	int fd, n;

	if (r->wrote) {
		return;
	}
	fd = open(r->running, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)daemon);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		log_error("cannot write %s: %s", r->running, strerror(errno)); /* qubes-guid goes on too */
	} else {
		r->wrote = true;
	}
	if (fd >= 0) {
		close(fd);
	}
	if (r->boot_fd >= 0) {
		unlink(r->booting);
		close(r->boot_fd);
		r->boot_fd = -1;
	}
}

static void __attribute__((noreturn)) keeper(struct runfile *r, pid_t daemon, int fd)
{
	char c;
	ssize_t n;
	/* only the pipe, the lock and stderr: no X connection, vchan or parent pipe stays open here */
	int pf = fcntl(fd, F_DUPFD, 10), bf = r->boot_fd >= 0 ? fcntl(r->boot_fd, F_DUPFD, 10) : -1;

	if (pf < 0 || dup2(pf, 3) != 3 || (bf >= 0 && dup2(bf, 4) != 4)) {
		_exit(1);
	}
	r->boot_fd = r->boot_fd >= 0 ? 4 : -1;
	close_range(5, ~0u, 0);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	signal(SIGTERM, SIG_IGN); /* a signal to the daemon's process group must not leave the marker behind */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	for (;;) {
		n = read(3, &c, 1);
		if (n == 1) {
			mark_running(r, daemon);
		} else if (n == 0 || errno != EINTR) {
			break;
		}
	}
	if (r->wrote) {
		unlink(r->running);
	}
	if (r->boot_fd >= 0) {
		unlink(r->booting);
	}
	_exit(0);
}

int runfile_keep(struct runfile *r)
{
	int p[2];
	pid_t daemon = getpid(), pid;

	r->keeper_fd = -1;
	if (r->disabled) {
		return 0;
	}
	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		log_error("cannot start the guid-running keeper: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		keeper(r, daemon, p[0]);
	}
	close(p[0]);
	if (r->boot_fd >= 0) {
		close(r->boot_fd); /* the keeper's copy holds the lock */
		r->boot_fd = -1;
	}
	r->keeper_fd = p[1];
	return 0;
}

void runfile_connected(struct runfile *r)
{
	if (r->keeper_fd >= 0 && write(r->keeper_fd, "c", 1) != 1) {
		log_error("cannot tell the guid-running keeper: %s", strerror(errno));
	}
}

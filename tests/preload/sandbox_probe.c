/*
 * sandbox_probe.c: an LD_PRELOAD library for tests/integration/test_sandbox.
 * In gui-daemon, guivm-proxy, guivm-export and gui-agent only, it installs a
 * SIGUSR2 handler that makes the system call chosen by the signal's value
 * (sigqueue): PROBE_ALLOWED does only allowed work and returns; every other
 * probe is a call the program's seccomp filter must kill it for (SIGSYS). A
 * probe call that returns (allowed, or denied with an error) is reported on
 * stderr and the process exits 99, so that "denied with EPERM" fails the
 * test too. Never linked into the programs: the hook exists only when a test
 * preloads this file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sandbox_probe.h"

static void survived(int action, long rc)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "sandbox_probe: probe %d survived (returned %ld, errno %d)\n", action, rc,
			errno);

	if (n > 0 && write(2, buf, (size_t)n) < 0) {
		/* nothing else to do */
	}
	_exit(99);
}

static void on_probe(int sig, siginfo_t *si, void *uc)
{
	static char page[8192] __attribute__((aligned(4096)));
	int action = si->si_value.sival_int, saved = errno;
	long rc = -1;

	(void)sig;
	(void)uc;
	if (si->si_code != SI_QUEUE) {
		return;
	}
	switch (action) {
	case PROBE_ALLOWED: {
		struct timespec ts;

		/* what every program does all the time: must not be killed */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		(void)getpid();
		errno = saved;
		return;
	}
	case PROBE_SOCKET_INET:
		rc = socket(AF_INET, SOCK_STREAM, 0);
		break;
	case PROBE_OPEN_PASSWD:
		rc = open("/etc/passwd", O_RDONLY);
		break;
	case PROBE_EXECVE: {
		char *argv[] = { "/bin/true", NULL };

		rc = execve(argv[0], argv, environ);
		break;
	}
	case PROBE_CLONE_NEWUSER:
		rc = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD), NULL, NULL, NULL, 0);
		if (rc == 0) {
			_exit(0); /* (the child of an allowed clone) */
		}
		break;
	case PROBE_MMAP_EXEC:
		rc = (long)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case PROBE_MPROTECT_EXEC:
		rc = mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
		break;
	case PROBE_X32:
		/* getpid, allowed as a native call, through the x32 table */
		rc = syscall(SYS_getpid | 0x40000000);
		break;
	case PROBE_MEMFD_SEAL:
		rc = memfd_create("probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		break;
	case PROBE_CONNECT_INET: {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		int fd = socket(AF_INET6, SOCK_DGRAM, 0);

		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		break;
	}
	case PROBE_UNSHARE:
		rc = unshare(CLONE_NEWUSER);
		break;
	default:
		return;
	}
	survived(action, rc);
}

__attribute__((constructor)) static void probe_init(void)
{
	static const char *const targets[] = { "gui-daemon", "guivm-proxy", "guivm-export", "gui-agent" };
	struct sigaction sa;

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (strcmp(program_invocation_short_name, targets[i]) == 0) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_sigaction = on_probe;
			sa.sa_flags = SA_SIGINFO | SA_RESTART;
			sigaction(SIGUSR2, &sa, NULL);
			return;
		}
	}
}

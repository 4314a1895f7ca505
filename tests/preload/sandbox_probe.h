/* sandbox_probe.h: the probes of tests/preload/sandbox_probe.c, chosen by a SIGUSR2's sigqueue value. */
#ifndef SANDBOX_PROBE_H
#define SANDBOX_PROBE_H

enum sandbox_probe {
	PROBE_ALLOWED = 1,     /* allowed work only: the program must go on */
	PROBE_SOCKET_INET,     /* socket(AF_INET) */
	PROBE_OPEN_PASSWD,     /* open("/etc/passwd") */
	PROBE_EXECVE,          /* execve("/bin/true") */
	PROBE_CLONE_NEWUSER,   /* clone(CLONE_NEWUSER | CLONE_NEWNS) */
	PROBE_MMAP_EXEC,       /* mmap(PROT_EXEC) */
	PROBE_MPROTECT_EXEC,   /* mprotect(PROT_EXEC) of a data page */
	PROBE_X32,             /* getpid through the x32 table (nr | 0x40000000) */
	PROBE_MEMFD_SEAL,      /* memfd_create with MFD_ALLOW_SEALING */
	PROBE_CONNECT_INET,    /* socket(AF_INET6) + connect to ::1 */
	PROBE_UNSHARE,         /* unshare(CLONE_NEWUSER) */
};

#endif

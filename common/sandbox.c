/* sandbox.c: per-program seccomp allow lists (libseccomp), installed once set-up is done. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "qgui/log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifdef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER_ON 1
#else
#define SANDBOX_SANITIZER_ON 0
#endif

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
/* O_TMPFILE without the O_DIRECTORY that glibc's O_TMPFILE includes (directories may be opened) */
#define O_TMPFILE_BIT 020000000

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* Who may make a call: one bit per profile. */
#define P_DAEMON (1u << SANDBOX_GUI_DAEMON)
#define P_PROXY (1u << SANDBOX_PROXY)
#define P_EXPORT (1u << SANDBOX_EXPORT)
#define P_AGENT (1u << SANDBOX_AGENT)
#define P_HELPER (1u << SANDBOX_EXEC_HELPER)
#define P_FOUR (P_DAEMON | P_PROXY | P_EXPORT | P_AGENT)
#define P_ALL (P_FOUR | P_HELPER)
#define P_OWNERS (P_EXPORT | P_AGENT) /* grant owners: the gntemu server (a thread, a socket, sealed memfds) */

/* Every namespace flag: never allowed to anyone, whatever else the flags say. */
#define CLONE_NEW_ANY ((uint64_t)(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | \
				  CLONE_NEWIPC | CLONE_NEWCGROUP))
#define CLONE_THREAD_SET ((uint64_t)(CLONE_THREAD | CLONE_VM | CLONE_SIGHAND))

/* Calls allowed without an argument check, per profile. */
struct plain {
	int nr;
	unsigned who;
};

/*
 * The steady state as strace saw it (tests, make demo, sanitizer builds): the
 * event loops (poll, socket I/O, X), memory, threads' housekeeping, the
 * gntemu grant server of the owners, exit. Calls whose arguments matter are
 * in sandbox_enter below, not here.
 */
static const struct plain plain[] = {
	/* I/O on descriptors the program already holds */
	{ SCMP_SYS(read), P_ALL }, { SCMP_SYS(write), P_ALL }, { SCMP_SYS(readv), P_ALL },
	{ SCMP_SYS(writev), P_ALL }, { SCMP_SYS(pread64), P_ALL }, { SCMP_SYS(pwrite64), P_ALL },
	{ SCMP_SYS(close), P_ALL }, { SCMP_SYS(lseek), P_ALL }, { SCMP_SYS(ftruncate), P_ALL },
	{ SCMP_SYS(fstat), P_ALL }, { SCMP_SYS(newfstatat), P_ALL }, { SCMP_SYS(statx), P_ALL },
	{ SCMP_SYS(poll), P_ALL }, { SCMP_SYS(ppoll), P_ALL }, { SCMP_SYS(select), P_ALL },
	{ SCMP_SYS(pselect6), P_ALL }, { SCMP_SYS(pipe2), P_ALL }, { SCMP_SYS(eventfd2), P_ALL },
	{ SCMP_SYS(recvfrom), P_ALL }, { SCMP_SYS(recvmsg), P_ALL }, { SCMP_SYS(sendto), P_ALL },
	{ SCMP_SYS(sendmsg), P_ALL }, { SCMP_SYS(shutdown), P_ALL }, { SCMP_SYS(getsockopt), P_ALL },
	{ SCMP_SYS(getsockname), P_ALL }, { SCMP_SYS(getpeername), P_ALL },
	/* AF_UNIX only (socket is checked below): vchan (re)connects, grant lookups, stale-socket probes */
	{ SCMP_SYS(connect), P_ALL },
	/* memory (mmap and mprotect are checked below) */
	{ SCMP_SYS(brk), P_ALL }, { SCMP_SYS(munmap), P_ALL }, { SCMP_SYS(mremap), P_ALL },
	{ SCMP_SYS(madvise), P_ALL },
	/* time, identity, threads' and signals' housekeeping */
	{ SCMP_SYS(clock_gettime), P_ALL }, { SCMP_SYS(clock_nanosleep), P_ALL }, { SCMP_SYS(nanosleep), P_ALL },
	{ SCMP_SYS(gettimeofday), P_ALL }, { SCMP_SYS(getpid), P_ALL }, { SCMP_SYS(gettid), P_ALL },
	{ SCMP_SYS(getrandom), P_ALL }, { SCMP_SYS(uname), P_ALL }, { SCMP_SYS(futex), P_ALL },
	{ SCMP_SYS(set_robust_list), P_ALL }, { SCMP_SYS(rseq), P_ALL }, { SCMP_SYS(sched_yield), P_ALL },
	{ SCMP_SYS(rt_sigreturn), P_ALL }, { SCMP_SYS(rt_sigprocmask), P_ALL }, { SCMP_SYS(rt_sigaction), P_ALL },
	{ SCMP_SYS(sigaltstack), P_ALL }, { SCMP_SYS(restart_syscall), P_ALL },
	{ SCMP_SYS(exit), P_ALL }, { SCMP_SYS(exit_group), P_ALL },
	/* Xlib's locale look-ups (existence only) */
	{ SCMP_SYS(access), P_ALL },
	/* the grant owners' gntemu server: its socket directory, lock and listening socket */
	{ SCMP_SYS(flock), P_OWNERS | P_HELPER }, { SCMP_SYS(bind), P_OWNERS }, { SCMP_SYS(listen), P_OWNERS },
	{ SCMP_SYS(accept4), P_OWNERS }, { SCMP_SYS(rename), P_OWNERS | P_HELPER },
	{ SCMP_SYS(chmod), P_OWNERS }, { SCMP_SYS(unlink), P_OWNERS | P_HELPER },
	{ SCMP_SYS(mkdir), P_OWNERS | P_HELPER },
	/* the clipboard helper: its files, and starting, waiting for and killing its commands */
	{ SCMP_SYS(umask), P_HELPER }, { SCMP_SYS(execve), P_HELPER }, { SCMP_SYS(wait4), P_HELPER },
	{ SCMP_SYS(kill), P_HELPER }, { SCMP_SYS(setpgid), P_HELPER }, { SCMP_SYS(dup), P_HELPER },
	{ SCMP_SYS(dup2), P_HELPER }, { SCMP_SYS(dup3), P_HELPER }, { SCMP_SYS(vfork), P_HELPER },
	/* ... and what the commands (/bin/sh, qrexec-client-vm: they inherit the filter) need to start and run */
	{ SCMP_SYS(arch_prctl), P_HELPER }, { SCMP_SYS(set_tid_address), P_HELPER },
	{ SCMP_SYS(prlimit64), P_HELPER }, { SCMP_SYS(getrlimit), P_HELPER }, { SCMP_SYS(getuid), P_HELPER },
	{ SCMP_SYS(geteuid), P_HELPER }, { SCMP_SYS(getgid), P_HELPER }, { SCMP_SYS(getegid), P_HELPER },
	{ SCMP_SYS(getgroups), P_HELPER }, { SCMP_SYS(getppid), P_HELPER }, { SCMP_SYS(getpgrp), P_HELPER },
	{ SCMP_SYS(getpgid), P_HELPER }, { SCMP_SYS(getsid), P_HELPER }, { SCMP_SYS(getcwd), P_HELPER },
	{ SCMP_SYS(chdir), P_HELPER }, { SCMP_SYS(fchdir), P_HELPER }, { SCMP_SYS(faccessat), P_HELPER },
	{ SCMP_SYS(faccessat2), P_HELPER }, { SCMP_SYS(readlink), P_HELPER }, { SCMP_SYS(readlinkat), P_HELPER },
	{ SCMP_SYS(getdents64), P_HELPER }, { SCMP_SYS(statfs), P_HELPER }, { SCMP_SYS(fstatfs), P_HELPER },
	{ SCMP_SYS(sysinfo), P_HELPER }, { SCMP_SYS(times), P_HELPER }, { SCMP_SYS(getrusage), P_HELPER },
	{ SCMP_SYS(sched_getaffinity), P_HELPER }, { SCMP_SYS(alarm), P_HELPER }, { SCMP_SYS(setitimer), P_HELPER },
	{ SCMP_SYS(epoll_create1), P_HELPER }, { SCMP_SYS(epoll_ctl), P_HELPER },
	{ SCMP_SYS(epoll_wait), P_HELPER }, { SCMP_SYS(epoll_pwait), P_HELPER }, { SCMP_SYS(socketpair), P_HELPER },
	{ SCMP_SYS(rt_sigsuspend), P_HELPER }, { SCMP_SYS(pause), P_HELPER }, { SCMP_SYS(waitid), P_HELPER },
	{ SCMP_SYS(tgkill), P_HELPER }, { SCMP_SYS(fchmod), P_HELPER }, { SCMP_SYS(fsync), P_HELPER },
	{ SCMP_SYS(unlinkat), P_HELPER }, { SCMP_SYS(renameat2), P_HELPER }, { SCMP_SYS(fadvise64), P_HELPER },
};

static int allow(scmp_filter_ctx f, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
	return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, n, cmp);
}

/* The calls whose arguments decide. */
static int add_checked(scmp_filter_ctx f, enum sandbox_profile p, enum qgui_backend be, pid_t usr1_target)
{
	unsigned me = 1u << p;
	bool helper = p == SANDBOX_EXEC_HELPER;
	int rc = 0;

	/* mappings: never executable after set-up (the helper's commands load their code) */
	if (helper) {
		rc |= allow(f, SCMP_SYS(mmap), 0, NULL);
		rc |= allow(f, SCMP_SYS(mprotect), 0, NULL);
	} else {
		struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);

		rc |= allow(f, SCMP_SYS(mmap), 1, &noexec);
		rc |= allow(f, SCMP_SYS(mprotect), 1, &noexec);
	}
	/* clone: threads only (the helper: processes too); namespaces never */
	{
		struct scmp_arg_cmp c = helper || SANDBOX_SANITIZER_ON
						? SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEW_ANY, 0)
						: SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEW_ANY | CLONE_THREAD_SET, CLONE_THREAD_SET);

		rc |= allow(f, SCMP_SYS(clone), 1, &c);
	}
	/*
	 * clone3 passes its flags in memory, out of the filter's sight: it fails
	 * with ENOSYS, and glibc falls back to clone, whose flags are checked
	 */
	rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* sockets: AF_UNIX only */
	{
		struct scmp_arg_cmp unix_only = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);

		rc |= allow(f, SCMP_SYS(socket), 1, &unix_only);
	}
	/* memfds: images for the X server (no sealing); the owners' grants are sealed */
	{
		uint32_t ok = MFD_CLOEXEC | ((me & (P_OWNERS | P_HELPER)) ? MFD_ALLOW_SEALING : 0);
		struct scmp_arg_cmp flags = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu & ~ok, 0);

		rc |= allow(f, SCMP_SYS(memfd_create), 1, &flags);
	}
	/* fcntl: flags, close-on-exec duplicates and seals only */
	{
		static const int cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC, F_ADD_SEALS,
			F_GET_SEALS, F_DUPFD };

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)cmds[i]);

			rc |= allow(f, SCMP_SYS(fcntl), 1, &c);
		}
	}
	/* signals: to itself only (abort, threads); the helper also kills its commands */
	if (!helper) {
		pid_t self = getpid();
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self);

		rc |= allow(f, SCMP_SYS(kill), 1, &a);
		rc |= allow(f, SCMP_SYS(tgkill), 1, &a);
		if (usr1_target > 0 && usr1_target != self) {
			struct scmp_arg_cmp t[2] = { SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)usr1_target),
				SCMP_A1(SCMP_CMP_EQ, SIGUSR1) };

			rc |= allow(f, SCMP_SYS(kill), 2, t);
		}
	}
	/*
	 * openat: the owners reopen their memfds read-only through /proc/self/fd
	 * and open the socket directory; Xen opens its devices; the helper opens
	 * the clipboard files and runs programs. Nobody else opens anything.
	 */
	if (helper) {
		rc |= allow(f, SCMP_SYS(openat), 0, NULL);
	} else if ((me & P_OWNERS) || be == QGUI_BACKEND_XEN) {
		struct scmp_arg_cmp ro = SCMP_A2(SCMP_CMP_MASKED_EQ,
				O_CREAT | O_TRUNC | O_WRONLY | O_APPEND | O_TMPFILE_BIT | O_PATH, 0);

		rc |= allow(f, SCMP_SYS(openat), 1, &ro);
	}
	/* ioctl: terminal queries for the helper's commands; Xen's evtchn, gntdev/gntalloc, privcmd devices */
	{
		static const unsigned long tty[] = { TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIOCLEX, FIONBIO };

		for (size_t i = 0; helper && i < sizeof(tty) / sizeof(tty[0]); i++) {
			struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, tty[i]);

			rc |= allow(f, SCMP_SYS(ioctl), 1, &c);
		}
		if (!helper && be == QGUI_BACKEND_XEN) {
			static const unsigned char type[] = { 'E', 'G', 'P' };

			for (size_t i = 0; i < sizeof(type); i++) {
				struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00u, (unsigned)type[i] << 8);

				rc |= allow(f, SCMP_SYS(ioctl), 1, &c);
			}
			/* which grant device a descriptor is (the Xen libraries and the test shim ask /proc) */
			rc |= allow(f, SCMP_SYS(readlink), 0, NULL);
		}
	}
	if (helper) {
		/* its commands die with it */
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, PR_SET_PDEATHSIG);

		rc |= allow(f, SCMP_SYS(prctl), 1, &c);
	}
	return rc;
}

#ifdef SANDBOX_SANITIZER
/*
 * What the ASan/UBSan run-time needs to report an error or check for leaks at
 * exit: LeakSanitizer stops the world from a clone()d tracer that ptraces the
 * threads and reads /proc/self/{maps,task} (through open, never openat: a
 * probe's open() still dies); reports symbolize from the binaries. Never in
 * production builds.
 */
static int add_sanitizer(scmp_filter_ctx f)
{
	static const int nr[] = { SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(open), SCMP_SYS(readlink),
		SCMP_SYS(getdents64), SCMP_SYS(getdents), SCMP_SYS(prctl), SCMP_SYS(sched_getaffinity), SCMP_SYS(getppid),
		SCMP_SYS(tgkill), SCMP_SYS(kill), SCMP_SYS(pipe2), SCMP_SYS(dup2), SCMP_SYS(getrlimit),
		SCMP_SYS(prlimit64), SCMP_SYS(setrlimit), SCMP_SYS(fstatfs), SCMP_SYS(statfs) };
	int rc = 0;

	for (size_t i = 0; i < sizeof(nr) / sizeof(nr[0]); i++) {
		/* (a call also allowed with an argument check: the unconditional rule wins) */
		rc |= allow(f, nr[i], 0, NULL);
	}
	return rc;
}
#endif

int sandbox_enter(enum sandbox_profile profile, enum qgui_backend be, pid_t usr1_target)
{
	scmp_filter_ctx f;
	unsigned me = 1u << profile;
	int rc = 0;

	/* every other call, and every call through another ABI (x32, i386), kills the whole process */
	f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (f == NULL) {
		log_error("cannot build the seccomp filter");
		return -1;
	}
	rc |= seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	rc |= seccomp_attr_set(f, SCMP_FLTATR_CTL_NNP, 1);
	rc |= seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1); /* threads started during set-up too */
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (plain[i].who & me) {
			rc |= allow(f, plain[i].nr, 0, NULL);
		}
	}
	rc |= add_checked(f, profile, be, usr1_target);
#ifdef SANDBOX_SANITIZER
	rc |= add_sanitizer(f);
#endif
	if (rc != 0) {
		log_error("cannot build the seccomp filter (a rule was refused)");
		seccomp_release(f);
		return -1;
	}
	rc = seccomp_load(f);
	seccomp_release(f);
	if (rc != 0) {
		log_error("cannot install the seccomp filter: %s", strerror(-rc));
		return -1;
	}
	log_debug("seccomp allow list installed");
	return 0;
}

/* sandbox.c: a seccomp-BPF deny list installed once set-up is done. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "qgui/log.h"
#include "sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_UNDER_ASAN 1
#endif
#endif

#ifdef SANDBOX_ARCH
/* Never needed by a display program; each is a classic step of an exploit or a privilege grab. */
static const long denied[] = {
#ifndef SANDBOX_UNDER_ASAN
	SYS_ptrace, /* (LeakSanitizer stops the world with it: allowed in sanitizer builds) */
#endif
	SYS_process_vm_readv, SYS_process_vm_writev, SYS_kexec_load, SYS_kexec_file_load,
	SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_mount, SYS_umount2, SYS_pivot_root,
	SYS_chroot, SYS_swapon, SYS_swapoff, SYS_reboot, SYS_bpf, SYS_perf_event_open, SYS_userfaultfd,
	SYS_keyctl, SYS_add_key, SYS_request_key, SYS_unshare, SYS_setns, SYS_personality, SYS_acct,
	SYS_settimeofday, SYS_clock_settime, SYS_adjtimex, SYS_open_by_handle_at, SYS_name_to_handle_at,
	SYS_quotactl, SYS_vhangup, SYS_syslog, SYS_fanotify_init, SYS_io_uring_setup, SYS_io_uring_enter,
	SYS_io_uring_register, SYS_move_mount, SYS_fsopen, SYS_fsmount, SYS_open_tree,
#ifdef SYS_iopl
	SYS_iopl, SYS_ioperm,
#endif
};
#define NDENIED (sizeof(denied) / sizeof(denied[0]))
#endif

int sandbox_enter(bool allow_exec)
{
#ifdef SANDBOX_ARCH
	/* arch check, load nr, one compare per denied call (+2 exec), allow, errno, kill */
	struct sock_filter f[4 + NDENIED + 2 + 3];
	size_t n = 0, nden = NDENIED + (allow_exec ? 0 : 2);
	struct sock_fprog prog;

	/* a call made through another architecture's table would dodge the numbers below: kill it */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < nden; i++) {
		long nr = i < NDENIED ? denied[i] : i == NDENIED ? SYS_execve : SYS_execveat;
		/* a match jumps to the EPERM return: past the remaining compares and the allow */
		unsigned char to_deny = (unsigned char)(nden - i);

		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, to_deny, 0);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	prog = (struct sock_fprog){ (unsigned short)n, f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
			syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
		log_error("cannot install the seccomp filter: %s; going on without it", strerror(errno));
		return -1;
	}
	log_debug("seccomp filter installed (%zu calls denied%s)", nden, allow_exec ? ", exec allowed" : "");
	return 0;
#else
	(void)allow_exec;
	log_info("no seccomp filter on this architecture");
	return -1;
#endif
}

/*
 * test_sandbox.c: each program's seccomp allow list, seen from outside. The
 * whole stack runs (tests/lib/stack) with tests/preload/sandbox_probe.so
 * preloaded; once every program is set up and serving, a SIGUSR2 with a
 * probe number makes one program attempt a forbidden call: it must die of
 * SIGSYS (not get EPERM and go on: the probe then exits 99), while the
 * programs not probed keep showing new windows on dom0. An allowed probe
 * changes nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <X11/Xlib.h>

#include "../preload/sandbox_probe.h"
#include "stack.h"
#include "test.h"
#include "xrig.h"

#define W 1024
#define H 768
#define T_MS 15000

struct rig {
	struct stack st;
	Display *d0;
	int napps;
};

/* Is pid under a seccomp filter (Seccomp: 2)? */
static bool filtered(pid_t pid)
{
	char path[64], line[128];
	bool yes = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		yes |= strcmp(line, "Seccomp:\t2\n") == 0;
	}
	if (f) {
		fclose(f);
	}
	return yes;
}

/* An xlogo at (x, y) of AppVM vm's screen shows on dom0 inside the VM's label colour. */
static bool app_shows(struct rig *r, int vm, int x, int y)
{
	char geo[64], name[32];
	char *av[] = { "/usr/bin/xlogo", "-geometry", geo, NULL };
	int dx, dy;

	snprintf(geo, sizeof(geo), "120x90+%d+%d", x, y);
	snprintf(name, sizeof(name), "app-%d", r->napps++);
	if (stack_spawn_in_vm(&r->st, vm, name, av) <= 0) {
		return false;
	}
	stack_dom0_pos(&r->st, x - 1, y - 1, &dx, &dy);
	return xrig_wait_pixel(r->d0, dx, dy, r->st.vms[vm].label, T_MS);
}

static int rig_start(struct rig *r)
{
	char self[4096], probe[4096 + 64], preload[2 * 4096];
	const char *asan = getenv("ASAN_OPTIONS");
	char asanopts[1024];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct rlimit nocore = { 0, 0 };
	int rc;

	memset(r, 0, sizeof(*r));
	self[n > 0 ? n : 0] = '\0';
	*strrchr(self, '/') = '\0';
	/* <build>/tests/integration/test_sandbox -> <build>/tests/preload/sandbox_probe.so */
	snprintf(probe, sizeof(probe), "%s/../preload/sandbox_probe.so", self);
	if (access(probe, R_OK) != 0) {
		fprintf(stderr, "no %s\n", probe);
		return -1;
	}
	snprintf(preload, sizeof(preload), "%s", probe);
	/* under ASan the probe comes before libasan in the programs (it uses nothing of it) */
	snprintf(asanopts, sizeof(asanopts), "%s%sverify_asan_link_order=0", asan ? asan : "", asan ? ":" : "");
	setenv("LD_PRELOAD", preload, 1);
	setenv("ASAN_OPTIONS", asanopts, 1);
	setrlimit(RLIMIT_CORE, &nocore); /* (the SIGSYS deaths below would dump core) */
	rc = stack_start(&r->st, W, H, false, false, NULL);
	unsetenv("LD_PRELOAD");
	if (asan) {
		setenv("ASAN_OPTIONS", asan, 1);
	} else {
		unsetenv("ASAN_OPTIONS");
	}
	if (rc != 0 || (r->d0 = xrig_open(r->st.dom0.name)) == NULL) {
		return -1;
	}
	/* serving: an application of each VM shows on dom0; and every program is past set-up */
	if (!app_shows(r, 0, 60, 50) || !app_shows(r, 1, 400, 300)) {
		return -1;
	}
	{
		pid_t all[] = { r->st.proxy, r->st.exporter, r->st.vms[0].daemon, r->st.vms[0].agent,
			r->st.vms[1].daemon, r->st.vms[1].agent };

		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			int64_t end = test_now_ms() + T_MS;

			while (!filtered(all[i]) && test_now_ms() < end) {
				test_sleep_ms(20);
			}
			if (!filtered(all[i])) {
				fprintf(stderr, "pid %d never got its filter\n", (int)all[i]);
				return -1;
			}
		}
	}
	return 0;
}

static void rig_stop(struct rig *r)
{
	if (r->d0) {
		XCloseDisplay(r->d0);
	}
	stack_stop(&r->st);
}

static const char *name_of(const struct rig *r, pid_t pid)
{
	for (int i = 0; i < r->st.nprocs; i++) {
		if (r->st.procs[i].pid == pid) {
			return r->st.procs[i].name;
		}
	}
	return "?";
}

/*
 * Sends probe to pid and waits for its death. True when it died of SIGSYS;
 * otherwise says how it ended (exit 99: the call returned, e.g. EPERM).
 */
static bool killed_by(struct rig *r, pid_t pid, int probe)
{
	int64_t end = test_now_ms() + T_MS;
	const char *name = name_of(r, pid);
	int status = 0;
	pid_t w = 0;

	if (sigqueue(pid, SIGUSR2, (union sigval){ .sival_int = probe }) != 0) {
		fprintf(stderr, "sigqueue %d: %s\n", (int)pid, strerror(errno));
		return false;
	}
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && test_now_ms() < end) {
		test_sleep_ms(10);
	}
	if (w != pid) {
		fprintf(stderr, "%s survived probe %d\n", name, probe);
		return false;
	}
	stack_forget(&r->st, pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS) {
		fprintf(stderr, "%s after probe %d: %s %d\n", name, probe,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return false;
	}
	return true;
}

/* One run: a probe per program, AppVM 1's programs first, then AppVM 0's, guivm-export, guivm-proxy. */
struct run {
	int agent1, daemon1, agent0, daemon0, exporter, proxy;
};

static void probe_body(struct rig *r, const struct run *p, bool check_allowed)
{
	T_EQ(rig_start(r), 0);
	if (check_allowed) {
		/* allowed work in every program changes nothing: all alive, and new windows still travel to dom0 */
		pid_t all[] = { r->st.proxy, r->st.exporter, r->st.vms[0].daemon, r->st.vms[0].agent, r->st.vms[1].daemon,
			r->st.vms[1].agent };

		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			T_EQ(sigqueue(all[i], SIGUSR2, (union sigval){ .sival_int = PROBE_ALLOWED }), 0);
		}
		T_ASSERT(app_shows(r, 0, 300, 60));
		T_ASSERT(app_shows(r, 1, 600, 60));
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			T_EQ(waitpid(all[i], NULL, WNOHANG), 0);
		}
	}
	T_ASSERT(killed_by(r, r->st.vms[1].agent, p->agent1));
	T_ASSERT(killed_by(r, r->st.vms[1].daemon, p->daemon1));
	/* AppVM 0's path through the GUI qube to dom0 is untouched */
	T_ASSERT(app_shows(r, 0, 60, 400));
	T_ASSERT(killed_by(r, r->st.vms[0].agent, p->agent0));
	T_ASSERT(killed_by(r, r->st.vms[0].daemon, p->daemon0));
	T_ASSERT(killed_by(r, r->st.exporter, p->exporter));
	T_ASSERT(killed_by(r, r->st.proxy, p->proxy));
}

static void probe_run(const struct run *p, bool check_allowed)
{
	struct rig r;

	probe_body(&r, p, check_allowed);
	rig_stop(&r); /* (also after a failed assertion) */
}

static void forbidden_calls_first(void)
{
	probe_run(&(struct run){ PROBE_EXECVE, PROBE_SOCKET_INET, PROBE_CLONE_NEWUSER, PROBE_OPEN_PASSWD,
			  PROBE_MMAP_EXEC, PROBE_X32 }, true);
}

static void forbidden_calls_second(void)
{
	probe_run(&(struct run){ PROBE_X32, PROBE_MEMFD_SEAL, PROBE_MPROTECT_EXEC, PROBE_EXECVE,
			  PROBE_CONNECT_INET, PROBE_OPEN_PASSWD }, false);
}

static void forbidden_calls_third(void)
{
	probe_run(&(struct run){ PROBE_CONNECT_INET, PROBE_X32, PROBE_UNSHARE, PROBE_CLONE_NEWUSER, PROBE_EXECVE,
			  PROBE_MEMFD_SEAL }, false);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST(forbidden_calls_first),
		TEST(forbidden_calls_second),
		TEST(forbidden_calls_third),
	};

	return test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * test_launcher.c: gui-daemon as Qubes' launcher (qvm-start-daemon, Qubes 4.2) runs it: the exact
 * command lines it builds, the guid-running.<xid> file it relies on, and the exit statuses.
 *
 * The fixtures are the argument lists of DAEMONLauncher.common_guid_args, start_gui_for_vm and
 * start_gui_for_stubdomain in qubesadmin/tools/qvm_start_daemon.py:
 *   -N NAME -c COLOR -i ICON_DIR/ICON.png -l INDEX (-q | -v -v) [-Q] -C /var/run/qubes/guid-conf.XID
 *   [-T -p _KDE_NET_WM_COLOR_SCHEME=s:...] then -d XID [-n [-K PID]] (a qube; -n for HVMs, -K with the
 *   pid in the stubdomain daemon's guid-running file) or -d STUBXID -t XID (its stubdomain).
 * Never -f: the daemon forks and the launcher does not wait for it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gdfix.h"
#include "test.h"

#define T_MS GDFIX_MS
#define ICON "/usr/share/icons/hicolor/128x128/devices/appvm-green.png"

static int next_dom = 400; /* apart from gdfix's ids */

/* The guid-conf.<xid> file as qvm-start-daemon writes it (serialize_gui_daemon_options), every key it knows. */
static const char launcher_conf[] = "# Auto-generated file, do not edit!\n"
				    "\n"
				    "global: {\n"
				    "  allow_fullscreen = true;\n"
				    "  override_redirect_protection = false;\n"
				    "  override_redirect = \"disable\";\n"
				    "  allow_utf8_titles = true;\n"
				    "  secure_copy_sequence = \"Ctrl-Shift-c\";\n"
				    "  secure_paste_sequence = \"Ctrl-Shift-v\";\n"
				    "  windows_count_limit = 500;\n"
				    "  trayicon_mode = \"tint+border1\";\n"
				    "  startup_timeout = 45;\n"
				    "}\n";

static void path_in(char *buf, size_t len, const char *dir, const char *name, int dom)
{
	snprintf(buf, len, "%.3000s/%s.%d", dir, name, dom);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A private run directory (GUI_DAEMON_RUN_DIR) for one case. */
static const char *new_rundir(const char *name)
{
	static char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/run-%s", test_tmpdir(), name);
	mkdir(dir, 0700);
	return dir;
}

/*
 * Runs gui-daemon with exactly args (after argv[0]) and the launcher's environment, plus
 * GUI_DAEMON_RUN_DIR=rundir and VCHAN_SOCKET_DIR=sockdir (NULL: the rig's). Output to log.
 */
static pid_t launch(const char *const *args, const char *rundir, const char *sockdir, const char *log)
{
	char *argv[40], runenv[PATH_MAX + 32], sockenv[PATH_MAX + 32], dispenv[64];
	char *env[] = { runenv, sockenv, "VCHAN_DOMAIN=1", dispenv, NULL };
	int n = 0;

	snprintf(runenv, sizeof(runenv), "GUI_DAEMON_RUN_DIR=%s", rundir);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", sockdir ? sockdir : xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", gdfix_xs.name);
	argv[n++] = (char *)gdfix_daemon_path();
	for (size_t i = 0; args[i] && n < 39; i++) {
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	return xrig_spawn(argv, env, log);
}

/* A scripted agent of domain dom for the daemon of domain 1, on the rig's socket vchan. */
static struct tagent *start_agent(int dom)
{
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1); /* tagent_start serves there */
	return tagent_start(QGUI_BACKEND_SOCKET, dom, 1, 0);
}

/* The pid in a guid-running file, waiting up to timeout_ms for the file; 0 if none came. */
static pid_t wait_running(const char *path, int timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;

	do {
		char buf[32] = "";
		FILE *f = fopen(path, "r");

		if (f) {
			bool whole = fgets(buf, sizeof(buf), f) != NULL && strchr(buf, '\n') != NULL;

			fclose(f);
			if (whole) {
				return (pid_t)atoi(buf);
			}
		}
		test_sleep_ms(20);
	} while (test_now_ms() < end);
	return 0;
}

static bool wait_gone(const char *path, int timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;

	while (access(path, F_OK) == 0) {
		if (test_now_ms() >= end) {
			return false;
		}
		test_sleep_ms(20);
	}
	return true;
}

static bool log_has(const char *log, const char *text)
{
	char buf[16384];
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f) {
		fclose(f);
	}
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void show_log(const char *log)
{
	struct fixture f;

	snprintf(f.log, sizeof(f.log), "%s", log);
	gdfix_show_log(&f);
}

/* A process that waits for a signal, standing in for the stubdomain's daemon that -K stops. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;) {
			pause();
		}
	}
	return pid;
}

enum kind { QUBE, QUBE_RPC_CLIPBOARD, QUBE_DEBUG, QUBE_KDE, HVM, HVM_WITH_STUBDOM_GUID, STUBDOMAIN };

/*
 * One launcher command line of the given kind against a scripted agent: the launching process
 * exits 0 (at once with -n, otherwise once the agent connected), the daemon it left behind
 * writes its pid into guid-running.<xid>, draws a window, and on SIGTERM exits 0 and removes it.
 */
static void run_fixture(enum kind kind, const char *name)
{
	const char *rundir = new_rundir(name);
	int dom = next_dom++, target = 0;
	char doms[16], targets[16], conf[PATH_MAX], running[PATH_MAX], log[PATH_MAX], kpid[16] = "";
	const char *args[40];
	struct fixture fx = { 0 };
	pid_t pid, daemon, stub = 0;
	int n = 0;

	if (kind == STUBDOMAIN) {
		target = next_dom++; /* the HVM; dom is its stubdomain */
	}
	snprintf(doms, sizeof(doms), "%d", dom);
	snprintf(targets, sizeof(targets), "%d", target);
	path_in(conf, sizeof(conf), rundir, "guid-conf", kind == STUBDOMAIN ? target : dom);
	path_in(running, sizeof(running), rundir, "guid-running", dom);
	snprintf(log, sizeof(log), "%s/launcher-%s.log", test_tmpdir(), name);
	write_file(conf, launcher_conf);

	/* common_guid_args */
	args[n++] = "-N";
	args[n++] = "work";
	args[n++] = "-c";
	args[n++] = "0x73d216";
	args[n++] = "-i";
	args[n++] = ICON;
	args[n++] = "-l";
	args[n++] = "3";
	if (kind == QUBE_DEBUG) {
		args[n++] = "-v";
		args[n++] = "-v";
	} else {
		args[n++] = "-q";
	}
	if (kind == QUBE_RPC_CLIPBOARD) {
		args[n++] = "-Q";
	}
	args[n++] = "-C";
	args[n++] = conf;
	/* start_gui_for_vm (--kde adds its arguments first) or start_gui_for_stubdomain */
	if (kind == QUBE_KDE) {
		args[n++] = "-T";
		args[n++] = "-p";
		args[n++] = "_KDE_NET_WM_COLOR_SCHEME=s:/home/user/.local/share/qubes-kde/green.colors";
	}
	args[n++] = "-d";
	args[n++] = doms;
	if (kind == STUBDOMAIN) {
		args[n++] = "-t";
		args[n++] = targets;
	}
	if (kind == HVM || kind == HVM_WITH_STUBDOM_GUID) {
		args[n++] = "-n";
	}
	if (kind == HVM_WITH_STUBDOM_GUID) {
		stub = sleeper();
		T_ASSERT(stub > 0);
		snprintf(kpid, sizeof(kpid), "%d", (int)stub);
		args[n++] = "-K";
		args[n++] = kpid;
	}
	args[n] = NULL;

	fx.a = start_agent(dom);
	T_ASSERT(fx.a != NULL);
	pid = launch(args, rundir, NULL, log);
	T_ASSERT(pid > 0);
	if (tagent_accept(fx.a, T_MS) != 0) {
		show_log(log);
		test_fail(__FILE__, __LINE__, "%s: no handshake", name);
		tagent_destroy(fx.a);
		return;
	}
	T_EQ(xrig_wait(pid, T_MS), 0);
	daemon = wait_running(running, T_MS);
	T_ASSERT(daemon > 0 && daemon != pid && kill(daemon, 0) == 0);
	T_ASSERT(kind != QUBE_DEBUG || log_has(log, "agent connected")); /* -q: errors and warnings only */
	T_ASSERT(!log_has(log, "warning") && !log_has(log, "invalid"));
	T_EQ(tagent_create(fx.a, 0x10, 10, 10, 40, 40, false, "editor", false), 0);
	T_EQ(gdfix_barrier(&fx), 0);
	T_ASSERT(xrig_find_vm_window(gdfix_dpy, "work", 0x10, T_MS) != None);
	if (stub > 0) {
		T_EQ(xrig_wait(stub, T_MS), 128 + SIGUSR1); /* -K: the stubdomain's daemon is told to stop */
	}
	T_EQ(xrig_stop(daemon, T_MS), 0);
	T_ASSERT(wait_gone(running, T_MS));
	tagent_destroy(fx.a);
}

static void launcher_qube(void)
{
	run_fixture(QUBE, "qube");
}

static void launcher_qube_rpc_clipboard(void)
{
	run_fixture(QUBE_RPC_CLIPBOARD, "rpc-clipboard");
}

static void launcher_qube_debug(void)
{
	run_fixture(QUBE_DEBUG, "debug");
}

static void launcher_qube_kde(void)
{
	run_fixture(QUBE_KDE, "kde");
}

static void launcher_hvm(void)
{
	run_fixture(HVM, "hvm");
}

static void launcher_hvm_kill_stubdomain_daemon(void)
{
	run_fixture(HVM_WITH_STUBDOM_GUID, "hvm-K");
}

static void launcher_stubdomain(void)
{
	run_fixture(STUBDOMAIN, "stubdomain");
}

/* Lines the launcher never builds: status 2 and one line on stderr naming what is wrong. */
static void wrong_command_lines(void)
{
	static const struct {
		const char *args[12];
		const char *says;
	} cases[] = {
		{ { "-N", "work", "-c", "0x73d216", "-l", "3", "-q" }, "missing -d" },
		{ { "-N", "work", "-d", "0" }, "-d" },
		{ { "-d", "5", "-c", "red" }, "missing -N" },
		{ { "-d", "5", "-N", "bad name" }, "-N" },
		{ { "-d", "5", "-N", "work", "-K", "abc" }, "-K" },
		{ { "-d", "5", "-N", "work", "-l" }, "missing value for option -l" },
		{ { "-d", "5", "-N", "work", "--bogus" }, "--bogus" },
		{ { "-d", "5", "-N", "work", "extra" }, "extra" },
		{ { "-d", "5", "-N", "work", "-C", NULL }, "allow_fullscreen" }, /* args[5]: a bad file */
	};
	const char *rundir = new_rundir("wrong");
	const char *bad = gdfix_conf("bad-type.conf", "  allow_fullscreen = \"yes\";");
	char badpath[PATH_MAX];

	snprintf(badpath, sizeof(badpath), "%s", bad);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[12];
		char log[PATH_MAX], text[1024] = "";
		FILE *f;

		memcpy(args, cases[i].args, sizeof(args));
		if (i == sizeof(cases) / sizeof(cases[0]) - 1) {
			args[5] = badpath;
		}
		snprintf(log, sizeof(log), "%s/wrong-%zu.log", test_tmpdir(), i);
		T_EQ(xrig_wait(launch(args, rundir, NULL, log), T_MS), 2);
		f = fopen(log, "r");
		T_ASSERT(f != NULL);
		T_ASSERT(fread(text, 1, sizeof(text) - 1, f) > 0);
		fclose(f);
		if (strstr(text, cases[i].says) == NULL || strchr(text, '\n') != text + strlen(text) - 1) {
			test_fail(__FILE__, __LINE__, "case %zu: \"%s\" is not one line naming %s", i, text, cases[i].says);
		}
	}
}

/*
 * guid-running.<xid>: absent while the daemon waits for its agent (guid-booting.<xid> exists
 * instead), written with the daemon's pid at the handshake, kept while a second daemon for the
 * domain is refused, removed when the daemon ends by SIGTERM; a stale one is replaced.
 */
static void guid_running_life_cycle(void)
{
	const char *rundir = new_rundir("life");
	int dom = next_dom++;
	char doms[16], running[PATH_MAX], booting[PATH_MAX], log1[PATH_MAX], log2[PATH_MAX], log3[PATH_MAX];
	const char *args[] = { "-N", "work", "-c", "0x73d216", "-l", "3", "-q", "-d", doms, NULL };
	struct fixture fx = { 0 };
	pid_t pid, daemon, dead;
	char stale[32];
	int st;

	snprintf(doms, sizeof(doms), "%d", dom);
	path_in(running, sizeof(running), rundir, "guid-running", dom);
	path_in(booting, sizeof(booting), rundir, "guid-booting", dom);
	snprintf(log1, sizeof(log1), "%s/life-1.log", test_tmpdir());
	snprintf(log2, sizeof(log2), "%s/life-2.log", test_tmpdir());
	snprintf(log3, sizeof(log3), "%s/life-3.log", test_tmpdir());

	fx.a = start_agent(dom);
	T_ASSERT(fx.a != NULL);
	pid = launch(args, rundir, NULL, log1);
	T_ASSERT(pid > 0);
	/* before the handshake: the boot lock, no guid-running */
	for (int64_t end = test_now_ms() + T_MS; access(booting, F_OK) != 0 && test_now_ms() < end;) {
		test_sleep_ms(20);
	}
	T_EQ(access(booting, F_OK), 0);
	T_ASSERT(access(running, F_OK) != 0);
	T_EQ(tagent_accept(fx.a, T_MS), 0);
	T_EQ(xrig_wait(pid, T_MS), 0);
	daemon = wait_running(running, T_MS);
	T_ASSERT(daemon > 0 && kill(daemon, 0) == 0);
	T_ASSERT(access(booting, F_OK) != 0);

	/* the launcher's check races; a second daemon for the domain says so and leaves */
	T_EQ(xrig_wait(launch(args, rundir, NULL, log2), T_MS), 0);
	T_ASSERT(log_has(log2, "already running") && log_has(log2, "not starting another"));
	T_EQ(wait_running(running, T_MS), daemon);
	T_EQ(kill(daemon, 0), 0);
	T_EQ(gdfix_barrier(&fx), 0); /* the first one still serves its agent */

	T_EQ(xrig_stop(daemon, T_MS), 0); /* SIGTERM */
	T_ASSERT(wait_gone(running, T_MS));
	tagent_destroy(fx.a);

	/* a guid-running left by a daemon that was killed (pid of a process that is gone) */
	dead = fork();
	if (dead == 0) {
		_exit(0);
	}
	T_EQ(waitpid(dead, &st, 0), dead);
	snprintf(stale, sizeof(stale), "%d\n", (int)dead);
	write_file(running, stale);
	fx.a = start_agent(dom);
	T_ASSERT(fx.a != NULL);
	pid = launch(args, rundir, NULL, log3);
	T_EQ(tagent_accept(fx.a, T_MS), 0);
	T_EQ(xrig_wait(pid, T_MS), 0);
	T_ASSERT(log_has(log3, "removing the stale"));
	daemon = wait_running(running, T_MS);
	T_ASSERT(daemon > 0 && daemon != dead);
	T_EQ(xrig_stop(daemon, T_MS), 0);
	T_ASSERT(wait_gone(running, T_MS));
	tagent_destroy(fx.a);
}

/* The "(pid N)" a log line names after text, or 0. */
static pid_t pid_after(const char *log, const char *text)
{
	char buf[16384];
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	const char *p;

	if (f) {
		fclose(f);
	}
	buf[n] = '\0';
	p = strstr(buf, text);
	p = p ? strstr(p, "(pid ") : NULL;
	return p ? (pid_t)atoi(p + 5) : 0;
}

/*
 * Each failure with its own message and status: a vchan that cannot be reached (VCHAN_SOCKET_DIR
 * is a file) is a local failure (1), with -f and through the waiting parent, which reports the
 * daemon's end instead of a timeout; no agent within startup_timeout is 4 (the daemon goes on
 * waiting); a run directory that cannot be used is 1.
 */
static void exit_statuses(void)
{
	const char *rundir = new_rundir("status");
	char notdir[PATH_MAX], log[PATH_MAX], domf[16], dom2[16], dom3[16], dom4[16];
	const char *conf = gdfix_conf("timeout.conf", "  startup_timeout = 1;");
	char confpath[PATH_MAX];
	pid_t daemon;

	snprintf(confpath, sizeof(confpath), "%s", conf);
	snprintf(notdir, sizeof(notdir), "%s/not-a-directory", test_tmpdir());
	write_file(notdir, "x");
	snprintf(domf, sizeof(domf), "%d", next_dom++);
	snprintf(dom2, sizeof(dom2), "%d", next_dom++);
	snprintf(dom3, sizeof(dom3), "%d", next_dom++);
	snprintf(dom4, sizeof(dom4), "%d", next_dom++);

	snprintf(log, sizeof(log), "%s/status-notdir-f.log", test_tmpdir());
	T_EQ(xrig_wait(launch((const char *[]){ "-f", "-N", "work", "-d", domf, NULL }, rundir, notdir, log), T_MS),
			1);
	T_ASSERT(log_has(log, "cannot reach the agent of domain"));
	T_ASSERT(log_has(log, "Not a directory"));

	snprintf(log, sizeof(log), "%s/status-notdir-fork.log", test_tmpdir());
	T_EQ(xrig_wait(launch((const char *[]){ "-N", "work", "-q", "-d", dom2, NULL }, rundir, notdir, log), T_MS), 1);
	T_ASSERT(log_has(log, "Not a directory"));
	T_ASSERT(log_has(log, "failed before the agent connected (exit status 1"));
	T_ASSERT(!log_has(log, "did not connect within"));

	/* no agent at all: the parent gives up after startup_timeout (1 s here), the daemon waits on */
	snprintf(log, sizeof(log), "%s/status-timeout.log", test_tmpdir());
	T_EQ(xrig_wait(launch((const char *[]){ "-N", "work", "-C", confpath, "-d", dom3, NULL }, rundir, NULL, log),
			     T_MS),
			4);
	T_ASSERT(log_has(log, "the agent did not connect within 1 s"));
	daemon = pid_after(log, "did not connect within");
	T_ASSERT(daemon > 0 && kill(daemon, 0) == 0);
	T_EQ(xrig_stop(daemon, T_MS), 0);

	snprintf(log, sizeof(log), "%s/status-rundir.log", test_tmpdir());
	T_EQ(xrig_wait(launch((const char *[]){ "-f", "-N", "work", "-d", dom4, NULL }, notdir, NULL, log), T_MS), 1);
	T_ASSERT(log_has(log, "guid-booting"));
}

/* The packaged guid.conf example is read without a warning and the daemon starts with it. */
static void packaged_example_config(void)
{
	const char *rundir = new_rundir("example");
	int dom = next_dom++;
	char doms[16], log[PATH_MAX], running[PATH_MAX], example[PATH_MAX];
	const char *args[] = { "-N", "work", "-C", example, "-d", doms, NULL };
	struct fixture fx = { 0 };
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid, daemon;

	T_ASSERT(len > 0);
	self[len] = '\0';
	/* build/tests/integration/ -> the source tree */
	snprintf(example, sizeof(example), "%.3000s/../../../gui-daemon/guid.conf.example", dirname(self));
	if (access(example, R_OK) != 0) {
		snprintf(example, sizeof(example), "gui-daemon/guid.conf.example");
	}
	T_EQ(access(example, R_OK), 0);
	snprintf(doms, sizeof(doms), "%d", dom);
	path_in(running, sizeof(running), rundir, "guid-running", dom);
	snprintf(log, sizeof(log), "%s/example.log", test_tmpdir());
	fx.a = start_agent(dom);
	T_ASSERT(fx.a != NULL);
	pid = launch(args, rundir, NULL, log);
	T_EQ(tagent_accept(fx.a, T_MS), 0);
	T_EQ(xrig_wait(pid, T_MS), 0);
	T_ASSERT(!log_has(log, "config"));
	daemon = wait_running(running, T_MS);
	T_ASSERT(daemon > 0);
	T_EQ(xrig_stop(daemon, T_MS), 0);
	tagent_destroy(fx.a);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST(launcher_qube),
		TEST(launcher_qube_rpc_clipboard),
		TEST(launcher_qube_debug),
		TEST(launcher_qube_kde),
		TEST(launcher_hvm),
		TEST(launcher_hvm_kill_stubdomain_daemon),
		TEST(launcher_stubdomain),
		TEST(wrong_command_lines),
		TEST(guid_running_life_cycle),
		TEST(exit_statuses),
		TEST(packaged_example_config),
	};

	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

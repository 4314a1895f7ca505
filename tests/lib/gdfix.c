/* tests/lib/gdfix.c: the gui-daemon fixture behind gdfix.h. */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gdfix.h"
#include "test.h"

struct xserver gdfix_xs;
Display *gdfix_dpy;
static char daemon_path[PATH_MAX];
static int next_domid = 10;

const char *gdfix_daemon_path(void)
{
	return daemon_path;
}

const char *gdfix_conf(const char *name, const char *body)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", test_tmpdir(), name);
	fp = fopen(path, "w");
	if (fp) {
		fprintf(fp, "global: {\n%s\n};\n", body);
		fclose(fp);
	}
	return path;
}

void gdfix_show_log(const struct fixture *f)
{
	char line[512];
	FILE *fp = fopen(f->log, "r");

	while (fp && fgets(line, sizeof(line), fp)) {
		printf("#   daemon: %s", line);
	}
	if (fp) {
		fclose(fp);
	}
}

int gdfix_spawn(struct fixture *f, const struct gdfix_opts *opts, const char *const *extra)
{
	static const struct gdfix_opts none = { QGUI_BACKEND_SOCKET, NULL, NULL, NULL, NULL, 0, false };
	char dom[16], sockenv[PATH_MAX + 32], dispenv[64], preload[PATH_MAX + 16], transport[64];
	char *argv[48], *env[6];
	int n = 0, e = 0;

	if (opts == NULL) {
		opts = &none;
	}
	memset(f, 0, sizeof(*f));
	f->agent_dom = next_domid++;
	snprintf(dom, sizeof(dom), "%d", f->agent_dom);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", gdfix_xs.name);
	snprintf(f->log, sizeof(f->log), "%s/daemon-%d.log", test_tmpdir(), f->agent_dom);
	if (opts->clipdir) {
		snprintf(f->clipdir, sizeof(f->clipdir), "%s", opts->clipdir);
	} else {
		snprintf(f->clipdir, sizeof(f->clipdir), "%s/clip-%d", test_tmpdir(), f->agent_dom);
		mkdir(f->clipdir, 0700);
	}
	env[e++] = sockenv;
	env[e++] = "VCHAN_DOMAIN=1";
	env[e++] = dispenv;
	if (opts->preload) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", opts->preload);
		env[e++] = preload;
	}
	env[e] = NULL;
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1);
	f->a = tagent_start(opts->agent_backend, f->agent_dom, 1, opts->offer_version);
	if (f->a == NULL) {
		return -1;
	}
	argv[n++] = daemon_path;
	argv[n++] = "-f";
	argv[n++] = "-d";
	argv[n++] = dom;
	argv[n++] = "-N";
	argv[n++] = (char *)(opts->vmname ? opts->vmname : "work");
	argv[n++] = "-c";
	argv[n++] = "0x00ff00";
	argv[n++] = "-l";
	argv[n++] = "3";
	argv[n++] = "--clipboard-dir";
	argv[n++] = f->clipdir;
	if (!opts->dom0_paste_policy) {
		argv[n++] = "--paste-policy-command"; /* a local policy: this is no GUI qube of a Qubes system */
		argv[n++] = "/bin/true";
	}
	if (opts->daemon_transport) {
		snprintf(transport, sizeof(transport), "--transport=%s", opts->daemon_transport);
		argv[n++] = transport;
	}
	for (size_t i = 0; extra && extra[i] && n < 46; i++) {
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	f->daemon = xrig_spawn(argv, env, f->log);
	return f->daemon < 0 ? -1 : 0;
}

int gdfix_start(struct fixture *f, const struct gdfix_opts *opts, const char *const *extra)
{
	if (gdfix_spawn(f, opts, extra) != 0 || tagent_accept(f->a, GDFIX_MS) != 0) {
		gdfix_show_log(f);
		return -1;
	}
	return 0;
}

int gdfix_barrier(struct fixture *f)
{
	static uint32_t next = 0x7ff00000;
	uint32_t id = next++;
	struct proto_msg m;

	if (tagent_create(f->a, id, 0, 0, 1, 1, false, NULL, false) != 0 ||
			tagent_send(f->a, &(struct proto_msg){ .type = MSG_DESTROY, .window = id }) != 0) {
		return -1;
	}
	return tagent_expect_win(f->a, MSG_DESTROY, id, 2 * GDFIX_MS, &m);
}

int gdfix_xen_opts(struct gdfix_opts *o, char *shim, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		return -1;
	}
	self[n] = '\0';
	snprintf(shim, len, "%s/../../libxenshim.so", dirname(self));
	*o = (struct gdfix_opts){ QGUI_BACKEND_SOCKET, "xen", shim, NULL, NULL, 0, false };
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1); /* the shim comes before libasan under ASan */
	return access(shim, R_OK);
}

void gdfix_stop(struct fixture *f)
{
	if (f->daemon > 0) {
		xrig_stop(f->daemon, 3000);
	}
	tagent_destroy(f->a);
	f->a = NULL;
	f->daemon = 0;
}

int gdfix_setup(int w, int h)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	signal(SIGPIPE, SIG_IGN);
	if (len <= 0) {
		return -1;
	}
	self[len] = '\0';
	/* tests live in <build>/tests/<kind>/, benchmarks in <build>/bench/ */
	snprintf(daemon_path, sizeof(daemon_path), "%s/../../bin/gui-daemon", dirname(self));
	if (access(daemon_path, X_OK) != 0) {
		snprintf(daemon_path, sizeof(daemon_path), "%.4000s/../bin/gui-daemon", self);
	}
	if (access(daemon_path, X_OK) != 0 || xrig_xvfb_start(&gdfix_xs, w, h, NULL) != 0 ||
			(gdfix_dpy = xrig_open(gdfix_xs.name)) == NULL) {
		printf("not ok - setup: gui-daemon at %s and an Xvfb\n", daemon_path);
		xrig_server_stop(&gdfix_xs);
		return -1;
	}
	return 0;
}

void gdfix_teardown(void)
{
	if (gdfix_dpy) {
		XCloseDisplay(gdfix_dpy);
		gdfix_dpy = NULL;
	}
	xrig_server_stop(&gdfix_xs);
}

int gdfix_main(int argc, char **argv, const struct test_case *cases, size_t n)
{
	int rc;

	if (gdfix_setup(GDFIX_SCREEN_W, GDFIX_SCREEN_H) != 0) {
		return 1;
	}
	rc = test_main(argc, argv, cases, n);
	gdfix_teardown();
	return rc;
}

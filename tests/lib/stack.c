/* tests/lib/stack.c: the whole stack on one machine (see stack.h). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stack.h"
#include "test.h"

static const struct stack_vm vm_defaults[STACK_VMS] = {
	{ "work", 2, 0x73d216, "0x73d216", 3, { 0 }, 0, 0 },
	{ "personal", 3, 0xf57900, "0xf57900", 4, { 0 }, 0, 0 },
};

static pid_t start(struct stack *s, const char *name, char *const argv[], char *const env[])
{
	struct stack_proc *p;

	if (s->nprocs == STACK_MAX_PROCS) {
		return -1;
	}
	p = &s->procs[s->nprocs];
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", test_tmpdir(), name);
	p->pid = xrig_spawn(argv, env, p->log);
	if (p->pid > 0) {
		s->nprocs++;
	}
	return p->pid;
}

static void find_bindir(struct stack *s, const char *bindir)
{
	char self[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t len;

	if (bindir) {
		snprintf(s->bindir, sizeof(s->bindir), "%.*s", (int)sizeof(s->bindir) - 1, bindir);
		return;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[len > 0 ? len : 0] = '\0';
	/* tools in <build>/bin, tests in <build>/tests/<kind>/ */
	snprintf(s->bindir, sizeof(s->bindir), "%.*s", (int)sizeof(s->bindir) - 1, dirname(self));
	snprintf(probe, sizeof(probe), "%s/gui-daemon", s->bindir);
	if (access(probe, X_OK) != 0) {
		snprintf(probe, sizeof(probe), "%s/../../bin", s->bindir);
		snprintf(s->bindir, sizeof(s->bindir), "%.*s", (int)sizeof(s->bindir) - 1, probe);
	}
}

int stack_start(struct stack *s, int w, int h, bool live, bool direct, const char *bindir)
{
	char sockenv[PATH_MAX + 32], prog[PATH_MAX];
	int gw = w - 2 * STACK_PROXY_BORDER, gh = h - 2 * STACK_PROXY_BORDER;

	memset(s, 0, sizeof(*s));
	memcpy(s->vms, vm_defaults, sizeof(s->vms));
	s->w = w;
	s->h = h;
	s->direct = direct;
	find_bindir(s, bindir);
	setenv("VCHAN_SOCKET_DIR", xrig_socket_dir(), 1);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());

	/* displays: dom0; the GUI qube's export server and its desktop; one per AppVM */
	if ((live ? xrig_xephyr_start(&s->dom0, getenv("DISPLAY") ? getenv("DISPLAY") : ":0", w, h)
		  : xrig_xvfb_start(&s->dom0, w, h, NULL)) != 0 ||
			xrig_xvfb_start(&s->gexport, gw, gh, NULL) != 0 ||
			(!direct && xrig_xephyr_start(&s->nest, s->gexport.name, gw, gh) != 0)) {
		fprintf(stderr, "stack: cannot start the X servers\n");
		return -1;
	}
	s->desk = direct ? s->gexport.name : s->nest.name;
	for (int i = 0; i < STACK_VMS; i++) {
		if (xrig_xvfb_start(&s->vms[i].xs, 800, 600, NULL) != 0) {
			fprintf(stderr, "stack: cannot start %s's X server\n", s->vms[i].name);
			return -1;
		}
	}
	/* the GUI qube: one gui-daemon per AppVM on the desktop, guivm-export on the export server */
	for (int i = 0; i < STACK_VMS; i++) {
		char dom[16], disp[32], idx[16], name[48];
		char *av[] = { prog, "-f", "-d", dom, "-N", (char *)s->vms[i].name, "-c", (char *)s->vms[i].label_spec,
			"-l", idx, "--clipboard-dir", (char *)test_tmpdir(), "--paste-policy-command", "/bin/true", NULL };
		char *ev[] = { sockenv, "VCHAN_DOMAIN=1", disp, NULL };

		snprintf(prog, sizeof(prog), "%s/gui-daemon", s->bindir);
		snprintf(dom, sizeof(dom), "%d", s->vms[i].domid);
		snprintf(idx, sizeof(idx), "%d", s->vms[i].label_index);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", s->desk);
		snprintf(name, sizeof(name), "gui-daemon-%s", s->vms[i].name);
		s->vms[i].daemon = start(s, name, av, ev);
	}
	{
		char disp[32];
		char *av[] = { prog, "-d", "0", NULL };
		char *ev[] = { sockenv, "VCHAN_DOMAIN=1", disp, NULL };

		snprintf(prog, sizeof(prog), "%s/guivm-export", s->bindir);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", s->gexport.name);
		s->exporter = start(s, "guivm-export", av, ev);
	}
	/* dom0: only guivm-proxy */
	{
		char disp[32], color[16];
		char *av[] = { prog, "-d", "1", "-N", "sys-gui", "-c", color, NULL };
		char *ev[] = { sockenv, "VCHAN_DOMAIN=0", disp, NULL };

		snprintf(prog, sizeof(prog), "%s/guivm-proxy", s->bindir);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", s->dom0.name);
		snprintf(color, sizeof(color), "0x%06x", STACK_GUI_LABEL);
		s->proxy = start(s, "guivm-proxy", av, ev);
	}
	/* the AppVMs' agents */
	for (int i = 0; i < STACK_VMS; i++) {
		char dom[24], disp[32], name[48];
		char *av[] = { prog, "-d", "1", NULL };
		char *ev[] = { sockenv, dom, disp, NULL };

		snprintf(prog, sizeof(prog), "%s/gui-agent", s->bindir);
		snprintf(dom, sizeof(dom), "VCHAN_DOMAIN=%d", s->vms[i].domid);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", s->vms[i].xs.name);
		snprintf(name, sizeof(name), "gui-agent-%s", s->vms[i].name);
		s->vms[i].agent = start(s, name, av, ev);
	}
	for (int i = 0; i < s->nprocs; i++) {
		if (s->procs[i].pid <= 0) {
			return -1;
		}
	}
	return 0;
}

pid_t stack_spawn_in_vm(struct stack *s, int vm, const char *name, char *const argv[])
{
	char disp[32];
	char *ev[] = { disp, NULL };

	snprintf(disp, sizeof(disp), "DISPLAY=%s", s->vms[vm].xs.name);
	return start(s, name, argv, ev);
}

void stack_dom0_pos(const struct stack *s, int x, int y, int *dx, int *dy)
{
	(void)s; /* both layouts put the desktop at the export server's origin, shown inside the proxy's border */
	*dx = x + STACK_PROXY_BORDER;
	*dy = y + STACK_PROXY_BORDER;
}

long stack_frames(const struct stack_proc *p)
{
	char line[512];
	long n = -1;
	FILE *f = fopen(p->log, "r");

	while (f && fgets(line, sizeof(line), f)) {
		for (char *q = strstr(line, "frames"); q; q = strstr(q + 6, "frames")) {
			char *d = q + 6;

			while (*d && (*d < '0' || *d > '9') && d - q < 16) {
				d++;
			}
			if (*d >= '0' && *d <= '9') {
				n = strtol(d, NULL, 10);
			}
		}
	}
	if (f) {
		fclose(f);
	}
	return n;
}

void stack_forget(struct stack *s, pid_t pid)
{
	for (int i = 0; i < s->nprocs; i++) {
		if (s->procs[i].pid == pid) {
			s->procs[i].pid = 0;
		}
	}
}

int stack_stop_proc(struct stack *s, pid_t pid, int timeout_ms)
{
	if (pid <= 0) {
		return -1;
	}
	stack_forget(s, pid);
	return xrig_stop(pid, timeout_ms);
}

void stack_stop_procs(struct stack *s)
{
	for (int i = s->nprocs - 1; i >= 0; i--) {
		if (s->procs[i].pid > 0) {
			xrig_stop(s->procs[i].pid, 3000);
			s->procs[i].pid = 0;
		}
	}
}

void stack_stop(struct stack *s)
{
	stack_stop_procs(s);
	xrig_server_stop(&s->nest);
	xrig_server_stop(&s->gexport);
	for (int i = 0; i < STACK_VMS; i++) {
		xrig_server_stop(&s->vms[i].xs);
	}
	xrig_server_stop(&s->dom0);
}

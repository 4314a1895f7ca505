/* rig.c: a complete local rig (dom0, GUI qube, AppVMs) on one machine, and the scripted demo. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "test.h"
#include "xrig.h"

#define MAX_PROCS 32
#define PROXY_BORDER 2
#define GUI_LABEL 0x3874d8u /* the GUI qube's label (blue), drawn by guivm-proxy in dom0 */

struct appvm {
	const char *name;
	int domid;
	uint32_t label;
	const char *label_spec;
	int label_index;
	struct xserver xs;
};

struct app {
	int vm;          /* index into vms */
	const char *argv[12];
	int x, y;        /* where it asks to be, on its VM's screen */
};

struct proc {
	pid_t pid;
	char name[48];
	char log[PATH_MAX];
};

static struct proc procs[MAX_PROCS];
static int nprocs;
static volatile sig_atomic_t stop_now;
static char bindir[PATH_MAX - 64];

static struct appvm vms[] = {
	{ "work", 2, 0x73d216, "0x73d216", 3, { 0 } },
	{ "personal", 3, 0xf57900, "0xf57900", 4, { 0 } },
};

static void on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
}

static pid_t start(const char *name, char *const argv[], char *const env[])
{
	struct proc *p;

	if (nprocs == MAX_PROCS) {
		return -1;
	}
	p = &procs[nprocs];
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", test_tmpdir(), name);
	p->pid = xrig_spawn(argv, env, p->log);
	if (p->pid > 0) {
		nprocs++;
	}
	return p->pid;
}

static void stop_all(void)
{
	for (int i = nprocs - 1; i >= 0; i--) {
		if (procs[i].pid > 0) {
			xrig_stop(procs[i].pid, 3000);
			procs[i].pid = 0;
		}
	}
}

/* The last number following "frames" in a program's log (its exit summary), or -1. */
static long frames_in_log(const char *path)
{
	char line[512];
	long n = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "frames");

		while (p) {
			char *q = p + 6;

			while (*q && (*q < '0' || *q > '9') && *q != '\n' && q - p < 16) {
				q++;
			}
			if (*q >= '0' && *q <= '9') {
				n = strtol(q, NULL, 10);
			}
			p = strstr(p + 6, "frames");
		}
	}
	if (f) {
		fclose(f);
	}
	return n;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Selects KeyPress on every window below root whose top-level has class cls; returns how many. */
static int watch_keys(Display *d, Window w, const char *cls, bool inside)
{
	Window r, p, *kids = NULL;
	unsigned n = 0;
	int count = 0;
	XClassHint ch = { NULL, NULL };

	if (!inside && XGetClassHint(d, w, &ch)) {
		inside = ch.res_class && strcmp(ch.res_class, cls) == 0;
		XFree(ch.res_name);
		XFree(ch.res_class);
	}
	if (inside) {
		XSelectInput(d, w, KeyPressMask);
		count++;
	}
	if (XQueryTree(d, w, &r, &p, &kids, &n)) {
		for (unsigned i = 0; i < n; i++) {
			count += watch_keys(d, kids[i], cls, inside);
		}
		XFree(kids);
	}
	return count;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Types text at dom0 (XTEST on dom0's display), one key at a time, and times
 * each key until the AppVM's X server delivers it. Returns the median in us, or -1.
 */
static long long type_and_time(Display *d0, Display *vm, const char *text)
{
	long long lat[128];
	int n = 0;

	for (const char *c = text; *c && n < 128 && !stop_now; c++) {
		KeySym ks = *c == ' ' ? XK_space : *c == '\n' ? XK_Return : (KeySym)(unsigned char)*c;
		KeyCode kc = XKeysymToKeycode(d0, ks);
		long long t0, deadline;
		bool got = false;

		if (kc == 0) {
			continue;
		}
		t0 = now_us();
		XTestFakeKeyEvent(d0, kc, True, 0);
		XTestFakeKeyEvent(d0, kc, False, 0);
		XFlush(d0);
		deadline = t0 + 5000000;
		while (!got && now_us() < deadline) {
			while (XPending(vm)) {
				XEvent e;

				XNextEvent(vm, &e);
				if (e.type == KeyPress && !got) {
					lat[n++] = now_us() - t0;
					got = true;
				}
			}
			if (!got) {
				usleep(200);
			}
		}
		/* let the release through before the next key */
		XSync(d0, False);
	}
	if (n == 0) {
		return -1;
	}
	qsort(lat, (size_t)n, sizeof(lat[0]), cmp_ll);
	return lat[n / 2];
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: rig [--demo] [--live] [--layout=nested|direct] [--out=DIR] [--size=WxH]\n"
		   "Starts a local rig: dom0 (guivm-proxy), a GUI qube (export Xvfb, Xephyr full-screen on it,\n"
		   "one gui-daemon per AppVM, guivm-export) and two AppVMs (an Xvfb and gui-agent each) with\n"
		   "real applications. Every display is chosen with -displayfd; every process is stopped by pid\n"
		   "on exit or Ctrl-C.\n"
		   "  --demo          type a line into the xterm through dom0, take a screenshot, print a summary, stop\n"
		   "  --live          dom0 is a Xephyr window on $DISPLAY (needs a desktop); otherwise a headless Xvfb\n"
		   "  --layout=L      nested (default: the desktop runs in a Xephyr on the export server) or direct\n"
		   "  --out=DIR       where the demo writes dom0.png and summary.txt (default build/demo)\n"
		   "  --size=WxH      dom0's screen (default 1280x800)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "demo", no_argument, NULL, 'D' }, { "live", no_argument, NULL, 'L' },
		{ "layout", required_argument, NULL, 'l' }, { "out", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	bool demo = false, live = false, direct = false;
	const char *out = "build/demo";
	int W = 1280, H = 800, c, rc = 1;
	char self[PATH_MAX], path[6][PATH_MAX], sockenv[PATH_MAX + 32], shot[PATH_MAX], typed[PATH_MAX];
	struct xserver d0 = { 0 }, gx = { 0 }, nest = { 0 };
	const char *desk;
	Display *dd = NULL, *vmd = NULL;
	long long median = -1;
	ssize_t len;
	struct app apps[] = {
		{ 0, { "/usr/bin/xterm", "-geometry", "64x10+40+40", "-bg", "#101820", "-fg", "#f0e68c", "-e", "sh", "-c",
				     NULL, NULL }, 40, 40 },
		{ 0, { "/usr/bin/xclock", "-geometry", "160x160+560+40", "-update", "1", NULL }, 560, 40 },
		{ 1, { "/usr/bin/xlogo", "-geometry", "200x160+40+330", NULL }, 40, 330 },
		{ 1, { "/usr/bin/xeyes", "-geometry", "200x160+560+330", NULL }, 560, 330 },
	};
	char catcmd[PATH_MAX + 32];

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			demo = true;
			break;
		case 'L':
			live = true;
			break;
		case 'l':
			if (strcmp(optarg, "direct") != 0 && strcmp(optarg, "nested") != 0) {
				fprintf(stderr, "rig: --layout must be nested or direct\n");
				return 2;
			}
			direct = strcmp(optarg, "direct") == 0;
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			if (sscanf(optarg, "%dx%d", &W, &H) != 2 || W < 640 || H < 480 || W > 8192 || H > 8192) {
				fprintf(stderr, "rig: --size must be WxH, at least 640x480\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		return 1;
	}
	self[len] = '\0';
	snprintf(bindir, sizeof(bindir), "%.*s", (int)sizeof(bindir) - 1, dirname(self));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	snprintf(sockenv, sizeof(sockenv), "VCHAN_SOCKET_DIR=%s", xrig_socket_dir());
	snprintf(typed, sizeof(typed), "%s/typed.txt", test_tmpdir());
	snprintf(catcmd, sizeof(catcmd), "cat > %s", typed);
	apps[0].argv[10] = catcmd;

	/* displays: dom0; the GUI qube's export server (and the nested desktop); one per AppVM */
	if ((live ? xrig_xephyr_start(&d0, getenv("DISPLAY") ? getenv("DISPLAY") : ":0", W, H)
		  : xrig_xvfb_start(&d0, W, H, NULL)) != 0 ||
			xrig_xvfb_start(&gx, W - 2 * PROXY_BORDER, H - 2 * PROXY_BORDER, NULL) != 0 ||
			(!direct && xrig_xephyr_start(&nest, gx.name, W - 2 * PROXY_BORDER, H - 2 * PROXY_BORDER) != 0)) {
		fprintf(stderr, "rig: cannot start the X servers\n");
		goto done;
	}
	desk = direct ? gx.name : nest.name;
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		if (xrig_xvfb_start(&vms[i].xs, 800, 600, NULL) != 0) {
			fprintf(stderr, "rig: cannot start %s's X server\n", vms[i].name);
			goto done;
		}
	}

	/* the GUI qube: one gui-daemon per AppVM on the desktop server, guivm-export on the export server */
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		char dom[16], disp[32], idx[16], name[48];
		char *av[] = { path[0], "-f", "-d", dom, "-N", (char *)vms[i].name, "-c", (char *)vms[i].label_spec, "-l",
			idx, "--clipboard-dir", (char *)test_tmpdir(), NULL };
		char *ev[] = { sockenv, "VCHAN_DOMAIN=1", disp, NULL };

		snprintf(path[0], sizeof(path[0]), "%s/gui-daemon", bindir);
		snprintf(dom, sizeof(dom), "%d", vms[i].domid);
		snprintf(idx, sizeof(idx), "%d", vms[i].label_index);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", desk);
		snprintf(name, sizeof(name), "gui-daemon-%s", vms[i].name);
		start(name, av, ev);
	}
	{
		char disp[32];
		char *av[] = { path[1], "-d", "0", NULL };
		char *ev[] = { sockenv, "VCHAN_DOMAIN=1", disp, NULL };

		snprintf(path[1], sizeof(path[1]), "%s/guivm-export", bindir);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", gx.name);
		start("guivm-export", av, ev);
	}
	/* dom0: only guivm-proxy */
	{
		char disp[32], color[16];
		char *av[] = { path[2], "-d", "1", "-N", "sys-gui", "-c", color, NULL };
		char *ev[] = { sockenv, "VCHAN_DOMAIN=0", disp, NULL };

		snprintf(path[2], sizeof(path[2]), "%s/guivm-proxy", bindir);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", d0.name);
		snprintf(color, sizeof(color), "0x%06x", GUI_LABEL);
		start("guivm-proxy", av, ev);
	}
	/* the AppVMs: gui-agent and the applications */
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		char dom[16], disp[32], name[48];
		char *av[] = { path[3], "-d", "1", NULL };
		char *ev[] = { sockenv, dom, disp, NULL };

		snprintf(path[3], sizeof(path[3]), "%s/gui-agent", bindir);
		snprintf(dom, sizeof(dom), "VCHAN_DOMAIN=%d", vms[i].domid);
		snprintf(disp, sizeof(disp), "DISPLAY=%s", vms[i].xs.name);
		snprintf(name, sizeof(name), "gui-agent-%s", vms[i].name);
		start(name, av, ev);
	}
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
		char disp[32], name[48];
		char *ev[] = { disp, NULL };

		snprintf(disp, sizeof(disp), "DISPLAY=%s", vms[apps[i].vm].xs.name);
		snprintf(name, sizeof(name), "%s-%s", basename((char *)apps[i].argv[0]), vms[apps[i].vm].name);
		start(name, (char *const *)apps[i].argv, ev);
	}

	/* ready when every application's window shows on dom0 inside its VM's border */
	dd = xrig_open(d0.name);
	for (size_t i = 0; dd && i < sizeof(apps) / sizeof(apps[0]); i++) {
		int bx = apps[i].x + PROXY_BORDER - 1, by = apps[i].y + PROXY_BORDER - 1;

		if (!xrig_wait_pixel(dd, bx, by, vms[apps[i].vm].label, 20000)) {
			fprintf(stderr, "rig: %s's window did not appear on dom0 (pixel %d,%d is 0x%06x); logs in %s\n",
					apps[i].argv[0], bx, by, xrig_root_pixel(dd, bx, by), test_tmpdir());
			goto done;
		}
	}
	printf("rig: dom0 %s (%dx%d%s), GUI qube export %s, desktop %s (%s layout)\n", d0.name, W, H,
			live ? ", Xephyr window" : ", headless Xvfb", gx.name, desk, direct ? "direct" : "nested");
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		printf("rig: AppVM %s (domain %d, label 0x%06x) on %s\n", vms[i].name, vms[i].domid, vms[i].label,
				vms[i].xs.name);
	}
	for (int i = 0; i < nprocs; i++) {
		printf("rig:   %-24s pid %d\n", procs[i].name, (int)procs[i].pid);
	}
	fflush(stdout);

	if (!demo) {
		printf("rig: running; Ctrl-C stops everything\n");
		fflush(stdout);
		while (!stop_now) {
			pause();
		}
		rc = 0;
		goto done;
	}

	/* the demo: type a line into the xterm through dom0, timing each key to the AppVM's server */
	vmd = xrig_open(vms[0].xs.name);
	if (vmd == NULL || watch_keys(vmd, DefaultRootWindow(vmd), "XTerm", false) == 0) {
		fprintf(stderr, "rig: no xterm window to type into\n");
		goto done;
	}
	XSync(vmd, False);
	XTestFakeMotionEvent(dd, 0, apps[0].x + PROXY_BORDER + 100, apps[0].y + PROXY_BORDER + 60, 0);
	XSync(dd, False);
	/* the pointer's move travels through the chain: wait until it is over the xterm in the AppVM */
	for (int i = 0; i < 1000; i++) {
		Window r, ch;
		int rx = 0, ry = 0, wx, wy;
		unsigned mask;

		XQueryPointer(vmd, DefaultRootWindow(vmd), &r, &ch, &rx, &ry, &wx, &wy, &mask);
		if (rx == apps[0].x + 100 && ry == apps[0].y + 60) {
			break;
		}
		usleep(5000);
	}
	median = type_and_time(dd, vmd, "hello from dom0\n");
	{
		char buf[256] = "";
		FILE *f;

		for (int i = 0; i < 500 && !strstr(buf, "hello from dom0"); i++) {
			f = fopen(typed, "r");
			if (f) {
				size_t n = fread(buf, 1, sizeof(buf) - 1, f);

				buf[n] = '\0';
				fclose(f);
			}
			usleep(10000);
		}
		if (!strstr(buf, "hello from dom0")) {
			fprintf(stderr, "rig: the typed line did not reach the xterm\n");
			goto done;
		}
	}
	usleep(500000); /* let the echoed text reach dom0's screen */
	mkdir(out, 0755);
	snprintf(shot, sizeof(shot), "%s/dom0.png", out);
	if (xrig_screenshot_png(dd, shot) != 0) {
		fprintf(stderr, "rig: cannot write %s\n", shot);
		goto done;
	}
	rc = 0;
done:
	if (vmd) {
		XCloseDisplay(vmd);
	}
	if (dd) {
		XCloseDisplay(dd);
	}
	stop_all();
	if (demo && rc == 0) {
		long total = 0;
		char summary[PATH_MAX];
		FILE *f;

		snprintf(summary, sizeof(summary), "%s/summary.txt", out);
		f = fopen(summary, "w");
		for (int pass = 0; pass < 2; pass++) {
			FILE *o = pass ? f : stdout;

			if (o == NULL) {
				continue;
			}
			total = 0;
			fprintf(o, "demo: dom0 %dx%d (guivm-proxy) <- GUI qube (%s layout: guivm-export, %zu gui-daemons) <- "
				   "AppVMs work (xterm, xclock) and personal (xlogo, xeyes), each with gui-agent\n",
					W, H, direct ? "direct" : "nested", sizeof(vms) / sizeof(vms[0]));
			for (int i = 0; i < nprocs; i++) {
				long n = frames_in_log(procs[i].log);

				if (n >= 0 && (strncmp(procs[i].name, "gui-agent", 9) == 0 ||
							      strcmp(procs[i].name, "guivm-export") == 0)) {
					fprintf(o, "demo: %-22s frames delivered: %ld\n", procs[i].name, n);
					total += n;
				}
			}
			fprintf(o, "demo: frames delivered in all: %ld\n", total);
			fprintf(o, "demo: typed \"hello from dom0\" at dom0; it reached the xterm in AppVM work\n");
			if (median >= 0) {
				fprintf(o, "demo: median keypress latency dom0 -> AppVM X server: %.2f ms\n", median / 1000.0);
			}
			fprintf(o, "demo: screenshot of dom0's screen: %s\n", shot);
		}
		if (f) {
			fclose(f);
		}
	}
	xrig_server_stop(&nest);
	xrig_server_stop(&gx);
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++) {
		xrig_server_stop(&vms[i].xs);
	}
	xrig_server_stop(&d0);
	return rc;
}

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

#include "qgui/version.h"
#include "stack.h"
#include "test.h"
#include "xrig.h"

struct app {
	int vm;          /* index into the stack's AppVMs */
	const char *argv[12];
	int x, y;        /* where it asks to be, on its VM's screen */
};

static volatile sig_atomic_t stop_now;

static void on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
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
		   "  --size=WxH      dom0's screen (default 1280x800)\n"
		   "  --help          this text\n"
		   "  --version       the program and GUI protocol version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "demo", no_argument, NULL, 'D' }, { "live", no_argument, NULL, 'L' },
		{ "layout", required_argument, NULL, 'l' }, { "out", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 },
	};
	bool demo = false, live = false, direct = false;
	const char *out = "build/demo";
	int W = 1280, H = 800, c, rc = 1;
	char shot[PATH_MAX], typed[PATH_MAX], catcmd[PATH_MAX + 32];
	static struct stack st;
	Display *dd = NULL, *vmd = NULL;
	long long median = -1;
	struct app apps[] = {
		{ 0, { "/usr/bin/xterm", "-geometry", "64x10+40+40", "-bg", "#101820", "-fg", "#f0e68c", "-e", "sh", "-c",
				     NULL, NULL }, 40, 40 },
		{ 0, { "/usr/bin/xclock", "-geometry", "160x160+560+40", "-update", "1", NULL }, 560, 40 },
		{ 1, { "/usr/bin/xlogo", "-geometry", "200x160+40+330", NULL }, 40, 330 },
		{ 1, { "/usr/bin/xeyes", "-geometry", "200x160+560+330", NULL }, 560, 330 },
	};
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
		case 'V':
			qgui_version_print(stdout, basename(argv[0])); /* installed as guivm-stack-rig */
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
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	snprintf(typed, sizeof(typed), "%s/typed.txt", test_tmpdir());
	snprintf(catcmd, sizeof(catcmd), "cat > %s", typed);
	apps[0].argv[10] = catcmd;
	if (stack_start(&st, W, H, live, direct, NULL) != 0) {
		goto done;
	}
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
		char name[48];

		snprintf(name, sizeof(name), "%s-%s", basename((char *)apps[i].argv[0]), st.vms[apps[i].vm].name);
		stack_spawn_in_vm(&st, apps[i].vm, name, (char *const *)apps[i].argv);
	}

	/* ready when every application's window shows on dom0 inside its VM's border */
	dd = xrig_open(st.dom0.name);
	for (size_t i = 0; dd && i < sizeof(apps) / sizeof(apps[0]); i++) {
		int bx, by;

		stack_dom0_pos(&st, apps[i].x - 1, apps[i].y - 1, &bx, &by);
		if (!xrig_wait_pixel(dd, bx, by, st.vms[apps[i].vm].label, 20000)) {
			fprintf(stderr, "rig: %s's window did not appear on dom0 (pixel %d,%d is 0x%06x); logs in %s\n",
					apps[i].argv[0], bx, by, xrig_root_pixel(dd, bx, by), test_tmpdir());
			goto done;
		}
	}
	printf("rig: dom0 %s (%dx%d%s), GUI qube export %s, desktop %s (%s layout)\n", st.dom0.name, W, H,
			live ? ", Xephyr window" : ", headless Xvfb", st.gexport.name, st.desk, direct ? "direct" : "nested");
	for (int i = 0; i < STACK_VMS; i++) {
		printf("rig: AppVM %s (domain %d, label 0x%06x) on %s\n", st.vms[i].name, st.vms[i].domid,
				st.vms[i].label, st.vms[i].xs.name);
	}
	for (int i = 0; i < st.nprocs; i++) {
		printf("rig:   %-24s pid %d\n", st.procs[i].name, (int)st.procs[i].pid);
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
	vmd = xrig_open(st.vms[0].xs.name);
	if (vmd == NULL || watch_keys(vmd, DefaultRootWindow(vmd), "XTerm", false) == 0) {
		fprintf(stderr, "rig: no xterm window to type into\n");
		goto done;
	}
	XSync(vmd, False);
	{
		int px, py;

		stack_dom0_pos(&st, apps[0].x + 100, apps[0].y + 60, &px, &py);
		XTestFakeMotionEvent(dd, 0, px, py, 0);
	}
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
	stack_stop_procs(&st);
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
			fprintf(o, "demo: dom0 %dx%d (guivm-proxy) <- GUI qube (%s layout: guivm-export, %d gui-daemons) <- "
				   "AppVMs work (xterm, xclock) and personal (xlogo, xeyes), each with gui-agent\n",
					W, H, direct ? "direct" : "nested", STACK_VMS);
			for (int i = 0; i < st.nprocs; i++) {
				long n = stack_frames(&st.procs[i]);

				if (n >= 0 && (strncmp(st.procs[i].name, "gui-agent", 9) == 0 ||
							      strcmp(st.procs[i].name, "guivm-export") == 0)) {
					fprintf(o, "demo: %-22s frames delivered: %ld\n", st.procs[i].name, n);
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
	stack_stop(&st);
	return rc;
}

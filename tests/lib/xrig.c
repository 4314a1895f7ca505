/* tests/lib/xrig.c: private X servers (Xvfb, Xephyr) chosen with -displayfd, child processes, pixels, properties. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>

#include "test.h"
#include "xrig.h"

extern char **environ;

#define SERVER_START_MS 10000
#define SERVER_STOP_MS 2000

/* ---------------------------------------------------------------- processes */

/*
 * The environment for a child: the current one with every NAME of env replaced
 * (or added). Built before fork() so that the child only calls async-signal-safe
 * functions (the test process may have threads, e.g. the gntemu helper).
 * The array and the strings it points to (borrowed) stay valid until freed.
 */
static char **make_env(char *const env[])
{
	size_t n = 0, m = 0, k = 0;
	char **out;

	while (environ && environ[n]) {
		n++;
	}
	while (env && env[m]) {
		m++;
	}
	out = calloc(n + m + 1, sizeof(*out));
	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t namelen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int replaced = 0;

		for (size_t j = 0; j < m; j++) {
			if (strncmp(env[j], environ[i], namelen) == 0 && env[j][namelen] == '=') {
				replaced = 1;
				break;
			}
		}
		if (!replaced) {
			out[k++] = environ[i];
		}
	}
	for (size_t j = 0; j < m; j++) {
		out[k++] = env[j];
	}
	out[k] = NULL;
	return out;
}

/*
 * In the child, before exec: dies with the parent (PR_SET_PDEATHSIG; a killed test leaves
 * no process behind), its own process group, default signal state, output to log_path, keep_fd (if >= 0) moved
 * to fd 3 and every other descriptor above 2 closed. Only async-signal-safe calls.
 */
static void child_setup(pid_t parent, const char *log_path, int keep_fd)
{
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127); /* the parent died before prctl took effect */
	}
	/* a group of its own: a terminal's Ctrl-C reaches only the parent, which stops its children in order */
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL); /* the harness ignores it, and ignored signals survive exec */
	if (log_path != NULL) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0) {
			_exit(127);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2 && fd != keep_fd) {
			close(fd);
		}
	}
	if (keep_fd >= 0) {
		if (keep_fd != 3) {
			if (dup2(keep_fd, 3) < 0) {
				_exit(127);
			}
		} else {
			fcntl(3, F_SETFD, 0);
		}
		close_range(4, ~0u, 0);
	} else {
		close_range(3, ~0u, 0);
	}
}

static pid_t spawn_fd(char *const argv[], char *const env[], const char *log_path, int keep_fd, int use_path)
{
	pid_t parent = getpid(), pid;
	char **envp = make_env(env);

	if (envp == NULL) {
		fprintf(stderr, "xrig: out of memory\n");
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "xrig: fork: %s\n", strerror(errno));
		free(envp);
		return -1;
	}
	if (pid == 0) {
		child_setup(parent, log_path, keep_fd);
		if (use_path) {
			execvpe(argv[0], argv, envp);
		} else {
			execve(argv[0], argv, envp);
		}
		_exit(127);
	}
	free(envp);
	return pid;
}

pid_t xrig_spawn(char *const argv[], char *const env[], const char *log_path)
{
	if (argv == NULL || argv[0] == NULL) {
		return -1;
	}
	return spawn_fd(argv, env, log_path, -1, 0);
}

static int decode_status(int status)
{
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	if (WIFSIGNALED(status)) {
		return 128 + WTERMSIG(status);
	}
	return -1;
}

int xrig_wait(pid_t pid, int timeout_ms)
{
	long long deadline = test_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (pid <= 0) {
		return -1;
	}
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			return decode_status(status);
		}
		if (r < 0 && errno != EINTR) {
			return -1; /* not our child, or already reaped */
		}
		if (test_now_ms() >= deadline) {
			return -1;
		}
		test_sleep_ms(5);
	}
}

int xrig_stop(pid_t pid, int timeout_ms)
{
	int rc, status;

	if (pid <= 0) {
		return -1; /* never kill(0) or kill(-1) */
	}
	if (kill(pid, SIGTERM) != 0 && errno != ESRCH) {
		return -1;
	}
	rc = xrig_wait(pid, timeout_ms);
	if (rc >= 0) {
		return rc;
	}
	if (kill(pid, SIGKILL) != 0 && errno != ESRCH) {
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			return -1;
		}
	}
	return decode_status(status);
}

/* ---------------------------------------------------------------- X servers */

static void print_log(const char *path)
{
	char buf[2048];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		return;
	}
	fprintf(stderr, "xrig: --- %s ---\n", path);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		fputs(buf, stderr);
	}
	fclose(f);
}

/* Reads the display number the server writes to the pipe, then waits until it accepts connections. */
static int server_start(struct xserver *xs, const char *what, char **argv, char *const env[])
{
	int p[2], display = -1;
	char buf[32], log_path[512];
	size_t got = 0;
	long long deadline = test_now_ms() + SERVER_START_MS;
	static unsigned seq;

	memset(xs, 0, sizeof(*xs));
	xs->display = -1;
	snprintf(log_path, sizeof(log_path), "%s/%s.%d.%u.log", test_tmpdir(), what, (int)getpid(), seq++);
	if (pipe2(p, O_CLOEXEC) != 0) {
		fprintf(stderr, "xrig: pipe: %s\n", strerror(errno));
		return -1;
	}
	xs->pid = spawn_fd(argv, env, log_path, p[1], 1);
	close(p[1]);
	if (xs->pid < 0) {
		close(p[0]);
		return -1;
	}
	/* "-displayfd N" writes the number and a newline once the server is listening */
	while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		long long left = deadline - test_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			break;
		}
		n = read(p[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	close(p[0]);
	buf[got] = '\0';
	if (memchr(buf, '\n', got) != NULL) {
		char *end;
		long v = strtol(buf, &end, 10);

		if (end != buf && *end == '\n' && v >= 0 && v < 65536) {
			display = (int)v;
		}
	}
	if (display < 0) {
		fprintf(stderr, "xrig: %s did not report a display number\n", what);
		print_log(log_path);
		xrig_stop(xs->pid, SERVER_STOP_MS);
		xs->pid = 0;
		return -1;
	}
	xs->display = display;
	snprintf(xs->name, sizeof(xs->name), ":%d", display);
	for (;;) {
		Display *d = XOpenDisplay(xs->name);

		if (d != NULL) {
			XCloseDisplay(d);
			return 0;
		}
		if (test_now_ms() >= deadline || xrig_wait(xs->pid, 0) >= 0) {
			fprintf(stderr, "xrig: %s on %s does not accept connections\n", what, xs->name);
			print_log(log_path);
			xrig_server_stop(xs);
			return -1;
		}
		test_sleep_ms(5);
	}
}

int xrig_xvfb_start(struct xserver *xs, int w, int h, const char *const *extra_args)
{
	char screen[48];
	char *argv[64];
	int n = 0;

	snprintf(screen, sizeof(screen), "%dx%dx24", w, h);
	argv[n++] = (char *)"Xvfb";
	argv[n++] = (char *)"-displayfd";
	argv[n++] = (char *)"3";
	argv[n++] = (char *)"-screen";
	argv[n++] = (char *)"0";
	argv[n++] = screen;
	argv[n++] = (char *)"-noreset";
	argv[n++] = (char *)"-nolisten";
	argv[n++] = (char *)"tcp";
	for (size_t i = 0; extra_args && extra_args[i]; i++) {
		if (n >= (int)(sizeof(argv) / sizeof(argv[0])) - 1) {
			fprintf(stderr, "xrig: too many Xvfb arguments\n");
			memset(xs, 0, sizeof(*xs));
			return -1;
		}
		argv[n++] = (char *)extra_args[i];
	}
	argv[n] = NULL;
	return server_start(xs, "Xvfb", argv, NULL);
}

int xrig_xephyr_start(struct xserver *xs, const char *outer, int w, int h)
{
	char screen[48], display_env[64];
	char *env[] = { display_env, NULL };
	char *argv[] = { (char *)"Xephyr", (char *)"-displayfd", (char *)"3", (char *)"-screen", screen,
		(char *)"-noreset", (char *)"-nolisten", (char *)"tcp", NULL };

	snprintf(screen, sizeof(screen), "%dx%d", w, h);
	snprintf(display_env, sizeof(display_env), "DISPLAY=%s", outer);
	return server_start(xs, "Xephyr", argv, env);
}

/* The pid in /tmp/.X<n>-lock, or -1. */
static pid_t lock_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return -1;
	}
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

/* Does a server accept connections on the Unix socket at path? */
static bool socket_answers(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool yes;

	if (fd < 0) {
		return true; /* cannot tell: leave it */
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	yes = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return yes;
}

void xrig_server_stop(struct xserver *xs)
{
	char sock[64], lock[64];

	if (xs == NULL || xs->pid <= 0) {
		return;
	}
	/*
	 * An X server that ends on SIGTERM removes its socket and lock itself; removing them
	 * afterwards could remove those of the next server on the same display number (another
	 * test's, started meanwhile with -displayfd). Only a server that had to be killed
	 * leaves them: then they go while the lock still names it.
	 */
	if (xrig_stop(xs->pid, SERVER_STOP_MS) == 128 + SIGKILL && xs->display >= 0) {
		snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", xs->display);
		snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", xs->display);
		pid_t holder = lock_pid(lock);

		if (holder == xs->pid) {
			unlink(sock);
			unlink(lock);
		} else if (holder < 0 && !socket_answers(sock)) {
			unlink(sock); /* no lock (display 0 may have none): only a socket nobody serves */
		}
	}
	xs->pid = 0;
}

/* ---------------------------------------------------------------- X helpers */

/* The last X error of any connection opened with xrig_open (global; the tests are single-threaded in X). */
static volatile int x_errors;
static volatile unsigned char x_last_error, x_last_request;

static int x_error_handler(Display *dpy, XErrorEvent *ev)
{
	(void)dpy;
	/* recorded, never fatal: the call that caused it returns a failure (NULL image, no property) */
	x_errors++;
	x_last_error = ev->error_code;
	x_last_request = ev->request_code;
	return 0;
}

Display *xrig_open(const char *name)
{
	Display *dpy = XOpenDisplay(name);

	if (dpy == NULL) {
		fprintf(stderr, "xrig: cannot open display %s\n", name ? name : "(null)");
		return NULL;
	}
	XSetErrorHandler(x_error_handler);
	return dpy;
}

uint32_t xrig_root_pixel(Display *dpy, int x, int y)
{
	XImage *img;
	uint32_t px;

	img = XGetImage(dpy, DefaultRootWindow(dpy), x, y, 1, 1, 0xffffff, ZPixmap);
	if (img == NULL) {
		return 0xffffffffu;
	}
	px = (uint32_t)(XGetPixel(img, 0, 0) & 0xffffff);
	XDestroyImage(img);
	return px;
}

bool xrig_wait_pixel(Display *dpy, int x, int y, uint32_t rgb, int timeout_ms)
{
	long long deadline = test_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		XSync(dpy, False);
		if (xrig_root_pixel(dpy, x, y) == rgb) {
			return true;
		}
		if (test_now_ms() >= deadline) {
			return false;
		}
		test_sleep_ms(5);
	}
}

/* Extracts an 8-bit channel given its mask. */
static uint8_t channel(unsigned long px, unsigned long mask)
{
	unsigned shift = 0;
	unsigned long v, max;

	if (mask == 0) {
		return 0;
	}
	while (!(mask & 1ul)) {
		mask >>= 1;
		shift++;
	}
	v = (px >> shift) & mask;
	max = mask;
	return (uint8_t)(max == 0xff ? v : v * 255 / max);
}

int xrig_screenshot_png(Display *dpy, const char *path)
{
	Window root = DefaultRootWindow(dpy);
	unsigned w = (unsigned)DisplayWidth(dpy, DefaultScreen(dpy));
	unsigned h = (unsigned)DisplayHeight(dpy, DefaultScreen(dpy));
	XImage *img = XGetImage(dpy, root, 0, 0, w, h, AllPlanes, ZPixmap);
	png_image pi;
	uint8_t *rgb;
	int ok;

	if (img == NULL) {
		return -1;
	}
	rgb = malloc((size_t)w * h * 3);
	if (rgb == NULL) {
		XDestroyImage(img);
		return -1;
	}
	for (unsigned y = 0; y < h; y++) {
		for (unsigned x = 0; x < w; x++) {
			unsigned long px = XGetPixel(img, (int)x, (int)y);
			uint8_t *o = rgb + ((size_t)y * w + x) * 3;

			o[0] = channel(px, img->red_mask);
			o[1] = channel(px, img->green_mask);
			o[2] = channel(px, img->blue_mask);
		}
	}
	XDestroyImage(img);
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	pi.width = w;
	pi.height = h;
	pi.format = PNG_FORMAT_RGB;
	ok = png_image_write_to_file(&pi, path, 0, rgb, (png_int_32)(w * 3), NULL);
	if (!ok) {
		fprintf(stderr, "xrig: writing %s: %s\n", path, pi.message);
	}
	png_image_free(&pi);
	free(rgb);
	return ok ? 0 : -1;
}

int xrig_get_string(Display *dpy, Window win, const char *prop, char *out, size_t outlen)
{
	Atom atom = XInternAtom(dpy, prop, True), type = None;
	Atom utf8 = XInternAtom(dpy, "UTF8_STRING", False);
	int format = 0;
	unsigned long nitems = 0, after = 0;
	unsigned char *data = NULL;
	size_t n;

	if (outlen == 0) {
		return -1;
	}
	out[0] = '\0';
	if (atom == None) {
		return -1;
	}
	if (XGetWindowProperty(dpy, win, atom, 0, 4096, False, AnyPropertyType, &type, &format, &nitems, &after,
			    &data) != Success) {
		return -1;
	}
	if (data == NULL || (type != XA_STRING && type != utf8) || format != 8) {
		if (data) {
			XFree(data);
		}
		return -1;
	}
	n = nitems < outlen - 1 ? nitems : outlen - 1;
	memcpy(out, data, n);
	out[n] = '\0';
	XFree(data);
	return 0;
}

int xrig_get_cardinals(Display *dpy, Window win, const char *prop, unsigned long *out, int max, int *format)
{
	Atom atom = XInternAtom(dpy, prop, True), type = None;
	int fmt = 0, n;
	unsigned long nitems = 0, after = 0;
	unsigned char *data = NULL;

	if (format) {
		*format = 0;
	}
	if (atom == None || max < 0) {
		return -1;
	}
	/* the length is in 32-bit units: enough for max items of any format */
	if (XGetWindowProperty(dpy, win, atom, 0, max, False, AnyPropertyType, &type, &fmt, &nitems, &after,
			    &data) != Success) {
		return -1;
	}
	if (data == NULL || type == None) {
		if (data) {
			XFree(data);
		}
		return -1;
	}
	n = nitems < (unsigned long)max ? (int)nitems : max;
	for (int i = 0; i < n; i++) {
		switch (fmt) {
		case 32: /* Xlib hands format-32 items as longs */
			out[i] = ((unsigned long *)(void *)data)[i];
			break;
		case 16:
			out[i] = ((unsigned short *)(void *)data)[i];
			break;
		default:
			out[i] = data[i];
			break;
		}
	}
	XFree(data);
	if (format) {
		*format = fmt;
	}
	return n;
}

static bool is_vm_window(Display *dpy, Window w, const char *vmname, uint32_t remote_id)
{
	unsigned long id;
	int fmt;
	char name[256];

	if (xrig_get_cardinals(dpy, w, "_QUBES_VMWINDOWID", &id, 1, &fmt) != 1 || fmt != 32 ||
			(uint32_t)id != remote_id) {
		return false;
	}
	return xrig_get_string(dpy, w, "_QUBES_VMNAME", name, sizeof(name)) == 0 && strcmp(name, vmname) == 0;
}

/* Searches the children of parent (and, when depth > 0, their children: a WM frame). */
static Window find_below(Display *dpy, Window parent, const char *vmname, uint32_t remote_id, int depth)
{
	Window root_ret, parent_ret, *kids = NULL, found = None;
	unsigned nkids = 0;

	if (!XQueryTree(dpy, parent, &root_ret, &parent_ret, &kids, &nkids)) {
		return None;
	}
	for (unsigned i = 0; i < nkids && found == None; i++) {
		if (is_vm_window(dpy, kids[i], vmname, remote_id)) {
			found = kids[i];
		}
	}
	for (unsigned i = 0; i < nkids && found == None && depth > 0; i++) {
		found = find_below(dpy, kids[i], vmname, remote_id, depth - 1);
	}
	if (kids) {
		XFree(kids);
	}
	return found;
}

Window xrig_find_vm_window(Display *dpy, const char *vmname, uint32_t remote_id, int timeout_ms)
{
	long long deadline = test_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		Window w;

		XSync(dpy, False);
		w = find_below(dpy, DefaultRootWindow(dpy), vmname, remote_id, 1);
		if (w != None) {
			return w;
		}
		if (test_now_ms() >= deadline) {
			return None;
		}
		test_sleep_ms(5);
	}
}

/*
 * As XGetGeometry's convention: x, y is the outer top-left corner (outside the X border) in
 * root coordinates; w, h is the inside size (without the border).
 */
int xrig_geometry(Display *dpy, Window win, int *x, int *y, unsigned *w, unsigned *h)
{
	XWindowAttributes wa;
	Window child;
	int rx, ry;

	if (!XGetWindowAttributes(dpy, win, &wa)) {
		return -1;
	}
	if (!XTranslateCoordinates(dpy, win, wa.root, 0, 0, &rx, &ry, &child)) {
		return -1;
	}
	if (x) {
		*x = rx - wa.border_width;
	}
	if (y) {
		*y = ry - wa.border_width;
	}
	if (w) {
		*w = (unsigned)wa.width;
	}
	if (h) {
		*h = (unsigned)wa.height;
	}
	return 0;
}

bool xrig_viewable(Display *dpy, Window win)
{
	XWindowAttributes wa;

	return XGetWindowAttributes(dpy, win, &wa) && wa.map_state == IsViewable;
}

const char *xrig_socket_dir(void)
{
	static char dir[512];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/vchan.XXXXXX", test_tmpdir());
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "xrig: mkdtemp %s: %s\n", dir, strerror(errno));
			dir[0] = '\0';
			return NULL;
		}
	}
	return dir;
}

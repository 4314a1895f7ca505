/* test_daemon_clip.c: the secure clipboard through its key sequences, and tray icons docked by a tray manager. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "gdfix.h"
#include "procwatch.h"
#include "test.h"

#define dpy gdfix_dpy
#define LABEL GDFIX_LABEL
#define T_MS GDFIX_MS

static void key(KeySym ks, bool down)
{
	XTestFakeKeyEvent(dpy, XKeysymToKeycode(dpy, ks), down, 0);
}

/* Presses Ctrl+Shift+<ks> and releases it, with the pointer at (x, y). */
static void chord(int x, int y, KeySym ks)
{
	XTestFakeMotionEvent(dpy, 0, x, y, 0);
	key(XK_Control_L, true);
	key(XK_Shift_L, true);
	key(ks, true);
	key(ks, false);
	key(XK_Shift_L, false);
	key(XK_Control_L, false);
	XSync(dpy, False);
}

/* Reads a whole small file into buf (NUL-terminated); -1 when missing. */
static ssize_t slurp(const char *dir, const char *name, char *buf, size_t n)
{
	char p[PATH_MAX + 64];
	int fd;
	ssize_t r;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDONLY);
	if (fd < 0) {
		return -1;
	}
	r = read(fd, buf, n - 1);
	close(fd);
	buf[r > 0 ? r : 0] = '\0';
	return r;
}

static bool wait_file(const char *dir, const char *name, const char *want, int ms)
{
	char buf[4096];

	for (int i = 0; i < ms / 10; i++) {
		if (slurp(dir, name, buf, sizeof(buf)) >= 0 && strcmp(buf, want) == 0) {
			return true;
		}
		usleep(10000);
	}
	return false;
}

/*
 * Waits for a message of type from the agent, failing if a KEYPRESS for keycode kc arrives first
 * (the secure sequences must never reach the VM). Returns 0, -1 on timeout, -2 on a leaked key.
 */
static int expect_no_leak(struct tagent *a, uint32_t type, KeyCode kc, struct proto_msg *m)
{
	for (;;) {
		if (tagent_expect(a, 0, T_MS, m) != 0) {
			return -1;
		}
		if (m->type == MSG_KEYPRESS && m->u.key.keycode == kc) {
			return -2;
		}
		if (m->type == type) {
			return 0;
		}
	}
}

static int show(struct fixture *f, uint32_t id, int x, int y, uint32_t rgb)
{
	if (tagent_create(f->a, id, x, y, 200, 100, false, NULL, true) != 0 || tagent_fill(f->a, id, 200, 100, rgb)) {
		return -1;
	}
	return xrig_wait_pixel(dpy, x + 50, y + 50, rgb, T_MS) ? 0 : -1;
}

static void copy_then_paste(void)
{
	struct fixture work, personal;
	struct gdfix_opts po = { QGUI_BACKEND_SOCKET, NULL, NULL, "personal", NULL, 0, false };
	const char *const red[] = { "-c", "0xff0000", NULL };
	struct proto_msg m;
	char buf[4096];
	static const char secret[] = "hello from work";

	T_EQ(gdfix_start(&work, NULL, NULL), 0);
	po.clipdir = work.clipdir; /* one global clipboard for the GUI qube */
	T_EQ(gdfix_start(&personal, &po, red), 0);
	T_EQ(show(&work, 0x10, 100, 100, 0x111111), 0);
	T_EQ(show(&personal, 0x20, 500, 100, 0x222222), 0);

	/* copy: the sequence becomes a clipboard request, never a key for the VM */
	chord(150, 150, XK_c);
	T_EQ(expect_no_leak(work.a, MSG_CLIPBOARD_REQ, XKeysymToKeycode(dpy, XK_c), &m), 0);
	T_EQ(m.window, 0x10);
	T_EQ(tagent_send(work.a, &(struct proto_msg){ .type = MSG_CLIPBOARD_DATA,
					      .u.clipboard = { (const uint8_t *)secret, sizeof(secret) - 1, false } }), 0);
	T_ASSERT(wait_file(work.clipdir, "qubes-clipboard.bin", secret, T_MS));
	T_ASSERT(wait_file(work.clipdir, "qubes-clipboard.bin.source", "work", T_MS));
	T_ASSERT(slurp(work.clipdir, "qubes-clipboard.bin.metadata", buf, sizeof(buf)) > 0);
	T_ASSERT(strstr(buf, "\"copy_action\":true") != NULL);
	T_ASSERT(strstr(buf, "\"sent_size\":15") != NULL);

	/* paste into the other VM: it gets the bytes, and the global clipboard is emptied */
	chord(550, 150, XK_v);
	T_EQ(expect_no_leak(personal.a, MSG_CLIPBOARD_DATA, XKeysymToKeycode(dpy, XK_v), &m), 0);
	T_EQ(m.window, 0x20);
	T_EQ(m.u.clipboard.len, sizeof(secret) - 1);
	T_MEM(m.u.clipboard.data, secret, sizeof(secret) - 1);
	T_ASSERT(wait_file(work.clipdir, "qubes-clipboard.bin", "", T_MS));
	T_ASSERT(slurp(work.clipdir, "qubes-clipboard.bin.metadata", buf, sizeof(buf)) > 0);
	T_ASSERT(strstr(buf, "\"paste_action\":true") != NULL);

	/* data nobody asked for is dropped */
	T_EQ(tagent_send(personal.a, &(struct proto_msg){ .type = MSG_CLIPBOARD_DATA,
					       .u.clipboard = { (const uint8_t *)"evil", 4, false } }), 0);
	chord(550, 150, XK_v); /* (a paste round trip proves the daemon handled the data first) */
	T_EQ(tagent_expect(personal.a, MSG_CLIPBOARD_DATA, 500, &m), -1);
	T_ASSERT(wait_file(work.clipdir, "qubes-clipboard.bin", "", 100));
	XTestFakeMotionEvent(dpy, 0, 5, 5, 0);
	XSync(dpy, False);
	gdfix_stop(&personal);
	gdfix_stop(&work);
}

static void oversized_clears(void)
{
	struct fixture f;
	const char *const small[] = { "--max-clipboard-size", "256", NULL };
	struct proto_msg m;
	uint8_t big[300];
	char buf[4096], p[PATH_MAX + 32];
	int fd;

	T_EQ(gdfix_start(&f, NULL, small), 0);
	snprintf(p, sizeof(p), "%s/qubes-clipboard.bin", f.clipdir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(fd >= 0 && write(fd, "old", 3) == 3);
	close(fd);
	T_EQ(show(&f, 0x30, 300, 400, 0x333333), 0);
	chord(350, 450, XK_c);
	T_EQ(tagent_expect_win(f.a, MSG_CLIPBOARD_REQ, 0x30, T_MS, &m), 0);
	memset(big, 'x', sizeof(big));
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_CLIPBOARD_DATA,
					  .u.clipboard = { big, sizeof(big), false } }), 0);
	T_ASSERT(wait_file(f.clipdir, "qubes-clipboard.bin", "", T_MS));
	T_ASSERT(slurp(f.clipdir, "qubes-clipboard.bin.metadata", buf, sizeof(buf)) > 0);
	T_ASSERT(strstr(buf, "\"oversized_request\":true") != NULL);
	T_ASSERT(strstr(buf, "\"buffer_size\":256") != NULL);
	gdfix_stop(&f);
}

static void paste_policy_denies(void)
{
	struct fixture f;
	const char *const deny[] = { "--paste-policy-command", "/bin/false", NULL };
	struct proto_msg m;
	char p[PATH_MAX + 32];
	int fd;

	T_EQ(gdfix_start(&f, NULL, deny), 0);
	snprintf(p, sizeof(p), "%s/qubes-clipboard.bin", f.clipdir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(fd >= 0 && write(fd, "kept", 4) == 4);
	close(fd);
	T_EQ(show(&f, 0x40, 300, 550, 0x444444), 0);
	chord(350, 600, XK_v);
	T_EQ(tagent_expect(f.a, MSG_CLIPBOARD_DATA, 700, &m), -1);
	T_ASSERT(wait_file(f.clipdir, "qubes-clipboard.bin", "kept", 100)); /* a refused paste keeps the clipboard */
	gdfix_stop(&f);
}


/* Waits until the daemon's log has a line containing needle. */
static bool wait_log(const struct fixture *f, const char *needle, int ms)
{
	int64_t end = test_now_ms() + ms;

	while (procwatch_lines(f->log, 0, needle, NULL, 0) <= 0) {
		if (test_now_ms() > end) {
			return false;
		}
		test_sleep_ms(20);
	}
	return true;
}

/* Puts "kept" from qube personal in the global clipboard of f. */
static void clipboard_holds_kept(const struct fixture *f)
{
	char p[PATH_MAX + 32];
	int fd;

	snprintf(p, sizeof(p), "%s/qubes-clipboard.bin", f->clipdir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(fd >= 0 && write(fd, "kept", 4) == 4);
	close(fd);
	snprintf(p, sizeof(p), "%s/qubes-clipboard.bin.source", f->clipdir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(fd >= 0 && write(fd, "personal", 8) == 8);
	close(fd);
}

/*
 * A paste policy command that misbehaves (body: a shell script) refuses the
 * paste: the agent gets nothing, the global clipboard keeps its bytes, the
 * daemon's log says why (want) in printable bytes only, and the daemon goes on
 * serving its agent.
 */
static void policy_misbehaves(const char *body, const char *want, struct fixture *f)
{
	char script[PATH_MAX + 32];
	const char *const argv[] = { "--paste-policy-command", script, NULL };
	struct proto_msg m;
	FILE *fp;

	snprintf(script, sizeof(script), "%s/policy.sh", test_tmpdir());
	fp = fopen(script, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	fclose(fp);
	T_EQ(chmod(script, 0755), 0);
	T_EQ(gdfix_start(f, NULL, argv), 0);
	clipboard_holds_kept(f);
	T_EQ(show(f, 0x40, 300, 550, 0x444444), 0);
	chord(350, 600, XK_v);
	/* (the helper gives a command 5 s; the daemon waits for the helper's answer) */
	T_ASSERT(wait_log(f, want, 3 * T_MS));
	T_ASSERT(wait_log(f, "paste from personal refused by the paste policy", T_MS));
	T_EQ(tagent_expect(f->a, MSG_CLIPBOARD_DATA, 200, &m), -1);
	T_ASSERT(wait_file(f->clipdir, "qubes-clipboard.bin", "kept", 100));
	T_ASSERT(procwatch_printable(f->log, NULL));
	/* still serving: a new window shows */
	T_EQ(show(f, 0x41, 600, 550, 0x454545), 0);
	XTestFakeMotionEvent(dpy, 0, 5, 5, 0);
	XSync(dpy, False);
}

/*
 * With no paste policy command, in a GUI qube (no /etc/qubes-release), dom0's policy decides
 * as with qubes-guid: `qrexec-client-vm -- @adminvm policy.EvalGUI+qubes.ClipboardPaste` with
 * "SOURCE\0TARGET" on its stdin. A stand-in on PATH answers in turn: allow, deny, garbage,
 * crashes, hangs; only the first paste goes through, each refusal is logged and keeps the
 * clipboard.
 */
static void dom0_policy_decides_in_a_gui_qube(void)
{
	static const struct {
		const char *mode, *log;
		bool allowed;
	} turns[] = {
		{ "allow", NULL, true },
		{ "deny", "paste from personal refused by dom0's policy", false },
		{ "garbage", "paste from personal refused: dom0's policy gave no answer", false },
		{ "crash", "failed (signal 11)", false },
		{ "hang", "did not finish within 5000 ms: killed", false },
	};
	struct gdfix_opts o = { QGUI_BACKEND_SOCKET, NULL, NULL, NULL, NULL, 0, true };
	char bindir[PATH_MAX], script[PATH_MAX + 32], mode[PATH_MAX + 32], args[PATH_MAX + 32], path[2 * PATH_MAX];
	const char *old_path = getenv("PATH");
	struct fixture f;
	struct proto_msg m;
	char buf[512];
	FILE *fp;

	if (access("/etc/qubes-release", F_OK) == 0) {
		printf("# skipped: this machine is a Qubes dom0\n");
		return;
	}
	snprintf(bindir, sizeof(bindir), "%s/policybin", test_tmpdir());
	mkdir(bindir, 0700);
	snprintf(mode, sizeof(mode), "%s/policy.mode", test_tmpdir());
	snprintf(args, sizeof(args), "%s/policy.args", test_tmpdir());
	snprintf(script, sizeof(script), "%s/qrexec-client-vm", bindir);
	fp = fopen(script, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "#!/bin/sh\n"
		    "echo \"$*\" > %s\n"
		    "od -An -c >> %s\n"
		    "case $(cat %s) in\n"
		    "allow) printf 'result=allow\\n' ;;\n"
		    "deny) printf 'result=deny\\n' ;;\n"
		    "garbage) printf 'result=allowed\\033[2J\\377\\n' ;;\n"
		    "crash) kill -SEGV $$ ;;\n"
		    "hang) sleep 600 ;;\n"
		    "esac\n", args, args, mode);
	fclose(fp);
	T_EQ(chmod(script, 0755), 0);
	snprintf(path, sizeof(path), "%s:%s", bindir, old_path ? old_path : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	T_EQ(gdfix_start(&f, &o, NULL), 0);
	setenv("PATH", old_path ? old_path : "/usr/bin:/bin", 1);
	T_EQ(show(&f, 0x48, 300, 550, 0x484848), 0);
	for (size_t i = 0; i < sizeof(turns) / sizeof(turns[0]); i++) {
		fp = fopen(mode, "w");
		T_ASSERT(fp != NULL);
		fprintf(fp, "%s\n", turns[i].mode);
		fclose(fp);
		clipboard_holds_kept(&f);
		chord(350, 600, XK_v);
		if (turns[i].allowed) {
			T_EQ(tagent_expect(f.a, MSG_CLIPBOARD_DATA, 3 * T_MS, &m), 0);
			T_EQ(m.u.clipboard.len, 4);
			T_MEM(m.u.clipboard.data, "kept", 4);
			/* the call qubes-guid makes, with the source and this qube */
			T_ASSERT(slurp(test_tmpdir(), "policy.args", buf, sizeof(buf)) > 0);
			T_ASSERT(strncmp(buf, "-- @adminvm policy.EvalGUI+qubes.ClipboardPaste\n", 48) == 0);
			T_ASSERT(strstr(buf, "p   e   r   s   o   n   a   l  \\0   w   o   r   k\n") != NULL);
		} else {
			T_ASSERT(wait_log(&f, turns[i].log, 3 * T_MS));
			T_EQ(tagent_expect(f.a, MSG_CLIPBOARD_DATA, 200, &m), -1);
			T_ASSERT(wait_file(f.clipdir, "qubes-clipboard.bin", "kept", 100));
		}
	}
	T_ASSERT(procwatch_printable(f.log, NULL));
	XTestFakeMotionEvent(dpy, 0, 5, 5, 0);
	XSync(dpy, False);
	gdfix_stop(&f);
}

/* A policy that hangs is killed after 5 s with everything it started: a refusal. */
static void paste_policy_hangs(void)
{
	struct fixture f;
	char pidfile[PATH_MAX + 32], buf[32] = "";
	int64_t end;
	pid_t child;
	FILE *fp;

	snprintf(pidfile, sizeof(pidfile), "%s/policy.child", test_tmpdir());
	{
		char body[PATH_MAX + 96];

		snprintf(body, sizeof(body), "sleep 600 &\necho $! > %s\nwait", pidfile);
		policy_misbehaves(body, "did not finish within 5000 ms: killed", &f);
	}
	fp = fopen(pidfile, "r");
	T_ASSERT(fp != NULL && fgets(buf, sizeof(buf), fp) != NULL);
	if (fp) {
		fclose(fp);
	}
	child = (pid_t)atoi(buf);
	T_ASSERT(child > 1);
	/* the policy's own child went with it (gone, or a zombie left to this test, the subreaper) */
	end = test_now_ms() + T_MS;
	for (;;) {
		char path[64], stat[256] = "";
		FILE *sp;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
		sp = fopen(path, "r");
		if (sp == NULL || fgets(stat, sizeof(stat), sp) == NULL || strstr(stat, ") Z ") != NULL) {
			if (sp) {
				fclose(sp);
			}
			break;
		}
		fclose(sp);
		T_ASSERT(test_now_ms() < end);
		if (test_now_ms() >= end) {
			kill(child, SIGKILL);
			break;
		}
		test_sleep_ms(20);
	}
	gdfix_stop(&f);
}

/* A policy that crashes refuses. */
static void paste_policy_crashes(void)
{
	struct fixture f;

	policy_misbehaves("kill -SEGV $$", "failed (signal 11)", &f);
	gdfix_stop(&f);
}

/* A policy that prints garbage (escape sequences, binary) and exits with a stray status refuses; none of it is logged. */
static void paste_policy_garbage(void)
{
	struct fixture f;

	policy_misbehaves("head -c 200000 /dev/urandom\nprintf '\\033[2J\\377' >&2\nexit 77",
			"failed (exit status 77)", &f);
	gdfix_stop(&f);
}

/* -Q: the sequences run the qrexec clipboard services instead of protocol messages (a stand-in on PATH). */
static void qrexec_clipboard(void)
{
	struct fixture f;
	const char *const q[] = { "-Q", NULL };
	char bindir[PATH_MAX], script[PATH_MAX + 32], log[PATH_MAX + 32], path[2 * PATH_MAX];
	const char *old_path = getenv("PATH");
	struct proto_msg m;
	FILE *fp;

	snprintf(bindir, sizeof(bindir), "%s/fakebin", test_tmpdir());
	mkdir(bindir, 0700);
	snprintf(log, sizeof(log), "%s/qrexec.log", test_tmpdir());
	snprintf(script, sizeof(script), "%s/qrexec-client-vm", bindir);
	fp = fopen(script, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "#!/bin/sh\n"
		    "echo \"$1 $2\" >> %s\n"
		    "case \"$2\" in\n"
		    "qubes.ClipboardCopy) printf 'via qrexec' ;;\n"
		    "qubes.ClipboardPaste) cat > %s.paste ;;\n"
		    "esac\n", log, log);
	fclose(fp);
	T_EQ(chmod(script, 0755), 0);
	snprintf(path, sizeof(path), "%s:%s", bindir, old_path ? old_path : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	T_EQ(gdfix_start(&f, NULL, q), 0);
	setenv("PATH", old_path ? old_path : "/usr/bin:/bin", 1);
	T_EQ(show(&f, 0x70, 300, 100, 0x777777), 0);
	/* copy: the service's output becomes the global clipboard; the agent is not asked */
	chord(350, 150, XK_c);
	T_ASSERT(wait_file(f.clipdir, "qubes-clipboard.bin", "via qrexec", T_MS));
	T_ASSERT(wait_file(f.clipdir, "qubes-clipboard.bin.source", "work", T_MS));
	T_EQ(tagent_expect(f.a, MSG_CLIPBOARD_REQ, 300, &m), -1);
	/* paste: the bytes go to qubes.ClipboardPaste, not to the agent */
	chord(350, 150, XK_v);
	T_ASSERT(wait_file(test_tmpdir(), "qrexec.log.paste", "via qrexec", T_MS));
	T_EQ(tagent_expect(f.a, MSG_CLIPBOARD_DATA, 300, &m), -1);
	T_ASSERT(wait_file(test_tmpdir(), "qrexec.log", "work qubes.ClipboardCopy\nwork qubes.ClipboardPaste\n", T_MS));
	XTestFakeMotionEvent(dpy, 0, 5, 5, 0);
	XSync(dpy, False);
	gdfix_stop(&f);
}

/* ------------------------------------------------------------------ tray */

/* A minimal tray manager on the test's display. */
struct tray {
	Window win;
	Atom opcode, xembed;
};

static int tray_start(struct tray *t, int x, int y)
{
	Window root = DefaultRootWindow(dpy);
	Atom sel = XInternAtom(dpy, "_NET_SYSTEM_TRAY_S0", False);
	XEvent e;

	t->opcode = XInternAtom(dpy, "_NET_SYSTEM_TRAY_OPCODE", False);
	t->xembed = XInternAtom(dpy, "_XEMBED", False);
	t->win = XCreateSimpleWindow(dpy, root, x, y, 200, 40, 0, 0, 0x000080);
	XSetWindowAttributes a = { .override_redirect = True };
	XChangeWindowAttributes(dpy, t->win, CWOverrideRedirect, &a);
	XMapWindow(dpy, t->win);
	XSetSelectionOwner(dpy, sel, t->win, CurrentTime);
	memset(&e, 0, sizeof(e));
	e.xclient.type = ClientMessage;
	e.xclient.window = root;
	e.xclient.message_type = XInternAtom(dpy, "MANAGER", False);
	e.xclient.format = 32;
	e.xclient.data.l[0] = CurrentTime;
	e.xclient.data.l[1] = (long)sel;
	e.xclient.data.l[2] = (long)t->win;
	XSendEvent(dpy, root, False, StructureNotifyMask, &e);
	XSync(dpy, False);
	return XGetSelectionOwner(dpy, sel) == t->win ? 0 : -1;
}

/* Waits for a dock request and embeds the icon at (ix, iy) in the tray. Returns the icon or None. */
static Window tray_embed(struct tray *t, int ix, int iy)
{
	for (int i = 0; i < T_MS / 5; i++) {
		while (XPending(dpy)) {
			XEvent e, n;

			XNextEvent(dpy, &e);
			if (e.type != ClientMessage || e.xclient.message_type != t->opcode ||
					e.xclient.data.l[1] != SYSTEM_TRAY_REQUEST_DOCK) {
				continue;
			}
			Window icon = (Window)e.xclient.data.l[2];

			XReparentWindow(dpy, icon, t->win, ix, iy);
			memset(&n, 0, sizeof(n));
			n.xclient.type = ClientMessage;
			n.xclient.window = icon;
			n.xclient.message_type = t->xembed;
			n.xclient.format = 32;
			n.xclient.data.l[0] = CurrentTime;
			n.xclient.data.l[1] = XEMBED_EMBEDDED_NOTIFY;
			n.xclient.data.l[3] = (long)t->win;
			XSendEvent(dpy, icon, False, NoEventMask, &n);
			XSync(dpy, False);
			return icon;
		}
		XSync(dpy, False);
		usleep(5000);
	}
	return None;
}

static void tray_icon_docked_and_tinted(void)
{
	struct fixture f;
	struct tray t;
	struct proto_msg m;
	Window icon;

	T_EQ(tray_start(&t, 700, 0), 0);
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x50, 0, 0, 16, 16, false, NULL, false), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_DOCK, .window = 0x50 }), 0);
	icon = tray_embed(&t, 20, 10);
	T_ASSERT(icon != None);
	/* the daemon maps it and tells the agent where it is on the screen */
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x50, T_MS, &m), 0);
	T_EQ(m.u.configure.x, 720);
	T_EQ(m.u.configure.y, 10);
	T_EQ(m.u.configure.width, 16);
	T_EQ(tagent_fill(f.a, 0x50, 16, 16, 0xffffff), 0);
	/* default trayicon_mode tint: white becomes the label colour; no border around tray icons */
	T_ASSERT(xrig_wait_pixel(dpy, 725, 15, LABEL, T_MS));
	T_EQ(xrig_root_pixel(dpy, 720, 10), LABEL);
	T_EQ(xrig_root_pixel(dpy, 719, 10), 0x000080);
	/* docked windows ignore the agent's unmap and map */
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_UNMAP, .window = 0x50 }), 0);
	T_EQ(tagent_fill(f.a, 0x50, 16, 16, 0x000000), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 725, 15, 0x000000, T_MS));
	gdfix_stop(&f);
	XDestroyWindow(dpy, t.win);
	XSync(dpy, False);
}

/*
 * One docked 16x16 icon in tray mode `mode`: its background (top-left pixel) is bg, a 4x4 square
 * at (6, 6) is fg; the pixels at the edge, one in, in the square and elsewhere must read as given.
 * With from_screen the icon has no dump of its own and is painted from the screen window's
 * image (remote id 0, reference 2.6) at its position: the same colouring must apply.
 */
static void tray_mode_case(const char *mode, bool from_screen, uint32_t bg, uint32_t fg, uint32_t edge,
		uint32_t inner, uint32_t square, uint32_t rest)
{
	struct fixture f;
	struct tray t;
	struct proto_msg m;
	char opt[64];
	const char *const opts[] = { opt, NULL };

	snprintf(opt, sizeof(opt), "--trayicon-mode=%s", mode);
	T_EQ(tray_start(&t, 700, 100), 0);
	T_EQ(gdfix_start(&f, NULL, opts), 0);
	if (from_screen) {
		/* the VM's whole screen, never mapped; the icon's square drawn where the tray shows it */
		T_EQ(tagent_create(f.a, 0, 0, 0, GDFIX_SCREEN_W, GDFIX_SCREEN_H, false, NULL, false), 0);
		T_EQ(tagent_fill(f.a, 0, GDFIX_SCREEN_W, GDFIX_SCREEN_H, bg), 0);
		T_EQ(tagent_paint(f.a, 0, 706, 106, 4, 4, fg, false), 0);
	}
	T_EQ(tagent_create(f.a, 0x60, 0, 0, 16, 16, false, NULL, false), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_DOCK, .window = 0x60 }), 0);
	T_ASSERT(tray_embed(&t, 0, 0) != None);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x60, T_MS, &m), 0);
	if (from_screen) {
		T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = 0x60,
					      .u.shmimage = { 0, 0, 16, 16 } }), 0);
	} else {
		T_EQ(tagent_fill(f.a, 0x60, 16, 16, bg), 0);
		T_EQ(tagent_paint(f.a, 0x60, 6, 6, 4, 4, fg, true), 0);
	}
	T_ASSERT(xrig_wait_pixel(dpy, 707, 107, square, T_MS));
	T_EQ(xrig_root_pixel(dpy, 700, 100), edge);
	T_EQ(xrig_root_pixel(dpy, 715, 108), edge);
	T_EQ(xrig_root_pixel(dpy, 701, 108), inner);
	T_EQ(xrig_root_pixel(dpy, 703, 112), rest);
	gdfix_stop(&f);
	XDestroyWindow(dpy, t.win);
	XSync(dpy, False);
}

static void tray_modes(void)
{
	for (int from_screen = 0; from_screen < 2 && test_ok(); from_screen++) {
		/* border1: a 1 px label frame at the edge */
		tray_mode_case("border1", from_screen, 0x123456, 0x654321, LABEL, 0x123456, 0x654321, 0x123456);
		/* border2: the frame 1 px in from the edge */
		tray_mode_case("border2", from_screen, 0x123456, 0x654321, 0x123456, LABEL, 0x654321, 0x123456);
		/* bg: the top-left colour is the background and becomes white */
		tray_mode_case("bg", from_screen, 0x123456, 0x654321, 0xffffff, 0xffffff, 0x654321, 0xffffff);
		/* tint (the default): white takes the label colour, black stays black */
		tray_mode_case("tint", from_screen, 0x000000, 0xffffff, 0x000000, 0x000000, LABEL, 0x000000);
		/* tint+border2+whitehack: as tint, and the frame is 1 px in */
		tray_mode_case("tint+border2+whitehack", from_screen, 0x000000, 0xffffff, 0x000000, LABEL, LABEL,
				0x000000);
	}
}

/* An image dumped before the dock (zero copy with gntemu) is still coloured once docked. */
static void tray_icon_dumped_before_dock(void)
{
	struct fixture f;
	struct tray t;
	struct proto_msg m;

	T_EQ(tray_start(&t, 700, 200), 0);
	T_EQ(gdfix_start(&f, NULL, NULL), 0);
	T_EQ(tagent_create(f.a, 0x70, 0, 0, 16, 16, false, NULL, false), 0);
	T_EQ(tagent_fill(f.a, 0x70, 16, 16, 0xffffff), 0);
	T_EQ(tagent_expect_win(f.a, MSG_WINDOW_DUMP_ACK, 0x70, T_MS, &m), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_DOCK, .window = 0x70 }), 0);
	T_ASSERT(tray_embed(&t, 0, 0) != None);
	T_EQ(tagent_expect_win(f.a, MSG_CONFIGURE, 0x70, T_MS, &m), 0);
	T_EQ(tagent_send(f.a, &(struct proto_msg){ .type = MSG_SHMIMAGE, .window = 0x70,
				      .u.shmimage = { 0, 0, 16, 16 } }), 0);
	T_ASSERT(xrig_wait_pixel(dpy, 708, 208, LABEL, T_MS));
	T_EQ(gdfix_barrier(&f), 0);
	for (int y = 200; y < 216; y += 5) {
		for (int x = 700; x < 716; x += 5) {
			T_EQ_U(xrig_root_pixel(dpy, x, y), LABEL); /* white tinted; never the raw white */
		}
	}
	gdfix_stop(&f);
	XDestroyWindow(dpy, t.win);
	XSync(dpy, False);
}

static const struct test_case cases[] = {
	TEST(copy_then_paste), TEST(oversized_clears), TEST(paste_policy_denies), TEST(paste_policy_hangs),
	TEST(paste_policy_crashes), TEST(paste_policy_garbage), TEST(dom0_policy_decides_in_a_gui_qube), TEST(qrexec_clipboard),
	TEST(tray_icon_docked_and_tinted), TEST(tray_modes), TEST(tray_icon_dumped_before_dock),
};

int main(int argc, char **argv)
{
	return gdfix_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}

#!/usr/bin/env python3
"""tests/salt/test_scripts.py: the session scripts of salt/guivm-stack/files,
run for real in a sandbox.

Each case gets a temporary directory with a bin/ of stand-ins that log what
they are asked (qvm-start, qvm-prefs, qvm-run, qvm-check, qubesdb-read,
qubesdb-watch, qrexec-client-vm, the desktop, the locker, the kiosk's window
manager, the daemons' launcher, guivm-export) in front of PATH. X servers
are real: Xvfb for dom0's display and the GUI qube's export server, Xephyr
for its desktop; setxkbmap is the real one, and dom0's guivm-proxy is the
real build/bin/guivm-proxy (socket transport: it waits for the GUI qube).
Every process a case starts is stopped by pid (process group for the
GUI qube's desktop, which puts itself in its own session).

  * dom0 session (guivm-stack-session): ends when the GUI qube's desktop
    ends, when the GUI qube halts, and on the escape key (guivm-proxy
    --escape-action=exit, pressed with XTEST); refuses another dom0 user;
    hands dom0's keyboard layout to the GUI qube's keyboard_layout.
  * GUI qube session (gui-qube-session): the desktop applies QubesDB's
    keyboard layout to both X servers and again when it changes; a second
    call attaches to the running desktop; the call returns when the desktop
    ends. The kiosk starts its applications through qrexec, starts each
    again when it ends, and starts nothing else (no desktop, no locker).
  * the adopt/revert commands of the Salt states record and restore a
    qube's preferences (run with stand-in qvm-prefs / qvm-features).

Prints TAP-style "ok - ..." / "not ok - ..." lines. Needs Xvfb, Xephyr,
setxkbmap, xdotool and build/bin/guivm-proxy (make all).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = os.path.join(ROOT, 'salt', 'guivm-stack', 'files')
PROXY = os.path.join(ROOT, 'build', 'bin', 'guivm-proxy')
TIMEOUT = 30.0

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

failed = 0
count = 0


def check(name, func):
    global failed, count
    count += 1
    try:
        problems = func()
    except Exception as exc:  # reported, the run goes on
        problems = ['%s: %s' % (type(exc).__name__, exc)] + \
            traceback.format_exc().strip().splitlines()[-4:-1]
    if not problems:
        print('ok - %s' % name)
        return
    failed += 1
    print('not ok - %s' % name)
    for p in ([problems] if isinstance(problems, str) else problems)[:20]:
        for line in str(p).splitlines():
            print('#   %s' % line)


def wait_for(cond, what, timeout=TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError('timed out waiting for %s' % what)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def free_display(skip=()):
    for n in range(60, 200):
        if n in skip:
            continue
        if not os.path.exists('/tmp/.X11-unix/X%d' % n) and not os.path.exists('/tmp/.X%d-lock' % n):
            return n
    raise RuntimeError('no free X display')


class Sandbox:
    """A temporary directory with stand-ins on PATH; processes it started are
    stopped by pid (and process group) in close()."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='guivm-stack-scripts.')
        self.bin = os.path.join(self.dir, 'bin')
        self.log = os.path.join(self.dir, 'calls.log')
        os.makedirs(self.bin)
        open(self.log, 'w').close()
        self.procs = []
        self.groups = []
        self.env = dict(os.environ)
        self.env.update({'PATH': self.bin + ':' + os.environ.get('PATH', '/usr/bin:/bin'),
                         'SB': self.dir, 'XDG_RUNTIME_DIR': os.path.join(self.dir, 'run'),
                         'GUIVM_STACK_CONF_DIR': os.path.join(self.dir, 'etc'),
                         'VCHAN_SOCKET_DIR': os.path.join(self.dir, 'vchan')})
        for d in ('run', 'etc', 'vchan', 'qdb'):
            os.makedirs(os.path.join(self.dir, d))

    def stand_in(self, name, body):
        """A bash stand-in; $LOG is the call log (one line per call)."""
        path = os.path.join(self.bin, name)
        with open(path, 'w') as f:
            f.write('#!/bin/bash\nLOG=$SB/calls.log\necho "%s $*" >>"$LOG"\n%s\n' % (name, body))
        os.chmod(path, 0o755)

    def calls(self, prefix=''):
        with open(self.log) as f:
            return [l.rstrip('\n') for l in f if l.startswith(prefix)]

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, **kw)
        self.procs.append(p)
        return p

    def xvfb(self, n):
        p = self.start(['Xvfb', ':%d' % n, '-screen', '0', '640x480x24', '-nolisten', 'tcp',
                        '-noreset'])
        wait_for(lambda: os.path.exists('/tmp/.X11-unix/X%d' % n), 'Xvfb :%d' % n)
        return p

    def close(self):
        for pgid in self.groups:
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for pgid in self.groups:
            end = time.monotonic() + 10
            while time.monotonic() < end:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


def finish(p, timeout=TIMEOUT):
    """Wait for p to end; its status and output."""
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise AssertionError('did not end within %ds; output:\n%s' % (timeout, out))
    return p.returncode, out


def xkb(sb, display):
    out = subprocess.run(['setxkbmap', '-display', display, '-query'], env=sb.env,
                         capture_output=True, text=True, check=True).stdout
    return {l.split(':', 1)[0].strip(): l.split(':', 1)[1].strip()
            for l in out.splitlines() if ':' in l}


# --------------------------------------------------------------------- dom0: guivm-stack-session

def dom0_sandbox(owner='-'):
    sb = Sandbox()
    user = subprocess.run(['id', '-un'], capture_output=True, text=True).stdout.strip()
    with open(os.path.join(sb.dir, 'etc', 'sessions.conf'), 'w') as f:
        f.write('# test\nsys-gui-x %s desktop\n' % (user if owner == 'me' else owner))
    sb.stand_in('qvm-start', 'exit 0')
    sb.stand_in('qvm-prefs', '[ "$3" = xid ] && echo 7\nexit 0')
    # the guivm-stack.Session call lasts until the test "logs out"
    sb.stand_in('qvm-run', 'while [ ! -e "$SB/logout" ]; do sleep 0.05; done')
    # the GUI qube runs until the test "halts" it
    sb.stand_in('qvm-check', '[ ! -e "$SB/halted" ]')
    sb.stand_in('logger', 'exit 0')
    sb.stand_in('xrandr', 'exit 1')
    # the real guivm-proxy, its pid recorded
    sb.stand_in('proxy', 'echo $$ >"$SB/proxy.pid"\nexec %s "$@"' % PROXY)
    sb.env.update({'GUIVM_PROXY': os.path.join(sb.bin, 'proxy'), 'GUIVM_STACK_POLL': '0.2'})
    n = free_display()
    sb.xvfb(n)
    sb.env['DISPLAY'] = ':%d' % n
    subprocess.run(['setxkbmap', '-display', ':%d' % n, '-layout', 'de', '-variant', 'nodeadkeys'],
                   env=sb.env, check=True)
    return sb


def proxy_pid(sb):
    path = os.path.join(sb.dir, 'proxy.pid')
    wait_for(lambda: os.path.exists(path) and open(path).read().strip(), 'guivm-proxy to start')
    pid = int(open(path).read())
    # running the real proxy, not just the wrapper
    wait_for(lambda: os.path.basename(os.readlink('/proc/%d/exe' % pid)) == 'guivm-proxy',
             'the real guivm-proxy')
    return pid


def dom0_ends_with(trigger, want_log):
    def run():
        sb = dom0_sandbox()
        try:
            session = sb.start(['bash', os.path.join(FILES, 'guivm-stack-session'), 'sys-gui-x'])
            pid = proxy_pid(sb)
            problems = []
            time.sleep(0.3)     # not a condition: the session must still be running now
            if session.poll() is not None:
                return 'the session ended on its own: %r' % (finish(session),)
            trigger(sb)
            rc, out = finish(session)
            if rc != 0:
                problems.append('exit status %d' % rc)
            if want_log not in out:
                problems.append('no log line %r in:\n%s' % (want_log, out))
            wait_for(lambda: not alive(pid), 'guivm-proxy to be stopped')
            calls = sb.calls()
            if not any(c.startswith('qvm-run ') and 'guivm-stack.Session+1920x1080' in c
                       for c in calls):
                problems.append('no guivm-stack.Session call: %r' % calls)
            if 'qvm-prefs -- sys-gui-x keyboard_layout de+nodeadkeys+' not in calls:
                problems.append('dom0\'s layout not given to the GUI qube: %r' % calls)
            return problems
        finally:
            sb.close()
    return run


def press_escape(sb):
    subprocess.run(['xdotool', 'key', 'ctrl+alt+shift+F12'], env=sb.env, check=True)


def dom0_refuses_other_user():
    sb = dom0_sandbox(owner='someone-else')
    try:
        rc, out = finish(sb.start(['bash', os.path.join(FILES, 'guivm-stack-session'), 'sys-gui-x']))
        problems = []
        if rc == 0:
            problems.append('exit status 0')
        if 'belongs to the dom0 user someone-else' not in out:
            problems.append('no message: %r' % out)
        if sb.calls('qvm-start') or sb.calls('qvm-run'):
            problems.append('started something: %r' % sb.calls())
        rc, out = finish(sb.start(['bash', os.path.join(FILES, 'guivm-stack-session'), 'sys-other']))
        if rc == 0 or 'not a GUI qube of guivm-stack' not in out:
            problems.append('unknown qube: %d %r' % (rc, out))
        return problems
    finally:
        sb.close()


# --------------------------------------------------------------------- GUI qube: gui-qube-session

def gui_sandbox(kiosk=''):
    sb = Sandbox()
    n1 = free_display()
    n2 = free_display(skip=(n1,))
    sb.displays = (':%d' % n1, ':%d' % n2)
    conf = '\n'.join([
        'EXPORT_DISPLAY=:%d' % n1,
        'DESKTOP_DISPLAY=:%d' % n2,
        'SESSION_COMMAND=%s/desktop' % sb.bin,
        'EXPORT_COMMAND=%s/guivm-export' % sb.bin,
        'LOCKER="%s/locker -no-splash"' % sb.bin,
        'KIOSK_WM="%s/kiosk-wm -use_titlebar no"' % sb.bin,
        'GUI_DAEMONS="%s/gui-daemons --all --watch"' % sb.bin, ''])
    with open(os.path.join(sb.dir, 'etc', 'session.conf'), 'w') as f:
        f.write(conf)
    qdb = os.path.join(sb.dir, 'qdb')
    os.makedirs(os.path.join(qdb, 'vm-config'))
    with open(os.path.join(qdb, 'keyboard-layout'), 'w') as f:
        f.write('de+nodeadkeys+')
    with open(os.path.join(qdb, 'qubes-gui-domain-xid'), 'w') as f:
        f.write('0')
    if kiosk:
        with open(os.path.join(qdb, 'vm-config', 'guivm-stack-kiosk'), 'w') as f:
            f.write(kiosk)
    sb.stand_in('qubesdb-read', 'cat "$SB/qdb$1" 2>/dev/null')
    # one line per file $SB/qdb-event.N the test creates, as qubesdb-watch prints changes
    sb.stand_in('qubesdb-watch', 'n=0\nwhile :; do\n  if [ -e "$SB/qdb-event.$n" ]; then '
                'echo "$1"; n=$((n + 1)); fi\n  sleep 0.05\ndone')
    sb.stand_in('logger', 'exit 0')
    for name in ('guivm-export', 'locker', 'kiosk-wm', 'gui-daemons'):
        sb.stand_in(name, 'exec sleep 1000')
    # the desktop runs until the test logs out
    sb.stand_in('desktop', 'while [ ! -e "$SB/logout" ]; do sleep 0.05; done')
    # an application in a qube: runs a moment, then the user closes it
    sb.stand_in('qrexec-client-vm', 'sleep 2.2')
    return sb


def run_pid(sb):
    path = os.path.join(sb.dir, 'run', 'guivm-stack-%d' % os.getuid(), 'session.pid')
    wait_for(lambda: os.path.exists(path) and open(path).read().strip(), 'the desktop to start')
    pid = int(open(path).read())
    sb.groups.append(pid)
    return pid


def gui_desktop_and_layout():
    sb = gui_sandbox()
    try:
        script = os.path.join(FILES, 'gui-qube-session')
        call = sb.start(['bash', script, '800x600'])
        pid = run_pid(sb)
        problems = []
        wait_for(lambda: sb.calls('desktop'), 'the desktop')
        wait_for(lambda: all(xkb(sb, d).get('layout') == 'de' for d in sb.displays),
                 'layout de on both X servers')
        for d in sb.displays:
            q = xkb(sb, d)
            if q.get('variant') != 'nodeadkeys':
                problems.append('%s: %r' % (d, q))
        # dom0 changes keyboard_layout: qubesd rewrites QubesDB, the watcher applies it
        with open(os.path.join(sb.dir, 'qdb', 'keyboard-layout'), 'w') as f:
            f.write('fr++ctrl:nocaps')
        open(os.path.join(sb.dir, 'qdb-event.0'), 'w').close()
        wait_for(lambda: all(xkb(sb, d).get('layout') == 'fr' and
                             xkb(sb, d).get('options') == 'ctrl:nocaps' for d in sb.displays),
                 'layout fr with ctrl:nocaps on both X servers')
        if any('variant' in xkb(sb, d) for d in sb.displays):
            problems.append('the old variant stayed')
        # a second call (dom0 came back after its escape key) attaches
        second = sb.start(['bash', script, '1024x768'])
        time.sleep(0.5)     # not a condition: it must still be attached now
        if second.poll() is not None:
            problems.append('the second call did not attach: %r' % (finish(second),))
        if len(sb.calls('desktop')) != 1 or len(sb.calls('guivm-export')) != 1:
            problems.append('a second desktop or export started: %r' % sb.calls())
        if not sb.calls('locker'):
            problems.append('no screen locker')
        export = sb.calls('guivm-export')
        if export != ['guivm-export -d 0']:
            problems.append('export: %r' % export)
        # logout: the desktop ends, every call returns, everything stops
        open(os.path.join(sb.dir, 'logout'), 'w').close()
        for p in (call, second):
            rc, out = finish(p)
            if rc != 0:
                problems.append('call exit status %d: %s' % (rc, out))
        wait_for(lambda: not alive(pid), 'the desktop process to end')
        for d in sb.displays:
            wait_for(lambda d=d: not os.path.exists('/tmp/.X11-unix/X' + d[1:]),
                     'X server %s to stop' % d)
        return problems
    finally:
        sb.close()


def gui_kiosk():
    sb = gui_sandbox(kiosk='kiosk-web:firefox-esr @dispvm:kiosk-dvm:org.gnome.Evince bad;entry')
    try:
        call = sb.start(['bash', os.path.join(FILES, 'gui-qube-session'), '800x600'])
        pid = run_pid(sb)
        problems = []

        def started(target, app):
            return [c for c in sb.calls('qrexec-client-vm')
                    if c == 'qrexec-client-vm -- %s qubes.StartApp+%s' % (target, app)]
        wait_for(lambda: len(started('kiosk-web', 'firefox-esr')) >= 3 and
                 len(started('@dispvm:kiosk-dvm', 'org.gnome.Evince')) >= 3,
                 'each application started three times (restarted when it ends)')
        names = sorted({c.split()[0] for c in sb.calls()} - {'qubesdb-read', 'qubesdb-watch', 'logger'})
        if names != ['gui-daemons', 'guivm-export', 'kiosk-wm', 'qrexec-client-vm']:
            problems.append('the kiosk started %r' % names)
        other = [c for c in sb.calls('qrexec-client-vm') if 'firefox-esr' not in c and
                 'org.gnome.Evince' not in c]
        if other:
            problems.append('other qrexec calls: %r' % other)
        if sb.calls('kiosk-wm') != ['kiosk-wm -use_titlebar no'] or \
                sb.calls('gui-daemons') != ['gui-daemons --all --watch']:
            problems.append('window manager / daemons: %r' % sb.calls())
        if not all(xkb(sb, d).get('layout') == 'de' for d in sb.displays):
            problems.append('kiosk keyboard layout not applied')
        # the qube shuts down: the session ends, the call returns
        os.kill(pid, signal.SIGTERM)
        rc, out = finish(call)
        if rc != 0:
            problems.append('call exit status %d' % rc)
        wait_for(lambda: not alive(pid), 'the kiosk to end')
        return problems
    finally:
        sb.close()


# --------------------------------------------------------------------- Salt: adopt and revert commands

def adopt_and_restore():
    """The create state's record command and the revert's restore command
    (rendered from the formula) against stand-in qvm-prefs/qvm-features
    keeping state in files: values come back as they were, defaults stay
    defaults, an empty netvm stays empty."""
    import test_formula as tf
    pillar = {'guivm-stack': {'guivms': {'sys-gui-a': {'adopt': True, 'qubes': ['work']}}}}
    hs = tf.Highstate(['guivm-stack.dom0'], pillar, tf.dom0_grains())
    rv = tf.Highstate(['guivm-stack.revert'], pillar, tf.dom0_grains())
    record = hs.of('cmd.run')['guivm-stack-sys-gui-a-not-foreign']['name']
    record_m = hs.of('cmd.run')['guivm-stack-sys-gui-a-member-work-record']['name']
    restore = rv.of('cmd.run')['guivm-stack-revert-sys-gui-a-restore']['name']
    restore_m = rv.of('cmd.run')['guivm-stack-revert-sys-gui-a-member-work']['name']
    sb = Sandbox()
    try:
        st = os.path.join(sb.dir, 'state')
        os.makedirs(st)
        # prefs: state/VM.PROP = "D value" or "- value"; features: state/VM.f.NAME
        initial = {'sys-gui-a': {'template': '- fedora-38-xfce', 'label': '- red', 'memory': '- 400',
                                 'maxmem': 'D 4000', 'vcpus': 'D 2', 'netvm': '- ',
                                 'guivm': 'D dom0', 'audiovm': 'D dom0', 'autostart': '- False',
                                 'default_dispvm': 'D default-dvm'},
                   'work': {'guivm': 'D dom0'}}
        for vm, props in initial.items():
            for k, v in props.items():
                with open(os.path.join(st, '%s.%s' % (vm, k)), 'w') as f:
                    f.write(v)
                if v.startswith('D '):
                    with open(os.path.join(st, '%s.%s.default' % (vm, k)), 'w') as f:
                        f.write(v[2:])
        sb.stand_in('qvm-prefs', r'''
st=$SB/state
if [ "$1" = --default ]; then shift; shift; printf 'D %s' "$(cat "$st/$1.$2.default" 2>/dev/null || echo dflt)" >"$st/$1.$2"; exit; fi
shift
if [ $# -eq 1 ]; then for f in "$st/$1".*; do case $f in *.default|*.f.*) continue;; esac
  p=${f##*/}; p=${p#"$1".}; read -r u v <"$f"; printf '%-16s %s %s\n' "$p" "$u" "$v"; done; exit; fi
if [ $# -eq 2 ]; then read -r u v <"$st/$1.$2"; echo "$v"; exit; fi
printf -- '- %s' "$3" >"$st/$1.$2"''')
        sb.stand_in('qvm-features', r'''
st=$SB/state
if [ "$1" = --unset ]; then shift; shift; rm -f "$st/$1.f.$2"; exit; fi
shift
if [ $# -eq 1 ]; then for f in "$st/$1".f.*; do [ -e "$f" ] || continue; n=${f##*.f.}; echo "$n $(cat "$f")"; done; exit; fi
if [ $# -eq 2 ]; then cat "$st/$1.f.$2" 2>/dev/null || exit 1; exit; fi
printf '%s' "$3" >"$st/$1.f.$2"''')
        problems = []

        def sh(cmd):
            r = subprocess.run(['/bin/sh', '-c', cmd], env=sb.env, capture_output=True, text=True)
            if r.returncode != 0:
                problems.append('%s\n-> %d %s' % (cmd, r.returncode, r.stderr))

        def prefs(vm):
            return {f[len(vm) + 1:]: open(os.path.join(st, f)).read()
                    for f in os.listdir(st) if f.startswith(vm + '.') and '.f.' not in f}
        sh(record)
        sh(record_m)
        saved = {f: open(os.path.join(st, f)).read() for f in os.listdir(st) if '.f.guivm-stack-saved' in f}
        if saved.get('sys-gui-a.f.guivm-stack-saved.template') != 'fedora-38-xfce' or \
                saved.get('sys-gui-a.f.guivm-stack-saved.maxmem') != '*default*' or \
                saved.get('sys-gui-a.f.guivm-stack-saved.netvm') != '*none*' or \
                saved.get('work.f.guivm-stack-saved.guivm') != '*default*':
            problems.append('recorded: %r' % saved)
        # the deploy changes them
        for vm, k, v in (('sys-gui-a', 'template', 'debian-12-xfce'), ('sys-gui-a', 'maxmem', '4000'),
                         ('sys-gui-a', 'label', 'black'), ('sys-gui-a', 'default_dispvm', ''),
                         ('work', 'guivm', 'sys-gui-a')):
            with open(os.path.join(st, '%s.%s' % (vm, k)), 'w') as f:
                f.write('- ' + v)
        sh(restore)
        sh(restore_m)
        for vm in initial:
            got = prefs(vm)
            for k, v in initial[vm].items():
                if got.get(k, '').strip() != v.strip():
                    problems.append('%s %s: %r, want %r' % (vm, k, got.get(k), v))
        left = [f for f in os.listdir(st) if '.f.guivm-stack-saved' in f]
        if left:
            problems.append('records left: %r' % left)
        return problems
    finally:
        sb.close()


def main():
    if not os.access(PROXY, os.X_OK):
        print('not ok - %s is missing (make all)' % PROXY)
        return 1
    check('dom0 session: ends when the GUI qube\'s desktop ends (logout), stopping guivm-proxy; '
          'dom0\'s keyboard layout goes to the GUI qube',
          dom0_ends_with(lambda sb: open(os.path.join(sb.dir, 'logout'), 'w').close(),
                         'the desktop in the GUI qube ended'))
    check('dom0 session: ends when the GUI qube halts (qvm-check)',
          dom0_ends_with(lambda sb: open(os.path.join(sb.dir, 'halted'), 'w').close(),
                         'the GUI qube is not running'))
    check('dom0 session: the escape key (guivm-proxy --escape-action=exit) ends it, back to '
          'the display manager', dom0_ends_with(press_escape, 'guivm-proxy ended (escape key)'))
    check('dom0 session: another dom0 user, or a qube that is not a GUI qube of the formula, '
          'is refused before anything starts', dom0_refuses_other_user)
    check('GUI qube desktop: QubesDB\'s keyboard layout on both X servers, again when it '
          'changes; a second call attaches; the calls return when the desktop ends; locker '
          'started; X servers stopped', gui_desktop_and_layout)
    check('GUI qube kiosk: each application through qubes.StartApp, started again when it '
          'ends, invalid entries skipped, nothing else started (no desktop, no locker)',
          gui_kiosk)
    check('Salt adopt: the record command saves a qube\'s preferences and guivm, the revert '
          'command restores them (values, defaults, empty netvm)', adopt_and_restore)
    print('# %d checks, %d failed' % (count, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""tests/pkg/test_packages.py: builds the Debian packages and the RPMs (tools/pkg, as make deb and
make rpm do), checks their file lists and dependencies, unpacks the .debs (dpkg -x) and the RPMs
into scratch roots and runs every program's --version and `man -l` on every page from there. Also
checks that the builds leave nothing in the source tree (they build from a copy)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSION = open(os.path.join(TOP, 'version')).readline().strip()
# packaging/names: "role name where", the one list of package names
NAMES = [l.split()[1] for l in open(os.path.join(TOP, 'packaging/names')) if l.strip() and not l.startswith('#')]
FAILED = 0


def check(ok, description, detail=None):
    global FAILED
    if ok:
        print('ok - %s' % description)
    else:
        FAILED += 1
        print('not ok - %s' % description)
        for line in str(detail or '').splitlines()[:30]:
            print('#   %s' % line)
    sys.stdout.flush()
    return ok


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


# What each package holds (directories and /usr/share/doc aside); unit paths differ per distribution.
def expected(unitdir):
    return {
        'qubes-guivm-stack-daemon': {
            '/etc/qubes-rpc/guivm-stack.Session',
            unitdir + '/guivm-stack-guid.service',
            unitdir + '/qubes-gui-agent.service.d/50-guivm-stack.conf',
            '/usr/bin/gui-daemon', '/usr/bin/guivm-export',
            '/usr/lib/guivm-stack/gui-qube-session', '/usr/lib/guivm-stack/use-gui-daemon',
            '/usr/share/guivm-stack/guid.conf.example',
            '/usr/share/man/man1/gui-daemon.1', '/usr/share/man/man1/guivm-export.1',
            '/usr/share/man/man5/guid.conf.5',
        },
        'qubes-guivm-stack-proxy': {
            '/usr/bin/guivm-proxy', '/usr/bin/guivm-stack-session',
            '/usr/share/man/man1/guivm-proxy.1', '/usr/share/man/man1/guivm-stack-session.1',
        },
        'qubes-guivm-stack-tools': {
            '/usr/bin/gui-agent', '/usr/bin/guivm-stack-rig',
            '/usr/share/man/man1/gui-agent.1', '/usr/share/man/man1/guivm-stack-rig.1',
        },
    }


def normalise(paths, dirs_ok):
    """Files only, compressed man pages under their plain names, no /usr/share/doc or build-id links."""
    out = set()
    for p in paths:
        p = '/' + p.lstrip('./') if not p.startswith('/') else p
        if p.startswith('/usr/share/doc/') or p.startswith('/usr/lib/.build-id') or p in dirs_ok:
            continue
        out.add(re.sub(r'\.gz$', '', p))
    return out


def is_elf(path):
    with open(path, 'rb') as f:
        return f.read(4) == b'\x7fELF'


def check_root(root, kind):
    """Programs and man pages of an unpacked root (every package of one kind)."""
    bindir = os.path.join(root, 'usr/bin')
    for prog in sorted(os.listdir(bindir)):
        path = os.path.join(bindir, prog)
        if is_elf(path):
            r = run([path, '--version'])
            want = '%s (guivm-stack) %s, Qubes GUI protocol 1.8\n' % (prog, VERSION)
            check(r.returncode == 0 and r.stdout == want, '%s: %s --version says "%s"' % (kind, prog, want.strip()),
                  'status %d: %r' % (r.returncode, r.stdout))
            sections = run(['readelf', '-S', path]).stdout
            check('.debug_info' not in sections, '%s: %s is stripped of debug information' % (kind, prog))
        pages = [os.path.join(root, 'usr/share/man/man1', prog + ext) for ext in ('.1', '.1.gz')]
        check(any(os.path.exists(p) for p in pages), '%s: %s has a man page' % (kind, prog))
    for sect in ('man1', 'man5'):
        mandir = os.path.join(root, 'usr/share/man', sect)
        for page in sorted(os.listdir(mandir)):
            path = os.path.join(mandir, page)
            env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8')
            r = subprocess.run(['man', '--warnings', '-l', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
            name = re.sub(r'\.[15](\.gz)?$', '', page)
            check(r.returncode == 0 and r.stderr.strip() == '' and 'NAME' in r.stdout and name in r.stdout
                  and 'SEE ALSO' in r.stdout,
                  '%s: man -l %s/%s renders without warnings (NAME, SEE ALSO)' % (kind, sect, page),
                  r.stderr or r.stdout[:500])
    # every path of ours that an installed script or unit names exists in the packages
    texts = []
    for rel in ('usr/bin/guivm-stack-session', 'usr/lib/guivm-stack/gui-qube-session',
                'usr/lib/guivm-stack/use-gui-daemon', 'etc/qubes-rpc/guivm-stack.Session'):
        texts.append(open(os.path.join(root, rel)).read())
    for unit in run(['find', root, '-name', '*.service']).stdout.split():
        texts.append(open(unit).read())
    named = set(re.findall(r'/usr/(?:bin/gui(?:-daemon|vm-export|vm-proxy)|lib/guivm-stack/[a-z-]+)', '\n'.join(texts)))
    missing = sorted(p for p in named if not os.path.exists(root + p))
    check(len(named) >= 5 and not missing, '%s: the %d own paths the scripts and units name are installed'
          % (kind, len(named)), 'missing: %s' % missing)


def test_deb(tmp):
    out = os.path.join(tmp, 'deb')
    r = run([os.path.join(TOP, 'tools/pkg'), 'deb', out])
    if not check(r.returncode == 0, 'deb: dpkg-buildpackage -us -uc -b builds and lintian reports no error', r.stdout[-3000:]):
        return
    debs = {}
    for f in os.listdir(out):
        m = re.match(r'(qubes-guivm-stack-[a-z]+)_([^_]+)_[a-z0-9]+\.deb$', f)
        if m:
            debs[m.group(1)] = (os.path.join(out, f), m.group(2))
    want = expected('/lib/systemd/system')
    check(set(debs) == set(want) == set(NAMES), 'deb: the packages of packaging/names are built', sorted(debs))
    root = os.path.join(tmp, 'deb-root')
    for name, (path, ver) in sorted(debs.items()):
        check(ver == VERSION, 'deb: %s has the version of the file version (%s)' % (name, VERSION), ver)
        files = run(['sh', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar -tvf -', 'sh', path]).stdout.splitlines()
        paths = [l.split()[-1] for l in files if not l.startswith('d')]
        got = normalise(paths, set())
        check(got == want.get(name), 'deb: %s holds exactly its files' % name,
              'extra %s\nmissing %s' % (sorted(got - want.get(name, set())), sorted(want.get(name, set()) - got)))
        fields = run(['dpkg-deb', '-f', path, 'Depends', 'Recommends', 'Suggests', 'Pre-Depends']).stdout
        if name != 'qubes-guivm-stack-tools':
            check('guivm-stack-tools' not in fields, 'deb: %s does not pull in the tools' % name, fields)
        run(['dpkg', '-x', path, root])
    if debs:
        check_root(root, 'deb')
    lintian = os.path.join(out, 'lintian.log')
    text = open(lintian).read() if os.path.exists(lintian) else ''
    check(os.path.exists(lintian) and not re.search(r'^E:', text, re.M), 'deb: lintian log has no E: line', text)


def test_rpm(tmp):
    out = os.path.join(tmp, 'rpm')
    r = run([os.path.join(TOP, 'tools/pkg'), 'rpm', out])
    if not check(r.returncode == 0, 'rpm: rpmbuild -bb builds', r.stdout[-3000:]):
        return
    want = expected('/usr/lib/systemd/system')
    rpms = {}
    for f in os.listdir(out):
        if f.endswith('.rpm'):
            q = run(['rpm', '-qp', '--qf', '%{NAME} %{VERSION}', os.path.join(out, f)]).stdout.split()
            rpms[q[0]] = (os.path.join(out, f), q[1])
    check(set(rpms) == set(want) == set(NAMES), 'rpm: the packages of packaging/names are built', sorted(rpms))
    root = os.path.join(tmp, 'rpm-root')
    os.makedirs(root)
    for name, (path, ver) in sorted(rpms.items()):
        check(ver == VERSION, 'rpm: %s has the version of the file version (%s)' % (name, VERSION), ver)
        listing = run(['rpm', '-qp', '--qf', '[%{FILEMODES:perms} %{FILENAMES}\n]', path]).stdout.splitlines()
        paths = [l.split(' ', 1)[1] for l in listing if l and not l.startswith('d')]
        got = normalise(paths, set())
        check(got == want.get(name), 'rpm: %s holds exactly its files' % name,
              'extra %s\nmissing %s' % (sorted(got - want.get(name, set())), sorted(want.get(name, set()) - got)))
        reqs = run(['rpm', '-qpR', path]).stdout + run(['rpm', '-qp', '--recommends', path]).stdout
        if name != 'qubes-guivm-stack-tools':
            check('guivm-stack-tools' not in reqs, 'rpm: %s does not pull in the tools' % name, reqs)
        subprocess.run(['sh', '-c', 'rpm2archive - <"$1" | tar -xzf - -C "$2"', 'sh', path, root], check=False)
    if rpms:
        check_root(root, 'rpm')


def traces():
    """What a package build run in the tree itself would leave there or in its parent directory."""
    found = set()
    for d in (TOP, os.path.dirname(TOP)):
        found |= {os.path.join(d, f) for f in os.listdir(d) if re.search(r'\.(deb|changes|buildinfo|rpm)$', f)}
    for rel in ('debian/.debhelper', 'debian/tmp', 'debian/files', 'debian/debhelper-build-stamp',
                'debian/qubes-guivm-stack-daemon', 'obj-x86_64-linux-gnu', 'rpm/BUILD', 'rpm/RPMS'):
        if os.path.lexists(os.path.join(TOP, rel)):
            found.add(os.path.join(TOP, rel))
    return found


def main():
    before = traces()
    tmp = tempfile.mkdtemp(prefix='test_packages.')
    try:
        test_deb(tmp)
        test_rpm(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    new = sorted(traces() - before)
    check(not new, 'the package builds leave nothing in the source tree or its parent directory', new)
    print('# %d failed' % FAILED)
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""tests/salt/test_formula.py: checks of the guivm-stack Salt formula (salt/).

Salt cannot be installed on the machines that run `make check`, so this test
renders the formula the way Salt would (Jinja with Salt's `salt`, `pillar`,
`grains` context, `raise`, the `regex_match` filter, StrictUndefined, and a
YAML loader that refuses duplicate IDs), for the default pillar and the
read-write, multi-user and kiosk examples, and checks what comes out:

  * structure: known state functions, requisites that name existing IDs of
    the same module and form no cycle, unique IDs, guarded cmd.run states,
    salt:// sources that exist and render, policy files named as Qubes wants;
  * policy: every generated line parses under the qrexec policy.d grammar
    (parser below, written from Qubes' documented multifile policy format and
    qrexec's parser rules), and the parser rejects broken lines;
  * scope: a small policy evaluator (first match wins, Qubes' token
    semantics, 90-admin-default's include files emulated) answers requests
    of each GUI qube against qubes described by what the create states set;
  * revert: the revert states remove every file, block, qube, assignment,
    feature and package the deploy states create;
  * bad pillars stop the render.

Prints TAP-style "ok - ..." / "not ok - ..." lines (reasons on "#   " lines)
and exits 1 if any check failed. Needs python3, python3-jinja2, python3-yaml.
"""

import copy
import os
import re
import string
import sys
import traceback

import jinja2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SALT = os.path.join(ROOT, 'salt')
PILLAR = os.path.join(SALT, 'pillar', 'guivm-stack')

# --------------------------------------------------------------------- TAP


class Report:
    def __init__(self):
        self.failed = 0
        self.count = 0

    def check(self, description, func):
        """Runs func(); it returns None/True (pass), False or a string/list of
        strings (fail, with reasons), or raises (fail)."""
        self.count += 1
        try:
            result = func()
        except Exception as exc:  # the reason is printed, the run goes on
            result = ['%s: %s' % (type(exc).__name__, exc)]
            tb = traceback.format_exc().strip().splitlines()
            result += tb[-4:-1]
        if result is None or result is True or result == []:
            print('ok - %s' % description)
            return True
        self.failed += 1
        print('not ok - %s' % description)
        if result is False:
            result = ['condition is false']
        if isinstance(result, str):
            result = [result]
        for line in result[:20]:
            for part in str(line).splitlines():
                print('#   %s' % part)
        if len(result) > 20:
            print('#   ... %d more' % (len(result) - 20))
        return False


REPORT = Report()
check = REPORT.check

# --------------------------------------------------------------------- Salt emulation


class RenderError(Exception):
    pass


def jinja_raise(message):
    raise RenderError(message)


def regex_match(txt, rgx, ignorecase=False, multiline=False):
    """Salt's regex_match filter: groups of re.match, or None."""
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    m = re.match(rgx, txt, flags)
    return m.groups() if m else None


def make_env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(SALT),
        undefined=jinja2.StrictUndefined,
        extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'])
    env.globals['raise'] = jinja_raise
    env.filters['regex_match'] = regex_match
    return env


ENV = make_env()


def pillar_get(pillar):
    def get(key, default='', delimiter=':'):
        node = pillar
        for part in key.split(delimiter):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return default
        return node
    return get


def context(pillar, grains):
    return {
        'salt': {'pillar.get': pillar_get(pillar),
                 'grains.get': pillar_get(grains)},
        'pillar': pillar,
        'grains': grains,
        'opts': {'id': grains['id']},
        'saltenv': 'base',
    }


class UniqueKeyLoader(yaml.SafeLoader):
    """Salt's YAML loader refuses duplicate keys (conflicting IDs)."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, 'duplicate key %r' % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def render_text(path, pillar, grains, extra=None):
    ctx = context(pillar, grains)
    if extra:
        ctx.update(extra)
    return ENV.get_template(path).render(ctx)


def render_yaml(path, pillar, grains):
    text = render_text(path, pillar, grains)
    return yaml.load(text, Loader=UniqueKeyLoader) or {}, text


def sls_path(name):
    rel = name.replace('.', '/')
    for cand in (rel + '.sls', rel + '/init.sls'):
        if os.path.exists(os.path.join(SALT, cand)):
            return cand
    raise RenderError('no sls file for %s' % name)


def load_pillar(path):
    """A pillar sls is Jinja + YAML too."""
    text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        open(path).read()).render()
    return yaml.load(text, Loader=UniqueKeyLoader) or {}


class Highstate:
    """The states of some sls names (with their includes), like state.sls."""

    def __init__(self, names, pillar, grains):
        self.states = {}      # id -> (module.function, {arg: value}, sls)
        self.raw = {}         # id -> the YAML value
        self.sls_done = []
        self.texts = {}
        for name in names:
            self._load(name, pillar, grains)

    def _load(self, name, pillar, grains):
        if name in self.sls_done:
            return
        self.sls_done.append(name)
        data, text = render_yaml(sls_path(name), pillar, grains)
        self.texts[name] = text
        if not isinstance(data, dict):
            raise RenderError('%s does not render to a mapping' % name)
        for inc in data.pop('include', []) or []:
            self._load(inc, pillar, grains)
        for sid, body in data.items():
            if sid in self.states:
                raise RenderError('ID %s in both %s and %s' % (sid, self.states[sid][2], name))
            if not isinstance(body, dict) or len(body) != 1:
                raise RenderError('%s: a state must be one "module.function: [args]" mapping' % sid)
            (fun, args), = body.items()
            if not isinstance(fun, str) or fun.count('.') != 1:
                raise RenderError('%s: %r is not a module.function' % (sid, fun))
            if not isinstance(args, list):
                raise RenderError('%s: arguments of %s must be a list' % (sid, fun))
            kw = {}
            for arg in args:
                if not isinstance(arg, dict) or len(arg) != 1:
                    raise RenderError('%s: argument %r is not a one-key mapping' % (sid, arg))
                (k, v), = arg.items()
                if k in kw:
                    raise RenderError('%s: argument %s given twice' % (sid, k))
                kw[k] = v
            self.states[sid] = (fun, kw, name)
            self.raw[sid] = body

    def of(self, fun):
        return {sid: kw for sid, (f, kw, _) in self.states.items() if f == fun}


# --------------------------------------------------------------------- structural checks

# State functions the formula may use: Salt's own and those of Qubes'
# qubes-mgmt-salt-dom0-qvm (_states/ext_state_qvm.py).
KNOWN_FUNCTIONS = {
    'qvm.vm', 'qvm.present', 'qvm.absent', 'qvm.exists', 'qvm.missing', 'qvm.prefs',
    'qvm.service', 'qvm.features', 'qvm.tags', 'qvm.devices', 'qvm.firewall',
    'qvm.running', 'qvm.halted', 'qvm.start', 'qvm.shutdown', 'qvm.kill', 'qvm.clone',
    'qvm.template_installed',
    'pkg.installed', 'pkg.removed', 'pkg.purged',
    'file.managed', 'file.absent', 'file.directory', 'file.symlink', 'file.append',
    'file.blockreplace', 'file.replace', 'file.line',
    'cmd.run', 'test.fail_without_changes',
    'service.enabled', 'service.disabled', 'service.running', 'service.dead',
}
QVM_VM_ACTIONS = {'exists', 'running', 'missing', 'halted', 'absent', 'present', 'clone',
                  'prefs', 'devices', 'service', 'features', 'firewall', 'tags', 'unpause',
                  'pause', 'shutdown', 'kill', 'start', 'run'}
REQUISITES = {'require', 'watch', 'onchanges', 'onfail', 'prereq', 'use', 'listen'}
REQUISITES |= {r + '_in' for r in list(REQUISITES)} | {r + '_any' for r in ('require', 'watch', 'onchanges', 'onfail')}
GUARDS = {'unless', 'onlyif', 'creates', 'onchanges'}
# Salt's own keywords every state takes (requisites, guards, name, ...)
SALT_KEYWORDS = REQUISITES | GUARDS | {'name', 'order', 'failhard', 'reload_modules', 'retry'}

# What Qubes 4.2's qvm state module accepts, written by hand from
# QubesOS/qubes-mgmt-salt-dom0-qvm, branch release4.2 (version 4.2.1, commit
# bc98abb8): _states/ext_state_qvm.py passes the keyword arguments to the
# functions of _modules/ext_module_qvm.py, whose argparse definitions are the
# list below; qubes-mgmt-salt-base's module_utils.ModuleBase also pops
# status-mode, debug-mode and run-post-hook. An unknown keyword is not an
# error there: create_argv_list() only looks at the keywords it knows, so a
# misspelt or unsupported one (keyboard_layout in qvm.prefs, say) is silently
# dropped. Hence this table.
_QVM_COMMON = {'status-mode', 'debug-mode', 'run-post-hook'}
QVM_PREFS_42 = {
    'autostart', 'debug', 'default-user', 'default_user', 'default-dispvm', 'default_dispvm',
    'management-dispvm', 'management_dispvm', 'guivm', 'audiovm', 'template-for-dispvms',
    'template_for_dispvms', 'dispvm-allowed', 'virt-mode', 'virt_mode', 'label', 'last-backup',
    'last_backup', 'include-in-backups', 'include_in_backups', 'installed-by-rpm',
    'installed_by_rpm', 'ip', 'kernel', 'kernelopts', 'mac', 'maxmem', 'memory', 'netvm',
    'pci-strictreset', 'pci_strictreset', 'pcidevs', 'provides-network', 'template',
    'qrexec-timeout', 'qrexec_timeout', 'updateable', 'vcpus', 'action', 'get', 'set'}
QVM_ARGS_42 = {
    'qvm.prefs': QVM_PREFS_42,
    # qvm.present -> module qvm.create
    'qvm.present': {'template', 'label', 'class', 'mem', 'vcpus', 'root-move-from',
                    'root-copy-from', 'flags'},
    'qvm.service': {'list', 'enable', 'disable', 'default'},
    'qvm.features': {'list', 'enable', 'disable', 'default', 'set'},
    'qvm.tags': {'list', 'add', 'present', 'del', 'absent'},
    'qvm.template_installed': {'fromrepo', 'pool'},
    'qvm.absent': {'flags', 'just-db', 'quiet', 'force-root'},
    'qvm.exists': set(), 'qvm.missing': set(),
    'qvm.shutdown': {'flags', 'quiet', 'kill', 'force', 'wait', 'all', 'exclude'},
    # qvm.vm: the actions (validated by structure_problems) and their lists
    'qvm.vm': {'actions', 'exists', 'running', 'missing', 'halted', 'absent', 'present', 'clone',
               'prefs', 'devices', 'service', 'features', 'firewall', 'tags', 'unpause', 'pause',
               'shutdown', 'kill', 'start', 'run'},
}
QVM_LABELS_42 = {'red', 'yellow', 'green', 'blue', 'purple', 'orange', 'gray', 'black'}


def qvm_argument_problems(hs):
    """Every qvm.* state's keyword arguments against QVM_ARGS_42."""
    problems = []
    for sid, (fun, kw, sls) in sorted(hs.states.items()):
        if not fun.startswith('qvm.'):
            continue
        if fun not in QVM_ARGS_42:
            problems.append('%s: %s is not in the 4.2 table' % (sid, fun))
            continue
        for k, v in kw.items():
            if k in SALT_KEYWORDS:
                continue
            if k not in QVM_ARGS_42[fun] | _QVM_COMMON:
                problems.append('%s: %s does not take %s (4.2 drops it silently)' % (sid, fun, k))
            elif fun in ('qvm.service', 'qvm.features', 'qvm.tags') and k != 'set' and \
                    not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                problems.append('%s: %s %s must be a list of names, got %r' % (sid, fun, k, v))
            elif fun == 'qvm.features' and k == 'set' and not (
                    isinstance(v, list) and all(isinstance(x, dict) and len(x) == 1 and
                                                all(isinstance(y, str) for y in x.values())
                                                for x in v)):
                problems.append('%s: qvm.features set must be a list of one-key mappings '
                                'with string values, got %r' % (sid, v))
            elif k == 'label' and v not in QVM_LABELS_42:
                problems.append('%s: label %r' % (sid, v))
            elif fun == 'qvm.prefs' and k in ('memory', 'maxmem', 'vcpus') and \
                    not isinstance(v, int):
                problems.append('%s: %s must be an integer, got %r' % (sid, k, v))
            elif fun == 'qvm.prefs' and k == 'autostart' and not isinstance(v, bool):
                problems.append('%s: autostart must be a boolean, got %r' % (sid, v))
    return problems


def structure_problems(hs):
    problems = []
    for sid, (fun, kw, sls) in sorted(hs.states.items()):
        if fun not in KNOWN_FUNCTIONS:
            problems.append('%s (%s): unknown state function %s' % (sid, sls, fun))
        if 'name' not in kw and 'pkgs' not in kw:
            problems.append('%s: no name' % sid)
        if fun == 'qvm.vm':
            for action in kw.get('actions', []):
                a = list(action)[0] if isinstance(action, dict) else action
                if a not in QVM_VM_ACTIONS:
                    problems.append('%s: unknown qvm.vm action %s' % (sid, a))
                elif a not in kw:
                    problems.append('%s: action %s has no arguments entry' % (sid, a))
            for k in kw:
                if k not in QVM_VM_ACTIONS | {'name', 'actions'} | REQUISITES | GUARDS:
                    problems.append('%s: qvm.vm does not take %s' % (sid, k))
        if fun == 'cmd.run' and not GUARDS & set(kw):
            problems.append('%s: cmd.run without unless/onlyif/creates/onchanges is not idempotent' % sid)
        if fun == 'file.managed':
            if ('source' in kw) == ('contents' in kw):
                problems.append('%s: file.managed needs exactly one of source, contents' % sid)
            if 'mode' in kw and not re.fullmatch(r'0[0-7]{3}', str(kw['mode'])):
                problems.append('%s: mode %r is not a quoted octal string' % (sid, kw['mode']))
        for req in REQUISITES & set(kw):
            refs = kw[req]
            if not isinstance(refs, list):
                problems.append('%s: %s is not a list' % (sid, req))
                continue
            for ref in refs:
                if not isinstance(ref, dict) or len(ref) != 1:
                    problems.append('%s: %s entry %r is not "module: ID"' % (sid, req, ref))
                    continue
                (mod, target), = ref.items()
                if target not in hs.states:
                    problems.append('%s: %s names %s: %s, which is not an ID' % (sid, req, mod, target))
                elif hs.states[target][0].split('.')[0] != mod:
                    problems.append('%s: %s names %s: %s, but that ID is a %s state'
                                    % (sid, req, mod, target, hs.states[target][0]))
    # requisite cycles (Salt refuses "recursive requisites")
    edges = {sid: set() for sid in hs.states}
    for sid, (_, kw, _) in hs.states.items():
        for req in REQUISITES & set(kw):
            for ref in kw[req] if isinstance(kw[req], list) else []:
                if isinstance(ref, dict) and len(ref) == 1:
                    target = list(ref.values())[0]
                    if target in edges:
                        if req.endswith('_in'):
                            edges[target].add(sid)
                        else:
                            edges[sid].add(target)
    state = {}

    def visit(node, path):
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                problems.append('requisite cycle: %s' % ' -> '.join(path + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2
    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return problems


def source_problems(hs, pillar, grains):
    problems = []
    for sid, kw in hs.of('file.managed').items():
        src = kw.get('source')
        if src is None:
            continue
        if not src.startswith('salt://'):
            problems.append('%s: source %s is not salt://' % (sid, src))
            continue
        rel = src[len('salt://'):]
        if not os.path.isfile(os.path.join(SALT, rel)):
            problems.append('%s: %s does not exist under salt/' % (sid, src))
            continue
        if kw.get('template') == 'jinja':
            out = render_text(rel, pillar, grains, kw.get('context') or {})
            if '{{' in out or '{%' in out:
                problems.append('%s: %s left Jinja in its output' % (sid, src))
        elif kw.get('template') is not None:
            problems.append('%s: unexpected template %r' % (sid, kw['template']))
    return problems


POLICY_DIR = '/etc/qubes/policy.d/'
POLICY_NAME = re.compile(r'[0-9]{2}-[0-9a-z_.-]+\.policy\Z')


def policy_files(hs):
    """{path: contents} of the policy.d files the states write."""
    out = {}
    for sid, kw in hs.of('file.managed').items():
        name = kw['name']
        if name.startswith(POLICY_DIR) and not name.startswith(POLICY_DIR + 'include/'):
            out[name] = kw.get('contents')
    return out


# --------------------------------------------------------------------- qrexec policy grammar

class PolicySyntaxError(Exception):
    pass


# qrexec's RPCNAME_ALLOWED_CHARSET; '+' only separates the argument
RPC_CHARS = set(string.ascii_letters + string.digits + '+-._')
QUBE_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_.-]{0,30}\Z')
TAG_CHARS = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*\Z')
VM_TYPES = {'AdminVM', 'AppVM', 'DispVM', 'StandaloneVM', 'TemplateVM'}
# where each token may appear (qrexec/policy/parser.py: Source, Target, Redirect)
SOURCE_TOKENS = {'name', '@adminvm', '@anyvm', '@type:', '@tag:', '@dispvm:', '@dispvm:@tag:'}
TARGET_TOKENS = SOURCE_TOKENS | {'@default', '@dispvm'}
REDIRECT_TOKENS = {'name', '@adminvm', '@dispvm', '@dispvm:'}
ACTION_PARAMS = {
    'allow': {'target', 'user', 'notify', 'autostart'},
    'deny': {'notify'},
    'ask': {'target', 'default_target', 'user', 'notify', 'autostart'},
}
MAX_CALL_NAME = 63   # qrexec's service_name[64] field, NUL included


def token_kind(tok):
    if tok == 'dom0':
        return '@adminvm'
    if not tok.startswith('@'):
        if not QUBE_NAME.match(tok):
            raise PolicySyntaxError('invalid qube name %r' % tok)
        return 'name'
    if tok in ('@adminvm', '@anyvm', '@default', '@dispvm'):
        return tok
    for prefix in ('@dispvm:@tag:', '@type:', '@tag:', '@dispvm:'):
        if tok.startswith(prefix):
            value = tok[len(prefix):]
            if not value or value.startswith('@'):
                raise PolicySyntaxError('invalid %s token %r' % (prefix, tok))
            if prefix == '@type:' and value not in VM_TYPES:
                raise PolicySyntaxError('unknown qube type %r' % tok)
            if prefix in ('@tag:', '@dispvm:@tag:') and not TAG_CHARS.match(value):
                raise PolicySyntaxError('invalid tag in %r' % tok)
            if prefix == '@dispvm:' and not QUBE_NAME.match(value):
                raise PolicySyntaxError('invalid qube name in %r' % tok)
            return prefix
    raise PolicySyntaxError('invalid token %r' % tok)


class Rule:
    def __init__(self, service, argument, source, target, action, params, where=''):
        self.where = where
        if service != '*':
            if not service or set(service) - (RPC_CHARS - {'+'}):
                raise PolicySyntaxError('invalid service %r' % service)
        if argument != '*':
            if not argument.startswith('+') or set(argument) - RPC_CHARS:
                raise PolicySyntaxError('invalid argument %r' % argument)
            if service == '*':
                raise PolicySyntaxError('only * argument allowed for * service')
            if len(service) + len(argument) > MAX_CALL_NAME:
                raise PolicySyntaxError('service and argument longer than %d' % MAX_CALL_NAME)
        if token_kind(source) not in SOURCE_TOKENS:
            raise PolicySyntaxError('%r cannot be a source' % source)
        if token_kind(target) not in TARGET_TOKENS:
            raise PolicySyntaxError('%r cannot be a target' % target)
        if action not in ACTION_PARAMS:
            raise PolicySyntaxError('invalid action %r' % action)
        kw = {}
        for param in params:
            if '=' not in param:
                raise PolicySyntaxError('invalid action parameter syntax %r' % param)
            key, value = param.split('=', 1)
            if key in kw:
                raise PolicySyntaxError('parameter given twice: %r' % key)
            if key not in ACTION_PARAMS[action]:
                raise PolicySyntaxError('invalid parameter %r for %s' % (key, action))
            if key in ('notify', 'autostart') and value not in ('yes', 'no'):
                raise PolicySyntaxError('%s can be only yes or no' % key)
            if key in ('target', 'default_target') and token_kind(value) not in REDIRECT_TOKENS:
                raise PolicySyntaxError('%r cannot be a %s= value' % (value, key))
            if key == 'user' and not re.fullmatch(r'[a-z_][a-z0-9_-]*', value):
                raise PolicySyntaxError('invalid user %r' % value)
            kw[key] = value
        if token_kind(target) == '@default' and action == 'allow' and 'target' not in kw:
            raise PolicySyntaxError('allow action for @default rule must specify target=')
        norm = (lambda t: '@adminvm' if t == 'dom0' else t)
        self.service = None if service == '*' else service
        self.argument = None if argument == '*' else argument
        self.source = norm(source)
        self.target = norm(target)
        self.action = action
        self.params = {k: norm(v) for k, v in kw.items()}


def parse_policy(text, name='<policy>'):
    """A policy.d file (new format). Returns the rules; raises PolicySyntaxError."""
    rules = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = '%s:%d' % (name, lineno)
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        try:
            if line.startswith('!'):
                directive, *params = line.split()
                nparams = {'!include': 1, '!include-dir': 1, '!include-service': 3,
                           '!compat-4.0': 0}.get(directive)
                if nparams is None:
                    raise PolicySyntaxError('invalid directive %r' % directive)
                if len(params) != nparams:
                    raise PolicySyntaxError('invalid number of params')
                continue
            fields = line.split()
            if len(fields) < 5:
                raise PolicySyntaxError('wrong number of fields')
            service, argument, source, target, action, *params = fields
            rules.append(Rule(service, argument, source, target, action, params, where))
        except PolicySyntaxError as exc:
            raise PolicySyntaxError('%s: %s: %s' % (where, exc, line))
    return rules


def parse_include(text, service, argument, name='<include>'):
    """An include file for !include-service (the old per-service syntax)."""
    rules = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = '%s:%d' % (name, lineno)
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        line = line.replace('$', '@')
        try:
            if line.startswith('!'):
                raise PolicySyntaxError('invalid directive')
            fields = line.split()
            if len(fields) < 3:
                raise PolicySyntaxError('wrong number of fields')
            source, target, action, *params = fields
            params = [p for chunk in params for p in chunk.split(',')]
            rules.append(Rule(service, argument, source, target, action, params, where))
        except PolicySyntaxError as exc:
            raise PolicySyntaxError('%s: %s: %s' % (where, exc, line))
    return rules


# --------------------------------------------------------------------- policy evaluation

class System:
    """Qubes as qrexec's system_info sees them."""

    def __init__(self):
        self.domains = {'dom0': {'type': 'AdminVM', 'tags': set(), 'dvm': False,
                                 'default_dispvm': None}}

    def add(self, name, tags=(), dvm=False, kind='AppVM', default_dispvm=None):
        d = self.domains.setdefault(name, {'type': kind, 'tags': set(), 'dvm': dvm,
                                           'default_dispvm': default_dispvm})
        d['tags'] |= set(tags)
        d['dvm'] = d['dvm'] or dvm
        return d


def match_source(tok, source, system):
    if tok == '@anyvm':
        return source != 'dom0'
    if tok == '@adminvm':
        return source == 'dom0'
    if tok.startswith('@tag:'):
        return source in system.domains and tok[5:] in system.domains[source]['tags']
    if tok.startswith('@type:'):
        return source in system.domains and system.domains[source]['type'] == tok[6:]
    if tok.startswith('@dispvm:'):
        return False    # no disposables call in these checks
    return tok == source


def match_target(tok, target, source, system):
    """target: a qube name, '@adminvm', '@default', '@dispvm' or '@dispvm:NAME'."""
    if target == '@dispvm':
        base = system.domains.get(source, {}).get('default_dispvm')
        resolved = '@dispvm:' + base if base else None
    else:
        resolved = target
    if tok == '@anyvm':
        return target != '@adminvm'
    if tok in ('@adminvm', '@default', '@dispvm'):
        return tok == target
    if tok.startswith('@dispvm:@tag:'):
        if not resolved or not resolved.startswith('@dispvm:'):
            return False
        d = system.domains.get(resolved[8:])
        return bool(d and d['dvm'] and tok[13:] in d['tags'])
    if tok.startswith('@dispvm:'):
        return tok == resolved
    if target.startswith('@'):
        return False
    d = system.domains.get(target)
    if tok.startswith('@tag:'):
        return bool(d) and tok[5:] in d['tags']
    if tok.startswith('@type:'):
        return bool(d) and d['type'] == tok[6:]
    return tok == target


def first_match(rules, service, argument, source, target, system):
    for rule in rules:
        if rule.service not in (None, service) or rule.argument not in (None, argument):
            continue
        if match_source(rule.source, source, system) and \
                match_target(rule.target, target, source, system):
            return rule
    return None


# Qubes 4.2's Admin API methods and the one include file 90-admin-default.policy
# sends each of them to, written by hand from QubesOS/qubes-core-admin branch
# release4.2 (4.2.39): generate-admin-policy writes "!include-service METHOD *
# include/admin-SCOPE-RWX" from each method's classifiers in qubes/api/admin.py
# (scope local/global; rwx when write or execute, else ro), and
# 90-admin-default.policy.header adds admin.vm.Console, volume.Import(WithSize)
# (local-rwx) and the mic device class. Note the 4.2 oddities: admin.vm.Remove
# and admin.vm.CreateDisposable are global, admin.backup.Info is local.
_LOCAL_RO_42 = [
    'admin.vm.property.List', 'admin.vm.property.Get', 'admin.vm.property.GetAll',
    'admin.vm.property.GetDefault', 'admin.vm.property.Help', 'admin.vm.volume.List',
    'admin.vm.volume.Info', 'admin.vm.volume.ListSnapshots', 'admin.vm.tag.List', 'admin.vm.tag.Get',
    'admin.vm.feature.List', 'admin.vm.feature.Get', 'admin.vm.feature.CheckWithTemplate',
    'admin.vm.feature.CheckWithNetvm', 'admin.vm.feature.CheckWithAdminVM',
    'admin.vm.feature.CheckWithTemplateAndAdminVM', 'admin.vm.firewall.Get', 'admin.backup.Info',
    'admin.vm.CurrentState'] + ['admin.vm.device.%s.%s' % (c, m) for c in ('pci', 'block', 'usb', 'mic')
                                for m in ('Available', 'List')]
_LOCAL_RWX_42 = [
    'admin.vm.property.Set', 'admin.vm.property.Reset', 'admin.vm.volume.Revert',
    'admin.vm.volume.CloneFrom', 'admin.vm.volume.CloneTo', 'admin.vm.volume.Resize',
    'admin.vm.volume.Clear', 'admin.vm.volume.Set.revisions_to_keep', 'admin.vm.volume.Set.rw',
    'admin.vm.volume.Set.ephemeral', 'admin.vm.tag.Set', 'admin.vm.tag.Remove', 'admin.vm.Console',
    'admin.vm.Start', 'admin.vm.Shutdown', 'admin.vm.Pause', 'admin.vm.Unpause', 'admin.vm.Kill',
    'admin.vm.feature.Remove', 'admin.vm.feature.Set', 'admin.vm.firewall.Set',
    'admin.vm.firewall.Reload', 'admin.vm.volume.Import', 'admin.vm.volume.ImportWithSize'] + [
    'admin.vm.device.%s.%s' % (c, m) for c in ('pci', 'block', 'usb', 'mic')
    for m in ('Attach', 'Detach', 'Set.persistent')]
_GLOBAL_RO_42 = [
    'admin.vmclass.List', 'admin.vm.List', 'admin.property.List', 'admin.property.Get',
    'admin.property.GetAll', 'admin.property.GetDefault', 'admin.property.Help', 'admin.pool.List',
    'admin.pool.ListDrivers', 'admin.pool.Info', 'admin.pool.UsageDetails', 'admin.pool.volume.List',
    'admin.label.List', 'admin.label.Get', 'admin.label.Index', 'admin.Events',
    'admin.deviceclass.List', 'admin.vm.Stats']
_GLOBAL_RWX_42 = [
    'admin.property.Set', 'admin.property.Reset', 'admin.pool.Add', 'admin.pool.Remove',
    'admin.pool.Set.revisions_to_keep', 'admin.pool.Set.ephemeral_volatile', 'admin.label.Create',
    'admin.label.Remove', 'admin.vm.CreateDisposable', 'admin.vm.Remove', 'admin.backup.Execute',
    'admin.backup.Cancel'] + ['admin.vm.%s.%s' % (c, t) for c in ('Create', 'CreateInPool')
                              for t in ('AppVM', 'DispVM', 'StandaloneVM', 'TemplateVM')]
ADMIN_INCLUDE_42 = {}
for _names, _inc in ((_LOCAL_RO_42, 'admin-local-ro'), (_LOCAL_RWX_42, 'admin-local-rwx'),
                     (_GLOBAL_RO_42, 'admin-global-ro'), (_GLOBAL_RWX_42, 'admin-global-rwx')):
    for _m in _names:
        ADMIN_INCLUDE_42[_m] = _inc
# The stock include files (4.2): each -ro file includes its -rwx file first,
# then its own lines; the -rwx files hold only comments. There is no path
# from a local method to a global file or back.
STOCK_INCLUDES_42 = {
    'admin-local-ro': '!include include/admin-local-rwx\n',
    'admin-local-rwx': '',
    'admin-global-ro': '!include include/admin-global-rwx\n',
    'admin-global-rwx': '',
}
# The lines of 4.2's 90-default.policy for the services the checks ask about
# (same branch, qubes-rpc-policy/90-default.policy); it comes after
# 90-admin-default.policy, which holds only !include-service lines.
DEFAULT_POLICY_42 = """
qubes.Filecopy          *  @anyvm  @anyvm   ask
qubes.GetImageRGBA      *  @anyvm  @dispvm  allow
qubes.GetImageRGBA      *  @anyvm  @anyvm   ask
qubes.OpenInVM          *  @anyvm  @dispvm  allow
qubes.OpenInVM          *  @anyvm  @anyvm   ask
qubes.OpenURL           *  @anyvm  @dispvm  allow
qubes.OpenURL           *  @anyvm  @anyvm   ask
qubes.StartApp          *  @anyvm  @dispvm  allow
qubes.StartApp          *  @anyvm  @anyvm   ask
qubes.SyncAppMenus      *  @anyvm  dom0     allow
qubes.VMShell           *  @anyvm  @dispvm  allow
qubes.VMShell           *  @anyvm  @anyvm   deny
qubes.VMRootShell       *  @anyvm  @anyvm   deny
qubes.VMExec            *  @anyvm  @dispvm  allow
qubes.VMExec            *  @anyvm  @anyvm   deny
qubes.VMExecGUI         *  @anyvm  @dispvm  allow
qubes.VMExecGUI         *  @anyvm  @anyvm   deny
qubes.ClipboardPaste    *  @anyvm  @anyvm   ask
"""
ESCAPE_SERVICES = ['qubes.VMShell', 'qubes.VMRootShell', 'qubes.VMExec', 'qubes.VMExecGUI',
                   'qubes.OpenURL', 'qubes.OpenInVM', 'qubes.Filecopy']

ADMIN_CLASS = {m: inc[len('admin-'):] for m, inc in ADMIN_INCLUDE_42.items()}
ADMIN_CLASS.update({'policy.Replace': 'policy-rwx', 'policy.include.Replace': 'policy-rwx'})
WRITE_METHODS = sorted(m for m, c in ADMIN_CLASS.items() if c.endswith('rwx'))
READ_METHODS = sorted(m for m, c in ADMIN_CLASS.items() if c.endswith('-ro'))
# methods whose target is a qube (not dom0): local ones, and 4.2's two
# "global" methods that name a qube
PER_QUBE_METHODS = {m for m, c in ADMIN_CLASS.items() if c.startswith('local')} | {
    'admin.vm.Remove', 'admin.vm.CreateDisposable'}
GUI_SERVICES = ['qubes.StartApp', 'qubes.GetImageRGBA', 'qubes.GetAppmenus',
                'qubes.SetMonitorLayout', 'qubes.WaitForSession', 'qubes.ClipboardCopy',
                'qubes.ClipboardPaste']


def include_rules(name, service, added, seen=()):
    """The rules an !include-service of include/NAME yields for service,
    following !include lines as qrexec 4.2 does (load_policy_file_service)."""
    if name in seen:
        raise PolicySyntaxError('circular include %s' % name)
    rules = []
    text = STOCK_INCLUDES_42[name] + added.get(name, '')
    own = []
    for line in text.splitlines():
        if line.strip().startswith('!include '):
            if own:
                rules += parse_include('\n'.join(own), service, '*', name)
                own = []
            rules += include_rules(line.split()[1][len('include/'):], service, added,
                                   seen + (name,))
        else:
            own.append(line)
    return rules + parse_include('\n'.join(own), service, '*', name)


class Policy:
    """Qubes 4.2's policy.d as the formula leaves it, for one request:
    45-guivm-stack.policy, then 90-admin-default.policy (the method's include
    file: stock content plus what the states add, `include`), then
    90-default.policy (DEFAULT_POLICY_42), then qrexec's default deny."""

    def __init__(self, rules, include, system):
        self.rules = rules
        self.include = include      # {'admin-global-rwx': added text}
        self.system = system
        self.default = parse_policy(DEFAULT_POLICY_42, '90-default.policy')

    def decide(self, service, argument, source, target):
        rules = list(self.rules)
        if service in ADMIN_INCLUDE_42:
            rules += include_rules(ADMIN_INCLUDE_42[service], service, self.include)
        rules += self.default
        rule = first_match(rules, service, argument, source, target, self.system)
        if rule:
            return rule.action, rule.where
        return 'default-deny', None

    def allowed(self, service, argument, source, target):
        return self.decide(service, argument, source, target)[0] in ('allow', 'ask')


# --------------------------------------------------------------------- the formula, rendered

def dom0_grains():
    return {'id': 'dom0', 'os_family': 'RedHat', 'os': 'Fedora'}


def template_grains(name, family='Debian'):
    return {'id': name, 'os_family': family, 'os': family}


class Variant:
    def __init__(self, label, pillar_file):
        self.label = label
        self.pillar_file = pillar_file
        self.pillar = load_pillar(pillar_file)
        g = dom0_grains()
        top, _ = render_yaml('guivm-stack/deploy.top', self.pillar, g)
        self.top = top
        self.revert_top, _ = render_yaml('guivm-stack/revert.top', self.pillar, g)
        self.dom0 = Highstate(self.top_sls(top, 'dom0'), self.pillar, g)
        self.templates = sorted(t for t in top['base'] if t != 'dom0')
        self.template_hs = {t: Highstate(self.top_sls(top, t), self.pillar, template_grains(t))
                            for t in self.templates}
        self.revert = Highstate(self.top_sls(self.revert_top, 'dom0'), self.pillar, g)
        self.template_revert = {t: Highstate(self.top_sls(self.revert_top, t), self.pillar,
                                             template_grains(t))
                                for t in self.templates}
        self.policies = policy_files(self.dom0)
        self.policy_text = self.policies.get(POLICY_DIR + '45-guivm-stack.policy') or ''
        self.rules = parse_policy(self.policy_text, '45-guivm-stack.policy')

    @staticmethod
    def top_sls(top, target):
        return [x for x in top['base'].get(target, []) if isinstance(x, str)]

    def guivms(self):
        return sorted(kw['name'] for kw in self.dom0.of('qvm.present').values())

    def include_blocks(self):
        """{include file name: added text} from the file.blockreplace states."""
        out = {}
        for kw in self.dom0.of('file.blockreplace').values():
            out[os.path.basename(kw['name'])] = kw['content']
        return out

    def system(self, extra=()):
        """Qubes after the create states ran: the GUI qubes, each listed
        qube with its guivm (qubesd adds the guivm-NAME tag) and tags, plus
        `extra` (name, tags, dvm) fixtures."""
        s = System()
        # Qubes' global default_dispvm, which every qube without its own uses
        s.add('default-dvm', ['guivm-dom0'], dvm=True)
        for name in self.guivms():
            d = s.add(name, ['guivm-dom0'], default_dispvm='default-dvm')
            for kw in self.dom0.of('qvm.prefs').values():
                if kw['name'] == name and 'default_dispvm' in kw:
                    d['default_dispvm'] = kw['default_dispvm'] or None
        for kw in self.dom0.of('qvm.prefs').values():
            if kw.get('guivm') and kw['guivm'] != 'dom0':
                s.add(kw['name'], ['guivm-' + kw['guivm']], dvm=kw['name'].endswith('-dvm'),
                      default_dispvm='default-dvm')
        for kw in self.dom0.of('qvm.tags').values():
            s.add(kw['name'], kw.get('add', []))
        for name, tags, dvm in extra:
            s.add(name, tags, dvm=dvm)
        for t in self.templates:
            s.add(t, ['guivm-dom0'], kind='TemplateVM')
        s.add('vault')          # nobody's qube
        return s

    def policy(self, extra=(), stale=None):
        include = {k: v for k, v in self.include_blocks().items()}
        for k, v in (stale or {}).items():
            include[k] = include.get(k, '') + v
        return Policy(self.rules, include, self.system(extra))


# --------------------------------------------------------------------- checks: structure

def structural_checks(v):
    for target, hs in [('dom0', v.dom0)] + sorted(v.template_hs.items()):
        tgrains = dom0_grains() if target == 'dom0' else template_grains(target)
        check('%s/%s: every state uses a known state function; requisites name existing IDs '
              'of the same module without cycles; cmd.run guarded (%d states)'
              % (v.label, target, len(hs.states)), lambda hs=hs: structure_problems(hs))
        check('%s/%s: every salt:// source exists and renders' % (v.label, target),
              lambda hs=hs, g=tgrains: source_problems(hs, v.pillar, g))
    for target, hs in [('dom0', v.revert)] + sorted(v.template_revert.items()):
        check('%s/%s revert: known functions, valid requisites, guarded cmd.run (%d states)'
              % (v.label, target, len(hs.states)), lambda hs=hs: structure_problems(hs))

    for target, hs in [('dom0', v.dom0), ('dom0 revert', v.revert)]:
        check('%s/%s: every qvm.* state\'s keyword arguments are ones Qubes 4.2\'s qvm state '
              'module accepts (hand-written table)' % (v.label, target),
              lambda hs=hs: qvm_argument_problems(hs))

    def package_names():
        names = {}
        for line in open(os.path.join(ROOT, 'packaging', 'names')):
            if line.strip() and not line.startswith('#'):
                role, name = line.split()[:2]
                names[role] = name
        problems = []
        for family in ('Debian', 'RedHat'):
            hs = Highstate(['guivm-stack.template'], v.pillar, template_grains('t', family))
            pkgs = hs.of('pkg.installed')['guivm-stack-template-packages']['pkgs']
            if names['daemon'] not in pkgs:
                problems.append('%s: %s not installed: %r' % (family, names['daemon'], pkgs))
            check_state = hs.of('test.fail_without_changes').get('guivm-stack-daemon-package')
            if not check_state or names['daemon'] not in check_state['unless'] or \
                    names['daemon'] not in check_state['name']:
                problems.append('%s: no clear failure when %s is missing' % (family, names['daemon']))
            req = hs.of('pkg.installed')['guivm-stack-template-packages'].get('require', [])
            if {'test': 'guivm-stack-daemon-package'} not in req:
                problems.append('%s: the packages do not wait for the check' % family)
        for hs in [v.dom0] + list(v.template_hs.values()):
            for kw in hs.of('pkg.installed').values():
                if names['tools'] in kw.get('pkgs', []) or names['proxy'] in kw.get('pkgs', []):
                    problems.append('installs %r' % kw['pkgs'])
        proxy_check = v.dom0.of('test.fail_without_changes').get('guivm-stack-proxy-package')
        if not proxy_check or 'rpm -q --quiet %s' % names['proxy'] != proxy_check['unless']:
            problems.append('no dom0 check of %s: %r' % (names['proxy'], proxy_check))
        for sid, kw in v.dom0.of('file.managed').items():
            if sid.startswith('guivm-stack-xsession') or sid == 'guivm-stack-sessions-conf':
                if not any('guivm-stack-proxy-package' in str(r) or 'sessions-conf' in str(r)
                           for r in kw.get('require', [])):
                    problems.append('%s does not wait for the package check' % sid)
        return problems
    check('%s: package names are packaging/names\'; a missing daemon or proxy package stops '
          'the states after one message; the tools package is never installed' % v.label,
          package_names)

    def ids_unique_across_deploy_and_revert():
        both = set(v.dom0.states) & set(v.revert.states)
        return ['ID %s is in deploy and revert' % i for i in sorted(both)]
    check('%s: deploy and revert IDs are distinct' % v.label, ids_unique_across_deploy_and_revert)

    def policy_names():
        problems = []
        files = set(v.policies)
        for kw in v.dom0.of('file.blockreplace').values():
            if not kw['name'].startswith(POLICY_DIR + 'include/admin-'):
                problems.append('blockreplace outside policy.d/include: %s' % kw['name'])
        if not files:
            problems.append('no policy file written')
        for path in files:
            base = path[len(POLICY_DIR):]
            if '/' in base or not POLICY_NAME.match(base):
                problems.append('%s: policy.d files need NN-name.policy in [0-9a-z_.-]' % path)
        return problems
    check('%s: policy files are /etc/qubes/policy.d/NN-name.policy' % v.label, policy_names)

    def all_lines_parse():
        n = 0
        for path, text in v.policies.items():
            n += len(parse_policy(text, path))
        for name, text in v.include_blocks().items():
            parse_include(text, 'admin.vm.List', '*', name)
        return None if n else 'no rules'
    check('%s: every policy line parses under the policy.d grammar (%d rules)'
          % (v.label, len(v.rules)), all_lines_parse)

    def template_guard():
        problems = []
        for sls in ('guivm-stack/template.sls', 'guivm-stack/template-revert.sls'):
            try:
                render_text(sls, v.pillar, dom0_grains())
                problems.append('%s rendered for dom0' % sls)
            except RenderError:
                pass
        for sls in ('guivm-stack/create.sls', 'guivm-stack/policy.sls', 'guivm-stack/proxy.sls',
                    'guivm-stack/revert.sls'):
            try:
                render_text(sls, v.pillar, template_grains(v.templates[0]))
                problems.append('%s rendered for a template' % sls)
            except RenderError:
                pass
        return problems
    check('%s: dom0 states refuse to render in a template and template states in dom0'
          % v.label, template_guard)

    def init_dispatch():
        d, _ = render_yaml('guivm-stack/init.sls', v.pillar, dom0_grains())
        t, _ = render_yaml('guivm-stack/init.sls', v.pillar, template_grains(v.templates[0]))
        o, _ = render_yaml('guivm-stack/init.sls', v.pillar, template_grains('some-other-vm'))
        return [] if (d['include'] == ['guivm-stack.dom0'] and
                      t['include'] == ['guivm-stack.template'] and
                      o['include'] == []) else ['dispatch: %r %r %r' % (d, t, o)]
    check('%s: init.sls includes dom0 states in dom0, template states in the templates, '
          'nothing elsewhere' % v.label, init_dispatch)

    def top_targets():
        problems = []
        for top, sls in ((v.top, 'guivm-stack.dom0'), (v.revert_top, 'guivm-stack.revert')):
            d0 = top['base'].get('dom0', [])
            if {'match': 'nodegroup'} not in d0 or sls not in d0:
                problems.append('dom0 entry %r' % d0)
        wanted = sorted({kw['template'] for kw in v.dom0.of('qvm.present').values()})
        if v.templates != wanted:
            problems.append('top targets %r, GUI qubes use %r' % (v.templates, wanted))
        return problems
    check('%s: deploy.top and revert.top target dom0 (nodegroup) and every GUI qube template'
          % v.label, top_targets)

    def template_both_families():
        for family in ('Debian', 'RedHat'):
            hs = Highstate(['guivm-stack.template'], v.pillar, template_grains('t', family))
            pkgs = hs.of('pkg.installed')['guivm-stack-template-packages']['pkgs']
            if 'qubes-guivm-stack-daemon' not in pkgs:
                return '%s: %r' % (family, pkgs)
        return None
    check('%s: template state installs qubes-guivm-stack-daemon on Debian and Fedora'
          % v.label, template_both_families)


# --------------------------------------------------------------------- checks: revert

def revert_checks(v):
    def files_removed():
        problems = []
        pairs = [(v.dom0, v.revert)] + [(v.template_hs[t], v.template_revert[t]) for t in v.templates]
        for deploy, revert in pairs:
            removed = {kw['name'] for kw in revert.of('file.absent').values()}
            for sid, kw in deploy.of('file.managed').items():
                path = kw['name']
                if not any(path == r or path.startswith(r.rstrip('/') + '/') for r in removed):
                    problems.append('%s (%s) is not removed by revert' % (path, sid))
        return problems
    check('%s: revert removes every file the deploy writes (dom0 and templates)' % v.label,
          files_removed)

    def blocks_removed():
        problems = []
        stock = '# stock include file\nsys-other @adminvm allow target=dom0\n'
        removers = {kw['name']: kw for kw in v.revert.of('file.replace').values()}
        deploy_removers = {kw['name']: kw for kw in v.dom0.of('file.replace').values()}
        for kw in v.dom0.of('file.blockreplace').values():
            # what file.blockreplace with append_if_not_found leaves in the file
            text = stock + kw['marker_start'] + '\n' + kw['content'] + kw['marker_end'] + '\n'
            rm = removers.get(kw['name'])
            if rm is None:
                problems.append('%s: no file.replace in revert' % kw['name'])
                continue
            flags = 0
            for f in rm.get('flags', []):
                flags |= getattr(re, f)
            out = re.sub(rm['pattern'], rm['repl'], text, flags=flags)
            if out != stock:
                problems.append('%s: revert leaves %r' % (kw['name'], out))
        for path, rm in deploy_removers.items():
            # the deploy removes blocks of tiers nobody asks for, the same way
            flags = 0
            for f in rm.get('flags', []):
                flags |= getattr(re, f)
            text = stock + '# BEGIN guivm-stack (managed by Salt, do not edit)\nx @adminvm allow\n# END guivm-stack\n'
            if re.sub(rm['pattern'], rm['repl'], text, flags=flags) != stock:
                problems.append('%s: deploy does not remove a stale block' % path)
        return problems
    check('%s: blocks added to Qubes\' include files are removed exactly (simulated)' % v.label,
          blocks_removed)

    def qubes_removed():
        problems = []
        removed = {kw['name'] for kw in v.revert.of('qvm.vm').values()
                   if 'absent' in kw and 'onlyif' in kw and 'preexisting' in kw['onlyif']}
        unconf = {kw['name']: kw for kw in v.revert.of('qvm.features').values()}
        for sid, kw in v.dom0.of('qvm.present').items():
            name = kw['name']
            if name not in removed:
                problems.append('GUI qube %s is not removed by revert' % name)
            if name not in unconf or 'preexisting' not in unconf[name].get('onlyif', ''):
                problems.append('pre-existing GUI qube %s is not unconfigured' % name)
                continue
            unset = set(unconf[name]['default'])
            for fk in v.dom0.of('qvm.features').values():
                if fk['name'] == name:
                    keys = set(fk.get('disable', [])) | {list(x)[0] for x in fk.get('set', [])}
                    if keys - unset:
                        problems.append('%s: features %s stay after revert' % (name, sorted(keys - unset)))
            for sk in v.dom0.of('qvm.service').values():
                if sk['name'] == name:
                    keys = {'service.' + s for s in sk.get('enable', [])}
                    if keys - unset:
                        problems.append('%s: services %s stay after revert' % (name, sorted(keys - unset)))
        return problems
    check('%s: revert removes the GUI qubes it created and unconfigures pre-existing ones'
          % v.label, qubes_removed)

    def assignments_reverted():
        problems = []
        cmds = [kw['name'] for kw in v.revert.of('cmd.run').values()]
        for kw in v.dom0.of('qvm.prefs').values():
            if kw.get('guivm') and kw['guivm'] != 'dom0':
                m = kw['name']
                restore = [c for c in cmds if 'qvm-features -- %s "guivm-stack-saved.$p"' % m in c
                           and 'for p in guivm;' in c
                           and 'qvm-prefs --default -- %s guivm' % m in c]
                if not restore:
                    problems.append('guivm of %s is not restored from guivm-stack-saved.guivm '
                                    '(or reset)' % m)
        for kw in v.dom0.of('qvm.tags').values():
            for tag in kw.get('add', []):
                if 'qvm-tags -- %s del %s' % (kw['name'], tag) not in cmds:
                    problems.append('tag %s of %s is not removed' % (tag, kw['name']))
        sets_default = [kw for kw in v.dom0.of('cmd.run').values()
                        if kw['name'].startswith('qubes-prefs default_guivm')]
        if sets_default and 'qubes-prefs default_guivm dom0' not in cmds:
            problems.append('default_guivm is not reset')
        return problems
    check('%s: revert resets guivm, scope tags and default_guivm it set' % v.label,
          assignments_reverted)

    def packages_removed():
        problems = []
        pairs = [(v.dom0, v.revert)] + [(v.template_hs[t], v.template_revert[t]) for t in v.templates]
        for deploy, revert in pairs:
            removed = set()
            for kw in revert.of('pkg.removed').values():
                removed |= set(kw.get('pkgs', [kw.get('name')]))
            for kw in deploy.of('pkg.installed').values():
                for p in kw.get('pkgs', [kw.get('name')]):
                    if p.startswith('qubes-guivm-stack-') and p not in removed:
                        problems.append('package %s stays' % p)
            enabled = {kw['name'] for kw in deploy.of('service.enabled').values()}
            disabled = {kw['name'] for kw in revert.of('service.disabled').values()}
            problems += ['unit %s stays enabled' % u for u in sorted(enabled - disabled)]
        return problems
    check('%s: revert removes the project\'s packages and disables its units' % v.label,
          packages_removed)


# --------------------------------------------------------------------- checks: scope

def rules_of(v, source):
    return [r for r in v.rules if r.source == source]


def no_global_rwx(v, gui):
    problems = []
    inc = v.include_blocks()
    for name in ('admin-global-rwx', 'admin-global-ro', 'admin-local-rwx', 'admin-local-ro'):
        if gui in inc.get(name, '').split():
            problems.append('%s has a line for %s' % (name, gui))
    pol = v.policy()
    for m in ['admin.vm.Create.AppVM', 'admin.vm.Create.StandaloneVM', 'admin.vm.CreateInPool.AppVM',
              'admin.property.Set', 'admin.label.Create', 'admin.pool.Add', 'admin.backup.Execute',
              'policy.Replace']:
        d = pol.decide(m, '+x', gui, '@adminvm')
        if d[0] != 'deny':
            problems.append('%s -> %s by %s (want an explicit deny)' % (m, d[0], d[1]))
    return problems


def must_deny(method):
    """Calls on a qube that our file must deny itself (so that later files
    cannot grant them): GUI services and per-qube Admin API methods. Global
    methods called with a qube as target match no include line anyway."""
    return method in PER_QUBE_METHODS or not method.startswith(('admin.', 'policy.'))


def nothing_on(pol, gui, targets):
    problems = []
    for t in targets:
        for m in WRITE_METHODS + READ_METHODS + GUI_SERVICES:
            for arg in ('+', '+guivm', '+firefox-esr'):
                d = pol.decide(m, arg, gui, t)
                if d[0] in ('allow', 'ask') or (d[0] != 'deny' and must_deny(m)):
                    problems.append('%s %s%s %s -> %s (%s)' % (gui, m, arg, t, d[0], d[1]))
        for d in ('@dispvm:' + t,):
            if pol.allowed('qubes.StartApp', '+firefox-esr', gui, d):
                problems.append('%s may start an app in %s' % (gui, d))
    return problems


def kiosk_checks(v, gui, apps, disposables):
    """apps: {qube: [app]}, disposables: {dvm: [app]} as the pillar lists them."""
    pol = v.policy()
    members = sorted(set(apps) | set(disposables))

    def no_create():
        problems = []
        for r in rules_of(v, gui):
            if r.action != 'deny' and r.service and (
                    r.service.startswith('admin.vm.Create') or r.service in (
                        'admin.vm.Remove', 'admin.vm.CreateDisposable')):
                problems.append('%s grants %s' % (r.where, r.service))
        for m in ('admin.vm.Create.AppVM', 'admin.vm.CreateInPool.AppVM', 'admin.vm.Create.DispVM',
                  'admin.vm.Create.StandaloneVM', 'admin.vm.Create.TemplateVM'):
            if not any(r.service == m and r.action == 'deny' and r.target == '@adminvm'
                       for r in rules_of(v, gui)):
                problems.append('no explicit deny of %s' % m)
        return problems
    check('%s: kiosk %s has no admin.vm.Create*/Remove/CreateDisposable grant and explicit '
          'Create denies' % (v.label, gui), no_create)

    def no_reconfigure():
        problems = []
        for t in members + [gui, 'vault', '@adminvm']:
            for m in WRITE_METHODS:
                for arg in ('+', '+netvm', '+label', '+x'):
                    d = pol.decide(m, arg, gui, t)
                    if d[0] in ('allow', 'ask') or (d[0] != 'deny' and (
                            must_deny(m) or t == '@adminvm')):
                        problems.append('%s%s on %s -> %s (%s)' % (m, arg, t, d[0], d[1]))
        # the one write it keeps: its own keyboard layout
        if not pol.allowed('admin.vm.property.Set', '+keyboard_layout', gui, gui):
            problems.append('cannot set its own keyboard_layout')
        return problems
    check('%s: kiosk %s cannot create, remove, start/stop or reconfigure any qube (every '
          'write method denied on its qubes, itself, others and dom0)' % (v.label, gui),
          no_reconfigure)

    def only_listed_apps():
        problems = []
        for q, alist in apps.items():
            for a in alist:
                if not pol.allowed('qubes.StartApp', '+' + a, gui, q):
                    problems.append('%s in %s is not allowed' % (a, q))
            for a in ('xterm', 'qubes-run-terminal'):
                if pol.allowed('qubes.StartApp', '+' + a, gui, q):
                    problems.append('unlisted %s in %s is allowed' % (a, q))
            if pol.allowed('qubes.StartApp', '+' + alist[0], gui, '@dispvm:' + q):
                problems.append('disposable of %s allowed though not listed' % q)
        for q, alist in disposables.items():
            for a in alist:
                if not pol.allowed('qubes.StartApp', '+' + a, gui, '@dispvm:' + q):
                    problems.append('%s in a disposable of %s is not allowed' % (a, q))
                if pol.allowed('qubes.StartApp', '+' + a, gui, q):
                    problems.append('%s in the disposable template %s itself is allowed' % (a, q))
            if pol.allowed('qubes.StartApp', '+xterm', gui, '@dispvm:' + q):
                problems.append('unlisted xterm in a disposable of %s allowed' % q)
        for t in ('vault', '@dispvm', '@default', gui):
            if pol.allowed('qubes.StartApp', '+firefox-esr', gui, t):
                problems.append('firefox-esr in %s allowed' % t)
        if pol.allowed('qubes.ClipboardPaste', '+', gui, members[0]) or \
                pol.allowed('policy.EvalGUI', '+qubes.ClipboardPaste', gui, '@adminvm'):
            problems.append('clipboard allowed in a kiosk by default')
        return problems
    check('%s: kiosk %s starts only the listed applications, in the listed qubes and '
          'disposables' % (v.label, gui), only_listed_apps)

    def members_displayed():
        guivm_of = {kw['name']: kw['guivm'] for kw in v.dom0.of('qvm.prefs').values()
                    if 'guivm' in kw}
        return ['%s has guivm %s' % (m, guivm_of.get(m)) for m in members if guivm_of.get(m) != gui]
    check('%s: kiosk %s displays its qubes and disposable templates (guivm set)' % (v.label, gui),
          members_displayed)


def scope_default(v):
    gui = 'sys-gui-stack'
    extra = [('work', ['guivm-' + gui], False), ('work-dvm', ['guivm-' + gui], True),
             ('other', ['guivm-dom0'], False)]
    pol = v.policy(extra)

    check('default: one GUI qube %s, managed tier, no default_guivm change' % gui,
          lambda: [] if (v.guivms() == [gui] and not any(
              kw['name'].startswith('qubes-prefs') for kw in v.dom0.of('cmd.run').values())
              and '## GUI qube %s: admin managed' % gui in v.policy_text) else v.guivms())

    check('default: no global read-write (or read-only) Admin API; global writes explicitly '
          'denied', lambda: no_global_rwx(v, gui))

    def stale_grant_shadowed():
        stale = {'admin-global-rwx': '%s @anyvm allow target=dom0\n%s @adminvm allow target=dom0\n'
                 % (gui, gui),
                 'admin-local-rwx': '%s @tag:guivm-%s allow target=dom0\n' % (gui, gui)}
        p = v.policy(extra, stale)
        problems = []
        for m, t in (('admin.vm.Create.AppVM', '@adminvm'), ('admin.property.Set', '@adminvm'),
                     ('admin.vm.property.Set', 'work'), ('admin.vm.Remove', 'work'),
                     ('admin.vm.Start', 'vault'), ('admin.vm.device.pci.Attach', gui)):
            d = p.decide(m, '+x', gui, t)
            if d[0] != 'deny':
                problems.append('%s on %s -> %s (%s)' % (m, t, d[0], d[1]))
        return problems
    check('default: grants left in Qubes\' include files (e.g. by Qubes\' own sys-gui formula) '
          'are shadowed by the explicit denies', stale_grant_shadowed)

    def manages_its_qubes():
        problems = []
        for m in ('admin.vm.Start', 'admin.vm.Shutdown', 'admin.vm.Kill', 'admin.vm.property.Get',
                  'admin.vm.List', 'admin.vm.CurrentState'):
            if not pol.allowed(m, '+', gui, 'work'):
                problems.append('%s on work denied' % m)
        for m in ('admin.vm.property.Set', 'admin.vm.feature.Set', 'admin.vm.tag.Set',
                  'admin.vm.Remove', 'admin.vm.device.pci.Attach', 'admin.vm.volume.Import'):
            if pol.allowed(m, '+netvm', gui, 'work'):
                problems.append('%s on work allowed in the managed tier' % m)
        for s in ('qubes.StartApp', 'qubes.GetImageRGBA', 'qubes.SetMonitorLayout',
                  'qubes.ClipboardPaste'):
            if not pol.allowed(s, '+', gui, 'work'):
                problems.append('%s to work denied' % s)
        if not pol.allowed('qubes.StartApp', '+firefox', gui, '@dispvm:work-dvm'):
            problems.append('disposable of its work-dvm denied')
        if not pol.allowed('policy.EvalGUI', '+qubes.ClipboardPaste', gui, '@adminvm'):
            problems.append('policy.EvalGUI denied')
        if not pol.allowed('qubes.SyncAppMenus', '+', 'work', '@adminvm'):
            problems.append('SyncAppMenus of work not redirected')
        d = first_match(v.rules, 'qubes.SyncAppMenus', '+', 'work', '@adminvm', pol.system)
        if not d or d.params.get('target') != gui:
            problems.append('SyncAppMenus of work goes to %s' % (d and d.params))
        return problems
    check('default: %s may start, stop and read the qubes it displays, start apps and '
          'disposables in them, but not reconfigure them' % gui, manages_its_qubes)

    check('default: %s gets nothing on qubes it does not display (vault, other)' % gui,
          lambda: nothing_on(pol, gui, ['vault', 'other']))

    def no_anyvm_grant():
        return ['%s: %s' % (r.where, r.service) for r in v.rules
                if r.action != 'deny' and r.target in ('@anyvm', '@type:AppVM')]
    check('default: no rule grants anything on @anyvm', no_anyvm_grant)


def scope_read_write(v):
    gui = 'sys-gui-stack'
    pol = v.policy([('work', ['guivm-' + gui], False)])

    def global_rwx():
        problems = []
        inc = v.include_blocks()
        if '%s @adminvm allow target=@adminvm' % gui not in inc.get('admin-global-rwx', ''):
            problems.append('no admin-global-rwx block line: %r' % inc)
        for m in ('admin.vm.Create.AppVM', 'admin.property.Set', 'admin.label.Create',
                  'admin.property.Get', 'admin.pool.List'):
            if not pol.allowed(m, '+x', gui, '@adminvm'):
                problems.append('%s denied' % m)
        for m in ('admin.vm.property.Set', 'admin.vm.Remove', 'admin.vm.Start'):
            if not pol.allowed(m, '+netvm', gui, 'work'):
                problems.append('%s on work denied' % m)
        if pol.allowed('policy.Replace', '+x', gui, '@adminvm'):
            problems.append('policy.Replace allowed')
        return problems
    check('read-write: global read-write Admin API through include/admin-global-rwx, local '
          'read-write on its qubes, never the policy API', global_rwx)

    def default_guivm():
        cmds = [kw for kw in v.dom0.of('cmd.run').values()
                if kw['name'] == 'qubes-prefs default_guivm %s' % gui]
        if not cmds or gui not in cmds[0].get('unless', ''):
            return 'default_guivm not set idempotently: %r' % cmds
        return None
    check('read-write: pillar default-guivm sets default_guivm (guarded by unless)', default_guivm)

    check('read-write: still nothing on qubes it does not display',
          lambda: nothing_on(pol, gui, ['vault']))


def scope_multi_user(v):
    guis = {'sys-gui-alice': 'user-alice', 'sys-gui-bob': 'user-bob', 'sys-gui-guest': 'user-guest'}
    pol = v.policy()
    system = pol.system

    check('multi-user: three GUI qubes with their own tags',
          lambda: [] if v.guivms() == sorted(guis) else v.guivms())

    def members_assigned():
        problems = []
        for name, d in system.domains.items():
            if name in guis or name in ('dom0', 'vault', 'default-dvm') or name in v.templates:
                continue
            owners = [g for g, t in guis.items() if t in d['tags']]
            gtags = [t for t in d['tags'] if t.startswith('guivm-')]
            if len(owners) != 1 or gtags != ['guivm-' + owners[0]]:
                problems.append('%s: tags %s' % (name, sorted(d['tags'])))
        return problems
    check('multi-user: every listed qube gets exactly its user\'s GUI qube as guivm and its tag',
          members_assigned)

    def own_qubes(gui):
        return sorted(n for n, d in system.domains.items() if guis[gui] in d['tags'])

    for gui in sorted(guis):
        others = sorted(n for g in guis if g != gui for n in own_qubes(g)) + \
            sorted(g for g in guis if g != gui) + ['vault']
        check('multi-user: %s gets nothing on other users\' qubes, other GUI qubes or vault '
              '(%d qubes, every method and GUI service)' % (gui, len(others)),
              lambda gui=gui, others=others: nothing_on(pol, gui, others))

        def no_foreign_tag(gui=gui):
            problems = []
            for r in rules_of(v, gui):
                if r.action == 'deny':
                    continue
                for t in [r.target] + list(r.params.values()):
                    for g2, tag in guis.items():
                        if g2 != gui and (tag in t or g2 in t):
                            problems.append('%s: %s names %s' % (r.where, r.service, t))
            return problems
        check('multi-user: no grant of %s names another user\'s tag or GUI qube' % gui,
              no_foreign_tag)

    def tiers():
        problems = []
        a, b = 'sys-gui-alice', 'sys-gui-bob'
        if not pol.allowed('admin.vm.Start', '+', a, 'alice-work'):
            problems.append('alice cannot start alice-work')
        if pol.allowed('admin.vm.property.Set', '+netvm', a, 'alice-work'):
            problems.append('alice (managed) may reconfigure alice-work')
        if not pol.allowed('admin.vm.property.Set', '+netvm', b, 'bob-work'):
            problems.append('bob (local-rwx) cannot reconfigure bob-work')
        for m, arg in (('admin.vm.property.Set', '+guivm'), ('admin.vm.property.Reset', '+guivm'),
                       ('admin.vm.tag.Set', '+user-alice'), ('admin.vm.tag.Remove', '+user-bob'),
                       ('admin.vm.tag.Set', '+guivm-sys-gui-alice')):
            d = pol.decide(m, arg, b, 'bob-work')
            if d[0] != 'deny':
                problems.append('bob %s%s on bob-work -> %s (%s)' % (m, arg, d[0], d[1]))
        if not pol.allowed('admin.vm.tag.Set', '+work-project', b, 'bob-work'):
            problems.append('bob cannot set an ordinary tag on bob-work')
        for gui in (a, b):
            problems += ['%s: %s' % (gui, p) for p in no_global_rwx(v, gui)]
        return problems
    check('multi-user: alice (managed) only starts/stops her qubes, bob (local-rwx) '
          'reconfigures his but cannot move them to another GUI qube or user tag; no global '
          'Admin API for either', tiers)

    kiosk_checks(v, 'sys-gui-guest', {}, {'guest-dvm': ['firefox-esr']})


def scope_kiosk(v):
    gui = 'sys-gui-kiosk'
    p = v.pillar['guivm-stack']['guivms'][gui]
    check('kiosk: the example pillar defines a kiosk GUI qube %s' % gui,
          lambda: [] if v.guivms() == [gui] and p.get('kiosk') else v.guivms())
    kiosk_checks(v, gui, p.get('kiosk-apps', {}), p.get('kiosk-disposables', {}))
    check('kiosk: %s has the minimal Admin API tier' % gui,
          lambda: [] if '## GUI qube %s: admin minimal, kiosk' % gui in v.policy_text
          else 'header not found')
    check('kiosk: no global Admin API; global writes explicitly denied',
          lambda: no_global_rwx(v, gui))

    def lightdm():
        problems = []
        fm = v.dom0.of('file.managed')
        conf = fm.get('guivm-stack-lightdm', {}).get('contents', '')
        for want in ('sessions-directory=/etc/guivm-stack/xsessions', 'autologin-user=kiosk',
                     'autologin-session=guivm-stack-%s' % gui):
            if want not in conf:
                problems.append('lightdm conf lacks %s: %r' % (want, conf))
        only = fm.get('guivm-stack-kiosk-xsessions', {}).get('name', '')
        if only != '/etc/guivm-stack/xsessions/guivm-stack-%s.desktop' % gui:
            problems.append('kiosk sessions directory: %r' % only)
        sessions = fm.get('guivm-stack-sessions-conf', {}).get('contents', '')
        if '%s kiosk kiosk' % gui not in sessions:
            problems.append('sessions.conf: %r' % sessions)
        feats = [kw for kw in v.dom0.of('qvm.features').values() if kw['name'] == gui][0]
        spec = [x for x in feats['set'] if 'vm-config.guivm-stack-kiosk' in x]
        if not spec or 'kiosk-web:firefox-esr' not in spec[0]['vm-config.guivm-stack-kiosk'] or \
                '@dispvm:kiosk-dvm:firefox-esr' not in spec[0]['vm-config.guivm-stack-kiosk']:
            problems.append('kiosk applications feature: %r' % spec)
        reverted = {kw['name'] for kw in v.revert.of('file.absent').values()}
        if '/etc/lightdm/lightdm.conf.d/50-guivm-stack.conf' not in reverted:
            problems.append('revert keeps the lightdm conf')
        return problems
    check('kiosk: lightdm logs the kiosk user into the kiosk session and offers no other; the '
          'applications reach the GUI qube (vm-config feature); revert undoes it', lightdm)


# --------------------------------------------------------------------- checks: parser

GOOD_LINES = [
    'qubes.FileCopy * @anyvm @anyvm ask',
    'qubes.Filecopy * @tag:work @tag:work allow',
    'qubes.OpenInVM * @anyvm @dispvm allow',
    'qubes.StartApp +firefox sys-gui @dispvm:@tag:guivm-sys-gui allow',
    'qubes.StartApp * sys-gui @dispvm:web-dvm allow',
    'qubes.InputMouse * sys-usb dom0 ask default_target=dom0 user=root',
    'qubes.InputMouse * sys-usb @adminvm allow user=root target=sys-gui-gpu',
    'qubes.GetDate * @anyvm @default allow target=sys-net',
    'qubes.Notifications * @tag:guivm-x @default allow target=x autostart=no',
    'qubes.ClipboardPaste + sys-gui @tag:guivm-sys-gui allow',
    'admin.vm.List * sys-gui @tag:guivm-sys-gui allow target=dom0',
    'policy.EvalGUI +qubes.ClipboardPaste sys-gui dom0 allow',
    'admin.vm.Create.AppVM * mgmt @adminvm deny notify=no',
    'qubes.UpdatesProxy * @type:TemplateVM @default allow target=sys-whonix',
    '* * @anyvm @anyvm deny',
    '!include-dir /etc/qubes/policy.d/include',
    '!include-service admin.vm.List * include/admin-local-ro',
    '!compat-4.0',
    '   # a comment',
]
BAD_LINES = [
    ('five fields missing', 'qubes.Filecopy * @anyvm allow'),
    ('unknown action', 'qubes.Filecopy * @anyvm @anyvm alow'),
    ('argument without +', 'qubes.Filecopy arg @anyvm @anyvm allow'),
    ('argument for * service', '* +arg @anyvm @anyvm deny'),
    ('bad character in service', 'qubes/Filecopy * @anyvm @anyvm deny'),
    ('@default as source', 'qubes.Filecopy * @default @anyvm deny'),
    ('@dispvm as source', 'qubes.Filecopy * @dispvm @anyvm deny'),
    ('empty tag', 'qubes.Filecopy * @tag: @anyvm deny'),
    ('unknown @ token', 'qubes.Filecopy * @anyone @anyvm deny'),
    ('unknown type', 'qubes.Filecopy * @type:Qube @anyvm deny'),
    ('redirect to @anyvm', 'qubes.Filecopy * work @anyvm allow target=@anyvm'),
    ('redirect to a tag', 'admin.vm.List * gui @tag:x allow target=@tag:x'),
    ('param given twice', 'qubes.Filecopy * work vault allow user=root user=user'),
    ('target= on deny', 'qubes.Filecopy * work vault deny target=dom0'),
    ('default_target on allow', 'qubes.Filecopy * work vault allow default_target=dom0'),
    ('notify not yes/no', 'qubes.Filecopy * work vault deny notify=maybe'),
    ('unknown param', 'qubes.Filecopy * work vault allow foo=bar'),
    ('param without =', 'qubes.Filecopy * work vault allow target'),
    ('@default allow without target', 'qubes.GetDate * @anyvm @default allow'),
    ('bad qube name', 'qubes.Filecopy * 9work vault allow'),
    ('unknown directive', '!include-everything /etc'),
    ('include without path', '!include'),
]


def parser_checks(variants):
    def good():
        return [] if len(parse_policy('\n'.join(GOOD_LINES))) == len(GOOD_LINES) - 4 else 'count'
    check('parser: accepts documented policy.d forms (%d lines: tokens, params, directives)'
          % len(GOOD_LINES), good)

    def bad():
        problems = []
        for why, line in BAD_LINES:
            try:
                parse_policy(line)
                problems.append('accepted (%s): %s' % (why, line))
            except PolicySyntaxError:
                pass
        return problems
    check('parser: rejects %d kinds of broken lines' % len(BAD_LINES), bad)

    def mutated():
        """Mutations of the rendered policy must each make it unparsable."""
        problems = []
        text = variants['multi-user'].policy_text
        lines = text.splitlines()
        idx = [i for i, l in enumerate(lines) if l and not l.startswith('#')]
        allow = next(i for i in idx if ' allow' in lines[i] and 'target=' in lines[i])
        star = next(i for i in idx if lines[i].split()[1] == '*')
        tagged = next(i for i in idx if '@tag:' in lines[i].split()[3])
        mutations = [
            ('action typo', allow, lambda l: l.replace(' allow', ' alow')),
            ('redirect to @anyvm', allow, lambda l: re.sub(r'target=\S+', 'target=@anyvm', l)),
            ('duplicate target=', allow, lambda l: l + ' target=dom0'),
            ('drop a field', star, lambda l: ' '.join(l.split()[:2] + l.split()[3:])),
            ('argument without +', star, lambda l: l.replace(' * ', ' x ', 1)),
            ('empty tag', tagged, lambda l: re.sub(r'@tag:\S+', '@tag:', l, count=1)),
            ('bad notify', allow, lambda l: l + ' notify=sometimes'),
            ('injected newline rule', star, lambda l: l + '\nrogue line'),
        ]
        for why, i, f in mutations:
            mut = list(lines)
            mut[i] = f(mut[i])
            try:
                parse_policy('\n'.join(mut))
                problems.append('mutation accepted (%s): %s' % (why, mut[i]))
            except PolicySyntaxError:
                pass
        return problems
    check('parser: every mutation of the rendered multi-user policy is rejected', mutated)


# --------------------------------------------------------------------- checks: bad pillars

def bad_pillar_checks():
    base = {'guivm-stack': {'guivms': {'sys-gui-a': {'qubes': ['work']}}}}

    def variant(mutate):
        p = copy.deepcopy(base)
        mutate(p['guivm-stack'])
        return p

    cases = [
        ('GUI qube name with a space', lambda c: c['guivms'].update({'evil name': {}})),
        ('qube name with a newline and a policy line',
         lambda c: c['guivms']['sys-gui-a'].update(
             {'qubes': ['work\nadmin.vm.Create.AppVM * sys-gui-a @adminvm allow']})),
        ('qube name with shell metacharacters',
         lambda c: c['guivms']['sys-gui-a'].update({'qubes': ['work;reboot']})),
        ('a qube in two GUI qubes', lambda c: c['guivms'].update({'sys-gui-b': {'qubes': ['work']}})),
        ('a GUI qube displayed by another',
         lambda c: c['guivms'].update({'sys-gui-b': {'qubes': ['sys-gui-a']}})),
        ('kiosk with global-rwx',
         lambda c: c['guivms']['sys-gui-a'].update(
             {'kiosk': True, 'admin': 'global-rwx', 'kiosk-apps': {'web': ['firefox']}})),
        ('kiosk without applications', lambda c: c['guivms']['sys-gui-a'].update({'kiosk': True})),
        ('kiosk application with a +',
         lambda c: c['guivms']['sys-gui-a'].update({'kiosk': True, 'kiosk-apps': {'web': ['a+b']}})),
        ('kiosk-apps on a non-kiosk',
         lambda c: c['guivms']['sys-gui-a'].update({'kiosk-apps': {'web': ['firefox']}})),
        ('unknown per-GUI key', lambda c: c['guivms']['sys-gui-a'].update({'netvm': 'sys-net'})),
        ('unknown global key', lambda c: c.update({'guivm': 'x'})),
        ('unknown admin tier', lambda c: c['guivms']['sys-gui-a'].update({'admin': 'root'})),
        ('default-guivm not a GUI qube', lambda c: c.update({'default-guivm': 'work'})),
        ('tag of another GUI qube', lambda c: c['guivms']['sys-gui-a'].update({'tag': 'guivm-x'})),
        ('two GUI qubes with one tag',
         lambda c: c['guivms'].update({'sys-gui-b': {'tag': 'guivm-sys-gui-a'}})),
        ('tag too long for admin.vm.tag.Remove+TAG',
         lambda c: c['guivms']['sys-gui-a'].update({'tag': 'u' * 44})),
        ('label not a Qubes label', lambda c: c['guivms']['sys-gui-a'].update({'label': 'pink'})),
        ('adopt not a boolean', lambda c: c['guivms']['sys-gui-a'].update({'adopt': 'yes'})),
        ('autologin without a dom0 user',
         lambda c: c['guivms']['sys-gui-a'].update(
             {'kiosk': True, 'autologin': True, 'kiosk-apps': {'web': ['firefox']}})),
        ('autologin on a non-kiosk',
         lambda c: c['guivms']['sys-gui-a'].update({'autologin': True, 'user': 'alice'})),
        ('one dom0 user bound to two GUI qubes',
         lambda c: (c['guivms']['sys-gui-a'].update({'user': 'alice'}),
                    c['guivms'].update({'sys-gui-b': {'user': 'alice'}}))),
        ('dom0 user with a shell metacharacter',
         lambda c: c['guivms']['sys-gui-a'].update({'user': 'al;ice'})),
        ('default-dispvm with a space',
         lambda c: c['guivms']['sys-gui-a'].update({'default-dispvm': 'a b'})),
        ('feature value with a space',
         lambda c: c['guivms']['sys-gui-a'].update({'features': {'x': 'a b'}})),
    ]

    def run():
        problems = []
        ok = variant(lambda c: None)
        try:
            Highstate(['guivm-stack.dom0'], ok, dom0_grains())
        except Exception as exc:
            return 'the valid base pillar fails: %s' % exc
        for why, mutate in cases:
            try:
                Highstate(['guivm-stack.dom0'], variant(mutate), dom0_grains())
                problems.append('rendered despite: %s' % why)
            except RenderError:
                pass
            except Exception as exc:
                problems.append('%s: failed with %s instead of the formula\'s message: %s'
                                % (why, type(exc).__name__, exc))
        return problems
    check('bad pillars stop the render with the formula\'s message (%d cases, incl. injection '
          'of names into policy and shell)' % len(cases), run)


# --------------------------------------------------------------------- checks: the harness itself

class FakeHighstate(Highstate):
    def __init__(self, yaml_text):
        self.states, self.raw, self.sls_done, self.texts = {}, {}, [], {}
        for sid, body in yaml.load(yaml_text, Loader=UniqueKeyLoader).items():
            (fun, args), = body.items()
            self.states[sid] = (fun, {k: v for a in args for k, v in a.items()}, 'fake')


def harness_checks(variants):
    def duplicate_ids():
        try:
            yaml.load('a:\n  cmd.run: []\na:\n  cmd.run: []\n', Loader=UniqueKeyLoader)
        except yaml.YAMLError:
            return None
        return 'duplicate ID accepted'
    check('harness: the YAML loader refuses duplicate IDs, as Salt does', duplicate_ids)

    def structure_detects():
        bad = FakeHighstate('''
a:
  file.manage:
    - name: /x
    - contents: x
b:
  cmd.run:
    - name: touch /y
    - require:
      - file: nope
c:
  cmd.run:
    - name: true
    - onlyif: true
    - require:
      - cmd: d
d:
  cmd.run:
    - name: true
    - onlyif: true
    - require:
      - cmd: c
e:
  cmd.run:
    - name: true
    - onlyif: true
    - require:
      - pkg: c
''')
        got = '\n'.join(structure_problems(bad))
        want = ['unknown state function file.manage', 'not idempotent', 'nope, which is not an ID',
                'requisite cycle', 'but that ID is a cmd.run state']
        return ['not detected: %s' % w for w in want if w not in got]
    check('harness: structure checks detect unknown functions, dangling and mistyped '
          'requisites, cycles and unguarded cmd.run', structure_detects)

    def no_orphans():
        used = set()
        for v in variants.values():
            for hs in [v.dom0] + list(v.template_hs.values()):
                for kw in hs.of('file.managed').values():
                    if str(kw.get('source', '')).startswith('salt://'):
                        used.add(kw['source'][len('salt://'):])
        files = {os.path.join('guivm-stack', 'files', f)
                 for f in os.listdir(os.path.join(SALT, 'guivm-stack', 'files'))}
        # the rest is the packages': `make install` (which the .deb and .rpm
        # use) installs it from $(SALT_FILES)
        makefile = open(os.path.join(ROOT, 'Makefile')).read()
        packaged = {f for f in files if '$(SALT_FILES)/' + os.path.basename(f) in makefile}
        problems = ['%s is neither used by a state nor installed by make install' % f
                    for f in sorted(files - used - packaged)]
        problems += ['%s is deployed by a state and by the packages' % f
                     for f in sorted(used & packaged)]
        return problems
    check('every file in salt/guivm-stack/files is installed by exactly one of a state or the '
          'packages (make install)', no_orphans)


# --------------------------------------------------------------------- checks: questions

# What an administrator would ask, with the answer written down. Each is one
# qrexec request evaluated against Qubes 4.2's policy.d as the formula leaves
# it (Policy: our file, the include files 90-admin-default.policy sends the
# method to, 90-default.policy, default deny). "allow" includes ask.
# (variant, question, service, argument, source, target, answer)
QUESTIONS = [
    ('kiosk', 'can the kiosk GUI qube attach a PCI device to itself',
     'admin.vm.device.pci.Attach', '+dom0+00_02.0', 'sys-gui-kiosk', 'sys-gui-kiosk', 'deny'),
    ('kiosk', 'can the kiosk give itself a network', 'admin.vm.property.Set', '+netvm',
     'sys-gui-kiosk', 'sys-gui-kiosk', 'deny'),
    ('kiosk', 'can the kiosk open a shell in a new disposable', 'qubes.VMShell', '+',
     'sys-gui-kiosk', '@dispvm', 'deny'),
    ('kiosk', 'can the kiosk run a command in a disposable of its own template', 'qubes.VMExec',
     '+', 'sys-gui-kiosk', '@dispvm:kiosk-dvm', 'deny'),
    ('kiosk', 'can the kiosk open a URL in a disposable', 'qubes.OpenURL', '+', 'sys-gui-kiosk',
     '@dispvm', 'deny'),
    ('kiosk', 'can the kiosk open a file in kiosk-docs', 'qubes.OpenInVM', '+', 'sys-gui-kiosk',
     'kiosk-docs', 'deny'),
    ('kiosk', 'can the kiosk copy a file to kiosk-web', 'qubes.Filecopy', '+', 'sys-gui-kiosk',
     'kiosk-web', 'deny'),
    ('kiosk', 'can the kiosk start a terminal in kiosk-web', 'qubes.StartApp', '+xterm',
     'sys-gui-kiosk', 'kiosk-web', 'deny'),
    ('kiosk', 'can the kiosk start firefox-esr in kiosk-web', 'qubes.StartApp', '+firefox-esr',
     'sys-gui-kiosk', 'kiosk-web', 'allow'),
    ('kiosk', 'can the kiosk start firefox-esr in a new disposable of kiosk-dvm',
     'qubes.StartApp', '+firefox-esr', 'sys-gui-kiosk', '@dispvm:kiosk-dvm', 'allow'),
    ('kiosk', 'can the kiosk start firefox-esr in its default disposable', 'qubes.StartApp',
     '+firefox-esr', 'sys-gui-kiosk', '@dispvm', 'deny'),
    ('kiosk', 'can the kiosk create a disposable through the Admin API',
     'admin.vm.CreateDisposable', '+', 'sys-gui-kiosk', 'kiosk-dvm', 'deny'),
    ('kiosk', 'can the kiosk make what it creates displayed by another GUI qube',
     'admin.vm.feature.Set', '+set-created-guivm', 'sys-gui-kiosk', 'sys-gui-kiosk', 'deny'),
    ('kiosk', 'can the kiosk keep its keyboard layout in sync', 'admin.vm.property.Set',
     '+keyboard_layout', 'sys-gui-kiosk', 'sys-gui-kiosk', 'allow'),
    ('multi-user', "can Bob's GUI qube create a disposable of Alice's disposable template",
     'admin.vm.CreateDisposable', '+', 'sys-gui-bob', 'alice-dvm', 'deny'),
    ('multi-user', "can Bob's GUI qube start an application in a disposable of Alice's",
     'qubes.StartApp', '+firefox-esr', 'sys-gui-bob', '@dispvm:alice-dvm', 'deny'),
    ('multi-user', "can Bob's GUI qube make what it creates tagged for Alice",
     'admin.vm.feature.Set', '+tag-created-vm-with', 'sys-gui-bob', 'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube make what it creates displayed by Alice's",
     'admin.vm.feature.Set', '+set-created-guivm', 'sys-gui-bob', 'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube tag one of his qubes for Alice", 'admin.vm.tag.Set',
     '+user-alice', 'sys-gui-bob', 'bob-work', 'deny'),
    ('multi-user', "can Bob's GUI qube (local-rwx) attach a PCI device to itself",
     'admin.vm.device.pci.Attach', '+dom0+00_14.0', 'sys-gui-bob', 'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube give itself a network", 'admin.vm.property.Set', '+netvm',
     'sys-gui-bob', 'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube change its own kernel", 'admin.vm.property.Set',
     '+kernel', 'sys-gui-bob', 'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube open its own console", 'admin.vm.Console', '+',
     'sys-gui-bob', 'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube remove itself", 'admin.vm.Remove', '+', 'sys-gui-bob',
     'sys-gui-bob', 'deny'),
    ('multi-user', "can Bob's GUI qube attach a USB device to bob-work",
     'admin.vm.device.usb.Attach', '+sys-usb+2-1', 'sys-gui-bob', 'bob-work', 'allow'),
    ('multi-user', "can Bob's GUI qube change bob-work's memory", 'admin.vm.property.Set',
     '+memory', 'sys-gui-bob', 'bob-work', 'allow'),
    ('multi-user', "can Alice's GUI qube create a disposable of alice-dvm",
     'admin.vm.CreateDisposable', '+', 'sys-gui-alice', 'alice-dvm', 'allow'),
    ('multi-user', "can Alice's GUI qube start an application in a new alice-dvm disposable",
     'qubes.StartApp', '+firefox-esr', 'sys-gui-alice', '@dispvm:alice-dvm', 'allow'),
    ('multi-user', "can Alice's GUI qube open a shell in its default disposable",
     'qubes.VMShell', '+', 'sys-gui-alice', '@dispvm', 'deny'),
    ('multi-user', "can Alice's GUI qube read a template's menu (menus of her qubes)",
     'qubes.GetAppmenus', '+', 'sys-gui-alice', 'debian-12-xfce', 'allow'),
    ('multi-user', "does a template displayed by Alice's GUI qube sync its menus there",
     'qubes.SyncAppMenus', '+', 'alice-work', '@adminvm', 'allow'),
    ('multi-user', "can Alice's tray widgets list dom0's volumes", 'admin.vm.volume.List', '+',
     'sys-gui-alice', '@adminvm', 'allow'),
    ('multi-user', "can Alice's tray widgets list dom0's PCI devices",
     'admin.vm.device.pci.Available', '+', 'sys-gui-alice', '@adminvm', 'allow'),
    ('multi-user', "can Alice's tray widgets read dom0's feature internal",
     'admin.vm.feature.Get', '+internal', 'sys-gui-alice', '@adminvm', 'allow'),
    ('multi-user', "can Alice's GUI qube read dom0's other features", 'admin.vm.feature.Get',
     '+something', 'sys-gui-alice', '@adminvm', 'deny'),
    ('multi-user', "can Alice's GUI qube read the backup settings", 'admin.backup.Info', '+',
     'sys-gui-alice', '@adminvm', 'deny'),
    ('multi-user', "can Alice's GUI qube list the storage pools", 'admin.pool.List', '+',
     'sys-gui-alice', '@adminvm', 'deny'),
    ('multi-user', "can Alice's GUI qube set its own keyboard layout", 'admin.vm.property.Set',
     '+keyboard_layout', 'sys-gui-alice', 'sys-gui-alice', 'allow'),
    ('multi-user', 'can the guest kiosk start firefox-esr in a guest-dvm disposable',
     'qubes.StartApp', '+firefox-esr', 'sys-gui-guest', '@dispvm:guest-dvm', 'allow'),
    ('default', 'can the default GUI qube start an application in its default disposable',
     'qubes.StartApp', '+xterm', 'sys-gui-stack', '@dispvm', 'deny'),
    ('default', 'can the default GUI qube reconfigure a qube it displays',
     'admin.vm.property.Set', '+netvm', 'sys-gui-stack', 'work', 'deny'),
    ('default', 'can the default GUI qube start a qube it displays', 'admin.vm.Start', '+',
     'sys-gui-stack', 'work', 'allow'),
    ('default', 'can the default GUI qube start a new disposable of its work-dvm',
     'admin.vm.CreateDisposable', '+', 'sys-gui-stack', 'work-dvm', 'allow'),
    ('default', 'can the default GUI qube create a qube', 'admin.vm.Create.AppVM', '+label',
     'sys-gui-stack', '@adminvm', 'deny'),
    ('read-write', 'can the global-rwx GUI qube create a qube', 'admin.vm.Create.AppVM', '+red',
     'sys-gui-stack', '@adminvm', 'allow'),
    ('read-write', 'can the global-rwx GUI qube set a global property', 'admin.property.Set',
     '+default_netvm', 'sys-gui-stack', '@adminvm', 'allow'),
    ('read-write', 'can the global-rwx GUI qube reconfigure vault (not its own; 4.2 global '
     'include files do not reach per-qube methods)', 'admin.vm.property.Set', '+netvm',
     'sys-gui-stack', 'vault', 'deny'),
    ('read-write', 'can the global-rwx GUI qube list dom0\'s volumes (a per-qube method on '
     'dom0, not reached by admin-global-rwx)', 'admin.vm.volume.List', '+', 'sys-gui-stack',
     '@adminvm', 'allow'),
    ('read-write', 'can the global-rwx GUI qube edit the qrexec policy', 'policy.Replace',
     '+x', 'sys-gui-stack', '@adminvm', 'deny'),
]


def question_checks(variants):
    fixtures = {'default': [('work', ['guivm-sys-gui-stack'], False),
                            ('work-dvm', ['guivm-sys-gui-stack'], True)],
                'read-write': [('work', ['guivm-sys-gui-stack'], False)]}
    for label, question, service, arg, source, target, want in QUESTIONS:
        if label not in variants:
            continue
        v = variants[label]

        def ask(v=v, label=label, service=service, arg=arg, source=source, target=target,
                want=want):
            got, where = v.policy(fixtures.get(label, ())).decide(service, arg, source, target)
            got = 'allow' if got in ('allow', 'ask') else 'deny'
            return [] if got == want else '%s%s %s -> %s: %s (%s), want %s' % (
                service, arg, source, target, got, where, want)
        check('%s: %s? %s' % (label, question, 'yes' if want == 'allow' else 'no'), ask)

    def faithful_includes():
        """The model itself: a line in admin-local-rwx reaches local reads and
        writes but no global method; one in admin-global-rwx reaches global
        methods but no local one; admin-global-ro lines no global write."""
        s = System()
        s.add('mgmt')
        s.add('work')
        problems = []
        cases = [('admin-local-rwx', 'admin.vm.property.Get', 'work', True),
                 ('admin-local-rwx', 'admin.vm.property.Set', 'work', True),
                 ('admin-local-rwx', 'admin.vm.List', '@adminvm', False),
                 ('admin-local-ro', 'admin.vm.property.Set', 'work', False),
                 ('admin-global-rwx', 'admin.vm.Create.AppVM', '@adminvm', True),
                 ('admin-global-rwx', 'admin.property.Get', '@adminvm', True),
                 ('admin-global-rwx', 'admin.vm.property.Get', '@adminvm', False),
                 ('admin-global-rwx', 'admin.vm.volume.List', '@adminvm', False),
                 ('admin-global-ro', 'admin.vm.Create.AppVM', '@adminvm', False),
                 ('admin-global-ro', 'admin.label.List', '@adminvm', True),
                 ('admin-global-rwx', 'admin.vm.Remove', '@adminvm', True),
                 ('admin-local-rwx', 'admin.backup.Info', '@adminvm', True)]
        for inc, method, target, want in cases:
            tok = 'work' if target == 'work' else '@adminvm'
            p = Policy([], {inc: 'mgmt %s allow target=dom0\n' % tok}, s)
            if p.allowed(method, '+', 'mgmt', target) != want:
                problems.append('a line in %s %s %s on %s' % (
                    inc, 'does not reach' if want else 'reaches', method, target))
        return problems
    check('harness: the include-file model is 4.2\'s (one include file per method by scope, '
          '-ro includes -rwx first, no local/global crossing)', faithful_includes)


# --------------------------------------------------------------------- main

def main():
    variants = {}
    files = [('default', os.path.join(PILLAR, 'init.sls')),
             ('read-write', os.path.join(PILLAR, 'examples', 'read-write.sls')),
             ('multi-user', os.path.join(PILLAR, 'examples', 'multi-user.sls')),
             ('kiosk', os.path.join(PILLAR, 'examples', 'kiosk.sls'))]
    for label, path in files:
        def load(label=label, path=path):
            variants[label] = Variant(label, path)
        check('%s: pillar %s, tops and every state render and parse as YAML (unique IDs)'
              % (label, os.path.relpath(path, ROOT)), load)

    for label in [f[0] for f in files]:
        if label in variants:
            structural_checks(variants[label])
            revert_checks(variants[label])
    scopes = {'default': scope_default, 'read-write': scope_read_write,
              'multi-user': scope_multi_user, 'kiosk': scope_kiosk}
    for label, func in scopes.items():
        if label in variants:
            func(variants[label])
    if 'multi-user' in variants:
        parser_checks(variants)
    question_checks(variants)
    bad_pillar_checks()
    harness_checks(variants)

    print('# %d checks, %d failed' % (REPORT.count, REPORT.failed))
    return 1 if REPORT.failed else 0


if __name__ == '__main__':
    sys.exit(main())

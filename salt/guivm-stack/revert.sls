# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.revert (dom0): undoes guivm-stack.dom0 for the GUI qubes in the
# pillar. Run it from dom0's own (Xfce) session, with the same pillar that
# was deployed:
#  - qubes it displayed get their guivm back from default_guivm and lose the
#    scope tag; default_guivm goes back to dom0 if it named a GUI qube;
#  - a GUI qube this formula created is shut down and removed; one that
#    existed before only loses the services and features set here (its
#    preferences stay as they are now);
#  - the policy file, the blocks in Qubes' include files, the session
#    entries, the session script and the dom0 package are removed.
# guivm-stack.template-revert does the template side.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.revert runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg, guivms, policy_file, include_blocks,
        block_pattern, features_unset with context %}
{%- set dom0_packages = cfg.get('dom0-packages', ['qubes-guivm-stack-proxy']) %}
{%- set gui_names = guivms|map(attribute='name')|list %}

{%- for g in guivms %}
{%-   set G = g.name %}
{%-   for m in g.members %}

guivm-stack-revert-{{ G }}-member-{{ m }}:
  cmd.run:
    - name: qvm-prefs --default -- {{ m }} guivm
    - onlyif: 'qvm-check --quiet -- {{ m }} && test "$(qvm-prefs -- {{ m }} guivm)" = {{ G }}'
{%-     if g.custom_tag %}

guivm-stack-revert-{{ G }}-member-{{ m }}-tag:
  cmd.run:
    - name: qvm-tags -- {{ m }} del {{ g.tag }}
    - onlyif: 'qvm-check --quiet -- {{ m }} && qvm-tags -- {{ m }} list | grep -qxF {{ g.tag }}'
{%-     endif %}
{%-   endfor %}
{%- endfor %}

guivm-stack-revert-default-guivm:
  cmd.run:
    - name: qubes-prefs default_guivm dom0
    - onlyif: 'case "$(qubes-prefs default_guivm)" in {{ gui_names|join("|") }}) true ;; *) false ;; esac'

{%- for g in guivms %}
{%-   set G = g.name %}

# Created by this formula: shut down and remove.
guivm-stack-revert-{{ G }}-remove:
  qvm.vm:
    - name: {{ G }}
    - actions:
      - shutdown: pass
      - absent
    - shutdown: []
    - absent: []
    - onlyif: 'qvm-check --quiet -- {{ G }} && ! qvm-features -- {{ G }} | grep -Eq "^guivm-stack-preexisting[[:space:]]"'
    - require:
      - cmd: guivm-stack-revert-default-guivm
{%-   for m in g.members %}
      - cmd: guivm-stack-revert-{{ G }}-member-{{ m }}
{%-   endfor %}

# Existed before: only take back what this formula set.
guivm-stack-revert-{{ G }}-unconfigure:
  qvm.features:
    - name: {{ G }}
    - default: {{ features_unset(g) }}
    - onlyif: 'qvm-check --quiet -- {{ G }} && qvm-features -- {{ G }} | grep -Eq "^guivm-stack-preexisting[[:space:]]"'
    - require:
      - cmd: guivm-stack-revert-default-guivm
{%-   for m in g.members %}
      - cmd: guivm-stack-revert-{{ G }}-member-{{ m }}
{%-   endfor %}

guivm-stack-revert-xsession-{{ G }}:
  file.absent:
    - name: /usr/share/xsessions/guivm-stack-{{ G }}.desktop
{%- endfor %}

guivm-stack-revert-policy:
  file.absent:
    - name: {{ policy_file }}
    - require:
{%- for g in guivms %}
      - qvm: guivm-stack-revert-{{ g.name }}-remove
      - qvm: guivm-stack-revert-{{ g.name }}-unconfigure
{%- endfor %}

{%- for path in include_blocks|sort %}

guivm-stack-revert-{{ path.split('/')|last }}:
  file.replace:
    - name: {{ path }}
    - pattern: '{{ block_pattern }}'
    - repl: ''
    - flags: ['MULTILINE', 'DOTALL']
    - bufsize: file
    - ignore_if_missing: True
    - backup: False
    - require:
      - file: guivm-stack-revert-policy
{%- endfor %}

guivm-stack-revert-session-script:
  file.absent:
    - name: /usr/local/bin/guivm-stack-session
    - require:
{%- for g in guivms %}
      - file: guivm-stack-revert-xsession-{{ g.name }}
{%- endfor %}

guivm-stack-revert-proxy-packages:
  pkg.removed:
    - pkgs: {{ dom0_packages|tojson }}
    - require:
      - file: guivm-stack-revert-session-script

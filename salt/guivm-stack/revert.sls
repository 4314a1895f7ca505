# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.revert (dom0): undoes guivm-stack.dom0 for the GUI qubes in the
# pillar. Run it from dom0's own (Xfce) session, with the same pillar that
# was deployed:
#  - qubes it displayed get back the guivm recorded before the deploy
#    (feature guivm-stack-saved.guivm; the default if none was recorded) and
#    lose the scope tag; default_guivm goes back to dom0 if it named a GUI qube;
#  - a GUI qube this formula created is shut down and removed; one that was
#    adopted gets its recorded preferences back (guivm-stack-saved.*) and
#    loses the services and features set here;
#  - the policy file, the blocks in Qubes' include files, the session
#    entries, the session script and the dom0 package are removed.
# guivm-stack.template-revert does the template side.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.revert runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg, guivms, policy_file, include_blocks, map,
        block_pattern, features_unset, SAVED_PREFS with context %}
{#- sets PROP of QUBE back to what guivm-stack-saved.PROP recorded #}
{%- macro restore(qube, props) -%}
for p in {{ props|join(' ') }}; do
v=$(qvm-features -- {{ qube }} "guivm-stack-saved.$p" 2>/dev/null) || continue;
case $v in
'*default*') qvm-prefs --default -- {{ qube }} "$p" ;;
'*none*') qvm-prefs -- {{ qube }} "$p" '' ;;
*) qvm-prefs -- {{ qube }} "$p" "$v" ;;
esac || exit 1;
qvm-features --unset -- {{ qube }} "guivm-stack-saved.$p";
done
{%- endmacro %}
{%- set gui_names = guivms|map(attribute='name')|list %}

{%- for g in guivms %}
{%-   set G = g.name %}
{%-   for m in g.members %}

guivm-stack-revert-{{ G }}-member-{{ m }}:
  cmd.run:
    - name: >-
        {{ restore(m, ['guivm'])|indent(8) }};
        if test "$(qvm-prefs -- {{ m }} guivm)" = {{ G }}; then qvm-prefs --default -- {{ m }} guivm; fi
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

# Adopted: its recorded preferences back, then what this formula set away.
guivm-stack-revert-{{ G }}-restore:
  cmd.run:
    - name: >-
        {{ restore(G, SAVED_PREFS)|indent(8) }}
    - onlyif: 'qvm-check --quiet -- {{ G }} && qvm-features -- {{ G }} | grep -Eq "^guivm-stack-preexisting[[:space:]]"'
    - require:
      - cmd: guivm-stack-revert-default-guivm
{%-   for m in g.members %}
      - cmd: guivm-stack-revert-{{ G }}-member-{{ m }}
{%-   endfor %}

guivm-stack-revert-{{ G }}-unconfigure:
  qvm.features:
    - name: {{ G }}
    - default: {{ features_unset(g) }}
    - onlyif: 'qvm-check --quiet -- {{ G }} && qvm-features -- {{ G }} | grep -Eq "^guivm-stack-preexisting[[:space:]]"'
    - require:
      - cmd: guivm-stack-revert-{{ G }}-restore

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

# The dom0 files proxy.sls writes (the package qubes-guivm-stack-proxy stays:
# it was installed by hand, see salt/README.md).
guivm-stack-revert-dom0-config:
  file.absent:
    - name: /etc/guivm-stack
    - require:
{%- for g in guivms %}
      - file: guivm-stack-revert-xsession-{{ g.name }}
{%- endfor %}

guivm-stack-revert-lightdm:
  file.absent:
    - name: /etc/lightdm/lightdm.conf.d/50-guivm-stack.conf

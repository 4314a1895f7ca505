# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.create (dom0): the GUI qubes, their templates, the qubes each
# of them displays, and optionally default_guivm.
#
# A GUI qube that exists already and was not created by this formula is left
# alone, with a message, unless its pillar entry says adopt: true; adopted
# qubes get their previous preferences recorded (features
# guivm-stack-saved.PROP) before anything changes, and the revert restores
# them. Listed qubes get their previous guivm recorded the same way.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.create runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import guivms, templates, default_guivm, SAVED_PREFS,
        services_on, services_default, features_set, features_default with context %}

{%- for t in templates %}

# Installed from the Qubes repositories unless a qube of that name exists
# (a template cloned for the GUI qubes is not a repository template).
guivm-stack-template-{{ t }}:
  qvm.template_installed:
    - name: {{ t }}
    - unless: qvm-check --quiet -- {{ t }}
{%- endfor %}

{%- for g in guivms %}
{%-   set G = g.name %}
{%-   set ours = 'qvm-features -- ' ~ G ~ ' | grep -Eq "^guivm-stack[[:space:]]"' %}
{%-   if not g.adopt %}

# {{ G }} exists and is not ours: stop here (everything below requires this).
guivm-stack-{{ G }}-not-foreign:
  test.fail_without_changes:
    - name: 'guivm-stack: the qube {{ G }} exists and was not created by guivm-stack; set adopt: true for it in the pillar to let the formula reconfigure it (its preferences are recorded and restored by the revert), or choose another name'
    - onlyif: 'qvm-check --quiet -- {{ G }} && ! {{ ours }}'
{%-   else %}

# Adopting {{ G }}: mark it and record its preferences (once, before any change).
guivm-stack-{{ G }}-not-foreign:
  cmd.run:
    - name: >-
        qvm-features -- {{ G }} guivm-stack-preexisting 1 &&
        for p in {{ SAVED_PREFS|join(' ') }}; do
        line=$(qvm-prefs -- {{ G }} | awk -v p="$p" '$1 == p');
        case $(echo "$line" | awk '{print $2}') in
        D) v='*default*' ;; *) v=$(echo "$line" | awk '{print $3}') ;; esac;
        qvm-features -- {{ G }} "guivm-stack-saved.$p" "${v:-*none*}" || exit 1;
        done
    - onlyif: 'qvm-check --quiet -- {{ G }} && ! {{ ours }} && ! qvm-features -- {{ G }} | grep -q "^guivm-stack-preexisting[[:space:]]"'
{%-   endif %}

guivm-stack-{{ G }}-present:
  qvm.present:
    - name: {{ G }}
    - template: {{ g.template }}
    - label: {{ g.label }}
    - require:
      - qvm: guivm-stack-template-{{ g.template }}
      - {{ 'cmd' if g.adopt else 'test' }}: guivm-stack-{{ G }}-not-foreign

# No network; displayed by dom0 (guivm-proxy), which is also its only GUI; no
# disposables unless the pillar names a template for them.
guivm-stack-{{ G }}-prefs:
  qvm.prefs:
    - name: {{ G }}
    - template: {{ g.template }}
    - label: {{ g.label }}
    - memory: {{ g.memory }}
    - maxmem: {{ g.maxmem }}
    - vcpus: {{ g.vcpus }}
    - netvm: ''
    - guivm: dom0
    - audiovm: '{{ g.audiovm }}'
    - default_dispvm: '{{ g['default-dispvm'] }}'
    - autostart: {{ g.autostart|tojson }}
    - require:
      - qvm: guivm-stack-{{ G }}-present

# guivm-stack: the qube is a guivm-stack GUI qube (its template's units look
# for /run/qubes-service/guivm-stack); guivm: Qubes' qvm-start-daemon runs in
# its desktop session and starts one gui-daemon per displayed qube.
guivm-stack-{{ G }}-services:
  qvm.service:
    - name: {{ G }}
    - enable: {{ services_on(g) }}
    - default: {{ services_default(g) }}
    - require:
      - qvm: guivm-stack-{{ G }}-present

# gui disabled: dom0's own qvm-start-daemon must not start a qubes-guid for
# this qube (there is no stock agent in it; guivm-proxy shows its screen).
# set-created-guivm / tag-created-vm-with: what it creates stays in its scope.
# vm-config.guivm-stack-kiosk (QubesDB /vm-config/guivm-stack-kiosk): the
# kiosk's applications, read by its session.
guivm-stack-{{ G }}-features:
  qvm.features:
    - name: {{ G }}
    - disable:
      - gui
    - set: {{ features_set(g) }}
    - default: {{ features_default(g) }}
    - require:
      - qvm: guivm-stack-{{ G }}-present

{%-   for m in g.members %}

# {{ m }}'s guivm before this formula changed it, for the revert.
guivm-stack-{{ G }}-member-{{ m }}-record:
  cmd.run:
    - name: >-
        line=$(qvm-prefs -- {{ m }} | awk '$1 == "guivm"');
        case $(echo "$line" | awk '{print $2}') in
        D) v='*default*' ;; *) v=$(echo "$line" | awk '{print $3}') ;; esac;
        qvm-features -- {{ m }} guivm-stack-saved.guivm "${v:-*none*}"
    - onlyif: 'qvm-check --quiet -- {{ m }} && ! qvm-features -- {{ m }} | grep -q "^guivm-stack-saved.guivm[[:space:]]"'
    - require:
      - qvm: guivm-stack-{{ G }}-prefs

guivm-stack-{{ G }}-member-{{ m }}:
  qvm.prefs:
    - name: {{ m }}
    - guivm: {{ G }}
    - require:
      - cmd: guivm-stack-{{ G }}-member-{{ m }}-record
      - qvm: guivm-stack-{{ G }}-features
{%-     if g.custom_tag %}

guivm-stack-{{ G }}-member-{{ m }}-tag:
  qvm.tags:
    - name: {{ m }}
    - add:
      - {{ g.tag }}
    - require:
      - qvm: guivm-stack-{{ G }}-member-{{ m }}
{%-     endif %}
{%-   endfor %}
{%- endfor %}

{%- if default_guivm %}

guivm-stack-default-guivm:
  cmd.run:
    - name: qubes-prefs default_guivm {{ default_guivm }}
    - unless: 'test "$(qubes-prefs default_guivm)" = {{ default_guivm }}'
    - require:
      - qvm: guivm-stack-{{ default_guivm }}-services
      - qvm: guivm-stack-{{ default_guivm }}-features
{%- endif %}

# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.create (dom0): the GUI qubes, their templates, the qubes each
# of them displays, and optionally default_guivm.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.create runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import guivms, templates, default_guivm,
        services_on, services_default, features_set with context %}

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

# Remember that {{ G }} existed before this formula touched it, so that the
# revert state only unconfigures it instead of removing it.
guivm-stack-{{ G }}-preexisting:
  cmd.run:
    - name: qvm-features -- {{ G }} guivm-stack-preexisting 1
    - onlyif: 'qvm-check --quiet -- {{ G }} && ! qvm-features -- {{ G }} | grep -Eq "^guivm-stack[[:space:]]"'

guivm-stack-{{ G }}-present:
  qvm.present:
    - name: {{ G }}
    - template: {{ g.template }}
    - label: {{ g.label }}
    - require:
      - qvm: guivm-stack-template-{{ g.template }}
      - cmd: guivm-stack-{{ G }}-preexisting

# No network; displayed by dom0 (guivm-proxy), which is also its only GUI.
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
guivm-stack-{{ G }}-features:
  qvm.features:
    - name: {{ G }}
    - disable:
      - gui
    - set: {{ features_set(g) }}
{%-   if not g.custom_tag %}
    - default:
      - tag-created-vm-with
{%-   endif %}
    - require:
      - qvm: guivm-stack-{{ G }}-present

{%-   for m in g.members %}

guivm-stack-{{ G }}-member-{{ m }}:
  qvm.prefs:
    - name: {{ m }}
    - guivm: {{ G }}
    - require:
      - qvm: guivm-stack-{{ G }}-prefs
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

# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.template-revert (in the template): undoes guivm-stack.template.
# Removes this formula's files and the qubes-guivm-stack-* packages; general
# packages it may have pulled in (Xephyr, Xvfb, qubes-core-admin-client) stay,
# since other software in the template may use them.
{%- if grains['id'] == 'dom0' %}
{{ raise('guivm-stack.template-revert runs in the GUI qubes\' template, not in dom0') }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg with context %}
{%- set own_packages = [] %}
{%- for p in cfg.get('template-packages', ['qubes-guivm-stack-daemon']) + cfg.get('extra-template-packages', []) %}
{%-   if p.startswith('qubes-guivm-stack-') %}{% do own_packages.append(p) %}{% endif %}
{%- endfor %}

guivm-stack-revert-guid-disabled:
  service.disabled:
    - name: guivm-stack-guid.service
    - onlyif: test -e /etc/systemd/system/guivm-stack-guid.service

{%- for id, path in [
      ('gui-agent-dropin', '/etc/systemd/system/qubes-gui-agent.service.d/50-guivm-stack.conf'),
      ('guid-unit', '/etc/systemd/system/guivm-stack-guid.service'),
      ('helpers', '/usr/lib/guivm-stack'),
      ('session-conf', '/etc/guivm-stack'),
      ('rpc-session', '/etc/qubes-rpc/guivm-stack.Session'),
    ] %}

guivm-stack-revert-{{ id }}:
  file.absent:
    - name: {{ path }}
    - require:
      - service: guivm-stack-revert-guid-disabled
{%- endfor %}

guivm-stack-revert-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: guivm-stack-revert-gui-agent-dropin
      - file: guivm-stack-revert-guid-unit

guivm-stack-revert-template-packages:
  pkg.removed:
    - pkgs: {{ own_packages|tojson }}
    - require:
      - file: guivm-stack-revert-helpers

# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.template-revert (in the template): undoes guivm-stack.template.
# Removes the session settings and the qubes-guivm-stack-* packages (their
# files and unit with them); the distribution's packages it installed (Qubes
# menus, widgets, Xephyr, ...) stay, since other software may use them.
{%- if grains['id'] == 'dom0' %}
{{ raise('guivm-stack.template-revert runs in the GUI qubes\' template, not in dom0') }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg, map with context %}
{%- set own_packages = [map.PKG_DAEMON] %}
{%- for p in cfg.get('template-packages', []) + cfg.get('extra-template-packages', []) %}
{%-   if p.startswith('qubes-guivm-stack-') and p not in own_packages %}{% do own_packages.append(p) %}{% endif %}
{%- endfor %}

guivm-stack-revert-guid-disabled:
  service.disabled:
    - name: {{ map.GUID_UNIT }}
    - onlyif: systemctl cat {{ map.GUID_UNIT }}

guivm-stack-revert-session-conf:
  file.absent:
    - name: /etc/guivm-stack
    - require:
      - service: guivm-stack-revert-guid-disabled

guivm-stack-revert-template-packages:
  pkg.removed:
    - pkgs: {{ own_packages|tojson }}
    - require:
      - file: guivm-stack-revert-session-conf

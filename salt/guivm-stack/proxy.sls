# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.proxy (dom0): guivm-proxy and one display-manager session
# entry per GUI qube ("GUI qube <name> (guivm-stack)" in lightdm's session
# menu). The session starts the GUI qube and its desktop, then runs
# guivm-proxy as the only X client in dom0; it ends when guivm-proxy exits.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.proxy runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg, guivms with context %}
{%- set dom0_packages = cfg.get('dom0-packages', ['qubes-guivm-stack-proxy']) %}

guivm-stack-proxy-packages:
  pkg.installed:
    - pkgs: {{ dom0_packages|tojson }}

guivm-stack-session-script:
  file.managed:
    - name: /usr/local/bin/guivm-stack-session
    - source: salt://guivm-stack/files/guivm-stack-session
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - pkg: guivm-stack-proxy-packages

{%- for g in guivms %}

guivm-stack-xsession-{{ g.name }}:
{%-   if g.session %}
  file.managed:
    - name: /usr/share/xsessions/guivm-stack-{{ g.name }}.desktop
    - source: salt://guivm-stack/files/xsession.desktop.jinja
    - template: jinja
    - context:
        guivm: {{ g.name }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: guivm-stack-session-script
{%-   else %}
  file.absent:
    - name: /usr/share/xsessions/guivm-stack-{{ g.name }}.desktop
{%-   endif %}
{%- endfor %}

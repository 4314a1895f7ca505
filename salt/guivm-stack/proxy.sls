# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.proxy (dom0): one display-manager session entry per GUI qube
# ("GUI qube <name> (guivm-stack)" in lightdm's session menu), the table of
# which dom0 user may start which session, and for a kiosk with autologin the
# lightdm settings. guivm-proxy and /usr/bin/guivm-stack-session come from the
# package qubes-guivm-stack-proxy, which is installed by hand (salt/README.md):
# without it every state here fails after one message saying so.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.proxy runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import guivms, map with context %}
{%- set kiosk_login = guivms|selectattr('autologin')|list %}

guivm-stack-proxy-package:
  test.fail_without_changes:
    - name: 'guivm-stack: the package {{ map.PKG_PROXY }} is not installed in dom0; build it (make rpm), copy the RPM to dom0 and install it with "sudo dnf install ./{{ map.PKG_PROXY }}-*.rpm" (salt/README.md, Packages), then apply the formula again'
    - unless: rpm -q --quiet {{ map.PKG_PROXY }}

# GUI qube, dom0 user allowed to start its session ("-" = any user in the
# qubes group), kind of session; read by guivm-stack-session.
guivm-stack-sessions-conf:
  file.managed:
    - name: /etc/guivm-stack/sessions.conf
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - contents: |
        # /etc/guivm-stack/sessions.conf, written by the guivm-stack Salt formula.
        # GUI-QUBE  DOM0-USER  KIND
{%- for g in guivms %}
        {{ g.name }} {{ g.user or '-' }} {{ 'kiosk' if g.kiosk else 'desktop' }}
{%- endfor %}
    - require:
      - test: guivm-stack-proxy-package

{%- for g in guivms %}

guivm-stack-xsession-{{ g.name }}:
{%-   if g.session %}
  file.managed:
    - name: /usr/share/xsessions/guivm-stack-{{ g.name }}.desktop
    - source: salt://guivm-stack/files/xsession.desktop.jinja
    - template: jinja
    - context:
        guivm: {{ g.name }}
        session_script: {{ map.SESSION_SCRIPT }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: guivm-stack-sessions-conf
{%-   else %}
  file.absent:
    - name: /usr/share/xsessions/guivm-stack-{{ g.name }}.desktop
{%-   endif %}
{%- endfor %}

{%- if kiosk_login %}
{%-   set k = kiosk_login[0] %}

# The kiosk's session is the only one lightdm offers (its own sessions
# directory) and starts by itself for {{ k.user }}. Other sessions come back
# with the revert; meanwhile dom0's text console (Ctrl-Alt-F2) still logs in.
guivm-stack-kiosk-xsessions:
  file.managed:
    - name: /etc/guivm-stack/xsessions/guivm-stack-{{ k.name }}.desktop
    - source: salt://guivm-stack/files/xsession.desktop.jinja
    - template: jinja
    - context:
        guivm: {{ k.name }}
        session_script: {{ map.SESSION_SCRIPT }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: guivm-stack-sessions-conf

guivm-stack-lightdm:
  file.managed:
    - name: /etc/lightdm/lightdm.conf.d/50-guivm-stack.conf
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Written by the guivm-stack Salt formula: kiosk {{ k.name }}.
        [LightDM]
        sessions-directory=/etc/guivm-stack/xsessions
        [Seat:*]
        autologin-user={{ k.user }}
        autologin-session=guivm-stack-{{ k.name }}
        user-session=guivm-stack-{{ k.name }}
    - require:
      - file: guivm-stack-kiosk-xsessions
{%- else %}

guivm-stack-lightdm:
  file.absent:
    - name: /etc/lightdm/lightdm.conf.d/50-guivm-stack.conf
{%- endif %}

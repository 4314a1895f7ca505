# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.template (in the GUI qubes' template): gui-daemon and
# guivm-export, the X servers of the GUI qube's desktop, and the glue that is
# active only in qubes with the qvm-service guivm-stack, so that other qubes
# using the same template are not affected:
#  - the stock qubes-gui-agent does not start (guivm-export takes its place
#    toward dom0);
#  - guivm-stack-guid.service makes /usr/bin/qubes-guid run gui-daemon, so
#    Qubes' qvm-start-daemon (XDG autostart in the desktop, enabled by the
#    qvm-service guivm) starts gui-daemon with qubes-guid's options;
#  - the qrexec service guivm-stack.Session, called by the dom0 session,
#    starts the export server, Xephyr, the desktop and guivm-export.
{%- if grains['id'] == 'dom0' %}
{{ raise('guivm-stack.template runs in the GUI qubes\' template, not in dom0') }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg with context %}
{%- if grains['os_family'] == 'RedHat' %}
{%-   set default_packages = ['qubes-guivm-stack-daemon', 'qubes-core-admin-client',
                              'xorg-x11-server-Xephyr', 'xorg-x11-server-Xvfb'] %}
{%-   set xsession = '/etc/X11/xinit/Xsession' %}
{%- else %}
{%-   set default_packages = ['qubes-guivm-stack-daemon', 'qubes-core-admin-client',
                              'xserver-xephyr', 'xvfb'] %}
{%-   set xsession = '/etc/X11/Xsession' %}
{%- endif %}
{%- set packages = cfg.get('template-packages', default_packages) + cfg.get('extra-template-packages', []) %}

guivm-stack-template-packages:
  pkg.installed:
    - pkgs: {{ packages|tojson }}

guivm-stack-gui-agent-dropin:
  file.managed:
    - name: /etc/systemd/system/qubes-gui-agent.service.d/50-guivm-stack.conf
    - source: salt://guivm-stack/files/qubes-gui-agent-dropin.conf
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'

guivm-stack-guid-helper:
  file.managed:
    - name: /usr/lib/guivm-stack/use-gui-daemon
    - source: salt://guivm-stack/files/use-gui-daemon
    - makedirs: True
    - user: root
    - group: root
    - mode: '0755'

guivm-stack-guid-unit:
  file.managed:
    - name: /etc/systemd/system/guivm-stack-guid.service
    - source: salt://guivm-stack/files/guivm-stack-guid.service
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: guivm-stack-guid-helper

guivm-stack-session-helper:
  file.managed:
    - name: /usr/lib/guivm-stack/gui-qube-session
    - source: salt://guivm-stack/files/gui-qube-session
    - makedirs: True
    - user: root
    - group: root
    - mode: '0755'

guivm-stack-session-conf:
  file.managed:
    - name: /etc/guivm-stack/session.conf
    - source: salt://guivm-stack/files/session.conf.jinja
    - template: jinja
    - context:
        xsession: {{ xsession }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'

guivm-stack-rpc-session:
  file.managed:
    - name: /etc/qubes-rpc/guivm-stack.Session
    - source: salt://guivm-stack/files/guivm-stack.Session
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - file: guivm-stack-session-helper
      - file: guivm-stack-session-conf

guivm-stack-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: guivm-stack-gui-agent-dropin
      - file: guivm-stack-guid-unit

guivm-stack-guid-enabled:
  service.enabled:
    - name: guivm-stack-guid.service
    - require:
      - pkg: guivm-stack-template-packages
      - file: guivm-stack-guid-unit
      - cmd: guivm-stack-daemon-reload

# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.template (in the GUI qubes' template): the packages a working
# GUI qube needs (map.jinja, TEMPLATE_PACKAGES) and the session
# settings. Package qubes-guivm-stack-daemon brings gui-daemon, guivm-export
# and the glue, all inert unless the qube has the qvm-service guivm-stack, so
# other qubes using the same template are not affected:
#  - the stock qubes-gui-agent does not start (guivm-export takes its place
#    toward dom0);
#  - guivm-stack-guid.service makes /usr/bin/qubes-guid run gui-daemon, so
#    Qubes' qvm-start-daemon starts gui-daemon with qubes-guid's options;
#  - the qrexec service guivm-stack.Session, called by the dom0 session,
#    runs /usr/lib/guivm-stack/gui-qube-session: the export server, Xephyr,
#    the desktop (or the kiosk) and guivm-export.
# The package is not in Qubes' repositories: without it (installed, or
# available from a repository the template has) every state here fails after
# one message saying so.
{%- if grains['id'] == 'dom0' %}
{{ raise('guivm-stack.template runs in the GUI qubes\' template, not in dom0') }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import cfg, map with context %}
{%- set family = 'RedHat' if grains['os_family'] == 'RedHat' else 'Debian' %}
{%- set packages = cfg.get('template-packages', map.TEMPLATE_PACKAGES[family]) + cfg.get('extra-template-packages', []) %}
{%- if family == 'RedHat' %}
{%-   set available = 'rpm -q --quiet ' ~ map.PKG_DAEMON ~ ' || dnf -q list --available ' ~ map.PKG_DAEMON ~ ' >/dev/null 2>&1' %}
{%- else %}
{%-   set available = 'dpkg-query -W -f=\'${Status}\' ' ~ map.PKG_DAEMON ~ ' 2>/dev/null | grep -q "ok installed" || apt-cache show ' ~ map.PKG_DAEMON ~ ' >/dev/null 2>&1' %}
{%- endif %}

guivm-stack-daemon-package:
  test.fail_without_changes:
    - name: 'guivm-stack: the package {{ map.PKG_DAEMON }} is neither installed in {{ grains['id'] }} nor in its repositories; build it (make deb or make rpm), copy it into the template and install it (salt/README.md, Packages), then apply the formula again'
    - unless: {{ available|tojson }}

guivm-stack-template-packages:
  pkg.installed:
    - pkgs: {{ packages|tojson }}
    - require:
      - test: guivm-stack-daemon-package

guivm-stack-session-conf:
  file.managed:
    - name: /etc/guivm-stack/session.conf
    - source: salt://guivm-stack/files/session.conf.jinja
    - template: jinja
    - context:
        xsession: {{ map.XSESSION[family] }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: guivm-stack-template-packages

guivm-stack-guid-enabled:
  service.enabled:
    - name: {{ map.GUID_UNIT }}
    - require:
      - pkg: guivm-stack-template-packages

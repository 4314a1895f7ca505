# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# Pillar of the guivm-stack formula: one GUI qube, sys-gui-stack, that
# displays the qubes whose guivm is sys-gui-stack (qubesd tags them
# guivm-sys-gui-stack) and may start, stop and inspect them and nothing else.
# All keys with their defaults are in salt/README.md; examples/ has the
# read-write, multi-user and kiosk variants.
guivm-stack:
  # template: debian-12-xfce        # default template of the GUI qubes
  # default-guivm: ''               # GUI qube to make default_guivm ('' = leave it)
  guivms:
    sys-gui-stack:
      # label: black
      # memory: 1000
      # maxmem: 4000
      # admin: managed                # minimal | managed | local-rwx | global-ro | global-rwx
      # qubes: []                     # qubes to move to this GUI qube (sets their guivm)
      qubes: []

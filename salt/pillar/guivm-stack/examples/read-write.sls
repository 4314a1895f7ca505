# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# Like Qubes' own sys-gui: one GUI qube with global read-write Admin API
# (it can create, remove and reconfigure any qube: a dom0 equivalent), made
# the default GUI qube of every qube that has no guivm of its own.
guivm-stack:
  default-guivm: sys-gui-stack
  guivms:
    sys-gui-stack:
      admin: global-rwx
      template-appmenus: true
      memory: 2000

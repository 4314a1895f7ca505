# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# Several users, one GUI qube each. Each GUI qube displays and manages only
# the qubes listed for it (their guivm is set to it and they get its tag);
# its policy names only its own tag. Bob may also reconfigure his qubes
# (local-rwx), Alice may only start and stop hers (managed); each dom0 user
# can start only their own GUI qube's session. The guest GUI qube is a kiosk:
# a browser in a disposable, nothing else.
guivm-stack:
  template: debian-12-xfce
  guivms:
    sys-gui-alice:
      label: blue
      tag: user-alice
      user: alice                     # only dom0 user alice may start this session
      qubes:
        - alice-work
        - alice-web
        - alice-dvm
    sys-gui-bob:
      label: green
      tag: user-bob
      user: bob
      admin: local-rwx
      qubes:
        - bob-work
        - bob-mail
    sys-gui-guest:
      label: red
      tag: user-guest
      kiosk: true
      kiosk-disposables:
        guest-dvm:
          - firefox-esr

# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# A kiosk GUI qube: it may start only the listed applications (qubes.StartApp
# with that application as argument), in the listed qubes and in new
# disposables of the listed disposable templates. It cannot create, remove or
# reconfigure any qube, and it has no clipboard unless clipboard: true.
guivm-stack:
  guivms:
    sys-gui-kiosk:
      label: orange
      kiosk: true
      session: true
      # lightdm logs the dom0 user kiosk in straight into this session and
      # offers no other; the escape key goes back to the (password) greeter
      user: kiosk
      autologin: true
      kiosk-apps:
        kiosk-web:
          - firefox-esr
        kiosk-docs:
          - org.gnome.Evince
          - libreoffice-writer
      kiosk-disposables:
        kiosk-dvm:
          - firefox-esr

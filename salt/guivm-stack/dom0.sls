# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.dom0: everything guivm-stack does in dom0.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.dom0 runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}

include:
  - guivm-stack.create
  - guivm-stack.policy
  - guivm-stack.proxy

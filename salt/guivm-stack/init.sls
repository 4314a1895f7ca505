# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack: the dom0 part in dom0, the template part anywhere else, so
# that "qubesctl --all state.sls guivm-stack" works without a top file.
{%- from "guivm-stack/macros.jinja" import templates with context %}

include:
{%- if grains['id'] == 'dom0' %}
  - guivm-stack.dom0
{%- elif grains['id'] in templates %}
  - guivm-stack.template
{%- else %}
  []
{%- endif %}

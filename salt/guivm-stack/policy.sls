# -*- coding: utf-8 -*-
# vim: set syntax=yaml ts=2 sw=2 sts=2 et :
#
# guivm-stack.policy (dom0): the qrexec and Admin API policy of the GUI
# qubes, in one policy.d file. The global tiers (admin: global-ro or
# global-rwx) add one line per GUI qube, inside a marked block, to Qubes'
# include/admin-global-* files; the block is removed again when no GUI qube
# asks for that tier any more.
{%- if grains['id'] != 'dom0' %}
{{ raise('guivm-stack.policy runs in dom0 only, not in ' ~ grains['id']) }}
{%- endif %}
{%- from "guivm-stack/macros.jinja" import policy_file, policy_text, include_blocks,
        marker_start, marker_end, block_pattern with context %}

guivm-stack-policy:
  file.managed:
    - name: {{ policy_file }}
    - user: root
    - group: qubes
    - mode: '0664'
    - contents: |
        {{ policy_text()|indent(8) }}

{%- for path in include_blocks|sort %}
{%-   set lines = include_blocks[path] %}

guivm-stack-policy-{{ path.split('/')|last }}:
{%-   if lines %}
  file.blockreplace:
    - name: {{ path }}
    - marker_start: '{{ marker_start }}'
    - marker_end: '{{ marker_end }}'
    - content: |
{%-     for line in lines %}
        {{ line }}
{%-     endfor %}
    - append_if_not_found: True
    - backup: False
{%-   else %}
  file.replace:
    - name: {{ path }}
    - pattern: '{{ block_pattern }}'
    - repl: ''
    - flags: ['MULTILINE', 'DOTALL']
    - bufsize: file
    - ignore_if_missing: True
    - backup: False
{%-   endif %}
{%- endfor %}

#!/usr/bin/env python3
"""tests/fuzz/seeds_from_recordings.py: turns recorded sessions into seeds for the fuzz targets.

Record first (tests/lib/record.h: the scripted agent records its streams when
QGUI_RECORD_DIR is set), e.g.
    QGUI_RECORD_DIR=/tmp/rec build/tests/integration/test_daemon_policy
then  tests/fuzz/seeds_from_recordings.py /tmp/rec tests/fuzz/seeds [per-target]
Each <name>-<pid>-<n>.out is what the agent sent (A->D: version word, then
messages), each .in what it received (D->A: version word, xconf, messages).
The seeds wrap them in each target's input format (see the targets' comments);
at most per-target seeds (default 10) of distinct streams, spread over sizes,
each cut to 16 KiB.
"""
import hashlib
import os
import struct
import sys

MAX_LEN = 16 << 10


def chunks(b, n=100):
    """fuzz_session / fuzz_proxy stream operations: a length byte (len - 1, below 0x80), then the bytes."""
    out = b''
    for i in range(0, len(b), n):
        c = b[i:i + n]
        out += bytes([len(c) - 1]) + c
    return out


def minor(stream):
    return struct.unpack('<I', stream[:4])[0] & 0xffff if len(stream) >= 4 else 8


def spread(items, k):
    """k items spread over the list sorted by size (small and large both kept)."""
    items = sorted(items, key=len)
    if len(items) <= k:
        return items
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def main():
    rec, out = sys.argv[1], sys.argv[2]
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    a2d, d2a, seen = [], [], set()
    for name in sorted(os.listdir(rec)):
        data = open(os.path.join(rec, name), 'rb').read()[:MAX_LEN]
        h = hashlib.sha1(data).hexdigest()
        if len(data) < 4 or h in seen:
            continue
        seen.add(h)
        (a2d if name.endswith('.out') else d2a if name.endswith('.in') else []).append(data)
    seeds = {
        # byte 0: daemon role, our version 1.8; byte 1: the peer closes at the end; 3 read sizes
        'fuzz_conn': [bytes([0x10, 0x01, 3, 1, 7, 64]) + s for s in spread(a2d, per // 2)] +
                     # agent role offering 1.8
                     [bytes([0x11, 0x01, 2, 5, 200]) + s for s in spread(d2a, per - per // 2)],
        # OR allowed and protected, no window manager, border 2, 1024x768, the agent's version
        'fuzz_session': [bytes([0, 2, 0, minor(s), 0]) + chunks(s[4:]) for s in spread(a2d, per)],
        'fuzz_proxy': [bytes([0, minor(s)]) + chunks(s[4:]) for s in spread(a2d, per)],
    }
    for target, list_ in seeds.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for s in list_:
            path = os.path.join(out, target, 'rec-' + hashlib.sha1(s).hexdigest()[:12])
            with open(path, 'wb') as f:
                f.write(s)
        print(f'{target}: {len(list_)} seeds')


if __name__ == '__main__':
    main()

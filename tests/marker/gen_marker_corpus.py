#!/usr/bin/env python3
"""Seeds for fuzz_marker (format in tests/marker/fuzz_marker.c). Usage:
gen_marker_corpus.py DIR"""
import struct, sys, os

def head(code, w, h, area):
    return struct.pack('<BHHhhHH', code, w - 1, h - 1, *area)

def marker(code, x, y, w, h):
    return struct.pack('<BBhhHH', 0, code, x, y, w - 32, h - 16)

def fill(r, g, b, x, y, w, h):
    return struct.pack('<BBBBBBBBxx', 1, r, g, b, x // 2, y // 2, w // 2, h // 2)

def noise(seed, x, y, w, h, amp):
    return struct.pack('<BHBBBBBBB', 2, seed, x // 2, y // 2, w // 2, h // 2, 0, amp, 0)

seeds = {
    'whole': head(7, 512, 384, (0, 0, 512, 384)) + marker(7, 40, 30, 400, 225),
    'covered': head(7, 512, 384, (100, 100, 200, 150)) + marker(7, 20, 20, 480, 270)
               + fill(0xef, 0xef, 0xef, 100, 100, 120, 80) + fill(0x33, 0x66, 0xcc, 300, 200, 150, 100),
    'noisy': head(9, 480, 320, (0, 0, 480, 320)) + marker(9, -50, 10, 512, 288) + noise(5, 0, 0, 480, 320, 12),
    'other-code': head(3, 400, 300, (0, 0, 400, 300)) + marker(4, 0, 0, 400, 225),
    'two': head(5, 512, 384, (0, 0, 512, 384)) + marker(5, 0, 0, 256, 144) + marker(6, 256, 200, 256, 144),
    'tiny': head(1, 64, 32, (-10, -10, 100, 100)) + marker(1, 0, 0, 64, 32),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name + '.bin'), 'wb') as f:
        f.write(data)

#!/usr/bin/env python3
"""screen.py SCREEN.ppm TEXT pass|fail [--png OUT.png] - check a screendump of the framebuffer.

The console area must not be blank, and the banner at the bottom must show TEXT in white on green
(pass) or red (fail), exactly as the font in handoff/kernel/font.c draws it at 4x: the expected
picture is rendered here from the font file, independently of the C code. With --png, the
screendump is also written as a PNG (the screenshot in docs/hardware.md).
"""
import re
import struct
import sys
import zlib

path, text, verdict = sys.argv[1:4]
data = open(path, "rb").read()
magic, dims, maxval, pixels = data.split(b"\n", 3)
w, h = map(int, dims.split())
assert magic == b"P6" and maxval == b"255", "not a binary PPM"


def px(x, y):
    i = (y * w + x) * 3
    return tuple(pixels[i:i + 3])


glyphs = re.findall(r'\{("[.#]{5}"(?:, "[.#]{5}"){6})\}', open("handoff/kernel/font.c").read())
font = [[row.strip('" ') for row in g.split(",")] for g in glyphs]
assert len(font) == 95, f"font.c has {len(font)} glyphs"
bg = (0x1B, 0x5E, 0x20) if verdict == "pass" else (0xB7, 0x1C, 0x1C)
white = (255, 255, 255)
errors = []
lit = sum(1 for y in range(0, h - 48, 2) for x in range(0, w, 2) if sum(px(x, y)) > 500)
if lit < 200:
    errors.append(f"the console area looks blank ({lit} light pixels sampled)")
x0, y0, scale = 16, h - 48 + 10, 4
match = total = 0
for i, ch in enumerate(text):
    g = font[ord(ch) - 0x20]
    for r in range(7):
        for c in range(5):
            want = white if g[r][c] == "#" else bg
            for dy in range(scale):
                for dx in range(scale):
                    total += 1
                    match += px(x0 + (i * 6 + c) * scale + dx, y0 + r * scale + dy) == want
if match < total * 0.995:
    errors.append(f"banner matches '{text}' at {match}/{total} pixels")
if sum(1 for x in range(0, w, 4) if px(x, h - 4) == bg) < (w // 4) * 0.9:
    errors.append(f"the banner is not {'green' if verdict == 'pass' else 'red'}")

if "--png" in sys.argv:
    out = sys.argv[sys.argv.index("--png") + 1]
    raw = b"".join(b"\x00" + pixels[y * w * 3:(y + 1) * w * 3] for y in range(h))

    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)

    open(out, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                          + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"{w}x{h}: console text present; '{text}' banner matches the font at {match}/{total} pixels")

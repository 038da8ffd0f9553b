#!/usr/bin/env python3
"""Where a marked placeholder is on a screenshot, measured without the
client's detector: the true video rectangle for tests/players.

Usage: convert SHOT -crop WxH+X+Y +repage -depth 8 rgb:- | marker_rect.py W H X Y

Reads W x H RGB pixels (the part of the screen at X,Y) on stdin and prints
"x y w h" in screen coordinates: the first and last rows and columns with
more than 30 % as many marker greys as the fullest one (PROTOCOL.md 10.1:
grey, level 100, 160 or 220 within 6; the darkest level, 40, is left out
because toolkit header bars are of about that grey). The levels alternate
in parity like a checkerboard, so at least half the sub-blocks of any row
or column of the lattice are 100 or 220; inside a sub-block a scaled
placeholder keeps its level (only the pixels an edge crosses are mixed).
Every row and column of the video therefore passes, and rows of a header
bar, a black border or a control bar drawn over the video do not. Prints
"none" when nothing is there. Exit 2 on bad input.
"""
import sys


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    w, h, x0, y0 = (int(a) for a in sys.argv[1:])
    data = sys.stdin.buffer.read()
    if w <= 0 or h <= 0 or len(data) != w * h * 3:
        print(f"marker_rect.py: want {w}x{h} RGB pixels, got {len(data)} bytes", file=sys.stderr)
        return 2
    # 1 for a marker grey, per byte value of the red channel (green and blue
    # checked against it below).
    level = bytes(1 if any(abs(v - g) <= 6 for g in (100, 160, 220)) else 0 for v in range(256))
    rows = [0] * h
    cols = [0] * w
    for y in range(h):
        line = data[y * w * 3:(y + 1) * w * 3]
        n = 0
        for x in range(w):
            r, g, b = line[3 * x], line[3 * x + 1], line[3 * x + 2]
            if level[r] and abs(r - g) <= 3 and abs(g - b) <= 3:
                n += 1
                cols[x] += 1
        rows[y] = n
    if max(rows) < 16:
        print("none")
        return 0
    ys = [y for y in range(h) if rows[y] > 0.3 * max(rows)]
    xs = [x for x in range(w) if cols[x] > 0.3 * max(cols)]
    print(x0 + xs[0], y0 + ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A/V offset from a videoredir-client --av-log.

Clicks: the first audio sample louder than a quarter of full scale after at
least 30 ms of none ('A' lines: heard time of the buffer + onset / rate; the
bursts last 5 ms, so a click left in a device buffer from before a seek stays
a click of its own). Flashes: a shown frame brighter than LUMA after a dark one ('V'
lines, or 'D' lines with --desktop). Each flash is paired with the nearest
click within half a period; the offset is flash - click (positive: the
picture comes after its sound).

Usage: av_offset.py LOG [--from US] [--to US] [--min N] [--p95 MS] [--period S]
                    [--quantile Q]
Prints one line per pair and a summary; exits 1 when fewer than N pairs
(default 3) or when the 95th percentile of |offset| is above MS (default 20).
With --quantile Q (0 < Q <= 1) the bound applies to that quantile of |offset|
instead (the summary still prints the 95th percentile).
"""
import argparse
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--from", dest="t_from", type=int, default=0, help="only events after US")
    ap.add_argument("--to", dest="t_to", type=int, default=1 << 62, help="only events before US")
    ap.add_argument("--min", type=int, default=3)
    ap.add_argument("--p95", type=float, default=20.0)
    ap.add_argument("--luma", type=int, default=128)
    ap.add_argument("--period", type=float, default=1.0, help="seconds between flashes")
    ap.add_argument("--quantile", type=float, default=0.95,
                    help="the quantile of |offset| that --p95 bounds (default 0.95)")
    ap.add_argument("--label", default="")
    ap.add_argument("--desktop", action="store_true",
                    help="flashes from 'D' lines (the SPICE desktop: SPICE's own streaming) "
                         "instead of 'V' lines (videoredir's frames)")
    a = ap.parse_args()
    half = int(a.period * 500000)
    clicks, flashes = [], []
    last_click = None
    dark = True
    with open(a.log) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "A" and len(p) >= 7:
                heard, rate, onset = int(p[2]), int(p[4]), int(p[5])
                if onset < 0 or rate <= 0:
                    continue
                t = heard + onset * 1000000 // rate
                if last_click is None or t - last_click > 30000:
                    if a.t_from <= t <= a.t_to:
                        clicks.append(t)
                last_click = t
            elif (p[0] == "V" and not a.desktop and len(p) >= 5) or \
                    (p[0] == "D" and a.desktop and len(p) >= 7):
                t, luma = int(p[1]), int(p[4] if p[0] == "V" else p[6])
                bright = luma > a.luma
                if bright and dark and a.t_from <= t <= a.t_to:
                    flashes.append(t)
                dark = not bright
    offs = []
    for t in flashes:
        near = min(clicks, key=lambda c: abs(c - t), default=None)
        if near is None or abs(near - t) > half:
            print(f"flash at {t}: no click within {half / 1e6:g} s")
            continue
        offs.append((t - near) / 1000.0)
        print(f"flash {t} click {near} offset {offs[-1]:+.1f} ms")
    if len(offs) < a.min:
        print(f"{a.label}FAIL: {len(offs)} flash/click pairs ({len(flashes)} flashes, "
              f"{len(clicks)} clicks), want at least {a.min}")
        return 1
    if not 0 < a.quantile <= 1:
        print(f"{a.label}FAIL: --quantile must be in (0, 1]")
        return 1
    mags = sorted(abs(o) for o in offs)

    def quantile(q):
        return mags[min(len(mags) - 1, int(q * len(mags) + 0.5) - 1 if len(mags) > 1 else 0)]

    p95 = quantile(0.95)
    s = sorted(offs)
    med = s[len(s) // 2]
    extra = ""
    if a.quantile != 0.95:
        extra = f" p{a.quantile * 100:g}|offset|={quantile(a.quantile):.1f}ms"
    print(f"{a.label}pairs={len(offs)} median={med:+.1f}ms p95|offset|={p95:.1f}ms{extra} "
          f"min={s[0]:+.1f}ms max={s[-1]:+.1f}ms")
    bound = quantile(a.quantile)
    if bound > a.p95:
        print(f"{a.label}FAIL: p{a.quantile * 100:g} |offset| {bound:.1f} ms > {a.p95} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

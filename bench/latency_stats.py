#!/usr/bin/env python3
"""Latency figures of one run over the host stand-in, from
`videoredir-client --present-log` ('stream pts latency_us time_us' per
presented frame; latency = guest send -> presented through the PING/PONG
clock offset, 0 before the first PONG) and the clip's packets
(`ffprobe -show_packets`: 'pts,dts' in the stream's time base).

Prints one line: key=value pairs (milliseconds):
  sent_p50/p99    guest send -> presented (what --stats and --present-log say);
  late_p50/p99    presented - due, due(pts) = S + (pts - dts0): the time a
                  player that sends at the clip's decode cadence from S (the
                  first frame's send time) and shows the first picture as
                  soon as reordering allows would show the frame. This takes
                  out the decoder's reordering delay (B-frames: a picture
                  cannot come out before the later-sent frame it references),
                  which is the stream's, not the transport's;
  reorder_ms      min(pts) - dts0 of the clip: how much later than its
                  decode-order start the first picture is due (that
                  reordering delay);
  frames          frames with a known latency.
Usage: latency_stats.py PRESENT_LOG PACKETS_CSV TB_NUM TB_DEN
"""
import sys


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    i = max(int(len(v) * q + 0.5) - 1, 0)
    return v[min(i, len(v) - 1)]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    log, pkts, num, den = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    us = 1e6 * num / den
    dts_of = {}
    dts0 = None
    pts0 = None
    for line in open(pkts):
        f = line.strip().split(",")
        if len(f) < 2 or not f[0].lstrip("-").isdigit():
            continue
        pts = int(f[0])
        dts = int(f[1]) if f[1].lstrip("-").isdigit() else pts
        dts_of[pts] = dts
        dts0 = dts if dts0 is None else min(dts0, dts)
        pts0 = pts if pts0 is None else min(pts0, pts)
    rows = []
    for line in open(log):
        f = line.split()
        if len(f) < 4 or int(f[2]) == 0:
            continue
        pts, lat, t = int(f[1]), int(f[2]), int(f[3])
        if pts not in dts_of:
            continue
        rows.append((pts, lat, t))
    reorder = (pts0 - dts0) * us if dts0 is not None else 0.0
    if not rows or dts0 is None:
        print("frames=0")
        return
    # S: the first frame's send time, found as the earliest send minus its
    # decode-time offset (a frame is never sent before its cadence says).
    start = min(t - lat - (dts_of[p] - dts0) * us for p, lat, t in rows)
    sent = [lat / 1e3 for _, lat, _ in rows]
    late = [(t - (start + (p - dts0) * us)) / 1e3 for p, _, t in rows]
    print("sent_p50=%.1f sent_p99=%.1f late_p50=%.1f late_p99=%.1f reorder_ms=%.1f frames=%d"
          % (pct(sent, 0.5), pct(sent, 0.99), pct(late, 0.5), pct(late, 0.99), reorder / 1e3,
             len(rows)))


if __name__ == "__main__":
    main()

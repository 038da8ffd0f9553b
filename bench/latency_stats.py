#!/usr/bin/env python3
"""Latency figures of one run over the host stand-in, from
`videoredir-client --present-log` ('stream pts latency_us time_us send_us'
per presented frame) and the clip's packets (`ffprobe -show_packets`:
'pts,dts' in the stream's time base). Guest and client must run on this one
machine: their clocks (vr_time_us, CLOCK_MONOTONIC) are then the same, and
send_us can be compared with time_us directly.

Prints one line of key=value pairs (milliseconds):
  stats_p50/p99   the latency column: guest send -> presented through the
                  client's PING/PONG clock offset (what --stats reports); on a
                  loaded machine the offset estimate is off by as much as the
                  PONG waited behind video in the port's queue;
  sent_p50/p99    guest send -> presented on the shared clock (time_us -
                  send_us): transport, decoding, the decoder's reordering
                  delay (B-frames) and any backlog;
  late_p50/p99    presented - due, due(pts) = S + (pts - dts0), S the first
                  frame's send time: when a player that sends at the clip's
                  decode cadence and shows the first picture as soon as
                  reordering allows would show the frame. The lateness of
                  presentation: the reordering delay, which is the stream's,
                  is taken out, a backlog (sender or client behind) is not;
  reorder_ms      min(pts) - dts0: that reordering delay at the start;
  floor_p50/p99   pts - dts of each frame presented: how long the stream itself
                  makes a frame wait between its sending and its display (a
                  frame cannot be shown before those shown ahead of it were
                  received): the floor of sent_p50/p99 whatever the client does;
  frames          frames counted (those with a send time).
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
    dts0 = pts0 = None
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
    stats = []
    for line in open(log):
        f = line.split()
        if len(f) < 5:
            continue
        pts, lat, t, send = int(f[1]), int(f[2]), int(f[3]), int(f[4])
        if lat > 0:
            stats.append(lat / 1e3)
        if send > 0 and pts in dts_of:
            rows.append((pts, t, send))
    if not rows or dts0 is None:
        print("frames=0")
        return
    # S: the earliest send minus its decode-time offset (a frame is never
    # sent before its cadence says).
    start = min(send - (dts_of[p] - dts0) * us for p, _, send in rows)
    sent = [(t - send) / 1e3 for _, t, send in rows]
    floor = [(p - dts_of[p]) * us / 1e3 for p, _, _ in rows]
    late = [(t - (start + (p - dts0) * us)) / 1e3 for p, t, _ in rows]
    print("stats_p50=%.1f stats_p99=%.1f sent_p50=%.1f sent_p99=%.1f late_p50=%.1f late_p99=%.1f "
          "reorder_ms=%.1f floor_p50=%.1f floor_p99=%.1f frames=%d"
          % (pct(stats, 0.5), pct(stats, 0.99), pct(sent, 0.5), pct(sent, 0.99), pct(late, 0.5),
             pct(late, 0.99), (pts0 - dts0) * us / 1e3, pct(floor, 0.5), pct(floor, 0.99),
             len(rows)))


if __name__ == "__main__":
    main()

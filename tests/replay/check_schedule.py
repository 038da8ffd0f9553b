#!/usr/bin/env python3
"""Checks videoredir-replay's scheduling against the recording itself.

    check_schedule.py RECORDING PRESENT_LOG

PRESENT_LOG is `videoredir-replay --present-log`: 'stream pts time_us' per
presented frame, time_us on the recording's clock. From the recording alone
(read with vrrec.py, computed from PROTOCOL.md 5.9a and 6.6, not by the
client's code) the due time of each frame is

    CLOCK.time_us + (pts - CLOCK.pts) * timebase * 1e6 / (rate / 65536) - offset

with the stream's latest CLOCK before the frame was shown and the guest -
recorder clock offset (0 for a guest-side recording, else an estimate from a
recorded PING/PONG: the best, shortest round trip, seen so far; the client
takes a new one at its next ping, so any estimate seen before the frame is
allowed). Once the offset is known
(the first recorded PONG from the guest), no frame may be shown before it is
due, and every frame must be shown within 1 ms of it (the replay's clock
jumps to the due time) or, if it was late (decoded after its due time),
when the input that let it out arrived: at the time of a guest -> client
record, after its due time.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vrrec  # noqa: E402


def main():
    rec_path, log_path = sys.argv[1], sys.argv[2]
    data = open(rec_path, "rb").read()
    it = vrrec.records(data)
    _, side, origin = next(it)
    tb, clocks, arrivals = {}, {}, set()
    offsets = [(0, 0)] if side == 1 else []  # (since, offset)
    best_rtt = None
    for kind, direction, t, payload, index, off in it:
        if kind != 1 or direction != 1 or len(payload) < 16:
            continue
        arrivals.add(t)
        mtype, sid = struct.unpack_from("<HI", payload, 6)
        p = payload[16:]
        if mtype == 0x10:
            tb[sid] = struct.unpack_from("<II", p, 12)
        elif mtype == 0x16:
            pts, time_us, rate = struct.unpack_from("<qQI", p, 0)
            clocks.setdefault(sid, []).append((t, pts, time_us, rate))
        elif mtype == 0x03 and side == 2:
            _, _, ping_time, pong_time = struct.unpack_from("<IIQQ", p, 0)
            arrival = origin + t
            rtt = arrival - ping_time
            if 0 <= rtt and (best_rtt is None or rtt < best_rtt):
                offsets.append((t, pong_time - (ping_time + rtt // 2)))
                best_rtt = rtt
    if not clocks:
        sys.exit("no CLOCK in %s: nothing to schedule" % rec_path)
    checked = on_time = late = 0
    worst = 0
    for line in open(log_path):
        sid, pts, t = (int(x) for x in line.split())
        known = [o for since, o in offsets if since <= t]
        if not known:
            continue
        cl = [c for c in clocks.get(sid, []) if c[0] <= t]
        if not cl or cl[-1][3] == 0:
            continue
        _, cpts, ctime, rate = cl[-1]
        num, den = tb[sid]
        dues = [ctime + (pts - cpts) * num * 1e6 / den * 65536 / rate - o - origin for o in known]
        checked += 1
        if all(t < d - 1000 for d in dues):
            sys.exit("frame pts %d shown at %d us, before it was due (%s)" % (pts, t, dues))
        err = min(abs(t - d) for d in dues)
        if err <= 1000:
            on_time += 1
            worst = max(worst, err)
        elif t in arrivals:
            late += 1
        else:
            sys.exit("frame pts %d shown at %d us: not when due (%s) nor when input arrived" % (pts, t, dues))
    if checked < 10:
        sys.exit("only %d frames scheduled by a CLOCK to check" % checked)
    if on_time < checked / 2:
        sys.exit("only %d of %d frames on time: the recording is mostly late frames" % (on_time, checked))
    print("schedule: %d frames shown by CLOCK: %d within 1 ms of due (worst %.0f us), %d late ones "
          "when their input arrived, none early" % (checked, on_time, worst, late))


main()

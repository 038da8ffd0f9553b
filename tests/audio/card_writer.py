#!/usr/bin/env python3
"""A sound card writer on a timeline, and the check of when it was heard.

card_writer.py FIFO LATE_MS
    Writes 48 kHz S16LE stereo into FIFO in 10 ms chunks, each when it is due
    (CLOCK_MONOTONIC), as an audio sink that syncs on its clock: 1.2 s with a
    5 ms 1 kHz click every 0.2 s (from 50 ms on), no writes for 0.6 s, then
    1.2 s more (clicks from 100 ms on), the first of its chunks written
    LATE_MS late and those that came due meanwhile at once. Prints
    "click PART US" per click: the part (1 before the pause, 2 after) and
    when it was due (microseconds, CLOCK_MONOTONIC).
card_writer.py --check WRITTEN AVLOG
    Pairs each written click with the first one heard after it (within 1 s,
    in order) in a videoredir-client --av-log ('A' lines; a click: the first
    loud sample after 30 ms of none); fails unless every click was heard and
    the median delay (heard - written) after the pause is within 15 ms of
    the one before.
"""
import math
import os
import statistics
import sys
import time

RATE = 48000
CHUNK = 480  # frames: 10 ms
CLICK_FRAMES = 240  # 5 ms


def now_us():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def chunk(click):
    out = bytearray(CHUNK * 4)
    if click:
        for i in range(CLICK_FRAMES):
            v = int(0.8 * 32767 * math.sin(2 * math.pi * 1000 * i / RATE))
            b = v.to_bytes(2, "little", signed=True)
            out[i * 4:i * 4 + 2] = b
            out[i * 4 + 2:i * 4 + 4] = b
    return bytes(out)


def sleep_until(t_us):
    d = t_us - now_us()
    if d > 0:
        time.sleep(d / 1e6)


def write(fifo, late_ms):
    fd = os.open(fifo, os.O_WRONLY)
    quiet, loud = chunk(False), chunk(True)
    t0 = now_us() + 50000
    parts = [(1, t0, 5), (2, t0 + 1200000 + 600000, 10)]  # part, start, first click chunk
    for part, start, first in parts:
        if part == 2:
            sleep_until(start + late_ms * 1000)  # late: what came due goes at once
        for k in range(120):
            due = start + k * 10000
            sleep_until(due)
            click = k >= first and (k - first) % 20 == 0
            os.write(fd, loud if click else quiet)
            if click:
                print(f"click {part} {due}", flush=True)
    os.close(fd)


def heard(avlog):
    clicks, last = [], None
    with open(avlog) as f:
        for line in f:
            p = line.split()
            if len(p) < 7 or p[0] != "A":
                continue
            t_heard, rate, onset = int(p[2]), int(p[4]), int(p[5])
            if onset < 0 or rate <= 0:
                continue
            t = t_heard + onset * 1000000 // rate
            if last is None or t - last > 30000:
                clicks.append(t)
            last = t
    return clicks


def check(written, avlog):
    want = []
    with open(written) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == "click":
                want.append((int(p[1]), int(p[2])))
    got = heard(avlog)
    delays = {1: [], 2: []}
    j = 0
    for part, t in want:
        while j < len(got) and got[j] < t:
            j += 1
        if j >= len(got) or got[j] - t > 1000000:
            print(f"FAIL: the click written at {t} (part {part}) was not heard")
            return 1
        delays[part].append((got[j] - t) / 1000.0)
        j += 1
    for part in (1, 2):
        print(f"part {part}: heard " + " ".join(f"{d:.1f}" for d in delays[part]) + " ms after written")
    m1, m2 = statistics.median(delays[1]), statistics.median(delays[2])
    print(f"median delay {m1:.1f} ms before the pause, {m2:.1f} ms after the late resume "
          f"({m2 - m1:+.1f} ms)")
    if abs(m2 - m1) > 15:
        print("FAIL: after the late resume the sound is off the writer's timeline by "
              f"{m2 - m1:+.1f} ms")
        return 1
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        return check(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 3:
        write(sys.argv[1], int(sys.argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A sound card writer on a timeline, and the check of when its sound arrived.

card_writer.py FIFO LATE_MS
    Writes 48 kHz S16LE stereo into FIFO in 10 ms chunks, each when it is due
    (CLOCK_MONOTONIC), as an audio sink that syncs on its clock: 1.5 s with a
    5 ms 1 kHz click every 0.3 s (from 50 ms on), no writes for 0.8 s, then
    1.5 s more (clicks from 100 ms on), the first of its chunks written
    LATE_MS late and those that came due meanwhile at once. Prints
    "click PART US" per click: the part (1 before the pause, 2 after) and
    when it was due (microseconds, CLOCK_MONOTONIC).
card_writer.py FIFO --warmup
    Writes 0.3 s of silence on time (the SPICE playback channel gets going).
card_writer.py --check LATENCY_MS WRITTEN AVLOG
    Pairs each written click with the one received LATENCY_MS - 10 to
    LATENCY_MS + 150 ms after it by a videoredir-client (--av-log 'A' lines:
    when each audio buffer arrived; a click: the first loud sample after
    30 ms of none). Fails unless at least 3 clicks of each part arrived (a
    writer stalled longer than the latency on a loaded machine loses some)
    and the least delay (received - written) after the pause is within
    40 ms of the one before.
"""
import math
import os
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


def warmup(fifo):
    fd = os.open(fifo, os.O_WRONLY)
    quiet = chunk(False)
    t0 = now_us()
    for k in range(30):
        sleep_until(t0 + k * 10000)
        os.write(fd, quiet)
    os.close(fd)


def write(fifo, late_ms):
    fd = os.open(fifo, os.O_WRONLY)
    quiet, loud = chunk(False), chunk(True)
    t0 = now_us() + 50000
    parts = [(1, t0, 5), (2, t0 + 1500000 + 800000, 10)]  # part, start, first click chunk
    for part, start, first in parts:
        if part == 2:
            sleep_until(start + late_ms * 1000)  # late: what came due goes at once
        for k in range(150):
            due = start + k * 10000
            sleep_until(due)
            click = k >= first and (k - first) % 30 == 0
            os.write(fd, loud if click else quiet)
            if click:
                print(f"click {part} {due}", flush=True)
    os.close(fd)


def received(avlog):
    clicks, last = [], None
    with open(avlog) as f:
        for line in f:
            p = line.split()
            if len(p) < 7 or p[0] != "A":
                continue
            # When the client received it, not when its speaker played it:
            # the card's timeline, without the speaker's queue (which a
            # client busy under load can leave deeper after a restart).
            t_recv, rate, onset = int(p[1]), int(p[4]), int(p[5])
            if onset < 0 or rate <= 0:
                continue
            t = t_recv + onset * 1000000 // rate
            if last is None or t - last > 30000:
                clicks.append(t)
            last = t
    return clicks


def check(latency_ms, written, avlog):
    want = []
    with open(written) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == "click":
                want.append((int(p[1]), int(p[2])))
    got = received(avlog)
    delays = {1: [], 2: []}
    lo, hi = (latency_ms - 10) * 1000, (latency_ms + 150) * 1000
    for part, t in want:
        near = [g for g in got if lo <= g - t <= hi]
        if near:
            delays[part].append((near[0] - t) / 1000.0)
        else:
            print(f"the click written at {t} (part {part}) did not arrive {lo // 1000}-{hi // 1000} ms later")
    for part in (1, 2):
        print(f"part {part}: received " + " ".join(f"{d:.1f}" for d in delays[part]) + " ms after written")
        if len(delays[part]) < 3:
            print(f"FAIL: {len(delays[part])} clicks of part {part} arrived")
            return 1
    # The least delay of each part: what delays a click on its way (a busy
    # client, SPICE) only adds, the card's timeline is under all of them.
    m1, m2 = min(delays[1]), min(delays[2])
    print(f"least delay {m1:.1f} ms before the pause, {m2:.1f} ms after the late resume "
          f"({m2 - m1:+.1f} ms)")
    if abs(m2 - m1) > 40:
        print("FAIL: after the late resume the sound is off the writer's timeline by "
              f"{m2 - m1:+.1f} ms")
        return 1
    return 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--check":
        return check(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    if len(sys.argv) == 3 and sys.argv[2] == "--warmup":
        warmup(sys.argv[1])
        return 0
    if len(sys.argv) == 3:
        write(sys.argv[1], int(sys.argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

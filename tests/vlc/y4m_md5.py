#!/usr/bin/env python3
"""Prints the md5 of each picture of a YUV4MPEG2 stream, one per line.

The stream may hold several headers one after the other: VLC's yuv video
output writes a new header each time it is reopened (a decoder reload opens
a new display), and the test collects all of them through one FIFO. Only
4:2:0 8-bit (VLC's I420) is read; the md5 is over the planes as stored,
which is what `ffmpeg -f framemd5` gives for a yuv420p frame.
"""
import hashlib
import sys


def main(path):
    data = open(path, "rb").read()
    pos, frame_size, n = 0, None, 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            sys.exit("%s: truncated line at byte %d" % (path, pos))
        line = data[pos:end].split()
        pos = end + 1
        if line and line[0] == b"YUV4MPEG2":
            fields = {f[:1]: f[1:] for f in line[1:]}
            chroma = fields.get(b"C", b"420")
            if not chroma.startswith(b"420"):
                sys.exit("%s: chroma %s not supported" % (path, chroma.decode()))
            w, h = int(fields[b"W"]), int(fields[b"H"])
            frame_size = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
        elif line and line[0] == b"FRAME":
            if frame_size is None or pos + frame_size > len(data):
                sys.exit("%s: picture %d without a header or truncated" % (path, n + 1))
            print(hashlib.md5(data[pos:pos + frame_size]).hexdigest())
            pos += frame_size
            n += 1
        else:
            sys.exit("%s: unexpected line at byte %d" % (path, pos))


if __name__ == "__main__":
    main(sys.argv[1])

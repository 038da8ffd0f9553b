#!/usr/bin/env python3
"""Independent reader of videoredir recordings (protocol/RECORDING.md),
written from the document with Python's zlib, to check the C writer and
reader against the spec rather than against themselves.

    vrrec.py check FILE     every CRC and rule; prints a summary; exit 0 if
                            clean, 4 if damaged (naming record and offset)
    vrrec.py list FILE      one line per record
"""
import struct
import sys
import zlib

MAGIC = b"VRREC\r\n\x1a"
MAX_DATA = 16 + 16 * 1024 * 1024
TYPES = {0x01: "HELLO", 0x02: "PING", 0x03: "PONG", 0x10: "STREAM_START", 0x11: "FRAME",
         0x12: "GEOMETRY", 0x13: "REGION", 0x14: "STREAM_STOP", 0x15: "FLUSH", 0x16: "CLOCK",
         0x20: "ACCEPT", 0x21: "REJECT", 0x22: "FEEDBACK", 0x23: "KEYFRAME_REQUEST"}


class Damaged(Exception):
    pass


def records(data):
    if len(data) < 32:
        raise Damaged("truncated file header")
    if data[:8] != MAGIC:
        raise Damaged("bad magic")
    version, hsize, side = struct.unpack_from("<HHB", data, 8)
    origin, = struct.unpack_from("<Q", data, 16)
    crc, = struct.unpack_from("<I", data, 28)
    if version != 1 or hsize != 32 or side not in (1, 2) or crc != zlib.crc32(data[:28]):
        raise Damaged("bad file header")
    yield ("header", side, origin)
    off, index, last = 32, 0, 0
    while off < len(data):
        if len(data) - off < 20:
            raise Damaged("record %d at offset %d: truncated header" % (index, off))
        kind, direction, reserved, length, t, hcrc = struct.unpack_from("<BBHIQI", data, off)
        if hcrc != zlib.crc32(data[off:off + 16]):
            raise Damaged("record %d at offset %d: header CRC" % (index, off))
        if reserved or length > MAX_DATA or t < last:
            raise Damaged("record %d at offset %d: bad header fields" % (index, off))
        if kind == 1 and (direction not in (1, 2) or length == 0):
            raise Damaged("record %d at offset %d: bad message record" % (index, off))
        if kind == 2 and (direction != 0 or length < 4):
            raise Damaged("record %d at offset %d: bad event record" % (index, off))
        end = off + 20 + length + 4
        if end > len(data):
            raise Damaged("record %d at offset %d: truncated payload" % (index, off))
        payload = data[off + 20:off + 20 + length]
        pcrc, = struct.unpack_from("<I", data, off + 20 + length)
        if pcrc != zlib.crc32(payload):
            raise Damaged("record %d at offset %d: payload CRC" % (index, off))
        yield (kind, direction, t, payload, index, off)
        last, off, index = t, end, index + 1


def describe(kind, direction, payload):
    if kind == 2:
        return "EVENT %s" % {1: "open", 2: "close"}.get(struct.unpack_from("<I", payload)[0], "?")
    if kind != 1:
        return "kind %d" % kind
    arrow = "guest->client" if direction == 1 else "client->guest"
    if len(payload) < 16 or payload[:4] != b"VRDR":
        return "MSG %s (not a protocol header)" % arrow
    mtype, sid, length = struct.unpack_from("<HII", payload, 6)
    return "MSG %s %s stream %d payload %d%s" % (arrow, TYPES.get(mtype, hex(mtype)), sid, length,
                                                "" if 16 + length == len(payload) else " (length mismatch)")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "list"):
        sys.stderr.write(__doc__)
        return 2
    data = open(sys.argv[2], "rb").read()
    counts = {}
    n = 0
    try:
        for r in records(data):
            if r[0] == "header":
                if sys.argv[1] == "list":
                    print("side %s origin %d us" % ({1: "guest", 2: "client"}[r[1]], r[2]))
                continue
            kind, direction, t, payload, index, off = r
            d = describe(kind, direction, payload)
            if "length mismatch" in d or "not a protocol" in d:
                raise Damaged("record %d at offset %d: %s" % (index, off, d))
            key = " ".join(d.split()[:3]) if kind == 1 else d
            counts[key] = counts.get(key, 0) + 1
            n += 1
            if sys.argv[1] == "list":
                print("%6d %8d %10.6f %s" % (index, off, t / 1e6, d))
    except Damaged as e:
        print("damaged after %d records: %s" % (n, e))
        return 4
    print("%d records: %s" % (n, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

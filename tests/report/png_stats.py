#!/usr/bin/env python3
"""Decodes an 8-bit, non-interlaced PNG (greyscale, RGB, RGBA, grey+alpha; what Chromium's
--screenshot writes) with zlib alone and prints its size and how many pixels are not near-white:
    png_stats.py FILE [--crop X Y W H OUT.png]
prints "WIDTH HEIGHT NONWHITE DISTINCT_COLORS". With --crop, also writes that region as an RGB PNG
(for looking at part of a tall screenshot). Exit status 1 for a file it cannot decode."""
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in CHANNELS or interlace != 0:
        raise ValueError(f"unsupported PNG: depth {depth}, color type {color}, interlace {interlace}")
    bpp = CHANNELS[color]
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif ftype != 0:
            raise ValueError(f"bad filter type {ftype} in row {y}")
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def rgb(rows, bpp, x, y):
    px = rows[y][x * bpp:(x + 1) * bpp]
    if bpp in (1, 2):
        return (px[0], px[0], px[0])
    return (px[0], px[1], px[2])


def write_rgb_png(path, width, height, pixel_rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + r for r in pixel_rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) +
                chunk(b"IEND", b""))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        width, height, bpp, rows = decode(argv[1])
    except (OSError, ValueError, zlib.error) as e:
        print(f"png_stats: {argv[1]}: {e}", file=sys.stderr)
        return 1
    nonwhite, colors = 0, set()
    for y in range(height):
        row = rows[y]
        for x in range(width):
            px = row[x * bpp:(x + 1) * bpp]
            if bpp >= 3:
                r, g, b = px[0], px[1], px[2]
            else:
                r = g = b = px[0]
            if len(colors) < 4096:
                colors.add((r, g, b))
            if r < 235 or g < 235 or b < 235:
                nonwhite += 1
    print(width, height, nonwhite, len(colors))
    if len(argv) >= 8 and argv[2] == "--crop":
        x0, y0, w, h = (int(v) for v in argv[3:7])
        out = []
        for y in range(y0, min(y0 + h, height)):
            out.append(bytes(c for x in range(x0, min(x0 + w, width)) for c in rgb(rows, bpp, x, y)))
        write_rgb_png(argv[7], min(w, width - x0), len(out), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

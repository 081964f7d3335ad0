#!/usr/bin/env python3
"""Draws ThingsTray's icons as PNGs with the standard library only (zlib + struct).

    python3 scripts/make-icons.py        # writes icons/

Tray icons, one per session state, for light panels (dark glyph) and dark panels
(light glyph), at 32 and 64 px:
    icons/tray/<state>-<theme>.png, icons/tray/<state>-<theme>@2x.png
    state: connected | refreshing | retrying | signin      theme: light | dark
App icons: icons/app/icon.png (512), 128x128.png, 32x32.png.

The glyph is a house with a lit window; a badge in the lower right corner tells the
state: green dot (connected), blue ring (refreshing), amber dot with a gap (retrying),
red dot with an exclamation mark (needs sign-in). Drawn with 4x4 supersampling.
"""

import math
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "icons")

STATE_COLOURS = {
    "connected": (46, 160, 67),
    "refreshing": (33, 118, 230),
    "retrying": (224, 150, 20),
    "signin": (214, 48, 49),
}
GLYPH = {"light": (40, 40, 46), "dark": (236, 236, 240)}


def png(path, w, h, pixels):
    """pixels: list of rows of (r, g, b, a)."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def inside_poly(x, y, pts):
    n, c = len(pts), False
    j = n - 1
    for i in range(n):
        xi, yi = pts[i]
        xj, yj = pts[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            c = not c
        j = i
    return c


def render(size, shader):
    """shader(u, v) -> (r, g, b, a) or None for u, v in [0, 1); 4x4 supersampling."""
    ss = 4
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(ss):
                for sx in range(ss):
                    u = (px + (sx + 0.5) / ss) / size
                    v = (py + (sy + 0.5) / ss) / size
                    c = shader(u, v)
                    if c:
                        a = c[3] / 255.0
                        acc[0] += c[0] * a
                        acc[1] += c[1] * a
                        acc[2] += c[2] * a
                        acc[3] += a
            n = ss * ss
            a = acc[3] / n
            if a > 0:
                row.append((round(acc[0] / acc[3]), round(acc[1] / acc[3]), round(acc[2] / acc[3]), round(a * 255)))
            else:
                row.append((0, 0, 0, 0))
        rows.append(row)
    return rows


HOUSE = [(0.08, 0.50), (0.46, 0.12), (0.84, 0.50), (0.74, 0.50), (0.74, 0.88), (0.18, 0.88), (0.18, 0.50)]
WINDOW = (0.34, 0.56, 0.58, 0.78)  # x0, y0, x1, y1


def house(u, v, glyph, window):
    x0, y0, x1, y1 = WINDOW
    if x0 <= u <= x1 and y0 <= v <= y1:
        return window
    if inside_poly(u, v, HOUSE):
        return glyph + (255,)
    return None


def badge(u, v, state, ring_bg):
    cx, cy, r = 0.76, 0.76, 0.22
    d = math.hypot(u - cx, v - cy)
    col = STATE_COLOURS[state] + (255,)
    white = (255, 255, 255, 255)
    if d > r + 0.05:
        return None
    if d > r:
        return ring_bg  # a thin outline so the badge reads on any panel
    if state == "refreshing":
        return col if d > r * 0.5 else white
    if state == "retrying":
        ang = math.degrees(math.atan2(v - cy, u - cx))
        if d > r * 0.5 and -60 < ang < -10:
            return white
        return col if d > r * 0.5 else white
    if state == "signin":
        if abs(u - cx) < r * 0.16 and (cy - r * 0.62 < v < cy + r * 0.18 or cy + r * 0.36 < v < cy + r * 0.66):
            return white
        return col
    return col


def tray(state, theme, size):
    glyph = GLYPH[theme]
    ring_bg = (GLYPH["dark"] if theme == "light" else GLYPH["light"]) + (255,)
    window = (0, 0, 0, 0) if state != "connected" else (250, 204, 60, 255)

    def shade(u, v):
        b = badge(u, v, state, ring_bg)
        if b is not None:
            return b
        return house(u, v, glyph, window)

    return render(size, shade)


def app_icon(size):
    bg_top, bg_bot = (38, 94, 200), (22, 56, 140)

    def shade(u, v):
        # rounded square background
        m, rad = 0.04, 0.2
        qx = max(abs(u - 0.5) - (0.5 - m - rad), 0)
        qy = max(abs(v - 0.5) - (0.5 - m - rad), 0)
        if math.hypot(qx, qy) > rad:
            return None
        hu, hv = (u - 0.5) / 0.8 + 0.5, (v - 0.52) / 0.8 + 0.5
        h = house(hu, hv, (255, 255, 255), (250, 204, 60, 255))
        if h:
            return h
        t = v
        return tuple(round(a + (b - a) * t) for a, b in zip(bg_top, bg_bot)) + (255,)

    return render(size, shade)


def main():
    for state in STATE_COLOURS:
        for theme in GLYPH:
            png(os.path.join(ROOT, "tray", f"{state}-{theme}.png"), 32, 32, tray(state, theme, 32))
            png(os.path.join(ROOT, "tray", f"{state}-{theme}@2x.png"), 64, 64, tray(state, theme, 64))
    for size, name in [(512, "icon.png"), (128, "128x128.png"), (32, "32x32.png")]:
        png(os.path.join(ROOT, "app", name), size, size, app_icon(size))
    print("icons written to", os.path.normpath(ROOT))


if __name__ == "__main__":
    main()

"""Benchmark for the framing checks (FRM001 padding bars, FRM002 transparency) on real photographs.

Cases are built at run time from the real photos of bench/photos.py, split by source photo into a tuning half
and a validation half (thresholds in rules/checks.toml [frame] were chosen on tuning):
  * padded (positive for FRM001): the photo cropped to 2:3, 4:5 or 9:10 and padded to a square with bars of
    grey, black, white or dark grey, saved as JPEG q90 and PNG;
  * unpadded (negative): the photo as it is, its crops, and the photo on a plain white canvas on all four
    sides (a product shot: flat on every edge, which is not padding);
  * cut-outs (positive for FRM002): the photo with an elliptical subject kept and the rest transparent over
    black; opaque PNGs and PNGs with only antialiased edges transparent are negatives.

    python bench/eval_frame.py
"""

from __future__ import annotations

import io
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import real_photos  # noqa: E402

from curate.derive.frame import padding  # noqa: E402
from curate.extract import frame  # noqa: E402
from curate.extract.decode import Limits, decode_image  # noqa: E402
from curate.rules import load_settings  # noqa: E402

COLOURS = [(128, 128, 128), (0, 0, 0), (255, 255, 255), (40, 40, 40)]


def encode(im: Image.Image, fmt: str) -> dict:
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return frame.compute(decode_image(buf.getvalue(), Limits()))


def crop_to(im: Image.Image, aspect: float) -> Image.Image:
    w, h = im.size
    if w / h > aspect:
        nw = int(h * aspect)
        return im.crop(((w - nw) // 2, 0, (w - nw) // 2 + nw, h))
    nh = int(w / aspect)
    return im.crop((0, (h - nh) // 2, w, (h - nh) // 2 + nh))


def pad(im: Image.Image, colour) -> Image.Image:
    side = max(im.size)
    canvas = Image.new("RGB", (side, side), colour)
    canvas.paste(im, ((side - im.size[0]) // 2, (side - im.size[1]) // 2))
    return canvas


def cutout(im: Image.Image, keep: float) -> Image.Image:
    w, h = im.size
    mask = Image.new("L", im.size, 0)
    mx, my = w * (1 - keep) / 2, h * (1 - keep) / 2
    ImageDraw.Draw(mask).ellipse((mx, my, w - mx, h - my), fill=255)
    arr = np.asarray(im.convert("RGBA")).copy()
    arr[..., 3] = np.asarray(mask)
    arr[np.asarray(mask) == 0, :3] = 0
    return Image.fromarray(arr, "RGBA")


def main() -> None:
    cfg = load_settings().cfg.frame
    rows = {"tuning": {}, "validation": {}}
    for name, im in real_photos(split_large=False):
        split = "tuning" if zlib.crc32(name.encode()) % 2 == 0 else "validation"
        r = rows[split]
        if min(im.size) > 1024:
            im.thumbnail((1024, 1024))
        for aspect in (2 / 3, 4 / 5, 9 / 10, 3 / 2):
            for colour in COLOURS:
                for fmt in ("JPEG", "PNG"):
                    f = encode(pad(crop_to(im, aspect), colour), fmt)
                    r.setdefault(f"padded {aspect:.2f}", []).append(padding(f["bars"], cfg) is not None)
        negatives = [im, crop_to(im, 2 / 3), crop_to(im, 3 / 2)]
        small = im.copy()
        small.thumbnail((int(im.size[0] * 0.7), int(im.size[1] * 0.7)))
        canvas = Image.new("RGB", im.size, (255, 255, 255))
        canvas.paste(small, ((im.size[0] - small.size[0]) // 2, (im.size[1] - small.size[1]) // 2))
        for neg in negatives:
            for fmt in ("JPEG", "PNG"):
                r.setdefault("unpadded photo", []).append(padding(encode(neg, fmt)["bars"], cfg) is not None)
        r.setdefault("product on white (4 flat sides)", []).append(
            padding(encode(canvas, "JPEG")["bars"], cfg) is not None
        )
        for keep in (0.5, 0.8):
            a = encode(cutout(im, keep), "PNG")["alpha"] or {}
            r.setdefault("cut-out", []).append(a.get("transparent_fraction", 0) >= cfg.min_transparent_fraction)
        opaque = encode(im.convert("RGBA"), "PNG")["alpha"] or {}
        r.setdefault("opaque RGBA", []).append(opaque.get("transparent_fraction", 0) >= cfg.min_transparent_fraction)
    print(
        f"[frame] min_bar_fraction={cfg.min_bar_fraction} max_other_axis_fraction={cfg.max_other_axis_fraction} "
        f"min_transparent_fraction={cfg.min_transparent_fraction}"
    )
    print("| case | tuning: flagged | validation: flagged |")
    print("|---|---|---|")
    for case in rows["tuning"]:
        t, v = rows["tuning"][case], rows["validation"].get(case, [])
        print(f"| {case} | {sum(t)} / {len(t)} | {sum(v)} / {len(v)} |")


if __name__ == "__main__":
    main()

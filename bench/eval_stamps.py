"""Benchmark for the invisible-watermark decoder (AIG003, curate/extract/stamps.py) against the reference encoder.

Every real photo of bench/photos.py (whole, at least 256 px) is marked with each reference payload by the
`invisible-watermark` package (method "dwtDct", BGR in as the pipelines do, and RGB-as-BGR as older diffusers did),
saved in several ways, and decoded. Unmarked photos count false matches. The package pulls opencv-python and torch,
so it is not a dependency: `pip install --no-deps invisible-watermark PyWavelets` into the dev environment first.

    python bench/eval_stamps.py
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import real_photos  # noqa: E402

from curate.extract import stamps  # noqa: E402

SAVES = ("PNG", "JPEG 4:4:4 q95", "JPEG 4:4:4 q90", "JPEG 4:2:0 q95", "WebP q90", "resize 90 %", "crop 13×7 px")


def save(rgb: np.ndarray, how: str) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(rgb))
    buf = io.BytesIO()
    if how.startswith("JPEG"):
        im.save(buf, "JPEG", quality=int(how[-2:]), subsampling=0 if "4:4:4" in how else 2)
    elif how == "WebP q90":
        im.save(buf, "WEBP", quality=90)
    elif how == "resize 90 %":
        im.resize((int(im.width * 0.9), int(im.height * 0.9))).save(buf, "PNG")
    elif how == "crop 13×7 px":
        im.crop((13, 7, im.width, im.height)).save(buf, "PNG")
    else:
        im.save(buf, "PNG")
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def main() -> None:
    from imwatermark import WatermarkEncoder

    photos = [(n, np.asarray(im)) for n, im in real_photos(split_large=False) if min(im.size) >= 256]
    found: Counter = Counter()
    total: Counter = Counter()
    false = 0
    for _name, rgb in photos:
        false += len(stamps.matches(rgb))
        for generator, payload in stamps.PAYLOADS:
            for order in ("BGR", "RGB as BGR"):
                enc = WatermarkEncoder()
                enc.set_watermark("bits", list(payload))
                marked = (
                    enc.encode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDct")[..., ::-1]
                    if order == "BGR"
                    else enc.encode(np.ascontiguousarray(rgb), "dwtDct")
                )
                for how in SAVES:
                    hit = any(m["generator"] == generator for m in stamps.matches(save(marked, how)))
                    total[how, order] += 1
                    found[how, order] += hit
    big = np.asarray(Image.fromarray(photos[0][1]).resize((1024, 1024)))
    t = time.perf_counter()
    for _ in range(10):
        stamps.matches(big)
    ms = (time.perf_counter() - t) / 10 * 1000
    print(f"{len(photos)} photos; false matches on the unmarked: {false}; decode {ms:.1f} ms per 1024-px picture")
    print("| saved as | payload found (BGR, as the pipelines) | found (RGB as BGR, older diffusers) |")
    print("|---|---|---|")
    for how in SAVES:
        a, b = (how, "BGR"), (how, "RGB as BGR")
        print(f"| {how} | {found[a]} / {total[a]} | {found[b]} / {total[b]} |")


if __name__ == "__main__":
    main()

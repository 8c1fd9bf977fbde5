"""The `frame` extractor: what kohya trains that the eye does not see — colour under transparency, flat bars.

kohya loads every picture with `convert("RGB")` (train_util.load_image): the alpha channel is dropped and the
colour stored under transparent pixels — often black — is trained. And padding (letterbox / pillarbox bars
added to make a picture square) is trained as part of the picture. Measured on a copy at most MAX_SIDE px
(box-reduced: flat regions stay exactly flat):

  * alpha: the share of pixels with alpha < 128, and the median colour stored under them;
  * bars: on each edge, how many rows (columns) are one flat colour across the whole width (height) — every
    pixel within BAR_TOLERANCE of the first row's median — and that colour.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from curate.extract.decode import Decoded, to_rgb

NAME = "frame"
VERSION = 1

MAX_SIDE = 768
BAR_TOLERANCE = 6  # 8-bit levels: JPEG keeps a flat bar within a few levels, ringing aside
MIN_TRANSPARENT = 0.01  # alpha shares below this are antialiased edges, not a background


def _reduced(im):
    if im.mode not in ("L", "LA", "RGB", "RGBA"):  # palette, 1-bit, CMYK, 16-bit: Image.reduce takes none
        has_alpha = "A" in im.mode or (im.mode == "P" and "transparency" in im.info)
        im = im.convert("RGBA" if has_alpha else "RGB")
    factor = max(1, math.ceil(max(im.size) / MAX_SIDE))
    return im.reduce(factor) if factor > 1 else im


def _alpha(im) -> dict[str, Any] | None:
    if "A" not in im.mode:
        return None
    rgba = im.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    hidden = alpha < 128
    share = float(hidden.mean())
    if share < MIN_TRANSPARENT:
        return {"transparent_fraction": round(share, 4)}
    rgb = np.asarray(to_rgb(im))  # what kohya trains: the stored colours, alpha dropped
    colour = np.median(rgb[hidden], axis=0)
    return {"transparent_fraction": round(share, 4), "colour_under": [int(c) for c in colour]}


def _run(rows: np.ndarray) -> tuple[int, list[int]]:
    """How many leading rows of `rows` (N × W × 3) are one flat colour, and that colour."""
    first = np.median(rows[0], axis=0)
    n = 0
    for row in rows:
        if np.abs(row - first).max() > BAR_TOLERANCE:
            break
        n += 1
    return n, [int(c) for c in first]


def _bars(rgb: np.ndarray) -> dict[str, Any]:
    h, w = rgb.shape[:2]
    out: dict[str, Any] = {"size": [w, h]}
    for side, rows in (
        ("top", rgb),
        ("bottom", rgb[::-1]),
        ("left", rgb.transpose(1, 0, 2)),
        ("right", rgb.transpose(1, 0, 2)[::-1]),
    ):
        n, colour = _run(rows.astype(np.int16))
        out[side] = [n, colour]
    return out


def compute(decoded: Decoded) -> dict[str, Any]:
    if decoded.error is not None or decoded.image is None:
        return {"error": decoded.error or {"kind": "corrupt"}}
    small = _reduced(decoded.image)
    return {"alpha": _alpha(small), "bars": _bars(np.asarray(to_rgb(small)))}

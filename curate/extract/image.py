"""The `image` extractor: size, format, content hashes and perceptual hashes of one decoded image."""

from __future__ import annotations

import hashlib
from typing import Any

from PIL import Image

from curate.extract.decode import Decoded

NAME = "image"
VERSION = 5  # 4: width/height are the stored size (kohya ignores EXIF orientation); 5: colour_layout

# Perceptual hashes are computed on a grey thumbnail whose short side is about this size (box-filter
# reduction first): pHash and dHash shrink to 32×32 / 9×8 anyway. On a 1024-px image the 14 hashes cost
# 24 ms from a 256-px thumbnail and 3 ms from a 128-px one, with the same accuracy (bench/eval_duplicates.py).
HASH_THUMB_SIDE = 128


def warm_up() -> None:
    """Import what compute() needs (the extraction pool calls this before forking its workers)."""
    import imagehash  # noqa: F401


def pixel_hash(im: Image.Image) -> str:
    """SHA-256 of the pixels as RGB (RGBA when any pixel is transparent): equal across lossless re-encodes."""
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        norm = im.convert("RGBA")
        if norm.getchannel("A").getextrema() == (255, 255):
            norm = norm.convert("RGB")
    else:
        norm = im if im.mode == "RGB" else im.convert("RGB")
    h = hashlib.sha256(f"{norm.mode}:{norm.width}x{norm.height}:".encode())
    h.update(norm.tobytes())
    return h.hexdigest()


def _small(im: Image.Image) -> Image.Image:
    """A box-reduced copy whose short side is about HASH_THUMB_SIDE: the hashes' grey thumbnail and the colour
    layout are taken from it."""
    factor = max(1, min(im.size) // HASH_THUMB_SIDE)
    small = im.reduce(factor) if factor > 1 and im.mode in ("RGB", "RGBA", "L", "LA") else im
    if small is im and factor > 1:
        small = im.convert("RGB").reduce(factor)
    return small


def colour_layout(small: Image.Image) -> str:
    """The mean colour of each cell of an 8×8 grid (192 bytes as hex): perceptual hashes see only luminance, so
    near-duplicate candidates are confirmed with it (curate/derive/duplicates.py)."""
    return small.convert("RGB").resize((8, 8), Image.Resampling.BOX).tobytes().hex()


# Crop views for near-duplicate matching: (linear scale, x anchor, y anchor). A copy cropped by a few percent
# matches one of these views of its original far better than the whole picture (bench/eval_duplicates.py:
# recall on 8 % crops 0.04 → 0.93, one-sided 5 % crops 0.41 → 0.81, no new false matches).
CROP_VIEWS = ((0.9, 0.5, 0.5), (0.8, 0.5, 0.5), (0.92, 0.0, 0.0), (0.92, 1.0, 1.0), (0.92, 1.0, 0.0), (0.92, 0.0, 1.0))


def view_hashes(thumb: Image.Image) -> list[list[str]]:
    """[pHash, dHash] of each crop view of the grey thumbnail."""
    import imagehash  # imported here: it pulls in scipy, which a warm (cached) audit never needs

    out = []
    w, h = thumb.size
    for scale, ax, ay in CROP_VIEWS:
        cw, ch = max(8, int(w * scale)), max(8, int(h * scale))
        left, top = int((w - cw) * ax), int((h - ch) * ay)
        view = thumb.crop((left, top, left + cw, top + ch))
        out.append([str(imagehash.phash(view)), str(imagehash.dhash(view))])
    return out


def compute(decoded: Decoded) -> dict[str, Any]:
    info = decoded.info
    if decoded.error is not None:
        return {
            "error": decoded.error,
            **{k: info[k] for k in ("format", "declared_width", "declared_height") if k in info},
        }
    import imagehash

    im = decoded.image
    assert im is not None
    small = _small(im)
    thumb = small.convert("L")
    scale = info.get("decode_scale", 1)
    # The stored size, as kohya reads it (imagesize; it never applies EXIF orientation). The content features of
    # every extractor are computed on the picture as it is meant to be seen (decode applies the orientation).
    width, height = info["declared_width"], info["declared_height"]
    return {
        "format": info.get("format"),
        "mode": info.get("mode"),
        "width": width,
        "height": height,
        "frames": info.get("frames", 1),
        "orientation": info.get("orientation", 1),
        "decode_scale": scale,
        "pixel_hash": pixel_hash(im) if scale == 1 else None,
        "phash": str(imagehash.phash(thumb)),
        "dhash": str(imagehash.dhash(thumb)),
        "view_hashes": view_hashes(thumb),
        "colour_layout": colour_layout(small),
    }

"""Test data builders: image records with synthetic cached features (no image is opened), and contexts.

Used by the unit tests and the table of every check's cases (tests/test_check_table.py). Feature shapes are
those the extractors cache (curate/extract/*.py).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from typing import Any

import numpy as np

from curate.checks import Context
from curate.extract.clip import encode_vector
from curate.model import Caption, Concept, ImageRecord
from curate.rules import load_settings, resolve_base_model


def concept(
    res: int = 1024,
    bucket: bool = True,
    no_upscale: bool = False,
    ext: str = ".txt",
    tokens: str = "hanako woman",
    max_reso: int = 2048,
) -> Concept:
    return Concept("10_hanako woman", 10, tokens, ext, (res, res), bucket, 256, max_reso, no_upscale)


def record(
    path: str = "10_hanako woman/a.png",
    w: int = 1024,
    h: int = 1024,
    fmt: str = "PNG",
    size: int = 500_000,
    sha: str | None = None,
    pixel: str | None = None,
    phash: str | None = None,
    dhash: str | None = None,
    cap: Caption | None = None,
    conc: Concept | None = None,
    error: dict | None = None,
    frames: int = 1,
    views: list | None = None,
    trained: bool = True,
    orientation_image: int = 1,
    layout: str | None = None,
    **features: Any,
) -> ImageRecord:
    """One image record; keyword arguments add features by extractor name (quality={...}, marks={...});
    `layout`: the image extractor's 8×8 colour layout (hex).
    Perceptual hashes default to ones derived from the path: records are not near-duplicates unless asked."""
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()
    phash = phash or digest[:16]
    dhash = dhash or digest[16:32]
    image = (
        {"error": error}
        if error
        else {
            "format": fmt,
            "width": w,
            "height": h,
            "frames": frames,
            "orientation": orientation_image,
            "pixel_hash": pixel,
            "phash": phash,
            "dhash": dhash,
            "view_hashes": views or [["f" * 16, "f" * 16]] * 6,
            **({"colour_layout": layout} if layout else {}),
        }
    )
    return ImageRecord(
        path,
        "/x/" + path,
        size,
        conc or concept(),
        cap or Caption(path.rsplit(".", 1)[0] + ".txt", "hanako woman, smiling"),
        sha or (os.fsencode(path).hex() + "0" * 64)[:64],
        {"image": image, **features},
        trained=trained,
    )


def ctx(profile: str | None = None, base_model: str = "sdxl", **dataset: Any) -> Context:
    return Context(load_settings(profile), resolve_base_model(base_model), dataset=dataset)


def hx(bits: int) -> str:
    """A 64-bit hash as the extractor stores it (16 hex digits)."""
    return f"{bits:016x}"


def unit(k: int, dim: int = 16) -> np.ndarray:
    """The k-th unit vector: embeddings that are exactly alike or exactly unlike."""
    v = np.zeros(dim, dtype=np.float32)
    v[k] = 1.0
    return v


def clip_features(**views: np.ndarray) -> dict[str, Any]:
    """`clip` features with the given views (full, person, background, head)."""
    return {"views": {name: encode_vector(v) for name, v in views.items()}}


def face(
    descriptor: np.ndarray | None = None,
    box: tuple[float, ...] = (0.3, 0.2, 0.6, 0.6),
    score: float = 1.2,
    skin_texture: float | None = 3.0,
) -> dict[str, Any]:
    f: dict[str, Any] = {"box": list(box), "score": score, "skin_texture": skin_texture}
    if descriptor is not None:
        f["descriptor"] = [float(x) for x in descriptor]
    return f


def overlay_features(cells: list[tuple[int, int]], value: int = 99) -> dict[str, Any]:
    """The marks extractor's `overlay` entry: the stored detector map, hot (value/100) at the given (row, col) cells."""
    from curate.extract.overlay import STORED

    grid = bytearray(STORED * STORED)
    for y, x in cells:
        grid[y * STORED + x] = value
    return {"model": "test", "probability": value / 100 if cells else 0.0, "map": bytes(grid).hex()}


def text_region(
    text: str, box: tuple[float, ...], score: float = 0.95, angle: float = 0.0, height: float = 0.03
) -> dict[str, Any]:
    return {"text": text, "box": list(box), "score": score, "angle": angle, "height": height}


def measured_quality(damage: str = "none", name: str = "motorcycle.jpg") -> dict[str, Any]:
    """The `quality` features the real extractor computes for a sample photo (a fresh copy each call; measured
    once per session): see _measure."""
    return json.loads(_measured(damage, name))


def _measure(damage: str, name: str) -> dict[str, Any]:
    """The `quality` features the real extractor computes for a sample photo (PNG bytes), untouched or damaged:
    'enlarged 2×' / 'enlarged 3×' (reduced, then enlarged bicubic), 'shallow depth of field', 'flat art'. For
    checks judged by a learned model (UPS), whose input is the whole spectrum: hand-written dicts cannot stand in."""
    from conftest import PHOTOS
    from degrade import flat_art, shallow_dof, upscaled
    from PIL import Image

    from curate.extract import quality
    from curate.extract.decode import Limits, decode_image

    with Image.open(PHOTOS / name) as im:
        photo = im.convert("RGB")
    if damage.startswith("enlarged "):
        photo = upscaled(photo, float(damage.split()[1].rstrip("×")))
    elif damage == "shallow depth of field":
        photo = shallow_dof(photo, background_blur=6, feather=4, scaled=False)
    elif damage == "flat art":
        photo = flat_art(3, 768)
    elif damage != "none":
        raise ValueError(damage)
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    return quality.compute(decode_image(buf.getvalue(), Limits()))


@functools.cache
def _measured(damage: str, name: str) -> str:
    return json.dumps(_measure(damage, name))

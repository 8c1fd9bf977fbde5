"""Sets of pictures that share one mark — a shop's logo on all its product photos, an estate agent's mark across
the middle of every listing, an artist's signature on all their works — and sets that share none.

Reproducible from a seed: `member(split, set_seed, j)` always draws the same picture. Ingredients come from
bench/mark_data.py (and so bench/mark_assets.py: licensed photographs, logos, fonts and objects, split by source;
licences in bench/DATA-LICENCES.md). A set draws once: its size and aspect, its kind, and for marked sets the mark
(shape, place, style, opacity) and which members carry it; each member then draws its own background (another
photograph, product or artwork of the same split), gets the set's mark laid over it at the same relative place,
and is usually re-compressed and resized, as pictures reach a dataset.

Marked kinds are mark_data's positives. Unmarked kinds: mixed clean pictures (photos, art, products, scene text,
print on products), product shots only (objects centred on plain backgrounds: the same layout every time), and a
series (crops of one photograph, as from a burst or a shoot: the scene itself repeats).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mark_data  # noqa: E402

SETS_VERSION = 1  # bump when a change here changes what a seed draws (the extraction cache's key)
MARKED = mark_data.POSITIVE  # corner, centre, tiled, diagonal, scattered, signature
UNMARKED = ("mixed", "products", "series")
SIZES = (6, 10, 16, 24, 40)
SHAPES = ((1024, 768), (768, 1024), (1024, 1024), (1200, 800), (800, 1200), (1280, 720))


@dataclass(frozen=True)
class SetPlan:
    split: str
    seed: int
    kind: str
    size: int
    shape: tuple[int, int]  # width, height before each member's own resize
    carried: tuple[bool, ...]  # which members carry the mark
    opacity: float


def plan(split: str, seed: int, kind: str | None = None) -> SetPlan:
    rng = random.Random(f"set:{split}:{seed}")
    kind = kind or rng.choice(MARKED + UNMARKED)
    size = rng.choice(SIZES)
    shape = rng.choice(SHAPES)
    if kind in MARKED:
        share = rng.choice([1.0, 1.0, 0.5, 0.25])  # the whole set from one marked source, or part of it
        carried = tuple(rng.random() < share for _ in range(size))
        if not any(carried):
            carried = (True,) + carried[1:]
        opacity = (
            rng.uniform(0.6, 1.0)
            if kind == "signature"
            else rng.choice([rng.uniform(0.15, 0.5), rng.uniform(0.5, 1.0)])
        )
    else:
        carried, opacity = (False,) * size, 0.0
    return SetPlan(split, seed, kind, size, shape, carried, opacity)


def _fit_to(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return np.asarray(ImageOps.fit(im, shape, Image.Resampling.LANCZOS), dtype=np.float32)


def member(p: SetPlan, j: int) -> Image.Image:
    """The set's j-th picture, full size."""
    w, h = p.shape
    rng = random.Random(f"member:{p.split}:{p.seed}:{j}")
    if p.kind == "series":
        # one photograph, cropped a little differently each time
        src = random.Random(f"series:{p.split}:{p.seed}")
        rgb = mark_data.background(src, p.split, "clean_photo", max(w, h) + 200)
        y0, x0 = rng.randint(0, max(0, rgb.shape[0] - h)), rng.randint(0, max(0, rgb.shape[1] - w))
        rgb = _fit_to(rgb[y0 : y0 + h + rng.randint(0, 120), x0 : x0 + w + rng.randint(0, 120)], p.shape)
    else:
        if p.kind == "products":
            bg_kind = rng.choice(["product", "product_text"])
        elif p.kind == "mixed":
            bg_kind = rng.choice(mark_data.NEGATIVE)
        else:
            bg_kind = rng.choice(["clean_photo"] * 6 + ["product"] * 3 + ["clean_art"])
        rgb = mark_data.background(rng, p.split, "clean_photo" if bg_kind == "scene_text" else bg_kind, max(w, h))
        if bg_kind == "scene_text":
            rgb = mark_data.scene_text(rng, rgb, p.split)
        rgb = _fit_to(rgb, p.shape)
    if p.carried[j]:
        alpha = mark_data.marks_for(random.Random(f"mark:{p.split}:{p.seed}"), p.kind, p.split, h, w)
        rgb, _ = mark_data.stamp(random.Random(f"style:{p.split}:{p.seed}"), rgb, alpha, p.opacity)
    return mark_data.as_received(rng, Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)))

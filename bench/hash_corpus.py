"""Perceptual hashes of many distinct real pictures and their labelled copies, for the near-duplicate matcher.

Distinct pictures are random crops (a quarter to nine tenths of the short side, four aspect ratios, mirrored
half the time, colour ±30 %) of the Debian wallpaper photographs that bench/mark_assets.py caches, split by
source photograph like every other bench (`tuning` / `validation`). A share of them get one to three copies made
with bench/eval_duplicates.py's labelled transformations (resize, JPEG, crops, colour and brightness shifts,
greyscale, a 2° rotation) or a recoloured object (a different picture that luminance hashes confuse). Each
picture is hashed with curate's own functions (curate/extract/image.py) at a 160-px short side, which is what the
extractor's 128-px thumbnail sees of any larger picture.

    python bench/hash_corpus.py --n 10000 --split tuning     # cached in $CURATE_HASH_CORPUS (~/.cache/curate)
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_duplicates import RECOLOURS, TRANSFORMS, recolour  # noqa: E402
from mark_assets import backgrounds  # noqa: E402

from curate.extract.image import _small, colour_layout, view_hashes  # noqa: E402

SIDE = 160
ASPECTS = (1.0, 4 / 3, 3 / 4, 16 / 9)
COPY_SHARE = 0.3
VERSION = 1


def cache_dir() -> Path:
    return Path(os.environ.get("CURATE_HASH_CORPUS") or Path.home() / ".cache" / "curate" / "hash-corpus")


_PHOTOS: list[Image.Image] = []


def _load(split: str) -> list[Image.Image]:
    out = []
    for _name, kind, path in sorted(backgrounds()[split]):
        if kind != "photo":
            continue
        with Image.open(path) as im:
            im = im.convert("RGB")
        im.thumbnail((768, 768), Image.Resampling.BOX)  # crops are hashed at 160 px: 768 px leaves detail
        out.append(im)
    return out


def _picture(rng: random.Random) -> Image.Image:
    im = rng.choice(_PHOTOS)
    w, h = im.size
    aspect = rng.choice(ASPECTS)
    short = rng.uniform(0.25, 0.9) * min(w, h)
    cw, ch = (short * aspect, short) if aspect >= 1 else (short, short / aspect)
    cw, ch = int(min(cw, w)), int(min(ch, h))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = im.crop((x, y, x + cw, y + ch))
    k = SIDE / min(out.size)
    out = out.resize((max(SIDE, round(out.width * k)), max(SIDE, round(out.height * k))), Image.Resampling.LANCZOS)
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    return ImageEnhance.Color(out).enhance(rng.uniform(0.7, 1.3))


def _hashes(im: Image.Image) -> tuple:
    import imagehash

    small = _small(im)
    thumb = small.convert("L")
    views = view_hashes(thumb)
    return (
        int(str(imagehash.phash(thumb)), 16),
        int(str(imagehash.dhash(thumb)), 16),
        [int(p, 16) for p, _ in views],
        [int(d, 16) for _, d in views],
        colour_layout(small),
    )


def _jpeg(im: Image.Image, q: int = 92) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def draw(seed: int) -> list[tuple[str, Image.Image]]:
    """The picture with this seed and its copies: [(label, picture)], "original" first."""
    rng = random.Random(seed)
    base = _picture(rng)
    out = [("original", base)]
    if rng.random() < COPY_SHARE:
        names = [t for t in TRANSFORMS if "not targeted" not in t] + list(RECOLOURS)
        for name in rng.sample(names, rng.randint(1, 3)):
            out.append((name, recolour(base, RECOLOURS[name]) if name in RECOLOURS else TRANSFORMS[name](base)))
    return out


def _one(args: tuple[int, int]) -> list[tuple]:
    """The picture with this seed and its copies, hashed: [(picture id, label, hashes...)]. A recoloured object is
    another picture: its own id (negative), never a copy's truth."""
    seed, pid = args
    return [(pid if label not in RECOLOURS else -pid - 1, label, *_hashes(_jpeg(im))) for label, im in draw(seed)]


def _init(split: str) -> None:
    _PHOTOS[:] = _load(split)


def build(n: int, split: str, seed: int = 1, jobs: int = 0) -> dict[str, np.ndarray]:
    """At least n hashed pictures (originals and copies), cached as .npz."""
    path = cache_dir() / f"hashes-v{VERSION}-{split}-{n}-{seed}.npz"
    if path.exists():
        with np.load(path) as z:
            return dict(z)
    rows: list[tuple] = []
    tasks = []
    pid = 0
    base_seed = seed * 10**7 + (0 if split == "tuning" else 5 * 10**6)
    # ~1.4 rows per picture: draw enough pictures, then cut at n
    for pid in range(int(n / (1 + COPY_SHARE * 2)) + 50):
        tasks.append((base_seed + pid, pid))
    backgrounds()  # fetched here once: workers fetching into a cold cache together would clobber each other's files
    with Pool(jobs or os.cpu_count(), initializer=_init, initargs=(split,)) as pool:
        for got in pool.imap(_one, tasks, chunksize=64):
            rows += got
            if len(rows) >= n:
                break
    rows = rows[:n]
    out = {
        "picture": np.array([r[0] for r in rows], dtype=np.int64),
        "label": np.array([r[1] for r in rows]),
        "phash": np.array([r[2] for r in rows], dtype=np.uint64),
        "dhash": np.array([r[3] for r in rows], dtype=np.uint64),
        "views_p": np.array([r[4] for r in rows], dtype=np.uint64),
        "views_d": np.array([r[5] for r in rows], dtype=np.uint64),
        "colour_layout": np.array([r[6] for r in rows]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--split", default="tuning", choices=("tuning", "validation"))
    args = ap.parse_args()
    got = build(args.n, args.split)
    labels, counts = np.unique(got["label"], return_counts=True)
    print(f"{len(got['phash'])} hashed pictures ({args.split}):", dict(zip(labels.tolist(), counts.tolist())))


if __name__ == "__main__":
    main()

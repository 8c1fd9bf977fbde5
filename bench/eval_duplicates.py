"""Duplicate detection, measured on labelled real photos.

Builds ~40 distinct pictures from real photographs (bench/photos.py: whole photos plus non-overlapping
quadrants of the larger ones), applies labelled transformations to each, extracts features with curate's
own extractor (the real decode path), and prints:
  * recall per transformation (a copy must be matched to its original) at the thresholds in rules/,
  * false matches among all pairs of different pictures, and pair precision,
  * a sweep over thresholds, to show why rules/checks.toml [duplicate] holds the values it does.

    python bench/eval_duplicates.py
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from photos import real_photos  # noqa: E402

from curate.derive.duplicates import colours_differ, near_pairs  # noqa: E402
from curate.extract import extract_one  # noqa: E402
from curate.extract.decode import Limits  # noqa: E402
from curate.rules import load_settings  # noqa: E402


def jpeg(im, q):
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def crop(im, f, sides="all"):
    w, h = im.size
    dx, dy = int(w * f), int(h * f)
    return im.crop((dx, dy, w - dx, h - dy) if sides == "all" else (dx, dy, w, h))


def resize(im, s):
    return im.resize((max(8, int(im.width * s)), max(8, int(im.height * s))), Image.LANCZOS)


TRANSFORMS = {
    "png re-encode (same pixels)": lambda im: im,
    "jpeg q90": lambda im: jpeg(im, 90),
    "jpeg q60": lambda im: jpeg(im, 60),
    "jpeg q30": lambda im: jpeg(im, 30),
    "resize 75% + jpeg q90": lambda im: jpeg(resize(im, 0.75), 90),
    "resize 50% + jpeg q90": lambda im: jpeg(resize(im, 0.5), 90),
    "upscale 200%": lambda im: resize(im, 2.0),
    "crop 3% (each side)": lambda im: crop(im, 0.03),
    "crop 5% (two sides)": lambda im: crop(im, 0.05, "two"),
    "crop 8% (each side)": lambda im: crop(im, 0.08),
    "brightness +15%": lambda im: ImageEnhance.Brightness(im).enhance(1.15),
    "contrast +20%": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
    "saturation x1.4": lambda im: ImageEnhance.Color(im).enhance(1.4),
    "warm colour shift": lambda im: Image.merge(
        "RGB", [b.point(lambda v, d=d: max(0, min(255, v + d))) for b, d in zip(im.split(), (18, 0, -12))]
    ),
    "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "resize 75% + crop 4% + jpeg q70": lambda im: jpeg(crop(resize(im, 0.75), 0.04, "two"), 70),
    "rotate 2 degrees": lambda im: im.rotate(2, resample=Image.BICUBIC, expand=False),
    "horizontal flip (not targeted)": lambda im: ImageOps.mirror(im),
}


def recolour(im: Image.Image, turn: int) -> Image.Image:
    """The same picture with its central object in another colour (hue turned; a product shot in a second
    colour): a different picture for a trainer, alike for luminance hashes."""
    w, h = im.size
    box = (w // 5, h // 5, w - w // 5, h - h // 5)
    hsv = np.array(im.crop(box).convert("HSV"))
    hsv[..., 0] = (hsv[..., 0].astype(int) + turn) % 256
    hsv[..., 1] = np.maximum(hsv[..., 1], 120)  # a garment's colour is saturated
    out = im.copy()
    out.paste(Image.fromarray(hsv, "HSV").convert("RGB"), box[:2])
    return out


RECOLOURS = {"recoloured object, hue +120°": 85, "recoloured object, hue +180°": 128}


def features(im: Image.Image, fmt: str, tmp: Path, name: str) -> dict:
    path = tmp / f"{name}.{fmt.lower()}"
    im.save(path, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    _, _, feats, _ = extract_one(str(path), Limits(), ("image",))
    return feats["image"]


def bits(hexes):
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def main() -> None:
    settings = load_settings()
    tp_max = settings.get("duplicate", "phash_max_distance")
    td_max = settings.get("duplicate", "dhash_max_distance")
    bases = real_photos()
    items = []  # (base index, transform name or None, phash, dhash)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for bi, (_name, im) in enumerate(bases):
            f = features(im, "PNG", tmp, f"{bi}_base")
            items.append((bi, None, f))
            for ti, (tname, fn) in enumerate(TRANSFORMS.items()):
                f = features(fn(im), "PNG", tmp, f"{bi}_{ti}")
                items.append((bi, tname, f))
            for ri, (rname, turn) in enumerate(RECOLOURS.items()):
                f = features(recolour(im, turn), "PNG", tmp, f"{bi}_r{ri}")
                items.append((bi, rname, f))
    # A recoloured object is another picture: its own index, so it counts among the different-picture pairs.
    base_idx = np.array([i[0] if i[1] not in RECOLOURS else -1 - k for k, i in enumerate(items)])
    layouts = [i[2].get("colour_layout") for i in items]
    dup = settings.cfg.duplicate
    arrays = (
        bits([i[2]["phash"] for i in items]),
        bits([i[2]["dhash"] for i in items]),
        np.array([[int(p, 16) for p, _ in i[2]["view_hashes"]] for i in items], dtype=np.uint64),
        np.array([[int(d, 16) for _, d in i[2]["view_hashes"]] for i in items], dtype=np.uint64),
    )
    n = len(items)

    def predict(max_p: int, max_d: int, colour: bool = True) -> np.ndarray:
        """The duplicate check's own matcher (whole picture and crop views, then the colour confirmation)."""
        pred = np.zeros((n, n), dtype=bool)
        for i, j, view, _, _ in near_pairs(*arrays, max_p, max_d):
            if (
                colour
                and view == 0
                and colours_differ(layouts[i], layouts[j], dup.colour_min_chroma, dup.colour_max_changed_share)
            ):
                continue
            pred[i, j] = pred[j, i] = True
        return pred

    same = base_idx[:, None] == base_idx[None, :]
    upper = np.triu(np.ones_like(same, dtype=bool), 1)
    neg = upper & ~same
    originals = {i[0]: k for k, i in enumerate(items) if i[1] is None}

    print(
        f"{len(bases)} distinct real pictures, {len(TRANSFORMS)} transformations each, "
        f"{len(items)} images, {int(neg.sum())} pairs of different pictures\n"
    )
    print(f"Recall per transformation at pHash ≤ {tp_max} and dHash ≤ {td_max} (copy matched to its original):")
    per = defaultdict(list)
    pred = predict(tp_max, td_max)
    for k, (bi, tname, _) in enumerate(items):
        if tname is None or tname in RECOLOURS:
            continue
        per[tname].append(bool(pred[k, originals[bi]]))
    hashes_only = predict(tp_max, td_max, colour=False)
    for rname in RECOLOURS:
        rows = [k for k, i in enumerate(items) if i[1] == rname]
        before = sum(bool(hashes_only[k, originals[items[k][0]]]) for k in rows)
        after = sum(bool(pred[k, originals[items[k][0]]]) for k in rows)
        print(
            f"  {rname} (a different picture): matched to its original {before}/{len(rows)} by the hashes, "
            f"{after}/{len(rows)} after the colour check"
        )
    print(f"  {'transformation':34s} recall")
    all_targeted = []
    for tname in TRANSFORMS:
        r = np.mean(per[tname])
        if "not targeted" not in tname:
            all_targeted += per[tname]
        print(f"  {tname:34s} {r:6.2f}")
    fp = int((pred & neg).sum())
    plain = np.array([i[1] not in RECOLOURS for i in items])
    fp_plain = int((pred & neg & plain[:, None] & plain[None, :]).sum())
    print(f"  false matches among the photos and their copies (recoloured objects left out): {fp_plain}")
    tp = int((pred & upper & same).sum())
    print(f"\n  overall recall (targeted transformations): {np.mean(all_targeted):.3f}")
    print(
        f"  false matches: {fp} of {int(neg.sum())} different-picture pairs "
        f"({fp / neg.sum():.5%}); pair precision {tp / max(1, tp + fp):.4f}"
    )
    if fp:
        shown = 0
        for i, j in zip(*np.nonzero(pred & neg)):
            if shown < 5:
                print(
                    f"    false match: {bases[items[i][0]][0]} [{items[i][1] or 'original'}] ~ "
                    f"{bases[items[j][0]][0]} [{items[j][1] or 'original'}]"
                )
                shown += 1

    print("\nSweep (recall over targeted copies vs. false matches among different pictures):")
    print(f"  {'pHash≤':>6} {'dHash≤':>6} {'recall':>7} {'false':>6} {'precision':>9}")
    targeted_rows = [
        k for k, i in enumerate(items) if i[1] is not None and "not targeted" not in i[1] and i[1] not in RECOLOURS
    ]
    for tp_ in (6, 8, 10, 12, 14, 16):
        for td_ in (8, 10, 12, 14, 16):
            pr = predict(tp_, td_)
            rec = np.mean([pr[k, originals[items[k][0]]] for k in targeted_rows])
            f = int((pr & neg).sum())
            t = int((pr & upper & same).sum())
            mark = "  ← rules/checks.toml" if (tp_, td_) == (tp_max, td_max) else ""
            print(f"  {tp_:>6} {td_:>6} {rec:7.3f} {f:>6} {t / max(1, t + f):9.4f}{mark}")


if __name__ == "__main__":
    main()

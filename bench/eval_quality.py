"""Image-quality checks, measured: recall per degradation and strength, false positives on clean images.

Builds labelled cases from real photos (bench/quality_cases.py: the 12 photographs among the public-domain
/ CC0 sample images shipped in scikit-image, scikit-learn and matplotlib), at each photo's own size with
strengths stated for a 1024-px image: Gaussian noise σ (per channel), Gaussian blur σ, downscale-then-
bicubic-upscale by k, JPEG quality q (and q20 re-saved as PNG), plus negatives: the clean photos, the same
photos as shallow-depth-of-field composites (sharp centre, blurred background), and 12 procedural
flat-colour artworks. Runs the real `curate audit` (JSON) and prints, for each case, the share flagged in
each quality category. Then times the quality extractor on 1024-px images on one core.

    python bench/eval_quality.py
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_cases import (add_noise, blur, clean_photos, flat_art, jpeg, noise_reduced, shallow_dof,  # noqa: E402
                           upscaled)

CATS = ("noise", "blur", "upscaled", "compression")
CASES = {
    "clean photo": (None, lambda im: im),
    "shallow depth of field": (None, shallow_dof),
    "noise σ 4": ("noise", lambda im: add_noise(im, 4)),
    "noise σ 8": ("noise", lambda im: add_noise(im, 8)),
    "noise σ 12": ("noise", lambda im: add_noise(im, 12)),
    "noise σ 16": ("noise", lambda im: add_noise(im, 16)),
    "blur σ 1 px": ("blur", lambda im: blur(im, 1)),
    "blur σ 2 px": ("blur", lambda im: blur(im, 2)),
    "blur σ 3 px": ("blur", lambda im: blur(im, 3)),
    "upscaled 1.5×": ("upscaled", lambda im: upscaled(im, 1.5)),
    "upscaled 2×": ("upscaled", lambda im: upscaled(im, 2)),
    "upscaled 3×": ("upscaled", lambda im: upscaled(im, 3)),
    "upscaled 4×": ("upscaled", lambda im: upscaled(im, 4)),
    "JPEG q60": ("compression", ("JPEG", 60)),
    "JPEG q40": ("compression", ("JPEG", 40)),
    "JPEG q20": ("compression", ("JPEG", 20)),
    "JPEG q10": ("compression", ("JPEG", 10)),
    "JPEG q20 re-saved as PNG": ("compression", lambda im: jpeg(im, 20)),
    "noise-reduced high ISO (over-smoothing: not detected yet)": (None, noise_reduced),
}


def build(folder: Path) -> dict[str, tuple[str, str | None]]:
    labels = {}
    photos = clean_photos()
    for ci, (case, (target, make)) in enumerate(CASES.items()):
        for name, im in photos:
            stem = f"c{ci:02d}_{name}"
            if isinstance(make, tuple):
                path = folder / f"{stem}.jpg"
                im.save(path, "JPEG", quality=make[1])
            else:
                path = folder / f"{stem}.png"
                make(im).convert("RGB").save(path)
            labels[path.name] = (case, target)
    for i in range(12):
        path = folder / f"art_{i:02d}.png"
        flat_art(i).save(path)
        labels[path.name] = ("flat-colour art", None)
    return labels


def main() -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cases"
        folder.mkdir()
        labels = build(folder)
        r = CliRunner().invoke(app, ["audit", str(folder), "--json", "-", "-q", "--no-cache", "--base-model", "sd15",
                                     "--select", ",".join(CATS)])
        report = json.loads(r.stdout)
    flagged: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for img in report["images"]:
        case, _ = labels[img["path"]]
        cats = {f["category"] for f in img["findings"]}
        for c in CATS:
            flagged[case][c].append(c in cats)
    print(f"{len(report['images'])} images; share flagged per quality category (target category in bold):\n")
    print(f"| case | n | {' | '.join(CATS)} |")
    print("|---|---:|" + "---:|" * len(CATS))
    order = list(CASES) + ["flat-colour art"]
    targets = {k: v[0] for k, v in CASES.items()}
    for case in order:
        row = flagged[case]
        n = len(row[CATS[0]])
        cells = []
        for c in CATS:
            share = sum(row[c]) / n
            cells.append(f"**{share:.2f}**" if targets.get(case) == c else f"{share:.2f}")
        print(f"| {case} | {n} | {' | '.join(cells)} |")
    negatives = [c for c in ("clean photo", "shallow depth of field", "flat-colour art")]
    fp = [any(flagged[c][cat][i] for cat in CATS) for c in negatives for i in range(len(flagged[c][CATS[0]]))]
    print(f"\nnegatives flagged in any quality category: {sum(fp)}/{len(fp)} ({sum(fp) / len(fp):.1%})")
    timing()


def timing() -> None:
    from PIL import Image

    from curate.extract import quality
    from curate.extract.decode import Limits, decode_image

    times = []
    for name, im in clean_photos():
        buf = io.BytesIO()
        im.resize((1024, 1024), Image.LANCZOS).save(buf, "JPEG", quality=92)
        d = decode_image(buf.getvalue(), Limits())
        quality.compute(d)
        t0 = time.perf_counter()
        for _ in range(5):
            quality.compute(d)
        times.append((time.perf_counter() - t0) * 200)
    print(f"quality extractor on 1024×1024 images, one core: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms per image")


if __name__ == "__main__":
    main()

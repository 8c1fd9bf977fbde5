"""Image-quality checks, measured: recall per degradation and strength, false positives on clean images.

Builds labelled cases from real photos (bench/quality_cases.py: the 12 photographs among the public-domain
/ CC0 sample images shipped in scikit-image, scikit-learn and matplotlib), at each photo's own size with
strengths stated for a 1024-px image: Gaussian noise σ (per channel), Gaussian blur σ, downscale-then-
bicubic-upscale by k, JPEG quality q (and q20 re-saved as PNG), plus negatives: the clean photos, the same
photos as shallow-depth-of-field composites (sharp centre, blurred background), and 12 procedural
flat-colour artworks. Runs the real `curate audit` (JSON) and prints, for each case, the share flagged in
each quality category. Then times the quality extractor on 1024-px images on one core.

Second table, over-smoothing (BLR002) on faces: portraits (astronaut and grace_hopper from the wheels, plus
any photos in --portraits DIR) at their size (≤ 1024 px) and reduced so the face is ~130 px, each clean,
with light grain (σ 4), as JPEG q60 and q50, through a beauty filter (bilateral "surface blur" over the face at
colour σ 20 / 35 / 60), as a high-ISO shot (grain σ 12) cleaned by non-local-means noise reduction, and
blurred 1 / 2 px. Share flagged BLR002 (over-smoothed) and BLR001/UPS (soft/upscaled) per case.

    python bench/eval_quality.py [--portraits DIR]

A public-domain portrait set (official White House photos, US government works) ships in the
face_recognition 1.3.0 sdist; the README's figures used it:
    pip download face_recognition==1.3.0 --no-deps --no-binary :all: -d /tmp/fr && tar xzf /tmp/fr/*.tar.gz -C /tmp/fr
    python bench/eval_quality.py --portraits /tmp/fr/face_recognition-1.3.0/tests/test_images
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

from quality_cases import (  # noqa: E402
    add_noise,
    beauty_filter,
    blur,
    clean_photos,
    denoised_high_iso,
    face_box,
    flat_art,
    jpeg,
    largest_face,
    noise_reduced,
    portraits,
    shallow_dof,
    upscaled,
)

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
    "median 5 + smoothing (no face: over-smoothing not judged)": (None, noise_reduced),
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
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portraits", type=Path, help="more portrait photos (a folder) for the over-smoothing table")
    ap.add_argument("--faces-only", action="store_true", help="only the over-smoothing table")
    ap.add_argument("-v", "--verbose", action="store_true", help="list each portrait case's measure and findings")
    args = ap.parse_args()
    if not args.faces_only:
        categories()
        timing()
    smoothing(args.portraits, args.verbose)


def categories() -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cases"
        folder.mkdir()
        labels = build(folder)
        r = CliRunner().invoke(
            app,
            [
                "audit",
                str(folder),
                "--json",
                "-",
                "-q",
                "--no-cache",
                "--base-model",
                "sd15",
                "--select",
                ",".join(CATS),
            ],
        )
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


def timing() -> None:
    from PIL import Image

    from curate.extract import quality
    from curate.extract.decode import Limits, decode_image

    times = []
    for _name, im in clean_photos():
        buf = io.BytesIO()
        im.resize((1024, 1024), Image.LANCZOS).save(buf, "JPEG", quality=92)
        d = decode_image(buf.getvalue(), Limits())
        quality.compute(d)
        t0 = time.perf_counter()
        for _ in range(5):
            quality.compute(d)
        times.append((time.perf_counter() - t0) * 200)
    print(
        f"quality extractor on 1024×1024 images, one core: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms per image"
    )


FACE_CASES = {
    "clean": (False, lambda im, box: im),
    "light grain σ 4": (False, lambda im, box: add_noise(im, 4 * max(im.size) / 1024)),
    "JPEG q60": (False, 60),
    "JPEG q50": (False, 50),
    "beauty filter, colour σ 20": (True, lambda im, box: beauty_filter(im, box, 20)),
    "beauty filter, colour σ 35": (True, lambda im, box: beauty_filter(im, box, 35)),
    "beauty filter, colour σ 60": (True, lambda im, box: beauty_filter(im, box, 60, 0.05)),
    "high ISO σ 12 + noise reduction": (True, lambda im, box: denoised_high_iso(im)),
    "blur σ 1 px": (None, lambda im, box: blur(im, 1)),
    "blur σ 2 px": (None, lambda im, box: blur(im, 2)),
}


def smoothing(extra: Path | None, verbose: bool = False) -> None:
    """Over-smoothed skin (BLR002) on real portraits: recall per filter strength, false positives on the
    untouched, grainy and compressed versions."""
    from PIL import Image
    from typer.testing import CliRunner

    from curate.cli import app

    sources = []
    for name, im in portraits(extra):
        if max(im.size) > 1024:
            k = 1024 / max(im.size)
            im = im.resize((round(im.width * k), round(im.height * k)), Image.LANCZOS)
        box = face_box(im)
        if box is None:
            continue
        sources.append((name, im, box))
        fw = box[2] - box[0]
        if fw >= 180:  # the same portrait smaller: a face of ~130 px
            k = 130 / fw
            small = im.resize((round(im.width * k), round(im.height * k)), Image.LANCZOS)
            sbox = face_box(small)
            if sbox:
                sources.append((f"{name}_small", small, sbox))
    labels = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "faces"
        folder.mkdir()
        for ci, (case, (_, make)) in enumerate(FACE_CASES.items()):
            for name, im, box in sources:
                if isinstance(make, int):
                    path = folder / f"f{ci:02d}_{name}.jpg"
                    im.save(path, "JPEG", quality=make)
                else:
                    path = folder / f"f{ci:02d}_{name}.png"
                    make(im, box).convert("RGB").save(path)
                labels[path.name] = (case, name)
        r = CliRunner().invoke(
            app,
            [
                "audit",
                str(folder),
                "--json",
                "-",
                "-q",
                "--no-cache",
                "--base-model",
                "sd15",
                "--profile",
                "person",
                "--select",
                "blur,upscaled",
            ],
        )
        report = json.loads(r.stdout)
        # the report carries the skin measure only when an image is flagged: read it for every case
        texture = {p: (largest_face((folder / p).read_bytes()) or {}).get("skin_texture") for p in labels}
    rows: dict[str, list[tuple[bool, bool, float | None]]] = defaultdict(list)
    for img in report["images"]:
        case, name = labels[img["path"]]
        codes = {f["code"] for f in img["findings"]}
        rows[case].append(("BLR002" in codes, bool(codes & {"BLR001", "UPS001", "UPS002"}), texture[img["path"]]))
    print(f"\nOver-smoothed skin (BLR002) on {len(sources)} portraits ({', '.join(n for n, _, _ in sources)}):\n")
    print("| case | n | BLR002 over-smoothed | BLR001/UPS soft or upscaled | skin texture (min–max) |")
    print("|---|---:|---:|---:|---|")
    for case, (target, _) in FACE_CASES.items():
        r = rows[case]
        tex = [t for *_, t in r if t is not None]
        share = sum(x[0] for x in r) / max(len(r), 1)
        cell = f"**{share:.2f}**" if target else f"{share:.2f}"
        span = f"{min(tex):.2f}–{max(tex):.2f}" if tex else "–"
        print(f"| {case} | {len(r)} | {cell} | {sum(x[1] for x in r) / max(len(r), 1):.2f} | {span} |")
    if verbose:
        for img in sorted(report["images"], key=lambda i: i["path"]):
            codes = sorted({f["code"] for f in img["findings"]})
            print(f"  {img['path']:40s} skin {texture[img['path']]}  {' '.join(codes)}")


if __name__ == "__main__":
    main()

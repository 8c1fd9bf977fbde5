"""Speed of `curate audit` with the spine's checks: cold (empty cache) and warm (unchanged folder).

Builds N distinct 1024×1024 JPEGs from real photos (bench/photos.py: random crops, flips and colour
changes of public-domain photos, quality 90), then times the real CLI in a subprocess:
  * cold: a fresh cache directory (every image read, hashed, decoded, features computed),
  * warm: the same command again (nothing decoded; the stat index answers),
and reports images/s and the peak resident memory of the audit process. Optionally times cleanvision and
imagededup on the same folder when they are installed (`--compare`).

    python bench/bench_audit.py --n 300 [--jobs 2] [--compare]
    python bench/bench_audit.py --n 10000          # the memory target
    python bench/bench_audit.py --n 2000 --select unreadable,resolution,duplicate,caption   # the spine only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import photo_at, real_photos  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build(folder: Path, n: int, side: int = 1024) -> None:
    rng = random.Random(1)
    photos = [im for _, im in real_photos(split_large=False)]
    folder.mkdir(parents=True, exist_ok=True)
    existing = len(list(folder.glob("*.jpg")))
    for i in range(existing, n):
        im = rng.choice(photos)
        w, h = im.size
        s = rng.uniform(0.5, 0.9)
        cw, ch = int(w * s), int(h * s)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        out = photo_at(im.crop((x, y, x + cw, y + ch)), (side, side))
        if rng.random() < 0.5:
            out = ImageOps.mirror(out)
        out = ImageEnhance.Color(out).enhance(rng.uniform(0.6, 1.4))
        out.save(folder / f"{i:05d}.jpg", quality=90)
        (folder / f"{i:05d}.txt").write_text("bench photo", encoding="utf-8")


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) of the child and its workers, stdout."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return wall, peak, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--folder", type=Path, default=ROOT / "bench" / "_work")
    ap.add_argument("--compare", action="store_true", help="also time cleanvision and imagededup if importable")
    ap.add_argument("--select", default="", help="pass --select to curate (e.g. the spine's checks only)")
    args = ap.parse_args()
    folder = args.folder / f"jpeg1024_{args.n}"
    t0 = time.perf_counter()
    build(folder, args.n)
    print(
        f"{args.n} JPEGs (1024×1024, q90) in {folder} (built in {time.perf_counter() - t0:.0f} s); "
        f"{os.cpu_count()} cores; checks: {args.select or 'all'}"
    )
    with tempfile.TemporaryDirectory() as cache:
        base = [
            sys.executable,
            "-m",
            "curate",
            "audit",
            str(folder),
            "--cache-dir",
            cache,
            "--json",
            "-",
            "-q",
            "--jobs",
            str(args.jobs),
        ] + (["--select", args.select] if args.select else [])
        cold, peak_cold, out = timed(base)
        ex = json.loads(out)["summary"]["extraction"]
        warm, peak_warm, out = timed(base)
        ex2 = json.loads(out)["summary"]["extraction"]
    assert ex["decoded"] == args.n and ex2["decoded"] == 0
    print(f"curate cold : {cold:6.2f} s  {args.n / cold:7.0f} images/s  (extraction {ex['seconds']:.2f} s)")
    print(f"curate warm : {warm:6.2f} s  {args.n / warm:7.0f} images/s  (0 decoded; extraction {ex2['seconds']:.2f} s)")
    print(f"peak memory : {max(peak_cold, peak_warm)} MB (largest process)")
    if args.compare:
        compare(folder)


def compare(folder: Path) -> None:
    code = {
        "cleanvision (default issue scan)": "from cleanvision import Imagelab; Imagelab(data_path=%r).find_issues(verbose=False)",
        "imagededup PHash find_duplicates": "from imagededup.methods import PHash; PHash(verbose=False).find_duplicates(image_dir=%r)",
    }
    for name, snippet in code.items():
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", snippet % str(folder)], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"{name}: not run ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'})")
        else:
            n = len(list(folder.glob("*.jpg")))
            print(f"{name:34s}: {wall:6.2f} s  {n / wall:7.0f} images/s")


if __name__ == "__main__":
    main()

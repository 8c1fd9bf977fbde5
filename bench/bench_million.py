"""The spine audit at 1,000,000 pictures: its peak memory and time (issue 22), without extracting 900,000 more.

Extracting a million pictures takes this 2-core machine about an hour; what grows with the count after extraction —
the scan, the records and their features, the near-duplicate pairs and groups, the findings, the reports — does
not need them decoded. So the folder is:

- the 100,000 pictures of bench/bench_scale.py (real crops of the Debian wallpaper photographs, 30 % with copies),
  extracted for real into the cache by a first audit of their own folder (hard links here: the same files);
- `--filler` more files (900,000 by default), each a distinct 8 × 8 PNG with a caption, whose `image` features are
  written straight into the cache (the rows an extraction would write, keyed the same way): a width and height
  drawn from the real pictures', random hashes shaped like pHash (as bench/bench_matching.py's random rows: 32 of
  64 bits set), a random colour layout and pixel hash. They are never decoded (a warm audit decodes nothing), so
  their findings are what their rows say: below the training resolution, and near-duplicates only by chance.

Then the real CLI with the spine's checks, as bench_scale runs it (`--select unreadable,resolution,DUP001,DUP002,
caption`, 2 workers, the JSON report written), twice: the first audit of the folder matches every pair (no pairs
are kept from an earlier audit yet), the second keeps them. Peak = the largest resident size of the audit (this
script prepares the folder in a process of its own, so that the audit does not inherit its size).

    python bench/bench_million.py [--filler 900000] [--jobs 2] [--cold] [--keep]

`--cold` writes no features: the first audit extracts all of them from an empty cache (the filler PNGs decoded
for real), so that its peak is a cold audit's at a million.

The folder and its cache are under bench/_work/ (about 8 GB of disk for a million: two files per picture);
`--keep` leaves them for another run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import ROOT, SPINE, build, timed  # noqa: E402

REAL = 100_000
PNG_8x8 = 64 * 3


def _png(rng: random.Random) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (8, 8), rng.randbytes(PNG_8x8)).save(out, format="PNG")
    return out.getvalue()


def _random_phash(rng: random.Random) -> str:
    bits = rng.sample(range(64), 32)
    return f"{sum(1 << b for b in bits):016x}"


def make_folder(real: Path, folder: Path, filler: int, jobs: int) -> None:
    """`folder`: links to the real pictures (built if need be) and `filler` distinct 8 × 8 PNG files with captions."""
    build(real, REAL, jobs)
    folder.mkdir(parents=True, exist_ok=True)
    for p in real.iterdir():
        if p.suffix in (".jpg", ".txt") and not (folder / p.name).exists():
            os.link(p, folder / p.name)
    rng = random.Random(22)
    for k in range(filler):
        picture = folder / f"fill_{k:07d}.png"
        data = _png(rng)  # drawn whether or not the file is there, so that every run makes the same files
        if not picture.exists():
            picture.write_bytes(data)
            picture.with_suffix(".txt").write_text("a photo", encoding="utf-8")


def prepare(real: Path, folder: Path, cache: Path, filler: int, jobs: int) -> None:
    """The real pictures extracted into `cache`; `folder` holding links to them and the filler files, every file
    known to the cache by path, size, date and inode, and every content's `image` features in it."""
    from curate.cache import FeatureCache, path_key, stat_key
    from curate.extract import versions

    make_folder(real, folder, filler, jobs)
    cmd = [sys.executable, "-m", "curate", "audit", str(real), "--cache-dir", str(cache), "--select", SPINE]
    subprocess.run([*cmd, "-q", "--jobs", str(jobs), "--fail-on", "never"], check=True, stdout=subprocess.DEVNULL)
    version = versions(("image",))["image"]
    db = sqlite3.connect(cache / FeatureCache.FILE_NAME)
    real_rows: list[dict] = []
    rows = []
    for p in sorted(folder.glob("*.jpg")):  # the links: known by their own path
        sha = hashlib.sha256(p.read_bytes()).hexdigest()
        rows.append((path_key(str(p)), *stat_key(p.stat()), sha))
        if len(real_rows) < 5000:
            (data,) = db.execute(
                "SELECT data FROM features WHERE sha256 = ? AND extractor = 'image'", (sha,)
            ).fetchone()
            real_rows.append(json.loads(data))
    db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    rng = random.Random(23)
    template = real_rows[0]
    layout_chars = len(template["colour_layout"])
    t0 = time.perf_counter()
    files, features = [], []
    for k in range(filler):
        picture = folder / f"fill_{k:07d}.png"
        sha = hashlib.sha256(picture.read_bytes()).hexdigest()
        like = rng.choice(real_rows)
        record = dict(template)
        record.update(
            width=like["width"],
            height=like["height"],
            pixel_hash=rng.randbytes(32).hex(),
            phash=_random_phash(rng),
            dhash=rng.randbytes(8).hex(),
            view_hashes=[[_random_phash(rng), rng.randbytes(8).hex()] for _ in template["view_hashes"]],
            colour_layout=rng.randbytes(layout_chars // 2).hex(),
        )
        files.append((path_key(str(picture)), *stat_key(picture.stat()), sha))
        features.append((sha, "image", version, json.dumps(record, separators=(",", ":"))))
        if len(files) >= 50_000 or k == filler - 1:
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", files)
            db.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)", features)
            db.commit()
            files, features = [], []
            print(f"  {k + 1:,} filler files ({time.perf_counter() - t0:.0f} s)", flush=True)
    db.execute("DELETE FROM memos")  # the first audit of the folder matches every pair
    db.commit()
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--filler", type=int, default=900_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "_work")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="write no features: the first audit extracts every picture from an empty cache (≈ 40 min here)",
    )
    ap.add_argument("--keep", action="store_true", help="leave the folder and its cache for another run")
    args = ap.parse_args()
    work = args.work.absolute()
    real, folder = work / f"scale_{REAL}", work / f"million_{args.filler}"
    cache = work / f"million_{args.filler}_{'cold_' if args.cold else ''}cache"
    t0 = time.perf_counter()
    if args.cold and cache.exists():
        shutil.rmtree(cache)
    build(real, REAL, args.jobs)  # here: it starts processes of its own, which a pool's worker cannot
    with get_context("spawn").Pool(1) as once:  # the preparing process's size is not the audit's
        if args.cold:
            once.apply(make_folder, (real, folder, args.filler, args.jobs))
        else:
            once.apply(prepare, (real, folder, cache, args.filler, args.jobs))
    n = REAL + args.filler
    print(f"{n:,} pictures in {folder} (prepared in {time.perf_counter() - t0:.0f} s); {args.jobs} workers; {SPINE}")
    report = work / "million_report.json"
    cmd = [sys.executable, "-m", "curate", "audit", str(folder), "--cache-dir", str(cache), "--select", SPINE]
    cmd += ["--json", str(report), "-q", "--jobs", str(args.jobs), "--fail-on", "never"]
    first = (
        "first audit (every picture extracted, every pair matched)" if args.cold else "first audit (every pair matched)"
    )
    for label in (first, "second audit (the pairs kept)"):
        wall, peak = timed(cmd)
        print(f"{label}: {wall:.1f} s — {n / wall:,.0f}/s, peak {peak:,} MB", flush=True)
    summary = json.loads(report.read_bytes())["summary"]
    print(f"report: {report.stat().st_size / 2**20:,.0f} MB; summary {summary}")
    if not args.keep:
        shutil.rmtree(folder)
        shutil.rmtree(cache)
        report.unlink()


if __name__ == "__main__":
    main()

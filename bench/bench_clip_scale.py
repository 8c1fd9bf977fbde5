"""The CLIP checks at scale: an audit's time and peak memory with semantic duplicates (DUP003) and the composition
checks (CPS001–CPS005) on, from 10,000 to 1,000,000 pictures (issue 22: bounded memory at any size).

No CLIP weights can be fetched where curate is developed, and embedding a million pictures on 2 cores would take
days, so the embeddings are synthetic and written straight into the cache, as bench/bench_million.py writes its
`image` rows; everything after — the CLIP stage reading them from the cache, the checks, the reports — is the real
CLI. The folder: `n` distinct 8 × 8 PNG files with captions. The cache, for each:

- `image`, `quality`, `faces`: one real extraction's records (a 1024-px photograph without a face), with random
  hashes shaped like pHash, a random colour layout and pixel hash (near-duplicates only by chance);
- `clip` under the default model's id: the whole picture (512 dimensions, unit length, on an anisotropic sphere:
  half are distinct shots, half an edited copy of one at cosine ≈ 0.93–0.99, around DUP003's limit); for a third
  of them, a person: background, person and head views, each near one label of each prompt bank read through it
  (labels drawn with a skewed share, so some backgrounds, outfits, poses and hairstyles are common);
- the prompt banks' text embeddings (random unit vectors) under the same id.

Then `curate audit` with the spine's checks plus DUP003 and CPS, 2 workers, the JSON report written, twice (the
second with DUP001/DUP002's pairs kept). Peak = the largest resident size of the audit.

    python bench/bench_clip_scale.py [--sizes 10000,100000] [--jobs 2] [--keep]

Another version of curate can be measured on the same folder and cache with `--checkout DIR` (its CLI is run from
that folder, so that `python -m curate` imports it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_million import _png, _random_phash  # noqa: E402
from bench_scale import ROOT, SPINE, timed  # noqa: E402

CHECKS = f"{SPINE},DUP003,CPS"
PERSON_SHARE = 1 / 3
D = 512
CHUNK = 50_000


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def templates(work: Path) -> dict[str, tuple[int, dict]]:
    """{extractor: (version, record)} of one real extraction: a 1024-px photograph without a face."""
    from PIL import Image

    from curate.cache import FeatureCache

    photo = work / "template"
    photo.mkdir(parents=True, exist_ok=True)
    with Image.open(ROOT / "sample_datasets" / "lora_data" / "10_pdphoto photo" / "coffee.jpg") as im:
        im.convert("RGB").resize((1024, 683)).save(photo / "a.jpg", quality=90)
    cache = work / "template_cache"
    cmd = [sys.executable, "-m", "curate", "audit", str(photo), "--cache-dir", str(cache), "--select", CHECKS]
    subprocess.run([*cmd, "-q", "--jobs", "1", "--fail-on", "never"], check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(cache / FeatureCache.FILE_NAME)
    rows = db.execute("SELECT extractor, version, data FROM features").fetchall()
    db.close()
    return {name: (version, json.loads(data)) for name, version, data in rows if name in ("image", "quality", "faces")}


def prepare(folder: Path, cache: Path, n: int, work: Path) -> None:
    """`folder` with n pictures and captions, and `cache` holding every feature the checks read."""
    from curate.cache import FeatureCache, path_key, stat_key
    from curate.extract.clip import NAME, VERSION, ClipOptions, encode_vector, model_id
    from curate.rules import load_settings

    if cache.exists():
        return
    made = templates(work)
    folder.mkdir(parents=True, exist_ok=True)
    FeatureCache(cache).close()  # the schema
    db = sqlite3.connect(cache / FeatureCache.FILE_NAME)
    mid = model_id(ClipOptions())
    key = f"{NAME}:{mid}"
    rng = random.Random(22)
    nrng = np.random.default_rng(22)
    banks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # view → its banks' (label vectors, label shares)
    for bank in load_settings().data["prompts"].values():
        labels = list(bank.get("labels", {}))
        prompts = [bank["labels"][k] for k in labels]
        texts = _unit(nrng.normal(size=(len(labels), D)))
        digest = hashlib.sha256("\n".join(prompts).encode("utf-8")).hexdigest()
        data = json.dumps({"vectors": [encode_vector(v) for v in texts]})
        db.execute("INSERT INTO features VALUES (?, ?, ?, ?)", (f"text:{digest}", f"{NAME}-text:{mid}", VERSION, data))
        share = 1 / np.arange(1, len(labels) + 1) ** 1.2  # a few labels common, most rare
        banks.setdefault(bank.get("view", "full"), []).append((texts, share / share.sum()))
    scale = np.linspace(0.2, 2.0, D)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        base = _unit(nrng.normal(size=(m - m // 2, D)) * scale)
        src = nrng.integers(0, len(base), m // 2)
        noise = nrng.uniform(0.1, 0.35, size=(len(src), 1)) * nrng.normal(size=(len(src), D)) / np.sqrt(D)
        full = _unit(np.concatenate([base, base[src] + noise]))
        files, features = [], []
        for k in range(m):
            picture = folder / f"p_{start + k:07d}.png"
            data = _png(rng)
            if not picture.exists():
                picture.write_bytes(data)
                picture.with_suffix(".txt").write_text("a photo of a person", encoding="utf-8")
            sha = hashlib.sha256(data).hexdigest()
            image = dict(made["image"][1])
            image.update(
                pixel_hash=rng.randbytes(32).hex(),
                phash=_random_phash(rng),
                dhash=rng.randbytes(8).hex(),
                view_hashes=[[_random_phash(rng), rng.randbytes(8).hex()] for _ in image["view_hashes"]],
                colour_layout=rng.randbytes(len(image["colour_layout"]) // 2).hex(),
            )
            views = {"full": encode_vector(full[k])}
            if rng.random() < PERSON_SHARE:
                for view, its in banks.items():
                    if view != "full":  # near one label of each bank read through this view (outfit and pose)
                        v = _unit(nrng.normal(size=D)) + sum(0.5 * t[nrng.choice(len(t), p=p)] for t, p in its)
                        views[view] = encode_vector(_unit(v))
            files.append((path_key(str(picture)), *stat_key(picture.stat()), sha))
            for name in ("quality", "faces"):
                features.append((sha, name, made[name][0], json.dumps(made[name][1])))
            features.append((sha, "image", made["image"][0], json.dumps(image)))
            features.append((sha, key, VERSION, json.dumps({"model": mid, "views": views})))
        db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", files)
        db.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)", features)
        db.commit()
        print(f"  {start + m:,} pictures ({time.perf_counter() - t0:.0f} s)", flush=True)
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "_work")
    ap.add_argument("--checkout", type=Path, help="measure the curate of this checkout (run from its folder)")
    ap.add_argument("--keep", action="store_true", help="leave the folders and caches for another run")
    args = ap.parse_args()
    work = args.work.absolute()
    print(f"{args.jobs} workers; --select {CHECKS}")
    print("| pictures | first audit | second audit | peak RSS | DUP003 | CPS | report |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        folder, cache = work / f"clip_{n}", work / f"clip_{n}_cache"
        with get_context("spawn").Pool(1) as once:  # the preparing process's size is not the audit's
            once.apply(prepare, (folder, cache, n, work))
        with tempfile.TemporaryDirectory() as out:
            report = Path(out) / "r.json"
            cmd = [sys.executable, "-m", "curate", "audit", str(folder), "--cache-dir", str(cache)]
            cmd += ["--select", CHECKS, "--json", str(report), "-q", "--jobs", str(args.jobs), "--fail-on", "never"]
            walls, peaks = [], []
            for _ in range(2):
                wall, peak = timed(cmd, args.checkout)
                walls.append(wall)
                peaks.append(peak)
            summary = json.loads(report.read_bytes())["summary"]
            codes = summary["by_code"]
            cps = sum(v for c, v in codes.items() if c.startswith("CPS"))
            print(
                f"| {n:,} | {walls[0]:.1f} s | {walls[1]:.1f} s | {max(peaks):,} MB | {codes.get('DUP003', 0):,} | "
                f"{cps:,} | {report.stat().st_size / 2**20:,.0f} MB |",
                flush=True,
            )
        if not args.keep:
            shutil.rmtree(folder)
            shutil.rmtree(cache)


if __name__ == "__main__":
    main()

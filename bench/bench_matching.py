"""Near-duplicate matching at scale: the multi-index matcher of curate/derive/duplicates.py against comparing all
pairs, on perceptual hashes of real pictures (bench/hash_corpus.py).

For each size it reports the matcher's wall time, the peak memory of its NumPy arrays (tracemalloc) and the
process's peak resident size so far (the compiled loop's arrays are not traced; run one size per process to read
it for that size alone), and where all pairs can still be compared (≤ 20,000 pictures), that the pairs — and so
the groups — are identical. The largest
sizes add random hashes with pHash's shape (exactly 32 of 64 bits set) to the real ones: the real corpus is
built from ~80 photographs, so its crops crowd together far more than a million unrelated pictures would.

    python bench/bench_matching.py                       # 10,000 (both splits) and 100,000
    python bench/bench_matching.py --sizes 10000,100000,1000000
    python bench/bench_matching.py --sizes 10000,100000,1000000 --new 1000
    python bench/bench_matching.py --numpy ...           # the NumPy inner loop where Numba (curate[scale]) is installed

`--new K`: a re-audit after K pictures were added (PairMemo: the pairs among the others are known): only the pairs
with one of K pictures (drawn among the real ones, which crowd together) are matched. Where all pictures can still
be matched by the index (≤ 100,000), the pairs are checked against those of matching all.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hash_corpus import build  # noqa: E402

from curate.derive import hamming_kernel  # noqa: E402
from curate.derive.duplicates import near_pair_rows, near_pairs, popcount  # noqa: E402
from curate.rules import load_settings  # noqa: E402

REAL_MAX = 100_000
T = TypeVar("T")


def all_pairs(full_p, full_d, views_p, views_d, max_p, max_d, block=512):
    """The matcher curate used before the index: every view of every image against every whole picture."""
    all_p = np.concatenate([full_p[:, None], views_p], axis=1)
    all_d = np.concatenate([full_d[:, None], views_d], axis=1)
    best: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for start in range(0, len(full_p), block):
        for v in range(all_p.shape[1]):
            dp = popcount(all_p[start : start + block, v, None] ^ full_p[None, :])
            ii, jj = np.nonzero(dp <= max_p)
            gi = ii + start
            keep = gi != jj
            ii, gi, jj = ii[keep], gi[keep], jj[keep]
            dd = popcount(all_d[gi, v] ^ full_d[jj])
            ok = dd <= max_d
            for i, g, j, d in zip(ii[ok].tolist(), gi[ok].tolist(), jj[ok].tolist(), dd[ok].tolist()):
                key, p = (min(g, j), max(g, j)), int(dp[i, j])
                cand = (p + d, v, p, d)
                if key not in best or cand < best[key]:
                    best[key] = cand
    return [(i, j, v, p, d) for (i, j), (_, v, p, d) in sorted(best.items())]


def random_like_phash(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 64-bit values with exactly 32 bits set, as pHash's median split makes them."""
    bits = np.zeros((n, 64), dtype=np.uint8)
    bits[:, :32] = 1
    bits = rng.permuted(bits, axis=1)
    return np.packbits(bits, axis=1).view(">u8").reshape(-1).astype(np.uint64)


def corpus(n: int, split: str) -> tuple[tuple[np.ndarray, ...], str]:
    real = build(min(n, REAL_MAX), split)
    arrays = [real[k] for k in ("phash", "dhash", "views_p", "views_d")]
    if n <= REAL_MAX:
        return tuple(arrays), f"{n:,} real"
    rng = np.random.default_rng(n)
    extra = n - REAL_MAX
    p = random_like_phash(rng, extra)
    d = rng.integers(0, 2**64, size=extra, dtype=np.uint64)
    vp = np.stack([random_like_phash(rng, extra) for _ in range(arrays[2].shape[1])], axis=1)
    vd = rng.integers(0, 2**64, size=(extra, arrays[3].shape[1]), dtype=np.uint64)
    arrays = [np.concatenate([a, b]) for a, b in zip(arrays, (p, d, vp, vd))]
    return tuple(arrays), f"{REAL_MAX:,} real + {extra:,} random"


def measured(run: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float, float]:
    """What `run(*args, **kwargs)` returns, its wall seconds and the peak MB of what it allocated (tracemalloc)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = run(*args, **kwargs)
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, took, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--new", type=int, default=0, help="match only the pairs with NEW of the pictures")
    ap.add_argument("--numpy", action="store_true", help="the NumPy inner loop even where Numba is installed")
    args = ap.parse_args()
    if args.numpy:
        hamming_kernel.COMPILED_FROM = 1 << 62
    if hamming_kernel.available() and not args.numpy:
        print(f"inner loop: compiled (Numba) from {hamming_kernel.COMPILED_FROM:,} queries; NumPy below")
    else:
        print("inner loop: NumPy")
    if args.new:
        incremental(args)
        return
    dup = load_settings().cfg.duplicate
    limits = (dup.phash_max_distance, dup.dhash_max_distance)
    print(f"pHash ≤ {limits[0]}, dHash ≤ {limits[1]}; whole picture + 6 crop views per image\n")
    print(
        f"{'pictures':>28} {'split':>10} {'pairs':>9} {'index s':>8} {'peak MB':>8} {'RSS MB':>7} {'all pairs s':>11} identical"
    )
    for n in [int(x) for x in args.sizes.split(",")]:
        for split in ("tuning", "validation") if n <= 10_000 else ("tuning",):
            arrays, what = corpus(n, split)
            got, took, peak = measured(lambda *a: list(near_pairs(*a)), *arrays, *limits)
            ref, same = "", ""
            if n <= 20_000:
                t0 = time.perf_counter()
                want = all_pairs(*arrays, *limits)
                ref = f"{time.perf_counter() - t0:.2f}"
                same = "yes" if got == want else f"NO ({len(set(want) - set(got))} missed)"
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{what:>28} {split:>10} {len(got):>9,} {took:>8.2f} {peak:>8.0f} {rss:>7.0f} {ref:>11} {same}",
                flush=True,
            )


def incremental(args: argparse.Namespace) -> None:
    dup = load_settings().cfg.duplicate
    limits = (dup.phash_max_distance, dup.dhash_max_distance)
    print(f"pHash ≤ {limits[0]}, dHash ≤ {limits[1]}; {args.new:,} of the real pictures new, the others' pairs known\n")
    print(f"{'pictures':>28} {'new pairs':>9} {'index s':>8} {'peak MB':>8} {'all, index s':>12} identical")
    for n in [int(x) for x in args.sizes.split(",")]:
        arrays, what = corpus(n, "tuning")
        fresh = np.zeros(n, dtype=bool)  # new pictures among the real ones: the crowded (hardest) case
        fresh[np.random.default_rng(n).choice(min(n, REAL_MAX), args.new, replace=False)] = True
        got, took, peak = measured(near_pair_rows, *arrays, *limits, fresh=fresh)
        ref, same = "", ""
        if n <= REAL_MAX:
            t0 = time.perf_counter()
            every = near_pair_rows(*arrays, *limits)
            ref = f"{time.perf_counter() - t0:.2f}"
            same = "yes" if np.array_equal(got, every[:, fresh[every[0]] | fresh[every[1]]]) else "NO"
        print(f"{what:>28} {got.shape[1]:>9,} {took:>8.2f} {peak:>8.0f} {ref:>12} {same}", flush=True)


if __name__ == "__main__":
    main()

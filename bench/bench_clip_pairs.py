"""Semantic near-duplicate pairs (DUP003) at scale: comparing all pairs against the inverted-file index (issue 22).

No CLIP weights can be fetched where curate is developed, so the vectors are synthetic, shaped like CLIP's
whole-picture embeddings: distinct shots on an anisotropic sphere (512 dimensions, scales 0.2–2), and for half
of them an edited copy at cosine ≈ 0.93–0.99 — pairs on both sides of DUP003's limit (rules/checks.toml
[duplicate] clip_min_cosine). Times `near_pairs` comparing all pairs (curate/derive/embeddings.py) and
`indexed_pairs` (faiss, `curate[scale]`), the recall of the index against all pairs, and whether the groups
DUP003 would form (keeper groups, the first picture keeps) are identical; and the index's search margin (measured
on the set's own vectors: the index holds them in 4 bits a dimension) and how many candidate pairs it confirmed.
One process.

    pip install -e '.[scale]'
    python bench/bench_clip_pairs.py [--sizes 10000,20000,50000,100000] [--all-up-to 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.derive.duplicates import keeper_groups  # noqa: E402
from curate.derive.embeddings import indexed_pairs, near_pairs  # noqa: E402
from curate.rules import load_settings  # noqa: E402


def shots(n: int, seed: int = 0, d: int = 512) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n // 2, d)) * np.linspace(0.2, 2.0, d)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    src = rng.integers(0, len(base), n - len(base))
    edits = base[src] + rng.uniform(0.1, 0.35, size=(len(src), 1)) * rng.normal(size=(len(src), d)) / np.sqrt(d)
    x = np.concatenate([base, edits])
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def groups(pairs: list[tuple[int, int, float]]) -> list[tuple[int, list[int]]]:
    neighbours: dict[int, dict[int, float]] = {}
    for i, j, c in pairs:
        neighbours.setdefault(i, {})[j] = c
        neighbours.setdefault(j, {})[i] = c
    return keeper_groups(neighbours, lambda i: i)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,20000,50000,100000")
    ap.add_argument("--all-up-to", type=int, default=100_000, help="compare all pairs up to this size")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    limit = load_settings().cfg.duplicate.clip_min_cosine
    print(f"limit: cosine ≥ {limit}; 512-dimensional synthetic shots, half with an edited copy")
    print(
        "| pictures | pairs (all) | all pairs | index | pairs found | recall | groups identical | margin | candidates |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        x = shots(n, args.seed)
        want = None
        t_all = "—"
        if n <= args.all_up_to:
            t0 = time.perf_counter()
            want = near_pairs(x, limit, indexed_from=n + 1)
            t_all = f"{time.perf_counter() - t0:.1f} s"
        t0 = time.perf_counter()
        stats: dict = {}
        got = indexed_pairs(x, limit, stats=stats)
        t_index = time.perf_counter() - t0
        if got is None:
            raise SystemExit("faiss is not installed: pip install -e '.[scale]'")
        if want is not None:
            same = {(i, j) for i, j, _ in want}
            recall = sum((i, j) in same for i, j, _ in got) / max(len(want), 1)
            row = f"{len(want):,} | {t_all} | {t_index:.1f} s | {len(got):,} | {recall:.5f} | "
            row += "yes" if groups(want) == groups(got) else "no"
        else:
            row = f"— | {t_all} | {t_index:.1f} s | {len(got):,} | — | —"
        print(f"| {n:,} | {row} | {stats['margin']:.3f} | {stats['candidates']:,} |", flush=True)


if __name__ == "__main__":
    main()

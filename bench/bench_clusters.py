"""Composition clusters at scale: complete linkage as curate does it (curate/derive/embeddings.complete_linkage: each
opening picture compared with every picture still open), against looking those up in an inverted-file index over
the profiles (faiss IndexIVFFlat, `nprobe` cells searched per opening picture; placed pictures struck from it in
batches) — the issue's "composition neighbours through a vector index", measured and not adopted (issue 22).

No CLIP weights can be fetched where curate is developed, so the views are synthetic, as bench/bench_clip_scale.py
draws them: 512-dimensional unit vectors; for a third of the pictures a person, the view near one label of the bank
(labels drawn with a skewed share, so a few are common); the others the whole picture, a distinct shot. Each is
turned into its profile through a bank of random label vectors (curate/derive/embeddings.aspect_profiles), and the
pictures are visited most confidently labelled first, as the composition checks visit them. Reported: the time of
each, how many clusters, and how far the index's clusters agree with curate's: pictures whose cluster is the same
set in both, and clusters of three or more (what the person profile's limit of two reports) found the same.

    pip install -e '.[scale]'
    python bench/bench_clusters.py [--sizes 10000,100000] [--seed 0] [--labels 24] [--nprobe 256]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.derive.embeddings import _join, aspect_profiles, complete_linkage, label_probabilities  # noqa: E402
from curate.rules import load_settings  # noqa: E402

D = 512


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def profiles(n: int, seed: int, labels: int) -> tuple[np.ndarray, list[int]]:
    """(N × labels profiles, the visiting order)."""
    rng = np.random.default_rng(seed)
    texts = _unit(rng.normal(size=(labels, D))).astype(np.float32)
    share = 1 / np.arange(1, labels + 1) ** 1.2
    views = _unit(rng.normal(size=(n, D)))
    person = rng.random(n) < 1 / 3
    views[person] = _unit(views[person] + 0.5 * texts[rng.choice(labels, person.sum(), p=share / share.sum())])
    views = views.astype(np.float32)
    prof = aspect_profiles(views, texts)
    probs = label_probabilities(views, texts)
    order = sorted(range(n), key=lambda i: (-float(probs[i].max()), i))
    return prof, order


def indexed_linkage(vectors: np.ndarray, min_cosine: float, order: list[int], nprobe: int) -> list[list[int]]:
    """complete_linkage with the rows alike with each opening one looked up in an inverted-file index (2√N cells by
    k-means, seeded, on one thread) instead of compared with every open row; the rest is curate's."""
    import faiss

    n, d = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    cells = max(1, min(int(2 * np.sqrt(n)), n // 39))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 1234
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    index.train(np.ascontiguousarray(vectors[:: max(1, n // (64 * cells))]))
    faiss.omp_set_num_threads(threads)
    index.add(vectors)
    index.nprobe = min(nprobe, cells)
    placed = np.zeros(n, dtype=bool)
    struck: list[int] = []
    still_open = n
    clusters = []
    for i in order:
        if placed[i]:
            continue
        placed[i] = True
        _, _, ids = index.range_search(vectors[i : i + 1], min_cosine - 1e-4)
        ids = ids.astype(np.int64)
        ids = ids[~placed[ids]]
        ids = ids[vectors[ids] @ vectors[i] >= min_cosine]
        near = ids[np.argsort(rank[ids], kind="stable")]
        members = [i]
        if len(near):
            joined = near[_join(vectors[near], min_cosine)]
            members += joined.tolist()
            placed[joined] = True
        struck += members
        still_open -= len(members)
        if len(struck) >= max(4096, still_open // 8):  # each strike passes over the index once
            index.remove_ids(faiss.IDSelectorBatch(np.asarray(struck, dtype=np.int64)))
            struck = []
        clusters.append(members)
    return clusters


def same_clusters(a: list[list[int]], b: list[list[int]], n: int, limit: int = 2) -> tuple[float, str]:
    """(share of rows whose cluster is the same set in both, the clusters over the limit: same / in a / in b)."""
    key_a = {frozenset(c) for c in a}
    same = sum(len(c) for c in b if frozenset(c) in key_a)
    big_a = {frozenset(c) for c in a if len(c) > limit}
    big_b = {frozenset(c) for c in b if len(c) > limit}
    return same / n, f"{len(big_a & big_b)} / {len(big_a)} / {len(big_b)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", type=int, default=24)
    ap.add_argument("--nprobe", type=int, default=256, help="cells of the index searched per opening picture")
    args = ap.parse_args()
    conf = load_settings().cfg.composition
    print(f"profile_min_cosine {conf.profile_min_cosine}; {args.labels} labels; seed {args.seed}; nprobe {args.nprobe}")
    print(
        "| pictures | curate (exact) | index | clusters (exact / index) | pictures in the same cluster | clusters of 3 or more: same / exact / index |"
    )
    print("|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        prof, order = profiles(n, args.seed, args.labels)
        t0 = time.perf_counter()
        scan = complete_linkage(prof, conf.profile_min_cosine, order)
        t_scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        indexed = indexed_linkage(prof, conf.profile_min_cosine, order, args.nprobe)
        t_index = time.perf_counter() - t0
        share, big = same_clusters(scan, indexed, n)
        print(
            f"| {n:,} | {t_scan:.1f} s | {t_index:.1f} s | {len(scan):,} / {len(indexed):,} | {share:.4f} | {big} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

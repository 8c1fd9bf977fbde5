"""Embedding maths for the composition and semantic-duplicate checks: pure functions over cached CLIP
embeddings (no model, no image).

Aspect profiles. For one aspect (background, outfit, pose, hairstyle) and its view of each picture, the
profile is the view embedding's cosine with every label prompt of the aspect's bank (rules/prompts.toml),
centred over the labels and L2-normalised: the picture as seen through that bank only, so two photos of one
person in one pose but different outfits are close in `pose` and far in `outfit`. The label is the bank's
softmax at CLIP's logit scale.

Clustering is deterministic and threshold-based: complete linkage, greedily — the most confidently labelled
picture not yet placed opens a cluster, and each other picture joins only if its profile's cosine with every
member is at least the threshold. No chaining (A~B, B~C does not put A with C), no randomness.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

LOGIT_SCALE = 100.0  # CLIP's learned temperature, saturated at 100 in the released models


def aspect_profiles(views: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """N×L centred, L2-normalised cosine profiles of N view embeddings against L label embeddings."""
    sims = views @ texts.T
    sims = sims - sims.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(sims, axis=1, keepdims=True)
    return sims / np.maximum(norm, 1e-12)


def label_probabilities(views: np.ndarray, texts: np.ndarray) -> np.ndarray:
    logits = LOGIT_SCALE * (views @ texts.T)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def complete_linkage(vectors: np.ndarray, min_cosine: float, order: Sequence[int] | None = None) -> list[list[int]]:
    """Clusters (lists of row indices, each in joining order) where every pair has cosine ≥ min_cosine.
    Rows are visited in `order` (default: as given); singletons are returned too.

    Memory grows with N, never N × N nor with the square of a cluster's candidates: each opening row's cosines
    with the rows not yet placed are computed when it opens a cluster, then each row that joins it strikes off
    the candidates not alike with it (a set where 100,000 pictures share a background stays linear)."""
    n = len(vectors)
    order_arr = np.array(list(order) if order is not None else range(n), dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    clusters = []
    for i in order_arr.tolist():
        if placed[i]:
            continue
        placed[i] = True
        open_rows = order_arr[~placed[order_arr]]  # in visiting order
        near = open_rows[vectors[open_rows] @ vectors[i] >= min_cosine]
        members = [i]
        if len(near):  # only rows that match the opening one can join, in visiting order
            candidates = vectors[near]
            still = np.ones(len(near), dtype=bool)  # alike with every member chosen so far
            chosen: list[int] = []
            for k in range(len(near)):
                if not still[k]:
                    continue
                chosen.append(k)
                rest = k + 1 + np.flatnonzero(still[k + 1 :])
                if len(rest):
                    still[rest] = candidates[rest] @ candidates[k] >= min_cosine
            members += near[chosen].tolist()
            placed[near[chosen]] = True
        clusters.append(members)
    return clusters


def allowed(n_images: int, max_same: int, max_share: float) -> int:
    """How many images may share one value of an aspect in a set of n_images."""
    return max(int(max_same), math.ceil(max_share * n_images))


DIVERSE_KEEPS = 256  # keeps chosen for being different: past these, the rest of a cluster's keeps by detail alone


def choose_keep(members: Sequence[int], quality: Sequence[float], full: np.ndarray, k: int) -> list[int]:
    """k members to keep: the best-quality one, then each time the one least like those kept (lowest maximum cosine
    of whole-picture embeddings, to 3 decimals), ties to better quality, then to the lower index. Deterministic.

    Each pick is one pass over the members (their cosines with the one just kept), so the first DIVERSE_KEEPS keeps
    are chosen this way and any more by quality alone: a cluster of 300,000 in a set of a million may keep 200,000,
    which one by one would be 200,000 passes. `full` may be half precision (cosines in float32, a block at a
    time)."""
    idx = np.asarray(list(members), dtype=np.int64)
    q = np.asarray([quality[i] for i in idx], dtype=np.float64)
    ranked = idx[np.lexsort((idx, -q))]  # best quality first, ties to the lower index
    k = min(int(k), len(ranked))
    if k <= 0:
        return []
    kept = np.zeros(len(ranked), dtype=bool)
    kept[0] = True
    keep = [int(ranked[0])]
    closest = _cosines(full, ranked, keep[0])
    while len(keep) < min(k, DIVERSE_KEEPS):
        rounded = np.where(kept, np.inf, np.round(closest, 3))
        pick = int(np.flatnonzero(rounded == rounded.min())[0])  # ranked order breaks the ties
        kept[pick] = True
        keep.append(int(ranked[pick]))
        np.maximum(closest, _cosines(full, ranked, keep[-1]), out=closest)
    if len(keep) < k:
        keep += ranked[~kept][: k - len(keep)].tolist()
    return keep


def _cosines(full: np.ndarray, rows: np.ndarray, j: int, block: int = 65_536) -> np.ndarray:
    """Cosines (float64) of `full[rows]` with `full[j]`, float32 a block of rows at a time."""
    v = np.asarray(full[j], dtype=np.float32)
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), block):
        out[start : start + block] = np.asarray(full[rows[start : start + block]], dtype=np.float32) @ v
    return out


COSINES_AT_ONCE = 1 << 24  # near_pairs' block × N cosines (64 MB as float32): fewer rows per block past 16,384
# From this many pictures near_pairs looks for pairs through an inverted-file index (faiss, `curate[scale]`) when it
# is installed: below, comparing all pairs is faster (bench/bench_clip_pairs.py: 43 s against 37 s at 100,000).
INDEXED_FROM = 100_000
ROWS_AT_ONCE = 65_536  # vectors converted to float32 and added to the index together (128 MB at 512 dimensions)
NPROBE = 16  # cells of the index searched per picture (bench/bench_clip_pairs.py: recall against all pairs)


def near_pairs(
    full: np.ndarray, min_cosine: float, block: int = 1024, indexed_from: int | None = None
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for whole-picture embeddings at least min_cosine alike, in (i, j) order.
    Compared a block of rows at a time (memory: block × N cosines, at most COSINES_AT_ONCE: at 1,000,000
    pictures a 1,024-row block would be 4 GB) — or, from `indexed_from` pictures (default INDEXED_FROM) when
    faiss is installed, through an index (indexed_pairs: approximate, measured)."""
    if len(full) >= (INDEXED_FROM if indexed_from is None else indexed_from) and len(full) > 1:
        pairs = indexed_pairs(full, min_cosine)
        if pairs is not None:
            return pairs
    full = np.asarray(full, dtype=np.float32)
    block = max(1, min(block, COSINES_AT_ONCE // max(len(full), 1)))
    out = []
    for start in range(0, len(full), block):
        sims = full[start : start + block] @ full[start:].T  # only j ≥ this block's first row
        ii, jj = np.nonzero(sims >= min_cosine)
        jj_abs = jj + start
        keep = jj_abs > ii + start
        out += [(int(i) + start, int(j), float(sims[i, j - start])) for i, j in zip(ii[keep], jj_abs[keep])]
    return out


def indexed_pairs(full: np.ndarray, min_cosine: float, nprobe: int = NPROBE) -> list[tuple[int, int, float]] | None:
    """near_pairs through faiss's inverted-file index (None when faiss is not installed): the pictures are put in
    2√N cells by k-means (trained on every k-th picture), each picture's NPROBE nearest cells are searched for
    vectors within the limit, and each pair found is confirmed on its exact cosine. Pairs whose pictures fall in
    cells far apart are missed (bench/bench_clip_pairs.py measures the share); nothing below the limit is
    reported. The cells are learnt on one thread from a fixed sample and seed, so every run finds the same pairs
    (searching is per picture, on every core)."""
    try:
        import faiss
    except ImportError:
        return None
    n, d = full.shape

    def rows(start: int, stop: int) -> np.ndarray:
        return np.ascontiguousarray(full[start:stop], dtype=np.float32)

    cells = max(1, min(int(2 * math.sqrt(n)), n // 39))  # faiss wants ≥ 39 training points per cell
    # each vector kept at half precision, as the cache keeps it (so no rounding: the same cosines), not by residual
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(d), d, cells, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT, False
    )
    index.cp.seed = 1234
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # k-means summed in another order on more threads moves the cells
    try:
        index.train(np.ascontiguousarray(full[:: max(1, n // (64 * cells))], dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    for start in range(0, n, ROWS_AT_ONCE):  # float32 a block at a time: the set is held once, at half precision
        index.add(rows(start, start + ROWS_AT_ONCE))
    index.nprobe = min(nprobe, cells)
    out: list[tuple[int, int, float]] = []
    for start in range(0, n, 1024):  # a block of pictures at a time: memory follows their pairs
        lims, _, ids = index.range_search(rows(start, start + 1024), min_cosine - 1e-3)  # then exact, below
        i = start + np.repeat(np.arange(len(lims) - 1), np.diff(lims).astype(np.int64))
        j = ids.astype(np.int64)
        i, j = i[j > i], j[j > i]
        cos = np.einsum("kd,kd->k", full[i].astype(np.float32), full[j].astype(np.float32))
        keep = cos >= min_cosine
        order = np.lexsort((j[keep], i[keep]))
        out += zip(i[keep][order].tolist(), j[keep][order].tolist(), cos[keep][order].tolist())
    return out

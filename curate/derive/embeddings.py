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
from typing import Any, Sequence

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


def complete_linkage(
    vectors: np.ndarray, min_cosine: float, order: Sequence[int] | np.ndarray | None = None
) -> list[list[int]]:
    """Clusters (lists of row indices, each in joining order) where every pair has cosine ≥ min_cosine.
    Rows are visited in `order` (default: as given); singletons are returned too.

    Memory grows with N, never N × N nor with the square of a cluster's candidates: each opening row's cosines
    with the rows not yet placed are computed when it opens a cluster, then each row that joins it strikes off
    the candidates not alike with it (a set where 100,000 pictures share a background stays linear). Each row
    that opens a cluster — every picture alike with no other, too — is compared with every row still open, so the
    time grows with clusters × N: bench/bench_clusters.py measures it, and an inverted-file index in its place
    (which was not faster at 100,000–300,000 pictures, and not exact)."""
    n = len(vectors)
    order_arr = np.asarray(order, dtype=np.int64) if order is not None else np.arange(n, dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    scan = _OpenScan(vectors, min_cosine, order_arr, placed)
    clusters = []
    for i in order_arr.tolist():
        if placed[i]:
            continue
        placed[i] = True
        near = scan.near(i)
        members = [i]
        if len(near):  # only rows that match the opening one can join, in visiting order
            joined = near[_join(vectors[near], min_cosine)]
            members += joined.tolist()
            placed[joined] = True
        scan.placed(members)
        clusters.append(members)
    return clusters


JOIN_BLOCK = 256  # candidates decided together: their cosines with each other, then the rest's with those who joined


def _join(candidates: np.ndarray, min_cosine: float, block: int | None = None) -> list[int]:
    """Positions of the candidates that join the cluster, in order: each joins if it is alike with every candidate
    before it that joined. Decided a block at a time — within the block one by one, then every later candidate
    against all who joined in it at once, dropping those not alike — so that a cluster of m costs m² / 2 cosines
    in a few large products instead of m passes, the answer the same."""
    block = block or JOIN_BLOCK
    ids = np.arange(len(candidates))
    vecs = candidates
    chosen: list[int] = []
    while len(ids):
        head = vecs[:block]
        alike = head @ head.T >= min_cosine
        still = np.ones(len(head), dtype=bool)
        picked: list[int] = []
        for a in range(len(head)):
            if still[a]:
                picked.append(a)
                still[a + 1 :] &= alike[a, a + 1 :]
        chosen += ids[picked].tolist()
        ids, vecs = ids[block:], vecs[block:]
        if len(ids):
            keep = np.empty(len(ids), dtype=bool)
            for start in range(0, len(ids), 16_384):  # rest × block cosines: 16 MB at a time
                keep[start : start + 16_384] = (vecs[start : start + 16_384] @ head[picked].T >= min_cosine).all(axis=1)
            ids, vecs = ids[keep], vecs[keep]
    return chosen


DROP_PLACED_FROM = 1024  # placed rows dropped from the open array once this many (and a quarter of it) are placed


class _OpenScan:
    """The rows not yet placed that are alike with a given one, by comparing it with each of them: the open rows'
    vectors are one array in visiting order, from which placed rows are dropped in batches (each drop copies
    the array once), so each opening row costs one pass over the rows still open."""

    def __init__(self, vectors, min_cosine, order, placed) -> None:
        self.vectors, self.min_cosine, self.placed_rows = vectors, min_cosine, placed
        self.ids = order
        self.open_vectors = np.ascontiguousarray(vectors[order])
        self.struck = 0

    def near(self, i: int) -> np.ndarray:
        alike = self.open_vectors @ self.vectors[i] >= self.min_cosine
        alike &= ~self.placed_rows[self.ids]
        return self.ids[alike]

    def placed(self, members: list[int]) -> None:
        self.struck += len(members)
        if self.struck >= max(DROP_PLACED_FROM, len(self.ids) // 4):
            still = ~self.placed_rows[self.ids]
            self.ids, self.open_vectors = self.ids[still], self.open_vectors[still]
            self.struck = 0


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


def _cosines(full: Any, rows: np.ndarray, j: int, block: int = 65_536) -> np.ndarray:
    """Cosines (float64) of `full[rows]` with `full[j]`, float32 a block of rows at a time. Spooled rows
    (curate.spool.SpooledRows) are read in their order, a block at a time, and the cosines then taken at `rows`."""
    v = np.asarray(full[j], dtype=np.float32)
    if not isinstance(full, np.ndarray):
        every = np.empty(len(full), dtype=np.float64)
        for start in range(0, len(full), block):
            every[start : start + block] = np.asarray(full[start : start + block], dtype=np.float32) @ v
        return every[rows]
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), block):
        out[start : start + block] = np.asarray(full[rows[start : start + block]], dtype=np.float32) @ v
    return out


COSINES_AT_ONCE = 1 << 24  # near_pairs' block × N cosines (64 MB as float32): fewer rows per block past 16,384
# From this many pictures the whole-picture vectors are spooled, not held (Context.clip_matrix), and near_pairs looks
# for pairs through an inverted-file index (faiss, `curate[scale]`) when it is installed: below, comparing all pairs
# is faster (bench/bench_clip_pairs.py, all pairs against the index: 8 s and 10 s at 50,000; 42 s and 31 s at 100,000).
INDEXED_FROM = SPOOLED_FROM = 100_000
ROWS_AT_ONCE = 16_384  # vectors converted to float32 and added to the index together (32 MB at 512 dimensions)
TRAIN_PER_CELL = 64  # pictures the cells are learnt from, per cell (float32: 256 MB at a million)
NPROBE = 16  # cells of the index searched per picture (bench/bench_clip_pairs.py: recall against all pairs)
# The index keeps each vector in 4 bits a dimension (a quarter of the half-precision vector: 256 MB at a million),
# so the cosines it finds are approximate: it is searched this many standard deviations of that error below the limit
# (the error measured on the set's own vectors each time, as it depends on their dimensions and spread), and every
# pair it finds is confirmed on the exact vectors. Recall against all pairs: bench/bench_clip_pairs.py.
SEARCH_SIGMAS = 5.0


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
    if not isinstance(full, np.ndarray):
        return _spooled_pairs(full, min_cosine)
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


def _spooled_pairs(full: Any, min_cosine: float, block: int = 4096) -> list[tuple[int, int, float]]:
    """near_pairs comparing all pairs of spooled rows: a block of rows against a block at a time (memory: two
    blocks and their block × block cosines), in (i, j) order."""
    out: list[tuple[int, int, float]] = []
    n = len(full)
    for start in range(0, n, block):
        queries = np.asarray(full[start : start + block], dtype=np.float32)
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for other in range(start, n, block):
            sims = queries @ np.asarray(full[other : other + block], dtype=np.float32).T
            ii, jj = np.nonzero(sims >= min_cosine)
            keep = jj + other > ii + start
            found.append((ii[keep] + start, jj[keep] + other, sims[ii[keep], jj[keep]]))
        i, j, c = (np.concatenate(x) for x in zip(*found))
        order = np.lexsort((j, i))
        out += zip(i[order].tolist(), j[order].tolist(), c[order].astype(np.float64).tolist())
    return out


def _every(full: Any, step: int, block: int = 4096) -> np.ndarray:
    """Every step-th row as float32, converted a block at a time (no half-precision copy of the whole sample)."""
    n = len(range(0, len(full), step))
    out = np.empty((n, full.shape[1]), dtype=np.float32)
    for start in range(0, n, block):
        out[start : start + block] = full[start * step : min(start + block, n) * step : step]
    return out


def search_margin(quantiser: Any, sample: np.ndarray, pairs: int = 1000) -> float:
    """SEARCH_SIGMAS standard deviations of the error a 4-bit index makes in a cosine (an exact vector against a
    stored one), measured on up to pairs × pairs cosines among the sample's vectors."""
    k = min(pairs, len(sample) // 2)
    if k < 2:
        return 0.1
    stored = sample[k : 2 * k]
    error = sample[:k] @ (quantiser.decode(quantiser.compute_codes(stored)) - stored).T
    return float(SEARCH_SIGMAS * error.std())


def indexed_pairs(
    full: Any, min_cosine: float, nprobe: int = NPROBE, margin: float | None = None, stats: dict | None = None
) -> list[tuple[int, int, float]] | None:
    """near_pairs through faiss's inverted-file index (None when faiss is not installed): the pictures are put in
    2√N cells by k-means (trained on every k-th picture), each picture's NPROBE nearest cells are searched for
    vectors within `margin` of the limit (the index holds them in 4 bits a dimension; default: search_margin), and
    each pair found is confirmed on its exact cosine. Pairs whose pictures fall in cells far apart, or whose 4-bit
    cosine falls more than the margin short, are missed (bench/bench_clip_pairs.py measures the share); nothing
    below the limit is reported. `full` is an array or spooled rows. The cells are learnt on one thread from a
    fixed sample and seed, so every run finds the same pairs (searching is per picture, on every core). `stats`, if
    given, is filled with the margin and the number of candidate pairs confirmed."""
    try:
        import faiss
    except ImportError:
        return None
    n, d = full.shape

    def rows(start: int, stop: int) -> np.ndarray:
        return np.ascontiguousarray(full[start:stop], dtype=np.float32)

    cells = max(1, min(int(2 * math.sqrt(n)), n // 39))  # faiss wants ≥ 39 training points per cell
    # each vector in 4 bits a dimension (its range learnt per dimension from the sample), not by residual
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(d), d, cells, faiss.ScalarQuantizer.QT_4bit, faiss.METRIC_INNER_PRODUCT, False
    )
    index.cp.seed = 1234
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # k-means summed in another order on more threads moves the cells
    sample = _every(full, max(1, n // (TRAIN_PER_CELL * cells)))
    try:
        index.train(sample)
    finally:
        faiss.omp_set_num_threads(threads)
    if margin is None:
        margin = search_margin(index.sq, sample)
    del sample
    for start in range(0, n, ROWS_AT_ONCE):  # float32 a block at a time
        index.add(rows(start, start + ROWS_AT_ONCE))
    index.nprobe = min(nprobe, cells)
    out: list[tuple[int, int, float]] = []
    candidates = 0
    for start in range(0, n, 1024):  # a block of pictures at a time: memory follows their pairs
        queries = rows(start, start + 1024)
        lims, _, ids = index.range_search(queries, min_cosine - margin)  # then exact, below
        i = np.repeat(np.arange(len(lims) - 1), np.diff(lims).astype(np.int64))
        j = ids.astype(np.int64)
        i, j = i[j > i + start], j[j > i + start]
        candidates += len(j)
        if not len(j):
            continue
        partners, at = np.unique(j, return_inverse=True)  # each partner read once, in the order it is stored
        cos = np.einsum("kd,kd->k", queries[i], np.asarray(full[partners], dtype=np.float32)[at])
        keep = cos >= min_cosine
        i = i[keep] + start
        order = np.lexsort((j[keep], i))
        out += zip(i[order].tolist(), j[keep][order].tolist(), cos[keep][order].tolist())
    if stats is not None:
        stats.update(margin=margin, candidates=candidates)
    return out

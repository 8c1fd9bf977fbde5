"""Duplicates: the same picture more than once, exactly or nearly.

A duplicate multiplies one picture's weight in training (with 10 repeats, a copy is 20 steps of one shot).
Exact duplicates are the same bytes, or the same pixels in another file (a PNG saved from a JPEG, a
re-saved lossless file). Near-duplicates are resized, recompressed, slightly cropped or colour-shifted
copies, found with two 64-bit perceptual hashes (pHash on the DCT of a 32×32 grey thumbnail, dHash on
9×8 gradients) that must both be close, compared between one image's whole picture and the other's whole
picture or one of six crop views (centre 90 % and 80 %, four corners at 92 %) so that crops still match. Thresholds: rules/checks.toml [duplicate], measured by
bench/eval_duplicates.py. Each group keeps one image: one kohya can load, the largest, then the least compressed.
"""

from __future__ import annotations

import os

import numpy as np

from curate.checks.registry import dataset_check, rule
from curate.model import Group

DUP001 = rule("DUP001", "exact-duplicate", "duplicate", "error", """
    The same picture is in the dataset more than once: identical bytes, or identical pixels in another
    file or format. All but one copy are flagged; the kept copy prefers one with a caption.

    FAIL: `a.png` and `copy of a.png`; `a.jpg` and `a.png` saved from it.
    PASS: two different photos of the same scene.
""")
DUP002 = rule("DUP002", "near-duplicate", "duplicate", "warning", """
    A resized, recompressed, slightly cropped or colour-shifted copy of another image in the set.
    Both perceptual hashes must be within [duplicate] phash_max_distance / dhash_max_distance bits.
    The kept image is the largest, then the least compressed (most bytes per pixel).

    FAIL: `a.png` (1024×1024) and `a_small.jpg` (512×512, quality 80).
    PASS: two shots of one pose taken seconds apart usually differ by more than the thresholds;
    burst shots can still match, so this is a warning (error under --profile person).
""", settings="duplicate")


def _bits(hex_hashes: list[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hex_hashes], dtype=np.uint64)


VIEW_NAMES = ("whole picture", "centre 90 %", "centre 80 %", "top-left 92 %", "bottom-right 92 %",
              "top-right 92 %", "bottom-left 92 %")


def near_pairs(full_p: np.ndarray, full_d: np.ndarray, views_p: np.ndarray, views_d: np.ndarray,
               max_p: int, max_d: int, block: int = 512):
    """Pairs (i < j) where some view of one image (the whole picture or a crop view) matches the other's whole
    picture within both limits. Yields (i, j, view index, pHash distance, dHash distance) for the best view.

    `views_*` are N×V arrays of the crop views' hashes. pHash is checked on all pairs first (cheap, vectorised);
    dHash only on the few candidates.
    """
    n = len(full_p)
    all_p = np.concatenate([full_p[:, None], views_p], axis=1)   # N × (1+V): view 0 is the whole picture
    all_d = np.concatenate([full_d[:, None], views_d], axis=1)
    best: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for start in range(0, n, block):
        stop = min(n, start + block)
        for v in range(all_p.shape[1]):
            dp = np.bitwise_count(all_p[start:stop, v, None] ^ full_p[None, :])
            ii, jj = np.nonzero(dp <= max_p)
            gi = ii + start
            keep = gi != jj
            ii, gi, jj = ii[keep], gi[keep], jj[keep]
            dd = np.bitwise_count(all_d[gi, v] ^ full_d[jj])
            ok = dd <= max_d
            for i, g, j, d in zip(ii[ok].tolist(), gi[ok].tolist(), jj[ok].tolist(), dd[ok].tolist()):
                key = (min(g, j), max(g, j))
                p_ = int(dp[i, j])
                cand = (p_ + d, v, p_, d)
                if key not in best or cand < best[key]:
                    best[key] = cand
    for (i, j), (_, v, dp_, dd) in sorted(best.items()):
        yield i, j, v, dp_, dd


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


def _loadable(rec, ctx) -> bool:
    return os.path.splitext(rec.path)[1].lower() in ctx.conf("kohya", "image_extensions")


def _quality_key(rec, ctx):
    """Best first: a file kohya loads, most pixels, most bytes per pixel (least compressed), captioned."""
    area = (rec.width or 0) * (rec.height or 0)
    return (not _loadable(rec, ctx), -area, -(rec.file_size / area if area else 0), rec.caption.text is None, rec.path)


def _exact_key(rec, ctx):
    return (not _loadable(rec, ctx), rec.caption.text is None, rec.path.count("/"), len(rec.path), rec.path)


def _dims(rec) -> str:
    return f"{rec.width}×{rec.height} {rec.image.get('format', '')}".strip()


@dataset_check
def check(records, ctx):
    readable = [r for r in records if r.readable and r.sha256]
    flagged = ctx.dataset.setdefault("duplicates_flagged", set())   # left alone by DUP003 (semantic_duplicate.py)
    # Exact: same bytes or same pixels.
    uf = _UnionFind(len(readable))
    first_by: dict[tuple[str, str], int] = {}
    for i, rec in enumerate(readable):
        for key in (("sha", rec.sha256), ("pix", rec.image.get("pixel_hash"))):
            if key[1] is None:
                continue
            if key in first_by:
                uf.union(first_by[key], i)
            else:
                first_by[key] = i
    representatives = set(range(len(readable)))
    for members in uf.groups():
        order = sorted(members, key=lambda i: _exact_key(readable[i], ctx))
        keep = readable[order[0]]
        for i in order[1:]:
            other = readable[i]
            flagged.add(other.path)
            same = "bytes" if other.sha256 == keep.sha256 else "pixels"
            what = "identical file" if same == "bytes" else f"same pixels as a {keep.image.get('format')} file"
            yield ctx.finding("DUP001", f"{what}: duplicate of {keep.path}", {"keep": keep.path, "same": same},
                              path=other.path)
        if ctx.wants("DUP001"):
            yield Group("exact-duplicate", tuple(readable[i].path for i in order), keep.path,
                        {"same": sorted({"bytes" if readable[i].sha256 == keep.sha256 else "pixels" for i in order[1:]})})
        representatives -= set(order[1:])

    if not ctx.wants("DUP002"):
        return
    reps = sorted(representatives)
    hashed = [i for i in reps if readable[i].image.get("phash") and readable[i].image.get("view_hashes")]
    if len(hashed) < 2:
        return
    recs_h = [readable[i] for i in hashed]
    full_p, full_d = _bits([r.image["phash"] for r in recs_h]), _bits([r.image["dhash"] for r in recs_h])
    views_p = np.array([[int(p, 16) for p, _ in r.image["view_hashes"]] for r in recs_h], dtype=np.uint64)
    views_d = np.array([[int(d, 16) for _, d in r.image["view_hashes"]] for r in recs_h], dtype=np.uint64)
    max_p = int(ctx.conf("duplicate", "phash_max_distance"))
    max_d = int(ctx.conf("duplicate", "dhash_max_distance"))
    neighbours: dict[int, dict[int, tuple[int, int, int]]] = {}
    for i, j, view, dp, dd in near_pairs(full_p, full_d, views_p, views_d, max_p, max_d):
        neighbours.setdefault(i, {})[j] = (view, dp, dd)
        neighbours.setdefault(j, {})[i] = (view, dp, dd)
    # Keeper-centred groups, no chaining: the best image not yet placed keeps, and only images that match it
    # directly join its group. (Union-find would chain A~B~C into one group although A and C differ.)
    order = sorted(neighbours, key=lambda k: _quality_key(recs_h[k], ctx))
    placed: set[int] = set()
    for leader in order:
        if leader in placed:
            continue
        members = [k for k in sorted(neighbours[leader], key=lambda k: _quality_key(recs_h[k], ctx))
                   if k not in placed]
        if not members:
            continue
        placed.add(leader)
        placed.update(members)
        keep = recs_h[leader]
        for k in members:
            other = recs_h[k]
            flagged.add(other.path)
            view, dp, dd = neighbours[leader][k]
            where = f", on the {VIEW_NAMES[view]}" if view else ""
            yield ctx.finding(
                "DUP002",
                f"near-duplicate of {keep.path} ({_dims(keep)} kept over {_dims(other)}; "
                f"pHash distance {dp}/64, dHash {dd}/64{where})",
                {"keep": keep.path, "phash_distance": dp, "dhash_distance": dd, "view": VIEW_NAMES[view]},
                path=other.path)
        yield Group("near-duplicate", (keep.path, *(recs_h[k].path for k in members)), keep.path,
                    {"max_phash_distance": max_p, "max_dhash_distance": max_d})

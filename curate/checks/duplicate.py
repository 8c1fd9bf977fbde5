"""Duplicates: the same picture more than once, exactly or nearly.

A duplicate multiplies one picture's weight in training (with 10 repeats, a copy is 20 steps of one shot).
Exact duplicates are the same bytes, or the same pixels in another file (a PNG saved from a JPEG, a
re-saved lossless file). Near-duplicates are resized, recompressed, slightly cropped or colour-shifted
copies, found with two 64-bit perceptual hashes (pHash on the DCT of a 32×32 grey thumbnail, dHash on
9×8 gradients) that must both be close. Thresholds: rules/checks.toml [duplicate], measured by
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


def hamming_pairs(a: np.ndarray, b: np.ndarray, max_a: int, max_b: int, block: int = 1024):
    """Index pairs (i < j) whose Hamming distances are within both limits, with the distances."""
    n = len(a)
    for start in range(0, n, block):
        stop = min(n, start + block)
        da = np.bitwise_count(a[start:stop, None] ^ a[None, :])
        db = np.bitwise_count(b[start:stop, None] ^ b[None, :])
        ii, jj = np.nonzero((da <= max_a) & (db <= max_b))
        for i, j in zip(ii.tolist(), jj.tolist()):
            gi = start + i
            if gi < j:
                yield gi, j, int(da[i, j]), int(db[i, j])


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
            same = "bytes" if other.sha256 == keep.sha256 else "pixels"
            what = "identical file" if same == "bytes" else f"same pixels as a {keep.image.get('format')} file"
            yield ctx.finding("DUP001", f"{what}: duplicate of {keep.path}", {"keep": keep.path, "same": same},
                              path=other.path)
        yield Group("exact-duplicate", tuple(readable[i].path for i in order), keep.path,
                    {"same": sorted({"bytes" if readable[i].sha256 == keep.sha256 else "pixels" for i in order[1:]})})
        representatives -= set(order[1:])

    if not ctx.wants("DUP002"):
        return
    reps = sorted(representatives)
    hashed = [i for i in reps if readable[i].image.get("phash") and readable[i].image.get("dhash")]
    if len(hashed) < 2:
        return
    ph = _bits([readable[i].image["phash"] for i in hashed])
    dh = _bits([readable[i].image["dhash"] for i in hashed])
    max_p = int(ctx.conf("duplicate", "phash_max_distance"))
    max_d = int(ctx.conf("duplicate", "dhash_max_distance"))
    near = _UnionFind(len(hashed))
    for i, j, _, _ in hamming_pairs(ph, dh, max_p, max_d):
        near.union(i, j)
    for members in near.groups():
        recs = sorted(members, key=lambda k: _quality_key(readable[hashed[k]], ctx))
        keep_k = recs[0]
        keep = readable[hashed[keep_k]]
        for k in recs[1:]:
            other = readable[hashed[k]]
            dp = int(np.bitwise_count(ph[k] ^ ph[keep_k]))
            dd = int(np.bitwise_count(dh[k] ^ dh[keep_k]))
            yield ctx.finding(
                "DUP002",
                f"near-duplicate of {keep.path} ({_dims(keep)} kept over {_dims(other)}; "
                f"pHash distance {dp}/64, dHash {dd}/64)",
                {"keep": keep.path, "phash_distance": dp, "dhash_distance": dd}, path=other.path)
        yield Group("near-duplicate", tuple(readable[hashed[k]].path for k in recs), keep.path,
                    {"max_phash_distance": max_p, "max_dhash_distance": max_d})

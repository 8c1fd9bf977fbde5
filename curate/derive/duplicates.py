"""Duplicate groups: which pictures are copies of which, decided once per audit.

Exact duplicates are the same bytes, or the same pixels in another file (a PNG saved from a JPEG, a
re-saved lossless file). Near-duplicates are resized, recompressed, slightly cropped or colour-shifted
copies, found with two 64-bit perceptual hashes (pHash on the DCT of a 32×32 grey thumbnail, dHash on 9×8
gradients) that must both be close, compared between one image's whole picture and the other's whole
picture or one of six crop views (centre 90 % and 80 %, four corners at 92 %) so that crops still match.
Each group keeps one image: one kohya can load, the largest, then the least compressed.

The groups are a derived result (`DUPLICATES`): DUP001/DUP002 report them, and the checks that must not
count one shot twice (DUP003, composition, identity) leave the copies out — whether or not DUP001/DUP002
are on, so turning a duplicate rule off changes no other check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from curate.derive import Derivation
from curate.model import ImageRecord
from curate.rules import Settings
from curate.thresholds import Thresholds

VIEW_NAMES = (
    "whole picture",
    "centre 90 %",
    "centre 80 %",
    "top-left 92 %",
    "bottom-right 92 %",
    "top-right 92 %",
    "bottom-left 92 %",
)

_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(a: np.ndarray) -> np.ndarray:
    """Set bits per element of a uint64 array (np.bitwise_count where NumPy ≥ 2 has it)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(a)
    a = np.ascontiguousarray(a, dtype=np.uint64)
    return _BYTE_BITS[a.view(np.uint8)].reshape(*a.shape, 8).sum(axis=-1, dtype=np.uint8)


def bits(hex_hashes: list[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hex_hashes], dtype=np.uint64)


def near_pairs(
    full_p: np.ndarray,
    full_d: np.ndarray,
    views_p: np.ndarray,
    views_d: np.ndarray,
    max_p: int,
    max_d: int,
    block: int = 512,
) -> Iterator[tuple[int, int, int, int, int]]:
    """Pairs (i < j) where some view of one image (the whole picture or a crop view) matches the other's whole
    picture within both limits. Yields (i, j, view index, pHash distance, dHash distance) for the best view.

    `views_*` are N×V arrays of the crop views' hashes. pHash is checked on all pairs first (cheap, vectorised);
    dHash only on the few candidates.
    """
    n = len(full_p)
    all_p = np.concatenate([full_p[:, None], views_p], axis=1)  # N × (1+V): view 0 is the whole picture
    all_d = np.concatenate([full_d[:, None], views_d], axis=1)
    best: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for start in range(0, n, block):
        stop = min(n, start + block)
        for v in range(all_p.shape[1]):
            dp = popcount(all_p[start:stop, v, None] ^ full_p[None, :])
            ii, jj = np.nonzero(dp <= max_p)
            gi = ii + start
            keep = gi != jj
            ii, gi, jj = ii[keep], gi[keep], jj[keep]
            dd = popcount(all_d[gi, v] ^ full_d[jj])
            ok = dd <= max_d
            for i, g, j, d in zip(ii[ok].tolist(), gi[ok].tolist(), jj[ok].tolist(), dd[ok].tolist()):
                key = (min(g, j), max(g, j))
                p_ = int(dp[i, j])
                cand = (p_ + int(d), v, p_, int(d))
                if key not in best or cand < best[key]:
                    best[key] = cand
    for (i, j), (_, view, p_dist, d_dist) in sorted(best.items()):
        yield i, j, view, p_dist, d_dist


V = TypeVar("V")


def colours_differ(a: str | None, b: str | None, min_chroma: float, max_share: float) -> bool:
    """Whether two near-duplicate candidates show different colours in the same places — one garment in two
    colours, which luminance hashes cannot tell apart. Compares the 8×8 colour layouts (curate/extract/image.py) in
    opponent chroma: among the cells where either is clearly coloured (chroma ≥ min_chroma), the share that changed —
    hue turned by more than 60°, or grey in one and strongly coloured (≥ 2 × min_chroma) in the other. A greyscale
    copy (no colour at all) stays a duplicate; saturation and warm shifts keep hues and do not turn grey to colour."""
    if not a or not b or len(a) != len(b):
        return False
    x = np.frombuffer(bytes.fromhex(a), dtype=np.uint8).reshape(-1, 3).astype(np.float64)
    y = np.frombuffer(bytes.fromhex(b), dtype=np.uint8).reshape(-1, 3).astype(np.float64)

    def chroma(c: np.ndarray) -> np.ndarray:
        return np.stack([c[:, 0] - c[:, 1], (c[:, 0] + c[:, 1]) / 2 - c[:, 2]], axis=1)

    ca, cb = chroma(x), chroma(y)
    na, nb = np.linalg.norm(ca, axis=1), np.linalg.norm(cb, axis=1)
    if min(na.max(), nb.max()) < min_chroma / 2:
        return False  # one of them has no colour anywhere: a greyscale copy
    either = (na >= min_chroma) | (nb >= min_chroma)
    if either.sum() < 4:
        return False
    both = (na >= min_chroma) & (nb >= min_chroma)
    cos = np.where(both, (ca * cb).sum(axis=1) / np.maximum(na * nb, 1e-9), 1.0)
    turned = both & (cos < 0.5)  # hue turned more than 60°
    appeared = (np.minimum(na, nb) < min_chroma / 2) & (np.maximum(na, nb) >= 2 * min_chroma)
    return float((turned | appeared)[either].mean()) > max_share


def keeper_groups(neighbours: dict[int, dict[int, V]], best_first: Callable[[int], Any]) -> list[tuple[int, list[int]]]:
    """Keeper-centred groups, no chaining: the best item not yet placed keeps, and only items that match it
    directly join its group (union-find would chain A~B~C into one group although A and C differ).
    `neighbours[i]` holds the items matching i; `best_first` sorts best first. [(keeper, members)]."""
    placed: set[int] = set()
    out = []
    for leader in sorted(neighbours, key=best_first):
        if leader in placed:
            continue
        members = [k for k in sorted(neighbours[leader], key=best_first) if k not in placed]
        if not members:
            continue
        placed.add(leader)
        placed.update(members)
        out.append((leader, members))
    return out


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


@dataclass(frozen=True)
class ExactGroup:
    keep: ImageRecord
    copies: list[tuple[ImageRecord, str]]  # (copy, "bytes" | "pixels")


@dataclass(frozen=True)
class NearMatch:
    copy: ImageRecord
    view: int  # index into VIEW_NAMES
    phash_distance: int
    dhash_distance: int
    # The group member this copy is closest to, when that is not the kept picture (a half-size copy of another
    # member): (record, view, pHash distance, dHash distance).
    closest: tuple[ImageRecord, int, int, int] | None = None


@dataclass(frozen=True)
class NearGroup:
    keep: ImageRecord
    matches: list[NearMatch]


@dataclass
class Duplicates:
    exact: list[ExactGroup] = field(default_factory=list)
    near: list[NearGroup] = field(default_factory=list)

    @property
    def copies(self) -> set[str]:
        """Paths of every picture that is a copy of a kept one (exact or near)."""
        return {c.path for g in self.exact for c, _ in g.copies} | {m.copy.path for g in self.near for m in g.matches}


def _loadable(rec: ImageRecord, cfg: Thresholds) -> bool:
    return os.path.splitext(rec.path)[1].lower() in cfg.kohya.image_extensions


def quality_key(rec: ImageRecord, cfg: Thresholds) -> tuple:
    """Best first: a file kohya loads, most pixels, most bytes per pixel (least compressed), captioned."""
    area = (rec.width or 0) * (rec.height or 0)
    return (not _loadable(rec, cfg), -area, -(rec.file_size / area if area else 0), rec.caption.text is None, rec.path)


def _exact_key(rec: ImageRecord, cfg: Thresholds) -> tuple:
    return (not _loadable(rec, cfg), rec.caption.text is None, rec.path.count("/"), len(rec.path), rec.path)


def find_duplicates(records: list[ImageRecord], settings: Settings) -> Duplicates:
    """Exact groups (same bytes or pixels), then near groups among the pictures that are not exact copies."""
    cfg = settings.cfg
    out = Duplicates()
    readable = [r for r in records if r.readable and r.sha256]
    uf = _UnionFind(len(readable))
    first_by: dict[tuple[str, str], int] = {}
    for i, rec in enumerate(readable):
        for kind, value in (("sha", rec.sha256), ("pix", rec.image.get("pixel_hash"))):
            if value is None:
                continue
            key = (kind, value)
            if key in first_by:
                uf.union(first_by[key], i)
            else:
                first_by[key] = i
    representatives = set(range(len(readable)))
    for members in uf.groups():
        order = sorted(members, key=lambda i: _exact_key(readable[i], cfg))
        keep = readable[order[0]]
        out.exact.append(
            ExactGroup(
                keep, [(readable[i], "bytes" if readable[i].sha256 == keep.sha256 else "pixels") for i in order[1:]]
            )
        )
        representatives -= set(order[1:])

    hashed = [
        readable[i]
        for i in sorted(representatives)
        if readable[i].image.get("phash") and readable[i].image.get("view_hashes")
    ]
    if len(hashed) < 2:
        return out
    full_p, full_d = bits([r.image["phash"] for r in hashed]), bits([r.image["dhash"] for r in hashed])
    views_p = np.array([[int(p, 16) for p, _ in r.image["view_hashes"]] for r in hashed], dtype=np.uint64)
    views_d = np.array([[int(d, 16) for _, d in r.image["view_hashes"]] for r in hashed], dtype=np.uint64)
    limits = cfg.duplicate
    neighbours: dict[int, dict[int, tuple[int, int, int]]] = {}
    for i, j, view, dp, dd in near_pairs(
        full_p, full_d, views_p, views_d, limits.phash_max_distance, limits.dhash_max_distance
    ):
        if not limits.across_folders and hashed[i].concept.folder != hashed[j].concept.folder:
            continue  # concept folders are split on purpose (one pose, two outfits): not grouped unless asked
        if view == 0 and colours_differ(  # a match on a crop view shifts the grid: colours are compared whole
            hashed[i].image.get("colour_layout"),
            hashed[j].image.get("colour_layout"),
            limits.colour_min_chroma,
            limits.colour_max_changed_share,
        ):
            continue  # the same shapes in other colours (a product in two colours): different pictures
        neighbours.setdefault(i, {})[j] = (view, dp, dd)
        neighbours.setdefault(j, {})[i] = (view, dp, dd)
    for leader, members in keeper_groups(neighbours, lambda k: quality_key(hashed[k], cfg)):
        matches = []
        for k in members:
            near = {o: d for o, d in neighbours[k].items() if o == leader or o in members}
            best = min(near, key=lambda o: (near[o][1] + near[o][2], near[o][1], o != leader))
            closest = (hashed[best], *near[best]) if best != leader else None
            matches.append(NearMatch(hashed[k], *neighbours[leader][k], closest=closest))
        out.near.append(NearGroup(hashed[leader], matches))
    return out


DUPLICATES = Derivation("duplicates", find_duplicates, needs=("image",))

"""Duplicate groups: which pictures are copies of which, decided once per audit.

Exact duplicates are the same bytes, or the same pixels in another file (a PNG saved from a JPEG, a
re-saved lossless file). Near-duplicates are resized, recompressed, slightly cropped or colour-shifted
copies, found with two 64-bit perceptual hashes (pHash on the DCT of a 32×32 grey thumbnail, dHash on 9×8
gradients) that must both be close, compared between one image's whole picture and the other's whole
picture or one of six crop views (centre 90 % and 80 %, four corners at 92 %) so that crops still match.
Candidates come from a multi-index of the hashes (below), so a large set is not compared pair by pair; the pairs
are exactly those that comparing all pairs gives.
Each group keeps one image: one kohya can load, the largest, then the least compressed.

The groups are a derived result (`DUPLICATES`): DUP001/DUP002 report them, and the checks that must not
count one shot twice (DUP003, composition, identity) leave the copies out — whether or not DUP001/DUP002
are on, so turning a duplicate rule off changes no other check.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from curate.derive import Derivation, hamming_kernel
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
    """64-bit hashes written as hex, as a uint64 array (one bytes.fromhex for the lot when all are 16 digits)."""
    if all(len(h) == 16 for h in hex_hashes):
        try:
            return np.frombuffer(bytes.fromhex("".join(hex_hashes)), dtype=">u8").astype(np.uint64)
        except ValueError:
            pass
    return np.array([int(h, 16) for h in hex_hashes], dtype=np.uint64)


# Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012) with the generalised pigeonhole principle (Qin et al.,
# ICDE 2018): the 64-bit pHash is cut into CHUNKS pieces of 16 bits; if two hashes differ in at most r bits, some
# piece k differs in at most r_k bits, where the r_k sum to r − CHUNKS + 1. Each piece indexes the whole pictures
# in a direct-address table; a query looks up every key within r_k bits of its own piece. Every candidate is then
# checked on both full hashes, so the pairs are exactly those of comparing all pairs (tests; bench/bench_matching.py
# measures both), at a small share of the comparisons.
CHUNKS = 4
CHUNK_BITS = 16


def chunk_radii(max_distance: int) -> list[int]:
    """How far each 16-bit piece may differ so that no pair within max_distance is missed (−1: piece unused)."""
    total = max_distance - CHUNKS + 1
    return [total // CHUNKS + (1 if k < total % CHUNKS else 0) for k in range(CHUNKS)]


def _flips(radius: int) -> np.ndarray:
    """Every CHUNK_BITS-bit mask with at most `radius` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in chosen) for chosen in combinations(range(CHUNK_BITS), r)]
    return np.array(masks, dtype=np.int64)


def near_pair_rows(
    full_p: np.ndarray,
    full_d: np.ndarray,
    views_p: np.ndarray,
    views_d: np.ndarray,
    max_p: int,
    max_d: int,
    budget: int = 1 << 21,
    fresh: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs (i < j) where some view of one image (the whole picture or a crop view) matches the other's whole
    picture within both limits, in (i, j) order: a 5 × K array of rows i, j, view index, pHash distance, dHash
    distance, for the best view (smallest pHash + dHash distance, then the lower view index).

    `views_*` are N×V arrays of the crop views' hashes. Every view of every image is a query against the index
    of whole pictures (multi-index hashing, above); `budget` bounds the candidates held at once. `fresh` (a mask
    of N): only the pairs with at least one fresh picture — those among the others are known (PairMemo): every
    view of a fresh picture is a query against all whole pictures, and each fresh whole picture a query against
    the views of the others.
    """
    n = len(full_p)
    nv = 1 + views_p.shape[1]
    all_p = np.concatenate([full_p[:, None], views_p], axis=1).reshape(-1)  # view q % nv of picture q // nv
    all_d = np.concatenate([full_d[:, None], views_d], axis=1).reshape(-1)
    views = _Side(all_p, all_d, np.repeat(np.arange(n), nv), np.tile(np.arange(nv), n))
    whole = _Side(full_p, full_d, np.arange(n), np.zeros(n, dtype=np.int64))
    best = _Best()
    if fresh is None:
        best.add_all(_hits(views, whole, max_p, max_d, budget))
        return best.table()
    fresh = np.asarray(fresh, dtype=bool)
    fresh_views = np.repeat(fresh, nv)
    best.add_all(_hits(views.part(fresh_views), whole, max_p, max_d, budget))
    if not fresh.all():
        best.add_all(_hits(whole.part(fresh), views.part(~fresh_views), max_p, max_d, budget))
    return best.table()


@dataclass(frozen=True)
class _Side:
    """Hashes on one side of a match, with the picture each belongs to and which of its views it is."""

    p: np.ndarray
    d: np.ndarray
    owner: np.ndarray
    view: np.ndarray

    def part(self, keep: np.ndarray) -> _Side:
        return _Side(self.p[keep], self.d[keep], self.owner[keep], self.view[keep])


def _hits(
    queries: _Side, table: _Side, max_p: int, max_d: int, budget: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Every (picture, other picture, view, pHash distance, dHash distance) where a query's hashes are within both
    limits of a table entry's, the two from different pictures; one side of each is a whole picture, so the
    pair's view is the other side's. Candidates from the multi-index over the table's pHash (above)."""
    compiled = len(queries.p) >= hamming_kernel.COMPILED_FROM and hamming_kernel.available()  # imports Numba
    for k, radius in enumerate(chunk_radii(max_p)):
        if radius < 0 or not len(queries.p) or not len(table.p):
            continue
        piece = _Piece(table.p, k)
        flips = _flips(radius)
        query_keys = piece.keys(queries.p)
        if compiled:  # the same hits from the compiled loop (curate/derive/hamming_kernel.py; 16-bit pieces too)
            order = np.argsort(query_keys.astype(np.uint16), kind="stable")
            del query_keys  # 8 bytes a query: the order is all the loop needs
            sides = (queries.p, queries.d, queries.owner, order, table.p, table.d, table.owner, piece.members)
            hits = hamming_kernel.piece_hits(*sides, piece.starts, piece.counts, CHUNK_BITS * k, flips, max_p, max_d)
            for q, t, dp, dd in hits:
                yield queries.owner[q], table.owner[t], queries.view[q] + table.view[t], dp, dd
            continue
        step = max(64, int(budget / (len(flips) * max(1.0, len(table.p) / (1 << CHUNK_BITS)))))
        for s in range(0, len(queries.p), step):
            for q, t in piece.candidates(query_keys[s : s + step], s, flips, budget):
                keep = queries.owner[q] != table.owner[t]
                q, t = q[keep], t[keep]
                dp = popcount(queries.p[q] ^ table.p[t])
                keep = dp <= max_p
                q, t, dp = q[keep], t[keep], dp[keep]
                dd = popcount(queries.d[q] ^ table.d[t])
                keep = dd <= max_d
                q, t = q[keep], t[keep]
                yield queries.owner[q], table.owner[t], queries.view[q] + table.view[t], dp[keep], dd[keep]


def near_pairs(*arrays_and_limits: Any, **budget: Any) -> Iterator[tuple[int, int, int, int, int]]:
    """near_pair_rows (same arguments), one (i, j, view, pHash distance, dHash distance) tuple at a time."""
    yield from zip(*(r.tolist() for r in near_pair_rows(*arrays_and_limits, **budget)))


class _Piece:
    """One 16-bit piece of the whole pictures' pHash as a direct-address table: the pictures sorted by the
    piece's value, and where each value's run starts and how long it is."""

    def __init__(self, full_p: np.ndarray, k: int):
        self.shift = np.uint64(CHUNK_BITS * k)
        keys = self.keys(full_p)
        self.members = np.argsort(keys.astype(np.uint16), kind="stable")  # a radix sort for 16-bit keys
        self.counts = np.bincount(keys, minlength=1 << CHUNK_BITS)
        self.starts = np.cumsum(self.counts) - self.counts

    def keys(self, hashes: np.ndarray) -> np.ndarray:
        return ((hashes >> self.shift) & np.uint64((1 << CHUNK_BITS) - 1)).astype(np.int64)

    def candidates(
        self, query_keys: np.ndarray, offset: int, flips: np.ndarray, budget: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(query index, whole-picture index) arrays for every key within the flips of each query's key, in parts
        of about `budget` candidates: crowded buckets (many crops of one photo) can hold far more than average."""
        probes = (query_keys[:, None] ^ flips[None, :]).ravel()
        hit = np.flatnonzero(self.counts[probes])
        if not len(hit):
            return
        ends = np.cumsum(self.counts[probes[hit]])
        for part in np.split(hit, np.searchsorted(ends, np.arange(budget, int(ends[-1]), budget))):
            if not len(part):
                continue
            size = self.counts[probes[part]]
            q = np.repeat(offset + part // len(flips), size)
            first = np.cumsum(size) - size
            yield q, self.members[np.arange(int(size.sum())) + np.repeat(self.starts[probes[part]] - first, size)]


class _Best:
    """The best view of each pair found so far (a pair is found from both sides and through several pieces):
    smallest pHash + dHash distance, then the lower view index. Reduced as hits arrive, so memory follows the
    number of pairs, not of hits. The choice depends only on the pair, not on which side found it."""

    def __init__(self) -> None:
        self.rows = np.zeros((5, 0), dtype=np.int64)  # lo, hi, view, pHash distance, dHash distance
        self.pending: list[np.ndarray] = []
        self.pending_size = 0

    def add_all(self, hits: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
        for hit in hits:
            self.add(*hit)

    def add(self, i: np.ndarray, j: np.ndarray, view: np.ndarray, dp: np.ndarray, dd: np.ndarray) -> None:
        rows = np.stack([np.minimum(i, j), np.maximum(i, j), view, dp, dd]).astype(np.int64)
        self.pending.append(rows)
        self.pending_size += rows.shape[1]
        if self.pending_size > max(1 << 20, self.rows.shape[1]):
            self._reduce()

    def _reduce(self) -> None:
        rows = np.concatenate([self.rows, *self.pending], axis=1)
        self.pending, self.pending_size = [], 0
        self.rows = best_rows(rows)

    def table(self) -> np.ndarray:
        self._reduce()
        return self.rows


def best_rows(rows: np.ndarray) -> np.ndarray:
    """The rows (lo, hi, view, pHash distance, dHash distance) sorted by pair, one per pair: the best view."""
    lo, hi, view, dp, dd = rows
    rows = rows[:, np.lexsort((dd, dp, view, dp + dd, hi, lo))]
    first = np.ones(rows.shape[1], dtype=bool)
    first[1:] = (rows[0, 1:] != rows[0, :-1]) | (rows[1, 1:] != rows[1, :-1])
    return rows[:, first]


@dataclass(frozen=True)
class PairMemo:
    """The near-duplicate pairs (near_pair_rows' rows, before the folder and colour filters) among a set of pictures
    named by SHA-256, as an audit found them at given limits. The pairs between two pictures depend on nothing but
    their hashes and the limits, so the next audit of the folder keeps the pairs among the pictures it still has
    and matches only the pairs with a new one (`near_pair_rows(fresh=...)`): the same pairs as matching all, at a
    cost that follows what changed. Stored by the feature cache, one per dataset folder."""

    limits: tuple[int, int, int]  # pHash limit, dHash limit, views per picture
    shas: list[str]
    rows: np.ndarray  # 5 × K, indices into shas

    def carry(self, shas: list[str], limits: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(the known pairs among `shas`, in their order, sorted by pair; the mask of pictures not matched before)."""
        fresh = np.ones(len(shas), dtype=bool)
        if limits != self.limits:
            return np.zeros((5, 0), dtype=np.int64), fresh
        index = {sha: k for k, sha in enumerate(shas)}
        where = np.array([index.get(sha, -1) for sha in self.shas], dtype=np.int64)
        fresh[where[where >= 0]] = False
        a, b = where[self.rows[0]], where[self.rows[1]]
        keep = (a >= 0) & (b >= 0)
        a, b = a[keep], b[keep]
        rows = np.stack([np.minimum(a, b), np.maximum(a, b), *self.rows[2:, keep]])
        return rows[:, np.lexsort((rows[1], rows[0]))], fresh

    def to_bytes(self) -> bytes:
        """limits (3 × int32), K (int64), the SHA-256s (32 bytes each), the rows (5 × K int32), then a 16-byte
        BLAKE2b digest of all that (a damaged row is told from a memo, not read as one)."""
        head = np.array(self.limits, dtype="<i4").tobytes() + np.array([self.rows.shape[1]], dtype="<i8").tobytes()
        body = head + bytes.fromhex("".join(self.shas)) + self.rows.astype("<i4").tobytes()
        return body + hashlib.blake2b(body, digest_size=16).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> PairMemo | None:
        """The memo, or None when `data` is not one (a damaged or foreign cache row is a miss, not an error)."""
        body, digest = data[:-16], data[-16:]
        if len(data) < 36 or hashlib.blake2b(body, digest_size=16).digest() != digest:
            return None
        limits = tuple(int(x) for x in np.frombuffer(body[:12], dtype="<i4"))
        k = int(np.frombuffer(body[12:20], dtype="<i8")[0])
        n, rest = divmod(len(body) - 20 - 20 * k, 32)
        if k < 0 or n < 0 or rest:
            return None
        shas = body[20 : 20 + 32 * n].hex()
        rows = np.frombuffer(body[20 + 32 * n :], dtype="<i4").reshape(5, k).astype(np.int64)
        if k and (rows[:2].min() < 0 or rows[:2].max() >= n or (rows[0] >= rows[1]).any()):
            return None
        return cls((limits[0], limits[1], limits[2]), [shas[i : i + 64] for i in range(0, 64 * n, 64)], rows)


V = TypeVar("V")


def colour_layouts(hexes: list[str | None]) -> np.ndarray:
    """N × 64 × 3 cell colours from the image extractor's hex layouts (NaN where a picture has none)."""
    out = np.full((len(hexes), 64, 3), np.nan)
    has = [k for k, h in enumerate(hexes) if h and len(h) == 384]
    try:  # one bytes.fromhex for the lot
        out[has] = np.frombuffer(bytes.fromhex("".join(hexes[k] or "" for k in has)), dtype=np.uint8).reshape(-1, 64, 3)
    except ValueError:  # a damaged layout among them: each on its own
        for k in has:
            try:
                out[k] = np.frombuffer(bytes.fromhex(hexes[k] or ""), dtype=np.uint8).reshape(64, 3)
            except ValueError:
                pass
    return out


def colours_differ_many(x: np.ndarray, y: np.ndarray, min_chroma: float, max_share: float) -> np.ndarray:
    """For each pair of K × 64 × 3 colour layouts, whether the two near-duplicate candidates show different colours
    in the same places — one garment in two colours, which luminance hashes cannot tell apart. Compares the layouts
    in opponent chroma: among the cells where either is clearly coloured (chroma ≥ min_chroma), the share that
    changed — hue turned by more than 60°, or grey in one and strongly coloured (≥ 2 × min_chroma) in the other. A
    greyscale copy (no colour at all) stays a duplicate; saturation and warm shifts keep hues and do not turn grey
    to colour. A pair where either has no layout is not judged (False)."""

    def chroma(c: np.ndarray) -> np.ndarray:
        return np.stack([c[..., 0] - c[..., 1], (c[..., 0] + c[..., 1]) / 2 - c[..., 2]], axis=-1)

    ca, cb = chroma(x), chroma(y)
    na, nb = np.linalg.norm(ca, axis=-1), np.linalg.norm(cb, axis=-1)
    known = ~(np.isnan(na).any(axis=1) | np.isnan(nb).any(axis=1))
    na, nb = np.nan_to_num(na), np.nan_to_num(nb)
    coloured = np.minimum(na.max(axis=1), nb.max(axis=1)) >= min_chroma / 2  # else a greyscale copy
    either = (na >= min_chroma) | (nb >= min_chroma)
    both = (na >= min_chroma) & (nb >= min_chroma)
    cos = np.where(both, np.nan_to_num((ca * cb).sum(axis=-1)) / np.maximum(na * nb, 1e-9), 1.0)
    turned = both & (cos < 0.5)  # hue turned more than 60°
    appeared = (np.minimum(na, nb) < min_chroma / 2) & (np.maximum(na, nb) >= 2 * min_chroma)
    n_either = either.sum(axis=1)
    share = ((turned | appeared) & either).sum(axis=1) / np.maximum(n_either, 1)
    return known & coloured & (n_either >= 4) & (share > max_share)


def colours_differ(a: str | None, b: str | None, min_chroma: float, max_share: float) -> bool:
    """colours_differ_many for one pair of hex layouts."""
    x, y = colour_layouts([a]), colour_layouts([b])
    return bool(colours_differ_many(x, y, min_chroma, max_share)[0])


def keeper_groups(
    neighbours: Mapping[int, Iterable[int]], best_first: Callable[[int], Any]
) -> list[tuple[int, list[int]]]:
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


class UnionFind:
    """Disjoint sets over integers, held only for the items ever united (the others are alone)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}  # of the items ever united: the others are alone
        self.joined = self.parent.keys()

    def find(self, i: int) -> int:
        parent = self.parent
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in sorted(self.joined):
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
    memo: PairMemo | None = None  # the pairs this audit found, for the next audit of the folder

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


@dataclass
class _Hashes:
    """The hashes of N pictures as arrays (a million pictures' hashes as text and dicts would hold gigabytes)."""

    phash: np.ndarray  # N uint64
    dhash: np.ndarray
    views_p: np.ndarray  # N × V uint64: the crop views'
    views_d: np.ndarray
    complete: np.ndarray  # N bool: has a pHash and crop views (older or damaged features may not)
    pixel_hash: np.ndarray  # N × 64 bytes: SHA-256 of the pixels (hex), b"" for reduced decodes (_digests)


def _hashes(records: list[ImageRecord], part: int = 8192) -> _Hashes:
    """The records' hashes, read in one pass (each picture's stored features decoded once)."""
    columns: list[list[np.ndarray]] = [[], [], [], [], []]
    pixel_hash: list[np.ndarray] = []
    views = len(VIEW_NAMES) - 1
    blank = "0" * 16
    for start in range(0, len(records), part):
        p: list[str] = []
        d: list[str] = []
        vp: list[str] = []
        vd: list[str] = []
        ok: list[bool] = []
        pixels: list[str | None] = []
        for rec in records[start : start + part]:
            image = rec.image
            pixels.append(image.get("pixel_hash"))
            view_hashes = image.get("view_hashes") or []
            good = bool(image.get("phash")) and len(view_hashes) == views
            ok.append(good)
            p.append(image.get("phash") or blank if good else blank)
            d.append(image.get("dhash") or blank if good else blank)
            vp += [v[0] for v in view_hashes] if good else [blank] * views
            vd += [v[1] for v in view_hashes] if good else [blank] * views
        for column, values in zip(columns, (bits(p), bits(d), bits(vp), bits(vd), np.array(ok, dtype=bool))):
            column.append(values)
        pixel_hash.append(_digests(pixels))
    if not records:
        none = np.zeros(0, dtype=np.uint64)
        return _Hashes(none, none, none.reshape(0, views), none.reshape(0, views), none.astype(bool), _digests([]))
    full_p, full_d, views_p, views_d, complete = (np.concatenate(c) for c in columns)
    shape = (-1, views)
    return _Hashes(full_p, full_d, views_p.reshape(shape), views_d.reshape(shape), complete, np.concatenate(pixel_hash))


def _digests(values: list[str | None]) -> np.ndarray:
    """Hex digests (SHA-256) as a fixed-width array: 64 bytes each instead of a dict entry and a string. Any other
    text (a damaged cache row's, a test's) stands as its own BLAKE2b digest; b"" for None, which matches nothing."""
    return np.array(
        ["" if v is None else v if isinstance(v, str) and len(v) == 64 and v.isascii() else _digest(v) for v in values],
        dtype="S64",
    )


def _digest(value: object) -> str:
    return hashlib.blake2b(str(value).encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def _same_values(values: np.ndarray) -> list[list[int]]:
    """The indices of each value held more than once (b"" is none), ascending."""
    index = np.flatnonzero(values != b"")
    _, inverse, counts = np.unique(values[index], return_inverse=True, return_counts=True)
    repeated = counts[inverse] > 1
    index, inverse = index[repeated], inverse[repeated]
    order = np.lexsort((index, inverse))
    index, inverse = index[order], inverse[order]
    return [part.tolist() for part in np.split(index, np.flatnonzero(np.diff(inverse)) + 1)] if len(index) else []


def find_duplicates(records: list[ImageRecord], settings: Settings, previous: PairMemo | None = None) -> Duplicates:
    """Exact groups (same bytes or pixels), then near groups among the pictures that are not exact copies.
    `previous`: the pairs an earlier audit of the folder found (only the pairs with a new picture are matched)."""
    cfg = settings.cfg
    out = Duplicates()
    readable = [r for r in records if r.readable and r.sha256]
    hashes = _hashes(readable)
    uf = UnionFind()
    for values in (_digests([r.sha256 for r in readable]), hashes.pixel_hash):  # by content, by pixels
        for first, *others in _same_values(values):
            for i in others:
                uf.union(first, i)
    representatives = np.ones(len(readable), dtype=bool)
    for members in uf.groups():
        order = sorted(members, key=lambda i: _exact_key(readable[i], cfg))
        keep = readable[order[0]]
        out.exact.append(
            ExactGroup(
                keep, [(readable[i], "bytes" if readable[i].sha256 == keep.sha256 else "pixels") for i in order[1:]]
            )
        )
        representatives[order[1:]] = False

    chosen = np.flatnonzero(representatives & hashes.complete)
    hashed = [readable[i] for i in chosen.tolist()]
    if len(hashed) < 2:
        return out
    full_p, full_d = hashes.phash[chosen], hashes.dhash[chosen]
    views_p, views_d = hashes.views_p[chosen], hashes.views_d[chosen]
    del hashes
    limits = cfg.duplicate
    shas = [r.sha256 or "" for r in hashed]
    at = (limits.phash_max_distance, limits.dhash_max_distance, 1 + views_p.shape[1])
    known, fresh = previous.carry(shas, at) if previous else (np.zeros((5, 0), dtype=np.int64), None)
    found = (
        near_pair_rows(full_p, full_d, views_p, views_d, at[0], at[1], fresh=fresh)
        if fresh is None or fresh.any()
        else known[:, :0]
    )
    rows = best_rows(np.concatenate([known, found], axis=1))  # disjoint: only sorted together
    out.memo = PairMemo(at, shas, rows)
    lo, hi, view, dp, dd = rows
    kept = np.ones(len(lo), dtype=bool)
    if not limits.across_folders:  # concept folders are split on purpose (one pose, two outfits): not grouped
        folder_ids: dict[str, int] = {}
        folder = np.array([folder_ids.setdefault(r.concept.folder, len(folder_ids)) for r in hashed])
        kept &= folder[lo] == folder[hi]
    # The same shapes in other colours (a product in two colours) are different pictures. Only whole-picture
    # matches are compared: on a crop view the grid shifts.
    whole = np.flatnonzero(kept & (view == 0))
    if len(whole):
        involved = np.unique(np.concatenate([lo[whole], hi[whole]]))  # layouts of those only (N × 1.5 kB)
        layouts = colour_layouts([hashed[k].image.get("colour_layout") for k in involved.tolist()])
        for start in range(0, len(whole), 8192):
            part = whole[start : start + 8192]
            a, b = np.searchsorted(involved, lo[part]), np.searchsorted(involved, hi[part])
            kept[part] &= ~colours_differ_many(
                layouts[a], layouts[b], limits.colour_min_chroma, limits.colour_max_changed_share
            )
    pairs = [a[kept] for a in (lo, hi, view, dp, dd)]
    neighbours = _Neighbours(len(hashed), pairs[0], pairs[1])
    rank = {k: quality_key(hashed[k], cfg) for k in neighbours}  # once each: the groups sort by it many times
    groups = keeper_groups(neighbours, rank.__getitem__)
    closest = _closest_members(groups, len(hashed), *pairs)
    for leader, members in groups:
        pair_with = neighbours.pairs_of(leader)
        matches = []
        for k in members:
            best = closest[k]
            near = (hashed[best[0]], *best[1:]) if best[0] != leader else None
            v, p, d = (int(a[pair_with[k]]) for a in pairs[2:])
            matches.append(NearMatch(hashed[k], v, p, d, closest=near))
        out.near.append(NearGroup(hashed[leader], matches))
    return out


class _Neighbours(Mapping[int, list[int]]):
    """The items each item matches, from arrays of pairs (lo, hi): `neighbours[i]`, for the items with a match
    (in index order); `pairs_of(i)` {item matched: the pair's index}. Arrays, not a dict per item: a crowded set has
    millions of pairs (666,438 among 100,000 pictures in bench/bench_scale.py's), which dicts would hold in
    hundreds of MB."""

    def __init__(self, n: int, lo: np.ndarray, hi: np.ndarray):
        src = np.concatenate([lo, hi])
        order = np.argsort(src, kind="stable")
        self._other = np.concatenate([hi, lo])[order]
        self._pair = np.concatenate([np.arange(len(lo))] * 2)[order]
        self._start = np.searchsorted(src[order], np.arange(n + 1))
        self._items = np.flatnonzero(np.diff(self._start))

    def __getitem__(self, i: int) -> list[int]:
        a, b = self._start[i], self._start[i + 1]
        if a == b:
            raise KeyError(i)
        return self._other[a:b].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self._items.tolist())

    def __len__(self) -> int:
        return len(self._items)

    def pairs_of(self, i: int) -> dict[int, int]:
        a, b = self._start[i], self._start[i + 1]
        return dict(zip(self._other[a:b].tolist(), self._pair[a:b].tolist()))


def _closest_members(
    groups: list[tuple[int, list[int]]],
    n: int,
    lo: np.ndarray,
    hi: np.ndarray,
    view: np.ndarray,
    dp: np.ndarray,
    dd: np.ndarray,
) -> dict[int, tuple[int, int, int, int]]:
    """For each member of a keeper group, the group member it matches most closely: least pHash + dHash distance,
    then pHash, the keeper before the others, then the lowest index — {member: (closest, view, pHash, dHash)}.
    On arrays of pairs: a crowded set has members with thousands of matches."""
    if not groups:
        return {}
    group = np.full(n, -1, dtype=np.int64)
    keeper = np.zeros(len(groups), dtype=np.int64)
    for g, (leader, members) in enumerate(groups):
        group[leader] = g
        group[members] = g
        keeper[g] = leader
    src, dst = np.concatenate([lo, hi]), np.concatenate([hi, lo])  # both directions of each pair
    view, dp, dd = np.concatenate([view, view]), np.concatenate([dp, dp]), np.concatenate([dd, dd])
    g = group[src]
    mine = (g >= 0) & (g == group[dst]) & (src != keeper[np.maximum(g, 0)])  # a member, to a member of its group
    src, dst, view, dp, dd, g = src[mine], dst[mine], view[mine], dp[mine], dd[mine], g[mine]
    order = np.lexsort((dst, dst != keeper[g], dp, dp + dd, src))
    first = order[np.r_[True, src[order][1:] != src[order][:-1]]] if len(order) else order
    return {k: (o, v, p, d) for k, o, v, p, d in zip(*(a[first].tolist() for a in (src, dst, view, dp, dd)))}


DUPLICATES = Derivation("duplicates", find_duplicates, needs=("image",), memo=PairMemo)

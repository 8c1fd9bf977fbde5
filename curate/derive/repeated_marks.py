"""Marks repeated across the set: the same mark at the same place on several pictures.

A shop puts its logo and name in the same corner of every product photo; an estate agent lays the same faint
logo across the middle of every listing; an artist signs every work in the same corner. One such picture alone
can be hard to call — a faint name across the middle reads like a sign, a logo with no text is only warm in the
mark detector's map — but the same reading at the same place on several different pictures is no part of any
scene: it was laid over them, and the LoRA learns it (it sees it once per picture).

Two kinds of evidence, from the `marks` extractor's cached features (no picture is read here):
  * **text**: readings that say the same thing (fuzzily: OCR varies with the background; [marks]
    repeat_min_similarity) in boxes that overlap (repeat_min_overlap, intersection over union, boxes relative to
    the picture);
  * **detector**: a mark detector's map — the mark detector's (curate/extract/overlay.py, ≥ repeat_map_level)
    or the head's over the text detector's features (≥ repeat_text_map_level) — warm at the same cells on more
    pictures than chance allows (repeat_map_chance), where the set's own share of warm cells is the chance: a
    logo with no readable text.
A repeat needs [marks] repeat_min_pictures different scenes: shots of one scene (8×8 colour layouts within
repeat_scene_max_colour) count once, as copies of one picture do (the check leaves out the duplicates it knows).
Text the caption quotes is the scene's ("a sign that says …"). Thresholds were chosen on the tuning sets of
bench/eval_mark_sets.py (figures: docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from curate.derive import Derivation
from curate.derive.duplicates import UnionFind
from curate.derive.marks import components, letters_and_digits, overlay_map
from curate.model import ImageRecord
from curate.rules import Settings
from curate.thresholds import Marks as MarksSettings

CELLS = 6  # text boxes are compared with those whose centre is in the same or a neighbouring cell of this grid
MAX_FUZZY = 400  # distinct readings in one neighbourhood compared fuzzily (beyond: equal readings only)
MEMBER_SHARE = 0.25  # a picture shares a repeat the detector sees when warm on this share of its cells (at least one)
SCENE_SAMPLE = 1000  # members of a repeat whose scenes are counted
MIN_CHARS = 3  # readings shorter than this (letters and digits) are left out


@dataclass(slots=True)
class Repeat:
    """One mark repeated over several pictures."""

    # "text" (the same reading), "detector" (the mark detector's map) or "text features" (the head's map)
    source: str
    text: str  # the most common reading ("" for the detector)
    box: list[float]  # where it is on most of them (relative: x0, y0, x1, y1; the median of the members' boxes)
    members: list[int] = field(default_factory=list)  # indices of the pictures, in order
    scores: list[float] = field(default_factory=list)  # each member's confidence (text) or map level (detector)
    boxes: list[list[float]] = field(default_factory=list)  # where it is on each member


@dataclass
class RepeatedMarks:
    repeats: list[Repeat] = field(default_factory=list)
    records: list[ImageRecord] = field(default_factory=list)  # the indices' pictures
    _standing: list[tuple[Repeat, list[tuple[ImageRecord, float, list[float]]]]] | None = field(
        default=None, repr=False, compare=False
    )
    _text_boxes: dict[str, list[list[float]]] | None = field(default=None, repr=False, compare=False)

    def standing(
        self, copies: set[str], minimum: int
    ) -> list[tuple[Repeat, list[tuple[ImageRecord, float, list[float]]]]]:
        """The repeats that hold on `minimum` pictures once the `copies` of another picture (DUP001/DUP002) are
        left out, each with its members (record, score, box). Worked out once: an audit's copies are fixed."""
        if self._standing is None:
            self._standing = []
            for rep in self.repeats:
                members = [
                    (self.records[i], score, box)
                    for i, score, box in zip(rep.members, rep.scores, rep.boxes)
                    if self.records[i].path not in copies
                ]
                if len(members) >= minimum:
                    self._standing.append((rep, members))
        return self._standing

    def text_boxes(self, path: str, copies: set[str], minimum: int) -> list[list[float]]:
        """The boxes of the picture's readings that are part of a standing repeat (WMK002 says them, not TXT001)."""
        if self._text_boxes is None:
            self._text_boxes = defaultdict(list)
            for rep, members in self.standing(copies, minimum):
                if rep.source == "text":
                    for rec, _, box in members:
                        self._text_boxes[rec.path].append(box)
        return self._text_boxes.get(path, [])


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _text_regions(
    features: Sequence[dict[str, Any] | None], captions: Sequence[str], conf: MarksSettings
) -> list[tuple[int, str, str, list[float], float]]:
    """(picture, reading, normalised reading, box, confidence) of every confident reading of at least MIN_CHARS
    letters or digits that its picture's caption does not quote."""
    out = []
    for i, f in enumerate(features):
        caption = captions[i]
        for r in (f or {}).get("texts") or ():
            norm = letters_and_digits(r.get("text", ""))
            if r.get("score", 0) < conf.min_confidence or len(norm) < MIN_CHARS or (len(norm) >= 4 and norm in caption):
                continue
            out.append((i, str(r["text"]), norm, list(r["box"]), float(r["score"])))
    return out


def text_repeats(
    features: Sequence[dict[str, Any] | None], captions: Sequence[str], conf: MarksSettings
) -> list[Repeat]:
    """The same reading at the same place on at least [marks] repeat_min_pictures pictures."""
    regions = _text_regions(features, captions, conf)
    cells: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, (_, _, _, box, _) in enumerate(regions):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        cells[min(CELLS - 1, int(cx * CELLS)), min(CELLS - 1, int(cy * CELLS))].append(k)
    sets = UnionFind()
    similar: dict[tuple[str, str], bool] = {}
    for (cx, cy), here in cells.items():
        near = [k for dx in (-1, 0, 1) for dy in (-1, 0, 1) for k in cells.get((cx + dx, cy + dy), ())]
        by_norm: dict[str, list[int]] = defaultdict(list)
        for k in near:
            by_norm[regions[k][2]].append(k)
        fuzzy = len(by_norm) <= MAX_FUZZY
        for k in here:
            i, _, norm, box, _ = regions[k]
            for other, ks in by_norm.items():
                if other != norm:
                    if not fuzzy:
                        continue
                    key = (norm, other) if norm < other else (other, norm)
                    if key not in similar:
                        similar[key] = SequenceMatcher(None, norm, other).ratio() >= conf.repeat_min_similarity
                    if not similar[key]:
                        continue
                for m in ks:
                    if m > k and regions[m][0] != i and _iou(box, regions[m][3]) >= conf.repeat_min_overlap:
                        sets.union(k, m)
    out = []
    for ks in sets.groups():
        pictures = sorted({regions[k][0] for k in ks})
        if len(pictures) < conf.repeat_min_pictures:
            continue
        best: dict[int, int] = {}  # picture -> its most confident reading in the group
        for k in ks:
            i = regions[k][0]
            if i not in best or regions[k][4] > regions[best[i]][4]:
                best[i] = k
        readings = [regions[best[i]][1] for i in pictures]
        boxes = np.array([regions[best[i]][3] for i in pictures])
        out.append(
            Repeat(
                "text",
                max(set(readings), key=lambda t: (readings.count(t), t)),
                [round(float(v), 4) for v in np.median(boxes, axis=0)],
                pictures,
                [regions[best[i]][4] for i in pictures],
                [regions[best[i]][3] for i in pictures],
            )
        )
    return sorted(out, key=lambda r: (-len(r.members), r.members[0]))


def _log_tail(n: int, p: float, k: int) -> float:
    """log P(X ≥ k) for X ~ Binomial(n, p) (0 < p < 1), summed in log space from k up (terms fall fast)."""
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    lp, lq = math.log(p), math.log1p(-p)
    terms = []
    for j in range(k, n + 1):
        t = math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq
        terms.append(t)
        if t < terms[0] - 40:
            break
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def detector_repeats(
    features: Sequence[dict[str, Any] | None], conf: MarksSettings, key: str = "overlay"
) -> list[Repeat]:
    """A mark detector's map warm at the same cells on at least repeat_min_pictures pictures, and on more of
    them than chance allows: with the set's own share of warm cells as the chance of any cell being warm, a
    cell's count must be that unlikely (binomial tail ≤ repeat_map_chance over all the map's cells). `key`:
    "overlay" (the mark detector, warm at ≥ [marks] repeat_map_level) or "text_overlay" (the head over the
    text detector's features, ≥ repeat_text_map_level). Two passes over the maps; memory does not grow with the
    set."""
    level = conf.repeat_map_level if key == "overlay" else conf.repeat_text_map_level
    source = "detector" if key == "overlay" else "text features"
    counts: np.ndarray | None = None
    n = 0
    for f in features:
        m = overlay_map(f, key)
        if m is None:
            continue
        warm = m >= level
        counts = warm.astype(np.int32) if counts is None else counts + warm
        n += 1
    if counts is None or n < conf.repeat_min_pictures:
        return []
    cells = counts.size
    p = float(counts.sum()) / (n * cells)
    if p <= 0:
        return []
    p = min(p, 0.5)
    limit = math.log(conf.repeat_map_chance / cells)
    low, high = conf.repeat_min_pictures, n + 1  # the fewest pictures chance does not explain: the tail falls with k
    while low < high:
        mid = (low + high) // 2
        if _log_tail(n, p, mid) > limit:
            low = mid + 1
        else:
            high = mid
    needed = low
    parts = components(counts >= needed)
    found: list[tuple[list[int], list[float]]] = [([], []) for _ in parts]  # members and scores of each part
    for i, f in enumerate(features) if parts else ():
        m = overlay_map(f, key)
        if m is None:
            continue
        for part, (members, scores) in zip(parts, found):
            if (m[part] >= level).sum() >= max(1.0, MEMBER_SHARE * int(part.sum())):
                members.append(i)
                scores.append(round(float(m[part].max()), 2))
    out = []
    for part, (members, scores) in zip(parts, found):
        if len(members) < conf.repeat_min_pictures:
            continue
        ys, xs = np.nonzero(part)
        side = part.shape[0]
        box = [xs.min() / side, ys.min() / side, (xs.max() + 1) / side, (ys.max() + 1) / side]
        box = [round(float(v), 4) for v in box]
        out.append(Repeat(source, "", box, members, scores, [box] * len(members)))
    return out


class _MarksOf(Sequence):
    """The records' marks features, read when asked (features may wait in a spool: none is held here)."""

    def __init__(self, records: list[ImageRecord]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i].features.get("marks")


class _CaptionsOf(_MarksOf):
    def __getitem__(self, i):
        return letters_and_digits(self.records[i].caption.text or "")


class _LayoutsOf(_MarksOf):
    def __getitem__(self, i):
        return (self.records[i].features.get("image") or {}).get("colour_layout")


def scenes(layouts: Sequence[str | None], conf: MarksSettings) -> int:
    """How many different scenes the pictures show, counted up to repeat_min_pictures: a picture whose 8×8 colour
    layout (the image extractor's) is within [marks] repeat_scene_max_colour (mean absolute difference, 0–255)
    of one already counted is another shot of that scene — a burst, a room from the same spot — whose text (a
    sign, a poster) stays at one place from shot to shot. (A perceptual hash moves too much when the framing
    shifts by a tenth: measured on the tuning sets of bench/eval_mark_sets.py.) At most SCENE_SAMPLE pictures
    are looked at."""
    sample = [c for c in layouts[:SCENE_SAMPLE] if isinstance(c, str) and len(c) == 384]
    if len(sample) < min(len(layouts), SCENE_SAMPLE):
        return conf.repeat_min_pictures  # a picture with no layout: nothing says they are one scene
    seen: list[np.ndarray] = []
    for c in sample:
        cells = np.frombuffer(bytes.fromhex(c), dtype=np.uint8).astype(np.int16)
        if all(np.abs(cells - other).mean() > conf.repeat_scene_max_colour for other in seen):
            seen.append(cells)
            if len(seen) >= conf.repeat_min_pictures:
                break
    return len(seen)


def repeats(
    features: Sequence[dict[str, Any] | None],
    captions: Sequence[str],
    layouts: Sequence[str | None],
    conf: MarksSettings,
) -> list[Repeat]:
    """Every repeat of the pictures' marks features (text, then the two detectors) that holds on
    repeat_min_pictures different scenes; `captions` normalised (letters_and_digits), `layouts` the image
    extractor's colour layouts."""
    found = text_repeats(features, captions, conf)
    for key in ("overlay", "text_overlay"):
        found += detector_repeats(features, conf, key)
    return [rep for rep in found if scenes([layouts[i] for i in rep.members], conf) >= conf.repeat_min_pictures]


def find_repeated_marks(records: list[ImageRecord], settings: Settings) -> RepeatedMarks:
    readable = [r for r in records if r.readable]
    return RepeatedMarks(
        repeats(_MarksOf(readable), _CaptionsOf(readable), _LayoutsOf(readable), settings.cfg.marks), readable
    )


REPEATED_MARKS = Derivation("repeated_marks", find_repeated_marks, needs=("image", "marks"))

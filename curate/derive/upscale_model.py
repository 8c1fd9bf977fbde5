"""Was the picture enlarged? A small learned model over the cached `quality` features (UPS001/UPS002's test).

Real detail ending early in the spectrum (`detail_fraction`) is what an enlargement leaves, but photos soft by
nature (fog, long exposures, soft focus) lack fine detail too. The model weighs the whole shape of the spectrum
against the power law its coarse detail follows (an enlargement's falls off a cliff at the old Nyquist frequency
and stays low; defocus and motion fall gradually, and sensor noise keeps a floor), the spectrum by direction
(motion takes detail from one direction, resampling from both axes) and the period resampling leaves in the
picture's second derivative, with edge sharpness and the noise measures.
It is a gradient-boosted ensemble of 200 depth-3 trees (scikit-learn's HistGradientBoosting), trained by
bench/train_upscaled.py on the tuning half of bench/photo_corpus.py only (enlargements 2–4× by bicubic, Lanczos
and bilinear resampling against untouched, camera-JPEG, downscaled, depth-of-field, fog, night, grainy, noisy,
compressed and motion-streaked photos and digital art); its recipe, data and figures are in
curate/data/upscaled_model.json. Evaluated here in plain Python: no scikit-learn at audit time, and nothing is
decoded — a re-audit reads the same cached features.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from curate.extract.quality import DIRECTION_BANDS, FIT_BAND, SPECTRUM_BINS, STEEP_FIT_BAND, STEEP_SLOPE

MODEL_FILE = "upscaled_model.json"
FEATURES = "upscale-features/3"  # the feature vector below; the model file names the one it was trained on
# The spectrum's bins and the power-law fit are spectrum_profile's (curate/extract/quality.py), refitted here in
# plain Python on the cached profile (a NumPy fit per picture would cost more than the trees).
_CENTRES = [(i + 0.5) * 0.5 / SPECTRUM_BINS for i in range(SPECTRUM_BINS)]


def _fit(p: list[float], lo: float, hi: float) -> tuple[float, float] | None:
    """Least-squares line of log10 power against log10 frequency over [lo, hi]: (slope, intercept)."""
    pts = [(math.log10(c), v) for c, v in zip(_CENTRES, p) if lo <= c <= hi and math.isfinite(v)]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return slope, my - slope * mx


def features(q: Mapping[str, Any]) -> list[float] | None:
    """The model's input (FEATURES) from an image's `quality` features, or None where the spectrum was not
    measured (pictures under 128 px, flat art). 91 values: the spectrum's shortfall against the power law of its
    coarse detail (bins 3–31), the spectrum's step from bin to bin (3–31), the power law's slope, and
    detail_fraction, edge_sharpness, reference_edge_sharpness, log(1 + edge_strength), noise_sigma,
    flat_fraction, noise_whiteness, chroma_noise_sigma, reference_detail_fraction; then, per band of the
    directional profile (`spectrum_directions`, 6 bands), how far the two axes differ, and the diagonals against
    the stronger and the weaker axis: motion leaves one axis, an enlargement neither; then the resampling period's
    peaks (`resampling_periodicity`), the weaker and the stronger axis of each (an enlargement leaves both)."""
    prof = q.get("spectrum")
    if not isinstance(prof, list) or len(prof) != SPECTRUM_BINS:
        return None
    p = [float(v) if isinstance(v, (int, float)) else math.nan for v in prof]
    line = _fit(p, *FIT_BAND)
    if line is None:
        return None
    if line[0] < STEEP_SLOPE:
        line = _fit(p, *STEEP_FIT_BAND) or line
    slope, icept = line
    shortfall = [(v - (icept + slope * math.log10(c))) if math.isfinite(v) else 0.0 for c, v in zip(_CENTRES, p)]
    finite = [v if math.isfinite(v) else 0.0 for v in p]
    steps = [b - a for a, b in zip(finite, finite[1:])]

    def num(key: str, default: float) -> float:
        v = q.get(key)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else default

    return [
        *shortfall[3:],
        *steps[3:],
        slope,
        num("detail_fraction", 1.0),
        num("edge_sharpness", 1.0),
        num("reference_edge_sharpness", 1.0),
        math.log1p(max(num("edge_strength", 0.0), 0.0)),
        num("noise_sigma", 0.0),
        num("flat_fraction", 0.0),
        num("noise_whiteness", 0.0),
        num("chroma_noise_sigma", 0.0),
        num("reference_detail_fraction", 1.0),
        *direction_values(q.get("spectrum_directions")),
        *periodicity_values(q.get("resampling_periodicity")),
    ]


def direction_values(bands: Any) -> list[float]:
    """The model's inputs from `spectrum_directions` (curate/extract/quality.py directional_profile): per band,
    how far the two axes differ, and the diagonals against the stronger and the weaker axis; NaN (missing, which
    the trees handle) for a band that is absent or damaged."""
    out: list[float] = []
    for i in range(len(DIRECTION_BANDS)):
        try:
            rows, columns, diagonal = (float(v) for v in bands[i])
        except (TypeError, ValueError, IndexError, KeyError):
            out += [math.nan] * 3
            continue
        out += [abs(rows - columns), diagonal - max(rows, columns), diagonal - min(rows, columns)]
    return out


def periodicity_values(axes: Any) -> list[float]:
    """The model's inputs from `resampling_periodicity` (curate/extract/quality.py): for each peak (off JPEG's
    grid, at 0.5, at 0.25 cycles/px) its smaller and its larger value over the two axes; NaN (missing) when the
    value is absent or damaged."""
    try:
        rows, columns = ([float(v) for v in axis[:3]] for axis in axes)
        if len(rows) != 3 or len(columns) != 3:
            raise ValueError
    except (TypeError, ValueError, IndexError, KeyError):
        return [math.nan] * 6
    out: list[float] = []
    for a, b in zip(rows, columns):
        out += [min(a, b), max(a, b)]
    return out


class Model:
    """Depth-limited regression trees whose summed leaves, plus a baseline, are the log-odds of enlarged."""

    def __init__(self, spec: Mapping[str, Any]):
        if spec.get("features") != FEATURES:
            raise ValueError(f"{MODEL_FILE} was trained on {spec.get('features')!r}, this code makes {FEATURES!r}")
        self.baseline = float(spec["baseline"])
        # each tree: rows of [feature, threshold, left, right, value, is_leaf, missing_go_to_left], kept as typed
        # tuples (a picture walks 200 trees: the casts are done once here, not per node visited)
        self.trees: list[list[tuple[int, float, int, int, float, bool, bool]]] = [
            [
                (int(f), float(t), int(lo), int(hi), float(v), bool(leaf), bool(miss))
                for f, t, lo, hi, v, leaf, miss in tree
            ]
            for tree in spec["trees"]
        ]

    def log_odds(self, x: list[float]) -> float:
        total = self.baseline
        for tree in self.trees:
            node = tree[0]
            while not node[5]:
                v = x[node[0]]
                left = node[6] if v != v else v <= node[1]  # v != v: a missing value (NaN)
                node = tree[node[2] if left else node[3]]
            total += node[4]
        return total

    def probability(self, x: list[float]) -> float:
        z = self.log_odds(x)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@lru_cache(maxsize=1)
def model() -> Model:
    return Model(json.loads(resources.files("curate.data").joinpath(MODEL_FILE).read_text(encoding="utf-8")))


def probability(q: Mapping[str, Any]) -> float | None:
    """How likely the picture was enlarged (0–1), or None where it cannot be judged."""
    x = features(q)
    return None if x is None else round(model().probability(x), 4)

"""Quality predicates over the `quality` features (curate/extract/quality.py), shared by the checks that
must agree on them: the over-smoothing check leaves pictures the soft, upscaled and compression checks
explain; the duplicate and composition checks keep the picture with the most real detail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from curate.derive import upscale_model
from curate.model import ImageRecord
from curate.thresholds import Thresholds


def is_soft(q: Mapping[str, Any], cfg: Thresholds) -> bool:
    """At the reference size (1024 px), even the sharpest edges are soft, or real detail ends at or below
    [blur] max_detail_fraction of Nyquist (BLR001's test)."""
    edges, detail = q.get("reference_edge_sharpness"), q.get("reference_detail_fraction")
    return (edges is not None and edges < cfg.blur.max_edge_sharpness) or (
        detail is not None and detail <= cfg.blur.max_detail_fraction
    )


def training_scale(rec: ImageRecord) -> float:
    """How much kohya shrinks the picture to its bucket (≤ 1): the bucket's area is about the training
    resolution's, so the side shrinks by √(resolution area / image area)."""
    if not rec.width or not rec.height:
        return 1.0
    tw, th = rec.concept.resolution
    return min(1.0, math.sqrt((tw * th) / (rec.width * rec.height)))


def is_upscaled(q: Mapping[str, Any], cfg: Thresholds) -> bool:
    """The enlargement model (curate/derive/upscale_model.py) says so with at least [upscaled] min_probability
    (UPS001/UPS002's test)."""
    p = upscale_model.probability(q)
    return p is not None and p >= cfg.upscaled.min_probability


def is_low_jpeg_quality(q: Mapping[str, Any], cfg: Thresholds) -> bool:
    """JPEG quality at or below [compression] warn_quality (CMP001/CMP002's test)."""
    return q.get("jpeg_quality") is not None and q["jpeg_quality"] <= cfg.compression.warn_quality


def quality_score(rec: ImageRecord, q: Mapping[str, Any] | None) -> float:
    """Higher is better: real detail (short side × detail fraction, in log), then edge sharpness. `q` is the
    image's quality features where they apply (None for flat-colour art and unmeasured images)."""
    q = q or {}
    short = min(rec.width or 1, rec.height or 1) * float(q.get("detail_fraction") or 1.0)
    return round(math.log(max(short, 1.0)) + 0.5 * float(q.get("edge_sharpness") or 0.0), 4)

"""Quality predicates over the `quality` features (curate/extract/quality.py), shared by the checks that
must agree on them: the over-smoothing check leaves pictures the soft, upscaled and compression checks
explain; the duplicate and composition checks keep the picture with the most real detail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from curate.model import ImageRecord
from curate.thresholds import Thresholds


def is_soft(q: Mapping[str, Any], cfg: Thresholds) -> bool:
    """Little fine detail even in the sharpest tiles, and soft strongest edges (BLR001's test)."""
    deficit, edges = q.get("high_band_deficit"), q.get("edge_sharpness")
    return (
        deficit is not None
        and edges is not None
        and deficit <= cfg.blur.max_high_band_deficit
        and edges < cfg.blur.max_edge_sharpness
    )


def is_upscaled(q: Mapping[str, Any], cfg: Thresholds) -> bool:
    """Real detail ends at or below [upscaled] max_detail_fraction of the file's size (UPS001/UPS002's test)."""
    return q.get("detail_fraction") is not None and q["detail_fraction"] <= cfg.upscaled.max_detail_fraction


def is_low_jpeg_quality(q: Mapping[str, Any], cfg: Thresholds) -> bool:
    """JPEG quality at or below [compression] warn_quality (CMP001/CMP002's test)."""
    return q.get("jpeg_quality") is not None and q["jpeg_quality"] <= cfg.compression.warn_quality


def quality_score(rec: ImageRecord, q: Mapping[str, Any] | None) -> float:
    """Higher is better: real detail (short side × detail fraction, in log), then edge sharpness. `q` is the
    image's quality features where they apply (None for flat-colour art and unmeasured images)."""
    q = q or {}
    short = min(rec.width or 1, rec.height or 1) * float(q.get("detail_fraction") or 1.0)
    return round(math.log(max(short, 1.0)) + 0.5 * float(q.get("edge_sharpness") or 0.0), 4)

"""Compression: heavy JPEG compression teaches 8×8 block artefacts.

JPEG quality is read from the file's luminance quantisation table (IJG scaling: exact for libjpeg and
most cameras); blockiness — luminance steps on the strongest 8-px grid phase relative to the others —
catches a picture re-saved as PNG or WebP after heavy compression. It is not used on JPEG files: camera
JPEGs at q85 read as blocky as a q40 file re-saved (bench/eval_quality.py).
Thresholds: rules/checks.toml [compression], set by bench/eval_quality.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from curate.checks.registry import Context, image_check, rule
from curate.derive.quality import is_low_jpeg_quality
from curate.features import QualityFeatures
from curate.model import Finding, ImageRecord

CMP001 = rule(
    "CMP001",
    "heavy-jpeg-compression",
    "compression",
    "error",
    """
    JPEG quality ≤ [compression] error_quality ({compression.error_quality}): block artefacts are visible and will
    be learned.
""",
    settings="compression",
)
CMP002 = rule(
    "CMP002",
    "jpeg-compression",
    "compression",
    "warning",
    """
    JPEG quality ≤ [compression] warn_quality ({compression.warn_quality}): artefacts around edges and in
    gradients. Use the original if you have it.
""",
    settings="compression",
)
CMP003 = rule(
    "CMP003",
    "block-artefacts",
    "compression",
    "warning",
    """
    8×8 block artefacts in the pixels of a file that is not a JPEG (blockiness ≥ [compression]
    warn_blockiness, {compression.warn_blockiness}): it was heavily JPEG-compressed at some point, then saved
    as PNG or WebP. JPEG files are judged by their quantisation tables alone (CMP001/CMP002): blockiness
    cannot tell a heavily compressed JPEG from an ordinary camera one (camera JPEGs at q85 read up to 2.8).
    Flat-colour art is judged too (heavy compression flattens blocks, so a q20 picture can look "flat"); pixel
    art enlarged exactly 8× would read as blocks.

    FAIL: a JPEG saved at quality 20, then re-saved as PNG. PASS: a camera JPEG at q85–95.
""",
    settings="compression",
)


@image_check(emits=(CMP001, CMP002, CMP003), needs=("quality",), settings=("compression", "quality"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = cast(QualityFeatures, rec.features.get("quality") or {})
    if not rec.readable or "skipped" in q or "error" in q:
        return
    quality = q.get("jpeg_quality")
    conf = ctx.cfg.compression
    if quality is not None and is_low_jpeg_quality(q, ctx.cfg):
        code = CMP001 if quality <= conf.error_quality else CMP002
        yield ctx.finding(
            code,
            f"JPEG quality ≈ {quality} (from its quantisation table): "
            f"{'heavy' if code is CMP001 else 'visible'} compression artefacts",
            {"jpeg_quality": quality, "blockiness": q.get("blockiness")},  # null since extractor v4: not measured
        )
        return
    blockiness = q.get("blockiness")
    if quality is not None or rec.image.get("format") == "JPEG":
        return  # a JPEG file: its quantisation table is the direct evidence, and said nothing above
    if blockiness is not None and blockiness >= conf.warn_blockiness:
        saved = f"saved as {rec.image.get('format')}"
        yield ctx.finding(
            CMP003,
            f"8×8 block artefacts (blockiness {blockiness:.2f}, flagged from "
            f"{conf.warn_blockiness:g}): "
            f"heavily JPEG-compressed at some point, then {saved}",
            {"blockiness": blockiness, "jpeg_quality": quality},
        )

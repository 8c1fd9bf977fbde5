"""Noise: high-ISO grain is reproduced as grain by the LoRA (docs/field-knowledge.md §Person LoRAs: low-ISO clean
sources work best). σ is the per-channel noise level in 8-bit units from curate/extract/quality.py (PCA
estimate over weak-texture patches); thresholds in rules/checks.toml [noise], set by bench/eval_quality.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.model import Finding, ImageRecord

NOI001 = rule(
    "NOI001",
    "heavy-noise",
    "noise",
    "error",
    """
    Strong sensor noise or grain: σ ≥ [noise] error_sigma ({noise.error_sigma} in 8-bit units). The LoRA
    learns the grain.

    FAIL: a high-ISO night shot. PASS: a low-ISO daylight photo (clean photos measured σ 0.3–2.5).
""",
    settings="noise",
)
NOI002 = rule(
    "NOI002",
    "noisy",
    "noise",
    "warning",
    """
    Visible sensor noise: σ ≥ [noise] warn_sigma ({noise.warn_sigma}) with colour noise (chroma σ ≥
    {noise.min_chroma_sigma}), or luminance-only grain ≥ luma_only_sigma ({noise.luma_only_sigma}). Fine natural
    texture (grass, gravel) has no colour noise and is not flagged. Denoising it is not the fix: noise-reduced
    high-ISO shots train soft, out-of-focus looks (docs/field-knowledge.md).
""",
    settings="noise",
)


@image_check(emits=(NOI001, NOI002), needs=("quality",), settings=("noise", "quality"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = ctx.quality(rec)
    sigma = q.get("noise_sigma") if q else None
    if not q or sigma is None:
        return
    chroma = q.get("chroma_noise_sigma")
    conf = ctx.cfg.noise
    colour = chroma is None or chroma >= conf.min_chroma_sigma
    if not (sigma >= conf.luma_only_sigma or (sigma >= conf.warn_sigma and colour)):
        return
    where = "colour and luminance" if chroma is not None and chroma >= conf.min_chroma_sigma else "luminance"
    evidence = {"noise_sigma": sigma, "chroma_noise_sigma": chroma, "measured_on": "weak-texture 6×6 patches"}
    code = NOI001 if sigma >= conf.error_sigma else NOI002
    strength = "heavy" if code is NOI001 else "visible"
    yield ctx.finding(
        code,
        f"{strength} sensor noise: σ ≈ {sigma:.1f} in 8-bit units ({where} noise"
        f"{f', chroma σ ≈ {chroma:.1f}' if chroma is not None else ''}); the LoRA will learn the grain",
        evidence,
    )

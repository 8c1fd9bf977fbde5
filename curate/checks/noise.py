"""Noise: high-ISO grain is reproduced as grain by the LoRA (docs/field-knowledge.md §Person LoRAs: low-ISO clean
sources work best). σ is the green channel's noise in 8-bit grey levels from curate/extract/quality.py (PCA
estimate over weakly textured patches), scaled to the training size; thresholds in rules/checks.toml [noise],
chosen on the tuning half of bench/eval_quality.py's real-photo corpus.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.derive.quality import training_scale
from curate.model import Finding, ImageRecord

NOI001 = rule(
    "NOI001",
    "heavy-noise",
    "noise",
    "error",
    """
    Strong sensor noise or grain: σ ≥ [noise] error_sigma ({noise.error_sigma} grey levels) at the training
    resolution. The LoRA learns the grain.

    FAIL: a high-ISO night shot. PASS: a low-ISO daylight photo (untouched photos measured σ ≤ 1.3).
""",
    settings="noise",
)
NOI002 = rule(
    "NOI002",
    "noisy",
    "noise",
    "warning",
    """
    Visible sensor noise: σ ≥ [noise] warn_sigma ({noise.warn_sigma} grey levels) at the training resolution.
    σ is measured on the file (PCA of weakly textured patches, which texture barely reaches) and scaled to the
    size kohya trains it at (shrinking averages noise away). Only white noise counts: the patches' covariance
    must be nearly the same in every direction (whiteness ≤ [noise] max_whiteness, {noise.max_whiteness});
    fine texture and clumped film grain are not. Denoising it is not the fix: noise-reduced
    high-ISO shots train soft, out-of-focus looks (docs/field-knowledge.md).

    FAIL: noise of σ 8 grey levels at 1024 px, saved as JPEG q95. PASS: light film grain (σ 3); fine natural
    texture (grass, gravel).
""",
    settings="noise",
)


@image_check(emits=(NOI001, NOI002), needs=("quality",), settings=("noise", "quality"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = ctx.quality(rec)
    native = q.get("noise_sigma") if q else None
    if not q or native is None:
        return
    scale = training_scale(rec)
    sigma = native * scale
    conf = ctx.cfg.noise
    whiteness = q.get("noise_whiteness")
    if sigma < conf.warn_sigma or (whiteness is not None and whiteness > conf.max_whiteness):
        return
    chroma = q.get("chroma_noise_sigma")
    chroma_t = None if chroma is None else round(chroma * scale, 2)
    tw, th = rec.concept.resolution
    evidence = {
        "noise_sigma": round(sigma, 2),
        "noise_sigma_in_file": native,
        "noise_whiteness": whiteness,
        "chroma_noise_sigma": chroma_t,
        "training_scale": round(scale, 3),
        "measured_on": "weakly textured 6×6 patches",
    }
    code = NOI001 if sigma >= conf.error_sigma else NOI002
    strength = "heavy" if code is NOI001 else "visible"
    colour = f", colour noise σ ≈ {chroma_t:.1f}" if chroma_t is not None and chroma_t >= 1 else ""
    yield ctx.finding(
        code,
        f"{strength} sensor noise: σ ≈ {sigma:.1f} grey levels at the {tw}×{th} training size"
        f"{colour}; the LoRA will learn the grain",
        evidence,
    )

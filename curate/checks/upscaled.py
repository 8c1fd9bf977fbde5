"""Upscaled: a file that is 1024 px on disk but holds 400 px of real detail passes every size check.

Whether a picture was enlarged is the enlargement model's call (curate/derive/upscale_model.py: the shape of
the radial power spectrum against the power law of its coarse detail, edge sharpness and noise, learned on the
photo corpus's tuning half). How much is the effective resolution: where the spectrum falls under ~30 % of
that power law and stays there (interpolation leaves almost no energy above the original Nyquist frequency),
compared with the training resolution as the resolution check does, with the effective size in place of the
file size. Thresholds: rules/checks.toml [upscaled].
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from curate.checks.registry import Context, image_check, rule
from curate.derive import upscale_model
from curate.derive.quality import is_upscaled
from curate.model import Finding, ImageRecord

UPS001 = rule(
    "UPS001",
    "upscaled-below-resolution",
    "upscaled",
    "error",
    """
    The image was enlarged from a smaller original (or is that soft): its real detail ends at ≈ N px, and
    that is [upscaled] error_upscale ({upscaled.error_upscale}×) or more below the training resolution. Enlarging
    adds no detail: upscaled lines come out "AI-smooth" (docs/field-knowledge.md §Resolution).

    FAIL: a 512-px photo enlarged to 1024 px for SDXL (detail ≈ 512 px, 2× short).
""",
    settings="upscaled",
)
UPS002 = rule(
    "UPS002",
    "upscaled",
    "upscaled",
    "warning",
    """
    The image was enlarged — the enlargement model gives it a probability of at least [upscaled]
    min_probability ({upscaled.min_probability}): its spectrum falls off the way resampling leaves it, not the
    gradual way of defocus, fog or motion — but its real detail is still close to the training resolution, or
    where its real detail ends could not be measured.

    FAIL: a 2048-px file holding ≈ 1000 px of detail for SDXL (1024). PASS: native-resolution photos.
""",
    settings="upscaled",
)


@image_check(emits=(UPS001, UPS002), needs=("quality",), settings=("upscaled", "quality"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = ctx.quality(rec)
    if not q or not rec.width or not rec.height or not is_upscaled(q, ctx.cfg):
        return
    w, h = rec.width, rec.height
    chance = upscale_model.probability(q)
    frac = q.get("detail_fraction")
    if not frac or frac >= 1.0:  # enlarged by its spectrum's shape, but no clear end of real detail
        yield ctx.finding(
            UPS002,
            f"file {w}×{h} looks enlarged (probability {chance:.2f}: its spectrum falls off as resampling leaves it),"
            " but where its real detail ends could not be measured",
            {"width": w, "height": h, "upscaled_probability": chance},
        )
        return
    ew, eh = round(w * frac), round(h * frac)
    tw, th = rec.concept.resolution
    short = math.sqrt((tw * th) / (ew * eh))  # how far the real detail falls short of the target area
    evidence: dict[str, Any] = {
        "width": w,
        "height": h,
        "detail_fraction": frac,
        "effective_width": ew,
        "effective_height": eh,
        "upscaled_by": round(1 / frac, 2),
        "upscaled_probability": chance,
        "resolution": [tw, th],
        "detail_shortfall": round(short, 2),
    }
    what = f"file {w}×{h}, real detail ≈ {ew}×{eh} px (upscaled or softened ≈ {1 / frac:.1f}×)"
    if short >= ctx.cfg.upscaled.error_upscale:
        yield ctx.finding(UPS001, f"{what}: {short:.1f}× below the {tw} px training resolution", evidence)
    else:
        yield ctx.finding(UPS002, f"{what}; still enough detail for {tw} px training", evidence)

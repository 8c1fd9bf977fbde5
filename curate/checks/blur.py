"""Softness: defocus, motion blur, or a small image enlarged — the LoRA then produces soft, out-of-focus
images (docs/field-knowledge.md: noise-reduced high-ISO shots train a soft look).

Measured where the picture is sharpest: the most textured tiles for the spectrum and the strongest edges
for edge sharpness, so a sharp subject on a blurred background (shallow depth of field) is not a defect.
Over-smoothing ("plastic" skin, heavy noise reduction: sharp edges, no fine texture) is BLR002, in
curate/checks/smoothing.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.derive.quality import is_soft
from curate.model import Finding, ImageRecord

BLR001 = rule(
    "BLR001",
    "soft",
    "blur",
    "warning",
    """
    Soft or out of focus: even the sharpest parts hold little fine detail — the power above 0.35
    cycles/px is at most 10^{blur.max_high_band_deficit} of what the image's own coarser detail predicts
    ([blur] max_high_band_deficit) — and its strongest edges are soft (edge sharpness under [blur]
    max_edge_sharpness, {blur.max_edge_sharpness}).

    FAIL: a 2-px Gaussian blur at 1024 px; a 2× upscale. PASS: sharp photos; a sharp subject on a
    defocused background; flat-colour digital art (not measured).
""",
    settings="blur",
)


@image_check(emits=(BLR001,), needs=("quality",), settings=("blur", "quality"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = ctx.quality(rec)
    deficit, edges = (q.get("high_band_deficit"), q.get("edge_sharpness")) if q else (None, None)
    if q and deficit is not None and edges is not None and is_soft(q, ctx.cfg):
        yield ctx.finding(
            BLR001,
            f"soft or out of focus: fine detail at {100 * 10**deficit:.0f} % of the expected "
            f"level even in the sharpest areas, soft edges (edge sharpness {edges:.2f}, soft under "
            f"{ctx.cfg.blur.max_edge_sharpness:g})",
            {"high_band_deficit": deficit, "edge_sharpness": edges},
        )

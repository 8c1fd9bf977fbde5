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
    Soft or out of focus at the size LoRAs train at (the picture reduced to 1024 px, or its own size when
    smaller): even its sharpest edges are soft — the 90th percentile of the strongest edges' fine-to-coarse
    gradient ratio is under [blur] max_edge_sharpness ({blur.max_edge_sharpness}) — or its real detail ends at
    or below [blur] max_detail_fraction ({blur.max_detail_fraction}) of Nyquist. Whatever the cause (defocus,
    motion, blur, enlargement), a soft picture trains soft output; an enlarged one is also UPS001/UPS002.

    FAIL: a 2-px Gaussian blur at 1024 px. PASS: sharp photos; a sharp subject on a defocused background;
    fog; night; flat-colour digital art (not measured).
""",
    settings="blur",
)


@image_check(emits=(BLR001,), needs=("quality",), settings=("blur", "quality"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = ctx.quality(rec)
    if not q or not is_soft(q, ctx.cfg):
        return
    edges, detail = q.get("reference_edge_sharpness"), q.get("reference_detail_fraction")
    px = q.get("reference_px")
    why = []
    if edges is not None and edges < ctx.cfg.blur.max_edge_sharpness:
        limit = ctx.cfg.blur.max_edge_sharpness
        why.append(f"even the sharpest edges are soft (edge sharpness {edges:.2f}, sharp from {limit:g})")
    if detail is not None and detail <= ctx.cfg.blur.max_detail_fraction:
        why.append(f"real detail ends at {100 * detail:.0f} % of the finest a {px}-px picture can hold")
    yield ctx.finding(
        BLR001,
        f"soft or out of focus at {px} px: " + "; ".join(why),
        {"reference_edge_sharpness": edges, "reference_detail_fraction": detail, "reference_px": px},
    )

"""Watermarks: training on watermarked images teaches the watermark (docs/field-knowledge.md). Drop them; curate never
offers to remove a mark.

Marks come from the `marks` extractor — its text detector and its mark detector (a small network trained here on
licensed synthetic data, curate/extract/overlay.py) — and are classified in curate/derive/marks.py: what the text
says (©, @handle, web address, stock agency, "sample", credit line — rules/marks.toml), repetition over the picture,
a diagonal line across the middle, each confirmed by the mark detector where only weak; or a mark the detector sees
with no readable text (a logo) — or that the second detector, over the text detector's own features
(curate/extract/text_marks.py), sees. The evidence says which (`source`: "text", "detector" or "text features"),
with the box and the detector's probability.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.derive.marks import quoted, where
from curate.model import Finding, ImageRecord

WMK001 = rule(
    "WMK001",
    "text-watermark",
    "watermark",
    "error",
    """
    A watermark, logo or credit mark is on the picture: a copyright sign, @handle, web address, stock-agency
    name, "sample"/"preview", a credit line ("photo by …"), text tiled over the picture or set diagonally
    across it, or a logo or faint mark that the mark detector sees laid over the picture (probability ≥
    [marks] overlay_min_probability, {marks.overlay_min_probability}; or the second detector, over the text
    detector's features, ≥ text_overlay_min_probability, {marks.text_overlay_min_probability}) with no
    readable text. The LoRA learns to draw it, and it names someone's work: drop the image or get the owner's
    consent and a clean original. Never remove the mark.

    FAIL: "© Mika Sato" at 30 % opacity in a corner; "SAMPLE" diagonally across the middle; a handle tiled
    over the picture; a shop's logo in the corner of a product photo. PASS: a street sign or shop name in the
    scene (see TXT001).
""",
    settings="marks",
)


@image_check(emits=(WMK001,), needs=("marks",), settings=("marks",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    marks = [m for m in ctx.marks(rec) if m.kind == "watermark"]
    if not marks:
        return
    first = marks[0]
    reasons = list(dict.fromkeys(r for m in marks for r in m.reasons))  # unique, in order of first mention
    place = (
        "repeated over the picture"
        if any(m.repeated >= ctx.cfg.marks.min_repeats for m in marks)
        else f"at the {where(first.box)}"
        if first.placement != "centre"
        else "across the middle"
    )
    yield ctx.finding(
        WMK001,
        f"watermark {quoted(marks)} {place} ({'; '.join(reasons[:3])}): the LoRA would "
        "learn it — drop the image or get a clean original with the owner's consent",
        {"marks": [m.evidence() for m in marks[:20]], "count": len(marks)},
    )

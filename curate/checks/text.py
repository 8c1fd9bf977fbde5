"""Text in the picture: signs, labels, interface text, speech bubbles. The LoRA learns text too (garbled
letters in outputs), so a set with text in many images teaches it; captioning the text helps a little.

Regions the text detector read with confidence that are neither a watermark nor a signature
(curate/derive/marks.py), nor a reading repeated at one place over several pictures (WMK002).
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.derive.duplicates import DUPLICATES, Duplicates
from curate.derive.marks import quoted
from curate.derive.repeated_marks import REPEATED_MARKS, RepeatedMarks
from curate.model import Finding, ImageRecord

TXT001 = rule(
    "TXT001",
    "text-in-image",
    "text",
    "warning",
    """
    Readable text in the picture (a sign, label, screen or speech bubble). The LoRA learns to draw text
    too; keep such images few, or caption the text, or crop it out when it is not someone's mark.

    Text with only weak signs of a mark (an agency-like word, a name) that neither mark detector sees laid
    over the picture — or under which the second detector sees scene text (its map below [marks]
    text_overlay_scene_below, {marks.text_overlay_scene_below}) — or that the caption quotes, is reported here
    too. Text read at the same place on several pictures is a mark laid over them: WMK002 reports it, not this.

    FAIL: a street sign, a shop front, a book cover. PASS: a photo without text.
""",
    settings="marks",
)


@image_check(emits=(TXT001,), needs=("marks",), settings=("marks",), consumes=(REPEATED_MARKS, DUPLICATES))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    repeated: RepeatedMarks = ctx.derived(REPEATED_MARKS)
    copies: Duplicates = ctx.derived(DUPLICATES)
    laid_over = repeated.text_boxes(rec.path, copies.copies, ctx.cfg.marks.repeat_min_pictures)  # WMK002 says them
    marks = [m for m in ctx.marks(rec) if m.kind == "text" and m.box not in laid_over]
    if not marks:
        return
    area = sum((m.box[2] - m.box[0]) * (m.box[3] - m.box[1]) for m in marks)
    yield ctx.finding(
        TXT001,
        f"text in the picture: {quoted(marks)} ({len(marks)} region{'s' * (len(marks) > 1)}, "
        f"{100 * area:.{1 if area < 0.01 else 0}f} % of the area) — the LoRA learns text too",
        {"marks": [m.evidence() for m in marks[:20]], "count": len(marks), "area_fraction": round(area, 4)},
    )

"""Signatures: a signature means a third party's work. Cropping it out can infringe the author's right of
attribution (Japan Copyright Act art. 19(1)), so the action is to drop the image or get consent — never
to crop (docs/field-knowledge.md).

A signature here is short name-like text near a corner that is not a watermark (curate/derive/marks.py):
at most three words, letters, not an all-capitals sign, where a mark detector sees it laid over the picture
(a gate plaque or a shop name in a corner is scene text).
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.derive.marks import quoted, where
from curate.model import Finding, ImageRecord

SIG001 = rule(
    "SIG001",
    "signature",
    "signature",
    "error",
    """
    A signature or name mark near a corner: the picture is someone's signed work. Drop it, or get the
    artist's consent — never crop the signature out (that can infringe the author's right of attribution,
    Japan Copyright Act art. 19(1)). If it is your own work and signature, set this rule's severity in
    `--rules` or drop the signed versions anyway (the LoRA learns to sign). The name must be laid over the
    picture as the mark detector sees it (its map ≥ [marks] overlay_min_region, {marks.overlay_min_region}, or
    the second detector's ≥ text_overlay_min_region, {marks.text_overlay_min_region}, where they run; and not
    where the second detector's map stays below text_overlay_scene_below, {marks.text_overlay_scene_below}: it
    sees scene text there, such as a sign's "Bank") and not quoted by the caption.

    FAIL: "Mika S." in a handwriting font in the bottom-right corner. PASS: "EXIT" on a sign in a corner.
""",
    settings="marks",
)


@image_check(emits=(SIG001,), needs=("marks",), settings=("marks",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    marks = [m for m in ctx.marks(rec) if m.kind == "signature"]
    if not marks:
        return
    yield ctx.finding(
        SIG001,
        f"signature or name {quoted(marks)} at the {where(marks[0].box)}: someone's signed "
        "work — drop it or get the artist's consent; never crop a signature out",
        {"marks": [m.evidence() for m in marks[:10]], "count": len(marks)},
    )

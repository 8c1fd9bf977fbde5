"""Repeated marks: the same mark at the same place on several pictures — a shop's logo in the corner of every
product photo, an estate agent's faint name across every listing, an artist's signature on every work.

One such picture alone may pass: a faint name across the middle reads like a sign, a logo with no text is only
warm in the mark detector's map. The same reading at the same place on several different pictures belongs to no
scene: it was laid over them, and the LoRA learns it. Found in curate/derive/repeated_marks.py from the cached
marks features; copies of one picture (DUP001/DUP002) count once. Pictures that WMK001 or SIG001 already report
are counted but not reported again.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, rule
from curate.derive.duplicates import DUPLICATES, Duplicates
from curate.derive.marks import where
from curate.derive.repeated_marks import REPEATED_MARKS, RepeatedMarks
from curate.model import Finding, ImageRecord

WMK002 = rule(
    "WMK002",
    "repeated-mark",
    "watermark",
    "error",
    """
    The same mark is at the same place on several pictures ([marks] repeat_min_pictures,
    {marks.repeat_min_pictures}, or more, copies of one picture counted once): the same reading (similarity ≥
    repeat_min_similarity, {marks.repeat_min_similarity}) in boxes that overlap (≥ repeat_min_overlap,
    {marks.repeat_min_overlap}, intersection over union), or a mark detector's map warm at the same place
    (the mark detector's ≥ repeat_map_level, {marks.repeat_map_level}; the second detector's, over the text
    detector's features, ≥ repeat_text_map_level, {marks.repeat_text_map_level}) on more pictures than
    chance allows (repeat_map_chance, {marks.repeat_map_chance}, with the set's own share of warm cells as
    the chance). Shots of one scene count once (8×8 colour layouts within repeat_scene_max_colour,
    {marks.repeat_scene_max_colour}, of each other: a burst keeps its sign in place). Text in a scene moves
    from picture to picture; a mark laid over them stays. The LoRA sees it once per picture and learns it:
    drop the pictures or get clean originals with the owner's consent. Never remove the mark. Text the
    caption quotes is the scene's and is left out.

    FAIL: a shop's name and logo in the bottom-right corner of 30 product photos; "Sakura Realty" faint across
    the middle of every listing. PASS: "OPEN" on shop doors in different street photos (it moves); a burst of
    one scene whose copies are near-duplicates (DUP002 reports them), or shots of one room from one spot.
""",
    settings="marks",
    since="0.2.0",
)


@dataset_check(emits=(WMK002,), needs=("marks",), settings=("marks",), consumes=(REPEATED_MARKS, DUPLICATES))
def check(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | None]:
    found: RepeatedMarks = ctx.derived(REPEATED_MARKS)
    copies: Duplicates = ctx.derived(DUPLICATES)
    reported: set[str] = set()  # a picture in two repeats (its text read, and a detector warm there) is said once
    for rep, members in found.standing(copies.copies, ctx.cfg.marks.repeat_min_pictures):
        what = f"the same mark “{rep.text}”" if rep.text else "the same logo or mark (no readable text)"
        place = "across the middle" if where(rep.box) == "middle" else f"at the {where(rep.box)}"
        seen = {"text": "read", "detector": "seen by the mark detector"}.get(
            rep.source, "seen in the text detector's features"
        )
        for rec, score, box in members:
            if rec.path in reported or any(m.kind in ("watermark", "signature") for m in ctx.marks(rec)):
                continue  # said already, or WMK001 / SIG001 say it
            reported.add(rec.path)
            others = [r.path for r, _, _ in members if r.path != rec.path]
            yield ctx.finding(
                WMK002,
                f"{what} {place} of {len(members)} pictures ({seen} at the same "
                f"place; e.g. also {others[0]}): laid over them, not part of a scene — the LoRA would learn it; "
                "drop them or get clean originals with the owner's consent",
                {
                    "source": rep.source,
                    "text": rep.text,
                    "box": box,
                    "pictures": len(members),
                    "others": others[:10],
                    "score": round(score, 3),
                },
                path=rec.path,
            )

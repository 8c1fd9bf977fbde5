"""Duplicates: the same picture more than once, exactly or nearly.

A duplicate multiplies one picture's weight in training (with 10 repeats, a copy is 20 steps of one shot).
The groups are found in curate/derive/duplicates.py (exact: same bytes or pixels; near: two perceptual
hashes, whole picture against whole picture or crop views); this check reports them. Thresholds:
rules/checks.toml [duplicate], measured by bench/eval_duplicates.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, rule
from curate.derive.duplicates import DUPLICATES, VIEW_NAMES, Duplicates
from curate.model import Finding, Group, ImageRecord

DUP001 = rule(
    "DUP001",
    "exact-duplicate",
    "duplicate",
    "error",
    """
    The same picture is in the dataset more than once: identical bytes, or identical pixels in another
    file or format. All but one copy are flagged; the kept copy prefers one with a caption.

    FAIL: `a.png` and `copy of a.png`; `a.jpg` and `a.png` saved from it.
    PASS: two different photos of the same scene.
""",
)
DUP002 = rule(
    "DUP002",
    "near-duplicate",
    "duplicate",
    "warning",
    """
    A resized, recompressed, slightly cropped or colour-shifted copy of another image in the set.
    Both perceptual hashes must be within [duplicate] phash_max_distance / dhash_max_distance bits
    ({duplicate.phash_max_distance} / {duplicate.dhash_max_distance} of 64).
    A candidate whose 8×8 colour layout turns hue in more than [duplicate] colour_max_changed_share
    ({duplicate.colour_max_changed_share}) of its coloured cells is another picture (one garment in two
    colours), not a copy. The kept image is the largest, then the least compressed (most bytes per pixel).
    The finding names the picture each copy is closest to (a half-size copy of another member is said to be
    that one's copy). Pictures in different concept folders are grouped only with [duplicate] across_folders
    ({duplicate.across_folders}): folders are often split on purpose (one pose, two outfits).

    FAIL: `a.png` (1024×1024) and `a_small.jpg` (512×512, quality 80).
    PASS: two shots of one pose taken seconds apart usually differ by more than the thresholds;
    burst shots can still match, so this is a warning (error under --profile person).
""",
    settings="duplicate",
)


def _dims(rec: ImageRecord) -> str:
    return f"{rec.width}×{rec.height} {rec.format or ''}".strip()


@dataset_check(emits=(DUP001, DUP002), settings=("duplicate", "kohya"), consumes=(DUPLICATES,))
def check(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    found: Duplicates = ctx.derived(DUPLICATES)
    for g in found.exact:
        keep = g.keep
        for other, same in g.copies:
            what = "identical file" if same == "bytes" else f"same pixels as a {keep.format} file"
            yield ctx.finding(
                DUP001, f"{what}: duplicate of {keep.path}", {"keep": keep.path, "same": same}, path=other.path
            )
        if ctx.wants(DUP001):
            yield Group(
                "exact-duplicate",
                (keep.path, *(c.path for c, _ in g.copies)),
                keep.path,
                {"same": sorted({same for _, same in g.copies})},
            )
    if not ctx.wants(DUP002):
        return
    limits = ctx.cfg.duplicate
    for ng in found.near:
        keep = ng.keep
        for m in ng.matches:
            where = f", on the {VIEW_NAMES[m.view]}" if m.view else ""
            evidence = {
                "keep": keep.path,
                "phash_distance": m.phash_distance,
                "dhash_distance": m.dhash_distance,
                "view": VIEW_NAMES[m.view],
            }
            if m.closest is not None:  # it is a copy of another member first: name that one
                other, view, dp, dd = m.closest
                evidence["closest"] = {"path": other.path, "phash_distance": dp, "dhash_distance": dd}
                msg = (
                    f"near-duplicate of {other.path} (pHash distance {dp}/64, dHash {dd}/64); the group keeps "
                    f"{keep.path} ({_dims(keep)} kept over {_dims(m.copy)}; pHash {m.phash_distance}/64 to it)"
                )
            else:
                msg = (
                    f"near-duplicate of {keep.path} ({_dims(keep)} kept over {_dims(m.copy)}; "
                    f"pHash distance {m.phash_distance}/64, dHash {m.dhash_distance}/64{where})"
                )
            yield ctx.finding(DUP002, msg, evidence, path=m.copy.path)
        yield Group(
            "near-duplicate",
            (keep.path, *(m.copy.path for m in ng.matches)),
            keep.path,
            {"max_phash_distance": limits.phash_max_distance, "max_dhash_distance": limits.dhash_max_distance},
        )

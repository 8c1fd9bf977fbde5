"""Semantic near-duplicates: the same shot again after an edit the perceptual hashes do not survive —
a different crop, a filter, a flip, an added border — found by CLIP whole-picture cosine.

Pictures that are exact or near copies (curate/derive/duplicates.py, reported as DUP001/DUP002) are left
out. The kept picture of each group is the one with the most real detail. Threshold:
rules/checks.toml [duplicate] clip_min_cosine.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, rule
from curate.derive.duplicates import DUPLICATES, keeper_groups
from curate.derive.embeddings import near_pairs
from curate.derive.quality import quality_score
from curate.model import Finding, Group, ImageRecord

DUP003 = rule(
    "DUP003",
    "semantic-duplicate",
    "duplicate",
    "warning",
    """
    The same shot as another picture, edited past what perceptual hashes match (heavy crop, filter, flip,
    border): CLIP whole-picture embeddings at cosine ≥ [duplicate] clip_min_cosine
    ({duplicate.clip_min_cosine}). The kept picture is the
    one with the most real detail.

    FAIL: a photo and its mirrored, tightly cropped, sepia-toned copy. PASS: two different shots of one scene
    (usually below the threshold; review what it groups).
""",
    settings="duplicate",
)


@dataset_check(emits=(DUP003,), needs=("quality", "clip"), settings=("duplicate", "quality"), consumes=(DUPLICATES,))
def check(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    copies = ctx.derived(DUPLICATES).copies
    rows, full = ctx.clip_matrix((r for r in records if r.readable and r.path not in copies), "full")
    if len(rows) < 2:
        return
    limit = ctx.cfg.duplicate.clip_min_cosine
    neighbours: dict[int, dict[int, float]] = {}
    for i, j, c in near_pairs(full, limit):
        neighbours.setdefault(i, {})[j] = c
        neighbours.setdefault(j, {})[i] = c
    scores = {i: quality_score(rows[i], ctx.quality(rows[i])) for i in neighbours}
    for leader, members in keeper_groups(neighbours, lambda i: (-scores[i], rows[i].path)):
        keep = rows[leader]
        for k in members:
            c = neighbours[leader][k]
            yield ctx.finding(
                DUP003,
                f"the same shot as {keep.path} after an edit (CLIP cosine {c:.3f}): keep one",
                {"keep": keep.path, "cosine": round(c, 4)},
                path=rows[k].path,
            )
        yield Group(
            "semantic-duplicate", (keep.path, *(rows[k].path for k in members)), keep.path, {"min_cosine": limit}
        )

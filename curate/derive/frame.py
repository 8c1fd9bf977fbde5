"""Padding: whether the flat edges the `frame` extractor measured are letterbox / pillarbox bars."""

from __future__ import annotations

from typing import Any

from curate.thresholds import Frame


def padding(bars: dict[str, Any], cfg: Frame) -> dict[str, Any] | None:
    """The padding the flat edges measured by the frame extractor amount to ({sides, fraction, colour}), or None:
    flat bars on two opposite edges (or one) while the other two edges hold picture (FRM001, FRM010)."""
    w, h = bars["size"]
    t, b, l_, r = (bars[s][0] for s in ("top", "bottom", "left", "right"))
    if t >= h or l_ >= w:  # one flat colour throughout: nothing but background
        return None
    for sides, (n1, n2), (o1, o2), dim, other in (
        (("left", "right"), (l_, r), (t, b), w, h),
        (("top", "bottom"), (t, b), (l_, r), h, w),
    ):
        share = (n1 + n2) / dim
        if share < cfg.min_bar_fraction or (o1 + o2) / other > cfg.max_other_axis_fraction:
            continue
        c1, c2 = bars[sides[0]][1], bars[sides[1]][1]
        if n1 and n2 and max(abs(a - b_) for a, b_ in zip(c1, c2)) > 24:
            continue  # two flat edges of different colours: a picture, not padding
        where = [s for s, n in zip(sides, (n1, n2)) if n]
        return {"sides": where, "fraction": round(share, 3), "colour": c1 if n1 else c2}
    return None

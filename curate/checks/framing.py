"""Framing: parts of the picture kohya trains that a viewer does not see as the subject.

kohya trains every pixel of the (cropped) frame and drops the alpha channel (train_util.load_image:
`convert("RGB")`). Flat padding bars and the colour hidden under transparency are learned with the concept:
a LoRA trained on portraits padded with grey bars draws grey bars. Features: curate/extract/frame.py;
thresholds: rules/checks.toml [frame].
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

from curate.checks.registry import Context, image_check, rule
from curate.derive.frame import padding
from curate.features import FrameFeatures
from curate.model import Finding, ImageRecord

FRM001 = rule(
    "FRM001",
    "padding-bars",
    "composition",
    "warning",
    """
    Flat bars of one colour along two opposite edges (or one) take at least [frame] min_bar_fraction
    ({frame.min_bar_fraction}) of the frame: padding (letterbox / pillarbox) that kohya trains as part of the
    picture, so the LoRA learns the bars. Crop them off — with bucketing, a tall or wide picture trains as it is.
    A picture flat on all four sides (a product on a plain background) is not padding and is not reported.

    FAIL: a 682×1024 portrait padded to 1024×1024 with grey bars (33 % of the frame).
    PASS: the same portrait unpadded.
""",
    settings="frame",
    since="0.2.0",
)
FRM002 = rule(
    "FRM002",
    "transparent-background",
    "composition",
    "warning",
    """
    At least [frame] min_transparent_fraction ({frame.min_transparent_fraction}) of the picture is transparent.
    kohya drops the alpha channel and trains the colour stored under it — often black, whatever the viewer shows
    and the caption says ("white background"). Flatten the picture onto the background you mean before training.

    FAIL: a cut-out character PNG, 60 % transparent over black. PASS: the same picture flattened onto white.
""",
    settings="frame",
    since="0.2.0",
)

BACKGROUND_WORDS = re.compile(r"\b(white|black|grey|gray|transparent|simple|plain)[ _]background\b", re.I)


def colour_name(rgb: list[int]) -> str:
    lo, hi = min(rgb), max(rgb)
    if hi < 48:
        return "black"
    if lo > 215:
        return "white"
    if hi - lo < 24:
        return "grey"
    return f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"


@image_check(emits=(FRM001, FRM002), needs=("frame",), settings=("frame",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    f = cast(FrameFeatures, rec.features.get("frame") or {})
    if not rec.readable or not f or "error" in f:
        return
    cfg = ctx.cfg.frame
    pad = padding(f.get("bars") or {}, cfg) if f.get("bars") else None
    if pad is not None:
        sides = " and ".join(pad["sides"])
        yield ctx.finding(
            FRM001,
            f"flat {colour_name(pad['colour'])} bars along the {sides} edge{'s' if len(pad['sides']) > 1 else ''}: "
            f"{pad['fraction']:.0%} of the frame is padding kohya trains as part of the picture — crop it off",
            pad,
        )
    alpha = f.get("alpha") or {}
    share = alpha.get("transparent_fraction", 0)
    if share >= cfg.min_transparent_fraction and alpha.get("colour_under"):
        under = colour_name(alpha["colour_under"])
        claim = BACKGROUND_WORDS.search(rec.caption.text or "")
        said = ""
        if claim and claim.group(1).lower() not in (under, "simple", "plain"):
            said = f" while its caption says '{claim.group(0)}'"
        yield ctx.finding(
            FRM002,
            f"{share:.0%} transparent: kohya drops the alpha channel and trains the colour stored under it — "
            f"{under} —{said}; flatten it onto the background you mean",
            {
                "transparent_fraction": share,
                "colour_under": alpha["colour_under"],
                **({"caption_says": claim.group(0)} if claim else {}),
            },
        )

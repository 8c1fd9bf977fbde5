"""Captions as evidence: tags and phrases in which the caption itself says the picture has a problem.

Taggers and trainers write `watermark`, `signature`, `jpeg artifacts`, `lowres`, `blurry`, `letterboxed`… into
captions (the WD14 / Danbooru vocabulary; rules/captions.toml). Each becomes a finding in the matching category,
and says whether curate's own detector agrees — "the caption says watermark and none was found" is the case to
look at, since either the detector missed it or the tag is wrong (and then the LoRA learns the tag).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

from curate.checks.registry import Context, Rule, image_check, rule
from curate.derive.captions import first_line
from curate.derive.frame import padding
from curate.derive.quality import is_low_jpeg_quality, is_soft
from curate.features import FrameFeatures
from curate.kohya import concept_buckets, select_bucket, shortfall
from curate.model import Finding, ImageRecord

# category → (code, name, what the detector is called in the message)
DECLARED: dict[str, tuple[str, str, str]] = {
    "watermark": ("WMK010", "caption-says-watermark", "watermark"),
    "signature": ("SIG010", "caption-says-signature", "signature"),
    "text": ("TXT010", "caption-says-text", "text"),
    "compression": ("CMP010", "caption-says-jpeg-artifacts", "compression damage"),
    "resolution": ("RES010", "caption-says-lowres", "low resolution"),
    "blur": ("BLR010", "caption-says-blurry", "blur"),
    "composition": ("FRM010", "caption-says-border", "border or bars"),
}
EXAMPLES = {
    "watermark": ("1girl, watermark, smile", "1girl, smile"),
    "signature": ("landscape, signature, dated", "landscape, sunset"),
    "text": ("1boy, english text, speech bubble", "1boy, standing"),
    "compression": ("portrait, jpeg artifacts", "portrait"),
    "resolution": ("lowres, 1girl", "1girl, absurdres"),
    "blur": ("blurry, 1girl", "1girl, blurry background (depth of field is not blur)"),
    "composition": ("letterboxed, 1girl", "1girl, white background"),
}

RULES: dict[str, Rule] = {
    category: rule(
        code,
        name,
        category,
        "warning",
        f"""
        The caption itself says the picture has {what} (rules/captions.toml [declares.{category}]): whatever is
        there is learned, and the tag teaches the LoRA to draw it. The finding says whether curate's detector
        agrees; when it found nothing, look at the picture: either the detector missed it or the tag is wrong.

        FAIL: the caption "{EXAMPLES[category][0]}". PASS: "{EXAMPLES[category][1]}".
""",
        since="0.2.0",
    )
    for category, (code, name, what) in DECLARED.items()
}

NEGATED = re.compile(r"\b(no|not|without|free of|never)\s+(\w+\s+){0,2}$")


def declared(text: str, sep: str, vocab: dict[str, Any]) -> dict[str, list[str]]:
    """{category: the words of the caption that declare it}."""
    low = text.lower()
    tags = {t.strip().replace("_", " ") for t in low.split(sep or ",")}
    out: dict[str, list[str]] = {}
    for category, words in vocab.items():
        hits = [t for t in words.get("tags", []) if t in tags]
        for pattern in words.get("phrases", []):
            for m in re.finditer(pattern, low):
                if not NEGATED.search(low[: m.start()]) and m.group(0) not in hits:
                    hits.append(m.group(0))
        if hits:
            out[category] = hits
    return out


def detector_agrees(category: str, rec: ImageRecord, ctx: Context) -> bool | None:
    """Whether curate's detector for the category found it too; None when its analysis did not run here."""
    if category in ("watermark", "signature", "text"):
        if not rec.features.get("marks") or "error" in rec.features["marks"] or "skipped" in rec.features["marks"]:
            return None
        return any(m.kind == category for m in ctx.marks(rec))
    if category in ("blur", "compression"):
        q = ctx.quality(rec)
        if q is None:
            return None
        return is_soft(q, ctx.cfg) if category == "blur" else is_low_jpeg_quality(q, ctx.cfg)
    if category == "resolution":  # the rule RES001/RES002 apply
        w, h = rec.width or 1, rec.height or 1
        plan = concept_buckets(rec.concept)
        return shortfall(w, h, plan, select_bucket(w, h, plan)) >= ctx.cfg.resolution.warn_upscale
    frame = cast(FrameFeatures, rec.features.get("frame") or {})
    if not frame.get("bars"):
        return None
    return padding(frame["bars"], ctx.cfg.frame) is not None


def _findings(rec: ImageRecord, ctx: Context, categories: tuple[str, ...]) -> Iterator[Finding | None]:
    text = first_line(rec)
    if not rec.readable or not text:
        return
    vocab = {k: v for k, v in ctx.settings.data["caption_declares"].items() if k in categories}
    for category, words in declared(text, rec.concept.caption_separator, vocab).items():
        what = DECLARED[category][2]
        agrees = detector_agrees(category, rec, ctx)
        said = ", ".join(f"'{w}'" for w in words[:3])
        if agrees is True:
            tail = f"curate's detector found {what} too"
        elif agrees is False:
            tail = f"curate's detector found no {what} — look at the picture"
        else:
            tail = f"curate's {what} analysis did not run on it"
        yield ctx.finding(
            RULES[category],
            f"the caption says {said}: {tail}",
            {"caption_words": words, "detector_agrees": agrees},
        )


# One check per detector, so that selecting one family (`--select RES`) runs only the analyses it needs.
MARKS = ("watermark", "signature", "text")
QUALITY = ("compression", "blur")


@image_check(emits=tuple(RULES[c] for c in MARKS), uses=("marks",))
def check_marks(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    yield from _findings(rec, ctx, MARKS)


@image_check(emits=tuple(RULES[c] for c in QUALITY), uses=("quality",))
def check_quality(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    yield from _findings(rec, ctx, QUALITY)


@image_check(emits=(RULES["resolution"],), settings=("resolution",))
def check_resolution(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    yield from _findings(rec, ctx, ("resolution",))


@image_check(emits=(RULES["composition"],), uses=("frame",), settings=("frame",))
def check_frame(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    yield from _findings(rec, ctx, ("composition",))


CHECK_OF = {
    **{c: check_marks for c in MARKS},
    **{c: check_quality for c in QUALITY},
    "resolution": check_resolution,
    "composition": check_frame,
}

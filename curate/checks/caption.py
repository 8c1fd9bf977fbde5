"""Captions: does every image have the caption file kohya will actually read?

kohya reads `<image stem><caption_extension>` beside each image. The extension comes from
dataset_config.toml (sd-scripts' default is `.caption`), `--caption-extension`, or, with neither, the
extension most caption files in the folder use. Captions are UTF-8 text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, image_check, rule
from curate.model import Finding, Group, ImageRecord

CAP001 = rule(
    "CAP001",
    "missing-caption",
    "caption",
    "warning",
    """
    The image has no caption file. kohya then trains it with only the folder's class tokens (or nothing),
    so whatever is in the picture is learned as part of the concept.

    FAIL: `10_hanako woman/01.png` with no `01.txt`. PASS: `01.png` beside `01.txt`.
""",
)
CAP002 = rule(
    "CAP002",
    "empty-caption",
    "caption",
    "warning",
    """
    The caption file is empty or only whitespace.
""",
)
CAP003 = rule(
    "CAP003",
    "caption-not-read",
    "caption",
    "error",
    """
    A caption exists, but in an extension kohya will not read: your caption will be ignored.

    FAIL: `01.txt` beside `01.png` while dataset_config.toml sets no caption_extension (sd-scripts
    then reads `01.caption`). Fix: set `caption_extension = ".txt"` or rename the files.
""",
)
CAP004 = rule(
    "CAP004",
    "orphan-caption",
    "caption",
    "info",
    """
    A caption file with no image of the same name beside it (the image was deleted or renamed).
""",
)
CAP005 = rule(
    "CAP005",
    "caption-unreadable",
    "caption",
    "warning",
    """
    The caption file cannot be read as UTF-8 text (kohya reads captions as UTF-8), or it is larger
    than [caption] max_bytes ({caption.max_bytes} bytes).
""",
    settings="caption",
)


@image_check(emits=(CAP001, CAP002, CAP003, CAP005), settings=("caption", "kohya"))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    if not rec.readable:  # an unreadable image is dropped anyway: one finding says why
        return
    cap = rec.caption
    ext = rec.concept.caption_extension
    if cap.path is None:
        if cap.other_extensions:
            stem = os.path.splitext(os.path.basename(rec.path))[0]
            found = ", ".join(stem + e for e in cap.other_extensions)
            yield ctx.finding(
                CAP003,
                f"kohya reads {stem}{ext} here, so {found} will be ignored: rename it, or set "
                f'caption_extension = "{cap.other_extensions[0]}" if all your captions use it',
                {"expected_extension": ext, "found_extensions": list(cap.other_extensions)},
            )
            return
        tokens = f" with only the class tokens '{rec.concept.tokens}'" if rec.concept.tokens else " without a caption"
        yield ctx.finding(CAP001, f"no {ext} caption: kohya trains it{tokens}", {"expected_extension": ext})
        return
    if cap.problem == "not-utf8":
        yield ctx.finding(CAP005, f"{cap.path} is not UTF-8 text", {"caption": cap.path, "problem": cap.problem})
    elif cap.problem:
        yield ctx.finding(
            CAP005, f"{cap.path} could not be read ({cap.problem})", {"caption": cap.path, "problem": cap.problem}
        )
    elif not (cap.text or "").strip():
        yield ctx.finding(CAP002, f"{cap.path} is empty", {"caption": cap.path})


@dataset_check(emits=(CAP004,), settings=("caption",))
def check_orphans(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    for path in ctx.dataset.get("orphan_captions", ()):
        yield ctx.finding(CAP004, "caption file with no image of the same name", {}, path=path)

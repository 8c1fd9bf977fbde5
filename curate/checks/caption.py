"""Captions: does every image have the caption file kohya will actually read?

kohya reads `<image stem><caption_extension>` beside each image. The extension comes from
dataset_config.toml (sd-scripts' default is `.caption`), `--caption-extension`, or, with neither, the
extension most caption files in the folder use. Captions are UTF-8 text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, image_check, rule
from curate.kohya import CAPTION_LINES
from curate.model import Finding, Group, ImageRecord

CAP001 = rule(
    "CAP001",
    "missing-caption",
    "caption",
    "warning",
    """
    The image has no caption file. kohya then trains it with only the folder's class tokens (or nothing),
    so whatever is in the picture is learned as part of the concept. Not said for regularisation images, which
    usually train on their class tokens alone.

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
    The caption file could not be read: larger than [caption] max_bytes ({caption.max_bytes} bytes), not a
    regular file, or NUL bytes in it (UTF-16 without a byte-order mark: kohya trains it as garbage).
""",
    settings="caption",
)


CAP006 = rule(
    "CAP006",
    "caption-stops-training",
    "caption",
    "error",
    """
    kohya stops training at this caption file: it is empty (0 bytes: "caption file is empty") or not UTF-8 text
    (UnicodeDecodeError) — DreamBoothDataset.read_caption. Write the caption as UTF-8, or delete the file.

    FAIL: a 0-byte `01.txt`; a caption saved as Latin-1 or UTF-16 with a byte-order mark.
    PASS: a UTF-8 caption; a caption holding only a newline (CAP002: trained with an empty caption).
""",
    since="0.2.0",
)
CAP007 = rule(
    "CAP007",
    "caption-lines-ignored",
    "caption",
    "warning",
    """
    The caption has more than one line: kohya trains only the first (unless `enable_wildcard`, when it picks one
    line at random each time). Join the lines with commas, or set enable_wildcard if they are alternatives.

    FAIL: "hanako woman\\nred dress, smiling". PASS: one line; several lines with enable_wildcard.
""",
    since="0.2.0",
)
CAP008 = rule(
    "CAP008",
    "caption-byte-order-mark",
    "caption",
    "warning",
    """
    The caption starts with a UTF-8 byte-order mark (Windows Notepad writes one). kohya reads captions as plain
    UTF-8, so the mark becomes part of the first tag — often the trigger word, which then never matches. Save
    it as UTF-8 without BOM.
""",
    since="0.2.0",
)


@image_check(emits=(CAP001, CAP002, CAP003, CAP005, CAP006, CAP007, CAP008), settings=("caption",))
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
        if rec.concept.is_reg:  # regularisation images usually train on their class tokens alone, by design
            return
        tokens = f" with only the class tokens '{rec.concept.tokens}'" if rec.concept.tokens else " without a caption"
        yield ctx.finding(CAP001, f"no {ext} caption: kohya trains it{tokens}", {"expected_extension": ext})
        return
    if cap.problem in ("empty-file", "not-utf8"):
        what = "is empty (0 bytes)" if cap.problem == "empty-file" else "is not UTF-8 text"
        yield ctx.finding(
            CAP006,
            f"{cap.path} {what}: kohya stops training when it reads it",
            {"caption": cap.path, "problem": cap.problem},
        )
        return
    if cap.problem:
        yield ctx.finding(
            CAP005, f"{cap.path} could not be read ({cap.problem})", {"caption": cap.path, "problem": cap.problem}
        )
        return
    text = cap.text or ""
    lines = CAPTION_LINES.split(text)
    if not lines[0].strip() and not rec.concept.enable_wildcard:
        yield ctx.finding(CAP002, f"{cap.path} is empty", {"caption": cap.path})
    more = [line for line in lines[1:] if line.strip()]
    if more and not rec.concept.enable_wildcard:
        yield ctx.finding(
            CAP007,
            f"{cap.path} has {len(more) + 1} lines: kohya trains only the first ('{lines[0].strip()[:60]}'), "
            f"{len(more)} more ignored",
            {"caption": cap.path, "lines": len(more) + 1, "first_line": lines[0].strip()},
        )
    if cap.bom:
        first = text.split(",")[0].strip()[:40]
        yield ctx.finding(
            CAP008,
            f"{cap.path} starts with a byte-order mark: kohya trains the first tag as '\\ufeff{first}', not '{first}'",
            {"caption": cap.path, "first_tag": first},
        )


@dataset_check(emits=(CAP004,), settings=("caption",))
def check_orphans(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    for path in ctx.dataset.get("orphan_captions", ()):
        yield ctx.finding(CAP004, "caption file with no image of the same name", {}, path=path)

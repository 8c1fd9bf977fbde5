"""Caption text: what kohya will actually train from each caption.

kohya trains the first line of a caption (curate/checks/caption.py says when there are more), tokenized by the
CLIP tokenizer and cut at 75 tokens (150 / 225 with `max_token_length`); with `shuffle_caption` only the first
`keep_tokens` tags (or what precedes `keep_tokens_separator`) keep their place. These checks count tokens as
kohya's tokenizer does (curate/derive/tokens.py), find the trigger — the first word of the concept's class tokens,
from its folder name or `class_tokens` — and placeholders other trainers' formats leave behind.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, image_check, rule
from curate.derive.captions import first_line
from curate.derive.tokens import count_tokens
from curate.model import Finding, Group, ImageRecord

CAP009 = rule(
    "CAP009",
    "caption-truncated",
    "caption",
    "warning",
    """
    The caption is longer than kohya keeps: past 75 CLIP tokens (or the `max_token_length` of the training config,
    150 or 225) the words are cut and never trained. The finding quotes what is cut. Shorten the caption, move the
    trigger and the important tags to the front, or train with max_token_length = 225.

    FAIL: a 183-token natural-language caption at the default 75. PASS: "hanako woman, red dress, smiling".
""",
    since="0.2.0",
)
CAP010 = rule(
    "CAP010",
    "caption-placeholder",
    "caption",
    "warning",
    """
    The caption holds a placeholder from another trainer's format — ai-toolkit's `[trigger]` (in square or curly
    brackets), an A1111 `<lora:name:0.8>` tag — which kohya trains literally as words. Replace it with the
    trigger word.

    FAIL: "[trigger], a woman in a red dress". PASS: "hanako woman, a woman in a red dress".
""",
    since="0.2.0",
)
CAP011 = rule(
    "CAP011",
    "trigger-missing",
    "caption",
    "warning",
    """
    Other captions of this concept name its trigger (the first word of the class tokens, e.g. `hanako` of
    `10_hanako woman`), this one does not: the picture is learned without the trigger, so the trigger will not
    reliably call it up. Said only when the concept's captions use the trigger at all.

    FAIL: "a woman smiling" in `10_hanako woman/` where the other captions start "hanako woman, …".
    PASS: "hanako woman, a woman smiling".
""",
    since="0.2.0",
)
CAP012 = rule(
    "CAP012",
    "trigger-shuffled",
    "caption",
    "warning",
    """
    `shuffle_caption` is on and the trigger is not among the first `keep_tokens` tags (nor before
    `keep_tokens_separator`): kohya shuffles it with the other tags, so it loses the fixed first place that makes
    it a trigger. Move it to the front.

    FAIL: "red dress, hanako woman, smiling" with keep_tokens = 1. PASS: "hanako woman, red dress, smiling".
""",
    since="0.2.0",
)
CAP013 = rule(
    "CAP013",
    "untidy-tag-list",
    "caption",
    "info",
    """
    The same tag twice in one caption (it counts double and takes tokens), or empty tags (`smile, , red dress`).

    FAIL: "1girl, smile, red dress, smile". PASS: "1girl, smile, red dress".
""",
    since="0.2.0",
)
CAP014 = rule(
    "CAP014",
    "identical-captions",
    "caption",
    "warning",
    """
    Several images of one concept share the very same caption: the caption cannot tell the LoRA what differs
    between them, so the differences are learned as part of the trigger. Describe what varies (pose, clothing,
    background, framing). Said once per group of 3 or more.
""",
    scope="dataset",
    since="0.2.0",
)
CAP015 = rule(
    "CAP015",
    "captions-over-token-limit",
    "caption",
    "info",
    """
    How many captions of the dataset run past the token limit (CAP009), with their median length: said once for
    the set, so a dataset written for another trainer (with long natural-language captions) is seen at a glance.
""",
    scope="dataset",
    since="0.2.0",
)

CAP016 = rule(
    "CAP016",
    "caption-other-script",
    "caption",
    "warning",
    """
    The caption is written in another script than the rest of the set (Latin, CJK, Hangul, Cyrillic, Arabic,
    Greek…: at least 80 % of the captions share one): CLIP's tokenizer splits unfamiliar scripts into many byte
    tokens, and the LoRA learns those words apart from the rest. Translate it. A script, not a language: English
    and German captions are both Latin and are not told apart.

    FAIL: one caption in Japanese among twenty English ones. PASS: the same caption in English.
""",
    scope="dataset",
    since="0.2.0",
)

SCRIPTS = (
    ("CJK", re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")),
    ("Hangul", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("Cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("Arabic", re.compile(r"[\u0600-\u06ff]")),
    ("Greek", re.compile(r"[\u0370-\u03ff]")),
    ("Latin", re.compile(r"[A-Za-z\u00c0-\u024f]")),
)


def script_of(text: str) -> str | None:
    """The script most of the caption's letters are in, or None when it has few letters."""
    counts = {name: len(p.findall(text)) for name, p in SCRIPTS}
    name, n = max(counts.items(), key=lambda kv: kv[1])
    return name if n >= 3 else None


PLACEHOLDER = re.compile(
    r"\[(?:trigger|trigger_word|name|subject|instance|token|class)\]"
    r"|\{(?:trigger|trigger_word|name|subject|instance|token|class)\}"
    r"|<lora:[^>]*>",
    re.IGNORECASE,
)


def trigger(rec: ImageRecord) -> str:
    words = rec.concept.tokens.split()
    return words[0] if words else ""


def _names(text: str, word: str) -> bool:
    return bool(word) and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def _tags(text: str, sep: str) -> list[str]:
    return [t.strip() for t in text.split(sep or ",")]


@image_check(emits=(CAP009, CAP010, CAP012, CAP013))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    text = first_line(rec)
    if not rec.readable or not text:
        return
    c = rec.concept
    limit = c.max_token_length
    n = count_tokens(text, limit)
    if n.cut_at is not None:
        yield ctx.finding(
            CAP009,
            f"{n.tokens} CLIP tokens: kohya keeps {limit}, so '{n.dropped[:80]}{'…' if len(n.dropped) > 80 else ''}' "
            "is never trained",
            {"tokens": n.tokens, "limit": limit, "dropped": n.dropped},
        )
    found = sorted(set(m.group(0) for m in PLACEHOLDER.finditer(text)))
    if found:
        yield ctx.finding(
            CAP010,
            f"placeholder {', '.join(found)} left from another trainer's format: kohya trains it as words",
            {"placeholders": found},
        )
    word = trigger(rec)
    if c.shuffle_caption and word and _names(text, word):
        sep = c.keep_tokens_separator
        if sep and sep in text:
            fixed, where = text.split(sep, 1)[0], f"before keep_tokens_separator '{sep}'"
        else:
            fixed, where = (
                c.caption_separator.join(_tags(text, c.caption_separator)[: c.keep_tokens]),
                (f"among the first {c.keep_tokens} tag{'s' if c.keep_tokens != 1 else ''} (keep_tokens)"),
            )
        if not _names(fixed, word):
            yield ctx.finding(
                CAP012,
                f"shuffle_caption is on and '{word}' is not {where}: kohya shuffles the trigger with the other tags",
                {"trigger": word, "keep_tokens": c.keep_tokens, "keep_tokens_separator": sep or None},
            )
    tags = _tags(text, c.caption_separator)
    named = [t.lower() for t in tags if t]
    repeated = [] if len(set(named)) == len(named) else sorted(t for t, k in Counter(named).items() if k > 1)
    empty = len(tags) - len(named) if len(tags) > 1 else 0
    if repeated or (empty and len(tags) > 1):
        parts = ([f"repeated: {', '.join(repeated)}"] if repeated else []) + ([f"{empty} empty"] if empty else [])
        yield ctx.finding(CAP013, f"tag list: {'; '.join(parts)}", {"repeated": repeated, "empty_tags": empty})


@dataset_check(emits=(CAP011, CAP014, CAP015, CAP016))
def check_set(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    by_concept: dict[str, list[tuple[ImageRecord, str]]] = defaultdict(list)
    for rec in records:
        text = first_line(rec) if rec.readable else None
        if text:
            by_concept[rec.concept.folder].append((rec, text))
    for items in by_concept.values():
        word = trigger(items[0][0])
        named = [rec for rec, text in items if _names(text, word)]
        if word and named:
            for rec, text in items:
                if not _names(text, word):
                    yield ctx.finding(
                        CAP011,
                        f"the caption never names '{word}', the trigger {len(named)} other caption"
                        f"{'s' if len(named) != 1 else ''} of this concept use",
                        {"trigger": word, "captions_with_trigger": len(named), "captions": len(items)},
                        path=rec.path,
                    )
        same: dict[str, list[str]] = defaultdict(list)
        for rec, text in items:
            same[" ".join(text.lower().split())].append(rec.path)
        for text, paths in same.items():
            if len(paths) >= 3:
                yield ctx.finding(
                    CAP014,
                    f"{len(paths)} images share the caption '{text[:60]}{'…' if len(text) > 60 else ''}': "
                    "describe what differs between them",
                    {"caption": text, "images": sorted(paths)},
                )
    scripts = {rec.path: script_of(text) for items in by_concept.values() for rec, text in items}
    known = [sc for sc in scripts.values() if sc]
    if len(known) >= 5:
        main, in_main = Counter(known).most_common(1)[0]
        if in_main / len(known) >= 0.8:
            for path, sc in sorted(scripts.items()):
                if sc and sc != main:
                    yield ctx.finding(
                        CAP016,
                        f"caption in {sc} script while {in_main} of {len(known)} captions are in {main}: translate it",
                        {"script": sc, "set_script": main, "captions_in_set_script": in_main},
                        path=path,
                    )
    lengths = []
    over = 0
    for items in by_concept.values():
        for rec, text in items:
            n = count_tokens(text, rec.concept.max_token_length)
            lengths.append(n.tokens)
            over += n.cut_at is not None
    if over:
        limits = sorted({rec.concept.max_token_length for items in by_concept.values() for rec, _ in items})
        yield ctx.finding(
            CAP015,
            f"{over} of {len(lengths)} captions are longer than kohya keeps ({'/'.join(map(str, limits))} tokens); "
            f"median caption length {statistics.median(lengths):.0f} tokens",
            {"over_limit": over, "captions": len(lengths), "median_tokens": statistics.median(lengths)},
        )

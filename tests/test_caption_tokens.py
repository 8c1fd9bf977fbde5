"""Caption token counts are the CLIP tokenizer's (the one kohya truncates with), on generated captions."""

from __future__ import annotations

import random

import pytest

from curate.derive.tokens import count_tokens

WORDS = (
    "1girl, solo, long hair, looking at viewer, smile, blue eyes, hanako woman, red dress, white background, "
    "高品質, café, naïve, ☆, 2024, don't, it's, <lora:foo:0.8>, [trigger], {trigger}, &amp; ampersand, emoji 😀, "
    "Ünïcödé, x__y, watermark, patreon username, a photo of a woman standing in the rain, (masterpiece:1.2), "
    "score_9, 4k, ½, Ⅻ, ﬁ ligature, Straße, ελληνικά, русский текст, مرحبا, 한국어, \u200bzero width"
).split(", ")


def captions(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = ", ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 60)))
        if i % 5 == 0:  # random code points, printable or not
            text += " " + "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(1, 30)))
        if i % 7 == 0:
            text = text.upper()
        if i % 11 == 0:
            text = "  " + text.replace(", ", ",\t ") + "\n"
        out.append(text)
    return out


def test_token_counts_equal_the_clip_tokenizers_on_1200_captions():
    # The reference CLIP BPE (OpenAI's, as open_clip ships it: the vocabulary kohya's CLIPTokenizer loads).
    tokenizer = pytest.importorskip("open_clip.tokenizer")
    reference = tokenizer.SimpleTokenizer()
    mismatches = [c for c in captions(1200, seed=3) if count_tokens(c).tokens != len(reference.encode(c))]
    assert mismatches == []


def test_the_cut_is_where_kohya_stops():
    text = "hanako woman, " + ", ".join(f"tag{i}" for i in range(80))
    n = count_tokens(text, 75)
    assert n.tokens > 75 and n.cut_at is not None and text.endswith(n.dropped)
    kept = text[: len(text) - len(n.dropped)]
    assert 70 <= count_tokens(kept).tokens <= 75
    assert count_tokens(text, 225).cut_at is not None and count_tokens(text[:300], 225).cut_at is None
    assert count_tokens("").tokens == 0

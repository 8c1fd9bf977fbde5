"""How many CLIP tokens kohya sees in a caption, and where it cuts.

kohya tokenizes captions with the CLIP text tokenizer (transformers' CLIPTokenizer for
openai/clip-vit-large-patch14; SDXL's second encoder uses the same vocabulary) and keeps 75 tokens, or 150 / 225
with `max_token_length` (train_util.BaseDataset.get_input_ids: BOS + 75 per chunk + EOS). The count here is
that tokenizer's: ftfy's text fix (when installed, as it is with sd-scripts), HTML unescaping, whitespace folded,
lower case, CLIP's pre-tokenizing pattern, then byte-level BPE over the merges in
curate/data/bpe_simple_vocab_16e6.txt.gz (MIT, see curate/data/NOTICE.md). No model or torch is loaded.
"""

from __future__ import annotations

import functools
import gzip
import html
from dataclasses import dataclass
from pathlib import Path

import regex

VOCAB = Path(__file__).resolve().parent.parent / "data" / "bpe_simple_vocab_16e6.txt.gz"
PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def _bytes_to_unicode() -> dict[int, str]:
    """The reversible byte → printable character map of GPT-2 / CLIP byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@functools.lru_cache(maxsize=1)
def _ranks() -> dict[tuple[str, str], int]:
    lines = gzip.decompress(VOCAB.read_bytes()).decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]  # the merges CLIP uses (its vocabulary is 49,408 tokens)
    return {tuple(m.split()): i for i, m in enumerate(merges)}  # type: ignore[misc]


BYTE_CHARS = _bytes_to_unicode()


@functools.lru_cache(maxsize=100_000)
def _bpe(word: str) -> tuple[str, ...]:
    """The BPE pieces of one pre-token (its last symbol marked as a word end, as CLIP does)."""
    ranks = _ranks()
    parts = [*word[:-1], word[-1] + "</w>"]
    while len(parts) > 1:
        pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
        best = min(pairs, key=lambda p: ranks.get(p, 1 << 30))
        if best not in ranks:
            break
        merged: list[str] = []
        i = 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                merged.append(parts[i] + parts[i + 1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return tuple(parts)


def _clean(text: str) -> str:
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:  # pragma: no cover - transformers' tokenizer also works without it
        pass
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


@dataclass(frozen=True)
class TokenCount:
    tokens: int  # CLIP tokens in the caption (without BOS/EOS)
    cut_at: int | None  # character offset where kohya's limit cuts, None when it fits
    dropped: str  # the caption text past the cut


@functools.lru_cache(maxsize=1 << 16)  # the caption checks of an image and of its set count the same text
def count_tokens(caption: str, limit: int = 75) -> TokenCount:
    """The caption's CLIP token count, and the text past `limit` tokens (which kohya never trains)."""
    cleaned = _clean(caption)
    total = 0
    cut = None
    for m in PATTERN.finditer(cleaned):
        token = "".join(BYTE_CHARS[b] for b in m.group(0).encode("utf-8"))
        total += len(_bpe(token))
        if cut is None and total > limit:
            cut = m.start()
    return TokenCount(total, cut, cleaned[cut:].strip() if cut is not None else "")

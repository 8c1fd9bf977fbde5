"""The types that cross stage boundaries: scan → extract → check → decide → report."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from curate.features import ImageFeatures

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}

# The fixed category vocabulary of the JSON contract (curate.audit/v1). Later checks fill the rest.
CATEGORIES = (
    "unreadable",
    "resolution",
    "duplicate",
    "caption",
    "noise",
    "blur",
    "upscaled",
    "compression",
    "watermark",
    "signature",
    "text",
    "cloak",
    "opt-out",
    "platform-terms",
    "ai-generated",
    "rights",
    "consent",
    "composition",
    "identity",
)

VERDICTS = ("keep", "review", "drop")


@dataclass(frozen=True)
class Concept:
    """A kohya concept folder (`10_hanako woman`) or a subset from dataset_config.toml."""

    folder: str  # POSIX path relative to the dataset root ('' for the root itself)
    repeats: int | None  # None where kohya would not read the folder (no `N_` prefix)
    tokens: str  # 'hanako woman'
    caption_extension: str  # '.txt' / '.caption'
    resolution: tuple[int, int]  # (width, height) training target
    enable_bucket: bool
    min_bucket_reso: int
    max_bucket_reso: int
    bucket_no_upscale: bool
    is_reg: bool = False
    bucket_reso_steps: int = 64
    enable_wildcard: bool = False  # multi-line captions: one line at random instead of the first
    shuffle_caption: bool = False
    keep_tokens: int = 0  # with shuffle_caption: the first N tags stay in place
    keep_tokens_separator: str = ""  # or: everything before this separator stays
    caption_separator: str = ","
    max_token_length: int = 75  # CLIP tokens kohya keeps (75, 150 or 225)


@dataclass(frozen=True)
class Caption:
    """What the scan found beside one image."""

    path: str | None  # the caption kohya will read, relative; None when missing
    text: str | None  # None when missing or undecodable
    problem: str | None = None  # 'not-utf8', 'empty-file', 'too-large', 'nul-bytes', 'not-a-file', 'unreadable'
    other_extensions: tuple[str, ...] = ()  # captions beside the image in extensions kohya will not read
    bom: bool = False  # starts with a UTF-8 byte-order mark (kohya keeps it as part of the first tag)


@dataclass
class ImageRecord:
    """One scanned image file and, after extraction, its cached features. Checks read only this."""

    path: str  # POSIX path relative to the dataset root
    abs_path: str
    file_size: int
    concept: Concept
    caption: Caption
    sha256: str | None = None
    features: dict[str, Any] = field(default_factory=dict)
    sidecars: tuple[str, ...] = ()  # relative paths of .xmp / .json / .html files describing this image
    trained: bool = True  # False when kohya will not load the file: never trained on
    not_trained: str = ""  # why not, when it is not its extension (a folder kohya skips, a nested folder, …)

    @property
    def image(self) -> ImageFeatures:
        """The `image` features (curate/features.py); empty before extraction."""
        return cast(ImageFeatures, self.features.get("image", {}))

    @property
    def readable(self) -> bool:
        return bool(self.image) and "error" not in self.image

    @property
    def width(self) -> int | None:
        return self.image.get("width")

    @property
    def height(self) -> int | None:
        return self.image.get("height")


@dataclass(frozen=True)
class Finding:
    code: str
    category: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # image (or other file) it concerns


@dataclass(frozen=True)
class Group:
    kind: str  # 'exact-duplicate' | 'near-duplicate' | ...
    members: tuple[str, ...]
    keep: str
    evidence: dict[str, Any] = field(default_factory=dict)


def display_path(path: str) -> str:
    """A path (or any text holding one) that can always be written as UTF-8: bytes of a file name that are not
    valid UTF-8 (kept by Python as lone surrogates) are shown escaped, `\\x82\\xa0`."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_ESCAPED_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")


def path_on_disk(root: Path, shown: str) -> Path:
    """The file a report's path names: the path itself, or — for a file name that is not UTF-8, which the
    report shows escaped (display_path) — the name with those bytes back (as Python keeps them: surrogates)."""
    plain = root / shown
    if os.path.lexists(plain) or "\\x" not in shown:
        return plain
    return root / _ESCAPED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), shown)


# C0 and C1 control characters and DEL: a terminal obeys them (clear the screen, move the cursor, set the
# title, open a hyperlink), so a file name or a metadata field must never reach one raw.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def printable(text: str) -> str:
    """Untrusted text as the console shows it: undecodable file-name bytes and control characters (ESC,
    newline, …) made visible as escapes, so a name cannot forge a line or drive the terminal."""
    return display_path(text).translate(_CONTROL)

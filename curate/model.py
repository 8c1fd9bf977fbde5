"""The types that cross stage boundaries: scan → extract → check → decide → report."""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping
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


# The keys of an extractor's record most checks ask about — failed or skipped; the picture's size, format, frames and
# orientation — kept decoded beside the stored text (StoredFeatures.light; ImageRecord.light).
LIGHT_KEYS = (
    "error",
    "skipped",
    "width",
    "height",
    "format",
    "frames",
    "orientation",
    "declared_width",
    "declared_height",
)


def light_of(value: Any) -> dict[str, Any] | None:
    """The LIGHT_KEYS of an extractor's record, or None where it has none of them."""
    if not isinstance(value, dict):
        return None
    light = {k: value[k] for k in LIGHT_KEYS if k in value}
    if isinstance(light.get("format"), str):
        light["format"] = sys.intern(light["format"])  # 'JPEG' held once, not once per picture
    return light or None


def encode(record: Any) -> str:
    """One extractor's record as the cache stores it and StoredFeatures holds it: compact JSON."""
    return _ENCODE(record)


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_NOTHING: dict[str, Any] = {}  # light() of what has none (never changed: callers only read it)


class StoredFeatures(MutableMapping[str, Any]):
    """One picture's features as the cache keeps them — each extractor's record as compact JSON text — decoded when
    read, with the few keys most checks ask about (LIGHT_KEYS) kept decoded beside it (`light`). A million pictures
    then hold ≈ 1.3 kB each instead of ≈ 3.2 kB of Python objects (issue 22).

    The last DECODED_KEPT decoded records are kept (shared by all pictures, least recently read dropped first), so a
    pass that reads one picture's features many times — every image check in turn — decodes them once. A value
    set here (sidecars, an error) is kept as given. Decoded values are fresh objects: a caller that changes one
    changes nothing stored (no code does)."""

    __slots__ = ("_items", "_key", "_light")
    DECODED_KEPT = 1024
    _decoded: OrderedDict[tuple[int, str], Any] = OrderedDict()
    _keys = itertools.count()

    def __init__(self, items: Mapping[str, Any] | None = None, light: Mapping[str, dict[str, Any]] | None = None):
        """`items`: {extractor: its record, or the record's JSON text}; `light`: light_of() each text's record
        where the caller has it decoded (else each text is decoded here once to find it)."""
        self._items: dict[str, Any] = dict(items or {})
        self._key = next(StoredFeatures._keys)  # never reused, unlike id(): a stale decode cannot be read
        if light is None:
            light = {n: lt for n, v in self._items.items() if isinstance(v, str) and (lt := light_of(json.loads(v)))}
        # {name: its LIGHT_KEYS} for the texts that have any, {name: value} for values held as given
        self._light: dict[str, Any] = {**light, **{n: v for n, v in self._items.items() if not isinstance(v, str)}}

    @classmethod
    def encoded(cls, records: Mapping[str, Any]) -> StoredFeatures:
        """Features from decoded records (a worker's results), each held as `encode(record)`."""
        light = {n: lt for n, v in records.items() if (lt := light_of(v))}
        return cls({n: encode(v) if isinstance(v, dict) else v for n, v in records.items()}, light)

    def copy(self) -> StoredFeatures:
        """A mapping of its own (a key of its own) over the same texts."""
        return StoredFeatures(self._items, self._light)

    def texts(self) -> dict[str, Any]:
        """{extractor: JSON text, or the value as given}: what the cache stores."""
        return dict(self._items)

    def light(self, name: str) -> dict[str, Any]:
        """The LIGHT_KEYS of one extractor's record, without decoding it (a value set as given: all of it)."""
        return self._light.get(name) or _NOTHING

    def __getitem__(self, name: str) -> Any:
        value = self._items[name]
        if not isinstance(value, str):
            return value
        kept, key = StoredFeatures._decoded, (self._key, name)
        try:
            kept.move_to_end(key)
            return kept[key]
        except KeyError:
            pass
        decoded = kept[key] = json.loads(value)
        while len(kept) > StoredFeatures.DECODED_KEPT:
            kept.popitem(last=False)
        return decoded

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, str):  # a text here is a stored record: a value set is never one
            raise TypeError(f"features['{name}']: an extractor's record is a dict, not {value[:20]!r}")
        StoredFeatures._decoded.pop((self._key, name), None)
        self._items[name] = self._light[name] = value

    def __delitem__(self, name: str) -> None:
        StoredFeatures._decoded.pop((self._key, name), None)
        self._light.pop(name, None)
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles get a key of their own
        return (StoredFeatures, (self._items, self._light))

    def __repr__(self) -> str:
        return f"StoredFeatures({dict(self.items())!r})"


@dataclass
class ImageRecord:
    """One scanned image file and, after extraction, its cached features. Checks read only this."""

    path: str  # POSIX path relative to the dataset root
    abs_path: str
    file_size: int
    concept: Concept
    caption: Caption
    sha256: str | None = None
    features: MutableMapping[str, Any] = field(default_factory=dict)  # StoredFeatures after extraction
    sidecars: tuple[str, ...] = ()  # relative paths of .xmp / .json / .html files describing this image
    trained: bool = True  # False when kohya will not load the file: never trained on
    not_trained: str = ""  # why not, when it is not its extension (a folder kohya skips, a nested folder, …)

    @property
    def image(self) -> ImageFeatures:
        """The `image` features (curate/features.py); empty before extraction."""
        return cast(ImageFeatures, self.features.get("image", {}))

    def light(self, name: str) -> dict[str, Any]:
        """Of one extractor's record, at least its LIGHT_KEYS (failed or skipped, size, format, frames,
        orientation), without decoding the rest where the features are stored (StoredFeatures)."""
        f = self.features
        return f.light(name) if isinstance(f, StoredFeatures) else f.get(name) or _NOTHING

    @property
    def readable(self) -> bool:
        image = self.light("image")
        return bool(image) and "error" not in image

    @property
    def width(self) -> int | None:
        return self.light("image").get("width")

    @property
    def height(self) -> int | None:
        return self.light("image").get("height")

    @property
    def format(self) -> str | None:
        return self.light("image").get("format")


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

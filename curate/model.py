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
from curate.spool import Spool

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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


class Spooled(int):
    """Where one picture's records, as JSON texts, lie in an audit's spool (curate/spool.py)."""

    __slots__ = ()


class StoredFeatures(MutableMapping[str, Any]):
    """One picture's features as the cache keeps them — each extractor's record as compact JSON text — decoded when
    read, with the few keys most checks ask about (LIGHT_KEYS) kept decoded beside it (`light`). With a spool
    (curate/spool.py: a temporary file) the texts are held there, not in memory. A picture then holds ≈ 0.2 kB here
    instead of ≈ 1.5 kB (issue 22: a million pictures in bounded memory).

    The last DECODED_KEPT decoded records are kept (shared by all pictures, least recently read dropped first), so a
    pass that reads one picture's features many times — every image check in turn — decodes them once. A value
    set here (sidecars, CLIP's views, an error) is kept as given. Decoded values and light keys are shared: callers
    only read them (a caller that changed one could change what another picture reads)."""

    __slots__ = ("_given", "_key", "_light", "_names", "_spool", "_stored")
    DECODED_KEPT = 1024
    _decoded: OrderedDict[tuple[int, str], Any] = OrderedDict()
    _keys = itertools.count()

    def __init__(
        self,
        items: Mapping[str, Any] | None = None,
        light: Mapping[str, dict[str, Any]] | None = None,
        spool: Spool | None = None,
    ):
        """`items`: {extractor: its record, or the record's JSON text}; `light`: light_of() each text's record
        where the caller has it decoded (else each text is decoded here once to find it); `spool`: where the texts
        are held (else in memory)."""
        items = dict(items or {})
        names = tuple(n for n, v in items.items() if isinstance(v, str))
        if light is None:
            light = {n: lt for n in names if (lt := light_of(json.loads(items[n])))}
        self._key = next(StoredFeatures._keys)  # never reused, unlike id(): a stale decode cannot be read
        self._spool = spool
        self._names: tuple[str, ...] = _shared(names)
        self._light: tuple[dict[str, Any] | None, ...] = tuple(_shared_light(light.get(n)) for n in names)
        texts = tuple(items[n] for n in names)
        # the texts, or where they lie in the spool (joined by NUL, which valid JSON text never holds)
        self._stored: tuple[str, ...] | Spooled = Spooled(spool.put("\0".join(texts).encode())) if spool else texts
        self._given: dict[str, Any] | None = {n: v for n, v in items.items() if not isinstance(v, str)} or None

    @classmethod
    def encoded(cls, records: Mapping[str, Any], spool: Spool | None = None) -> StoredFeatures:
        """Features from decoded records (a worker's results), each held as `encode(record)`."""
        light = {n: lt for n, v in records.items() if (lt := light_of(v))}
        return cls({n: encode(v) if isinstance(v, dict) else v for n, v in records.items()}, light, spool)

    def copy(self) -> StoredFeatures:
        """A mapping of its own (a key of its own) over the same texts."""
        twin = StoredFeatures.__new__(StoredFeatures)
        twin._key = next(StoredFeatures._keys)
        twin._spool, twin._names, twin._light, twin._stored = self._spool, self._names, self._light, self._stored
        twin._given = dict(self._given) if self._given else None
        return twin

    def spooled(self, spool: Spool) -> StoredFeatures:
        """A copy whose texts are held in `spool`."""
        if self._spool is spool:
            return self.copy()
        light = {n: lt for n, lt in zip(self._names, self._light) if lt}
        return StoredFeatures(self.texts(), light, spool)

    def store(self, name: str, text: str) -> None:
        """Hold one more extractor's record, as the cache's JSON text, the way extraction holds the others — in the
        spool where this picture's texts are, else in memory — for a stage that runs after extraction (CLIP: about
        6 kB a picture that a million pictures would otherwise hold in memory). Replaces any value of that name."""
        texts = dict(zip(self._names, self._texts()))
        texts[name] = text
        light = {n: lt for n, lt in zip(self._names, self._light) if lt and n != name}
        if (own := light_of(json.loads(text))) is not None:
            light[name] = own
        held = StoredFeatures(texts, light, self._spool)  # the spool only grows: the old texts stay where they were
        self._names, self._light, self._stored = held._names, held._light, held._stored
        StoredFeatures._decoded.pop((self._key, name), None)
        if self._given:
            self._given.pop(name, None)

    def _texts(self) -> tuple[str, ...]:
        if isinstance(self._stored, Spooled):
            assert self._spool is not None
            return tuple(self._spool.get(self._stored).decode().split("\0"))
        return self._stored

    def texts(self) -> dict[str, Any]:
        """{extractor: JSON text, or the value as given}: what the cache stores."""
        given = self._given or {}
        out = {n: t for n, t in zip(self._names, self._texts()) if n not in given}
        out.update((n, v) for n, v in given.items() if v is not _GONE)
        return out

    def light(self, name: str) -> dict[str, Any]:
        """The LIGHT_KEYS of one extractor's record, without decoding it (a value set as given: all of it)."""
        if self._given and name in self._given:
            value = self._given[name]
            return _NOTHING if value is _GONE else value
        try:
            return self._light[self._names.index(name)] or _NOTHING
        except ValueError:
            return _NOTHING

    def __getitem__(self, name: str) -> Any:
        if self._given and name in self._given:
            value = self._given[name]
            if value is _GONE:
                raise KeyError(name)
            return value
        try:
            i = self._names.index(name)
        except ValueError:
            raise KeyError(name) from None
        kept, key = StoredFeatures._decoded, (self._key, name)
        try:
            kept.move_to_end(key)
            return kept[key]
        except KeyError:
            pass
        decoded = kept[key] = json.loads(self._texts()[i])
        while len(kept) > StoredFeatures.DECODED_KEPT:
            kept.popitem(last=False)
        return decoded

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, str):  # a text here is a stored record: a value set is never one
            raise TypeError(f"features['{name}']: an extractor's record is a dict, not {value[:20]!r}")
        StoredFeatures._decoded.pop((self._key, name), None)
        if self._given is None:
            self._given = {}
        self._given[name] = value

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        StoredFeatures._decoded.pop((self._key, name), None)
        if self._given is None:
            self._given = {}
        if name in self._names:
            self._given[name] = _GONE
        else:
            del self._given[name]

    def __iter__(self) -> Iterator[str]:
        given = self._given or {}
        yield from (n for n in self._names if n not in given)
        yield from (n for n, v in given.items() if v is not _GONE)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        if self._given and name in self._given:
            return self._given[name] is not _GONE
        return name in self._names

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles get a key of their own, and the texts themselves
        return (StoredFeatures, (self.texts(), {n: lt for n, lt in zip(self._names, self._light) if lt}))

    def __repr__(self) -> str:
        return f"StoredFeatures({dict(self.items())!r})"


_GONE = object()  # a stored record deleted from one picture's features
_SHARED: dict[Any, Any] = {}  # names and light keys many pictures have alike, held once
SHARED_MAX = 65_536


def _shared(value: Any) -> Any:
    """`value`, or an equal one already held (while fewer than SHARED_MAX are)."""
    held = _SHARED.get(value)
    if held is not None:
        return held
    if len(_SHARED) < SHARED_MAX:
        _SHARED[value] = value
    return value


def _shared_light(light: dict[str, Any] | None) -> dict[str, Any] | None:
    """A picture's light keys, shared with every picture whose light keys are equal (size, format, …)."""
    if not light:
        return None
    try:
        key = tuple((k, type(v), v) for k, v in light.items())  # 1 and True are equal keys, not equal values
        held = _SHARED.get(key)
    except TypeError:  # an error's details: not hashable, and not shared
        return light
    if held is not None:
        return held
    if len(_SHARED) < SHARED_MAX:
        _SHARED[key] = light
    return light


@dataclass(slots=True)
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


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    category: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # image (or other file) it concerns


@dataclass(frozen=True, slots=True)
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

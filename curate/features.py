"""The extract → check contract: what an extractor is, and the feature record each one caches.

An extractor is a module (curate/extract/<name>.py) with `NAME`, `VERSION` and `compute(decoded)`; optional
`available()` (why it cannot run here, or None) and `warm_up()` (heavy imports before worker processes fork).
`compute` returns its feature record: a dict (stored as JSON in the cache) whose keys are listed below. Every
record may instead be `{"error": {...}}` (the file could not be decoded, the extractor is unavailable, or it
failed: kind "failed", reported as UNR010) or `{"skipped": reason}` (nothing to measure). Bump VERSION when the
record changes; cached records of other versions are recomputed.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict


class Extractor(Protocol):
    NAME: str
    VERSION: int

    def compute(self, decoded: Any) -> dict[str, Any]: ...


class ErrorInfo(TypedDict, total=False):
    kind: str  # empty, not-an-image, truncated, corrupt, pixel-limit, timeout, too-large, unopenable,
    detail: str  # unavailable (not installed here), failed (the extractor raised: a bug)
    content: str
    limit_pixels: int
    limit_seconds: float
    limit_bytes: int


class ImageFeatures(TypedDict, total=False):
    """`image` (curate/extract/image.py): what every check may read."""

    error: ErrorInfo
    format: str
    mode: str
    width: int  # the stored size, as kohya reads it (EXIF orientation is not applied)
    height: int
    declared_width: int
    declared_height: int
    frames: int
    orientation: int
    decode_scale: int  # > 1: a huge picture analysed at reduced size (JPEG: DCT scaling; others: reduced copy)
    pixel_hash: str | None  # SHA-256 of the pixels; None for reduced decodes
    phash: str  # 64-bit hashes as 16 hex digits
    dhash: str
    view_hashes: list[list[str]]  # [[phash, dhash]] of six crop views
    colour_layout: str  # 8×8 mean RGB as 384 hex digits


class QualityFeatures(TypedDict, total=False):
    """`quality` (curate/extract/quality.py): forensics measured on the luminance (and chroma)."""

    error: ErrorInfo
    skipped: str
    analysed_width: int
    analysed_height: int
    noise_sigma: float | None  # green channel, grey levels, at the file's own size
    noise_whiteness: float | None  # √(median / smallest eigenvalue): ~1.3 for noise, ≥ 1.8 for texture
    chroma_noise_sigma: float | None  # absent for grayscale
    flat_fraction: float  # share of single-valued 16-px blocks (flat-colour art)
    edge_sharpness: float | None
    spectrum: list[float]
    detail_fraction: float | None  # where real detail ends, as a fraction of Nyquist
    reference_px: int  # long side softness is judged at (1024, or the file's own when smaller)
    reference_edge_sharpness: float | None  # 90th percentile edge ratio at reference_px
    reference_detail_fraction: float | None  # where real detail ends at reference_px
    blockiness: float | None
    jpeg_quality: int | None


class FrameFeatures(TypedDict, total=False):
    """`frame` (curate/extract/frame.py): what kohya trains that the eye does not see."""

    error: ErrorInfo
    alpha: dict[str, Any] | None  # transparent_fraction, colour_under (RGB stored under alpha < 128)
    bars: dict[str, Any]  # size [w, h] analysed; top/bottom/left/right: [flat rows, [r, g, b]]


class StampsFeatures(TypedDict, total=False):
    """`stamps` (curate/extract/stamps.py): reference-pipeline invisible watermarks found in the pixels."""

    error: ErrorInfo
    skipped: str
    matches: list[dict[str, Any]]  # generator, bits, matching, chance, order


class TextRegion(TypedDict, total=False):
    text: str
    box: list[float]  # x0, y0, x1, y1 relative to the picture
    score: float
    angle: float
    height: float  # letter height relative to the picture's height


class MarksFeatures(TypedDict, total=False):
    """`marks` (curate/extract/marks.py): text regions read by RapidOCR."""

    error: ErrorInfo
    skipped: str
    analysed_width: int
    analysed_height: int
    engine: str
    texts: list[TextRegion]


class Face(TypedDict, total=False):
    box: list[float]
    score: float
    size_px: int
    skin_texture: float | None
    descriptor: list[float]  # dlib's 128-d face descriptor


class FacesFeatures(TypedDict, total=False):
    """`faces` (curate/extract/faces.py): dlib faces, largest first."""

    error: ErrorInfo
    skipped: str
    engine: str
    analysed_width: int
    analysed_height: int
    faces: list[Face]


class MetadataFeatures(TypedDict, total=False):
    """`metadata` (curate/extract/metadata.py): rights and provenance fields, interpreted in
    curate/derive/rights.py."""

    error: ErrorInfo
    format: str
    exif: dict[str, str]
    iim: dict[str, list[str]]
    xmp: dict[str, list[list[str]]]  # property (lower case) → [[namespace, value]]
    xmp_problems: list[str]
    text: dict[str, str]  # PNG text chunks (generator metadata)
    stealth: str
    c2pa: dict[str, Any]


class ClipFeatures(TypedDict, total=False):
    """`clip` (curate/extract/clip.py; a stage of its own, keyed by the model): base64 float16 embeddings."""

    model: str
    views: dict[str, str]  # full, person, background, head

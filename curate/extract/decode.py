"""Open untrusted image bytes safely: size limits, decompression bombs, truncation, a per-file time limit."""

from __future__ import annotations

import hashlib
import io
import math
import signal
import struct
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF (and AVIF on Pillow builds without it)
    import pillow_heif

    pillow_heif.register_heif_opener()
except Exception:  # pragma: no cover - optional at run time, declared in pyproject
    pillow_heif = None  # type: ignore[assignment]

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is a finding, not a grey-padded image


@dataclass
class Limits:
    max_pixels: int = 120_000_000
    max_file_bytes: int = 402_653_184
    timeout_seconds: float = 30.0
    full_decode_max_pixels: int = 40_000_000
    memory_budget_mb: int = 2048

    @classmethod
    def from_settings(cls, decode: dict[str, Any]) -> Limits:
        return cls(**{k: decode[k] for k in cls.__dataclass_fields__ if k in decode})


@dataclass
class Decoded:
    """One file's bytes and, if it decoded, its first frame with EXIF orientation applied."""

    data: bytes
    image: Image.Image | None = None
    error: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)  # format, mode, frames, orientation, decode_scale


class DecodeTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """SIGALRM-based limit; only where signals work (the main thread of a POSIX process)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def _raise(signum, frame):
        raise DecodeTimeout()

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def sniff(data: bytes) -> str:
    """What a file that is not an image seems to be, for the message."""
    head = data[:512].lstrip()
    if head[:1] == b"<":
        return "HTML or XML text"
    if head.startswith((b"{", b"[")):
        return "JSON text"
    if data[:4] == b"PK\x03\x04":
        return "a ZIP archive"
    if data[:5] == b"%PDF-":
        return "a PDF document"
    try:
        data[:4096].decode("utf-8")
        return "plain text"
    except UnicodeDecodeError:
        return "unrecognised binary data"


def _error(kind: str, **detail: Any) -> dict[str, Any]:
    """Cached error data; the `unreadable` check turns it into words."""
    return {"kind": kind, **detail}


def _declared_size(data: bytes) -> dict[str, Any]:
    """The size a header claims, read without the pixel limit (Image.open parses headers only)."""
    saved = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(io.BytesIO(data)) as im:
            return {"format": im.format, "declared_width": im.width, "declared_height": im.height}
    except Exception:
        return {}
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, limits: Limits) -> Decoded:
    """Decode `data` into a Decoded; every failure becomes Decoded.error, never an exception."""
    out = Decoded(data=data)
    if not data:
        out.error = _error("empty")
        return out
    try:
        with _time_limit(limits.timeout_seconds), warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = limits.max_pixels
            im: Image.Image = Image.open(io.BytesIO(data))
            w, h = im.size
            out.info.update(
                format=im.format,
                mode=im.mode,
                declared_width=w,
                declared_height=h,
                frames=int(getattr(im, "n_frames", 1) or 1),
            )
            if im.format in ("JPEG", "MPO") and getattr(im, "quantization", None):
                # The encoder's quantisation tables: the JPEG quality estimate needs nothing else.
                tables = getattr(im, "quantization", {})
                out.info["quantization"] = {int(k): [int(v) for v in t] for k, t in tables.items()}
            scale = draft_scale(im.format, w, h, limits)
            if scale > 1:
                im.draft(im.mode, (w // scale, h // scale))
            im.load()
            if im.format == "JPEG":
                ends_early = jpeg_ends_early(data)
                if ends_early:  # libjpeg filled the missing rows silently; Pillow does not say so
                    raise OSError(f"{ends_early}: the header promises {h} rows, the data holds fewer")
            copy_scale = copy_reduction(im.format, w, h, limits)
            if copy_scale > 1:  # the full buffer is dropped at once: the analyses hold the reduced copy only
                scale = copy_scale
                fmt = im.format
                if im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
                    im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
                reduced = im.reduce(scale)
                reduced.info = dict(im.info)
                im = reduced
                im.format = fmt
            out.info["decode_scale"] = scale
            orientation = 1
            try:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:
                orientation = 1
            out.info["orientation"] = orientation
            if orientation != 1:
                try:
                    out.image = ImageOps.exif_transpose(im)
                except Exception:
                    out.image = im
            else:
                out.image = im
    except DecodeTimeout:
        out.error = _error("timeout", limit_seconds=limits.timeout_seconds)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        out.error = _error("pixel-limit", limit_pixels=limits.max_pixels)
        if "declared_width" not in out.info:
            out.info.update(_declared_size(data))
    except UnidentifiedImageError:
        out.error = _error("not-an-image", content=sniff(data))
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, MemoryError) as e:
        text = str(e) or type(e).__name__
        low = text.lower()
        if "truncated" in low or "broken data stream" in low or "premature end" in low or isinstance(e, EOFError):
            out.error = _error("truncated", detail=text)
        elif isinstance(e, MemoryError):
            out.error = _error("corrupt", detail="decoding ran out of memory")
        else:
            out.error = _error("corrupt", detail=text)
    except Exception as e:  # a decoder bug must not stop the audit
        out.error = _error("corrupt", detail=f"the decoder failed ({type(e).__name__}: {e})")
    return out


def jpeg_ends_early(data: bytes) -> str | None:
    """libjpeg's own warning when a JPEG's data ends before the rows its header promises ("Premature end of JPEG
    file", "premature end of data segment"), or None. Pillow decodes such a file without a word and fills the
    missing rows with one flat colour; simplejpeg's strict mode raises libjpeg's warnings. Decoded at 1/8 scale:
    every bit of the data is still read, in a few milliseconds."""
    try:
        import simplejpeg
    except ImportError:  # pragma: no cover - a core dependency; without it the check is skipped
        return None
    try:
        simplejpeg.decode_jpeg(data, strict=True, min_height=1, min_width=1)
    except ValueError as e:
        text = str(e)
        return text if "premature end" in text.lower() else None
    except Exception:
        return None
    return None


def draft_scale(fmt: str | None, width: int, height: int, limits: Limits) -> int:
    """1, or the reduction (2, 4 or 8) at which a JPEG above [decode] full_decode_max_pixels is decoded
    (libjpeg DCT scaling: the smallest that brings it under the limit, at least 2)."""
    if fmt != "JPEG" or width * height <= limits.full_decode_max_pixels:
        return 1
    scale = 2
    while (width // (scale * 2)) * (height // (scale * 2)) > limits.full_decode_max_pixels and scale < 8:
        scale *= 2
    return scale


def copy_reduction(fmt: str | None, width: int, height: int, limits: Limits) -> int:
    """1, or the whole factor by which a picture above full_decode_max_pixels in a format without reduced decoding
    (PNG, WebP, TIFF…: not JPEG, see draft_scale) is reduced, once decoded, before any analysis: the smallest that
    brings it under the limit."""
    if fmt == "JPEG" or width * height <= limits.full_decode_max_pixels:
        return 1
    return math.ceil(math.sqrt(width * height / limits.full_decode_max_pixels))


def to_rgb(im: Image.Image, on_white: bool = False) -> Image.Image:
    """The picture as RGB for an analysis: the one place images change mode. Transparency is dropped (the
    hidden colours stay) or, `on_white`, composited on white as most viewers show it (what a text reader sees)."""
    has_alpha = "A" in im.mode or im.mode == "P"
    if on_white and has_alpha and (im.mode != "P" or "transparency" in im.info):
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return im.convert("RGBA").convert("RGB") if has_alpha else im.convert("RGB")

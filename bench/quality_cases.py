"""Labelled quality cases built from real photos (bench/photos.py) and procedural flat-colour art.

The degradations are tests/degrade.py (shared with the tests), applied at each photo's own size with
strengths stated for a 1024-px image and scaled to the photo's long side."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the shared degraders
from degrade import (  # noqa: E402,F401
    add_noise,
    beauty_filter,
    blur,
    denoised_high_iso,
    flat_art,
    jpeg,
    noise_reduced,
    scale_of,
    shallow_dof,
    upscaled,
)
from photos import real_photos  # noqa: E402

# Scientific / document pictures are not photographs of the kind people train on.
NOT_PHOTOS = {"page", "text", "cell", "coins", "moon", "color", "clock_motion", "hubble_deep_field", "ihc", "retina"}


def clean_photos() -> list[tuple[str, Image.Image]]:
    return [(n, im) for n, im in real_photos(split_large=False) if n not in NOT_PHOTOS]


# ---- faces: over-smoothing (BLR002) ----------------------------------------------------------------------


def portraits(extra: Path | None = None) -> list[tuple[str, Image.Image]]:
    """Real photos with a face large enough to judge skin: the two among the wheels' sample data, plus any
    .jpg/.png in `extra` (the README names a public-domain set: the White House portraits in the
    face_recognition sdist's tests; its partial faces and 32bit.png, a copy of obama2.jpg, are left out)."""
    out = [(n, im) for n, im in real_photos(split_large=False) if n in ("astronaut", "grace_hopper")]
    if extra:
        for p in sorted(extra.iterdir()):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png") and "partial" not in p.stem and p.stem != "32bit":
                with Image.open(p) as im:
                    out.append((p.stem, im.convert("RGB")))
    return out


def largest_face(data: bytes) -> dict | None:
    """The largest face curate's faces extractor finds in an image file's bytes (box, skin_texture, …)."""
    from curate.extract import faces
    from curate.extract.decode import Limits, decode_image

    found = faces.compute(decode_image(data, Limits())).get("faces") or []
    return found[0] if found else None


def face_box(im: Image.Image) -> tuple[int, int, int, int] | None:
    """The largest face's box in pixels of `im`."""
    buf = io.BytesIO()
    im.save(buf, "PNG")
    face = largest_face(buf.getvalue())
    if face is None:
        return None
    x0, y0, x1, y1 = face["box"]
    return round(x0 * im.width), round(y0 * im.height), round(x1 * im.width), round(y1 * im.height)

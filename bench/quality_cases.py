"""Labelled quality cases built from real photos (bench/photos.py) and procedural flat-colour art.

Degradations are applied at each photo's own size, with strengths stated for a 1024-px image and scaled
to the photo's long side (a 2-px blur at 1024 px is a 1-px blur at 512 px)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from photos import real_photos

# Scientific / document pictures are not photographs of the kind people train on.
NOT_PHOTOS = {"page", "text", "cell", "coins", "moon", "color", "clock_motion", "hubble_deep_field", "ihc", "retina"}


def clean_photos() -> list[tuple[str, Image.Image]]:
    return [(n, im) for n, im in real_photos(split_large=False) if n not in NOT_PHOTOS]


def scale_of(im: Image.Image) -> float:
    return max(im.size) / 1024


def add_noise(im, sigma, seed=0):
    rng = np.random.default_rng(seed)
    a = np.asarray(im, dtype=np.float32)
    return Image.fromarray(np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).round().astype(np.uint8))


def blur(im, sigma):
    return im.filter(ImageFilter.GaussianBlur(sigma * scale_of(im)))


def upscaled(im, k):
    w, h = im.size
    return im.resize((max(8, round(w / k)), max(8, round(h / k))), Image.LANCZOS).resize((w, h), Image.BICUBIC)


def jpeg(im, q):
    b = io.BytesIO()
    im.save(b, "JPEG", quality=q)
    return Image.open(io.BytesIO(b.getvalue()))


def noise_reduced(im, sigma=10):
    """High-ISO shot cleaned by noise reduction: grain added, then a strong edge-preserving-ish smoothing."""
    return add_noise(im, sigma).filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.SMOOTH_MORE)


def shallow_dof(im):
    """A sharp subject (central ellipse) on a strongly defocused background."""
    w, h = im.size
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((w * 0.3, h * 0.25, w * 0.7, h * 0.75), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(6 * scale_of(im)))
    return Image.composite(im, im.filter(ImageFilter.GaussianBlur(8 * scale_of(im))), mask)


def flat_art(seed: int, size=1024) -> Image.Image:
    """Cel-shaded flat-colour art: filled shapes with clean anti-aliased outlines (drawn at 2× then reduced)."""
    rng = random.Random(seed)
    big = Image.new("RGB", (size * 2, size * 2), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(big)
    for _ in range(rng.randint(8, 20)):
        x0, y0 = rng.randrange(size * 2), rng.randrange(size * 2)
        x1, y1 = x0 + rng.randint(100, 900), y0 + rng.randint(100, 900)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(["ellipse", "rectangle", "polygon"])
        if shape == "polygon":
            pts = [(rng.randrange(size * 2), rng.randrange(size * 2)) for _ in range(rng.randint(3, 6))]
            d.polygon(pts, fill=colour, outline=(20, 20, 20), width=6)
        else:
            getattr(d, shape)((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=colour, outline=(20, 20, 20), width=6)
    return big.resize((size, size), Image.LANCZOS)


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


def beauty_filter(im: Image.Image, box, sigma_colour: float, reach: float = 0.03) -> Image.Image:
    """A beauty app's skin smoothing: an edge-preserving (bilateral, Photoshop "surface blur") filter with
    colour σ `sigma_colour` and a reach of `reach` × the face width, over a feathered oval around the face."""
    import cv2

    left, top, right, bottom = box
    wf = right - left
    smooth = cv2.bilateralFilter(np.ascontiguousarray(np.asarray(im)), -1, sigma_colour, max(1.0, reach * wf))
    mask = Image.new("L", im.size, 0)
    ImageDraw.Draw(mask).ellipse((left - 0.1 * wf, top - 0.2 * wf, right + 0.1 * wf, bottom + 0.15 * wf), fill=255)
    return Image.composite(Image.fromarray(smooth), im, mask.filter(ImageFilter.GaussianBlur(0.05 * wf)))


def denoised_high_iso(im: Image.Image, sigma: float = 12, strength: float = 14) -> Image.Image:
    """A high-ISO shot (Gaussian grain σ) cleaned by non-local-means noise reduction (OpenCV)."""
    import cv2

    noisy = np.ascontiguousarray(np.asarray(add_noise(im, sigma)))
    return Image.fromarray(cv2.fastNlMeansDenoisingColored(noisy, None, strength, strength, 7, 21))

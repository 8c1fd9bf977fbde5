"""Damage done to real pictures in tests and benches alike: noise, blur, upscaling, JPEG, noise reduction,
shallow depth of field, beauty smoothing, and procedural flat-colour art. One definition of each, so that a
test and the bench that measures the same check build the same cases (bench/quality_cases.py imports these).

Strengths are stated for a 1024-px image; `scaled=True` scales them to the picture's long side (a 2-px blur at
1024 px is a 1-px blur at 512 px), as the benches do.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scale_of(im: Image.Image) -> float:
    return max(im.size) / 1024


def add_noise(im: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    """Gaussian grain of σ (8-bit units) on every channel."""
    rng = np.random.default_rng(seed)
    a = np.asarray(im, dtype=np.float32)
    return Image.fromarray(np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).round().astype(np.uint8))


def blur(im: Image.Image, sigma: float) -> Image.Image:
    """A Gaussian blur of σ px at 1024 px (scaled to the picture)."""
    return im.filter(ImageFilter.GaussianBlur(sigma * scale_of(im)))


def upscaled(im: Image.Image, k: float) -> Image.Image:
    """Reduced k× (Lanczos) and enlarged back (bicubic): the file's size, 1/k of its detail."""
    w, h = im.size
    small = (max(8, round(w / k)), max(8, round(h / k)))
    return im.resize(small, Image.Resampling.LANCZOS).resize((w, h), Image.Resampling.BICUBIC)


def jpeg(im: Image.Image, q: int) -> Image.Image:
    b = io.BytesIO()
    im.save(b, "JPEG", quality=q)
    return Image.open(io.BytesIO(b.getvalue()))


def noise_reduced(im: Image.Image, sigma: float = 10) -> Image.Image:
    """High-ISO shot cleaned by noise reduction: grain added, then a strong edge-preserving-ish smoothing."""
    return add_noise(im, sigma).filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.SMOOTH_MORE)


def shallow_dof(
    im: Image.Image, background_blur: float = 8, feather: float = 6, scaled: bool = True, focus: str = "centre"
) -> Image.Image:
    """A sharp subject (an ellipse 40 % × 50 % of the frame) on a strongly defocused background. `focus`
    "centre" puts it in the middle; "detail" where the picture holds the most detail, as a photographer focuses
    on the subject (a sunset whose only edges are at the horizon keeps the horizon sharp)."""
    k = scale_of(im) if scaled else 1.0
    return Image.composite(
        im, im.filter(ImageFilter.GaussianBlur(background_blur * k)), _subject_mask(im, focus, feather * k)
    )


def _subject_mask(im: Image.Image, focus: str, feather: float) -> Image.Image:
    """255 on the subject (an ellipse 40 % × 50 % of the frame, feathered), 0 elsewhere; see shallow_dof's `focus`."""
    w, h = im.size
    cx, cy = w * 0.5, h * 0.5
    if focus == "detail":
        small = np.asarray(im.convert("L").resize((64, max(1, round(64 * h / w)))), dtype=np.float32)
        g = np.zeros_like(small)
        g[:, 1:] += np.abs(np.diff(small, axis=1))
        g[1:, :] += np.abs(np.diff(small, axis=0))
        sh, sw = g.shape
        eh, ew = max(1, round(sh * 0.5)), max(1, round(sw * 0.4))
        c = np.pad(g.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        sums = c[eh:, ew:] - c[:-eh, ew:] - c[eh:, :-ew] + c[:-eh, :-ew]  # energy of every window of the ellipse's size
        r, q = np.unravel_index(int(np.argmax(sums)), sums.shape)
        cx, cy = (q + ew / 2) * w / sw, (r + eh / 2) * h / sh
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((cx - w * 0.2, cy - h * 0.25, cx + w * 0.2, cy + h * 0.25), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(feather))


def motion_blur(im: Image.Image, length: float, where: str = "background", angle: float = 0.0) -> Image.Image:
    """Motion blur of `length` px at 1024 px (scaled to the picture), horizontal as a pan or a passing subject, or
    at `angle` degrees from the horizontal (clockwise on screen: 45 runs down to the right), where it happens in a
    real shot: "background" — a panning shot, the subject (where the picture holds its detail) sharp and
    everything else streaked; "subject" — a moving subject streaked on a sharp, still scene."""
    k = scale_of(im)
    rgb = im.convert("RGB")
    a = np.asarray(rgb, dtype=np.float32)
    if angle % 180:
        # n one-pixel steps along the streak's major axis (the other axis follows, rounded): a streak `length` long
        dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        major = max(abs(dx), abs(dy))
        n = max(1, round(length * k * major))
        offsets = [(round((i - n // 2) * dy / major), round((i - n // 2) * dx / major)) for i in range(n)]
        pad = n + 1
        padded = np.pad(a, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        h, w = a.shape[:2]
        streaked = sum(padded[pad + oy : pad + oy + h, pad + ox : pad + ox + w] for oy, ox in offsets) / n
    else:
        n = max(1, round(length * k))
        padded = np.pad(a, ((0, 0), (n // 2 + 1, n - n // 2), (0, 0)), mode="edge")
        c = padded.cumsum(axis=1)
        streaked = (c[:, n:][:, : a.shape[1]] - c[:, :-n][:, : a.shape[1]]) / n  # mean of n pixels along each row
    moved = Image.fromarray(np.clip(streaked, 0, 255).round().astype(np.uint8))
    mask = _subject_mask(im, "detail", 6 * k)
    if where == "subject":
        return Image.composite(moved, rgb, mask)
    return Image.composite(rgb, moved, mask)


def flat_art(seed: int, size: int = 1024) -> Image.Image:
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
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            getattr(d, shape)(box, fill=colour, outline=(20, 20, 20), width=6)
    return big.resize((size, size), Image.Resampling.LANCZOS)


def beauty_filter(
    im: Image.Image, box: tuple[float, float, float, float], sigma_colour: float, reach: float = 0.03
) -> Image.Image:
    """A beauty app's skin smoothing: an edge-preserving (bilateral, Photoshop "surface blur") filter with
    colour σ `sigma_colour` and a reach of `reach` × the face width, over a feathered oval around the face
    (`box` in pixels)."""
    import cv2

    left, top, right, bottom = box
    wf = right - left
    smooth = cv2.bilateralFilter(np.ascontiguousarray(np.asarray(im)), -1, sigma_colour, max(1.0, reach * wf))
    mask = Image.new("L", im.size, 0)
    ImageDraw.Draw(mask).ellipse((left - 0.1 * wf, top - 0.2 * wf, right + 0.1 * wf, bottom + 0.15 * wf), fill=255)
    return Image.composite(Image.fromarray(smooth), im, mask.filter(ImageFilter.GaussianBlur(0.05 * wf)))


def denoised_high_iso(im: Image.Image, sigma: float = 12, strength: float = 14, seed: int = 0) -> Image.Image:
    """A high-ISO shot (Gaussian grain σ) cleaned by non-local-means noise reduction (OpenCV)."""
    import cv2

    noisy = np.ascontiguousarray(np.asarray(add_noise(im, sigma, seed)))
    return Image.fromarray(cv2.fastNlMeansDenoisingColored(noisy, None, strength, strength, 7, 21))

"""Over-smoothed skin (BLR002) on real portrait bytes smoothed in the test: a beauty filter (bilateral
"surface blur" over the face) and a high-ISO shot cleaned by noise reduction are called over-smoothed, not
soft; a blurred portrait is soft (BLR001), not over-smoothed; untouched portraits and pictures without a
face are not judged smoothed. The skin measure falls monotonically with the filter's strength."""

from __future__ import annotations

import io

import degrade
import numpy as np
import pytest
from conftest import PHOTOS, by_path, codes
from degrade import beauty_filter
from PIL import Image, ImageFilter

faces = pytest.importorskip("curate.extract.faces")
cv2 = pytest.importorskip("cv2")  # opencv-python-headless comes with the text detector (rapidocr)
from curate.extract.decode import Limits, decode_image  # noqa: E402

pytestmark = [
    pytest.mark.faces,
    pytest.mark.slow,
    pytest.mark.skipif(faces.available() is not None, reason="dlib / face models not installed"),
]


def photo(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as im:
        return im.convert("RGB")


def face_features(im: Image.Image) -> dict:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    found = faces.compute(decode_image(buf.getvalue(), Limits()))["faces"]
    assert found, "no face found"
    return found[0]


def beauty(im: Image.Image, sigma_colour: float) -> Image.Image:
    """A beauty app's skin smoothing over the face curate finds (tests/degrade.py; reach 5 % of the face)."""
    x0, y0, x1, y1 = face_features(im)["box"]
    return beauty_filter(im, (x0 * im.width, y0 * im.height, x1 * im.width, y1 * im.height), sigma_colour, 0.05)


def denoised_high_iso(im: Image.Image) -> Image.Image:
    return degrade.denoised_high_iso(im, sigma=12, strength=14, seed=5)


@pytest.mark.parametrize("name", ["astronaut.jpg", "grace_hopper.jpg"])
def test_skin_texture_falls_with_smoothing_strength(name):
    im = photo(name)
    texture = [face_features(beauty(im, s) if s else im)["skin_texture"] for s in (0, 20, 35, 60)]
    assert texture == sorted(texture, reverse=True) and len(set(texture)) == 4, texture
    assert texture[0] >= 1.9  # untouched skin is never flat
    assert texture[-1] <= 0.6 * texture[0]


def test_audit_calls_smoothed_skin_over_smoothed_not_soft(tmp_path, audit_json):
    d = tmp_path / "person"
    d.mkdir()
    astro, hopper = photo("astronaut.jpg"), photo("grace_hopper.jpg")
    astro.save(d / "astronaut.png")
    hopper.save(d / "hopper.png")
    astro.save(d / "astronaut_q60.jpg", quality=60)
    beauty(astro, 60).save(d / "astronaut_beauty.png")
    denoised_high_iso(astro).save(d / "astronaut_denoised.png")
    denoised_high_iso(hopper).save(d / "hopper_denoised.png")
    astro.filter(ImageFilter.GaussianBlur(1.25)).save(d / "astronaut_blurred.png")
    coffee = photo("coffee.jpg")
    Image.fromarray(cv2.bilateralFilter(np.asarray(coffee), -1, 60, 10)).save(d / "coffee_smoothed.png")
    _, report = audit_json(d, "--profile", "person", "--select", "blur")
    for name in ("astronaut_beauty.png", "astronaut_denoised.png", "hopper_denoised.png"):
        assert codes(report, name) == ["BLR002"], name
    for name in ("astronaut.png", "hopper.png", "astronaut_q60.jpg", "coffee_smoothed.png"):
        assert codes(report, name) == [], name
    assert codes(report, "astronaut_blurred.png") == ["BLR001"]
    f = by_path(report)["astronaut_beauty.png"]["findings"][0]
    assert f["category"] == "blur" and f["severity"] == "warning" and "over-smoothed skin" in f["message"]
    assert f["evidence"]["skin_texture"] < 1.35 and len(f["evidence"]["face_box"]) == 4
    assert f["evidence"]["face_width_px"] >= 80
    # Off by default outside the person profile (the faces pass is not run for it there).
    _, general = audit_json(d, "--select", "blur")
    assert "BLR002" not in {f["code"] for img in general["images"] for f in img["findings"]}

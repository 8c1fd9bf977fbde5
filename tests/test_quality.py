"""Image-quality forensics on real photo bytes degraded in the test: noise, softness, upscaling, compression.
Each measurement must move monotonically with the strength of the damage; clean photos, a sharp subject on
a blurred background, and flat-colour art stay unflagged."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import PHOTOS, by_path
from degrade import add_noise, blur, flat_art, motion_blur, shallow_dof, upscaled
from PIL import Image

from curate.extract import quality
from curate.extract.decode import Limits, decode_image

QUALITY = {"noise", "blur", "upscaled", "compression"}
PHOTO_NAMES = ["motorcycle.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg"]


def photo(name="motorcycle.jpg") -> Image.Image:
    with Image.open(PHOTOS / name) as im:
        return im.convert("RGB")


def measure(im: Image.Image, fmt="PNG", **save) -> dict:
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return quality.compute(decode_image(buf.getvalue(), Limits()))


def noisy(im, sigma):
    return add_noise(im, sigma, seed=1)


@pytest.mark.parametrize("name", PHOTO_NAMES[:2])
def test_noise_estimate_rises_with_added_noise(name):
    im = photo(name)
    sigmas = [measure(noisy(im, s))["noise_sigma"] for s in (0, 4, 8, 16)]
    assert sigmas == sorted(sigmas) and sigmas[0] < 3 and 6 < sigmas[2] < 10 and 12 < sigmas[3] < 19
    chroma = [measure(noisy(im, s))["chroma_noise_sigma"] for s in (0, 8)]
    assert chroma[0] < 1 < chroma[1]


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_real_detail_falls_with_blur_and_upscaling(name):
    im = photo(name)
    blurred = [measure(blur(im, s) if s else im) for s in (0, 1, 2, 3, 4)]
    detail = [m["detail_fraction"] for m in blurred]
    assert detail == sorted(detail, reverse=True) and detail[0] == 1.0 and detail[2] <= 0.6
    assert blurred[0]["edge_sharpness"] > blurred[2]["edge_sharpness"]
    ups = [measure(upscaled(im, k) if k > 1 else im)["detail_fraction"] for k in (1, 1.5, 2, 3, 4)]
    assert ups == sorted(ups, reverse=True) and ups[0] == 1.0 and ups[2] <= 0.7
    # the detail estimate tracks the true factor: a 2× upscale keeps about half the detail
    assert 0.4 <= ups[2] <= 0.7


@pytest.mark.parametrize("q", [10, 20, 35, 50, 75, 90, 95])
def test_jpeg_quality_is_read_from_the_quantisation_table(q):
    assert measure(photo(), "JPEG", quality=q)["jpeg_quality"] == q


def test_blockiness_survives_resaving_as_png():
    im = photo()
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=15)
    resaved = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    assert measure(resaved)["blockiness"] > 1.45 > measure(im)["blockiness"]


@pytest.fixture
def quality_folder(tmp_path):
    d = tmp_path / "q"
    d.mkdir()
    for name in PHOTO_NAMES:
        stem = name.split(".")[0]
        im = photo(name)
        im.save(d / f"clean_{stem}.png")
        shallow_dof(im, background_blur=6, feather=4, scaled=False).save(d / f"dof_{stem}.png")
        motion_blur(im, 16, "background").save(d / f"panning_{stem}.png")  # soft by nature: no finding
        noisy(im, 12).save(d / f"noisy_{stem}.png")
        blur(im, 2.5).save(d / f"blurred_{stem}.png")
        upscaled(im, 2.5).save(d / f"upscaled_{stem}.png")
        im.save(d / f"jpeg20_{stem}.jpg", quality=20)
    flat_art(3, 768).save(d / "flat_art.png")
    flat_art(7, 768).save(d / "flat_art2.png")
    return d


def test_audit_flags_the_damage_and_spares_clean_pictures(quality_folder, audit_json):
    _, report = audit_json(quality_folder, "--base-model", "sd15", "--select", "noise,blur,upscaled,compression")
    cats = {i["path"]: {f["category"] for f in i["findings"]} for i in report["images"]}
    for name in PHOTO_NAMES:
        stem = name.split(".")[0]
        assert cats[f"clean_{stem}.png"] == set(), stem
        assert cats[f"dof_{stem}.png"] == set(), stem
        assert cats[f"panning_{stem}.png"] == set(), stem
        assert "noise" in cats[f"noisy_{stem}.png"], stem
        assert "blur" in cats[f"blurred_{stem}.png"], stem
        assert "upscaled" in cats[f"upscaled_{stem}.png"], stem
        assert "compression" in cats[f"jpeg20_{stem}.jpg"], stem
    assert cats["flat_art.png"] == set() and cats["flat_art2.png"] == set()


def test_quality_evidence_in_the_json(quality_folder, audit_json):
    _, report = audit_json(quality_folder, "--base-model", "sdxl", "--select", "noise,blur,upscaled,compression")
    imgs = by_path(report)
    f = {x["code"]: x for x in imgs["upscaled_motorcycle.png"]["findings"]}
    ups = f.get("UPS001") or f["UPS002"]
    assert {"detail_fraction", "effective_width", "effective_height", "upscaled_by", "resolution"} <= set(
        ups["evidence"]
    )
    assert "real detail ≈" in ups["message"] and ups["severity"] == "error"  # 741 px file, ~300 px of detail, SDXL
    noise = next(x for x in imgs["noisy_motorcycle.png"]["findings"] if x["category"] == "noise")
    assert noise["code"] in ("NOI001", "NOI002") and noise["evidence"]["noise_sigma"] >= 8  # added σ = 12
    jpg = next(x for x in imgs["jpeg20_motorcycle.jpg"]["findings"] if x["category"] == "compression")
    assert jpg["code"] == "CMP001" and jpg["evidence"]["jpeg_quality"] == 20
    soft = next(x for x in imgs["blurred_motorcycle.png"]["findings"] if x["category"] == "blur")
    assert {"reference_edge_sharpness", "reference_detail_fraction", "reference_px"} <= set(soft["evidence"])


def test_motion_blur_streaks_along_rows_where_asked():
    """The bench's motion cases (tests/degrade.py): a pan streaks everything but the subject, along rows."""
    a = np.asarray(photo().convert("L"), dtype=np.float64)
    pan = np.asarray(motion_blur(photo(), 16, "background").convert("L"), dtype=np.float64)
    moving = np.asarray(motion_blur(photo(), 12, "subject").convert("L"), dtype=np.float64)

    def across(x: np.ndarray, axis: int) -> float:
        return float(np.abs(np.diff(x, axis=axis)).mean())

    assert across(pan, 1) < 0.6 * across(a, 1)  # detail along rows mostly gone
    assert across(pan, 1) / across(a, 1) < across(pan, 0) / across(a, 0) - 0.15  # less so across rows
    assert across(pan, 1) < across(moving, 1) < across(a, 1)  # a moving subject streaks less of the frame


def test_diagonal_motion_streaks_along_the_diagonal():
    """The bench's motion at an angle: at 45° both axes lose detail alike and the 45° diagonal keeps it
    (neighbours along the streak stay alike)."""
    a = np.asarray(photo().convert("L"), dtype=np.float64)
    d = np.asarray(motion_blur(photo(), 16, "background", angle=45).convert("L"), dtype=np.float64)
    rows, columns = (float(np.abs(np.diff(d, axis=ax)).mean() / np.abs(np.diff(a, axis=ax)).mean()) for ax in (1, 0))
    along = float(np.abs(d[1:, 1:] - d[:-1, :-1]).mean() / np.abs(a[1:, 1:] - a[:-1, :-1]).mean())
    across = float(np.abs(d[1:, :-1] - d[:-1, 1:]).mean() / np.abs(a[1:, :-1] - a[:-1, 1:]).mean())
    assert abs(rows - columns) < 0.1 and along < across - 0.1 and rows < 0.8


@pytest.mark.parametrize("factor", [1.5, 2.5, 3])
def test_resampling_leaves_a_period_that_blur_and_motion_do_not(factor):
    """resampling_periodicity (the enlargement model's input): an enlargement's second derivative repeats with its
    period on both axes (1/3 cycles/px at 1.5× and 3×, 0.2 and 0.4 at 2.5×: off JPEG's grid); a blurred, streaked
    or untouched photo shows no such peak. (An exact 2× or 4× with centred sampling puts every pixel at mirrored
    offsets and leaves little: the model has the spectrum for those.)"""

    def weakest(im: Image.Image) -> float:
        rows, columns = measure(im)["resampling_periodicity"]  # each [off grid, at 0.5, at 0.25]
        return min(rows[0], columns[0])

    enlarged = weakest(upscaled(photo(), factor))
    for other in (photo(), blur(photo(), 2), motion_blur(photo(), 16, "background")):
        assert enlarged > weakest(other) + 0.5, factor


def test_periodicity_needs_a_picture_with_lines_to_read():
    assert quality.resampling_periodicity(np.zeros((200, 300), np.float32)) is None  # flat: no spectrum to read
    assert quality.resampling_periodicity(np.ones((40, 300), np.float32)) is None  # under 64 px


def test_the_spectrum_by_direction_tells_motion_from_enlargement():
    """spectrum_directions (the enlargement model's input): a horizontal pan takes the fine detail along rows and
    leaves it along columns; an enlargement takes it along both."""

    def fine(im: Image.Image) -> tuple[float, float]:
        rows, columns, _diagonal = measure(im)["spectrum_directions"][-2]  # 0.30–0.36 cycles/px
        return rows, columns

    clean = fine(photo())
    pan = fine(motion_blur(photo(), 16, "background"))
    enlarged = fine(upscaled(photo(), 2.5))
    assert len(quality.DIRECTION_BANDS) == len(measure(photo())["spectrum_directions"])
    assert pan[0] < clean[0] - 0.5 and pan[1] > clean[1] - 0.3  # rows lose detail, columns keep it
    assert enlarged[0] < clean[0] - 0.5 and enlarged[1] < clean[1] - 0.5

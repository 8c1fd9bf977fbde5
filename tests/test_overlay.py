"""The mark detector (curate/extract/overlay.py): the shipped ONNX model on real photo bytes with marks drawn in the
test, what the marks extractor stores, and how the classifier weighs it against what the text detector reads."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
from builders import overlay_features, text_region
from conftest import real_photo
from PIL import Image, ImageDraw, ImageFont

from curate.derive.marks import classify, hot_box, overlay_under, quoted
from curate.extract import marks as marks_extractor
from curate.extract import overlay, text_marks
from curate.extract.decode import Decoded
from curate.rules import load_settings

SETTINGS = load_settings()
CONF = SETTINGS.cfg.marks
WORDS = SETTINGS.data["mark_words"]

needs_model = pytest.mark.skipif(overlay.available() is not None, reason="onnxruntime not installed")


def photo(name: str = "coffee.jpg", width: int = 1024) -> Image.Image:
    im = real_photo(name)
    return im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)


def logo_mark(im: Image.Image, opacity: float, where: str = "centre") -> Image.Image:
    """A ring-and-star emblem with a name under it, white, semi-transparent: an estate agent's or shop's mark."""
    w, h = im.size
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    fill = (255, 255, 255, round(255 * opacity))
    s = w // 4 if where == "centre" else w // 10
    cx, cy = (w // 2, h // 2 - s // 4) if where == "centre" else (w - s, h - s)
    d.ellipse((cx - s // 2, cy - s // 2, cx + s // 2, cy + s // 2), outline=fill, width=max(3, s // 12))
    d.polygon([(cx, cy - s // 3), (cx + s // 4, cy + s // 5), (cx - s // 4, cy + s // 5)], fill=fill)
    font = ImageFont.load_default(size=max(12, s // 4))
    d.text((cx, cy + s // 2 + 4), "Harbour Homes", font=font, fill=fill, anchor="ma")
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


# --- the shipped model --------------------------------------------------------------------------------------------


def test_the_model_card_and_the_extractor_agree_on_the_model_version():
    card = overlay.card()
    assert card, "curate/data/mark_detector.json is missing"
    assert card["version"] == marks_extractor.MODEL_VERSION, "bump marks.MODEL_VERSION (and VERSION) after retraining"
    assert card["input"] == [3, overlay.INPUT, overlay.INPUT] and card["grid"] == overlay.GRID
    size = resources.files("curate.data").joinpath(overlay.MODEL_FILE).read_bytes()
    assert 100_000 < len(size) <= 10_000_000  # the budget: weights of at most 10 MB ship in the package


@needs_model
@pytest.mark.parametrize("name", ["rocket.jpg", "hubble.jpg"])
def test_a_shops_logo_and_name_in_the_corner_is_seen_there_and_the_clean_photo_is_not(name):
    """What this first model sees reliably: a near-opaque corner mark (its weak cases — large faint marks across the
    middle — are measured in docs/benchmarks.md, not asserted here)."""
    clean = photo(name)
    p_clean, p_marked = overlay.probability_map(clean), overlay.probability_map(logo_mark(clean, 0.9, "corner"))
    assert p_marked.max() >= CONF.overlay_min_probability > p_clean.max()
    y, x = np.unravel_index(p_marked.argmax(), p_marked.shape)
    assert x / overlay.GRID > 0.75 and y / overlay.GRID > 0.75  # the mark is in the bottom-right corner


@needs_model
def test_what_the_extractor_stores():
    out = overlay.compute(logo_mark(photo(), 0.6, "corner"))
    assert out["model"] == overlay.card()["version"]
    assert 0 <= out["probability"] <= 1
    grid = overlay.decode_map(out["map"])
    assert grid.shape == (overlay.STORED, overlay.STORED)
    assert abs(float(grid.max()) - out["probability"]) <= 0.011  # the stored map keeps the strongest cell
    json.dumps(out)  # cacheable as JSON


def test_detector_input_is_the_same_resampling_for_any_mode():
    im = photo().convert("RGBA")
    x = overlay.detector_input(im)
    assert x.size == (overlay.INPUT, overlay.INPUT) and x.mode == "RGB"
    assert np.array_equal(np.asarray(x), np.asarray(overlay.detector_input(im.convert("RGB"))))


# --- the classifier with the detector's map (synthetic maps: the rules, not the model) -----------------------------


def features(texts: list[dict], hot=None, value: int = 99) -> dict:
    return {"texts": texts, "overlay": overlay_features(hot or [], value)}


def region(text: str, box: list[float]) -> dict:
    return text_region(text, tuple(box), height=box[3] - box[1])


BOTTOM_RIGHT = [0.8, 0.92, 0.97, 0.97]
BR_CELLS = [(22, 20), (22, 21), (22, 22), (23, 21)]


def test_weak_reasons_without_an_overlay_are_scene_text():
    # "Sports Centre" style: a credit-like or agency-like word on a sign; no overlay under it
    texts = [region("Mika Photo Studio", [0.3, 0.4, 0.6, 0.45])]
    without = classify(features(texts), CONF, WORDS)
    assert [m.kind for m in without] == ["text"]
    with_overlay = classify(features(texts, [(10, 10), (10, 11)]), CONF, WORDS)
    assert [m.kind for m in with_overlay] == ["watermark"]
    assert with_overlay[0].overlay is not None and with_overlay[0].overlay >= CONF.overlay_min_region
    assert any("laid over the picture" in r for r in with_overlay[0].reasons)


def test_strong_reasons_stay_a_watermark_whatever_the_detector_says():
    for text in ("© Mika Sato", "@mika_art", "www.mika.com", "SAMPLE"):
        found = classify(features([region(text, BOTTOM_RIGHT)]), CONF, WORDS)
        assert [m.kind for m in found] == ["watermark"], text


def test_a_name_near_a_corner_is_a_signature_only_where_the_detector_sees_an_overlay():
    texts = [region("Mika S.", BOTTOM_RIGHT)]
    assert [m.kind for m in classify(features(texts, BR_CELLS), CONF, WORDS)] == ["signature"]
    assert [m.kind for m in classify(features(texts), CONF, WORDS)] == ["text"]  # a gate plaque, a shop name


def test_a_mark_with_no_readable_text_is_a_watermark_from_the_detector():
    found = classify(features([], BR_CELLS), CONF, WORDS)
    assert len(found) == 1
    m = found[0]
    assert (m.kind, m.source, m.text) == ("watermark", "detector", "")
    assert m.placement == "corner" and m.box[0] >= 0.8 and m.box[3] == 1.0
    assert "mark detector" in m.reasons[0] and m.evidence()["source"] == "detector"
    assert quoted(found) == "(a logo or mark with no readable text)"
    # below the picture-level threshold: nothing
    weak = round(100 * CONF.overlay_min_probability) - 5
    assert classify(features([], BR_CELLS, weak), CONF, WORDS) == []


def test_the_detector_adds_nothing_when_text_already_explains_the_mark():
    found = classify(features([region("© Mika Sato", BOTTOM_RIGHT)], BR_CELLS), CONF, WORDS)
    assert [(m.kind, m.source) for m in found] == [("watermark", "text")]


def test_without_the_detector_the_text_rules_decide_alone():
    texts = [region("Mika S.", BOTTOM_RIGHT)]
    assert [m.kind for m in classify({"texts": texts}, CONF, WORDS)] == ["signature"]
    assert classify({"texts": texts}, CONF, WORDS)[0].overlay is None


def test_overlay_under_and_hot_box():
    g = np.zeros((24, 24), np.float32)
    g[22, 21] = 0.8
    assert overlay_under(g, BOTTOM_RIGHT) == 0.8
    assert overlay_under(g, [0.0, 0.0, 0.2, 0.2]) == 0.0
    assert hot_box(g, 0.5) == [round(21 / 24, 4), round(22 / 24, 4), round(22 / 24, 4), round(23 / 24, 4)]


# --- a missing or broken model: one line, never a crash ------------------------------------------------------------


# each bundled detector: its model, its key in the marks features and in the JSON's analyses, the console's line
DETECTORS = {
    "mark detector": (
        overlay.MODEL,
        "overlay",
        "mark_detector",
        ("the mark detector did not run on 1 image", "readable text only"),
    ),
    "text-feature head": (
        text_marks.HEAD,
        "text_overlay",
        "text_mark_head",
        ("the second mark detector (over the text detector's features) did not run on 1 image",),
    ),
}


@pytest.mark.parametrize("detector", list(DETECTORS))
@pytest.mark.parametrize("model", [None, b"not an onnx model"], ids=["missing", "corrupt"])
def test_a_missing_or_broken_model_is_one_line_and_the_text_marks_still_run(
    tmp_path, run, audit_json, monkeypatch, model, detector
):
    pytest.importorskip("rapidocr")
    bundled, key, analysis, console_lines = DETECTORS[detector]
    folder = tmp_path / "data"
    folder.mkdir()
    im = photo()
    draw = ImageDraw.Draw(im)
    draw.text((im.width - 20, im.height - 20), "© Mika Sato", font=ImageFont.load_default(size=30), anchor="rd")
    im.save(folder / "a.png")
    monkeypatch.setattr(bundled, "model_bytes", lambda: model)
    bundled.clear()
    try:
        found = marks_extractor.compute(Decoded(b"", photo()))
        reason = found[key]["error"]
        assert ("missing" if model is None else "cannot be loaded") in reason and "\n" not in reason
        other = "text_overlay" if key == "overlay" else "overlay"
        assert "texts" in found and "probability" in found[other]  # the text marks and the other detector ran
        _, report = audit_json(folder, "--select", "WMK,SIG,TXT")
        marks = report["analyses"]["marks"]
        assert marks["status"] == "ok" and set(marks) - {"status", "reason"} == {analysis}
        assert (marks[analysis]["status"], marks[analysis]["images"], marks[analysis]["reason"]) == (
            "skipped",
            1,
            reason,
        )
        assert [f["code"] for f in report["images"][0]["findings"]] == ["WMK001"]  # the text still decides
        _, out, _ = run("audit", str(folder), "--select", "WMK", "--jobs", "1", "--no-cache")
        assert all(line in " ".join(out.split()) for line in console_lines)
    finally:
        bundled.clear()


def test_text_the_caption_quotes_is_part_of_the_scene():
    texts = [region("Car Parks", BOTTOM_RIGHT)]
    cap = "a photo of a street, a sign that says car parks"
    assert [m.kind for m in classify(features(texts, BR_CELLS), CONF, WORDS)] == ["signature"]
    assert [m.kind for m in classify(features(texts, BR_CELLS), CONF, WORDS, caption=cap)] == ["text"]
    # ownership marks stay marks even when a caption repeats them
    owned = [region("© Mika Sato", BOTTOM_RIGHT)]
    found = classify(features(owned, BR_CELLS), CONF, WORDS, caption="photo, © mika sato")
    assert [m.kind for m in found] == ["watermark"]


def test_a_mark_the_detector_sees_in_several_places_is_said_to_repeat():
    cells = [(2, 2), (2, 3), (10, 12), (20, 5), (21, 5)]
    (m,) = classify(features([], cells), CONF, WORDS)
    assert m.repeated == 3 and m.repeated >= CONF.min_repeats
    (one,) = classify(features([], BR_CELLS), CONF, WORDS)
    assert one.repeated == 1

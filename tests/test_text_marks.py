"""The second mark detector (curate/extract/text_marks.py): the text detector's neck read from the same run, pooled
to the mark grid, the shipped head on real photo bytes with marks drawn in the test, and how the classifier uses
its map beside the mark detector's."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

import numpy as np
import pytest
from builders import overlay_features, text_region
from conftest import real_photo
from PIL import Image, ImageDraw, ImageFont

from curate.derive.marks import classify
from curate.extract import marks as marks_extractor
from curate.extract import overlay, text_marks
from curate.extract.decode import Decoded
from curate.rules import load_settings

SETTINGS = load_settings()
CONF = SETTINGS.cfg.marks
WORDS = SETTINGS.data["mark_words"]

needs_ocr = pytest.mark.skipif(marks_extractor.available() is not None, reason="rapidocr not installed")
needs_head = pytest.mark.skipif(
    marks_extractor.available() is not None or text_marks.available() is not None, reason="rapidocr not installed"
)


def detector_bytes() -> bytes:
    import rapidocr

    return resources.files(rapidocr).joinpath("models", text_marks.DETECTOR_FILE).read_bytes()


def photo(name: str = "coffee.jpg", width: int = 1024) -> Image.Image:
    im = real_photo(name)
    return im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)


def tiled(im: Image.Image, text: str = "mika-sato.photo", opacity: float = 0.5) -> Image.Image:
    """A handle tiled over the picture at an angle, white, semi-transparent: a stock-preview mark."""
    w, h = im.size
    layer = Image.new("RGBA", (w * 2, h * 2), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(14, w // 30))
    for y in range(0, h * 2, h // 5):
        for x in range(0, w * 2, w // 3):
            d.text((x + (y // 3) % (w // 3), y), text, font=font, fill=(255, 255, 255, round(255 * opacity)))
    layer = layer.rotate(25, resample=Image.Resampling.BICUBIC).crop((w // 2, h // 2, w // 2 + w, h // 2 + h))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


# --- the text detector's neck, read from the same run ---------------------------------------------------------------


@needs_ocr
def test_the_outputs_added_by_hand_are_the_ones_the_onnx_package_adds():
    onnx = pytest.importorskip("onnx")
    raw = detector_bytes()
    model = onnx.load_from_string(raw)
    for name in text_marks.NECK:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    ours = onnx.load_from_string(text_marks.with_outputs(raw, text_marks.NECK))
    assert list(ours.graph.output) == list(model.graph.output)
    assert list(ours.graph.node) == list(model.graph.node)  # nothing else changed


def test_bytes_that_are_not_a_model_are_a_value_error():
    with pytest.raises(ValueError):
        text_marks.with_outputs(b"\x0b\x0c", ("a",))  # wire type 3: not protobuf that ONNX writes
    with pytest.raises(ValueError):
        text_marks.with_outputs(b"\x08\x07", ("a",))  # a valid field, but no graph


def test_pooling_is_an_area_mean_and_a_tiny_map_is_repeated_up_to_the_grid():
    a = np.arange(2 * 96 * 144, dtype=np.float32).reshape(2, 96, 144)
    p = text_marks.pool(a, 48)
    assert p.shape == (2, 48, 48)
    assert p[1, 0, 0] == pytest.approx(a[1, 0:2, 0:3].mean())
    assert p[0, 47, 47] == pytest.approx(a[0, 94:96, 141:144].mean())
    assert float(p.mean()) == pytest.approx(float(a.mean()), rel=1e-5)
    small = text_marks.pool(np.ones((1, 8, 10), np.float32), 48)
    assert small.shape == (1, 48, 48) and np.allclose(small, 1.0)


@needs_ocr
def test_the_whole_picture_pass_gives_the_features_and_the_same_text():
    rgb = marks_extractor.analysed_copy(tiled(photo()))
    plain = marks_extractor.read_text(rgb)
    seen: dict = {}
    with_features = marks_extractor.read_text(rgb, seen)
    assert with_features == plain  # reading the neck changes nothing the text detector finds
    grid = seen["grid"]
    assert grid.shape == (text_marks.CHANNELS, overlay.GRID, overlay.GRID) and grid.dtype == np.float32
    prob = grid[-1]  # the text probability, pooled: high where the tiled handle is
    assert 0 <= prob.min() and prob.max() <= 1 and prob.max() > 0.5


# --- the shipped head -------------------------------------------------------------------------------------------------


def test_the_head_card_names_its_version_and_the_extractor_follows_it():
    card = text_marks.card()
    assert card, "curate/data/text_mark_head.json is missing"
    assert card["version"] == marks_extractor.TEXT_HEAD_VERSION, "bump TEXT_HEAD_VERSION (and VERSION) after retraining"
    size = len(resources.files("curate.data").joinpath(text_marks.MODEL_FILE).read_bytes())
    assert 10_000 < size <= 10_000_000  # the budget for weights in the package


@needs_head
@pytest.mark.parametrize("name", ["coffee.jpg", "rocket.jpg"])
def test_a_tiled_handle_is_seen_and_the_clean_photo_is_not(name):
    clean = photo(name)
    out = {}
    for label, im in (("clean", clean), ("marked", tiled(clean))):
        found = marks_extractor.compute(Decoded(b"", im))
        out[label] = found["text_overlay"]
    assert out["marked"]["probability"] >= CONF.text_overlay_min_probability > out["clean"]["probability"]
    grid = overlay.decode_map(out["marked"]["map"])
    assert grid.shape == (overlay.STORED, overlay.STORED)
    assert abs(float(grid.max()) - out["marked"]["probability"]) <= 0.011
    assert (grid >= 0.5).mean() > 0.05  # seen across the picture, not in one spot
    json.dumps(out)


@needs_ocr
def test_another_text_detector_is_one_line(monkeypatch):
    class Engine:
        def _load_det_model(self):
            class Det:
                class session:  # noqa: N801
                    session = type("S", (), {"_model_path": "/models/some_other_det.onnx"})()

            return Det()

    reason = text_marks.attach(Engine())
    assert isinstance(reason, str) and text_marks.DETECTOR_FILE in reason


# --- the classifier with the head's map (synthetic maps: the rules, not the model) -------------------------------------


BOTTOM_RIGHT = [0.8, 0.92, 0.97, 0.97]
BR_CELLS = [(22, 20), (22, 21), (22, 22), (23, 21)]


def features(texts: list[dict], mark_cells=(), head_cells=(), value: int = 99, head_value: int = 100) -> dict:
    return {
        "texts": texts,
        "overlay": overlay_features(list(mark_cells), value),
        "text_overlay": overlay_features(list(head_cells), head_value),
    }


def test_a_mark_only_the_head_sees_is_a_watermark_saying_so():
    cells = [(2, 2), (2, 3), (10, 12), (20, 5), (21, 5)]
    (m,) = classify(features([], head_cells=cells), CONF, WORDS)
    assert (m.kind, m.source, m.text) == ("watermark", "text features", "")
    assert "text detector's features" in m.reasons[0] and m.repeated == 3
    assert CONF.text_overlay_min_probability > 0.99
    assert classify(features([], head_cells=cells, head_value=99), CONF, WORDS) == []  # under the picture threshold


def test_the_mark_detector_speaks_first_when_both_see_a_mark():
    (m,) = classify(features([], mark_cells=BR_CELLS, head_cells=BR_CELLS), CONF, WORDS)
    assert m.source == "detector"


def test_text_is_laid_over_where_either_detector_sees_an_overlay_when_the_head_region_test_is_on():
    # off by default (rules/checks.toml: it added scene-text false marks); a rules file can turn it on
    conf = dataclasses.replace(CONF, text_overlay_min_region=0.9)
    texts = [text_region("Mika S.", tuple(BOTTOM_RIGHT), height=0.05)]
    assert [m.kind for m in classify(features(texts), conf, WORDS)] == ["text"]  # neither: a plaque in the scene
    (by_head,) = classify(features(texts, head_cells=BR_CELLS, head_value=95), conf, WORDS)
    assert by_head.kind == "signature"
    assert [m.kind for m in classify(features(texts, head_cells=BR_CELLS, head_value=95), CONF, WORDS)] == ["text"]
    weak = [text_region("Mika Photo Studio", (0.3, 0.4, 0.6, 0.45), height=0.05)]
    (m,) = classify(features(weak, head_cells=[(10, 10), (10, 11)], head_value=95), conf, WORDS)
    assert m.kind == "watermark" and any("text detector's features" in r for r in m.reasons)


def test_text_where_the_head_sees_scene_text_is_not_laid_over_whatever_the_mark_detector_says():
    sign = [text_region("Sports Centre", tuple(BOTTOM_RIGHT), height=0.05)]
    # the mark detector is warm under the sign (over its region threshold, under its picture one); where the head
    # did not run, that makes it a signature
    assert CONF.overlay_min_region <= 0.8 < CONF.overlay_min_probability
    without_head = {"texts": sign, "overlay": overlay_features(BR_CELLS, 80)}
    assert [m.kind for m in classify(without_head, CONF, WORDS)] == ["signature"]
    # the head ran and its map under the sign stays below text_overlay_scene_below: scene text
    assert CONF.text_overlay_scene_below > 0.3
    cold = features(sign, mark_cells=BR_CELLS, value=80, head_cells=BR_CELLS, head_value=30)
    assert [m.kind for m in classify(cold, CONF, WORDS)] == ["text"]
    warm = features(
        sign, mark_cells=BR_CELLS, value=80, head_cells=BR_CELLS, head_value=round(100 * CONF.text_overlay_scene_below)
    )
    assert [m.kind for m in classify(warm, CONF, WORDS)] == ["signature"]
    # ownership marks stay marks: the veto only takes away weak reasons
    owned = [text_region("© Mika Sato", tuple(BOTTOM_RIGHT), height=0.05)]
    assert [m.kind for m in classify(features(owned, mark_cells=BR_CELLS, value=80), CONF, WORDS)] == ["watermark"]

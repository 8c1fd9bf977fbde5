"""WMK002: the same mark at the same place on several pictures (curate/derive/repeated_marks.py), on synthetic
marks features: readings and detector maps in, repeats out."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from builders import ctx, hx, overlay_features, record, text_region

from curate.checks import Context, load_all, repeated_mark, text
from curate.checks.registry import run_checks, run_one
from curate.derive.repeated_marks import _log_tail, detector_repeats, scenes, text_repeats
from curate.model import Caption, Finding
from curate.rules import load_settings

load_all()
CONF = load_settings().cfg.marks
CORNER = (0.72, 0.9, 0.96, 0.95)


def texts(*regions) -> dict:
    return {"texts": list(regions)}


def test_the_same_reading_at_the_same_place_is_one_repeat_naming_its_pictures():
    feats = [texts(text_region("Sakura Realty", CORNER))] * 3 + [texts(text_region("OPEN", (0.1, 0.1, 0.2, 0.15)))]
    (rep,) = text_repeats(feats, [""] * 4, CONF)
    assert rep.source == "text" and rep.text == "Sakura Realty" and rep.members == [0, 1, 2]
    assert rep.box == list(CORNER)


def test_readings_that_differ_as_ocr_varies_are_one_mark_and_other_words_are_not():
    feats = [
        texts(text_region("SAKURA REALTY", CORNER)),
        texts(text_region("SAKURA REALIY", (0.71, 0.9, 0.95, 0.95))),
        texts(text_region("SAKURA REAITY", (0.73, 0.89, 0.96, 0.95))),
        texts(text_region("FRESH FRUIT", CORNER)),
    ]
    (rep,) = text_repeats(feats, [""] * 4, CONF)
    assert rep.members == [0, 1, 2]


def test_text_that_moves_from_picture_to_picture_is_no_repeat():
    boxes = [(0.1, 0.1, 0.25, 0.15), (0.5, 0.4, 0.65, 0.45), (0.7, 0.8, 0.85, 0.85), (0.12, 0.6, 0.27, 0.65)]
    feats = [texts(text_region("OPEN", b)) for b in boxes]
    assert text_repeats(feats, [""] * 4, CONF) == []


def test_fewer_pictures_than_the_minimum_and_readings_on_one_picture_are_no_repeat():
    two = [texts(text_region("Sakura Realty", CORNER))] * (CONF.repeat_min_pictures - 1)
    assert text_repeats(two, [""] * len(two), CONF) == []
    tiled_on_one = [texts(*[text_region("Sakura Realty", CORNER)] * 5), texts()]
    assert text_repeats(tiled_on_one, ["", ""], CONF) == []


def test_text_the_caption_quotes_is_the_scenes():
    feats = [texts(text_region("Blue Bottle", CORNER))] * 4
    assert text_repeats(feats, ["abottlelabelledbluebottle"] * 4, CONF) == []
    assert len(text_repeats(feats, ["abottle"] * 4, CONF)) == 1


def test_unsure_and_short_readings_are_left_out():
    weak = [texts(text_region("Sakura Realty", CORNER, score=CONF.min_confidence - 0.01))] * 4
    short = [texts(text_region("AB", CORNER))] * 4
    assert text_repeats(weak, [""] * 4, CONF) == text_repeats(short, [""] * 4, CONF) == []


def _noise_maps(rng: np.random.Generator, n: int, share: float) -> list[np.ndarray]:
    """Maps cold but for `share` of the cells warm at random places."""
    return [np.where(rng.random((24, 24)) < share, 0.8, 0.05) for _ in range(n)]


def _features(maps: list[np.ndarray]) -> list[dict]:
    return [
        {"overlay": {"map": bytes(np.round(m * 100).astype(np.uint8)).hex(), "probability": float(m.max())}}
        for m in maps
    ]


def test_the_detector_warm_at_the_same_cells_on_several_pictures_is_a_repeat():
    rng = np.random.default_rng(1)
    maps = _noise_maps(rng, 30, 0.005)
    carried = [2, 5, 7, 9, 11, 13, 17, 19, 21, 23, 26, 29]
    for i in carried:
        maps[i][20:22, 18:23] = 0.9
    (rep,) = detector_repeats(_features(maps), CONF)
    assert rep.source == "detector" and rep.members == carried
    assert rep.box == [round(18 / 24, 4), round(20 / 24, 4), round(23 / 24, 4), round(22 / 24, 4)]
    assert rep.scores == [0.9] * len(carried)


def test_warm_cells_at_random_places_are_no_repeat_however_many_pictures():
    rng = np.random.default_rng(2)
    for n in (6, 40, 400):
        assert detector_repeats(_features(_noise_maps(rng, n, 0.02)), CONF) == []


def test_a_cell_the_detector_warms_on_many_pictures_needs_more_of_them_to_count():
    """The set's own share of warm cells is the chance: where the detector is warm everywhere, a few pictures
    warm at one place prove nothing."""
    rng = np.random.default_rng(3)
    maps = _noise_maps(rng, 20, 0.3)
    for i in (1, 4, 9):
        maps[i][0:2, 0:2] = 0.9
    assert detector_repeats(_features(maps), CONF) == []


def test_binomial_tail():
    n, p = 30, 0.05
    exact = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(4, n + 1))
    assert _log_tail(n, p, 4) == pytest.approx(math.log(exact), rel=1e-9)
    assert _log_tail(n, p, 0) == 0.0 and _log_tail(n, p, n + 1) == -math.inf


def _shop(i: int, **kw) -> object:
    return record(f"10_x/p{i}.jpg", marks=texts(text_region("KIRIN GOODS", CORNER)), **kw)


def test_wmk002_reports_each_picture_once_with_the_others_named():
    recs = [_shop(i) for i in range(4)]
    found = [f for f in run_one(repeated_mark.check, recs, ctx()) if isinstance(f, Finding)]
    assert [f.path for f in found] == [r.path for r in recs]
    f = found[0]
    assert f.code == "WMK002" and f.severity == "error" and "“KIRIN GOODS”" in f.message and "4 pictures" in f.message
    assert f.evidence["pictures"] == 4 and f.evidence["others"] == [r.path for r in recs[1:]]


def test_wmk002_counts_copies_of_one_picture_once():
    recs = [_shop(i, phash=hx(0), dhash=hx(0)) for i in range(2)] + [_shop(2)]
    assert [f for f in run_one(repeated_mark.check, recs, ctx()) if isinstance(f, Finding)] == []


def test_wmk002_leaves_pictures_wmk001_already_reports():
    recs = [_shop(i) for i in range(3)] + [
        record(
            "10_x/p3.jpg",
            marks=texts(text_region("KIRIN GOODS", CORNER), text_region("© Kirin", (0.1, 0.1, 0.2, 0.13))),
        )
    ]
    found = [f for f in run_one(repeated_mark.check, recs, ctx()) if isinstance(f, Finding)]
    assert [f.path for f in found] == [r.path for r in recs[:3]] and found[0].evidence["pictures"] == 4


def test_wmk002_respects_the_caption_and_the_minimum(tmp_path):
    quoted = [_shop(i, cap=Caption(f"10_x/p{i}.txt", "a bag printed with KIRIN GOODS")) for i in range(4)]
    assert [f for f in run_one(repeated_mark.check, quoted, ctx()) if isinstance(f, Finding)] == []
    rules = tmp_path / "rules.toml"
    rules.write_text("[marks]\nrepeat_min_pictures = 5\n")
    c = Context(load_settings(user_file=rules), ctx().base_model)
    assert [f for f in run_one(repeated_mark.check, [_shop(i) for i in range(4)], c) if isinstance(f, Finding)] == []


def test_detector_repeats_are_reported_as_a_mark_with_no_readable_text():
    random.seed(0)
    recs = []
    for i in range(12):
        cells = [(20, 18), (20, 19), (21, 18)] if i % 2 == 0 else [(random.randrange(24), random.randrange(24))]
        recs.append(record(f"10_x/p{i}.jpg", marks={"texts": [], "overlay": overlay_features(cells, 90)}))
    found = [f for f in run_one(repeated_mark.check, recs, ctx()) if isinstance(f, Finding)]
    assert [f.path for f in found] == [r.path for r in recs[::2]]
    assert (
        found[0].message.startswith("the same logo or mark (no readable text) at the bottom-right of 6 pictures")
        and found[0].evidence["source"] == "detector"
    )


def test_the_text_feature_heads_map_is_read_the_same_way_at_its_own_level():
    rng = np.random.default_rng(4)
    levels = {"overlay": CONF.repeat_map_level, "text_overlay": CONF.repeat_text_map_level}
    assert levels["overlay"] != levels["text_overlay"]
    between = sum(levels.values()) / 2  # warm for the detector with the lower level only
    maps = _noise_maps(rng, 20, 0.005)
    for i in range(0, 20, 2):
        maps[i][2:4, 3:9] = between
    for key, level in levels.items():
        feats = [{key: f["overlay"]} for f in _features(maps)]
        found = detector_repeats(feats, CONF, key)
        if level < between:
            (rep,) = found
            assert rep.members == list(range(0, 20, 2))
            assert rep.source == {"overlay": "detector", "text_overlay": "text features"}[key]
        else:
            assert found == []


def _layout(rng: np.random.Generator, base: np.ndarray | None = None, jitter: int = 0) -> str:
    cells = (
        rng.integers(0, 256, 192) if base is None else np.clip(base + rng.integers(-jitter, jitter + 1, 192), 0, 255)
    )
    return bytes(np.asarray(cells, dtype=np.uint8)).hex()


def test_shots_of_one_scene_are_one_picture_for_a_repeat():
    """A burst or a room shot from one spot keeps its sign at one place: one scene, however many shots."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, 192)
    limit = CONF.repeat_scene_max_colour
    one_scene = [_layout(rng, base, jitter=int(limit // 2)) for _ in range(6)]
    assert scenes(one_scene, CONF) == 1
    assert scenes([_layout(rng) for _ in range(6)], CONF) == CONF.repeat_min_pictures
    assert scenes(one_scene[:2] + [None], CONF) == CONF.repeat_min_pictures  # unknown: not said to be one scene
    recs = [_shop(i) for i in range(5)]
    for rec, layout in zip(recs, one_scene):
        rec.features["image"]["colour_layout"] = layout
    assert [f for f in run_one(repeated_mark.check, recs, ctx()) if isinstance(f, Finding)] == []
    recs[3].features["image"]["colour_layout"] = _layout(rng)
    recs[4].features["image"]["colour_layout"] = _layout(rng)
    assert len([f for f in run_one(repeated_mark.check, recs, ctx()) if isinstance(f, Finding)]) == 5


def test_text_a_repeat_reports_is_not_reported_as_text_in_the_picture_too():
    recs = [_shop(i) for i in range(3)]
    recs[0].features["marks"]["texts"].append(text_region("MARKET", (0.1, 0.1, 0.3, 0.15)))
    found = [f for f in run_one(text.check, recs[0], ctx()) if isinstance(f, Finding)]
    assert found and found[0].evidence["marks"][0]["text"] == "KIRIN GOODS"  # one picture alone: a repeat of one
    findings, _ = run_checks(recs, ctx())
    by_code = {(f.code, f.path): f for f in findings}
    assert ("WMK002", recs[1].path) in by_code and ("TXT001", recs[1].path) not in by_code
    assert [m["text"] for m in by_code[("TXT001", recs[0].path)].evidence["marks"]] == ["MARKET"]

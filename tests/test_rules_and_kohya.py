"""Rules as data (base models, profiles, overrides) and kohya's conventions (folders, config, buckets)."""

from __future__ import annotations

import pytest

from curate.kohya import (
    Buckets,
    load_config,
    make_buckets,
    parse_concept_folder,
    parse_resolution,
    plan_buckets,
    select_bucket,
)
from curate.rules import RulesError, load_settings, resolve_base_model


@pytest.mark.parametrize(
    "name, key, res",
    [
        ("sd15", "sd15", 512),
        ("SD1.5", "sd15", 512),
        ("sd2", "sd2", 768),
        ("sdxl", "sdxl", 1024),
        ("pony", "sdxl", 1024),
        ("Illustrious", "sdxl", 1024),
        ("flux", "flux", 1024),
        (None, "sdxl", 1024),
    ],
)
def test_base_models_and_aliases(name, key, res):
    m = resolve_base_model(name)
    assert (m.name, m.resolution) == (key, res)


def test_unknown_base_model_names_the_choices():
    with pytest.raises(RulesError, match="unknown base model 'sd9'.*sdxl"):
        resolve_base_model("sd9")


def test_profiles_override_defaults():
    general = load_settings()
    style = load_settings("style")
    person = load_settings("person")
    assert general.profile == "general"
    assert style.get("resolution", "error_upscale") < general.get("resolution", "error_upscale")
    assert person.severity("DUP002", "warning") == "error"
    assert general.severity("DUP002", "warning") == "warning"


def test_user_rules_file_wins_over_profile(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text(
        '[resolution]\nerror_upscale = 3.0\n[severity]\nCAP001 = "off"\n[profiles.person.severity]\nDUP002 = "info"\n'
    )
    s = load_settings("style", f)
    assert s.get("resolution", "error_upscale") == 3.0
    assert s.severity("CAP001", "warning") == "off"
    assert load_settings("person", f).severity("DUP002", "warning") == "info"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[resolution]\neror_upscale = 2\n", r"unknown key \[resolution\] eror_upscale"),
        ("[severity]\nRES001 = 'loud'\n", r"\[severity\] RES001 must be"),
        ('[resolution]\nerror_upscale = "big"\n', r"\[resolution\] error_upscale must be a number, not 'big'"),
        ("[noise]\nwarn_sigma = true\n", r"\[noise\] warn_sigma must be a number, not True"),
        ('[kohya]\nimage_extensions = ".png"\n', r"\[kohya\] image_extensions must be a list of quoted strings"),
        ("[bluur]\nmax_edge_sharpness = 0.5\n", r"unknown section \[bluur\]"),
        ("[profiles.mine.composition]\nmax_same = 2.5\n", r"profile 'mine': \[composition\] max_same must be a whole"),
        ("not toml at all [", "cannot read rules file"),
    ],
)
def test_bad_rules_files_are_refused(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(RulesError, match=message):
        load_settings(None, f)


def test_unknown_profile():
    with pytest.raises(RulesError, match="unknown profile 'portrait'"):
        load_settings("portrait")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("10_hanako woman", (10, "hanako woman")),
        ("1_style", (1, "style")),
        ("3_", (3, "")),
        ("hanako", None),
        ("_10 x", None),
        ("img", None),
    ],
)
def test_concept_folder_names(name, expected):
    assert parse_concept_folder(name) == expected


@pytest.mark.parametrize("value, expected", [(512, (512, 512)), ([768, 512], (768, 512)), ("1024,768", (1024, 768))])
def test_resolution_forms(value, expected):
    assert parse_resolution(value) == expected


def test_bad_resolution():
    with pytest.raises(RulesError):
        parse_resolution("big")


def test_sdxl_buckets_match_the_well_known_list():
    buckets = make_buckets((1024, 1024), 256, 2048, 64)
    for b in [
        (1024, 1024),
        (1152, 896),
        (896, 1152),
        (1216, 832),
        (832, 1216),
        (1344, 768),
        (768, 1344),
        (1536, 640),
        (640, 1536),
    ]:
        assert b in buckets
    assert all(w * h <= 1024 * 1024 for w, h in buckets)
    assert all(w % 64 == 0 and h % 64 == 0 for w, h in buckets)


def test_fit_bucket_scale_and_crop():
    plan = plan_buckets((1024, 1024), True, False, 256, 2048, 64)
    assert select_bucket(512, 512, plan).scale == pytest.approx(2.0)
    assert select_bucket(2048, 2048, plan).scale == pytest.approx(0.5)
    fit = select_bucket(1216, 832, plan)
    assert fit.bucket == (1216, 832) and fit.scale == pytest.approx(1.0) and fit.crop_fraction == pytest.approx(0)
    # A 10:1 strip cannot fit the widest 8:1 bucket without losing a fifth of the picture.
    assert select_bucket(5000, 500, plan).crop_fraction == pytest.approx(0.2, abs=0.02)
    # Without bucketing a 3:2 photo is cropped square: a third is lost.
    square = Buckets((1024, 1024), False, 64, ((1024, 1024),))
    assert select_bucket(1536, 1024, square).crop_fraction == pytest.approx(1 / 3, abs=0.01)


def test_no_upscale_keeps_small_images_small():
    plan = plan_buckets((1024, 1024), True, True, 256, 1024, 64)
    fit = select_bucket(600, 400, plan)
    assert fit.bucket == (576, 384) and fit.scale <= 1.0
    big = select_bucket(4000, 3000, plan)
    assert big.bucket[0] * big.bucket[1] <= 1024 * 1024


def test_dataset_config_inheritance(tmp_path):
    (tmp_path / "a").mkdir()
    cfg = tmp_path / "dataset_config.toml"
    cfg.write_text(
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nresolution = [768, 512]\n'
        'enable_bucket = true\n  [[datasets.subsets]]\n  image_dir = "a"\n  num_repeats = 4\n'
        '  [[datasets.subsets]]\n  image_dir = "b"\n  caption_extension = ".caption"\n'
    )
    c = load_config(cfg, tmp_path)
    assert [s.options["caption_extension"] for s in c.subsets] == [".txt", ".caption"]
    assert c.subsets[0].options["resolution"] == [768, 512]
    assert c.subsets[0].image_dir == (tmp_path / "a").resolve()
    assert c.subsets[0].options["num_repeats"] == 4

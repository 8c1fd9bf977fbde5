"""What kohya will do, checked case by case (issue 17).

kohya's code (sd-scripts, commit 0005867b) is the truth. Its code is not copied into this repository; the
oracle here is kohya's rules restated as the properties its code guarantees (the bucket of least aspect error,
first in sorted order; a no-upscale bucket rounded down from a size within the area; min/max rounded to the step
and refused outside the resolution), checked on thousands of generated sizes × configs, plus figures worked by
hand from its code (the issue's measurements among them).
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from PIL import Image

from curate.kohya import (
    KohyaRefuses,
    adjust_min_max,
    caption_extension,
    face_crop_stem,
    folder_repeats,
    load_config,
    make_buckets,
    parse_concept_folder,
    plan_buckets,
    select_bucket,
)
from curate.rules import RulesError, load_settings, resolve_base_model, resolve_trainer
from curate.scan import scan_dataset

# --- buckets: figures worked by hand from BucketManager.select_bucket -------------------------------------


def test_no_upscale_large_photo_rounds_one_side_and_derives_the_other():
    # 4032×3024 @1024: area 1048576 → 1182.4×886.8; width-first rounding gives 1152×832 (aspect error 0.051),
    # height-first 1088×832 from a 1109×832 resize (0.026): kohya takes the second. curate said 1152×832.
    fit = select_bucket(4032, 3024, plan_buckets((1024, 1024), True, True, 256, 1024, 64))
    assert fit.bucket == (1088, 832) and fit.resized == (1109, 832)


def test_ties_go_to_the_first_bucket_in_sorted_order():
    # 1170×2392 @1024, max 2048: 704×1408 and 704×1472 are equally close in aspect; numpy argmin keeps the
    # first of the sorted list. curate preferred the larger.
    fit = select_bucket(1170, 2392, plan_buckets((1024, 1024), True, False, 256, 2048, 64))
    assert fit.bucket == (704, 1408)


def test_an_image_of_a_bucket_size_is_its_own_bucket():
    plan = plan_buckets((1024, 1024), True, False, 256, 2048, 64)
    fit = select_bucket(1216, 832, plan)
    assert fit.bucket == fit.resized == (1216, 832) and fit.crop_fraction == 0


def test_bucket_reso_steps_from_the_config_is_used():
    plan32 = plan_buckets((1024, 1024), True, False, 256, 2048, 32)
    assert any(w % 64 for w, _ in plan32.predefined)
    assert select_bucket(1000, 700, plan32).bucket[0] % 32 == 0


def test_min_and_max_are_rounded_to_the_step_and_refused_outside_the_resolution():
    assert adjust_min_max((1024, 1024), 200, 1100, 64) == (192, 1152)
    with pytest.raises(KohyaRefuses, match="min_bucket_reso must be equal or less than resolution"):
        adjust_min_max((512, 512), 600, 1024, 64)
    with pytest.raises(KohyaRefuses, match="max_bucket_reso must be equal or greater than resolution"):
        adjust_min_max((1024, 768), 256, 960, 64)
    # Without bucketing min/max are ignored, as kohya ignores them.
    assert plan_buckets((512, 512), False, False, 600, 100, 64).predefined == ((512, 512),)


def test_a_side_under_the_step_gives_a_zero_bucket_under_no_upscale():
    plan = plan_buckets((1024, 1024), True, True, 256, 1024, 64)
    assert select_bucket(1024, 40, plan).bucket == (1024, 0)
    assert select_bucket(40, 1024, plan).bucket == (0, 1024)


# --- buckets: kohya's guarantees on thousands of sizes × configs ------------------------------------------

CONFIGS = [
    # resolution, enable_bucket, no_upscale, min, max, steps
    ((512, 512), True, False, 256, 1024, 64),
    ((768, 768), True, False, 256, 1024, 64),
    ((1024, 1024), True, False, 256, 1024, 64),
    ((1024, 1024), True, False, 256, 2048, 64),
    ((1024, 768), True, False, 256, 1024, 64),
    ((1024, 1024), True, False, 256, 2048, 32),
    ((1024, 1024), True, False, 200, 1100, 64),  # min/max not multiples of the step
    ((1024, 1024), True, True, 256, 1024, 64),
    ((512, 512), True, True, 256, 1024, 64),
    ((1024, 1024), True, True, 256, 2048, 32),
    ((1024, 1024), False, False, 256, 1024, 64),
    ((768, 512), False, False, 256, 1024, 64),
]


def _sizes(n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    sizes = [(w, h) for w in (1, 63, 64, 65, 512, 1024, 4032) for h in (1, 63, 64, 65, 512, 1024, 3024)]
    sizes += [(rng.randint(1, 8000), rng.randint(1, 8000)) for _ in range(n)]
    sizes += [(rng.randint(2000, 20000), rng.randint(8, 300)) for _ in range(n // 10)]  # extreme aspects
    return sizes


@pytest.mark.parametrize(
    "config", CONFIGS, ids=[f"{c[0]}-b{int(c[1])}-nu{int(c[2])}-{c[3]}-{c[4]}-s{c[5]}" for c in CONFIGS]
)
def test_bucket_choice_keeps_kohyas_guarantees(config):
    res, enable, no_upscale, lo, hi, steps = config
    plan = plan_buckets(res, enable, no_upscale, lo, hi, steps)
    area = res[0] * res[1]
    for w, h in _sizes(600, seed=hash(config) & 0xFFFF):
        fit = select_bucket(w, h, plan)
        bw, bh = fit.bucket
        rw, rh = fit.resized
        aspect = w / h
        if not plan.no_upscale:
            errors = [abs(a / b - aspect) for a, b in plan.predefined]
            if (w, h) in plan.predefined:
                assert fit.bucket == (w, h)
            else:
                best = min(errors)
                assert abs(bw / bh - aspect) == best
                assert plan.predefined.index(fit.bucket) == errors.index(best)  # first of equals
            # Resized to cover the bucket (one side exact, up to kohya's rounding), then cropped.
            assert rw >= bw - 1 and rh >= bh - 1
            assert min(abs(rw - bw), abs(rh - bh)) <= 1
        else:
            assert bw % steps == 0 and bh % steps == 0 and bw <= rw and bh <= rh
            assert rw - bw < steps and rh - bh < steps
            if w * h <= area:
                assert fit.resized == (w, h) and fit.scale == 1
            else:
                assert fit.scale < 1 and rw * rh <= area * 1.1
                if min(fit.resized) == 0:  # kohya divides by zero here (the check reports RES005)
                    continue
                # The resize keeps the aspect to within one step of rounding on the short side.
                assert abs(rw / rh - aspect) <= aspect * (steps + 1) / max(1, min(rw, rh))
        assert 0 <= fit.crop_fraction < 1 or min(fit.bucket) == 0


@pytest.mark.parametrize(
    "res, lo, hi, steps", [((1024, 1024), 256, 2048, 64), ((512, 768), 256, 1024, 64), ((1024, 1024), 192, 1152, 32)]
)
def test_bucket_list_is_the_tallest_height_for_each_width(res, lo, hi, steps):
    buckets = set(make_buckets(res, lo, hi, steps))
    area = res[0] * res[1]
    side = int(math.sqrt(area) // steps) * steps
    expected = {(side, side)}
    for w in range(lo, hi + 1, steps):
        h = min(hi, (area // w) // steps * steps)
        if h >= lo:
            expected |= {(w, h), (h, w)}
    assert buckets == expected
    assert list(make_buckets(res, lo, hi, steps)) == sorted(buckets)


# --- folders, captions, configs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("10_hanako woman", (10, "hanako woman")),
        (" 5_x", (5, "x")),  # int(" 5") is 5
        ("+3_x", (3, "x")),
        ("10", (10, "")),  # 10 repeats, no class tokens
        ("0_x", None),  # fewer than 1 repeat: ignored
        ("-2_x", None),
        ("x_5", None),
        ("3_a_b", (3, "a_b")),  # the rest joined by "_", not stripped
    ],
)
def test_folder_names_as_kohya_reads_them(name, expected):
    assert parse_concept_folder(name) == expected
    head = name.split("_")[0]
    try:
        oracle = int(head)
    except ValueError:
        oracle = None
    assert folder_repeats(name)[0] == oracle


def test_caption_extension_without_dot_and_face_crop_names():
    assert caption_extension("txt") == ".txt" and caption_extension(".caption") == ".caption"
    assert face_crop_stem("face_1_2_3_4") == "face" and face_crop_stem("a_b_c_d") is None


def _scan(root, **kw):
    settings = load_settings()
    return scan_dataset(
        root, settings, resolve_base_model("sdxl"), trainer=resolve_trainer(kw.pop("trainer", None)), **kw
    )


def _png(path, size=(64, 64)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 40, 20)).save(path)


def test_generated_folder_trees_train_what_kohya_trains(tmp_path):
    rng = random.Random(7)
    names = ["10_a b", " 5_x", "+3_y", "0_off", "10", "plain", "2_z"]
    for trial in range(6):
        root = tmp_path / f"t{trial}"
        expected: dict[str, bool] = {}
        for name in rng.sample(names, 4):
            _png(root / name / "a.png")
            _png(root / name / "deeper" / "b.png")  # not recursive: never trained
            repeats = folder_repeats(name)[0]
            expected[f"{name}/a.png"] = repeats is not None and repeats >= 1
            expected[f"{name}/deeper/b.png"] = False
        _png(root / "top.png")  # directly in train_data_dir: never trained
        expected["top.png"] = False
        scan = _scan(root)
        got = {r.path: r.trained for r in scan.images}
        assert got == expected, (trial, got)
        assert all(r.not_trained for r in scan.images if not r.trained)


def test_mixed_case_extension_is_not_loaded(tmp_path):
    _png(tmp_path / "10_x" / "a.png")
    (tmp_path / "10_x" / "a.png").rename(tmp_path / "10_x" / "a.Png")
    _png(tmp_path / "10_x" / "b.PNG")
    scan = _scan(tmp_path)
    assert {r.path: r.trained for r in scan.images} == {"10_x/a.Png": False, "10_x/b.PNG": True}


def test_kohya_ss_project_layout(tmp_path):
    _png(tmp_path / "img" / "10_hanako woman" / "a.png")
    _png(tmp_path / "reg" / "1_woman" / "r.png")
    _png(tmp_path / "model" / "sample" / "s.png")
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "events.txt").write_text("x")
    scan = _scan(tmp_path)
    by = {r.path: r for r in scan.images}
    assert scan.layout == "kohya_ss" and scan.train_dir == "img" and scan.reg_dir == "reg"
    assert by["img/10_hanako woman/a.png"].trained and not by["img/10_hanako woman/a.png"].concept.is_reg
    assert by["reg/1_woman/r.png"].trained and by["reg/1_woman/r.png"].concept.is_reg
    assert "model/sample/s.png" not in by and scan.not_training == [("model/sample", 1)]  # not audited
    assert "log/events.txt" not in scan.orphan_captions


def test_captions_kohya_reads_face_crops_and_dotless_extension(tmp_path):
    _png(tmp_path / "a" / "face_1_2_3_4.png")
    (tmp_path / "a" / "face.txt").write_text("hanako woman")
    (tmp_path / "dataset_config.toml").write_text(
        '[general]\ncaption_extension = "txt"\n[[datasets]]\n[[datasets.subsets]]\nimage_dir = "a"\n'
    )
    scan = _scan(tmp_path)
    (rec,) = scan.images
    assert rec.concept.caption_extension == ".txt" and rec.caption.path == "a/face.txt"
    assert scan.orphan_captions == []


def test_unknown_config_key_is_refused_with_the_likely_key(tmp_path):
    cfg = tmp_path / "dataset_config.toml"
    cfg.write_text('[general]\nenable_buckets = true\n[[datasets]]\n[[datasets.subsets]]\nimage_dir = "a"\n')
    with pytest.raises(
        RulesError, match="unknown key 'enable_buckets' in \\[general\\] \\(did you mean 'enable_bucket'\\?\\)"
    ):
        load_config(cfg, tmp_path)


def test_a_config_from_another_machine_applies_to_the_folder_of_that_name(tmp_path):
    _png(tmp_path / "dataset" / "a.png")
    (tmp_path / "dataset" / "a.caption").write_text("x")
    (tmp_path / "dataset_config.toml").write_text(
        '[general]\ncaption_extension = ".caption"\nenable_bucket = true\n'
        '[[datasets]]\nresolution = 768\n[[datasets.subsets]]\nimage_dir = "/content/drive/MyDrive/dataset"\n'
    )
    scan = _scan(tmp_path)
    (rec,) = scan.images
    assert rec.trained and rec.caption.path == "dataset/a.caption" and rec.concept.resolution == (768, 768)
    assert any("/content/drive/MyDrive/dataset" in n and "./dataset" in n for n in scan.notes)


def test_a_windows_path_in_a_single_subset_config_means_the_audited_folder(tmp_path):
    _png(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "dataset_config.toml").write_text(
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\n[[datasets.subsets]]\n'
        'image_dir = "C:\\\\Users\\\\me\\\\lora\\\\elsewhere"\n'
    )
    scan = _scan(tmp_path)
    (rec,) = scan.images
    assert rec.trained and rec.caption.path == "a.txt"


def test_musubi_tuner_config_is_read(tmp_path):
    _png(tmp_path / "imgs" / "a.png")
    (tmp_path / "imgs" / "a.txt").write_text("x")
    (tmp_path / "dataset_config.toml").write_text(
        '[general]\nresolution = [960, 544]\ncaption_extension = ".txt"\nbatch_size = 1\nenable_bucket = true\n'
        'bucket_no_upscale = false\n[[datasets]]\nimage_directory = "/home/u/data/imgs"\n'
        'cache_directory = "/home/u/cache"\nnum_repeats = 2\n'
    )
    scan = _scan(tmp_path)
    (rec,) = scan.images
    assert rec.trained and rec.caption.path == "imgs/a.txt" and rec.concept.resolution == (960, 544)
    assert rec.concept.repeats == 2


def test_trainer_defaults(tmp_path):
    _png(tmp_path / "10_x" / "a.png")
    gui = _scan(tmp_path).images[0].concept
    cli = _scan(tmp_path, trainer="sd-scripts").images[0].concept
    assert (gui.enable_bucket, gui.bucket_no_upscale, gui.caption_extension) == (True, True, ".txt")
    assert (cli.enable_bucket, cli.bucket_no_upscale, cli.caption_extension) == (False, False, ".caption")


def test_fine_tuning_captions_come_from_the_metadata_file(tmp_path):
    _png(tmp_path / "ft" / "a.png")
    _png(tmp_path / "ft" / "b.png")
    (tmp_path / "meta.json").write_text('{"a": {"caption": "a photo", "tags": "red"}}')
    (tmp_path / "dataset_config.toml").write_text(
        f'[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{(tmp_path / "ft").as_posix()}"\n'
        f'metadata_file = "{(tmp_path / "meta.json").as_posix()}"\n'
    )
    by = {r.path: r for r in _scan(tmp_path).images}
    assert by["ft/a.png"].caption.text == "a photo,red" and by["ft/a.png"].trained
    assert not by["ft/b.png"].trained and "metadata_file" in by["ft/b.png"].not_trained


@pytest.mark.parametrize(
    "data, problem, bom",
    [
        (b"", "empty-file", False),
        ("café".encode("latin-1"), "not-utf8", False),
        (b"\xef\xbb\xbfhanako, smiling", None, True),
        (b"line one\r\nline two", None, False),
    ],
)
def test_captions_are_read_as_kohya_reads_them(tmp_path, data, problem, bom):
    _png(tmp_path / "10_x" / "a.png")
    (tmp_path / "10_x" / "a.txt").write_bytes(data)
    (rec,) = _scan(tmp_path).images
    assert (rec.caption.problem, rec.caption.bom) == (problem, bom)


def test_every_config_combination_either_plans_or_is_refused_with_kohyas_words():
    for res, lo, hi, steps in itertools.product(
        (512, 768, 1024), (64, 200, 256, 600), (512, 1000, 1024, 2048), (32, 64)
    ):
        try:
            plan = plan_buckets((res, res), True, False, lo, hi, steps)
        except KohyaRefuses as e:
            assert "sd-scripts stops" in str(e)
            continue
        assert plan.predefined and all(w * h <= res * res for w, h in plan.predefined)


def test_training_config_beside_the_dataset_decides_what_it_states(tmp_path, audit_json, run):
    proj = tmp_path / "proj"
    _png(proj / "img" / "10_hanako woman" / "a.png", (768, 768))
    (proj / "img" / "10_hanako woman" / "a.caption").write_text("hanako woman")
    _png(proj / "reg" / "1_woman" / "r.png", (768, 768))
    (proj / "model").mkdir()
    (proj / "model" / "config_lora-20260101-101010.toml").write_text(
        '[model_arguments]\npretrained_model_name_or_path = "/models/v15.safetensors"\nv2 = false\n'
        '[dataset_arguments]\nresolution = "768,768"\nenable_bucket = true\nbucket_no_upscale = false\n'
        'caption_extension = ".caption"\nmax_token_length = 225\nshuffle_caption = true\nkeep_tokens = 1\n'
        'train_data_dir = "/content/drive/MyDrive/proj/img"\nreg_data_dir = "/content/drive/MyDrive/proj/reg"\n'
    )
    _, report = audit_json(proj)
    ds = report["dataset"]
    assumed = {a["setting"]: (a["value"], a["source"]) for a in ds["assumptions"]}
    name = "config_lora-20260101-101010.toml"
    assert assumed["resolution"] == ("768 px", name) and assumed["bucket_no_upscale"] == ("off", name)
    assert assumed["caption_extension"] == (".caption", name) and assumed["max_token_length"] == ("225", name)
    assert ds["train_data_dir"] == "img" and ds["reg_data_dir"] == "reg"
    assert any("found beside the dataset" in n for n in ds["notes"])
    img = {i["path"]: i for i in report["images"]}
    assert img["img/10_hanako woman/a.png"]["findings"] == []
    assert {c["folder"]: c["regularisation"] for c in ds["concepts"]}["reg/1_woman"] is True
    assert img["reg/1_woman/r.png"]["findings"] == []  # a regularisation image without caption is normal
    code, out, err = run("audit", proj)
    assert code == 0 and "kohya_ss project (trains img/ and reg/)" in out, err
    assert "reg/1_woman: regularisation: 1 image" in out and "shuffle_caption on — config_lora" in out


def test_kohya_ss_gui_settings_json_and_a_non_training_file_is_refused(tmp_path, run):
    d = tmp_path / "d"
    _png(d / "10_x" / "a.png", (1024, 1024))
    (d / "10_x" / "a.txt").write_text("x")
    gui = tmp_path / "settings.json"
    gui.write_text(
        '{"pretrained_model_name_or_path": "x", "sdxl": true, "max_resolution": "1024,1024", "enable_bucket": true,'
        ' "bucket_no_upscale": true, "caption_extension": ".txt", "min_bucket_reso": "256", "max_token_length": "75"}'
    )
    code, out, err = run("audit", d, "--no-cache", "--kohya-training-config", gui)
    assert code == 0, err
    assert "resolution 1024 px — settings.json" in out and "max_token_length 75 — settings.json" in out
    bad = tmp_path / "dataset_config.toml"
    bad.write_text("[general]\nresolution = 512\n")
    code, _, err = run("audit", d, "--no-cache", "--kohya-training-config", bad)
    assert code == 2 and "does not look like a kohya training config" in err


def test_config_resolution_is_the_one_every_message_states(tmp_path, audit_json):
    _png(tmp_path / "a" / "1.png", (512, 512))
    (tmp_path / "a" / "1.txt").write_text("x")
    (tmp_path / "dataset_config.toml").write_text(
        '[general]\ncaption_extension = ".txt"\nbucket_no_upscale = false\n[[datasets]]\nresolution = 1024\n'
        'enable_bucket = true\n[[datasets.subsets]]\nimage_dir = "a"\n'
    )
    _, report = audit_json(tmp_path, "--base-model", "sd15")
    (f,) = report["images"][0]["findings"]
    assert report["dataset"]["resolution"] == [1024, 1024] and "1024 px training resolution" in f["message"]


def test_padding_bars_and_colour_under_transparency_are_found_in_real_pictures(tmp_path, audit_json):
    import numpy as np
    from conftest import photo_at

    d = tmp_path / "10_x"
    d.mkdir()
    canvas = Image.new("RGB", (1024, 1024), (128, 128, 128))
    canvas.paste(photo_at((682, 1024)), (171, 0))
    canvas.save(d / "padded.jpg", quality=92)
    arr = np.asarray(photo_at((1024, 1024)).convert("RGBA")).copy()
    arr[..., 3] = 0
    arr[200:800, 300:700, 3] = 255
    arr[arr[..., 3] == 0, :3] = 0
    Image.fromarray(arr, "RGBA").save(d / "cutout.png")
    photo_at((1024, 1024)).save(d / "plain.jpg", quality=92)
    for name, text in (("padded", "x"), ("cutout", "x, white background"), ("plain", "x")):
        (d / f"{name}.txt").write_text(text)
    _, report = audit_json(tmp_path)
    found = {i["path"]: [(f["code"], f["evidence"]) for f in i["findings"]] for i in report["images"]}
    (code, ev), *_ = found["10_x/padded.jpg"]
    assert code == "FRM001" and ev["sides"] == ["left", "right"] and abs(ev["fraction"] - 0.334) < 0.02
    (code, ev), *_ = found["10_x/cutout.png"]
    assert code == "FRM002" and ev["colour_under"] == [0, 0, 0] and ev["caption_says"] == "white background"
    assert found["10_x/plain.jpg"] == []


def test_a_musubi_config_uses_musubis_defaults_and_says_so(tmp_path):
    _png(tmp_path / "imgs" / "a.png")
    (tmp_path / "dataset_config.toml").write_text('[[datasets]]\nimage_directory = "imgs"\n')
    scan = _scan(tmp_path, trainer="sd-scripts")
    (rec,) = scan.images
    c = rec.concept
    assert (c.resolution, c.enable_bucket, c.bucket_reso_steps, c.caption_extension) == ((960, 544), False, 16, ".txt")
    assumed = {k: src for k, _, src in scan.assumptions}
    assert assumed["trainer"] == "dataset_config.toml is a musubi-tuner config"
    assert any("musubi-tuner config" in n for n in scan.notes)
    assert scan.resolution == (960, 544) and assumed["resolution"].startswith("musubi-tuner default")


@pytest.mark.parametrize(
    "layout, files, says",
    [
        ("plain", ["a.png"], "plain folder"),
        ("kohya", ["10_x/a.png"], "kohya folders"),
        ("kohya_ss", ["img/10_x/a.png", "reg/1_y/b.png"], "kohya_ss project (trains img/ and reg/)"),
        ("concept", ["a.png"], "one kohya concept folder"),
    ],
)
def test_every_layout_prints_its_header(tmp_path, run, layout, files, says):
    root = tmp_path / ("10_hanako woman" if layout == "concept" else "data")
    for f in files:
        _png(root / f)
    code, out, err = run("audit", root, "--no-cache")
    assert code in (0, 1) and says in out and "internal error" not in err, err


def test_a_broken_training_config_beside_the_dataset_is_said_not_applied(tmp_path, audit_json):
    _png(tmp_path / "10_x" / "a.png")
    (tmp_path / "config_lora.toml").write_text('[a]\npretrained_model_name_or_path = "x"\nresolution = nan\n')
    code, report = audit_json(tmp_path)
    assert any("could not be used" in n and "config_lora.toml" in n for n in report["dataset"]["notes"])

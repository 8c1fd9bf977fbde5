"""Scan: kohya folders, captions, dataset_config.toml, hidden folders, order."""

from __future__ import annotations

from conftest import by_path, codes, write_image


def test_kohya_folders_nested_under_img(tmp_path, audit_json):
    root = tmp_path / "project"
    write_image(root / "img" / "10_hanako woman" / "01.png", (1024, 1024))
    write_image(root / "img" / "2_reg person" / "r1.png", (1024, 1024), name="coffee.jpg")
    write_image(root / "img" / "stray" / "x.png", (1024, 1024), name="rocket.jpg")
    _, report = audit_json(root)
    concepts = {c["folder"]: (c["repeats"], c["tokens"]) for c in report["dataset"]["concepts"]}
    assert concepts == {
        "img/10_hanako woman": (10, "hanako woman"),
        "img/2_reg person": (2, "reg person"),
        "img/stray": (None, ""),
    }
    assert report["dataset"]["layout"] == "kohya_ss"
    # generate_dreambooth_subsets_config_by_subdirs skips a folder without an N_ prefix: not trained.
    assert codes(report, "img/stray/x.png") == ["UNR014"]


def test_caption_extension_is_detected_without_a_config(tmp_path, audit_json):
    root = tmp_path / "d"
    for i in range(3):
        write_image(
            root / "10_x" / f"{i}.png", (1024, 1024), name=["hubble.jpg", "coffee.jpg", "rocket.jpg"][i], caption=None
        )
        (root / "10_x" / f"{i}.caption").write_text("x, a photo", encoding="utf-8")
    (root / "10_x" / "0.txt").write_text("stray", encoding="utf-8")
    _, report = audit_json(root)
    assert report["dataset"]["caption_extension"] == ".caption"
    assert report["dataset"]["caption_extension_source"] == "detected"
    assert all(codes(report, f"10_x/{i}.png") == [] for i in range(3))
    _, report = audit_json(root, "--caption-extension", "txt")
    assert codes(report, "10_x/0.png") == []
    assert codes(report, "10_x/1.png") == ["CAP003"]


def test_config_without_caption_extension_means_the_trainers_default(tmp_path, audit_json):
    root = tmp_path / "d"
    write_image(root / "a" / "1.png", (1024, 1024))  # writes 1.txt
    (root / "dataset_config.toml").write_text(
        '[[datasets]]\nresolution = 1024\n[[datasets.subsets]]\nimage_dir = "a"\n'
    )
    _, report = audit_json(root)  # the kohya_ss GUI passes .txt
    assert codes(report, "a/1.png") == [] and report["dataset"]["caption_extension"] == ".txt"
    _, report = audit_json(root, "--trainer", "sd-scripts")  # its command line reads .caption
    (f,) = by_path(report)["a/1.png"]["findings"]
    assert f["code"] == "CAP003" and "kohya reads 1.caption" in f["message"]
    assert report["dataset"]["caption_extension"] == ".caption"


def test_config_resolution_wins_over_the_base_model(tmp_path, audit_json):
    root = tmp_path / "d"
    write_image(root / "a" / "1.png", (512, 512))
    (root / "dataset_config.toml").write_text(
        '[general]\ncaption_extension = ".txt"\n[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nimage_dir = "a"\n'
    )
    _, report = audit_json(root, "--base-model", "sdxl")
    assert codes(report, "a/1.png") == [] and report["dataset"]["resolution"] == [512, 512]
    assert report["dataset"]["resolution_source"] == "dataset_config.toml"


def test_explicit_kohya_config_elsewhere(tmp_path, audit_json):
    root = tmp_path / "d"
    write_image(root / "a" / "1.png", (1024, 1024))
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text(
        f'[general]\ncaption_extension = ".txt"\n[[datasets]]\nresolution = 2048\n'
        f'[[datasets.subsets]]\nimage_dir = "{(root / "a").as_posix()}"\nnum_repeats = 3\n'
    )
    _, report = audit_json(root, "--kohya-config", cfg)
    assert codes(report, "a/1.png") == ["RES001"]
    assert report["dataset"]["concepts"][0]["repeats"] == 3


def test_broken_config_in_the_folder_is_a_finding(tmp_path, audit_json):
    root = tmp_path / "d"
    write_image(root / "10_x" / "1.png", (1024, 1024))
    (root / "dataset_config.toml").write_text("[[datasets]\nresolution = ")
    code, report = audit_json(root)
    assert code == 1
    assert [(f["code"], f["path"]) for f in report["findings"]] == [("UNR009", "dataset_config.toml")]
    assert codes(report, "10_x/1.png") == []


def test_broken_config_given_explicitly_is_a_usage_error(tmp_path, run):
    root = tmp_path / "d"
    write_image(root / "1.png", (1024, 1024))
    cfg = tmp_path / "bad.toml"
    cfg.write_text("resolution = [")
    code, _, err = run("audit", root, "--kohya-config", cfg)
    assert code == 2 and "cannot read rules file" not in err and "bad.toml" in err


def test_hidden_and_tool_folders_are_skipped_and_order_is_stable(tmp_path, audit_json):
    root = tmp_path / "d"
    for name in ("b.png", "a.png", "sub/c.png"):
        write_image(root / name, (1024, 1024), name="coffee.jpg" if "a" in name else "hubble.jpg")
    write_image(root / ".thumbnails" / "t.png", (64, 64))
    write_image(root / "__pycache__" / "x.png", (64, 64))
    _, report = audit_json(root)
    assert [i["path"] for i in report["images"]] == ["a.png", "b.png", "sub/c.png"]


def test_orphan_captions_and_non_image_files(tmp_path, audit_json):
    root = tmp_path / "d"
    write_image(root / "a.png", (1024, 1024))
    (root / "gone.txt").write_text("x")
    (root / "notes.md").write_text("# notes")
    (root / "a.npz").write_bytes(b"latents")
    _, report = audit_json(root)
    assert [i["path"] for i in report["images"]] == ["a.png"]
    assert [(f["code"], f["path"]) for f in report["findings"]] == [("CAP004", "gone.txt")]


def test_empty_folder(tmp_path, run):
    (tmp_path / "empty").mkdir()
    code, out, _ = run("audit", tmp_path / "empty")
    assert code == 0 and "0 images" in out

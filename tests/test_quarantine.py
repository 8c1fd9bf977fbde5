"""`curate apply` / `curate undo`: the pictures an audit drops move to a quarantine folder with everything kohya
keeps beside them, nothing is overwritten or deleted, and undo restores the dataset byte for byte."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from curate.act import quarantine


def tree(root: Path) -> dict[str, str]:
    """{relative path: SHA-256} of every file under root (links are not followed)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def small_set(tmp_path) -> Path:
    """Two pictures to keep, one exact copy (drop) and one tiny picture (drop), with captions, a sidecar and
    sd-scripts latent caches."""
    root = tmp_path / "data"
    d = root / "10_cat"
    d.mkdir(parents=True)
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30)]):
        im = Image.new("RGB", (1024, 1024), colour)
        for x in range(0, 1024, 64):
            im.paste((x % 256, 90, 160), (x, x, x + 40, x + 40))
        im.save(d / f"a{i}.png")
        (d / f"a{i}.txt").write_text("cat")
    (d / "copy.png").write_bytes((d / "a0.png").read_bytes())
    (d / "copy.txt").write_text("cat, copy")
    (d / "copy.png.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    (d / "copy_1024x1024_sdxl.npz").write_bytes(b"latents")
    (d / "copy_te_outputs.npz").write_bytes(b"text encoder")
    Image.new("RGB", (96, 96), (10, 10, 200)).save(d / "tiny.png")
    (d / "tiny.txt").write_text("cat, small")
    (d / "tiny.npz").write_bytes(b"old latents")
    return root


@pytest.fixture
def audited(small_set, run, tmp_path):
    report = tmp_path / "report.json"
    code, _, err = run("audit", small_set, "--json", report, "-q", "--jobs", "1", "--select", "DUP001,RES001")
    assert report.exists(), err
    return small_set, report


def drops(report: Path) -> set[str]:
    return {i["path"] for i in json.loads(report.read_text())["images"] if i["verdict"] == "drop"}


def test_dry_run_moves_nothing_and_names_every_file(audited, run, tmp_path):
    data, report = audited
    assert drops(report) == {"10_cat/copy.png", "10_cat/tiny.png"}
    before = tree(data)
    code, out, err = run("apply", report, "--move-to", tmp_path / "q")
    assert code == 0, err
    assert "dry run: would move 2 pictures (drop 2) — 8 files" in out
    for name in ("copy.txt", "copy.png.xmp", "copy_1024x1024_sdxl.npz", "copy_te_outputs.npz", "tiny.npz"):
        assert name in out
    assert tree(data) == before and not (tmp_path / "q").exists()


def test_apply_then_undo_is_byte_identical_and_keeps_relative_paths(audited, run, tmp_path):
    data, report = audited
    before = tree(data)
    q = tmp_path / "q"
    code, out, err = run("apply", report, "--move-to", q, "--yes")
    assert code == 0, err
    moved = tree(q)
    assert set(moved) - {quarantine.JOURNAL} == {
        "10_cat/copy.png",
        "10_cat/copy.txt",
        "10_cat/copy.png.xmp",
        "10_cat/copy_1024x1024_sdxl.npz",
        "10_cat/copy_te_outputs.npz",
        "10_cat/tiny.png",
        "10_cat/tiny.txt",
        "10_cat/tiny.npz",
    }
    assert set(tree(data)) == {"10_cat/a0.png", "10_cat/a0.txt", "10_cat/a1.png", "10_cat/a1.txt"}
    for rel, digest in moved.items():
        if rel != quarantine.JOURNAL:
            assert before[rel] == digest
    journal = [json.loads(line) for line in (q / quarantine.JOURNAL).read_text().splitlines()]
    assert journal[0]["dataset"] == str(data.resolve())
    planned = [e["move"] for e in journal if "move" in e]
    assert {m["source"] for m in planned} == set(moved) - {quarantine.JOURNAL}
    assert all({"source", "sha256", "size", "destination", "planned"} <= set(m) for m in planned)
    assert sum("done" in e for e in journal) == len(planned)
    code, out, err = run("undo", q)
    assert code == 0, err
    assert "restored 8 files" in out
    assert tree(data) == before
    code, out, _ = run("undo", q)  # again: nothing left to do
    assert code == 0 and "restored 0 files (8 restored before)" in out


def test_refuses_before_moving_anything(audited, run, tmp_path):
    data, report = audited
    before = tree(data)
    d = data / "10_cat"
    # changed since the audit
    Image.new("RGB", (96, 96), (250, 10, 10)).save(d / "tiny.png")
    changed = tree(data)
    code, _, err = run("apply", report, "--move-to", tmp_path / "q", "--yes")
    assert code == 2 and "10_cat/tiny.png: changed since the audit" in err and "nothing moved" in err
    assert tree(data) == changed and not (tmp_path / "q").exists()
    # inside a concept folder, or named like one
    (d / "tiny.png").write_bytes(b"")  # restore-able state is not needed below: only refusals
    for target, says in ((d / "q", "a folder of pictures kohya trains"), (data / "3_q", "named like a kohya concept")):
        code, _, err = run("apply", report, "--move-to", target, "--yes")
        assert code == 2 and says in err, err
        assert not target.exists()
    assert set(tree(data)) == set(before)


def test_an_existing_destination_or_a_link_is_refused(audited, run, tmp_path):
    data, report = audited
    q = tmp_path / "q"
    (q / "10_cat").mkdir(parents=True)
    (q / "10_cat" / "tiny.txt").write_text("someone else's")
    code, _, err = run("apply", report, "--move-to", q, "--yes")
    assert code == 2 and "exists already: curate never overwrites" in err
    assert (q / "10_cat" / "tiny.txt").read_text() == "someone else's"
    (q / "10_cat" / "tiny.txt").unlink()
    outside = tmp_path / "outside.png"
    (data / "10_cat" / "copy.png").rename(outside)
    (data / "10_cat" / "copy.png").symlink_to(outside)
    code, _, err = run("apply", report, "--move-to", q, "--yes")
    assert code == 2 and "10_cat/copy.png: a symbolic link" in err
    assert outside.exists() and (data / "10_cat" / "tiny.png").exists()


def test_an_interrupted_apply_resumes_and_undo_restores_everything(audited, run, tmp_path, monkeypatch):
    data, report = audited
    before = tree(data)
    q = tmp_path / "q"
    real = quarantine._move_file
    calls = {"n": 0}

    def crash_on_fourth(src, dst, sha):
        calls["n"] += 1
        if calls["n"] == 4:
            os.link(src, dst)  # the link happened, the unlink did not: the worst moment to stop
            raise OSError(errno.EIO, "power cut")
        real(src, dst, sha)

    monkeypatch.setattr(quarantine, "_move_file", crash_on_fourth)
    code, _, err = run("apply", report, "--move-to", q, "--yes")
    assert code == 2 and "run the same command again to finish" in err
    monkeypatch.setattr(quarantine, "_move_file", real)
    code, out, err = run("apply", report, "--move-to", q, "--yes")
    assert code == 0, err
    assert set(tree(data)) == {"10_cat/a0.png", "10_cat/a0.txt", "10_cat/a1.png", "10_cat/a1.txt"}
    code, _, err = run("undo", q)
    assert code == 0, err
    assert tree(data) == before


def test_copies_across_filesystems_and_verifies(audited, run, tmp_path, monkeypatch):
    data, report = audited
    before = tree(data)

    def no_cross_device_links(src, dst, follow_symlinks=True):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    real_link = os.link
    monkeypatch.setattr(
        os,
        "link",
        lambda s, d, follow_symlinks=True: (
            no_cross_device_links(s, d) if not str(s).endswith(".curate-partial") else real_link(s, d)
        ),
    )
    q = tmp_path / "q"
    code, _, err = run("apply", report, "--move-to", q, "--yes")
    assert code == 0, err
    assert not list(q.rglob("*.curate-partial"))
    monkeypatch.undo()
    code, _, err = run("undo", q)
    assert code == 0, err
    assert tree(data) == before


def test_undo_refuses_each_conflict_on_its_own(audited, run, tmp_path):
    data, report = audited
    q = tmp_path / "q"
    assert run("apply", report, "--move-to", q, "--yes")[0] == 0
    (data / "10_cat" / "tiny.txt").write_text("a new caption someone wrote")
    code, out, _ = run("undo", q)
    assert code == 1
    assert "restored 7 files" in out and "10_cat/tiny.txt: kept in" in out
    assert (data / "10_cat" / "tiny.txt").read_text() == "a new caption someone wrote"
    assert (q / "10_cat" / "tiny.txt").read_text() == "cat, small"


def test_not_a_report_or_not_a_quarantine(run, tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("{}")
    code, _, err = run("apply", bad, "--move-to", tmp_path / "q")
    assert code == 2 and "not a curate audit report" in err
    code, _, err = run("undo", tmp_path)
    assert code == 2 and "not a folder `curate apply` moved pictures into" in err


@pytest.mark.slow
def test_the_sample_round_trip_is_byte_identical(sample_copy, run, tmp_path):
    report = tmp_path / "report.json"
    run("audit", sample_copy, "--json", report, "-q", "--jobs", "1")
    before = tree(sample_copy)
    q = tmp_path / "quarantine"
    code, out, err = run("apply", report, "--move-to", q, "--yes", "--include-review")
    assert code == 0, err
    n = len(drops(report)) + sum(i["verdict"] == "review" for i in json.loads(report.read_text())["images"])
    assert f"moving {n} pictures" in out
    assert len(tree(sample_copy)) < len(before)
    code, _, err = run("undo", q)
    assert code == 0, err
    assert tree(sample_copy) == before


def test_export_builds_a_clean_kohya_tree_and_leaves_the_dataset_alone(audited, run, tmp_path):
    from curate.kohya import load_config

    data, report = audited
    before = tree(data)
    clean = tmp_path / "clean"
    code, out, err = run("export", report, "--to", clean)
    assert code == 0, err
    assert "exported 2 pictures (4 files)" in out
    assert set(tree(clean)) == {
        "10_cat/a0.png",
        "10_cat/a0.txt",
        "10_cat/a1.png",
        "10_cat/a1.txt",
        "dataset_config.toml",
    }
    assert tree(data) == before
    assert os.stat(clean / "10_cat" / "a0.png").st_ino == os.stat(data / "10_cat" / "a0.png").st_ino  # a hard link
    cfg = load_config(clean / "dataset_config.toml", clean)  # kohya's rules: an unknown key would be refused
    (subset,) = cfg.subsets
    assert subset.image_dir == (clean / "10_cat").resolve() and subset.options["num_repeats"] == 10
    assert subset.options["resolution"] == 1024 and subset.options["caption_extension"] == ".txt"
    code, _, err = run("export", report, "--to", clean)
    assert code == 2 and "is not an empty folder" in err
    code, _, err = run("export", report, "--to", data / "clean")
    assert code == 2 and "inside the dataset" in err


def test_a_file_name_that_is_not_utf8_moves_and_comes_back(tmp_path, run):
    """A ZIP from Japanese Windows leaves cp932 bytes in names; the report shows them escaped (UNR011), and
    apply / undo still find the file."""
    data = tmp_path / "data"
    d = data / "10_x"
    d.mkdir(parents=True)
    name = os.fsdecode(b"\x82\xa0\x82\xa2.png")
    Image.new("RGB", (96, 96), (10, 200, 10)).save(d / name)
    (d / os.fsdecode(b"\x82\xa0\x82\xa2.txt")).write_text("small")
    Image.new("RGB", (1024, 1024), (10, 20, 200)).save(d / "big.png")
    report = tmp_path / "r.json"
    run("audit", data, "--json", report, "-q", "--jobs", "1", "--select", "RES001")
    assert drops(report) == {"10_x/\\x82\\xa0\\x82\\xa2.png"}
    before = tree(data)
    code, out, err = run("apply", report, "--move-to", tmp_path / "q", "--yes")
    assert code == 0, err
    assert "\\x82\\xa0\\x82\\xa2.png" in out and set(tree(data)) == {"10_x/big.png"}
    code, _, err = run("undo", tmp_path / "q")
    assert code == 0, err
    assert tree(data) == before

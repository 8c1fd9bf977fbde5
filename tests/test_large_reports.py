"""Reports for large sets (issue 22): JSON Lines, and a console report that summarises a long section instead
of printing every image."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image


def small_set(root: Path, n: int) -> Path:
    d = root / "10_x"
    d.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (96 + i, 96), (i * 7 % 256, 40, 90)).save(d / f"s{i:02d}.png")
        (d / f"s{i:02d}.txt").write_text("x")
    Image.new("RGB", (1024, 1024), (5, 5, 5)).save(d / "big.png")
    (d / "big.txt").write_text("x")
    return root


def test_jsonl_holds_the_same_report_one_record_per_line(tmp_path, run):
    data = small_set(tmp_path / "data", 6)
    report, lines = tmp_path / "r.json", tmp_path / "r.jsonl"
    code, _, err = run("audit", data, "--json", report, "--jsonl", lines, "-q", "--jobs", "1", "--select", "RES,DUP")
    assert lines.exists(), err
    full = json.loads(report.read_text())
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["record"] for r in records[:1]] == ["report"] and records[-1]["record"] == "summary"
    assert records[0]["schema"] == full["schema"] and records[0]["dataset"] == full["dataset"]
    images = [{k: v for k, v in r.items() if k != "record"} for r in records if r["record"] == "image"]
    assert images == full["images"]
    assert {k: v for k, v in records[-1].items() if k != "record"} == full["summary"]


def test_a_long_section_is_summarised_per_code(tmp_path, run):
    data = small_set(tmp_path / "data", 6)
    code, out, err = run("audit", data, "--jobs", "1", "--select", "RES", "--max-listed", "3")
    assert code == 1, err
    assert "DROP 6 images" in out
    assert "RES001 far-below-resolution — 6 images, e.g.:" in out and "RES004 cropped-to-bucket — 6 images" in out
    assert out.count("10_x/s0") == 10 and "10_x/s05" not in out  # the first five paths of each code, not all six
    assert "more than --max-listed 3: the full list is in --json, --jsonl or --html" in out
    code, out, _ = run("audit", data, "--jobs", "1", "--select", "RES", "--max-listed", "0")
    assert out.count("10_x/s0") == 6
    code, _, err = run("audit", data, "--max-listed", "-1")
    assert code == 2 and "--max-listed" in err


def test_report_files_are_written_atomically_and_never_through_a_link(tmp_path, run):
    data = small_set(tmp_path / "data", 2)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "r.json"
    link.symlink_to(victim)
    code, _, err = run("audit", data, "--json", link, "-q", "--jobs", "1", "--select", "RES")
    assert code == 2 and "is a symbolic link" in err
    assert victim.read_text() == "keep me" and link.is_symlink()
    code, _, err = run("audit", data, "--jsonl", link, "-q", "--jobs", "1", "--select", "RES")
    assert code == 2 and victim.read_text() == "keep me"
    # a pipe or device the user names (/dev/stdout, a FIFO) is written as a stream, never replaced by a file
    import os
    import threading

    fifo, got = tmp_path / "pipe", []
    os.mkfifo(fifo)
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    code, _, err = run("audit", data, "--json", fifo, "-q", "--jobs", "1", "--select", "RES")
    reader.join(timeout=60)
    assert code == 1, err
    assert fifo.is_fifo() and json.loads(got[0])["summary"]["images"] == 3
    # a plain file: the whole report, and no temporary file left beside it
    out = tmp_path / "plain.json"
    code, _, _ = run("audit", data, "--json", out, "-q", "--jobs", "1", "--select", "RES")
    assert json.loads(out.read_text())["summary"]["images"] == 3
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_report_written_in_pieces_is_the_report_one_entry_per_line(tmp_path):
    import io

    from curate.files import atomic_writer
    from curate.report import json_report

    images = [{"path": "a\udcff.png", "n": [1, 2.5, None, True]}, {"path": "b.png", "evidence": {"k": "ü"}}]
    report = {"schema": "x", "images": images, "groups": [], "summary": {"é": "ü", "by_code": {"A": 1}}}
    buf = io.StringIO()
    json_report.write(report, buf)
    text = buf.getvalue()
    fixed = {**report, "images": [{"path": "a\\xff.png", "n": [1, 2.5, None, True]}, images[1]]}
    assert json.loads(text) == fixed  # file-name bytes that are not UTF-8 escaped, the rest as it was
    text.encode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and '    {"path": "b.png", "evidence": {"k": "ü"}}' in lines
    assert '  "summary": {' in lines and '    "é": "ü",' in lines  # the rest indented as before
    target = tmp_path / "r.json"
    target.write_text("old")
    try:
        with atomic_writer(target) as f:
            f.write("half a rep")
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_long_list_is_written_in_batches_one_entry_per_line():
    import io

    from curate.report import json_report

    images = [{"path": f"{k:05d}.png", "findings": [{"code": "RES001"}] * (k % 3)} for k in range(2 * 1000 + 7)]
    report = {"schema": "x", "images": images, "groups": [{"kind": "g", "members": ["a\udcff"]}], "summary": {}}
    buf = io.StringIO()
    json_report.write(report, buf)
    text = buf.getvalue()
    fixed = {**report, "groups": [{"kind": "g", "members": ["a\\xff"]}]}
    assert json.loads(text) == fixed
    lines = text.splitlines()
    entries = [line for line in lines if line.startswith('    {"path": ')]
    assert len(entries) == len(images) and all(json.loads(e.rstrip(",")) == i for e, i in zip(entries, images))


def test_the_scan_joins_paths_as_pathlib_does():
    from curate.scan import path_joiner

    for root in (".", "/", "a", "a/b/", "./a", "/x/y", "a//b", ".."):
        for rel in ("f.jpg", "sub/f.jpg", "10_x y/é.png"):
            assert path_joiner(Path(root))(rel) == str(Path(root) / rel)


def test_many_duplicate_groups_are_summarised_per_kind(tmp_path, run):
    """A million-picture set has hundreds of thousands of duplicate groups: past --max-listed the console gives
    their count per kind and the first five of each, not a line per group."""
    d = tmp_path / "data" / "10_x"
    d.mkdir(parents=True)
    for i in range(7):  # seven pictures, each with an exact copy: seven groups
        im = Image.new("RGB", (300, 300), (i * 30 % 256, 40 + i * 20, 90))
        im.paste((255 - i * 30, 10, 10), (20 * i, 20, 20 * i + 60, 140))
        for copy in ("a", "b"):
            im.save(d / f"p{i}{copy}.png")
    code, out, err = run("audit", tmp_path / "data", "--jobs", "1", "--select", "DUP001", "--max-listed", "3")
    assert "DUPLICATE GROUPS" in out, err
    groups = [line for line in out.splitlines() if ": keep 10_x/p" in line]
    assert len(groups) == 5 and "— 7 groups, e.g.:" in out
    assert "(7 groups, more than --max-listed 3: the full list is in --json, --jsonl or --html" in out
    code, out, _ = run("audit", tmp_path / "data", "--jobs", "1", "--select", "DUP001", "--max-listed", "0")
    assert len([line for line in out.splitlines() if ": keep 10_x/p" in line]) == 7 and "e.g." not in out


def test_a_group_line_names_at_most_max_listed_of_each_verdict(tmp_path, run):
    d = tmp_path / "data" / "10_x"
    d.mkdir(parents=True)
    im = Image.new("RGB", (300, 300), (30, 90, 150))
    for k in range(6):
        im.save(d / f"c{k}.png")
    code, out, err = run("audit", tmp_path / "data", "--jobs", "1", "--select", "DUP001", "--max-listed", "2")
    line = next(line for line in out.splitlines() if ": keep 10_x/c0.png" in line)
    assert "· drop 10_x/c1.png, 10_x/c2.png and 3 more" in line, out

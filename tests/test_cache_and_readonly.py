"""The cache (no decode on an unchanged folder; a killed run keeps what it did) and the read-only promise."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, by_path, write_image

from curate.cache import FeatureCache


def snapshot(root):
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_symlink() and p.exists()
    }


def test_audit_never_writes_into_the_dataset(sample_copy, run, tmp_path):
    before = snapshot(sample_copy)
    dirs_before = sorted(p for p in sample_copy.rglob("*") if p.is_dir())
    assert run("audit", sample_copy, "--json", tmp_path / "out.json", "--jobs", "2")[0] == 1
    assert run("audit", sample_copy, "-q")[0] == 1  # warm run too
    assert snapshot(sample_copy) == before
    assert sorted(p for p in sample_copy.rglob("*") if p.is_dir()) == dirs_before


def test_rerun_on_an_unchanged_folder_decodes_nothing(sample_copy, audit_json):
    _, first = audit_json(sample_copy)
    n = len(first["images"])
    # Every distinct content is decoded once: the byte-identical `astronaut (copy).jpg` shares the
    # original's features, whatever the job count and the timing of cache commits.
    contents = {(sample_copy / i["path"]).read_bytes() for i in first["images"]}
    ex = first["summary"]["extraction"]
    assert ex["identical"] == 1 and ex["from_cache"] == 0 and ex["hashed"] == n
    assert ex["decoded"] == len(contents) == n - 1
    _, second = audit_json(sample_copy)
    ex = second["summary"]["extraction"]
    assert ex["decoded"] == 0 and ex["hashed"] == 0 and ex["from_cache"] == n
    assert [i["findings"] for i in second["images"]] == [i["findings"] for i in first["images"]]


def test_renamed_file_is_hashed_not_decoded_and_changed_file_is_decoded(sample_copy, audit_json):
    audit_json(sample_copy)
    src = sample_copy / "10_pdphoto photo" / "hubble.jpg"
    src.rename(src.with_name("hubble_renamed.jpg"))
    _, report = audit_json(sample_copy)
    assert report["summary"]["extraction"]["decoded"] == 0 and report["summary"]["extraction"]["hashed"] == 1
    write_image(sample_copy / "10_pdphoto photo" / "astronaut.jpg", (800, 800), name="coffee.jpg")
    _, report = audit_json(sample_copy)
    assert report["summary"]["extraction"]["decoded"] == 1
    assert by_path(report)["10_pdphoto photo/astronaut.jpg"]["width"] == 800


def test_no_cache_writes_no_cache(tmp_path, run):
    d = tmp_path / "d"
    write_image(d / "a.png", (1024, 1024))
    cache = tmp_path / "cache-unused"
    assert run("audit", d, "--no-cache", "-q")[0] == 0
    assert run("audit", d, "-q", "--cache-dir", cache, "--no-cache")[0] == 0
    assert not cache.exists()


@pytest.mark.slow
def test_parallel_and_serial_extraction_agree(sample_copy, audit_json, tmp_path):
    _, serial = audit_json(sample_copy, "--no-cache")
    code, parallel = audit_json(sample_copy, "--no-cache", "--jobs", "2")
    for r in (serial, parallel):
        r["summary"]["extraction"].pop("seconds")
    assert serial == parallel  # the statistics too: identical files are decoded once at any job count


def test_a_killed_run_leaves_a_usable_cache(tmp_path):
    """Kill the extraction abruptly (os._exit, no cleanup) after 40 of 60 images; the next run reuses them."""
    d = tmp_path / "many"
    for i in range(60):
        write_image(d / f"{i:02d}.png", (96 + i, 96), caption=None)
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from curate.cache import FeatureCache
        from curate.extract import extract_features
        from curate.extract.decode import Limits
        from curate.model import Caption, ImageRecord
        recs = [ImageRecord(p.name, str(p), p.stat().st_size, None, Caption(None, None))
                for p in sorted(Path({str(d)!r}).glob("*.png"))]
        seen = [0]
        def progress(k):
            seen[0] += k
            if seen[0] == 40:
                os._exit(9)
        extract_features(recs, FeatureCache(Path({str(cache)!r})), Limits(), jobs=1, on_progress=progress,
                         names=("image",))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    db = sqlite3.connect(cache / FeatureCache.FILE_NAME)
    rows = db.execute("SELECT COUNT(DISTINCT sha256) FROM features").fetchone()[0]
    db.close()
    # Committed every COMMIT_EVERY images or every second, whichever comes first: of the 40 images done, at
    # most one batch since the last commit is lost (a time-based commit can come before image 32).
    from curate.extract import COMMIT_EVERY

    assert 40 - COMMIT_EVERY <= rows <= 40 and rows > 0

    from curate.extract import extract_features
    from curate.extract.decode import Limits
    from curate.model import Caption, ImageRecord

    recs = [ImageRecord(p.name, str(p), p.stat().st_size, None, Caption(None, None)) for p in sorted(d.glob("*.png"))]
    stats = extract_features(recs, FeatureCache(cache), Limits(), jobs=1, names=("image",))
    assert stats.decoded == 60 - rows and stats.from_cache == rows


def test_cache_survives_a_corrupt_or_foreign_cache_file(tmp_path, run):
    d = tmp_path / "d"
    write_image(d / "a.png", (1024, 1024))
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / FeatureCache.FILE_NAME).write_bytes(b"this is not a database" * 100)
    code, out, err = run("audit", d, "--cache-dir", cache)
    assert code == 0 and "Traceback" not in err and "moved it aside" in err


def test_only_the_extractors_the_selected_checks_need_run(tmp_path, audit_json):
    from curate.checks import Selection, load_all
    from curate.checks.registry import needed_extractors
    from curate.rules import load_settings

    load_all()
    s = load_settings()
    assert needed_extractors(Selection(select=("DUP001", "DUP002", "resolution")), s) == ("image",)
    assert needed_extractors(Selection(select=("noise",)), s) == ("image", "quality")
    every = ("frame", "image", "marks", "metadata", "quality", "stamps")
    assert needed_extractors(Selection(), s) == tuple(sorted(("clip", "faces", *every)))
    # Without CLIP the composition checks cannot run, so nobody asks for faces (identity is off by default).
    assert needed_extractors(Selection(), s, frozenset({"clip"})) == every
    assert needed_extractors(Selection(select=("watermark",)), s) == ("image", "marks")
    d = tmp_path / "d"
    write_image(d / "a.png", (1024, 1024))
    _, fast = audit_json(d, "--select", "DUP001,DUP002")
    _, full = audit_json(d)  # the same cache: the image features are reused, the others computed now
    assert fast["summary"]["extraction"]["decoded"] == 1 and full["summary"]["extraction"]["decoded"] == 1
    _, again = audit_json(d)
    assert again["summary"]["extraction"]["decoded"] == 0


def test_a_reaudit_after_changes_matches_only_the_new_pictures_and_reports_the_same(sample_copy, audit_json):
    """The near-duplicate pairs found are kept per folder (curate/derive/duplicates.PairMemo); after pictures are
    added, removed and changed, the next audit matches only the pairs with a new picture — and its report is the
    one an audit without any cache writes."""
    from PIL import Image

    from curate.audit import AuditOptions, run_audit

    select = ("--select", "DUP001,DUP002")
    audit_json(sample_copy, *select)
    folder = sample_copy / "10_pdphoto photo"
    with Image.open(folder / "chelsea_cat.jpg") as im:  # a new near-duplicate of a picture already there
        im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(folder / "chelsea_smaller.jpg", quality=85)
    (folder / "coffee_small.jpg").unlink()  # a copy gone: its pair with coffee.jpg goes with it
    write_image(folder / "rocket.jpg", (900, 700), name="hubble.jpg")  # changed: now a copy of hubble.jpg
    _, cached = audit_json(sample_copy, *select)
    _, fresh = audit_json(sample_copy, *select, "--no-cache")
    for r in (cached, fresh):
        r["summary"].pop("extraction")
    assert cached == fresh
    groups = {g["keep"]: sorted(g["members"]) for g in fresh["groups"]}
    assert any("10_pdphoto photo/chelsea_smaller.jpg" in members for members in groups.values()), groups
    # the memo is what the audit used: with it the matcher saw only the two new contents
    seen = []
    import curate.derive.duplicates as derive

    real = derive.near_pair_rows

    def spy(*args, fresh=None, **kw):
        seen.append(None if fresh is None else int(fresh.sum()))
        return real(*args, fresh=fresh, **kw)

    derive.near_pair_rows = spy
    try:
        cache = sample_copy.parent / "another-cache"
        opts = dict(select=("DUP001", "DUP002"), cache_dir=cache, jobs=1)
        run_audit(AuditOptions(sample_copy, **opts))
        (folder / "rocket_export.png").unlink()
        with Image.open(folder / "motorcycle.jpg") as im:
            im.crop((0, 0, im.width * 9 // 10, im.height)).save(folder / "motorcycle_cropped.jpg", quality=90)
        run_audit(AuditOptions(sample_copy, **opts))
        run_audit(AuditOptions(sample_copy, **opts))
    finally:
        derive.near_pair_rows = real
    assert seen == [None, 1], seen  # all at first; then the one new picture; then nothing to match

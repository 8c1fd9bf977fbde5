"""Features held as the cache's JSON text and decoded when read (issue 22: a million pictures in bounded memory):
the same values as plain dicts, the common questions answered without decoding, and the report's image entries made
one at a time."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import pickle
import random
from collections import OrderedDict

import pytest
from builders import record
from conftest import write_image

from curate import model
from curate.audit import AuditOptions, run_audit
from curate.cache import FeatureCache
from curate.derive.duplicates import find_duplicates
from curate.model import StoredFeatures
from curate.report import json_report
from curate.rules import load_settings


@pytest.fixture
def decodes(monkeypatch):
    """How many times a stored record was decoded."""
    count = [0]
    real = json.loads

    def counting(text, *a, **k):
        count[0] += 1
        return real(text, *a, **k)

    monkeypatch.setattr(model.json, "loads", counting)
    return count


def stored(rec):
    """The record with its features held as the audit holds them."""
    rec.features = StoredFeatures.encoded(dict(rec.features))
    return rec


def test_stored_features_read_as_the_dicts_they_were():
    plain = record(quality={"noise_sigma": 1.5, "spectrum": [1.0, 0.5]}).features
    kept = StoredFeatures.encoded(plain)
    assert dict(kept.items()) == plain and kept == plain and set(kept) == set(plain) and len(kept) == len(plain)
    assert kept["quality"]["spectrum"] == [1.0, 0.5] and kept.get("faces") is None and "image" in kept
    for again in (kept.copy(), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        assert again == plain and again._key != kept._key  # a key of its own: a decode is never read across
    kept["sidecars"] = {"a.xmp": "x"}  # a value set as given stays as given
    assert kept["sidecars"] == {"a.xmp": "x"} and kept.light("sidecars") == {"a.xmp": "x"}
    kept["quality"] = {"noise_sigma": 9.0}  # replaced: the old decode is not read again
    assert kept["quality"] == {"noise_sigma": 9.0}
    del kept["quality"]
    assert "quality" not in kept and kept.light("quality") == {}


def test_size_format_and_failure_are_read_without_decoding(decodes):
    rec = stored(record(w=640, h=480, fmt="JPEG", quality={"error": {"kind": "failed", "detail": "x"}}))
    decodes[0] = 0
    assert (rec.readable, rec.width, rec.height, rec.format) == (True, 640, 480, "JPEG")
    assert rec.light("quality")["error"]["kind"] == "failed" and rec.light("image")["frames"] == 1
    assert decodes[0] == 0
    assert rec.image["phash"] and decodes[0] == 1
    assert rec.image["dhash"] and decodes[0] == 1  # the decode is kept while the picture is being read
    broken = stored(record(error={"kind": "truncated"}))
    assert not broken.readable and broken.width is None


def test_decoded_records_kept_are_bounded(decodes, monkeypatch):
    monkeypatch.setattr(StoredFeatures, "DECODED_KEPT", 8)
    monkeypatch.setattr(StoredFeatures, "_decoded", OrderedDict())
    records = [stored(record(f"{k}.png")) for k in range(20)]
    decodes[0] = 0
    for rec in records:
        assert rec.image["width"] == 1024
    assert decodes[0] == 20 and len(StoredFeatures._decoded) <= 8
    assert records[-1].image and decodes[0] == 20  # the last ones are still kept
    assert records[0].image and decodes[0] == 21  # the first were dropped: decoded again


def test_duplicates_read_each_picture_once_and_skip_damaged_hashes(decodes):
    same = "a" * 16
    records = [stored(record(f"{k}.png", phash=same, dhash=same, views=[[same, same]] * 6)) for k in range(3)]
    records.append(stored(record("damaged.png", phash=same, dhash=same, views=[[same, same]] * 2)))
    decodes[0] = 0
    dup = find_duplicates(records, load_settings())
    assert [sorted([g.keep.path, *(m.copy.path for m in g.matches)]) for g in dup.near] == [["0.png", "1.png", "2.png"]]
    assert decodes[0] <= 2 * len(records)  # hashes once each; colour layouts of the matched ones


def test_the_audit_holds_stored_features_and_reports_the_same(tmp_path):
    root = tmp_path / "data"
    write_image(root / "0.png", (64, 64))
    write_image(root / "1.png", (600, 600), "astronaut.jpg")
    write_image(root / "2.png", (600, 600), "astronaut.jpg")  # the same pixels as 1.png
    opts = AuditOptions(root=root, cache_dir=tmp_path / "cache", jobs=1)
    cold, warm = run_audit(opts), run_audit(opts)
    for result in (cold, warm):
        assert all(isinstance(r.features, StoredFeatures) for r in result.records)
    reports = [json_report.build(r) for r in (cold, warm)]
    for report in reports:
        report["summary"].pop("extraction")
    assert reports[0] == reports[1]
    images = reports[0]["images"]
    assert isinstance(images, json_report.ImageEntries) and len(images) == 3
    assert images == list(images) and images[1:] == list(images)[1:] and images[0]["width"] == 64
    written = io.StringIO()
    json_report.write(reports[0], written)
    assert json.loads(written.getvalue())["images"] == list(images)
    lines = [json.loads(line) for line in json_report.jsonl_lines(reports[0])]
    assert [line["path"] for line in lines if line["record"] == "image"] == ["0.png", "1.png", "2.png"]


def test_an_empty_folder_writes_an_empty_list(tmp_path):
    (tmp_path / "data").mkdir()
    report = json_report.build(run_audit(AuditOptions(root=tmp_path / "data", use_cache=False)))
    written = io.StringIO()
    json_report.write(report, written)
    assert json.loads(written.getvalue())["images"] == []


def test_a_malformed_cached_row_is_a_miss_not_a_stored_text(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put_features("s" * 64, {"image": "[1, 2]"}, {"image": 1})
    assert cache.get_features("s" * 64, {"image": 1}, stored=True) is None
    cache.put_features("s" * 64, {"image": {"width": 5}}, {"image": 1})
    got = cache.get_features("s" * 64, {"image": 1}, stored=True)
    assert isinstance(got, StoredFeatures) and got.light("image") == {"width": 5} and got == {"image": {"width": 5}}


def test_exact_groups_are_those_of_content_or_pixels_joined():
    """Exact copies found on arrays of digests (a million pictures' dicts of digests would hold hundreds of MB): the
    groups the definition gives — same bytes or same pixels, joined transitively — with the keeper as before."""
    rng = random.Random(4)
    contents = [hashlib.sha256(bytes([k])).hexdigest() for k in range(60)]
    pixels = [None] * 30 + ["short", *(hashlib.sha256(bytes([100 + k])).hexdigest() for k in range(10))]
    records = [
        record(f"{k:03d}.png", sha=rng.choice(contents), pixel=rng.choice(pixels), size=rng.randrange(1000, 9000))
        for k in range(80)
    ]
    parent = list(range(len(records)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for key in ("sha256", "pixel"):
        first: dict[str, int] = {}
        for i, rec in enumerate(records):
            value = rec.sha256 if key == "sha256" else rec.image["pixel_hash"]
            if value is not None:
                a, b = find(first.setdefault(value, i)), find(i)
                parent[max(a, b)] = min(a, b)
    expected: dict[int, set[str]] = {}
    for i, rec in enumerate(records):
        expected.setdefault(find(i), set()).add(rec.path)
    dup = find_duplicates(records, load_settings())
    got = [{g.keep.path, *(r.path for r, _ in g.copies)} for g in dup.exact]
    assert sorted(map(sorted, got)) == sorted(sorted(m) for m in expected.values() if len(m) > 1)
    assert len(got) >= 5

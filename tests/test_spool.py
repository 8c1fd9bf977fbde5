"""What an audit would hold for every picture until its reports are written — the features and the findings — kept
in a spool, an anonymous temporary file (issue 22: a million pictures in bounded memory): read back exactly, in
memory where no file can be had or written, and in the order and counts the reports expect."""

from __future__ import annotations

import copy
import os
import pickle
import random
import tempfile
from collections import Counter

import pytest
from builders import record
from conftest import write_image

from curate import decide, spool
from curate.audit import AuditOptions, run_audit
from curate.decide import FindingLog, split_findings, tally, verdict
from curate.model import CATEGORIES, SEVERITY_RANK, Finding, Spooled, StoredFeatures
from curate.report import json_report
from curate.spool import Spool


def items(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))) for _ in range(n)]


@pytest.mark.parametrize("where", ["file", "no file", "disk fills"])
def test_a_spool_gives_back_what_was_put(monkeypatch, where):
    monkeypatch.setattr(spool, "WRITE_EVERY", 1000)  # many writes to the file, and items across them
    if where == "no file":
        monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: (_ for _ in ()).throw(OSError("no tmp")))
    writes = [0]
    real = os.pwrite

    def filling(fd, data, at):
        writes[0] += 1
        if writes[0] > 3:
            raise OSError(28, "No space left on device")
        return real(fd, data[:100] if writes[0] == 1 else data, at)  # a short write first

    if where == "disk fills":
        monkeypatch.setattr(spool.os, "pwrite", filling)
    s = Spool()
    data = items(200)
    positions = [s.put(d) for d in data]
    assert s.on_disk == (where == "file")
    assert [s.get(p) for p in positions] == data
    assert [s.get(p) for p in reversed(positions)] == data[::-1]
    start, end = positions[10] >> 32, positions[150] >> 32
    assert s.read(start, end) == b"".join(data[10:150])
    if where == "file":
        assert s._written > 10_000 and len(s._pending) < 1000  # the bytes are in the file, not held
    if where == "disk fills":
        assert writes[0] == 4 and 0 < s._written < sum(map(len, data))  # what was written is read from the file


def findings(n: int, seed: int = 3) -> list[Finding]:
    rng = random.Random(seed)
    paths = [f"{k}.png" for k in range(20)] + ["orphan.txt", None]
    return [
        Finding(
            rng.choice(["RES001", "DUP001", "CAP002", "BLR001"]),
            rng.choice(CATEGORIES[:6]),
            rng.choice(["error", "warning", "info"]),
            f"message {k} é",
            {"k": k, "nested": [1.5, {"x": None}], "t": (1, 2)},
            rng.choice(paths),
        )
        for k in range(n)
    ]


def test_a_finding_log_reads_like_the_list_it_was_given(monkeypatch):
    monkeypatch.setattr(decide, "READ_TOGETHER", 7)  # iteration across many blocks
    monkeypatch.setattr(spool, "WRITE_EVERY", 500)
    given = findings(100)
    log = FindingLog(given)
    assert len(log) == 100 and log == given and list(log) == given and log[0] == given[0] and log[-1] == given[-1]
    assert log[10:20] == given[10:20] and log[::-7] == given[::-7] and log != given[:-1]
    assert FindingLog() == [] and list(FindingLog()) == []
    for fields in (("code",), ("severity",), ("category", "severity"), ("path", "code")):
        expected = Counter(
            getattr(f, fields[0]) if len(fields) == 1 else tuple(getattr(f, n) for n in fields) for f in given
        )
        got = tally(log, *fields)
        assert got == expected == tally(given, *fields)
        assert list(got) == list(expected)  # in the order of first appearance, as Counter's ties are
    assert tally(FindingLog(), "code") == Counter()
    assert decide.exit_code(log, "error") == decide.exit_code(given, "error") == 1
    assert decide.exit_code(FindingLog(f for f in given if f.severity == "info"), "warning") == 0


def test_a_finding_log_reads_back_past_2_gib_of_findings(monkeypatch):
    """A spool past 2 GiB (a million pictures with large findings: a 100,000-picture CLIP audit did it) gives
    positions whose offset << 32 does not fit 64 bits: the log keeps offsets and sizes apart. The spool here starts
    its offsets at 5 GiB instead of writing them."""
    far = 5 << 30

    class Far(Spool):
        def put(self, data: bytes) -> int:
            return super().put(data) + (far << 32)

        def read(self, start: int, end: int) -> bytes:
            return super().read(start - far, end - far)

    monkeypatch.setattr(decide, "Spool", Far)
    monkeypatch.setattr(decide, "READ_TOGETHER", 7)
    given = findings(50)
    log = FindingLog(given)
    assert log[0] == given[0] and log[-1] == given[-1] and list(log) == given


@pytest.mark.parametrize("where", ["file", "no file"])
def test_spooled_rows_index_as_the_array_they_were(monkeypatch, where):
    """Spooled rows (DUP003's vectors from 100,000 pictures) give what the array they were gives, however indexed,
    with rows split across the spool's writes and some not yet written."""
    import numpy as np

    from curate.spool import SpooledRows

    monkeypatch.setattr(spool, "WRITE_EVERY", 100)
    if where == "no file":
        monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: (_ for _ in ()).throw(OSError("no tmp")))
    want = np.random.default_rng(3).normal(size=(53, 7)).astype(np.float16)
    rows = SpooledRows(7)
    for row in want:
        rows.append(row)
    assert len(rows) == 53 and rows.shape == (53, 7) and rows.dtype == np.float16
    assert (
        np.array_equal(rows[0], want[0]) and np.array_equal(rows[-1], want[-1]) and np.array_equal(rows[17], want[17])
    )
    for key in (slice(None), slice(5, 20), slice(None, None, 7), slice(40, 100), slice(30, 10), slice(3, 50, 4)):
        assert np.array_equal(rows[key], want[key]), key
    for idx in ([5, 3, 3, 52, 0, 1, 2], np.array([], dtype=np.int64), np.arange(53)[::-1], [9]):
        assert np.array_equal(rows[idx], want[idx]), idx
    for bad in (53, -54, [0, 53]):
        with pytest.raises(IndexError):
            rows[bad]
    with pytest.raises(ValueError, match="bytes"):
        rows.append(np.zeros(6))
    rows.close()


def test_findings_by_image_as_the_definition_orders_them():
    given = findings(300, seed=5)
    records = [record(f"{k}.png") for k in range(25)]  # 20–24 have no findings
    per_image, other = split_findings(records, FindingLog(given))
    images = {r.path for r in records}
    expected: dict[str, list[Finding]] = {}
    for f in given:
        if f.path in images:
            expected.setdefault(f.path, []).append(f)
    for found in expected.values():  # errors first, then by the category vocabulary; ties in check order
        found.sort(key=lambda f: (-SEVERITY_RANK[f.severity], CATEGORIES.index(f.category)))
    assert dict(per_image) == expected and set(per_image) == set(expected) and len(per_image) == len(expected)
    assert other == [f for f in given if f.path not in images]
    assert "24.png" not in per_image and per_image.get("24.png", ()) == () and per_image.worst("24.png") == 0
    for r in records:
        assert decide.VERDICT_OF_RANK[per_image.worst(r.path)] == verdict(expected.get(r.path, ()))
    with pytest.raises(KeyError):
        per_image["24.png"]
    assert split_findings(records, given)[0] == per_image  # a plain list is logged first


def test_spooled_features_read_as_the_dicts_they_were():
    plain = record(quality={"noise_sigma": 1.5, "spectrum": [1.0, 0.5]}).features
    s = Spool()
    kept = StoredFeatures.encoded(plain, s)
    assert isinstance(kept._stored, Spooled)  # no text held in memory
    assert dict(kept.items()) == plain and kept.light("image")["width"] == 1024
    assert kept.texts() == StoredFeatures.encoded(plain).texts()
    for again in (kept.copy(), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept)), kept.spooled(Spool())):
        assert again == plain and again._key != kept._key
    assert isinstance(pickle.loads(pickle.dumps(kept))._stored, tuple)  # a pickle carries the texts themselves
    kept["sidecars"] = {"a.xmp": "x"}
    assert kept["sidecars"] == {"a.xmp": "x"} and kept.copy()["sidecars"] == {"a.xmp": "x"}
    # A stage after extraction (CLIP) adds its record as stored text, to the spool too, not as a value held
    kept["clip"] = {"set": "in memory"}
    text = '{"model":"m","views":{"full":"AAA="}}'
    kept.store("clip", text)
    assert kept["clip"] == {"model": "m", "views": {"full": "AAA="}} and "clip" not in (kept._given or {})
    assert isinstance(kept._stored, Spooled) and kept.texts()["clip"] == text
    assert {n: kept[n] for n in plain} == plain and kept["sidecars"] == {"a.xmp": "x"}  # the rest unchanged
    assert pickle.loads(pickle.dumps(kept))["clip"] == kept["clip"]
    kept.store("image", '{"error":{"kind":"corrupt"}}')  # its light keys follow the new text
    assert kept.light("image") == {"error": {"kind": "corrupt"}}


def test_an_audit_holds_no_feature_text_or_finding_in_memory(tmp_path, monkeypatch):
    root = tmp_path / "data"
    write_image(root / "small.png", (64, 64))
    write_image(root / "1.png", (600, 600), "astronaut.jpg")
    write_image(root / "2.png", (600, 600), "astronaut.jpg")  # the same pixels: a duplicate finding
    (root / "orphan.txt").write_text("a caption without its image")
    results = [run_audit(AuditOptions(root=root, cache_dir=tmp_path / "cache", jobs=1)) for _ in range(2)]
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: (_ for _ in ()).throw(OSError("no tmp")))
    results.append(run_audit(AuditOptions(root=root, use_cache=False, jobs=1)))  # no spool file: held in memory
    reports = []
    for result in results:
        assert isinstance(result.findings, FindingLog) and len(result.findings) >= 3
        reports.append(json_report.build(result))
        reports[-1]["summary"].pop("extraction")
        reports[-1]["images"] = list(reports[-1]["images"])
    for result in results[:2]:  # cold and warm: every text in the spool file
        assert result.findings._spool.on_disk
        for r in result.records:
            assert isinstance(r.features._stored, Spooled)
    assert not results[2].findings._spool.on_disk
    assert list(results[2].findings) == list(results[0].findings)  # read back in order from memory or the file
    assert reports[0] == reports[1] == reports[2]
    assert [(f.code, f.path) for f in results[0].other_findings] == [("CAP004", "orphan.txt"), ("CAP014", None)]
    assert [f.code for f in results[0].per_image["2.png"]] == ["RES001", "DUP001"]
    assert [e["verdict"] for e in reports[0]["images"]] == ["drop"] * 3

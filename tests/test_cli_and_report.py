"""The real CLI on the bundled sample dataset: gate, JSON contract, console report, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest
from conftest import ROOT, SAMPLE, by_path, codes, write_image

from curate.report.json_report import SCHEMA_FILE

# The planted problems, as documented in sample_datasets/README.md.
P = "10_pdphoto photo/"
T = "5_pdtexture texture/"
EXPECTED = {
    P + "astronaut.jpg": [],
    P + "coffee.jpg": [],
    P + "rocket.jpg": [],
    P + "motorcycle.jpg": [],
    P + "hubble.jpg": [],
    P + "flower_preview.jpg": ["WMK001"],
    T + "grass.jpg": [],
    T + "ihc_stain.jpg": [],
    T + "網膜の写真.jpg": [],
    P + "astronaut (copy).jpg": ["DUP001"],
    P + "rocket_export.png": ["DUP001"],
    P + "coffee_small.jpg": ["RES002", "DUP002"],
    P + "motorcycle_warm.jpg": ["DUP002"],
    P + "grace_hopper.jpg": ["CAP001", "TXT001"],
    P + "chelsea_cat.jpg": ["RES002"],
    P + "camera_thumb.png": ["RES001"],
    P + "retina_strip.jpg": ["RES001", "RES003", "RES004"],
    P + "hubble_zoomed.jpg": ["UPS001"],
    P + "download_interrupted.jpg": ["UNR003"],
    P + "saved_from_browser.png": ["UNR002"],
    T + "brick.jpg": ["CAP002", "BLR001"],
    T + "gravel.jpg": ["CAP003"],  # brick: the CC0 texture is soft (not enlarged: the photo corpus says so too)
    T + "grass_loop.gif": ["UNR007"],  # kohya skips GIFs: one finding, nothing that assumes it is trained
}


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    from typer.testing import CliRunner

    from curate.cli import app

    cache = tmp_path_factory.mktemp("cache")
    result = CliRunner().invoke(app, ["audit", str(SAMPLE), "--json", "-", "--cache-dir", str(cache)])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_sample_dataset_findings_are_exactly_the_planted_ones(sample_report):
    code, report, _ = sample_report
    assert code == 1
    got = {img["path"]: [f["code"] for f in img["findings"]] for img in report["images"]}
    assert got == EXPECTED
    verdicts = {img["path"]: img["verdict"] for img in report["images"]}
    assert verdicts[P + "astronaut.jpg"] == "keep" and verdicts[P + "grace_hopper.jpg"] == "review"
    assert verdicts[P + "camera_thumb.png"] == "drop"
    assert [(f["path"], f["code"]) for f in report["findings"]] == [(P + "deleted_shot.txt", "CAP004")]
    assert report["dataset"]["resolution"] == [512, 512] and report["dataset"]["caption_extension"] == ".txt"
    assert {(c["folder"], c["repeats"]) for c in report["dataset"]["concepts"]} == {
        ("10_pdphoto photo", 10),
        ("5_pdtexture texture", 5),
    }


def test_json_report_matches_the_published_schema(sample_report):
    _, report, _ = sample_report
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(report, schema)
    assert report["schema"] == "curate.audit/v1"
    assert report["summary"]["drop"] + report["summary"]["review"] + report["summary"]["keep"] == len(report["images"])
    groups = {(g["kind"], g["keep"]) for g in report["groups"]}
    assert ("exact-duplicate", P + "astronaut.jpg") in groups and ("near-duplicate", P + "coffee.jpg") in groups


def test_schema_rejects_a_broken_report(sample_report):
    _, report, _ = sample_report
    bad = json.loads(json.dumps(report))
    bad["images"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json.loads(SCHEMA_FILE.read_text()))


def test_console_report_goes_to_stderr_when_json_is_on_stdout(sample_report):
    _, _, err = sample_report
    assert "DROP 9 images" in err and "REVIEW 6 images" in err
    assert "upscaled 2.00×" in err and "gate: exit 1" in err


def test_console_report_reads_like_a_colleague(warm_run):
    code, out, _ = warm_run("audit", SAMPLE)
    assert code == 1
    for text in (
        "DROP 9 images",
        "camera_thumb.png",
        "256×256 will be upscaled 2.00× to the 512×512 bucket",
        "identical file: duplicate of 10_pdphoto photo/astronaut.jpg",
        "DUPLICATE GROUPS",
        "10_pdphoto photo: 17 images × 10 repeats",
        "Summary",
        "keep 8",
        "review 6",
        "drop 9",
        "near-duplicate: keep 10_pdphoto photo/coffee.jpg · review 10_pdphoto photo/coffee_small.jpg",
    ):
        assert text in out.replace("\n", " ") or text in out, text


@pytest.mark.parametrize("fail_on, expected", [("error", 1), ("warning", 1), ("never", 0)])
def test_gate_exit_codes_on_the_sample(warm_run, fail_on, expected):
    assert warm_run("audit", SAMPLE, "--fail-on", fail_on, "-q")[0] == expected


def test_gate_on_a_clean_and_a_warning_only_folder(run, tmp_path):
    clean = tmp_path / "clean"
    write_image(clean / "a.png", (1024, 1024))
    write_image(clean / "b.jpg", (1216, 832), name="coffee.jpg", quality=92)
    assert run("audit", clean, "-q")[0] == 0
    assert run("audit", clean, "-q", "--fail-on", "warning")[0] == 0
    write_image(clean / "c.png", (900, 900), name="rocket.jpg", caption=None)  # RES002 + CAP001: warnings
    assert run("audit", clean, "-q")[0] == 0
    assert run("audit", clean, "-q", "--fail-on", "warning")[0] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["audit", "/no/such/folder"], "no such folder"),
        (["audit", str(SAMPLE), "--fail-on", "sometimes"], "--fail-on must be one of"),
        (["audit", str(SAMPLE), "--base-model", "sd9"], "unknown base model"),
        (["audit", str(SAMPLE), "--profile", "portrait"], "unknown profile"),
        (["audit", str(SAMPLE), "--rules", "/no/rules.toml"], "rules file not found"),
        (["audit", str(SAMPLE), "--select", "XYZ999"], "no check matches XYZ999"),
        (["audit", str(SAMPLE), "--kohya-config", "/no/config.toml"], "--kohya-config: no such file"),
        (["audit", str(SAMPLE / "dataset_config.toml")], "not a folder"),
        (["rules", "ZZZ001"], "no check has the code"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run, args, message):
    code, out, err = run(*args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unknown_option_is_a_usage_error(run):
    assert run("audit", SAMPLE, "--frobnicate")[0] == 2


@pytest.mark.slow
def test_select_and_ignore(audit_json):
    _, report = audit_json(SAMPLE, "--select", "duplicate")
    assert {f["category"] for i in report["images"] for f in i["findings"]} == {"duplicate"}
    _, report = audit_json(SAMPLE, "--ignore", "RES,caption")
    cats = {f["category"] for i in report["images"] for f in i["findings"]}
    assert "resolution" not in cats and "caption" not in cats and "duplicate" in cats


def test_base_model_and_profile_options(audit_json, tmp_path):
    d = tmp_path / "plain"
    write_image(d / "a.png", (640, 640))
    _, report = audit_json(d, "--base-model", "sd15")
    assert codes(report, "a.png") == [] and report["dataset"]["base_model"] == "sd15"
    _, report = audit_json(d, "--base-model", "pony")
    assert codes(report, "a.png") == ["RES001"] and report["dataset"]["base_model"] == "sdxl"
    _, report = audit_json(d, "--profile", "person")
    assert report["dataset"]["profile"] == "person"


def test_rules_command(run):
    code, out, _ = run("rules")
    assert code == 0 and "RES001" in out and "DUP002" in out and "UNR005" in out
    code, out, _ = run("rules", "dup002", "--profile", "person")
    assert code == 0 and "near-duplicate" in out and "under profile person: error" in out
    assert "phash_max_distance" in out


def test_version_and_module_entry_point():
    from curate import __version__

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cmd in ([sys.executable, "-m", "curate", "--version"],):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == f"curate {__version__}"


def test_json_to_a_file_and_stdout_are_the_same(warm_run, tmp_path):
    out = tmp_path / "r.json"
    code, stdout, _ = warm_run("audit", SAMPLE, "--json", out, "-q")
    assert code == 1 and stdout == ""
    code2, stdout2, _ = warm_run("audit", SAMPLE, "--json", "-", "-q")
    a, b = json.loads(out.read_text()), json.loads(stdout2)
    for r in (a, b):
        r["summary"].pop("extraction")
    assert a == b


def test_every_scanned_file_appears_once(sample_report):
    _, report, _ = sample_report
    on_disk = sorted(
        p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*") if p.suffix.lower() in {".jpg", ".png", ".gif"}
    )
    assert sorted(by_path(report)) == on_disk

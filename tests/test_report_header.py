"""What the report states before any finding: the assumptions behind its advice, which images kohya will not
train on, dataset-level problems said once, and the generated check reference."""

from __future__ import annotations

import json
import re

from conftest import ROOT, SAMPLE, by_path, write_image
from rich.cells import cell_len
from typer.testing import CliRunner

from curate.cli import app


def test_header_states_every_assumption_and_where_it_came_from(run, audit_json, tmp_path):
    _, out, _ = run("audit", SAMPLE)
    for line in (
        "resolution 512 px — dataset_config.toml",
        "enable_bucket on — dataset_config.toml",
        "min_bucket_reso 256 px — dataset_config.toml",
        "max_bucket_reso 1024 px — dataset_config.toml",
        "bucket_reso_steps 64 px — kohya_ss default (dataset_config.toml does not set it)",
        "bucket_no_upscale off — dataset_config.toml",
        "caption_extension .txt — dataset_config.toml",
        "trainer kohya_ss GUI defaults — curate's default: most LoRA trainers run sd-scripts through the kohya_ss GUI",
    ):
        assert line in out, line
    plain = tmp_path / "plain"
    write_image(plain / "10_me person" / "a.png", (1024, 1024))
    (plain / "10_me person" / "a.txt").rename(plain / "10_me person" / "a.caption")
    _, out, _ = run("audit", plain)
    assert "resolution 1024 px — base model sdxl" in out and "bucket_no_upscale on — kohya_ss default" in out
    assert (
        "caption_extension .caption — detected: 1 of 1 captions beside images here use it, but the kohya_ss GUI "
        "defaults read .txt: set the caption extension to .caption in your trainer" in " ".join(out.split())
    )
    _, report = audit_json(plain, "--trainer", "sd-scripts")
    assumed = {a["setting"]: a for a in report["dataset"]["assumptions"]}
    assert assumed["enable_bucket"]["value"] == "off" and assumed["enable_bucket"]["source"] == "sd-scripts default"
    assert assumed["trainer"]["source"] == "--trainer sd-scripts"
    assert report["dataset"]["base_model_source"] == "curate default"


def test_an_image_kohya_does_not_load_gets_one_finding_and_is_not_trained(run, audit_json, tmp_path):
    d = tmp_path / "d"
    write_image(d / "5_thing" / "a.png", (1024, 1024))
    write_image(d / "5_thing" / "small.gif", (300, 200), name="coffee.jpg", caption=None)  # no caption, tiny
    write_image(d / "5_thing" / "small_copy.png", (300, 200), name="coffee.jpg")  # its twin
    _, report = audit_json(d)
    gif = by_path(report)["5_thing/small.gif"]
    assert [f["code"] for f in gif["findings"]] == ["UNR007"]  # not RES001, CAP001, DUP…
    assert "will skip this image" in gif["findings"][0]["message"]
    assert not any(f["code"].startswith("DUP") for i in report["images"] for f in i["findings"])
    [concept] = report["dataset"]["concepts"]
    assert concept["images"] == 3 and concept["not_loaded_by_kohya"] == 1
    _, out, _ = run("audit", d)
    assert "5_thing: 2 images × 5 repeats = 10 steps per epoch (1 more that kohya does not load)" in out


def test_provenance_datasheet_states_the_training_resolution_not_a_guessed_base_model(run, tmp_path):
    out = tmp_path / "out"
    assert run("report", "provenance", SAMPLE, "--out", out, "--cache-dir", tmp_path / "c")[0] == 0
    md = (out / "provenance-report.md").read_text(encoding="utf-8")
    assert "training resolution 512 px (dataset_config.toml)" in md
    assert "base model not stated (give --base-model)" in md and "sdxl" not in md
    data = json.loads((out / "provenance-report.json").read_text(encoding="utf-8"))
    assert data["dataset"]["base_model"] is None and data["dataset"]["training_resolution"] == [512, 512]
    assert run("report", "provenance", SAMPLE, "--out", out, "--cache-dir", tmp_path / "c", "-m", "sd15")[0] == 0
    assert "base model sd15" in (out / "provenance-report.md").read_text(encoding="utf-8")


def test_rules_listing_is_readable_in_80_columns():
    from curate.checks import load_all
    from curate.report.checks_reference import first_sentence

    result = CliRunner().invoke(app, ["rules"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), [line for line in lines if cell_len(line) > 80]
    text = " ".join(" ".join(line.split()) for line in lines)
    for r in load_all().values():  # every description whole, not cut to the column's width
        assert " ".join(first_sentence(r).split()) in text, r.code


def test_check_reference_in_docs_is_generated_and_current():
    result = CliRunner().invoke(app, ["rules", "--format", "markdown"])
    assert result.exit_code == 0
    committed = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert committed == result.stdout, "docs/checks.md is stale: run `curate rules --format markdown > docs/checks.md`"


def _readme_block(marker: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"<!-- {marker} -->")
    body = text[start : text.index(f"<!-- /{marker} -->")]
    return body.split("```", 2)[1].split("\n")[1:-1]


def test_readme_examples_are_what_command_1_prints(run, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # README command 1 runs from the repository root, with a fresh cache
    code, out, _ = run("audit", "sample_datasets/lora_data", "--json", tmp_path / "r.json")
    assert code == 1

    def timeless(line: str) -> str:
        return re.sub(r"in [0-9.]+ s", "in N s", line)

    printed = [timeless(line) for line in out.split("\n")]
    at = 0
    for line in _readme_block("sample-output"):
        if line.strip() in ("", "…"):
            continue
        prefix = timeless(line.split("…")[0])
        found = next((i for i in range(at, len(printed)) if printed[i].startswith(prefix)), None)
        assert found is not None, f"README shows a line the audit no longer prints (or not in this order): {line}"
        at = found + 1
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["summary"]
    summary["extraction"].pop("seconds")
    assert json.loads("\n".join(_readme_block("sample-json"))) == summary

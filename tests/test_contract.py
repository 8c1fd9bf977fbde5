"""The check contract and its guardrails: declarations enforced, data flow explicit, typed settings validated,
docs that render live settings and restate no default, failures that are findings, internal errors exit 3."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from builders import ctx, face, hx, record
from PIL import Image
from typer.testing import CliRunner

from curate import thresholds
from curate.checks import load_all
from curate.checks.registry import (
    CHECKS,
    PLACEHOLDER,
    Check,
    Derivation,
    UndeclaredRule,
    derivation_order,
    image_check,
    rule,
    run_one,
)
from curate.cli import app
from curate.model import Finding
from curate.report.checks_reference import NAV_END, NAV_START, navigation
from curate.rules import load_settings, load_toml, rules_dir

ROOT = Path(__file__).resolve().parent.parent
RULES = load_all()


def test_typed_settings_and_checks_toml_hold_the_same_keys():
    base = load_toml(rules_dir() / "checks.toml")
    assert thresholds.problems(base) == []
    for section, cls in thresholds.SECTIONS.items():
        assert set(base[section]) == set(cls.__dataclass_fields__), section
    typed = load_settings().cfg
    assert typed.resolution.error_upscale == 1.5 and isinstance(typed.duplicate.phash_max_distance, int)
    assert load_settings("style").cfg.resolution.error_upscale == 1.25


def test_a_mistyped_rules_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('[resolution]\nerror_upscale = "big"\n')
    (tmp_path / "data").mkdir()
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "data"), "--rules", str(bad), "--no-cache"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "[resolution] error_upscale must be a number, not 'big'" in lines[0]


def test_every_rule_is_emitted_by_one_declared_check_that_reads_its_settings():
    for code, r in RULES.items():
        owners = [c for c in CHECKS if r in c.emits]
        assert len(owners) == 1, code
        if r.settings_section:
            assert r.settings_section in owners[0].settings, f"{code} documents [{r.settings_section}]"
        for section, _ in PLACEHOLDER.findall(r.doc):
            assert section in owners[0].settings, f"{code}'s doc names [{section}], which its check does not read"
    assert {r.code for c in CHECKS for r in c.emits} == set(RULES)


def test_docs_name_settings_and_never_restate_their_values():
    """A doc says `[section] key ({section.key})`; a literal number right after a setting's name is a default
    restated (it lies as soon as a profile or a --rules file changes it)."""
    for code, r in RULES.items():
        stale = re.findall(r"\[[a-z_]+\]\s+[a-z_]+\s+\(\d", r.doc)
        assert stale == [], f"{code}: {stale}"
    text = CliRunner().invoke(app, ["rules", "RES001", "--profile", "style"]).output
    assert "(1.25×)" in text and "(1.5×)" not in text


def _message_constants(func) -> list[str]:
    """The literal text of every message a check function passes to ctx.finding(...)."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(func)))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "finding" and len(node.args) >= 2:
            for part in ast.walk(node.args[1]):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    out.append(part.value)
    return out


def test_messages_do_not_hard_code_a_threshold():
    """Messages state the setting in force (an f-string field), never a default's value as text."""
    settings = load_settings()
    for check in CHECKS:
        values = set()
        for section in check.settings:
            for value in settings.section(section).values():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value not in (0, 1):
                    values |= {f"{value:g}", f"{value:.2f}", f"{value:.1f}"}
        for text in _message_constants(check.func):
            numbers = set(re.findall(r"(?<![\w./])\d+(?:\.\d+)?(?![\w.])", text))  # not "/64"
            assert not numbers & values, f"{check.module}: '{text}' restates {numbers & values}"


def test_a_check_cannot_report_what_it_did_not_declare():
    c = ctx()
    with pytest.raises(TypeError):
        c.finding("RES001", "a string code")  # type: ignore[arg-type]
    c.running = Check(lambda rec, ctx: (), "image", (RULES["CAP001"],))
    with pytest.raises(UndeclaredRule):
        c.finding(RULES["RES001"], "not declared")
    with pytest.raises(TypeError):
        image_check(emits=("RES001",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a setting"):
        rule("ZZZ999", "x", "blur", "info", "Uses {blur.no_such_key}.")


def test_derived_results_run_before_their_consumers_in_data_flow_order():
    calls = []
    a = Derivation("a", lambda recs, s: calls.append("a"))
    b = Derivation("b", lambda recs, s: calls.append("b"), after=(a,))
    c = Derivation("c", lambda recs, s: calls.append("c"), after=(b, a))
    check = Check(lambda recs, ctx: (), "dataset", (RULES["DUP001"],), consumes=(c, b))
    assert [d.name for d in derivation_order([check])] == ["a", "b", "c"]
    loop = Derivation("loop", lambda recs, s: None)
    object.__setattr__(loop, "after", (loop,))
    with pytest.raises(ValueError, match="depends on itself"):
        derivation_order([Check(lambda recs, ctx: (), "dataset", (RULES["DUP001"],), consumes=(loop,))])


def test_turning_a_duplicate_rule_off_changes_no_other_check():
    """Identity leaves copies out whatever DUP002's severity (it used to depend on the duplicate check having
    run first, and on DUP002 being on)."""
    from curate.checks import identity

    rng = np.random.default_rng(1)
    d0 = rng.normal(size=128) * 0.05
    recs = [record(f"10_x/p{i}.png", faces={"analysed_width": 1024, "faces": [face(d0 + 0.001 * i)]}) for i in range(3)]
    # Two near copies of someone else: counted once, they would not outvote the person; counted twice, with
    # DUP002 off, they used to.
    other = d0 + 0.2
    for name in ("o1.png", "o2.png"):
        recs.append(
            record(f"10_x/{name}", phash=hx(7), dhash=hx(7), faces={"analysed_width": 1024, "faces": [face(other)]})
        )
    results = []
    for severity in ("warning", "off"):
        c = ctx("person")
        c.settings.data["severity"]["DUP002"] = severity
        results.append([(f.code, f.path) for f in run_one(identity.check, recs, c) if isinstance(f, Finding)])
    assert results[0] == results[1]


def test_selected_out_checks_are_skipped_in_analyses_not_ok(audit_json, tmp_path):
    from conftest import write_image

    data = tmp_path / "data" / "10_x"
    data.mkdir(parents=True)
    write_image(data / "a.png", size=(640, 640))
    _, report = audit_json(tmp_path / "data", "--select", "RES")
    assert report["analyses"]["resolution"] == {"status": "ok"}
    blur = report["analyses"]["blur"]
    assert blur["status"] == "skipped" and blur["by_choice"] and blur["checks"] == ["BLR001"]
    assert "quality" not in report["analyses"]  # not needed, not run


def test_an_extractor_failure_is_a_finding_and_is_not_cached(tmp_path, monkeypatch):
    from curate.audit import AuditOptions, run_audit
    from curate.extract import quality

    data = tmp_path / "data" / "10_x"
    data.mkdir(parents=True)
    Image.new("RGB", (1024, 1024), (120, 130, 140)).save(data / "a.png")
    (data / "a.txt").write_text("a photo")

    def boom(decoded):
        raise ValueError("boom")

    opts = AuditOptions(root=tmp_path / "data", jobs=1, cache_dir=tmp_path / "cache", select=("UNR", "BLR"))
    monkeypatch.setattr(quality, "compute", boom)
    first = run_audit(opts)
    (f,) = first.per_image["10_x/a.png"]
    assert f.code == "UNR010" and "quality analysis failed (ValueError: boom)" in f.message
    assert first.verdicts["10_x/a.png"] == "review" and first.analyses["quality"]["failed"] == 1
    monkeypatch.undo()
    second = run_audit(opts)
    assert second.stats.decoded == 1 and second.stats.from_cache == 0  # the failure was not cached
    assert second.per_image.get("10_x/a.png", []) == []


def test_an_internal_error_is_one_line_and_exit_3(tmp_path, monkeypatch):
    import curate.audit

    def broken(*args, **kwargs):
        raise RuntimeError("something impossible")

    monkeypatch.setattr(curate.audit, "run_audit", broken)
    (tmp_path / "data").mkdir()
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "data"), "--no-cache"])
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "internal error: RuntimeError: something impossible" in lines[0]
    assert "--debug" in lines[0] and "Traceback" not in result.output
    debug = CliRunner().invoke(app, ["--debug", "audit", str(tmp_path / "data"), "--no-cache"])
    assert isinstance(debug.exception, RuntimeError)


def test_architecture_navigation_table_is_generated_and_current():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text[text.index(NAV_START) : text.index(NAV_END) + len(NAV_END)]
    assert block == navigation(RULES.values()), (
        "docs/architecture.md is stale: run `python -m curate.report.checks_reference`"
    )
    for code in RULES:
        assert f"| {code} |" in block


def test_every_code_is_in_the_changelog_and_has_a_since():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for code, r in RULES.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", r.since), code
        prefix, number = code[:3], int(code[3:])
        ranges = re.findall(rf"{prefix}(\d{{3}})(?:–{prefix}(\d{{3}}))?", changelog)
        assert any(int(lo) <= number <= int(hi or lo) for lo, hi in ranges), f"{code} is not in CHANGELOG.md"


def test_no_check_imports_another_check():
    """Checks share what they need through curate/derive/ (docs/architecture.md), never through each other."""
    import ast

    from conftest import ROOT

    for path in sorted((ROOT / "curate" / "checks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("curate.checks."):
                assert node.module == "curate.checks.registry", f"{path.name} imports {node.module}"


def test_check_order_does_not_depend_on_which_check_module_was_imported_first():
    """Reports list checks in CHECK_MODULES order; a module imported early by name registers first, and load_all
    puts the registries back in order (CI imports them in test order, a user's plugin in its own)."""
    probe = (
        "import sys\n"
        "if sys.argv[1] == 'early':\n"
        "    from curate.checks import repeated_mark, watermark, unreadable  # noqa: F401\n"
        "from curate.checks.registry import CHECKS, load_all\n"
        "rules = load_all()\n"
        "print(' '.join(rules), '|', ' '.join(c.emits[0].code for c in CHECKS))\n"
    )
    plain, early = (
        subprocess.run([sys.executable, "-c", probe, how], capture_output=True, text=True, check=True).stdout
        for how in ("plain", "early")
    )
    assert plain == early and plain.index("WMK001") < plain.index("WMK002") < plain.index("TXT001")

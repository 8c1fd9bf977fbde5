"""The command line: `curate audit PATH`, `curate rules [CODE]`, `curate consent init PATH`,
`curate report provenance PATH`, `curate --version`. Usage errors exit 2, internal errors exit 3."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from pathlib import Path
from typing import IO, Any, Callable, List, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from curate import __version__
from curate.decide import FAIL_ON, exit_code
from curate.model import display_path
from curate.rules import RulesError

app = typer.Typer(
    help="Audit an image folder before training a LoRA on it: what to drop, and why, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _fail(message: str) -> None:
    """One line on stderr, exit code 2: a usage error the user can fix."""
    Console(stderr=True, highlight=False).print(f"[bold red]curate: error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def _console(stderr: bool = False) -> Console:
    """On a terminal rich wraps long lines itself; into a file or pipe each line stays whole (greppable)."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
    return console


DEBUG = {"on": False}  # --debug / CURATE_DEBUG: show the traceback of an internal error
F = TypeVar("F", bound=Callable[..., Any])


def guarded(command: F) -> F:
    """An unexpected exception in a command is one line and exit code 3 (a bug in curate, not a finding and
    not a usage error); `curate --debug` shows the traceback instead."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:
            if DEBUG["on"]:
                raise
            where = e.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            at = f" at {Path(where.tb_frame.f_code.co_filename).name}:{where.tb_lineno}" if where else ""
            Console(stderr=True, highlight=False).print(
                f"[bold red]curate: internal error:[/] {escape(type(e).__name__)}: {escape(str(e))}{at} — a bug in "
                "curate; rerun with `curate --debug ...` for the traceback and report it",
                soft_wrap=True,
            )
            raise typer.Exit(3) from None

    return run  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="CURATE_DEBUG",
        help="Show the traceback of an internal error (exit code 3) instead of one line.",
    ),
) -> None:
    """curate — audit a LoRA training folder."""
    DEBUG["on"] = debug


# Options several commands share, declared once (each call makes a fresh option for one command).
def _profile_option() -> Any:
    return typer.Option(None, "--profile", "-p", help="general (default), person, style, character.")


def _base_model_option() -> Any:
    return typer.Option(None, "--base-model", "-m", help="sd15, sd2, sdxl (default), flux; aliases pony, illustrious…")


def _rules_option() -> Any:
    return typer.Option(None, "--rules", help="A TOML file of threshold/severity overrides.")


def _jobs_option() -> Any:
    return typer.Option(
        0, "--jobs", "-j", envvar="CURATE_JOBS", help="Worker processes (default: all cores; CURATE_JOBS also works)."
    )


def _report_argument() -> Any:
    return typer.Argument(..., metavar="REPORT.json", help="An audit's JSON report (--json FILE).")


def _dataset_option() -> Any:
    return typer.Option(
        None, "--dataset", help="The audited folder, when the report's path does not lead to it from here."
    )


def _audited_root(report: dict, dataset: Optional[Path]) -> Path:
    """The folder a saved report audited: --dataset, else the path the report names (as typed at the audit)."""
    return dataset or Path(str((report.get("dataset") or {}).get("root", "")))


def _cache_dir_option() -> Any:
    return typer.Option(None, "--cache-dir", help="Feature cache folder (default: user cache).")


def _no_cache_option() -> Any:
    return typer.Option(False, "--no-cache", help="Do not read or write the feature cache.")


def _split(values: Optional[List[str]]) -> tuple[str, ...]:
    return tuple(t.strip() for v in (values or []) for t in v.split(",") if t.strip())


@app.command()
@guarded
def audit(
    path: Path = typer.Argument(..., help="The dataset folder (e.g. ./lora_data, kohya layout or plain)."),
    base_model: Optional[str] = _base_model_option(),
    profile: Optional[str] = _profile_option(),
    rules: Optional[Path] = _rules_option(),
    kohya_config: Optional[Path] = typer.Option(
        None, "--kohya-config", help="kohya dataset_config.toml (default: the one in PATH, if any)."
    ),
    caption_extension: Optional[str] = typer.Option(
        None, "--caption-extension", help="Caption extension kohya will read (.txt/.caption)."
    ),
    training_config: Optional[Path] = typer.Option(
        None,
        "--kohya-training-config",
        help="The training config training will use (train_network.py --config_file X.toml, or kohya_ss's saved "
        "JSON): its resolution, buckets, caption extension, dataset_config and folders apply. Default: the one "
        "beside the dataset, if there is exactly one.",
    ),
    trainer: Optional[str] = typer.Option(
        None,
        "--trainer",
        help="Whose defaults apply where no config says: kohya_ss (the GUI: buckets on, no upscale, .txt; "
        "default) or sd-scripts (its command line: buckets off, .caption); a musubi-tuner config uses "
        "musubi-tuner's. rules/trainers.toml.",
    ),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the JSON report to FILE ('-' for stdout)."),
    html_out: Optional[Path] = typer.Option(
        None, "--html", help="Write a self-contained HTML review page (thumbnails, evidence) to FILE."
    ),
    jsonl_out: Optional[Path] = typer.Option(
        None, "--jsonl", help="Write the report as JSON Lines to FILE (one image per line; for very large sets)."
    ),
    max_listed: int = typer.Option(
        200,
        "--max-listed",
        help="List at most this many images (or groups) per console section, else summarise (0: all).",
    ),
    fail_on: str = typer.Option("error", "--fail-on", help="Exit 1 on findings at this level: error, warning, never."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these codes/prefixes/categories."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these codes/prefixes/categories."),
    jobs: int = _jobs_option(),
    engine: str = typer.Option(
        "local", "--engine", help="Where images are decoded: local (a process pool) or ray (a Ray cluster)."
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="The Ray cluster for --engine ray (default: RAY_ADDRESS, else a local Ray)."
    ),
    cache_dir: Optional[Path] = _cache_dir_option(),
    no_cache: bool = _no_cache_option(),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No console report (use with --json)."),
    clip_model: Optional[str] = typer.Option(
        None, "--clip-model", help="open_clip model[/pretrained tag] (default ViT-B-32/datacomp_xl_s13b_b90k)."
    ),
    clip_weights: Optional[Path] = typer.Option(
        None,
        "--clip-weights",
        envvar="CURATE_CLIP_WEIGHTS",
        help="A local CLIP checkpoint for --clip-model (no download).",
    ),
    offline: bool = typer.Option(
        False,
        "--offline",
        envvar="CURATE_OFFLINE",
        help="Never use the network (CLIP weights must be cached or given).",
    ),
    require_clip: bool = typer.Option(
        False, "--require-clip", help="Exit 2 when the CLIP checks cannot run (instead of skipping them)."
    ),
    device: str = typer.Option("auto", "--device", help="CLIP device: auto, cpu, cuda, mps."),
) -> None:
    """Audit PATH and report what to drop, what to review, and why."""
    from curate.audit import AuditOptions
    from curate.report import console as console_report
    from curate.report import json_report

    if fail_on not in FAIL_ON:
        _fail(f"--fail-on must be one of {', '.join(FAIL_ON)}, not '{fail_on}'")
    if caption_extension and not caption_extension.startswith("."):
        caption_extension = "." + caption_extension
    if jobs < 0:
        _fail("--jobs must be 0 (all cores) or a positive number")
    if engine not in ("local", "ray"):
        _fail(f"--engine must be local or ray, not '{engine}'")
    if engine == "ray":
        from curate.extract import ray_engine

        if why := ray_engine.missing():
            _fail(why)
    elif ray_address:
        _fail("--ray-address needs --engine ray")
    if device not in ("auto", "cpu", "cuda", "mps"):
        _fail(f"--device must be auto, cpu, cuda or mps, not '{device}'")
    from curate.extract.clip import DEFAULT_MODEL, DEFAULT_PRETRAINED, ClipOptions

    model, _, tag = (clip_model or "").partition("/")
    clip = ClipOptions(
        model=model or DEFAULT_MODEL,
        pretrained=tag or (DEFAULT_PRETRAINED if not clip_model else None) if not clip_weights else None,
        weights=clip_weights,
        offline=offline,
        device=device,
    )
    if clip_weights is not None and not clip_weights.is_file():
        _fail(
            f"--clip-weights: no such file: {clip_weights} "
            "(a checkpoint for --clip-model, e.g. open_clip_model.safetensors)"
        )
    if clip_model and not tag and not clip_weights:
        _fail("--clip-model needs a pretrained tag (ViT-B-16/datacomp_xl_s13b_b90k) or --clip-weights FILE")
    opts = AuditOptions(
        root=path,
        base_model=base_model,
        profile=profile,
        rules_file=rules,
        kohya_config=kohya_config,
        caption_extension=caption_extension,
        trainer=trainer,
        training_config=training_config,
        jobs=jobs,
        engine=engine,
        ray_address=ray_address,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        select=_split(select),
        ignore=_split(ignore),
        clip=clip,
        require_clip=require_clip,
    )
    from curate.audit import fewer_collections

    with fewer_collections():
        result = _run(opts)
        err = _console(stderr=True)
        code = exit_code(result.findings, fail_on)
        if json_out is not None or html_out is not None or jsonl_out is not None:
            report = json_report.build(result, code)  # once, for every format asked for
            if json_out is not None:
                _write_report(json_out, "the JSON report", lambda f: json_report.write(report, f))
            if jsonl_out is not None:
                _write_report(
                    str(jsonl_out), "the JSON Lines report", lambda f: f.writelines(json_report.jsonl_lines(report))
                )
            if html_out is not None:
                _write_html(report, path, html_out)
        if max_listed < 0:
            _fail("--max-listed must be 0 (no limit) or a positive number")
        if not quiet:
            out = err if json_out == "-" else _console()
            console_report.render(result, out, fail_on, code, max_listed)
    raise typer.Exit(code)


def _write_report(target: str, what: str, write: Callable[[IO[str]], None]) -> None:
    """`-`: stdout. A terminal, pipe or device (`/dev/stdout`): written as a stream. A file: written beside itself
    and renamed into place (a gate never reads half a report), never through a symbolic link."""
    from curate.files import atomic_writer, is_stream

    try:
        if target == "-":
            write(sys.stdout)
        elif is_stream(Path(target)):
            with open(target, "w", encoding="utf-8") as f:
                write(f)
        else:
            with atomic_writer(Path(target)) as f:
                write(f)
    except OSError as e:
        _fail(f"cannot write {what} to {target}: {e.strerror or e}")


def _write_html(report: dict, root: Path, out: Path) -> None:
    from curate.report import html as html_report

    try:
        html_report.write(report, root, out)
    except OSError as e:
        _fail(f"cannot write the HTML report to {out}: {e.strerror or e}")


@app.command("rules")
@guarded
def rules_cmd(
    code: Optional[str] = typer.Argument(None, help="A check code (RES001) to explain; all checks when omitted."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Show severities under this profile."),
    fmt: str = typer.Option("text", "--format", help="text, or markdown (the check reference, docs/checks.md)."),
) -> None:
    """List every check, or explain one: what it flags, why, and its thresholds."""
    from curate.checks import load_all
    from curate.report import checks_reference
    from curate.rules import load_settings

    all_rules = load_all()
    try:
        settings = load_settings(profile)
    except RulesError as e:
        _fail(str(e))
    if fmt not in ("text", "markdown"):
        _fail(f"--format: choose text or markdown, not '{fmt}'")
    if fmt == "markdown":
        sys.stdout.write(checks_reference.markdown(all_rules.values(), settings))
        return
    console = _console()
    if code is None:
        console.print("[bold]code   severity category · name[/]  (then what it flags)")
        for line in checks_reference.listing(all_rules.values(), settings, min(console.width, 100)):
            console.print(escape(line), soft_wrap=True)
        console.print("Explain one with `curate rules CODE`.")
        return
    r = all_rules.get(code.strip().upper())
    if r is None:
        _fail(f"no check has the code '{code}'; `curate rules` lists them")
        return
    console.print(
        f"[bold]{r.code}[/] {r.name} · category {r.category} · default severity {r.severity}"
        f" · under profile {settings.profile}: {settings.severity(r.code, r.severity)} · since {r.since}"
        + (f" · deprecated: {escape(r.deprecated)}" if r.deprecated else "")
    )
    console.print()
    console.print(escape(r.render(settings)), soft_wrap=True)
    if r.settings_section:
        console.print()
        console.print(
            f"[bold]Thresholds[/] (rules/checks.toml {escape(f'[{r.settings_section}]')}, profile {settings.profile}):"
        )
        for key, value in settings.section(r.settings_section).items():
            console.print(f"  {key} = {value!r}")
    console.print(f"\nDefined in {r.module.replace('.', '/')}.py")


consent_app = typer.Typer(
    help="The consent manifest (provenance.csv) at the dataset root.", no_args_is_help=True, rich_markup_mode=None
)
report_app = typer.Typer(help="Reports for a model card.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(consent_app, name="consent")
app.add_typer(report_app, name="report")


class Terminated(KeyboardInterrupt):
    """SIGTERM: unwound like Ctrl-C (the extraction pool ends its workers), then exit code 143."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def _ignore_further_interrupts() -> None:
    """The workers are gone and curate is exiting: another Ctrl-C must not cut the exit short."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _run(opts):
    """The audit pipeline with a progress bar on stderr; usage errors exit 2, Ctrl-C exits 130."""
    from curate.audit import run_audit
    from curate.extract.ray_engine import EngineError

    err = _console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress.add_task("extracting features", total=None)
    previous = (
        signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        with progress:
            return run_audit(
                opts,
                on_scanned=lambda n: progress.update(task, total=n),
                on_progress=lambda k: progress.advance(task, k),
                on_notice=lambda m: err.print(f"[yellow]curate: note:[/] {escape(m)}"),
                on_phase=lambda name, n: progress.reset(task, total=n, description=name),
            )
    except (RulesError, EngineError) as e:
        _fail(str(e))
    except Terminated:
        _ignore_further_interrupts()
        err.print("curate: terminated; features extracted so far are cached")
        raise typer.Exit(143) from None
    except KeyboardInterrupt:
        _ignore_further_interrupts()
        err.print("curate: interrupted; features extracted so far are cached")
        raise typer.Exit(130) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_for_command(path: Path, profile, base_model, rules, cache_dir, no_cache, jobs):
    from curate.audit import AuditOptions

    return _run(
        AuditOptions(
            root=path,
            base_model=base_model,
            profile=profile,
            rules_file=rules,
            jobs=jobs,
            cache_dir=cache_dir,
            use_cache=not no_cache,
        )
    )


@consent_app.command("init")
@guarded
def consent_init(
    path: Path = typer.Argument(..., help="The dataset folder."),
    profile: Optional[str] = _profile_option(),
    rules: Optional[Path] = _rules_option(),
    cache_dir: Optional[Path] = _cache_dir_option(),
    no_cache: bool = _no_cache_option(),
    jobs: int = _jobs_option(),
) -> None:
    """Write PATH/provenance.csv, one row per image, prefilled from metadata and sidecars.

    Run it again after adding images: new rows are added; no existing row is changed (not even a cell a person
    emptied). The previous file is kept as provenance.csv.bak.
    """
    from curate.consent import merge, prefill, read_manifest, write_manifest

    result = _run_for_command(path, profile, None, rules, cache_dir, no_cache, jobs)
    target = Path(path) / result.settings.cfg.consent.manifest_name
    existing = read_manifest(target)
    if existing is not None and existing.problem:
        _fail(f"{existing.problem}; fix or move it before running `curate consent init`")
    fresh = [prefill(rec, result.signals_for(rec)) for rec in result.records]
    rows, added = merge(existing, fresh)
    try:
        backup = write_manifest(target, rows, existing.extra_columns if existing else ())
    except OSError as e:
        _fail(f"cannot write {target}: {e.strerror or e}")
    console = _console()
    console.print(
        f"wrote {escape(str(target))}: {len(rows)} rows ({added} new, {len(rows) - added} kept as they were)"
        + (f"; previous version kept as {escape(backup.name)}" if backup else "")
    )
    console.print(
        "Next: fill `subject`, `subject_consent` (yes/no) and `consent_ref` for each person pictured, "
        "and `licence` for third-party work."
    )


@report_app.command("provenance")
@guarded
def report_provenance(
    path: Path = typer.Argument(..., help="The dataset folder."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder for provenance-report.md and .json."),
    profile: Optional[str] = _profile_option(),
    base_model: Optional[str] = _base_model_option(),
    rules: Optional[Path] = _rules_option(),
    cache_dir: Optional[Path] = _cache_dir_option(),
    no_cache: bool = _no_cache_option(),
    jobs: int = _jobs_option(),
) -> None:
    """Write a provenance datasheet (Markdown + JSON) fit for a model card."""
    import json as _json

    from curate.files import atomic_writer
    from curate.report import provenance

    result = _run_for_command(path, profile, base_model, rules, cache_dir, no_cache, jobs)
    report = provenance.build(result)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_writer(out / "provenance-report.json") as f:
            f.write(_json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        with atomic_writer(out / "provenance-report.md") as f:
            f.write(provenance.markdown(report))
    except OSError as e:
        _fail(f"cannot write the report to {out}: {e.strerror or e}")
    s = report["summary"]
    _console().print(
        f"wrote {escape(str(out / 'provenance-report.md'))} and .json: {s['images']} images, "
        f"{s['opt_outs_found']} opt-outs ({s['opt_outs_excluded']} excluded), "
        f"{s['ai_generated']} AI-generated, consent: {s['by_subject_consent']}"
    )


@report_app.command("html")
@guarded
def report_html(
    report_path: Path = _report_argument(),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    dataset: Optional[Path] = _dataset_option(),
) -> None:
    """Turn an audit's JSON report into a self-contained HTML review page."""
    report = _load_report(report_path)
    if report.get("schema") != "curate.audit/v1":
        _fail(f"{report_path}: not a curate audit report (schema curate.audit/v1)")
    root = _audited_root(report, dataset)
    if not root.is_dir():
        _fail(f"{root}: the audited folder is not here (thumbnails come from it); give it with --dataset PATH")
    _write_html(report, root, out)
    _console().print(f"wrote {escape(str(out))}: {len(report.get('images') or [])} pictures")


def _load_report(path: Path) -> dict:
    import json as _json

    try:
        return _json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"{path}: no such file; write the report with `curate audit PATH --json {path}`")
    except (OSError, ValueError) as e:
        _fail(f"{path}: not a readable JSON report ({e})")
    raise AssertionError  # unreachable: _fail exits


def _refused(e: Exception, what: str) -> None:
    """Every reason an act refused, one per line on stderr; exit 2."""
    lines = str(e).splitlines()
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]curate: error:[/] {what} — {len(lines)} reason(s):")
    for line in lines:
        console.print(f"  {escape(line)}")
    raise typer.Exit(2)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@app.command("apply")
@guarded
def apply_cmd(
    report_path: Path = _report_argument(),
    move_to: Path = typer.Option(..., "--move-to", help="Quarantine folder (created; outside every concept folder)."),
    include_review: bool = typer.Option(False, "--include-review", help="Also move pictures with verdict review."),
    yes: bool = typer.Option(False, "--yes", help="Move them. Without it, only the plan is printed (dry run)."),
    dataset: Optional[Path] = _dataset_option(),
) -> None:
    """Move the pictures an audit says to drop — with their captions, sidecars and kohya latent caches — into a
    quarantine folder, keeping their relative paths. Dry run unless --yes; `curate undo DIR` puts them back."""
    from curate.act import quarantine

    report = _load_report(report_path)
    root = _audited_root(report, dataset)
    try:
        p = quarantine.plan(report, root, move_to, include_review)
    except quarantine.Refused as e:
        _refused(e, "nothing moved")
    t = p.totals()
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(t["by_verdict"].items())) or "none"
    out = _console()
    resumed = f" ({p.already_done} files moved before, by an earlier apply)" if p.already_done else ""
    head = "moving" if yes else "dry run: would move"
    out.print(
        f"{head} {t['images']} pictures ({verdicts}) — {t['files']} files, {_size(t['bytes'])} — "
        f"from {escape(str(p.dataset))} to {escape(str(p.quarantine))}{resumed}"
    )
    by_image: dict[str, list] = {}
    for m in p.moves:
        by_image.setdefault(m.image, []).append(m)
    for image, moves in by_image.items():
        extra = ", ".join(f"{m.kind} {Path(m.source).name}" for m in moves if m.kind != "image")
        line = f"  {moves[0].verdict:6} {image}" + (f"  (+ {extra})" if extra else "")
        out.print(escape(display_path(line)))
    if not yes:
        out.print("nothing moved; add --yes to move them (a journal is written first; `curate undo DIR` restores)")
        return
    try:
        moved = quarantine.apply(p)
    except OSError as e:
        _fail(
            f"stopped while moving: {e}; what moved is in {p.quarantine / quarantine.JOURNAL} — run the same "
            "command again to finish, or `curate undo` to put it back"
        )
    out.print(
        f"moved {moved} files; journal {escape(str(p.quarantine / quarantine.JOURNAL))}; "
        f"to put them back: curate undo {escape(str(p.quarantine))}"
    )


@app.command("export")
@guarded
def export_cmd(
    report_path: Path = _report_argument(),
    to: Path = typer.Option(..., "--to", help="A new folder for the clean kohya tree."),
    include_review: bool = typer.Option(False, "--include-review", help="Also export pictures with verdict review."),
    dataset: Optional[Path] = _dataset_option(),
) -> None:
    """Build a clean kohya tree of the pictures the audit keeps, with their captions (hard links; copies across
    file systems) and a matching dataset_config.toml. The dataset is not touched."""
    from curate.act import export, quarantine

    report = _load_report(report_path)
    root = _audited_root(report, dataset)
    try:
        p = export.plan(report, root, to, include_review)
    except quarantine.Refused as e:
        _refused(e, "nothing written")
    try:
        n = export.export(report, p)
    except OSError as e:
        _fail(f"stopped while exporting to {p.target}: {e}; remove it and run again")
    _console().print(
        f"exported {p.images} pictures ({n} files) to {escape(str(p.target))} with dataset_config.toml; "
        f"train with --dataset_config {escape(str(p.target / 'dataset_config.toml'))}"
    )


@app.command("undo")
@guarded
def undo_cmd(
    folder: Path = typer.Argument(..., metavar="DIR", help="A quarantine folder `curate apply` moved pictures into."),
) -> None:
    """Put back every file `curate apply` moved into DIR, byte-identical; a file whose place is taken again is
    left in DIR and named (exit 1)."""
    from curate.act import quarantine

    try:
        result = quarantine.undo(folder)
    except quarantine.Refused as e:
        _fail(str(e))
    out = _console()
    out.print(
        f"restored {len(result.restored)} files" + (f" ({result.already} restored before)" if result.already else "")
    )
    for line in result.conflicts:
        out.print(f"  not restored: {escape(display_path(line))}")
    if result.conflicts:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # a Ctrl-C outside an audit (while starting up, or in a report)
        sys.exit(130)

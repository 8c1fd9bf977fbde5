"""The console report a trainer reads: a summary, what to drop and why (with numbers), the duplicate
groups, then what to review, notes, other files, and the gate's verdict."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.text import Text

from curate import __version__
from curate.audit import AuditResult
from curate.checks.registry import RULES
from curate.decide import tally
from curate.model import Finding, ImageRecord
from curate.model import printable as _p

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
LABEL = {"error": "error", "warning": "warn ", "info": "info "}
VERDICT_STYLE = {"drop": "bold red", "review": "yellow", "keep": "green"}


MAX_LISTED = 200  # images listed per section; above it, counts per code and the first few paths per code
PER_CODE = 5


def render(result: AuditResult, console: Console, fail_on: str, code: int, max_listed: int = MAX_LISTED) -> None:
    """The console report. A section with more than `max_listed` images (0: no limit) is summarised: the count
    per code and the first PER_CODE paths of each, with where the full list is."""
    by_path = {r.path: r for r in result.records}
    _header(result, console)
    _summary(result, console)
    console.print()
    _other_files(result, console, "DATASET (said once; fails the gate, not an image)", dataset_level=True)
    _images(result, by_path, console, "drop", "DROP", max_listed=max_listed)
    _groups(result, console, max_listed)
    _images(result, by_path, console, "review", "REVIEW", max_listed=max_listed)
    _images(result, by_path, console, "keep", "NOTES on kept", only_with_findings=True, max_listed=max_listed)
    _other_files(result, console, "OTHER FILES", dataset_level=False)
    _gate(result, console, fail_on, code)


def _finding_line(f: Finding, indent: str = "    ") -> Text:
    t = Text(indent)
    t.append(LABEL[f.severity], style=STYLE[f.severity])
    t.append(f" {f.code}  ", style="dim")
    t.append(_p(f.message))
    return t


def _image_header(rec: ImageRecord) -> Text:
    t = Text("  ")
    t.append(_p(rec.path), style="bold")
    if rec.width and rec.height:
        t.append(f"  {rec.width}×{rec.height} {rec.format or ''}".rstrip(), style="dim")
    return t


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("s" if n != 1 else "")


def _header(result: AuditResult, console: Console) -> None:
    scan = result.scan
    head = Text()
    head.append(f"curate {__version__}", style="bold")
    head.append(f" · audit of {_p(str(scan.root))}")
    console.print(head)
    dirs = " and ".join(f"{d}/" for d in (scan.train_dir, scan.reg_dir) if d)
    layout = {
        "kohya_ss": f"kohya_ss project (trains {dirs})",
        "kohya": f"kohya folders{f' in {dirs}' if dirs else ''}",
        "concept": "one kohya concept folder",
        "dataset_config": f"kohya config {_p(scan.config_path or '')}",
        "plain": "plain folder",
    }.get(scan.layout, scan.layout)
    console.print(
        Text(f"  {_plural(len(result.records), 'image')} · {layout} · profile {result.settings.profile}", style="dim")
    )
    st = result.stats
    same = f", {st.identical} identical to another file" if st.identical else ""
    console.print(
        Text(f"  features: {st.decoded} decoded{same}, {st.from_cache} from cache, in {st.seconds:.1f} s", style="dim")
    )
    console.print(Text("  assumed for training (and where from):", style="dim"))
    for setting, value, source in scan.assumptions:
        console.print(Text(f"    {setting} {value} — {_p(source)}", style="dim"))
    for note in scan.notes:
        console.print(Text(f"  {_p(note)}", style="yellow"))
    if scan.layout != "plain":
        concepts: dict[tuple, list] = {}
        for r in result.records:
            c = r.concept
            concepts.setdefault((c.folder, c.repeats, c.tokens, c.is_reg), []).append(r)
        for (folder, repeats, tokens, is_reg), recs in sorted(concepts.items(), key=lambda x: x[0][0]):
            label = _p(folder) or "(dataset root)"
            k = sum(1 for r in recs if r.trained)
            if k == 0:
                why = next((r.not_trained for r in recs if r.not_trained), "") or "kohya does not load these files"
                console.print(Text(f"  {label}: {_plural(len(recs), 'image')} not trained — {_p(why)}", style="yellow"))
                continue
            if repeats is None:
                console.print(
                    Text(
                        f"  {label}: {_plural(len(recs), 'image')} — kohya will not read this folder "
                        f"(no N_ repeats prefix, or not a subset of the config)",
                        style="yellow",
                    )
                )
                continue
            skipped = f" ({len(recs) - k} more that kohya does not load)" if k < len(recs) else ""
            kind = "regularisation: " if is_reg else ""
            console.print(
                Text(
                    f"  {label}: {kind}{_plural(k, 'image')} × {repeats} repeats = {k * repeats} steps "
                    f"per epoch{skipped}{f' · tokens “{_p(tokens)}”' if tokens else ''}",
                    style="dim",
                )
            )
    for folder, n in scan.not_training:
        console.print(
            Text(f"  {_p(folder)}: {_plural(n, 'image')} outside the training folders — not training data, not audited")
        )
    for path, reason in scan.skipped:
        console.print(Text(f"  skipped {_p(path) or '.'}: {reason}", style="yellow"))
    for name, a in sorted(result.analyses.items()):
        if a.get("status") == "skipped" and not a.get("by_choice") and not a.get("cause"):
            console.print(
                Text(f"  {name} checks ({', '.join(a.get('checks', []))}) skipped: {a['reason']}", style="yellow")
            )
        if a.get("failed"):
            console.print(
                Text(
                    f"  the {name} analysis failed on {_plural(a['failed'], 'image')} (UNR010): review them by eye",
                    style="yellow",
                )
            )
        for key, detector, then in (
            ("mark_detector", "the mark detector", " — watermarks were looked for in readable text only"),
            ("text_mark_head", "the second mark detector (over the text detector's features)", ""),
        ):
            run: dict[str, Any] = a.get(key) or {}
            if run.get("status") == "skipped":
                images = _plural(run["images"], "image")
                console.print(Text(f"  {detector} did not run on {images}: {run['reason']}{then}", style="yellow"))
    console.print()


def _summary(result: AuditResult, console: Console) -> None:
    counts = result.verdict_counts()
    t = Text("Summary  ", style="bold")
    t.append(f"{_plural(len(result.records), 'image')}: ")
    t.append(f"keep {counts.get('keep', 0)}", style="green")
    t.append(" · ")
    t.append(f"review {counts.get('review', 0)}", style="yellow")
    t.append(" · ")
    t.append(f"drop {counts.get('drop', 0)}", style="bold red")
    console.print(t)
    by_cat: Counter[str] = Counter()
    for (category, severity), n in tally(result.findings, "category", "severity").items():
        if severity != "info":
            by_cat[category] += n
    if by_cat:
        console.print(
            Text("  findings by category: " + " · ".join(f"{c} {k}" for c, k in by_cat.most_common()), style="dim")
        )


def _images(
    result: AuditResult,
    by_path: dict[str, ImageRecord],
    console: Console,
    verdict: str,
    title: str,
    only_with_findings: bool = False,
    max_listed: int = MAX_LISTED,
) -> None:
    paths = [
        r.path
        for r in result.records
        if result.verdicts[r.path] == verdict and (not only_with_findings or result.per_image.get(r.path))
    ]
    if not paths:
        return
    t = Text()
    t.append(
        f"{title} {_plural(len(paths), 'image')}" if only_with_findings else f"{title} {len(paths)}",
        style=VERDICT_STYLE[verdict] if not only_with_findings else "cyan",
    )
    if not only_with_findings:
        t.append(" image" + ("s" if len(paths) != 1 else ""))
    console.print(t)
    if max_listed and len(paths) > max_listed:
        _summarised(result, console, paths, max_listed)
        return
    for path in paths:
        console.print(_image_header(by_path[path]))
        for f in result.per_image.get(path, ()):
            console.print(_finding_line(f))
    console.print()


def _summarised(result: AuditResult, console: Console, paths: list[str], max_listed: int) -> None:
    """Too many images to list: how many carry each code, and the first few of each."""
    by_code: dict[str, list[str]] = {}
    for path in paths:
        for f in result.per_image.get(path, ()):
            by_code.setdefault(f.code, [])
            if not by_code[f.code] or by_code[f.code][-1] != path:
                by_code[f.code].append(path)
    for code_, found in sorted(by_code.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        r = RULES.get(code_)
        t = Text(f"    {code_} ", style=STYLE.get(r.severity if r else "info", ""))
        t.append(f"{r.name if r else ''} — {_plural(len(found), 'image')}, e.g.:")
        console.print(t)
        for path in found[:PER_CODE]:
            console.print(Text(f"      {_p(path)}"))
    console.print(
        Text(
            f"    ({len(paths)} images, more than --max-listed {max_listed}: the full list is in --json, --jsonl or "
            "--html; --max-listed 0 lists every image here)",
            style="dim",
        )
    )
    console.print()


def _groups(result: AuditResult, console: Console, max_listed: int = MAX_LISTED) -> None:
    """Duplicate groups and composition clusters, a line each. More groups than `max_listed` (0: no limit) are
    summarised as a count per kind and the first PER_CODE of each; a line names at most `max_listed` pictures of
    each verdict and counts the rest."""
    duplicates = [g for g in result.groups if not g.kind.endswith("-cluster")]
    clusters = [g for g in result.groups if g.kind.endswith("-cluster")]
    for title, groups in (("DUPLICATE GROUPS", duplicates), ("COMPOSITION CLUSTERS", clusters)):
        if not groups:
            continue
        console.print(Text(title, style="bold"))
        if not max_listed or len(groups) <= max_listed:
            for g in groups:
                _group_line(result, console, "  ", g, max_listed)
            console.print()
            continue
        by_kind: dict[str, list] = {}
        for g in groups:
            by_kind.setdefault(g.kind, []).append(g)
        for kind, of_kind in by_kind.items():
            console.print(Text(f"    {kind} — {_plural(len(of_kind), 'group')}, e.g.:"))
            for g in of_kind[:PER_CODE]:
                _group_line(result, console, "      ", g, max_listed)
        console.print(
            Text(
                f"    ({len(groups)} groups, more than --max-listed {max_listed}: the full list is in --json, "
                "--jsonl or --html; --max-listed 0 lists every group here)",
                style="dim",
            )
        )
        console.print()


def _group_line(result: AuditResult, console: Console, indent: str, g, max_listed: int = MAX_LISTED) -> None:
    """One group: what to keep, then its other pictures by verdict (at most `max_listed` named of each)."""

    def names(paths: list[str]) -> str:
        if max_listed and len(paths) > max_listed:
            shown = min(PER_CODE, max_listed)
            return ", ".join(_p(p) for p in paths[:shown]) + f" and {len(paths) - shown} more"
        return ", ".join(_p(p) for p in paths)

    if g.kind.endswith("-cluster"):
        e = g.evidence
        head = (
            f"{indent}{e.get('aspect', g.kind)} ≈ '{e.get('label', '?')}' (p {e.get('probability', 0):.2f}): "
            f"{len(g.members)} images, {e.get('allowed', '?')} allowed — keep "
        )
        keep = tuple(e.get("keep") or (g.keep,))
    else:
        head, keep = f"{indent}{g.kind}: keep ", (g.keep,)
    t = Text(head)
    t.append(names(list(keep)), style="green")
    kept = set(keep)
    for verdict in ("drop", "review", "keep"):
        others = [m for m in g.members if m not in kept and result.verdicts.get(m) == verdict]
        if others:
            t.append(f" · {verdict} " if verdict != "keep" else " · also kept ")
            t.append(names(others), style=VERDICT_STYLE[verdict])
    console.print(t)


def _other_files(result: AuditResult, console: Console, title: str, dataset_level: bool) -> None:
    findings = [f for f in result.other_findings if (RULES[f.code].scope == "dataset") == dataset_level]
    if not findings:
        return
    console.print(Text(title, style="bold"))
    for f in findings:
        t = Text("  ")
        t.append(_p(f.path or ""), style="bold")
        console.print(t)
        console.print(_finding_line(f))
    console.print()


def _gate(result: AuditResult, console: Console, fail_on: str, code: int) -> None:
    worst = tally(result.findings, "severity")
    if code:
        level = "errors" if fail_on == "error" else "warnings or errors"
        console.print(
            Text(
                f"gate: exit 1 — {worst.get('error', 0)} error and {worst.get('warning', 0)} warning "
                f"findings; fails on {level} (--fail-on {fail_on})",
                style="bold red",
            )
        )
    else:
        console.print(Text(f"gate: exit 0 — nothing at or above --fail-on {fail_on}", style="green"))

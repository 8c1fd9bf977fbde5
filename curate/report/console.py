"""The console report a trainer reads: what to drop and why, with numbers; then what to review."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.text import Text

from curate import __version__
from curate.audit import AuditResult
from curate.model import Finding
from curate.scan import display_path

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
LABEL = {"error": "error", "warning": "warn ", "info": "info "}
VERDICT_STYLE = {"drop": "bold red", "review": "yellow", "keep": "green"}


def _p(path: str) -> str:
    return display_path(path)


def _finding_line(f: Finding, indent: str = "    ") -> Text:
    t = Text(indent)
    t.append(LABEL[f.severity], style=STYLE[f.severity])
    t.append(f" {f.code}  ", style="dim")
    t.append(display_path(f.message))
    return t


def _image_header(rec) -> Text:
    path = rec.path
    t = Text("  ")
    t.append(_p(path), style="bold")
    if rec.width and rec.height:
        t.append(f"  {rec.width}×{rec.height} {rec.image.get('format') or ''}".rstrip(), style="dim")
    return t


def render(result: AuditResult, console: Console, fail_on: str, code: int) -> None:
    scan = result.scan
    by_path = {r.path: r for r in result.records}
    n = len(result.records)
    counts = result.verdict_counts()
    head = Text()
    head.append(f"curate {__version__}", style="bold")
    head.append(f" · audit of {_p(str(scan.root))}")
    console.print(head)
    res = scan.resolution
    res_text = f"{res[0]} px" if res[0] == res[1] else f"{res[0]}×{res[1]} px"
    model_note = (f"resolution {res_text} (from {scan.resolution_source})"
                  if scan.resolution_source != "base model" else f"base model {result.base_model.name} ({res_text})")
    layout = {"kohya": "kohya folders", "dataset_config": f"kohya config {_p(scan.config_path or '')}",
              "plain": "plain folder"}[scan.layout]
    console.print(Text(f"  {n} images · {layout} · {model_note} · profile {result.settings.profile} · "
                       f"captions {scan.caption_extension} ({scan.caption_extension_source})", style="dim"))
    st = result.stats
    console.print(Text(f"  features: {st.decoded} decoded, {st.from_cache} from cache, in {st.seconds:.1f} s",
                       style="dim"))
    concepts = Counter((r.concept.folder, r.concept.repeats, r.concept.tokens) for r in result.records)
    if scan.layout != "plain":
        for (folder, repeats, tokens), k in sorted(concepts.items(), key=lambda x: x[0][0]):
            label = _p(folder) or "(dataset root)"
            if repeats is None:
                console.print(Text(f"  {label}: {k} images — kohya will not read this folder "
                                   f"(no N_ repeats prefix / not in the config)", style="yellow"))
            else:
                console.print(Text(f"  {label}: {k} images × {repeats} repeats = {k * repeats} steps per epoch"
                                   f"{f' · tokens “{tokens}”' if tokens else ''}", style="dim"))
    console.print()

    for verdict, title in (("drop", "DROP"), ("review", "REVIEW")):
        paths = [r.path for r in result.records if result.verdicts[r.path] == verdict]
        if not paths:
            continue
        t = Text()
        t.append(f"{title} {len(paths)}", style=VERDICT_STYLE[verdict])
        t.append(" image" + ("s" if len(paths) != 1 else ""))
        console.print(t)
        for path in paths:
            console.print(_image_header(by_path[path]))
            for f in result.per_image.get(path, ()):
                console.print(_finding_line(f))
        console.print()

    notes = [r.path for r in result.records
             if result.verdicts[r.path] == "keep" and result.per_image.get(r.path)]
    if notes:
        console.print(Text(f"NOTES on {len(notes)} kept image" + ("s" if len(notes) != 1 else ""), style="cyan"))
        for path in notes:
            console.print(_image_header(by_path[path]))
            for f in result.per_image[path]:
                console.print(_finding_line(f))
        console.print()

    if result.groups:
        console.print(Text("DUPLICATE GROUPS", style="bold"))
        for g in result.groups:
            t = Text(f"  {g.kind}: keep ")
            t.append(_p(g.keep), style="green")
            for verdict in ("drop", "review", "keep"):
                others = [m for m in g.members if m != g.keep and result.verdicts.get(m) == verdict]
                if others:
                    t.append(f" · {verdict} " if verdict != "keep" else " · also kept ")
                    t.append(", ".join(_p(m) for m in others), style=VERDICT_STYLE[verdict])
            console.print(t)
        console.print()

    if result.other_findings:
        console.print(Text("OTHER FILES", style="bold"))
        for f in result.other_findings:
            t = Text("  ")
            t.append(_p(f.path or ""), style="bold")
            console.print(t)
            console.print(_finding_line(f))
        console.print()

    if scan.skipped:
        console.print(Text("SKIPPED", style="bold"))
        for p, reason in scan.skipped:
            console.print(Text(f"  {_p(p) or '.'}: {reason}", style="yellow"))
        console.print()

    summary = Text("Summary  ", style="bold")
    summary.append(f"{n} images: ")
    summary.append(f"keep {counts.get('keep', 0)}", style="green")
    summary.append(" · ")
    summary.append(f"review {counts.get('review', 0)}", style="yellow")
    summary.append(" · ")
    summary.append(f"drop {counts.get('drop', 0)}", style="bold red")
    console.print(summary)
    by_cat = Counter(f.category for f in result.findings if f.severity != "info")
    if by_cat:
        console.print(Text("  by category: " + " · ".join(f"{c} {k}" for c, k in by_cat.most_common()), style="dim"))
    worst = Counter(f.severity for f in result.findings)
    if code:
        level = "errors" if fail_on == "error" else "warnings or errors"
        console.print(Text(f"  gate: exit 1 — {worst.get('error', 0)} error and {worst.get('warning', 0)} warning "
                           f"findings; fails on {level} (--fail-on {fail_on})", style="bold red"))
    else:
        console.print(Text(f"  gate: exit 0 (--fail-on {fail_on})", style="green"))

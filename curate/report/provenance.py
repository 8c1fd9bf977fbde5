"""The provenance datasheet (`curate report provenance DIR`): Markdown and JSON fit for a model card.

Counts by source platform, licence, consent status, opt-outs found (and excluded), AI-generated share,
then a per-image table. Built from one audit: the same signals and verdicts the console report shows.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from collections import Counter
from typing import Any

from curate import __version__
from curate.audit import AuditResult
from curate.consent import cell
from curate.model import display_path, printable

SCHEMA_ID = "curate.provenance/v1"


def build(result: AuditResult) -> dict[str, Any]:
    manifest = result.context.dataset.get("consent_manifest") if result.context else None
    rows = manifest.rows if manifest and not manifest.problem else {}
    images = []
    for rec in result.records:
        sig = result.signals_for(rec)
        row = rows.get(display_path(rec.path), {})
        codes = {f.code for f in result.per_image.get(rec.path, ())}
        platform = sig.platforms[0] if sig.platforms else None
        images.append(
            {
                "path": display_path(rec.path),
                "sha256": rec.sha256,
                "verdict": result.verdicts[rec.path],
                "source_platform": (platform.get("name") or platform["key"]) if platform else None,
                "source_platform_certain": bool(platform and platform["declared"]),
                "source_url": row.get("source_url") or (sig.source_urls[0] if sig.source_urls else None),
                "author": row.get("author") or "; ".join(sig.authors or sig.copyright) or None,
                "licence": row.get("licence") or "; ".join(sig.usage_terms or sig.licensors) or None,
                "subject": row.get("subject") or None,
                "subject_consent": (cell(row, "subject_consent") or "unknown") if row else "no record",
                "consent_ref": row.get("consent_ref") or None,
                "opt_out": [s.as_dict() for s in sig.opt_outs],
                "ai_generated": bool(sig.generators or sig.ai_sources),
                "generator": sig.generators[0]["generator"] if sig.generators else None,
                "stock_agency": sig.agencies,
                "c2pa": sig.provenance.get("validation") if sig.provenance.get("c2pa") else None,
                "findings": sorted(codes),
            }
        )
    n = len(images)
    kept = [i for i in images if i["verdict"] != "drop"]
    opted = [i for i in images if i["opt_out"]]
    summary = {
        "images": n,
        "kept_or_review": len(kept),
        "dropped": n - len(kept),
        "by_source_platform": dict(Counter(i["source_platform"] or "unknown" for i in images).most_common()),
        "by_licence": dict(Counter(i["licence"] or "none recorded" for i in images).most_common()),
        "by_subject_consent": dict(Counter(i["subject_consent"] for i in images).most_common()),
        "opt_outs_found": len(opted),
        "opt_outs_excluded": sum(1 for i in opted if i["verdict"] == "drop"),
        "ai_generated": sum(1 for i in images if i["ai_generated"]),
        "ai_generated_share": round(sum(1 for i in images if i["ai_generated"]) / n, 4) if n else 0.0,
        "stock_agency_images": sum(1 for i in images if i["stock_agency"]),
        "consent_manifest": "provenance.csv"
        if manifest and not manifest.problem
        else (f"unreadable: {manifest.problem}" if manifest else "none"),
    }
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "curate", "version": __version__},
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": {
            "root": display_path(str(result.scan.root)),
            # curate cannot know the base model: only what the user said (--base-model) is stated.
            "base_model": result.base_model.name if result.base_model_given else None,
            "training_resolution": list(result.scan.resolution),
            "training_resolution_source": next(
                (src for key, _, src in result.scan.assumptions if key == "resolution"), result.scan.resolution_source
            ),
            "profile": result.settings.profile,
        },
        "summary": summary,
        "images": images,
    }


# Markdown that untrusted text (file names, metadata) must not produce in a model card: links and images
# (`![x](http://…)` would load a remote pixel; without brackets there is no link), code spans, table pipes.
_MD_SPECIAL = re.compile(r"([\\`\[\]|])")  # link and image brackets, code spans, table pipes, backslash


def _md(text: Any) -> str:
    """Untrusted text for the Markdown datasheet: control characters and newlines escaped (printable), HTML
    escaped, Markdown syntax backslash-escaped, and URLs broken so that nothing renders as a link or image."""
    if text is None or text == "" or text == []:
        return "—"
    if isinstance(text, list):
        text = ", ".join(map(str, text))
    out = _MD_SPECIAL.sub(r"\\\1", html.escape(printable(str(text)), quote=False))
    return out.replace("://", "&#58;//").replace("www.", "www&#46;")


def _resolution(r: list[int]) -> str:
    return f"{r[0]} px" if r[0] == r[1] else f"{r[0]}×{r[1]} px"


def _counts(title: str, counts: dict[str, int], n: int) -> list[str]:
    lines = [f"### {title}", "", "| | images | share |", "|---|---:|---:|"]
    for k, v in counts.items():
        lines.append(f"| {_md(k)} | {v} | {v / n:.0%} |" if n else f"| {_md(k)} | {v} | — |")
    return lines + [""]


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    n = s["images"]
    ds = report["dataset"]
    out = [
        f"# Training data provenance: {_md(ds['root'])}",
        "",
        f"Generated by curate {report['tool']['version']} on {report['generated']} · training resolution "
        f"{_resolution(ds['training_resolution'])} ({_md(ds['training_resolution_source'])}) · base model "
        f"{_md(ds['base_model']) if ds['base_model'] else 'not stated (give --base-model)'} · "
        f"profile {ds['profile']} · consent manifest: {_md(s['consent_manifest'])}",
        "",
        "## Summary",
        "",
        f"- **{n} images** audited; **{s['dropped']} dropped** by the audit, "
        f"{s['kept_or_review']} kept or under review.",
        f"- **Opt-outs found: {s['opt_outs_found']}** (excluded from training: {s['opt_outs_excluded']}). "
        "Signals read: IPTC/PLUS Data Mining, C2PA/CAWG training-mining, TDMRep, noai/noimageai, keywords.",
        f"- **AI-generated: {s['ai_generated']}** ({s['ai_generated_share']:.0%}), from generator metadata, "
        "C2PA or IPTC digital source type.",
        f"- **Stock-agency images: {s['stock_agency_images']}**.",
        "",
    ]
    out += _counts("Source platform", s["by_source_platform"], n)
    out += _counts("Licence", s["by_licence"], n)
    out += _counts("Subject consent", s["by_subject_consent"], n)
    out += [
        "## Images",
        "",
        "| image | verdict | source | author | licence | consent | opt-out | AI | findings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i in report["images"]:
        opt = "; ".join(f"{o['signal']} {o['value']}" for o in i["opt_out"])
        src = (
            i["source_platform"] + ("" if i["source_platform_certain"] else " (file name)")
            if i["source_platform"]
            else None
        )
        out.append(
            f"| {_md(i['path'])} | {i['verdict']} | {_md(src)} | {_md(i['author'])} | {_md(i['licence'])} | "
            f"{_md(i['subject_consent'])} | {_md(opt)} | {'yes' if i['ai_generated'] else 'no'} | "
            f"{_md(i['findings'])} |"
        )
    out += [
        "",
        "Counts and signals come from the files' own metadata, their sidecars and provenance.csv; "
        "a missing signal is not a permission.",
    ]
    return "\n".join(out) + "\n"

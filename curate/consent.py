"""The consent manifest: `provenance.csv` at the dataset root, one row per image.

    path, sha256, source_url, author, licence, subject, subject_consent, consent_ref, notes

`curate consent init DIR` writes it, prefilled from metadata and sidecars; running it again adds rows for
new images and fills cells that are still empty, and never changes a cell a person has typed in.
`curate audit` reads it: under a profile that requires consent (person), an image without
`subject_consent = yes` is a `consent` error; a row whose sha256 no longer matches its file is a warning;
a recorded licence or consent turns a `rights` warning into a note.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from curate.derive.rights import RightsSignals
from curate.model import ImageRecord

COLUMNS = ["path", "sha256", "source_url", "author", "licence", "subject", "subject_consent", "consent_ref", "notes"]
CONSENT_VALUES = ("yes", "no", "unknown")
MAX_MANIFEST_BYTES = 64 << 20


@dataclass
class Manifest:
    rows: dict[str, dict[str, str]]  # by path
    problem: str | None = None
    extra_columns: tuple[str, ...] = ()


def read_manifest(path: Path) -> Manifest | None:
    """None when there is no manifest; a Manifest with `problem` set when it cannot be used."""
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return Manifest({}, f"{path.name} is larger than 64 MB; not read")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        return Manifest({}, f"cannot read {path.name}: {getattr(e, 'strerror', None) or e}")
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames or []
        if "path" not in fields:
            return Manifest({}, f"{path.name} has no 'path' column (expected: {', '.join(COLUMNS)})")
        rows = {}
        for row in reader:
            p = (row.get("path") or "").strip()
            if p:
                rows[p] = {k: (v or "").strip() for k, v in row.items() if k is not None}
    except csv.Error as e:
        return Manifest({}, f"{path.name} is not valid CSV: {e}")
    return Manifest(rows, None, tuple(f for f in fields if f not in COLUMNS))


def prefill(rec: ImageRecord, sig: RightsSignals) -> dict[str, str]:
    """A new row from what the file and its sidecars say. subject and consent stay for a person to fill."""
    notes = []
    if sig.opt_outs:
        notes.append("opt-out: " + "; ".join(f"{s.kind} {s.value}" for s in sig.opt_outs))
    if sig.generators or sig.ai_sources:
        notes.append(
            "AI-generated: "
            + ", ".join([g["generator"] for g in sig.generators] + [s.value.rsplit("/", 1)[-1] for s in sig.ai_sources])
        )
    if sig.platforms:
        notes.append("source platform: " + ", ".join(p.get("name") or p["key"] for p in sig.platforms))
    if sig.agencies:
        notes.append("stock agency: " + ", ".join(sig.agencies))
    licence = "; ".join(sig.usage_terms or sig.web_statement or sig.licensors)
    return {
        "path": rec.path,
        "sha256": rec.sha256 or "",
        "source_url": (sig.source_urls or [""])[0],
        "author": "; ".join(sig.authors or sig.copyright),
        "licence": licence,
        "subject": "",
        "subject_consent": "unknown",
        "consent_ref": "",
        "notes": " | ".join(notes),
    }


def merge(existing: Manifest | None, fresh: list[dict[str, str]]) -> tuple[list[dict[str, str]], int, int]:
    """Rows to write: existing rows first (their typed cells kept, empty cells filled), then new images.
    Returns (rows, added, filled cells)."""
    old = existing.rows if existing else {}
    extra = list(existing.extra_columns) if existing else []
    by_path = {r["path"]: r for r in fresh}
    out, added, filled = [], 0, 0
    for path, row in old.items():
        merged = {c: row.get(c, "") for c in COLUMNS + extra}
        new = by_path.get(path)
        if new:
            for c in COLUMNS:
                if not merged.get(c) and new.get(c):
                    merged[c] = new[c]
                    filled += 1
        out.append(merged)
    for r in fresh:
        if r["path"] not in old:
            out.append({**{c: "" for c in extra}, **r})
            added += 1
    return out, added, filled


def write_manifest(path: Path, rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> Path | None:
    """Write atomically; an existing file is kept beside it as `<name>.bak`. Returns the backup path."""
    backup = None
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        backup.write_bytes(path.read_bytes())
    fd, tmp = tempfile.mkstemp(prefix=".provenance-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS + [c for c in extra if c not in COLUMNS], extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return backup

"""The consent manifest: `provenance.csv` at the dataset root, one row per image.

    path, sha256, source_url, author, licence, subject, subject_consent, consent_ref, notes

`curate consent init DIR` writes it, prefilled from metadata and sidecars; running it again adds rows for
new images and never changes an existing row — not a cell a person typed, emptied or spaced (cells are kept
exactly as written; readers compare them trimmed).
`curate audit` reads it: under a profile that requires consent (person), an image without
`subject_consent = yes` is a `consent` error; a row whose sha256 no longer matches its file is a warning;
a recorded licence or consent turns a `rights` warning into a note.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from curate.derive.rights import RightsSignals
from curate.files import NotRegularFile, TooLarge, read_bounded, write_atomic
from curate.model import ImageRecord, display_path

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
    if not os.path.lexists(path):
        return None
    if path.is_symlink():
        return Manifest(
            {},
            f"{path.name} is a symbolic link; curate does not read or replace a linked manifest "
            "(replace the link with the file itself)",
        )
    try:
        text = read_bounded(path, MAX_MANIFEST_BYTES).decode("utf-8-sig")
    except TooLarge:
        return Manifest({}, f"{path.name} is larger than 64 MB; not read")
    except NotRegularFile as e:
        return Manifest({}, f"{path.name} is {e.strerror}; not read")
    except (OSError, UnicodeDecodeError) as e:
        return Manifest({}, f"cannot read {path.name}: {getattr(e, 'strerror', None) or e}")
    try:
        reader = csv.DictReader(io.StringIO(text), strict=True)
        fields = reader.fieldnames or []
        if "path" not in fields:
            return Manifest({}, f"{path.name} has no 'path' column (expected: {', '.join(COLUMNS)})")
        rows: dict[str, dict[str, str]] = {}
        first_line: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                return Manifest(
                    {},
                    f"{path.name} line {line}: the row has {'more' if None in row else 'fewer'} cells "
                    "than the header (an unclosed quote or a stray comma?); fix it, nothing was read",
                )
            p = restore(row.get("path") or "")  # exactly as written: a file name may start or end with a space or CR
            if not p.strip():
                continue
            if p in rows:  # never resolved silently: one row might say consent "no" and the other "yes"
                return Manifest(
                    {},
                    f"{path.name} lines {first_line[p]} and {line} both describe {p}; keep one "
                    "row per image (nothing was read)",
                )
            first_line[p] = line
            rows[p] = {k: restore(v or "") for k, v in row.items() if k is not None}
    except csv.Error as e:
        return Manifest({}, f"{path.name} is not valid CSV (line {getattr(reader, 'line_num', '?')}): {e}")
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
        "path": display_path(rec.path),  # file-name bytes that are not UTF-8 written escaped
        "sha256": rec.sha256 or "",
        "source_url": (sig.source_urls or [""])[0],
        "author": "; ".join(sig.authors or sig.copyright),
        "licence": licence,
        "subject": "",
        "subject_consent": "unknown",
        "consent_ref": "",
        "notes": " | ".join(notes),
    }


def merge(existing: Manifest | None, fresh: list[dict[str, str]]) -> tuple[list[dict[str, str]], int]:
    """Rows to write: every existing row exactly as it is (a cell a person emptied stays empty), then a new
    row for each image that has none. Returns (rows, added)."""
    old = existing.rows if existing else {}
    extra = list(existing.extra_columns) if existing else []
    out = [{c: row.get(c, "") for c in COLUMNS + extra} for row in old.values()]
    new = [{**{c: "" for c in extra}, **r} for r in fresh if r["path"] not in old]
    return out + new, len(new)


def cell(row: dict[str, str] | None, column: str) -> str:
    """A manifest cell as a reader compares it: trimmed and lower-case (the file keeps what was typed)."""
    return (row or {}).get(column, "").strip().lower()


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK("http://…?"&A1) leaks the
# sheet). OWASP's advice: prefix such cells with an apostrophe; reading strips it again, so nothing is lost.
FORMULA = re.compile(r"^'*[=+\-@\t\r]")


def neutralise(cell: str) -> str:
    """A cell as written to provenance.csv: formula-like text gets a leading apostrophe."""
    return "'" + cell if FORMULA.match(cell) else cell


def restore(cell: str) -> str:
    """A cell as read back: the apostrophe that `neutralise` added is removed (lossless round trip)."""
    return cell[1:] if cell.startswith("'") and FORMULA.match(cell) else cell


def write_manifest(path: Path, rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> Path | None:
    """Write atomically (a temporary file, then one rename), mode 0600, never through a symbolic link; an
    existing file is kept beside it as `<name>.bak` (written the same way). Returns the backup path."""
    for target in (path, path.with_name(path.name + ".bak")):
        if target.is_symlink():
            raise OSError(
                errno.ELOOP,
                f"{target.name} is a symbolic link; curate does not write through links (remove the link)",
                str(target),
            )
    backup = None
    mode = 0o600  # a new record of people's consent is private to its owner
    if path.exists():
        mode = path.stat().st_mode & 0o777  # an existing one keeps the permissions its owner gave it
        backup = path.with_name(path.name + ".bak")
        write_atomic(backup, read_bounded(path, MAX_MANIFEST_BYTES), mode)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS + [c for c in extra if c not in COLUMNS], extrasaction="ignore")
    w.writeheader()
    w.writerows({k: neutralise(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)
    write_atomic(path, buf.getvalue().encode("utf-8"), mode)
    return backup

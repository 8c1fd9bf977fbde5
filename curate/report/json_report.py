"""The machine report, schema `curate.audit/v1` (curate/report/schema.json; documented in the README)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, overload

from curate import __version__
from curate.audit import AuditResult
from curate.decide import tally
from curate.model import Finding, ImageRecord, display_path

SCHEMA_ID = "curate.audit/v1"
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "category": f.category,
        "severity": f.severity,
        "message": display_path(f.message),
        "evidence": f.evidence,
    }


class ImageEntries(Sequence[dict[str, Any]]):
    """The report's `images`: each entry made when it is read, so that writing the report of a million pictures
    never holds a million entries at once (issue 22). A sequence like a list (length, index, slice, iteration,
    equality); `list(...)` for a list."""

    def __init__(self, result: AuditResult):
        self._result = result

    def __len__(self) -> int:
        return len(self._result.records)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._entry(rec) for rec in self._result.records[i]]
        return self._entry(self._result.records[i])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._entry, self._result.records)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def _entry(self, rec: ImageRecord) -> dict[str, Any]:
        return {
            "path": display_path(rec.path),
            "sha256": rec.sha256,
            "width": rec.width,
            "height": rec.height,
            "format": rec.format,
            "verdict": self._result.verdicts[rec.path],
            "findings": [_finding(f) for f in self._result.per_image.get(rec.path, ())],
        }


def build(result: AuditResult, exit_code: int | None = None) -> dict[str, Any]:
    scan = result.scan
    images = ImageEntries(result)
    concepts: dict[str, dict[str, Any]] = {}
    for rec in result.records:
        c = rec.concept
        entry = concepts.setdefault(
            c.folder,
            {
                "folder": display_path(c.folder),
                "repeats": c.repeats,
                "tokens": c.tokens,
                "caption_extension": c.caption_extension,
                "resolution": list(c.resolution),
                "images": 0,
                "not_loaded_by_kohya": 0,
                "regularisation": c.is_reg,
            },
        )
        entry["images"] += 1
        entry["not_loaded_by_kohya"] += not rec.trained
    verdicts = result.verdict_counts()
    summary = {
        "images": len(result.records),
        "keep": verdicts.get("keep", 0),
        "review": verdicts.get("review", 0),
        "drop": verdicts.get("drop", 0),
        "by_severity": dict(sorted(tally(result.findings, "severity").items())),
        "by_category": dict(sorted(tally(result.findings, "category").items())),
        "by_code": dict(sorted(tally(result.findings, "code").items())),
        "extraction": result.stats.as_dict(),
    }
    if exit_code is not None:
        summary["exit_code"] = exit_code
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "curate", "version": __version__},
        "dataset": {
            "root": display_path(str(scan.root)),
            "base_model": result.base_model.name,
            "base_model_source": "--base-model" if result.base_model_given else "curate default",
            "profile": result.settings.profile,
            "image_count": len(result.records),
            "resolution": list(scan.resolution),
            "resolution_source": scan.resolution_source,
            "layout": scan.layout,
            "trainer": scan.trainer.name if scan.trainer else None,
            "train_data_dir": scan.train_dir,
            "reg_data_dir": scan.reg_dir,
            "notes": [display_path(n) for n in scan.notes],
            "not_training": [{"path": display_path(p), "images": n} for p, n in scan.not_training],
            "kohya_config": display_path(scan.config_path) if scan.config_path else None,
            "caption_extension": scan.caption_extension,
            "caption_extension_source": scan.caption_extension_source,
            "assumptions": [{"setting": k, "value": v, "source": display_path(src)} for k, v, src in scan.assumptions],
            "concepts": list(concepts.values()),
            "skipped": [{"path": display_path(p), "reason": r} for p, r in scan.skipped],
        },
        "images": images,
        "groups": [
            {
                "kind": g.kind,
                "members": [display_path(m) for m in g.members],
                "keep": display_path(g.keep),
                "evidence": g.evidence,
            }
            for g in result.groups
        ],
        "findings": [{"path": display_path(f.path) if f.path else None, **_finding(f)} for f in result.other_findings],
        "analyses": result.analyses,
        "summary": summary,
    }


LISTS = ("images", "groups", "findings")  # one compact line per entry: long, and read one entry at a time


def write(report: dict[str, Any], out: IO[str]) -> None:
    """The report as JSON, written in pieces (a large set's report is never one string in memory): indented, except
    that each image, group and finding is one line — readable, grep-able, and written by the C encoder."""
    out.write("{")
    for n, (key, value) in enumerate(report.items()):
        out.write(("," if n else "") + f"\n  {_compact(key)}: ")
        if key in LISTS and isinstance(value, (list, ImageEntries)):
            if not value:
                out.write("[]")
                continue
            out.write("[\n    ")
            for start in range(0, len(value), _BATCH):  # a batch of lines per write: 100,000 writes cost seconds
                out.write((",\n    " if start else "") + ",\n    ".join(map(_compact, value[start : start + _BATCH])))
            out.write("\n  ]")
        else:
            out.write(json.dumps(_utf8(value), indent=2, ensure_ascii=False).replace("\n", "\n  "))
    out.write("\n}\n")


_BATCH = 1000
# One encoder each: json.dumps with options builds a new encoder on every call.
_ENCODERS = {seps: json.JSONEncoder(ensure_ascii=False, separators=seps).encode for seps in ((", ", ": "), (",", ":"))}


def _compact(value: Any, separators: tuple[str, str] = (", ", ": ")) -> str:
    """One line of JSON; strings that cannot be written as UTF-8 (file-name bytes) escaped as `\\xNN`, which is
    rare: the whole value is walked only then."""
    encode = _ENCODERS[separators]
    text = encode(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = encode(_utf8(value))
    return text


def jsonl_lines(report: dict[str, Any]) -> Iterator[str]:
    """The report as JSON Lines, for sets too large to read as one document: a `report` line (schema, tool,
    dataset, analyses), one `image` line per image, one `group` line per group, one `finding` line per
    finding about other files or the dataset, and a closing `summary` line. Each line is a JSON object with
    `record` naming its kind; the fields are those of the JSON report's objects."""
    head: dict[str, Any] = {k: report[k] for k in ("schema", "tool", "dataset", "analyses") if k in report}
    yield _line({"record": "report", **head})
    for img in report.get("images") or []:
        yield _line({"record": "image", **img})
    for g in report.get("groups") or []:
        yield _line({"record": "group", **g})
    for f in report.get("findings") or []:
        yield _line({"record": "finding", **f})
    yield _line({"record": "summary", **(report.get("summary") or {})})


def _line(obj: dict[str, Any]) -> str:
    return _compact(obj, (",", ":")) + "\n"


def _utf8(value: Any) -> Any:
    """Every string made writable as UTF-8 (file-name bytes that are not UTF-8 escaped as `\\xNN`), anywhere
    in the report — evidence quotes paths and metadata too."""
    if isinstance(value, str):
        return display_path(value)
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_utf8(v) for v in value]
    return value

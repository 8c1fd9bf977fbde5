"""Build a clean kohya tree from an audit, leaving the dataset untouched: `curate export REPORT.json --to CLEAN`.

The pictures the audit keeps (and, when asked, those to review) with their caption files, under the same
relative paths — hard links where CLEAN is on the same file system (no space used), verified copies where it is
not — and a `dataset_config.toml` that trains them as the audit assumed: the resolution and bucket settings the
report states, one subset per concept folder with its repeats and class tokens. It refuses, before writing
anything, when CLEAN exists and is not empty, lies inside the dataset, or a picture changed since the audit.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from curate.act.quarantine import CAPTION_SUFFIXES, Refused, _inside, _safe_relative, audited_folder, sha256_of
from curate.model import display_path


@dataclass
class ExportPlan:
    dataset: Path
    target: Path
    files: list[str] = field(default_factory=list)  # relative paths: pictures and captions
    images: int = 0
    concepts: list[dict[str, Any]] = field(default_factory=list)


def plan(report: dict[str, Any], dataset: Path, target: Path, include_review: bool = False) -> ExportPlan:
    dataset = audited_folder(report, dataset)
    if target.is_symlink():
        raise Refused(f"{target} is a symbolic link: give a new folder")
    target = Path(os.path.realpath(target))
    problems = []
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        problems.append(f"{target} exists and is not an empty folder: export writes a new tree")
    if _inside(target, dataset) or _inside(dataset, target):
        problems.append(
            f"{target}: inside the dataset (or holding it); kohya would read both — choose a folder beside it"
        )
    ds = report.get("dataset") or {}
    caption_ext = ds.get("caption_extension") or ".txt"
    wanted = {"keep", "review"} if include_review else {"keep"}
    out = ExportPlan(dataset, target)
    used_folders: set[str] = set()
    for img in report["images"]:
        if img.get("verdict") not in wanted:
            continue
        rel = _safe_relative(str(img.get("path", "")), dataset)
        if rel is None:
            problems.append(f"{img.get('path')!r}: not a path inside the dataset")
            continue
        src = dataset / rel
        if src.is_symlink() or not src.is_file() or Path(os.path.realpath(src.parent)) != dataset / rel.parent:
            problems.append(f"{rel}: a link, or no longer there: audit again")
            continue
        if img.get("sha256") and sha256_of(src) != img["sha256"]:
            problems.append(f"{rel}: changed since the audit (SHA-256 differs): audit again, then export")
            continue
        out.files.append(str(rel))
        out.images += 1
        used_folders.add(str(rel.parent))
        stem = rel.name.rsplit(".", 1)[0]
        for suffix in sorted({caption_ext, *CAPTION_SUFFIXES}):
            cap = rel.parent / (stem + suffix)
            if (dataset / cap).is_file() and not (dataset / cap).is_symlink():
                out.files.append(str(cap))
    if problems:
        raise Refused(display_path("\n".join(problems)))
    out.concepts = [c for c in ds.get("concepts") or [] if str(c.get("folder")) in used_folders]
    return out


def _setting(report: dict[str, Any], name: str) -> str | None:
    for a in (report.get("dataset") or {}).get("assumptions") or []:
        if a.get("setting") == name:
            return str(a.get("value", ""))
    return None


def _number(text: str | None) -> int | None:
    if not text:
        return None
    head = text.split()[0]
    return int(head) if head.isdigit() else None


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text) + '"'


def dataset_config(report: dict[str, Any], p: ExportPlan) -> str:
    """A dataset_config.toml for the exported tree, with the settings the audit assumed."""
    general: dict[str, Any] = {}
    for key in ("min_bucket_reso", "max_bucket_reso", "bucket_reso_steps"):
        n = _number(_setting(report, key))
        if n is not None:
            general[key] = n
    for key in ("enable_bucket", "bucket_no_upscale"):
        v = _setting(report, key)
        if v in ("on", "off"):
            general[key] = v == "on"
    general["caption_extension"] = (report.get("dataset") or {}).get("caption_extension") or ".txt"
    resolution = (report.get("dataset") or {}).get("resolution") or [1024, 1024]
    general["resolution"] = resolution[0] if resolution[0] == resolution[1] else list(resolution)
    lines = [
        "# Written by `curate export`: the pictures the audit kept, trained with the settings the audit assumed.",
        "[general]",
        *(f"{k} = {_toml(v)}" for k, v in general.items()),
        "",
        "[[datasets]]",
    ]
    folders = {str(PurePosixPath(f).parent) for f in p.files}
    concepts = {str(c.get("folder")): c for c in p.concepts}
    for folder in sorted(folders):
        c = concepts.get(folder, {})
        lines += ["", "  [[datasets.subsets]]", f"  image_dir = {_toml(str(p.target / folder))}"]
        lines.append(f"  num_repeats = {int(c.get('repeats') or 1)}")
        if c.get("tokens"):
            lines.append(f"  class_tokens = {_toml(c['tokens'])}")
        if c.get("regularisation"):
            lines.append("  is_reg = true")
    return "\n".join(lines) + "\n"


def export(report: dict[str, Any], p: ExportPlan) -> int:
    """Link (or copy) every file, then write dataset_config.toml; returns the number of files."""
    p.target.mkdir(parents=True, exist_ok=True)
    for rel in p.files:
        src, dst = p.dataset / rel, p.target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            with open(src, "rb") as fin, open(dst, "xb") as fout:  # exclusive: never overwrites
                shutil.copyfileobj(fin, fout, 1 << 20)
            shutil.copystat(src, dst)
            if sha256_of(dst) != sha256_of(src):
                dst.unlink()
                raise OSError(f"the copy of {rel} does not match it") from None
    config = p.target / "dataset_config.toml"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dataset_config(report, p))
    return len(p.files)

"""Act on an audit: move the pictures it says to drop into a quarantine folder, and put them back.

`plan()` reads an audit's JSON report and decides, before anything moves, every file that would go: each image
with verdict *drop* (and *review* when asked) together with what kohya keeps beside it — its caption files, the
sidecars curate reads, and sd-scripts' latent caches (`name.npz`, `name_1024x1024_sdxl.npz`, text-encoder
caches `name_te_outputs.npz`, `name_flux_te.npz`). It refuses, naming every reason at once, when an image changed
since the audit (its SHA-256 differs), when a file is a symbolic link or lies outside the dataset, when the
quarantine folder is one kohya would train (inside a concept folder, or named like one), or when a destination
exists. `apply()` writes the whole journal first (fsynced), then moves file by file without ever overwriting
(a hard link then an unlink on one filesystem; a verified copy then an unlink across filesystems) and records
each move; interrupted, it resumes from the journal. `undo()` moves every file back, byte-identical (checked
against the journal's SHA-256), refusing each conflict on its own with a message, and never deletes anything.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from curate.kohya import parse_concept_folder
from curate.model import display_path, path_on_disk
from curate.scan import FOLDER_SIDECARS, SIDECAR_SUFFIXES

JOURNAL = "curate-journal.jsonl"
CAPTION_SUFFIXES = (".txt", ".caption")
# sd-scripts' latent and text-encoder caches beside an image (library/strategy_*.py and train_util.py): the old
# `stem.npz`, `stem_WWWWxHHHH_<arch>.npz`, `stem_te_outputs.npz` and `stem_<arch>_te.npz`.
LATENT_CACHE = r"(?:\.npz|_\d{3,5}x\d{3,5}_[a-z0-9]+\.npz|_te_outputs\.npz|_[a-z0-9]+_te\.npz)"


class Refused(Exception):
    """apply/undo will not start: every reason, one per line."""


@dataclass
class Move:
    source: str  # relative to the dataset, POSIX
    destination: str  # relative to the quarantine folder, POSIX (the same path)
    sha256: str
    size: int
    image: str  # the image this file belongs to
    kind: str  # image, caption, sidecar, latent cache
    verdict: str


@dataclass
class Plan:
    dataset: Path
    quarantine: Path
    moves: list[Move] = field(default_factory=list)
    already_done: int = 0  # moves an interrupted apply finished (resume)

    @property
    def images(self) -> list[str]:
        return [m.image for m in self.moves if m.kind == "image"]

    def totals(self) -> dict[str, Any]:
        verdicts: dict[str, int] = {}
        for m in self.moves:
            if m.kind == "image":
                verdicts[m.verdict] = verdicts.get(m.verdict, 0) + 1
        return {
            "images": len(self.images),
            "files": len(self.moves),
            "bytes": sum(m.size for m in self.moves),
            "by_verdict": verdicts,
        }


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _safe_relative(rel: str, dataset: Path | None = None) -> PurePosixPath | None:
    """A report's image path as a relative path on disk (None when it would leave the dataset). A file name
    that is not UTF-8 is written escaped in the report; with `dataset`, the name on disk is found again."""
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("..", "") for part in p.parts):
        return None
    if dataset is not None:
        return PurePosixPath(path_on_disk(dataset, rel).relative_to(dataset).as_posix())
    return p


def companions(folder: Path, name: str, caption_extension: str | None) -> list[tuple[str, str]]:
    """(file name, kind) of the files beside image `name` in `folder` that belong to it."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    captions = {stem + s for s in {*CAPTION_SUFFIXES, *([caption_extension] if caption_extension else [])}}
    sidecars = {base + s for base in (name, stem) for s in SIDECAR_SUFFIXES} - set(FOLDER_SIDECARS)
    latent = re.compile(re.escape(stem) + LATENT_CACHE + r"\Z")
    found = []
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    for entry in entries:
        if entry == name:
            continue
        if entry in captions:
            found.append((entry, "caption"))
        elif entry in sidecars:
            found.append((entry, "sidecar"))
        elif latent.match(entry):
            found.append((entry, "latent cache"))
    return found


def _kohya_would_read(quarantine: Path, dataset: Path, image_folders: set[Path]) -> str | None:
    for folder in sorted(image_folders):
        if _inside(quarantine, folder):
            return f"{quarantine} is inside {folder}, a folder of pictures kohya trains: choose a folder outside it"
    if _inside(quarantine, dataset) and quarantine != dataset:
        for part in quarantine.relative_to(dataset).parts:
            parsed = parse_concept_folder(part)
            if parsed is not None:
                return (
                    f"{quarantine}: '{part}' is named like a kohya concept folder ({parsed[0]} repeats), so kohya "
                    "would train what it holds: choose a name without the N_ prefix (for example _quarantine)"
                )
    return None


def audited_folder(report: dict[str, Any], dataset: Path) -> Path:
    """The real path of the folder an audit report describes, or Refused when the report is not one."""
    if report.get("schema") != "curate.audit/v1" or not isinstance(report.get("images"), list):
        raise Refused(
            "not a curate audit report (schema curate.audit/v1): write one with `curate audit PATH --json FILE`"
        )
    real = Path(os.path.realpath(dataset))
    if not real.is_dir():
        raise Refused(f"{real}: the audited folder is not here; give it with --dataset PATH")
    return real


def plan(
    report: dict[str, Any], dataset: Path, quarantine: Path, include_review: bool = False, resume: bool = True
) -> Plan:
    """Every file that would move, or Refused with every reason."""
    dataset = audited_folder(report, dataset)
    if quarantine.is_symlink():
        raise Refused(f"{quarantine} is a symbolic link: give the real folder")
    quarantine = Path(os.path.realpath(quarantine))
    if quarantine.exists() and not quarantine.is_dir():
        raise Refused(f"{quarantine} exists and is not a folder")
    if quarantine == dataset or _inside(dataset, quarantine):
        raise Refused(f"{quarantine} holds the dataset: choose a folder beside it")
    journal = _read_journal(quarantine) if resume else None
    # Files an earlier apply planned: moved already, or finished from the journal by apply() (never planned twice).
    done_sources = {m["source"] for m in journal["moves"] if not m.get("undone")} if journal else set()
    if journal and Path(journal["dataset"]) != dataset:
        raise Refused(f"{quarantine} already holds pictures moved from {journal['dataset']}: choose another folder")

    caption_ext = (report.get("dataset") or {}).get("caption_extension")
    wanted = {"drop", "review"} if include_review else {"drop"}
    problems: list[str] = []
    moves: list[Move] = []
    seen: set[str] = set()
    folders: set[Path] = set()
    for img in report["images"]:
        rel = _safe_relative(str(img.get("path", "")), dataset)
        if rel is None:
            problems.append(f"{img.get('path')!r}: not a path inside the dataset")
            continue
        folders.add(Path(os.path.realpath(dataset / rel.parent)))
        if img.get("verdict") not in wanted:
            continue
        src = dataset / rel
        if str(rel) in done_sources:
            continue
        if Path(os.path.realpath(src.parent)) != dataset / rel.parent:
            problems.append(f"{rel}: its folder is a symbolic link; curate moves only files inside the dataset")
            continue
        if src.is_symlink():
            problems.append(f"{rel}: a symbolic link; curate moves only files inside the dataset, never links")
            continue
        if not src.is_file():
            problems.append(f"{rel}: no longer there (moved or deleted since the audit): audit again")
            continue
        digest = sha256_of(src)
        if img.get("sha256") and digest != img["sha256"]:
            problems.append(f"{rel}: changed since the audit (SHA-256 differs): audit again, then apply")
            continue
        verdict = str(img.get("verdict"))
        moves.append(Move(str(rel), str(rel), digest, src.stat().st_size, str(rel), "image", verdict))
        seen.add(str(rel))
        for name, kind in companions(src.parent, rel.name, caption_ext):
            crel = rel.parent / name
            if str(crel) in seen or str(crel) in done_sources:
                continue
            cpath = dataset / crel
            if cpath.is_symlink() or not cpath.is_file():
                problems.append(
                    f"{crel}: the {kind} of {rel} is a symbolic link or not a regular file: move it by hand"
                )
                continue
            moves.append(Move(str(crel), str(crel), sha256_of(cpath), cpath.stat().st_size, str(rel), kind, verdict))
            seen.add(str(crel))
    reason = _kohya_would_read(quarantine, dataset, folders)
    if reason:
        problems.insert(0, reason)
    for m in moves:
        if os.path.lexists(quarantine / m.destination):
            problems.append(f"{quarantine / m.destination} exists already: curate never overwrites; move it away")
    if problems:
        raise Refused(display_path("\n".join(problems)))
    return Plan(dataset, quarantine, moves, already_done=len(done_sources))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_journal(quarantine: Path) -> dict[str, Any] | None:
    """{dataset, moves: [Move dicts with done/undone]} from the journal, or None when there is none."""
    path = quarantine / JOURNAL
    if path.is_symlink():
        raise Refused(f"{path} is a symbolic link: not a journal curate wrote")
    if not path.is_file():
        return None
    head: dict[str, Any] | None = None
    moves: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if n == len(path.read_text(encoding="utf-8").splitlines()):
                break  # a last line cut off by a crash: that move was not recorded, the file system says
            raise Refused(f"{path}: line {n} is not JSON; the journal is damaged") from None
        if "journal" in entry:
            head = entry
        elif "move" in entry:
            moves.append(dict(entry["move"]))
        elif "done" in entry:
            moves[entry["done"]]["done"] = entry.get("time")
        elif "undone" in entry:
            moves[entry["undone"]]["undone"] = entry.get("time")
    if head is None:
        raise Refused(f"{path}: no journal header; not a journal curate wrote")
    return {"dataset": head["dataset"], "moves": moves}


def _append(journal: Any, entry: dict[str, Any]) -> None:
    journal.write(json.dumps(entry) + "\n")  # ASCII: a non-UTF-8 file name survives as \udcXX
    journal.flush()
    os.fsync(journal.fileno())


def _move_file(src: Path, dst: Path, sha256: str) -> None:
    """Move without overwriting: hard link then unlink (one filesystem), or an exclusive, verified copy then
    unlink (across filesystems). FileExistsError when `dst` exists."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        partial = dst.with_name(dst.name + ".curate-partial")
        if partial.exists() and not partial.is_symlink():
            partial.unlink()  # ours, from an interrupted copy
        with open(src, "rb") as fin, open(partial, "xb") as fout:
            for block in iter(lambda: fin.read(1 << 20), b""):
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        if sha256_of(partial) != sha256:
            partial.unlink()
            raise OSError(f"the copy of {src} does not match it") from None
        os.link(partial, dst)  # exclusive: fails if dst appeared meanwhile
        partial.unlink()
    _fsync_dir(dst.parent)
    os.unlink(src)
    _fsync_dir(src.parent)


def apply(p: Plan) -> int:
    """Journal first, then move; returns the number of files moved now."""
    p.quarantine.mkdir(parents=True, exist_ok=True)
    path = p.quarantine / JOURNAL
    existing = _read_journal(p.quarantine)
    offset = len(existing["moves"]) if existing else 0
    if existing:
        _finish_interrupted(p, existing)
    with open(path, "a", encoding="utf-8") as journal:
        if not existing:
            _append(journal, {"journal": "curate quarantine", "version": 1, "dataset": str(p.dataset)})
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for m in p.moves:
            _append(journal, {"move": {**asdict(m), "planned": stamp}})
        for i, m in enumerate(p.moves):
            _move_file(p.dataset / m.source, p.quarantine / m.destination, m.sha256)
            _append(journal, {"done": offset + i, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return len(p.moves)


def _finish_interrupted(p: Plan, journal: dict[str, Any]) -> None:
    """Moves an earlier apply planned but did not record as done: finished from what the disk holds — a file
    linked but not yet unlinked loses its old name; one not started moves now, if it is still the same file."""
    path = p.quarantine / JOURNAL
    with open(path, "a", encoding="utf-8") as out:
        for i, m in enumerate(journal["moves"]):
            if m.get("done") or m.get("undone"):
                continue
            src, dst = p.dataset / m["source"], p.quarantine / m["destination"]
            src_ok = src.is_file() and not src.is_symlink()
            if dst.is_file() and not dst.is_symlink() and sha256_of(dst) == m["sha256"]:
                if src_ok and os.path.samefile(src, dst):
                    os.unlink(src)  # linked but not yet unlinked
                    _fsync_dir(src.parent)
                if os.path.lexists(src):
                    continue  # a different file took the name since: left alone, and the move not recorded
            elif src_ok and not os.path.lexists(dst) and sha256_of(src) == m["sha256"]:
                _move_file(src, dst, m["sha256"])
            else:
                continue
            _append(out, {"done": i, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


@dataclass
class UndoResult:
    restored: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    already: int = 0


def undo(quarantine: Path) -> UndoResult:
    """Move every file back to where it was, byte-identical; each conflict refused on its own."""
    if quarantine.is_symlink():
        raise Refused(f"{quarantine} is a symbolic link: give the real folder")
    quarantine = Path(os.path.realpath(quarantine))
    journal = _read_journal(quarantine)
    if journal is None:
        raise Refused(f"{quarantine}: no {JOURNAL} here — not a folder `curate apply` moved pictures into")
    dataset = Path(journal["dataset"])
    result = UndoResult()
    with open(quarantine / JOURNAL, "a", encoding="utf-8") as out:
        for i in reversed(range(len(journal["moves"]))):
            m = journal["moves"][i]
            if not m.get("done"):
                continue
            if m.get("undone"):
                result.already += 1
                continue
            src, dst = quarantine / m["destination"], dataset / m["source"]
            if os.path.lexists(dst):
                result.conflicts.append(
                    f"{m['source']}: kept in {quarantine}: a file of that name is back in the dataset; "
                    "compare and move one by hand"
                )
                continue
            if src.is_symlink() or not src.is_file():
                result.conflicts.append(f"{m['source']}: missing from {quarantine} (moved or deleted there)")
                continue
            if sha256_of(src) != m["sha256"]:
                result.conflicts.append(f"{m['source']}: changed in {quarantine} since it was moved; not restored")
                continue
            if not _inside(Path(os.path.realpath(dst.parent)) if dst.parent.exists() else dst.parent, dataset):
                result.conflicts.append(f"{m['source']}: its folder now leads outside the dataset; not restored")
                continue
            _move_file(src, dst, m["sha256"])
            _append(out, {"undone": i, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            result.restored.append(m["source"])
    return result

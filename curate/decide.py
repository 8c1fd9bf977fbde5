"""Decide: a verdict per image from its findings, and the gate's exit code.

An audit's findings are kept in a `FindingLog` (each pickled into a spool, a temporary file, as it is made) and
read per image through `FindingsByImage`: a million pictures' findings would hold ≈ 1.4 GB as objects (issue 22).
"""

from __future__ import annotations

import pickle
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np

from curate.model import CATEGORIES, SEVERITY_RANK, Finding, ImageRecord
from curate.spool import Spool

FAIL_ON = ("error", "warning", "never")
VERDICT_OF_RANK = ("keep", "keep", "review", "drop")  # by the worst finding's SEVERITY_RANK (0: no finding)
READ_TOGETHER = 4096  # findings read back in one piece when they are read in order


def verdict(findings: Iterable[Finding]) -> str:
    """Any error → drop; any warning → review; otherwise keep."""
    return VERDICT_OF_RANK[max((SEVERITY_RANK[f.severity] for f in findings), default=0)]


class _Column:
    """One value of every finding as a small number each (its kind — code, category, severity — or its path):
    counted and sorted without reading the findings back."""

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.values: list[Any] = []
        self.of = array("i")  # per finding

    def add(self, value: Any) -> None:
        i = self.ids.get(value)
        if i is None:
            i = self.ids[value] = len(self.values)
            self.values.append(value)
        self.of.append(i)

    def array(self) -> np.ndarray:
        return np.frombuffer(self.of, dtype=np.int32) if len(self.of) else np.zeros(0, np.int32)


class FindingLog(Sequence[Finding]):
    """An audit's findings, in check order, each pickled into a spool as it is appended. Reads like a list (length,
    index, slice, iteration, equality); `tally` counts fields without reading the findings back."""

    KIND = ("code", "category", "severity")  # few distinct together: one column for the three

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        self._spool = Spool()
        self._at = array("q")  # each finding's offset in the spool: a packed position (offset << 32) passes 64 bits
        self._size = array("I")  # once the spool passes 2 GiB; and each finding's size
        self._kinds = _Column()  # (code, category, severity)
        self._paths = _Column()
        for f in findings:
            self.append(f)

    def append(self, f: Finding) -> None:
        code, category, severity, path = f.code, f.category, f.severity, f.path
        data = pickle.dumps((code, category, severity, f.message, f.evidence, path), pickle.HIGHEST_PROTOCOL)
        at = self._spool.put(data)
        self._at.append(at >> 32)
        self._size.append(at & 0xFFFFFFFF)
        self._kinds.add((code, category, severity))
        self._paths.add(path)

    def __len__(self) -> int:
        return len(self._at)

    @overload
    def __getitem__(self, i: int) -> Finding: ...
    @overload
    def __getitem__(self, i: slice) -> list[Finding]: ...
    def __getitem__(self, i: int | slice) -> Finding | list[Finding]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return Finding(*pickle.loads(self._spool.read(self._at[i], self._at[i] + self._size[i])))

    def __iter__(self) -> Iterator[Finding]:
        for start in range(0, len(self._at), READ_TOGETHER):
            at, size = self._at[start : start + READ_TOGETHER], self._size[start : start + READ_TOGETHER]
            first = at[0]
            block = memoryview(self._spool.read(first, at[-1] + size[-1]))
            for offset, n in zip(at, size):
                yield Finding(*pickle.loads(block[offset - first : offset - first + n]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FindingLog({list(self)!r})"

    def column(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """(each finding's id for the field — code, category, severity or path —, the values by id)."""
        if name == "path":
            return self._paths.array(), self._paths.values
        field = self.KIND.index(name)
        values = list(dict.fromkeys(kind[field] for kind in self._kinds.values))
        of_kind = np.array([values.index(kind[field]) for kind in self._kinds.values] + [0], dtype=np.int32)
        return of_kind[self._kinds.array()], values


def tally(findings: Iterable[Finding], *fields: str) -> Counter:
    """How many findings have each value of `fields` (a tuple of values for several fields). Read from the log's
    columns where `findings` is a FindingLog."""
    if not isinstance(findings, FindingLog):
        return Counter(
            getattr(f, fields[0]) if len(fields) == 1 else tuple(getattr(f, n) for n in fields) for f in findings
        )
    ids, names = [], []
    for name in fields:
        column_ids, values = findings.column(name)
        ids.append(column_ids)
        names.append(values)
    if not len(findings):
        return Counter()
    combined, first, counts = np.unique(np.stack(ids, axis=1), axis=0, return_index=True, return_counts=True)
    out: Counter = Counter()  # in the order each value first appears, as a Counter over the findings would be
    for k in np.argsort(first, kind="stable"):
        row, n = combined[k].tolist(), int(counts[k])
        key = tuple(names[field][v] for field, v in enumerate(row))
        out[key[0] if len(fields) == 1 else key] = n
    return out


class FindingsByImage(Mapping[str, list[Finding]]):
    """The findings of each image path that has any, errors first, then by the category vocabulary's order (then in
    check order), read back from the log when asked; `worst(path)` is the highest SEVERITY_RANK without reading."""

    def __init__(self, log: FindingLog, images: set[str]):
        self._log = log
        path_ids, paths = log.column("path")
        self._pid = {p: i for i, p in enumerate(paths) if p in images}
        mine = np.array([p in images for p in paths] + [False], dtype=bool)[path_ids] if len(log) else np.zeros(0, bool)
        sev_ids, severities = log.column("severity")
        cat_ids, categories = log.column("category")
        rank = np.array([SEVERITY_RANK[s] for s in severities] + [0], dtype=np.int8)[sev_ids]
        position = np.array([_category_position(c) for c in categories] + [0], dtype=np.int16)[cat_ids]
        index = np.flatnonzero(mine)
        index = index[np.lexsort((index, position[index], -rank[index], path_ids[index]))]
        self._order = index.astype(np.int64)
        bounds = np.searchsorted(path_ids[index], np.arange(len(paths) + 1))
        self._bounds = bounds
        self._worst = np.zeros(len(paths), dtype=np.int8)
        np.maximum.at(self._worst, path_ids[index], rank[index])
        self._other = np.flatnonzero(~mine) if len(log) else np.zeros(0, np.int64)

    def __getitem__(self, path: str) -> list[Finding]:
        i = self._pid[path]
        return [self._log[int(j)] for j in self._order[self._bounds[i] : self._bounds[i + 1]]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pid)

    def __len__(self) -> int:
        return len(self._pid)

    def __contains__(self, path: object) -> bool:
        return path in self._pid

    def worst(self, path: str) -> int:
        """The highest SEVERITY_RANK among the image's findings (0 without any)."""
        i = self._pid.get(path)
        return 0 if i is None else int(self._worst[i])

    def others(self) -> list[Finding]:
        """The findings about files that are not images (captions, configs), in check order."""
        return [self._log[int(j)] for j in self._other]


def _category_position(category: str) -> int:
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)


def split_findings(records: list[ImageRecord], findings: Iterable[Finding]) -> tuple[FindingsByImage, list[Finding]]:
    """Findings per image path (errors first, then by category), and those about other files (captions, configs)."""
    log = findings if isinstance(findings, FindingLog) else FindingLog(findings)
    per_image = FindingsByImage(log, {r.path for r in records})
    return per_image, per_image.others()


def exit_code(findings: Iterable[Finding], fail_on: str) -> int:
    """The gate: 1 when a finding at or above `fail_on` exists, else 0."""
    if fail_on == "never":
        return 0
    threshold = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[s] >= threshold for s in tally(findings, "severity")) else 0

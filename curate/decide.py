"""Decide: a verdict per image from its findings, and the gate's exit code."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from curate.model import CATEGORIES, SEVERITY_RANK, Finding, ImageRecord

FAIL_ON = ("error", "warning", "never")


def verdict(findings: Iterable[Finding]) -> str:
    """Any error → drop; any warning → review; otherwise keep."""
    worst = max((SEVERITY_RANK[f.severity] for f in findings), default=0)
    return "drop" if worst >= SEVERITY_RANK["error"] else "review" if worst >= SEVERITY_RANK["warning"] else "keep"


def split_findings(
    records: list[ImageRecord], findings: list[Finding]
) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Findings per image path (in check order), and those about other files (captions, configs)."""
    paths = {r.path for r in records}
    per_image: dict[str, list[Finding]] = defaultdict(list)
    other: list[Finding] = []
    for f in findings:
        if f.path in paths:
            per_image[f.path].append(f)
        else:
            other.append(f)
    for findings_of_one in per_image.values():  # errors first, then by the category vocabulary's order
        findings_of_one.sort(key=lambda f: (-SEVERITY_RANK[f.severity], CATEGORIES.index(f.category)))
    return per_image, other


def exit_code(findings: Iterable[Finding], fail_on: str) -> int:
    """The gate: 1 when a finding at or above `fail_on` exists, else 0."""
    if fail_on == "never":
        return 0
    threshold = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[f.severity] >= threshold for f in findings) else 0

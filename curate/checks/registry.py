"""The check registry: every rule has a stable code, a name, a category and a default severity.

A check module declares its rules with `rule(...)` (the docstring is the rule's documentation, printed by
`curate rules CODE`) and registers one function: `@image_check` (called once per image record) or
`@dataset_check` (called once with all records, for group checks). Check functions read cached features
only; they never open an image. They yield `ctx.finding(...)` results and, for group checks, `Group`s.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from curate.model import CATEGORIES, SEVERITIES, Finding, Group, ImageRecord
from curate.rules import BaseModel, Settings


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    category: str
    severity: str
    doc: str
    module: str
    settings_section: str | None = None
    scope: str = "image"        # 'dataset': about the whole dataset, said once; fails the gate, no image's verdict

    @property
    def summary(self) -> str:
        """The first paragraph of the documentation, on one line."""
        return " ".join(self.doc.strip().split("\n\n")[0].split())


RULES: dict[str, Rule] = {}
IMAGE_CHECKS: list[Callable] = []
DATASET_CHECKS: list[Callable] = []


def rule(code: str, name: str, category: str, severity: str, doc: str, settings: str | None = None,
         scope: str = "image") -> Rule:
    if category not in CATEGORIES:
        raise ValueError(f"{code}: unknown category {category}")
    if severity not in SEVERITIES:
        raise ValueError(f"{code}: unknown severity {severity}")
    if code in RULES:
        raise ValueError(f"duplicate rule code {code}")
    module = sys._getframe(1).f_globals.get("__name__", "?")  # inspect.stack() costs ~25 ms at start-up
    if scope not in ("image", "dataset"):
        raise ValueError(f"{code}: unknown scope {scope}")
    r = Rule(code, name, category, severity, inspect.cleandoc(doc), module, settings, scope)
    RULES[code] = r
    return r


def image_check(func: Callable) -> Callable:
    IMAGE_CHECKS.append(func)
    return func


def dataset_check(func: Callable) -> Callable:
    DATASET_CHECKS.append(func)
    return func


@dataclass
class Selection:
    """--select / --ignore: codes, code prefixes ('RES'), categories or rule names."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    @staticmethod
    def _matches(r: Rule, token: str) -> bool:
        t = token.strip()
        return r.code.upper().startswith(t.upper()) or t.lower() in (r.category, r.name)

    def enabled(self, r: Rule) -> bool:
        if self.select and not any(self._matches(r, t) for t in self.select):
            return False
        return not any(self._matches(r, t) for t in self.ignore)

    def unknown_tokens(self) -> list[str]:
        return [t for t in (*self.select, *self.ignore) if not any(self._matches(r, t) for r in RULES.values())]


@dataclass
class Context:
    """What a check may consult besides the records: thresholds, the base model, dataset facts."""

    settings: Settings
    base_model: BaseModel
    dataset: dict[str, Any] = field(default_factory=dict)
    selection: Selection = field(default_factory=Selection)
    _signals: dict[str, Any] = field(default_factory=dict, repr=False)   # rights signals by image path
    _marks: dict[str, Any] = field(default_factory=dict, repr=False)     # classified text marks by image path

    def severity_of(self, code: str) -> str:
        return self.settings.severity(code, RULES[code].severity)

    def wants(self, code: str) -> bool:
        return self.severity_of(code) != "off" and self.selection.enabled(RULES[code])

    def signals(self, rec: ImageRecord):
        """The image's rights signals (curate/rights.py), computed once per audit."""
        if rec.path not in self._signals:
            from curate.rights import read_signals

            self._signals[rec.path] = read_signals(rec, self.settings)
        return self._signals[rec.path]

    def marks(self, rec: ImageRecord) -> list:
        """The image's text regions classified as watermark / signature / text (curate/marks.py), once."""
        if rec.path not in self._marks:
            from curate.marks import classify

            f = rec.features.get("marks") if rec.readable else None   # skipped / error features hold no texts
            self._marks[rec.path] = classify(f, lambda key: self.conf("marks", key), self.settings.data["mark_words"])
        return self._marks[rec.path]

    def clip(self, rec: ImageRecord, view: str = "full"):
        """The image's CLIP embedding of one view (curate/extract/clip.py) as a float vector, or None."""
        from curate.extract.clip import decode_vector

        f = rec.features.get("clip") if rec.readable else None
        encoded = (f or {}).get("views", {}).get(view)
        return decode_vector(encoded) if encoded else None

    def faces(self, rec: ImageRecord) -> list[dict[str, Any]]:
        """The image's detected faces at or above [identity] min_face_score, largest first."""
        f = rec.features.get("faces") if rec.readable else None
        if not f or "faces" not in f:
            return []
        return [x for x in f["faces"] if x.get("score", 0) >= float(self.conf("identity", "min_face_score"))]

    def quality(self, rec: ImageRecord) -> dict[str, Any] | None:
        """The image's quality measurements, or None when they do not apply (unreadable, flat-colour art)."""
        q = rec.features.get("quality") or {}
        if not rec.readable or not q or "skipped" in q:
            return None
        if self.is_flat_art(q):
            return None
        return q

    def is_flat_art(self, q: dict[str, Any]) -> bool:
        """Flat-colour digital art: noise, softness and upscaling measures do not apply to it."""
        return (q.get("flat_fraction") or 0) >= float(self.conf("quality", "flat_art_fraction"))

    def conf(self, section: str, key: str) -> Any:
        return self.settings.get(section, key)

    def finding(self, code: str, message: str, evidence: dict[str, Any] | None = None,
                path: str | None = None) -> Finding | None:
        if not self.wants(code):
            return None
        r = RULES[code]
        return Finding(code, r.category, self.severity_of(code), message, evidence or {}, path)


# The module whose checks say why a file is not trained on: the only checks run on such a file, so it gets
# exactly one finding and nothing that assumes it is trained.
UNREADABLE_MODULE = "curate.checks.unreadable"


def run_checks(records: list[ImageRecord], ctx: Context) -> tuple[list[Finding], list[Group]]:
    findings: list[Finding] = []
    groups: list[Group] = []
    trained = [r for r in records if r.trained]
    for rec in records:
        for check in IMAGE_CHECKS:
            if not rec.trained and check.__module__ != UNREADABLE_MODULE:
                continue
            for item in check(rec, ctx) or ():
                if isinstance(item, Finding):
                    findings.append(item if item.path else _with_path(item, rec.path))
    for check in DATASET_CHECKS:
        for item in check(records if check.__module__ == UNREADABLE_MODULE else trained, ctx) or ():
            if isinstance(item, Finding):
                findings.append(item)
            elif isinstance(item, Group):
                groups.append(item)
    return findings, groups


def _with_path(f: Finding, path: str) -> Finding:
    return Finding(f.code, f.category, f.severity, f.message, f.evidence, path)


def reads(r: Rule) -> tuple[str, ...]:
    """The extractors a rule's check module reads (its NEEDS; default: image)."""
    return getattr(sys.modules[r.module], "NEEDS", ("image",))


def uses(r: Rule) -> tuple[str, ...]:
    """Extractors a rule's check module reads when they are available, and does without otherwise (its USES)."""
    return getattr(sys.modules[r.module], "USES", ())


def needed_extractors(selection: Selection, settings: Settings, missing: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The extractors the enabled checks read (NEEDS, and USES where not missing). A check that needs a
    `missing` extractor (not installed here) cannot run, so it asks for nothing."""
    needs = {"image"}
    for r in RULES.values():
        if selection.enabled(r) and settings.severity(r.code, r.severity) != "off" and not missing & set(reads(r)):
            needs.update(reads(r))
            needs.update(set(uses(r)) - missing)
    return tuple(sorted(needs))


def load_all() -> dict[str, Rule]:
    """Import every check module so that its rules register (idempotent)."""
    # Import order is check order within a severity: what kohya cannot use, then picture quality, then
    # captions and duplicates, then rights.
    from curate.checks import (  # noqa: F401
        unreadable, resolution, upscaled, blur, noise, compression, smoothing, caption, duplicate, watermark,
        signature, text, cloak, opt_out, platform_terms, ai_generated, rights, consent, semantic_duplicate,
        composition, identity)

    return RULES

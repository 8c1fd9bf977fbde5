"""The check contract: rules, declared check specs, the context checks read, and the runner.

A **rule** is one stable code (`RES001`) with a name, a category, a default severity, the version it
appeared in (`since`) and its documentation (`curate rules CODE`). Documentation names thresholds as
`{section.key}`; they are filled in from the settings in force, so no text restates a default.

A **check** is a function declared with `@image_check(...)` (called once per image record) or
`@dataset_check(...)` (called once with every trained record). Its declaration is the whole contract:

- `emits`: the rule objects it may report (reporting any other is a bug the runner refuses);
- `needs`: the extractors whose cached features it reads (the audit runs only those it needs);
  `uses`: extractors it reads where installed and does without otherwise;
- `settings`: the sections of rules/checks.toml it reads (`ctx.cfg.<section>`, typed: curate/thresholds.py);
- `consumes`: the derived results (curate/derive/) it reads, computed before it runs.

Checks read cached features, derived results and settings only; they never open a file. They yield
`ctx.finding(RULE, message, evidence)` and, for group checks, `Group`s.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Literal, cast

from curate.decide import FindingLog
from curate.derive import Derivation
from curate.features import Face, FacesFeatures, QualityFeatures
from curate.model import CATEGORIES, SEVERITIES, Finding, Group, ImageRecord
from curate.rules import BaseModel, Settings
from curate.thresholds import SECTIONS, Thresholds

Scope = Literal["image", "dataset"]
PLACEHOLDER = re.compile(r"\{([a-z_]+)\.([a-z_]+)\}")


@dataclass(frozen=True, eq=False)  # one object per code (rule() refuses a second): compared and hashed as itself
class Rule:
    code: str
    name: str
    category: str
    severity: str
    doc: str  # a template: {section.key} is the live setting
    module: str
    settings_section: str | None = None
    scope: Scope = "image"  # 'dataset': said once for the dataset; fails the gate, no image's verdict
    since: str = "0.1.0"  # the release that introduced the code (codes are a public contract)
    deprecated: str | None = None  # what replaces it, when it is on its way out

    def render(self, settings: Settings | None = None) -> str:
        """The documentation with every `{section.key}` replaced by the value in force."""
        return render_template(self.doc, settings)

    @property
    def summary(self) -> str:
        """The first paragraph of the documentation (with default settings), on one line."""
        return " ".join(self.render().strip().split("\n\n")[0].split())


def render_template(text: str, settings: Settings | None = None) -> str:
    data = (settings or _default_settings()).data

    def value(m: re.Match) -> str:
        v = data[m.group(1)][m.group(2)]
        if isinstance(v, bool):  # as the TOML writes it
            return "true" if v else "false"
        return f"{v:g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) and v >= 10_000 else str(v)

    return PLACEHOLDER.sub(value, text)


_DEFAULTS: list[Settings] = []


def _default_settings() -> Settings:
    if not _DEFAULTS:
        from curate.rules import load_settings

        _DEFAULTS.append(load_settings())
    return _DEFAULTS[0]


RULES: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    category: str,
    severity: str,
    doc: str,
    settings: str | None = None,
    scope: Scope = "image",
    since: str = "0.1.0",
    deprecated: str | None = None,
) -> Rule:
    if not re.fullmatch(r"[A-Z]{3}\d{3}", code):
        raise ValueError(f"{code}: a code is three capitals and three digits")
    if category not in CATEGORIES:
        raise ValueError(f"{code}: unknown category {category}")
    if severity not in SEVERITIES:
        raise ValueError(f"{code}: unknown severity {severity}")
    if code in RULES:
        raise ValueError(f"duplicate rule code {code}")
    if scope not in ("image", "dataset"):
        raise ValueError(f"{code}: unknown scope {scope}")
    if settings is not None and settings not in SECTIONS:
        raise ValueError(f"{code}: unknown settings section {settings}")
    for section, key in PLACEHOLDER.findall(doc):
        if section not in SECTIONS or key not in {f.name for f in dataclasses.fields(SECTIONS[section])}:
            raise ValueError(f"{code}: its documentation names {{{section}.{key}}}, which is not a setting")
    module = sys._getframe(1).f_globals.get("__name__", "?")  # inspect.stack() costs ~25 ms at start-up
    r = Rule(code, name, category, severity, inspect.cleandoc(doc), module, settings, scope, since, deprecated)
    RULES[code] = r
    return r


@dataclass(frozen=True)
class Check:
    """One check function and what it declares (see the module docstring)."""

    func: Callable[..., Iterable[Finding | Group | None] | None]
    scope: Scope
    emits: tuple[Rule, ...]
    needs: tuple[str, ...] = ("image",)
    uses: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    consumes: tuple[Derivation, ...] = ()

    @property
    def module(self) -> str:
        return self.func.__module__

    @property
    def name(self) -> str:
        """The module's last name ('blur'): the key of its analysis in the report."""
        return self.module.rsplit(".", 1)[-1]

    def is_on(self, selection: Selection, settings: Settings) -> bool:
        """Whether any rule it emits is selected and not severity "off" (else the check does not run)."""
        return any(selection.enabled(r) and settings.severity(r.code, r.severity) != "off" for r in self.emits)

    @property
    def on_untrained(self) -> bool:
        """Whether it runs on files kohya will not load (only the checks that say why a file is not trained)."""
        return self.module == UNREADABLE_MODULE


CHECKS: list[Check] = []
# The module whose checks say why a file is not trained on: the only checks run on such a file, so it gets
# exactly one finding and nothing that assumes it is trained.
UNREADABLE_MODULE = "curate.checks.unreadable"


def _declare(
    scope: Scope,
    emits: Iterable[Rule],
    needs: Iterable[str],
    uses: Iterable[str],
    settings: Iterable[str],
    consumes: Iterable[Derivation],
) -> Callable[[Callable], Callable]:
    emits = tuple(emits)
    if not emits or not all(isinstance(r, Rule) for r in emits):
        raise TypeError("a check declares the rule objects it emits: emits=(RES001, RES002)")
    unknown = [s for s in settings if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown settings section(s) {unknown}")

    def register(func: Callable) -> Callable:
        CHECKS.append(
            Check(
                func,
                scope,
                emits,
                ("image", *[n for n in needs if n != "image"]),
                tuple(uses),
                tuple(settings),
                tuple(consumes),
            )
        )
        return func

    return register


def image_check(
    *,
    emits: Iterable[Rule],
    needs: Iterable[str] = (),
    uses: Iterable[str] = (),
    settings: Iterable[str] = (),
    consumes: Iterable[Derivation] = (),
) -> Callable[[Callable], Callable]:
    """Declare a check called once per image record: `check(rec, ctx)`."""
    return _declare("image", emits, needs, uses, settings, consumes)


def dataset_check(
    *,
    emits: Iterable[Rule],
    needs: Iterable[str] = (),
    uses: Iterable[str] = (),
    settings: Iterable[str] = (),
    consumes: Iterable[Derivation] = (),
) -> Callable[[Callable], Callable]:
    """Declare a check called once with every trained record: `check(records, ctx)`."""
    return _declare("dataset", emits, needs, uses, settings, consumes)


def check_of(r: Rule) -> Check:
    """The check that emits a rule."""
    for c in CHECKS:
        if r in c.emits:
            return c
    raise LookupError(f"no check emits {r.code}")


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


class UndeclaredRule(RuntimeError):
    """A check reported a rule, or read a derived result, it did not declare: a bug in that check."""


@dataclass
class Context:
    """What a check may consult besides the records: settings, the base model, dataset facts, derived results."""

    settings: Settings
    base_model: BaseModel
    dataset: dict[str, Any] = field(default_factory=dict)
    selection: Selection = field(default_factory=Selection)
    running: Check | None = field(default=None, repr=False)  # the check being run (its declaration is enforced)
    image_path: str | None = field(default=None, repr=False)  # the image an image check is run on (its findings')
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)  # by name, computed before the checks
    _signals: dict[str, Any] = field(default_factory=dict, repr=False)  # rights signals by image path
    _marks: dict[str, Any] = field(default_factory=dict, repr=False)  # classified text marks by image path
    _wanted: dict[str, bool] = field(default_factory=dict, repr=False)  # wants() by rule code
    memos: dict[str, Any] = field(default_factory=dict, repr=False)  # by derivation name, from the last audit

    @property
    def cfg(self) -> Thresholds:
        """The typed settings in force (rules/checks.toml ← profile ← --rules)."""
        return self.settings.cfg

    def severity_of(self, r: Rule) -> str:
        return self.settings.severity(r.code, r.severity)

    def wants(self, r: Rule) -> bool:
        """Whether the rule is on (not severity "off") and selected (asked once per finding: remembered per rule)."""
        known = self._wanted.get(r.code)
        if known is None:
            known = self._wanted[r.code] = self.severity_of(r) != "off" and self.selection.enabled(r)
        return known

    def derived(self, d: Derivation) -> Any:
        """A derived result the running check declared in `consumes`."""
        if self.running is not None and d not in self.running.consumes:
            raise UndeclaredRule(
                f"{self.running.module} reads the derived result '{d.name}' without declaring it in consumes="
            )
        return self._derived[d.name]

    def new_memos(self) -> dict[str, Any]:
        """What this audit's derivations carry to the next audit of the folder (Derivation.memo), by name."""
        return {name: m for name, result in self._derived.items() if (m := getattr(result, "memo", None)) is not None}

    def signals(self, rec: ImageRecord) -> Any:
        """The image's rights signals (curate/derive/rights.py), computed once per audit."""
        if rec.path not in self._signals:
            from curate.derive.rights import read_signals

            self._signals[rec.path] = read_signals(rec, self.settings)
        return self._signals[rec.path]

    def marks(self, rec: ImageRecord) -> list:
        """The image's text regions classified as watermark / signature / text (curate/derive/marks.py), once."""
        if rec.path not in self._marks:
            from curate.derive.marks import classify

            f = rec.features.get("marks") if rec.readable else None  # skipped / error features hold no texts
            self._marks[rec.path] = classify(
                f, self.cfg.marks, self.settings.data["mark_words"], caption=rec.caption.text
            )
        return self._marks[rec.path]

    def clip(self, rec: ImageRecord, view: str = "full") -> Any:
        """The image's CLIP embedding of one view (curate/extract/clip.py) as a float vector, or None."""
        from curate.extract.clip import decode_vector

        f = rec.features.get("clip") if rec.readable else None
        encoded = (f or {}).get("views", {}).get(view)
        return decode_vector(encoded) if encoded else None

    def clip_matrix(self, records: Iterable[ImageRecord], view: str = "full") -> tuple[list[ImageRecord], Any]:
        """(the records that have this view, their embeddings as rows at half precision, as the cache keeps them),
        or ([], None). Up to SPOOLED_FROM records the rows are one array in memory; from there they are spooled
        (curate.spool.SpooledRows, indexed as an array is): a million whole pictures are 1 GB."""
        import numpy as np

        from curate.derive.embeddings import SPOOLED_FROM
        from curate.spool import SpooledRows

        records = list(records)
        rows: list[ImageRecord] = []
        matrix: Any = None
        for rec in records:
            v = self.clip(rec, view)
            if v is None:
                continue
            if matrix is None:
                spooled = len(records) >= SPOOLED_FROM
                matrix = SpooledRows(len(v)) if spooled else np.empty((len(records), len(v)), dtype=np.float16)
            if isinstance(matrix, SpooledRows):
                matrix.append(v)
            else:
                matrix[len(rows)] = v
            rows.append(rec)
        if isinstance(matrix, np.ndarray):
            matrix = matrix[: len(rows)]
        return rows, matrix

    def faces(self, rec: ImageRecord) -> list[Face]:
        """The image's detected faces at or above [identity] min_face_score, largest first."""
        f = cast(FacesFeatures, rec.features.get("faces") or {}) if rec.readable else FacesFeatures()
        return [x for x in f.get("faces", []) if x.get("score", 0) >= self.cfg.identity.min_face_score]

    def quality(self, rec: ImageRecord) -> QualityFeatures | None:
        """The image's quality measurements, or None when they do not apply (unreadable, failed, flat-colour art)."""
        q = cast(QualityFeatures, rec.features.get("quality") or {})
        if not rec.readable or not q or "skipped" in q or "error" in q:
            return None
        if self.is_flat_art(q):
            return None
        return q

    def is_flat_art(self, q: QualityFeatures | dict[str, Any]) -> bool:
        """Flat-colour digital art: noise, softness and upscaling measures do not apply to it."""
        return (q.get("flat_fraction") or 0) >= self.cfg.quality.flat_art_fraction

    def finding(
        self, r: Rule, message: str, evidence: dict[str, Any] | None = None, path: str | None = None
    ) -> Finding | None:
        """A finding of rule `r` (None when the rule is off or not selected)."""
        if not isinstance(r, Rule):
            raise TypeError(f"ctx.finding takes a rule object (RES001), not {r!r}")
        if self.running is not None and r not in self.running.emits:
            raise UndeclaredRule(f"{self.running.module} reported {r.code} without declaring it in emits=")
        if not self.wants(r):
            return None
        return Finding(r.code, r.category, self.severity_of(r), message, evidence or {}, path or self.image_path)


def enabled_checks(ctx: Context) -> list[Check]:
    """The checks with at least one rule on and selected."""
    return [c for c in CHECKS if c.is_on(ctx.selection, ctx.settings)]


def derivation_order(checks: Iterable[Check]) -> list[Derivation]:
    """The derived results the checks consume, each after those it reads (depth-first topological order)."""
    order: list[Derivation] = []
    visiting: set[str] = set()

    def visit(d: Derivation) -> None:
        if d in order:
            return
        if d.name in visiting:
            raise ValueError(f"derived result '{d.name}' depends on itself")
        visiting.add(d.name)
        for before in d.after:
            visit(before)
        visiting.discard(d.name)
        order.append(d)

    for c in checks:
        for d in c.consumes:
            visit(d)
    return order


def run_checks(
    records: list[ImageRecord], ctx: Context, checks: list[Check] | None = None
) -> tuple[FindingLog, list[Group]]:
    """Run the enabled checks: derived results first (in data-flow order), then image checks per record,
    then dataset checks. Files kohya will not load get only the checks that say so; regularisation images get
    the image checks, and are left out of the dataset checks (duplicates, composition, identity are about the
    concept being trained)."""
    checks = enabled_checks(ctx) if checks is None else checks
    findings = FindingLog()
    groups: list[Group] = []
    trained = [r for r in records if r.trained and not r.concept.is_reg]
    _compute_derived(ctx, trained, checks)
    image_checks = [c for c in checks if c.scope == "image"]
    try:
        for rec in records:
            ctx.image_path = rec.path  # ctx.finding() gives its findings this path
            for check in image_checks:
                if rec.trained or check.on_untrained:
                    ctx.running = check
                    for item in check.func(rec, ctx) or ():
                        if isinstance(item, Finding):  # made by ctx.finding(), with this image's path
                            findings.append(item)
        ctx.image_path = None
        for check in (c for c in checks if c.scope == "dataset"):
            ctx.running = check
            for item in _items(check.func(records if check.on_untrained else trained, ctx)):
                if isinstance(item, Finding):
                    findings.append(item)
                elif isinstance(item, Group):
                    groups.append(item)
    finally:
        ctx.running = ctx.image_path = None
    return findings, groups


def _compute_derived(ctx: Context, records: list[ImageRecord], checks: list[Check]) -> None:
    """The derived results the checks consume, computed once from `records`, in data-flow order."""
    ctx.running = None
    ctx._derived.clear()
    for d in derivation_order(checks):
        if d.memo is not None:
            ctx._derived[d.name] = d.compute(records, ctx.settings, previous=ctx.memos.get(d.name))
        else:
            ctx._derived[d.name] = d.compute(records, ctx.settings)


def spec_of(func: Callable) -> Check:
    """The declaration of a check function."""
    for c in CHECKS:
        if c.func is func:
            return c
    raise LookupError(f"{func.__module__}.{func.__name__} is not a declared check")


def run_one(func: Callable, subject: ImageRecord | list[ImageRecord], ctx: Context) -> list[Finding | Group]:
    """Run one check as the runner would (its derived results computed, its declaration enforced) on one record
    (an image check) or a list of records (a dataset check): what it yields, in order, without the Nones."""
    check = spec_of(func)
    _compute_derived(ctx, subject if isinstance(subject, list) else [subject], [check])
    ctx.running = check
    try:
        return [item for item in _items(check.func(subject, ctx)) if item is not None]
    finally:
        ctx.running = None


def _items(result: Iterable[Finding | Group | None] | None) -> Iterator[Finding | Group | None]:
    yield from result or ()


def needed_extractors(
    selection: Selection, settings: Settings, missing: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """The extractors the enabled checks read (needs, and uses where not missing) and the derived results they
    consume need. A check that needs a `missing` extractor (not installed here) cannot run, so it asks for
    nothing."""
    needs = {"image"}
    for c in CHECKS:
        if c.is_on(selection, settings) and not missing & set(c.needs):
            needs.update(c.needs)
            needs.update(set(c.uses) - missing)
            for d in derivation_order([c]):
                needs.update(d.needs)
    return tuple(sorted(needs))


def load_all() -> dict[str, Rule]:
    """Import every check module so that its rules and checks register (idempotent), in CHECK_MODULES order."""
    # CHECK_MODULES order is check order within a severity: what kohya cannot use, then picture quality, then
    # captions and duplicates, then rights. Data flow between checks goes through declared derived results,
    # never through this order. A module imported earlier by name (`from curate.checks import watermark`)
    # registered first: the registries are put back in this order, so that reports do not depend on it.
    for name in CHECK_MODULES:
        importlib.import_module(f"curate.checks.{name}")
    position = {f"curate.checks.{name}": i for i, name in enumerate(CHECK_MODULES)}
    CHECKS.sort(key=lambda c: position.get(c.func.__module__, len(position)))
    ordered = sorted(RULES.values(), key=lambda r: position.get(r.module, len(position)))
    if list(RULES.values()) != ordered:
        RULES.clear()
        RULES.update((r.code, r) for r in ordered)
    return RULES


CHECK_MODULES = (
    "unreadable",
    "resolution",
    "upscaled",
    "blur",
    "noise",
    "compression",
    "smoothing",
    "framing",
    "caption",
    "caption_text",
    "caption_evidence",
    "duplicate",
    "watermark",
    "signature",
    "repeated_mark",
    "text",
    "cloak",
    "opt_out",
    "platform_terms",
    "ai_generated",
    "rights",
    "consent",
    "composition",
    "semantic_duplicate",
    "identity",
)

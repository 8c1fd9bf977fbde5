"""The audit pipeline, in one direction: scan → extract → check → decide. Reports render its result."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from curate.cache import FeatureCache, default_cache_dir
from curate.checks import Context, Selection, load_all, run_checks
from curate.checks.registry import CHECKS, Check, derivation_order, needed_extractors
from curate.consent import read_manifest
from curate.decide import VERDICT_OF_RANK, FindingLog, FindingsByImage, split_findings
from curate.derive import Derivation
from curate.extract import BY_NAME, ExtractStats, extract_features, versions
from curate.extract import clip as clip_stage
from curate.extract.clip import ClipOptions
from curate.extract.decode import Limits
from curate.extract.sidecars import read_sidecars
from curate.kohya import TrainingConfig, find_training_config, load_training_config
from curate.model import Finding, Group, ImageRecord
from curate.rules import BaseModel, RulesError, Settings, load_settings, resolve_base_model, resolve_trainer
from curate.scan import Scan, scan_dataset
from curate.spool import Spool


@dataclass
class AuditOptions:
    root: Path
    base_model: str | None = None
    profile: str | None = None
    rules_file: Path | None = None
    kohya_config: Path | None = None
    caption_extension: str | None = None
    trainer: str | None = None  # rules/trainers.toml; None: its default
    training_config: Path | None = None  # train_network.py --config_file / kohya_ss settings; None: look beside
    jobs: int = 0
    engine: str = "local"  # "ray": per-image extraction on a Ray cluster (curate/extract/ray_engine.py)
    ray_address: str | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    clip: ClipOptions = field(default_factory=ClipOptions.from_env)
    require_clip: bool = False


def _training_config(opts: AuditOptions, root: Path) -> tuple[TrainingConfig | None, str | None]:
    """The training config given, or the one found beside the dataset (with a note saying so)."""
    if opts.training_config is not None:
        return load_training_config(Path(opts.training_config)), None
    return find_training_config(root)


def _dataset_config_of(training: TrainingConfig, root: Path) -> Path:
    """The dataset_config a training config names: as written (from where training starts), else beside the
    training config, else by its name in the dataset."""
    value = str(training.dataset_config)
    for candidate in (Path(value), training.path.parent / value, root / Path(value).name):
        if candidate.is_file():
            return candidate
    raise RulesError(f"{training.path}: dataset_config {value} is not on this machine; give it with --kohya-config")


@dataclass
class AuditResult:
    scan: Scan
    settings: Settings
    base_model: BaseModel
    records: list[ImageRecord]
    findings: FindingLog  # all of them, in check order (a sequence read back from a temporary file)
    per_image: FindingsByImage  # {image path: its findings} for the images that have any
    other_findings: list[Finding]  # about files that are not images
    groups: list[Group]
    verdicts: dict[str, str]
    stats: ExtractStats
    analyses: dict[str, dict] = field(default_factory=dict)
    context: Context | None = None
    base_model_given: bool = False  # --base-model was passed (else base_model is curate's default)

    def signals_for(self, rec: ImageRecord):
        """The image's rights signals (computed by the checks, or now)."""
        assert self.context is not None, "an AuditResult from run_audit carries its context"
        return self.context.signals(rec)

    def verdict_counts(self) -> Counter:
        return Counter(self.verdicts.values())


@contextmanager
def fewer_collections(every: int = 100_000) -> Iterator[None]:
    """Python's cyclic garbage collector run every `every` new objects instead of every 700, for an audit's
    duration. An audit builds millions of long-lived objects (records, features, findings) and few cycles;
    reference counting frees the rest. At the default rate each pass re-walks the survivors: a warm audit of
    100,000 pictures spent a third of its time there (docs/benchmarks.md)."""
    old = gc.get_threshold()
    gc.set_threshold(every, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


class ClipRequired(RulesError):
    """--require-clip and no CLIP model could be had (exit code 2)."""


def run_audit(
    opts: AuditOptions,
    on_scanned: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    on_phase: Callable[[str, int], None] | None = None,
) -> AuditResult:
    """Run the whole pipeline. Raises RulesError for problems the user must fix (exit code 2)."""
    root = Path(opts.root)
    if not root.exists():
        raise RulesError(f"no such folder: {root}")
    if not root.is_dir():
        raise RulesError(f"not a folder: {root} (give the dataset folder, e.g. ./lora_data)")
    settings = load_settings(opts.profile, opts.rules_file)
    load_all()
    selection = Selection(tuple(opts.select), tuple(opts.ignore))
    unknown = selection.unknown_tokens()
    if unknown:
        raise RulesError(f"--select/--ignore: no check matches {', '.join(unknown)} (see `curate rules`)")
    kohya_config = Path(opts.kohya_config) if opts.kohya_config else None
    if kohya_config is not None and not kohya_config.is_file():
        raise RulesError(f"--kohya-config: no such file: {kohya_config}")
    training, training_note = _training_config(opts, root)
    if kohya_config is None and training is not None and training.dataset_config:
        kohya_config = _dataset_config_of(training, root)
    base = resolve_base_model(opts.base_model or (training.base_model if training else None))

    trainer = resolve_trainer(opts.trainer)
    scan = scan_dataset(root, settings, base, kohya_config, opts.caption_extension, trainer, training)
    if training_note:
        scan.notes.insert(0, training_note)
    if on_scanned:
        on_scanned(len(scan.images))

    wanted = needed_extractors(selection, settings)
    missing = _missing_analysers(wanted)  # {extractor: why it cannot run here}
    needed = needed_extractors(selection, settings, frozenset(missing))
    analyses: dict[str, dict] = {}
    cache = FeatureCache((opts.cache_dir or default_cache_dir()) if opts.use_cache else None)
    said = cache.notice
    if said and on_notice:
        on_notice(said)
    clip_texts = None
    dataset_key = str(root.resolve())
    spool = Spool()  # the records' features are held there, not in memory
    try:
        stats = extract_features(
            scan.images,
            cache,
            Limits.from_settings(settings.section("decode")),
            jobs=opts.jobs,
            on_progress=on_progress,
            names=needed,
            engine=opts.engine,
            ray_address=opts.ray_address,
            spool=spool,
        )
        if "clip" in needed:
            status, clip_texts = _clip(scan.images, cache, opts, settings, on_progress, on_phase)
            if status["status"] == "skipped":
                missing["clip"] = status["reason"]
            else:
                analyses["clip"] = status
        memos = _read_memos(cache, dataset_key)
    finally:
        cache.close()
        if cache.notice and cache.notice != said and on_notice:  # a fault during the run: the cache was dropped
            on_notice(cache.notice[len(said) + 2 :] if said else cache.notice)
    if opts.require_clip and "clip" in missing:
        raise ClipRequired(f"--require-clip: {missing['clip']}")

    consent_manifest = None
    if "metadata" in needed:  # only the rights checks read sidecars and the consent manifest
        memo: dict[str, dict] = {}
        for rec in scan.images:  # sidecars are small and may change while the image does not: read fresh
            if rec.sidecars:
                rec.features["sidecars"] = read_sidecars(root, rec.sidecars, memo)
        consent_manifest = read_manifest(root / settings.cfg.consent.manifest_name)

    config_rel = None
    if scan.config_path:
        try:
            config_rel = Path(scan.config_path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            config_rel = scan.config_path
    ctx = Context(
        settings,
        base,
        selection=selection,
        dataset={
            "orphan_captions": scan.orphan_captions,
            "config_problem": scan.config_problem,
            "config_path": scan.config_path,
            "config_rel": config_rel,
            "consent_manifest": consent_manifest,
            "clip_texts": clip_texts,
            "image_paths": [r.path for r in scan.images],
            "skipped_folders": scan.skipped,
            "outside_folders": scan.outside,
        },
    )
    ctx.memos = memos
    runnable = [c for c in CHECKS if c.is_on(ctx.selection, ctx.settings) and not set(missing) & set(c.needs)]
    findings, groups = run_checks(scan.images, ctx, runnable)
    if opts.use_cache:
        _keep_memos(ctx, FeatureCache(opts.cache_dir or default_cache_dir()), dataset_key, on_notice)
    per_image, other = split_findings(scan.images, findings)
    verdicts = {r.path: VERDICT_OF_RANK[per_image.worst(r.path)] for r in scan.images}
    analyses = {**_analyses(ctx, runnable, needed, missing, scan.images), **analyses}  # the CLIP stage's own
    return AuditResult(
        scan,
        settings,
        base,
        scan.images,
        findings,
        per_image,
        other,
        groups,
        verdicts,
        stats,
        analyses,
        ctx,
        base_model_given=bool(opts.base_model),
    )


def _memo_name(d: Derivation) -> str:
    """A memo is stored under its derivation's name and the versions of the features it was made from."""
    return d.name + "".join(f" {name}/{version}" for name, version in versions(d.needs).items())


def _read_memos(cache: FeatureCache, dataset: str) -> dict[str, object]:
    """What the derivations kept from the last audit of this folder (curate/derive: Derivation.memo)."""
    out = {}
    for d in derivation_order(CHECKS):
        data = cache.get_memo(dataset, _memo_name(d)) if d.memo is not None else None
        memo = d.memo.from_bytes(data) if data is not None else None
        if memo is not None:
            out[d.name] = memo
    return out


def _keep_memos(ctx: Context, cache: FeatureCache, dataset: str, on_notice: Callable[[str], None] | None) -> None:
    """Store what this audit's derivations carry to the next audit of the folder."""
    said = cache.notice
    try:
        memos = ctx.new_memos()
        for d in derivation_order(CHECKS):
            if d.memo is not None and d.name in memos:
                cache.put_memo(dataset, _memo_name(d), memos[d.name].to_bytes())
    finally:
        cache.close()
    if cache.notice and cache.notice != said and on_notice:
        on_notice(cache.notice)


def _analyses(
    ctx: Context, runnable: list[Check], needed: tuple[str, ...], missing: dict[str, str], records: list[ImageRecord]
) -> dict[str, dict]:
    """What ran and what did not, from the check declarations: one entry per check module ('ok', or 'skipped'
    with the reason and its codes) and one per optional analysis (extractor) the checks needed."""
    out: dict[str, dict] = {}
    for name in sorted({c.name for c in CHECKS}):
        mine = [c for c in CHECKS if c.name == name]
        codes = [r.code for c in mine for r in c.emits]
        if any(c in runnable for c in mine):
            out[name] = {"status": "ok"}
        elif not any(c.is_on(ctx.selection, ctx.settings) for c in mine):
            out[name] = {
                "status": "skipped",
                "reason": "not selected, or its rules are off",
                "checks": codes,
                "by_choice": True,
            }
        else:
            lacking = sorted(set(missing) & {n for c in mine for n in c.needs})
            out[name] = {
                "status": "skipped",
                "reason": f"needs the {lacking[0]} analysis, which is skipped",
                "checks": codes,
                "cause": lacking[0],
            }
    for name in needed:
        if name == "image":
            continue
        failed = sum(1 for r in records if (r.light(name).get("error") or {}).get("kind") == "failed")
        out.setdefault(name, {"status": "ok"})
        if failed:
            out[name]["failed"] = failed
    if "marks" in out and out["marks"].get("status") == "ok":
        # the text marks stand without either mark detector; the report says once which did not run, and why
        for key, analysis in (("overlay", "mark_detector"), ("text_overlay", "text_mark_head")):
            errors = [err for r in records if (err := ((r.features.get("marks") or {}).get(key) or {}).get("error"))]
            if errors:
                out["marks"][analysis] = {"status": "skipped", "reason": errors[0], "images": len(errors)}
    for name, reason in missing.items():
        codes = [
            r.code
            for c in CHECKS
            if name in c.needs and c.is_on(ctx.selection, ctx.settings)
            for r in c.emits
            if ctx.wants(r)
        ]
        if codes:  # a missing analyser only some checks could use is not worth a line
            out[name] = {"status": "skipped", "reason": reason, "checks": codes}
    return out


def _missing_analysers(wanted: tuple[str, ...]) -> dict[str, str]:
    """Optional analysers the enabled checks want but this machine lacks: {name: one line saying why}.
    Their checks are skipped (said once in the report) instead of decoding every image for nothing."""
    missing = {}
    for name in wanted:
        why = clip_stage.installed() if name == "clip" else getattr(BY_NAME.get(name), "available", lambda: None)()
        if why:
            missing[name] = why
    return missing


def _clip(records, cache, opts: AuditOptions, settings: Settings, on_progress, on_phase):
    """The CLIP stage: image views, then the prompt banks. (status, {aspect: (labels, vectors, view)})."""
    todo = sum(1 for r in records if r.readable)
    if on_phase:
        on_phase("embedding (CLIP)", todo)
    loader = clip_stage.Loader(opts.clip)
    status = clip_stage.embed_images(
        records,
        cache,
        opts.clip,
        Limits.from_settings(settings.section("decode")),
        settings.cfg.identity.min_face_score,
        on_progress,
        loader,
    )
    if status["status"] != "ok":
        return status, None
    texts = {}
    for aspect, bank in settings.data.get("prompts", {}).items():
        labels = list(bank.get("labels", {}))
        vectors = clip_stage.embed_texts([bank["labels"][k] for k in labels], cache, opts.clip, loader)
        if vectors is None:
            return {"status": "skipped", "reason": loader.error or "the CLIP text encoder is unavailable"}, None
        texts[aspect] = (labels, vectors, bank.get("view", "full"))
    return status, texts

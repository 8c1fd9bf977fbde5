"""Consent: for a person LoRA, every real person pictured must have agreed, and the agreement must be on
record. curate reads `provenance.csv` at the dataset root (`curate consent init DIR` writes it).
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, image_check, rule
from curate.consent import cell
from curate.model import Finding, Group, ImageRecord, display_path

CNS001 = rule(
    "CNS001",
    "no-subject-consent",
    "consent",
    "error",
    """
    Under a profile that requires consent (`--profile person`, rules [consent] require_subject_consent),
    the image has no row in provenance.csv with `subject_consent = yes`. A talent agency's and the person's
    agreement is needed for a likeness LoRA (docs/field-knowledge.md: a published AI photo book was withdrawn because
    the agencies had not been asked).
""",
    settings="consent",
)
CNS002 = rule(
    "CNS002",
    "manifest-hash-mismatch",
    "consent",
    "warning",
    """
    provenance.csv has a row for this path, but its sha256 is not the file's: the file changed after
    consent was recorded. Check that the consent still covers this version, then update the hash.
""",
)
CNS003 = rule(
    "CNS003",
    "manifest-unreadable",
    "consent",
    "warning",
    """
    provenance.csv exists but cannot be read (not UTF-8, not CSV, no `path` column), or has rows for
    files that are not in the dataset.
""",
    scope="dataset",
)
CNS004 = rule(
    "CNS004",
    "no-consent-record",
    "consent",
    "error",
    """
    Under a profile that requires consent, the dataset has no readable provenance.csv: no image has recorded
    consent from the person pictured. Said once for the dataset (not on every image): run
    `curate consent init DIR`, then record each subject's consent in the file.

    FAIL: `--profile person` on a folder without provenance.csv.
    PASS: provenance.csv with a row per image (CNS001 then judges each row).
""",
    settings="consent",
    scope="dataset",
)


@image_check(emits=(CNS001, CNS002), needs=("metadata",), settings=("consent",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    manifest = ctx.dataset.get("consent_manifest")
    row = manifest.rows.get(display_path(rec.path)) if manifest else None
    if row and cell(row, "sha256") and rec.sha256 and cell(row, "sha256") != rec.sha256:
        yield ctx.finding(
            CNS002,
            f"provenance.csv records sha256 {row['sha256'][:12]}… but the file is now "
            f"{rec.sha256[:12]}…: it changed after consent was recorded",
            {"recorded": row["sha256"], "actual": rec.sha256},
        )
    if ctx.cfg.consent.require_subject_consent and manifest is not None and not manifest.problem:
        consent = cell(row, "subject_consent")
        if consent != "yes":
            if row is None:
                why = "no row for this image in provenance.csv"
            else:
                why = f"provenance.csv says subject_consent = '{consent or 'empty'}'"
            yield ctx.finding(
                CNS001,
                f"no recorded consent from the person pictured: {why}",
                {"subject_consent": consent or None, "subject": (row or {}).get("subject", "")},
            )


@dataset_check(emits=(CNS003, CNS004), needs=("metadata",), settings=("consent",))
def check_manifest(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    manifest = ctx.dataset.get("consent_manifest")
    name = ctx.cfg.consent.manifest_name
    if ctx.cfg.consent.require_subject_consent and (manifest is None or manifest.problem):
        state = "no" if manifest is None else "an unreadable"
        yield ctx.finding(
            CNS004,
            f"{state} {name}: none of the {len(records)} images has recorded consent from "
            f"the person pictured (the {ctx.settings.profile} profile requires it); run `curate "
            f"consent init` and record each subject's consent",
            {"images": len(records)},
            path=name,
        )
    if manifest is None:
        return
    if manifest.problem:
        yield ctx.finding(CNS003, manifest.problem, {}, path=name)
        return
    paths = {display_path(p) for p in ctx.dataset.get("image_paths") or (r.path for r in records)}
    stale = sorted(p for p in manifest.rows if p not in paths)
    if stale:
        yield ctx.finding(
            CNS003,
            f"{len(stale)} row(s) name files that are not in the dataset: "
            + ", ".join(stale[:5])
            + ("…" if len(stale) > 5 else ""),
            {"missing": stale},
            path=name,
        )

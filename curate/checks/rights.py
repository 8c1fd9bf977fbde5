"""Rights: the file names an author, a copyright holder, usage terms or a stock agency — a third party's
work that needs a licence or consent on record before it goes into a training set.

Read from EXIF (Artist, Copyright, XPAuthor), IPTC-IIM (By-line, CopyrightNotice, Credit, Source), XMP
(dc:creator, dc:rights, xmpRights:UsageTerms / WebStatement, photoshop:Credit, plus:Licensor,
plus:CopyrightOwner, plus:ImageCreator, GettyImagesGIFT:AssetID) and sidecars. A licence or consent
recorded in provenance.csv turns the warning into a note.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.consent import cell
from curate.model import Finding, ImageRecord, display_path

RGT001 = rule(
    "RGT001",
    "rights-holder",
    "rights",
    "warning",
    """
    The file names an author or copyright holder (or usage terms). Record the licence or the author's
    consent in provenance.csv (`curate consent init`), which turns this into a note.

    FAIL: EXIF Copyright "© Jane Doe"; dc:creator; IIM By-line. PASS: no rights metadata; or a licence /
    subject_consent = yes recorded for the image in provenance.csv.
""",
)
RGT002 = rule(
    "RGT002",
    "stock-agency",
    "rights",
    "warning",
    """
    A stock agency's fingerprint (Getty Images / iStock, Shutterstock, Adobe Stock, Alamy, Westend61, …
    rules/checks.toml [rights] stock_agencies): licensed for display, not for AI training, unless your
    licence says so. Recorded licences turn this into a note.
""",
    settings="rights",
)
RGT003 = rule(
    "RGT003",
    "provenance-recorded",
    "rights",
    "info",
    """
    Provenance metadata is present: a C2PA manifest (with its validation state: an Invalid manifest is
    never read as permission) or a remote manifest URL (recorded, never fetched).
""",
)
RGT004 = rule(
    "RGT004",
    "rights-metadata-unreadable",
    "rights",
    "warning",
    """
    Rights metadata could not be read: an XMP packet with a DTD (entity expansion, external entities) was
    refused unread, or XMP / C2PA / a sidecar is malformed. Any opt-out it holds is invisible to curate:
    check the file by hand.
""",
)


def _recorded(rec, ctx) -> dict[str, str] | None:
    manifest = ctx.dataset.get("consent_manifest")
    row = manifest.rows.get(display_path(rec.path)) if manifest else None
    if row and (cell(row, "licence") or cell(row, "subject_consent") == "yes"):
        return row
    return None


@image_check(emits=(RGT001, RGT002, RGT003, RGT004), needs=("metadata",), settings=("rights",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    sig = ctx.signals(rec)
    recorded = _recorded(rec, ctx)
    who = "; ".join((sig.authors or sig.copyright or sig.credit or sig.licensors)[:3])
    evidence = {
        "authors": sig.authors,
        "copyright": sig.copyright,
        "credit": sig.credit,
        "usage_terms": sig.usage_terms,
        "web_statement": sig.web_statement,
        "licensors": sig.licensors,
    }
    if recorded:
        evidence["recorded"] = {k: recorded.get(k, "") for k in ("licence", "subject_consent", "consent_ref")}
    if sig.agencies:
        agencies = ", ".join(sig.agencies)
        if recorded:
            yield ctx.finding(
                RGT003,
                f"stock agency {agencies}: licence recorded in provenance.csv "
                f"({recorded.get('licence') or 'consent ' + recorded.get('consent_ref', '')})",
                {**evidence, "agencies": sig.agencies},
            )
        else:
            yield ctx.finding(
                RGT002,
                f"stock photo from {agencies} ({who}): licensed for display, not for AI "
                "training, unless your licence says so",
                {**evidence, "agencies": sig.agencies},
            )
    elif sig.rights_holder:
        terms = f"; usage terms: {sig.usage_terms[0][:120]}" if sig.usage_terms else ""
        if recorded:
            yield ctx.finding(RGT003, f"rights holder {who}: licence/consent recorded in provenance.csv", evidence)
        else:
            yield ctx.finding(
                RGT001,
                f"a third party's work — rights holder {who}{terms}; record a licence or consent in provenance.csv",
                evidence,
            )
    prov = sig.provenance
    if prov.get("c2pa") == "manifest":
        state = prov.get("validation") or "unknown"
        yield ctx.finding(
            RGT003,
            f"C2PA manifest present (validation: {state}"
            f"{', by ' + prov['claim_generator'] if prov.get('claim_generator') else ''})",
            {"c2pa": prov},
        )
    for url in prov.get("remote_urls", []):
        yield ctx.finding(RGT003, f"remote C2PA manifest at {url} (recorded, not fetched)", {"remote_manifest": url})
    if sig.problems:
        yield ctx.finding(RGT004, f"rights metadata could not be read: {sig.problems[0]}", {"problems": sig.problems})

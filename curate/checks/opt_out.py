"""Opt-out: the author said no to AI training, in the file, in its C2PA manifest, or on the page it came from.

curate respects these signals and makes them visible: an opted-out image is dropped, whatever else is
true of it. Read from XMP (`plus:DataMining`, TDMRep `tdm:reservation`), the active C2PA manifest's
`cawg.training-mining` / `c2pa.training-mining` assertion, saved pages and headers (`noai`,
`noimageai`, `tdm-reservation`) and keywords. Vocabularies: docs/rights-signals.md §1–4.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, Rule, image_check, rule
from curate.model import Finding, ImageRecord

OPT001 = rule(
    "OPT001",
    "data-mining-prohibited",
    "opt-out",
    "error",
    """
    IPTC/PLUS `plus:DataMining` prohibits AI/ML training (any DMI-PROHIBITED* value, in any syntax:
    element text, attribute, rdf:resource, bare token; in the file or a .xmp sidecar).

    FAIL: DMI-PROHIBITED-GENAIMLTRAINING, DMI-PROHIBITED-AIMLTRAINING, DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING,
    DMI-PROHIBITED-SEECONSTRAINT (the constraint text is shown).
    PASS: DMI-ALLOWED (see OPT006), DMI-UNSPECIFIED, no property.
""",
)
OPT002 = rule(
    "OPT002",
    "c2pa-training-not-allowed",
    "opt-out",
    "error",
    """
    The active C2PA manifest's training-and-mining assertion (`cawg.training-mining`, or the older
    `c2pa.training-mining`) says `notAllowed` or `constrained` for data mining, AI training or generative
    AI training. Ingredient manifests are not consulted (they describe other files).

    PASS: `allowed` (see OPT006); only `ai_inference` restricted.
""",
)
OPT003 = rule(
    "OPT003",
    "tdm-rights-reserved",
    "opt-out",
    "error",
    """
    W3C TDMRep: text-and-data-mining rights reserved (`tdm-reservation = 1`) in the image's XMP, a .xmp
    sidecar, a saved page's meta tag or saved headers — the EU DSM art. 4 opt-out.
""",
)
OPT004 = rule(
    "OPT004",
    "noai-declared",
    "opt-out",
    "error",
    """
    The page the image was saved from declares `noai` / `noimageai` (meta robots, or an X-Robots-Tag
    header in a saved-headers sidecar). DeviantArt does this for every work by default; ArtStation for
    works tagged NoAI.
""",
)
OPT005 = rule(
    "OPT005",
    "noai-keyword",
    "opt-out",
    "warning",
    """
    A keyword or tag says the work is not for AI (`noai`, `NoAI`, `AI学習禁止`, …) in XMP dc:subject,
    IPTC keywords or gallery-dl tags. A keyword is a weaker signal than a declared page or header: check
    the source.
""",
    settings="rights",
)
OPT006 = rule(
    "OPT006",
    "training-permitted",
    "opt-out",
    "info",
    """
    The file explicitly permits training (`plus:DataMining` DMI-ALLOWED, or C2PA `allowed`). Recorded as
    evidence for your provenance report.
""",
)


def _evidence(signals) -> dict:
    return {"signals": [s.as_dict() for s in signals]}


@image_check(emits=(OPT001, OPT002, OPT003, OPT004, OPT005, OPT006), needs=("metadata",), settings=("rights",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    sig = ctx.signals(rec)
    by_kind = {"plus:DataMining": OPT001, "tdm-reservation": OPT003, "noai": OPT004}
    groups: dict[Rule, list] = {}
    for s in sig.opt_outs:
        code = by_kind.get(s.kind, OPT002)
        groups.setdefault(code, []).append(s)
    for code, signals in sorted(groups.items(), key=lambda item: item[0].code):
        first = signals[0]
        extra = f" — constraint: {first.detail}" if first.detail else ""
        if code is OPT001:
            msg = f"the author prohibits AI training: plus:DataMining {first.value} ({first.where}){extra}"
        elif code is OPT002:
            msg = f"C2PA training-mining assertion: {', '.join(s.value for s in signals)} ({first.where}){extra}"
        elif code is OPT003:
            msg = f"TDM rights reserved (tdm-reservation = 1, {first.where})" + (
                f"; policy {first.detail}" if first.detail else ""
            )
        else:
            msg = f"the source page opts out of AI: {first.value} ({first.where})"
        yield ctx.finding(code, msg + "; drop it, or get the author's consent on record", _evidence(signals))
    if sig.weak_opt_outs and not sig.opt_outs:
        tags = ", ".join(f"'{s.value}'" for s in sig.weak_opt_outs[:5])
        yield ctx.finding(
            OPT005,
            f"tagged as not for AI: {tags} ({sig.weak_opt_outs[0].where}); check the source page's terms",
            _evidence(sig.weak_opt_outs),
        )
    if sig.permissions and not sig.opt_outs:
        yield ctx.finding(
            OPT006,
            "the file permits AI training: " + ", ".join(f"{s.kind} {s.value}" for s in sig.permissions),
            _evidence(sig.permissions),
        )

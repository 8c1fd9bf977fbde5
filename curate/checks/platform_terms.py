"""Platform terms: the image came from a site whose terms forbid (or whose artists opt out of) AI training.

The platform is recognised from a gallery-dl `<file>.json` sidecar (`category`), a URL in a sidecar or
saved page, or — weakly — the file-name pattern the site or gallery-dl uses. The platforms, their terms'
dates, one-line summaries and references are data: rules/platforms.toml.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.model import Finding, ImageRecord

PLT001 = rule(
    "PLT001",
    "platform-forbids-training",
    "platform-terms",
    "warning",
    """
    A sidecar or saved page shows the image came from a platform whose terms restrict AI training on
    posted works (pixiv, pixivFANBOX, Xfolio, X, Skeb prohibit it; DeviantArt and ArtStation carry noai
    opt-outs; Danbooru holds reposts of other artists' work). Error under --profile style and character.
""",
)
PLT002 = rule(
    "PLT002",
    "platform-filename-hint",
    "platform-terms",
    "info",
    """
    Only the file name suggests the platform (e.g. pixiv's `12345678_p0.png`, gallery-dl's
    `deviantart_…`, a tweet id `1790000000000000000_1.jpg`): a hint, not proof. Keep the gallery-dl
    `--write-metadata` sidecar to make the source certain. Warning under --profile style and character.
""",
)


@image_check(emits=(PLT001, PLT002), needs=("metadata",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    for p in ctx.signals(rec).platforms:
        code = PLT001 if p["declared"] else PLT002
        when = f" ({p['terms_date']})" if p.get("terms_date") else ""
        evidence = {k: p.get(k, "") for k in ("key", "name", "how", "ai_training", "terms_date", "reference")}
        yield ctx.finding(
            code, f"from {p.get('name') or p['key']}{when}: {p.get('summary', '')} [{p['how']}]", evidence
        )
        return

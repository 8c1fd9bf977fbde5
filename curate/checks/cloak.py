"""Cloaks: an adversarial cloak (Glaze, Nightshade) is the artist saying no.

The Glaze and Nightshade apps name their outputs `<stem>-glazed-intensity{N}-render{M}[-V1].<ext>`
(`INCOMPLETE-` prefix when a run failed) and `<stem>-nightshade-intensity-{LOW|DEFAULT|HIGH}[-target]-V1.<ext>`,
and downloads keep those names (docs/rights-signals.md §6). curate reports the cloak and never offers to
remove it. (Pixel-level detection is research-grade; it is not attempted here.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.model import Finding, ImageRecord

CLK001 = rule(
    "CLK001",
    "cloak-declared",
    "cloak",
    "error",
    """
    The file name says the image was cloaked with Glaze or Nightshade: the artist objects to AI training.
    Drop it. Never try to strip the cloak (a bilateral filter can; doing so overrides the artist's no).

    FAIL: `sketch-glazed-intensity2-render1-V1.png`, `art-nightshade-intensity-DEFAULT-V1.jpg`.
""",
)

GLAZE = re.compile(r"-glazed-intensity(\d+)(?:-render(\d+))?(?:-v\d+)?$", re.IGNORECASE)
NIGHTSHADE = re.compile(r"-nightshade-intensity-(low|default|high)(?:-[^/]*?)?(?:-v\d+)?$", re.IGNORECASE)


@image_check(emits=(CLK001,))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    stem = rec.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    m = GLAZE.search(stem)
    if m:
        yield ctx.finding(
            CLK001,
            f"cloaked with Glaze (intensity {m.group(1)}, named by the Glaze app): the artist "
            "objects to AI training; drop it",
            {"tool": "Glaze", "intensity": m.group(1), "incomplete": stem.upper().startswith("INCOMPLETE-")},
        )
        return
    m = NIGHTSHADE.search(stem)
    if m:
        yield ctx.finding(
            CLK001,
            f"cloaked with Nightshade (intensity {m.group(1).upper()}): the artist objects to AI training; drop it",
            {"tool": "Nightshade", "intensity": m.group(1).upper()},
        )

"""Interpret the `marks` extractor's text regions once: watermark, signature, or text in the scene.

A region is read as
  * a **watermark** when what it says marks ownership or a preview (©/(c), @handle, a URL or domain,
    a stock agency, "sample"/"preview", a credit line such as "photo by" — word lists in rules/marks.toml),
    or when the same text is repeated over the picture (tiled), or when it is set diagonally across the
    middle of the picture;
  * a **signature** when it is short, name-like (letters, at most three words, not an all-capitals sign)
    and sits near a corner of the picture;
  * **text** otherwise (signs, labels, interface text, speech bubbles) — text is learned too.
Where the **mark detector** ran (curate/extract/overlay.py: a small network trained to see marks laid over a
picture, and to leave signs and labels alone), it has the last word on what only looks like a mark: a region
whose only reasons are weak (a stock-agency-like word, a credit-like phrase, a year beside a name, a large name)
is a watermark only where the detector sees an overlay under it (its map ≥ [marks] overlay_min_region), and
name-like text near a corner is a signature only there; otherwise it is scene text. What marks ownership outright
(©, an @handle, a web address, "sample"/"preview") or an overlay by its layout (tiled, diagonal across the
middle) stays a watermark. And a
mark the detector sees with no readable text (a logo, a faint mark) is a watermark on its own when the picture's
probability reaches [marks] overlay_min_probability. A second detector, a head over the text detector's own
features (curate/extract/text_marks.py: it sees text-like marks — tiled, diagonal, scattered — that the first
misses), does both the same way with its own thresholds ([marks] text_overlay_min_probability and
text_overlay_min_region): either detector suffices. Where its map under the text stays below [marks]
text_overlay_scene_below, the text is not laid over the picture whatever the first detector says.
Weak readings (low recogniser confidence; one character, or two outside a mark) are ignored. Checks in
curate/checks/watermark.py, signature.py and text.py turn these into findings; thresholds are in
rules/checks.toml [marks] and were set with bench/eval_marks.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from curate.thresholds import Marks as MarksSettings

# Reasons that mark ownership or a preview outright, or an overlay by its layout (the same text tiled over the
# picture, a line set diagonally across the middle): a watermark whatever the detector says. (Prefixes.)
STRONG_REASONS = ("copyright sign", "@handle", "web address", "preview word", "repeated ", "set diagonally")

URL = re.compile(
    r"(https?://|www\.|\b[\w-]{2,}\.(com|net|org|jp|art|io|co|me|info|studio|photo|photos|gallery|"
    r"tv|xyz|app|page|site|blog|shop|design|ink|pics?|cc|de|fr|uk|kr|cn)\b)",
    re.IGNORECASE,
)
HANDLE = re.compile(r"(^|\s)@[\w.]{2,}")
# "(c)" as the recogniser reads it: "(c)", "(C)", or "(c" run into the next character ("(cY2024 T. Nakamura").
COPYRIGHT = re.compile(r"©|ⓒ|\(c\)|^\W*\(c(?=\W|\d|Y\d)|\bcopr\b", re.IGNORECASE)
# A year beside a name ("2024 T. Nakamura"); the year may be run into a misread "©" ("Y2024").
YEAR_NAME = re.compile(r"(?<!\d)(19|20)\d\d(?!\d).*[A-Za-z]{2,}|[A-Za-z]{2,}.*(?<!\d)(19|20)\d\d(?!\d)")


@dataclass
class TextMark:
    kind: str  # "watermark", "signature" or "text"
    text: str
    box: list[float]  # x0, y0, x1, y1 relative to the image
    score: float
    placement: str  # "corner", "edge", "centre"
    reasons: list[str] = field(default_factory=list)
    angle: float = 0.0
    repeated: int = 1
    # "text": read by the text detector; "detector" or "text features": seen by one of the mark detectors only
    source: str = "text"
    overlay: float | None = None  # the mark detector's probability under the region (None: it did not run)

    def evidence(self) -> dict[str, Any]:
        out = {
            "source": self.source,
            "text": self.text,
            "box": self.box,
            "confidence": self.score,
            "placement": self.placement,
            "reasons": self.reasons,
            "angle": self.angle,
            "repeated": self.repeated,
        }
        if self.overlay is not None:
            out["overlay_probability"] = self.overlay
        return out


def placement(box: list[float], corner: float, edge: float) -> str:
    x0, y0, x1, y1 = box
    near_x = x0 <= corner or x1 >= 1 - corner
    near_y = y0 <= corner or y1 >= 1 - corner
    if near_x and near_y and (x1 - x0) < 0.6:
        return "corner"
    if y0 <= edge or y1 >= 1 - edge or x0 <= edge or x1 >= 1 - edge:
        return "edge"
    return "centre"


def letters_and_digits(text: str) -> str:
    """The text in lower case with everything but letters and digits taken out: how readings are compared."""
    return re.sub(r"[\W_]+", "", text.lower())


def content_reasons(text: str, words: dict[str, list[str]]) -> list[str]:
    low = text.lower()
    reasons = []
    if COPYRIGHT.search(text):
        reasons.append("copyright sign")
    if HANDLE.search(text):
        reasons.append("@handle")
    if URL.search(text):
        reasons.append("web address")
    tokens = [t for t in re.split(r"[\s.,:;!|/]+", low) if len(t) >= 5]  # long words only
    for group, label in (("stock", "stock agency"), ("preview", "preview word"), ("credit", "credit line")):
        listed = [w.lower() for w in words.get(group, ())]
        # Exact phrase, or a long word the recogniser got nearly right ("WATERN" for a split "WATERMARK").
        if any(w in low for w in listed) or any(
            SequenceMatcher(None, t, w).ratio() >= 0.8 or (w.startswith(t[:-1]) and len(w) >= 7)
            for t in tokens
            for w in listed
            if " " not in w and len(w) >= 5
        ):
            reasons.append(label)
    if not reasons and YEAR_NAME.search(text) and len(text) <= 40:
        reasons.append("year and name")
    return reasons


def name_like(text: str, max_words: int, max_chars: int) -> bool:
    t = text.strip()
    letters = [c for c in t if c.isalpha()]
    if len(letters) < 3 or len(t) > max_chars or len(t.split()) > max_words:
        return False
    if sum(c.isdigit() for c in t) > 2:
        return False
    latin = [c for c in letters if c.isascii()]
    if latin and len(latin) >= 4 and all(c.isupper() for c in latin):
        return False  # "EXIT", "MAIN ST": signs are set in capitals, signatures are not
    return True


def overlay_map(features: dict[str, Any] | None, key: str = "overlay") -> np.ndarray | None:
    """A mark detector's stored map (probabilities, rows top to bottom), or None where it did not run: `key`
    "overlay" for the mark detector, "text_overlay" for the head over the text detector's features."""
    stored = ((features or {}).get(key) or {}).get("map")
    if not stored:
        return None
    from curate.extract.overlay import decode_map

    return decode_map(stored)


def _cells(grid: np.ndarray, box: list[float], margin: float = 0.02) -> np.ndarray:
    """The map's cells under a relative box (widened by `margin`: the map is coarse), as a view."""
    n = grid.shape[0]
    x0, y0 = int(max(0.0, box[0] - margin) * n), int(max(0.0, box[1] - margin) * n)
    x1, y1 = int(np.ceil(min(1.0, box[2] + margin) * n)), int(np.ceil(min(1.0, box[3] + margin) * n))
    return grid[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]


def overlay_under(grid: np.ndarray, box: list[float]) -> float:
    """The detector's strongest cell under a relative box."""
    cells = _cells(grid, box)
    return round(float(cells.max()), 2) if cells.size else 0.0


def components(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected groups of True cells of a small boolean grid, each as a mask of its own."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        part = np.zeros_like(mask, dtype=bool)
        stack = [(y, x)]
        seen[y, x] = part[y, x] = True
        while stack:
            cy, cx = stack.pop()
            for ny in range(max(0, cy - 1), min(mask.shape[0], cy + 2)):
                for nx in range(max(0, cx - 1), min(mask.shape[1], cx + 2)):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = part[ny, nx] = True
                        stack.append((ny, nx))
        out.append(part)
    return out


def _pieces(hot: np.ndarray) -> int:
    """How many separate groups of hot cells (8-connected) the map has: several = a mark repeated over the
    picture."""
    return len(components(hot))


def hot_box(grid: np.ndarray, threshold: float) -> list[float]:
    """Relative box around the cells at or above `threshold`."""
    ys, xs = np.nonzero(grid >= threshold)
    n = grid.shape[0]
    return [round(xs.min() / n, 4), round(ys.min() / n, 4), round((xs.max() + 1) / n, 4), round((ys.max() + 1) / n, 4)]


def classify(
    features: dict[str, Any] | None,
    conf: MarksSettings,
    words: dict[str, list[str]],
    caption: str | None = None,
) -> list[TextMark]:
    """TextMarks for one image's `marks` features, under rules/checks.toml [marks] and rules/marks.toml words.
    Text the caption already quotes ("a sign that says Car Parks") belongs to the scene unless it marks ownership
    outright."""
    grid, head = overlay_map(features), overlay_map(features, "text_overlay")
    marks, quoted_boxes = _classify_text(features, conf, words, grid, letters_and_digits(caption or ""), head)
    seen = []  # (detector's name, evidence source, its map, the picture's probability, its threshold)
    for key, m, threshold, name, source in (
        ("overlay", grid, conf.overlay_min_probability, "the mark detector", "detector"),
        ("text_overlay", head, conf.text_overlay_min_probability, "the text detector's features", "text features"),
    ):
        if m is None:
            continue
        probability = float(((features or {}).get(key) or {}).get("probability", m.max()))
        if quoted_boxes:  # what the caption quotes is the scene's, even where a detector is hot
            m = m.copy()
            for box in quoted_boxes:
                _cells(m, box)[...] = 0
            probability = min(probability, float(m.max()))
        seen.append((name, source, m, probability, threshold))
    if any(m.kind in ("watermark", "signature") for m in marks):
        return marks
    for name, source, m, probability, threshold in seen:
        if probability >= threshold:
            level = min(threshold, float(m.max()))  # the stored map is rounded to hundredths
            box = hot_box(m, level)
            reason = f"{name} sees a mark laid over the picture (probability {probability:.2f})"
            marks.append(
                TextMark(
                    "watermark",
                    "",
                    box,
                    round(probability, 3),
                    placement(box, conf.corner_zone, conf.edge_zone),
                    [reason],
                    repeated=_pieces(m >= level),
                    source=source,
                    overlay=round(probability, 2),
                )  # fmt: skip
            )
            break
    return marks


def _classify_text(
    features: dict[str, Any] | None,
    conf: MarksSettings,
    words: dict[str, list[str]],
    grid: np.ndarray | None,
    caption: str = "",
    head: np.ndarray | None = None,
) -> tuple[list[TextMark], list[list[float]]]:
    """TextMarks from the text regions, and the boxes of the texts the caption quotes."""
    regions = [
        (r, letters_and_digits(r.get("text", "")))
        for r in (features or {}).get("texts") or ()
        if r.get("score", 0) >= conf.min_confidence
    ]
    regions = [(r, norm) for r, norm in regions if len(norm) >= 2]
    if not regions:
        return [], []
    corner, edge = conf.corner_zone, conf.edge_zone
    # Repetition: the same reading (fuzzy, OCR varies) at several places is a tiled mark.
    norms = [norm for _, norm in regions]
    repeated = [
        sum(1 for b in norms if SequenceMatcher(None, a, b).ratio() >= 0.75) if len(a) >= 3 else 0 for a in norms
    ]
    out = []
    quoted_boxes = []
    for (r, norm), rep in zip(regions, repeated):
        box = r["box"]
        where = placement(box, corner, edge)
        reasons = content_reasons(r["text"], words)
        angle = float(r.get("angle", 0.0))
        if rep >= conf.min_repeats:
            reasons.append(f"repeated {rep}× over the picture")
        if where == "centre" and conf.min_diagonal_angle <= abs(angle) <= 90 - conf.min_diagonal_angle:
            reasons.append(f"set diagonally ({angle:.0f}°) across the middle")
        is_name = name_like(r["text"], conf.signature_max_words, conf.signature_max_chars)
        if not reasons and is_name and where == "centre" and r.get("height", 0) >= conf.min_overlay_name_height:
            reasons.append("a name in large letters across the picture")
        overlay = overlay_under(grid, box) if grid is not None else None
        seen = overlay_under(head, box) if head is not None else None
        # laid over the picture: where a detector ran, one of them sees an overlay under the text
        laid_over = (overlay is None and seen is None) or (
            (overlay or 0.0) >= conf.overlay_min_region or (seen or 0.0) >= conf.text_overlay_min_region
        )
        if seen is not None and seen < conf.text_overlay_scene_below:
            laid_over = False  # the detector over the text's own features sees scene text there: it speaks last
        strong = any(r.startswith(STRONG_REASONS) for r in reasons)
        in_caption = len(norm) >= 4 and norm in caption  # the caption describes it: part of the scene
        if in_caption:
            quoted_boxes.append(box)
        if reasons and not strong and (not laid_over or in_caption):
            reasons = []  # only weak reasons, and the detector sees no overlay there: text in the scene
        if reasons:
            kind = "watermark"
            if overlay is not None and overlay >= conf.overlay_min_region:
                reasons.append(f"laid over the picture (mark detector {overlay:.2f})")
            elif seen is not None and laid_over:
                reasons.append(f"laid over the picture (text detector's features {seen:.2f})")
        elif is_name and where in ("corner", "edge") and laid_over and not in_caption:
            kind = "signature"
            reasons.append(f"name-like text near {'a corner' if where == 'corner' else 'the edge'}")
        elif len(norm) >= 3:
            kind = "text"  # two characters alone ("X1") are mostly misreadings of texture
        else:
            continue
        out.append(TextMark(kind, r["text"], box, float(r["score"]), where, reasons, angle, rep, overlay=overlay))
    return out, quoted_boxes


def where(box: list[float]) -> str:
    """'bottom-right', 'top', 'middle'… for a relative box, for messages."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    v = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    h = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    return "-".join(p for p in (v, h) if p) or "middle"


def quoted(marks: list[TextMark], limit: int = 3) -> str:
    """The marks' texts in quotes, or "(a logo or mark with no readable text)" when none has any."""
    seen: list[str] = []
    if not any(m.text for m in marks):
        return "(a logo or mark with no readable text)"
    for m in marks:
        if m.text and m.text not in seen:
            seen.append(m.text)
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return ", ".join(f"“{t}”" for t in seen[:limit]) + more

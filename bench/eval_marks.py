"""Evaluate the marks checks (WMK001 watermark, SIG001 signature, TXT001 text) on labelled cases.

Cases (bench/marks_cases.py): text watermarks in 7 fonts at opacity 0.25/0.3/0.5/0.8 in corners and edges,
across the middle (level or diagonal) and tiled; scattered and corner logos without text; signatures in
handwriting fonts; negatives: clean photos, flat-colour art, photos with scene text (2 real, the rest
signs drawn on objects). Runs the real extractor and classifier with the default rules.

    pip install -e '.[bench]'; apt install fonts-dancingscript fonts-kaushanscript fonts-kristi \
        fonts-dkg-handwriting fonts-breip fonts-humor-sans fonts-klee fonts-liberation
    python bench/eval_marks.py [--jobs 2] [--side 640]

Prints recall per mark type and opacity (flagged as a watermark or signature = "marked"), false positives
per negative type — under the default rules and again without the second mark detector — and the time of the whole marks pass per 1024-px image on one core.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from marks_cases import HAND_FONTS, available, backgrounds, build_cases  # noqa: E402

from curate.derive.marks import classify  # noqa: E402
from curate.extract import marks as marks_extractor  # noqa: E402
from curate.extract.decode import Decoded  # noqa: E402
from curate.rules import load_settings  # noqa: E402

_cases = []


def _run(i):
    c = _cases[i]
    return c.name, c.kind, c.opacity, marks_extractor.compute(Decoded(b"", c.image))


def report(results, conf, words) -> None:
    """Recall per mark type and opacity, false marks per negative type, and the misses, under `conf`."""
    table = collections.defaultdict(collections.Counter)
    misses = collections.defaultdict(list)
    for name, kind, opacity, feats in results:
        found = {m.kind for m in classify(feats, conf, words)}
        row = table[(kind, opacity)]
        row["n"] += 1
        row["watermark"] += "watermark" in found
        row["signature"] += "signature" in found
        row["text"] += "text" in found
        row["marked"] += bool(found & {"watermark", "signature"})
        if kind.startswith("neg_") and found & {"watermark", "signature"}:
            misses[kind].append(name)
        if not kind.startswith("neg_") and not found & {"watermark", "signature"} and (opacity or 1) >= 0.3:
            misses["missed " + kind].append(name)

    print("\n| mark type | opacity | n | marked (WMK or SIG) | as watermark | as signature | text found |")
    print("|---|---|---|---|---|---|---|")
    for (kind, op), r in sorted((k, v) for k, v in table.items() if not k[0].startswith("neg_")):
        n = r["n"]
        print(
            f"| {kind} | {op if op is not None else '0.75–1'} | {n} | {r['marked'] / n:.2f} | "
            f"{r['watermark'] / n:.2f} | {r['signature'] / n:.2f} | {r['text'] / n:.2f} |"
        )
    print("\n| negatives | n | watermark FP | signature FP | text (TXT001) |")
    print("|---|---|---|---|---|")
    for (kind, _), r in sorted((k, v) for k, v in table.items() if k[0].startswith("neg_")):
        n = r["n"]
        print(f"| {kind[4:]} | {n} | {r['watermark'] / n:.3f} | {r['signature'] / n:.3f} | {r['text'] / n:.2f} |")
    for kind, names in sorted(misses.items()):
        print(f"{kind if kind.startswith('missed') else 'false marks on ' + kind}: {', '.join(names)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--side",
        type=int,
        default=marks_extractor.MAX_SIDE,
        help="text detection size, long side (default: the extractor's)",
    )
    args = ap.parse_args()
    marks_extractor.MAX_SIDE = args.side  # set before the pool forks, so workers see it
    reason = marks_extractor.available()
    if reason:
        raise SystemExit(reason)
    fonts = available(HAND_FONTS)
    if len(fonts) < 3:
        raise SystemExit("need at least 3 handwriting fonts for signatures: see this script's docstring")
    print(f"handwriting fonts: {', '.join(Path(f).stem for f in fonts)}")
    _cases.extend(build_cases(fonts))
    print(
        f"{len(_cases)} cases; engine {marks_extractor.engine_version()}, detection at {marks_extractor.MAX_SIDE} px",
        flush=True,
    )
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as ex:
        results = list(ex.map(_run, range(len(_cases)), chunksize=4))
    print(f"extracted in {time.perf_counter() - t0:.0f} s with {args.jobs} processes")

    settings = load_settings()
    words = settings.data["mark_words"]
    shipped = settings.cfg.marks
    # The rules as shipped, and the same without the second mark detector (issue 18: what it adds on these cases)
    without = dataclasses.replace(
        shipped, text_overlay_min_probability=1.01, text_overlay_min_region=1.01, text_overlay_scene_below=0.0
    )
    for title, conf in (("default rules", shipped), ("without the second mark detector", without)):
        print(f"\n## {title}")
        report(results, conf, words)

    speed()


def speed() -> None:
    """The whole marks pass per 1024-px image on one core, the engine loaded: as shipped, and without the second
    mark detector (the engine's own detector session, no neck read), the two alternating in this process; then
    the second detector's own parts (pooling the neck to the grid, the head)."""
    from curate.extract import text_marks

    eng = marks_extractor.engine()
    det = eng._load_det_model()
    plain = det.session
    capturing = marks_extractor.neck()
    pictures = [Decoded(b"", im) for _, im in backgrounds()[:16]]
    times: dict[str, list[float]] = {"with": [], "without": []}
    for d in pictures:
        for setup in ("without", "with", "without", "with"):
            det.session, marks_extractor._neck = (capturing, capturing) if setup == "with" else (plain, "off")
            marks_extractor.compute(d)
            t = time.perf_counter()
            marks_extractor.compute(d)
            times[setup].append(time.perf_counter() - t)
    det.session, marks_extractor._neck = capturing, capturing
    for setup, ts in times.items():
        print(
            f"\nmarks pass per 1024-px image, one core, {setup} the second mark detector: median "
            f"{1000 * np.median(ts):.0f} ms, p90 {1000 * np.percentile(ts, 90):.0f} ms ({len(pictures)} photos)"
        )
    if isinstance(capturing, text_marks.CapturingDetector):
        pooling, head = [], []
        for d in pictures:
            marks_extractor.read_text(marks_extractor.analysed_copy(d.image), {})
            assert capturing.last is not None
            t = time.perf_counter()
            grid = text_marks.feature_grid(capturing.last)
            pooling.append(time.perf_counter() - t)
            t = time.perf_counter()
            text_marks.compute(grid)
            head.append(time.perf_counter() - t)
        print(f"of which pooling the neck {1000 * np.median(pooling):.1f} ms, the head {1000 * np.median(head):.1f} ms")


if __name__ == "__main__":
    main()

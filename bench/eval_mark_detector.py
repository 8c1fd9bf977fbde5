"""Measure the mark detector and the marks checks with it, on pictures drawn from ingredients the training never saw.

    python bench/train_marks.py          # first (its data and predictions are cached)
    python bench/eval_mark_detector.py [--per-kind 60] [--jobs 2]

1. **The detector alone**, on the 384-px inputs that bench/train_marks.py drew and predicted: the picture-level
   threshold ([marks] overlay_min_probability) is chosen on the *tuning* draw — the lowest threshold that keeps
   false positives ≤ 1 % on each negative kind (clean photos, art, textures, product shots, scene text, product
   print) — and recall / false positives are reported on the *validation* draw, per kind and opacity band.
2. **The checks end to end**: full-size pictures re-drawn from the same seeds (bench/mark_data.py keeps the
   picture when asked), through the real marks extractor (text detector + mark detector) and the classifier with
   the default rules; the region threshold ([marks] overlay_min_region) is chosen on tuning pictures (the value
   with the best recall minus false positives), figures on validation pictures: WMK001 / SIG001 / TXT001 per kind.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mark_assets  # noqa: E402
import mark_data  # noqa: E402
import train_marks  # noqa: E402

from curate.derive.marks import classify  # noqa: E402
from curate.extract import marks as marks_extractor  # noqa: E402
from curate.extract.decode import Decoded  # noqa: E402
from curate.rules import load_settings  # noqa: E402

CLEAN = ("clean_photo", "clean_art", "texture", "product")
TEXTY = ("scene_text", "product_text")
BANDS = ((0.15, 0.3), (0.3, 0.5), (0.5, 1.01))


def band(op: float) -> str:
    for lo, hi in BANDS:
        if lo <= op < hi:
            return f"{lo:.2f}–{min(hi, 1):.2f}"
    return "-"


def choose_threshold(score: np.ndarray, kinds: np.ndarray) -> float:
    """The lowest picture-level threshold keeping false positives ≤ 1 % on every negative kind of the given draw —
    half the targets (≤ 2 % clean, ≤ 5 % scene text): the tuning photographs are few (38 sources), and the
    threshold meeting the targets exactly there (0.86) gave 8.5 % on validation photos."""
    for t in np.round(np.arange(0.3, 0.99, 0.01), 2):
        if max(float((score[kinds == k] >= t).mean()) for k in CLEAN + TEXTY) <= 0.01:
            return float(t)
    return 0.99


def detector_table(threshold: float) -> None:
    work = train_marks.work_dir()
    tune, valid = train_marks.evaluation_draws(1)
    p_tune, p_valid = np.load(work / "pred-tune.npy"), np.load(work / "pred-valid.npy")
    s_tune = p_tune.reshape(len(p_tune), -1).max(axis=1)
    s_valid = p_valid.reshape(len(p_valid), -1).max(axis=1)
    chosen = choose_threshold(s_tune, tune["kind"])
    print(f"picture-level threshold chosen on the tuning draw: {chosen:.2f} (rules/checks.toml has {threshold:.2f})")
    print("\n| kind | opacity | tuning n | tuning rate | validation n | validation rate |")
    print("|---|---|---|---|---|---|")
    for kind in mark_data.POSITIVE + mark_data.NEGATIVE:
        rows = [(None, None)] if kind in mark_data.NEGATIVE else [(lo, hi) for lo, hi in BANDS]
        for lo, hi in rows:
            cells = []
            for ds, s in ((tune, s_tune), (valid, s_valid)):
                sel = ds["kind"] == kind
                if lo is not None:
                    sel &= (ds["opacity"] >= lo) & (ds["opacity"] < hi)
                n = int(sel.sum())
                cells += [str(n), f"{(s[sel] >= threshold).mean():.2f}" if n else "-"]
            op = "—" if lo is None else band((lo + hi) / 2 if hi < 1.01 else 0.75)
            print(f"| {kind} | {op} | {' | '.join(cells)} |")


_jobs: list[tuple[str, int, str]] = []


def _extract(i: int):
    split, seed, kind = _jobs[i]
    s = mark_data.sample(split, seed, kind, keep_picture=True)
    assert s.picture is not None
    return split, kind, s.opacity, marks_extractor.compute(Decoded(b"", s.picture))


def end_to_end(per_kind: int, jobs: int, head_grid: bool = False) -> None:
    kinds = list(mark_data.POSITIVE) + list(mark_data.NEGATIVE)
    for split, base in (("tuning", 2 * 10**6), ("validation", 10**6)):
        for k_i, kind in enumerate(kinds):
            _jobs.extend((split, base + k_i * 10_000 + j, kind) for j in range(per_kind))
    from curate.extract import overlay, text_marks

    release = mark_assets.photos_release()  # pictures drawn on another corpus release's photographs: other results
    suffix = f"-photos{release}" if release != 1 else ""
    cached = train_marks.work_dir() / (
        f"end-to-end-{overlay.card().get('version')}-{text_marks.card().get('version')}"
        f"-v{mark_data.DATA_VERSION}{suffix}-{per_kind}.pkl"
    )
    if cached.exists():
        results = pickle.loads(cached.read_bytes())
    else:
        t0 = time.perf_counter()
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(_extract, range(len(_jobs)), chunksize=4))
        print(f"\nend to end: {len(results)} pictures extracted in {time.perf_counter() - t0:.0f} s")
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(results))
    settings = load_settings()
    words = settings.data["mark_words"]
    base_conf = settings.cfg.marks

    def rates(
        split: str,
        region: float,
        picture: float | None = None,
        head: tuple[float, float] | None = None,
        scene_below: float | None = None,
    ) -> dict[str, dict[str, float]]:
        conf = dataclasses.replace(
            base_conf, overlay_min_region=region, overlay_min_probability=picture or base_conf.overlay_min_probability
        )
        if head is not None:  # the text-feature head's (picture, region) thresholds
            conf = dataclasses.replace(conf, text_overlay_min_probability=head[0], text_overlay_min_region=head[1])
        if scene_below is not None:  # and the level under which its map makes text scene text
            conf = dataclasses.replace(conf, text_overlay_scene_below=scene_below)
        out: dict[str, dict[str, float]] = {}
        for kind in kinds:
            rows = [(op, feats) for sp, k, op, feats in results if sp == split and k == kind]
            found = [{m.kind for m in classify(f, conf, words)} for _, f in rows]
            strong = [(op, fnd) for (op, _), fnd in zip(rows, found) if kind in mark_data.NEGATIVE or op >= 0.3]
            out[kind] = {
                "n": len(strong),
                "watermark": float(np.mean(["watermark" in f for _, f in strong])),
                "signature": float(np.mean(["signature" in f for _, f in strong])),
                "marked": float(np.mean([bool(f & {"watermark", "signature"}) for _, f in strong])),
                "text": float(np.mean(["text" in f for _, f in strong])),
            }
        return out

    if head_grid:
        end_to_end_head(rates, base_conf)
        return
    best, best_score = (base_conf.overlay_min_region, base_conf.overlay_min_probability), -1e9
    for picture in (0.8, 0.85, 0.9, 0.92, 0.95, 0.98, 1.01):
        for region in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            r = rates("tuning", region, picture)
            recall = np.mean([r[k]["marked"] for k in mark_data.POSITIVE])
            fp = np.mean([r[k]["marked"] for k in mark_data.NEGATIVE])
            print(
                f"tuning, picture ≥ {picture}, region ≥ {region}: mean recall {recall:.3f}, mean false marks {fp:.3f}"
            )
            if recall - 2 * fp > best_score:
                best, best_score = (region, picture), recall - 2 * fp
    print(
        f"chosen on tuning (recall − 2 × false marks): region {best[0]}, picture {best[1]} (rules/checks.toml has "
        f"{base_conf.overlay_min_region}, {base_conf.overlay_min_probability})"
    )
    for split in ("tuning", "validation"):
        r = rates(split, base_conf.overlay_min_region)
        print(f"\n{split} pictures, default rules (opacity ≥ 0.3 for marks):")
        print("| kind | n | WMK001 | SIG001 | WMK or SIG | TXT001 |")
        print("|---|---|---|---|---|---|")
        for kind in kinds:
            x = r[kind]
            print(
                f"| {kind} | {x['n']} | {x['watermark']:.2f} | {x['signature']:.2f} | {x['marked']:.2f} | "
                f"{x['text']:.2f} |"
            )


def end_to_end_head(rates, base_conf) -> None:
    """The text-feature head's thresholds chosen end to end on tuning pictures (the mark detector's as in
    rules/checks.toml): picture and region by mean recall − 2 × mean false marks, as for the mark detector (its
    scene level off); then its scene level ([marks] text_overlay_scene_below) by the same score, its picture and
    region as in the rules; then both splits without the head, at the rules' values and at the choices."""
    kinds = list(mark_data.POSITIVE) + list(mark_data.NEGATIVE)
    best, best_score = (1.01, 1.01), -1e9
    for picture in (0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.98, 1.01):
        for region in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01):
            r = rates("tuning", base_conf.overlay_min_region, None, (picture, region), 0.0)
            recall = np.mean([r[k]["marked"] for k in mark_data.POSITIVE])
            fp = np.mean([r[k]["marked"] for k in mark_data.NEGATIVE])
            worst = max(mark_data.NEGATIVE, key=lambda k: r[k]["marked"])
            print(
                f"tuning, head picture ≥ {picture}, region ≥ {region}: mean recall {recall:.3f}, "
                f"mean false marks {fp:.3f} (most: {worst} {r[worst]['marked']:.2f})"
            )
            if recall - 2 * fp > best_score + 1e-9:
                best, best_score = (picture, region), recall - 2 * fp
    print(f"chosen on tuning: head picture {best[0]}, region {best[1]}")
    rules = (base_conf.text_overlay_min_probability, base_conf.text_overlay_min_region)
    scene, scene_score = 0.0, -1e9
    for below in (0.0, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7):
        r = rates("tuning", base_conf.overlay_min_region, None, rules, below)
        recall = np.mean([r[k]["marked"] for k in mark_data.POSITIVE])
        fp = np.mean([r[k]["marked"] for k in mark_data.NEGATIVE])
        print(
            f"tuning, head as in the rules, scene text below {below}: mean recall {recall:.4f}, mean false marks "
            f"{fp:.4f} (scene text {r['scene_text']['marked']:.2f}, signatures {r['signature']['marked']:.2f})"
        )
        if recall - 2 * fp > scene_score + 1e-9:
            scene, scene_score = below, recall - 2 * fp
    print(f"chosen on tuning: scene text below {scene}")
    for split in ("tuning", "validation"):
        for name, head, below in (
            ("without the head", (1.01, 1.01), 0.0),
            ("the head, its scene level off", rules, 0.0),
            ("rules/checks.toml", None, None),
            ("the choices", best, scene),
        ):
            r = rates(split, base_conf.overlay_min_region, None, head, below)
            print(f"\n{split} pictures, {name} (opacity ≥ 0.3 for marks): WMK or SIG per kind")
            print("| " + " | ".join(kinds) + " |")
            print("|" + "---:|" * len(kinds))
            print("| " + " | ".join(f"{r[k]['marked']:.2f}" for k in kinds) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-kind", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-end-to-end", action="store_true")
    ap.add_argument(
        "--head", action="store_true", help="end to end only: choose the text-feature head's thresholds (issue 18)"
    )
    args = ap.parse_args()
    if not args.head:
        detector_table(load_settings().cfg.marks.overlay_min_probability)
    if not args.skip_end_to_end:
        end_to_end(args.per_kind, args.jobs, head_grid=args.head)


if __name__ == "__main__":
    main()

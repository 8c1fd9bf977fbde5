"""Probe (issue 19): do features that see *where* and *in which direction* detail is missing separate an
enlargement (detail cut everywhere, in every direction, at the old Nyquist frequency) from a panning shot, a
moving subject, depth of field or fog (detail lost in one direction, or only outside a sharp region)?

Fits the enlargement model's recipe (bench/train_upscaled.py: same data, labels, parameters, folds and
threshold rule; the horizontal motion cases trained on, the diagonal one held out) with and without the
candidate features, and prints the rule's score on tuning (out of fold, three shuffled grouped splits) and the
validation figures. It chose the axes-and-diagonals values (`aniso_*`, `diag_*`) that the extractor now keeps as
`spectrum_directions` (2026-12-02, docs/benchmarks.md); the others were not adopted. The figures there were
taken against upscale-features/1; the shipped features now hold the axes-and-diagonals values already, and
since upscale-features/3 the resampling period (`resampling_periodicity`), which this probe measured the same
way before it was adopted (mean rule score 0.964 → 0.976 under the then rule; docs/benchmarks.md).

    python bench/probe_upscaled_features.py [--only aniso_0.06,diag_max_0.06,...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_quality  # noqa: E402
import photo_corpus  # noqa: E402
import train_upscaled as tu  # noqa: E402
from PIL import Image  # noqa: E402

from curate.derive import upscale_model  # noqa: E402
from curate.extract import quality  # noqa: E402

TILE = quality.TILE
_R, _ANGLE, _GRID, _WINDOW = quality._RADIUS, quality._ANGLE, quality._GRID, quality._WINDOW
HIGH = (_R >= 0.27) & (_R <= 0.45) & ~_GRID
MID = (_R >= 0.05) & (_R <= 0.11) & ~_GRID
WEDGES = [np.minimum(np.abs(_ANGLE - a), 180 - np.abs(_ANGLE - a)) <= 22.5 for a in (0, 45, 90, 135)]
BANDS = quality.DIRECTION_BANDS
NAMES = [
    "dir_min", "dir_max", "dir_spread",
    "tile_max", "tile_p75", "tile_median", "tile_min",
    "all_max", "all_p90", "all_share",
    *[f"{k}_{lo}" for lo, _hi in BANDS for k in ("aniso", "diag_max", "diag_min")],
]  # fmt: skip


def candidates(path: str) -> list[float]:
    im = Image.open(path)
    im.draft("L", im.size)
    y = np.asarray(im.convert("L"), dtype=np.float32)
    h, w = y.shape
    scored = []
    for r in range(0, h - TILE + 1, TILE):
        for c in range(0, w - TILE + 1, TILE):
            t = y[r : r + TILE, c : c + TILE]
            g = float(np.abs(np.diff(t, axis=1)).mean() + np.abs(np.diff(t, axis=0)).mean())
            scored.append((g, t))
    scored.sort(key=lambda s: -s[0])
    top_g = scored[0][0] if scored else 0.0
    ratios, powers, all_ratios = [], [], []
    for i, (g, t) in enumerate(scored):
        if i >= 12 and g < 0.5 * top_g:
            break
        p = np.abs(np.fft.rfft2((t - t.mean()) * _WINDOW)) ** 2
        ratio = float(np.log10(p[HIGH].mean() + 1e-6) - np.log10(p[MID].mean() + 1e-6))
        all_ratios.append(ratio)
        if i < 12:
            ratios.append(ratio)
            powers.append(p)
    if not ratios:
        return [np.nan] * len(NAMES)
    pw = np.mean(powers, axis=0)
    d = [float(np.log10(pw[HIGH & w_].mean() + 1e-6) - np.log10(pw[MID & w_].mean() + 1e-6)) for w_ in WEDGES]
    a = np.array(all_ratios)
    wedges = upscale_model.direction_values(quality.directional_profile(pw))  # as the extractor and model read them
    return [
        min(d), max(d), max(d) - min(d),
        max(ratios), float(np.percentile(ratios, 75)), float(np.median(ratios)), min(ratios),
        float(a.max()), float(np.percentile(a, 90)), float((a > np.median(ratios) + 0.5).mean()),
        *wedges,
    ]  # fmt: skip


def extra_features(rows: list[dict], folders: dict[str, Path]) -> np.ndarray:
    store = photo_corpus.cache_dir() / "probe-upscaled-3.npz"
    known: dict[str, list[float]] = {}
    if store.exists():
        z = np.load(store, allow_pickle=False)
        known = dict(zip(z["names"].tolist(), z["x"].tolist()))
    todo = [r for r in rows if r["name"] not in known]
    if todo:
        paths = [str(folders[r["name"]] / r["split"] / r["name"]) for r in todo]
        with multiprocessing.Pool(os.cpu_count() or 1) as pool:
            for r, x in zip(todo, pool.map(candidates, paths, chunksize=16)):
                known[r["name"]] = x
        names = sorted(known)
        np.savez(store, names=np.array(names), x=np.array([known[n] for n in names]))
    return np.array([known[r["name"]] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated candidate names to add (default all)")
    args = ap.parse_args()
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    rows, folders = [], {}
    for folder, labels in (eval_quality.build_corpus_cases(), tu.resampled_cases()):
        got = tu.quality_features(folder, labels)
        rows += got
        folders.update({r["name"]: folder for r in got})
    extra = extra_features(rows, folders)
    keep = [i for i, n in enumerate(NAMES) if not args.only or n in args.only.split(",")]

    for name, use_extra in (("shipped features", False), ("with candidates", True)):
        data = {}
        for split in ("tuning", "validation"):
            idx = [i for i, r in enumerate(rows) if r["split"] == split]
            x = np.array([rows[i]["x"] for i in idx])
            if use_extra:
                x = np.hstack([x, extra[idx][:, keep]])
            data[split] = {
                "x": x,
                "case": np.array([rows[i]["case"] for i in idx]),
                "source": np.array([rows[i]["source"] for i in idx]),
                "y": [tu.label(rows[i]["case"]) for i in idx],
            }
        tun = data["tuning"]
        train = np.array([v is not None for v in tun["y"]])
        y = np.array([bool(v) for v in tun["y"]])
        scores = []
        for rep in range(3):
            oof = tu.out_of_fold(
                tu.PARAMS, tun, train, y, GroupKFold(n_splits=tu.FOLDS, shuffle=True, random_state=rep)
            )
            t, fig = tu.choose(oof, tun["case"])
            full = tu.figures(oof, tun["case"], t)
            scores.append(tu.rule_score(fig))
            print(
                f"{name} split {rep}: t {t} tuning oof recall {fig['recall']:.3f} worst {fig['worst_false_positives']:.3f}"
                f" ({fig['worst_case']}); with motion worst {full['worst_false_positives']:.3f} ({full['worst_case']})"
            )
        oof = tu.out_of_fold(tu.PARAMS, tun, train, y, GroupKFold(n_splits=tu.FOLDS))
        t, fig = tu.choose(oof, tun["case"])
        model = HistGradientBoostingClassifier(**tu.PARAMS).fit(tun["x"][train], y[train])
        val = data["validation"]
        vf = tu.figures(model.predict_proba(val["x"])[:, 1], val["case"], t)
        print(
            f"== {name}: mean rule score {np.mean(scores):.3f}; threshold {t}; validation recall {vf['recall']:.3f},"
            f" worst {vf['worst_false_positives']:.3f} ({vf['worst_case']})"
        )
        print("   validation false positives: " + ", ".join(f"{k} {v:.2f}" for k, v in vf["false_positives"].items()))
        print("   validation recall: " + ", ".join(f"{k} {v:.2f}" for k, v in vf["recall_per_case"].items()))


if __name__ == "__main__":
    main()

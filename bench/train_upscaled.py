"""Train the enlargement model (curate/derive/upscale_model.py) on the tuning half of the photo corpus; write it to
curate/data/upscaled_model.json with its recipe, data and figures (issue 19).

    pip install -e '.[bench]'
    python bench/train_upscaled.py            # cases and features cached: ~3 min once eval_quality.py has run

Data: the cases of bench/eval_quality.py (bench/photo_corpus.py's pictures, each damaged once per case of
bench/quality_cases.py CORPUS_CASES, enlargements by bicubic resampling), plus the same pictures enlarged by other
resamplers — Lanczos, bilinear, and bicubic from a box-reduced original — at 1.5×, 2×, 2.5×, 3× and 4× (JPEG q95),
so the model does not learn one kernel's signature, plus the tuning photographs streaked by motion at more angles
and lengths (MOTION_ANGLES, MOTION_LENGTHS; training only). Features are the real extractor's (the `curate audit` CLI
fills the bench's feature cache; nothing else computes them).
Labels: enlarged 2–4× (any resampler) = 1; every case that is not enlarged or blurred = 0 (untouched, camera
JPEGs, only downscaled, depth of field, fog, night, grain, panning shots and moving subjects at 0°, 45° and 100°,
noise, JPEG damage, digital art). 1.5× enlargements and blurred photos are left out of training (a 1.5×
enlargement is barely one; a blurred photo is soft, which BLR001 reports — whether it is also called enlarged is
not the model's to learn), and so is the motion case at 30° (HELD_OUT_KINDS, below).
Model: scikit-learn HistGradientBoostingClassifier, depth-3 trees, 200 rounds, at least 80 pictures per leaf,
learning rate 0.05, L2 10, seed 0 — chosen on tuning only by `--grid`: leaf size 20 / 80 / 200, 100 / 200 rounds,
depth 2 / 3, each scored by the threshold rule below on out-of-fold probabilities, averaged over three shuffled
5-fold splits grouped by source photo (one split's score moves by ±0.01 with the split; the mean is what ranks).
Threshold ([upscaled] min_probability in rules/checks.toml) chosen on **tuning only**, from out-of-fold
probabilities (5 folds grouped by source photo: an in-sample score overrates how well the model knows photos
it was fitted on; each case's probability averaged over three shuffled splits) by the widest margin on both of
issue 19's targets: the threshold where the smaller of (recall at 2–4× − 0.9) and (5 % − the worst
false-positive rate) is largest (TARGET_RECALL, ALLOWANCE). Until
2026-12-02 the rule was the other quality thresholds' — recall minus twice the worst false positives above 5 % —
which spends the whole allowance on tuning: the threshold sat at 5 % there and landed at 6–7 % on validation,
as a threshold set at a limit on one sample lands over it on another about half the time; this model's recall has
room to spare, so the rule now keeps room on both sides. The motion case at 30° (HELD_OUT_KINDS) is neither
trained nor tuned on. The validation half (motion cases included) is only reported (printed, and
written to the model card).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_quality  # noqa: E402
import photo_corpus  # noqa: E402
from PIL import Image  # noqa: E402
from quality_cases import encode, motion_blur  # noqa: E402

from curate.cache import FeatureCache  # noqa: E402
from curate.derive import upscale_model  # noqa: E402
from curate.extract import versions  # noqa: E402

# Chosen by `--grid` on the corpus's third release (mean tuning score 0.963; the earlier 100 rounds of depth 2 with
# 20 pictures a leaf: 0.927).
PARAMS = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 80,
    "l2_regularization": 10.0,
    "random_state": 0,
}
GRID = {"min_samples_leaf": (20, 80, 200), "max_iter": (100, 200), "max_depth": (2, 3)}
GRID_REPEATS = 3
FOLDS = 5
TARGET = ("upscaled 2×", "upscaled 3×", "upscaled 4×")  # the target strengths (bicubic, as eval_quality)
RESAMPLERS = ("lanczos", "bilinear", "bicubic from box")
FACTORS = (1.5, 2, 2.5, 3, 4)
# Issue 19's targets, between which the threshold rule keeps the widest margin.
TARGET_RECALL = 0.9
ALLOWANCE = 0.05


def enlarged(im: Image.Image, k: float, how: str) -> Image.Image:
    w, h = im.size
    small = (max(8, round(w / k)), max(8, round(h / k)))
    if how == "bicubic from box":
        return im.resize(small, Image.Resampling.BOX).resize((w, h), Image.Resampling.BICUBIC)
    kernel = {"lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR}[how]
    return im.resize(small, Image.Resampling.LANCZOS).resize((w, h), kernel)


def _resampled(args: tuple) -> dict[str, dict]:
    pic, folder = args
    out = {}
    for how in RESAMPLERS:
        for k in FACTORS:
            data, ext = encode(enlarged(pic.image, k, how), "jpeg95")
            name = f"r_{how.replace(' ', '-')}_{k}_{pic.name}{ext}"
            (folder / pic.split / name).write_bytes(data)
            out[name] = {"split": pic.split, "case": f"upscaled {k}× {how}", "source": pic.source}
    return out


def resampled_cases() -> tuple[Path, dict[str, dict]]:
    """The corpus's photos enlarged by the other resamplers (kept between runs, like eval_quality's cases)."""
    return eval_quality.cached_cases("resampled", [RESAMPLERS, FACTORS], photo_corpus.pictures(("photo",)), _resampled)


# Training-only motion negatives (tuning photographs only): streaks at more angles and lengths than the corpus's
# named cases, so the model learns "detail lost along one direction" rather than the five streaks it is shown.
# Angles 20–40° are left out: the held-out case (HELD_OUT_KINDS) is a pan at 30°, and it must stay unseen.
MOTION_ANGLES = (0, 10, 55, 70, 85, 95, 120, 135, 150, 165)
MOTION_LENGTHS = (8, 12, 20, 28, 36)
MOTION_PER_PICTURE = 4


def _motion(args: tuple) -> dict[str, dict]:
    pic, folder = args
    rng = random.Random(pic.name)  # the same draws for the same picture, whatever the order
    out = {}
    for i in range(MOTION_PER_PICTURE):
        angle, length = rng.choice(MOTION_ANGLES), rng.choice(MOTION_LENGTHS)
        where = rng.choice(("background", "subject"))
        data, ext = encode(motion_blur(pic.image, length, where, angle=angle), "jpeg92")
        name = f"m{i}_{pic.name}{ext}"
        (folder / pic.split / name).write_bytes(data)
        out[name] = {"split": pic.split, "case": f"trained motion ({where})", "source": pic.source}
    return out


def motion_cases() -> tuple[Path, dict[str, dict]]:
    """The tuning photographs streaked at MOTION_ANGLES × MOTION_LENGTHS, MOTION_PER_PICTURE draws each (kept
    between runs). Trained on as negatives; not in the threshold rule (which reads the corpus's named cases)."""
    tuning = [p for p in photo_corpus.pictures(("photo",)) if p.split == "tuning"]
    return eval_quality.cached_cases("motion", [MOTION_ANGLES, MOTION_LENGTHS, MOTION_PER_PICTURE], tuning, _motion)


def quality_features(folder: Path, labels: dict[str, dict]) -> list[dict]:
    """Each labelled case with the `quality` features the real CLI computed (through the bench's feature cache)."""
    cache_dir = photo_corpus.cache_dir() / "feature-cache"
    for split in ("tuning", "validation"):
        # the noise check needs the same `quality` features and not the model being trained (a model file made for
        # other features is refused: the upscaled check cannot run until this script has written the new one)
        cmd = [sys.executable, "-m", "curate", "audit", str(folder / split), "--select", "noise", "-q"]
        cmd += ["--cache-dir", str(cache_dir), "--json", "/dev/null", "--fail-on", "never"]
        subprocess.run(cmd, check=True)
    shas = {
        name: hashlib.sha256((folder / lab["split"] / name).read_bytes()).hexdigest() for name, lab in labels.items()
    }
    cache = FeatureCache(cache_dir)
    try:
        found = cache.get_many(list(shas.values()), versions(["quality"]))
    finally:
        cache.close()
    rows = []
    for name, lab in sorted(labels.items()):  # in name order: the fit must not depend on which case was written first
        q = found.get(shas[name], {}).get("quality")
        x = upscale_model.features(q) if q else None
        if x is not None:
            rows.append({**lab, "name": name, "x": x})
    return rows


# Hard negatives measured but neither trained nor tuned on: motion at 30°, 20 px (an angle and a length no trained
# case has). The other motion cases are trained on since the model reads the spectrum by direction (2026-12-02,
# docs/benchmarks.md).
HELD_OUT_KINDS = ("motion at 30°",)


def label(case: str) -> bool | None:
    """1 enlarged 2–4×, 0 not enlarged, None left out of training (1.5×, blurred, HELD_OUT_KINDS)."""
    if case.startswith("upscaled"):
        return None if case.startswith("upscaled 1.5×") else True
    if case.startswith(("blur", *HELD_OUT_KINDS)):
        return None
    return False


def choose(prob: np.ndarray, cases: np.ndarray) -> tuple[float, dict]:
    """The threshold (0.05 steps) with the widest margin on both targets (rule_score; the lowest among ties)."""
    best: tuple[float, float, dict] | None = None
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        fig = figures(prob, cases, float(t), held_out=False)
        score = rule_score(fig)
        if best is None or score > best[0] + 1e-9:
            best = (score, float(t), fig)
    assert best is not None
    return best[1], best[2]


def figures(prob: np.ndarray, cases: np.ndarray, t: float, held_out: bool = True) -> dict:
    """Recall at TARGET and false positives per negative case at threshold t (with HELD_OUT_KINDS or without)."""
    hits = np.concatenate([prob[cases == c] >= t for c in TARGET])
    negatives = [n for n in eval_quality.NEGATIVES if held_out or not n.startswith(HELD_OUT_KINDS)]
    fps = {n: float((prob[cases == n] >= t).mean()) for n in negatives if (cases == n).any()}
    worst = max(fps.items(), key=lambda kv: kv[1])
    per_case = {c: round(float((prob[cases == c] >= t).mean()), 3) for c in sorted(set(cases)) if c.startswith("up")}
    return {
        "threshold": t,
        "recall": round(float(hits.mean()), 3),
        "worst_false_positives": round(worst[1], 3),
        "worst_case": worst[0],
        "false_positives": {k: round(v, 3) for k, v in fps.items()},
        "recall_per_case": per_case,
    }


def export(model, n_features: int) -> dict:
    """The fitted ensemble as plain lists (curate/derive/upscale_model.Model reads them)."""
    trees = []
    for (predictor,) in model._predictors:  # one tree per round (binary: one per round)
        rows = []
        for node in predictor.nodes:
            rows.append(
                [
                    int(node["feature_idx"]),
                    float(node["num_threshold"]),
                    int(node["left"]),
                    int(node["right"]),
                    float(node["value"]),
                    int(node["is_leaf"]),
                    int(node["missing_go_to_left"]),
                ]
            )
        trees.append(rows)
    assert model.n_features_in_ == n_features
    return {"baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees}


def rule_score(fig: dict) -> float:
    """The threshold rule's score: the smaller margin of the two targets — recall at TARGET over TARGET_RECALL, the
    worst false positives under ALLOWANCE (negative where a target is missed)."""
    return min(fig["recall"] - TARGET_RECALL, ALLOWANCE - fig["worst_false_positives"])


def out_of_fold(params: dict, tun: dict, train: np.ndarray, y: np.ndarray, folds) -> np.ndarray:
    """Each tuning case's probability from a model fitted without its source photo's fold (trained cases only)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    oof = np.zeros(len(y))
    for fit_idx, test_idx in folds.split(tun["x"], y, tun["source"]):
        fit_idx = fit_idx[train[fit_idx]]
        m = HistGradientBoostingClassifier(**params).fit(tun["x"][fit_idx], y[fit_idx])
        oof[test_idx] = m.predict_proba(tun["x"][test_idx])[:, 1]
    return oof


def grid(tun: dict, train: np.ndarray, y: np.ndarray) -> None:
    """Each setting of GRID scored on tuning alone: the rule's score at the threshold it chooses out of fold, mean
    over GRID_REPEATS shuffled grouped 5-fold splits. Prints the table; PARAMS records the best."""
    import itertools

    from sklearn.model_selection import GroupKFold

    print("| leaf | rounds | depth | mean score | per split (threshold: recall / worst false positives) |")
    print("|---:|---:|---:|---:|---|")
    for values in itertools.product(*GRID.values()):
        params = {**PARAMS, **dict(zip(GRID, values))}
        scores, runs = [], []
        for rep in range(GRID_REPEATS):
            oof = out_of_fold(params, tun, train, y, GroupKFold(n_splits=FOLDS, shuffle=True, random_state=rep))
            t, fig = choose(oof, tun["case"])
            scores.append(rule_score(fig))
            runs.append(f"{t}: {fig['recall']:.3f} / {fig['worst_false_positives']:.3f}")
        leaf, rounds, depth = (params[k] for k in ("min_samples_leaf", "max_iter", "max_depth"))
        print(f"| {leaf} | {rounds} | {depth} | {np.mean(scores):.3f} | {'; '.join(runs)} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "curate" / "data" / upscale_model.MODEL_FILE)
    ap.add_argument("--grid", action="store_true", help="score GRID's settings on tuning (PARAMS records the best)")
    args = ap.parse_args()
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    rows = []
    for folder, labels in (eval_quality.build_corpus_cases(), resampled_cases(), motion_cases()):
        rows += quality_features(folder, labels)
    data = {}
    for split in ("tuning", "validation"):
        mine = [r for r in rows if r["split"] == split]
        data[split] = {
            "x": np.array([r["x"] for r in mine]),
            "case": np.array([r["case"] for r in mine]),
            "source": np.array([r["source"] for r in mine]),
            "y": [label(r["case"]) for r in mine],
        }
    tun = data["tuning"]
    train = np.array([y is not None for y in tun["y"]])
    y = np.array([bool(v) for v in tun["y"]])
    if args.grid:
        grid(tun, train, y)
        return
    # each tuning case's out-of-fold probability averaged over GRID_REPEATS shuffled grouped splits: one split's
    # choice moves by a step or two with the split (0.80–0.90 seen)
    oof = np.mean(
        [
            out_of_fold(PARAMS, tun, train, y, GroupKFold(n_splits=FOLDS, shuffle=True, random_state=rep))
            for rep in range(GRID_REPEATS)
        ],
        axis=0,
    )
    threshold, tuning_fig = choose(oof, tun["case"])
    model = HistGradientBoostingClassifier(**PARAMS).fit(tun["x"][train], y[train])
    spec = {"features": upscale_model.FEATURES, **export(model, tun["x"].shape[1])}
    mine = upscale_model.Model(spec)  # the plain-Python evaluation must give scikit-learn's probabilities
    val = data["validation"]
    ours = np.array([mine.probability(list(x)) for x in val["x"]])
    theirs = model.predict_proba(val["x"])[:, 1]
    assert np.abs(ours - theirs).max() < 1e-9, np.abs(ours - theirs).max()
    validation_fig = figures(ours, val["case"], threshold)
    sources = {s: len(set(data[s]["source"])) for s in data}
    card = {
        **spec,
        "recipe": {
            "script": "bench/train_upscaled.py",
            "estimator": f"sklearn {sklearn.__version__} HistGradientBoostingClassifier",
            "params": PARAMS,
            "threshold_rule": "out-of-fold (5 folds grouped by source photo, the probability averaged over 3 "
            "shuffled splits) on tuning: the widest margin on both "
            f"targets, min(recall at 2-4x - {TARGET_RECALL}, {ALLOWANCE} - worst false-positive rate)",
            "params_chosen_by": "bench/train_upscaled.py --grid (tuning only: the rule's score, mean of 3 shuffled "
            "grouped 5-fold splits)",
        },
        "data": {
            "corpus": "bench/photo_corpus.py (Debian wallpaper packages and wheel sample photos; licences in its "
            "manifest)",
            "tuning_sources": sources["tuning"],
            "tuning_cases": int(train.sum()),
            "validation_sources": sources["validation"],
            "resamplers": ["bicubic", *RESAMPLERS],
        },
        "chosen_threshold": threshold,
        "figures": {"tuning_out_of_fold": tuning_fig, "validation": validation_fig},
    }
    args.out.write_text(json.dumps(card, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"model: {args.out} ({len(spec['trees'])} trees); threshold {threshold} (tuning, out of fold)")
    for name, fig in (("tuning (out of fold)", tuning_fig), ("validation", validation_fig)):
        print(
            f"\n{name}: recall at 2–4× {fig['recall']:.3f}, worst false positives {fig['worst_false_positives']:.3f}"
            f" ({fig['worst_case']})"
        )
        for case, share in fig["recall_per_case"].items():
            print(f"  {case:34} {share:.2f}")
        print("  false positives: " + ", ".join(f"{k} {v:.2f}" for k, v in fig["false_positives"].items()))


if __name__ == "__main__":
    main()

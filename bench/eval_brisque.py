"""Would BRISQUE help? A trained no-reference quality model that ships offline, measured on the quality corpus.

BRISQUE (Mittal, Moorthy & Bovik 2012) as OpenCV's contrib module implements it, with the model files Debian's
`opencv-data` package ships (usr/share/opencv4/quality/brisque_{model,range}_live.yml). Scores every case of
bench/eval_quality.py (the file at its own size and reduced to 1024 px); the threshold is chosen on the TUNING
half so that at most 5 % of every negative case (untouched, camera JPEGs, shallow depth of field, fog, night,
film grain, only downscaled) scores above it, and recall per category is reported on the VALIDATION half.

Needs OpenCV with the contrib modules, which conflicts with the opencv-python-headless that curate's OCR
installs, so run it from its own environment (it does not import curate):

    python bench/eval_quality.py                      # builds the cases (prints nothing about BRISQUE)
    python3 -m venv /tmp/brq && /tmp/brq/bin/pip install opencv-contrib-python-headless numpy
    apt-get download opencv-data && dpkg-deb -x opencv-data_*.deb /tmp/ocv
    /tmp/brq/bin/python bench/eval_brisque.py --cases ~/.cache/curate/bench-photos/cases-* \\
        --models /tmp/ocv/usr/share/opencv4/quality
"""

from __future__ import annotations

import argparse
import json
from multiprocessing import Pool
from pathlib import Path

import numpy as np

# The cases of bench/quality_cases.py that are not degraded on purpose, and the target strengths per category.
NEGATIVES = [
    "untouched (PNG)",
    "camera JPEG q85",
    "camera JPEG q90",
    "camera JPEG q95",
    "only downscaled ½ (JPEG q90)",
    "shallow depth of field",
    "fog (contrast 45 %)",
    "night (dark)",
    "film grain σ 3",
]
AT_TARGET = {
    "noise": ("noise σ 8", "noise σ 12", "noise σ 16"),
    "blur": ("blur σ 2 px", "blur σ 3 px", "blur σ 4 px"),
    "upscaled": ("upscaled 2×", "upscaled 3×", "upscaled 4×"),
    "compression": ("JPEG q40", "JPEG q20", "JPEG q10", "JPEG q20 re-saved as PNG"),
}
_model = None


def _score(args: tuple[Path, str]) -> tuple[str, tuple[float, float]]:
    import cv2

    global _model
    path, models = args
    if _model is None:
        _model = cv2.quality.QualityBRISQUE_create(
            str(Path(models) / "brisque_model_live.yml"), str(Path(models) / "brisque_range_live.yml")
        )
    im = cv2.imread(str(path))
    h, w = im.shape[:2]
    k = min(1.0, 1024 / max(h, w))
    small = im if k == 1 else cv2.resize(im, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    return path.name, (float(_model.compute(im)[0]), float(_model.compute(small)[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=Path, required=True, help="the case folder bench/eval_quality.py built")
    ap.add_argument("--models", required=True, help="folder of brisque_model_live.yml and brisque_range_live.yml")
    args = ap.parse_args()
    labels = json.loads((args.cases / "labels.json").read_text())
    jobs = [(args.cases / v["split"] / name, args.models) for name, v in labels.items()]
    with Pool() as pool:
        scores = dict(pool.imap_unordered(_score, jobs, chunksize=16))

    def values(split: str, case: str, which: int) -> np.ndarray:
        return np.array([scores[n][which] for n, v in labels.items() if v["split"] == split and v["case"] == case])

    for which, size in ((0, "the file's own size"), (1, "1024 px")):
        medians = {c: round(float(np.median(values("validation", c, which))), 1) for c in NEGATIVES[:1]}
        medians |= {
            c: round(float(np.median(values("validation", c, which))), 1) for t in AT_TARGET.values() for c in t[:1]
        }
        print(f"BRISQUE at {size} (higher = worse); validation medians: {medians}")
        limit = max(float(np.percentile(values("tuning", c, which), 95)) for c in NEGATIVES)
        worst = max(float(np.mean(values("validation", c, which) >= limit)) for c in NEGATIVES)
        for cat, cases in AT_TARGET.items():
            hits = np.concatenate([values("validation", c, which) for c in cases]) >= limit
            print(f"  {cat:12} threshold {limit:.1f}: validation recall {hits.mean():.2f} (worst negative {worst:.2f})")


if __name__ == "__main__":
    main()

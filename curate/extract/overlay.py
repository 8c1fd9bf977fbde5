"""The mark detector: where a picture carries an overlaid mark (watermark, logo, credit, signature).

A small convolutional network trained here, from licensed synthetic data, by bench/train_marks.py (recipe, seed,
data sources and the figures it reached: curate/data/mark_detector.json; sources and licences:
bench/DATA-LICENCES.md). It sees the whole picture squeezed to INPUT × INPUT px and answers, for each cell of a
GRID × GRID map, how likely the cell holds part of a mark laid over the picture — as opposed to text or shapes
that belong to the scene (signs, labels, print on products), which it was trained to leave alone. It runs with
onnxruntime (no torch at audit time), one thread per worker process.

The extractor stores the map reduced to STORED × STORED (max over each block, in hundredths) and the picture's
probability (the map's maximum); which finding that leads to is a check's decision (curate/derive/marks.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from curate.extract.bundled_model import GRID, STORED, BundledModel, decode_map

INPUT = 384  # the network's input side (px); its output map is GRID × GRID (one cell = 8 input px)
MODEL_FILE = "mark_detector.onnx"
CARD_FILE = "mark_detector.json"
MODEL = BundledModel(MODEL_FILE, CARD_FILE)
card, available = MODEL.card, MODEL.available
__all__ = ["GRID", "STORED", "available", "card", "compute", "decode_map", "detector_input", "probability_map"]


def detector_input(im: Image.Image) -> Image.Image:
    """The picture as the network sees it: RGB, squeezed to INPUT × INPUT (the same function made its training
    data, so training and audit see the same resampling)."""
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im.resize((INPUT, INPUT), Image.Resampling.BILINEAR, reducing_gap=2.0)


def probability_map(im: Image.Image) -> np.ndarray:
    """GRID × GRID probabilities that each cell holds part of an overlaid mark."""
    x = np.asarray(detector_input(im), dtype=np.float32).transpose(2, 0, 1) / 255.0
    return MODEL.probability_map("image", x)


def compute(im: Image.Image) -> dict[str, Any]:
    """What the marks extractor stores: the model's version, the picture's probability and the reduced map."""
    return MODEL.stored(probability_map(im))

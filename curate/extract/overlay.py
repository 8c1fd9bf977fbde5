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

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

INPUT = 384  # the network's input side (px)
GRID = 48  # its output map's side (one cell = 8 input px)
STORED = 24  # side of the map kept in the cache
MODEL_FILE = "mark_detector.onnx"
CARD_FILE = "mark_detector.json"

_session: Any = None


def detector_input(im: Image.Image) -> Image.Image:
    """The picture as the network sees it: RGB, squeezed to INPUT × INPUT (the same function made its training
    data, so training and audit see the same resampling)."""
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im.resize((INPUT, INPUT), Image.Resampling.BILINEAR, reducing_gap=2.0)


def _model_bytes() -> bytes | None:
    f = resources.files("curate.data").joinpath(MODEL_FILE)
    return f.read_bytes() if f.is_file() else None


@lru_cache(maxsize=1)
def card() -> dict[str, Any]:
    """The model card: version, recipe and measured figures (empty when no model ships)."""
    f = resources.files("curate.data").joinpath(CARD_FILE)
    return json.loads(f.read_text()) if f.is_file() else {}


@lru_cache(maxsize=1)
def available() -> str | None:
    """None when the detector can run here, else why not (one line): onnxruntime missing, or the model file
    missing or unreadable (it is loaded once here to find out; the workers load their own)."""
    try:
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        return f"onnxruntime is not installed ({type(e).__name__}: {e}); install it with: pip install onnxruntime"
    data = _model_bytes()
    if data is None:
        return f"its model file ({MODEL_FILE}) is missing from the installed package; reinstall curate"
    try:
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 — a truncated or corrupt file
        detail = " ".join(str(e).split())[:160]
        return f"its model file ({MODEL_FILE}) cannot be loaded ({type(e).__name__}: {detail}); reinstall curate"
    return None


def session():
    global _session
    if _session is None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # extraction already runs one worker process per core
        opts.inter_op_num_threads = 1
        _session = ort.InferenceSession(_model_bytes(), opts, providers=["CPUExecutionProvider"])
    return _session


def probability_map(im: Image.Image) -> np.ndarray:
    """GRID × GRID probabilities that each cell holds part of an overlaid mark."""
    x = np.asarray(detector_input(im), dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    (logits,) = session().run(None, {"image": x})
    return 1.0 / (1.0 + np.exp(-logits[0, 0]))


def compute(im: Image.Image) -> dict[str, Any]:
    """What the marks extractor stores: the model's version, the picture's probability and the reduced map."""
    p = probability_map(im)
    k = GRID // STORED
    reduced = p.reshape(STORED, k, STORED, k).max(axis=(1, 3))
    return {
        "model": card().get("version", "unknown"),
        "probability": round(float(p.max()), 3),
        "map": bytes(np.round(reduced * 100).astype(np.uint8)).hex(),
    }


def decode_map(stored: str) -> np.ndarray:
    """The stored STORED × STORED map as probabilities 0–1."""
    return np.frombuffer(bytes.fromhex(stored), dtype=np.uint8).reshape(STORED, STORED).astype(np.float32) / 100

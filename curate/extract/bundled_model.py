"""A small ONNX model that ships inside curate (curate/data) with its card: the mark detector
(curate/extract/overlay.py) and the head over the text detector's features (curate/extract/text_marks.py).

Both are loaded the same way — onnxruntime, one thread per worker process, a missing or broken file a one-line
reason — and store their answer the same way: the picture's probability (the map's maximum) and its GRID × GRID
map reduced to STORED × STORED (max over each block, in hundredths).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

GRID = 48  # the map's side
STORED = 24  # side of the map kept in the cache


class BundledModel:
    def __init__(self, model_file: str, card_file: str):
        self.model_file, self.card_file = model_file, card_file
        self._card: dict[str, Any] | None = None
        self._available: tuple[str | None] | None = None
        self._session: Any = None

    def model_bytes(self) -> bytes | None:
        f = resources.files("curate.data").joinpath(self.model_file)
        return f.read_bytes() if f.is_file() else None

    def card(self) -> dict[str, Any]:
        """The model card: version, recipe and measured figures (empty when no model ships)."""
        if self._card is None:
            f = resources.files("curate.data").joinpath(self.card_file)
            self._card = json.loads(f.read_text()) if f.is_file() else {}
        return self._card

    def available(self) -> str | None:
        """None when the model can run here, else why not (one line): onnxruntime missing, or the model file
        missing or unreadable (it is loaded once here to find out; the workers load their own). Remembered until
        clear()."""
        if self._available is None:
            self._available = (self._why_not(),)
        return self._available[0]

    def clear(self) -> None:
        """Forget what available() and session() found (tests swap the model file)."""
        self._available, self._session = None, None

    def _why_not(self) -> str | None:
        try:
            import onnxruntime as ort
        except Exception as e:  # noqa: BLE001
            return f"onnxruntime is not installed ({type(e).__name__}: {e}); install it with: pip install onnxruntime"
        data = self.model_bytes()
        if data is None:
            return f"its model file ({self.model_file}) is missing from the installed package; reinstall curate"
        try:
            ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 — a truncated or corrupt file
            detail = f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
            return f"its model file ({self.model_file}) cannot be loaded ({detail}); reinstall curate"
        return None

    def session(self) -> Any:
        """The onnxruntime session, built once per process (call only when available() is None)."""
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # extraction already runs one worker process per core
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(self.model_bytes(), opts, providers=["CPUExecutionProvider"])
        return self._session

    def probability_map(self, name: str, x: np.ndarray) -> np.ndarray:
        """GRID × GRID probabilities from the model's logits for input `name` = x (one picture, batch of one)."""
        (logits,) = self.session().run(None, {name: np.asarray(x[None], dtype=np.float32)})
        return 1.0 / (1.0 + np.exp(-logits[0, 0]))

    def stored(self, p: np.ndarray) -> dict[str, Any]:
        """What the marks extractor keeps of a GRID × GRID map: the model's version, the picture's probability and
        the reduced map."""
        k = GRID // STORED
        reduced = p.reshape(STORED, k, STORED, k).max(axis=(1, 3))
        return {
            "model": self.card().get("version", "unknown"),
            "probability": round(float(p.max()), 3),
            "map": bytes(np.round(reduced * 100).astype(np.uint8)).hex(),
        }


def decode_map(stored: str) -> np.ndarray:
    """A stored STORED × STORED map as probabilities 0–1."""
    return np.frombuffer(bytes.fromhex(stored), dtype=np.uint8).reshape(STORED, STORED).astype(np.float32) / 100

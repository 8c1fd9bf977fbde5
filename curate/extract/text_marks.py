"""The second mark detector: a small head over the text detector's own features.

The marks pass runs PP-OCRv6's text detector (rapidocr's ONNX model) on the 576-px copy of every picture. Its
neck holds 144 channels at 1/4 of that copy, trained on real text; they see text-like marks — tiled, diagonal,
scattered — that the squeezed mark detector (curate/extract/overlay.py) misses (docs/benchmarks.md). Here those
channels and the text probability are read from the same run (the detector's graph is given three more outputs
when it is loaded; nothing is computed twice), pooled to the mark detector's GRID × GRID cells, and a small
convolutional head trained here by bench/train_text_marks.py (recipe, seed, data and figures:
curate/data/text_mark_head.json) answers, per cell, how likely it holds part of a mark laid over the picture.
It runs with onnxruntime; a missing or broken head file is a one-line reason, never a crash.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curate.extract.bundled_model import GRID, BundledModel

MODEL_FILE = "text_mark_head.onnx"
CARD_FILE = "text_mark_head.json"
DETECTOR_FILE = "PP-OCRv6_det_small.onnx"  # the text detector whose neck the head was trained on
# Its neck at 1/4 of the input: the two deeper levels upsampled and concatenated (96 channels), the third level
# (24) and the finest (24). With the text probability: 145 channels a cell.
NECK = ("p2o.pd_op.concat.1.0", "p2o.builtin.combine.1.0_2", "p2o.builtin.combine.1.0_3")
CHANNELS = 145
HEAD = BundledModel(MODEL_FILE, CARD_FILE)
card, available = HEAD.card, HEAD.available


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return n, i
        shift += 7


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def with_outputs(model: bytes, names: tuple[str, ...]) -> bytes:
    """An ONNX model (its serialised ModelProto) with these intermediate tensors added to its graph's outputs as
    float tensors of any shape — what `onnx.helper.make_tensor_value_info(name, FLOAT, None)` appended to
    `model.graph.output` writes (tests/test_text_marks.py compares the two), without the 16 MB `onnx` package at
    audit time. Protobuf lets a message's repeated field grow by appending to the message, so the graph (field 7
    of ModelProto) gets GraphProto.output entries (field 12: ValueInfoProto {name: 1, type: 2 {tensor_type: 1
    {elem_type: 1 = FLOAT}}}) at its end, and its length prefix is rewritten. Raises ValueError when the bytes are
    not a model with a graph."""
    float_tensor = _field(2, _field(1, b"\x08\x01"))
    extra = b"".join(_field(12, _field(1, n.encode()) + float_tensor) for n in names)
    i = 0
    while i < len(model):
        start = i
        key, i = _read_varint(model, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _read_varint(model, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, body = _read_varint(model, i)
            i = body + length
            if number == 7:
                return model[:start] + _field(7, model[body:i] + extra) + model[i:]
        else:
            raise ValueError(f"not an ONNX model (protobuf wire type {wire})")
    raise ValueError("not an ONNX model (no graph)")


class CapturingDetector:
    """Stands in for rapidocr's text-detector session: runs the same model with the neck as extra outputs,
    returns what rapidocr expects (the text probability) and keeps all outputs of the last call made while
    `capture` is set (other calls — the band passes — fetch the probability alone)."""

    def __init__(self, session: Any):
        self.session = session
        self.input = session.get_inputs()[0].name
        self.probability = [session.get_outputs()[0].name]
        self.capture = False
        self.last: list[np.ndarray] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not self.capture:
            return self.session.run(self.probability, {self.input: x})[0]
        self.last = self.session.run(None, {self.input: x})
        return self.last[0]


def attach(engine: Any) -> CapturingDetector | str:
    """Give a RapidOCR engine's text detector the neck outputs: the CapturingDetector now in its place, or why
    not (one line: another rapidocr layout or model than the head was trained on)."""
    try:
        import onnxruntime as ort

        det = engine._load_det_model()
        inner = det.session.session
        path = str(getattr(inner, "_model_path", "") or "")
        if not path.endswith(DETECTOR_FILE):
            return f"the text detector is not {DETECTOR_FILE} ({path or 'unknown model'})"
        with open(path, "rb") as f:
            model = with_outputs(f.read(), NECK)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one worker process per core, as for the engine's own session
        opts.inter_op_num_threads = 1
        capturing = CapturingDetector(ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]))
        det.session = capturing
        return capturing
    except Exception as e:  # noqa: BLE001 — the text marks and the other detector stand without it
        return f"the text detector's features cannot be read ({type(e).__name__}: {' '.join(str(e).split())[:160]})"


def pool(a: np.ndarray, out: int = GRID) -> np.ndarray:
    """C × H × W → C × out × out by area means over (nearly) equal bins; a side shorter than `out` (a tiny
    picture) is first repeated up to it."""
    for axis in (1, 2):
        if a.shape[axis] < out:
            a = np.repeat(a, -(-out // a.shape[axis]), axis=axis)
    _, h, w = a.shape
    rows = np.linspace(0, h, out + 1).round().astype(int)  # steps of ≥ 1 px: no bin is empty
    cols = np.linspace(0, w, out + 1).round().astype(int)
    s = np.add.reduceat(np.add.reduceat(a, rows[:-1], axis=1), cols[:-1], axis=2)
    return (s / (np.diff(rows)[:, None] * np.diff(cols)[None, :])).astype(np.float32)


def feature_grid(outputs: list[np.ndarray]) -> np.ndarray:
    """CHANNELS × GRID × GRID (float32): the neck's channels and the text probability pooled to the mark grid,
    from a CapturingDetector's outputs (probability first, then NECK)."""
    prob, *neck = outputs
    return np.concatenate([pool(np.asarray(f[0], dtype=np.float32)) for f in neck + [prob]])


def probability_map(grid: np.ndarray) -> np.ndarray:
    """GRID × GRID probabilities that each cell holds part of an overlaid mark, from feature_grid()."""
    return HEAD.probability_map("features", grid)


def compute(grid: np.ndarray) -> dict[str, Any]:
    """What the marks extractor stores: the head's version, the picture's probability and the reduced map
    (as the mark detector's)."""
    return HEAD.stored(probability_map(grid))

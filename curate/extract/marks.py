"""The `marks` extractor: text on the picture (watermarks, signatures, captions, signs).

Text: RapidOCR (`rapidocr` 3.10+: the PP-OCRv6 small detector + recogniser as ONNX models inside the wheel,
run by onnxruntime, so it runs offline) on a copy reduced to MAX_SIDE px on the long side (wide strips get
more, up to MAX_STRIP_SIDE, at the same pixel count), its levels
stretched (1 % clipped at each end of each channel: faint marks gain contrast — bench/eval_marks.py, text-mark
recall at opacity >= 0.3 0.84 -> 0.87). The engine loads once per worker process. For each text region it
records the box (relative), the recognised text and its confidence, the baseline angle and the letter
height. Extra passes: the top and bottom bands with local contrast enhanced (CLAHE), where faint corner marks
and credit lines sit. (Turning a reduced copy ±35° to catch large diagonal marks was tried: it found fragments
only and cost 80 ms, so it is not done.)
Marks: the mark detector (curate/extract/overlay.py) on the whole picture — its probability that a mark is laid
over the picture and a coarse map of where — and a second one over the text detector's own features of the
whole-picture pass (curate/extract/text_marks.py: text-like marks, tiled, diagonal or scattered), the same two.
Classification (watermark / signature / scene text) is a check's job: curate/derive/marks.py, words in rules/.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from curate.extract import overlay, text_marks
from curate.extract.decode import Decoded, to_rgb

NAME = "marks"
VERSION = 5
# The shipped mark detector's version (curate/data/mark_detector.json): retraining it changes this, and VERSION
# with it, so cached marks of the old model are extracted again (tests/test_overlay.py holds the two together).
MODEL_VERSION = "marknet-2-461bb55f"
TEXT_HEAD_VERSION = "textmarks-1-75d31ac1"  # the same for the text-feature head (curate/data/text_mark_head.json)

MAX_SIDE = 576  # text detection size (long side): bench/eval_marks.py — 576 keeps the pass ≤ 150 ms
MAX_STRIP_SIDE = 1024  # wider than 4:3: up to this, at a 4:3 picture's pixel count (analysed_side)
BAND = 0.15  # height of the top and bottom bands searched again with contrast enhanced
ENGINE_NAME = "rapidocr"

_engine: Any = None  # built once per worker process, on first use
_neck: text_marks.CapturingDetector | str | None = None  # its text detector with the neck as outputs, or why not


def available() -> str | None:
    """None when the text detector can run here, else why not (one line)."""
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except Exception as e:  # noqa: BLE001 — ImportError, or a broken onnxruntime/OpenCV install
        return (
            f"the text detector is not installed ({type(e).__name__}: {e}); "
            "install it with: pip install rapidocr onnxruntime"
        )
    return None


def warm_up() -> None:
    """Import the detector before the pool forks (the engine itself is built once in each worker)."""
    if available() is None:
        import cv2  # noqa: F401
        import rapidocr  # noqa: F401


def engine():
    """The RapidOCR engine (call only when available() is None)."""
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR

        # The models are the ones inside the wheel (no download). One ONNX thread: extraction already
        # runs one worker process per core. The picture is reduced by analysed_copy(), not by the engine.
        _engine = RapidOCR(
            params={
                "Global.use_cls": False,
                "Global.log_level": "error",
                "Det.limit_type": "max",
                "Det.limit_side_len": 4096,
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                # RapidOCR turns the memory arena off; on, each detection is ~20 ms faster (bench/eval_marks.py)
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
            }
        )
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return _engine


def neck() -> text_marks.CapturingDetector | str:
    """The engine's text detector, giving its neck's features too (curate/extract/text_marks.py), or why not."""
    global _neck
    if _neck is None:
        _neck = text_marks.attach(engine())
    return _neck


@lru_cache(maxsize=1)
def engine_version() -> str:
    try:
        from importlib.metadata import version

        return f"{ENGINE_NAME} {version('rapidocr')} (PP-OCRv6 small)"
    except Exception:  # noqa: BLE001
        return ENGINE_NAME


def _ocr(eng, bgr: np.ndarray) -> list[tuple]:
    """(quad, text, score) triples from the engine."""
    out = eng(bgr)
    boxes, txts, scores = getattr(out, "boxes", None), getattr(out, "txts", None), getattr(out, "scores", None)
    if boxes is None or txts is None or scores is None:
        return []
    return list(zip(boxes, txts, scores))


def analysed_side(width: int, height: int) -> int:
    """The long side text is detected at: MAX_SIDE for pictures up to 4:3, more for wider strips (up to
    MAX_STRIP_SIDE) so that they get as many pixels as a 4:3 picture — a 1900×450 banner at 576 px shrinks its
    letters to a third, and its text is lost."""
    aspect = max(width, height) / max(1, min(width, height))
    return round(min(MAX_STRIP_SIDE, MAX_SIDE * max(1.0, aspect / (4 / 3)) ** 0.5))


def analysed_copy(im: Image.Image, max_side: int | None = None) -> Image.Image:
    """RGB copy with the long side at most `max_side` (default: analysed_side) (transparent areas on white, like
    most viewers)."""
    im = to_rgb(im, on_white=True) if im.mode != "RGB" else im
    s = (max_side or analysed_side(*im.size)) / max(im.size)
    if s < 1:
        im = im.resize(
            (max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.BILINEAR, reducing_gap=2.0
        )
    return im


def _quad_angle(q: np.ndarray) -> float:
    """Angle of the text baseline in degrees (0 = horizontal; positive = rising to the right)."""
    dx, dy = q[1][0] - q[0][0], q[1][1] - q[0][1]
    return float(-np.degrees(np.arctan2(dy, dx)))


def _regions(result, offset_y: int, w: int, h: int, pass_name: str) -> list[dict[str, Any]]:
    """Engine output as region dicts (boxes relative to the picture)."""
    out = []
    for quad, text, score in result or ():
        q = np.asarray(quad, dtype=np.float32) + np.array([0, offset_y], dtype=np.float32)
        x0, y0 = q.min(axis=0)
        x1, y1 = q.max(axis=0)
        side = np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[1] - q[0])
        out.append(
            {
                "text": str(text),
                "score": round(float(score), 3),
                "box": [
                    round(max(0.0, float(x0)) / w, 4),
                    round(max(0.0, float(y0)) / h, 4),
                    round(min(float(w), float(x1)) / w, 4),
                    round(min(float(h), float(y1)) / h, 4),
                ],
                "angle": round(_quad_angle(q), 1),
                "height": round(float(min(side)) / h, 4),
                "pass": pass_name,
            }
        )
    return out


def _overlaps(a: list[float], b: list[float]) -> bool:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])) or 1e-9
    return ix * iy / small > 0.3


def stretched_bgr(rgb: Image.Image) -> np.ndarray:
    """The copy the text detector reads: levels stretched (1 % clipped per channel), in OpenCV's BGR order."""
    return np.ascontiguousarray(np.asarray(ImageOps.autocontrast(rgb, cutoff=1))[:, :, ::-1])


def read_text(rgb: Image.Image, features: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Text regions: one pass over the whole picture, and one over the top and bottom bands with local
    contrast enhanced (CLAHE), where faint corner marks and credit lines sit. `features`, when given, gets the
    text detector's features of the whole-picture pass ("grid": text_marks.feature_grid) or why there are none
    ("error")."""
    eng = engine()
    import cv2

    bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])  # the engine takes OpenCV's BGR order
    w, h = rgb.size
    capturing = neck() if features is not None else None
    if isinstance(capturing, text_marks.CapturingDetector):
        capturing.capture, capturing.last = True, None
    try:
        found = _regions(_ocr(eng, stretched_bgr(rgb)), 0, w, h, "full")
    finally:
        if isinstance(capturing, text_marks.CapturingDetector):
            capturing.capture = False
    if features is not None:
        if isinstance(capturing, str):
            features["error"] = capturing
        elif capturing is not None and capturing.last is not None:
            features["grid"] = text_marks.feature_grid(capturing.last)
        else:
            features["error"] = "the text detector did not run on this picture"
    band = max(32, round(h * BAND))
    if h >= 3 * band:
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        clahe = cv2.createCLAHE(clipLimit=4.0, tileGridSize=(8, 2))
        for top in (0, h - band):
            enhanced = cv2.cvtColor(clahe.apply(np.ascontiguousarray(grey[top : top + band])), cv2.COLOR_GRAY2BGR)
            for r in _regions(_ocr(eng, enhanced), top, w, h, "edge-band"):
                if not any(_overlaps(r["box"], f["box"]) for f in found):
                    found.append(r)
    return found


def compute(decoded: Decoded) -> dict[str, Any]:
    if decoded.image is None:
        return {"skipped": "not decoded"}
    reason = available()
    if reason:
        return {"error": {"kind": "unavailable", "detail": reason}}
    full = decoded.image if decoded.image.mode == "RGB" else to_rgb(decoded.image, on_white=True)
    rgb = analysed_copy(full)
    out: dict[str, Any] = {"analysed_width": rgb.width, "analysed_height": rgb.height, "engine": engine_version()}
    seen: dict[str, Any] = {}
    out["texts"] = read_text(rgb, seen)
    out["text_overlay"] = _detector(
        "the text-feature head", text_marks.available() or seen.get("error"), lambda: text_marks.compute(seen["grid"])
    )
    out["overlay"] = _detector("the mark detector", overlay.available(), lambda: overlay.compute(full))
    return out


def _detector(name: str, missing: str | None, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A mark detector's probability and map (`run`), or why there are none: `missing`, or its failure in one
    line. The text marks stand without it."""
    if missing:
        return {"error": missing}
    try:
        return run()
    except Exception as e:  # noqa: BLE001 — the reason is kept
        return {"error": f"{name} failed ({type(e).__name__}: {' '.join(str(e).split())[:160]})"}

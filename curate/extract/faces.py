"""The `faces` extractor: where the faces are, and who they look like.

dlib (the `dlib-bin` wheel) with the models of the `face_recognition_models` package — everything is inside
the wheels, nothing is downloaded. Detector: dlib's HOG frontal-face detector (part of dlib itself) on a copy
reduced to MAX_SIDE px (faces from ~80 px, 8 % of the long side); pictures of 640 px or less are upsampled
once (faces from ~40 px). Per face: the box (relative to the
picture), the detector's score, and a 128-number descriptor from dlib's ResNet face-recognition model aligned
on the 5-point landmark model (two faces of one person are typically < 0.6 apart, of two people > 0.6;
dlib reports 99.38 % on LFW). Both model files are CC0 (Davis King); the 68-point model in the same package
(trained on iBUG 300-W, non-commercial) is not used. The engine loads once per worker process.
Identity and composition checks read these features; they never open an image.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from curate.extract.decode import Decoded

NAME = "faces"
VERSION = 3

# Detection size (long side). Measured on one core: HOG at 800 px 147 ms with one upsampling, 36 ms without
# (faces from ~80 px); 640 px with upsampling 90 ms; 1024 px without ≈ 60 ms. Each descriptor adds 65 ms.
MAX_SIDE = 1024
UPSAMPLE_BELOW = 640    # smaller pictures are upsampled once, so that their faces of ~40 px are found
MAX_FACES = 3           # descriptors for the largest faces only (more faces are still counted and boxed)
MIN_SCORE = -0.2        # keep weak detections too: the checks apply [identity] min_face_score

_engine: Any = None


def _models_dir() -> Path | None:
    # Located without importing face_recognition_models: its __init__ imports pkg_resources, which new
    # setuptools no longer ship.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def available() -> str | None:
    """None when the face detector can run here, else why not (one line)."""
    try:
        import dlib  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return f"the face detector is not installed ({type(e).__name__}: {e}); install it with: pip install 'curate[faces]'"
    models = _models_dir()
    if models is None or not (models / "dlib_face_recognition_resnet_model_v1.dat").is_file():
        return "the face models are not installed; install them with: pip install 'curate[faces]'"
    return None


def warm_up() -> None:
    if available() is None:
        import dlib  # noqa: F401


def engine():
    global _engine
    if _engine is None:
        import dlib

        models = _models_dir()
        _engine = (dlib.get_frontal_face_detector(),
                   dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
                   dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")))
    return _engine


@lru_cache(maxsize=1)
def engine_version() -> str:
    try:
        from importlib.metadata import version

        return f"dlib {version('dlib-bin')} HOG + resnet_model_v1"
    except Exception:  # noqa: BLE001
        return "dlib HOG + resnet_model_v1"


def compute(decoded: Decoded) -> dict[str, Any]:
    why = available()
    if why is not None:
        return {"error": {"kind": "unavailable", "detail": why}}
    if decoded.image is None:
        return {"skipped": "not decoded"}
    im = decoded.image
    im = im.convert("RGBA").convert("RGB") if ("A" in im.mode or im.mode == "P") else im.convert("RGB")
    scale = min(1.0, MAX_SIDE / max(im.size))
    if scale < 1.0:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), resample=2)
    w, h = im.size
    out: dict[str, Any] = {"engine": engine_version(), "analysed_width": w, "analysed_height": h, "faces": []}
    if min(w, h) < 40:
        return out
    rgb = np.ascontiguousarray(np.asarray(im))
    detector, landmarks, recogniser = engine()
    boxes, scores, _ = detector.run(rgb, 1 if max(w, h) <= UPSAMPLE_BELOW else 0, MIN_SCORE)
    faces = sorted(zip(boxes, scores), key=lambda bs: -(bs[0].width() * bs[0].height()))
    for i, (box, score) in enumerate(faces):
        left, top = max(0, box.left()), max(0, box.top())
        right, bottom = min(w, box.right()), min(h, box.bottom())
        face: dict[str, Any] = {
            "box": [round(left / w, 4), round(top / h, 4), round(right / w, 4), round(bottom / h, 4)],
            "score": round(float(score), 3), "size_px": int(min(box.width(), box.height()) / scale)}
        if i < MAX_FACES:
            shape = landmarks(rgb, box)
            face["descriptor"] = [round(float(v), 4) for v in recogniser.compute_face_descriptor(rgb, shape, 0)]
        out["faces"].append(face)
    return out

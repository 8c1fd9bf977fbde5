"""The `faces` extractor: where the faces are, and who they look like.

dlib (the `dlib-bin` wheel) with the models of the `face_recognition_models` package — everything is inside
the wheels, nothing is downloaded. Detector: dlib's HOG frontal-face detector (part of dlib itself) on a copy
reduced to MAX_SIDE px (faces from ~80 px, 8 % of the long side); pictures of 640 px or less are upsampled
once (faces from ~40 px). Per face: the box (relative to the picture), the detector's score, a 128-number
descriptor from dlib's ResNet face-recognition model aligned on the 5-point landmark model (two faces of
one person are typically < 0.6 apart, of two people > 0.6; dlib reports 99.38 % on LFW), and how much fine
texture the skin holds (`skin_texture`). Both model files are CC0 (Davis King); the 68-point model in the
same package (trained on iBUG 300-W, non-commercial) is not used. The engine loads once per worker process.
Identity and composition checks read these features; they never open an image.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from curate.extract.decode import Decoded, to_rgb

NAME = "faces"
VERSION = 4

# Detection size (long side). Measured on one core: HOG at 800 px 147 ms with one upsampling, 36 ms without
# (faces from ~80 px); 640 px with upsampling 90 ms; 1024 px without ≈ 60 ms. Each descriptor adds 65 ms.
MAX_SIDE = 1024
UPSAMPLE_BELOW = 640  # smaller pictures are upsampled once, so that their faces of ~40 px are found
MAX_FACES = 3  # descriptors for the largest faces only (more faces are still counted and boxed)
MIN_SCORE = -0.2  # keep weak detections too: the checks apply [identity] min_face_score
MIN_SKIN_PX = 400  # skin pixels needed before a face's skin texture is reported

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
        return (
            f"the face detector is not installed ({type(e).__name__}: {e}); "
            "install it with: pip install 'curate[faces]'"
        )
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
        if models is None:
            raise RuntimeError(available() or "face_recognition_models is not installed")
        _engine = (
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
            dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")),
        )
    return _engine


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (edges reflected) of a float32 array."""
    r = max(1, int(3 * sigma + 0.5))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(r, r) if a == axis else (0, 0) for a in (0, 1)]
        xp = np.pad(x, pad, mode="reflect")
        n = x.shape[axis]
        x = sum(k[i] * (xp[i : i + n] if axis == 0 else xp[:, i : i + n]) for i in range(2 * r + 1))
    return x


def skin_texture(y: np.ndarray, box: tuple[int, int, int, int]) -> float | None:
    """How much fine texture the skin of a face holds, in 8-bit units (over-smoothing, BLR002).

    Inside the face box (less its borders: hair, background), the fine residual |y − blur₁(y)| (σ 1 px,
    averaged over σ 2 px) is taken on the flattest half of the unclipped pixels — cheeks, forehead, chin,
    not the eyes, brows or mouth. Skin always carries pores, fine hairs, blemishes and sensor noise:
    untouched faces measured 2.2–5.8 (as JPEG q60 ≥ 1.5); a beauty filter or strong noise reduction
    flattens it to ≈ 0.5–1.3 while the eyes and mouth stay sharp (bench/eval_quality.py). None when too
    little skin is visible."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    crop = y[
        max(0, int(top + 0.1 * h)) : max(0, int(bottom - 0.05 * h)),
        max(0, int(left + 0.1 * w)) : max(0, int(right - 0.1 * w)),
    ]
    if min(crop.shape) < 16:
        return None
    fine = _gauss(np.abs(crop - _gauss(crop, 1.0)), 2.0)
    gy, gx = np.gradient(_gauss(crop, 2.0))
    coarse = np.hypot(gx, gy)
    unclipped = (crop > 20) & (crop < 235)
    if unclipped.sum() < 2 * MIN_SKIN_PX:
        return None
    skin = unclipped & (coarse <= np.median(coarse[unclipped]))
    return round(float(np.median(fine[skin])), 3)


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
    im = to_rgb(im)
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
    luma = np.asarray(im.convert("L"), dtype=np.float32)
    for i, (box, score) in enumerate(faces):
        left, top = max(0, box.left()), max(0, box.top())
        right, bottom = min(w, box.right()), min(h, box.bottom())
        face: dict[str, Any] = {
            "box": [round(left / w, 4), round(top / h, 4), round(right / w, 4), round(bottom / h, 4)],
            "score": round(float(score), 3),
            "size_px": int(min(box.width(), box.height()) / scale),
        }
        if i < MAX_FACES:
            face["skin_texture"] = skin_texture(luma, (left, top, right, bottom))
            shape = landmarks(rgb, box)
            face["descriptor"] = [round(float(v), 4) for v in recogniser.compute_face_descriptor(rgb, shape, 0)]
        out["faces"].append(face)
    return out

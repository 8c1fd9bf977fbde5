"""The `clip` stage: CLIP image embeddings of each picture and of its aspect views, and of the prompt banks.

open_clip (`pip install 'curate[clip]'`) with DEFAULT_MODEL / DEFAULT_PRETRAINED, loaded through open_clip's
own pretrained mechanism (downloaded once into the Hugging Face cache on a machine with internet), or from
`--clip-weights FILE` / $CURATE_CLIP_WEIGHTS. `--offline` never touches the network: the weights must be in
the cache or given as a file. When no weights can be had, the stage returns a "skipped" status with the reason
and the audit goes on without the CLIP checks — it never crashes or hangs (a machine without a route to the
hub is found with one 3-second probe, not the hub client's minute of retries).

Unlike the per-image extractors this one runs in the main process after them, batched (BATCH images a call)
on CPU, or on CUDA / Apple MPS when present: a model per worker process would multiply its memory. Per image
it embeds up to four views (curate/derive/embeddings.py decides what they are used for):
  full        the whole picture
  background  the picture with the person's region (from the largest detected face) filled with grey
  person      a crop of the person's region (outfit, pose)
  head        a crop around the face (hairstyle)
Without a face only `full` is computed. Embeddings are L2-normalised float16, cached per content hash under
the extractor name `clip:<model id>`, so a second audit decodes nothing and another model does not reuse them.
Prompt-bank text embeddings are cached the same way, keyed by the hash of the prompts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import numpy as np

from curate.extract.decode import Limits, decode_image, to_rgb
from curate.model import StoredFeatures, encode

NAME = "clip"
VERSION = 1

# ViT-B/32 trained on DataComp-XL: 69.2 % ImageNet zero-shot in open_clip's results table (the LAION-2B
# ViT-B/32 has 66.6 %) at the same cost; weights MIT-licensed. Measured on 2 CPU cores here: ~15 images/s
# (bench/eval_composition.py). Larger models are a --clip-model away.
DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "datacomp_xl_s13b_b90k"
# Where open_clip fetches the default weights (its pretrained table): checked without importing torch, which
# costs seconds, so an audit where the weights cannot be had stays fast.
DEFAULT_HF_REPO = "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
BATCH = 16
PROBE_TIMEOUT = 3.0
VIEWS = ("full", "background", "person", "head")


@dataclass(frozen=True)
class ClipOptions:
    model: str = DEFAULT_MODEL
    pretrained: str | None = DEFAULT_PRETRAINED  # None: random weights (tests and benchmarks only)
    weights: Path | None = None  # a local checkpoint for `model`
    offline: bool = False
    device: str = "auto"  # auto | cpu | cuda | mps
    batch_size: int = BATCH

    @staticmethod
    def from_env(**kw) -> ClipOptions:
        if kw.get("weights") is None and os.environ.get("CURATE_CLIP_WEIGHTS"):
            kw["weights"] = Path(os.environ["CURATE_CLIP_WEIGHTS"])
        if os.environ.get("CURATE_OFFLINE", "").lower() in ("1", "true", "yes"):
            kw["offline"] = True
        return ClipOptions(**{k: v for k, v in kw.items() if v is not None})


class ClipUnavailable(Exception):
    """No CLIP model can be had here and now; str(e) is one line for the user."""


@dataclass
class ClipModel:
    model: Any
    preprocess: Callable
    tokenizer: Callable
    model_id: str
    device: str


def installed() -> str | None:
    """None when open_clip and torch are installed (without importing them: torch takes seconds), else why not."""
    import importlib.util

    for module, package in (("torch", "torch"), ("open_clip", "open_clip_torch")):
        if importlib.util.find_spec(module) is None:
            return f"CLIP is not installed ({package} missing); install it with: pip install 'curate[clip]'"
    return None


class Loader:
    """The model, loaded on first need and at most once; remembers why it could not be."""

    def __init__(self, opts: ClipOptions, model: ClipModel | None = None):
        self.opts, self.model = opts, model
        self.error: str | None = None

    @cached_property
    def model_id(self) -> str:
        """Known without loading the model (a weights file is fingerprinted once)."""
        return self.model.model_id if self.model is not None else model_id(self.opts)

    def get(self) -> ClipModel | None:
        if self.model is None and self.error is None:
            try:
                quick = _default_weights_unavailable(self.opts)
                if quick:
                    raise ClipUnavailable(quick)
                self.model = load_model(self.opts)
            except ClipUnavailable as e:
                self.error = str(e)
        return self.model


def encode_vector(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, dtype=np.float16).tobytes()).decode("ascii")


def decode_vector(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype=np.float16).astype(np.float32)


def model_id(opts: ClipOptions) -> str:
    """What the cached embeddings are keyed by: the architecture and the exact weights."""
    if opts.weights is not None:
        return f"{opts.model}@file-{_file_digest(Path(opts.weights))}"
    return f"{opts.model}@{opts.pretrained or 'random-init'}"


def _file_digest(path: Path) -> str:
    """First 16 hex of SHA-256 over size, mtime and the first and last MiB: stable, and fast on 600-MB files."""
    try:
        st = path.stat()
        h = hashlib.sha256(f"{st.st_size}".encode())
        with open(path, "rb") as f:
            h.update(f.read(1 << 20))
            if st.st_size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
                h.update(f.read(1 << 20))
        return h.hexdigest()[:16]
    except OSError as e:
        raise ClipUnavailable(f"cannot read --clip-weights {path}: {e.strerror or e}") from None


def _pick_device(want: str, torch) -> str:
    if want != "auto":
        return want
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


@contextmanager
def _hub_offline():
    """Make the Hugging Face client answer from its cache only (it reads this flag at call time)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _reachable(url: str) -> str | None:
    """None when a TCP connection to the host of `url` opens within PROBE_TIMEOUT, else why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            return None
    except OSError as e:
        return f"{host} is unreachable ({e.strerror or type(e).__name__})"


_unavailable: dict[tuple, str] = {}  # per process: do not probe the network again for the same weights


def _default_weights_unavailable(opts: ClipOptions) -> str | None:
    """For the default weights only: why they cannot be had, found without importing torch; else None."""
    if opts.weights is not None or (opts.model, opts.pretrained) != (DEFAULT_MODEL, DEFAULT_PRETRAINED):
        return None
    key = (opts.model, opts.pretrained, opts.offline)
    if key in _unavailable:
        return _unavailable[key]
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    if any(isinstance(try_to_load_from_cache(DEFAULT_HF_REPO, f), str) for f in WEIGHT_FILES):
        return None
    why = _cannot_fetch(opts, os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    if why is None:
        return None
    _unavailable[key] = why
    return why


def _cannot_fetch(opts: ClipOptions, endpoint: str) -> str | None:
    """Why weights missing from the local cache cannot be downloaded now, or None when they can."""
    blocker: str | None
    if opts.offline:
        blocker = "--offline forbids downloading them"
    else:
        blocker = _reachable(endpoint)
        if blocker is None:
            return None
    return (
        f"the CLIP weights {opts.model}/{opts.pretrained} are not in the local cache and {blocker}; "
        "give --clip-weights FILE or run once with internet"
    )


def _weights_file(opts: ClipOptions) -> str:
    """A local path to the weights of (model, pretrained): from the cache, or downloaded once."""
    key = (opts.model, opts.pretrained, opts.offline)
    if key in _unavailable:
        raise ClipUnavailable(_unavailable[key])
    try:
        return _find_or_download(opts)
    except ClipUnavailable as e:
        _unavailable[key] = str(e)
        raise


def _find_or_download(opts: ClipOptions) -> str:
    from open_clip import pretrained as oc_pretrained

    cfg = oc_pretrained.get_pretrained_cfg(opts.model, opts.pretrained)
    if not cfg:
        raise ClipUnavailable(
            f"open_clip has no pretrained weights '{opts.pretrained}' for {opts.model} "
            "(see open_clip.list_pretrained())"
        )
    with _hub_offline():
        try:
            path = oc_pretrained.download_pretrained(cfg) if cfg.get("hf_hub") else _cached_url_file(cfg)
        except Exception:  # noqa: BLE001 — the client's error for "not in the cache"
            path = None
    if path:
        return path
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co") if cfg.get("hf_hub") else cfg.get("url", "")
    why = _cannot_fetch(opts, endpoint)
    if why:
        raise ClipUnavailable(why)
    where = f"{opts.model}/{opts.pretrained}"
    try:
        return oc_pretrained.download_pretrained(cfg)
    except Exception as e:  # noqa: BLE001
        raise ClipUnavailable(f"could not download the CLIP weights {where}: {type(e).__name__}: {e}") from None


def _cached_url_file(cfg: dict) -> str | None:
    url = cfg.get("url") or ""
    path = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
    return str(path) if url and path.is_file() else None


def load_model(opts: ClipOptions) -> ClipModel:
    """The CLIP model, ready for inference. Raises ClipUnavailable with a one-line reason."""
    try:
        import open_clip
        import torch
    except Exception as e:  # noqa: BLE001 — ImportError or a broken torch install
        raise ClipUnavailable(
            f"CLIP is not installed ({type(e).__name__}: {e}); install it with: pip install 'curate[clip]'"
        ) from None
    if opts.model not in open_clip.list_models():
        raise ClipUnavailable(f"open_clip has no model '{opts.model}' (see open_clip.list_models())")
    if opts.weights is not None:
        if not Path(opts.weights).is_file():
            raise ClipUnavailable(f"--clip-weights: no such file: {opts.weights}")
        source: str | None = str(opts.weights)
    elif opts.pretrained is None:
        source = None
    else:
        source = _weights_file(opts)
    device = _pick_device(opts.device, torch)
    if device == "cpu":
        # curate pins BLAS to one thread for its worker processes; this stage runs alone in the main process.
        torch.set_num_threads(os.cpu_count() or 1)
    try:
        import logging

        logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # "initialised randomly"
        model, _, preprocess = open_clip.create_model_and_transforms(opts.model, pretrained=source, device=device)
    except Exception as e:  # noqa: BLE001 — a wrong or damaged checkpoint
        raise ClipUnavailable(
            f"could not load the CLIP model {opts.model} from {source}: {type(e).__name__}: {str(e)[:200]}"
        ) from None
    model.eval()
    return ClipModel(model, preprocess, open_clip.get_tokenizer(opts.model), model_id(opts), device)


# ---- views ---------------------------------------------------------------------------------------------


def main_face(faces: dict | None, min_score: float) -> list[float] | None:
    """The largest detected face's relative box, or None."""
    found = [f for f in (faces or {}).get("faces", []) if f.get("score", 0) >= min_score]
    return found[0]["box"] if found else None


def person_box(face: list[float]) -> tuple[float, float, float, float]:
    """The region a person standing or sitting below this face occupies, roughly (relative coordinates):
    shoulders about 1.6 face widths to each side, from above the hair down to the bottom of the picture."""
    x0, y0, x1, y1 = face
    fw, fh = x1 - x0, y1 - y0
    return max(0.0, x0 - 1.6 * fw), max(0.0, y0 - 0.5 * fh), min(1.0, x1 + 1.6 * fw), 1.0


def head_box(face: list[float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = face
    fw, fh = x1 - x0, y1 - y0
    return max(0.0, x0 - 0.6 * fw), max(0.0, y0 - 0.9 * fh), min(1.0, x1 + 0.6 * fw), min(1.0, y1 + 0.5 * fh)


def views_of(im, face: list[float] | None) -> dict[str, Any]:
    """{view name: PIL image} for one picture."""
    im = to_rgb(im)
    out = {"full": im}
    if face is None:
        return out
    w, h = im.size

    def px(box):
        return (
            round(box[0] * w),
            round(box[1] * h),
            max(round(box[0] * w) + 1, round(box[2] * w)),
            max(round(box[1] * h) + 1, round(box[3] * h)),
        )

    pb, hb = px(person_box(face)), px(head_box(face))
    background = im.copy()
    background.paste((124, 116, 104), pb)  # CLIP's mean colour: the person's region carries no information
    out["background"] = background
    out["person"] = im.crop(pb)
    out["head"] = im.crop(hb)
    return out


# ---- the stage -----------------------------------------------------------------------------------------


def embed_images(
    records,
    cache,
    opts: ClipOptions,
    limits: Limits,
    min_face_score: float,
    on_progress: Callable[[int], None] | None = None,
    loader: Loader | None = None,
) -> dict[str, Any]:
    """Fill rec.features["clip"] for every readable record (from the cache where possible).

    Returns the analysis status: {"status": "ok", "model": id, "embedded": n, "from_cache": n, "seconds": s,
    "device": d} or {"status": "skipped", "reason": one line}."""
    t0 = time.perf_counter()
    loader = loader or Loader(opts)
    try:
        mid = loader.model_id
    except ClipUnavailable as e:
        return {"status": "skipped", "reason": str(e)}
    key = f"{NAME}:{mid}"
    vers = {key: VERSION}
    todo = []
    from_cache = 0
    readable = [rec for rec in records if rec.readable and rec.sha256]
    for start in range(0, len(readable), LOOKED_UP_AT_ONCE):
        part = readable[start : start + LOOKED_UP_AT_ONCE]
        found = cache.get_many([rec.sha256 for rec in part], vers, stored=True)
        for rec in part:
            cached = found.get(rec.sha256)
            if cached is not None:
                _hold(rec, cached.texts()[key])
                from_cache += 1
            else:
                todo.append(rec)
    model = loader.get() if todo else None
    if todo and model is None:
        return {"status": "skipped", "reason": loader.error or "the CLIP model is unavailable"}
    for start in range(0, len(todo), opts.batch_size):
        assert model is not None  # there is work, and a missing model returned above
        batch = todo[start : start + opts.batch_size]
        tensors, owners = [], []
        for rec in batch:
            try:
                with open(rec.abs_path, "rb") as f:
                    data = f.read(limits.max_file_bytes + 1)
            except OSError:
                continue
            decoded = decode_image(data, limits)
            if decoded.image is None:
                continue
            face = main_face(rec.features.get("faces"), min_face_score)
            for view, im in views_of(decoded.image, face).items():
                tensors.append(model.preprocess(im))
                owners.append((rec, view))
            decoded.image.close()
        vectors = _encode_images(model, tensors) if tensors else np.zeros((0, 0))
        results: dict[str, dict[str, str]] = {}
        for (rec, view), v in zip(owners, vectors):
            results.setdefault(rec.path, {})[view] = encode_vector(v)
        for rec in batch:
            if rec.path in results:
                text = encode({"model": mid, "views": results[rec.path]})
                _hold(rec, text)
                cache.put_features(rec.sha256, {key: text}, vers)
        cache.commit()
        if on_progress:
            on_progress(len(batch))
    return {
        "status": "ok",
        "model": mid,
        "device": model.device if model else None,
        "embedded": len(todo),
        "from_cache": from_cache,
        "seconds": round(time.perf_counter() - t0, 3),
    }


LOOKED_UP_AT_ONCE = 2000  # pictures whose embeddings are read from the cache in one query


def _hold(rec, text: str) -> None:
    """rec.features[NAME] = the record `text` holds: as stored text where the features are (StoredFeatures: in the
    audit's spool, not in memory), else decoded."""
    if isinstance(rec.features, StoredFeatures):
        rec.features.store(NAME, text)
    else:
        rec.features[NAME] = json.loads(text)


def _encode_images(model: ClipModel, tensors: list) -> np.ndarray:
    import torch

    with torch.no_grad():
        x = torch.stack(tensors).to(model.device)
        e = model.model.encode_image(x).float()
        e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return e.cpu().numpy()


def embed_texts(prompts: list[str], cache, opts: ClipOptions, loader: Loader | None = None) -> np.ndarray | None:
    """L2-normalised text embeddings of `prompts` (rows in order), cached by model id and prompt hash."""
    loader = loader or Loader(opts)
    try:
        mid = loader.model_id
    except ClipUnavailable:
        return None
    digest = hashlib.sha256("\n".join(prompts).encode("utf-8")).hexdigest()
    key = f"{NAME}-text:{mid}"
    cached = cache.get_features(f"text:{digest}", {key: VERSION})
    if cached is not None:  # rows once written as bare lists are never read (the cache keeps objects): embedded again
        return np.stack([decode_vector(s) for s in cached[key]["vectors"]])
    model = loader.get()
    if model is None:
        return None
    import torch

    with torch.no_grad():
        tokens = model.tokenizer(prompts).to(model.device)
        e = model.model.encode_text(tokens).float()
        e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    vectors = e.cpu().numpy()
    cache.put_features(f"text:{digest}", {key: {"vectors": [encode_vector(v) for v in vectors]}}, {key: VERSION})
    cache.commit()
    return vectors.astype(np.float16).astype(np.float32)

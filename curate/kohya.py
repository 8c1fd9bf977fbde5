"""The kohya sd-scripts dataset conventions: `N_token class` folders, dataset_config.toml, buckets."""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.rules import RulesError, load_toml

CONCEPT_FOLDER = re.compile(r"^(\d+)_(.*)$")
CONFIG_NAMES = ("dataset_config.toml", "dataset.toml", "config_dataset.toml")


def parse_concept_folder(name: str) -> tuple[int, str] | None:
    """`10_hanako woman` → (10, 'hanako woman'); None when kohya would skip the folder."""
    m = CONCEPT_FOLDER.match(name)
    if not m:
        return None
    return int(m.group(1)), m.group(2).strip()


@dataclass
class Subset:
    image_dir: Path | None
    options: dict[str, Any]  # general ← dataset ← subset, as sd-scripts inherits them


@dataclass
class KohyaConfig:
    path: Path
    subsets: list[Subset] = field(default_factory=list)
    general: dict[str, Any] = field(default_factory=dict)


def find_config(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        p = root / name
        if p.is_file():
            return p
    return None


def _resolve_dir(value: str, config: Path, root: Path) -> Path:
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    for base in (config.parent, root, Path.cwd()):
        if (base / p).is_dir():
            return (base / p).resolve()
    return (config.parent / p).resolve()


# Values kohya cannot train with are refused here, with the reason, instead of crashing or spinning later
# (`min_bucket_reso = 0` divides by zero, `max_bucket_reso = 1e12` builds buckets for ever, nan has no size).
MAX_SIDE = 16384  # no base model trains anywhere near this; sd-scripts' own presets stop at 2048-4096


def _whole(value: Any, key: str, path: Path, lo: int, hi: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise RulesError(f"{path}: {key} must be a whole number, not {value!r} (kohya would refuse it)")
    if not lo <= int(value) <= hi:
        raise RulesError(f"{path}: {key} = {int(value)} is outside {lo}–{hi}; kohya cannot train with it")
    return int(value)


def check_options(opts: dict[str, Any], path: Path) -> None:
    """Refuse, with one line, option values kohya cannot train with (types and ranges)."""
    if "resolution" in opts:
        try:
            w, h = parse_resolution(opts["resolution"])
        except RulesError as e:
            raise RulesError(f"{path}: {e}") from None
        if not (64 <= w <= MAX_SIDE and 64 <= h <= MAX_SIDE):
            raise RulesError(f"{path}: resolution {opts['resolution']!r} must be between 64 and {MAX_SIDE} px per side")
    for key, lo, hi in (
        ("min_bucket_reso", 1, MAX_SIDE),
        ("max_bucket_reso", 1, MAX_SIDE),
        ("bucket_reso_steps", 1, 1024),
        ("num_repeats", 1, 1_000_000),
    ):
        if key in opts:
            _whole(opts[key], key, path, lo, hi)
    for key in ("enable_bucket", "bucket_no_upscale", "is_reg"):
        if key in opts and not isinstance(opts[key], bool):
            raise RulesError(f"{path}: {key} must be true or false, not {opts[key]!r}")
    for key in ("image_dir", "caption_extension", "class_tokens"):
        if key in opts and (not isinstance(opts[key], str) or "\x00" in opts[key]):
            raise RulesError(f"{path}: {key} must be text without NUL characters, not {opts[key]!r}")


def load_config(path: Path, root: Path) -> KohyaConfig:
    """Parse a kohya dataset_config.toml. Raises RulesError with a one-line reason when it is malformed."""
    doc = load_toml(path, "kohya config")
    general = doc.get("general", {})
    datasets = doc.get("datasets", [])
    if not isinstance(general, dict) or not isinstance(datasets, list):
        raise RulesError(f"{path}: [general] must be a table and [[datasets]] an array of tables")
    cfg = KohyaConfig(path=path, general=dict(general))
    for ds in datasets:
        if not isinstance(ds, dict):
            raise RulesError(f"{path}: each [[datasets]] entry must be a table")
        ds_opts = {**general, **{k: v for k, v in ds.items() if k != "subsets"}}
        subsets = ds.get("subsets", [])
        if not isinstance(subsets, list):
            raise RulesError(f"{path}: [[datasets.subsets]] must be an array of tables")
        for sub in subsets:
            if not isinstance(sub, dict):
                raise RulesError(f"{path}: each [[datasets.subsets]] entry must be a table")
            opts = {**ds_opts, **sub}
            check_options(opts, path)
            image_dir = sub.get("image_dir")
            cfg.subsets.append(Subset(_resolve_dir(str(image_dir), path, root) if image_dir else None, opts))
        if not subsets:
            check_options(ds_opts, path)
            cfg.subsets.append(Subset(None, ds_opts))
    return cfg


def parse_resolution(value: Any) -> tuple[int, int]:
    """kohya accepts `resolution = 512`, `[512, 768]` (width, height) or the string `"512,768"`."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise RulesError(f"resolution must be a number or [width, height], not {value!r}")
    if isinstance(value, (list, tuple)) and any(isinstance(v, float) and not math.isfinite(v) for v in value):
        raise RulesError(f"resolution must be a number or [width, height], not {value!r}")
    if isinstance(value, (int, float)):
        return int(value), int(value)
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,x× ]+", value.strip()) if p]
        value = [int(p) for p in parts] if all(p.isdigit() for p in parts) else None
    if isinstance(value, (list, tuple)) and len(value) in (1, 2) and all(isinstance(v, (int, float)) for v in value):
        return (int(value[0]), int(value[-1]))
    raise RulesError(f"resolution must be a number or [width, height], not {value!r}")


# --- buckets -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def make_buckets(resolution: tuple[int, int], min_reso: int, max_reso: int, steps: int) -> tuple[tuple[int, int], ...]:
    """The bucket sizes sd-scripts' BucketManager.make_buckets() builds for `enable_bucket`."""
    max_area = resolution[0] * resolution[1]
    side = int(math.sqrt(max_area)) // steps * steps
    buckets = {(side, side)}
    width = min_reso
    while width <= max_reso:
        height = min(max_reso, (max_area // width) // steps * steps)
        if height >= min_reso:
            buckets.add((width, height))
            buckets.add((height, width))
        width += steps
    return tuple(sorted(buckets))


@dataclass(frozen=True)
class BucketFit:
    bucket: tuple[int, int]
    scale: float  # >1 means the image is enlarged to cover the bucket
    crop_fraction: float  # share of the (scaled) image cut away to fit the bucket


def fit_bucket(width: int, height: int, buckets) -> BucketFit:
    """How sd-scripts places one image: the bucket of nearest aspect ratio, scaled to cover, then cropped."""
    aspect = width / height
    bucket = min(buckets, key=lambda b: (abs(b[0] / b[1] - aspect), -b[0] * b[1]))
    return _cover(width, height, bucket)


def fit_no_upscale(width: int, height: int, resolution: tuple[int, int], steps: int) -> BucketFit:
    """`bucket_no_upscale`: the image keeps its size (shrunk to the area if larger), rounded down to steps."""
    max_area = resolution[0] * resolution[1]
    w, h = float(width), float(height)
    if w * h > max_area:
        s = math.sqrt(max_area / (w * h))
        w, h = w * s, h * s
    bw = max(steps, int(w) // steps * steps)
    bh = max(steps, int(h) // steps * steps)
    return _cover(width, height, (bw, bh))


def _cover(width: int, height: int, bucket: tuple[int, int]) -> BucketFit:
    scale = max(bucket[0] / width, bucket[1] / height)
    covered = (width * scale) * (height * scale)
    return BucketFit(bucket, scale, max(0.0, 1.0 - bucket[0] * bucket[1] / covered))

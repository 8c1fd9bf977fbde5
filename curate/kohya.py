"""What kohya will do with a dataset: its folder names, configs, caption files and buckets.

Every rule here follows sd-scripts as read at kohya-ss/sd-scripts commit 0005867b (`SD_SCRIPTS`), and names the
function it follows, so the next kohya change is easy to check against. This is curate's own code: tests compare it
with figures worked by hand from kohya's code and with the issue's measurements (tests/test_kohya_fidelity.py).
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from curate.rules import RulesError, load_toml

SD_SCRIPTS = "kohya-ss/sd-scripts@0005867b"
CONFIG_NAMES = ("dataset_config.toml", "dataset.toml", "config_dataset.toml")


class NotATrainingConfig(RulesError):
    """A TOML or JSON file that is not a kohya training config (no training argument in it)."""


class KohyaRefuses(RulesError):
    """A config sd-scripts itself would refuse or crash on (stated as kohya would say it)."""


# --- folder names ------------------------------------------------------------------------------


def folder_repeats(name: str) -> tuple[int | None, str]:
    """`10_hanako woman` → (10, 'hanako woman'); (None, '') when the name does not start with a number.

    config_util.generate_dreambooth_subsets_config_by_subdirs / extract_dreambooth_params: the repeats are
    `int(name.split("_")[0])` — Python's int(), so ` 5_x` and `+3_x` are 5 and 3, and `10` is 10 repeats with no
    class tokens; the tokens are the rest joined by "_", not stripped."""
    head, *rest = name.split("_")
    try:
        repeats = int(head)
    except ValueError:
        return None, ""
    return repeats, "_".join(rest)


def parse_concept_folder(name: str) -> tuple[int, str] | None:
    """(repeats, class tokens) of a folder kohya trains; None where it skips it (no number, or fewer than 1
    repeats: `generate` drops `num_repeats < 1`)."""
    repeats, tokens = folder_repeats(name)
    if repeats is None or repeats < 1:
        return None
    return repeats, tokens


def caption_extension(value: str) -> str:
    """DreamBoothSubset.__init__: an extension without its dot gets one (`txt` → `.txt`)."""
    return value if not value or value.startswith(".") else "." + value


def face_crop_stem(stem: str) -> str | None:
    """DreamBoothDataset.read_caption: `face_1_2_3_4` (a face-crop name, ≥ 5 parts split on "_") also reads the
    caption of `face`. kohya splits the whole path; curate splits the file name (the same unless the folder names
    hold underscores)."""
    parts = stem.split("_")
    return "_".join(parts[:-4]) if len(parts) >= 5 else None


CAPTION_LINES = re.compile(r"\r\n|\r|\n")  # open(..., "rt") reads \r\n, \r and \n as line ends


# --- dataset_config.toml -----------------------------------------------------------------------

# config_util.ConfigSanitizer: the keys voluptuous accepts at each level; any other key fails the whole config
# ("extra keys not allowed"). Newer sd-scripts versions add keys: [kohya] extra_config_keys in a rules file adds
# them here.
_SUBSET_ASCENDABLE = {
    "color_aug", "face_crop_aug_range", "flip_aug", "num_repeats", "random_crop", "shuffle_caption", "keep_tokens",
    "keep_tokens_separator", "secondary_separator", "caption_separator", "enable_wildcard", "token_warmup_min",
    "token_warmup_step", "caption_prefix", "caption_suffix", "custom_attributes", "resize_interpolation",
    "caption_dropout_every_n_epochs", "caption_dropout_rate", "caption_tag_dropout_rate",
    "caption_extension", "class_tokens", "cache_info",
}  # fmt: skip
_SUBSET_ONLY = {"image_dir", "is_reg", "alpha_mask", "metadata_file", "conditioning_data_dir"}
_DATASET_ASCENDABLE = {
    "batch_size", "bucket_no_upscale", "bucket_reso_steps", "enable_bucket", "max_bucket_reso", "min_bucket_reso",
    "resolution", "network_multiplier", "validation_seed", "validation_split",
}  # fmt: skip
GENERAL_KEYS = frozenset(_DATASET_ASCENDABLE | _SUBSET_ASCENDABLE)
DATASET_KEYS = frozenset(GENERAL_KEYS | {"subsets"})
SUBSET_KEYS = frozenset(_SUBSET_ASCENDABLE | _SUBSET_ONLY)

# musubi-tuner (kohya-ss/musubi-tuner, the trainer of many Flux / HunyuanVideo / Wan LoRAs): one level of
# [[datasets]], each naming its folder `image_directory`, with [general] defaults.
MUSUBI_DIR_KEYS = ("image_directory", "video_directory")


@dataclass
class Subset:
    image_dir: Path | None  # where the folder is on this machine; None when it is not here
    options: dict[str, Any]  # general ← dataset ← subset, as sd-scripts inherits them
    declared_dir: str | None = None  # image_dir as the config writes it
    note: str | None = None  # how image_dir was matched to a folder here, said once in the report
    found_relative: bool = False  # a relative image_dir found inside the dataset (the report groups these)


@dataclass
class KohyaConfig:
    path: Path
    subsets: list[Subset] = field(default_factory=list)
    general: dict[str, Any] = field(default_factory=dict)
    trainer: str = "sd-scripts"  # or "musubi-tuner"

    def sets(self, key: str) -> bool:
        """Whether any subset (through its own table, its dataset's or [general]) sets this option."""
        return any(key in s.options for s in self.subsets)

    def first(self, key: str) -> Any:
        """The option's value in the first subset that sets it (what the report's header states)."""
        return next((s.options[key] for s in self.subsets if key in s.options), None)


def find_config(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        p = root / name
        if p.is_file():
            return p
    return None


def _last_part(value: str) -> str:
    """The folder name at the end of a path written on any machine (`C:\\Users\\me\\dataset`, `/content/x/`)."""
    pure = PureWindowsPath(value) if ("\\" in value or re.match(r"^[A-Za-z]:", value)) else PurePosixPath(value)
    return pure.name


def _is_absolute(value: str) -> bool:
    """Absolute on the machine that wrote it: `/content/…` or `C:\\Users\\…`."""
    return PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()


def locate_dir(value: str, root: Path, folders: list[str] | None = None) -> tuple[Path | None, str | None]:
    """Where a subset's image_dir is on this machine, and a note when that is not where the config says.

    sd-scripts opens image_dir as written: an absolute path, or one relative to where training is started
    (curate assumes: from here). A config written on another machine (`/content/drive/…/dataset`,
    `C:\\Users\\…`) is matched to a folder of the dataset by its last part."""
    p = Path(value)
    if p.is_dir():
        return p.resolve(), None
    relative = not _is_absolute(value)
    name = _last_part(value)
    said = (
        f"image_dir '{value}' is relative to where training starts; found here as"
        if relative
        else f"image_dir '{value}' is not on this machine; using"
    )
    if relative and (root / value).is_dir():
        return (root / value).resolve(), f"{said} ./{PurePosixPath(value).as_posix()}"
    if name:
        root_r = root.resolve()
        if root_r.name == name:
            return root_r, f"{said} the audited folder ./"
        for rel in folders or ():
            if rel and PurePosixPath(rel).name == name:
                return (root / rel).resolve(), f"{said} ./{rel}"
    return None, f"image_dir '{value}' is not on this machine and no folder here is named '{name}'"


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
        ("num_repeats", -1_000_000, 1_000_000),
        ("keep_tokens", 0, 10_000),
        ("max_token_length", 75, 225),
    ):
        if key in opts and opts[key] is not None:
            _whole(opts[key], key, path, lo, hi)
    for key in ("enable_bucket", "bucket_no_upscale", "is_reg", "enable_wildcard", "shuffle_caption"):
        if key in opts and not isinstance(opts[key], bool):
            raise RulesError(f"{path}: {key} must be true or false, not {opts[key]!r}")
    for key in ("image_dir", "caption_extension", "class_tokens", "metadata_file", "keep_tokens_separator"):
        if key in opts and (not isinstance(opts[key], str) or "\x00" in opts[key]):
            raise RulesError(f"{path}: {key} must be text without NUL characters, not {opts[key]!r}")


def _unknown(keys, allowed: frozenset[str], extra: frozenset[str], where: str, path: Path) -> None:
    """config_util.ConfigSanitizer.sanitize_user_config: voluptuous refuses any key it does not know."""
    for key in keys:
        if key not in allowed and key not in extra:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise KohyaRefuses(
                f"{path}: unknown key '{key}' in {where}{hint}: sd-scripts rejects the whole config "
                '("extra keys not allowed"); if your sd-scripts version accepts it, add it to [kohya] '
                "extra_config_keys in a --rules file"
            )


def load_config(
    path: Path, root: Path, folders: list[str] | None = None, extra_keys: frozenset[str] = frozenset()
) -> KohyaConfig:
    """Parse a kohya dataset_config.toml (sd-scripts or musubi-tuner). Raises RulesError with a one-line reason
    when it is malformed or kohya would refuse it; `folders` (relative folders of the dataset) let a subset
    written on another machine be matched here by name."""
    doc = load_toml(path, "kohya config")
    general = doc.get("general", {})
    datasets = doc.get("datasets", [])
    if not isinstance(general, dict) or not isinstance(datasets, list):
        raise RulesError(f"{path}: [general] must be a table and [[datasets]] an array of tables")
    musubi = any(isinstance(ds, dict) and any(k in ds for k in MUSUBI_DIR_KEYS) for ds in datasets)
    cfg = KohyaConfig(path=path, general=dict(general), trainer="musubi-tuner" if musubi else "sd-scripts")
    if not musubi:
        _unknown([k for k in doc if k not in ("general", "datasets")], frozenset(), extra_keys, "the top level", path)
        _unknown(general, GENERAL_KEYS, extra_keys, "[general]", path)
    for ds in datasets:
        if not isinstance(ds, dict):
            raise RulesError(f"{path}: each [[datasets]] entry must be a table")
        if not musubi:
            _unknown(ds, DATASET_KEYS, extra_keys, "[[datasets]]", path)
        ds_opts = {**general, **{k: v for k, v in ds.items() if k != "subsets"}}
        subsets = ds.get("subsets", [])
        if not isinstance(subsets, list):
            raise RulesError(f"{path}: [[datasets.subsets]] must be an array of tables")
        if musubi:
            subsets = [{"image_dir": ds.get("image_directory") or ds.get("video_directory")}] if not subsets else []
        for sub in subsets:
            if not isinstance(sub, dict):
                raise RulesError(f"{path}: each [[datasets.subsets]] entry must be a table")
            if not musubi:
                _unknown(sub, SUBSET_KEYS, extra_keys, "[[datasets.subsets]]", path)
            opts = {**ds_opts, **{k: v for k, v in sub.items() if v is not None}}
            check_options(opts, path)
            if "caption_extension" in opts:
                opts["caption_extension"] = caption_extension(opts["caption_extension"])
            declared = str(sub["image_dir"]) if sub.get("image_dir") else None
            where, note = locate_dir(declared, root, folders) if declared else (None, None)
            relative = declared is not None and not _is_absolute(declared)
            cfg.subsets.append(Subset(where, opts, declared, note, relative and where is not None and note is not None))
        if not subsets:
            check_options(ds_opts, path)
            cfg.subsets.append(Subset(None, ds_opts))
    # A config with one folder that is not here is about the folder being audited (a config shipped with a
    # published dataset names the trainer's own path).
    dirs = [s for s in cfg.subsets if s.declared_dir is not None]
    if len(dirs) == 1 and dirs[0].image_dir is None:
        dirs[0].image_dir = root.resolve()
        dirs[0].note = f"image_dir '{dirs[0].declared_dir}' is not on this machine; using the audited folder ./"
    return cfg


def parse_resolution(value: Any) -> tuple[int, int]:
    """kohya accepts `resolution = 512`, `[512, 768]` (width, height) or, on its command line, `"512,768"`."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise RulesError(f"resolution must be a number or [width, height], not {value!r}")
    if isinstance(value, (list, tuple)) and any(isinstance(v, float) and not math.isfinite(v) for v in value):
        raise RulesError(f"resolution must be a number or [width, height], not {value!r}")
    if isinstance(value, (int, float)):
        return int(value), int(value)
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,x× ]+", value.strip()) if p]
        value = [int(p) for p in parts] if parts and all(p.isdigit() for p in parts) else None
    if isinstance(value, (list, tuple)) and len(value) in (1, 2) and all(isinstance(v, (int, float)) for v in value):
        return (int(value[0]), int(value[-1]))
    raise RulesError(f"resolution must be a number or [width, height], not {value!r}")


# --- buckets -----------------------------------------------------------------------------------


def adjust_min_max(resolution: tuple[int, int], min_reso: int, max_reso: int, steps: int) -> tuple[int, int]:
    """BaseDataset.adjust_min_max_bucket_reso_by_steps: min rounded down and max up to the step; kohya then stops
    ("min_bucket_reso must be equal or less than resolution") when min > the short side of the resolution or
    max < its long side."""
    if min_reso % steps:
        min_reso -= min_reso % steps
    if max_reso % steps:
        max_reso += steps - max_reso % steps
    if min(resolution) < min_reso:
        raise KohyaRefuses(
            f"min_bucket_reso {min_reso} (rounded to {steps} px steps) is larger than the resolution's short side "
            f'{min(resolution)}: sd-scripts stops with "min_bucket_reso must be equal or less than resolution"'
        )
    if max(resolution) > max_reso:
        raise KohyaRefuses(
            f"max_bucket_reso {max_reso} (rounded to {steps} px steps) is smaller than the resolution's long side "
            f'{max(resolution)}: sd-scripts stops with "max_bucket_reso must be equal or greater than resolution"'
        )
    return min_reso, max_reso


@functools.lru_cache(maxsize=64)
def make_buckets(resolution: tuple[int, int], min_reso: int, max_reso: int, steps: int) -> tuple[tuple[int, int], ...]:
    """model_util.make_bucket_resolutions: the square of area ≤ resolution², then for each width from min to max
    in steps the tallest height (≤ max) within that area, both ways round; sorted, as kohya keeps them."""
    max_area = resolution[0] * resolution[1]
    side = int(math.sqrt(max_area) // steps) * steps
    buckets = {(side, side)}
    width = min_reso
    while width <= max_reso:
        height = min(max_reso, int((max_area // width) // steps) * steps)
        if height >= min_reso:
            buckets.add((width, height))
            buckets.add((height, width))
        width += steps
    return tuple(sorted(buckets))


@dataclass(frozen=True)
class Buckets:
    """How one subset is bucketed (BaseDataset.make_buckets)."""

    resolution: tuple[int, int]
    no_upscale: bool  # bucket_no_upscale with enable_bucket
    steps: int
    predefined: tuple[tuple[int, int], ...]  # the buckets to choose from; empty under bucket_no_upscale


def plan_buckets(
    resolution: tuple[int, int], enable_bucket: bool, no_upscale: bool, min_reso: int, max_reso: int, steps: int
) -> Buckets:
    """BaseDataset.make_buckets: without enable_bucket one fixed bucket, the resolution (min/max ignored); with it,
    min/max adjusted (and refused) by adjust_min_max, then the predefined list — or, under bucket_no_upscale,
    none: each image gets a bucket from its own size (min/max ignored, as kohya warns)."""
    if not enable_bucket:
        return Buckets(resolution, False, steps, (resolution,))
    min_reso, max_reso = adjust_min_max(resolution, min_reso, max_reso, steps)
    if no_upscale:
        return Buckets(resolution, True, steps, ())
    return Buckets(resolution, False, steps, make_buckets(resolution, min_reso, max_reso, steps))


def concept_buckets(c: Any) -> Buckets:
    """plan_buckets for one subset's settings (a model.Concept)."""
    return plan_buckets(
        c.resolution, c.enable_bucket, c.bucket_no_upscale, c.min_bucket_reso, c.max_bucket_reso, c.bucket_reso_steps
    )


def shortfall(width: int, height: int, plan: Buckets, fit: BucketFit) -> float:
    """How far below the training resolution an image is: the factor kohya enlarges it by, or, under
    bucket_no_upscale (nothing is enlarged), how far its side falls short of the resolution's area."""
    if plan.no_upscale:
        return math.sqrt((plan.resolution[0] * plan.resolution[1]) / (width * height))
    return fit.scale


@dataclass(frozen=True)
class BucketFit:
    bucket: tuple[int, int]
    resized: tuple[int, int]  # the size kohya resizes the image to before cropping it to the bucket
    scale: float  # >1 means the image is enlarged
    crop_fraction: float  # share of the resized image cut away to fit the bucket


def _round_to_steps(x: float, steps: int) -> int:
    """BucketManager.round_to_steps."""
    n = int(x + 0.5)
    return n - n % steps


def select_bucket(width: int, height: int, plan: Buckets) -> BucketFit:
    """BucketManager.select_bucket, for an image of its *stored* size (kohya reads it with imagesize and ignores
    EXIF orientation)."""
    aspect = width / height
    if not plan.no_upscale:
        # The image's own size if it is a bucket; else the first bucket in sorted order with the least aspect error
        # (numpy argmin keeps the first of equals).
        if (width, height) in plan.predefined:
            reso = (width, height)
        else:
            errors = [abs(w / h - aspect) for w, h in plan.predefined]
            reso = plan.predefined[errors.index(min(errors))]
        scale = reso[1] / height if aspect > reso[0] / reso[1] else reso[0] / width
        resized = (int(width * scale + 0.5), int(height * scale + 0.5))
    else:
        max_area = plan.resolution[0] * plan.resolution[1]
        steps = plan.steps
        if width * height > max_area:
            # Shrunk to the area keeping the aspect; one side rounded to the step, the other derived from it:
            # whichever of the two roundings keeps the aspect closer.
            rw = math.sqrt(max_area * aspect)
            rh = max_area / rw
            bw = _round_to_steps(rw, steps)
            bh_w = _round_to_steps(bw / aspect, steps)
            bh = _round_to_steps(rh, steps)
            bw_h = _round_to_steps(bh * aspect, steps)
            err_w = abs(bw / bh_w - aspect) if bh_w else math.inf
            err_h = abs(bw_h / bh - aspect) if bh else math.inf
            if err_w < err_h:
                resized = (bw, int(bw / aspect + 0.5))
            else:
                resized = (int(bh * aspect + 0.5), bh)
        else:
            resized = (width, height)
        reso = (resized[0] - resized[0] % steps, resized[1] - resized[1] % steps)
        scale = resized[0] / width
    area = resized[0] * resized[1]
    crop = 1.0 - (reso[0] * reso[1]) / area if area else 1.0
    return BucketFit(reso, resized, scale, max(0.0, crop))


# --- the training config (train_network.py --config_file X.toml; the kohya_ss GUI's saved settings) ---------

# train_util.read_config_from_file flattens every section of the TOML into command-line arguments; the GUI's
# JSON names a few of them differently.
GUI_NAMES = {"max_resolution": "resolution"}
DATASET_OPTIONS = (
    "resolution",
    "enable_bucket",
    "min_bucket_reso",
    "max_bucket_reso",
    "bucket_reso_steps",
    "bucket_no_upscale",
    "caption_extension",
)
CAPTION_OPTIONS = ("max_token_length", "shuffle_caption", "keep_tokens", "keep_tokens_separator")
TRAINING_MARKERS = ("pretrained_model_name_or_path", "train_data_dir", "output_dir", "network_module")
_INTS = ("min_bucket_reso", "max_bucket_reso", "bucket_reso_steps", "max_token_length", "keep_tokens")


@dataclass
class TrainingConfig:
    path: Path
    options: dict[str, Any]  # the dataset options it passes (the layer dataset_config.toml falls back to)
    captions: dict[str, Any]  # max_token_length, shuffle_caption, keep_tokens
    train_data_dir: str | None = None
    reg_data_dir: str | None = None
    dataset_config: str | None = None
    base_model: str | None = None  # 'sdxl' / 'sd2' / 'flux' where the config says which


def load_training_config(path: Path) -> TrainingConfig:
    """A kohya training config: the TOML `--config_file` that kohya_ss and the Colab notebooks save per run
    (sections such as [training_arguments] flattened, as sd-scripts reads them), or the kohya_ss GUI's JSON."""
    if path.suffix.lower() == ".json":
        from curate.files import NotRegularFile, TooLarge, read_bounded
        from curate.rules import MAX_TOML_BYTES

        try:
            doc = json.loads(read_bounded(path, MAX_TOML_BYTES).decode("utf-8"))
        except FileNotFoundError:
            raise RulesError(f"training config not found: {path}") from None
        except (OSError, NotRegularFile, TooLarge, ValueError, RecursionError) as e:
            raise RulesError(f"cannot read training config {path}: {e}") from None
        if not isinstance(doc, dict):
            raise RulesError(f"{path}: a kohya_ss settings file is a JSON object")
        flat = {GUI_NAMES.get(k, k): v for k, v in doc.items()}
    else:
        doc = load_toml(path, "training config")
        flat = {}
        for key, value in doc.items():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat[key] = value
    if not any(k in flat for k in TRAINING_MARKERS):
        raise NotATrainingConfig(
            f"{path} does not look like a kohya training config (none of {', '.join(TRAINING_MARKERS)}); "
            "a dataset_config.toml goes to --kohya-config"
        )
    for key in _INTS:  # the GUI writes some numbers as text
        if isinstance(flat.get(key), str) and flat[key].strip().isdigit():
            flat[key] = int(flat[key])
    options = {k: flat[k] for k in DATASET_OPTIONS if flat.get(k) not in (None, "")}
    if "caption_extension" in options:
        options["caption_extension"] = caption_extension(str(options["caption_extension"]))
    check_options(options, path)
    captions = {k: flat[k] for k in CAPTION_OPTIONS if flat.get(k) not in (None, "")}
    check_options({k: v for k, v in captions.items() if k != "keep_tokens_separator"}, path)
    base = None
    if flat.get("sdxl") is True or "sdxl" in str(flat.get("model_list", "")).lower():
        base = "sdxl"
    elif flat.get("flux1_checkbox") is True:
        base = "flux"
    elif flat.get("v2") is True:
        base = "sd2"

    def text(key: str) -> str | None:
        value = flat.get(key)
        return str(value) if isinstance(value, str) and value.strip() else None

    return TrainingConfig(
        path, options, captions, text("train_data_dir"), text("reg_data_dir"), text("dataset_config"), base
    )


def find_training_config(root: Path) -> tuple[TrainingConfig | None, str | None]:
    """A training config beside the dataset — in it or its model/ folder (kohya_ss saves one per run there), and,
    when the audited folder is a kohya_ss project's img/, in the project — when exactly one is there, read, with
    a note saying it was found; else None and a note saying why none was used (or None when there is none). Only
    files named like configs are read."""
    root = root.resolve()
    places = [root, root / "model"]
    if root.name == "img":
        places += [root.parent, root.parent / "model"]
    found: list[TrainingConfig] = []
    broken: list[str] = []
    for place in dict.fromkeys(places):
        try:
            names = sorted(
                p
                for p in place.iterdir()
                if p.suffix.lower() in (".toml", ".json")
                and any(w in p.name.lower() for w in ("config", "settings", "lora", "train"))
                and p.is_file()
            )
        except OSError:
            continue
        for p in names:
            if p.name in CONFIG_NAMES or p.stat().st_size > (1 << 20):
                continue
            try:
                found.append(load_training_config(p))
            except NotATrainingConfig:
                continue
            except RulesError as e:
                broken.append(f"{p.name}: {e}")
    if len(found) == 1:
        return found[0], f"training config {found[0].path} found beside the dataset: its settings apply"
    if broken and not found:
        return None, f"a training config beside the dataset could not be used ({broken[0]}); not applied"
    if len(found) > 1:
        listed = ", ".join(str(t.path) for t in found[:4])
        return None, f"{len(found)} training configs beside the dataset ({listed}): give --kohya-training-config"
    return None, None

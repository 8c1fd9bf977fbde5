"""Scan: walk a dataset folder in a fixed order and say what kohya would see in it. Reads no image."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from curate.files import NotRegularFile, TooLarge, read_bounded
from curate.kohya import KohyaConfig, find_config, load_config, parse_concept_folder, parse_resolution
from curate.model import Caption, Concept, ImageRecord
from curate.rules import BaseModel, RulesError, Settings

# What curate decodes. kohya itself reads fewer of these (rules/checks.toml [kohya] image_extensions).
IMAGE_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".webp",
        ".bmp",
        ".gif",
        ".avif",
        ".heic",
        ".heif",
        ".tif",
        ".tiff",
        ".jxl",
    }
)
# Sidecar files that describe an image: `<name or stem><suffix>` (gallery-dl writes `photo.jpg.json`,
# Lightroom `photo.xmp`, a saved page `photo.html`, saved HTTP headers `photo.headers.json`).
SIDECAR_SUFFIXES = (".xmp", ".json", ".html", ".htm", ".headers.json")
# Per-folder metadata written by gallery-dl.
FOLDER_SIDECARS = ("info.json",)

# Never descend into these: caches and outputs of training tools and of curate itself.
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "curate-out"})


@dataclass
class Scan:
    root: Path
    images: list[ImageRecord]
    orphan_captions: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    outside: list[tuple[str, str]] = field(default_factory=list)  # (folder, target) reached through a link
    layout: str = "plain"  # 'kohya' (N_ folders), 'dataset_config', 'plain'
    config_path: str | None = None
    config_problem: str | None = None
    caption_extension: str = ".caption"
    caption_extension_source: str = "kohya default"
    caption_extension_why: str = ""  # one clause saying why, where the source alone does not
    resolution: tuple[int, int] = (1024, 1024)
    resolution_source: str = "base model"
    # What the audit assumes kohya will be told, and where each value comes from: (setting, value, source).
    assumptions: list[tuple[str, str, str]] = field(default_factory=list)


def _walk(root: Path, skipped: list[tuple[str, str]], outside: list[tuple[str, str]] | None = None):
    """Yield (dir relative POSIX path, sorted file names) depth-first, following directory symlinks once.
    Folders that cannot be listed go to `skipped`; folders reached through a link that leaves `root`, to
    `outside` (relative path, where it leads)."""
    seen: set[tuple[int, int]] = set()
    real_root = root.resolve()
    stack = [root]
    while stack:
        d = stack.pop()
        rel = d.relative_to(root).as_posix() if d != root else ""
        try:
            st = d.stat()
        except OSError as e:
            skipped.append((rel, f"cannot open folder: {e.strerror or e}"))
            continue
        if (st.st_dev, st.st_ino) in seen:
            skipped.append((rel, "symbolic link loop (folder already scanned)"))
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as err:
            skipped.append((rel, f"cannot list folder: {err.strerror or err}"))
            continue
        files, subdirs = [], []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name not in SKIP_DIRS:
                    subdirs.append(Path(entry.path))
                    if outside is not None and entry.is_symlink():
                        target = Path(entry.path).resolve()
                        if target != real_root and real_root not in target.parents:
                            outside.append((Path(entry.path).relative_to(root).as_posix(), str(target)))
            else:
                files.append(entry.name)
        yield rel, files
        stack.extend(reversed(subdirs))


def _read_caption(path: Path, max_bytes: int) -> tuple[str | None, str | None]:
    try:
        data = read_bounded(path, max_bytes)
    except TooLarge:
        return None, "too-large"
    except NotRegularFile:
        return None, "not-a-file"
    except OSError:
        return None, "unreadable"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not-utf8"
    if "\x00" in text:  # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after every letter
        return None, "nul-bytes"
    return text, None


def _concept_for(folder: str, cfg: KohyaConfig | None, root: Path, defaults: dict) -> Concept:
    opts = dict(defaults)
    repeats: int | None = None
    tokens = ""
    is_reg = False
    if cfg is not None:
        abs_dir = (root / folder).resolve()
        for sub in cfg.subsets:
            if sub.image_dir is not None and sub.image_dir == abs_dir:
                opts.update({k: v for k, v in sub.options.items() if k in opts})
                repeats = int(sub.options.get("num_repeats", 1))
                tokens = str(sub.options.get("class_tokens", ""))
                is_reg = bool(sub.options.get("is_reg", False))
                break
    else:
        # The nearest `N_token class` folder above the image (kohya_ss projects keep them under img/).
        for part in reversed(PurePosixPath(folder).parts if folder else ()):
            parsed = parse_concept_folder(part)
            if parsed:
                repeats, tokens = parsed
                break
    return Concept(
        folder=folder,
        repeats=repeats,
        tokens=tokens,
        caption_extension=str(opts["caption_extension"]),
        resolution=parse_resolution(opts["resolution"]),
        enable_bucket=bool(opts["enable_bucket"]),
        min_bucket_reso=int(opts["min_bucket_reso"]),
        max_bucket_reso=int(opts["max_bucket_reso"]),
        bucket_no_upscale=bool(opts["bucket_no_upscale"]),
        is_reg=is_reg,
    )


def scan_dataset(
    root: Path,
    settings: Settings,
    base_model: BaseModel,
    kohya_config: Path | None = None,
    caption_extension: str | None = None,
) -> Scan:
    """Walk `root`; pair images with captions; read kohya's folder names and dataset_config.toml."""
    root = Path(root)
    kohya = settings.section("kohya")
    known_caption_exts = {e.lower() for e in settings.cfg.caption.known_extensions}
    scan = Scan(root=root, images=[])

    cfg: KohyaConfig | None = None
    config_path = kohya_config or find_config(root)
    if config_path is not None:
        scan.config_path = str(config_path)
        try:
            cfg = load_config(Path(config_path), root)
        except RulesError as e:
            if kohya_config is not None:
                raise
            scan.config_problem = str(e)

    defaults = {
        "caption_extension": kohya["default_caption_extension"],
        "resolution": base_model.resolution,
        # Without a config curate assumes bucketing on, as kohya_ss and most trainers run it.
        "enable_bucket": cfg is None,
        "min_bucket_reso": kohya["min_bucket_reso"],
        "max_bucket_reso": base_model.max_bucket_reso,
        "bucket_no_upscale": False,
    }
    if cfg is not None:
        # sd-scripts defaults when the config leaves a key out.
        defaults["max_bucket_reso"] = 1024
    if caption_extension:
        known_caption_exts.add(caption_extension.lower())

    listing = list(_walk(root, scan.skipped, scan.outside))
    caption_counts: Counter[str] = Counter()
    for _folder, files in listing:
        stems = {os.path.splitext(f)[0] for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS}
        for f in files:
            stem, ext = os.path.splitext(f)
            if ext.lower() in known_caption_exts and stem in stems:
                caption_counts[ext] += 1

    if caption_extension:
        defaults["caption_extension"] = caption_extension
        scan.caption_extension_source = "--caption-extension"
    elif cfg is not None and any("caption_extension" in s.options for s in cfg.subsets):
        scan.caption_extension_source = "dataset_config.toml"
        defaults_ext = next(s.options["caption_extension"] for s in cfg.subsets if "caption_extension" in s.options)
        scan.caption_extension = str(defaults_ext)
    elif cfg is not None:
        scan.caption_extension_source = "kohya default (dataset_config.toml sets none)"
    elif caption_counts:
        defaults["caption_extension"] = caption_counts.most_common(1)[0][0]
        scan.caption_extension_source = "detected"
        scan.caption_extension_why = (
            f"{caption_counts.most_common(1)[0][1]} of {sum(caption_counts.values())} "
            f"captions beside images here use it; sd-scripts' own default is "
            f"{kohya['default_caption_extension']}, so pass --caption_extension to it"
        )
    if scan.caption_extension_source == "kohya default":
        scan.caption_extension_why = (
            "no caption files beside the images; sd-scripts' default (the kohya_ss GUI "
            "passes .txt; give --caption-extension)"
        )
    if scan.caption_extension_source != "dataset_config.toml":
        scan.caption_extension = defaults["caption_extension"]
    if cfg is not None and any("resolution" in s.options for s in cfg.subsets):
        scan.resolution_source = "dataset_config.toml"
        scan.resolution = parse_resolution(
            next(s.options["resolution"] for s in cfg.subsets if "resolution" in s.options)
        )
    else:
        scan.resolution = (base_model.resolution, base_model.resolution)

    scan.layout = (
        "dataset_config"
        if cfg is not None
        else (
            "kohya"
            if any(parse_concept_folder(p) for folder, _ in listing for p in folder.split("/") if p)
            else "plain"
        )
    )

    max_caption = settings.cfg.caption.max_bytes
    loaded_exts = {e.lower() for e in (*kohya["image_extensions"], *kohya["plugin_image_extensions"])}
    concepts: dict[str, Concept] = {}
    for folder, files in listing:
        if folder not in concepts:
            try:
                concepts[folder] = _concept_for(folder, cfg, root, defaults)
            except RulesError as e:
                if scan.config_problem is None:
                    scan.config_problem = str(e)
                concepts[folder] = _concept_for(folder, None, root, {**defaults, "resolution": base_model.resolution})
        concept = concepts[folder]
        file_set = set(files)
        by_stem: dict[str, list[str]] = {}
        images = []
        for f in files:
            stem, ext = os.path.splitext(f)
            if ext.lower() in IMAGE_EXTENSIONS:
                images.append(f)
            elif ext.lower() in known_caption_exts:
                by_stem.setdefault(stem, []).append(f)
        image_stems = set()
        for f in images:
            stem, ext = os.path.splitext(f)
            image_stems.add(stem)
            rel = f"{folder}/{f}" if folder else f
            abs_path = root / rel
            try:
                size = abs_path.stat().st_size
            except OSError:
                size = 0
            want = stem + concept.caption_extension
            others = tuple(sorted(os.path.splitext(c)[1] for c in by_stem.get(stem, []) if c != want))
            if want in file_set:
                cap_rel = f"{folder}/{want}" if folder else want
                text, problem = _read_caption(root / cap_rel, max_caption)
                caption = Caption(cap_rel, text, problem, others)
            else:
                caption = Caption(None, None, None, others)
            sidecars = tuple(
                f"{folder}/{n}" if folder else n
                for n in sorted({base + suffix for base in (f, stem) for suffix in SIDECAR_SUFFIXES} & file_set)
            ) + tuple(f"{folder}/{n}" if folder else n for n in FOLDER_SIDECARS if n in file_set)
            scan.images.append(
                ImageRecord(
                    rel, str(abs_path), size, concept, caption, sidecars=sidecars, trained=ext.lower() in loaded_exts
                )
            )
        for stem, caps in by_stem.items():
            if stem not in image_stems:
                scan.orphan_captions.extend(f"{folder}/{c}" if folder else c for c in caps)
    scan.assumptions = _assumptions(scan, cfg, base_model, concepts, kohya)
    return scan


def _assumptions(
    scan: Scan, cfg: KohyaConfig | None, base_model: BaseModel, concepts: dict[str, Concept], kohya: dict
) -> list[tuple[str, str, str]]:
    """Every training setting the audit's advice depends on, its value, and where the value came from."""
    with_images = {id(r.concept) for r in scan.images}  # one pass over the images, not one per concept
    used = [concepts[f] for f in sorted(concepts) if id(concepts[f]) in with_images]
    used = used or list(concepts.values())

    def source(key: str) -> str:
        if cfg is not None and any(key in s.options for s in cfg.subsets):
            return scan.config_path and Path(scan.config_path).name or "dataset_config.toml"
        if cfg is not None:
            return "sd-scripts default (the config does not set it)"
        return "assumed: no dataset_config.toml"

    def value(get, fmt=str) -> str:
        values = sorted({get(c) for c in used}, key=str)
        return fmt(values[0]) if len(values) == 1 else "varies by folder: " + ", ".join(map(fmt, values))

    def px(r: tuple[int, int]) -> str:
        return f"{r[0]} px" if r[0] == r[1] else f"{r[0]}×{r[1]} px"

    res_source = (
        source("resolution")
        if scan.resolution_source != "base model"
        else (
            f"base model {base_model.name} ({base_model.description}); --base-model or the config's resolution "
            "changes it"
        )
    )
    onoff = {True: "on", False: "off"}
    out = [
        ("resolution", value(lambda c: c.resolution, px), res_source),
        (
            "enable_bucket",
            value(lambda c: c.enable_bucket, onoff.get),
            source("enable_bucket")
            if cfg is not None
            else "assumed on: no dataset_config.toml (kohya_ss runs with buckets on)",
        ),
        ("min_bucket_reso", value(lambda c: c.min_bucket_reso, lambda v: f"{v} px"), source("min_bucket_reso")),
        (
            "max_bucket_reso",
            value(lambda c: c.max_bucket_reso, lambda v: f"{v} px"),
            source("max_bucket_reso")
            if cfg is not None
            else f"assumed for base model {base_model.name}: no dataset_config.toml",
        ),
        ("bucket_reso_steps", f"{kohya['bucket_reso_steps']} px", "sd-scripts default"),
        ("bucket_no_upscale", value(lambda c: c.bucket_no_upscale, onoff.get), source("bucket_no_upscale")),
        (
            "caption_extension",
            value(lambda c: c.caption_extension),
            scan.caption_extension_source + (f": {scan.caption_extension_why}" if scan.caption_extension_why else ""),
        ),
    ]
    return out

"""Scan: walk a dataset folder in a fixed order and say what kohya would see in it. Reads no image."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from curate.files import NotRegularFile, TooLarge, read_bounded
from curate.kohya import (
    DATASET_OPTIONS,
    KohyaConfig,
    Subset,
    TrainingConfig,
    caption_extension,
    concept_buckets,
    face_crop_stem,
    find_config,
    folder_repeats,
    load_config,
    locate_dir,
    parse_concept_folder,
    parse_resolution,
)
from curate.model import Caption, Concept, ImageRecord
from curate.rules import BaseModel, RulesError, Settings, Trainer, resolve_trainer

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
    not_training: list[tuple[str, int]] = field(default_factory=list)  # (folder, images): kohya_ss model/, log/
    layout: str = "plain"  # 'kohya_ss' (img/ reg/), 'kohya' (N_ folders), 'concept', 'dataset_config', 'plain'
    trainer: Trainer | None = None
    training: TrainingConfig | None = None  # the training config read (--kohya-training-config or found)
    train_dir: str | None = None  # without a config: the folder kohya is pointed at (train_data_dir), relative
    reg_dir: str | None = None  # and reg_data_dir
    notes: list[str] = field(default_factory=list)  # how the config's folders were found here, said once
    config_path: str | None = None
    config_problem: str | None = None
    caption_extension: str = ".caption"
    caption_extension_source: str = "trainer default"
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
        files: list[str] = []
        folders: list[tuple[str, str, bool]] = []  # (name, path, is a link)
        try:  # names only: a folder of a million pictures would hold a million DirEntry objects while sorted
            with os.scandir(d) as listing:
                for entry in listing:
                    if entry.name.startswith("."):
                        continue
                    try:
                        is_dir = entry.is_dir(follow_symlinks=True)
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        files.append(entry.name)
                    elif entry.name not in SKIP_DIRS:
                        folders.append((entry.name, entry.path, outside is not None and entry.is_symlink()))
        except OSError as err:
            skipped.append((rel, f"cannot list folder: {err.strerror or err}"))
            continue
        files.sort()
        folders.sort()
        subdirs = [Path(path) for _, path, _ in folders]
        for _, path, link in folders:
            if link and outside is not None:
                target = Path(path).resolve()
                if target != real_root and real_root not in target.parents:
                    outside.append((Path(path).relative_to(root).as_posix(), str(target)))
        yield rel, files
        stack.extend(reversed(subdirs))


def _read_caption(path: str | Path, max_bytes: int) -> tuple[str | None, str | None, bool]:
    """(text, problem, starts with a byte-order mark), as DreamBoothDataset.read_caption reads it: UTF-8, the
    BOM kept (open(..., encoding="utf-8")); an empty file or one that is not UTF-8 stops kohya's training."""
    try:
        data = read_bounded(path, max_bytes)
    except TooLarge:
        return None, "too-large", False
    except NotRegularFile:
        return None, "not-a-file", False
    except OSError:
        return None, "unreadable", False
    if not data:
        return "", "empty-file", False
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not-utf8", bom
    if "\x00" in text:  # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after every letter
        return None, "nul-bytes", bom
    return text.removeprefix("\ufeff"), None, bom


def _training_dirs(
    root: Path, training: TrainingConfig | None, folders: list[str], notes: list[str]
) -> tuple[str | None, str | None] | None:
    """(train, reg) folders, relative to the dataset, that a training config names (train_data_dir,
    reg_data_dir), matched here as a dataset_config's image_dir is; None when it names none."""
    if training is None or training.train_data_dir is None:
        return None
    out: list[str | None] = []
    for value in (training.train_data_dir, training.reg_data_dir):
        if value is None:
            out.append(None)
            continue
        where, note = locate_dir(value, root, folders)
        root_r = root.resolve()
        if where is not None and (where == root_r or root_r in where.parents):
            rel = where.relative_to(root_r).as_posix()
            out.append("" if rel == "." else rel)
            if note:
                notes.append(note.replace("image_dir", training.path.name + ":", 1))
        else:
            out.append(None)
            notes.append(f"{training.path.name}: {value} is not the audited folder or inside it")
    return out[0], out[1]


def _layout(
    root: Path, listing: list[tuple[str, list[str]]], given: tuple[str | None, str | None] | None = None
) -> tuple[str, str | None, str | None]:
    """(layout, training folder, regularisation folder) as kohya would be pointed at this dataset without a config.

    - kohya_ss project: `img/` holding `N_name` folders (train_data_dir) beside `reg/` (reg_data_dir), `model/`,
      `log/`;
    - kohya: `N_name` folders directly inside the audited folder (it is train_data_dir);
    - concept: the audited folder is itself one `N_name` folder;
    - plain: none of these (a dataset_config.toml will name the folders)."""
    if given is not None and given[0] is not None:
        return ("kohya_ss" if given[0] == "img" else "kohya"), given[0], given[1]
    children: dict[str, list[str]] = {}
    for folder, _files in listing:
        parts = PurePosixPath(folder).parts
        if len(parts) == 1:
            children.setdefault("", []).append(parts[0])
        elif len(parts) == 2:
            children.setdefault(parts[0], []).append(parts[1])

    def numbered(names: list[str]) -> bool:
        return any(folder_repeats(n)[0] is not None for n in names)

    top = children.get("", [])
    if "img" in top and numbered(children.get("img", [])):
        return "kohya_ss", "img", "reg" if "reg" in top else None
    if numbered(top):
        return "kohya", "", None
    if parse_concept_folder(root.resolve().name):
        return "concept", None, None
    return "plain", None, None


def _why_not_trained(folder: str, layout: str, train: str | None, reg: str | None) -> tuple[str, str | None]:
    """(reason kohya does not train images here or '', the concept folder name that holds them) for a folder
    relative to the dataset, where kohya is pointed at `train` (and `reg`) without a config.
    config_util.generate_dreambooth_subsets_config_by_subdirs lists only the direct sub-folders of
    train_data_dir; train_util.glob_images is not recursive."""
    parts = PurePosixPath(folder).parts if folder else ()
    if layout == "concept":
        return (
            ("", None)
            if not parts
            else (f"in the sub-folder {folder}/: kohya reads only the images directly inside a concept folder", None)
        )
    for base in (b for b in (train, reg) if b is not None):
        bparts = PurePosixPath(base).parts if base else ()
        if parts[: len(bparts)] != bparts:
            continue
        rest = parts[len(bparts) :]
        where = f"{base}/" if base else "the dataset folder"
        if not rest:
            return f"directly in {where}: kohya trains only images inside N_name folders", None
        name = rest[0]
        repeats, _ = folder_repeats(name)
        concept = "/".join((*bparts, name))
        if repeats is None:
            return f"{concept}/ has no N_ repeats prefix: kohya skips the folder", concept
        if repeats < 1:
            return f"{concept}/ has {repeats} repeats: kohya ignores folders with fewer than 1", concept
        if len(rest) > 1:
            return (
                f"in the sub-folder {folder}/: kohya reads only the images directly inside {concept}/ "
                "(its search is not recursive)",
                concept,
            )
        return "", concept
    outside = " and ".join(f"{b}/" for b in (train, reg) if b)
    return f"outside {outside}: not part of the kohya_ss project's training data", None


def _concept(folder: str, opts: dict[str, Any], repeats: int | None, tokens: str, is_reg: bool) -> Concept:
    return Concept(
        folder=folder,
        repeats=repeats,
        tokens=tokens,
        caption_extension=caption_extension(str(opts["caption_extension"])),
        resolution=parse_resolution(opts["resolution"]),
        enable_bucket=bool(opts["enable_bucket"]),
        min_bucket_reso=int(opts["min_bucket_reso"]),
        max_bucket_reso=int(opts["max_bucket_reso"]),
        bucket_no_upscale=bool(opts["bucket_no_upscale"]),
        is_reg=is_reg,
        bucket_reso_steps=int(opts["bucket_reso_steps"]),
        enable_wildcard=bool(opts.get("enable_wildcard", False)),
        shuffle_caption=bool(opts.get("shuffle_caption", False)),
        keep_tokens=int(opts.get("keep_tokens") or 0),
        keep_tokens_separator=str(opts.get("keep_tokens_separator") or ""),
        caption_separator=str(opts.get("caption_separator") or ","),
        max_token_length=int(opts.get("max_token_length") or 75),
    )


def _validate(concept: Concept) -> None:
    """Raise KohyaRefuses where sd-scripts would stop on this subset's bucket settings."""
    concept_buckets(concept)


def _fine_tuning_captions(sub: Subset, root: Path, max_bytes: int) -> dict[str, str] | None:
    """A fine-tuning subset's captions from its metadata_file (FineTuningDataset: `caption`, else `tags`; both
    joined by the caption separator), keyed by image file stem. None when the file cannot be read."""
    value = sub.options.get("metadata_file")
    if not value:
        return None
    path = Path(str(value))
    if not path.is_file():
        located, _ = locate_dir(str(path.parent), root)
        path = (located or root) / path.name
    try:
        doc = json.loads(read_bounded(path, max_bytes * 1000).decode("utf-8"))
    except (OSError, NotRegularFile, TooLarge, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    sep = str(sub.options.get("caption_separator", ","))
    out: dict[str, str] = {}
    for key, md in doc.items():
        if not isinstance(md, dict):
            continue
        caption, tags = md.get("caption"), md.get("tags")
        if caption is None:
            caption, tags = tags, None
        text = str(caption or "") + (sep + str(tags) if tags else "")
        out[PurePosixPath(str(key).replace("\\", "/")).stem] = text
    return out


def scan_dataset(
    root: Path,
    settings: Settings,
    base_model: BaseModel,
    kohya_config: Path | None = None,
    caption_extension_given: str | None = None,
    trainer: Trainer | None = None,
    training: TrainingConfig | None = None,
) -> Scan:
    """Walk `root`; pair images with captions; say, as kohya would, which images are trained and how. The
    training config (`training`), when given, is the command line sd-scripts falls back to."""
    root = Path(root)
    trainer = trainer or resolve_trainer(None)
    known_caption_exts = {e.lower() for e in settings.cfg.caption.known_extensions}
    scan = Scan(root=root, images=[], trainer=trainer, training=training)
    listing = list(_walk(root, scan.skipped, scan.outside))
    folders = [f for f, _ in listing]

    cfg: KohyaConfig | None = None
    config_path = kohya_config or find_config(root)
    extra_keys = frozenset(settings.cfg.kohya.extra_config_keys)
    if config_path is not None:
        scan.config_path = str(config_path)
        try:
            cfg = load_config(Path(config_path), root, folders, extra_keys)
        except RulesError as e:
            if kohya_config is not None:
                raise
            scan.config_problem = str(e)

    if cfg is not None and cfg.trainer == "musubi-tuner":
        # musubi-tuner's config has no command-line layer: its own defaults apply, whatever --trainer says.
        trainer = scan.trainer = resolve_trainer("musubi-tuner", explicit=True)
        scan.notes.append(
            "musubi-tuner config: its dataset defaults apply; buckets are estimated with sd-scripts' rule at "
            "musubi-tuner's 16 px step (its own bucket selector is not modelled)"
        )
    # The command-line layer sd-scripts falls back to: the trainer's values; the resolution from the base model.
    defaults: dict[str, Any] = {
        "resolution": base_model.resolution,
        **trainer.options,
        **(training.options if training else {}),
        **(training.captions if training else {}),
    }
    training_name = training.path.name if training else ""
    if caption_extension_given:
        known_caption_exts.add(caption_extension_given.lower())
    caption_counts: Counter[str] = Counter()
    for _, files in listing:  # names split one folder at a time, not all held at once (hundreds of MB at a million)
        stems = {stem for stem, ext in map(os.path.splitext, files) if ext.lower() in IMAGE_EXTENSIONS}
        for stem, ext in map(os.path.splitext, files):
            if ext.lower() in known_caption_exts and stem in stems:
                caption_counts[ext] += 1
        del stems
    config_sets_ext = cfg is not None and cfg.sets("caption_extension")
    trainer_ext = str(defaults["caption_extension"])
    if caption_extension_given:
        defaults["caption_extension"] = caption_extension_given
        scan.caption_extension_source = "--caption-extension"
    elif training is not None and "caption_extension" in training.options and not config_sets_ext:
        scan.caption_extension_source = training_name
    elif config_sets_ext:
        assert cfg is not None
        scan.caption_extension_source = Path(str(config_path)).name
        defaults["caption_extension"] = cfg.first("caption_extension")
    elif trainer.is_default and caption_counts and caption_counts.most_common(1)[0][0] != trainer_ext:
        # The trainer was not named: the captions here say which extension the user set in it.
        ext, n = caption_counts.most_common(1)[0]
        defaults["caption_extension"] = ext
        scan.caption_extension_source = "detected"
        scan.caption_extension_why = (
            f"{n} of {sum(caption_counts.values())} captions beside images here use it, but the {trainer.description} "
            f"read {trainer_ext}: set the caption extension to {ext} in your trainer (sd-scripts: "
            f"--caption_extension {ext})"
        )
    else:
        scan.caption_extension_source = f"{trainer.name} default"
        if not caption_counts:
            scan.caption_extension_why = "no caption files beside the images"
    scan.caption_extension = caption_extension(str(defaults["caption_extension"]))

    concepts: dict[str, Concept] = {}
    reasons: dict[str, str] = {}
    ft_captions: dict[str, dict[str, str] | None] = {}
    max_caption = settings.cfg.caption.max_bytes
    if cfg is not None:
        scan.layout = "dataset_config"
        root_r = root.resolve()
        by_folder: dict[str, Subset] = {}
        relative = [s for s in cfg.subsets if s.found_relative]
        if relative:
            names = ", ".join(f"'{s.declared_dir}'" for s in relative)
            them = "it" if len(relative) == 1 else "them"
            scan.notes.append(
                f"image_dir {names}: relative, so kohya reads {them} from where training starts; curate found "
                f"{them} in the audited folder — start training there"
            )
        for sub in cfg.subsets:
            if sub.note and not sub.found_relative:
                scan.notes.append(sub.note)
            if sub.image_dir is None:
                continue
            if sub.image_dir != root_r and root_r not in sub.image_dir.parents:
                scan.notes.append(f"image_dir {sub.declared_dir} is outside the audited folder: not audited")
                continue
            rel = sub.image_dir.relative_to(root_r).as_posix()
            rel = "" if rel == "." else rel
            if rel in by_folder:  # DreamBoothDataset: a second subset with the same image_dir is ignored
                continue
            by_folder[rel] = sub
        for folder in folders:
            sub_or_none = by_folder.get(folder)
            if sub_or_none is None:
                concept = _concept(folder, {**defaults, **_general(cfg)}, None, "", False)
                holder = next((f for f in by_folder if folder.startswith(f + "/") or f == ""), None)
                reasons[folder] = (
                    f"in the sub-folder {folder}/ of a subset: kohya reads only the images directly inside "
                    "image_dir (its search is not recursive)"
                    if holder is not None
                    else f"{folder or 'this folder'} is not the image_dir of any subset in {Path(cfg.path).name}"
                )
            else:
                opts = {**defaults, **sub_or_none.options}
                n_repeats = int(opts.get("num_repeats", 1))
                concept = _concept(
                    folder, opts, n_repeats, str(opts.get("class_tokens") or ""), bool(opts.get("is_reg", False))
                )
                if n_repeats < 1:
                    reasons[folder] = f"num_repeats = {n_repeats}: kohya ignores subsets with fewer than 1 repeat"
                if "metadata_file" in opts:
                    ft_captions[folder] = _fine_tuning_captions(sub_or_none, root, max_caption)
            try:
                _validate(concept)
            except RulesError as e:
                if kohya_config is not None:
                    raise RulesError(f"{config_path}: {e}") from None
                if scan.config_problem is None:
                    scan.config_problem = f"{config_path}: {e}"
                concept = _concept(
                    folder,
                    {**defaults, "enable_bucket": concept.enable_bucket},
                    concept.repeats,
                    concept.tokens,
                    concept.is_reg,
                )
            concepts[folder] = concept
    else:
        layout, train, reg = _layout(root, listing, _training_dirs(root, training, folders, scan.notes))
        scan.layout = layout
        scan.train_dir, scan.reg_dir = train, reg
        concept_name = root.resolve().name
        for folder in folders:
            repeats: int | None = None
            tokens = ""
            is_reg = False
            if layout == "plain":
                # kohya reads no folder names here; a config will point at the folders.
                holder = next((p for p in reversed(PurePosixPath(folder).parts) if parse_concept_folder(p)), None)
                if holder:
                    repeats, tokens = parse_concept_folder(holder) or (None, "")
            elif layout == "concept":
                reason, _ = _why_not_trained(folder, layout, train, reg)
                repeats, tokens = parse_concept_folder(concept_name) or (None, "")
                if reason:
                    reasons[folder] = reason
            else:
                reason, holder = _why_not_trained(folder, layout, train, reg)
                if holder is not None:
                    r, tokens = folder_repeats(PurePosixPath(holder).name)
                    repeats = r if r is not None and r >= 1 else None
                    is_reg = reg is not None and holder.split("/")[0] == reg
                if reason:
                    reasons[folder] = reason
            concept = _concept(folder, defaults, repeats, tokens, is_reg)
            try:
                _validate(concept)
            except RulesError as e:
                raise RulesError(f"the trainer's settings ({trainer.name}): {e}") from None
            concepts[folder] = concept

    if cfg is not None and cfg.sets("resolution"):
        scan.resolution_source = Path(str(config_path)).name
        scan.resolution = parse_resolution(cfg.first("resolution"))
    elif training is not None and "resolution" in training.options:
        scan.resolution_source = training_name
        scan.resolution = parse_resolution(training.options["resolution"])
    elif "resolution" in trainer.options:
        scan.resolution_source = f"{trainer.name} default"
        scan.resolution = parse_resolution(trainer.options["resolution"])
    else:
        scan.resolution = (base_model.resolution, base_model.resolution)

    kohya = settings.cfg.kohya
    loaded = [*kohya.image_extensions, *kohya.plugin_image_extensions]
    loaded_exts = {*loaded, *(e.upper() for e in loaded)}  # train_util.IMAGE_EXTENSIONS: ".png" and ".PNG" only
    under = path_joiner(root)
    for folder, files in listing:
        concept = concepts[folder]
        file_set = set(files)
        has_sidecars = any(f.endswith(SIDECAR_SUFFIXES) for f in files) or any(n in file_set for n in FOLDER_SIDECARS)
        by_stem: dict[str, list[str]] = {}
        images = []
        for f in files:
            stem, ext = os.path.splitext(f)
            if ext.lower() in IMAGE_EXTENSIONS:
                images.append(f)
            elif ext.lower() in known_caption_exts:
                by_stem.setdefault(stem, []).append(f)
        if reasons.get(folder, "").startswith("outside "):
            # A kohya_ss project's model/ (trained LoRAs, sample images) and log/: not training data, not audited.
            if images:
                scan.not_training.append((folder, len(images)))
            continue
        image_stems = set()
        read_captions: set[str] = set()
        metadata = ft_captions.get(folder)
        for f in images:
            stem, ext = os.path.splitext(f)
            image_stems.add(stem)
            rel = f"{folder}/{f}" if folder else f
            abs_path = under(rel)
            try:
                size = os.stat(abs_path).st_size
            except OSError:
                size = 0
            why_not = reasons.get(folder, "")
            if folder in ft_captions:
                meta_name = str(concepts[folder].folder)
                if metadata is None:
                    caption = Caption(None, None, None, ())
                elif stem in metadata:
                    caption = Caption(f"{meta_name}:metadata_file", metadata[stem], None, ())
                else:
                    caption = Caption(None, None, None, ())
                    why_not = why_not or "not listed in the subset's metadata_file: kohya fine-tuning trains only those"
            else:
                ext_c = concept.caption_extension
                candidates = [stem + ext_c]
                face = face_crop_stem(stem)
                if face:
                    candidates.append(face + ext_c)
                want = next((c for c in candidates if c in file_set), None)
                others = tuple(sorted(os.path.splitext(c)[1] for c in by_stem.get(stem, []) if c != want))
                if want is not None:
                    read_captions.add(want)
                    cap_rel = f"{folder}/{want}" if folder else want
                    text, problem, bom = _read_caption(under(cap_rel), max_caption)
                    caption = Caption(cap_rel, text, problem, others, bom)
                else:
                    caption = Caption(None, None, None, others)
            trained = ext in loaded_exts and not why_not
            scan.images.append(
                ImageRecord(
                    rel,
                    abs_path,
                    size,
                    concept,
                    caption,
                    sidecars=_sidecars(folder, f, stem, file_set) if has_sidecars else (),
                    trained=trained,
                    not_trained=why_not,
                )
            )
        for stem, caps in by_stem.items():
            if stem not in image_stems:
                scan.orphan_captions.extend(f"{folder}/{c}" if folder else c for c in caps if c not in read_captions)
    scan.assumptions = _assumptions(scan, cfg, base_model, concepts, trainer)
    return scan


def path_joiner(root: Path) -> Callable[[str], str]:
    """str(root / rel) for relative POSIX paths `rel`, without building a Path: the scan joins two per image."""
    prefix = "" if str(root) == "." else os.path.join(str(root), "")
    if os.sep == "/":
        return lambda rel: prefix + rel
    return lambda rel: prefix + rel.replace("/", os.sep)  # pragma: no cover - Windows


def _general(cfg: KohyaConfig) -> dict[str, Any]:
    """The dataset options of a config's [general]: they apply to every folder, also those no subset names."""
    return {k: v for k, v in cfg.general.items() if k in DATASET_OPTIONS}


def _sidecars(folder: str, name: str, stem: str, file_set: set[str]) -> tuple[str, ...]:
    def rel(n: str) -> str:
        return f"{folder}/{n}" if folder else n

    own = sorted({base + suffix for base in (name, stem) for suffix in SIDECAR_SUFFIXES} & file_set)
    return tuple(rel(n) for n in own) + tuple(rel(n) for n in FOLDER_SIDECARS if n in file_set)


def _assumptions(
    scan: Scan, cfg: KohyaConfig | None, base_model: BaseModel, concepts: dict[str, Concept], trainer: Trainer
) -> list[tuple[str, str, str]]:
    """Every training setting the audit's advice depends on, its value, and where the value came from."""
    trained = {id(r.concept) for r in scan.images if r.trained}
    used = [concepts[f] for f in sorted(concepts) if id(concepts[f]) in trained]
    used = used or list(concepts.values())
    config_name = Path(str(scan.config_path)).name if cfg is not None else ""
    trainer_source = f"{trainer.name} default"

    training = scan.training

    def source(key: str) -> str:
        if cfg is not None and cfg.sets(key):
            return config_name
        if training is not None and key in training.options:
            return training.path.name
        if cfg is not None:
            return f"{trainer_source} ({config_name} does not set it)"
        return trainer_source

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
    why_trainer = (
        "curate's default: most LoRA trainers run sd-scripts through the kohya_ss GUI; --trainer sd-scripts for "
        "its command line"
        if trainer.is_default
        else f"--trainer {trainer.name}"
    )
    if cfg is not None and cfg.trainer == "musubi-tuner":
        why_trainer = f"{config_name} is a musubi-tuner config"

    def shown(v: Any) -> str:
        return onoff[v] if isinstance(v, bool) else str(v)

    from_training = [(k, shown(v), training.path.name) for k, v in training.captions.items()] if training else []
    return [
        ("trainer", trainer.description, why_trainer),
        ("resolution", value(lambda c: c.resolution, px), res_source),
        ("enable_bucket", value(lambda c: c.enable_bucket, onoff.get), source("enable_bucket")),
        ("min_bucket_reso", value(lambda c: c.min_bucket_reso, lambda v: f"{v} px"), source("min_bucket_reso")),
        ("max_bucket_reso", value(lambda c: c.max_bucket_reso, lambda v: f"{v} px"), source("max_bucket_reso")),
        ("bucket_reso_steps", value(lambda c: c.bucket_reso_steps, lambda v: f"{v} px"), source("bucket_reso_steps")),
        ("bucket_no_upscale", value(lambda c: c.bucket_no_upscale, onoff.get), source("bucket_no_upscale")),
        (
            "caption_extension",
            value(lambda c: c.caption_extension),
            scan.caption_extension_source + (f": {scan.caption_extension_why}" if scan.caption_extension_why else ""),
        ),
        *from_training,
    ]

"""The typed settings: one frozen dataclass per section of rules/checks.toml.

rules/checks.toml holds the values and says where each comes from; this module holds their types. Every
layer (checks.toml, a profile, a `--rules` file) is validated against these types when it is loaded, so a
wrong value is one line and exit code 2, never a traceback in the middle of an audit. A test keeps the two
files in step (every key here is in checks.toml and the other way round).

Checks read `ctx.cfg.<section>.<key>` (typed, so a misspelt name fails the type check, not the audit).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, get_type_hints


@dataclass(frozen=True)
class Decode:
    max_pixels: int
    max_file_bytes: int
    timeout_seconds: float
    full_decode_max_pixels: int
    memory_budget_mb: int


@dataclass(frozen=True)
class Resolution:
    error_upscale: float
    warn_upscale: float
    max_crop_fraction: float


@dataclass(frozen=True)
class Duplicate:
    phash_max_distance: int
    dhash_max_distance: int
    across_folders: bool
    colour_min_chroma: float
    colour_max_changed_share: float
    clip_min_cosine: float


@dataclass(frozen=True)
class Caption:
    max_bytes: int
    known_extensions: list[str]


@dataclass(frozen=True)
class Kohya:
    image_extensions: list[str]
    plugin_image_extensions: list[str]
    extra_config_keys: list[str]


@dataclass(frozen=True)
class Rights:
    stock_agencies: list[str]
    noai_keywords: list[str]


@dataclass(frozen=True)
class Consent:
    require_subject_consent: bool
    manifest_name: str


@dataclass(frozen=True)
class Quality:
    flat_art_fraction: float


@dataclass(frozen=True)
class Frame:
    min_bar_fraction: float
    max_other_axis_fraction: float
    min_transparent_fraction: float


@dataclass(frozen=True)
class Noise:
    warn_sigma: float
    error_sigma: float
    max_whiteness: float


@dataclass(frozen=True)
class Blur:
    max_edge_sharpness: float
    max_detail_fraction: float


@dataclass(frozen=True)
class Smoothing:
    max_skin_texture: float
    min_face_px: int


@dataclass(frozen=True)
class Upscaled:
    min_probability: float
    error_upscale: float


@dataclass(frozen=True)
class Compression:
    error_quality: int
    warn_quality: int
    warn_blockiness: float


@dataclass(frozen=True)
class Marks:
    min_confidence: float
    corner_zone: float
    edge_zone: float
    min_repeats: int
    min_diagonal_angle: float
    signature_max_words: int
    signature_max_chars: int
    min_overlay_name_height: float
    overlay_min_probability: float
    overlay_min_region: float
    text_overlay_min_probability: float
    text_overlay_min_region: float
    text_overlay_scene_below: float
    repeat_min_pictures: int
    repeat_min_overlap: float
    repeat_min_similarity: float
    repeat_map_level: float
    repeat_text_map_level: float
    repeat_map_chance: float
    repeat_scene_max_colour: float


@dataclass(frozen=True)
class Composition:
    min_images: int
    max_same: int
    max_share: float
    profile_min_cosine: float
    max_pose_share: float
    min_plain_probability: float


@dataclass(frozen=True)
class Identity:
    min_face_score: float
    same_person_distance: float
    min_faces: int


@dataclass(frozen=True)
class Thresholds:
    """Every section of rules/checks.toml, typed."""

    decode: Decode
    resolution: Resolution
    duplicate: Duplicate
    caption: Caption
    kohya: Kohya
    rights: Rights
    consent: Consent
    quality: Quality
    frame: Frame
    noise: Noise
    blur: Blur
    smoothing: Smoothing
    upscaled: Upscaled
    compression: Compression
    marks: Marks
    composition: Composition
    identity: Identity


SECTIONS: dict[str, type] = {f.name: get_type_hints(Thresholds)[f.name] for f in dataclasses.fields(Thresholds)}
# Tables of data rather than thresholds (free-form keys): the severity overrides and the vocabularies.
DATA_TABLES = ("severity", "platforms", "mark_words", "prompts", "caption_declares")


def _type_name(t: Any) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", str: "a quoted string"}.get(
        t, "a list of quoted strings"
    )


def _fits(value: Any, t: Any) -> bool:
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t is str:
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)  # list[str]


def problems(layer: dict[str, Any]) -> list[str]:
    """What is wrong in one layer of settings (checks.toml, a profile, a --rules file): unknown sections or
    keys, and values of the wrong type. Each problem is one short phrase."""
    out = []
    for section, body in layer.items():
        if section in DATA_TABLES or section in ("profiles", "description"):
            continue
        cls = SECTIONS.get(section)
        if cls is None:
            out.append(f"unknown section [{section}]")
            continue
        if not isinstance(body, dict):
            out.append(f"[{section}] must be a table of settings")
            continue
        hints = get_type_hints(cls)
        for key, value in body.items():
            if key not in hints:
                out.append(f"unknown key [{section}] {key}")
            elif not _fits(value, hints[key]):
                out.append(f"[{section}] {key} must be {_type_name(hints[key])}, not {value!r}")
    sev = layer.get("severity", {})
    if not isinstance(sev, dict):
        out.append('[severity] must be a table of CODE = "error" | "warning" | "info" | "off"')
    else:
        for code, value in sev.items():
            if value not in ("error", "warning", "info", "off"):
                out.append(f'[severity] {code} must be "error", "warning", "info" or "off", not {value!r}')
    return out


def build(data: dict[str, Any]) -> Thresholds:
    """The typed thresholds of merged, validated settings data (every section and key present)."""
    missing = [f"[{s}] {k}" for s, cls in SECTIONS.items() for k in get_type_hints(cls) if k not in data.get(s, {})]
    if missing:
        raise ValueError(f"rules/checks.toml lacks {', '.join(missing)}")
    return Thresholds(
        **{s: cls(**{k: _coerce(data[s][k], t) for k, t in get_type_hints(cls).items()}) for s, cls in SECTIONS.items()}
    )


def _coerce(value: Any, t: Any) -> Any:
    return float(value) if t is float else list(value) if isinstance(value, list) else value

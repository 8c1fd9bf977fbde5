"""Policy as data: load `rules/*.toml`, pick a base model and a dataset profile, merge user overrides."""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate import thresholds
from curate.thresholds import Thresholds

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class RulesError(ValueError):
    """A rules file or a rules choice the user made is wrong (exit code 2)."""


def rules_dir() -> Path:
    """The bundled rules: `curate/rules` in an installed wheel, the repository's `rules/` in a checkout."""
    packaged = Path(__file__).parent / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


MAX_TOML_BYTES = 16 << 20  # configs and rules are a few KB; a dataset_config.toml from an archive is untrusted


def load_toml(path: Path, what: str = "rules file") -> dict[str, Any]:
    """A TOML file (a regular file only, bounded), or RulesError with one line saying why not."""
    from curate.files import NotRegularFile, TooLarge, read_bounded

    try:
        return tomllib.loads(read_bounded(path, MAX_TOML_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{what} not found: {path}") from None
    except NotRegularFile as e:
        raise RulesError(f"{what} {path} is {e.strerror}; not read") from None
    except TooLarge:
        raise RulesError(f"{what} {path} is larger than {MAX_TOML_BYTES >> 20} MB; not read") from None
    except RecursionError:
        raise RulesError(f"cannot read {what} {path}: nested too deeply") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RulesError(f"cannot read {what} {path}: {e}") from None


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class BaseModel:
    name: str
    description: str
    resolution: int
    max_bucket_reso: int


@dataclass(frozen=True)
class Settings:
    """The thresholds in force for one audit: checks.toml ← profile ← user file."""

    profile: str
    data: dict[str, Any]
    cfg: Thresholds = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cfg", thresholds.build(self.data))

    def get(self, section: str, key: str) -> Any:
        try:
            return self.data[section][key]
        except KeyError:
            raise KeyError(f"rules have no {section}.{key}") from None

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})

    def severity(self, code: str, default: str) -> str:
        return self.data.get("severity", {}).get(code, default)


def load_base_models() -> dict[str, Any]:
    return load_toml(rules_dir() / "base_models.toml")


def resolve_base_model(name: str | None, table: dict[str, Any] | None = None) -> BaseModel:
    table = table or load_base_models()
    key = (name or table["default"]).strip().lower()
    key = table.get("aliases", {}).get(key, key)
    models = table["models"]
    if key not in models:
        known = ", ".join(sorted(models) + sorted(table.get("aliases", {})))
        raise RulesError(f"unknown base model '{name}'; choose one of: {known}")
    m = models[key]
    return BaseModel(key, m.get("description", key), int(m["resolution"]), int(m["max_bucket_reso"]))


@dataclass(frozen=True)
class Trainer:
    """What a trainer passes to sd-scripts when no config says otherwise (rules/trainers.toml)."""

    name: str
    description: str
    options: dict[str, Any]
    is_default: bool


def resolve_trainer(name: str | None, explicit: bool = False) -> Trainer:
    table = load_toml(rules_dir() / "trainers.toml")
    key = (name or table["default"]).strip()
    trainers = table["trainers"]
    if key not in trainers:
        raise RulesError(f"unknown trainer '{name}'; choose one of: {', '.join(sorted(trainers))}")
    opts = {k: v for k, v in trainers[key].items() if k != "description"}
    return Trainer(key, trainers[key].get("description", key), opts, name is None and not explicit)


def load_settings(profile: str | None = None, user_file: Path | None = None) -> Settings:
    base = load_toml(rules_dir() / "checks.toml")
    base["platforms"] = load_toml(rules_dir() / "platforms.toml").get("platforms", {})
    base["mark_words"] = load_toml(rules_dir() / "marks.toml").get("mark_words", {})
    base["prompts"] = load_toml(rules_dir() / "prompts.toml").get("prompts", {})
    base["caption_declares"] = load_toml(rules_dir() / "captions.toml").get("declares", {})
    profiles_doc = load_toml(rules_dir() / "profiles.toml")
    profiles = dict(profiles_doc["profiles"])
    user: dict[str, Any] = {}
    if user_file is not None:
        user = load_toml(Path(user_file))
        for name, body in user.pop("profiles", {}).items():
            if not isinstance(body, dict):
                raise RulesError(f"{user_file}: [profiles.{name}] must be a table")
            bad = thresholds.problems({k: v for k, v in body.items() if k != "description"})
            if bad:
                raise RulesError(f"{user_file}: profile '{name}': {'; '.join(bad)} (see rules/checks.toml)")
            profiles[name] = deep_merge(profiles.get(name, {}), body)
        bad = thresholds.problems(user)
        if bad:
            raise RulesError(f"{user_file}: {'; '.join(bad)} (see rules/checks.toml)")
    name = (profile or profiles_doc["default"]).strip().lower()
    if name not in profiles:
        raise RulesError(f"unknown profile '{profile}'; choose one of: {', '.join(sorted(profiles))}")
    overrides = {k: v for k, v in profiles[name].items() if k != "description"}
    bad = thresholds.problems(overrides)
    if bad:
        raise RulesError(f"profile '{name}': {'; '.join(bad)}")
    data = deep_merge(deep_merge(base, overrides), user)
    return Settings(name, data)


def profile_descriptions() -> dict[str, str]:
    doc = load_toml(rules_dir() / "profiles.toml")
    return {k: v.get("description", "") for k, v in doc["profiles"].items()}

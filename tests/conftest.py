"""Shared helpers: real photo bytes (from the bundled sample dataset) and a CLI runner."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from curate.cli import app

# Never reach for CLIP weights over the network from a test (a developer's machine may have internet).
os.environ.setdefault("CURATE_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_datasets" / "lora_data"
PHOTOS = SAMPLE / "10_pdphoto photo"


@functools.lru_cache(maxsize=1)
def _netns_available() -> bool:
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `netns` run curate inside a network namespace with no interfaces; skip them where
    `unshare -rn` is not available."""
    if item.get_closest_marker("netns") and not _netns_available():
        pytest.skip("unshare -rn (a network namespace) is not available on this machine")


def real_photo(name: str = "hubble.jpg") -> Image.Image:
    """A real photograph (public domain / CC0) from the sample dataset, decoded."""
    with Image.open(PHOTOS / name) as im:
        return im.convert("RGB")


MOSAIC_SOURCES = ["hubble.jpg", "coffee.jpg", "rocket.jpg", "motorcycle.jpg", "astronaut.jpg", "grace_hopper.jpg"]
TILE = 256


def photo_at(size: tuple[int, int], name: str = "hubble.jpg") -> Image.Image:
    """A real photo at `size` without enlarging anything (enlarged photos are themselves a finding):
    the photo shrunk and centre-cropped when it is big enough, else a mosaic of native-resolution 256-px
    crops of the sample photos, starting with `name` (so different names give different pictures)."""
    im = real_photo(name)
    tw, th = size
    scale = max(tw / im.width, th / im.height)
    if scale <= 1:
        im = im.resize((max(tw, round(im.width * scale)), max(th, round(im.height * scale))), Image.LANCZOS)
        left, top = (im.width - tw) // 2, (im.height - th) // 2
        return im.crop((left, top, left + tw, top + th))
    order = (
        MOSAIC_SOURCES[MOSAIC_SOURCES.index(name) :] + MOSAIC_SOURCES[: MOSAIC_SOURCES.index(name)]
        if name in MOSAIC_SOURCES
        else [name] + MOSAIC_SOURCES
    )
    sources = [real_photo(n) for n in order]
    canvas = Image.new("RGB", (tw, th))
    k = 0
    for top in range(0, th, TILE):
        for left in range(0, tw, TILE):
            src = sources[k % len(sources)]
            ox = (k * 97) % max(1, src.width - TILE)
            oy = (k * 61) % max(1, src.height - TILE)
            canvas.paste(src.crop((ox, oy, ox + TILE, oy + TILE)), (left, top))
            k += 1
    return canvas


def write_image(
    path: Path, size=(1024, 1024), name="hubble.jpg", fmt=None, caption: str | None = "a photo", **save
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_at(size, name).save(path, fmt, **save)
    if caption is not None:
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    return path


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def warm_cache_dir(tmp_path_factory) -> Path:
    """One feature cache for the whole session: tests that audit the same folder (the sample) without looking
    at the cache statistics share it, so the sample is decoded once per session, not once per test."""
    return tmp_path_factory.mktemp("warm-cache")


@pytest.fixture
def warm_run(warm_cache_dir):
    """`run` with the session's warm cache (for tests that do not assert what was decoded)."""
    return _runner(warm_cache_dir)


@pytest.fixture
def run(cache_dir):
    """Run the real CLI in-process with a fresh cache; returns (exit code, stdout, stderr)."""
    return _runner(cache_dir)


def _runner(cache_dir: Path):
    runner = CliRunner()

    def _run(*args: str):
        argv = [str(a) for a in args]
        if argv and argv[0] == "audit" and "--cache-dir" not in argv and "--no-cache" not in argv:
            argv += ["--cache-dir", str(cache_dir)]
        result = runner.invoke(app, argv, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return _run


@pytest.fixture
def audit_json(run, tmp_path):
    """Audit a folder and return (exit code, parsed JSON report)."""

    def _audit(folder: Path, *extra: str):
        out = tmp_path / "report.json"
        code, stdout, stderr = run("audit", folder, "--json", out, "--quiet", "--jobs", "1", *extra)
        assert out.exists(), stderr
        return code, json.loads(out.read_text(encoding="utf-8"))

    return _audit


def by_path(report: dict) -> dict[str, dict]:
    return {img["path"]: img for img in report["images"]}


def codes(report: dict, path: str) -> list[str]:
    return [f["code"] for f in by_path(report)[path]["findings"]]


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    dst = tmp_path / "lora_data"
    shutil.copytree(SAMPLE, dst)
    return dst

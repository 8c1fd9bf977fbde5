"""Invisible watermarks of the reference SD / FLUX pipelines, decoded from pictures the reference encoder marked
(tests/fixtures/stamps, made by its make.py with the invisible-watermark package)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import SAMPLE, by_path
from PIL import Image

from curate.extract import stamps
from curate.extract.decode import Limits, decode_image

HERE = Path(__file__).resolve().parent / "fixtures" / "stamps"
GENERATOR = {
    "sd1": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "Stable Diffusion XL",
    "flux": "FLUX.1",
}


def found(path_or_bytes) -> list[dict]:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return stamps.compute(decode_image(data, Limits())).get("matches", [])


@pytest.mark.parametrize("photo", ["rocket", "coffee"])
@pytest.mark.parametrize("slug", ["sd1", "sd2", "sdxl", "flux", "sdxl-rgb"])
def test_each_reference_payload_is_found_in_a_lossless_file(photo, slug):
    matches = found(HERE / f"{photo}-{slug}.png")
    generator = GENERATOR[slug.split("-")[0]]
    if (photo, slug) == ("coffee", "sd2"):
        # SD 2.x's payload is only 32 bits: in this 256-px crop 29 match (chance 1.3e-6), just above the 1e-6 bar.
        # Real SD 2.x outputs are 512-768 px; the miss is measured in docs/benchmarks.md, not hidden.
        assert matches == []
        return
    assert [m["generator"] for m in matches] == [generator]
    assert matches[0]["order"] == ("RGB as BGR" if slug.endswith("-rgb") else "BGR")
    assert matches[0]["chance"] < 1e-6


@pytest.mark.parametrize("subsampling, kept", [(0, True), (2, False)])
def test_jpeg_keeps_the_mark_only_without_chroma_subsampling(subsampling, kept):
    buf = io.BytesIO()
    Image.open(HERE / "rocket-sdxl.png").save(buf, "JPEG", quality=95, subsampling=subsampling)
    assert bool(found(buf.getvalue())) is kept


def test_no_match_on_any_unmarked_picture_in_the_test_data():
    pictures = [
        p
        for p in (
            *HERE.glob("*-unmarked.png"),
            *SAMPLE.rglob("*.*"),
            *Path(__file__).parent.glob("fixtures/rights/**/*.*"),
        )
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
    ]
    assert len(pictures) >= 15
    assert [p.name for p in pictures if found(p)] == []


def test_chance_is_the_binomial_tail():
    assert stamps.chance(48, 48) == 2.0**-48 and stamps.chance(0, 10) == 1.0
    assert stamps.chance(44, 48) < 1e-6 < stamps.chance(29, 32)


def test_the_audit_reports_it(tmp_path, audit_json):
    d = tmp_path / "d"
    d.mkdir()
    (d / "gen.png").write_bytes((HERE / "coffee-sdxl.png").read_bytes())
    (d / "photo.png").write_bytes((HERE / "coffee-unmarked.png").read_bytes())
    _, report = audit_json(d, "--select", "AIG003")
    f = by_path(report)["gen.png"]["findings"]
    assert [x["code"] for x in f] == ["AIG003"] and "Stable Diffusion XL" in f[0]["message"]
    assert by_path(report)["photo.png"]["findings"] == []

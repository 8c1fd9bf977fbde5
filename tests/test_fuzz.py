"""Property-based fuzzing of the readers that parse a stranger's bytes: metadata (XMP, IIM, PNG text, whole
files through the decoder), sidecars, the kohya config and the consent CSV. Each runs a fixed budget of
examples (derandomised, so CI is reproducible); the property is always the same: a value or a stated problem,
never an exception."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from curate.consent import read_manifest  # noqa: E402
from curate.extract import metadata  # noqa: E402
from curate.extract.decode import Limits, decode_image  # noqa: E402
from curate.extract.sidecars import read_sidecar  # noqa: E402
from curate.kohya import load_config, load_training_config, plan_buckets, select_bucket  # noqa: E402
from curate.rules import RulesError  # noqa: E402

BUDGET = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

XML_BITS = [
    "<x:xmpmeta xmlns:x='adobe:ns:meta/'>",
    "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>",
    "<rdf:Description",
    " plus:DataMining='DMI-PROHIBITED'",
    " xmlns:plus='http://ns.useplus.org/ldf/xmp/1.0/'",
    ">",
    "</rdf:Description>",
    "<rdf:Bag>",
    "<rdf:li>",
    "</rdf:li>",
    "</rdf:Bag>",
    "<!DOCTYPE x [",
    "<!ENTITY e 'x'>",
    "]>",
    "&e;",
    "</rdf:RDF>",
    "</x:xmpmeta>",
    "<dc:creator>",
    "\x00",
    "\xff",
]


@BUDGET
@given(st.lists(st.sampled_from(XML_BITS), max_size=40), st.binary(max_size=64))
def test_xmp_reader_never_raises(bits, noise):
    out: dict = {}
    problem = metadata.parse_xmp("".join(bits).encode("utf-8", "surrogatepass") + noise, out)
    assert problem is None or isinstance(problem, str)


@BUDGET
@given(st.binary(max_size=512), st.booleans() | st.none())
def test_iim_reader_never_raises(data, utf8):
    assert isinstance(metadata.parse_iim(b"\x1c\x02\x50" + data, utf8), dict)


@BUDGET
@given(st.sampled_from([b"tEXt", b"zTXt", b"iTXt"]), st.binary(max_size=256))
def test_png_text_reader_never_raises(kind, body):
    got = metadata.png_text(kind, body)
    assert got is None or (isinstance(got[0], str) and isinstance(got[1], str))


PNG_HEAD = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000100000001008060000001ff3ff61")


@BUDGET
@given(st.binary(max_size=2048), st.sampled_from([b"", PNG_HEAD, b"\xff\xd8\xff\xe1", b"RIFF\x00\x00\x00\x00WEBP"]))
def test_whole_file_metadata_never_raises(tail, head):
    decoded = decode_image(head + tail, Limits())
    out = metadata.compute(decoded)
    assert isinstance(out, dict)


@BUDGET
@given(
    st.sampled_from(["a.png.json", "a.xmp", "a.html", "info.json"]),
    st.text(alphabet=string.printable + '[]{}"\\<>ü\x00', max_size=400),
)
def test_sidecar_reader_never_raises(tmp_path_factory, name, text):
    path = tmp_path_factory.mktemp("side") / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    got = read_sidecar(path)
    assert isinstance(got, dict) and "kind" in got


TOML_BITS = [
    "[general]\n",
    "[[datasets]]\n",
    "[[datasets.subsets]]\n",
    "resolution = ",
    "[0, 0]",
    "1e308",
    "nan",
    "inf",
    "-1",
    "512",
    '"x"',
    "image_dir = ",
    '"10_a b"',
    '"\\u0000"',
    "num_repeats = ",
    "min_bucket_reso = ",
    "max_bucket_reso = ",
    "enable_bucket = ",
    "true",
    "caption_extension = ",
    '".txt"',
    "bucket_reso_steps = ",
    "32",
    "keep_tokens = ",
    "max_token_length = ",
    "image_directory = ",
    "enable_buckets = ",
    "[model_arguments]\n",
    "pretrained_model_name_or_path = ",
    "train_data_dir = ",
    '"1024,768"',
    "\n",
    "[[[",
    "]]",
]


@BUDGET
@given(st.lists(st.sampled_from(TOML_BITS), max_size=30))
def test_kohya_config_reader_refuses_or_reads_never_raises(tmp_path_factory, bits):
    root = tmp_path_factory.mktemp("cfg")
    path = root / "dataset_config.toml"
    path.write_text("".join(bits), encoding="utf-8")
    try:
        load_config(path, root)
    except RulesError:
        pass  # a one-line refusal is a valid outcome
    try:
        load_training_config(path)
    except RulesError:
        pass
    try:
        plan = plan_buckets(*_bucket_args(load_config(path, root)))
        select_bucket(1000, 700, plan)
    except (RulesError, KeyError, TypeError, ValueError):
        pass


def _bucket_args(cfg):
    """The bucket settings of a config's first subset, as the scan reads them (defaults where it sets none)."""
    from curate.kohya import parse_resolution

    o = cfg.subsets[0].options if cfg.subsets else {}
    return (
        parse_resolution(o.get("resolution", 1024)),
        bool(o.get("enable_bucket", True)),
        bool(o.get("bucket_no_upscale", False)),
        int(o.get("min_bucket_reso", 256)),
        int(o.get("max_bucket_reso", 2048)),
        int(o.get("bucket_reso_steps", 64)),
    )


@BUDGET
@given(st.lists(st.lists(st.text(alphabet=string.printable + "\"'=ü", max_size=12), max_size=5), max_size=8))
def test_consent_reader_never_raises(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "provenance.csv"
    path.write_text("path,subject_consent,notes\n" + "\n".join(",".join(r) for r in rows), encoding="utf-8")
    got = read_manifest(Path(path))
    assert got is not None and (got.problem is None or isinstance(got.problem, str))

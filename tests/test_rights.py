"""Rights, opt-out, provenance and AI-generation signals: every real fixture in ../shared/fixtures/rights,
plus variants written by the tests (each syntax, each container), sidecars, cloaks, and the network guard."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, by_path, photo_at
from PIL import Image, PngImagePlugin
from test_bad_input import HOSTILE_XMP, jpeg_with_xmp

# A copy of ../shared/fixtures/rights (redistributable test files; see tests/fixtures/rights/README.md), so the
# suite runs on a fresh clone without ../shared.
FIXTURES = ROOT / "tests" / "fixtures" / "rights"
RIGHTS_CATEGORIES = {"opt-out", "platform-terms", "ai-generated", "rights", "consent", "cloak"}

# What each real file must yield (rights categories only), from ../shared/fixtures/rights/README.md.
EXPECTED = json.loads((ROOT / "tests" / "data" / "rights_fixtures_expected.json").read_text(encoding="utf-8"))[
    "expected"
]


def rights_findings(report, path):
    return [f for f in by_path(report)[path]["findings"] if f["category"] in RIGHTS_CATEGORIES]


@pytest.fixture(scope="module")
def fixtures_report(tmp_path_factory):
    assert FIXTURES.is_dir(), f"the shared fixtures are missing: {FIXTURES}"
    from typer.testing import CliRunner

    from curate.cli import app

    cache = tmp_path_factory.mktemp("cache")
    r = CliRunner().invoke(app, ["audit", str(FIXTURES), "--json", "-", "-q", "--cache-dir", str(cache), "--jobs", "1"])
    return json.loads(r.stdout)


def test_every_real_fixture_gives_its_known_signal(fixtures_report):
    got = {p: sorted(f["code"] for f in rights_findings(fixtures_report, p)) for p in EXPECTED}
    assert got == {p: sorted(v) for p, v in EXPECTED.items()}


def test_fixture_details(fixtures_report):
    f = {p: {x["code"]: x for x in rights_findings(fixtures_report, p)} for p in EXPECTED}
    cawg = f["c2pa/C_with_CAWG_data.jpg"]["OPT002"]
    assert "ai_generative_training: notAllowed" in cawg["message"] and cawg["severity"] == "error"
    getty = f["iptc_plus/gettyimages-1404056433-1024x1024.webp"]
    assert "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING" in getty["OPT001"]["message"]
    assert "Getty Images" in getty["RGT002"]["message"]
    assert "Invalid" in f["c2pa/XCA_invalid.jpg"]["RGT003"]["message"]
    assert "cai-manifests.adobe.com" in f["c2pa/cloud_remote_manifest.jpg"]["RGT003"]["message"]
    assert "localhost:5000/libpng-test.c2pa" in f["c2pa/libpng-test_with_url.png"]["RGT003"]["message"]
    assert "Shutterstock" in f["iptc_plus/shutterstock_2480370209.jpg"]["RGT002"]["message"]
    a1111 = f["aigen/AUTOMATIC1111__automatic1111_stealth.png"]["AIG001"]
    assert a1111["evidence"]["model"] == "realisticVisionV51_v51VAE" and "stealth" in a1111["message"]
    assert f["aigen/ComfyUI__img2img_cropped.png"]["AIG001"]["evidence"]["generator"] == "ComfyUI"
    assert f["aigen/NovelAI__novelai1_cropped.png"]["AIG001"]["evidence"]["generator"] == "NovelAI"
    assert f["aigen/Fooocus__fooocus1_cropped.png"]["AIG001"]["evidence"]["model"] == "juggernautXL_v8Rundiffusion"
    iptc = f["iptc_plus/IPTC-PhotometadataRef-Std2024.1.jpg"]["RGT001"]
    assert "Creator1" in iptc["message"] and "Rights Usage Terms" in iptc["message"]


def test_extended_xmp_is_merged_and_legacy_cai_is_not_c2pa():
    from curate.extract import extract_one
    from curate.extract.decode import Limits

    _, _, feats, _ = extract_one(str(FIXTURES / "iptc_plus/exiftool_ExtendedXMP.jpg"), Limits())
    assert ["http://ns.adobe.com/pdf/1.3/", "Guess Who"] in feats["metadata"]["xmp"]["creator"]  # from the extension
    _, _, feats, _ = extract_one(str(FIXTURES / "negative/exiftool_ExifTool_legacyCAI.jpg"), Limits())
    assert feats["metadata"]["c2pa"]["status"] == "none" and feats["metadata"]["xmp_problems"] == []


def test_xmp_sidecar(tmp_path, audit_json):
    d = tmp_path / "s"
    d.mkdir()
    photo_at((1024, 1024)).save(d / "exiftool_PLUS.jpg", quality=90)
    shutil.copy(FIXTURES / "sidecar/exiftool_PLUS.xmp", d / "exiftool_PLUS.xmp")
    _, report = audit_json(d)
    (f,) = rights_findings(report, "exiftool_PLUS.jpg")
    assert f["code"] == "RGT001" and "Phil Harvey" in f["message"]


# --- generated variants ------------------------------------------------------------------------------

PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"


def xmp(body: str, attrs: str = "", ns: str = "") -> bytes:
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:plus="{PLUS}" xmlns:dc="http://purl.org/dc/elements/1.1/" {ns} {attrs}>'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


DATAMINING_SYNTAXES = {
    "element": xmp(f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>"),
    "attribute": xmp("", f'plus:DataMining="{VOCAB}DMI-PROHIBITED-GENAIMLTRAINING"'),
    "resource": xmp(f'<plus:DataMining rdf:resource="{VOCAB}DMI-PROHIBITED"/>'),
    "bare token": xmp("<plus:DataMining>DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>"),
    "lower case + spaces": xmp(
        f"<plus:DataMining>\n  {VOCAB.lower()}dmi-prohibited-genaimltraining  \n</plus:DataMining>"
    ),
}


def save_with_xmp(path, packet: bytes, fmt: str):
    im = photo_at((1024, 1024))
    if fmt == "JPEG":
        path.write_bytes(jpeg_with_xmp(packet))
    elif fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode())
        im.save(path, pnginfo=info)
    else:
        im.save(path, "WEBP", quality=80, xmp=packet)


@pytest.fixture
def variants(tmp_path):
    d = tmp_path / "variants"
    d.mkdir()
    for i, (_name, packet) in enumerate(DATAMINING_SYNTAXES.items()):
        for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")):
            save_with_xmp(d / f"dm{i}_{ext}.{ext}", packet, fmt)
    save_with_xmp(d / "allowed.jpg", xmp(f"<plus:DataMining>{VOCAB}DMI-ALLOWED</plus:DataMining>"), "JPEG")
    save_with_xmp(d / "unspecified.jpg", xmp(f"<plus:DataMining>{VOCAB}DMI-UNSPECIFIED</plus:DataMining>"), "JPEG")
    save_with_xmp(
        d / "constraint.png",
        xmp(
            f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-SEECONSTRAINT</plus:DataMining><plus:OtherConstraints><rdf:Alt>"
            f"<rdf:li xml:lang='x-default'>Only with written permission of the studio</rdf:li></rdf:Alt></plus:OtherConstraints>"
        ),
        "PNG",
    )
    for j, tdm_ns in enumerate(
        ("http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#", "http://www.w3.org/ns/tdm/")
    ):
        save_with_xmp(
            d / f"tdm{j}.jpg",
            xmp(
                "<tdm:reservation>1</tdm:reservation><tdm:policy>https://example.com/p.json</tdm:policy>",
                ns=f'xmlns:tdm="{tdm_ns}"',
            ),
            "JPEG",
        )
    save_with_xmp(
        d / "tdm_zero.jpg",
        xmp("<tdm:reservation>0</tdm:reservation>", ns='xmlns:tdm="http://www.w3.org/ns/tdmrep/"'),
        "JPEG",
    )
    save_with_xmp(
        d / "keyword.jpg",
        xmp("<dc:subject><rdf:Bag><rdf:li>landscape</rdf:li><rdf:li>NoAI</rdf:li></rdf:Bag></dc:subject>"),
        "JPEG",
    )
    save_with_xmp(
        d / "keyword_ja.jpg", xmp("<dc:subject><rdf:Bag><rdf:li>無断AI学習禁止</rdf:li></rdf:Bag></dc:subject>"), "JPEG"
    )
    save_with_xmp(
        d / "iptc_ai.png",
        xmp(
            "",
            ns='xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"',
            attrs='Iptc4xmpExt:DigitalSourceType=" http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"',
        ),
        "PNG",
    )
    save_with_xmp(d / "hostile.jpg", HOSTILE_XMP, "JPEG")
    return d


@pytest.mark.slow
def test_generated_variants(variants, audit_json):
    _, report = audit_json(variants)
    for i in range(len(DATAMINING_SYNTAXES)):
        for ext in ("jpg", "png", "webp"):
            got = [f["code"] for f in rights_findings(report, f"dm{i}_{ext}.{ext}")]
            assert got == ["OPT001"], (list(DATAMINING_SYNTAXES)[i], ext, got)
    allowed = rights_findings(report, "allowed.jpg")
    assert [(f["code"], f["severity"]) for f in allowed] == [("OPT006", "info")]
    assert rights_findings(report, "unspecified.jpg") == []
    (c,) = rights_findings(report, "constraint.png")
    assert c["code"] == "OPT001" and "Only with written permission of the studio" in c["message"]
    for j in range(3):
        assert [f["code"] for f in rights_findings(report, f"tdm{j}.jpg")] == ["OPT003"]
    assert rights_findings(report, "tdm_zero.jpg") == []
    for name in ("keyword.jpg", "keyword_ja.jpg"):
        assert [(f["code"], f["severity"]) for f in rights_findings(report, name)] == [("OPT005", "warning")]
    assert [f["code"] for f in rights_findings(report, "iptc_ai.png")] == ["AIG002"]
    (h,) = rights_findings(report, "hostile.jpg")
    assert h["code"] == "RGT004" and "refused hostile XML" in h["message"]
    assert by_path(report)["hostile.jpg"]["width"] == 1024
    assert "root:" not in json.dumps(report)


def test_hostile_xml_is_refused_without_expansion():
    import time

    from curate.extract.metadata import parse_xmp

    out: dict = {}
    t0 = time.perf_counter()
    problem = parse_xmp(HOSTILE_XMP, out)
    assert time.perf_counter() - t0 < 1 and "refused" in problem and out == {}
    external_only = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>'
    assert "refused" in parse_xmp(external_only, out)


def test_generator_chunks_written_by_the_test(tmp_path, audit_json):
    d = tmp_path / "gen"
    d.mkdir()
    im = photo_at((1024, 1024))
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a red fox in snow\nNegative prompt: blurry\nSteps: 28, Sampler: DPM++ 2M, CFG scale: 6, "
        "Seed: 1, Size: 1024x1024, Model: ponyDiffusionV6XL",
    )
    im.save(d / "a1111.png", pnginfo=info)
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "prompt",
        json.dumps(
            {
                "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
                "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse"}},
            }
        ),
    )
    info.add_text("workflow", "{}")
    im.save(d / "comfy.png", pnginfo=info)
    # AUTOMATIC1111 stealth metadata: signature, 32-bit bit length, payload, in alpha LSBs, column-major.
    payload = b"a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 5, Model: stealthModel"
    bits = np.unpackbits(np.frombuffer(b"stealth_pnginfo", np.uint8)).tolist()
    bits += [int(b) for b in format(len(payload) * 8, "032b")] + np.unpackbits(
        np.frombuffer(payload, np.uint8)
    ).tolist()
    rgba = np.array(photo_at((256, 256)).convert("RGBA"))
    alpha = np.full((256, 256), 254, np.uint8)
    col_major = alpha.T.reshape(-1)
    col_major[: len(bits)] |= np.array(bits, np.uint8)
    rgba[..., 3] = col_major.reshape(256, 256).T
    Image.fromarray(rgba, "RGBA").save(d / "stealth.png")
    im.save(d / "plain.png")
    _, report = audit_json(d)
    ev = {p: [f["evidence"] for f in rights_findings(report, p)] for p in ("a1111.png", "comfy.png", "stealth.png")}
    assert ev["a1111.png"][0]["model"] == "ponyDiffusionV6XL" and ev["a1111.png"][0]["prompt"] == "a red fox in snow"
    assert ev["comfy.png"][0] == {
        "generator": "ComfyUI",
        "model": "sdxl.safetensors",
        "prompt": "a lighthouse",
        "where": "PNG text 'prompt'/'workflow'",
    }
    assert ev["stealth.png"][0]["model"] == "stealthModel"
    assert rights_findings(report, "plain.png") == []


# --- sidecars, platforms, cloaks ---------------------------------------------------------------------


def test_sidecars_platforms_and_cloaks(tmp_path, audit_json):
    d = tmp_path / "side"
    d.mkdir()
    names = [
        "page.jpg",
        "headers.jpg",
        "tdmhdr.jpg",
        "gdl.png",
        "98765432_p0.png",
        "1790000000000000000_1.jpg",
        "aiflag.png",
        "tagged.png",
        "sketch-glazed-intensity2-render1-V1.png",
        "INCOMPLETE-x-glazed-intensity3.png",
        "art-nightshade-intensity-DEFAULT-V1.jpg",
        "glazed_donut.png",
        "dev.jpg",
    ]
    for n in names:
        photo_at((1024, 1024)).save(d / n)
    (d / "page.html").write_text(
        '<html><head><meta name="robots" content="noai, noimageai">'
        '<link rel="canonical" href="https://www.deviantart.com/someone/art/x-1"></head></html>'
    )
    (d / "headers.jpg.headers.json").write_text(json.dumps({"X-Robots-Tag": "noai", "Content-Type": "image/jpeg"}))
    (d / "tdmhdr.headers.json").write_text(json.dumps({"tdm-reservation": "1", "tdm-policy": "https://e.com/p"}))
    (d / "gdl.png.json").write_text(
        json.dumps(
            {
                "category": "pixiv",
                "user": {"name": "絵師さん"},
                "tags": ["オリジナル"],
                "url": "https://i.pximg.net/img-original/x.png",
            }
        )
    )
    (d / "aiflag.png.json").write_text(json.dumps({"category": "pixiv", "illust_ai_type": 2}))
    (d / "tagged.png.json").write_text(json.dumps({"category": "danbooru", "tags": ["1girl", "no_ai"]}))
    (d / "dev.json").write_text(json.dumps({"page_url": "https://www.deviantart.com/a/art/b"}))
    _, report = audit_json(d)
    codes = {n: sorted(f["code"] for f in rights_findings(report, n)) for n in names}
    assert codes["page.jpg"] == ["OPT004", "PLT001"]
    assert codes["headers.jpg"] == ["OPT004"]
    assert codes["tdmhdr.jpg"] == ["OPT003"]
    assert codes["gdl.png"] == ["PLT001", "RGT001"]  # the pixiv user is a rights holder
    assert codes["98765432_p0.png"] == ["PLT002"]
    assert codes["1790000000000000000_1.jpg"] == ["PLT002"]
    assert codes["aiflag.png"] == ["AIG002", "PLT001"]
    assert codes["tagged.png"] == ["OPT005", "PLT001"]
    assert codes["sketch-glazed-intensity2-render1-V1.png"] == ["CLK001"]
    assert codes["INCOMPLETE-x-glazed-intensity3.png"] == ["CLK001"]
    assert codes["art-nightshade-intensity-DEFAULT-V1.jpg"] == ["CLK001"]
    assert codes["glazed_donut.png"] == []
    assert codes["dev.jpg"] == ["PLT001"]
    pixiv = next(f for f in rights_findings(report, "gdl.png") if f["code"] == "PLT001")
    assert pixiv["severity"] == "warning" and "2023-05-31" in pixiv["message"] and pixiv["evidence"]["reference"]
    _, style = audit_json(d, "--profile", "style")
    sev = {f["code"]: f["severity"] for f in rights_findings(style, "gdl.png")}
    assert sev["PLT001"] == "error"
    assert {f["code"]: f["severity"] for f in rights_findings(style, "98765432_p0.png")} == {"PLT002": "warning"}


# --- no network ----------------------------------------------------------------------------------------


def test_audit_makes_no_python_level_connection(monkeypatch, tmp_path, audit_json):
    def refuse(*a, **k):
        raise AssertionError("curate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    code, report = audit_json(FIXTURES, "--no-cache")
    assert len(report["images"]) == len(EXPECTED)


@pytest.mark.netns
def test_audit_in_a_namespace_without_network_reads_remote_references(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            "unshare",
            "-rn",
            sys.executable,
            "-m",
            "curate",
            "audit",
            str(FIXTURES / "c2pa"),
            "--json",
            str(out),
            "-q",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(out.read_text())
    msgs = [f["message"] for f in rights_findings(report, "cloud_remote_manifest.jpg")]
    assert any("recorded, not fetched" in m for m in msgs)


def test_exif_rights_text_is_read_as_written_and_a_camera_name_is_not_a_rights_holder(tmp_path):
    from PIL import Image

    from curate.extract.metadata import parse_exif

    exif = Image.Exif()
    exif[0x013B] = "ABCDEFGHI"  # 9 bytes, replaced below by the 9 UTF-8 bytes of "© 川松"
    exif[0x8298] = "Hasselblad H3D"
    exif[0x010F] = "Hasselblad"
    exif[0x0110] = "H3D"
    raw = exif.tobytes().replace(b"ABCDEFGHI", "© 川松".encode())  # as a camera writes it: UTF-8
    out = parse_exif(raw)
    assert out["artist"] == "© 川松"  # Pillow alone gives "Â© å·\x9dæ\x9d¾"
    assert "copyright" not in out  # only the camera's make and model
    exif2 = Image.Exif()
    exif2[0x8298] = "cafX"
    raw2 = exif2.tobytes().replace(b"cafX", b"caf\xe9")  # real Latin-1 text (not valid UTF-8) stays as it is
    assert parse_exif(raw2)["copyright"] == "café"

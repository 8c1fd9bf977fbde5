"""Untrusted folders: every bad file becomes one clear finding; nothing crashes, hangs or leaks."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib

import pytest
from conftest import by_path, codes, photo_at, write_image
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A 100-byte PNG whose header claims width×height pixels (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


HOSTILE_XMP = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>&lol6;&xxe;</dc:creator></rdf:Description>
</rdf:RDF></x:xmpmeta>"""


def jpeg_with_xmp(xmp: bytes, size=(1024, 1024)) -> bytes:
    buf = io.BytesIO()
    photo_at(size).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + app1 + data[2:]


@pytest.fixture
def hostile(tmp_path):
    root = tmp_path / "hostile"
    d = root / "10_test thing"
    d.mkdir(parents=True)
    good = io.BytesIO()
    photo_at((1024, 1024)).save(good, "JPEG", quality=90)
    files = {
        "zero.png": b"",
        "truncated.jpg": good.getvalue()[: len(good.getvalue()) // 3],
        "notes.png": b"these are my training notes, not a picture\n",
        "bomb.png": png_claiming(30000, 30000),
        "garbage.webp": b"RIFF\x10\x00\x00\x00WEBPVP8 " + os.urandom(64),
        "hostile_xmp.jpg": jpeg_with_xmp(HOSTILE_XMP),
        "写真_01.jpg": good.getvalue(),
        "<img src=x onerror=alert(1)>.jpg": jpeg_with_xmp(b"<x:xmpmeta/>", (1024, 1023)),
        "[bold red]markup.png": None,
    }
    for name, data in files.items():
        if data is None:
            photo_at((1024, 1022)).save(d / name)
        else:
            (d / name).write_bytes(data)
        (d / name).with_suffix(".txt").write_text("test thing", encoding="utf-8")
    os.symlink(d, d / "loop")  # a folder symlink pointing at its own parent
    os.symlink(d / "missing.png", d / "dangling.png")  # a broken link
    return root


def test_hostile_folder_gives_one_clear_finding_per_bad_file(hostile, audit_json):
    t0 = time.monotonic()
    code, report = audit_json(hostile)
    assert time.monotonic() - t0 < 60
    assert code == 1
    p = "10_test thing/"
    assert codes(report, p + "zero.png") == ["UNR001"]
    assert codes(report, p + "truncated.jpg") == ["UNR003"]
    assert codes(report, p + "notes.png") == ["UNR002"]
    assert "plain text" in by_path(report)[p + "notes.png"]["findings"][0]["message"]
    assert codes(report, p + "bomb.png") == ["UNR005"]
    assert "30000×30000" in by_path(report)[p + "bomb.png"]["findings"][0]["message"]
    assert codes(report, p + "garbage.webp")[0] in ("UNR002", "UNR003", "UNR004")
    assert codes(report, p + "dangling.png") == ["UNR006"]
    for name in ("hostile_xmp.jpg", "写真_01.jpg", "<img src=x onerror=alert(1)>.jpg", "[bold red]markup.png"):
        img = by_path(report)[p + name]
        assert img["width"] == 1024 and not [f for f in img["findings"] if f["category"] == "unreadable"], name
    # every scanned file is in the report, unreadable ones included, each once
    assert len(report["images"]) == len({i["path"] for i in report["images"]}) == 10
    assert any("loop" in s["path"] and "loop" in s["reason"] for s in report["dataset"]["skipped"])
    assert "root:" not in str(report)  # no external entity was ever resolved


def test_console_report_prints_odd_names_literally(hostile, run):
    code, out, err = run("audit", hostile, "--jobs", "2")
    assert code == 1
    assert "<img src=x onerror=alert(1)>.jpg" in out
    assert "[bold red]markup.png" in out
    assert "写真_01.jpg" in out or "写真_01.jpg" in out.replace("\n", "")
    assert "Traceback" not in out + err


def test_duplicate_of_a_hostile_file_is_still_found(hostile, audit_json):
    # 写真_01.jpg and the plain JPEG inside hostile_xmp.jpg share pixels but not bytes
    _, report = audit_json(hostile)
    exact = [g for g in report["groups"] if g["kind"] == "exact-duplicate"]
    assert any({"10_test thing/写真_01.jpg", "10_test thing/hostile_xmp.jpg"} <= set(g["members"]) for g in exact)


def test_decode_time_limit(monkeypatch):
    from curate.extract import decode as dec

    def slow_load(self):
        time.sleep(5)

    buf = io.BytesIO()
    photo_at((64, 64)).save(buf, "PNG")
    monkeypatch.setattr(Image.Image, "load", slow_load)
    t0 = time.monotonic()
    out = dec.decode_image(buf.getvalue(), dec.Limits(timeout_seconds=0.3))
    assert out.error["kind"] == "timeout" and time.monotonic() - t0 < 3


def test_oversized_file_is_not_read(tmp_path, audit_json, monkeypatch):
    d = tmp_path / "big"
    write_image(d / "a.png", (1024, 1024))
    rules = tmp_path / "r.toml"
    rules.write_text("[decode]\nmax_file_bytes = 1000\n")
    _, report = audit_json(d, "--rules", rules)
    (f,) = by_path(report)["a.png"]["findings"]
    assert f["code"] == "UNR006" and "limit" in f["message"]


def test_exif_rotated_photo_is_sized_as_kohya_reads_it(tmp_path, audit_json):
    d = tmp_path / "rot"
    im = photo_at((1200, 800))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    d.mkdir()
    im.save(d / "phone.jpg", exif=exif.tobytes(), quality=90)
    _, report = audit_json(d)
    img = by_path(report)["phone.jpg"]
    # kohya reads the stored size and trains the stored pixels (sd-scripts issue #1316): 1200×800, on its side.
    assert (img["width"], img["height"]) == (1200, 800)
    rotated = [f for f in img["findings"] if f["code"] == "RES006"]
    assert rotated and rotated[0]["evidence"] == {"orientation": 6, "stored": [1200, 800], "shown": [800, 1200]}


def test_formats_bmp_gif_webp_avif_heic(tmp_path, audit_json):
    import pillow_heif

    d = tmp_path / "formats"
    d.mkdir()
    im = photo_at((1024, 1024))
    im.save(d / "a.bmp")
    im.save(d / "b.gif")
    im.save(d / "c.webp", quality=80)
    im.save(d / "d.avif", quality=60)
    pillow_heif.from_pillow(im).save(d / "e.heic", quality=60)
    _, report = audit_json(d)
    imgs = by_path(report)
    assert {p: imgs[p]["format"] for p in imgs} == {
        "a.bmp": "BMP",
        "b.gif": "GIF",
        "c.webp": "WEBP",
        "d.avif": "AVIF",
        "e.heic": "HEIF",
    }
    assert all(imgs[p]["width"] == 1024 for p in imgs)
    # kohya skips .gif and .heic: one finding says so, and no other check runs on a file that is not trained.
    assert codes(report, "e.heic") == ["UNR007"] and codes(report, "b.gif") == ["UNR007"]
    assert "kohya does not load .heic files" in by_path(report)["e.heic"]["findings"][0]["message"]
    assert "UNR007" not in codes(report, "c.webp")


def test_very_large_jpeg_is_decoded_at_reduced_size(tmp_path, audit_json):
    """Above [decode] full_decode_max_pixels a JPEG is decoded with libjpeg DCT scaling (draft mode)."""
    d = tmp_path / "big"
    write_image(d / "big.jpg", (2048, 1536), quality=90)
    write_image(d / "small.png", (1024, 768))
    rules = tmp_path / "r.toml"
    rules.write_text("[decode]\nfull_decode_max_pixels = 1_000_000\n")
    _, report = audit_json(d, "--rules", rules, "--no-cache")
    big = by_path(report)["big.jpg"]
    assert (big["width"], big["height"]) == (2048, 1536) and big["findings"] == []
    from curate.extract import extract_one
    from curate.extract.decode import Limits

    _, _, feats, _ = extract_one(str(d / "big.jpg"), Limits(full_decode_max_pixels=1_000_000))
    assert feats["image"]["decode_scale"] == 2 and feats["image"]["pixel_hash"] is None
    _, _, feats, _ = extract_one(str(d / "big.jpg"), Limits())
    assert feats["image"]["decode_scale"] == 1 and feats["image"]["pixel_hash"]
    # Other formats cannot be decoded at reduced size: decoded whole, then analysed on a copy reduced at once.
    _, _, feats, _ = extract_one(str(d / "small.png"), Limits(full_decode_max_pixels=300_000))
    assert feats["image"]["decode_scale"] == 2 and (feats["image"]["width"], feats["image"]["height"]) == (1024, 768)
    assert feats["quality"]["analysed_width"] == 512

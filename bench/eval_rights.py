"""Rights-signal reading, measured: accuracy on the real fixture files and extraction speed.

1. Every file in tests/fixtures/rights (a copy of ../shared/fixtures/rights) (made by other people's tools: IPTC reference images, Getty,
   Shutterstock, c2pa-rs test files, AI generators' outputs) is audited; the rights-category findings are
   compared with tests/data/rights_fixtures_expected.json. Prints per-code precision / recall.
2. Speed of the `metadata` extractor alone (the issue's target: ≤ 5 ms per image on one core without
   C2PA): on N 1024-px JPEGs carrying EXIF, IPTC-IIM and an XMP packet like a stock photo's, and on the
   fixtures (C2PA ones separately).

    python bench/eval_rights.py [--n 200]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import struct
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from curate.extract import metadata  # noqa: E402
from curate.extract.decode import Limits, decode_image  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "rights"  # a copy of ../shared/fixtures/rights
CATS = {"opt-out", "platform-terms", "ai-generated", "rights", "consent", "cloak"}


def accuracy() -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    expected = json.loads((ROOT / "tests/data/rights_fixtures_expected.json").read_text())["expected"]
    r = CliRunner().invoke(app, ["audit", str(FIXTURES), "--json", "-", "-q", "--no-cache", "--jobs", "1"])
    report = json.loads(r.stdout)
    got = {i["path"]: sorted(f["code"] for f in i["findings"] if f["category"] in CATS) for i in report["images"]}
    tp, fp, fn = Counter(), Counter(), Counter()
    for path, want in expected.items():
        have = got.get(path, [])
        for c in set(want) | set(have):
            if c in want and c in have:
                tp[c] += 1
            elif c in have:
                fp[c] += 1
                print(f"  unexpected {c} on {path}")
            else:
                fn[c] += 1
                print(f"  missed {c} on {path}")
    print(f"Accuracy on {len(expected)} real fixture files ({FIXTURES}):")
    print(f"  {'code':7} {'expected':>8} {'found':>6} {'precision':>9} {'recall':>7}")
    for c in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 1.0
        rc = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 1.0
        print(f"  {c:7} {tp[c] + fn[c]:>8} {tp[c] + fp[c]:>6} {p:9.3f} {rc:7.3f}")
    exact = sum(got.get(p, []) == sorted(w) for p, w in expected.items())
    print(f"  files with exactly the expected findings: {exact}/{len(expected)}\n")


def stock_like_jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    im = Image.new("RGB", (1024, 1024), (i % 256, 80, 120))
    exif = Image.Exif()
    exif[0x013B] = f"Photographer {i}"
    exif[0x8298] = f"(c) 2026 Photographer {i}/Agency. No use without permission."
    exif[0x0131] = "Adobe Photoshop 25.0"
    im.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    data = buf.getvalue()
    xmp = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" '
        f'photoshop:Credit="Agency" xmpRights:WebStatement="https://agency.example/licence/{i}" '
        f'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING">'
        f"<dc:creator><rdf:Seq><rdf:li>Photographer {i}</rdf:li></rdf:Seq></dc:creator>"
        f"<dc:subject><rdf:Bag>"
        + "".join(f"<rdf:li>keyword{k}</rdf:li>" for k in range(40))
        + "</rdf:Bag></dc:subject>"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{"A description. " * 20}</rdf:li></rdf:Alt></dc:description>'
        f"</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    iim = b"".join(
        b"\x1c\x02" + bytes([ds]) + struct.pack(">H", len(v)) + v
        for ds, v in ((80, b"Photographer"), (116, b"(c) Agency"), (110, b"Agency"))
        + tuple((25, f"kw{k}".encode()) for k in range(30))
    )
    res = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + (b"\x00" if len(iim) % 2 else b"")
    app13 = b"Photoshop 3.0\x00" + res
    seg = lambda m, p: b"\xff" + bytes([m]) + struct.pack(">H", len(p) + 2) + p  # noqa: E731
    return data[:2] + seg(0xE1, app1) + seg(0xED, app13) + data[2:]


def timing(n: int) -> None:
    files = [stock_like_jpeg(i) for i in range(n)]
    decoded = [decode_image(d, Limits()) for d in files]
    metadata.compute(decoded[0])  # imports
    times = []
    for d in decoded:
        t0 = time.perf_counter()
        m = metadata.compute(d)
        times.append((time.perf_counter() - t0) * 1000)
    assert m["xmp"]["datamining"] and m["iim"]["by-line"] and m["exif"]["artist"]
    print(f"metadata extractor, {n} 1024-px JPEGs with EXIF + IPTC-IIM + a stock-photo XMP packet (no C2PA), one core:")
    print(f"  median {statistics.median(times):.2f} ms, p95 {sorted(times)[int(0.95 * n)]:.2f} ms per image")
    by_kind: dict[str, list[float]] = {"C2PA": [], "other": []}
    for f in sorted(FIXTURES.rglob("*")):
        if f.suffix.lower() in (".jpg", ".png", ".webp", ".avif"):
            d = decode_image(f.read_bytes(), Limits())
            metadata.compute(d)
            t0 = time.perf_counter()
            for _ in range(5):
                metadata.compute(d)
            ms = (time.perf_counter() - t0) * 200
            by_kind["C2PA" if f.parent.name == "c2pa" else "other"].append(ms)
    for k, v in by_kind.items():
        print(f"  fixtures, {k:5}: median {statistics.median(v):.2f} ms, max {max(v):.2f} ms ({len(v)} files)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    accuracy()
    timing(args.n)

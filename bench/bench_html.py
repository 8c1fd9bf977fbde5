"""How the HTML review page scales: time to write it and Chromium's first paint, at 1,000 to 10,000 pictures.

Makes N small pictures (real PNGs, 4 colours each so that thumbnails are real decodes), a report with the verdicts
and findings an audit of that size typically has (a third with one finding), writes the page with
curate/report/html.py (thumbnails beside it above EMBED_MAX pictures, lazily loaded) and opens it in headless
Chromium (Debian's, driven by Playwright), reading the first contentful paint and the load event from the
browser's own Performance API. Speed targets live here, never in timed tests.

    python bench/bench_html.py [--sizes 1000,10000] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))  # the Chromium flags the tests use

from browser import ARGS  # noqa: E402

from curate.report import html as html_report  # noqa: E402

CODES = [("RES001", "resolution", "error"), ("DUP002", "duplicate", "warning"), ("BLR001", "blur", "warning")]


def make(folder: Path, n: int) -> dict:
    rng = random.Random(n)
    images = []
    for i in range(n):
        rel = f"{10 + i % 3}_set/img_{i:05d}.png"
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        im = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
        im.paste(tuple(rng.randrange(256) for _ in range(3)), (8, 8, 40, 30))
        im.save(p, compress_level=1)
        findings = []
        if i % 3 == 0:
            code, cat, sev = CODES[i % len(CODES)]
            findings.append(
                {"code": code, "category": cat, "severity": sev, "message": f"{code} on {rel}", "evidence": {}}
            )
        verdict = "drop" if any(f["severity"] == "error" for f in findings) else "review" if findings else "keep"
        images.append({"path": rel, "sha256": "", "width": 64, "height": 48, "verdict": verdict, "findings": findings})
    counts = {v: sum(i["verdict"] == v for i in images) for v in ("drop", "review", "keep")}
    return {
        "schema": "curate.audit/v1",
        "tool": {"name": "curate", "version": "bench"},
        "dataset": {"root": str(folder), "base_model": "sdxl", "profile": "general", "layout": "concept"},
        "images": images,
        "groups": [],
        "findings": [],
        "summary": {"images": n, **counts},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print("| pictures | thumbnails | write the page | page size | first contentful paint | load event |")
    print("|---:|---|---:|---:|---:|---:|")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            args=ARGS,
        )
        for n in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "data"
                report = make(folder, n)
                out = Path(tmp) / "page.html"
                t0 = time.perf_counter()
                html_report.write(report, folder, out)
                wrote = time.perf_counter() - t0
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(out.as_uri(), wait_until="load")
                timing = page.evaluate(
                    """() => new Promise(done => {
                        const load = performance.getEntriesByType('navigation')[0].loadEventEnd;
                        new PerformanceObserver(list => {
                            const fcp = list.getEntries().find(e => e.name === 'first-contentful-paint');
                            if (fcp) done({fcp: fcp.startTime, load: load});
                        }).observe({type: 'paint', buffered: true});
                        setTimeout(() => done({fcp: NaN, load: load}), 5000);
                    })"""
                )
                assert page.locator(".card").count() == n
                page.close()
                where = "embedded" if n <= html_report.EMBED_MAX else "beside it, lazy"
                size = out.stat().st_size / 1e6
                print(
                    f"| {n:,} | {where} | {wrote:.1f} s | {size:.1f} MB | {timing['fcp'] / 1000:.2f} s | "
                    f"{timing['load'] / 1000:.2f} s |"
                )
        browser.close()
    print(json.dumps({"embed_max": html_report.EMBED_MAX, "thumb_px": html_report.THUMB_PX}))


if __name__ == "__main__":
    main()

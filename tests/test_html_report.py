"""The HTML review page: self-contained and offline, every untrusted string escaped, and — in a real headless
Chromium (Debian's, driven by Playwright) — cards, groups, filters, keyboard and the copy button work, and a
hostile file name runs nothing.

Screenshots go to $CURATE_SCREENSHOT_DIR when set (that is how docs/images/ is made), else to a temporary folder.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from browser import ARGS, find_chromium
from PIL import Image

from curate.report import html as html_report

HOSTILE = "<img src=x onerror=alert(1)>.png"


@pytest.fixture
def hostile_set(tmp_path) -> Path:
    root = tmp_path / "data"
    d = root / "10_x"
    d.mkdir(parents=True)
    im = Image.new("RGB", (1024, 1024), (40, 120, 200))
    im.save(d / HOSTILE)
    (d / (HOSTILE[:-4] + ".txt")).write_text('x, "</script><script>alert(2)</script>')
    im.save(d / "copy.png")
    Image.new("RGB", (300, 200), (200, 40, 40)).save(d / "small.png")
    return root


def audit_with_html(run, folder: Path, tmp_path: Path, *extra: str) -> tuple[dict, Path, str]:
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    code, _, err = run("audit", folder, "--json", report, "--html", page, "-q", "--jobs", "1", *extra)
    assert page.exists(), err
    return json.loads(report.read_text()), page, page.read_text(encoding="utf-8")


def test_the_page_is_self_contained_and_escapes_every_name(hostile_set, run, tmp_path):
    report, page, text = audit_with_html(run, hostile_set, tmp_path, "--select", "DUP,RES")
    csp = html.unescape(re.search(r'Content-Security-Policy" content="([^"]+)"', text).group(1))
    assert csp.startswith("default-src 'none'; img-src data:;")
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text), "nothing may load from elsewhere"
    assert HOSTILE not in text and "&lt;img src=x onerror=alert(1)&gt;.png" in text
    assert "alert(2)" not in text  # captions are not shown; nothing of them leaks
    assert text.count('class="card ') == len(report["images"]) == 3
    assert text.count('<section class="group"') == len(report["groups"]) == 1
    # the page's one script and one style are allowed by hash, nothing else
    assert "'unsafe-inline'" not in csp and csp.count("sha256-") == 2
    assert text.count("<script>") == 1 and text.count("<style>") == 1
    # the resolution finding shades what kohya's crop cuts off
    assert 'class="crop"' in text


def test_report_html_from_a_saved_report_is_the_same_page(hostile_set, run, tmp_path):
    _, page, text = audit_with_html(run, hostile_set, tmp_path, "--select", "DUP,RES")
    code, out, err = run("report", "html", tmp_path / "report.json", "-o", tmp_path / "again.html")
    assert code == 0, err
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == text
    code, _, err = run(
        "report", "html", tmp_path / "report.json", "-o", tmp_path / "x.html", "--dataset", tmp_path / "no"
    )
    assert code == 2 and "the audited folder is not here" in err


def test_never_writes_through_a_link(hostile_set, run, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "page.html"
    link.symlink_to(target)
    code, _, err = run("audit", hostile_set, "--html", link, "-q", "--select", "RES")
    assert code == 2 and "symbolic link" in err
    assert target.read_text() == "keep me"


def test_large_sets_write_thumbnails_beside_the_page(hostile_set, run, tmp_path, monkeypatch):
    monkeypatch.setattr(html_report, "EMBED_MAX", 1)
    _, page, text = audit_with_html(run, hostile_set, tmp_path, "--select", "RES")
    files = sorted((tmp_path / "report_files").iterdir())
    assert len(files) == 3 and "data:image/jpeg" not in text
    assert 'src="report_files/' in text and 'loading="lazy"' in text


# ---- in a real browser ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    path = find_chromium()
    if not path:
        pytest.skip("no Chromium: install Debian's chromium package (or set CURATE_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=path,
            args=ARGS,
        )
        yield b
        b.close()


def _open(browser, page_path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    events: list[str] = []
    page.on("dialog", lambda d: (events.append("dialog: " + d.message), d.dismiss()))
    page.on("console", lambda m: events.append(f"console {m.type}: {m.text}"))
    page.on(
        "request", lambda r: events.append("request: " + r.url) if not r.url.startswith(("file:", "data:")) else None
    )
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, events


SHOTS = Path(os.environ["CURATE_SCREENSHOT_DIR"]).resolve() if os.environ.get("CURATE_SCREENSHOT_DIR") else None


def _shots() -> Path | None:
    return SHOTS


@pytest.mark.browser
@pytest.mark.slow
def test_the_sample_page_in_chromium(browser, sample_copy, run, tmp_path, monkeypatch):
    monkeypatch.chdir(sample_copy.parent)  # the report names the folder as a user types it: lora_data
    report, page_path, _ = audit_with_html(run, Path(sample_copy.name), tmp_path)
    page, events = _open(browser, page_path)
    images = report["images"]
    assert page.locator(".card").count() == len(images)
    for v in ("drop", "review", "keep"):
        want = sorted(i["path"] for i in images if i["verdict"] == v)
        got = sorted(page.locator(f"#{v} .card").evaluate_all("els => els.map(e => e.dataset.path)"))
        assert got == want, v
    assert page.locator("#duplicates .group").count() == sum("duplicate" in g["kind"] for g in report["groups"])
    keeper = report["groups"][0]["keep"]
    assert page.locator("#duplicates .group").first.locator(".keeper figcaption").inner_text().endswith(keeper)
    # filters
    page.uncheck("input[name=verdict][value=keep]")
    shown = page.locator(".card:not([hidden])").count()
    assert shown == report["summary"]["drop"] + report["summary"]["review"]
    assert page.locator("#shown").inner_text() == f"{shown} of {len(images)} pictures shown"
    page.check("input[name=verdict][value=keep]")
    page.select_option("#f-code", "DUP001")
    dup001 = [i["path"] for i in images if any(f["code"] == "DUP001" for f in i["findings"])]
    assert page.locator(".card:not([hidden])").evaluate_all("els => els.map(e => e.dataset.path)") == dup001
    page.select_option("#f-code", "")
    page.fill("#f-search", "motorcycle")
    assert page.locator(".card:not([hidden])").count() == sum("motorcycle" in i["path"] for i in images)
    page.fill("#f-search", "")
    # keyboard: j moves to the first card, x marks it; the button copies the marked paths
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.keyboard.press("x")
    first = page.locator(".card").first.get_attribute("data-path")
    assert page.locator(".card.marked").count() == 1
    page.click("#copy")
    assert page.locator("#marked").input_value() == first
    assert "1 marked" in page.locator("#nmarked").inner_text()
    # the evidence is drawn: the watermark's box, the strip's crop
    assert page.locator(".overlay rect.mark").count() >= 1 and page.locator(".overlay .crop").count() >= 1
    shots = _shots() or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.locator(".card").first.blur()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "report.png"))
    page.emulate_media(media="print")  # the filter bar stops following the scroll, not over the groups
    page.locator("#duplicates").scroll_into_view_if_needed()
    page.locator("#duplicates").screenshot(path=str(shots / "report-duplicates.png"))
    with Image.open(shots / "report.png") as im:
        assert im.size == (1280, 900)
    assert not [e for e in events if e.startswith(("dialog", "request"))], events
    assert not [e for e in events if "Content Security Policy" in e], events


@pytest.mark.browser
def test_a_hostile_file_name_runs_nothing(browser, hostile_set, run, tmp_path):
    _, page_path, _ = audit_with_html(run, hostile_set, tmp_path, "--select", "DUP,RES")
    page, events = _open(browser, page_path)
    page.wait_for_timeout(300)
    paths = page.locator(".card").evaluate_all("els => els.map(e => e.dataset.path)")
    assert f"10_x/{HOSTILE}" in paths
    assert page.locator(".card .path", has_text=HOSTILE).count() == 1  # shown as text, not as an element
    assert page.locator("main img[src=x]").count() == 0
    assert not [e for e in events if e.startswith(("dialog", "request"))], events


def test_composition_clusters_are_rows_with_their_label(tmp_path):
    d = tmp_path / "data" / "10_x"
    d.mkdir(parents=True)
    images = []
    for i in range(3):
        Image.new("RGB", (64, 64), (200, 30 * i, 30)).save(d / f"r{i}.png")
        verdict = "keep" if i == 0 else "review"
        finding = {"code": "CPS002", "category": "composition", "severity": "warning", "message": "red dress"}
        images.append(
            {
                "path": f"10_x/r{i}.png",
                "width": 64,
                "height": 64,
                "verdict": verdict,
                "findings": [] if i == 0 else [{**finding, "evidence": {"label": "a red dress", "p": 0.81}}],
            }
        )
    report = {
        "schema": "curate.audit/v1",
        "dataset": {"root": str(tmp_path / "data")},
        "images": images,
        "groups": [
            {
                "kind": "outfit-cluster",
                "members": [i["path"] for i in images],
                "keep": "10_x/r0.png",
                "evidence": {"label": "a red dress", "probability": 0.81},
            }
        ],
        "summary": {"images": 3, "keep": 1, "review": 2, "drop": 0},
    }
    text = html_report.render(report, tmp_path / "data", tmp_path / "page.html")
    clusters = text[text.index('<section id="clusters">') : text.index('<section id="rules">')]
    assert "outfit-cluster · 3 pictures · label: a red dress, probability: 0.81" in clusters
    assert clusters.count('<figure class="member') == 3 and clusters.count("keeper") == 1
    assert "label a red dress, p 0.81" in clusters  # each member says why it is in the row


def test_a_file_name_that_is_not_utf8_has_its_thumbnail(tmp_path):
    d = tmp_path / "data" / "10_x"
    d.mkdir(parents=True)
    Image.new("RGB", (64, 64), (10, 200, 10)).save(d / os.fsdecode(b"\x82\xa0.png"))
    shown = "10_x/\\x82\\xa0.png"  # as the JSON report writes it (UNR011)
    report = {
        "schema": "curate.audit/v1",
        "dataset": {"root": str(tmp_path / "data")},
        "images": [{"path": shown, "width": 64, "height": 64, "verdict": "review", "findings": []}],
        "summary": {"images": 1, "keep": 0, "review": 1, "drop": 0},
    }
    text = html_report.render(report, tmp_path / "data", tmp_path / "page.html")
    assert text.count("data:image/jpeg;base64,") == 1 and "10_x/\\x82\\xa0.png" in text

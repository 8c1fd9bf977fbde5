"""The audit as one self-contained, offline HTML page: thumbnails, verdicts, evidence drawn on the picture.

Built from the JSON report (`curate.audit/v1`) and the pictures themselves (decoded with curate's bounded
decoder, reduced to THUMB_PX). Nothing is loaded from anywhere: a Content-Security-Policy forbids every remote
load, and the page's one script and one style sheet are allowed by their SHA-256 only, so even a string that
escaped escaping could not run. Every text from the dataset (file names, captions, metadata, messages) is
HTML-escaped. Thumbnails are embedded as data URIs up to EMBED_MAX images; above that they are written as
files in a sibling `<name>_files/` folder and loaded lazily.

What the page shows: the summary and the assumptions the audit made; DROP, REVIEW and KEEP galleries (each card:
thumbnail with the text/mark and face boxes outlined and the part kohya's crop cuts off shaded, path, size,
verdict, findings linked to the check's documentation at the end of the page); duplicate groups side by side
with the keeper marked; composition clusters as rows. Filters by verdict, category, code and folder, search by
name, keyboard (j/k move, x marks, Enter opens), and a button that copies the marked paths.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from curate.files import atomic_writer
from curate.model import path_on_disk

THUMB_PX = 256
EMBED_MAX = 500  # above this many images, thumbnails go to a sibling folder (a page of ~15 kB per picture)
VERDICTS = ("drop", "review", "keep")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def thumbnail(path: Path) -> bytes | None:
    """A JPEG of at most THUMB_PX, or None when the file cannot be shown (curate's bounded decoder decides)."""
    from PIL import Image

    from curate.extract.decode import Limits, decode_image, to_rgb
    from curate.files import read_bounded

    limits = Limits()
    try:
        data = read_bounded(path, limits.max_file_bytes)
    except Exception:
        return None
    decoded = decode_image(data, limits)
    if decoded.image is None:
        return None
    try:
        im = to_rgb(decoded.image)
        im.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
        return buf.getvalue()
    except Exception:
        return None


def _boxes(evidence: dict[str, Any]) -> Iterable[list[float]]:
    """Normalised [x0, y0, x1, y1] boxes in a finding's evidence (marks, faces, a box of its own)."""
    for key in ("marks", "faces", "regions"):
        for item in evidence.get(key) or []:
            if isinstance(item, dict) and _is_box(item.get("box")):
                yield item["box"]
    if _is_box(evidence.get("box")):
        yield evidence["box"]


def _is_box(b: Any) -> bool:
    return isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in b)


def _crop(evidence: dict[str, Any]) -> list[float] | None:
    """The part of the picture kohya keeps, normalised, from a resolution finding: it resizes the picture to
    `resized` and centre-crops the `bucket` out of it."""
    resized, bucket = evidence.get("resized"), evidence.get("bucket")
    if not (isinstance(resized, list) and isinstance(bucket, list) and len(resized) == 2 and len(bucket) == 2):
        return None
    try:
        kw, kh = min(1.0, bucket[0] / resized[0]), min(1.0, bucket[1] / resized[1])
    except (TypeError, ZeroDivisionError):
        return None
    if kw >= 0.999 and kh >= 0.999:
        return None
    return [(1 - kw) / 2, (1 - kh) / 2, (1 + kw) / 2, (1 + kh) / 2]


def _overlay(findings: list[dict[str, Any]]) -> str:
    """An SVG over the thumbnail (viewBox = the unit square): mark/face boxes, and the crop shaded."""
    parts: list[str] = []
    for f in findings:
        ev = f.get("evidence") or {}
        crop = _crop(ev) if f.get("category") == "resolution" else None
        if crop and not any("crop" in p for p in parts):
            x0, y0, x1, y1 = crop
            parts.append(
                f'<path class="crop" fill-rule="evenodd" d="M0 0H1V1H0Z M{x0:.4f} {y0:.4f}H{x1:.4f}V{y1:.4f}'
                f"H{x0:.4f}Z\"><title>cut off by kohya's crop to the bucket</title></path>"
            )
        for b in _boxes(ev):
            cls = "face" if f.get("category") == "identity" else "mark"
            parts.append(
                f'<rect class="{cls}" x="{b[0]:.4f}" y="{b[1]:.4f}" width="{max(b[2] - b[0], 0.002):.4f}" '
                f'height="{max(b[3] - b[1], 0.002):.4f}"><title>{esc(f.get("code", ""))}</title></rect>'
            )
    if not parts:
        return ""
    return (
        f'<svg class="overlay" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">{"".join(parts)}</svg>'
    )


class Thumbs:
    """Thumbnails by image path: data URIs, or files in a sibling folder (relative URLs)."""

    def __init__(self, root: Path, paths: list[str], out: Path, embed: bool) -> None:
        self.src: dict[str, str] = {}
        folder = out.with_name(out.stem + "_files")
        if not embed:
            folder.mkdir(exist_ok=True)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for rel, data in zip(paths, pool.map(lambda p: thumbnail(path_on_disk(root, p)), paths)):
                if data is None:
                    continue
                if embed:
                    self.src[rel] = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
                else:
                    name = hashlib.sha256(rel.encode("utf-8", "surrogatepass")).hexdigest()[:24] + ".jpg"
                    (folder / name).write_bytes(data)
                    self.src[rel] = f"{folder.name}/{name}"

    def img(self, rel: str, alt: str, cls: str = "") -> str:
        src = self.src.get(rel)
        if src is None:
            return f'<div class="noimg {cls}" role="img" aria-label="{esc(alt)}">no preview</div>'
        return f'<img class="{cls}" src="{esc(src)}" alt="{esc(alt)}" loading="lazy" decoding="async">'


def _card(img: dict[str, Any], thumbs: Thumbs) -> str:
    path = str(img.get("path", ""))
    findings = img.get("findings") or []
    verdict = img.get("verdict", "keep")
    cats = sorted({str(f.get("category", "")) for f in findings})
    codes = sorted({str(f.get("code", "")) for f in findings})
    folder = str(PurePosixPath(path).parent)
    size = f"{img['width']}×{img['height']}" if img.get("width") and img.get("height") else "size unknown"
    items = "".join(
        f'<li class="sev-{esc(f.get("severity", ""))}"><a href="#rule-{esc(f.get("code", ""))}">'
        f"{esc(f.get('code', ''))}</a> {esc(f.get('message', ''))}</li>"
        for f in findings
    )
    alt = f"{path} ({verdict})"
    return (
        f'<article class="card v-{esc(verdict)}" tabindex="0" data-path="{esc(path)}" data-verdict="{esc(verdict)}" '
        f'data-categories="{esc(" ".join(cats))}" data-codes="{esc(" ".join(codes))}" data-folder="{esc(folder)}" '
        f'aria-label="{esc(alt)}">'
        f'<div class="pic">{thumbs.img(path, alt)}{_overlay(findings)}</div>'
        f'<div class="meta"><span class="badge b-{esc(verdict)}">{esc(verdict.upper())}</span> '
        f'<span class="size">{esc(size)}</span> <button type="button" class="mark" aria-pressed="false" '
        f'title="mark (x)">mark</button></div>'
        f'<p class="path">{esc(path)}</p>'
        f'<ul class="findings">{items}</ul></article>'
    )


def _group(group: dict[str, Any], thumbs: Thumbs, by_path: dict[str, dict[str, Any]]) -> str:
    members = [str(m) for m in group.get("members") or []]
    keep = str(group.get("keep", ""))
    cells = []
    for m in members:
        why = ""
        for f in (by_path.get(m) or {}).get("findings") or []:
            ev = f.get("evidence") or {}
            if f.get("category") in ("duplicate", "composition") and ev:
                shown = {k: v for k, v in ev.items() if isinstance(v, (int, float, str)) and k != "keep"}
                why = ", ".join(f"{k} {v}" for k, v in shown.items())
                break
        role = "keep" if m == keep else (by_path.get(m) or {}).get("verdict", "")
        cells.append(
            f'<figure class="member {"keeper" if m == keep else ""}">{thumbs.img(m, m, "small")}'
            f"<figcaption><b>{esc(role.upper() if role else '')}</b> {esc(m)}"
            f"{f'<br><small>{esc(why)}</small>' if why else ''}</figcaption></figure>"
        )
    ev = group.get("evidence") or {}
    label = ", ".join(f"{k}: {v}" for k, v in ev.items() if isinstance(v, (int, float, str)))
    return (
        f'<section class="group" data-kind="{esc(group.get("kind", ""))}"><h3>{esc(group.get("kind", ""))} · '
        f"{len(members)} pictures{f' · {esc(label)}' if label else ''}</h3>"
        f'<div class="row">{"".join(cells)}</div></section>'
    )


def _rules_reference(codes: Iterable[str]) -> str:
    from curate.checks.registry import load_all

    rules = load_all()
    out = []
    for code in sorted(set(codes)):
        r = rules.get(code)
        if r is None:
            continue
        out.append(
            f'<dt id="rule-{esc(code)}">{esc(code)} {esc(r.name)} <small>({esc(r.category)}, {esc(r.severity)})'
            f"</small></dt><dd><pre>{esc(r.render().strip())}</pre></dd>"
        )
    return f'<section id="rules"><h2>The checks in this report</h2><dl>{"".join(out)}</dl></section>'


STYLE = """
:root{--drop:#b00020;--review:#8a5a00;--keep:#1b6e20;--ink:#1a1a1a;--muted:#555;--line:#d0d0d0;--bg:#fafafa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;color:var(--ink);background:var(--bg);margin:0}
header,main,footer{padding:12px 20px}h1{font-size:20px;margin:4px 0}h2{font-size:17px;margin:18px 0 8px}
h3{font-size:14px;margin:6px 0}.counts span{margin-right:14px}.assume{color:var(--muted);font-size:13px}
#filters{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:8px 20px;z-index:2;
display:flex;flex-wrap:wrap;gap:10px;align-items:center}#filters label{white-space:nowrap}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}
.card{background:#fff;border:1px solid var(--line);border-left:5px solid var(--line);border-radius:4px;padding:8px}
.card.v-drop{border-left-color:var(--drop)}.card.v-review{border-left-color:var(--review)}
.card.v-keep{border-left-color:var(--keep)}.card:focus{outline:3px solid #1a4fd0;outline-offset:1px}
.card.marked{background:#eef3ff}.card[hidden],.group[hidden]{display:none}
.pic{position:relative;width:256px;max-width:100%;margin:auto}.pic img{display:block;max-width:100%;height:auto}
.overlay{position:absolute;inset:0;width:100%;height:100%}
.overlay rect{fill:none;stroke-width:.008}.overlay .mark{stroke:#ff1f5a}.overlay .face{stroke:#00a0ff}
.overlay .crop{fill:rgba(0,0,0,.55)}
.noimg{width:256px;max-width:100%;height:120px;display:flex;align-items:center;justify-content:center;
background:#eee;color:var(--muted)}.noimg.small{width:160px;height:80px}
.badge{font-weight:700;font-size:12px;padding:1px 6px;border-radius:3px;color:#fff}
.b-drop{background:var(--drop)}.b-review{background:var(--review)}.b-keep{background:var(--keep)}
.path{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all;margin:4px 0}
.findings{margin:0;padding-left:18px;font-size:12.5px}.findings a{font-weight:700;color:#1a4fd0}
.sev-error{color:#7a0016}.sev-warning{color:#5c3c00}.size{color:var(--muted);font-size:12px}
button{font:inherit}.mark[aria-pressed=true]{background:#1a4fd0;color:#fff}
.group{background:#fff;border:1px solid var(--line);border-radius:4px;padding:8px;margin-bottom:10px}
.row{display:flex;gap:10px;overflow-x:auto}.member{margin:0;max-width:170px;font-size:12px;word-break:break-all}
.member img.small{max-width:160px;height:auto;display:block}.member.keeper{outline:3px solid var(--keep)}
#rules pre{white-space:pre-wrap;font:12.5px/1.4 ui-monospace,monospace;margin:0 0 10px}
@media print{#filters{position:static}.card{break-inside:avoid}}
#marked{width:min(90vw,900px);height:90px;font-family:ui-monospace,monospace;font-size:12px}
"""

SCRIPT = """
(function(){
const cards=[...document.querySelectorAll('.card')];
const q=s=>document.querySelector(s);
function val(id){return q('#'+id).value;}
function apply(){
  const want=new Set([...document.querySelectorAll('input[name=verdict]:checked')].map(e=>e.value));
  const cat=val('f-category'),code=val('f-code'),folder=val('f-folder'),text=val('f-search').toLowerCase();
  let shown=0;
  for(const c of cards){
    const d=c.dataset;
    const ok=want.has(d.verdict)&&(!cat||d.categories.split(' ').includes(cat))&&
      (!code||d.codes.split(' ').includes(code))&&(!folder||d.folder===folder)&&
      (!text||d.path.toLowerCase().includes(text));
    c.hidden=!ok; if(ok)shown++;
  }
  q('#shown').textContent=shown+' of '+cards.length+' pictures shown';
}
function marked(){return cards.filter(c=>c.classList.contains('marked')).map(c=>c.dataset.path);}
function toggle(c){
  const on=!c.classList.contains('marked');c.classList.toggle('marked',on);
  c.querySelector('.mark').setAttribute('aria-pressed',on?'true':'false');
  q('#marked').value=marked().join('\\n');q('#nmarked').textContent=marked().length+' marked';
}
for(const c of cards){c.querySelector('.mark').addEventListener('click',()=>toggle(c));}
document.querySelectorAll('#filters input,#filters select').forEach(e=>e.addEventListener('input',apply));
q('#copy').addEventListener('click',()=>{
  const t=q('#marked');t.value=marked().join('\\n');t.select();
  if(navigator.clipboard){navigator.clipboard.writeText(t.value).catch(()=>document.execCommand('copy'));}
  else{document.execCommand('copy');}
  q('#nmarked').textContent=marked().length+' marked — copied';
});
document.addEventListener('keydown',e=>{
  if(e.target.matches('input,select,textarea'))return;
  const vis=cards.filter(c=>!c.hidden);if(!vis.length)return;
  let i=vis.indexOf(document.activeElement);
  if(e.key==='j'){vis[Math.min(i+1,vis.length-1)].focus();e.preventDefault();}
  else if(e.key==='k'){vis[Math.max(i-1,0)].focus();e.preventDefault();}
  else if(e.key==='x'&&i>=0){toggle(vis[i]);e.preventDefault();}
});
apply();
})();
"""


def _csp(thumbs_inline: bool) -> str:
    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"

    img = "data:" if thumbs_inline else "data: 'self' file:"
    return (
        f"default-src 'none'; img-src {img}; style-src {sha(STYLE)}; script-src {sha(SCRIPT)}; "
        "base-uri 'none'; form-action 'none'"
    )


def _select(id_: str, label: str, values: Iterable[str]) -> str:
    opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
    return f'<label>{esc(label)} <select id="{id_}"><option value="">all</option>{opts}</select></label>'


def render(report: dict[str, Any], root: Path, out: Path) -> str:
    """The page for `report` (pictures read from `root`); thumbnails files, when not embedded, beside `out`."""
    images = list(report.get("images") or [])
    embed = len(images) <= EMBED_MAX
    thumbs = Thumbs(root, [str(i.get("path", "")) for i in images], out, embed)
    ds = report.get("dataset") or {}
    summary = report.get("summary") or {}
    by_path = {str(i.get("path", "")): i for i in images}
    all_findings = [f for i in images for f in i.get("findings") or []] + list(report.get("findings") or [])
    cats = sorted({str(f.get("category", "")) for f in all_findings})
    codes = sorted({str(f.get("code", "")) for f in all_findings})
    folders = sorted({str(PurePosixPath(str(i.get("path", ""))).parent) for i in images})
    counts = " ".join(f'<span class="c-{v}"><b>{summary.get(v, 0)}</b> {v}</span>' for v in VERDICTS)
    by_cat = ", ".join(f"{esc(k)} {v}" for k, v in sorted((summary.get("by_category") or {}).items()))
    assumptions = "".join(
        f"<li>{esc(a.get('setting', ''))}: {esc(a.get('value', ''))} <small>({esc(a.get('source', ''))})</small></li>"
        for a in ds.get("assumptions") or []
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in ds.get("notes") or [])
    dataset_findings = "".join(
        f'<li class="sev-{esc(f.get("severity", ""))}"><a href="#rule-{esc(f.get("code", ""))}">'
        f"{esc(f.get('code', ''))}</a> {esc(f.get('path', ''))}: {esc(f.get('message', ''))}</li>"
        for f in report.get("findings") or []
    )
    galleries = []
    for v in VERDICTS:
        cards = [_card(i, thumbs) for i in images if i.get("verdict") == v]
        galleries.append(
            f'<section class="verdict" id="{v}"><h2>{v.upper()} · {len(cards)}</h2>'
            f'<div class="gallery">{"".join(cards)}</div></section>'
        )
    groups = list(report.get("groups") or [])
    dups = [g for g in groups if "duplicate" in str(g.get("kind", ""))]
    clusters = [g for g in groups if "duplicate" not in str(g.get("kind", ""))]
    filters = (
        '<nav id="filters" aria-label="filters">'
        + "".join(f'<label><input type="checkbox" name="verdict" value="{v}" checked> {v}</label>' for v in VERDICTS)
        + _select("f-category", "category", cats)
        + _select("f-code", "code", codes)
        + _select("f-folder", "folder", folders)
        + '<label>name <input id="f-search" type="search" placeholder="search by name"></label>'
        + '<span id="shown" role="status"></span>'
        + '<button type="button" id="copy">copy the marked paths</button> <span id="nmarked">0 marked</span>'
        + '<details><summary>marked paths</summary><textarea id="marked" aria-label="marked paths" readonly>'
        + "</textarea></details></nav>"
    )
    title = f"curate audit — {PurePosixPath(str(ds.get('root', ''))).name or ds.get('root', '')}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_csp(embed))}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{esc(title)}</title><style>{STYLE}</style></head><body>'
        f"<header><h1>{esc(title)}</h1>"
        f'<p class="assume">{esc(ds.get("root", ""))}</p>'
        f'<p class="counts">{counts} <span>· {summary.get("images", len(images))} pictures</span></p>'
        f"<p>Findings by category: {by_cat or 'none'}. Base model {esc(ds.get('base_model', ''))}, "
        f"profile {esc(ds.get('profile', ''))}, layout {esc(ds.get('layout', ''))}.</p>"
        f'<details class="assume"><summary>What the audit assumed</summary><ul>{assumptions}</ul>'
        f"{f'<ul>{notes}</ul>' if notes else ''}</details>"
        f"{f'<h2>Dataset findings</h2><ul class=findings>{dataset_findings}</ul>' if dataset_findings else ''}"
        f"</header>{filters}<main>"
        f"{''.join(galleries)}"
        f'<section id="duplicates"><h2>Duplicate groups · {len(dups)}</h2>'
        f"{''.join(_group(g, thumbs, by_path) for g in dups) or '<p>none</p>'}</section>"
        f'<section id="clusters"><h2>Composition clusters · {len(clusters)}</h2>'
        f"{''.join(_group(g, thumbs, by_path) for g in clusters) or '<p>none (needs the CLIP analysis)</p>'}"
        f"</section>{_rules_reference(codes)}</main>"
        f"<footer><small>{esc((report.get('tool') or {}).get('name', 'curate'))} "
        f"{esc((report.get('tool') or {}).get('version', ''))} · {esc(report.get('schema', ''))}</small></footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def write(report: dict[str, Any], root: Path, out: Path) -> None:
    """Write the page atomically (a temporary file beside it, then a rename; never through a link)."""
    files = out.with_name(out.stem + "_files")
    if files.is_symlink():
        raise OSError(f"{files} is a symbolic link; remove it or choose another name")
    with atomic_writer(out) as f:  # refuses a link at `out` before anything is rendered
        f.write(render(report, root, out))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))

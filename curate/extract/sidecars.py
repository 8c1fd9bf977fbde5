"""Read the small files that sit beside an image and say where it came from or what its author allows:
`.xmp` sidecars, gallery-dl `.json` metadata, saved web pages (`.html`) and saved HTTP headers.

Sidecars are tiny and read fresh on each audit (not cached): their content can change while the image
does not. Nothing here opens the network; HTML is scanned with the standard library's tolerant parser
(no entity or DTD processing), JSON with `json`, XMP with defusedxml (extract/metadata.py).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from curate.extract.metadata import parse_sidecar_xmp
from curate.files import NotRegularFile, TooLarge, read_bounded

MAX_SIDECAR_BYTES = 2 << 20


class _PageSignals(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}
        self.url: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (a.get("name") or a.get("property") or a.get("http-equiv") or "").lower()
            if name:
                self.meta.setdefault(name, []).append(a.get("content", ""))
            if name in ("og:url", "twitter:url") and a.get("content") and not self.url:
                self.url = a["content"]
        elif tag == "link" and "canonical" in a.get("rel", "").lower() and a.get("href"):
            self.url = self.url or a["href"]


def _page(text: str) -> dict[str, Any]:
    p = _PageSignals()
    try:
        p.feed(text)
        p.close()
    except Exception:
        pass
    robots = " ".join(p.meta.get("robots", []) + p.meta.get("x-robots-tag", [])).lower()
    return {
        "kind": "page",
        "robots": robots,
        "tdm_reservation": p.meta.get("tdm-reservation", []),
        "tdm_policy": p.meta.get("tdm-policy", []),
        "url": p.url,
    }


def _headers(d: dict[str, Any]) -> dict[str, Any]:
    low = {str(k).lower(): v for k, v in d.items()}

    def text(key: str) -> str:
        v = low.get(key, "")
        return " ".join(map(str, v)) if isinstance(v, list) else str(v)

    return {
        "kind": "headers",
        "robots": text("x-robots-tag").lower(),
        "tdm_reservation": [text("tdm-reservation")] if "tdm-reservation" in low else [],
        "tdm_policy": [text("tdm-policy")] if "tdm-policy" in low else [],
        "url": low.get("url") or low.get("location"),
    }


def _json(d: Any, name: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        return {"kind": "json", "problem": "not a JSON object"}
    if name.endswith(".headers.json") or any(
        str(k).lower() in ("x-robots-tag", "tdm-reservation", "content-type") for k in d
    ):
        return _headers(d)
    out: dict[str, Any] = {"kind": "gallery-dl" if "category" in d else "json"}
    for key in (
        "category",
        "subcategory",
        "url",
        "source",
        "page_url",
        "post_url",
        "illust_ai_type",
        "ai_generated",
        "rating",
        "license",
        "copyright",
    ):
        if key in d and isinstance(d[key], (str, int, float, bool)):
            out[key] = d[key]
    user = d.get("user") or d.get("author") or d.get("artist")
    if isinstance(user, dict):
        user = user.get("name") or user.get("account") or user.get("username") or user.get("nick")
    if isinstance(user, (str, int)):
        out["user"] = str(user)
    tags = d.get("tags")
    if isinstance(tags, list):
        out["tags"] = [
            t if isinstance(t, str) else str(t.get("name", "")) if isinstance(t, dict) else str(t) for t in tags[:200]
        ]
    elif isinstance(tags, str):
        out["tags"] = tags.split()[:200]
    return out


def read_sidecar(path: Path) -> dict[str, Any]:
    name = path.name.lower()
    try:
        data = read_bounded(path, MAX_SIDECAR_BYTES)
    except TooLarge:
        return {"kind": "unknown", "problem": "larger than 2 MB; not read"}
    except NotRegularFile as e:
        return {"kind": "unknown", "problem": f"not read: the path is {e.strerror}"}
    except OSError as e:
        return {"kind": "unknown", "problem": f"cannot read: {e.strerror or e}"}
    if name.endswith(".xmp"):
        return {"kind": "xmp", **parse_sidecar_xmp(data)}
    text = data.decode("utf-8", "replace")
    if name.endswith((".html", ".htm")):
        return _page(text)
    try:
        return _json(json.loads(text), name)
    except ValueError:
        return {"kind": "json", "problem": "not valid JSON"}
    except RecursionError:  # `[[[[…` nested deeper than Python's parser goes
        return {"kind": "json", "problem": "JSON nested too deeply to read"}


def read_sidecars(root: Path, rel_paths: tuple[str, ...], memo: dict[str, dict]) -> dict[str, dict]:
    """{relative path: parsed} for one image's sidecars; `memo` shares per-folder files between images."""
    out = {}
    for rel in rel_paths:
        if rel not in memo:
            memo[rel] = read_sidecar(root / rel)
        out[rel] = memo[rel]
    return out

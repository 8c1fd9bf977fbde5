"""Licensed ingredients for the mark detector's training and validation data (fetched, never committed).

Every source and its licence is listed in bench/DATA-LICENCES.md; this module fetches them into a cache folder
($CURATE_MARK_ASSETS, default ~/.cache/curate/mark-assets) from the package registries only:

  * logos: the npm package `simple-icons` (brand icons as SVG paths, CC0-1.0), drawn with cairosvg;
  * objects: Debian `openclipart-png` (public-domain clip art with transparency) — product shots and logo shapes;
  * fonts: Debian `fonts-noto-core` and `fonts-noto-cjk` (OFL-1.1), and OFL/Apache `@fontsource/*` npm packages
    (display, text and handwriting families);
  * backgrounds: the real photographs and digital artworks of bench/photo_corpus.py (Debian wallpapers, licences
    in its manifest), without the photos of bench/photos.py (those are bench/eval_marks.py's backgrounds).

**Splits.** Each ingredient falls in `tuning` or `validation` by a hash of its identity — a logo by its slug, an
object by its file, a font by its family, a background by its source photo (photo_corpus's split) — so the
validation data has logos, fonts and photographs the detector never saw. bench/eval_marks.py's own fonts
(DejaVu, Liberation and Debian's handwriting fonts) are in neither: they stay unseen by training altogether.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

DEBIAN = ("openclipart-png", "fonts-noto-core", "fonts-noto-cjk")
SIMPLE_ICONS = "simple-icons@16.37.0"
FONTSOURCE = [
    # handwriting and signature-like
    "caveat", "pacifico", "great-vibes", "satisfy", "homemade-apple", "sacramento", "allura", "parisienne",
    "yellowtail", "mr-dafoe", "alex-brush", "la-belle-aurore", "cedarville-cursive", "nothing-you-could-do",
    "reenie-beanie", "shadows-into-light", "indie-flower", "permanent-marker", "rock-salt", "marck-script",
    # text and display
    "roboto", "montserrat", "oswald", "bebas-neue", "playfair-display", "lobster", "open-sans", "lato",
]  # fmt: skip
HANDWRITING = set(FONTSOURCE[:20])
# Noto families used for Latin marks (the script-specific families cover other scripts, below).
NOTO_LATIN = ("NotoSans-", "NotoSerif-", "NotoSansMono-", "NotoSansDisplay-", "NotoSerifDisplay-")
NOTO_SCRIPTS = {  # script -> Noto family prefix (text in that script is drawn with it)
    "arabic": "NotoSansArabic-",
    "devanagari": "NotoSansDevanagari-",
    "thai": "NotoSansThai-",
    "hebrew": "NotoSansHebrew-",
}


def cache_dir() -> Path:
    return Path(os.environ.get("CURATE_MARK_ASSETS", Path.home() / ".cache" / "curate" / "mark-assets"))


def split_of(identity: str) -> str:
    return "tuning" if hashlib.sha256(identity.encode()).digest()[0] % 2 == 0 else "validation"


def fetch() -> Path:
    """Download and unpack everything once; returns the folder of unpacked packages."""
    root = cache_dir()
    tree, debs, npm = root / "tree", root / "debs", root / "npm"
    for d in (tree, debs, npm):
        d.mkdir(parents=True, exist_ok=True)
    for pkg in DEBIAN:
        if (tree / pkg).is_dir():
            continue
        if not list(debs.glob(f"{pkg}_*.deb")):
            r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True)
            if r.returncode:
                raise SystemExit(f"apt-get download {pkg} failed: {r.stderr.strip()[-300:]}")
        (tree / pkg).mkdir()
        subprocess.run(["dpkg-deb", "-x", str(sorted(debs.glob(f"{pkg}_*.deb"))[-1]), str(tree / pkg)], check=True)
    wanted = [SIMPLE_ICONS] + [f"@fontsource/{f}" for f in FONTSOURCE]
    for spec in wanted:
        name = spec.split("@")[1 if spec.startswith("@") else 0].replace("/", "-").removeprefix("fontsource-")
        dest = tree / ("simple-icons" if spec == SIMPLE_ICONS else f"fontsource-{name}")
        if dest.is_dir():
            continue
        r = subprocess.run(["npm", "pack", spec], cwd=npm, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"npm pack {spec} failed: {r.stderr.strip()[-300:]}")
        dest.mkdir()
        with tarfile.open(npm / r.stdout.strip().splitlines()[-1]) as t:
            t.extractall(dest, filter="data")
    return tree


@dataclass(frozen=True)
class Font:
    path: str
    family: str
    split: str
    kind: str  # "text", "hand" (handwriting), "cjk", or a script name
    index: int = 0  # face index in a .ttc collection
    licence: str = "OFL-1.1"


def _balanced(found: list[Font]) -> list[Font]:
    """Within each kind, families alternate between the splits in the order of their hash (a plain hash split left
    both CJK families, and three of twelve text families, on one side); a kind with one family alternates its
    files (weights) instead."""
    out = []
    for kind in sorted({f.kind for f in found}):
        group = [f for f in found if f.kind == kind]
        families = sorted({f.family for f in group}, key=lambda fam: hashlib.sha256(fam.encode()).digest())
        if len(families) > 1:
            side = {fam: ("tuning", "validation")[i % 2] for i, fam in enumerate(families)}
            out += [Font(f.path, f.family, side[f.family], f.kind, f.index, f.licence) for f in group]
        else:
            ordered = sorted(group, key=lambda f: hashlib.sha256(f.path.encode()).digest())
            out += [Font(f.path, f.family, ("tuning", "validation")[i % 2], f.kind, f.index, f.licence)
                    for i, f in enumerate(ordered)]  # fmt: skip
    return out


@lru_cache(maxsize=1)
def fonts() -> list[Font]:
    return _balanced(_found_fonts())


def _found_fonts() -> list[Font]:
    tree = fetch()
    out: list[Font] = []
    noto = tree / "fonts-noto-core/usr/share/fonts/truetype/noto"
    for p in sorted(noto.glob("*.ttf")):
        family = p.name.split("-")[0]
        if p.name.startswith(NOTO_LATIN):
            out.append(Font(str(p), family, split_of("font:" + family), "text"))
        for script, prefix in NOTO_SCRIPTS.items():
            if p.name.startswith(prefix):
                out.append(Font(str(p), family, split_of("font:" + family), script))
    cjk = tree / "fonts-noto-cjk/usr/share/fonts/opentype/noto"
    for p in sorted(cjk.glob("*.ttc")):
        family = p.name.split("-")[0]  # NotoSansCJK / NotoSerifCJK
        out.append(Font(str(p), family, split_of("font:" + family), "cjk", index=0))  # index 0: Japanese
    for name in FONTSOURCE:
        pkg = tree / f"fontsource-{name}/package"
        meta = json.loads((pkg / "package.json").read_text())
        for p in sorted((pkg / "files").glob(f"{name}-latin-*-normal.woff2")):
            if p.name.startswith(f"{name}-latin-ext-"):
                continue  # the latin-ext subset holds only the extended letters (Ā, ő…): "Photo © Anna" in it is boxes
            out.append(
                Font(
                    str(p),
                    name,
                    split_of("font:" + name),
                    "hand" if name in HANDWRITING else "text",
                    0,
                    meta.get("license", "see package"),
                )  # fmt: skip
            )
    return out


def fonts_for(split: str, kind: str) -> list[Font]:
    return [f for f in fonts() if f.split == split and f.kind == kind]


@dataclass(frozen=True)
class Logo:
    slug: str
    split: str
    svg: str


@lru_cache(maxsize=1)
def logos() -> list[Logo]:
    icons = fetch() / "simple-icons/package/icons"
    return [Logo(p.stem, split_of("logo:" + p.stem), p.read_text()) for p in sorted(icons.glob("*.svg"))]


def logo_alpha(logo: Logo, px: int) -> np.ndarray:
    """The logo's shape as an alpha map (float 0–1) `px` high, drawn from its SVG path."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=logo.svg.encode(), output_height=px)
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGBA"))[:, :, 3].astype(np.float32) / 255


@lru_cache(maxsize=1)
def objects() -> list[tuple[str, str]]:
    """(path, split) of clip-art objects with transparency, big enough to stand for a product."""
    root = fetch() / "openclipart-png/usr/share/openclipart/png"
    out = []
    for p in sorted(root.rglob("*.png")):
        rel = str(p.relative_to(root))
        if re.search(r"(border|frame|pattern|background|texture|text|letter|font|alphabet|sign)", rel, re.I):
            continue  # not objects, or objects that are text themselves
        try:
            with Image.open(p) as im:  # the header only
                if im.width * im.height > 16_000_000:
                    continue  # a few are posters of 100–230 megapixels: slow to draw, and not product-like
        except (Image.DecompressionBombError, OSError):
            continue
        out.append((str(p), split_of("object:" + rel)))
    return out


def photos_release() -> int:
    """Which release of bench/photo_corpus.py the backgrounds come from: 1, what the shipped detector was trained
    on, unless $CURATE_MARK_PHOTOS_RELEASE names another (docs/benchmarks.md: trained on release 2 as well)."""
    return int(os.environ.get("CURATE_MARK_PHOTOS_RELEASE", "1"))


@lru_cache(maxsize=1)
def backgrounds() -> dict[str, list[tuple[str, str, Path]]]:
    """split -> [(name, kind, cached file)] of photo_corpus's pictures, saved once at quality 97 (loading the
    wallpapers is slow). The photos of bench/photos.py are left out: they are bench/eval_marks.py's. The corpus's
    first release unless $CURATE_MARK_PHOTOS_RELEASE says otherwise (photos_release())."""
    release = photos_release()
    root = cache_dir() / ("backgrounds" if release == 1 else f"backgrounds-r{release}")
    index = root / "index.json"
    if not index.exists():
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from photo_corpus import pictures

        root.mkdir(parents=True, exist_ok=True)
        rows = []
        for p in pictures(release=release):
            if p.source.startswith("wheel/"):
                continue
            path = root / f"{p.name}.jpg"
            p.image.save(path, quality=97)
            rows.append([p.name, p.kind, p.split, p.source, p.licence, path.name])
        index.write_text(json.dumps(rows, indent=0))
    out: dict[str, list[tuple[str, str, Path]]] = {"tuning": [], "validation": []}
    for name, kind, split, _source, _lic, file in json.loads(index.read_text()):
        out[split].append((name, kind, root / file))
    return out


def main() -> None:
    tree = fetch()
    print(f"assets in {tree}")
    for split in ("tuning", "validation"):
        fs = [f for f in fonts() if f.split == split]
        kinds: dict[str, set[str]] = {}
        for f in fs:
            kinds.setdefault(f.kind, set()).add(f.family)
        print(split, {k: len(v) for k, v in sorted(kinds.items())}, "families;",
              sum(lg.split == split for lg in logos()), "logos;",
              sum(s == split for _, s in objects()), "objects;",
              len(backgrounds()[split]), "backgrounds")  # fmt: skip


if __name__ == "__main__":
    main()

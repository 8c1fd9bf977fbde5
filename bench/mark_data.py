"""Training and validation pictures for the mark detector: marks stamped on licensed backgrounds, with their masks.

Reproducible from a seed: `sample(split, seed)` always draws the same picture. Ingredients come from
bench/mark_assets.py and never cross splits (logos, fonts, objects and background photos of the validation split
are never used for tuning). Each sample is the detector's input — the whole picture squeezed to INPUT × INPUT px
by curate/extract/overlay.py's own `detector_input` — and a GRID × GRID map of how much of each cell the mark
covers (0 for negatives: scene text is not a mark).

Positives, in the placements and styles seen on real marked pictures:
  corner      a small logo, logo + name, or credit text (©, @handle, web address, "Photo: …", shop name, Japanese
              and other scripts) in a corner or along an edge — the shop's logo on a product photo;
  centre      a large semi-transparent logo and/or name across the middle — the estate agent's mark;
  tiled       text or a logo repeated in a grid, level or at an angle — stock previews;
  diagonal    one large word or name across the picture ("SAMPLE", an agency name);
  scattered   several small marks at random places;
  signature   a name in a handwriting font near a bottom corner.
Styles: filled white, black, grey or a colour; outline only; drop shadow; emboss (light and dark edges only);
opacity 0.15–1.0; then (usually) JPEG at quality 55–95 and a resize, as marked pictures reach a dataset.

Negatives: clean photos and digital art; textures (a photo zoomed 2–4×); product shots (clip-art objects on plain
backgrounds) with and without text printed on the product; and scene text — signs, shop fronts, painted walls,
carved names and labels drawn in perspective, shaded and blurred with the scene.
"""

from __future__ import annotations

import io
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mark_assets as assets  # noqa: E402

from curate.extract.overlay import GRID, detector_input  # noqa: E402

# Bump when a change here or in mark_assets.py changes what a seed draws (the data cache's key). 2: without
# fontsource's latin-ext subsets, whose basic letters are missing — version 1 drew a quarter (tuning) to half
# (validation) of the Latin marks and signatures as rows of boxes (the shipped detector, marknet-2, learnt on it).
DATA_VERSION = 2
POSITIVE = ("corner", "centre", "tiled", "diagonal", "scattered", "signature")
NEGATIVE = ("clean_photo", "clean_art", "texture", "product", "product_text", "scene_text")
# Share of each kind in a training draw (positives half, negatives half).
MIX = {
    "corner": 0.14, "centre": 0.08, "tiled": 0.08, "diagonal": 0.06, "scattered": 0.06, "signature": 0.08,
    "clean_photo": 0.12, "clean_art": 0.05, "texture": 0.05, "product": 0.08, "product_text": 0.08,
    "scene_text": 0.12,
}  # fmt: skip

SYLLABLES = ["ka", "ri", "mo", "to", "na", "lu", "ve", "sa", "ro", "mi", "da", "ne", "jo", "be", "el", "an", "or"]
TLDS = ["com", "net", "jp", "co.uk", "de", "art", "photo", "shop", "io", "fr"]
AGENCY = ["Images", "Stock", "Photo", "Pictures", "Studio", "Media", "Graphics", "Foto", "Visuals", "Creative"]
LATIN_MARKS = [
    "© {N}", "©{Y} {N}", "(c) {N}", "@{h}", "www.{h}.{t}", "{h}.{t}", "{N} {A}", "{W}{A}", "Photo: {N}",
    "photo by {N}", "Image © {N}", "{N} Photography", "instagram.com/{h}", "SAMPLE", "PREVIEW", "PROOF",
    "DRAFT", "DO NOT COPY", "sample", "{W} {A} | {h}.{t}", "©{Y} {W} Co., Ltd.", "{W}", "{N}",
]  # fmt: skip
CJK_MARKS = ["サンプル", "見本", "無断転載禁止", "© {J}", "{J}写真", "{J}スタジオ", "样本", "版权所有", "샘플"]
CJK_NAMES = ["山田", "佐藤花子", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
SCRIPT_MARKS = {
    "arabic": ["عينة", "حقوق محفوظة"],
    "devanagari": ["नमूना", "सर्वाधिकार"],
    "thai": ["ตัวอย่าง", "สงวนลิขสิทธิ์"],
    "hebrew": ["דוגמה", "כל הזכויות שמורות"],
}
SCENE_WORDS = [
    "CAFE", "OPEN", "EXIT", "PHARMACY", "Sports Centre", "Car Parks", "HOTEL", "Main Street", "BAKERY", "Station",
    "Museum", "NO ENTRY", "Library", "Market", "Platform 2", "Bus Stop", "Books", "Flowers", "Gallery", "Town Hall",
    "SALE", "Fresh Fruit", "Pizza", "Post Office", "Cinema", "Park", "Restaurant", "BAR", "Bank", "Hospital",
    "ORGANIC", "Natural", "Premium", "Coffee", "Tea", "Milk", "Juice", "Soap", "Shampoo", "Cookies",
]  # fmt: skip


def _name(rng: random.Random, parts: int = 2) -> str:
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() for _ in range(parts))


def _handle(rng: random.Random) -> str:
    base = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
    return base + rng.choice(["", "_", ".", "_art", "photo", str(rng.randint(1, 99))])


def mark_text(rng: random.Random, split: str) -> tuple[str, assets.Font]:
    """A mark's words and the font to draw them with."""
    r = rng.random()
    if r < 0.1:
        return rng.choice(CJK_MARKS).format(J=rng.choice(CJK_NAMES)), rng.choice(assets.fonts_for(split, "cjk"))
    if r < 0.14:
        script = rng.choice(sorted(SCRIPT_MARKS))
        return rng.choice(SCRIPT_MARKS[script]), rng.choice(assets.fonts_for(split, script))
    text = rng.choice(LATIN_MARKS).format(
        N=_name(rng, rng.choice([1, 2, 2])), h=_handle(rng), t=rng.choice(TLDS), A=rng.choice(AGENCY),
        W=_name(rng, 1), Y=rng.randint(1998, 2026),
    )  # fmt: skip
    if rng.random() < 0.3:
        text = text.upper()
    return text, rng.choice(assets.fonts_for(split, "text") + assets.fonts_for(split, "hand")[:2])


def text_alpha(text: str, font: assets.Font, px: int) -> np.ndarray:
    f = ImageFont.truetype(font.path, max(6, px), index=font.index)
    x0, y0, x1, y1 = f.getbbox(text)
    w, h = max(1, x1 - x0 + 4), max(1, y1 - y0 + 4)
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).text((2 - x0, 2 - y0), text, font=f, fill=255)
    return np.asarray(im, dtype=np.float32) / 255


def _logo(rng: random.Random, split: str, px: int) -> np.ndarray:
    pool = [lg for lg in assets.logos() if lg.split == split]
    for _ in range(5):
        try:
            a = assets.logo_alpha(rng.choice(pool), px)
        except Exception:  # noqa: BLE001 — an SVG cairosvg cannot draw: take another
            continue
        if a.mean() > 0.03:
            return a
    return text_alpha("©", assets.fonts_for(split, "text")[0], px)


def _hstack(a: np.ndarray, b: np.ndarray, gap: int) -> np.ndarray:
    h = max(a.shape[0], b.shape[0])
    out = np.zeros((h, a.shape[1] + gap + b.shape[1]), np.float32)
    out[(h - a.shape[0]) // 2 : (h - a.shape[0]) // 2 + a.shape[0], : a.shape[1]] = a
    out[(h - b.shape[0]) // 2 : (h - b.shape[0]) // 2 + b.shape[0], a.shape[1] + gap :] = b
    return out


def _vstack(a: np.ndarray, b: np.ndarray, gap: int) -> np.ndarray:
    w = max(a.shape[1], b.shape[1])
    out = np.zeros((a.shape[0] + gap + b.shape[0], w), np.float32)
    out[: a.shape[0], (w - a.shape[1]) // 2 : (w - a.shape[1]) // 2 + a.shape[1]] = a
    out[a.shape[0] + gap :, (w - b.shape[1]) // 2 : (w - b.shape[1]) // 2 + b.shape[1]] = b
    return out


def mark_shape(rng: random.Random, split: str, height: int, what: str | None = None) -> np.ndarray:
    """A mark's shape (alpha 0–1) about `height` px high: a logo, text, or a logo with a name beside or below."""
    what = what or rng.choice(["logo", "text", "text", "logo+text"])
    if what == "logo":
        return _logo(rng, split, height)
    text, font = mark_text(rng, split)
    if what == "text":
        return text_alpha(text, font, height)
    logo = _logo(rng, split, height)
    words = text_alpha(text, font, max(8, int(height * rng.uniform(0.35, 0.6))))
    return _hstack(logo, words, height // 4) if rng.random() < 0.6 else _vstack(logo, words, height // 8)


def _rotate(a: np.ndarray, angle: float) -> np.ndarray:
    if not angle:
        return a
    im = Image.fromarray((a * 255).astype(np.uint8)).rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255


def _place(canvas: np.ndarray, shape: np.ndarray, x: int, y: int) -> None:
    """Add `shape` into `canvas` (a full-size alpha map) with its top-left at (x, y), clipped, keeping the max."""
    h, w = canvas.shape
    sh, sw = shape.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x1 <= x0 or y1 <= y0:
        return
    region = canvas[y0:y1, x0:x1]
    np.maximum(region, shape[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


def _fit(shape: np.ndarray, max_w: int, max_h: int) -> np.ndarray:
    s = min(1.0, max_w / shape.shape[1], max_h / shape.shape[0])
    if s >= 1:
        return shape
    im = Image.fromarray((shape * 255).astype(np.uint8))
    im = im.resize((max(1, int(shape.shape[1] * s)), max(1, int(shape.shape[0] * s))), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = a[
        max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)
    ]
    return out


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    im = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(im, dtype=np.float32) / 255


def _dilate(a: np.ndarray, size: int) -> np.ndarray:
    im = Image.fromarray((a * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(size))
    return np.asarray(im, dtype=np.float32) / 255


def stamp(rng: random.Random, rgb: np.ndarray, alpha: np.ndarray, opacity: float) -> tuple[np.ndarray, np.ndarray]:
    """Blend a mark (alpha map as large as the picture) onto float RGB in a random style. Returns the picture and
    where the mark shows (0–1)."""
    region = alpha > 0.3
    under = rgb[region].mean(axis=0) if region.any() else rgb.reshape(-1, 3).mean(axis=0)
    light = under.mean() > 128
    r = rng.random()
    colour = np.array(
        ((20, 20, 20) if light else (245, 245, 245)) if r < 0.6
        else (128, 128, 128) if r < 0.7
        else (255, 255, 255) if r < 0.8
        else rng.choice([(200, 30, 30), (30, 90, 200), (240, 180, 20), (20, 150, 70), (150, 50, 160)]),
        dtype=np.float32,
    )  # fmt: skip
    style = rng.choices(["fill", "outline", "shadow", "emboss", "fill+outline"], [0.5, 0.12, 0.13, 0.1, 0.15])[0]
    shows = alpha.copy()
    out = rgb
    if style == "emboss":
        k = max(1, round(alpha.shape[1] / 600))
        relief = _shift(alpha, -k, -k) - _shift(alpha, k, k)
        out = out + relief[..., None] * 255 * opacity * rng.uniform(0.5, 1.0)
        return np.clip(out, 0, 255), np.maximum(shows, np.abs(relief))
    if style == "shadow":
        k = max(1, round(alpha.shape[1] / 400))
        sh = _blur(_shift(alpha, k, k), k) * min(1.0, opacity * 1.3) * 0.7
        out = out * (1 - sh[..., None])
    if style in ("outline", "fill+outline"):
        k = max(3, 2 * round(alpha.shape[1] / 700) + 1)
        ring = np.clip(_dilate(alpha, k) - alpha, 0, 1)
        ring_colour = 255 - colour if style == "fill+outline" else colour
        a = ring[..., None] * opacity
        out = out * (1 - a) + ring_colour * a
        shows = np.maximum(shows, ring)
        if style == "outline":
            return np.clip(out, 0, 255), shows
    a = alpha[..., None] * opacity
    return np.clip(out * (1 - a) + colour * a, 0, 255), shows


# --- backgrounds ------------------------------------------------------------------------------------------------


def _load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def _crop_resize(rng: random.Random, im: Image.Image, long_side: int, zoom: float = 1.0) -> Image.Image:
    w, h = im.size
    aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.8)))
    cw = min(w, int(w / zoom))
    ch = min(h, int(cw / aspect))
    cw = min(cw, int(ch * aspect))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = im.crop((x, y, x + cw, y + ch))
    s = long_side / max(im.size)
    im = im.resize((max(8, round(im.width * s)), max(8, round(im.height * s))), Image.Resampling.LANCZOS)
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return im


def _colour_shift(rng: random.Random, a: np.ndarray) -> np.ndarray:
    gain = np.array([rng.uniform(0.9, 1.1) for _ in range(3)], np.float32) * rng.uniform(0.8, 1.15)
    return np.clip(a * gain + rng.uniform(-12, 12), 0, 255)


def background(rng: random.Random, split: str, kind: str, long_side: int) -> np.ndarray:
    pool = assets.backgrounds()[split]
    if kind in ("product", "product_text") or (kind in POSITIVE and rng.random() < 0.25):
        return product_shot(rng, split, long_side, text=kind == "product_text")
    if kind == "clean_art" or (kind in POSITIVE and rng.random() < 0.1):
        pool = [p for p in pool if p[1] == "art"]
    else:
        pool = [p for p in pool if p[1] == "photo"]
    _, _, path = rng.choice(pool)
    zoom = rng.uniform(2, 4) if kind == "texture" else 1.0
    return _colour_shift(rng, np.asarray(_crop_resize(rng, _load(path), long_side, zoom), dtype=np.float32))


def product_shot(rng: random.Random, split: str, long_side: int, text: bool) -> np.ndarray:
    """A clip-art object on a white, grey or soft gradient background with a soft shadow — an e-commerce shot.
    With `text`, a brand word is printed on the object (clipped to it, shaded with it)."""
    objs = [p for p, s in assets.objects() if s == split]
    w = long_side
    h = int(long_side * rng.uniform(0.75, 1.0))
    if rng.random() < 0.5:
        w, h = h, w
    base = rng.choice([255, 250, 245, 235, 220])
    bg = np.full((h, w, 3), base, np.float32)
    if rng.random() < 0.4:
        bg *= np.linspace(rng.uniform(0.85, 1.0), 1.0, h, dtype=np.float32)[:, None, None]
    for _ in range(3):
        with Image.open(rng.choice(objs)) as o:
            obj = o.convert("RGBA")
        if obj.getchannel("A").getbbox() is not None:
            break
    obj = obj.crop(obj.getchannel("A").getbbox())
    s = min(w * rng.uniform(0.45, 0.8) / obj.width, h * rng.uniform(0.45, 0.8) / obj.height)
    obj = obj.resize((max(4, int(obj.width * s)), max(4, int(obj.height * s))), Image.Resampling.LANCZOS)
    o = np.asarray(obj, dtype=np.float32)
    oa = o[..., 3] / 255
    x, y = (w - obj.width) // 2 + rng.randint(-w // 10, w // 10), (h - obj.height) // 2 + rng.randint(-h // 10, h // 10)
    full = np.zeros((h, w), np.float32)
    _place(full, oa, x, y)
    shadow = _blur(_shift(full, w // 80, h // 60), w / 100) * 0.35
    bg = bg * (1 - shadow[..., None])
    rgb = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        ch = np.zeros((h, w), np.float32)
        _place(ch, o[..., c] / 255, x, y)
        rgb[..., c] = ch * 255
    out = bg * (1 - full[..., None]) + rgb * full[..., None]
    if text:
        words = rng.choice(SCENE_WORDS[30:] + [_name(rng, 1).upper(), _name(rng, 1)])
        font = rng.choice(assets.fonts_for(split, "text"))
        ta = _fit(
            text_alpha(words, font, max(10, int(obj.height * rng.uniform(0.08, 0.2)))), int(obj.width * 0.8), obj.height
        )
        label = np.zeros((h, w), np.float32)
        _place(
            label, ta, x + (obj.width - ta.shape[1]) // 2, y + int((obj.height - ta.shape[0]) * rng.uniform(0.3, 0.7))
        )
        label = _perspective(rng, label, 0.04) * full  # printed on the object: clipped to it
        shade = out.mean(axis=2, keepdims=True) / 255  # the object's own light falls on the print
        ink = np.array(rng.choice([(20, 20, 20), (200, 20, 20), (255, 255, 255), (20, 60, 160)]), np.float32)
        out = out * (1 - label[..., None]) + ink * (0.5 + 0.5 * shade) * label[..., None]
    return out


def _perspective(rng: random.Random, a: np.ndarray, amount: float) -> np.ndarray:
    """A random perspective warp of an alpha map (its size kept)."""
    h, w = a.shape
    d = [rng.uniform(-amount, amount) * s for s in (w, h, w, h, w, h, w, h)]
    quad = (d[0], d[1], d[2], h + d[3], w + d[4], h + d[5], w + d[6], d[7])
    im = Image.fromarray((a * 255).astype(np.uint8)).transform(
        (w, h), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC
    )
    return np.asarray(im, dtype=np.float32) / 255


def scene_text(rng: random.Random, rgb: np.ndarray, split: str) -> np.ndarray:
    """Text that belongs to the scene: a sign or plate (own colour, border, shading) in perspective, paint on a
    wall (the wall's texture shows through), or carved letters (shaded by the scene's light), blurred with it."""
    h, w, _ = rgb.shape
    out = rgb
    for _ in range(rng.choice([1, 1, 2, 3])):
        words = rng.choice(SCENE_WORDS + [_name(rng, 1)])
        font = rng.choice(assets.fonts_for(split, "text"))
        px = int(h * rng.uniform(0.025, 0.09))
        ta = _fit(text_alpha(words, font, px), int(w * 0.8), int(h * 0.5))
        th, tw = ta.shape
        kind = rng.choice(["sign", "sign", "paint", "carved", "label"])
        x = rng.randint(0, max(0, w - tw - 2 * px))
        y = rng.randint(0, max(0, h - th - 2 * px))
        if kind in ("sign", "label"):
            plate = np.zeros((th + px, tw + px), np.float32)
            plate[:] = 1
            plate_col = np.array(
                rng.choice([(20, 90, 40), (30, 60, 140), (240, 240, 235), (180, 30, 30), (250, 200, 40), (60, 60, 60)]),
                np.float32,
            )
            ink = np.array((250, 250, 250) if plate_col.sum() < 400 else (20, 20, 20), np.float32)
            board = np.zeros((h, w), np.float32)
            letters = np.zeros((h, w), np.float32)
            _place(board, plate, x, y)
            _place(letters, ta, x + px // 2, y + px // 2)
            amount = rng.uniform(0.02, 0.15)
            seed = rng.random()
            board = _perspective(random.Random(seed), board, amount)
            letters = _perspective(random.Random(seed), letters, amount)
            light = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.1), w, dtype=np.float32)[None, :, None]
            sign = (plate_col * (1 - letters[..., None]) + ink * letters[..., None]) * light
            sign = sign + rng.gauss(0, 3) + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 3, sign.shape)
            out = out * (1 - board[..., None]) + sign * board[..., None]
        elif kind == "paint":
            letters = np.zeros((h, w), np.float32)
            _place(letters, ta, x, y)
            letters = _perspective(rng, letters, rng.uniform(0.0, 0.12))
            ink = np.array(rng.choice([(240, 240, 240), (20, 20, 20), (200, 40, 40), (40, 40, 160)]), np.float32)
            texture = out.mean(axis=2, keepdims=True) / max(1.0, float(out.mean()))  # the wall shows through
            out = out * (1 - letters[..., None] * 0.85) + ink * np.clip(texture, 0.5, 1.5) * letters[..., None] * 0.85
        else:  # carved: darker inside, lit edge on one side, in the scene's own colours
            letters = np.zeros((h, w), np.float32)
            _place(letters, ta, x, y)
            letters = _perspective(rng, letters, rng.uniform(0.0, 0.1))
            k = max(1, px // 12)
            out = out * (1 - 0.45 * letters[..., None]) + 60 * np.clip(_shift(letters, k, k) - letters, 0, 1)[..., None]
    blur = rng.uniform(0.3, 1.2)
    im = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(im, dtype=np.float32)


# --- one sample ------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    image: np.ndarray  # INPUT × INPUT × 3 uint8: the detector's input
    cover: np.ndarray  # GRID × GRID float32: share of each cell the mark covers
    kind: str
    opacity: float
    picture: Image.Image | None = None  # the full-size picture (kept only when asked)


def marks_for(rng: random.Random, kind: str, split: str, h: int, w: int) -> np.ndarray:
    """The alpha map (picture-sized) of the marks of one positive kind."""
    alpha = np.zeros((h, w), np.float32)
    long_side = max(h, w)
    if kind == "corner":
        sh = mark_shape(rng, split, int(long_side * rng.uniform(0.025, 0.08)))
        sh = _fit(sh, int(w * rng.uniform(0.12, 0.45)), h // 3)
        m = int(long_side * rng.uniform(0.005, 0.05))
        place = rng.choice(["tl", "tr", "bl", "br", "br", "bc", "tc"])
        x = {"l": m, "r": w - sh.shape[1] - m, "c": (w - sh.shape[1]) // 2}[place[1]]
        y = {"t": m, "b": h - sh.shape[0] - m}[place[0]]
        _place(alpha, sh, x, y)
    elif kind == "centre":
        sh = mark_shape(rng, split, int(min(h, w) * rng.uniform(0.1, 0.3)), rng.choice(["logo+text", "logo", "text"]))
        sh = _fit(sh, int(w * rng.uniform(0.4, 0.85)), int(h * 0.6))
        _place(
            alpha,
            sh,
            (w - sh.shape[1]) // 2 + rng.randint(-w // 12, w // 12),
            (h - sh.shape[0]) // 2 + rng.randint(-h // 12, h // 12),
        )
    elif kind == "tiled":
        sh = mark_shape(
            rng, split, int(long_side * rng.uniform(0.025, 0.06)), rng.choice(["text", "text", "logo", "logo+text"])
        )
        sh = _rotate(_fit(sh, w // 3, h // 3), rng.choice([0, 0, 30, 45, -30, -45]))
        sx, sy = sh.shape[1] + int(w * rng.uniform(0.05, 0.25)), sh.shape[0] + int(h * rng.uniform(0.05, 0.25))
        for j, yy in enumerate(range(-sh.shape[0] // 2, h, sy)):
            for xx in range(-(j % 2) * sx // 2, w, sx):
                _place(alpha, sh, xx, yy)
    elif kind == "diagonal":
        text, font = mark_text(rng, split)
        if rng.random() < 0.4:
            text = rng.choice(["SAMPLE", "PREVIEW", "PROOF", "WATERMARK", "COPYRIGHT", "見本"])
            font = rng.choice(assets.fonts_for(split, "cjk" if text == "見本" else "text"))
        sh = _fit(text_alpha(text, font, int(min(h, w) * rng.uniform(0.08, 0.2))), int(w * 0.9), h)
        sh = _rotate(sh, rng.choice([1, -1]) * rng.uniform(20, 45))
        sh = _fit(sh, w, h)
        _place(alpha, sh, (w - sh.shape[1]) // 2, (h - sh.shape[0]) // 2)
    elif kind == "scattered":
        sh = mark_shape(rng, split, int(long_side * rng.uniform(0.02, 0.05)), rng.choice(["logo", "text", "logo+text"]))
        sh = _fit(sh, w // 4, h // 4)
        for _ in range(rng.randint(3, 12)):
            _place(alpha, sh, rng.randrange(0, max(1, w - sh.shape[1])), rng.randrange(0, max(1, h - sh.shape[0])))
    elif kind == "signature":
        font = rng.choice(assets.fonts_for(split, "hand"))
        name = rng.choice([_name(rng, 1), _name(rng, 2), _name(rng, 1)[0] + ". " + _name(rng, 1)])
        if rng.random() < 0.3:
            name += f" {rng.randint(1990, 2026)}"
        sh = _rotate(text_alpha(name, font, int(long_side * rng.uniform(0.025, 0.06))), rng.uniform(-12, 12))
        sh = _fit(sh, w // 3, h // 4)
        m = int(long_side * rng.uniform(0.01, 0.05))
        x = w - sh.shape[1] - m if rng.random() < 0.7 else m
        y = h - sh.shape[0] - m if rng.random() < 0.85 else m
        _place(alpha, sh, x, y)
    return alpha


def as_received(rng: random.Random, im: Image.Image) -> Image.Image:
    """The picture as it usually reaches a dataset: (most often) a JPEG at quality 55–95, sometimes resized first."""
    if rng.random() < 0.8:
        if rng.random() < 0.4:
            s = rng.uniform(0.6, 0.95)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=rng.randint(55, 95))
        buf.seek(0)
        im = Image.open(buf).convert("RGB")
    return im


def sample(split: str, seed: int, kind: str | None = None, keep_picture: bool = False) -> Sample:
    rng = random.Random(f"{split}:{seed}")
    kind = kind or rng.choices(list(MIX), list(MIX.values()))[0]
    long_side = rng.randint(768, 1280)
    rgb = background(rng, split, kind, long_side)
    h, w, _ = rgb.shape
    opacity = 0.0
    cover_full = np.zeros((h, w), np.float32)
    if kind in POSITIVE:
        opacity = (
            rng.uniform(0.6, 1.0)
            if kind == "signature"
            else rng.choice([rng.uniform(0.15, 0.5), rng.uniform(0.5, 1.0)])
        )
        alpha = marks_for(rng, kind, split, h, w)
        rgb, shows = stamp(rng, rgb, alpha, opacity)
        cover_full = (shows > 0.3).astype(np.float32)
    elif kind == "scene_text":
        rgb = scene_text(rng, rgb, split)
    im = as_received(rng, Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)))
    x = np.asarray(detector_input(im))
    cover = np.asarray(Image.fromarray(cover_full).resize((GRID, GRID), Image.Resampling.BOX), dtype=np.float32)
    return Sample(x, cover, kind, opacity, im if keep_picture else None)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mark-samples")
    out.mkdir(parents=True, exist_ok=True)
    for i, k in enumerate(MIX):
        s = sample("tuning", i, k, keep_picture=True)
        assert s.picture is not None
        s.picture.save(out / f"{i:02d}_{k}.jpg")
        Image.fromarray((np.clip(s.cover * 4, 0, 1) * 255).astype(np.uint8)).resize((192, 192)).save(
            out / f"{i:02d}_{k}_cover.png"
        )
    print(out)

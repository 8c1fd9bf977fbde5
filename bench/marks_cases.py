"""Labelled mark cases: watermarks, logos and signatures drawn onto real photos and flat-colour art, plus
negatives (clean photos, flat art, photos with scene text).

Backgrounds are the real photos of bench/photos.py brought to 1024 px on the long side. Fonts: DejaVu and
Liberation for printed marks; for signatures the handwriting fonts Debian packages
(`apt install fonts-dancingscript fonts-kaushanscript fonts-kristi fonts-dkg-handwriting fonts-breip
fonts-humor-sans fonts-klee`) — the bench prints which it found and needs at least three.
Everything is drawn with a seeded RNG, so the case set is the same on every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from photos import photo_at, real_photos
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from quality_cases import NOT_PHOTOS, flat_art

PRINT_FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
]
HAND_FONTS = [
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",
    "/usr/share/fonts/opentype/kaushanscript/KaushanScript-Regular.otf",
    "/usr/share/fonts/truetype/kristi/Kristi.ttf",
    "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "/usr/share/fonts/truetype/breip/Breip.ttf",
    "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
    "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf",
]

NAMES = [
    "Mika Sato",
    "J. Rivera",
    "Anna K.",
    "Kenta",
    "L. Moreau",
    "Sofia",
    "T. Nakamura",
    "Ines Vidal",
    "Haru",
    "R. Okafor",
    "Yuki",
    "M. Berg",
]
MARK_TEXTS = [
    "© {n}",
    "© {n} Photography",
    "@{h}",
    "www.{h}.com",
    "{h}.art",
    "(c) 2024 {n}",
    "{n} Studio",
    "instagram.com/{h}",
    "photo by {n}",
    "presents by {n}",
]
BIG_TEXTS = ["SAMPLE", "PREVIEW", "WATERMARK", "© {n}", "{h}.com", "PROOF", "shutterstock", "{n}"]
HANDLES = ["mika_art", "jrivera", "annak.photo", "kenta_draws", "lmoreau", "sofia.ph", "nakamura_t", "ividal"]
SIGN_WORDS = [
    "MAIN ST",
    "EXIT",
    "OPEN",
    "CAFE",
    "STOP",
    "PHARMACY",
    "NO PARKING",
    "BAKERY",
    "HOTEL",
    "PLATFORM 3",
    "SALE 50%",
    "BUS STOP",
    "MUSEUM",
    "ONE WAY",
]
OPACITIES = (0.25, 0.3, 0.5, 0.8)


@dataclass
class Case:
    name: str
    kind: str  # positive mark type, or "neg_<type>"
    image: Image.Image
    opacity: float | None = None

    @property
    def positive(self) -> bool:
        return not self.kind.startswith("neg_")


def available(fonts: list[str]) -> list[str]:
    return [f for f in fonts if Path(f).exists()]


def backgrounds() -> list[tuple[str, Image.Image]]:
    """Real photos at 1024 px on the long side (large ones also as quadrants: more distinct scenes)."""
    out = []
    for name, im in real_photos(split_large=True):
        if name.split("_q")[0] in NOT_PHOTOS:
            continue
        w, h = im.size
        s = 1024 / max(w, h)
        out.append((name, photo_at(im, (round(w * s), round(h * s)))))
    return out


def _text_layer(size, text, font, px, xy, colour, opacity, angle=0.0, anchor="la"):
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    f = ImageFont.truetype(font, px)
    d = ImageDraw.Draw(layer)
    d.text(xy, text, font=f, fill=tuple(colour) + (round(255 * opacity),), anchor=anchor)
    if angle:
        layer = layer.rotate(angle, center=xy, resample=Image.BICUBIC)
    return layer


def _over(im, layer):
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def _fill(rng, tmpl):
    return tmpl.format(n=rng.choice(NAMES), h=rng.choice(HANDLES))


def _colour(rng, im, box=None):
    """White or black (or a near shade), whichever stands out from the picture under the mark: people and
    watermarking tools choose a visible colour."""
    region = im.crop(box) if box else im
    light = sum(region.convert("L").resize((16, 16)).getdata()) / 256 > 128
    return rng.choice([(0, 0, 0), (40, 40, 40)]) if light else rng.choice([(255, 255, 255), (220, 220, 220)])


def corner_text(im, rng, opacity):
    w, h = im.size
    text, font = _fill(rng, rng.choice(MARK_TEXTS)), rng.choice(PRINT_FONTS)
    px = rng.randint(18, 36)
    m = rng.randint(8, 30)
    corner = rng.choice(["lt", "rt", "lb", "rb", "mb"])
    x = {"l": m, "r": w - m, "m": w // 2}[corner[0]]
    y = {"t": m, "b": h - m}[corner[1]]
    anchor = {"l": "l", "r": "r", "m": "m"}[corner[0]] + {"t": "a", "b": "d"}[corner[1]]
    tw = ImageFont.truetype(font, px).getlength(text)
    x0 = {"l": x, "r": x - tw, "m": x - tw / 2}[corner[0]]
    y0 = y if corner[1] == "t" else y - px
    colour = _colour(rng, im, (int(max(0, x0)), int(max(0, y0)), int(min(w, x0 + tw)), int(min(h, y0 + px))))
    return _over(im, _text_layer(im.size, text, font, px, (x, y), colour, opacity, anchor=anchor))


def centre_text(im, rng, opacity):
    w, h = im.size
    text, font = _fill(rng, rng.choice(BIG_TEXTS)), rng.choice(PRINT_FONTS)
    px = rng.randint(70, 130)
    angle = rng.choice([0, 20, 30, 45, -30])
    colour = _colour(rng, im, (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    return _over(im, _text_layer(im.size, text, font, px, (w // 2, h // 2), colour, opacity, angle, "mm"))


def tiled_text(im, rng, opacity):
    w, h = im.size
    text, font = _fill(rng, rng.choice(["© {n}", "{h}", "SAMPLE", "@{h}", "{n}"])), rng.choice(PRINT_FONTS)
    px, angle = rng.randint(22, 40), rng.choice([0, 30, 45])
    colour = _colour(rng, im)
    layer = Image.new("RGBA", (w * 2, h * 2), (0, 0, 0, 0))
    f = ImageFont.truetype(font, px)
    d = ImageDraw.Draw(layer)
    step_x, step_y = rng.randint(220, 340), rng.randint(140, 220)
    for j, y in enumerate(range(0, h * 2, step_y)):
        for x in range(-(j % 2) * step_x // 2, w * 2, step_x):
            d.text((x, y), text, font=f, fill=colour + (round(255 * opacity),))
    layer = layer.rotate(angle, resample=Image.BICUBIC).crop((w // 2, h // 2, w // 2 + w, h // 2 + h))
    return _over(im, layer)


def _logo(rng, px, colour, alpha):
    """A small emblem without letters: ring + star/shape, drawn at 4× and reduced."""
    s = px * 4
    logo = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(logo)
    fill = colour + (alpha,)
    d.ellipse((s * 0.05, s * 0.05, s * 0.95, s * 0.95), outline=fill, width=max(4, s // 14))
    kind = rng.choice(["star", "tri", "leaf", "bars"])
    c = s / 2
    if kind == "star":
        pts = [
            (
                c + s * (0.36 if i % 2 == 0 else 0.15) * math.cos(math.pi * i / 5 - math.pi / 2),
                c + s * (0.36 if i % 2 == 0 else 0.15) * math.sin(math.pi * i / 5 - math.pi / 2),
            )
            for i in range(10)
        ]
        d.polygon(pts, fill=fill)
    elif kind == "tri":
        d.polygon([(c, s * 0.2), (s * 0.78, s * 0.72), (s * 0.22, s * 0.72)], fill=fill)
    elif kind == "leaf":
        d.ellipse((s * 0.3, s * 0.2, s * 0.7, s * 0.8), fill=fill)
        d.line((c, s * 0.15, c, s * 0.85), fill=(0, 0, 0, 0), width=max(3, s // 20))
    else:
        for i in range(3):
            x0 = s * (0.28 + 0.16 * i)
            d.rectangle((x0, s * (0.55 - 0.12 * i), x0 + s * 0.1, s * 0.72), fill=fill)
    return logo.resize((px, px), Image.LANCZOS)


def scattered_logos(im, rng, opacity):
    w, h = im.size
    px = rng.randint(40, 80)
    logo = _logo(rng, px, _colour(rng, im), round(255 * opacity))
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    for _ in range(rng.randint(5, 12)):
        layer.alpha_composite(logo, (rng.randrange(0, w - px), rng.randrange(0, h - px)))
    return _over(im, layer)


def corner_logo(im, rng, opacity):
    w, h = im.size
    px = rng.randint(60, 110)
    m = rng.randint(10, 30)
    x = rng.choice([m, w - px - m])
    y = rng.choice([m, h - px - m])
    logo = _logo(rng, px, _colour(rng, im, (x, y, x + px, y + px)), round(255 * opacity))
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    layer.alpha_composite(logo, (x, y))
    return _over(im, layer)


def signature(im, rng, fonts):
    w, h = im.size
    text, font = rng.choice(NAMES), rng.choice(fonts)
    px = rng.randint(30, 56)
    m = rng.randint(12, 40)
    right = rng.random() < 0.7
    x, y = (w - m, h - m) if right else (m, h - m)
    corner = (w - 320, h - 120, w, h) if right else (0, h - 120, 320, h)
    light = sum(im.crop(corner).convert("L").resize((16, 16)).getdata()) / 256 > 128
    colour = rng.choice([(20, 20, 20), (150, 30, 30), (30, 30, 120)]) if light else (240, 240, 240)
    angle = rng.choice([0, 0, 5, 10])
    layer = _text_layer(
        im.size, text, font, px, (x, y), colour, rng.uniform(0.75, 1.0), angle, ("r" if right else "l") + "d"
    )
    return _over(im, layer)


def scene_sign(im, rng):
    """Text painted on an object: an opaque plate with its own colour, border and shading, slightly skewed,
    placed in the scene (a street sign, shop front, label)."""
    w, h = im.size
    text, font = rng.choice(SIGN_WORDS), rng.choice(PRINT_FONTS[:5])
    px = rng.randint(24, 60)
    f = ImageFont.truetype(font, px)
    tw = int(f.getlength(text)) + px
    th = int(px * 1.6)
    plate_col = rng.choice([(20, 90, 40), (30, 60, 140), (240, 240, 235), (180, 30, 30), (250, 200, 40)])
    ink = (255, 255, 255) if sum(plate_col) < 400 else (20, 20, 20)
    plate = Image.new("RGBA", (tw, th), plate_col + (255,))
    d = ImageDraw.Draw(plate)
    d.rectangle((2, 2, tw - 3, th - 3), outline=ink + (255,), width=3)
    d.text((tw // 2, th // 2), text, font=f, fill=ink + (255,), anchor="mm")
    shade = Image.linear_gradient("L").resize((tw, th)).point(lambda v: 255 - v // 4)
    plate = Image.merge(
        "RGBA", [Image.composite(c, Image.new("L", (tw, th), 0), shade) for c in plate.split()[:3]] + [plate.split()[3]]
    )
    plate = plate.rotate(rng.uniform(-8, 8), expand=True, resample=Image.BICUBIC)
    plate = plate.filter(ImageFilter.GaussianBlur(0.6))
    x = rng.randrange(0, max(1, w - plate.width))
    y = rng.randrange(0, max(1, h - plate.height))
    out = im.convert("RGBA")
    out.alpha_composite(plate, (x, y))
    return out.convert("RGB")


def build_cases(hand_fonts: list[str], seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    bgs = backgrounds()
    cases: list[Case] = []
    for _i, (name, im) in enumerate(bgs):
        cases.append(Case(f"{name}", "neg_clean", im))
    for k in range(12):
        cases.append(Case(f"flat{k}", "neg_flat_art", flat_art(100 + k)))
    scene_real = {n: im for n, im in real_photos(split_large=False) if n in ("motorcycle_left", "text")}
    for n, im in scene_real.items():
        s = 1024 / max(im.size)
        cases.append(Case(f"{n}_real", "neg_scene_text", photo_at(im, (round(im.width * s), round(im.height * s)))))
    for _i, (name, im) in enumerate(bgs):
        cases.append(Case(f"{name}_sign", "neg_scene_text", scene_sign(im, rng)))
    # Marks go on each source picture equally often (a photo's quadrants are one source), and on art.
    sources: dict[str, list] = {}
    for name, im in bgs:
        sources.setdefault(name.split("_q")[0], []).append((name, im))
    for k in range(4):
        sources[f"art{k}"] = [(f"art{k}", flat_art(200 + k))]
    keys = sorted(sources)

    def pick():
        return rng.choice(sources[rng.choice(keys)])

    for op in OPACITIES:
        for maker, kind in (
            (corner_text, "text_corner"),
            (centre_text, "text_centre"),
            (tiled_text, "text_tiled"),
            (scattered_logos, "logo_scattered"),
            (corner_logo, "logo_corner"),
        ):
            for j in range(10):
                name, im = pick()
                cases.append(Case(f"{name}_{kind}_{op}_{j}", kind, maker(im, rng, op), op))
    for j in range(40):
        name, im = pick()
        cases.append(Case(f"{name}_signature_{j}", "signature", signature(im, rng, hand_fonts)))
    return cases

"""Real photographs available offline: public-domain / CC0 / CC-BY samples shipped inside installed wheels.

scikit-image (skimage/data: NASA, CC0 photographers, CC0Textures), scikit-learn (datasets/images: china.jpg,
flower.jpg, CC-BY) and matplotlib (grace_hopper.jpg, US Navy, public domain). Used only to build labelled
benchmark cases at run time; nothing here is written into the repository. `pip install -e '.[bench]'`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

SKIMAGE = [
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "camera.png",
    "motorcycle_left.png",
    "retina.jpg",
    "ihc.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "coins.png",
    "moon.png",
    "page.png",
    "text.png",
    "cell.png",
    "clock_motion.png",
    "color.png",
]


def _sources() -> list[tuple[str, Path]]:
    out = []
    try:
        import skimage

        base = Path(skimage.__file__).parent / "data"
        out += [(n.split(".")[0], base / n) for n in SKIMAGE if (base / n).exists()]
    except ImportError:
        pass
    try:
        import sklearn

        base = Path(sklearn.__file__).parent / "datasets" / "images"
        out += [(p.stem, p) for p in sorted(base.glob("*.jpg"))]
    except ImportError:
        pass
    try:
        import matplotlib

        p = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        if p.exists():
            out.append(("grace_hopper", p))
    except ImportError:
        pass
    if len(out) < 10:
        raise SystemExit("bench needs real photos: pip install -e '.[bench]' (scikit-image, matplotlib)")
    return out


def real_photos(split_large: bool = True) -> list[tuple[str, Image.Image]]:
    """(name, RGB image) for every photo; large ones are also split into non-overlapping halves/quadrants,
    which are different pictures of similar texture (hard negatives for duplicate detection)."""
    photos = []
    for name, path in _sources():
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        photos.append((name, rgb))
        if split_large and min(rgb.size) >= 480:
            w, h = rgb.size
            for i, box in enumerate(
                [(0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h), (w // 2, h // 2, w, h)]
            ):
                photos.append((f"{name}_q{i}", rgb.crop(box)))
    return photos


def photo_at(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Crop to the aspect of `size`, then resize (Lanczos) to it."""
    tw, th = size
    scale = max(tw / im.width, th / im.height)
    big = im.resize((max(tw, round(im.width * scale)), max(th, round(im.height * scale))), Image.LANCZOS)
    left, top = (big.width - tw) // 2, (big.height - th) // 2
    return big.crop((left, top, left + tw, top + th))

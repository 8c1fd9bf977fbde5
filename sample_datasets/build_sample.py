"""Rebuild sample_datasets/lora_data: a small kohya-layout dataset with planted, documented problems.

Every picture is a public-domain or CC0 photograph shipped inside an installed wheel (scikit-image's
`skimage/data`, matplotlib's `sample_data`); see sample_datasets/README.md for each one's licence and
for the list of planted problems. Requires the bench extra: `pip install -e '.[bench]'`.

    python sample_datasets/build_sample.py            # writes sample_datasets/lora_data
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

from PIL import Image


def photo(name: str) -> Image.Image:
    if name == "flower.jpg":
        import sklearn

        return Image.open(Path(sklearn.__file__).parent / "datasets" / "images" / name).convert("RGB")
    if name == "grace_hopper":
        import matplotlib

        return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    return Image.open(path).convert("RGB")


def save_jpeg(im: Image.Image, path: Path, quality: int = 90) -> None:
    im.save(path, "JPEG", quality=quality, optimize=True)


def caption(path: Path, text: str, ext: str = ".txt") -> None:
    path.with_suffix(ext).write_text(text + "\n", encoding="utf-8")


def build(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    photos = out / "10_pdphoto photo"
    textures = out / "5_pdtexture texture"
    photos.mkdir(parents=True)
    textures.mkdir()
    (out / "dataset_config.toml").write_text(
        "# kohya sd-scripts dataset config for the sample (an SD 1.5 LoRA at 512 px)\n"
        '[general]\ncaption_extension = ".txt"\nshuffle_caption = true\nkeep_tokens = 1\n\n'
        "[[datasets]]\nresolution = 512\nbatch_size = 2\nenable_bucket = true\nbucket_no_upscale = false\n"
        "min_bucket_reso = 256\nmax_bucket_reso = 1024\n\n"
        '  [[datasets.subsets]]\n  image_dir = "10_pdphoto photo"\n  num_repeats = 10\n  class_tokens = "pdphoto photo"\n\n'
        '  [[datasets.subsets]]\n  image_dir = "5_pdtexture texture"\n  num_repeats = 5\n  class_tokens = "pdtexture texture"\n',
        encoding="utf-8",
    )

    # Clean photos, captioned.
    clean = {
        "astronaut": ("astronaut.png", "pdphoto photo, an astronaut in a white suit in front of a flag"),
        "coffee": ("coffee.png", "pdphoto photo, a cup of coffee on a saucer, top view"),
        "rocket": ("rocket.jpg", "pdphoto photo, a rocket on a launch pad under a blue sky"),
        "motorcycle": ("motorcycle_left.png", "pdphoto photo, a motorcycle in a workshop"),
        "hubble": ("hubble_deep_field.jpg", "pdphoto photo, galaxies in deep space"),
    }
    for stem, (src, text) in clean.items():
        save_jpeg(photo(src), photos / f"{stem}.jpg")
        caption(photos / f"{stem}.jpg", text)

    # DUP001: an identical copy (same bytes).
    shutil.copyfile(photos / "astronaut.jpg", photos / "astronaut (copy).jpg")
    caption(photos / "astronaut (copy).jpg", clean["astronaut"][1])
    # DUP001: the same pixels saved as PNG.
    Image.open(photos / "rocket.jpg").save(photos / "rocket_export.png", optimize=True)
    caption(photos / "rocket_export.png", clean["rocket"][1])
    # DUP002: resized to 75 % and recompressed (also RES002: below 512 px).
    im = Image.open(photos / "coffee.jpg")
    save_jpeg(im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.LANCZOS), photos / "coffee_small.jpg", 60)
    caption(photos / "coffee_small.jpg", clean["coffee"][1])
    # DUP002: cropped 4 % on two sides and warmed.
    im = Image.open(photos / "motorcycle.jpg")
    w, h = im.size
    edit = im.crop((int(w * 0.04), int(h * 0.04), w, h))
    r, g, b = edit.split()
    edit = Image.merge("RGB", (r.point(lambda v: min(255, v + 18)), g, b.point(lambda v: max(0, v - 12))))
    save_jpeg(edit, photos / "motorcycle_warm.jpg", 85)
    caption(photos / "motorcycle_warm.jpg", clean["motorcycle"][1] + ", warm light")
    # CAP001: a clean photo with no caption.
    save_jpeg(photo("grace_hopper"), photos / "grace_hopper.jpg")
    # RES002: 451×300, enlarged ~1.3× to its bucket.
    save_jpeg(photo("chelsea.png"), photos / "chelsea_cat.jpg")
    caption(photos / "chelsea_cat.jpg", "pdphoto photo, a tabby cat looking up")
    # RES001: 256×256, enlarged 2× to 512.
    photo("camera.png").resize((256, 256), Image.LANCZOS).save(photos / "camera_thumb.png")
    caption(photos / "camera_thumb.png", "pdphoto photo, a man with a camera on a tripod, black and white")
    # RES003 + RES004: a 1411×160 strip (short side under min_bucket_reso, aspect beyond the buckets).
    retina = photo("retina.jpg")
    save_jpeg(retina.crop((0, 620, 1411, 780)), photos / "retina_strip.jpg")
    caption(photos / "retina_strip.jpg", "pdphoto photo, a strip of a retina photograph")
    # UPS001: a corner of the Hubble deep field cropped and enlarged 2.5× (bicubic) to look like a full-size shot.
    hubble = photo("hubble_deep_field.jpg").convert("RGB").crop((560, 0, 1000, 384))
    save_jpeg(
        hubble.resize((hubble.width * 5 // 2, hubble.height * 5 // 2), Image.BICUBIC), photos / "hubble_zoomed.jpg"
    )
    caption(photos / "hubble_zoomed.jpg", "pdphoto photo, a few galaxies in deep space, close-up")
    # UNR003: a JPEG cut off after 40 % of its bytes.
    buf = io.BytesIO()
    save_jpeg(photo("coffee.png").rotate(180), buf)
    (photos / "download_interrupted.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 5])
    caption(photos / "download_interrupted.jpg", "pdphoto photo, a cup of coffee")
    # UNR002: an HTML error page saved with an image extension.
    (photos / "saved_from_browser.png").write_text(
        "<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>\n",
        encoding="utf-8",
    )
    caption(photos / "saved_from_browser.png", "pdphoto photo")
    # CAP004: a caption whose image was deleted.
    (photos / "deleted_shot.txt").write_text("pdphoto photo, a photo that was removed\n", encoding="utf-8")

    # Textures.
    for stem, text in (
        ("brick", ""),
        ("grass", "pdtexture texture, green grass, close-up"),
        ("gravel", "pdtexture texture, grey gravel, close-up"),
    ):
        save_jpeg(photo(f"{stem}.png"), textures / f"{stem}.jpg")
        # CAP002: brick's caption is empty. CAP003: gravel's caption uses .caption, but the config reads .txt.
        caption(textures / f"{stem}.jpg", text, ".caption" if stem == "gravel" else ".txt")
    save_jpeg(photo("ihc.png"), textures / "ihc_stain.jpg")
    caption(textures / "ihc_stain.jpg", "pdtexture texture, stained tissue under a microscope")
    # A Japanese file name: handled like any other (clean).
    save_jpeg(retina.resize((768, 768), Image.LANCZOS), textures / "網膜の写真.jpg")
    caption(textures / "網膜の写真.jpg", "pdtexture texture, a retina photograph")
    # UNR007 + UNR008: an animated GIF (kohya does not load GIFs).
    frames = [photo("grass.png"), photo("gravel.png")]
    frames[0].save(textures / "grass_loop.gif", save_all=True, append_images=frames[1:], duration=500, loop=0)
    caption(textures / "grass_loop.gif", "pdtexture texture, grass")
    planted_watermark(photos)


def planted_watermark(photos: Path) -> None:
    """WMK001: a stock-preview style mark, white at 60 % opacity, in the bottom-right corner."""
    from PIL import ImageDraw, ImageFont

    im = photo("flower.jpg").convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).text(
        (im.width - 16, im.height - 16),
        "© Sample Stock Photos",
        font=ImageFont.load_default(size=26),
        fill=(255, 255, 255, 153),
        anchor="rd",
    )
    save_jpeg(Image.alpha_composite(im, layer).convert("RGB"), photos / "flower_preview.jpg")
    caption(photos / "flower_preview.jpg", "pdphoto photo, a pink flower")


# The licence of each picture (sample_datasets/README.md), recorded the way `curate consent init` lays out
# provenance.csv, so that `curate report provenance` on the sample has something true to say.
LICENCES = {
    "astronaut": ("NASA", "public domain", "https://images.nasa.gov/"),
    "rocket": ("SpaceX", "public domain (released by SpaceX)", ""),
    "hubble": ("NASA / ESA", "public domain", "https://hubblesite.org/"),
    "coffee": ("Rachel Michetti", "CC0-1.0", ""),
    "chelsea": ("Stefan van der Walt", "CC0-1.0", ""),
    "camera": ("Lav Varshney", "CC0-1.0", ""),
    "motorcycle": ("Middlebury stereo dataset", "no known restrictions (scikit-image)", ""),
    "retina": ("Mikael Häggström", "CC0-1.0", ""),
    "網膜": ("Mikael Häggström", "CC0-1.0", ""),
    "ihc": ("scikit-image", "no known copyright restrictions", ""),
    "brick": ("CC0Textures", "CC0-1.0", ""),
    "grass": ("CC0Textures", "CC0-1.0", ""),
    "gravel": ("CC0Textures", "CC0-1.0", ""),
    "grace_hopper": ("US Navy", "public domain (US government work)", ""),
    "flower": (
        "vultilion (Flickr), via scikit-learn; watermark added by build_sample.py",
        "CC-BY-2.0",
        "https://www.flickr.com/photos/vultilion/6056698931/",
    ),
}


def write_provenance(out: Path) -> None:
    import csv
    import hashlib

    from curate.consent import COLUMNS

    rows = []
    for p in sorted(out.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".png", ".gif") or p.name in ("saved_from_browser.png",):
            continue
        key = next((k for k in LICENCES if p.stem.startswith(k)), None)
        if key is None:
            continue
        author, licence, url = LICENCES[key]
        rows.append(
            {
                "path": p.relative_to(out).as_posix(),
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                "source_url": url,
                "author": author,
                "licence": licence,
                "subject": "",
                "subject_consent": "unknown",
                "consent_ref": "",
                "notes": "scikit-image / matplotlib sample data",
            }
        )
    with open(out / "provenance.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "lora_data"
    build(target)
    write_provenance(target)
    n = sum(1 for _ in target.rglob("*") if _.is_file())
    print(f"wrote {n} files to {os.path.relpath(target)}")

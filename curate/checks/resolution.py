"""Resolution: will kohya have to enlarge or crop this image to train on it?

kohya buckets images by pixel area ≈ resolution² (or trains every image at resolution×resolution
without `enable_bucket`). An image below that area is enlarged, and enlarging brings back no detail:
upscaled lines come out smeared ("AI-smooth", docs/field-knowledge.md §Resolution). curate places each image in a
bucket exactly as sd-scripts' BucketManager does and reports the factor. Thresholds: rules/checks.toml
[resolution]; the target comes from dataset_config.toml, else from `--base-model` (rules/base_models.toml).
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.kohya import concept_buckets, select_bucket, shortfall
from curate.model import Finding, ImageRecord

RES001 = rule(
    "RES001",
    "far-below-resolution",
    "resolution",
    "error",
    """
    The image is far below the training resolution: kohya enlarges it by [resolution] error_upscale
    ({resolution.error_upscale}×) or more.

    FAIL: 512×512 for SDXL (1024): enlarged 2.0×, the model sees a quarter of the detail it trains at.
    PASS: 1024×1024 or larger; 1216×832 (an SDXL bucket).
    With `bucket_no_upscale` nothing is enlarged; the image then trains at a smaller bucket, and the
    factor reported is how far its area falls short of resolution².
""",
    settings="resolution",
)
RES002 = rule(
    "RES002",
    "below-resolution",
    "resolution",
    "warning",
    """
    The image is a little below the training resolution: kohya enlarges it by more than
    [resolution] warn_upscale ({resolution.warn_upscale}×) but less than error_upscale
    ({resolution.error_upscale}×).

    FAIL: 832×832 for SDXL (enlarged 1.23×). PASS: 1000×1000 for SDXL (1.02×).
""",
    settings="resolution",
)
RES003 = rule(
    "RES003",
    "short-side-below-min-bucket",
    "resolution",
    "warning",
    """
    The short side is below `min_bucket_reso` (256 px unless the trainer or config sets another): no bucket is
    that narrow, so the image is enlarged and cropped to fit the narrowest one. Not said under
    `bucket_no_upscale`, where kohya ignores min_bucket_reso and enlarges nothing.

    FAIL: a 1600×200 strip. PASS: anything whose short side is ≥ min_bucket_reso.
""",
)
RES004 = rule(
    "RES004",
    "cropped-to-bucket",
    "resolution",
    "warning",
    """
    The aspect ratio is outside what the buckets hold: kohya crops more than [resolution]
    max_crop_fraction ({resolution.max_crop_fraction}) of the picture away to fit the nearest bucket.

    FAIL: an 8:1 panorama (4096×512) with max_bucket_reso 1024 at 1024 px: the widest bucket is 4:1
    (1024×256), so half the picture is cut away.
    PASS: ordinary photo ratios (3:2, 4:3, 16:9) with bucketing on.
    Without `enable_bucket` every image is cropped to a square, so a 3:2 photo loses a third.
""",
    settings="resolution",
)
RES005 = rule(
    "RES005",
    "no-bucket-possible",
    "resolution",
    "error",
    """
    kohya cannot train the image: under `bucket_no_upscale` a side shorter than bucket_reso_steps (64 px) rounds
    down to a 0-px bucket (sd-scripts stops with ZeroDivisionError when the height is the short one; a 0-px wide
    bucket fails when the image is resized). Remove it or enlarge it.

    FAIL: a 1024×40 strip with bucket_no_upscale. PASS: the same strip with bucketing that may enlarge.
""",
    since="0.2.0",
)
RES006 = rule(
    "RES006",
    "trained-rotated",
    "resolution",
    "warning",
    """
    The file's EXIF orientation tells viewers to turn or mirror it, but kohya ignores EXIF (it reads the size with
    imagesize and the pixels without transposing, sd-scripts issue #1316): it trains the picture as stored — on
    its side, upside down or mirrored — and buckets it by its stored size. Re-save it upright (e.g. `exiftran -ai`
    or `mogrify -auto-orient`).

    FAIL: a phone photo stored 4032×3024 with orientation 6 (shown 3024×4032). PASS: orientation 1 or none.
""",
    since="0.2.0",
)

ORIENTATION = {
    2: "mirrored left to right",
    3: "upside down",
    4: "mirrored top to bottom",
    5: "on its side and mirrored",
    6: "on its side (turned a quarter to the left)",
    7: "on its side and mirrored",
    8: "on its side (turned a quarter to the right)",
}


@image_check(emits=(RES001, RES002, RES003, RES004, RES005, RES006), settings=("resolution",))
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    if not rec.readable or not rec.width or not rec.height:
        return
    c = rec.concept
    w, h = rec.width, rec.height  # the stored size: what kohya buckets by
    orientation = rec.light("image").get("orientation", 1)
    if orientation in ORIENTATION:
        shown = (h, w) if orientation >= 5 else (w, h)
        yield ctx.finding(
            RES006,
            f"EXIF orientation {orientation}: viewers show it {shown[0]}×{shown[1]}, but kohya ignores EXIF and "
            f"trains it {ORIENTATION[orientation]} at its stored {w}×{h}; re-save it upright",
            {"orientation": orientation, "stored": [w, h], "shown": list(shown)},
        )
    plan = concept_buckets(c)
    fit = select_bucket(w, h, plan)
    target_w, target_h = c.resolution
    no_upscale = plan.no_upscale
    short = shortfall(w, h, plan, fit)
    target = f"{target_w}" if target_w == target_h else f"{target_w}×{target_h}"
    evidence = {
        "width": w,
        "height": h,
        "resolution": [target_w, target_h],
        "bucket": list(fit.bucket),
        "resized": list(fit.resized),
        "upscale": round(short, 2),
        "crop_fraction": round(fit.crop_fraction, 3),
        "megapixels": round(w * h / 1e6, 2),
    }
    if min(fit.bucket) == 0:
        yield ctx.finding(
            RES005,
            f"{w}×{h}: with bucket_no_upscale a side under {c.bucket_reso_steps} px gives a "
            f"{fit.bucket[0]}×{fit.bucket[1]} bucket — kohya stops with an error on it; remove or enlarge it",
            {**evidence, "bucket_reso_steps": c.bucket_reso_steps},
        )
        return
    error_at = ctx.cfg.resolution.error_upscale
    warn_at = ctx.cfg.resolution.warn_upscale
    if short >= warn_at:
        code = RES001 if short >= error_at else RES002
        if no_upscale:
            msg = (
                f"{w}×{h} is {short:.2f}× below the {target} px training resolution; with "
                f"bucket_no_upscale it trains as it is, at a {fit.bucket[0]}×{fit.bucket[1]} bucket"
            )
        else:
            msg = (
                f"{w}×{h} will be upscaled {short:.2f}× to the {fit.bucket[0]}×{fit.bucket[1]} bucket "
                f"({target} px training resolution): enlarging adds no detail"
            )
        yield ctx.finding(code, msg, evidence)
    if c.enable_bucket and not no_upscale and min(w, h) < c.min_bucket_reso:
        yield ctx.finding(
            RES003,
            f"short side {min(w, h)} px is below min_bucket_reso {c.min_bucket_reso}: "
            f"it is enlarged and cropped to the {fit.bucket[0]}×{fit.bucket[1]} bucket",
            {**evidence, "min_bucket_reso": c.min_bucket_reso},
        )
    if fit.crop_fraction > ctx.cfg.resolution.max_crop_fraction:
        how = "no bucket has this shape" if c.enable_bucket else "without enable_bucket every image is cropped square"
        yield ctx.finding(
            RES004,
            f"aspect {w / h:.2f}:1 — {how}; kohya crops {fit.crop_fraction:.0%} of the "
            f"picture to fit {fit.bucket[0]}×{fit.bucket[1]}",
            evidence,
        )

"""Over-smoothing: heavy beauty-app or Photoshop smoothing erases a person's identity ("the LoRA has no
effect"), and high-ISO shots cleaned by noise reduction train a soft look (docs/field-knowledge.md §Person LoRAs).

Unlike blur, the edges stay sharp: what is gone is the fine texture of flat areas. Skin is the one
material that always carries such texture (pores, fine hairs, blemishes, sensor noise) and that curate can
find — so it is measured on faces: `skin_texture` from curate/extract/faces.py, the fine residual on the
flattest half of each face. Scenes without faces are not judged. Pictures already called soft (BLR001),
upscaled (UPS001/UPS002) or heavily compressed (CMP, JPEG quality under [compression] warn_quality) lack
fine texture for that reason and are left to those checks. Thresholds:
rules/checks.toml [smoothing], set by bench/eval_quality.py. On under --profile person (the faces pass
costs ~60 ms per image plus ~65 ms per face), or with a [severity] override.
"""

from __future__ import annotations

from collections.abc import Iterator

from curate.checks.registry import Context, image_check, rule
from curate.derive.quality import is_low_jpeg_quality, is_soft, is_upscaled
from curate.model import Finding, ImageRecord

BLR002 = rule(
    "BLR002",
    "over-smoothed",
    "blur",
    "warning",
    """
    Over-smoothed skin: the largest face's skin holds almost no fine texture (under [smoothing]
    max_skin_texture, {smoothing.max_skin_texture} in 8-bit units; untouched faces measured 2.2–5.8)
    although the picture is not soft,
    upscaled or heavily compressed: a beauty filter, "surface blur" or strong noise reduction. The LoRA
    learns plastic skin and loses the person's likeness. Faces under [smoothing] min_face_px
    ({smoothing.min_face_px} px) are not judged.

    FAIL: a portrait through a beauty app's skin smoothing; a high-ISO shot after strong noise reduction.
    PASS: an untouched portrait; a landscape (no face).
""",
    settings="smoothing",
)


@image_check(
    emits=(BLR002,),
    needs=("quality", "faces"),
    settings=("smoothing", "blur", "upscaled", "compression", "quality", "identity"),
)
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    q = ctx.quality(rec)  # None for flat-colour art and unreadable files
    faces = ctx.faces(rec)
    if not q or not faces or is_soft(q, ctx.cfg) or is_upscaled(q, ctx.cfg) or is_low_jpeg_quality(q, ctx.cfg):
        return  # missing texture the soft / upscaled / compression checks explain
    f = rec.features["faces"]
    face = faces[0]  # largest first
    texture = face.get("skin_texture")
    x0, y0, x1, y1 = face["box"]
    width_px = round((x1 - x0) * f["analysed_width"])
    if texture is None or width_px < ctx.cfg.smoothing.min_face_px:
        return
    limit = ctx.cfg.smoothing.max_skin_texture
    if texture < limit:
        yield ctx.finding(
            BLR002,
            f"over-smoothed skin: the face holds fine texture of {texture:.2f} in 8-bit "
            f"units (flagged under {limit:g}; untouched faces measured 2.2–5.8) while the picture "
            "is sharp — a beauty filter or strong noise reduction; the LoRA learns plastic skin",
            {
                "skin_texture": texture,
                "face_box": face["box"],
                "face_width_px": width_px,
                "measured_at_px": f["analysed_width"],
            },
        )

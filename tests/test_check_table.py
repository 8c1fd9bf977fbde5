"""Every rule code, table-driven: synthetic cached features in → codes out, through the runner's contract
(`run_one`: derived results computed, declarations enforced). Each rule's FAIL and PASS examples from its
documentation are cases here (ids say "doc"); a test fails when a code has no failing case."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from builders import (
    clip_features,
    concept,
    ctx,
    face,
    hx,
    measured_quality,
    overlay_features,
    record,
    text_region,
    unit,
)

from curate.checks import (
    ai_generated,
    blur,
    caption,
    caption_evidence,
    caption_text,
    cloak,
    composition,
    compression,
    consent,
    duplicate,
    framing,
    identity,
    load_all,
    noise,
    opt_out,
    platform_terms,
    repeated_mark,
    resolution,
    rights,
    semantic_duplicate,
    signature,
    smoothing,
    text,
    unreadable,
    upscaled,
    watermark,
)
from curate.checks.registry import run_one
from curate.consent import Manifest
from curate.model import Caption, Finding

RULES = load_all()
SHARP = {
    "edge_sharpness": 0.9,
    "detail_fraction": 0.95,
    "reference_edge_sharpness": 1.4,
    "reference_detail_fraction": 1.0,
    "reference_px": 1024,
    "noise_sigma": 1.0,
    "noise_whiteness": 2.2,
    "chroma_noise_sigma": 0.2,
    "jpeg_quality": None,
    "blockiness": 1.0,
    "flat_fraction": 0.0,
}


def q(**over):
    return {**SHARP, **over}


def xmp(**props):
    """`metadata` features with XMP properties {name: [values]} (namespace left empty)."""
    return {"metadata": {"xmp": {k: [["", v] for v in vs] for k, vs in props.items()}}}


def manifest(rows=None, problem=None):
    return Manifest(rows or {}, problem)


def people(n_same: int, outlier: bool = False, dim: int = 128):
    """Records whose largest face is one person (descriptor near d0), plus optionally someone else."""
    rng = np.random.default_rng(3)
    d0 = rng.normal(size=dim) * 0.05
    recs = [
        record(f"10_x/p{i}.png", faces={"analysed_width": 1024, "faces": [face(d0 + 0.001 * i)]}) for i in range(n_same)
    ]
    if outlier:
        recs.append(record("10_x/other.png", faces={"analysed_width": 1024, "faces": [face(d0 + 0.2)]}))
    return recs


def composition_set(n_same: int, n_other: int, aspect: str = "background"):
    """A set whose `aspect` view is the same for n_same pictures and different for n_other."""
    view = {"background": "background", "outfit": "person", "pose": "person", "hairstyle": "head"}[aspect]
    recs = []
    for i in range(n_same + n_other):
        v = unit(0) if i < n_same else unit(4 + i % 12)  # outside the label space: no cluster
        recs.append(
            record(
                f"10_x/c{i:02d}.png",
                quality=q(),
                clip=clip_features(full=unit(4 + i % 12), **{view: v, "person": v if view == "person" else unit(5)}),
            )
        )
    labels = ["a", "b", "c", "d"]
    texts = {aspect: (labels, np.stack([unit(k) for k in range(4)]), view)}
    return recs, texts


def frame_features(top=0, bottom=0, left=0, right=0, colour=(30, 60, 90), alpha=None, size=(1024, 1024)):
    edge = [0, [200, 150, 100]]
    return {
        "alpha": alpha,
        "bars": {
            "size": list(size),
            **{
                side: ([n, list(colour)] if n else edge)
                for side, n in (("top", top), ("bottom", bottom), ("left", left), ("right", right))
            },
        },
    }


def pose_set(label_index: int, n: int = 6):
    recs = [
        record(f"10_x/s{i}.png", quality=q(), clip=clip_features(full=unit(4 + i), person=unit(label_index)))
        for i in range(n)
    ]
    labels = ["standing", "arms raised", "sitting", "lying down"]
    return recs, {"pose": (labels, np.stack([unit(k) for k in range(4)]), "person")}


# (id, check function, subject (a record, or a list for a dataset check), context, expected codes in order)
CASES = [
    # Resolution (sdxl: 1024 px).
    ("RES001 doc FAIL 512x512 for SDXL", resolution.check, lambda: record(w=512, h=512), ctx, ["RES001"]),
    ("RES001 doc PASS 1024x1024", resolution.check, lambda: record(), ctx, []),
    ("RES001 doc PASS 1216x832 bucket", resolution.check, lambda: record(w=1216, h=832), ctx, []),
    ("RES002 doc FAIL 832x832", resolution.check, lambda: record(w=832, h=832), ctx, ["RES002"]),
    ("RES002 doc PASS 1000x1000", resolution.check, lambda: record(w=1000, h=1000), ctx, []),
    ("RES003 doc FAIL 1600x200 strip", resolution.check, lambda: record(w=1600, h=200), ctx, ["RES002", "RES003"]),
    (
        "RES004 doc FAIL 8:1 panorama at 1024",
        resolution.check,
        lambda: record(w=4096, h=512, conc=concept(max_reso=1024)),
        ctx,
        ["RES004"],
    ),
    (
        "RES005 doc FAIL a 1024x40 strip with bucket_no_upscale",
        resolution.check,
        lambda: record(w=1024, h=40, conc=concept(no_upscale=True)),
        ctx,
        ["RES005"],
    ),
    (
        "RES005 doc PASS the same strip with buckets that enlarge",
        resolution.check,
        lambda: record(w=1024, h=40),
        ctx,
        ["RES001", "RES003", "RES004"],
    ),
    (
        "RES006 doc FAIL a phone photo with orientation 6",
        resolution.check,
        lambda: record(w=4032, h=3024, orientation_image=6),
        ctx,
        ["RES006"],
    ),
    ("RES006 doc PASS orientation 1", resolution.check, lambda: record(w=4032, h=3024), ctx, []),
    ("RES004 doc PASS 3:2 with buckets", resolution.check, lambda: record(w=1536, h=1024), ctx, []),
    (
        "RES004 without buckets a 3:2 photo loses a third",
        resolution.check,
        lambda: record(w=1536, h=1024, conc=concept(bucket=False)),
        ctx,
        ["RES004"],
    ),
    (
        "RES style profile: 800 px is an error",
        resolution.check,
        lambda: record(w=800, h=800),
        lambda: ctx("style"),
        ["RES001"],
    ),
    # Upscaled: judged by a learned model over the whole spectrum, so the cases carry what the extractor
    # measured on a real photo (builders.measured_quality), not hand-written numbers.
    (
        "UPS001 doc FAIL 512 enlarged to 1024",
        upscaled.check,
        lambda: record(quality=measured_quality("enlarged 2×")),
        ctx,
        ["UPS001"],
    ),
    (
        "UPS002 doc FAIL 2048 holding 1000",
        upscaled.check,
        lambda: record(w=2048, h=2048, quality=measured_quality("enlarged 2×")),
        ctx,
        ["UPS002"],
    ),
    (
        "UPS002 enlarged by its spectrum's shape, but no end of real detail measured: said, without a size",
        upscaled.check,
        lambda: record(quality={**measured_quality("enlarged 3×"), "detail_fraction": 1.0}),
        ctx,
        ["UPS002"],
    ),
    ("UPS002 doc PASS native photo", upscaled.check, lambda: record(quality=measured_quality()), ctx, []),
    (
        "UPS001 a sharp subject on a defocused background is not called enlarged",
        upscaled.check,
        lambda: record(quality=measured_quality("shallow depth of field")),
        ctx,
        [],
    ),
    (
        "UPS flat-colour art is not measured",
        upscaled.check,
        lambda: record(quality=measured_quality("flat art")),
        ctx,
        [],
    ),
    # Blur.
    (
        "BLR001 doc FAIL 2-px blur",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=0.76, reference_detail_fraction=0.3)),
        ctx,
        ["BLR001"],
    ),
    (
        "BLR001 heavy blur whose edges read sharp from JPEG ringing: the spectrum decides",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=0.9, reference_detail_fraction=0.27)),
        ctx,
        ["BLR001"],
    ),
    (
        "BLR001 just sharp enough",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=0.87, reference_detail_fraction=0.33)),
        ctx,
        [],
    ),
    (
        "BLR001 doc PASS sharp subject on a defocused background",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=1.2, reference_detail_fraction=1.0)),
        ctx,
        [],
    ),
    (
        "BLR001 doc PASS fog",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=0.95, reference_detail_fraction=0.45)),
        ctx,
        [],
    ),
    (
        "BLR001 doc PASS night",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=1.1)),
        ctx,
        [],
    ),
    (
        "BLR001 doc PASS sharp photos",
        blur.check,
        lambda: record(quality=q()),
        ctx,
        [],
    ),
    (
        "BLR001 doc PASS flat-colour digital art (not measured)",
        blur.check,
        lambda: record(quality=q(reference_edge_sharpness=0.5, reference_detail_fraction=0.2, flat_fraction=0.9)),
        ctx,
        [],
    ),
    # Smoothing (person profile).
    (
        "BLR002 doc FAIL beauty filter",
        smoothing.check,
        lambda: record(quality=q(), faces={"analysed_width": 1024, "faces": [face(skin_texture=0.8)]}),
        lambda: ctx("person"),
        ["BLR002"],
    ),
    (
        "BLR002 doc PASS untouched portrait",
        smoothing.check,
        lambda: record(quality=q(), faces={"analysed_width": 1024, "faces": [face(skin_texture=3.1)]}),
        lambda: ctx("person"),
        [],
    ),
    (
        "BLR002 doc PASS landscape (no face)",
        smoothing.check,
        lambda: record(quality=q(), faces={"analysed_width": 1024, "faces": []}),
        lambda: ctx("person"),
        [],
    ),
    (
        "BLR002 left to BLR001 when the picture is soft",
        smoothing.check,
        lambda: record(
            quality=q(reference_edge_sharpness=0.6),
            faces={"analysed_width": 1024, "faces": [face(skin_texture=0.8)]},
        ),
        lambda: ctx("person"),
        [],
    ),
    (
        "BLR002 a small face is not judged",
        smoothing.check,
        lambda: record(quality=q(), faces={"analysed_width": 200, "faces": [face(skin_texture=0.8)]}),
        lambda: ctx("person"),
        [],
    ),
    # Noise.
    (
        "NOI001 doc FAIL high-ISO night shot",
        noise.check,
        lambda: record(quality=q(noise_sigma=12.0, chroma_noise_sigma=3.0, noise_whiteness=1.4)),
        ctx,
        ["NOI001"],
    ),
    (
        "NOI002 doc FAIL noise of σ 8 at 1024 px, saved as JPEG q95",
        noise.check,
        lambda: record(quality=q(noise_sigma=5.4, chroma_noise_sigma=1.5, noise_whiteness=1.4)),
        ctx,
        ["NOI002"],
    ),
    (
        "NOI002 luminance-only grain counts too",
        noise.check,
        lambda: record(quality=q(noise_sigma=4.0, chroma_noise_sigma=0.1, noise_whiteness=1.4)),
        ctx,
        ["NOI002"],
    ),
    (
        "NOI002 noise in a 2048-px file is halved at 1024 px",
        noise.check,
        lambda: record(w=2048, h=2048, quality=q(noise_sigma=5.0, noise_whiteness=1.4)),
        ctx,
        [],
    ),
    (
        "NOI001 the same σ at the file's own 1024 px",
        noise.check,
        lambda: record(w=1024, h=1024, quality=q(noise_sigma=6.5, noise_whiteness=1.4)),
        ctx,
        ["NOI001"],
    ),
    (
        "NOI002 strong but not white: texture, not noise",
        noise.check,
        lambda: record(quality=q(noise_sigma=12.0, noise_whiteness=2.0)),
        ctx,
        [],
    ),
    (
        "NOI002 doc PASS light film grain (σ 3)",
        noise.check,
        lambda: record(quality=q(noise_sigma=1.8)),
        ctx,
        [],
    ),
    (
        "NOI002 doc PASS fine natural texture (grass, gravel)",
        noise.check,
        lambda: record(quality=q(noise_sigma=8.8, noise_whiteness=2.0, chroma_noise_sigma=0.0)),
        ctx,
        [],
    ),
    ("NOI001 doc PASS daylight photo", noise.check, lambda: record(quality=q()), ctx, []),
    # Compression.
    ("CMP001 JPEG q20", compression.check, lambda: record(fmt="JPEG", quality=q(jpeg_quality=20)), ctx, ["CMP001"]),
    ("CMP002 JPEG q45", compression.check, lambda: record(fmt="JPEG", quality=q(jpeg_quality=45)), ctx, ["CMP002"]),
    ("CMP003 blocks in a PNG", compression.check, lambda: record(quality=q(blockiness=1.7)), ctx, ["CMP003"]),
    (
        "CMP PASS JPEG q90",
        compression.check,
        lambda: record(fmt="JPEG", quality=q(jpeg_quality=90, blockiness=1.05)),
        ctx,
        [],
    ),
    (
        "CMP003 doc PASS a camera JPEG at q85 reads blocky but is judged by its tables",
        compression.check,
        lambda: record(fmt="JPEG", quality=q(jpeg_quality=85, blockiness=2.3)),
        ctx,
        [],
    ),
    (
        "CMP003 doc FAIL a JPEG saved at quality 20, then re-saved as PNG",
        compression.check,
        lambda: record(fmt="PNG", quality=q(blockiness=2.5)),
        ctx,
        ["CMP003"],
    ),
    # Unreadable.
    ("UNR001 doc FAIL empty file", unreadable.check, lambda: record(error={"kind": "empty"}), ctx, ["UNR001"]),
    (
        "UNR002 doc FAIL HTML page as .jpg",
        unreadable.check,
        lambda: record(error={"kind": "not-an-image", "content": "HTML"}),
        ctx,
        ["UNR002"],
    ),
    ("UNR003 truncated", unreadable.check, lambda: record(error={"kind": "truncated"}), ctx, ["UNR003"]),
    ("UNR004 corrupt", unreadable.check, lambda: record(error={"kind": "corrupt", "detail": "bad"}), ctx, ["UNR004"]),
    (
        "UNR005 decompression bomb",
        unreadable.check,
        lambda: record(error={"kind": "pixel-limit", "limit_pixels": 120_000_000}),
        ctx,
        ["UNR005"],
    ),
    (
        "UNR006 timeout",
        unreadable.check,
        lambda: record(error={"kind": "timeout", "limit_seconds": 30}),
        ctx,
        ["UNR006"],
    ),
    (
        "UNR007 doc FAIL anim.gif (not trained)",
        unreadable.check,
        lambda: record(path="10_x/anim.gif", fmt="GIF", trained=False),
        ctx,
        ["UNR007"],
    ),
    (
        "UNR007 doc FAIL photo.Jpg (kohya's list is case-sensitive)",
        unreadable.check,
        lambda: record(path="10_x/photo.Jpg", fmt="JPEG", trained=False),
        ctx,
        ["UNR007"],
    ),
    (
        "UNR014 doc FAIL a nested folder",
        unreadable.check,
        lambda: dataclasses.replace(record(path="10_x/extra/05.png"), trained=False, not_trained="in a sub-folder"),
        ctx,
        ["UNR014"],
    ),
    ("UNR014 doc PASS directly in the concept folder", unreadable.check, lambda: record(path="10_x/05.png"), ctx, []),
    ("UNR007 .avif needs a plugin", unreadable.check, lambda: record(path="10_x/a.avif", fmt="AVIF"), ctx, ["UNR007"]),
    (
        "UNR008 animated webp",
        unreadable.check,
        lambda: record(path="10_x/a.webp", fmt="WEBP", frames=4),
        ctx,
        ["UNR008"],
    ),
    (
        "UNR010 the quality analysis failed",
        unreadable.check,
        lambda: record(quality={"error": {"kind": "failed", "detail": "ValueError: boom"}}),
        ctx,
        ["UNR010"],
    ),
    ("UNR PASS a PNG", unreadable.check, lambda: record(), ctx, []),
    (
        "UNR009 dataset config unreadable",
        unreadable.check_config,
        lambda: [],
        lambda: ctx(config_problem="dataset_config.toml: bad TOML", config_rel="dataset_config.toml"),
        ["UNR009"],
    ),
    # Caption text.
    (
        "CAP009 doc FAIL a 183-token caption at 75",
        caption_text.check,
        lambda: record(cap=Caption("a.txt", "hanako woman, " + "a woman in a long red dress standing " * 26)),
        ctx,
        ["CAP009"],
    ),
    ("CAP009 doc PASS a short tag list", caption_text.check, lambda: record(), ctx, []),
    (
        "CAP009 max_token_length 225 keeps it",
        caption_text.check,
        lambda: record(
            cap=Caption("a.txt", "hanako woman, " + "a woman in a long red dress standing " * 20),
            conc=dataclasses.replace(concept(), max_token_length=225),
        ),
        ctx,
        [],
    ),
    (
        "CAP010 doc FAIL [trigger] left in",
        caption_text.check,
        lambda: record(cap=Caption("a.txt", "[trigger], a woman in a red dress")),
        ctx,
        ["CAP010"],
    ),
    (
        "CAP010 doc PASS the trigger written out",
        caption_text.check,
        lambda: record(cap=Caption("a.txt", "hanako woman, a woman in a red dress")),
        ctx,
        [],
    ),
    (
        "CAP011 doc FAIL one caption without the trigger",
        caption_text.check_set,
        lambda: [
            record("10_hanako woman/a.png", cap=Caption("a.txt", "hanako woman, smiling")),
            record("10_hanako woman/b.png", cap=Caption("b.txt", "hanako woman, sitting")),
            record("10_hanako woman/c.png", cap=Caption("c.txt", "a woman smiling")),
        ],
        ctx,
        ["CAP011"],
    ),
    (
        "CAP011 doc PASS every caption names it",
        caption_text.check_set,
        lambda: [
            record("10_hanako woman/a.png", cap=Caption("a.txt", "hanako woman, smiling")),
            record("10_hanako woman/c.png", cap=Caption("c.txt", "hanako woman, a woman smiling")),
        ],
        ctx,
        [],
    ),
    (
        "CAP012 doc FAIL trigger second with keep_tokens 1",
        caption_text.check,
        lambda: record(
            cap=Caption("a.txt", "red dress, hanako woman, smiling"),
            conc=dataclasses.replace(concept(), shuffle_caption=True, keep_tokens=1),
        ),
        ctx,
        ["CAP012"],
    ),
    (
        "CAP012 doc PASS trigger first",
        caption_text.check,
        lambda: record(
            cap=Caption("a.txt", "hanako woman, red dress, smiling"),
            conc=dataclasses.replace(concept(), shuffle_caption=True, keep_tokens=1),
        ),
        ctx,
        [],
    ),
    (
        "CAP012 keep_tokens_separator keeps it",
        caption_text.check,
        lambda: record(
            cap=Caption("a.txt", "red dress, hanako woman ||| smiling, sitting"),
            conc=dataclasses.replace(concept(), shuffle_caption=True, keep_tokens_separator="|||"),
        ),
        ctx,
        [],
    ),
    (
        "CAP013 doc FAIL a repeated tag",
        caption_text.check,
        lambda: record(cap=Caption("a.txt", "hanako woman, smile, red dress, smile")),
        ctx,
        ["CAP013"],
    ),
    (
        "CAP013 doc PASS each tag once",
        caption_text.check,
        lambda: record(cap=Caption("a.txt", "hanako woman, smile, red dress")),
        ctx,
        [],
    ),
    (
        "CAP013 empty tags",
        caption_text.check,
        lambda: record(cap=Caption("a.txt", "hanako woman, , smile")),
        ctx,
        ["CAP013"],
    ),
    (
        "CAP014 three identical captions",
        caption_text.check_set,
        lambda: [record(f"10_hanako woman/{i}.png", cap=Caption(f"{i}.txt", "hanako woman, photo")) for i in range(3)],
        ctx,
        ["CAP014"],
    ),
    (
        "CAP016 doc FAIL one Japanese caption among English ones",
        caption_text.check_set,
        lambda: (
            [
                record(f"10_hanako woman/{i}.png", cap=Caption(f"{i}.txt", f"hanako woman, pose {i}, park"))
                for i in range(5)
            ]
            + [record("10_hanako woman/j.png", cap=Caption("j.txt", "hanako, 公園で微笑む女性"))]
        ),
        ctx,
        ["CAP016"],
    ),
    (
        "CAP016 doc PASS the same caption in English",
        caption_text.check_set,
        lambda: (
            [
                record(f"10_hanako woman/{i}.png", cap=Caption(f"{i}.txt", f"hanako woman, pose {i}, park"))
                for i in range(5)
            ]
            + [record("10_hanako woman/j.png", cap=Caption("j.txt", "hanako woman smiling in a park"))]
        ),
        ctx,
        [],
    ),
    (
        "CAP015 most captions over the limit",
        caption_text.check_set,
        lambda: [
            record(f"10_hanako woman/{i}.png", cap=Caption(f"{i}.txt", f"hanako woman, {i} " + "tall red dress " * 40))
            for i in range(2)
        ],
        ctx,
        ["CAP015"],
    ),
    # Captions as evidence: every declared category, its doc's FAIL and PASS captions.
    *[
        case
        for category, (code, _, _) in caption_evidence.DECLARED.items()
        for case in (
            (
                f"{code} doc FAIL the caption says it",
                caption_evidence.CHECK_OF[category],
                lambda c=category: record(cap=Caption("a.txt", caption_evidence.EXAMPLES[c][0])),
                ctx,
                [code],
            ),
            (
                f"{code} doc PASS the caption does not",
                caption_evidence.CHECK_OF[category],
                lambda c=category: record(cap=Caption("a.txt", caption_evidence.EXAMPLES[c][1])),
                ctx,
                [],
            ),
        )
    ],
    (
        "WMK010 a negated phrase does not count",
        caption_evidence.check_marks,
        lambda: record(cap=Caption("a.txt", "a clean photo with no watermark")),
        ctx,
        [],
    ),
    # Invisible AI watermarks.
    (
        "AIG003 doc FAIL an SDXL output saved as PNG",
        ai_generated.check_stamps,
        lambda: record(
            stamps={
                "matches": [
                    {"generator": "Stable Diffusion XL", "bits": 48, "matching": 47, "chance": 1.7e-13, "order": "BGR"}
                ]
            }
        ),
        ctx,
        ["AIG003"],
    ),
    ("AIG003 doc PASS a camera photo", ai_generated.check_stamps, lambda: record(stamps={"matches": []}), ctx, []),
    # Framing.
    (
        "FRM001 doc FAIL a portrait padded to a square with grey bars",
        framing.check,
        lambda: record(frame=frame_features(left=171, right=171, colour=[128, 128, 128])),
        ctx,
        ["FRM001"],
    ),
    ("FRM001 doc PASS the same portrait unpadded", framing.check, lambda: record(frame=frame_features()), ctx, []),
    (
        "FRM001 a product on a plain background is flat on all four sides",
        framing.check,
        lambda: record(frame=frame_features(left=150, right=150, top=120, bottom=120, colour=[255, 255, 255])),
        ctx,
        [],
    ),
    (
        "FRM002 doc FAIL a cut-out 60 % transparent over black",
        framing.check,
        lambda: record(
            frame=frame_features(alpha={"transparent_fraction": 0.6, "colour_under": [0, 0, 0]}),
            cap=Caption("a.txt", "1girl, white background"),
        ),
        ctx,
        ["FRM002"],
    ),
    (
        "FRM002 doc PASS the same picture flattened onto white",
        framing.check,
        lambda: record(frame=frame_features(alpha=None)),
        ctx,
        [],
    ),
    # Captions.
    ("CAP001 doc FAIL no caption", caption.check, lambda: record(cap=Caption(None, None)), ctx, ["CAP001"]),
    ("CAP002 empty caption", caption.check, lambda: record(cap=Caption("a.txt", "  \n")), ctx, ["CAP002"]),
    (
        "CAP003 doc FAIL .txt while kohya reads .caption",
        caption.check,
        lambda: record(cap=Caption(None, None, None, (".txt",)), conc=concept(ext=".caption")),
        ctx,
        ["CAP003"],
    ),
    (
        "CAP006 doc FAIL not UTF-8",
        caption.check,
        lambda: record(cap=Caption("a.txt", None, "not-utf8")),
        ctx,
        ["CAP006"],
    ),
    (
        "CAP006 doc FAIL a 0-byte caption",
        caption.check,
        lambda: record(cap=Caption("a.txt", "", "empty-file")),
        ctx,
        ["CAP006"],
    ),
    (
        "CAP006 doc PASS only a newline is CAP002",
        caption.check,
        lambda: record(cap=Caption("a.txt", "\n")),
        ctx,
        ["CAP002"],
    ),
    ("CAP005 NUL bytes", caption.check, lambda: record(cap=Caption("a.txt", None, "nul-bytes")), ctx, ["CAP005"]),
    (
        "CAP007 doc FAIL two lines",
        caption.check,
        lambda: record(cap=Caption("a.txt", "hanako woman\nred dress, smiling")),
        ctx,
        ["CAP007"],
    ),
    (
        "CAP007 doc PASS several lines with enable_wildcard",
        caption.check,
        lambda: record(
            cap=Caption("a.txt", "hanako woman\r\nred dress"),
            conc=dataclasses.replace(concept(), enable_wildcard=True),
        ),
        ctx,
        [],
    ),
    (
        "CAP008 byte-order mark",
        caption.check,
        lambda: record(cap=Caption("a.txt", "hanako woman, smiling", bom=True)),
        ctx,
        ["CAP008"],
    ),
    ("CAP001 doc PASS 01.png beside 01.txt", caption.check, lambda: record(), ctx, []),
    (
        "CAP004 orphan caption",
        caption.check_orphans,
        lambda: [],
        lambda: ctx(orphan_captions=["x/gone.txt"]),
        ["CAP004"],
    ),
    # Duplicates.
    (
        "DUP001 doc FAIL same bytes",
        duplicate.check,
        lambda: [record("10_x/a.png", sha="a" * 64, pixel="p"), record("10_x/copy of a.png", sha="a" * 64, pixel="p")],
        ctx,
        ["DUP001"],
    ),
    (
        "DUP001 doc FAIL a.jpg and a.png saved from it",
        duplicate.check,
        lambda: [record("10_x/a.jpg", fmt="JPEG", pixel="p"), record("10_x/a.png", pixel="p")],
        ctx,
        ["DUP001"],
    ),
    (
        "DUP002 doc FAIL resized copy",
        duplicate.check,
        lambda: [
            record("10_x/a.png", phash=hx(0), dhash=hx(0)),
            record("10_x/a_small.jpg", w=512, h=512, fmt="JPEG", phash=hx(0b111), dhash=hx(0b1)),
        ],
        ctx,
        ["DUP002"],
    ),
    (
        "DUP002 doc PASS two different shots",
        duplicate.check,
        lambda: [
            record("10_x/a.png", phash=hx(0), dhash=hx(0)),
            record("10_x/b.png", phash=hx((1 << 40) - 1), dhash=hx((1 << 40) - 1)),
        ],
        ctx,
        [],
    ),
    (
        "DUP003 doc FAIL an edited copy",
        semantic_duplicate.check,
        lambda: [
            record("10_x/a.png", phash=hx(0), quality=q(), clip=clip_features(full=unit(0))),
            record(
                "10_x/b.png",
                phash=hx((1 << 40) - 1),
                dhash=hx((1 << 40) - 1),
                quality=q(),
                clip=clip_features(full=unit(0) * 0.999 + unit(1) * 0.03),
            ),
        ],
        ctx,
        ["DUP003"],
    ),
    (
        "DUP003 doc PASS different shots",
        semantic_duplicate.check,
        lambda: [
            record("10_x/a.png", clip=clip_features(full=unit(0))),
            record("10_x/b.png", phash=hx((1 << 40) - 1), dhash=hx((1 << 40) - 1), clip=clip_features(full=unit(1))),
        ],
        ctx,
        [],
    ),
    # Text marks.
    (
        "WMK001 doc FAIL © in a corner",
        watermark.check,
        lambda: record(marks={"texts": [text_region("© Mika Sato", (0.7, 0.9, 0.97, 0.97))]}),
        ctx,
        ["WMK001"],
    ),
    (
        "WMK001 doc FAIL SAMPLE diagonally",
        watermark.check,
        lambda: record(marks={"texts": [text_region("SAMPLE", (0.3, 0.4, 0.7, 0.6), angle=35)]}),
        ctx,
        ["WMK001"],
    ),
    (
        "WMK001 doc FAIL a shop's logo in the corner of a product photo",
        watermark.check,
        lambda: record(marks={"texts": [], "overlay": overlay_features([(21, 21), (21, 22), (22, 22)])}),
        ctx,
        ["WMK001"],
    ),
    (
        "WMK001 a studio name the detector does not see laid over: scene text",
        watermark.check,
        lambda: record(
            marks={
                "texts": [text_region("Harbour Photo Studio", (0.3, 0.4, 0.6, 0.5))],
                "overlay": overlay_features([]),
            }
        ),
        ctx,
        [],
    ),
    (
        "WMK001 doc PASS a street sign",
        watermark.check,
        lambda: record(marks={"texts": [text_region("MAIN STREET", (0.3, 0.4, 0.6, 0.5))]}),
        ctx,
        [],
    ),
    (
        "SIG001 doc FAIL Mika S. bottom-right",
        signature.check,
        lambda: record(marks={"texts": [text_region("Mika S.", (0.8, 0.9, 0.97, 0.97))]}),
        ctx,
        ["SIG001"],
    ),
    (
        "SIG001 a name plaque in a corner the detector does not see laid over",
        signature.check,
        lambda: record(
            marks={"texts": [text_region("Mika S.", (0.8, 0.9, 0.97, 0.97))], "overlay": overlay_features([])}
        ),
        ctx,
        [],
    ),
    (
        "SIG001 doc PASS EXIT sign in a corner",
        signature.check,
        lambda: record(marks={"texts": [text_region("EXIT", (0.85, 0.9, 0.97, 0.97))]}),
        ctx,
        [],
    ),
    (
        "WMK002 doc FAIL a shop's name and logo in the corner of 30 product photos",
        repeated_mark.check,
        lambda: [
            record(
                f"10_x/p{i}.jpg",
                marks={"texts": [text_region("KIRIN GOODS", (0.7 + i % 3 / 100, 0.9, 0.95, 0.95))]},
            )
            for i in range(30)
        ],
        ctx,
        ["WMK002"] * 30,
    ),
    (
        "WMK002 doc FAIL Sakura Realty faint across the middle of every listing",
        repeated_mark.check,
        lambda: [
            record(
                f"10_x/l{i}.jpg",
                marks={
                    "texts": [text_region("SAKURA REALTY" if i % 2 else "SAKURA REAITY", (0.3, 0.45, 0.7, 0.55))],
                    "overlay": overlay_features([]),
                },
            )
            for i in range(8)
        ],
        ctx,
        ["WMK002"] * 8,
    ),
    (
        "WMK002 doc PASS OPEN on shop doors in different street photos",
        repeated_mark.check,
        lambda: [
            record(f"10_x/s{i}.jpg", marks={"texts": [text_region("OPEN", (0.1 + 0.2 * i, 0.3, 0.2 + 0.2 * i, 0.36))]})
            for i in range(4)
        ],
        ctx,
        [],
    ),
    (
        "WMK002 doc PASS shots of one room from one spot",
        repeated_mark.check,
        lambda: [
            record(
                f"10_x/room{i}.jpg",
                layout=bytes([60 + i] * 96 + [200 - i] * 96).hex(),  # the same room, the light changing a little
                marks={"texts": [text_region("SEIKO", (0.45, 0.2, 0.55, 0.25))]},
            )
            for i in range(4)
        ],
        ctx,
        [],
    ),
    (
        "WMK002 doc PASS a burst of one scene whose copies are near-duplicates",
        repeated_mark.check,
        lambda: [
            record(
                f"10_x/b{i}.jpg", phash=hx(i), dhash=hx(i), marks={"texts": [text_region("CAFE", (0.4, 0.3, 0.6, 0.4))]}
            )
            for i in range(4)
        ],
        ctx,
        [],
    ),
    (
        "TXT001 doc FAIL a shop front",
        text.check,
        lambda: record(marks={"texts": [text_region("BAKERY OPEN DAILY", (0.3, 0.4, 0.7, 0.5))]}),
        ctx,
        ["TXT001"],
    ),
    ("TXT001 doc PASS no text", text.check, lambda: record(marks={"texts": []}), ctx, []),
    # Cloaks.
    (
        "CLK001 doc FAIL Glaze",
        cloak.check,
        lambda: record("10_x/sketch-glazed-intensity2-render1-V1.png"),
        ctx,
        ["CLK001"],
    ),
    (
        "CLK001 doc FAIL Nightshade",
        cloak.check,
        lambda: record("10_x/art-nightshade-intensity-DEFAULT-V1.jpg"),
        ctx,
        ["CLK001"],
    ),
    ("CLK001 PASS an ordinary name", cloak.check, lambda: record("10_x/glazed donut.png"), ctx, []),
    # Opt-out.
    (
        "OPT001 doc FAIL DMI-PROHIBITED-GENAIMLTRAINING",
        opt_out.check,
        lambda: record(**xmp(datamining=["http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING"])),
        ctx,
        ["OPT001"],
    ),
    ("OPT001 doc PASS DMI-UNSPECIFIED", opt_out.check, lambda: record(**xmp(datamining=["DMI-UNSPECIFIED"])), ctx, []),
    (
        "OPT002 C2PA notAllowed",
        opt_out.check,
        lambda: record(
            metadata={
                "c2pa": {
                    "status": "ok",
                    "validation": "Valid",
                    "training_mining": {
                        "cawg.ai_generative_training": {"use": "notAllowed", "assertion": "cawg.training-mining"}
                    },
                }
            }
        ),
        ctx,
        ["OPT002"],
    ),
    (
        "OPT002 doc PASS only ai_inference restricted",
        opt_out.check,
        lambda: record(
            metadata={"c2pa": {"status": "ok", "training_mining": {"cawg.ai_inference": {"use": "notAllowed"}}}}
        ),
        ctx,
        [],
    ),
    (
        "OPT003 TDM reserved in XMP",
        opt_out.check,
        lambda: record(metadata={"xmp": {"reservation": [["http://www.w3.org/ns/tdmrep/", "1"]]}}),
        ctx,
        ["OPT003"],
    ),
    (
        "OPT004 noai page sidecar",
        opt_out.check,
        lambda: record(sidecars={"10_x/a.html": {"kind": "page", "robots": "noai, noimageai"}}),
        ctx,
        ["OPT004"],
    ),
    ("OPT005 noai keyword", opt_out.check, lambda: record(**xmp(subject=["NoAI", "portrait"])), ctx, ["OPT005"]),
    ("OPT006 DMI-ALLOWED", opt_out.check, lambda: record(**xmp(datamining=["DMI-ALLOWED"])), ctx, ["OPT006"]),
    # Platform terms.
    (
        "PLT001 gallery-dl pixiv sidecar",
        platform_terms.check,
        lambda: record(sidecars={"10_x/a.png.json": {"kind": "gallery-dl", "category": "pixiv"}}),
        ctx,
        ["PLT001"],
    ),
    (
        "PLT002 doc FAIL pixiv file name only",
        platform_terms.check,
        lambda: record("10_x/12345678_p0.png"),
        ctx,
        ["PLT002"],
    ),
    ("PLT PASS no sign of a platform", platform_terms.check, lambda: record("10_x/holiday.png"), ctx, []),
    # AI-generated.
    (
        "AIG001 doc FAIL A1111 parameters",
        ai_generated.check,
        lambda: record(metadata={"text": {"parameters": "a cat\nSteps: 20, Sampler: Euler a, Model: sdxl_base"}}),
        ctx,
        ["AIG001"],
    ),
    (
        "AIG002 C2PA trainedAlgorithmicMedia",
        ai_generated.check,
        lambda: record(
            metadata={
                "c2pa": {
                    "status": "ok",
                    "digital_source_types": ["http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"],
                }
            }
        ),
        ctx,
        ["AIG002"],
    ),
    (
        "AIG002 doc PASS algorithmicMedia",
        ai_generated.check,
        lambda: record(
            metadata={
                "c2pa": {
                    "status": "ok",
                    "digital_source_types": ["http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"],
                }
            }
        ),
        ctx,
        [],
    ),
    # Rights.
    (
        "RGT001 doc FAIL EXIF Copyright",
        rights.check,
        lambda: record(metadata={"exif": {"copyright": "© Jane Doe"}}),
        ctx,
        ["RGT001"],
    ),
    (
        "RGT001 doc PASS licence recorded",
        rights.check,
        lambda: record(metadata={"exif": {"copyright": "© Jane Doe"}}),
        lambda: ctx(consent_manifest=manifest({"10_hanako woman/a.png": {"licence": "CC BY 4.0"}})),
        ["RGT003"],
    ),
    (
        "RGT002 stock agency",
        rights.check,
        lambda: record(metadata={"iim": {"copyright": ["Shutterstock. No use without permission."]}}),
        ctx,
        ["RGT002"],
    ),
    (
        "RGT003 C2PA manifest present",
        rights.check,
        lambda: record(metadata={"c2pa": {"status": "ok", "validation": "Valid"}}),
        ctx,
        ["RGT003"],
    ),
    (
        "RGT004 XMP refused",
        rights.check,
        lambda: record(metadata={"xmp_problems": ["a DTD was refused"]}),
        ctx,
        ["RGT004"],
    ),
    ("RGT001 doc PASS no rights metadata", rights.check, lambda: record(metadata={}), ctx, []),
    # Consent (person profile requires it).
    (
        "CNS001 no row for the image",
        consent.check,
        lambda: record(),
        lambda: ctx("person", consent_manifest=manifest({"10_x/other.png": {"subject_consent": "yes"}})),
        ["CNS001"],
    ),
    (
        "CNS001 PASS consent recorded",
        consent.check,
        lambda: record(),
        lambda: ctx("person", consent_manifest=manifest({"10_hanako woman/a.png": {"subject_consent": "yes"}})),
        [],
    ),
    (
        "CNS002 the file changed after consent",
        consent.check,
        lambda: record(sha="b" * 64),
        lambda: ctx(consent_manifest=manifest({"10_hanako woman/a.png": {"sha256": "a" * 64}})),
        ["CNS002"],
    ),
    (
        "CNS003 rows for missing files",
        consent.check_manifest,
        lambda: [record()],
        lambda: ctx(consent_manifest=manifest({"gone.png": {}}), image_paths=["10_hanako woman/a.png"]),
        ["CNS003"],
    ),
    (
        "CNS004 doc FAIL person profile without provenance.csv",
        consent.check_manifest,
        lambda: [record()],
        lambda: ctx("person", consent_manifest=None),
        ["CNS004"],
    ),
    ("CNS004 PASS general profile", consent.check_manifest, lambda: [record()], ctx, []),
    # Identity (person profile).
    (
        "IDN001 doc FAIL a landscape",
        identity.check,
        lambda: people(3) + [record("10_x/land.png", faces={"analysed_width": 1024, "faces": []})],
        lambda: ctx("person"),
        ["IDN001"],
    ),
    (
        "IDN002 doc FAIL a group photo",
        identity.check,
        lambda: (
            people(3)
            + [
                record(
                    "10_x/group.png",
                    faces={"analysed_width": 1024, "faces": [face(np.full(128, 0.05)), face(np.full(128, -0.05))]},
                )
            ]
        ),
        lambda: ctx("person"),
        ["IDN002", "IDN003"],
    ),
    (
        "IDN003 doc FAIL a friend's photo",
        identity.check,
        lambda: people(4, outlier=True),
        lambda: ctx("person"),
        ["IDN003"],
    ),
    ("IDN003 doc PASS the person throughout", identity.check, lambda: people(5), lambda: ctx("person"), []),
    # Composition.
    (
        "CPS001 doc FAIL 6 of 10 share a background",
        composition.check,
        lambda: composition_set(6, 4)[0],
        lambda: ctx(clip_texts=composition_set(6, 4)[1]),
        ["CPS001"] * 3,
    ),
    (
        "CPS001 doc PASS all different",
        composition.check,
        lambda: composition_set(1, 9)[0],
        lambda: ctx(clip_texts=composition_set(1, 9)[1]),
        [],
    ),
    (
        "CPS001 person profile allows 2",
        composition.check,
        lambda: composition_set(3, 9)[0],
        lambda: ctx("person", clip_texts=composition_set(3, 9)[1]),
        ["CPS001"],
    ),
    (
        "CPS002 doc FAIL same outfit",
        composition.check,
        lambda: composition_set(5, 7, "outfit")[0],
        lambda: ctx(clip_texts=composition_set(5, 7, "outfit")[1]),
        ["CPS002"] * 2,
    ),
    (
        "CPS003 doc FAIL same hairstyle",
        composition.check,
        lambda: composition_set(6, 6, "hairstyle")[0],
        lambda: ctx(clip_texts=composition_set(6, 6, "hairstyle")[1]),
        ["CPS003"] * 3,
    ),
    (
        "CPS002 off under the character profile",
        composition.check,
        lambda: composition_set(5, 7, "outfit")[0],
        lambda: ctx("character", clip_texts=composition_set(5, 7, "outfit")[1]),
        [],
    ),
    (
        "CPS004 doc FAIL arms raised throughout",
        composition.check,
        lambda: pose_set(1)[0],
        lambda: ctx(clip_texts=pose_set(1)[1]),
        ["CPS004"],
    ),
    (
        "CPS004 doc PASS standing throughout",
        composition.check,
        lambda: pose_set(0)[0],
        lambda: ctx(clip_texts=pose_set(0)[1]),
        [],
    ),
    (
        "CPS005 doc FAIL all sitting",
        composition.check,
        lambda: pose_set(2)[0],
        lambda: ctx("person", clip_texts=pose_set(2)[1]),
        ["CPS004", "CPS005"],
    ),
    # The remaining PASS / FAIL examples the rules' documentation gives.
    (
        "CNS004 doc PASS provenance.csv present",
        consent.check_manifest,
        lambda: [record()],
        lambda: ctx(
            "person",
            consent_manifest=manifest({"10_hanako woman/a.png": {"subject_consent": "yes"}}),
            image_paths=["10_hanako woman/a.png"],
        ),
        [],
    ),
    (
        "CPS002 doc PASS varied clothing",
        composition.check,
        lambda: composition_set(1, 11, "outfit")[0],
        lambda: ctx(clip_texts=composition_set(1, 11, "outfit")[1]),
        [],
    ),
    (
        "CPS003 doc PASS the hair varies",
        composition.check,
        lambda: composition_set(2, 10, "hairstyle")[0],
        lambda: ctx(clip_texts=composition_set(2, 10, "hairstyle")[1]),
        [],
    ),
    (
        "CPS005 doc PASS one plain standing shot",
        composition.check,
        lambda: (
            pose_set(2, 5)[0]
            + [record("10_x/stand.png", quality=q(), clip=clip_features(full=unit(15), person=unit(0)))]
        ),
        lambda: ctx("person", clip_texts=pose_set(2)[1]),
        ["CPS004"],
    ),
    (
        "DUP001 doc PASS two photos of one scene",
        duplicate.check,
        lambda: [record("10_x/a.png", pixel="p1"), record("10_x/b.png", pixel="p2")],
        ctx,
        [],
    ),
    ("IDN001 doc PASS a frontal portrait", identity.check, lambda: people(4), lambda: ctx("person"), []),
    ("IDN002 doc PASS one face", identity.check, lambda: people(3), lambda: ctx("person"), []),
    (
        "RES003 doc PASS short side at min_bucket_reso",
        resolution.check,
        lambda: record(w=1600, h=256, conc=concept(max_reso=4096)),
        ctx,
        ["RES001"],
    ),
    ("UNR001 doc PASS a file with content", unreadable.check, lambda: record(size=10), ctx, []),
    ("UNR002 doc PASS a PNG named .jpg", unreadable.check, lambda: record("10_x/a.jpg", fmt="PNG"), ctx, []),
    ("UNR005 doc PASS a 100 MP photo", unreadable.check, lambda: record(w=12000, h=8000, fmt="JPEG"), ctx, []),
    (
        "UNR010 doc FAIL the quality analysis raised",
        unreadable.check,
        lambda: record(quality={"error": {"kind": "failed", "detail": "IndexError: x"}}),
        ctx,
        ["UNR010"],
    ),
    ("UNR010 doc PASS every analysis ran", unreadable.check, lambda: record(quality=q(), marks={"texts": []}), ctx, []),
    (
        "UNR011 doc FAIL a cp932 name",
        unreadable.check,
        lambda: record(os.fsdecode(b"10_x/\x82\xa0\x82\xa2.png")),
        ctx,
        ["UNR011"],
    ),
    ("UNR011 doc PASS a UTF-8 name", unreadable.check, lambda: record("10_x/あい.png"), ctx, []),
    (
        "UNR012 doc FAIL a folder with mode 000",
        unreadable.check_folders,
        lambda: [],
        lambda: ctx(skipped_folders=[("10_x/locked", "cannot list folder: Permission denied")]),
        ["UNR012"],
    ),
    (
        "UNR012 doc PASS every folder readable (a link loop is not this)",
        unreadable.check_folders,
        lambda: [],
        lambda: ctx(skipped_folders=[("10_x/loop", "symbolic link loop (folder already scanned)")]),
        [],
    ),
    (
        "UNR013 doc FAIL a link to /home/me/pictures",
        unreadable.check_folders,
        lambda: [],
        lambda: ctx(outside_folders=[("10_x/more", "/home/me/pictures")]),
        ["UNR013"],
    ),
    ("UNR013 doc PASS links inside the dataset", unreadable.check_folders, lambda: [], ctx, []),
]


@pytest.mark.parametrize("check, subject, context, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_case(check, subject, context, expected):
    got = [f.code for f in run_one(check, subject(), context()) if isinstance(f, Finding)]
    assert got == expected


def test_every_fail_and_pass_example_in_the_docs_is_a_case():
    ids = [c[0] for c in CASES]
    for code, r in RULES.items():
        for kind in ("FAIL", "PASS"):
            if f"{kind}:" in r.doc:
                assert any(i.startswith(f"{code} doc {kind}") for i in ids), f"{code}'s doc {kind} example has no case"


def test_every_code_has_a_failing_case_and_every_check_a_passing_one():
    failing = {code for c in CASES for code in c[4]}
    assert sorted(set(RULES) - failing) == []
    passing = {c[1] for c in CASES if not c[4]}
    from curate.checks.registry import CHECKS

    no_pass = [
        f"{c.module}.{c.func.__name__}"
        for c in CHECKS
        if c.func not in passing and c.func.__name__ != "check_config" and c.func.__name__ != "check_orphans"
    ]
    assert no_pass == []

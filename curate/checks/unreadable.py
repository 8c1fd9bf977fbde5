"""Unreadable files: what cannot be decoded, or what kohya will not load.

Every scanned file appears in the report; a file that cannot be decoded is one finding with the reason,
never a crash. The limits (pixel count, file size, decode time) are in rules/checks.toml [decode].
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from curate.checks.registry import Context, dataset_check, image_check, rule
from curate.features import ErrorInfo
from curate.model import Finding, Group, ImageRecord, display_path

UNR001 = rule(
    "UNR001",
    "empty-file",
    "unreadable",
    "error",
    """
    The file is empty (0 bytes).

    FAIL: `photo.png` of 0 bytes (an interrupted download or copy).
    PASS: any file with content.
""",
)
UNR002 = rule(
    "UNR002",
    "not-an-image",
    "unreadable",
    "error",
    """
    The file has an image extension but its content is not an image.

    FAIL: an HTML error page saved as `photo.jpg`; a text file renamed to `.png`.
    PASS: a PNG named `.jpg` (kohya and Pillow read it by its content).
""",
)
UNR003 = rule(
    "UNR003",
    "truncated",
    "unreadable",
    "error",
    """
    The image data ends early: the file was cut off while downloading or copying.

    kohya refuses such files (Pillow's LOAD_TRUNCATED_IMAGES is off), or, where a tool pads them, trains
    on a grey band. Re-download the original.
""",
)
UNR004 = rule(
    "UNR004",
    "corrupt",
    "unreadable",
    "error",
    """
    The image data is corrupt: the decoder rejected it.
""",
)
UNR005 = rule(
    "UNR005",
    "decompression-bomb",
    "unreadable",
    "error",
    """
    The file declares more pixels than [decode] max_pixels ({decode.max_pixels}) and is not decoded.

    A small file that claims e.g. 30000×30000 px would take gigabytes of memory to decode.
    PASS: photos up to that size. Raise `decode.max_pixels` in a `--rules` file for larger scans.
""",
    settings="decode",
)
UNR006 = rule(
    "UNR006",
    "cannot-read",
    "unreadable",
    "error",
    """
    The file could not be read: permission denied, a broken link, larger than [decode] max_file_bytes
    ({decode.max_file_bytes} bytes), or decoding took longer than [decode] timeout_seconds
    ({decode.timeout_seconds} s).
""",
    settings="decode",
)
UNR007 = rule(
    "UNR007",
    "format-not-loaded-by-kohya",
    "unreadable",
    "warning",
    """
    kohya sd-scripts does not load files with this extension, so the image will be silently skipped.

    sd-scripts loads .png .jpg .jpeg .webp .bmp, and .avif / .jxl only with optional plugins
    (rules/checks.toml [kohya] image_extensions), each in lower or upper case only: on Linux `photo.Jpg` is
    skipped. FAIL: `photo.heic`, `anim.gif`, `scan.tif`, `photo.Jpg`. Convert them to PNG (lossless) first, or
    rename the extension.
""",
    settings="kohya",
)
UNR014 = rule(
    "UNR014",
    "not-trained",
    "unreadable",
    "warning",
    """
    kohya will not train this image because of where it is: in a sub-folder of a concept folder (its search is not
    recursive), in a folder without an `N_` repeats prefix or with 0 repeats, outside the folders a
    dataset_config.toml names, or not listed in a fine-tuning metadata_file. Move it into a concept folder, or
    out of the dataset. No other check runs on it.

    FAIL: `10_hanako woman/extra/05.png`; `0_old/01.png`. PASS: `10_hanako woman/05.png`.
""",
    since="0.2.0",
)
UNR008 = rule(
    "UNR008",
    "animated",
    "unreadable",
    "info",
    """
    The file has several frames; only the first is used for training.
""",
)
UNR009 = rule(
    "UNR009",
    "dataset-config-unreadable",
    "unreadable",
    "error",
    """
    The kohya dataset_config.toml found in the folder cannot be parsed; training with it will fail.
    curate audits with its defaults instead. Fix the file, or pass `--kohya-config` to choose another.
""",
    scope="dataset",
)
UNR010 = rule(
    "UNR010",
    "analysis-failed",
    "unreadable",
    "warning",
    """
    One of curate's analyses (quality, text marks, faces, metadata) failed on this file with an
    unexpected error: the checks that read it did not run on the image, so review it by eye. The failure
    is not cached — the next audit tries again — and the message names the analysis and the error
    (please report it: it is a bug in curate or in a library it uses).

    FAIL: the quality analysis raising on a file its decoder accepted.
    PASS: every analysis ran (a file that cannot be decoded is UNR001–UNR006 instead).
""",
    since="0.2.0",
)
UNR011 = rule(
    "UNR011",
    "file-name-not-utf8",
    "unreadable",
    "warning",
    """
    The file's name is not valid UTF-8: it was made on a system with another encoding (a ZIP from Japanese
    Windows names files in cp932) and arrived as raw bytes, shown here escaped (`\\x82\\xa0.png`). Tools
    that print or store the name as text — training logs, caption editors, the kohya_ss GUI on another
    system — can fail on it or see another name. Rename it to UTF-8 (e.g. `convmv -f cp932 -t utf-8 -r
    --notest DIR`).

    FAIL: `\\x82\\xa0\\x82\\xa2.png` (あい.png in cp932). PASS: `あい.png` in UTF-8.
""",
    since="0.2.0",
)

ERROR_CODES = {
    "empty": UNR001,
    "not-an-image": UNR002,
    "truncated": UNR003,
    "corrupt": UNR004,
    "pixel-limit": UNR005,
    "timeout": UNR006,
    "too-large": UNR006,
    "unopenable": UNR006,
}
# What each analysis feeds, for UNR010's message.
ANALYSIS_FEEDS = {
    "image": "every check",
    "quality": "the noise, blur, upscaling, compression and smoothing checks",
    "marks": "the watermark, signature and text checks",
    "faces": "the smoothing and identity checks",
    "metadata": "the opt-out, rights, platform and AI-generated checks",
    "clip": "the composition checks",
    "frame": "the padding and transparency checks (FRM001, FRM002)",
    "stamps": "the invisible AI watermark check (AIG003)",
}


def describe(error: ErrorInfo, rec: ImageRecord) -> str:
    """One sentence for a cached decode error."""
    kind = error.get("kind")
    detail = error.get("detail", "")
    if kind == "empty":
        return "the file is empty (0 bytes)"
    if kind == "not-an-image":
        return f"not an image: the content is {error.get('content', 'unrecognised data')}"
    if kind == "truncated":
        return "the file is truncated: the image data ends early (re-download or re-export it)"
    if kind == "pixel-limit":
        image = rec.light("image")
        w, h = image.get("declared_width"), image.get("declared_height")
        size = f" {w}×{h} ({w * h / 1e6:,.0f} MP)" if w and h else " more pixels than allowed"
        return (
            f"the file declares{size}, over the {error.get('limit_pixels', 0) / 1e6:.0f} MP "
            "decompression-bomb limit; not decoded"
        )
    if kind == "timeout":
        return f"decoding took longer than {error.get('limit_seconds', 0):g} s and was abandoned"
    if kind == "too-large":
        return (
            f"the file is {rec.file_size / 2**20:,.0f} MB, over the {error.get('limit_bytes', 0) / 2**20:,.0f} MB "
            "limit; not read"
        )
    if kind == "unopenable":
        return detail or "the file cannot be opened"
    return f"the image data is corrupt: {detail}" if detail else "the image data is corrupt"


@image_check(
    emits=(UNR001, UNR002, UNR003, UNR004, UNR005, UNR006, UNR007, UNR008, UNR010, UNR011, UNR014),
    settings=("decode", "kohya"),
)
def check(rec: ImageRecord, ctx: Context) -> Iterator[Finding | None]:
    if rec.path != display_path(rec.path):  # undecodable bytes in the name (kept as lone surrogates)
        yield ctx.finding(
            UNR011,
            f"the file name is not valid UTF-8 (shown escaped: {display_path(rec.path.rsplit('/', 1)[-1])}); "
            "rename it to UTF-8 (e.g. convmv -f cp932 -t utf-8), or tools that print the name may fail on it",
            {"name_bytes_hex": os.fsencode(rec.path.rsplit("/", 1)[-1]).hex()},
        )
    failed = {
        name: error
        for name in rec.features
        if isinstance(error := rec.light(name).get("error"), dict) and error.get("kind") == "failed"
    }
    for name, error in failed.items():
        yield ctx.finding(
            UNR010,
            f"the {name} analysis failed ({error.get('detail', 'unexpected error')}): "
            f"{ANALYSIS_FEEDS.get(name, 'its checks')} did not run on this image — review it by eye",
            {"analysis": name, **error},
        )
    image = rec.light("image")  # LIGHT_KEYS: what this check reads, without decoding the hashes
    error = image.get("error")
    if error and error.get("kind") != "failed":
        code = ERROR_CODES.get(error.get("kind", ""), UNR004)
        evidence = {**error, "file_bytes": rec.file_size}
        for key in ("format", "declared_width", "declared_height"):
            if image.get(key) is not None:
                evidence[key] = image[key]
        yield ctx.finding(code, describe(error, rec), evidence)
        return
    ext = os.path.splitext(rec.path)[1]
    if not rec.trained and rec.not_trained:  # where it is (the scan's verdict): no other check runs on it
        yield ctx.finding(UNR014, f"not trained: {rec.not_trained}", {"reason": rec.not_trained})
        return
    if not rec.trained:  # its extension (rules/checks.toml [kohya]); no other check runs on this file
        cased = ext.lower() in ctx.cfg.kohya.image_extensions and ext not in (ext.lower(), ext.upper())
        how = (
            f"kohya matches {ext.lower()} or {ext.upper()} only (case-sensitive on Linux): rename it to "
            f"{ext.lower()} to train on it"
            if cased
            else "convert it to PNG to train on it"
        )
        yield ctx.finding(
            UNR007,
            f"kohya does not load {ext} files and will skip this image: it is not trained "
            f"on and no other check ran on it; {how}",
            {"extension": ext, "format": image.get("format")},
        )
        return
    if ext.lower() not in ctx.cfg.kohya.image_extensions:
        yield ctx.finding(
            UNR007,
            f"kohya loads {ext} files only with an optional plugin installed; convert to PNG to be safe",
            {"extension": ext, "format": image.get("format")},
        )
    frames = image.get("frames", 1)
    if frames > 1:
        yield ctx.finding(UNR008, f"animated ({frames} frames): only the first frame is trained on", {"frames": frames})


UNR012 = rule(
    "UNR012",
    "folder-not-read",
    "unreadable",
    "error",
    """
    A folder inside the dataset could not be listed (permission denied, a broken link): whatever images it
    holds were not audited, and kohya cannot read them either. Said once for the dataset; the gate fails,
    because it must not pass on what it could not see.

    FAIL: a sub-folder with mode 000. PASS: every folder readable (a link loop is not this: it was scanned once).
""",
    scope="dataset",
    since="0.2.0",
)
UNR013 = rule(
    "UNR013",
    "folder-outside-dataset",
    "unreadable",
    "warning",
    """
    A folder in the dataset is a link to a place outside it: its images were audited and kohya trains them,
    but the dataset is not self-contained — an archive or copy of the folder will not hold them, and the audit
    read files outside the folder you named. Copy them in, or point kohya at them on purpose.

    FAIL: `10_x/more -> /home/me/pictures`. PASS: links between folders inside the dataset.
""",
    scope="dataset",
    since="0.2.0",
)


@dataset_check(emits=(UNR012, UNR013))
def check_folders(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | None]:
    for folder, reason in ctx.dataset.get("skipped_folders", ()):
        if "link loop" in reason:
            continue
        yield ctx.finding(
            UNR012,
            f"{reason}: its images were not audited (kohya cannot read them either)",
            {"folder": folder, "reason": reason},
            path=folder or ".",
        )
    for folder, target in ctx.dataset.get("outside_folders", ()):
        yield ctx.finding(
            UNR013,
            f"a link to {target}, outside the dataset: its images are audited and trained, "
            "but a copy or archive of the dataset will not hold them",
            {"folder": folder, "target": target},
            path=folder,
        )


@dataset_check(emits=(UNR009,))
def check_config(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    problem = ctx.dataset.get("config_problem")
    if problem:
        yield ctx.finding(
            UNR009,
            f"{problem}; audited with curate's defaults instead",
            {"config": ctx.dataset.get("config_path")},
            path=ctx.dataset.get("config_rel"),
        )

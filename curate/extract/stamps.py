"""The `stamps` extractor: the invisible watermarks the reference Stable Diffusion and FLUX pipelines put in every
picture they make — AI provenance that survives stripped metadata.

The reference pipelines mark with the `invisible-watermark` package's "dwtDct" method (MIT): the picture's U
channel (OpenCV BGR→YUV), a one-level Haar wavelet's approximation band, 4×4 blocks in raster order; block k holds
bit k mod n of the payload in its largest non-DC coefficient c, as |c| mod 36 falling in the upper half. This is
curate's own decoder of that scheme: it reads every block once, then averages the votes for each payload below.
Only positive evidence counts: a payload is reported when so many of its bits match that a random picture would do
so with probability under 1e-6 (binomial tail), which nothing else in the test data and benches reaches. Resizing,
cropping and JPEG with 4:2:0 chroma destroy the mark (docs/benchmarks.md); so "no match" proves nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from curate.extract.decode import Decoded

NAME = "stamps"
VERSION = 1

SCALE = 36  # the U channel's quantisation step in the reference encoder (scales = [0, 36, 36])
MAX_CHANCE = 1e-6
MAX_PIXELS = 16_000_000  # beyond any reference pipeline's output (and the mark does not survive upscaling)


def _bits(data: bytes) -> tuple[int, ...]:
    return tuple(int(b) for byte in data for b in f"{byte:08b}")


def _from_binary(literal: int) -> tuple[int, ...]:
    return tuple(int(b) for b in bin(literal)[2:])  # as the pipelines build them: bin() drops leading zeros


# (generator, payload bits); sources: CompVis/stable-diffusion scripts/txt2img.py, Stability-AI/stablediffusion
# scripts/txt2img.py, Stability-AI/generative-models sgm/inference/helpers.py (and diffusers'
# StableDiffusionXLWatermarker), black-forest-labs/flux src/flux/util.py.
PAYLOADS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Stable Diffusion 1.x", _bits(b"StableDiffusionV1")),
    ("Stable Diffusion 2.x", _bits(b"SDV2")),
    ("Stable Diffusion XL", _from_binary(0b101100111110110010010000011110111011000110011110)),
    ("FLUX.1", _from_binary(0b001010101111111010000111100111001111010100101110)),  # 46 bits: two zeros dropped
)


def chance(matching: int, bits: int) -> float:
    """The probability that a random payload matches at least `matching` of `bits` bits."""
    return sum(math.comb(bits, k) for k in range(matching, bits + 1)) / 2**bits


def block_votes(bgr: np.ndarray) -> np.ndarray:
    """The bit each 4×4 block of the U channel's Haar approximation holds (0/1), in raster order."""
    import cv2  # OpenCV's BGR→YUV, exactly as the encoder converts (headless OpenCV comes with rapidocr)

    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    u = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV)[:rows, :cols, 1].astype(np.float32)
    ll = (u[0::2, 0::2] + u[0::2, 1::2] + u[1::2, 0::2] + u[1::2, 1::2]) / 2.0  # Haar approximation (orthonormal)
    h, w = ll.shape[0] // 4, ll.shape[1] // 4
    blocks = ll[: h * 4, : w * 4].reshape(h, 4, w, 4).transpose(0, 2, 1, 3).reshape(h * w, 16)
    pos = np.argmax(np.abs(blocks[:, 1:]), axis=1) + 1
    value = np.abs(blocks[np.arange(len(blocks)), pos])
    return (np.mod(value, SCALE) > 0.5 * SCALE).astype(np.float64)


def decode(votes: np.ndarray, length: int) -> np.ndarray:
    """The payload bits of a given length: a bit is 1 where the mean vote of the blocks holding it (block k holds
    bit k mod length) is over one half, as the reference decoder rounds it."""
    if len(votes) < length:
        return np.zeros(length, dtype=np.int8)
    slot = np.arange(len(votes)) % length
    sums = np.bincount(slot, weights=votes, minlength=length)
    counts = np.bincount(slot, minlength=length)
    return (sums / counts * 255 > 127).astype(np.int8)


def matches(rgb: np.ndarray) -> list[dict[str, Any]]:
    """Every reference payload found in an RGB picture, in either channel order (diffusers fed RGB as BGR until
    its PR #7013)."""
    out = []
    for order, bgr in (("BGR", rgb[..., ::-1]), ("RGB as BGR", rgb)):
        votes = block_votes(bgr)
        for generator, payload in PAYLOADS:
            got = decode(votes, len(payload))
            same = int(np.sum(got == np.array(payload)))
            p = chance(same, len(payload))
            if p < MAX_CHANCE:
                out.append(
                    {"generator": generator, "bits": len(payload), "matching": same, "chance": p, "order": order}
                )
    return out


def compute(decoded: Decoded) -> dict[str, Any]:
    if decoded.error is not None or decoded.image is None:
        return {"skipped": "not decoded"}
    info = decoded.info
    if info.get("decode_scale", 1) != 1:
        return {"skipped": "analysed at reduced size: the mark does not survive it"}
    im = decoded.image
    if min(im.size) < 256:
        return {"skipped": "smaller than the reference encoder marks (256 px)"}
    if im.width * im.height > MAX_PIXELS:
        return {"skipped": "larger than any reference pipeline's output"}
    layers = getattr(im, "layer", None)  # a JPEG's components: (id, h, v, table); 4:2:0 chroma loses the mark
    if info.get("format") == "JPEG" and layers and len({(h, v) for _, h, v, _ in layers}) > 1:
        return {"skipped": "JPEG with subsampled chroma: the mark does not survive it"}
    rgb = np.asarray(im.convert("RGB"))
    return {"matches": matches(rgb)}

"""The `quality` extractor: how much real detail, noise and compression damage an image holds.

Measured with numpy on luminance (noise on the green channel and on chroma), at the file's own size unless said:
  * noise σ (grey levels): the PCA estimate (Liu, Tanaka & Okutomi 2013) — the weakest principal direction of
    weakly textured 6×6 patches, chosen on their 3×3 mean and corrected for the smallest sample eigenvalue's
    bias — and its whiteness (√ median / smallest eigenvalue: ~1.3 for noise, ≥ 1.8 for texture and clumped
    grain); chroma noise on the red−blue difference at half size. The checks scale σ to the training size;
  * edge sharpness: at the strongest edges (top 2 % of coarse-scale gradient), the ratio of fine-scale to
    coarse-scale gradient. A step edge keeps it near 0.7 or above; blur lowers it. The median at the file's
    size (the upscaling test), and the 90th percentile at the reference size (1024 px, or the file's own when
    smaller) for softness: the sharpest edges decide, so a sharp subject on a defocused background is sharp;
  * effective resolution: a radial power spectrum averaged over the most textured 128-px tiles, compared
    with the power law fitted at 0.04–0.15 cycles/px (refitted at 0.02–0.09 when that slope is steeper than
    any natural photo's); the frequency from which the power stays under ~30 % of the extrapolation up to
    Nyquist, as a fraction of Nyquist, scales the file size to "real detail" (also at the reference size); the
    same tiles' power by direction (along rows, along columns, diagonal) in six bands: motion takes detail from
    one direction, resampling from both axes (the enlargement model reads both);
  * JPEG quality from the luminance quantisation table (IJG scaling), and, for files without one, blockiness:
    the energy of luminance steps on the strongest 8-px grid phase relative to the other phases (a PNG or WebP
    saved from a heavily compressed JPEG).
Thresholds live in rules/checks.toml, chosen on the tuning half of bench/eval_quality.py's real-photo corpus.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from curate.extract.decode import Decoded, to_rgb

NAME = "quality"
VERSION = 5  # 4: spectrum_directions; no blockiness for JPEGs. 5: resampling_periodicity

REFERENCE_PX = 1024  # softness is judged at this long side (or the file's own, when smaller)

TILE = 128
MAX_TILES = 12
STD_LUMA_Q = np.array(
    [  # IJG standard luminance table (JPEG Annex K), any order: only its sum is compared
        16,
        11,
        10,
        16,
        24,
        40,
        51,
        61,
        12,
        12,
        14,
        19,
        26,
        58,
        60,
        55,
        14,
        13,
        16,
        24,
        40,
        57,
        69,
        56,
        14,
        17,
        22,
        29,
        51,
        87,
        80,
        62,
        18,
        22,
        37,
        56,
        68,
        109,
        103,
        77,
        24,
        35,
        55,
        64,
        81,
        104,
        113,
        92,
        49,
        64,
        78,
        87,
        103,
        121,
        120,
        101,
        72,
        92,
        95,
        98,
        112,
        100,
        103,
        99,
    ],
    dtype=np.float64,
)


# The IJG luminance tables for qualities 1–100 (IJG scaling of STD_LUMA_Q), summed: a file's table is matched by sum.
_IJG_SCALE = np.array([5000 / q if q < 50 else 200 - 2 * q for q in range(1, 101)])
_IJG_SUMS = np.clip(np.floor((STD_LUMA_Q[None, :] * _IJG_SCALE[:, None] + 50) / 100), 1, 255).sum(axis=1)


def jpeg_quality(tables: dict) -> int | None:
    """IJG quality (1–100) whose scaled standard luminance table best matches the file's (the lowest on a tie)."""
    luma = tables.get(0) or tables.get("0")
    if not luma or len(luma) != 64:
        return None
    return int(np.argmin(np.abs(_IJG_SUMS - float(np.sum(luma))))) + 1


def _haar(y: np.ndarray):
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    a, b, c, d = y[0:h:2, 0:w:2], y[0:h:2, 1:w:2], y[1:h:2, 0:w:2], y[1:h:2, 1:w:2]
    ll = (a + b + c + d) * 0.25  # a local mean: same intensity scale as y
    lh = (a + b - c - d) * 0.5
    hl = (a - b + c - d) * 0.5
    hh = (a - b - c + d) * 0.5  # i.i.d. noise of σ gives HH of σ
    return ll, lh, hl, hh


def _blocks(x: np.ndarray, k: int) -> np.ndarray:
    h, w = (x.shape[0] // k) * k, (x.shape[1] // k) * k
    return x[:h, :w].reshape(h // k, k, w // k, k).swapaxes(1, 2)


def _box3(p: np.ndarray) -> np.ndarray:
    """3×3 box mean over the last two axes of a stack of patches (the valid part: k−2 × k−2)."""
    rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
    return (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]) * (1.0 / 9.0)


def noise_sigma(ch: np.ndarray, n: int = 4000, k: int = 6, seed: int = 0) -> float | None:
    found = noise_estimate(ch, n, k, seed)
    return None if found is None else found[0]


def noise_estimate(ch: np.ndarray, n: int = 4000, k: int = 6, seed: int = 0) -> tuple[float, float] | None:
    """Noise σ of one channel: the smallest eigenvalue of the covariance of weak-texture k×k patches
    (Liu, Tanaka & Okutomi's PCA estimate). Texture lives in a few principal directions; noise in all of
    them, so the weakest direction measures noise alone. Patches are chosen as weakly textured on their 3×3
    mean, not on their raw pixels (choosing on raw pixels keeps the patches whose noise happened to be small,
    and reads about 0.85 of the true σ), and the smallest sample eigenvalue is corrected for its known
    downward bias (the Marchenko–Pastur lower edge, (1 − √(k²/m))², for m patches). Clipped (near 0 or 255)
    patches are skipped.

    Returns (σ, whiteness). Whiteness is √(median eigenvalue / smallest): noise is white, so its patch
    covariance is nearly the same in every direction (1.3–1.7 for added noise, JPEG q95 included), while fine
    texture that reads as "noise" — grass, gravel, clumped film grain — is not (1.8–4)."""
    h, w = ch.shape
    if h < k * 4 or w < k * 4:
        return None
    rng = np.random.default_rng(seed)  # fixed: the same file always gives the same number
    ys, xs = rng.integers(0, h - k, n), rng.integers(0, w - k, n)
    idx = (ys[:, None, None] + np.arange(k)[None, :, None]) * w + (xs[:, None, None] + np.arange(k)[None, None, :])
    patches = ch.reshape(-1)[idx].astype(np.float32)
    smooth = _box3(patches)
    grad = np.abs(np.diff(smooth, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(smooth, axis=2)).mean(axis=(1, 2))
    mean = patches.mean(axis=(1, 2))
    unclipped = (mean > 12) & (mean < 243)  # among patches noise can move both ways (dark pictures have few)
    if unclipped.sum() < k * k * 12:
        return None
    sel = unclipped & (grad <= np.percentile(grad[unclipped], 30))
    m = int(sel.sum())
    eig = np.maximum(np.linalg.eigvalsh(np.cov(patches[sel].reshape(-1, k * k).T.astype(np.float64))), 0.0)
    sigma = float(np.sqrt(eig[0])) / (1 - np.sqrt(k * k / m))
    whiteness = float(np.sqrt(eig[k * k // 2] / eig[0])) if eig[0] > 1e-6 else 99.0
    return round(sigma, 3), round(min(whiteness, 99.0), 3)


def _half(a: np.ndarray) -> np.ndarray:
    """2×2 box mean: halves white noise's σ, and keeps the frequencies JPEG's chroma subsampling keeps."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    a = a[:h, :w].astype(np.float32)
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * 0.25


def _edge_ratios(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """At the strongest edges (top 2 % of the level-2 Haar gradient, at least 8 grey levels), the largest
    level-1 gradient under each over the level-2 gradient: (ratios, level-2 strengths). A step edge keeps the
    ratio near 0.7 or above; blur lowers it."""
    h, w = (y.shape[0] // 4) * 4, (y.shape[1] // 4) * 4
    y = y[:h, :w]
    ll1 = (y[0::2, 0::2] + y[0::2, 1::2] + y[1::2, 0::2] + y[1::2, 1::2]) * 0.25
    _, lh2, hl2, hh2 = _haar(ll1)
    g2 = np.sqrt(lh2**2 + hl2**2 + hh2**2)
    strong = g2 >= max(np.percentile(g2, 98), 8.0)
    if strong.sum() < 20:
        return None
    rows, cols = np.nonzero(strong)
    best = np.zeros(len(rows))
    for dr in (0, 1):  # the level-1 coefficients under each strong level-2 one: keep the largest
        for dc in (0, 1):
            r, c = (rows * 2 + dr) * 2, (cols * 2 + dc) * 2
            a, b, cc, d = y[r, c], y[r, c + 1], y[r + 1, c], y[r + 1, c + 1]
            g1 = np.sqrt(((a + b - cc - d) * 0.5) ** 2 + ((a - b + cc - d) * 0.5) ** 2 + ((a - b - cc + d) * 0.5) ** 2)
            best = np.maximum(best, g1)
    return best / g2[strong], g2[strong]


def edge_sharpness(found: tuple[np.ndarray, np.ndarray] | None) -> dict[str, Any]:
    """The median edge ratio at the file's own size (UPS's edge test; quality_score) from `_edge_ratios`."""
    if found is None:
        return {"edge_sharpness": None}
    ratios, strength = found
    return {
        "edge_sharpness": round(float(np.median(ratios)), 4),
        "edge_strength": round(float(np.median(strength)), 2),
    }


def at_reference(im: Image.Image) -> Image.Image:
    """The luminance reduced (box filter) so its long side is at most REFERENCE_PX: softness is judged at the
    size LoRAs train at, not at a 24-MP file's own size (a 2-px blur at 4000 px is invisible at 1024)."""
    k = REFERENCE_PX / max(im.size)
    if k >= 1:
        return im
    return im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.Resampling.BOX)


def softness_at_reference(found: tuple[np.ndarray, np.ndarray] | None, cutoff: float | None) -> dict[str, Any]:
    """Edge sharpness at the reference size: the 90th percentile of the strongest edges' ratios (the
    sharpest edges decide, so a sharp subject on a defocused background counts as sharp), and where real
    detail ends in the spectrum at that size."""
    return {
        "reference_edge_sharpness": None if found is None else round(float(np.percentile(found[0], 90)), 4),
        "reference_detail_fraction": cutoff,
    }


def flat_fraction(y: np.ndarray) -> float:
    """Share of 16×16 blocks that hold one single value (sampled every 4th pixel): high in flat-colour
    digital art, ~0 in photos."""
    b = _blocks(y[::4, ::4], 4)
    if b.size == 0:
        return 0.0
    return round(float((b.max(axis=(2, 3)) == b.min(axis=(2, 3))).mean()), 3)


def _tiles(y: np.ndarray) -> list[np.ndarray]:
    h, w = y.shape
    if h < TILE or w < TILE:
        return []
    tiles = []
    for r in range(0, h - TILE + 1, TILE):
        for c in range(0, w - TILE + 1, TILE):
            t = y[r : r + TILE, c : c + TILE]
            tiles.append((float(np.abs(np.diff(t, axis=1)).mean() + np.abs(np.diff(t, axis=0)).mean()), t))
    tiles.sort(key=lambda x: -x[0])
    return [t for _, t in tiles[:MAX_TILES]]


_WINDOW = np.outer(np.hanning(TILE), np.hanning(TILE)).astype(np.float32)
_FY = np.fft.fftfreq(TILE)[:, None]
_FX = np.fft.rfftfreq(TILE)[None, :]
_RADIUS = np.sqrt(_FY**2 + _FX**2)
# JPEG's 8×8 grid puts spectral peaks at multiples of 1/8 cycle/px on and off the axes: left out.
_GRID = (np.abs(_FY * 8 - np.round(_FY * 8)) < 1e-9) & (np.abs(_FX * 8 - np.round(_FX * 8)) < 1e-9)
SPECTRUM_BINS = 32  # radial bins of the profile over 0..0.5 cycles/px
_BINS = np.linspace(0.0, 0.5, SPECTRUM_BINS + 1)
FIT_BAND = (0.04, 0.15)  # cycles/px where the power law of coarse detail is fitted
STEEP_SLOPE = -4.0  # a fit steeper than this is redone in STEEP_FIT_BAND (see spectrum_profile)
STEEP_FIT_BAND = (0.02, 0.09)


def tile_power(y: np.ndarray) -> np.ndarray | None:
    """The power spectrum (rfft2 layout) averaged over the MAX_TILES most textured 128-px tiles, each windowed."""
    tiles = _tiles(y)
    if not tiles:
        return None
    power = np.zeros((TILE, TILE // 2 + 1))
    for t in tiles:
        t = (t - t.mean()) * _WINDOW
        power += np.abs(np.fft.rfft2(t)) ** 2
    return power / len(tiles)


# Directions in the spectrum: detail along rows (0°, vertical edges), along columns (90°) and the diagonals, ±15°.
_ANGLE = np.degrees(np.arctan2(_FY, _FX)) % 180
_ALONG_ROWS = np.minimum(_ANGLE, 180 - _ANGLE) <= 15
_ALONG_COLUMNS = np.abs(_ANGLE - 90) <= 15
_DIAGONAL = (np.abs(_ANGLE - 45) <= 15) | (np.abs(_ANGLE - 135) <= 15)
DIRECTION_BANDS = ((0.06, 0.12), (0.12, 0.18), (0.18, 0.24), (0.24, 0.30), (0.30, 0.36), (0.36, 0.45))
# per band: the masks of its three directions (JPEG's grid peaks left out, as in the radial profile)
_DIRECTION_MASKS = [
    [(_RADIUS >= lo) & (_RADIUS < hi) & ~_GRID & m for m in (_ALONG_ROWS, _ALONG_COLUMNS, _DIAGONAL)]
    for lo, hi in DIRECTION_BANDS
]


def directional_profile(power: np.ndarray) -> list[list[float]]:
    """Per band of DIRECTION_BANDS (cycles/px), log10 power [along rows, along columns, diagonal]. Motion takes
    detail from one direction (a horizontal pan: along rows); an enlargement by separable resampling from both
    axes alike, and keeps the diagonals a little further out (its passband is a square) — the radial profile
    mixes the two."""
    return [[round(float(np.log10(power[m].mean() + 1e-6)), 3) for m in band] for band in _DIRECTION_MASKS]


def spectrum_profile(power: np.ndarray | None) -> tuple[list[float], float | None]:
    """(radial log10 power per bin over 0..0.5 cycles/px, detail cutoff as a fraction of Nyquist) from
    tile_power's spectrum; ([], None) where there was none (a picture smaller than a tile)."""
    if power is None:
        return [], None
    idx = np.digitize(_RADIUS, _BINS) - 1
    keep = ~_GRID & (_RADIUS > 0)
    prof = []
    for b in range(len(_BINS) - 1):
        sel = keep & (idx == b)
        prof.append(float(np.log10(power[sel].mean() + 1e-6)) if sel.any() else float("nan"))
    centres = (_BINS[:-1] + _BINS[1:]) / 2
    p = np.array(prof)
    fit = (centres >= FIT_BAND[0]) & (centres <= FIT_BAND[1]) & np.isfinite(p)
    if fit.sum() < 3:
        return prof, None
    slope, icept = np.polyfit(np.log10(centres[fit]), p[fit], 1)
    if slope < STEEP_SLOPE:
        # Steeper than any natural photo (clean ≥ −3.3, shallow depth of field ≥ −3.7 in the evaluation):
        # heavy blur or a large upscale already darkens the fitting band, so fit lower down.
        low = (centres >= STEEP_FIT_BAND[0]) & (centres <= STEEP_FIT_BAND[1]) & np.isfinite(p)
        slope, icept = np.polyfit(np.log10(centres[low]), p[low], 1)
    expected = icept + slope * np.log10(centres)
    deficit = p - expected  # log10 ratio measured / extrapolated
    smooth = np.convolve(np.nan_to_num(deficit), np.ones(3) / 3, mode="same")
    cutoff = 0.5
    # The lowest frequency above 0.12 where the power falls under ~30 % of the extrapolated level and
    # stays under ~50 % up to Nyquist: interpolation and blur leave little energy above the old Nyquist.
    for b in range(len(centres) - 1):
        if centres[b] > 0.12 and smooth[b] < -0.5 and np.all(smooth[b:-1] < -0.3):
            cutoff = float(centres[b])
            break
    return [round(v, 3) for v in prof], round(cutoff / 0.5, 4)


# every 4th line: the mean over ~250 lines shows a period as clearly as all of them, at a quarter of the cost
PERIOD_LINE_STEP = 4


def resampling_periodicity(y: np.ndarray) -> list[list[float]] | None:
    """Resampling's trace (Gallagher 2005): an enlargement computes most pixels from a few original ones, so the
    mean |second derivative| along a line repeats with the enlargement's period (1/3 cycles/px at 3× and 1.5×,
    0.2 and 0.4 at 2.5×, near 0.5 at nearly 2×), which detail lost to focus, fog or motion does not. An exact 2× or
    4× with centred sampling interpolates every pixel at mirrored offsets and leaves little. Per axis (along rows,
    along columns), log10 of the strongest peak of that mean's spectrum over the spectrum's median above 0.1
    cycles/px: away from JPEG's 8-px grid harmonics (k/8), at 0.5 and at 0.25 cycles/px (on the grid: 2× and 4×
    fall there, and a JPEG's own grid is weaker). None for pictures under 64 px or flat."""
    if min(y.shape) < 64:
        return None
    out = []
    for lines in (y[::PERIOD_LINE_STEP], y.T[::PERIOD_LINE_STEP]):
        d2 = lines[:, 2:] - lines[:, 1:-1]  # one temporary a quarter of the picture's size, then in place
        d2 -= lines[:, 1:-1]
        d2 += lines[:, :-2]
        d = np.abs(d2, out=d2).mean(axis=0)
        f = np.abs(np.fft.rfft((d - d.mean()) * np.hanning(len(d))))
        freq = np.fft.rfftfreq(len(d))
        high = freq > 0.1
        median = float(np.median(f[high]))
        if median <= 1e-6:
            return None
        # within 2.5 bins (of the real FFT's spacing) of each of JPEG's grid harmonics, 1/8 … 4/8 cycles/px
        harmonics = [np.abs(freq - k / 8) <= 2.5 / (2 * (len(freq) - 1)) for k in (1, 2, 3, 4)]
        grid = np.logical_or.reduce(harmonics)
        peaks = (f[high & ~grid].max(), f[harmonics[3]].max(), f[harmonics[1]].max())  # off grid, at 0.5, at 0.25
        out.append([round(float(np.log10(max(p / median, 1e-3))), 3) for p in peaks])
    return out


def blockiness(y: np.ndarray) -> float | None:
    """Steps across the strongest 8-px grid phase relative to the median phase (every 2nd line sampled). Steps
    are capped at their 90th percentile first: block edges are many small steps along whole grid lines, while a
    few strong edges of the picture that happen to lie on the grid (a cut-out's border) must not decide."""
    if y.shape[0] < 64 or y.shape[1] < 64:
        return None
    ratios = []
    for steps in (np.abs(np.diff(y[::2], axis=1)), np.abs(np.diff(y[:, ::2], axis=0)).T):
        d = np.minimum(steps, max(float(np.percentile(steps, 90)), 1.0)).mean(axis=0)
        n = (len(d) // 8) * 8
        phases = d[:n].reshape(-1, 8).mean(axis=0)
        ratios.append(float(phases.max() / max(np.median(phases), 1e-6)))
    return round(float(np.mean(ratios)), 4)


def compute(decoded: Decoded) -> dict[str, Any]:
    if decoded.image is None:
        return {"skipped": "not decoded"}
    im = decoded.image
    if im.mode not in ("RGB", "L"):
        im = to_rgb(im)
    lum = im.convert("L") if im.mode == "RGB" else im
    y = np.asarray(lum, dtype=np.float32)
    out: dict[str, Any] = {"analysed_width": int(y.shape[1]), "analysed_height": int(y.shape[0])}
    if im.mode == "RGB":
        rgb = np.asarray(im)
        found = noise_estimate(rgb[..., 1])
        # Colour noise: the red−blue difference carries chroma noise and little luminance texture; measured on
        # the 2×2 mean (which JPEG's 4:2:0 chroma keeps) and doubled back to the file's own scale.
        rb = (rgb[..., 2].astype(np.float32) - rgb[..., 0].astype(np.float32)) * 0.5 + 128
        chroma = noise_sigma(np.clip(_half(rb), 0, 255))
        out["chroma_noise_sigma"] = None if chroma is None else round(2 * chroma, 3)
    else:
        found = noise_estimate(y)
    out["noise_sigma"], out["noise_whiteness"] = found if found is not None else (None, None)
    out["flat_fraction"] = flat_fraction(y)
    edges = _edge_ratios(y)
    out.update(edge_sharpness(edges))
    power = tile_power(y)
    profile, cutoff = spectrum_profile(power)
    out["spectrum"] = profile
    out["spectrum_directions"] = None if power is None else directional_profile(power)
    out["detail_fraction"] = cutoff
    out["resampling_periodicity"] = resampling_periodicity(y)
    ref = at_reference(lum)
    out["reference_px"] = max(ref.size)
    if ref is lum:  # the file is no larger than the reference size: the same measures
        out.update(softness_at_reference(edges, cutoff))
    else:
        r = np.asarray(ref, dtype=np.float32)
        out.update(softness_at_reference(_edge_ratios(r), spectrum_profile(tile_power(r))[1]))
    q = decoded.info.get("quantization")
    out["jpeg_quality"] = jpeg_quality(q) if q else None
    # A JPEG is judged by its quantisation tables (CMP001/CMP002): blockiness, a quarter of this pass, only where
    # there are none (a PNG or WebP re-saved from a JPEG: CMP003).
    out["blockiness"] = None if q else blockiness(y)
    return out

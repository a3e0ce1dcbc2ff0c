"""Display versions of linear HDR images: the paper's mu-law and OpenCV's global operators.

The mu-law curve is the one the HDR-merging literature (Kalantari & Ramamoorthi 2017,
ADNet) uses for the PSNR-mu metric: ``T(x) = log(1 + mu x) / log(1 + mu)`` with mu = 5000.
:func:`preview` applies it after percentile normalisation; :func:`tonemap` adds exposure,
display gamma, OpenCV's Reinhard / Drago / Mantiuk operators and repair of bad pixels, and
:func:`quantise` turns its result into 8- or 16-bit code values.

A leaf module: numpy and OpenCV only, no printing; problems are reported through return
values (the count of repaired pixels) or ValueError for bad arguments.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from adnet_cli import tables
from adnet_cli.choices import TONEMAP_OPERATORS
from adnet_cli.formats.cvlog import quiet_opencv

OPERATORS = TONEMAP_OPERATORS  # their names, in the table's order (adnet_cli.tables.TONE_OPERATORS)
MU = 5000.0
MIN_MU = 10.0  # the gentlest curve adaptive_mu picks, for scenes whose median is near white
BRIGHT_MEDIAN = 0.8  # the highest display value a preview shows the median brightness at (adaptive_mu)
# Row blocks of this many rows bound the temporaries of a preview (float64 mu-law) on big images.
ROWS_PER_BLOCK = 256


def mu_law(x: np.ndarray, mu: float = MU) -> np.ndarray:
    """Mu-law compression ``T(x) = log(1 + mu*x) / log(1 + mu)``.

    x: any shape, real values meant to lie in [0, 1]; NaN -> 0, then clipped to [0, 1].
    mu: compression strength, > 0 (default 5000).
    Returns an array of the same shape, float32 in [0, 1]; T(0) = 0 and T(1) = 1 exactly.
    """
    if not mu > 0:
        raise ValueError(f"mu must be > 0, got {mu}")
    x64 = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(x64, 0.0, 1.0, out=x64)
    return (np.log1p(mu * x64) / np.log1p(mu)).astype(np.float32)


def _checked(hdr: np.ndarray, percentile: float) -> np.ndarray:
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    raw = np.asarray(hdr)
    if raw.ndim != 3:
        raise ValueError(f"expected an (H, W, C) array, got shape {raw.shape}")
    return raw


def _clean(block: np.ndarray) -> np.ndarray:
    """Non-finite and negative values -> 0, as float32 or float64 (a new array)."""
    if block.dtype not in (np.float32, np.float64):
        block = block.astype(np.float32)
    clean = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(clean, 0.0, out=clean)


def _row_blocks(height: int) -> range:
    return range(0, height, ROWS_PER_BLOCK)


def _brightness(raw: np.ndarray) -> np.ndarray:
    """The per-pixel max channel of the fully finite pixels (negatives as 0), float32, 1-D; in row
    blocks, so large images need little extra memory."""
    parts = []
    for r in _row_blocks(raw.shape[0]):
        block = raw[r : r + ROWS_PER_BLOCK]
        parts.append(_clean(block).max(axis=-1)[np.isfinite(block).all(axis=-1)].astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _white(brightness: np.ndarray, percentile: float) -> float:
    scale = float(np.percentile(brightness, percentile)) if brightness.size else 0.0
    return scale if scale > 0.0 else float(brightness.max(initial=0.0))


def white_level(hdr: np.ndarray, percentile: float = 99.0) -> float:
    """The value :func:`normalise` maps to 1: the `percentile` of the per-pixel max channel over
    fully finite pixels (negatives as 0), or their maximum when that is 0; 0.0 when there is no
    light at all."""
    return _white(_brightness(_checked(hdr, percentile)), percentile)


def adaptive_mu(median: float) -> float:
    """The mu-law strength for a preview whose median brightness is `median` (a fraction of the white
    level, >= 0): the paper's MU while it shows the median at BRIGHT_MEDIAN or below, as in most
    scenes (median under 18 % of the white). A bright scene (a sky filling half the frame) would land
    almost everything near white and look washed out: there the mu that shows the median at
    BRIGHT_MEDIAN (bisection; at least MIN_MU), which leaves the top of the curve more contrast."""
    m = min(max(float(median), 0.0), 1.0)

    def shown(mu: float) -> float:
        return math.log1p(mu * m) / math.log1p(mu)

    if shown(MU) <= BRIGHT_MEDIAN:
        return MU
    lo, hi = MIN_MU, MU
    if shown(lo) >= BRIGHT_MEDIAN:
        return lo
    for _ in range(40):  # shown(mu) grows with mu: geometric bisection to about 1e-4 relative
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if shown(mid) < BRIGHT_MEDIAN else (lo, mid)
    return (lo * hi) ** 0.5


def preview_mu(hdr: np.ndarray, percentile: float = 99.0) -> float:
    """:func:`adaptive_mu` of the image's median brightness over its `percentile` white level."""
    brightness = _brightness(_checked(hdr, percentile))
    return _mu_of(brightness, _white(brightness, percentile))


def _mu_of(brightness: np.ndarray, white: float) -> float:
    return adaptive_mu(float(np.median(brightness)) / white) if white > 0 else MU


def normalise(hdr: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Scale a linear HDR image so that its ``percentile`` brightness maps to 1.

    The ``percentile``-th percentile (default: the 99th) of the per-pixel max channel maps
    to 1; brighter pixels end up above 1 and clip in :func:`mu_law` / :func:`preview`.
    Pixels with a non-finite channel are ignored for the statistic; in the result every
    non-finite and negative value is 0. If the percentile is <= 0 the maximum is used
    instead, and an image that is all 0 (or has no finite pixel) gives all zeros.

    hdr: (H, W, C) real array, linear radiance (C is 3 for RGB).
    percentile: in [0, 100].
    Returns (H, W, C) float32, >= 0, unbounded above.
    """
    raw = _checked(hdr, percentile)
    scale = white_level(raw, percentile)
    clean = _clean(raw)
    if scale <= 0.0:
        return np.zeros(clean.shape, np.float32)
    return (clean / clean.dtype.type(scale)).astype(np.float32, copy=False)


def preview(hdr: np.ndarray, *, percentile: float = 99.0, mu: float | None = None) -> np.ndarray:
    """8-bit display preview: ``round(255 * mu_law(normalise(hdr, percentile), mu))``.

    The ``percentile``-th percentile (default 99th) of the per-pixel max channel maps to
    255; brighter pixels clip. mu: None = :func:`preview_mu` (5000 unless the scene is bright).
    NaN, inf and negative values show as black. Computed in row blocks: a 24 MP image needs tens
    of MB of temporaries, not GBs.

    hdr: (H, W, 3) real array, linear RGB.
    Returns (H, W, 3) uint8 RGB.
    """
    raw = _checked(hdr, percentile)
    brightness = _brightness(raw)
    scale = _white(brightness, percentile)
    if mu is None:
        mu = _mu_of(brightness, scale)
    shown = np.zeros(raw.shape, np.uint8)
    if scale <= 0.0:
        return shown
    for r in _row_blocks(raw.shape[0]):
        clean = _clean(raw[r : r + ROWS_PER_BLOCK])
        tone = mu_law(clean / clean.dtype.type(scale), mu)
        shown[r : r + ROWS_PER_BLOCK] = np.rint(tone * np.float32(255.0)).astype(np.uint8)
    return shown


DISPLAY_GAMMA = 2.2  # default display gamma of the OpenCV operators
WHITE_PERCENTILE = 99.0  # the brightness percentile that maps to 1 before any operator


def count_bad_pixels(hdr: np.ndarray) -> int:
    """Number of pixels with at least one NaN, infinite or negative channel.

    hdr: (H, W, C) real array. Returns an int in [0, H*W]; a pixel counts once however
    many of its channels are bad.
    """
    raw = np.asarray(hdr)
    bad = ~np.isfinite(raw) | (raw < 0)
    return int(bad.any(axis=-1).sum())


def repair_and_normalise(hdr: np.ndarray, percentile: float = WHITE_PERCENTILE) -> tuple[np.ndarray, int]:
    """:func:`normalise`, with +inf shown as the brightest value instead of black.

    The ``percentile``-th percentile of the per-pixel max channel (over pixels whose channels
    are all finite) maps to 1. NaN, -inf and negative values become 0; +inf becomes the
    largest finite value of the normalised image, or 1 if that is smaller (e.g. an image
    with no positive finite value).

    hdr: (H, W, 3) real array, linear RGB.
    Returns ((H, W, 3) float32 >= 0, finite, unbounded above; the count of repaired pixels
    as from :func:`count_bad_pixels`).
    """
    raw = np.asarray(hdr)
    if raw.ndim != 3 or raw.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {raw.shape}")
    linear = normalise(raw, percentile)
    posinf = np.isposinf(raw)
    if posinf.any():
        linear[posinf] = max(float(linear.max()), 1.0)
    return linear, count_bad_pixels(raw)


def _gamma_encode(linear: np.ndarray, gamma: float) -> np.ndarray:
    """``clip(linear, 0, 1) ** (1 / gamma)`` as float32 (same shape)."""
    return np.power(np.clip(linear, 0.0, 1.0), np.float32(1.0 / gamma)).astype(np.float32)


def _restretch(out: np.ndarray, gamma: float) -> np.ndarray | None:
    """Redo the last step of an OpenCV operator, ignoring the NaN that confused it.

    OpenCV ends by mapping [min, max] of its result to [0, 1] and encoding with 1/gamma. A
    pixel whose luminance is 0 after its first [min, max] stretch (the darkest pixels, e.g.
    exact black) comes out NaN, and NaN corrupts that min/max, which leaves the whole image
    dim. The mapping is affine, so decoding (``** gamma``) and re-stretching over the finite
    values recovers the intended result; NaN pixels become 0 (they were the darkest).

    out: (H, W, 3) float32 operator output with NaN. Returns (H, W, 3) float32 in [0, 1], or
    None when fewer than two distinct finite values remain.
    """
    linear = np.power(np.maximum(out, 0.0), np.float32(gamma))  # NaN stays NaN
    finite = np.isfinite(linear)
    if not finite.any():
        return None
    lo, hi = float(linear[finite].min()), float(linear[finite].max())
    if not hi > lo:
        return None
    stretched = np.nan_to_num((linear - np.float32(lo)) / np.float32(hi - lo), nan=0.0, posinf=1.0, neginf=0.0)
    return _gamma_encode(stretched, gamma)


def _opencv_tonemap(linear: np.ndarray, operator: str, gamma: float) -> np.ndarray:
    """OpenCV's ``operator`` with display ``gamma`` on (H, W, 3) float32 RGB >= 0 -> [0, 1].

    The operators first stretch their input's [min, max] range to [0, 1], so they ignore a
    global scale. They return NaN for pixels left at luminance 0 by that stretch (repaired by
    :func:`_restretch`) and fail on an image whose luminance is the same everywhere, which is
    shown as ``clip(linear, 0, 1) ** (1 / gamma)`` instead.
    """
    bgr = np.ascontiguousarray(linear[:, :, ::-1], dtype=np.float32)
    gray = cv2.cvtColor(bgr, cv2.COLOR_RGB2GRAY)  # the luminance the operators compute
    if not gray.max() > gray.min():
        return _gamma_encode(linear, gamma)
    maker = tables.row(tables.TONE_OPERATORS, operator, "operator").load()  # OpenCV's createTonemap*
    with quiet_opencv():
        out = np.ascontiguousarray(maker(gamma).process(bgr)[:, :, ::-1])
    if not np.isfinite(out).all():
        out = _restretch(out, gamma)
        if out is None:
            return _gamma_encode(linear, gamma)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def tonemap(
    hdr: np.ndarray, operator: str = "mu", *, exposure: float = 0.0, gamma: float | None = None, mu: float | None = None
) -> tuple[np.ndarray, int]:
    """Map a linear HDR image to display values in [0, 1].

    First the image is repaired and normalised (:func:`repair_and_normalise`): the 99th
    percentile of the per-pixel max channel maps to 1; NaN, -inf and negatives become 0,
    +inf the brightest finite value.

    operator: "mu" -- ``mu_law(x * 2**exposure, mu)``: mu None = :func:`preview_mu` (the
        paper's 5000 unless the scene is bright), 5000 for the paper's curve exactly; with
        exposure 0 and no gamma, exactly :func:`preview` / 255; pixels at or above the
        99th-percentile level are white. "reinhard", "drago", "mantiuk" -- OpenCV's
        ``createTonemap*(gamma)`` with default parameters. They rescale their input to its own
        range, so exposure cannot act on their input: their output is converted back to linear
        light (``** gamma``), multiplied by ``2**exposure``, clipped to 1 and re-encoded.
    exposure: stops, finite; 0 leaves the image as is, +1 doubles the brightness.
    gamma: display gamma, > 0; values are encoded as ``linear ** (1 / gamma)``. None means
        2.2 for the OpenCV operators and no extra encoding for mu (the mu curve already is a
        display encoding); a given gamma for mu is applied on top of the curve.
    hdr: (H, W, 3) real array, linear RGB (float32 from :func:`adnet_cli.formats.io.read_hdr`).
    Returns ((H, W, 3) float32 RGB in [0, 1], finite; the number of pixels with a NaN,
    infinite or negative channel that were repaired). Raises ValueError for bad arguments.
    """
    tables.row(tables.TONE_OPERATORS, operator, "operator")  # ValueError naming the operators
    if not np.isfinite(exposure):
        raise ValueError(f"exposure must be finite, got {exposure}")
    if gamma is not None and not (np.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a positive number, got {gamma}")
    linear, bad_pixels = repair_and_normalise(hdr)
    if mu is not None and not (np.isfinite(mu) and mu > 0):
        raise ValueError(f"mu must be a positive number, got {mu}")
    if operator == "mu":
        # mu from the image as given (non-finite pixels left out), as preview() chooses it
        tone = mu_law(linear.astype(np.float64) * 2.0**exposure, preview_mu(hdr) if mu is None else mu)
        if gamma is not None:
            tone = _gamma_encode(tone, gamma)
        return tone, bad_pixels
    display_gamma = DISPLAY_GAMMA if gamma is None else gamma
    tone = _opencv_tonemap(linear, operator, display_gamma)
    if exposure != 0.0:
        tone = _gamma_encode(np.power(tone, np.float32(display_gamma)) * np.float32(2.0**exposure), display_gamma)
    return tone, bad_pixels


def quantise(tone: np.ndarray, bits: int = 8) -> np.ndarray:
    """Display values -> integer code values: ``round(clip(tone, 0, 1) * (2**bits - 1))``.

    tone: any shape, real values in [0, 1] (NaN -> 0; values outside are clipped).
    bits: 8 (-> uint8, 0..255) or 16 (-> uint16, 0..65535).
    Returns an array of the same shape. ``quantise(tonemap(hdr)[0])`` equals ``preview(hdr)``.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    top = np.float32(2**bits - 1)
    values = np.clip(np.nan_to_num(np.asarray(tone, dtype=np.float32), nan=0.0), 0.0, 1.0)
    return np.rint(values * top).astype(np.uint8 if bits == 8 else np.uint16)

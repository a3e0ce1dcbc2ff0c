"""Display previews of linear HDR images: percentile normalisation followed by mu-law.

The mu-law curve is the one the HDR-merging literature (Kalantari & Ramamoorthi 2017,
ADNet) uses for the PSNR-mu metric: ``T(x) = log(1 + mu x) / log(1 + mu)`` with mu = 5000.

A leaf module: numpy only, no printing.
"""

from __future__ import annotations

import numpy as np

MU = 5000.0


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
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    raw = np.asarray(hdr)
    if raw.ndim != 3:
        raise ValueError(f"expected an (H, W, C) array, got shape {raw.shape}")
    if raw.dtype not in (np.float32, np.float64):
        raw = raw.astype(np.float32)
    clean = np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0)
    np.maximum(clean, 0.0, out=clean)
    finite_pixels = np.isfinite(raw).all(axis=-1)
    brightness = clean.max(axis=-1)[finite_pixels]
    if brightness.size == 0:
        return np.zeros(clean.shape, np.float32)
    scale = float(np.percentile(brightness, percentile))
    if scale <= 0.0:
        scale = float(brightness.max())
    if scale <= 0.0:
        return np.zeros(clean.shape, np.float32)
    return (clean / clean.dtype.type(scale)).astype(np.float32, copy=False)


def preview(hdr: np.ndarray, *, percentile: float = 99.0, mu: float = MU) -> np.ndarray:
    """8-bit display preview: ``round(255 * mu_law(normalise(hdr, percentile), mu))``.

    The ``percentile``-th percentile (default 99th) of the per-pixel max channel maps to
    255; brighter pixels clip. NaN, inf and negative values show as black.

    hdr: (H, W, 3) real array, linear RGB.
    Returns (H, W, 3) uint8 RGB.
    """
    tone = mu_law(normalise(hdr, percentile), mu)
    return np.rint(tone * np.float32(255.0)).astype(np.uint8)

"""Image-quality metrics of the HDR literature. Pure functions on numpy arrays (numpy and tonemap.mu_law only).

Two conventions, each with its own input domain (every function takes ``(pred, target)``):

* Kalantari & Ramamoorthi 2017 (PSNR-l, PSNR-mu, SSIM-l, SSIM-mu): linear HDR normalised to
  [0, 1], with 1.0 = the shortest frame's white level (Kalantari's ground truth). Values outside
  [0, 1] are clipped.
* NTIRE 2021 HDR challenge (NTIRE PSNR-L, NTIRE PSNR-mu): gamma-encoded HDR,
  ``linear ** (1 / 2.24)``, aligned to the medium frame. No fixed white level; both metrics
  normalise by a statistic of the reference (target) image only.

All results are Python floats; PSNR is in dB and is ``inf`` for identical inputs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from adnet_cli.curves import NTIRE_GAMMA
from adnet_cli.formats.tonemap import MU, mu_law

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11 x 11 window: skimage's 2 * int(3.5 * sigma + 0.5) + 1 with truncate = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {t.shape}")
    return p, t


def psnr(pred: np.ndarray, target: np.ndarray, peak: float = 1.0) -> float:
    """PSNR = 10 log10(peak**2 / mean((pred - target)**2)) in dB; inf for identical inputs.

    pred, target: real arrays of one shape (any, typically (H, W, 3)); used as given, no
    clipping. The mean runs over every element (pixels and channels). Computed in float64.
    """
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def psnr_l(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR-l (Kalantari): psnr(clip(pred, 0, 1), clip(target, 0, 1)), peak 1.

    = 10 log10(1 / mean((clip(pred, 0, 1) - clip(target, 0, 1))**2)).
    pred, target: (H, W, 3) float, linear HDR with 1.0 = the shortest frame's white level.
    """
    return psnr(np.clip(pred, 0, 1), np.clip(target, 0, 1))


def psnr_mu(pred: np.ndarray, target: np.ndarray, mu: float = MU) -> float:
    """PSNR-mu (Kalantari): psnr(T(pred), T(target)), peak 1, where
    T(x) = log(1 + mu * clip(x, 0, 1)) / log(1 + mu), mu = 5000 (:func:`adnet_cli.formats.tonemap.mu_law`,
    which returns float32, so T is rounded to float32 before the squared error).

    pred, target: (H, W, 3) float, linear HDR with 1.0 = the shortest frame's white level.
    """
    return psnr(mu_law(pred, mu), mu_law(target, mu))


def psnr_l_ntire(pred_gamma: np.ndarray, target_gamma: np.ndarray) -> float:
    """NTIRE 2021 PSNR-L: PSNR in the gamma-encoded domain, normalised by the reference maximum.

    With m = max(target_gamma) (over all pixels and channels of the TARGET only):
        PSNR-L = 10 log10(1 / mean((pred_gamma / m - target_gamma / m)**2))
    i.e. peak 1 after normalisation. Nothing is clipped: prediction values above m (normalised
    > 1) or below 0 count with their full error, as in the challenge's ``normalized_psnr``.

    pred_gamma, target_gamma: (H, W, 3) float (any matching shape), gamma-encoded HDR
    ``linear ** (1 / 2.24)`` aligned to the medium frame. Raises ValueError if max(target) <= 0.
    """
    p, t = _pair(pred_gamma, target_gamma)
    m = float(np.max(t))
    if not m > 0:
        raise ValueError(f"reference maximum must be > 0, got {m}")
    return psnr(p / m, t / m)


def psnr_mu_ntire(pred_gamma: np.ndarray, target_gamma: np.ndarray, gamma: float = NTIRE_GAMMA,
                  percentile: float = 99, mu: float = MU) -> float:
    """NTIRE 2021 PSNR-mu (the challenge's ``psnr_tanh_norm_mu_tonemap``).

        L_p = max(pred_gamma, 0) ** gamma,  L_t = max(target_gamma, 0) ** gamma   (gamma = 2.24)
        n   = np.percentile(L_t, percentile)   over ALL values (pixels and channels) of the
              LINEAR REFERENCE (target) only; the prediction never affects n. Default 99th,
              numpy's default linear interpolation between order statistics.
        T(x) = log(1 + mu * x) / log(1 + mu),  mu = 5000
        PSNR-mu = 10 log10(1 / mean((T(tanh(L_p / n)) - T(tanh(L_t / n)))**2))   (peak 1)

    Negatives are clipped to 0 before the power (the challenge code would give NaN there); no
    other clipping (tanh bounds to [0, 1)). Computed in float64 throughout.

    pred_gamma, target_gamma: (H, W, 3) float (any matching shape), gamma-encoded HDR
    ``linear ** (1 / 2.24)`` aligned to the medium frame. Raises ValueError if n <= 0.
    """
    p, t = _pair(pred_gamma, target_gamma)
    lin_p = np.maximum(p, 0.0) ** gamma
    lin_t = np.maximum(t, 0.0) ** gamma
    n = float(np.percentile(lin_t, percentile))
    if not n > 0:
        raise ValueError(f"reference {percentile}th percentile must be > 0, got {n}")

    def tone(lin: np.ndarray) -> np.ndarray:
        return np.log1p(mu * np.tanh(lin / n)) / np.log1p(mu)

    return psnr(tone(lin_p), tone(lin_t))


def _gaussian_window_1d(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(k * k) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable correlation of (H, W, C) with outer(g, g), 'valid' region only: (H-r+1, W-r+1, C)."""
    r = g.size
    h, w = img.shape[0] - r + 1, img.shape[1] - r + 1
    rows = sum(g[i] * img[i:i + h] for i in range(r))
    return sum(g[j] * rows[:, j:j + w] for j in range(r))


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM of Wang et al. 2004, Gaussian window, mean over the valid region and the channels.

    Per channel, with w = the 11 x 11 Gaussian window outer(g, g),
    g[k] = exp(-k**2 / (2 * 1.5**2)) / sum_j exp(-j**2 / (2 * 1.5**2)), k = -5..5, and
    E_w[.] the w-weighted mean over the window at each position where it fits entirely inside
    the image (the 'valid' (H - 10) x (W - 10) positions; x = pred, y = target):
        mu_x = E_w[x],  mu_y = E_w[y]
        s_xx = E_w[x*x] - mu_x**2,  s_yy = E_w[y*y] - mu_y**2,  s_xy = E_w[x*y] - mu_x*mu_y
        C1 = (0.01 * data_range)**2,  C2 = (0.03 * data_range)**2
        S = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x**2 + mu_y**2 + C1)(s_xx + s_yy + C2))
    SSIM = mean of S over the valid positions, then over the channels. Equals skimage's
    structural_similarity(pred, target, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=data_range, channel_axis=-1 for colour).

    pred, target: (H, W, C) or (H, W) real, one shape, H and W >= 11; used as given (no
    clipping). Returns a float in [-1, 1]; 1.0 for identical inputs.
    """
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0, got {data_range}")
    x, y = _pair(pred, target)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    if x.ndim != 3:
        raise ValueError(f"expected (H, W) or (H, W, C) arrays, got shape {x.shape}")
    win = 2 * SSIM_RADIUS + 1
    if x.shape[0] < win or x.shape[1] < win:
        raise ValueError(f"SSIM needs images of at least {win} x {win}, got {x.shape[:2]}")
    g = _gaussian_window_1d()
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    s_xx = _filter_valid(x * x, g) - mu_x * mu_x
    s_yy = _filter_valid(y * y, g) - mu_y * mu_y
    s_xy = _filter_valid(x * y, g) - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * s_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (s_xx + s_yy + c2))
    return float(np.mean(s.mean(axis=(0, 1))))


def ssim_l(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM-l (Kalantari): ssim(clip(pred, 0, 1), clip(target, 0, 1), data_range=1).

    pred, target: (H, W, 3) float, linear HDR with 1.0 = the shortest frame's white level.
    """
    return ssim(np.clip(pred, 0, 1), np.clip(target, 0, 1), data_range=1.0)


def ssim_mu(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM-mu (Kalantari): ssim(T(pred), T(target), data_range=1) with
    T(x) = log(1 + 5000 * clip(x, 0, 1)) / log(1 + 5000) (:func:`adnet_cli.formats.tonemap.mu_law`).

    pred, target: (H, W, 3) float, linear HDR with 1.0 = the shortest frame's white level.
    """
    return ssim(mu_law(pred), mu_law(target), data_range=1.0)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "PSNR-l": psnr_l,
    "PSNR-mu": psnr_mu,
    "SSIM-l": ssim_l,
    "SSIM-mu": ssim_mu,
    "NTIRE PSNR-L": psnr_l_ntire,
    "NTIRE PSNR-mu": psnr_mu_ntire,
}
"""Report label -> metric, each called as ``METRICS[label](pred, target)`` with defaults.

Input domain per label:
* "PSNR-l", "PSNR-mu", "SSIM-l", "SSIM-mu" (Kalantari's convention): (H, W, 3) linear HDR with
  1.0 = the shortest frame's white level; clipped to [0, 1].
* "NTIRE PSNR-L", "NTIRE PSNR-mu" (NTIRE 2021's convention): (H, W, 3) gamma-encoded HDR
  ``linear ** (1 / 2.24)`` aligned to the medium frame; normalised by the target's max /
  99th percentile.
"""

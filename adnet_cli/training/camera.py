"""Cameras for the bracket simulator: how a linear signal becomes the 8-bit frame a real camera writes.

Two models. ``gamma`` (the simulator's first camera, kept so its fixed validation set never changes):
Poisson-Gaussian noise, clipping at 1, ``ldr = signal**(1/gamma)``, 8-bit rounding (:func:`capture`).
``realistic`` (:class:`CameraParams`, drawn per bracket by :func:`draw_camera`) adds what real brackets
show: a tone curve from a smooth random family around sRGB and filmic S-curves, channels that clip at
different levels (white balance applied to a sensor that saturated first), chroma noise in blotches
that grows in the shadows, and JPEG compression at camera qualities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from adnet_cli.choices import TONE_CURVES
from adnet_cli.curves import NTIRE_GAMMA, linear_to_srgb
from adnet_cli.training.scene_sources import loguniform

RESPONSE_ODDS = (0.3, 0.35, 0.35)
FILMIC_SHOULDER, FILMIC_CONTRAST = 1.0, 0.75
WARP_AMPLITUDE = 0.12  # largest |a_k| of the tone curve's smooth perturbation (two terms: stays monotone)
CHANNEL_CLIP_PROB = 0.4  # share of brackets whose red and blue channels clip below green
CHANNEL_CLIP = (0.55, 1.0)  # their clip level, on the white-balanced signal's scale (green clips at 1)
CHROMA_PROB = 0.5
CHROMA_GAIN = (0.5, 3.0)  # chroma noise sigma, in units of the pixel's own shot + read noise sigma
CHROMA_BLUR = (0.7, 2.5)  # Gaussian sigma (px) of the chroma blotches
JPEG_PROB = 0.6
JPEG_QUALITY = (75, 98)
SMALL_STEPS = (2.0, 8.0)  # usual bracket ratios: EV steps of 1 to 3 stops
SAME_STEP_PROB = 0.7  # auto-exposure bracketing: both steps equal
LARGE_STEP_PROB = 0.2  # one step of more than 3 stops, up to ratio_range[1]


@dataclass(frozen=True)
class CameraParams:
    """One camera of the ``realistic`` model (see the module docstring).

    response: one of TONE_CURVES; gamma: its exponent for ``gamma`` (2.24 +- jitter), unused otherwise;
    warp: (2,) amplitudes of the tone curve's perturbation ``y + sum a_k sin(k pi y) / (k pi)``;
    clip: (3,) per-channel clip levels of the linear signal (1 = the common white);
    chroma: (sigma gain, blur px), gain 0 = none; jpeg: JPEG quality, 0 = not compressed.
    """

    response: str = "srgb"
    gamma: float = NTIRE_GAMMA
    warp: tuple[float, float] = (0.0, 0.0)
    clip: tuple[float, float, float] = (1.0, 1.0, 1.0)
    chroma: tuple[float, float] = (0.0, 1.0)
    jpeg: int = 0


def _filmic(x: np.ndarray) -> np.ndarray:
    """An S-curve of the kind cameras' picture styles use: a highlight shoulder in linear light
    (Reinhard's u / (1 + u) at an exposure of FILMIC_SHOULDER, renormalised to end at 1), the sRGB
    curve, then a contrast S in the encoded domain (a blend towards smoothstep: deeper toe)."""
    k = FILMIC_SHOULDER
    y = linear_to_srgb(x * (1 + k) / (1 + k * x))
    return y + FILMIC_CONTRAST * (y * y * (3 - 2 * y) - y)


def tone_curve(signal: np.ndarray, camera: CameraParams) -> np.ndarray:
    """The camera's response: linear signal in [0, 1] -> encoded value in [0, 1]; monotone, 0 -> 0, 1 -> 1."""
    x = np.clip(signal, 0.0, 1.0)
    if camera.response == "gamma":
        y = np.power(x, 1.0 / camera.gamma)
    elif camera.response == "srgb":
        y = linear_to_srgb(x)
    elif camera.response == "filmic":
        y = _filmic(x)
    else:
        raise ValueError(f"unknown response {camera.response!r}; expected one of {', '.join(TONE_CURVES)}")
    # d/dy of the perturbation is 1 + sum a_k cos(k pi y) > 0 while sum |a_k| < 1: still monotone.
    for k, a in enumerate(camera.warp, start=1):
        y = y + a * np.sin(k * math.pi * y) / (k * math.pi)
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def draw_camera(rng: np.random.Generator, gamma: float = NTIRE_GAMMA, gamma_jitter: float = 0.1) -> CameraParams:
    """A random realistic camera; every parameter drawn from `rng` in a fixed order."""
    response = TONE_CURVES[int(rng.choice(len(TONE_CURVES), p=RESPONSE_ODDS))]
    g = gamma + float(rng.uniform(-gamma_jitter, gamma_jitter))
    warp = tuple(float(a) for a in rng.uniform(-WARP_AMPLITUDE, WARP_AMPLITUDE, 2))
    clip = (1.0, 1.0, 1.0)
    if rng.random() < CHANNEL_CLIP_PROB:
        red, blue = rng.uniform(*CHANNEL_CLIP, 2)
        clip = (float(red), 1.0, float(blue))
    chroma = (0.0, 1.0)
    if rng.random() < CHROMA_PROB:
        chroma = (float(rng.uniform(*CHROMA_GAIN)), float(rng.uniform(*CHROMA_BLUR)))
    jpeg = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)) if rng.random() < JPEG_PROB else 0
    return CameraParams(response, g, warp, clip, chroma, jpeg)  # type: ignore[arg-type]


def _noisy(value: np.ndarray, noise_params: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Poisson-Gaussian noise: electrons ~ Poisson(value * fullwell) (a normal of the same mean and
    variance above 100 electrons, where the two are indistinguishable) plus Normal(0, read_sigma)."""
    fullwell, read_sigma = noise_params
    value = np.maximum(value, 0.0)
    z = rng.standard_normal(value.shape, dtype=np.float32)
    few = value * fullwell < 100  # exact Poisson here; shot and read noise as one normal elsewhere
    noisy = value + np.sqrt(value / fullwell + read_sigma**2) * z
    noisy[few] = rng.poisson(value[few] * fullwell) / fullwell + z[few] * read_sigma
    return noisy


def capture(
    signal: np.ndarray, gamma: float, noise_params: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """The ``gamma`` camera: linear signal (any shape, 1.0 = saturation) -> 8-bit LDR values k/255, float32.

    ``noise_params = (fullwell, read_sigma)``: in signal units the noise has mean 0 and variance
    ``signal / fullwell + read_sigma**2`` (see :func:`_noisy`); ``fullwell = inf`` means no noise. The
    value is then clipped to [0, 1], mapped through ``ldr = value ** (1 / gamma)`` and rounded to
    ``round(ldr * 255) / 255``.
    """
    value = np.asarray(signal, dtype=np.float64)
    if math.isfinite(noise_params[0]):
        value = _noisy(value, noise_params, rng)
    ldr = np.clip(value, 0.0, 1.0).astype(np.float32) ** np.float32(1.0 / gamma)
    return np.round(ldr * 255) / np.float32(255)


def _chroma_noise(shape: tuple[int, ...], sigma: np.ndarray, blur: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-luminance colour blotches (H, W, 3): blurred white noise of unit variance per channel,
    minus its channel mean (so it moves colour, not brightness: the variance per channel is then 2/3),
    times `sigma` (H, W, 3)."""
    z = rng.standard_normal(shape, dtype=np.float32)
    z = cv2.GaussianBlur(z, (0, 0), blur) * np.float32(2 * math.sqrt(math.pi) * blur)  # back to unit variance
    return (z - z.mean(-1, keepdims=True)) * sigma


def capture_camera(
    signal: np.ndarray, camera: CameraParams, noise_params: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """The ``realistic`` camera: linear signal (H, W, 3), 1.0 = white -> 8-bit LDR values k/255, float32.

    Sensor noise as :func:`capture`; chroma blotches whose sigma is `camera.chroma[0]` times the pixel's
    own noise sigma (so relative to the signal they grow in the shadows); each channel clipped at its
    level `camera.clip` (then at [0, 1]); the tone curve; 8-bit rounding; JPEG at `camera.jpeg`.
    """
    value = np.asarray(signal, dtype=np.float64)
    fullwell, read_sigma = noise_params
    if math.isfinite(fullwell):
        clean = np.maximum(value, 0.0)
        value = _noisy(value, noise_params, rng)
        if camera.chroma[0] > 0:
            sigma = np.sqrt(clean / fullwell + read_sigma**2).astype(np.float32) * np.float32(camera.chroma[0])
            value = value + _chroma_noise(value.shape, sigma, camera.chroma[1], rng)
    value = np.minimum(value, np.asarray(camera.clip, dtype=np.float64))
    codes = np.round(tone_curve(value, camera) * 255).astype(np.uint8)
    if camera.jpeg:
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(codes[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg])
        if not ok:
            raise RuntimeError("OpenCV could not encode a simulated JPEG frame")
        codes = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return codes.astype(np.float32) / np.float32(255)


def draw_exposures(rng: np.random.Generator, ratio_range: tuple[float, float]) -> np.ndarray:
    """(3,) exposure times ``1/r1, 1, r2`` of a camera's bracket: EV steps of 1-3 stops (ratios in
    SMALL_STEPS), both steps equal in SAME_STEP_PROB (auto-bracketing), and in LARGE_STEP_PROB one step
    of more than 3 stops up to ``ratio_range[1]``; every ratio within `ratio_range`."""
    lo, hi = max(ratio_range[0], SMALL_STEPS[0]), min(ratio_range[1], SMALL_STEPS[1])
    r1, r2 = loguniform(rng, lo, max(lo, hi), 2)
    if rng.random() < SAME_STEP_PROB:
        r2 = r1
    if ratio_range[1] > SMALL_STEPS[1] and rng.random() < LARGE_STEP_PROB:
        large = float(loguniform(rng, SMALL_STEPS[1], ratio_range[1]))
        r1, r2 = (large, r2) if rng.random() < 0.5 else (r1, large)
    return np.array([1.0 / r1, 1.0, r2])

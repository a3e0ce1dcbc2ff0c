"""The camera's response curve, and re-encoding frames in the network's input convention.

The network expects frames whose values ``v`` in [0, 1] satisfy ``v**gamma`` proportional to
exposure x radiance, with ``gamma`` the checkpoint convention's (:data:`adnet_cli.network.preprocess.GAMMA`:
2.2 for ``kalantari``, 2.24 for ``ntire``). Camera JPEGs are not quite that: they carry the sRGB
curve or a camera-specific tone curve. This module maps frames from such a response to plain gamma:

- ``gamma``: the frames already are plain gamma; they are returned unchanged.
- ``srgb``: the sRGB transfer curve (IEC 61966-2-1) is inverted, then re-encoded with ``gamma``.
- ``calibrate``: the response is estimated from the bracket itself (Debevec & Malik 1997, through
  OpenCV), normalised so code 255 is linear 1.0, made monotonic, inverted, re-encoded with ``gamma``.

In every case a saturated value (1.0) stays 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from adnet_cli.choices import RESPONSES
from adnet_cli.curves import srgb_to_linear
from adnet_cli.errors import InputError

CURVES = tuple(r for r in RESPONSES if r != "auto")  # "auto" picks one of these (bracket.resolve_response)
CALIBRATION_SAMPLES = 200  # Debevec pixel samples; 70 (OpenCV's default) is noticeably noisier
CALIBRATION_LAMBDA = 10.0  # Debevec smoothness weight (OpenCV's default)


@dataclass(frozen=True)
class ResponseResult:
    """Frames re-encoded in the network's convention.

    frames: (N, H, W, 3) float32 in [0, 1]; ``frames**gamma`` is proportional to exposure x radiance.
    description: one line naming the curve used, e.g. "response: sRGB curve inverted".
    curve: (256, 3) float32 in [0, 1], the linear value of each 8-bit code per RGB channel
        (code 255 -> 1.0, non-decreasing) for ``calibrate``; None otherwise.
    """

    frames: np.ndarray
    description: str
    curve: np.ndarray | None = None


def linear_to_network(linear: np.ndarray, gamma: float) -> np.ndarray:
    """Linear RGB (1.0 = sensor white / saturation) -> the network's gamma-encoded input.

    linear: (H, W, 3) (or any shape) real, >= 0; values above 1 are clipped (saturated), NaN -> 0.
    Returns float32 in [0, 1]: ``clip(linear, 0, 1) ** (1 / gamma)``.
    """
    clean = np.nan_to_num(np.asarray(linear, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(clean, 0.0, 1.0) ** np.float32(1.0 / gamma)).astype(np.float32)


def calibrate_response(frames: np.ndarray, exposures: Sequence[float]) -> np.ndarray:
    """Estimate the camera response from a bracket (Debevec, on 8-bit versions of the frames).

    frames: (N, H, W, 3) float in [0, 1], N >= 2, a static scene at ``exposures`` (any unit,
    only ratios matter, all different). Returns (256, 3) float32: the linear value of each
    code per channel, non-decreasing (a running maximum removes calibration noise), 255 -> 1.0.
    Raises InputError when the exposures cannot constrain a curve (fewer than two distinct).
    """
    times = np.asarray(exposures, dtype=np.float32)
    if len(set(times.tolist())) < 2 or not np.all(times > 0):
        raise InputError("calibrating the camera response needs frames of at least two different exposures")
    codes = [np.round(np.clip(f, 0.0, 1.0) * 255).astype(np.uint8) for f in frames]
    calibrate = cv2.createCalibrateDebevec(CALIBRATION_SAMPLES, CALIBRATION_LAMBDA, False)
    curve = calibrate.process(codes, times)[:, 0, :].astype(np.float64)  # (256, 3), arbitrary scale
    curve = np.maximum.accumulate(np.maximum(curve, 0.0), axis=0)
    return (curve / curve[-1]).astype(np.float32)


def apply_curve(frames: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Linearise frames through a per-channel 256-entry curve.

    frames: (..., 3) float in [0, 1] (8-bit, 16-bit or float sources: values between codes
    are interpolated linearly). curve: (256, 3) as from :func:`calibrate_response`.
    Returns float32 of the frames' shape, in [0, 1].
    """
    codes = np.arange(256, dtype=np.float32)
    scaled = np.clip(frames, 0.0, 1.0).astype(np.float32) * 255
    out = np.empty(scaled.shape, np.float32)
    for c in range(3):
        out[..., c] = np.interp(scaled[..., c], codes, curve[:, c])
    return out


def to_network_frames(
    frames: np.ndarray, exposures: Sequence[float], response: str, gamma: float, curve_frames: np.ndarray | None = None
) -> ResponseResult:
    """Re-encode a bracket from the camera's response to the network's plain-gamma convention.

    frames: (N, H, W, 3) float32 in [0, 1] as decoded (code / 255 or / 65535); not modified.
    exposures: N exposure times, same order (used only by ``calibrate``).
    response: one of :data:`CURVES` (see the module docstring).
    gamma: the checkpoint's input gamma (``adnet_cli.network.preprocess.GAMMA[convention]``).
    curve_frames: for ``calibrate``, the frames to estimate the curve from (the same bracket registered
        and cut to what every frame covers: calibration assumes a static scene); default `frames`.
    Returns a :class:`ResponseResult`. Raises ValueError for an unknown response or mismatched
    shapes, InputError when ``calibrate`` cannot work from these exposures.
    """
    if response not in CURVES:
        raise ValueError(f"unknown response {response!r}; expected one of {', '.join(CURVES)} (auto is resolved first)")
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(exposures) != frames.shape[0]:
        raise ValueError(f"expected (N, H, W, 3) frames and N exposures, got {frames.shape}, {len(exposures)}")
    if response == "gamma":
        return ResponseResult(frames, f"response: plain gamma {gamma:g} (frames used as decoded)")
    if response == "srgb":
        encoded = linear_to_network(srgb_to_linear(frames), gamma)
        return ResponseResult(encoded, f"response: sRGB curve inverted, re-encoded with gamma {gamma:g}")
    curve = calibrate_response(frames if curve_frames is None else curve_frames, exposures)
    encoded = linear_to_network(apply_curve(frames, curve), gamma)
    description = (
        f"response: calibrated from the bracket (Debevec, {CALIBRATION_SAMPLES} samples), "
        f"re-encoded with gamma {gamma:g}"
    )
    return ResponseResult(encoded, description, curve)

"""Tests for adnet_cli.merge.response: camera response curves -> the network's plain-gamma input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adnet_cli.errors import InputError
from adnet_cli.merge.response import (
    CURVES,
    RESPONSES,
    apply_curve,
    calibrate_response,
    linear_to_network,
    srgb_to_linear,
    to_network_frames,
)

GAMMA = 2.2
TIMES = (0.25, 1.0, 4.0)


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Reference sRGB encoding (IEC 61966-2-1), float64."""
    x = np.clip(linear, 0, 1).astype(np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _s_curve(linear: np.ndarray) -> np.ndarray:
    """A camera-like tone curve that is not a power law: gamma 2.2 blended with a contrast S."""
    g = np.clip(linear, 0, 1).astype(np.float64) ** (1 / 2.2)
    return 0.5 * g + 0.5 * (3 * g**2 - 2 * g**3)


def _scene(size: int = 128, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 linear radiance, smooth log-normal patches plus ripples, ~1e-3 .. ~5."""
    rng = np.random.default_rng(seed)
    patches = np.exp(rng.normal(-1.5, 1.2, (size // 8, size // 8, 3))).astype(np.float32)
    radiance = cv2.resize(patches, (size, size), interpolation=cv2.INTER_CUBIC).clip(1e-4)
    ripples = 1 + 0.3 * np.sin(np.arange(size, dtype=np.float32) / 5)
    return radiance * ripples[None, :, None]


def _bracket(curve, scene: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-bit frames through ``curve`` at TIMES, and the true linear exposure x radiance."""
    linear = np.stack([np.clip(scene * t, 0, 1) for t in TIMES]).astype(np.float32)
    frames = np.round(curve(linear) * 255).astype(np.float32) / 255
    return frames, linear


def test_responses_listed() -> None:
    assert RESPONSES == ("auto", "gamma", "srgb", "calibrate") and CURVES == RESPONSES[1:]


def test_gamma_is_identity() -> None:
    frames = np.random.default_rng(1).random((3, 8, 9, 3), dtype=np.float32)
    before = frames.copy()
    result = to_network_frames(frames, TIMES, "gamma", GAMMA)
    np.testing.assert_array_equal(result.frames, before)
    np.testing.assert_array_equal(frames, before)
    assert "gamma 2.2" in result.description and result.curve is None


def test_srgb_roundtrip_on_linear_ramp() -> None:
    ramp = np.linspace(0, 1, 4096, dtype=np.float64)
    np.testing.assert_allclose(srgb_to_linear(_srgb_encode(ramp)), ramp, atol=2e-6)
    frames = np.broadcast_to(_srgb_encode(ramp).astype(np.float32)[None, None, :, None], (3, 1, 4096, 3))
    result = to_network_frames(np.ascontiguousarray(frames), TIMES, "srgb", 2.24)
    np.testing.assert_allclose(result.frames[0, 0, :, 1], ramp ** (1 / 2.24), atol=2e-5)
    assert result.frames.dtype == np.float32 and "sRGB" in result.description
    assert result.frames.max() == 1.0  # saturation stays saturated


def test_linear_to_network_clips_and_encodes() -> None:
    linear = np.array([[[0.0, 0.25, 1.0], [2.0, -1.0, np.nan]]], np.float32)
    got = linear_to_network(linear, 2.0)
    np.testing.assert_allclose(got, [[[0.0, 0.5, 1.0], [1.0, 0.0, 0.0]]], atol=1e-7)
    assert got.dtype == np.float32


@pytest.mark.parametrize("curve", [_srgb_encode, _s_curve], ids=["srgb", "s-curve"])
def test_calibrate_recovers_tone_curve(curve) -> None:
    frames, linear = _bracket(curve, _scene())
    result = to_network_frames(frames, TIMES, "calibrate", GAMMA)
    truth = linear ** (1 / GAMMA)
    mid = (frames > 40 / 255) & (frames < 215 / 255)
    assert mid.mean() > 0.3  # the scene exercises the mid-tones in every frame
    err = np.abs(result.frames - truth)[mid] * 255
    assert err.max() < 4.0, err.max()  # within a few code values everywhere in the mid-tones
    assert np.median(err) < 1.5
    assert "calibrated from the bracket (Debevec" in result.description
    assert result.frames[frames == 1.0].min() == 1.0  # saturated pixels stay at 1
    assert result.curve.shape == (256, 3) and result.curve[255].tolist() == [1.0, 1.0, 1.0]
    assert np.all(np.diff(result.curve, axis=0) >= 0)


def test_calibrate_curve_is_monotonic_and_interpolated_for_16bit() -> None:
    frames, _ = _bracket(_srgb_encode, _scene(seed=3))
    curve = calibrate_response(frames, TIMES)
    assert np.all(np.diff(curve, axis=0) >= 0)
    halfway = (np.array([100.5, 100.5, 100.5], np.float32) / 255)[None, None, :]
    np.testing.assert_allclose(apply_curve(halfway, curve)[0, 0], (curve[100] + curve[101]) / 2, rtol=1e-5)


def test_calibrate_needs_distinct_exposures() -> None:
    frames, _ = _bracket(_srgb_encode, _scene(64))
    with pytest.raises(InputError, match="different exposures"):
        to_network_frames(frames, (1.0, 1.0, 1.0), "calibrate", GAMMA)


def test_unknown_response_and_bad_shapes() -> None:
    frames = np.zeros((3, 4, 4, 3), np.float32)
    for unknown in ("log", "auto"):  # auto is resolved from the files before this
        with pytest.raises(ValueError, match="unknown response"):
            to_network_frames(frames, TIMES, unknown, GAMMA)
    with pytest.raises(ValueError, match="N exposures"):
        to_network_frames(frames, TIMES[:2], "srgb", GAMMA)

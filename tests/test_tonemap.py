"""Tests for adnet_cli.tonemap: mu-law, percentile normalisation, 8-bit previews."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adnet_cli.tonemap import MU, mu_law, normalise, preview


def test_mu_law_hand_computed_values() -> None:
    out = mu_law(np.array([0.0, 1.0, 0.01, 0.5]))
    assert out.dtype == np.float32
    assert out[0] == 0.0
    assert out[1] == 1.0
    assert out[2] == pytest.approx(math.log(51.0) / math.log(5001.0), rel=1e-6)
    assert out[3] == pytest.approx(math.log(2501.0) / math.log(5001.0), rel=1e-6)
    assert MU == 5000.0


def test_mu_law_other_mu() -> None:
    assert mu_law(np.array([0.5]), mu=1.0)[0] == pytest.approx(math.log(1.5) / math.log(2.0))


def test_mu_law_clips_input_to_unit_range() -> None:
    out = mu_law(np.array([-3.0, 7.0, np.nan, np.inf, -np.inf]))
    np.testing.assert_array_equal(out, [0.0, 1.0, 0.0, 1.0, 0.0])


def test_mu_law_is_strictly_monotone_and_keeps_shape() -> None:
    out = mu_law(np.linspace(0.0, 1.0, 1001, dtype=np.float32))
    assert np.all(np.diff(out) > 0)
    x = np.linspace(0.0, 1.0, 60, dtype=np.float32).reshape(4, 5, 3)
    assert mu_law(x).shape == (4, 5, 3)


def test_mu_law_rejects_bad_mu() -> None:
    with pytest.raises(ValueError):
        mu_law(np.zeros(3), mu=0.0)


def _ramp_image() -> np.ndarray:
    """101 pixels whose max channel is 0, 1, ..., 100 (the max sits in varying channels)."""
    img = np.zeros((1, 101, 3), np.float32)
    values = np.arange(101, dtype=np.float32)
    img[0, np.arange(101), np.arange(101) % 3] = values
    img[0, :, 0] = np.maximum(img[0, :, 0], values * 0.25)  # a dimmer second channel
    return img


def test_normalise_divides_by_the_99th_percentile_of_max_channel() -> None:
    img = _ramp_image()
    out = normalise(img)
    assert out.dtype == np.float32 and out.shape == img.shape
    # 99th percentile of 0..100 is exactly 99.
    np.testing.assert_allclose(out, img / 99.0, rtol=1e-6)
    assert out.max(axis=-1)[0, 99] == 1.0


def test_normalise_respects_percentile_argument() -> None:
    img = _ramp_image()
    np.testing.assert_allclose(normalise(img, percentile=50.0), img / 50.0, rtol=1e-6)
    np.testing.assert_allclose(normalise(img, percentile=100.0), img / 100.0, rtol=1e-6)


def test_normalise_does_not_modify_input() -> None:
    img = _ramp_image()
    img[0, 0, 0] = np.nan
    before = img.copy()
    normalise(img)
    np.testing.assert_array_equal(img, before)


def test_normalise_all_zero_gives_zeros() -> None:
    out = normalise(np.zeros((4, 5, 3), np.float32))
    assert out.dtype == np.float32
    assert np.all(out == 0.0)


def test_normalise_falls_back_to_max_when_percentile_is_zero() -> None:
    img = np.zeros((20, 10, 3), np.float32)
    img[0, 0] = [2.0, 4.0, 1.0]  # 1 bright pixel out of 200: the 99th percentile is 0
    out = normalise(img)
    np.testing.assert_allclose(out[0, 0], [0.5, 1.0, 0.25])
    assert np.all(out[1:] == 0.0)


def test_normalise_sanitises_nan_inf_and_negatives() -> None:
    img = np.ones((1, 6, 3), np.float32) * 2.0
    img[0, 0, 0] = np.nan
    img[0, 1, 1] = np.inf
    img[0, 2, 2] = -np.inf
    img[0, 3, 0] = -5.0
    img[0, 5] = 2.0
    out = normalise(img)  # pixels 0..2 have a non-finite channel and are ignored
    assert np.all(np.isfinite(out)) and np.all(out >= 0.0)
    assert out[0, 0, 0] == 0.0 and out[0, 1, 1] == 0.0 and out[0, 2, 2] == 0.0
    assert out[0, 3, 0] == 0.0
    # The scale comes from the finite pixels 3..5 (max channel 2), so 2 maps to 1; an inf
    # counted as a finite "brightest pixel" would have made the scale inf and all zeros.
    np.testing.assert_array_equal(out[0, 4], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(out[0, 0, 1:], [1.0, 1.0])


def test_normalise_statistic_ignores_non_finite_pixels() -> None:
    img = np.array([[[1, 0, 0], [0, 2, 0], [0, 0, 3], [np.nan, 0.5, 0.5], [0.5, np.inf, 0]]])
    # Median of the finite pixels' max channel (1, 2, 3) is 2; counting the two non-finite
    # pixels as 0.5 would give 1.
    out = normalise(img.astype(np.float32), percentile=50.0)
    np.testing.assert_allclose(out[0, :3].max(axis=-1), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(out[0, 3:], [[0.0, 0.25, 0.25], [0.25, 0.0, 0.0]])


def test_normalise_only_non_finite_gives_zeros() -> None:
    img = np.full((2, 2, 3), np.nan, np.float32)
    assert np.all(normalise(img) == 0.0)


def test_preview_dtype_shape_and_percentile_pixel_is_white() -> None:
    rng = np.random.default_rng(0)
    hdr = rng.uniform(0.0, 1.0, (20, 10, 3)).astype(np.float32) * 50.0
    # Pin the 99th percentile on a pixel: 200 pixels, linear interpolation at rank 197.01,
    # so make ranks 197 and 198 (0-based) equal.
    brightness = hdr.max(axis=-1).ravel()
    order = np.argsort(brightness)
    p_index = np.unravel_index(order[197], hdr.shape[:2])
    q_index = np.unravel_index(order[198], hdr.shape[:2])
    hdr[q_index] = hdr[p_index]
    out = preview(hdr)
    assert out.dtype == np.uint8 and out.shape == hdr.shape
    assert out[p_index].max() == 255
    dim = np.unravel_index(order[100], hdr.shape[:2])
    expected = np.rint(255 * mu_law(hdr[dim] / hdr[p_index].max()))
    np.testing.assert_array_equal(out[dim], expected)
    assert out[dim].max() < 255


def test_preview_clips_brighter_pixels_and_blacks_out_bad_values() -> None:
    hdr = np.ones((1, 200, 3), np.float32)
    hdr[0, 0] = 1000.0
    hdr[0, 1] = [np.nan, -1.0, np.inf]
    out = preview(hdr)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 2], [255, 255, 255])


def test_preview_of_black_image_is_black() -> None:
    assert np.all(preview(np.zeros((3, 4, 3), np.float32)) == 0)

"""Tests for adnet_cli.formats.tonemap: mu-law, percentile normalisation, previews, tonemap() and quantise()."""

from __future__ import annotations

import math

import numpy as np
import pytest

import adnet_cli.formats.tonemap as tm
from adnet_cli.formats.tonemap import (
    MU,
    OPERATORS,
    count_bad_pixels,
    mu_law,
    normalise,
    preview,
    quantise,
    repair_and_normalise,
    tonemap,
)


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
    out = preview(hdr, mu=5000.0)  # the paper's curve (a uniform image is bright: the default adapts)
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


# ----------------------------------------------------------------------------- tonemap()


def _scene() -> np.ndarray:
    """(16, 24, 3) float32: brightness rising left to right over 1e-3 .. 50, coloured by row."""
    ramp = np.geomspace(1e-3, 50.0, 24, dtype=np.float32)
    tint = np.stack([np.linspace(0.4, 1.0, 16), np.full(16, 0.8), np.linspace(1.0, 0.4, 16)], -1)
    return (ramp[None, :, None] * tint[:, None, :]).astype(np.float32)


def test_mu_tonemap_quantised_is_the_preview() -> None:
    hdr = _scene()
    tone, bad = tonemap(hdr)
    assert tone.dtype == np.float32 and tone.shape == hdr.shape and bad == 0
    np.testing.assert_array_equal(quantise(tone), preview(hdr))


def test_quantise_bit_depths() -> None:
    tone = np.array([[[0.0, 0.5, 1.0], [-1.0, 2.0, np.nan]]], np.float32)
    np.testing.assert_array_equal(quantise(tone, 8), [[[0, 128, 255], [0, 255, 0]]])
    out16 = quantise(tone, 16)
    assert out16.dtype == np.uint16
    np.testing.assert_array_equal(out16, [[[0, 32768, 65535], [0, 65535, 0]]])
    with pytest.raises(ValueError):
        quantise(tone, 12)


def test_repair_and_normalise_sends_inf_to_the_brightest_value() -> None:
    hdr = np.ones((1, 200, 3), np.float32)
    hdr[0, 0] = 4.0  # brightest finite pixel, above the 99th percentile (1)
    hdr[0, 1] = [np.inf, 1.0, 1.0]
    hdr[0, 2] = [np.nan, -np.inf, -2.0]
    linear, bad = repair_and_normalise(hdr)
    assert bad == 2 and count_bad_pixels(hdr) == 2
    np.testing.assert_array_equal(linear[0, 1], [4.0, 1.0, 1.0])
    np.testing.assert_array_equal(linear[0, 2], [0.0, 0.0, 0.0])
    only_inf, _ = repair_and_normalise(np.array([[[np.inf, 0.0, 0.0]]], np.float32))
    np.testing.assert_array_equal(only_inf, [[[1.0, 0.0, 0.0]]])  # nothing finite is positive: 1


@pytest.mark.parametrize("operator", ["reinhard", "drago", "mantiuk"])
def test_black_pixels_do_not_dim_the_opencv_operators(operator: str) -> None:
    clean = _scene()
    holes = clean.copy()
    holes[0, 0] = 0.0
    holes[5:7] = 0.0  # two black rows
    reference, _ = tonemap(clean, operator)
    tone, bad = tonemap(holes, operator)
    assert bad == 0 and np.all(np.isfinite(tone))
    assert tone.max() == pytest.approx(1.0, abs=1e-6)  # OpenCV alone leaves this near 0.1-0.3
    np.testing.assert_array_equal(tone[5:7], 0.0)
    keep = np.ones(16, bool)
    keep[[0, 5, 6]] = False
    assert np.abs(tone[keep] - reference[keep]).mean() < 0.05


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize(
    "fill", [0.0, 3.0, (1.0, 0.2, 0.1), np.nan, np.inf], ids=["black", "grey", "colour", "nan", "inf"]
)
def test_flat_images_do_not_crash(operator: str, fill: object) -> None:
    hdr = np.empty((6, 7, 3), np.float32)
    hdr[...] = fill
    tone, bad = tonemap(hdr, operator)
    assert tone.shape == (6, 7, 3) and np.all(np.isfinite(tone))
    assert np.all((tone >= 0.0) & (tone <= 1.0))
    assert bad == (42 if fill is np.nan or fill is np.inf else 0)
    expected_max = 0.0 if fill in (0.0,) or fill is np.nan else 1.0
    assert tone.max() == pytest.approx(expected_max)


@pytest.mark.parametrize("operator", OPERATORS)
def test_exposure_and_gamma(operator: str) -> None:
    hdr = _scene()
    base = tonemap(hdr, operator)[0].mean()
    assert tonemap(hdr, operator, exposure=1.0)[0].mean() > base + 0.02
    assert tonemap(hdr, operator, exposure=-1.0)[0].mean() < base - 0.02
    assert tonemap(hdr, operator, gamma=4.0)[0].mean() > base + 0.02


def test_tonemap_rejects_bad_arguments() -> None:
    hdr = _scene()
    for kwargs in ({"operator": "aces"}, {"gamma": 0.0}, {"gamma": -1.0}, {"exposure": np.inf}):
        with pytest.raises(ValueError):
            tonemap(hdr, **kwargs)
    with pytest.raises(ValueError):
        tonemap(hdr[:, :, :2])


def test_preview_in_row_blocks_equals_one_block(monkeypatch):
    """preview() and white_level() stream row blocks; the block size must not change a pixel."""
    rng = np.random.default_rng(7)
    hdr = (rng.lognormal(0.0, 2.0, (37, 11, 3))).astype(np.float32)
    hdr[3, 4] = [np.nan, 1.0, 2.0]
    hdr[20, 1] = [np.inf, 0.5, 0.5]
    hdr[30, 9] = [-1.0, 0.2, 0.1]
    whole = tm.preview(hdr)
    level = tm.white_level(hdr)
    monkeypatch.setattr(tm, "ROWS_PER_BLOCK", 4)
    assert np.array_equal(tm.preview(hdr), whole)
    assert tm.white_level(hdr) == level
    assert np.array_equal(tm.preview(hdr), np.rint(255 * tm.mu_law(tm.normalise(hdr), tm.preview_mu(hdr))).astype(np.uint8))


def test_a_bright_scene_is_not_washed_out_and_an_ordinary_one_keeps_the_papers_curve() -> None:
    """Half the frame a sky within a stop of the white level, the rest a dim landscape: with mu = 5000
    the sky and even the landscape crowd the top codes; the preview shows the median at 0.8."""
    rng = np.random.default_rng(3)
    sky = rng.uniform(0.5, 1.0, (32, 64, 1)) * np.array([0.8, 0.9, 1.0])
    land = rng.lognormal(np.log(0.05), 0.7, (32, 64, 1)) * np.array([1.0, 0.9, 0.7])
    bright = np.concatenate([sky, land]).astype(np.float32)
    fixed, shown = preview(bright, mu=5000.0), preview(bright)
    assert np.median(fixed.max(axis=-1)) >= 230  # washed out
    median_code = np.median(shown.max(axis=-1))
    assert 190 <= median_code <= 215  # about 0.8 of white
    top = shown[:32].max(axis=-1).astype(np.float64)  # more of the sky's range shows
    assert top.std() > 1.5 * fixed[:32].max(axis=-1).astype(np.float64).std()
    assert tm.preview_mu(bright) < 1000
    ordinary = rng.lognormal(np.log(0.02), 1.0, (64, 64, 3)).astype(np.float32)
    assert tm.preview_mu(ordinary) == tm.MU and np.array_equal(preview(ordinary), preview(ordinary, mu=tm.MU))
    tone, _ = tm.tonemap(bright)  # adnet tonemap follows the same rule
    np.testing.assert_array_equal(tm.quantise(tone), shown)

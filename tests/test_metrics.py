"""Tests for adnet_cli.evaluation.metrics against values worked out by hand on tiny arrays."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import adnet_cli.evaluation.metrics as metrics_module
from adnet_cli.evaluation.metrics import (
    METRICS,
    psnr,
    psnr_l,
    psnr_l_ntire,
    psnr_mu,
    psnr_mu_ntire,
    ssim,
    ssim_l,
    ssim_mu,
)

LOG5001 = math.log(5001.0)


def T(x: float) -> float:
    """mu-law by hand, mu = 5000."""
    return math.log(1.0 + 5000.0 * x) / LOG5001


# ---------------------------------------------------------------- PSNR (Kalantari)

def test_psnr_one_pixel_off_by_a_tenth() -> None:
    target = np.array([[0.2, 0.4], [0.6, 0.8]])
    pred = target.copy()
    pred[1, 0] += 0.1
    # mse = 0.1**2 / 4 = 0.0025 -> 10 log10(1 / 0.0025) = 10 log10(400) = 26.0206 dB
    assert psnr(pred, target) == pytest.approx(26.0205999, abs=1e-6)
    # peak 2: 10 log10(4 / 0.0025) = 10 log10(1600) = 32.0412 dB
    assert psnr(pred, target, peak=2.0) == pytest.approx(32.0411998, abs=1e-6)


def test_psnr_identical_is_inf() -> None:
    x = np.random.default_rng(0).random((4, 5, 3))
    assert psnr(x, x.copy()) == math.inf
    assert psnr_l(x, x.copy()) == math.inf
    assert psnr_mu(x, x.copy()) == math.inf
    assert psnr_l_ntire(x, x.copy()) == math.inf
    assert psnr_mu_ntire(x, x.copy()) == math.inf


def test_psnr_l_clips_to_unit_range() -> None:
    target = np.array([[1.0, 0.5], [0.3, 0.0]])
    pred = np.array([[1.7, 0.5], [0.2, -0.3]])
    # after clip: pred = [[1, .5], [.2, 0]] -> only (1, 0) differs, by 0.1 -> mse 0.0025 -> 26.0206 dB
    assert psnr_l(pred, target) == pytest.approx(26.0205999, abs=1e-6)
    # without the clip: mse = (0.49 + 0.01 + 0.09) / 4 = 0.1475 -> 8.3125 dB
    assert psnr(pred, target) == pytest.approx(10 * math.log10(1 / 0.1475), abs=1e-9)
    assert psnr_l(np.full((2, 2), 5.0), np.ones((2, 2))) == math.inf


def test_psnr_mu_hand_value() -> None:
    target = np.zeros((2, 2))
    pred = target.copy()
    pred[0, 1] = 0.01
    # T(0.01) = log(1 + 50) / log(5001) = 0.461623..; T(0) = 0
    # mse = T(0.01)**2 / 4 -> PSNR = 10 log10(4 / T(0.01)**2) = 12.7348 dB
    t = math.log(51.0) / LOG5001
    assert t == pytest.approx(0.4616231, abs=1e-7)
    expected = 10 * math.log10(4 / t**2)
    assert psnr_mu(pred, target) == pytest.approx(expected, abs=1e-5)
    assert expected == pytest.approx(12.7348, abs=1e-4)
    # values above 1 clip to T(1) = 1
    assert psnr_mu(np.full((2, 2), 3.0), np.ones((2, 2))) == math.inf


# ---------------------------------------------------------------- NTIRE PSNR-L

def test_psnr_l_ntire_normalises_by_reference_max() -> None:
    target = np.array([[0.5, 0.25], [0.25, 0.25]])
    pred = np.array([[0.5, 0.25], [0.25, 0.30]])
    # m = max(target) = 0.5; normalised error 0.05 / 0.5 = 0.1 at one of 4 pixels
    # mse = 0.01 / 4 = 0.0025 -> 26.0206 dB
    assert psnr_l_ntire(pred, target) == pytest.approx(26.0205999, abs=1e-6)
    # scale invariant: both images times 7 -> same value
    assert psnr_l_ntire(7 * pred, 7 * target) == pytest.approx(26.0205999, abs=1e-6)


def test_psnr_l_ntire_uses_target_max_not_prediction_and_does_not_clip() -> None:
    target = np.array([[0.5, 0.25], [0.25, 0.25]])
    pred = np.array([[1.0, 0.25], [0.25, 0.25]])  # prediction max 1.0, reference max 0.5
    # by reference max 0.5: pred -> 2.0 (not clipped), target -> 1.0; error 1.0 at 1 of 4 pixels
    # mse = 1 / 4 -> 10 log10(4) = 6.0206 dB
    assert psnr_l_ntire(pred, target) == pytest.approx(6.0205999, abs=1e-6)
    # (by the prediction's max 1.0 it would be error 0.5 -> mse 0.0625 -> 12.0412 dB;
    #  clipping pred/m to 1 would give inf)
    # swapping the roles changes the normaliser to 1.0 -> 12.0412 dB
    assert psnr_l_ntire(target, pred) == pytest.approx(12.0411998, abs=1e-6)


def test_psnr_l_ntire_rejects_black_reference() -> None:
    with pytest.raises(ValueError):
        psnr_l_ntire(np.ones((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        psnr_l_ntire(np.ones((2, 2)), np.ones((2, 3)))


# ---------------------------------------------------------------- NTIRE PSNR-mu

def _gamma(linear: np.ndarray) -> np.ndarray:
    return np.asarray(linear, np.float64) ** (1 / 2.24)


def test_psnr_mu_ntire_uses_reference_percentile() -> None:
    # Reference: linear 0.5 everywhere (300 values) -> 99th percentile n = 0.5.
    # Prediction: equal except 10 pixels (30 values = 10 %) at linear 4.0, so the
    # prediction's own 99th percentile would be 4.0.
    lin_t = np.full((10, 10, 3), 0.5)
    lin_p = lin_t.copy()
    lin_p[0, :] = 4.0
    # With n = 0.5 (reference): bright pixels T(tanh(8)) vs T(tanh(1)), others equal.
    # mse = 30 / 300 * (T(tanh 8) - T(tanh 1))**2
    d = T(math.tanh(8.0)) - T(math.tanh(1.0))  # = 0.99999997 - 0.96803.. = 0.0319..
    expected = 10 * math.log10(1 / (0.1 * d * d))
    assert expected == pytest.approx(39.9, abs=0.1)
    got = psnr_mu_ntire(_gamma(lin_p), _gamma(lin_t))
    assert got == pytest.approx(expected, rel=1e-9)
    # Had n been the prediction's percentile (4.0): mse = 0.1 * (T(tanh 1) - T(tanh 1/8))**2
    wrong = 10 * math.log10(1 / (0.1 * (T(math.tanh(1.0)) - T(math.tanh(0.125))) ** 2))
    assert abs(got - wrong) > 10
    # Making the prediction's bright pixels brighter (its percentile 4 -> 40) keeps n = 0.5:
    # the only change is tanh(80) instead of tanh(8) (both ~1), computed by hand again.
    lin_p[0, :] = 40.0
    d2 = T(math.tanh(80.0)) - T(math.tanh(1.0))
    assert psnr_mu_ntire(_gamma(lin_p), _gamma(lin_t)) == pytest.approx(
        10 * math.log10(1 / (0.1 * d2 * d2)), rel=1e-9)


def test_psnr_mu_ntire_swapped_roles_use_the_other_normaliser() -> None:
    # Reference = the image with 10 % of values at 4.0 -> its 99th percentile n = 4.0.
    lin_ref = np.full((10, 10, 3), 0.5)
    lin_ref[0, :] = 4.0
    lin_res = np.full((10, 10, 3), 0.5)
    # bright pixels: T(tanh(4/4)) vs T(tanh(0.5/4)); mse = 0.1 * (T(tanh 1) - T(tanh 0.125))**2
    d = T(math.tanh(1.0)) - T(math.tanh(0.125))
    assert psnr_mu_ntire(_gamma(lin_res), _gamma(lin_ref)) == pytest.approx(
        10 * math.log10(1 / (0.1 * d * d)), rel=1e-9)


def test_psnr_mu_ntire_percentile_interpolates_like_numpy() -> None:
    # Linear reference [0.1, 0.2, 0.4, 0.8]; the 50th percentile interpolates 0.2 and 0.4 -> 0.3.
    lin_t = np.array([[0.1, 0.2], [0.4, 0.8]])
    lin_p = np.array([[0.1, 0.2], [0.4, 0.6]])
    # only the last pixel differs: tanh(0.6 / 0.3) = tanh 2 vs tanh(0.8 / 0.3) = tanh(8/3)
    # mse = (T(tanh 2) - T(tanh 8/3))**2 / 4
    d = T(math.tanh(2.0)) - T(math.tanh(8.0 / 3.0))
    expected = 10 * math.log10(4 / d**2)
    assert psnr_mu_ntire(_gamma(lin_p), _gamma(lin_t), percentile=50) == pytest.approx(expected, rel=1e-9)
    # gamma=1 means the inputs are taken as linear already: same value from the linear arrays
    assert psnr_mu_ntire(lin_p, lin_t, gamma=1.0, percentile=50) == pytest.approx(expected, rel=1e-9)
    # mu is honoured: mu = 10 by hand
    t10 = lambda x: math.log(1 + 10 * x) / math.log(11)  # noqa: E731
    d10 = t10(math.tanh(2.0)) - t10(math.tanh(8.0 / 3.0))
    assert psnr_mu_ntire(lin_p, lin_t, gamma=1.0, percentile=50, mu=10) == pytest.approx(
        10 * math.log10(4 / d10**2), rel=1e-9)


def test_psnr_mu_ntire_clips_negatives_before_the_power() -> None:
    target = _gamma(np.array([[0.0, 0.5], [0.5, 0.5]]))
    pred = target.copy()
    pred[0, 0] = -0.3  # (-0.3) ** 2.24 would be NaN; clipped to 0 it matches the target exactly
    assert psnr_mu_ntire(pred, target) == math.inf


def test_psnr_mu_ntire_rejects_black_reference() -> None:
    with pytest.raises(ValueError):
        psnr_mu_ntire(np.ones((2, 2)), np.zeros((2, 2)))


# ---------------------------------------------------------------- SSIM

C1 = (0.01 * 1.0) ** 2  # 1e-4
C2 = (0.03 * 1.0) ** 2  # 9e-4


def reference_ssim(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    """Straightforward SSIM: explicit 11 x 11 Gaussian window at every valid position."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    i, j = np.mgrid[-5:6, -5:6]
    w = np.exp(-(i**2 + j**2) / (2 * 1.5**2))
    w /= w.sum()
    per_channel = []
    for c in range(x.shape[2]):
        vals = []
        for r in range(x.shape[0] - 10):
            for s in range(x.shape[1] - 10):
                a, b = x[r:r + 11, s:s + 11, c], y[r:r + 11, s:s + 11, c]
                ma, mb = (w * a).sum(), (w * b).sum()
                va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
                cab = (w * (a - ma) * (b - mb)).sum()
                vals.append((2 * ma * mb + c1) * (2 * cab + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
        per_channel.append(np.mean(vals))
    return float(np.mean(per_channel))


def test_ssim_identical_is_one() -> None:
    x = np.random.default_rng(1).random((16, 16, 3))
    assert ssim(x, x.copy()) == pytest.approx(1.0, abs=1e-12)
    assert ssim(x[..., 0], x[..., 0].copy()) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_reduce_to_luminance_term() -> None:
    a = np.full((16, 16, 3), 0.5)
    b = np.full((16, 16, 3), 0.6)
    # all variances/covariances 0 -> contrast-structure term (0 + C2) / (0 + C2) = 1
    # S = (2 * 0.5 * 0.6 + 1e-4) / (0.25 + 0.36 + 1e-4) = 0.6001 / 0.6101 = 0.983609..
    assert ssim(a, b) == pytest.approx(0.6001 / 0.6101, abs=1e-12)
    assert 0.6001 / 0.6101 == pytest.approx(0.9836092, abs=1e-7)
    # data_range 2: C1 = (0.02)**2 = 4e-4 -> 0.6004 / 0.6104
    assert ssim(a, b, data_range=2.0) == pytest.approx(0.6004 / 0.6104, abs=1e-12)
    # 2-D input gives the same
    assert ssim(a[..., 0], b[..., 0]) == pytest.approx(0.6001 / 0.6101, abs=1e-12)


def test_ssim_contrast_change_single_window_by_hand() -> None:
    # 11 x 11 image -> exactly one valid window position. Rows above the centre are
    # 0.5 - A, the centre row 0.5, rows below 0.5 + A. The symmetric Gaussian makes both
    # means exactly 0.5 (luminance term 1), and with g5 = weight of the centre row
    #   g5 = 1 / (1 + 2 (e^-1/4.5 + e^-4/4.5 + e^-9/4.5 + e^-16/4.5 + e^-25/4.5)) = 0.266011..
    # the variance is A**2 (1 - g5). For x with A = 0.1 and y with A = 0.1 k:
    #   s_xx = v = 0.01 (1 - g5), s_yy = k^2 v, s_xy = k v
    #   S = (2 k v + C2) / ((1 + k^2) v + C2)
    g5 = 1 / (1 + 2 * sum(math.exp(-(d * d) / 4.5) for d in range(1, 6)))
    assert g5 == pytest.approx(0.266011, abs=1e-6)
    v = 0.01 * (1 - g5)
    sign = np.sign(np.arange(11) - 5.0)[:, None] * np.ones((1, 11))
    x = 0.5 + 0.1 * sign
    ks = (2.0, 1.0, 0.5)
    y = np.stack([0.5 + 0.1 * k * sign for k in ks], axis=-1)
    xs = np.stack([x] * 3, axis=-1)
    by_hand = [(2 * k * v + C2) / ((1 + k * k) * v + C2) for k in ks]
    # k = 2: (4v + C2) / (5v + C2) = 0.0302596 / 0.0375994 = 0.80479..; k = 1: 1; k = 0.5
    assert by_hand[0] == pytest.approx(0.80479, abs=1e-5)
    assert ssim(xs[..., 0], y[..., 0]) == pytest.approx(by_hand[0], rel=1e-9)
    assert ssim(xs, y) == pytest.approx(sum(by_hand) / 3, rel=1e-9)  # mean over channels
    # the window runs along both axes: the transposed pattern gives the same value
    assert ssim(x.T, y[..., 0].T) == pytest.approx(by_hand[0], rel=1e-9)


def test_ssim_matches_explicit_window_loop_on_noisy_copy() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((14, 18, 3))  # rectangular, to catch swapped axes; 4 x 8 valid positions
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    want = reference_ssim(x, y)
    assert 0.3 < want < 0.99  # a sanity range: noticeably noisy, far from unrelated
    assert ssim(y, x) == pytest.approx(want, abs=1e-12)  # symmetric formula
    assert ssim(x, y) == pytest.approx(want, abs=1e-12)
    assert ssim(x, y, data_range=2.0) == pytest.approx(reference_ssim(x, y, data_range=2.0), abs=1e-12)
    # a constant offset on a textured image, checked against the loop as well
    assert ssim(x, x + 0.2) == pytest.approx(reference_ssim(x, x + 0.2), abs=1e-12)


def test_ssim_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        ssim(np.ones((10, 20, 3)), np.ones((10, 20, 3)))  # smaller than the 11 x 11 window
    with pytest.raises(ValueError):
        ssim(np.ones((16, 16, 3)), np.ones((16, 16, 1)))
    with pytest.raises(ValueError):
        ssim(np.ones((16, 16, 3)), np.ones((16, 16, 3)), data_range=0)


def test_ssim_l_clips_to_unit_range() -> None:
    # pred constant 1.5 -> 1, target constant 0.5: S = (2 * 1 * 0.5 + C1) / (1 + 0.25 + C1)
    assert ssim_l(np.full((12, 12, 3), 1.5), np.full((12, 12, 3), 0.5)) == pytest.approx(
        1.0001 / 1.2501, abs=1e-12)
    rng = np.random.default_rng(3)
    target = rng.random((16, 16, 3))
    target[4:8, 4:8] = 1.0
    pred = target.copy()
    pred[4:8, 4:8] = 3.0  # clips back to the target's 1.0
    assert ssim_l(pred, target) == pytest.approx(1.0, abs=1e-12)
    assert ssim(pred, target) < 0.99


def test_ssim_mu_applies_mu_law() -> None:
    # constant 0.01 vs 0.1: T(0.01) = log 51 / log 5001, T(0.1) = log 501 / log 5001
    ta, tb = T(0.01), T(0.1)
    expected = (2 * ta * tb + C1) / (ta * ta + tb * tb + C1)
    assert ssim_mu(np.full((12, 12, 3), 0.01), np.full((12, 12, 3), 0.1)) == pytest.approx(expected, abs=1e-6)
    # without the curve it would be (2 * 0.001 + C1) / (0.0101 + C1) = 0.2079..
    assert expected > 0.9


# ---------------------------------------------------------------- registry and module

def test_metrics_registry() -> None:
    assert METRICS == {
        "PSNR-l": psnr_l, "PSNR-mu": psnr_mu, "SSIM-l": ssim_l, "SSIM-mu": ssim_mu,
        "NTIRE PSNR-L": psnr_l_ntire, "NTIRE PSNR-mu": psnr_mu_ntire,
    }
    x = np.random.default_rng(4).random((16, 16, 3)) * 0.9 + 0.05
    for name, fn in METRICS.items():
        same = fn(x, x.copy())
        assert isinstance(same, float), name
        if name.startswith("SSIM"):
            assert same == pytest.approx(1.0, abs=1e-12), name
        else:
            assert same == math.inf, name
        assert math.isfinite(fn(x, x * 0.9)), name


def test_module_is_pure_numpy() -> None:
    tree = ast.parse(Path(metrics_module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"__future__", "typing", "numpy", "adnet_cli.curves", "adnet_cli.formats.tonemap"}, imported
    for fn in METRICS.values():
        assert fn.__doc__ and "(H, W" in fn.__doc__

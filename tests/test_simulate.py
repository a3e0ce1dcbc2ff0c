"""The bracket simulator: camera physics, noise statistics, motion, dynamic range, scene sources."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from adnet_cli.training.scene_sources import HdrFolderSource, LdrFolderSource, sources_from_folder
from adnet_cli.training.simulate import Sample, SimulatorConfig, capture, simulate

STATIC = SimulatorConfig(size=64, static_prob=1.0, noise=False, gamma_jitter_prob=1.0)
MOVING = SimulatorConfig(size=96, static_prob=0.0, noise=False)


def quantisation_bound(ldr: np.ndarray, gamma: float) -> np.ndarray:
    """Largest |ldr**gamma - signal| that 8-bit rounding can cause.

    ldr = round(255 v) / 255 with v = signal**(1/gamma), so |ldr - v| <= 0.5/255. By the mean value
    theorem |ldr**g - v**g| = g xi**(g-1) |ldr - v| for some xi between them, and xi <= ldr + 0.5/255.
    A little slack covers float32 rounding.
    """
    return gamma * (ldr + 0.5 / 255) ** (gamma - 1) * (0.5 / 255) * 1.001 + 1e-7


def linear(sample: Sample, frame: int) -> np.ndarray:
    """Frame `frame` taken back through the response: float64 signal, 1.0 = that frame's white."""
    return sample.ldrs[frame].astype(np.float64) ** sample.gamma


def test_static_noise_free_frames_are_the_exposed_hdr_through_the_response():
    saturated = unsaturated = 0
    for seed in range(3):
        s = simulate(seed, STATIC)
        assert s.static and s.ldrs.shape == (3, 64, 64, 3) and s.hdr.shape == (64, 64, 3)
        assert s.ldrs.dtype == np.float32 and s.hdr.dtype == np.float32
        np.testing.assert_array_equal(s.ldrs * 255, np.round(s.ldrs * 255))  # 8-bit values
        for i, t in enumerate(s.exposures):
            signal = s.hdr.astype(np.float64) * t
            ldr = s.ldrs[i]
            ok = ldr < 250 / 255
            error = np.abs(linear(s, i) - signal)[ok]
            assert np.all(error <= quantisation_bound(ldr[ok].astype(np.float64), s.gamma))
            assert np.all(ldr[signal > 1.0] == 1.0)
            saturated += int((signal > 1.0).sum())
            unsaturated += int(ok.sum())
    assert saturated > 1000 and unsaturated > 10000  # both cases were really exercised


def test_capture_flat_fields_have_poisson_gaussian_variance():
    rng = np.random.default_rng(0)
    gamma = 2.24
    # 40 and 90 electrons (drawn exactly from Poisson), then 600 and 1000 (as a normal); read noise
    # dominates the last. Every level is > 5 sigma above 0, so clipping does not bias the moments.
    cases = ((0.02, 2e3, 1e-3), (0.045, 2e3, 1e-3), (0.3, 2e3, 1e-3), (0.05, 2e4, 3e-3))
    for level, fullwell, read_sigma in cases:  # (signal, fullwell, read_sigma)
        ldr = capture(np.full(200_000, level), gamma, (fullwell, read_sigma), rng)
        values = ldr.astype(np.float64) ** gamma
        expected = level / fullwell + read_sigma**2
        quantisation = (gamma * level ** (1 - 1 / gamma) / 255) ** 2 / 12
        assert abs(values.mean() - level) < 0.01 * level
        assert values.var() == pytest.approx(expected + quantisation, rel=0.05)
    clean = capture(np.array([0.0, 0.3, 1.0, 7.0]), gamma, (math.inf, 0.0), rng)
    expected = np.round(np.array([0, 0.3, 1, 1]) ** (1 / gamma) * 255) / 255
    np.testing.assert_array_equal(clean, expected.astype(np.float32))


def test_sample_noise_grows_with_signal_as_documented():
    s = simulate(1, SimulatorConfig(size=128, static_prob=1.0))
    fullwell, read_sigma = s.noise_params
    assert 2000 <= fullwell <= 20000 and 5e-4 <= read_sigma <= 3e-3
    signal = np.stack([s.hdr.astype(np.float64) * t for t in s.exposures])
    residual = np.stack([linear(s, i) for i in range(3)]) - signal
    v = signal ** (1 / s.gamma)
    predicted = signal / fullwell + read_sigma**2 + (s.gamma * v ** (s.gamma - 1) / 255) ** 2 / 12
    variances = []
    for lo, hi in ((0.003, 0.01), (0.3, 0.6)):
        band = (signal > lo) & (signal < hi)
        assert band.sum() > 3000
        assert residual[band].var() == pytest.approx(predicted[band].mean(), rel=0.25)
        variances.append(residual[band].var())
    assert variances[1] > 5 * variances[0]


def test_same_seed_same_sample_and_different_seeds_differ():
    config = SimulatorConfig(size=48)
    a, b, c = simulate(7, config), simulate(7, config), simulate(8, config)
    for name in ("ldrs", "exposures", "hdr"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.gamma, a.static, a.noise_params, a.scene) == (b.gamma, b.static, b.noise_params, b.scene)
    assert not np.array_equal(a.ldrs, c.ldrs) and not np.array_equal(a.hdr, c.hdr)


def test_exposures_gamma_and_static_follow_the_config():
    config = SimulatorConfig(size=32, max_objects=0, noise=False)
    samples = [simulate(seed, config) for seed in range(200)]
    times = np.stack([s.exposures for s in samples])
    ratios = np.concatenate([times[:, 1] / times[:, 0], times[:, 2] / times[:, 1]])
    assert times.dtype == np.float64 and np.all(times[:, 1] == 1.0)
    assert np.all((ratios >= 2.0 - 1e-9) & (ratios <= 8.0 + 1e-9))
    assert abs(np.log(ratios).mean() - np.log(4.0)) < 0.12  # log-uniform: centred on the geometric mean
    gammas = np.array([s.gamma for s in samples])
    assert np.all((gammas >= 2.14 - 1e-9) & (gammas <= 2.34 + 1e-9))
    assert 0.2 <= np.mean(gammas != 2.24) <= 0.4
    assert 0.15 <= np.mean([s.static for s in samples]) <= 0.35
    fixed = simulate(0, SimulatorConfig(size=32, ratio_range=(3.0, 3.0), gamma_jitter_prob=0.0))
    np.testing.assert_allclose(fixed.exposures, [1 / 3, 1, 3])
    assert fixed.gamma == 2.24


def relative_change(s: Sample, frame: int) -> np.ndarray:
    """|frame - medium| / medium after exposure normalisation, where both are well exposed."""
    ok = np.all([(s.ldrs[f] > 20 / 255) & (s.ldrs[f] < 250 / 255) for f in (frame, 1)], axis=0)
    a, b = linear(s, frame)[ok] / s.exposures[frame], linear(s, 1)[ok]
    return np.abs(a - b) / b


def test_motion_moves_short_and_long_but_not_the_reference():
    # Quantisation alone changes a well-exposed value by at most ~2 x 2.24 x 0.5/20 = 11 %.
    still = simulate(0, SimulatorConfig(size=96, static_prob=1.0, noise=False))
    for frame in (0, 2):
        assert relative_change(still, frame).max() < 0.12
    for seed in range(3):
        s = simulate(seed, MOVING)
        assert not s.static
        ok = s.ldrs[1] < 250 / 255
        error = np.abs(linear(s, 1) - s.hdr)[ok]  # the medium frame is the hdr's geometry
        assert np.all(error <= quantisation_bound(s.ldrs[1][ok].astype(np.float64), s.gamma))
        for frame in (0, 2):
            assert np.mean(relative_change(s, frame) > 0.12) > 0.1


def test_camera_shift_is_bounded_by_max_shift():
    shifts, config = [], SimulatorConfig(size=128, static_prob=0.0, noise=False, max_objects=0, max_shift=4.0)
    for seed in range(6):
        s = simulate(seed, config)
        short, medium = (np.clip(linear(s, i) / s.exposures[i], 0, 1).mean(-1) for i in (0, 1))
        (dx, dy), _ = cv2.phaseCorrelate(np.log(medium + 1e-3), np.log(short + 1e-3))
        shifts.append(math.hypot(dx, dy))
    # Rotation and scaling are about the crop centre, so the correlation peak is the translation (<= 4 px).
    assert max(shifts) <= 5.0 and max(shifts) > 1.0


def test_dead_leaves_have_high_dynamic_range_and_the_short_frame_keeps_the_highlights():
    medium_saturated, short_saturated, medians = [], [], []
    for seed in range(4):
        s = simulate(seed, SimulatorConfig(size=128, noise=False))
        assert s.scene == "dead_leaves"
        p1, p999 = np.percentile(s.hdr.mean(-1), [1, 99.9])
        assert np.log10(p999 / p1) >= 4.5
        medium_saturated.append(np.mean(s.ldrs[1].max(-1) == 1.0))
        short_saturated.append(np.mean(s.ldrs[0].max(-1) == 1.0))
        medians.append(np.median(s.hdr))
    assert np.mean(medium_saturated) > 0.03
    assert np.mean(short_saturated) < 0.5 * np.mean(medium_saturated)
    assert all(0.07 < m < 0.4 for m in medians)  # a well exposed reference frame


def write_sources(folder: Path) -> None:
    """A constant-colour .hdr (RGB 0.2, 0.4, 0.8) and an sRGB .png: mid grey with a white square."""
    cv2.imwrite(str(folder / "flat.hdr"), np.full((40, 60, 3), (0.8, 0.4, 0.2), np.float32))  # BGR
    photo = np.full((48, 48, 3), 128, np.uint8)
    photo[10:20, 10:20] = 255
    cv2.imwrite(str(folder / "photo.png"), photo)


def test_samples_from_folder_sources(tmp_path: Path):
    write_sources(tmp_path)
    sources = sources_from_folder(tmp_path)
    assert [type(s) for s in sources] == [HdrFolderSource, LdrFolderSource]
    config = SimulatorConfig(size=32)
    samples = [simulate(seed, config, sources) for seed in range(16)]
    kinds = {s.scene.split(":")[0] for s in samples}
    assert kinds == {"hdr", "ldr", "dead_leaves"}
    for s in samples:
        assert s.ldrs.shape == (3, 32, 32, 3) and s.hdr.shape == (32, 32, 3) and np.isfinite(s.hdr).all()
        if s.scene.startswith("hdr:"):  # background and objects all come from the flat file
            assert s.scene.endswith("flat.hdr")
            ratios = s.hdr / s.hdr[..., :1]
            np.testing.assert_allclose(ratios, np.broadcast_to([1.0, 2.0, 4.0], ratios.shape), rtol=0.02)
    again = [simulate(seed, config, sources_from_folder(tmp_path)) for seed in range(16)]
    for a, b in zip(samples, again):  # a fresh source with a cold cache gives the same samples
        assert np.array_equal(a.ldrs, b.ldrs) and np.array_equal(a.hdr, b.hdr)


def test_ldr_source_is_linearised_and_gets_highlights(tmp_path: Path):
    write_sources(tmp_path)
    source = LdrFolderSource(tmp_path)
    crops = [source.draw(np.random.default_rng(seed), 64, 64)[0] for seed in range(5)]
    grey = ((128 / 255 + 0.055) / 1.055) ** 2.4  # 0.216 linear; an unconverted 0.5 would stay >= 0.5
    assert all(c.shape == (64, 64, 3) and c.dtype == np.float32 for c in crops)
    assert min(c.min() for c in crops) == pytest.approx(grey, rel=0.3)
    assert all(c.max() >= 4.0 for c in crops)  # the white square now exceeds the white level


def test_panoramas_are_cropped_away_from_the_poles(tmp_path: Path):
    pano = np.ones((64, 128, 3), np.float32)
    pano[:16] = pano[48:] = (0.0, 0.0, 100.0)  # BGR: bright red polar caps
    cv2.imwrite(str(tmp_path / "pano.hdr"), pano)
    source = HdrFolderSource(tmp_path)
    for seed in range(10):
        crop, label = source.draw(np.random.default_rng(seed), 16, 16)
        assert label.endswith("pano.hdr")
        np.testing.assert_allclose(crop[..., 0], crop[..., 1], rtol=0.02)


def test_folders_without_images_and_bad_configs_are_refused(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("no images here")
    for folder in (tmp_path, tmp_path / "missing"):
        with pytest.raises(ValueError, match="scene images"):
            sources_from_folder(folder)
    for bad in ({"ratio_range": (0.5, 2.0)}, {"static_prob": 1.5}, {"gamma_jitter": 3.0}):
        with pytest.raises(ValueError):
            SimulatorConfig(**bad)


def test_every_leaf_is_shaded_around_its_own_centre():
    """A leaf's log-linear gradient pivots on its own centre (at most e**2 across it). A leaf drawn with
    another's outline extrapolates its gradient over the distance between them: radiance of e**50 and
    more, or inf. The brightest things are the emitters, at most 1000x the median and a tint."""
    for seed in range(3):
        s = simulate(seed, SimulatorConfig(size=512, noise=False, static_prob=1.0))
        assert np.isfinite(s.hdr).all()
        assert s.hdr.max() < 1e4 * np.median(s.hdr)

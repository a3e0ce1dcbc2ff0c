"""The noise-optimal merge (`adnet_cli.network.optimal`): hand-computed weights, the gate, the fallbacks, the
intensity maps, and what it gains over the deghost base and Debevec on simulated static brackets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adnet_cli import tables
from adnet_cli.evaluation.datasets import to_network_domain
from adnet_cli.evaluation.metrics import psnr_mu
from adnet_cli.merge.classical import METHODS, classical_merge
from adnet_cli.network import adaptive
from adnet_cli.network.bases import bracket_context, optimal_base
from adnet_cli.network.inference import bracket_maps
from adnet_cli.network.optimal import FALLBACK, NoiseModel, apply_map, estimate_maps, optimal_merge
from adnet_cli.network.preprocess import build_inputs
from adnet_cli.training.simulate import SimulatorConfig, simulate
from adnet_cli.training.validation import base_merge

TIMES = (1.0, 4.0, 16.0)
SCALES = torch.tensor([[4.0, 1.0, 0.25]])  # radiance per unit signal, 1.0 = the reference's white
GAMMA = torch.tensor([2.2])


def uniform(signal_ref: float | np.ndarray, size: int = 12) -> torch.Tensor:
    """(1, 3, 3, size, size) frames (short, reference, long) of a flat grey scene whose reference reads
    `signal_ref` (linear), encoded exactly with gamma 2.2 and clipped at 1."""
    signals = np.array([signal_ref * t / TIMES[1] for t in TIMES], dtype=np.float64)
    levels = np.clip(signals, 0, 1) ** (1 / 2.2)
    return torch.tensor(levels, dtype=torch.float32).view(1, 3, 1, 1, 1).expand(1, 3, 3, size, size).contiguous()


def merged(ldrs: torch.Tensor):
    return optimal_merge(ldrs, SCALES, GAMMA, 1, estimate_maps(ldrs, 1))


def test_weights_are_the_inverse_variances_worked_out_by_hand():
    ldrs = uniform(0.1)
    out = merged(ldrs)
    torch.testing.assert_close(out.radiance, torch.full_like(out.radiance, 0.1), rtol=1e-5, atol=0)
    noise = NoiseModel()
    inverse = []
    for t, scale in zip(TIMES, SCALES[0].tolist()):
        s = 0.1 * t / TIMES[1]  # the signal the estimate predicts for the frame (pass 2)
        slope = 2.2 * s ** (1 - 1 / 2.2)
        variance = s / noise.fullwell + noise.read**2 + (slope * noise.step) ** 2 / 12
        inverse.append(1 / (scale**2 * variance))
    expected = np.array(inverse) / sum(inverse)
    np.testing.assert_allclose(out.used[0, :, 0, 6, 6].numpy(), expected, rtol=1e-4)
    assert expected[2] > expected[1] > expected[0]  # the long frame holds the most light here
    assert float(out.need.max()) < 1e-6


def test_a_clipped_reference_takes_the_short_frame_and_a_moving_patch_the_reference():
    ldrs = uniform(2.0, 16)  # the reference clips (signal 2), the long frame too: only the short frame counts
    out = merged(ldrs)
    torch.testing.assert_close(out.radiance[..., 8, 8], torch.full((1, 3), 2.0), rtol=1e-5, atol=0)
    assert float(out.used[0, 0, 0, 8, 8]) > 0.999

    ldrs = uniform(0.1, 24)
    ldrs[:, 2, :, 8:16, 8:16] = 0.4 ** (1 / 2.2) * 1.8 ** (1 / 2.2)  # something brighter moved into the long frame
    out = merged(ldrs)
    assert float(out.used[0, 2, 0, 12, 12]) < 1e-3  # gated out: no ghost
    torch.testing.assert_close(out.radiance[..., 12, 12], torch.full((1, 3), 0.1), rtol=1e-3, atol=0)
    assert float(out.need[0, 0, 12, 12]) > 0.5 and float(out.need[0, 0, 1, 1]) < 1e-6


def test_where_no_frame_counts_the_shortest_or_the_longest_is_used():
    clipped = merged(uniform(100.0))  # every frame clipped: the shortest bounds the radiance best
    torch.testing.assert_close(clipped.radiance, torch.full_like(clipped.radiance, 4.0), rtol=1e-5, atol=0)
    ldrs = torch.full((1, 3, 3, 8, 8), 0.5 / 255)  # every frame in the black floor: the longest
    black = merged(ldrs)
    expected = 0.25 * (0.5 / 255) ** 2.2
    torch.testing.assert_close(black.radiance, torch.full_like(black.radiance, expected), rtol=1e-4, atol=0)
    assert FALLBACK < 1e-3  # and only there: elsewhere the fallback weight is negligible


def test_intensity_maps_recover_a_monotone_mapping_between_levels():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(3, 40, 50))
    ref = torch.tensor(codes / 255, dtype=torch.float32)
    curve = lambda c: np.round(255 * (c / 255) ** 1.6) / 255  # noqa: E731 (another camera curve, longer frame)
    frame = torch.tensor(curve(codes), dtype=torch.float32)
    ldrs = torch.stack((ref, ref, frame)).unsqueeze(0)  # (1, 3 frames, 3, H, W)
    maps = estimate_maps(ldrs, 1)
    present = np.unique(codes[0])
    np.testing.assert_allclose(maps[0, 2, 0, present].numpy(), curve(present), atol=1e-6)
    np.testing.assert_allclose(maps[0, 1].numpy(), np.tile(np.arange(256) / 255, (3, 1)), atol=1e-7)
    assert bool((maps.diff(dim=-1) >= 0).all())
    torch.testing.assert_close(apply_map(maps[:, 2], ref.unsqueeze(0)), frame.unsqueeze(0), atol=1e-6, rtol=0)


def test_classical_methods_each_have_their_own_code():
    functions = {m: tables.row(tables.METHODS, m, "method").load() for m in METHODS}
    assert len({id(f) for f in functions.values()}) == len(METHODS)
    frames = np.stack([np.full((8, 8, 3), v, np.float32) for v in (0.3, 0.5, 0.7)])
    results = {m: classical_merge(frames, TIMES, m, 2.2) for m in METHODS}
    assert not np.allclose(results["optimal"], results["robertson"])  # never another method's result
    with pytest.raises(ValueError, match="unknown method"):
        classical_merge(frames, TIMES, "mertens")


def _static_samples(count: int = 6) -> list:
    config = SimulatorConfig(size=96, camera="realistic", static_prob=1.0, ratio_range=(2.0, 16.0))
    return [simulate(500 + i, config) for i in range(count)]


def test_on_static_brackets_it_beats_the_deghost_base_and_debevec():
    scores = {"optimal": [], "deghost": [], "debevec": []}
    for s in _static_samples():
        truth = to_network_domain(s.hdr, s.exposures, "kalantari")
        merges = {"optimal": classical_merge(s.ldrs, s.exposures, "optimal", 2.2),
                  "deghost": base_merge(s, "deghost", "kalantari"),
                  "debevec": classical_merge(s.ldrs, s.exposures, "debevec", 2.2)}
        for name, hdr in merges.items():
            scores[name].append(psnr_mu(to_network_domain(hdr, s.exposures, "kalantari"), truth))
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    # Measured: +0.81 dB over deghost on these 6 brackets (+0.80 on 12), +1.75 over Debevec. The bound on
    # deghost was 1.0 dB on the simulator before its dead leaves' outlines were fixed (2026-12-08).
    assert mean["optimal"] > mean["deghost"] + 0.5, mean
    assert mean["optimal"] > mean["debevec"] + 1.0, mean


def test_the_optimal_method_is_the_optimal_base():
    s = _static_samples(1)[0]
    inner = (slice(3, -3), slice(3, -3))  # the method mirrors the image's border as the network's windows do
    np.testing.assert_allclose(classical_merge(s.ldrs, s.exposures, "optimal", 2.2)[inner],
                               base_merge(s, "optimal", "kalantari")[inner], rtol=2e-5, atol=1e-7)


def test_it_commutes_with_windows_and_with_flips(monkeypatch):
    s = simulate(7, SimulatorConfig(size=96, width=128, camera="realistic", static_prob=0.0))
    maps = bracket_maps(s.ldrs)
    ldrs = torch.from_numpy(s.ldrs).permute(0, 3, 1, 2).unsqueeze(0)
    whole = optimal_merge(ldrs, SCALES, GAMMA, 1, maps)
    for flip in (lambda x: x.flip(-1), lambda x: x.flip(-2), lambda x: x.transpose(-2, -1)):
        flipped = optimal_merge(flip(ldrs), SCALES, GAMMA, 1, maps)
        torch.testing.assert_close(flip(whole.radiance), flipped.radiance, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(flip(whole.need), flipped.need, rtol=0, atol=1e-4)  # a smoothstep of rounding
    one = classical_merge(s.ldrs, TIMES, "optimal", 2.2)
    monkeypatch.setattr(adaptive, "BASE_TILE", 32)  # 12 windows instead of one
    np.testing.assert_allclose(classical_merge(s.ldrs, TIMES, "optimal", 2.2), one, rtol=1e-5, atol=1e-7)


def test_the_optimal_base_reads_the_maps_it_is_given():
    s = simulate(8, SimulatorConfig(size=64, camera="realistic", static_prob=1.0))
    ldrs = torch.from_numpy(s.ldrs).permute(0, 3, 1, 2).unsqueeze(0)
    inputs = build_inputs(ldrs, s.exposures, "kalantari")
    own = optimal_base(*inputs, bracket_context(ldrs, s.exposures, "kalantari", maps=True)).radiance
    estimated = optimal_base(*inputs, bracket_context(ldrs, s.exposures, "kalantari")).radiance  # from the window
    torch.testing.assert_close(own, estimated)
    flat = torch.linspace(0, 1, 256).expand(1, 3, 3, 256).contiguous()  # identity maps: the gate sees other levels
    other = optimal_base(*inputs, bracket_context(ldrs, s.exposures, "kalantari", maps=flat)).radiance
    assert not torch.allclose(own, other)

"""The two pre-processing conventions: input mapping and the output's radiometric scale."""

from __future__ import annotations

import pytest
import torch

from adnet_cli.network.preprocess import build_inputs, from_linear, to_linear


def bracket(batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, 3, 4, 5, generator=torch.Generator().manual_seed(0))


def test_kalantari_mapping_is_ldr_to_gamma_over_relative_time():
    ldrs = bracket()
    x1, x2, x3 = build_inputs(ldrs, (0.01, 0.04, 0.16), "kalantari")
    torch.testing.assert_close(x1[:, :3], ldrs[:, 0])
    torch.testing.assert_close(x1[:, 3:], ldrs[:, 0] ** 2.2)
    torch.testing.assert_close(x2[:, 3:], ldrs[:, 1] ** 2.2 / 4)
    torch.testing.assert_close(x3[:, 3:], ldrs[:, 2] ** 2.2 / 16)


def test_ntire_mapping_follows_the_documented_formula():
    ldrs = bracket()
    ev = [-2.0, 0.0, 3.0]
    times = [2.0**e for e in ev]
    x1, x2, x3 = build_inputs(ldrs, times, "ntire")
    for i, x in enumerate((x1, x2, x3)):
        expected = ((ldrs[:, i] ** 2.24) * 2.0 ** (-(ev[i] - ev[1]))) ** (1 / 2.24)
        torch.testing.assert_close(x[:, 3:], expected)
    torch.testing.assert_close(x2[:, 3:], x2[:, :3])  # the medium frame maps to itself


def test_per_sample_exposures_and_gamma():
    ldrs = bracket(2)
    times = torch.tensor([[1.0, 2.0, 4.0], [1.0, 8.0, 64.0]])
    _, x2, _ = build_inputs(ldrs, times, "kalantari", gamma=torch.tensor([2.0, 2.5]))
    torch.testing.assert_close(x2[0, 3:], ldrs[0, 1] ** 2.0 / 2)
    torch.testing.assert_close(x2[1, 3:], ldrs[1, 1] ** 2.5 / 8)


@pytest.mark.parametrize("convention", ["kalantari", "ntire"])
def test_linear_round_trip(convention):
    linear = torch.rand(2, 3, 4, 5) * 10
    times = (1 / 100, 1 / 25, 1 / 6)
    back = to_linear(from_linear(linear, times, convention), times, convention)
    torch.testing.assert_close(back, linear, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("convention", ["kalantari", "ntire"])
def test_reference_white_is_one(convention):
    """An ideal network output for radiance that just saturates the medium frame reads as 1.0."""
    times = (0.5, 2.0, 8.0)
    # Kalantari: the medium frame's white (LDR 1) maps to 1 / (t_med / t_min) in network units.
    network_white = {"kalantari": torch.full((1, 3, 1, 1), 0.25), "ntire": torch.ones(1, 3, 1, 1)}
    torch.testing.assert_close(to_linear(network_white[convention], times, convention), torch.ones(1, 3, 1, 1))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="convention"):
        build_inputs(bracket(), (1, 2, 4), "debevec")
    with pytest.raises(ValueError, match="positive"):
        build_inputs(bracket(), (0, 2, 4), "ntire")

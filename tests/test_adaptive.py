"""The motion-adaptive merge (`--network auto`): the base where the frames agree, the network where they
do not, the same result as `everywhere` inside the mask, and no seam."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from helpers import randomise, synthetic_bracket

from adnet_cli.merge.engine import BracketRequest, Engine
from adnet_cli.network import adaptive
from adnet_cli.network.adaptive import GROW, NetworkStats, base_and_need, merge_adaptive, network_mask, run_network
from adnet_cli.network.inference import EDGE_CONTEXT, MergeOptions, bracket_maps, merge, network_tiles
from adnet_cli.network.model import ADNet, ADNetConfig

SMALL = dict(nf=16, growth=8, dense_layers=2, groups=2)
CPU = torch.device("cpu")


def residual(base: str = "optimal", seed: int = 3) -> ADNet:
    """Random weights whose correction is large enough to tell the network from its base."""
    return randomise(ADNet(ADNetConfig(**SMALL, base=base), deform_backend="torch"), seed=seed)


def moving_patch(height: int = 64, width: int = 96) -> tuple[np.ndarray, tuple[float, float, float], tuple[slice, slice]]:
    """A static noise-free bracket (exposures 1, 4, 16; the long frame clips on a fifth of the pixels)
    whose long frame holds a patch darker than the reference says, as if something had moved in."""
    short, _ = synthetic_bracket(height, width, seed=1)
    radiance = short[0].astype(np.float64) ** 2.2 / 4  # that scene two stops darker: the reference reads it
    times = (1.0, 4.0, 16.0)
    frames = np.stack([np.clip(radiance * t / 4, 0, 1) ** (1 / 2.2) for t in times])
    patch = (slice(20, 32), slice(56, 72))
    frames[2][patch] *= 0.6
    return (np.round(frames * 255) / 255).astype(np.float32), times, patch


def test_a_static_bracket_runs_no_window_and_is_its_base():
    frames, times = synthetic_bracket(64, 96, seed=1)
    model = residual()
    out, stats = merge_adaptive(model, frames, times, "kalantari", CPU, MergeOptions(tile=32))
    assert stats == NetworkStats("auto", 6, 0, 0.0)
    base, need = base_and_need(model, frames, times, "kalantari", CPU, bracket_maps(frames))
    assert float(need.max()) < adaptive.NEED_FROM
    assert np.array_equal(out, base[:64, :96])


def test_a_moving_patch_runs_only_the_windows_that_cover_it():
    frames, times, patch = moving_patch(96, 160)  # room for the mask's reach (GROW + FEATHER) around the patch
    model = residual()
    out, stats = merge_adaptive(model, frames, times, "kalantari", CPU, MergeOptions(tile=16, tile_pad=16))
    _, need = base_and_need(model, frames, times, "kalantari", CPU, bracket_maps(frames))
    mask = network_mask(need)
    assert mask[patch].min() == 1.0  # the whole patch is in the mask
    # The grown mask reaches GROW + the feather beyond the patch, and no further.
    reach = GROW + adaptive.FEATHER
    rows, cols = np.nonzero(mask > 0)
    assert rows.min() >= 20 - reach - 1 and rows.max() <= 31 + reach + 1
    assert cols.min() >= 56 - reach - 1 and cols.max() <= 71 + reach + 1
    tiles = network_tiles(mask.shape, (mask.shape[0] + 2 * EDGE_CONTEXT, mask.shape[1] + 2 * EDGE_CONTEXT), 16, 16)
    e = EDGE_CONTEXT
    touched = [t for t in tiles if mask[t.y0 - e : t.y1 - e, t.x0 - e : t.x1 - e].any()]
    assert stats.windows == len(tiles) == 60 and stats.ran == len(touched) < len(tiles)
    assert 0 < stats.masked < 0.5


def test_inside_the_mask_auto_is_everywhere_and_there_is_no_seam():
    frames, times, patch = moving_patch()
    model = residual()
    everywhere = merge(model, frames, times, "kalantari", CPU, MergeOptions(tile=0))
    auto, stats = merge_adaptive(model, frames, times, "kalantari", CPU, MergeOptions(tile=16, tile_pad=32))
    base, need = base_and_need(model, frames, times, "kalantari", CPU, bracket_maps(frames))
    mask = network_mask(need)[:64, :96]
    peak = float(everywhere.max())
    inside = mask >= 1.0
    # Random weights see further than trained ones: with 32 px of context the windows are the whole image's.
    np.testing.assert_allclose(auto[inside], everywhere[inside], rtol=0, atol=1e-5 * peak)
    assert float(np.abs(everywhere - base[:64, :96])[inside].max()) > 1e-2 * peak  # the network did change them
    outside = mask == 0.0
    assert np.array_equal(auto[outside], base[:64, :96][outside])
    # In the feather, a blend of the two: between them, pixel by pixel.
    ramp = (mask > 0) & (mask < 1)
    low, high = np.minimum(everywhere, base[:64, :96]), np.maximum(everywhere, base[:64, :96])
    assert ramp.any() and bool(((auto >= low - 1e-6) & (auto <= high + 1e-6))[ramp].all())
    # No seam: across the window edges inside the mask, the steps are those of `everywhere`.
    for edge in (16, 32, 48, 64, 80):
        column = slice(edge - 1, edge + 1)
        rows = inside[:, edge - 1] & inside[:, edge]
        step_auto = np.abs(np.diff(auto[:, column], axis=1))[rows]
        step_every = np.abs(np.diff(everywhere[:, column], axis=1))[rows]
        np.testing.assert_allclose(step_auto, step_every, rtol=0, atol=2e-5 * peak)


@pytest.mark.parametrize("network", ["auto", "everywhere"])
def test_weights_without_a_base_always_run_everywhere(network):
    frames, times = synthetic_bracket(32, 48, seed=1)
    model = randomise(ADNet(ADNetConfig(**SMALL), deform_backend="torch"))
    out, stats = run_network(model, frames, times, "kalantari", CPU, MergeOptions(tile=0, network=network))
    assert stats.mode == "everywhere" and stats.ran == stats.windows == 1
    np.testing.assert_array_equal(out, merge(model, frames, times, "kalantari", CPU, MergeOptions(tile=0)))


def test_everywhere_mode_runs_every_window_of_a_residual_model():
    frames, times, _ = moving_patch()
    model = residual()
    out, stats = run_network(model, frames, times, "kalantari", CPU, MergeOptions(tile=32, network="everywhere"))
    assert stats == NetworkStats("everywhere", 6, 6, 1.0)
    np.testing.assert_array_equal(out, merge(model, frames, times, "kalantari", CPU, MergeOptions(tile=32)))


def test_the_deghost_base_also_runs_adaptively():
    frames, times, patch = moving_patch(96, 160)
    model = residual("deghost")
    out, stats = merge_adaptive(model, frames, times, "kalantari", CPU, MergeOptions(tile=32))
    assert 0 < stats.ran < stats.windows
    base, _ = base_and_need(model, frames, times, "kalantari", CPU, bracket_maps(frames))
    np.testing.assert_array_equal(out[:, 128:], base[:96, 128:160])  # the windows far from the patch: the deghost base


def test_a_mask_of_noise_alone_is_opened_away():
    need = np.zeros((80, 80), np.float32)
    need[5, 5] = need[20, 30] = 1.0  # isolated pixels: noise-level disagreement
    need[10:12, 20:22] = 1.0  # a 2 x 2 speck
    assert not network_mask(need).any()
    need[45:55, 5:15] = 1.0  # a real region
    mask = network_mask(need)
    assert mask[50, 10] == 1.0 and mask[45 - GROW, 10] == 1.0  # the region, grown by GROW
    assert mask[0, 79] == 0.0 and mask[45 - GROW - adaptive.FEATHER - 1, 10] == 0.0  # then feathered to nothing


def test_a_bracket_that_disagrees_everywhere_suggests_align_unless_aligned():
    everywhere = NetworkStats("auto", 64, 60, 0.97)
    assert "--align" in everywhere.shake_hint(aligned=False)
    assert everywhere.shake_hint(aligned=True) is None
    assert NetworkStats("auto", 64, 24, 0.2).shake_hint(aligned=False) is None  # something moved, not the camera
    assert NetworkStats("everywhere", 9, 9, 1.0).shake_hint(aligned=False) is None
    assert "--align" in NetworkStats("auto", 2, 2, 0.987).shake_hint(aligned=False)  # on everywhere's windows


def test_a_mask_over_most_windows_runs_everywheres_large_windows_and_blends_as_usual():
    """A hand-held bracket disagrees in nearly every small window, whose context then costs more than the
    large windows of `everywhere`: those run instead, and the output is still mask x network + base."""
    frames, times, _ = moving_patch(256, 256)
    frames[0], frames[2] = np.roll(frames[0], (6, -6), (0, 1)), np.roll(frames[2], (-6, 6), (0, 1))  # shake
    model = residual()
    out, stats = merge_adaptive(model, frames, times, "kalantari", CPU, MergeOptions())
    base, need = base_and_need(model, frames, times, "kalantari", CPU, bracket_maps(frames))
    mask = network_mask(need)[:256, :256, None]
    small = network_tiles((256, 256), (256 + 2 * EDGE_CONTEXT,) * 2, adaptive.AUTO_TILE, MergeOptions().tile_pad)
    assert sum(bool(mask[t.y0 - EDGE_CONTEXT : t.y1 - EDGE_CONTEXT, t.x0 - EDGE_CONTEXT : t.x1 - EDGE_CONTEXT].any())
               for t in small) >= adaptive.WHOLE_TILING_FROM * len(small)
    everywhere = merge(model, frames, times, "kalantari", CPU, MergeOptions())
    assert stats.ran == stats.windows < len(small) and 0.5 < stats.masked <= 1
    expected = everywhere * mask + base[:256, :256] * (1 - mask)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6 * float(expected.max()))


def test_the_engine_suggests_align_for_a_bracket_that_disagrees_everywhere(tmp_path):
    frames, times, _ = moving_patch(256, 256)
    frames[0], frames[2] = np.roll(frames[0], (6, -6), (0, 1)), np.roll(frames[2], (-6, 6), (0, 1))  # shake
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for path, frame in zip(paths, frames):
        cv2.imwrite(str(path), np.round(frame[..., ::-1] * 255).astype(np.uint8))
    engine = Engine(residual(), "kalantari", CPU, MergeOptions(dtype=torch.float32))
    heard: list[str] = []
    engine.merge_files(paths, BracketRequest(exposures=times), noted=heard.append)
    assert sum("--align" in line for line in heard) == 1, heard
    heard.clear()
    engine.merge_files(paths, BracketRequest(exposures=times, align=True), noted=heard.append)
    assert not any("--align registers" in line for line in heard), heard

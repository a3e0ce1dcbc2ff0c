"""Inference plumbing: padding, tiles against the whole image, TTA inversion, devices, progress."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import pad_for_network, synthetic_bracket

from adnet_cli import runtime
from adnet_cli.choices import DEFAULT_TILE_PAD
from adnet_cli.errors import DeviceError
from adnet_cli.network import inference
from adnet_cli.network.inference import (
    EDGE_CONTEXT,
    TTA_TRANSFORMS,
    MergeOptions,
    default_tile,
    merge,
    network_tiles,
    padded_window,
    plan_tiles,
    tta_apply,
)
from adnet_cli.runtime import resolve_device, resolve_precision

CPU = torch.device("cpu")
FP32 = {"dtype": torch.float32}  # the exact path (also the default)


class Pointwise(torch.nn.Module):
    """A stand-in network that commutes with every flip and transpose: out = channels 3-5 of x2."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, context: object = None) -> torch.Tensor:
        return x2[:, 3:] * 2 + x1[:, 3:]


@pytest.mark.parametrize("name", TTA_TRANSFORMS)
def test_each_tta_transform_inverts_exactly(name):
    x = torch.rand(1, 3, 6, 5, 7)
    assert torch.equal(tta_apply(tta_apply(x, name), name), x)  # each is its own inverse
    if name != "identity":
        assert not torch.equal(tta_apply(x, name).reshape(-1), x.reshape(-1))


def test_tta_merge_equals_plain_merge_for_an_equivariant_model():
    frames, times = synthetic_bracket(20, 28)
    plain = merge(Pointwise(), frames, times, "kalantari", CPU, MergeOptions(tile=0))
    tta = merge(Pointwise(), frames, times, "kalantari", CPU, MergeOptions(tile=0, tta=True))
    np.testing.assert_allclose(tta, plain, rtol=1e-6, atol=1e-7)


def test_tta_is_the_mean_of_four_hand_inverted_runs(random_model):
    """Against a reference built without tta_apply: numpy flips and transposes."""
    frames, times = synthetic_bracket(16, 24)
    tta = merge(random_model, frames, times, "kalantari", CPU, MergeOptions(tile=0, tta=True, **FP32))
    run = lambda f: merge(random_model, np.ascontiguousarray(f), times, "kalantari", CPU, MergeOptions(tile=0, **FP32))  # noqa: E731
    reference = (
        run(frames)
        + run(frames.transpose(0, 2, 1, 3)).transpose(1, 0, 2)
        + run(frames[:, ::-1])[::-1]
        + run(frames[:, :, ::-1])[:, ::-1]
    ) / 4
    np.testing.assert_allclose(tta, reference, rtol=1e-5, atol=1e-6)
    assert np.abs(tta - run(frames)).max() > 1e-6  # the random network is not flip-invariant


@pytest.mark.parametrize("shape", [(37, 53), (5, 7), (4, 4), (64, 48), (5, 53)])
def test_windows_read_from_the_frames_equal_windows_of_the_padded_image(shape):
    """merge() reads each window's mirrored border from the frames themselves (padded_window); the
    reference is the whole image padded by pad_for_network, reflected or, when too small, repeated."""
    frames = np.random.default_rng(0).integers(0, 255, (3, *shape, 3), dtype=np.uint8)
    padded = pad_for_network(frames)
    core = (padded.shape[1] - 2 * EDGE_CONTEXT, padded.shape[2] - 2 * EDGE_CONTEXT)
    for tile in (0, 8, 12, 20):
        for t in network_tiles(core, padded.shape[1:3], tile, 4):
            np.testing.assert_array_equal(padded_window(frames, t), padded[:, t.wy0 : t.wy1, t.wx0 : t.wx1])


@pytest.mark.parametrize(("height", "width", "tile", "pad"),
                         [(1000, 1500, 384, 12), (97, 131, 32, 4), (64, 40, 48, 12), (300, 300, 0, 12), (300, 200, 0, 0)])
def test_windows_are_alike_and_hold_their_core_with_its_context(height, width, tile, pad):
    """Every window has one shape (so the allocator reuses its blocks), lies inside the padded image,
    and holds its core with at least `pad` of context on every side that is not the image's edge,
    and the whole mirrored border on every side that is."""
    core = (-(-height // 4) * 4, -(-width // 4) * 4)
    padded = (core[0] + 2 * EDGE_CONTEXT, core[1] + 2 * EDGE_CONTEXT)
    tiles = network_tiles(core, padded, tile, pad)
    assert len({(t.wy1 - t.wy0, t.wx1 - t.wx0) for t in tiles}) == 1
    for t in tiles:
        assert 0 <= t.wy0 and t.wy1 <= padded[0] and 0 <= t.wx0 and t.wx1 <= padded[1]
        assert t.wy0 == 0 if t.y0 == EDGE_CONTEXT else t.wy0 <= t.y0 - pad
        assert t.wy1 == padded[0] if t.y1 == core[0] + EDGE_CONTEXT else t.wy1 >= t.y1 + pad
        assert t.wx0 == 0 if t.x0 == EDGE_CONTEXT else t.wx0 <= t.x0 - pad
        assert t.wx1 == padded[1] if t.x1 == core[1] + EDGE_CONTEXT else t.wx1 >= t.x1 + pad
        assert all(v % 4 == 0 for v in (t.wy0, t.wy1, t.wx0, t.wx1))


def test_pad_for_network_mirrors_context_and_keeps_content():
    frames = np.random.default_rng(0).random((3, 29, 33, 3)).astype(np.float32)
    e = EDGE_CONTEXT
    padded = pad_for_network(frames)
    assert padded.shape == (3, 2 * e + 32, 2 * e + 36, 3)  # 29 -> 32 and 33 -> 36: multiples of 4
    assert np.array_equal(padded[:, e : e + 29, e : e + 33], frames)
    assert np.array_equal(padded[:, e - 1, e : e + 33], frames[:, 1])  # reflect without repeating the edge
    assert np.array_equal(padded[:, e + 29, e : e + 33], frames[:, 27])
    tiny = pad_for_network(frames[:, :5, :5])  # too small to reflect: the edge pixel repeats
    assert np.array_equal(tiny[:, 0, e : e + 5], frames[:, 0, :5])


@pytest.mark.parametrize("tile", [0, 32])
def test_a_flat_field_merges_to_the_same_value_at_its_edges(random_model, tile):
    """No coloured frame: with mirrored context, the border rows and columns of a flat bracket merge to
    the interior's value (the random network zero-pads inside; without the context they differed)."""
    level = np.array([0.5, 0.4, 0.3], np.float32)
    frames = np.stack([np.broadcast_to(np.clip(level * t, 0, 1), (40, 52, 3)) for t in (0.5, 1.0, 2.0)])
    out = merge(random_model, frames.astype(np.float32), (1.0, 2.0, 4.0), "kalantari", CPU, MergeOptions(tile=tile))
    interior = out[12:-12, 12:-12].reshape(-1, 3).mean(0)
    for edge in (out[0], out[-1], out[:, 0], out[:, -1]):
        np.testing.assert_allclose(edge, np.broadcast_to(interior, edge.shape), rtol=2e-3)


@pytest.mark.parametrize(("height", "width", "tile", "pad"), [(100, 132, 32, 8), (64, 64, 64, 16), (40, 200, 48, 0)])
def test_tiles_cover_every_pixel_once(height, width, tile, pad):
    cover = np.zeros((height, width), dtype=int)
    for t in plan_tiles(height, width, tile, pad):
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert t.wy0 <= t.y0 and t.wy1 >= t.y1 and t.wx0 <= t.x0 and t.wx1 >= t.x1
        assert all(v % 4 == 0 for v in (t.wy0, t.wx0, t.y0, t.x0))
    assert (cover == 1).all()


@pytest.mark.parametrize(("length", "tile"), [(1024, 448), (4000, 448), (6000, 448), (892, 448), (100, 32), (64, 64)])
def test_tile_cores_are_as_few_and_as_even_as_possible(length, tile):
    tiles = plan_tiles(length, 8, tile, 32)
    sizes = [t.y1 - t.y0 for t in tiles]
    assert len(sizes) == -(-length // tile)  # the fewest cores of at most `tile`
    assert max(sizes) <= tile and max(sizes) - min(sizes) <= 4  # no sliver at the end
    assert all(t.wy0 == max(0, t.y0 - 32) and t.wy1 == min(length, t.y1 + 32) for t in tiles)


@pytest.mark.parametrize("pad", [DEFAULT_TILE_PAD, 16, 32])
def test_tiled_matches_whole_image(random_model, pad):
    """benchmarks/tile_pad.py prints the full curve; from pad 12 the difference is float noise."""
    frames, times = synthetic_bracket(96, 136)
    whole = merge(random_model, frames, times, "kalantari", CPU, MergeOptions(tile=0, **FP32))
    tiled = merge(random_model, frames, times, "kalantari", CPU, MergeOptions(tile=48, tile_pad=pad, **FP32))
    assert np.abs(tiled - whole).max() / np.abs(whole).max() < 1e-5


def test_bfloat16_tiles_and_whole_image_agree_to_bf16_precision(random_model):
    """bf16 keeps 8 significant bits (a rounding step of 2**-8 = 3.9e-3): tiles may round a pixel
    differently from the whole image, never by more than a few steps."""
    frames, times = synthetic_bracket(96, 136)
    runs = {
        (p, tile): merge(random_model, frames, times, "kalantari", CPU, MergeOptions(tile=tile, dtype=getattr(torch, p)))
        for p in ("float32", "bfloat16")
        for tile in (0, 48)
    }
    peak = np.abs(runs["float32", 0]).max()
    assert np.abs(runs["bfloat16", 48] - runs["bfloat16", 0]).max() / peak < 2e-2
    assert 1e-4 < np.abs(runs["bfloat16", 0] - runs["float32", 0]).max() / peak < 2e-2


def test_tiles_without_context_show_seams(random_model):
    """The comparison above can fail: with no context the tiles disagree with the whole image."""
    frames, times = synthetic_bracket(48, 96)
    whole = merge(random_model, frames, times, "kalantari", CPU, MergeOptions(tile=0, **FP32))
    tiled = merge(random_model, frames, times, "kalantari", CPU, MergeOptions(tile=48, tile_pad=0, **FP32))
    assert np.abs(tiled - whole).max() / np.abs(whole).max() > 1e-3


@pytest.mark.parametrize("tile", [0, 64])
def test_odd_sizes_come_back_at_their_own_size(random_model, tile):
    frames, times = synthetic_bracket(97, 131)
    calls = []
    out = merge(random_model, frames, times, "ntire", CPU, MergeOptions(tile=tile), progress=lambda d, n: calls.append((d, n)))
    assert out.shape == (97, 131, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and (out >= 0).all()
    total = calls[-1][1]
    assert calls == [(i, total) for i in range(total + 1)]
    assert total == (1 if tile == 0 else 6)  # tiles cover the image only (100 x 132), not its mirrored border


def test_default_tile_is_bounded_and_a_multiple_of_64():
    tile = default_tile(CPU, 32)
    assert 128 <= tile <= 2048 and tile % 64 == 0


@pytest.mark.parametrize("nf", [32, 64])
@pytest.mark.parametrize("pad", [DEFAULT_TILE_PAD, 13, 32, 34, 64])
def test_default_windows_keep_most_of_what_they_compute(monkeypatch, nf, pad):
    """With memory to spare, at least 80 % of every default window is its tile's core, whatever the
    pad (as the tiles use it, rounded up to a multiple of 4); with too little, the window stays
    within a quarter of what is free."""
    pad4 = -(-pad // 4) * 4
    monkeypatch.setattr(inference, "free_memory_bytes", lambda device: 64 << 30)
    tile = default_tile(CPU, pad, torch.float32, nf)
    assert (tile / (tile + 2 * pad4)) ** 2 >= inference.MIN_KEPT_SHARE
    monkeypatch.setattr(inference, "free_memory_bytes", lambda device: 1 << 30)
    tile = default_tile(CPU, pad, torch.float32, nf)
    assert tile == 128 or (tile + 2 * pad4) ** 2 * inference.window_bytes_per_pixel(CPU, torch.float32, nf) <= 256 << 20


def test_the_default_pad_tiles_the_shipped_weights_seamlessly():
    """The default pad was chosen with the shipped weights on a moving bracket (benchmarks/tile_pad.py
    prints the curve): tiled and whole agree to 1e-4 of the peak there, and without context do not."""
    from adnet_cli.network.weights import load_weights
    from adnet_cli.training.simulate import SimulatorConfig, simulate

    loaded = load_weights(None, deform_backend="torch")
    sample = simulate(7, SimulatorConfig(size=96, width=136, static_prob=0.0, max_shift=16.0))
    times = tuple(float(t) for t in sample.exposures)
    run = lambda tile, pad: merge(loaded.model, sample.ldrs, times, loaded.convention, CPU,  # noqa: E731
                                  MergeOptions(tile=tile, tile_pad=pad, **FP32))
    whole = run(0, 0)
    assert np.abs(run(40, DEFAULT_TILE_PAD) - whole).max() / np.abs(whole).max() < 1e-4
    assert np.abs(run(40, 0) - whole).max() / np.abs(whole).max() > 1e-3


def test_resolve_device():
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA"):
            resolve_device("cuda:0")


def test_half_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(DeviceError, match="CUDA"):
        resolve_precision("float16", CPU)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bfloat16_only_on_cpus_with_native_bf16(monkeypatch, native):
    monkeypatch.setattr(runtime, "native_bf16", lambda: native)
    assert resolve_precision("auto", CPU) == (torch.bfloat16 if native else torch.float32)
    assert resolve_precision("float32", CPU) == torch.float32
    assert resolve_precision("bfloat16", CPU) == torch.bfloat16


def test_unknown_precision_is_refused():
    with pytest.raises(DeviceError, match="unknown precision"):
        resolve_precision("float8", CPU)


def test_network_tiles_cover_the_image_once_and_edge_windows_hold_the_whole_border():
    core, e = (100, 132), EDGE_CONTEXT
    padded = (core[0] + 2 * e, core[1] + 2 * e)
    cover = np.zeros(padded, dtype=int)
    tiles = network_tiles(core, padded, 48, 8)
    for t in tiles:
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert t.wy0 <= t.y0 and t.wy1 >= t.y1 and t.wx0 <= t.x0 and t.wx1 >= t.x1
        assert all(v % 4 == 0 for v in (t.wy0, t.wx0, t.y0, t.x0))
        assert (t.wy0 == 0) == (t.y0 == e) and (t.wx1 == padded[1]) == (t.x1 == e + core[1])
    assert (cover[e : e + core[0], e : e + core[1]] == 1).all() and cover.sum() == core[0] * core[1]
    assert len(tiles) == len(plan_tiles(*core, 48, 8))

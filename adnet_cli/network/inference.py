"""Running a trained ADNet on a bracket of any size: pad -> tiles -> TTA -> crop -> unpad.

The full image stays in host memory as numpy; only one tile (plus its context) is on the device at a
time. Each step takes and returns values; nothing is carried between calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from adnet_cli.choices import DEFAULT_TILE_PAD, NETWORK_MODES
from adnet_cli.formats.io import unit_float
from adnet_cli.network.bases import bracket_context
from adnet_cli.network.model import ADNet
from adnet_cli.network.optimal import MAX_SAMPLES, estimate_maps
from adnet_cli.network.preprocess import Convention, build_inputs, to_linear
from adnet_cli.runtime import autocast, free_memory_bytes

Progress = Callable[[int, int], None]
MULTIPLE = 4  # two stride-2 pyramid levels
EDGE_CONTEXT = 8  # mirrored pixels around the image (see padded_window); a multiple of MULTIPLE
TTA_TRANSFORMS = ("identity", "transpose", "vflip", "hflip")
# Peak bytes per pixel of a float32 tile window of the paper's width (nf 64): 7.9-9.4 KB on the CPU
# (`benchmarks/tile_memory.py --model paper`, 384 x 384; the peak RSS varies from run to run with the
# heap's fragmentation), 4.5-4.8 KB at the shipped width (nf 32, `--model shipped`, 256-512 px);
# 3.9 KB for nf 64 in bfloat16 on a CPU with bf16 instructions; 11.7-14.2 KB on a GPU (one band; not
# re-measured since the CPU work). Other widths and precisions scale these (window_bytes_per_pixel).
CPU_BYTES_PER_PIXEL = 9_000
GPU_BYTES_PER_PIXEL = 14_000
MEASURED_NF = 64
CPU_WINDOW_BYTES = 768 << 20
MIN_KEPT_SHARE = 0.8  # of a window's pixels that its tile keeps (the rest is context computed again)


@dataclass(frozen=True)
class MergeOptions:
    """How to run the network. tile 0 = whole image; tile and tile_pad are rounded up to multiples of 4.
    network: ``auto`` runs a residual model's network only where the frames disagree
    (`adnet_cli.network.adaptive`), ``everywhere`` on every pixel (weights of base none always do)."""

    tile: int | None = None  # None: chosen from free memory (everywhere) or adaptive.AUTO_TILE (auto)
    tile_pad: int = DEFAULT_TILE_PAD
    tta: bool = False
    dtype: torch.dtype = torch.float32  # compute dtype, resolved once by runtime.resolve_precision
    network: str = "auto"

    def __post_init__(self) -> None:
        if self.network not in NETWORK_MODES:
            raise ValueError(f"unknown network mode {self.network!r}; expected one of {', '.join(NETWORK_MODES)}")


def window_bytes_per_pixel(device: torch.device, dtype: torch.dtype, nf: int = MEASURED_NF) -> int:
    """Peak bytes per window pixel: the measured figure scaled by the feature width (every activation
    has nf or a multiple of the growth, itself nf / 2 in the shipped widths; an estimate) and, on the
    CPU, by the element size (activations are stored in the compute dtype there: bf16 measured 3.9 KB
    against fp32's 8.1). On a GPU half precision is not assumed to save memory (not measured)."""
    if device.type != "cpu":
        return int(GPU_BYTES_PER_PIXEL * nf / MEASURED_NF)
    return int(CPU_BYTES_PER_PIXEL * (torch.empty((), dtype=dtype).element_size() / 4) * (nf / MEASURED_NF))


def default_tile(device: torch.device, tile_pad: int, dtype: torch.dtype = torch.float32, nf: int = MEASURED_NF) -> int:
    """Tile side (multiple of 64, 128..2048) for a model of width `nf` computing in `dtype`: the
    largest whose window fits in a quarter of free memory, and on the CPU in CPU_WINDOW_BYTES. Where
    that window would keep less than MIN_KEPT_SHARE of its pixels (a wide `tile_pad`), the smallest
    tile that keeps that share instead, if its window fits in a quarter of free memory (and is at
    most 2048: beyond a pad of about 120 the share is not reached)."""
    per_pixel, free = window_bytes_per_pixel(device, dtype, nf), free_memory_bytes(device) // 4
    budget = min(free, CPU_WINDOW_BYTES) if device.type == "cpu" else free
    pad = round_up(tile_pad)  # as plan_tiles uses it
    tile = (int((budget / per_pixel) ** 0.5) - 2 * pad) // 64 * 64
    # A core of side t in a window of side t + 2 pad keeps (t / (t + 2 pad))^2 of its pixels.
    keeping = math.ceil(2 * pad / (MIN_KEPT_SHARE**-0.5 - 1) / 64) * 64
    if tile < keeping and (keeping + 2 * pad) ** 2 * per_pixel <= free:
        tile = keeping
    return int(min(2048, max(128, tile)))


def round_up(n: int, m: int = MULTIPLE) -> int:
    return -(-n // m) * m


def _padding(h: int, w: int, edge: int) -> tuple[int, int, bool]:
    """Rows added below and columns to the right of an (h, w) image so that, with `edge` mirrored
    pixels on every side, both sides become multiples of 4; and whether the image is large enough to
    reflect (the edge pixel not repeated) rather than repeat its edge pixel."""
    bottom, right = edge + round_up(h) - h, edge + round_up(w) - w
    return bottom, right, min(h, w) > max(bottom, right)


def _source(index: np.ndarray, n: int, reflect: bool) -> np.ndarray:
    """Positions in a side of length n that padded positions `index` (< 0 or >= n beyond the image)
    copy, as np.pad's "reflect" (the edge pixel not repeated) or "edge" mode picks them."""
    if not reflect:
        return np.clip(index, 0, n - 1)
    index = np.abs(index)
    return np.where(index > n - 1, 2 * (n - 1) - index, index)


def padded_window(frames: np.ndarray, t: "Tile", edge: int = EDGE_CONTEXT) -> np.ndarray:
    """Window `t` of the frames inside their mirrored border, without padding the whole image.

    Why the border: inside the network every convolution zero-pads, so pixels at the image border see
    black beyond it, and weights that never learned the border paint it (a coloured 1-pixel frame, up
    to 5x off on a flat field with the first weights). With `edge` mirrored pixels of context the
    border pixels see what interior pixels see; a few more at the bottom and right make both sides
    multiples of 4, and the image starts at (edge, edge). Reflection does not repeat the edge pixel;
    images too small to reflect repeat it instead (np.pad's "reflect" and "edge" modes; the tests'
    oracle pads the whole image with np.pad). Padding a 24 MP bracket of 8-bit frames would need
    another 216 MB (432 MB of 16-bit ones): a window inside the image is a view; one over its border
    gathers the mirrored pixels."""
    h, w = frames.shape[-3:-1]
    y0, y1, x0, x1 = t.wy0 - edge, t.wy1 - edge, t.wx0 - edge, t.wx1 - edge
    if y0 >= 0 and x0 >= 0 and y1 <= h and x1 <= w:
        return frames[..., y0:y1, x0:x1, :]
    _, _, reflect = _padding(h, w, edge)
    rows, cols = _source(np.arange(y0, y1), h, reflect), _source(np.arange(x0, x1), w, reflect)
    return frames[..., rows[:, None], cols[None, :], :]


def tta_apply(x: torch.Tensor, name: str) -> torch.Tensor:
    """One of the four TTA transforms on the last two dims of `x`; each is its own inverse."""
    if name == "identity":
        return x
    if name == "transpose":
        return x.transpose(-2, -1)
    if name == "vflip":
        return x.flip(-2)
    if name == "hflip":
        return x.flip(-1)
    raise ValueError(f"unknown TTA transform {name!r}")


@dataclass(frozen=True)
class Tile:
    """A core region [y0:y1, x0:x1] and the window [wy0:wy1, wx0:wx1] read around it for context."""

    y0: int
    y1: int
    x0: int
    x1: int
    wy0: int
    wy1: int
    wx0: int
    wx1: int


def _cuts(length: int, tile: int) -> list[int]:
    """Core boundaries 0 = c0 < c1 < ... = length on multiples of 4, in as few equal parts as keep
    each at most `tile` (so windows are alike in size: no sliver at the end)."""
    parts = -(-length // tile)
    return [0, *(round_up(length * i // parts) for i in range(1, parts)), length]


def plan_tiles(height: int, width: int, tile: int, tile_pad: int) -> list[Tile]:
    """Tiles covering an (H, W) image whose sides are multiples of 4; tile <= 0 means one tile.

    Cores are at most `tile` square, split evenly; each window adds `tile_pad` pixels of context
    where the image goes on. Core and window edges fall on multiples of 4 so every window sees the
    same pyramid grid as the whole image would.
    """
    if tile <= 0 or (tile >= height and tile >= width):
        return [Tile(0, height, 0, width, 0, height, 0, width)]
    tile, pad = round_up(tile), round_up(tile_pad)
    rows, cols = _cuts(height, tile), _cuts(width, tile)
    return [
        Tile(y0, y1, x0, x1, max(0, y0 - pad), min(height, y1 + pad), max(0, x0 - pad), min(width, x1 + pad))
        for y0, y1 in zip(rows, rows[1:])
        for x0, x1 in zip(cols, cols[1:])
    ]


def run_window(
    model: ADNet,
    window: np.ndarray,
    exposures: tuple[float, float, float],
    convention: Convention,
    device: torch.device,
    options: MergeOptions,
    maps: torch.Tensor | None = None,
) -> np.ndarray:
    """Linear HDR of one window. window: (3, h, w, 3) float32 in [0, 1], h and w multiples of 4.
    maps: the whole bracket's intensity maps (:func:`bracket_maps`), for the ``optimal`` base.
    Returns (h, w, 3) float32, 1.0 = reference white level."""
    ldrs = torch.from_numpy(np.ascontiguousarray(window)).to(device).permute(0, 3, 1, 2).unsqueeze(0)
    names = TTA_TRANSFORMS if options.tta else TTA_TRANSFORMS[:1]
    total = None
    context = bracket_context(ldrs, exposures, convention, maps=None if maps is None else maps.to(device))
    with torch.inference_mode(), autocast(device, options.dtype):
        for name in names:
            inputs = build_inputs(tta_apply(ldrs, name), exposures, convention)
            out = tta_apply(model(*inputs, context), name).float()  # undoes itself
            total = out if total is None else total + out
        linear = to_linear(total / len(names), exposures, convention)
    return linear[0].permute(1, 2, 0).cpu().numpy()


def merge(
    model: ADNet,
    frames: np.ndarray,
    exposures: tuple[float, float, float],
    convention: Convention,
    device: torch.device,
    options: MergeOptions = MergeOptions(),
    progress: Progress | None = None,
    maps: torch.Tensor | None = None,
) -> np.ndarray:
    """Merge a bracket into linear HDR.

    frames: (3, H, W, 3) RGB, ordered short, medium (reference), long: float32 in [0, 1], or uint8 /
    uint16 code values (/ 255, / 65535), which are converted one window at a time.
    exposures: the three exposure times in the same order (seconds or any common unit).
    Returns (H, W, 3) float32 linear radiance, 1.0 = radiance that saturates the reference frame.
    progress: called as progress(done_tiles, total_tiles). maps: the bracket's intensity maps
    (:func:`bracket_maps`) where the caller has them already; estimated here when the base needs them.
    """
    height, width = frames.shape[1:3]
    nf = model.config.nf if hasattr(model, "config") else MEASURED_NF  # test doubles have no config
    tile = default_tile(device, options.tile_pad, options.dtype, nf) if options.tile is None else options.tile
    core = (round_up(height), round_up(width))
    padded = (core[0] + 2 * EDGE_CONTEXT, core[1] + 2 * EDGE_CONTEXT)  # the whole image inside its mirrored border
    out = np.empty((*core, 3), dtype=np.float32)
    model = model.to(device)
    if maps is None and getattr(getattr(model, "config", None), "base", None) == "optimal":
        maps = bracket_maps(frames)
    for t in _tiles(network_tiles(core, padded, tile, options.tile_pad), progress):
        window = unit_float(padded_window(frames, t))
        result = run_window(model, window, exposures, convention, device, options, maps)
        e = EDGE_CONTEXT
        out[t.y0 - e : t.y1 - e, t.x0 - e : t.x1 - e] = result[t.y0 - t.wy0 : t.y1 - t.wy0, t.x0 - t.wx0 : t.x1 - t.wx0]
    return out[:height, :width]


def bracket_maps(frames: np.ndarray, ref: int = 1) -> torch.Tensor:
    """The intensity maps of a whole bracket (`adnet_cli.network.optimal.estimate_maps`), from a regular
    subsample taken before any conversion (a float copy of a 24 MP bracket would take 864 MB).
    frames: (N, H, W, 3) float in [0, 1] or integer codes. Returns (1, N, 3, LEVELS) float32."""
    stride = max(1, math.ceil((frames.shape[1] * frames.shape[2] / MAX_SAMPLES) ** 0.5))
    sample = unit_float(np.ascontiguousarray(frames[:, ::stride, ::stride]))
    return estimate_maps(torch.from_numpy(sample).permute(0, 3, 1, 2).unsqueeze(0), ref)


def network_tiles(core: tuple[int, int], padded: tuple[int, int], tile: int, tile_pad: int) -> list[Tile]:
    """Tiles of the image inside its mirrored border (:func:`padded_window`), in padded coordinates.

    The cores cover only the image (rounded up to multiples of 4), as :func:`plan_tiles` splits it.
    Every window has the same shape: the largest core plus `tile_pad` of context on each side, or the
    whole mirrored border where a core touches the image's edge (so edge pixels see the same context
    tiled or whole); windows at the edges take the rest from further inside instead. Same-shaped
    windows let the allocator reuse one window's freed blocks for the next: with windows of several
    shapes the heap grew at each new shape (a 6 MP merge from 1.07 to 1.66 GB)."""
    e, pad = EDGE_CONTEXT, round_up(tile_pad)
    tiles = plan_tiles(core[0], core[1], tile, tile_pad)
    span_y = _span([(t.y0, t.y1) for t in tiles], core[0], padded[0], pad)
    span_x = _span([(t.x0, t.x1) for t in tiles], core[1], padded[1], pad)
    shifted = []
    for t in tiles:
        wy0 = _window_start(t.y0, t.y1, core[0], padded[0], span_y, pad)
        wx0 = _window_start(t.x0, t.x1, core[1], padded[1], span_x, pad)
        shifted.append(Tile(t.y0 + e, t.y1 + e, t.x0 + e, t.x1 + e, wy0, wy0 + span_y, wx0, wx0 + span_x))
    return shifted


def _span(cores: list[tuple[int, int]], length: int, padded: int, pad: int) -> int:
    """The windows' extent along a side of `length` (`padded` with its border) cut into `cores`:
    the largest core with the pad on one side and the border or the pad on the other (a core at the
    image's edge has the border on that side); the whole padded side when one core spans it."""
    if all(c0 == 0 and c1 == length for c0, c1 in cores):
        return padded
    return min(padded, max(c1 - c0 for c0, c1 in cores) + pad + max(pad, EDGE_CONTEXT))


def _window_start(c0: int, c1: int, length: int, padded: int, span: int, pad: int) -> int:
    """Where a window of `span` starts for the core [c0, c1) of a side of `length` (image
    coordinates): at 0 or flush with the padded end for the first and last cores, so they hold the
    mirrored border; else `pad` before the core, moved inward where the span would leave the image."""
    if c0 == 0:
        return 0
    if c1 == length:
        return padded - span
    return max(0, min(c0 + EDGE_CONTEXT - pad, padded - span))


def _tiles(tiles: list[Tile], progress: Progress | None) -> Iterator[Tile]:
    if progress:
        progress(0, len(tiles))
    for i, t in enumerate(tiles, start=1):
        yield t
        if progress:
            progress(i, len(tiles))

"""The motion-adaptive merge (``--network auto``): a residual model's base everywhere, the network only
where the frames disagree.

One pass over the whole image, in windows, computes the base and a map of where a frame the optimal
merge would have used was gated out for disagreeing (`adnet_cli.network.optimal.OptimalMerge.need`). The map
is cleaned of isolated, noise-level disagreement (an opening), grown by the distance over which the
network's output still depends on its input, and feathered. Windows whose core misses the grown mask
keep the base exactly; the others run the network, and the output there is
``mask * network + (1 - mask) * base``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from adnet_cli.choices import DEFAULT_TILE_PAD
from adnet_cli.formats.io import unit_float
from adnet_cli.network.bases import base_and_need as window_base
from adnet_cli.network.bases import bracket_context
from adnet_cli.network.inference import (
    EDGE_CONTEXT,
    MergeOptions,
    Progress,
    Tile,
    bracket_maps,
    merge,
    network_tiles,
    padded_window,
    round_up,
    run_window,
)
from adnet_cli.network.model import ADNet
from adnet_cli.network.preprocess import Convention, build_inputs, to_linear

NEED_FROM = 0.25  # share of the weight gated out from which a pixel needs the network
OPENING = 5  # px: the opening's disc, which removes disagreement smaller than it (noise, JPEG blocks)
# Growth of the mask: the network's output at a pixel depends on the inputs within about the tiles'
# context (its tiled output stays within 1e-4 of the whole image's with DEFAULT_TILE_PAD = 20 px,
# benchmarks/tile_pad.py), so that far beyond the disagreement it sees only agreeing frames. Then a ramp
# to the base. (benchmarks/mask_reach.py measures the reach directly, but there the network also
# reacts to moved content that no frame's gate sees, such as in clipped areas, so it gives no bound.)
GROW = DEFAULT_TILE_PAD
FEATHER = 8
# Window side of `auto` on the CPU (benchmarks/cpu_merge.py --auto-tiles: 64-256 px within noise of
# each other on a 10 % moving bracket, 384 px 1.3x slower): the smaller side fits scattered real masks.
AUTO_TILE = 128
# From this share of the small windows on, `auto` runs the network on `everywhere`'s large windows
# instead (and blends as usual): with 64 of 64 windows to run, the small ones took 1.2-1.6x the large
# ones' time at 12 px of context, more at 20 (benchmarks/cpu_merge.py --adaptive, hand-held brackets).
WHOLE_TILING_FROM = 0.75
SHAKE_SHARE = 0.9  # share of pixels in the mask from which a bracket looks hand-held (shake_hint)
BASE_TILE, BASE_PAD = 512, 4  # windows of the base pass: its 3 x 3 and 5 x 5 neighbourhoods need 3 px


@dataclass(frozen=True)
class NetworkStats:
    """What the network did in a merge: windows planned and run, and the share of pixels the mask
    covers (mask > 0). ``everywhere`` runs every window (share 1)."""

    mode: str
    windows: int
    ran: int
    masked: float

    def summary(self) -> str:
        if self.mode == "everywhere":
            return f"network: everywhere, {self.windows} window{'s' * (self.windows != 1)}"
        return (f"network: auto, ran on {self.ran} of {self.windows} windows "
                f"({100 * self.masked:.1f} % of pixels where the frames disagree, grown by {GROW} px)")

    def shake_hint(self, aligned: bool) -> str | None:
        """A line for an unaligned bracket whose mask covers almost every pixel, as a hand-held one's
        does (benchmarks/cpu_merge.py --adaptive: every window runs, and --align gains 1-2.7 dB); None
        otherwise."""
        if aligned or self.mode != "auto" or self.masked < SHAKE_SHARE:
            return None
        return (f"the frames disagree on {100 * self.masked:.0f} % of the pixels: if the camera moved between "
                "frames, --align registers them first")


def tiled(frames: np.ndarray, channels: int, compute: Callable[[torch.Tensor], torch.Tensor],
          device: torch.device) -> np.ndarray:
    """A per-pixel (or 3 x 3 / 5 x 5-local) function of the frames over the whole image, one BASE_TILE
    window at a time (with the mirrored border and BASE_PAD of context, as the network's windows).

    frames: (N, H, W, 3) as `adnet_cli.network.inference.merge` takes them. compute: (1, N, 3, h, w) float32
    in [0, 1] on `device` -> (1, channels, h, w). Returns (Hc, Wc, channels) float32 over the image
    rounded up to multiples of 4."""
    core = (round_up(frames.shape[1]), round_up(frames.shape[2]))
    padded = (core[0] + 2 * EDGE_CONTEXT, core[1] + 2 * EDGE_CONTEXT)
    out = np.empty((*core, channels), np.float32)
    with torch.inference_mode():
        for t in network_tiles(core, padded, BASE_TILE, BASE_PAD):
            ldrs = torch.from_numpy(unit_float(padded_window(frames, t))).to(device).permute(0, 3, 1, 2).unsqueeze(0)
            y, x = _core(t)
            out[_image(t)] = compute(ldrs)[0].permute(1, 2, 0)[y, x].cpu().numpy()
    return out


def base_and_need(model: ADNet, frames: np.ndarray, exposures: tuple[float, float, float], convention: Convention,
                  device: torch.device, maps: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The model's base, linear (Hc, Wc, 3) float32 on the reference's scale, and the optimal merge's
    need (Hc, Wc) float32 in [0, 1], over the image rounded up to multiples of 4 (as `merge` works).

    frames: (3, H, W, 3) as `adnet_cli.network.inference.merge` takes them; maps: :func:`bracket_maps` of them."""
    maps = maps.to(device)

    def compute(ldrs: torch.Tensor) -> torch.Tensor:
        inputs = build_inputs(ldrs, exposures, convention)
        context = bracket_context(ldrs, exposures, convention, maps=maps)
        out, need = window_base(*inputs, model.config.base, model.linear_power, context)
        return torch.cat((to_linear(out.clamp(min=0), exposures, convention), need), 1)

    both = tiled(frames, 4, compute, device)
    return np.ascontiguousarray(both[..., :3]), np.ascontiguousarray(both[..., 3])


def _core(t: Tile) -> tuple[slice, slice]:
    """The core of tile `t` in its window's coordinates."""
    return slice(t.y0 - t.wy0, t.y1 - t.wy0), slice(t.x0 - t.wx0, t.x1 - t.wx0)


def _image(t: Tile) -> tuple[slice, slice]:
    """The core of tile `t` in image coordinates (tiles are in mirrored-border coordinates)."""
    e = EDGE_CONTEXT
    return slice(t.y0 - e, t.y1 - e), slice(t.x0 - e, t.x1 - e)


def network_mask(need: np.ndarray) -> np.ndarray:
    """Where the network runs: need (H, W) in [0, 1] -> mask (H, W) float32 in [0, 1], 1 within GROW
    px of a pixel that needs the network (after an OPENING px opening) and down to 0 over FEATHER px."""
    wanted = (need > NEED_FROM).astype(np.uint8)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPENING, OPENING))
    wanted = cv2.morphologyEx(wanted, cv2.MORPH_OPEN, disc)
    if not wanted.any():
        return np.zeros(need.shape, np.float32)
    distance = cv2.distanceTransform(1 - wanted, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip((GROW + FEATHER - distance) / FEATHER, 0, 1)
    return (ramp * ramp * (3 - 2 * ramp)).astype(np.float32)


def merge_adaptive(model: ADNet, frames: np.ndarray, exposures: tuple[float, float, float], convention: Convention,
                   device: torch.device, options: MergeOptions = MergeOptions(),
                   progress: Progress | None = None) -> tuple[np.ndarray, NetworkStats]:
    """:func:`adnet_cli.network.inference.merge` with the network only where the frames disagree (the module
    docstring). frames, exposures, convention, device, options: as there; options.tile None means
    AUTO_TILE. progress(done, total) counts the windows that run the network. Returns the (H, W, 3)
    float32 linear HDR and what the network did."""
    height, width = frames.shape[1:3]
    model = model.to(device)
    maps = bracket_maps(frames)
    base, need = base_and_need(model, frames, exposures, convention, device, maps)
    mask = network_mask(need)
    core = base.shape[:2]
    padded = (core[0] + 2 * EDGE_CONTEXT, core[1] + 2 * EDGE_CONTEXT)
    tiles = network_tiles(core, padded, AUTO_TILE if options.tile is None else options.tile, options.tile_pad)
    run = [t for t in tiles if mask[_image(t)].any()]
    if options.tile is None and len(run) >= WHOLE_TILING_FROM * len(tiles):
        return _blend_everywhere(model, frames, exposures, convention, device, options, progress, base, mask, maps)
    if progress:
        progress(0, len(run))
    for i, t in enumerate(run, start=1):
        result = run_window(model, unit_float(padded_window(frames, t)), exposures, convention, device, options, maps)
        y, x = _core(t)
        m = mask[_image(t)][..., None]
        base[_image(t)] = result[y, x] * m + base[_image(t)] * (1 - m)
        if progress:
            progress(i, len(run))
    stats = NetworkStats("auto", len(tiles), len(run), float((mask > 0).mean()))
    return base[:height, :width], stats


def _everywhere(model: ADNet, frames: np.ndarray, exposures: tuple[float, float, float], convention: Convention,
                device: torch.device, options: MergeOptions, progress: Progress | None,
                maps: torch.Tensor | None = None) -> tuple[np.ndarray, int]:
    """`adnet_cli.network.inference.merge` on every window: the (H, W, 3) result and how many windows ran."""
    windows: list[int] = []

    def counted(done: int, total: int) -> None:
        windows[:] = [total]
        if progress:
            progress(done, total)

    hdr = merge(model, frames, exposures, convention, device, options, counted, maps)
    return hdr, windows[0] if windows else 1


def _blend_everywhere(model: ADNet, frames: np.ndarray, exposures: tuple[float, float, float], convention: Convention,
                      device: torch.device, options: MergeOptions, progress: Progress | None, base: np.ndarray,
                      mask: np.ndarray, maps: torch.Tensor) -> tuple[np.ndarray, NetworkStats]:
    """``mask * network + (1 - mask) * base`` with the network run on `everywhere`'s large windows: for
    a mask that touches most small windows (a hand-held bracket), they cost less than the small ones'
    context."""
    height, width = frames.shape[1:3]
    hdr, n = _everywhere(model, frames, exposures, convention, device, options, progress, maps)
    m = mask[:height, :width, None]
    out = hdr * m + base[:height, :width] * (1 - m)
    return out, NetworkStats("auto", n, n, float((mask > 0).mean()))


def run_network(model: ADNet, frames: np.ndarray, exposures: tuple[float, float, float], convention: Convention,
                device: torch.device, options: MergeOptions = MergeOptions(),
                progress: Progress | None = None) -> tuple[np.ndarray, NetworkStats]:
    """The network's merge as `options.network` says: :func:`merge_adaptive` for ``auto`` with a
    residual model, else `adnet_cli.network.inference.merge` on every window (weights of base none have no
    base to fall back on). Arguments and result as :func:`merge_adaptive`."""
    if options.network == "auto" and getattr(getattr(model, "config", None), "base", "none") != "none":
        return merge_adaptive(model, frames, exposures, convention, device, options, progress)
    hdr, n = _everywhere(model, frames, exposures, convention, device, options, progress)
    return hdr, NetworkStats("everywhere", n, n, 1.0)

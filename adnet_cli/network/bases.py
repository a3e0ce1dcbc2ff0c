"""The parameter-free base images a residual ADNet corrects (``ADNetConfig.base``).

Each is a pixelwise (or, for ``deghost`` and ``optimal``, 5 x 5-local) function of the network's
inputs and, for ``optimal``, of a :class:`BracketContext` estimated once from the whole bracket; so
each commutes with tiling (windows carry context) and with the TTA flips and transposes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from adnet_cli import tables
from adnet_cli.choices import BASES  # noqa: F401 - the bases by name, as callers import them here
from adnet_cli.network.gating import BLACK_FROM, BLACK_FULL, CLIPPED, agreement, box_mean, smoothstep
from adnet_cli.network.optimal import OptimalMerge, estimate_maps, optimal_merge
from adnet_cli.network.preprocess import GAMMA, Convention

# Reference-frame LDR levels (max over channels) where the merge base hands over to another frame:
# from SHORT_FROM up to SHORT_FULL the short frame takes over (the reference nears clipping); from
# LONG_FROM down to LONG_FULL the long frame does (the reference sinks into noise and quantisation).
SHORT_FROM, SHORT_FULL = 0.70, 0.95
LONG_FROM, LONG_FULL = 0.25, 0.05


@dataclass(frozen=True)
class BracketContext:
    """What the ``optimal`` base knows of the whole bracket beside a window's pixels.

    scales: (B, 3) float32, each frame's linear radiance per unit of linear signal, in the linear
    form of the network's output domain (so ``scales[:, i] * ldr_i**gamma`` is frame i's estimate).
    gamma: (B,) float32, the exponent taking a frame's LDR values to linear signal.
    maps: (B, 3, 3, optimal.LEVELS) intensity maps of the whole image (:func:`optimal.estimate_maps`),
    or None to estimate them from the window itself (right only where the window is the whole image)."""

    scales: torch.Tensor
    gamma: torch.Tensor
    maps: torch.Tensor | None = None


def bracket_context(ldrs: torch.Tensor, exposures: Sequence[float] | torch.Tensor, convention: Convention,
                    gamma: float | torch.Tensor | None = None, maps: torch.Tensor | bool | None = None) -> BracketContext:
    """The context of a bracket as `adnet_cli.network.preprocess.build_inputs` encodes it with the same arguments.

    ldrs: (B, 3, 3, H, W) in [0, 1] short, medium, long. exposures: (3,) or (B, 3) times. gamma: the
    inputs' gamma (None: the convention's). maps: given, or True to estimate them from `ldrs` here
    (the whole image), or None to leave them to each window. kalantari: channels 3-5 are
    ``ldr**g * t0 / t_i``; ntire: their 2.24th power is ``ldr**2.24 * (t1 / t_i)**(2.24 / g)``."""
    b = ldrs.shape[0]
    t = torch.as_tensor(exposures, dtype=torch.float64).cpu().reshape(-1, 3).expand(b, 3)
    g = torch.as_tensor(GAMMA[convention] if gamma is None else gamma, dtype=torch.float64).cpu().reshape(-1).expand(b)
    if convention == "kalantari":
        scales, power = t[:, :1] / t, g
    else:
        power = torch.full_like(g, GAMMA["ntire"])
        scales = (t[:, 1:2] / t) ** (power / g).unsqueeze(1)
    if maps is True:
        maps = estimate_maps(ldrs, 1)
    return BracketContext(scales.float().to(ldrs.device), power.float().to(ldrs.device),
                          maps if isinstance(maps, torch.Tensor) else None)


def merge_weights(ref_ldr: torch.Tensor, long_ldr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pixel weights (short, reference, long) of the merge base, each (B, 1, H, W), summing to 1.

    ref_ldr, long_ldr: (B, 3, H, W) LDR values in [0, 1]. Triangle-style weights in the manner of
    Kalantari and Ramamoorthi 2017, driven by the reference alone (so moving content follows the
    reference): the short frame where the reference's brightest channel nears clipping, the long frame
    where the reference is dark, unless the long frame is itself near clipping there.
    """
    v = ref_ldr.amax(1, keepdim=True)
    short = smoothstep((v - SHORT_FROM) / (SHORT_FULL - SHORT_FROM))
    long_ok = 1 - smoothstep((long_ldr.amax(1, keepdim=True) - SHORT_FROM) / (SHORT_FULL - SHORT_FROM))
    long = smoothstep((LONG_FROM - v) / (LONG_FROM - LONG_FULL)) * long_ok
    return short, 1 - short - long, long


def optimal_base(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, context: BracketContext) -> OptimalMerge:
    """The ``optimal`` base of three network inputs, its radiance still linear (see `adnet_cli.network.optimal`)."""
    ldrs = torch.stack((x1[:, :3], x2[:, :3], x3[:, :3]), 1)
    return optimal_merge(ldrs, context.scales, context.gamma, 1, context.maps)


def _encoded(radiance: torch.Tensor, linear_power: float) -> torch.Tensor:
    return radiance if linear_power == 1.0 else radiance.clamp(min=0) ** (1 / linear_power)


def base_and_need(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, base: str, linear_power: float,
                  context: BracketContext) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`base_image` (not ``none``) and the optimal merge's need (B, 1, H, W) in [0, 1] (where a
    frame it would have used disagrees), with the optimal merge computed once when it is the base."""
    merged = optimal_base(x1, x2, x3, context)
    image = _encoded(merged.radiance, linear_power) if base == "optimal" else base_image(x1, x2, x3, base, linear_power)
    if image is None:
        raise ValueError("base none has no base image")
    return image, merged.need


def reference_base(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, linear_power: float,
                   context: BracketContext | None) -> torch.Tensor:
    """``reference``: the reference's channels 3-5."""
    return x2[:, 3:]


def merge_base(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, linear_power: float,
               context: BracketContext | None, gated: bool = False) -> torch.Tensor:
    """``merge``: the weighted mean of the three frames' channels 3-5 with :func:`merge_weights`;
    `gated` (``deghost``): each non-reference weight multiplied by its agreement with the reference
    (the rest going to the reference), compared in linear light (channels 3-5 ``** linear_power``)."""
    w1, w2, w3 = merge_weights(x2[:, :3], x3[:, :3])
    if gated:
        # A clipped reference still bounds the short frame from below, so all pixels count there;
        # a clipped long frame bounds nothing the reference can check, so those pixels do not.
        w1 = w1 * agreement(x1[:, 3:], x2[:, 3:], torch.ones_like(w1), True, linear_power)
        long_unclipped = (x3[:, :3].amax(1, keepdim=True) < CLIPPED).to(x3.dtype)
        agree = agreement(x3[:, 3:], x2[:, 3:], long_unclipped, False, linear_power)
        # Where the reference is nearly black it measures nothing to disagree with.
        black = 1 - smoothstep((box_mean(x2[:, :3].amax(1, keepdim=True)) - BLACK_FROM) / (BLACK_FULL - BLACK_FROM))
        w3 = w3 * torch.maximum(agree, black)
        w2 = 1 - w1 - w3
    return w1 * x1[:, 3:] + w2 * x2[:, 3:] + w3 * x3[:, 3:]


def deghost_base(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, linear_power: float,
                 context: BracketContext | None) -> torch.Tensor:
    """``deghost``: :func:`merge_base`, gated: moving content falls back to the reference."""
    return merge_base(x1, x2, x3, linear_power, context, gated=True)


def optimal_base_image(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, linear_power: float,
                       context: BracketContext | None) -> torch.Tensor:
    """``optimal``: the noise-optimal merge, gated through `context`'s intensity maps (required),
    re-encoded in the output domain."""
    if context is None:
        raise ValueError("the optimal base needs the bracket's context (bases.bracket_context)")
    return _encoded(optimal_base(x1, x2, x3, context).radiance, linear_power)


def base_image(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, base: str,
               linear_power: float = 1.0, context: BracketContext | None = None) -> torch.Tensor | None:
    """The parameter-free image a residual model corrects, (B, 3, H, W), or None for ``none``: the
    row of `base` in `adnet_cli.tables.BASES` (:func:`reference_base`, :func:`merge_base`,
    :func:`deghost_base`, :func:`optimal_base_image`).

    x1, x2, x3: network inputs (B, 6, H, W) (see `adnet_cli.network.preprocess.build_inputs`).
    Channels 3-5 of every frame are already in the output domain of both conventions (kalantari:
    linear, 1.0 = the shortest frame's white; ntire: radiance**(1/2.24), 1.0 = the medium frame's
    white), so the base is formed there. linear_power: 1 for kalantari, 2.24 for ntire (what takes
    that domain to linear light). context: the bracket's (:func:`bracket_context`), for ``optimal``.
    """
    made = tables.row(tables.BASES, base, "base").load()
    return None if made is None else made(x1, x2, x3, linear_power, context)

"""The parameter-free base images a residual ADNet corrects (``ADNetConfig.base``).

Each is a pixelwise (or, for ``deghost``, 5 x 5-local) function of the network's inputs, so it commutes
with tiling (windows carry context) and with the TTA flips and transposes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from adnet_cli.choices import BASES

# Reference-frame LDR levels (max over channels) where the merge base hands over to another frame:
# from SHORT_FROM up to SHORT_FULL the short frame takes over (the reference nears clipping); from
# LONG_FROM down to LONG_FULL the long frame does (the reference sinks into noise and quantisation).
SHORT_FROM, SHORT_FULL = 0.70, 0.95
LONG_FROM, LONG_FULL = 0.25, 0.05
# The deghost base trusts a non-reference frame only where its local mean (GATE_WINDOW px square)
# agrees with the reference's: |a - b| / (a + b) up to GATE_FROM (a ratio of 1.22) fully, from
# GATE_FULL (a ratio of 1.5) not at all. Local means, because the reference is noisy exactly where
# the long frame is wanted; moving content differs by far more than noise.
GATE_WINDOW = 5
GATE_FROM, GATE_FULL = 0.1, 0.2
CLIPPED = 0.97  # an LDR value (max over channels) from which a pixel counts as clipped
BLACK_FROM, BLACK_FULL = 0.06, 0.15  # reference LDR levels below which its disagreement stops counting


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return x * x * (3 - 2 * x)


def merge_weights(ref_ldr: torch.Tensor, long_ldr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pixel weights (short, reference, long) of the merge base, each (B, 1, H, W), summing to 1.

    ref_ldr, long_ldr: (B, 3, H, W) LDR values in [0, 1]. Triangle-style weights in the manner of
    Kalantari and Ramamoorthi 2017, driven by the reference alone (so moving content follows the
    reference): the short frame where the reference's brightest channel nears clipping, the long frame
    where the reference is dark, unless the long frame is itself near clipping there.
    """
    v = ref_ldr.amax(1, keepdim=True)
    short = _smoothstep((v - SHORT_FROM) / (SHORT_FULL - SHORT_FROM))
    long_ok = 1 - _smoothstep((long_ldr.amax(1, keepdim=True) - SHORT_FROM) / (SHORT_FULL - SHORT_FROM))
    long = _smoothstep((LONG_FROM - v) / (LONG_FROM - LONG_FULL)) * long_ok
    return short, 1 - short - long, long


def _box(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, GATE_WINDOW, 1, GATE_WINDOW // 2, count_include_pad=False)


def agreement(frame: torch.Tensor, ref: torch.Tensor, valid: torch.Tensor, one_sided: bool = False,
              linear_power: float = 1.0) -> torch.Tensor:
    """How far `frame` can be trusted where it overlaps `ref`: (B, 1, H, W) in [0, 1], 1 = agrees.

    frame, ref: (B, 3, H, W) HDR-domain channels (one radiance scale), linear after ``** linear_power``
    (1 for kalantari, 2.24 for ntire), so the thresholds mean the same ratios of light in both;
    valid: (B, 1, H, W) 1 on the pixels the local means count (the caller leaves out those the
    comparison cannot use). `one_sided`: only a frame darker than the reference disagrees (for the
    short frame, where the reference's clipped pixels bound the radiance from below)."""
    if linear_power != 1.0:
        frame, ref = frame.clamp(min=0) ** linear_power, ref.clamp(min=0) ** linear_power
    count = _box(valid).clamp(min=1e-6)
    a, b = _box(frame.mean(1, keepdim=True) * valid) / count, _box(ref.mean(1, keepdim=True) * valid) / count
    diff = (b - a).clamp(min=0) if one_sided else (a - b).abs()
    return 1 - _smoothstep((diff / (a + b + 1e-8) - GATE_FROM) / (GATE_FULL - GATE_FROM))


def base_image(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, base: str,
               linear_power: float = 1.0) -> torch.Tensor | None:
    """The parameter-free image a residual model corrects, (B, 3, H, W), or None for ``none``.

    x1, x2, x3: network inputs (B, 6, H, W) (see `adnet_cli.preprocess.build_inputs`). Channels 3-5 of
    every frame are already in the output domain of both conventions (kalantari: linear, 1.0 = the
    shortest frame's white; ntire: radiance**(1/2.24), 1.0 = the medium frame's white), so the base is
    formed there: ``reference`` is the reference's channels 3-5; ``merge`` the weighted mean of the
    three frames' channels 3-5 with :func:`merge_weights`; ``deghost`` the same with each
    non-reference weight multiplied by its :func:`agreement` with the reference (the rest going to the
    reference), so moving content falls back to the reference instead of ghosting (compared in
    linear light: channels 3-5 ``** linear_power``, 1 for kalantari and 2.24 for ntire).
    """
    if base == "none":
        return None
    if base == "reference":
        return x2[:, 3:]
    if base in ("merge", "deghost"):
        w1, w2, w3 = merge_weights(x2[:, :3], x3[:, :3])
        if base == "deghost":
            # A clipped reference still bounds the short frame from below, so all pixels count there;
            # a clipped long frame bounds nothing the reference can check, so those pixels do not.
            w1 = w1 * agreement(x1[:, 3:], x2[:, 3:], torch.ones_like(w1), True, linear_power)
            long_unclipped = (x3[:, :3].amax(1, keepdim=True) < CLIPPED).to(x3.dtype)
            agree = agreement(x3[:, 3:], x2[:, 3:], long_unclipped, False, linear_power)
            # Where the reference is nearly black it measures nothing to disagree with.
            black = 1 - _smoothstep((_box(x2[:, :3].amax(1, keepdim=True)) - BLACK_FROM) / (BLACK_FULL - BLACK_FROM))
            w3 = w3 * torch.maximum(agree, black)
            w2 = 1 - w1 - w3
        return w1 * x1[:, 3:] + w2 * x2[:, 3:] + w3 * x3[:, 3:]
    raise ValueError(f"unknown base {base!r}; expected one of {', '.join(BASES)}")

"""Comparing two frames of a bracket on local means: the gate the ``deghost`` and ``optimal`` bases share."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# A frame is trusted only where its local mean (GATE_WINDOW px square) agrees with the reference's:
# |a - b| / (a + b) up to GATE_FROM (a ratio of 1.22) fully, from GATE_FULL (a ratio of 1.5) not at
# all. Local means, because the reference is noisy exactly where the long frame is wanted; moving
# content differs by far more than noise.
GATE_WINDOW = 5
GATE_FROM, GATE_FULL = 0.1, 0.2
CLIPPED = 0.97  # an LDR value (max over channels) from which a pixel counts as clipped
BLACK_FROM, BLACK_FULL = 0.06, 0.15  # reference LDR levels below which its disagreement stops counting


def smoothstep(x: torch.Tensor) -> torch.Tensor:
    """3x^2 - 2x^3 of x clamped to [0, 1]: 0 below 0, 1 above 1, smooth between."""
    x = x.clamp(0, 1)
    return x * x * (3 - 2 * x)


def box_mean(x: torch.Tensor) -> torch.Tensor:
    """GATE_WINDOW x GATE_WINDOW local mean of (B, C, H, W), over the pixels inside the image."""
    return F.avg_pool2d(x, GATE_WINDOW, 1, GATE_WINDOW // 2, count_include_pad=False)


def agreement(frame: torch.Tensor, ref: torch.Tensor, valid: torch.Tensor, one_sided: bool = False,
              linear_power: float = 1.0) -> torch.Tensor:
    """How far `frame` can be trusted where it overlaps `ref`: (B, 1, H, W) in [0, 1], 1 = agrees.

    frame, ref: (B, C, H, W) values on one radiance scale, linear after ``** linear_power`` (so the
    thresholds mean the same ratios of light whatever the encoding); their channel means are compared.
    valid: (B, 1, H, W) 1 on the pixels the local means count (the caller leaves out those the
    comparison cannot use); a window with none of them agrees. `one_sided`: only a frame darker than
    the reference disagrees (where the reference's clipped pixels bound the radiance from below)."""
    if linear_power != 1.0:
        frame, ref = frame.clamp(min=0) ** linear_power, ref.clamp(min=0) ** linear_power
    count = box_mean(valid).clamp(min=1e-6)
    a = box_mean(frame.mean(1, keepdim=True) * valid) / count
    b = box_mean(ref.mean(1, keepdim=True) * valid) / count
    diff = (b - a).clamp(min=0) if one_sided else (a - b).abs()
    return 1 - smoothstep((diff / (a + b + 1e-8) - GATE_FROM) / (GATE_FULL - GATE_FROM))

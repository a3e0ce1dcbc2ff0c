"""The one definition of how brackets enter the network and how its output is read.

Two conventions exist in the literature, and a checkpoint is trained for exactly one:

- ``kalantari`` (SIG17 data, linear ground truth): channels 3-5 of frame i are ``LDR**gamma / t_i``
  with ``t_i`` relative to the shortest exposure (gamma 2.2). The output is linear radiance in units of
  the *shortest* frame's white level.
- ``ntire`` (NTIRE 2021 data, gamma-encoded ground truth): channels 3-5 are
  ``((LDR**2.24) * 2**-ev_rel)**(1/2.24)`` with ``ev_rel`` the frame's EV relative to the medium frame,
  so the medium frame maps to itself. The output is ``radiance**(1/2.24)`` in units of the *medium*
  frame's white level.

Whatever the convention, :func:`to_linear` returns linear radiance on one scale: **1.0 is the radiance
that just saturates the reference (medium) frame**. :func:`from_linear` is its exact inverse and is
what training and evaluation use to express ground truth in the network's output domain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from adnet_cli.choices import CONVENTIONS
from adnet_cli.curves import KALANTARI_GAMMA, NTIRE_GAMMA
from adnet_cli.network.config import Convention

GAMMA: dict[str, float] = {"kalantari": KALANTARI_GAMMA, "ntire": NTIRE_GAMMA}

Exposures = Sequence[float] | torch.Tensor


def _times(exposures: Exposures, batch: int, like: torch.Tensor) -> torch.Tensor:
    """Exposure times as a (B, 3, 1, 1, 1) float64 tensor on the CPU (MPS has no float64); callers
    form ratios in float64 and cast them to `like`'s dtype and device."""
    t = torch.as_tensor(exposures, dtype=torch.float64).cpu()
    if t.ndim == 1:
        t = t.expand(batch, 3)
    if t.shape != (batch, 3):
        raise ValueError(f"exposures must have shape (3,) or ({batch}, 3), got {tuple(t.shape)}")
    if not bool((t > 0).all()):
        raise ValueError("exposure times must be positive")
    return t.view(batch, 3, 1, 1, 1)


def _cast(ratio: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return ratio.to(dtype=like.dtype).to(like.device)


def _gamma(gamma: float | torch.Tensor | None, convention: str, batch: int, like: torch.Tensor) -> torch.Tensor:
    g = GAMMA[convention] if gamma is None else gamma
    return torch.as_tensor(g, dtype=like.dtype, device=like.device).reshape(-1, 1, 1, 1).expand(batch, 1, 1, 1)


def _check(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")


def build_inputs(
    ldrs: torch.Tensor,
    exposures: Exposures,
    convention: Convention,
    gamma: float | torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Network inputs from a bracket.

    ldrs: (B, 3 frames, 3, H, W) float in [0, 1], frames ordered short, medium, long.
    exposures: 3 exposure times (any unit; only ratios matter), or (B, 3) per sample, same order.
    gamma: response gamma (scalar or (B,)); None uses the convention's (2.2 or 2.24). Training passes
    disturbed values here.
    Returns three (B, 6, H, W) tensors: channels 0-2 the LDR frame, 3-5 its HDR-domain mapping.
    """
    _check(convention)
    batch = ldrs.shape[0]
    t = _times(exposures, batch, ldrs)
    g = _gamma(gamma, convention, batch, ldrs)
    ldrs = ldrs.clamp(0, 1)
    outs = []
    for i in range(3):
        ldr = ldrs[:, i]
        if convention == "kalantari":
            scale = _cast(t[:, 0] / t[:, i], ldr)
            mapped = ldr.pow(g) * scale
        else:
            # ((L**g) * 2**-ev)**(1/g) == L * (t_med / t_i)**(1/g): one pow instead of two.
            mapped = ldr * _cast(t[:, 1] / t[:, i], ldr).pow(1.0 / g)
        outs.append(torch.cat((ldr, mapped), dim=1))
    return outs[0], outs[1], outs[2]


def linear_power(convention: Convention) -> float:
    """The power that takes channels 3-5 of :func:`build_inputs` (and the network's output) to linear
    light: 1 for kalantari (already linear), 2.24 for ntire (gamma-encoded)."""
    _check(convention)
    return GAMMA["ntire"] if convention == "ntire" else 1.0


def to_linear(output: torch.Tensor, exposures: Exposures, convention: Convention) -> torch.Tensor:
    """Network output (B, 3, H, W) -> linear radiance (B, 3, H, W), 1.0 = reference frame's white level."""
    _check(convention)
    if convention == "ntire":
        return output.clamp(min=0).pow(GAMMA["ntire"])
    t = _times(exposures, output.shape[0], output)
    return output * _cast(t[:, 1] / t[:, 0], output)


def from_linear(linear: torch.Tensor, exposures: Exposures, convention: Convention) -> torch.Tensor:
    """Inverse of :func:`to_linear`: linear radiance (B, 3, H, W) -> the network's output domain."""
    _check(convention)
    if convention == "ntire":
        return linear.clamp(min=0).pow(1.0 / GAMMA["ntire"])
    t = _times(exposures, linear.shape[0], linear)
    return linear * _cast(t[:, 0] / t[:, 1], linear)

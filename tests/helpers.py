"""Test helpers (plain functions, imported by tests and benchmarks): random-weight models for plumbing
tests, tiny synthetic brackets, and the check that a command failed cleanly."""

from __future__ import annotations

import numpy as np
import torch

from adnet_cli.model import ADNet


def randomise(model: ADNet, seed: int = 0) -> ADNet:
    """Random weights of realistic scale, including non-zero offset predictors (so alignment matters)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 64
            p.copy_(torch.randn(p.shape, generator=gen) * (0.5 / fan_in**0.5))
            if name.endswith("post_conv.2.bias"):
                p.fill_(0.05)  # keep the final ReLU mostly open so outputs are not all zero
    return model.eval()


def synthetic_bracket(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, tuple[float, float, float]]:
    """(3, H, W, 3) float32 frames of one smooth random scene at exposures 1, 4, 16 (static, no noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radiance = np.stack(
        [0.02 + 0.3 * (1 + np.sin(xx / (5 + 3 * c) + yy / 7 + rng.uniform(0, 6))) ** 2 for c in range(3)], -1
    )
    radiance *= rng.uniform(0.5, 2.0, size=(height, width, 1)).astype(np.float32) ** 2
    times = (1.0, 4.0, 16.0)
    frames = np.stack([np.clip(radiance * t / 4, 0, 1) ** (1 / 2.2) for t in times])
    return np.round(frames * 255).astype(np.float32) / 255, times


def fails_cleanly(result, match: str) -> None:
    """A CLI result that exited non-zero with exactly one stderr line containing `match`, no traceback."""
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert match in lines[0], lines[0]
    assert "Traceback" not in result.output

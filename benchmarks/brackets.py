"""Brackets from the realistic camera (tone curves, channel clipping, chroma noise, JPEG) for the
motion-adaptive benchmarks: static, with a share of moving area, and hand-held (camera shake alone).

Dead-leaves scenes only, so nothing outside the repository is needed; every bracket is a function of
its seed.
"""

from __future__ import annotations

import numpy as np

from adnet_cli.training.simulate import Sample, SimulatorConfig, simulate

CAMERA = dict(camera="realistic", ratio_range=(2.0, 16.0))


def static_bracket(height: int, width: int, seed: int = 11) -> Sample:
    """A static bracket of the realistic camera, (3, H, W, 3) 8-bit frames."""
    return simulate(seed, SimulatorConfig(size=height, width=width, static_prob=1.0, **CAMERA))


def with_moving_area(sample: Sample, share: float = 0.1, seed: int = 0) -> tuple[np.ndarray, float]:
    """The bracket's frames with objects that moved between exposures: discs covering about `share` of
    the image, each of whose pixels the short and long frames take from 12-32 px away (their own
    content, so every frame stays radiometrically itself; the reference and the ground truth are
    unchanged). Returns the (3, H, W, 3) frames and the share of pixels the discs cover."""
    rng = np.random.default_rng(seed)
    frames = sample.ldrs.copy()
    height, width = frames.shape[1:3]
    covered = np.zeros((height, width), bool)
    yy, xx = np.mgrid[0:height, 0:width]
    while covered.mean() < share:
        radius = rng.uniform(0.04, 0.1) * min(height, width)
        cy, cx = rng.uniform(radius, height - radius), rng.uniform(radius, width - radius)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        for i in (0, 2):
            dy, dx = (rng.choice([-1, 1], 2) * rng.uniform(12, 32, 2)).astype(int)
            rows, cols = np.clip(yy[disc] + dy, 0, height - 1), np.clip(xx[disc] + dx, 0, width - 1)
            frames[i][disc] = sample.ldrs[i][rows, cols]
        covered |= disc
    return frames, float(covered.mean())


def handheld_bracket(height: int, width: int, seed: int = 21, max_shift: float = 6.0) -> Sample:
    """A hand-held bracket: the short and long frames each shaken by an affine warp (translation up to
    `max_shift` px, rotation up to 1.5 degrees, scale 1 +- 0.02) and nothing else moving."""
    config = SimulatorConfig(size=height, width=width, static_prob=0.0, max_objects=0, max_shift=max_shift, **CAMERA)
    return simulate(seed, config)


def mirror_tiled(frames: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(N, H, W, 3) frames repeated as a rows x cols mosaic of mirrored copies: a large static bracket
    from a small one, seamless (each copy meets its mirror image), with the camera's noise and JPEG."""
    tiles = [[frames[:, :: (-1 if r % 2 else 1), :: (-1 if c % 2 else 1)] for c in range(cols)] for r in range(rows)]
    return np.ascontiguousarray(np.concatenate([np.concatenate(row, axis=2) for row in tiles], axis=1))

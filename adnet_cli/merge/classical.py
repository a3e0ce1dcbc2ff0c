"""Merges without learning, to compare the network with: OpenCV's Debevec and Robertson, the reference
alone, and the noise-optimal merge (`adnet_cli.network.optimal`).

All take the same bracket as the network and return linear radiance on the project's scale
(1.0 = the radiance that just saturates the reference frame), assuming a pure gamma response (the
optimal merge compares frames through intensity maps instead, so its gate does not assume it).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from adnet_cli import tables
from adnet_cli.choices import CLASSICAL_METHODS as METHODS
from adnet_cli.curves import NTIRE_GAMMA
from adnet_cli.formats.io import unit_float


def mertens_fusion(frames: np.ndarray) -> np.ndarray:
    """OpenCV's exposure fusion (Mertens, Kautz & Van Reeth 2007) with its default weights: a display
    image made of the best-exposed parts of each frame, with no radiance and no exposure times.

    frames: (N, H, W, 3) float32 RGB in [0, 1] as displayed (quantised to 8 bits for OpenCV).
    Returns (H, W, 3) float32 RGB in [0, 1].
    """
    images = [np.ascontiguousarray(np.round(np.clip(f, 0, 1) * 255).astype(np.uint8)[..., ::-1]) for f in frames]
    fused = cv2.createMergeMertens().process(images)
    return np.clip(np.ascontiguousarray(fused[..., ::-1]), 0.0, 1.0).astype(np.float32)


def gamma_response(gamma: float) -> np.ndarray:
    """OpenCV camera response for ldr = signal**(1/gamma): (256, 1, 3) float32, code -> linear signal.

    Code 0 maps to the value of code 0.5 so that Debevec's logarithm stays finite.
    """
    codes = np.maximum(np.arange(256, dtype=np.float64), 0.5) / 255.0
    return np.repeat((codes**gamma).astype(np.float32).reshape(256, 1, 1), 3, axis=2)


def medium(frames: np.ndarray, exposures: Sequence[float], gamma: float) -> np.ndarray:
    """The reference frame linearised, saturated pixels left at 1."""
    return np.clip(unit_float(frames[1]), 0, 1) ** np.float32(gamma)


def _opencv_merge(merger: cv2.MergeExposures, frames: np.ndarray, exposures: Sequence[float], gamma: float) -> np.ndarray:
    """OpenCV's weighted merge (Debevec or Robertson) with the gamma response, the reference at t = 1."""
    times = np.asarray(exposures, dtype=np.float32) / np.float32(exposures[1])
    images = [np.ascontiguousarray(np.round(np.clip(unit_float(f), 0, 1) * 255).astype(np.uint8)[..., ::-1])
              for f in frames]
    radiance = merger.process(images, times, gamma_response(gamma))
    return np.ascontiguousarray(radiance[..., ::-1], dtype=np.float32)


def debevec(frames: np.ndarray, exposures: Sequence[float], gamma: float) -> np.ndarray:
    """OpenCV's Debevec merge (Debevec and Malik 1997's weights) with the gamma response."""
    return _opencv_merge(cv2.createMergeDebevec(), frames, exposures, gamma)


def robertson(frames: np.ndarray, exposures: Sequence[float], gamma: float) -> np.ndarray:
    """OpenCV's Robertson merge with the gamma response."""
    return _opencv_merge(cv2.createMergeRobertson(), frames, exposures, gamma)


def optimal(frames: np.ndarray, exposures: Sequence[float], gamma: float) -> np.ndarray:
    """The noise-optimal merge (`adnet_cli.network.optimal`), gated through the bracket's intensity
    maps, in windows; the frames may be uint8/uint16 codes."""
    from adnet_cli.network.adaptive import tiled
    from adnet_cli.network.inference import bracket_maps
    from adnet_cli.network.optimal import optimal_merge

    times = np.asarray(exposures, dtype=np.float64)
    scales = torch.from_numpy(times[1] / times).float().unsqueeze(0)  # reference white = 1
    gammas = torch.tensor([gamma], dtype=torch.float32)
    maps = bracket_maps(frames)
    merged = tiled(frames, 3, lambda ldrs: optimal_merge(ldrs, scales, gammas, 1, maps).radiance, torch.device("cpu"))
    return merged[: frames.shape[1], : frames.shape[2]]


def classical_merge(frames: np.ndarray, exposures: Sequence[float], method: str, gamma: float = NTIRE_GAMMA) -> np.ndarray:
    """Merge without a network.

    frames: (3, H, W, 3) RGB short, medium, long: float32 in [0, 1] or uint8/uint16 codes (quantised
    to 8 bits for OpenCV).
    exposures: exposure times in the same order (any unit).
    method: "debevec" | "robertson" (OpenCV's weighted merges with the gamma response), "medium" (the
    reference frame linearised, saturated pixels left at 1) or "optimal" (the noise-optimal merge of
    `adnet_cli.network.optimal`, moving content gated out; also the ``optimal`` base of residual weights).
    Returns (H, W, 3) float32 linear radiance, 1.0 = reference white level.
    """
    if method not in METHODS:  # each radiance method of the table, by its own row (never another's)
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    return tables.row(tables.METHODS, method, "method").load()(frames, exposures, gamma)

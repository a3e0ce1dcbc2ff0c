"""Classical merges to compare the network with: OpenCV's Debevec and Robertson, or the reference alone.

All take the same bracket as the network and return linear radiance on the project's scale
(1.0 = the radiance that just saturates the reference frame), assuming a pure gamma response.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from adnet_cli.choices import CLASSICAL_METHODS as METHODS


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


def classical_merge(frames: np.ndarray, exposures: Sequence[float], method: str, gamma: float = 2.24) -> np.ndarray:
    """Merge without a network.

    frames: (3, H, W, 3) float32 RGB in [0, 1], short, medium, long (quantised to 8 bits for OpenCV).
    exposures: exposure times in the same order (any unit).
    method: "debevec" | "robertson" (OpenCV's weighted merges with the gamma response) or "medium"
    (the reference frame linearised, saturated pixels left at 1).
    Returns (H, W, 3) float32 linear radiance, 1.0 = reference white level.
    """
    if method == "medium":
        return np.clip(frames[1], 0, 1).astype(np.float32) ** np.float32(gamma)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    times = np.asarray(exposures, dtype=np.float32) / np.float32(exposures[1])  # reference at t = 1
    images = [np.ascontiguousarray(np.round(np.clip(f, 0, 1) * 255).astype(np.uint8)[..., ::-1]) for f in frames]
    merger = cv2.createMergeDebevec() if method == "debevec" else cv2.createMergeRobertson()
    radiance = merger.process(images, times, gamma_response(gamma))
    return np.ascontiguousarray(radiance[..., ::-1], dtype=np.float32)

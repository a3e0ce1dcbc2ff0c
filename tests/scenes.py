"""Scenes for tests: textured linear radiance, and HDR files that stand in for the project's shared
scene sources."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_scene_folder(folder: Path, names: list[str]) -> Path:
    """HDR files of smooth random radiance under the given names (stand-ins for the shared scenes)."""
    from adnet_cli.formats.io import write_hdr_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        yy, xx = np.mgrid[0:96, 0:192].astype(np.float32)
        hdr = np.exp(rng.uniform(-3, 3) * np.sin(xx / rng.uniform(5, 30)) + np.cos(yy / 9))[..., None]
        write_hdr_image(folder / name, np.repeat(hdr, 3, -1) * rng.uniform(0.5, 2, 3).astype(np.float32))
    return folder


def radiance(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 linear radiance with texture and a wide range (about 1:200)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    shading = 0.1 + 0.9 * (0.5 + 0.5 * np.sin(xx / 9 + yy / 13))[..., None] * np.array([1.0, 0.9, 0.8], np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.5)
    return (shading * np.exp(1.2 * texture / texture.std())[..., None] * 0.3).astype(np.float32)

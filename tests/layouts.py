"""Tiny Kalantari / NTIRE datasets written exactly as the real ones are stored.

Every dataset is made from one known linear scene ``radiance`` on the project's scale (1.0 = the
radiance that saturates the medium frame) through a gamma response, so the loaded ground truth can be
checked against it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile

H, W = 8, 12
EVS = (-2.0, 0.0, 2.0)


def radiance(seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 linear radiance in [0.02, 3.5], channels distinct.

    Values above 1 saturate the medium frame; only the short frame (saturating at 4) sees them.
    """
    rng = np.random.default_rng(seed)
    base = np.exp(rng.uniform(np.log(0.02), np.log(3.5), (H, W, 1)))
    tint = rng.uniform(0.6, 1.0, (H, W, 3))
    return (base * tint).astype(np.float32)


def ldr_frames(lin: np.ndarray, evs: tuple[float, ...], bits: int, gamma: float) -> list[np.ndarray]:
    """Integer frames through a gamma response; EVs relative to the middle one (the medium frame)."""
    top = 2**bits - 1
    dtype = np.uint8 if bits == 8 else np.uint16
    out = []
    for ev in evs:
        ldr = np.clip(lin * 2.0 ** (ev - evs[1]), 0, 1) ** (1 / gamma)
        out.append(np.round(ldr * top).astype(dtype))
    return out


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def write_kalantari(folder: Path, lin: np.ndarray, evs: tuple[float, ...], bits: int) -> list[np.ndarray]:
    """A SIG17 scene folder; frames sorted by file name are in ``evs`` order. Returns the integer frames."""
    folder.mkdir(parents=True)
    frames = ldr_frames(lin, evs, bits, 2.2)
    for i, frame in enumerate(frames):
        path = folder / f"262A{2866 + i}.tif"
        if bits == 16:
            tifffile.imwrite(path, frame, photometric="rgb")
        else:
            write_rgb(path, frame)
    (folder / "exposure.txt").write_text("".join(f"{ev:.2f}\n" for ev in evs))
    # Kalantari's ground truth is in units of the shortest frame's white level.
    gt = lin * 2.0 ** (min(evs) - evs[1])
    assert cv2.imwrite(str(folder / "HDRImg.hdr"), np.ascontiguousarray(gt[:, :, ::-1]))
    return frames


def write_ntire(folder: Path, prefix: str, lin: np.ndarray, names: tuple[str, ...]) -> list[np.ndarray]:
    """An NTIRE scene: ``names`` are the short/medium/long file names after ``prefix``."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = ldr_frames(lin, EVS, 8, 2.24)
    for name, frame in zip(names, frames):
        write_rgb(folder / f"{prefix}{name}", frame)
    np.save(folder / f"{prefix}exposures.npy", np.array(EVS, dtype=np.float32))
    gt_gamma = lin ** (1 / 2.24)
    align_ratio = np.float32(65535.0 / gt_gamma.max())
    np.save(folder / f"{prefix}alignratio.npy", align_ratio)
    write_rgb(folder / f"{prefix}gt.png", np.round(gt_gamma * align_ratio).astype(np.uint16))
    return frames

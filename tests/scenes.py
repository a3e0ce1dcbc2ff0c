"""Scene folders for tests: HDR files that stand in for the project's shared scene sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_scene_folder(folder: Path, names: list[str]) -> Path:
    """HDR files of smooth random radiance under the given names (stand-ins for the shared scenes)."""
    from adnet_cli.io import write_hdr_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        yy, xx = np.mgrid[0:96, 0:192].astype(np.float32)
        hdr = np.exp(rng.uniform(-3, 3) * np.sin(xx / rng.uniform(5, 30)) + np.cos(yy / 9))[..., None]
        write_hdr_image(folder / name, np.repeat(hdr, 3, -1) * rng.uniform(0.5, 2, 3).astype(np.float32))
    return folder

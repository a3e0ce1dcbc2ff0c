"""How far the network's output depends on disagreeing frames: the growth of `--network auto`'s mask.

Run from the repository root:
    python benchmarks/mask_reach.py [--weights FILE] [--seeds 3]
A static realistic-camera bracket, and the same bracket with moving discs (benchmarks/brackets.py),
go through the network everywhere (whole image). Beyond the pixels that need the network (the opened
`need` map of `adnet_cli.network.adaptive`), only the moving frames' content differs between the two inputs,
so |out(moving) - out(static)| / peak at distance r from them says how far the network carries a
disagreement. Printed: its maximum over the pixels farther than r, for each r; the smallest r where it
stays below 1e-4 and 1e-3 is what `adaptive.GROW` must reach.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adnet_cli.network import adaptive  # noqa: E402
from adnet_cli.network.adaptive import base_and_need  # noqa: E402
from adnet_cli.network.inference import MergeOptions, bracket_maps, merge  # noqa: E402
from adnet_cli.network.weights import load_weights  # noqa: E402
from adnet_cli.runtime import keep_freed_memory  # noqa: E402
from benchmarks.brackets import static_bracket, with_moving_area  # noqa: E402

RADII = (0, 2, 4, 8, 12, 16, 20, 24, 32, 48)
CPU = torch.device("cpu")


def reach(model, seed: int, side: int) -> list[float]:
    sample = static_bracket(side, side, seed)
    moving, _ = with_moving_area(sample, 0.05, seed)
    options = MergeOptions(tile=0)
    still = merge(model, sample.ldrs, tuple(sample.exposures), "kalantari", CPU, options)
    moved = merge(model, moving, tuple(sample.exposures), "kalantari", CPU, options)
    _, need = base_and_need(model, moving, tuple(sample.exposures), "kalantari", CPU, bracket_maps(moving))
    wanted = (need[:side, :side] > adaptive.NEED_FROM).astype(np.uint8)
    wanted = cv2.morphologyEx(wanted, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (adaptive.OPENING,) * 2))
    distance = cv2.distanceTransform(1 - wanted, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    change = np.abs(moved - still).max(-1) / still.max()
    return [float(change[distance > r].max()) if (distance > r).any() else 0.0 for r in RADII]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--side", type=int, default=384)
    args = parser.parse_args()
    keep_freed_memory()
    loaded = load_weights(args.weights)
    rows = [reach(loaded.model, 40 + s, args.side) for s in range(args.seeds)]
    worst = np.max(rows, axis=0)
    print(f"weights {loaded.path.name}; max |out(moving) - out(static)| / peak beyond r px of the opened need mask")
    print("| r px | " + " | ".join(f"seed {40 + s}" for s in range(args.seeds)) + " | worst |")
    print("|" + " --- |" * (args.seeds + 2))
    for i, r in enumerate(RADII):
        print(f"| {r} | " + " | ".join(f"{row[i]:.1e}" for row in rows) + f" | {worst[i]:.1e} |")
    for bound in (1e-4, 1e-3):
        first = next((r for r, w in zip(RADII, worst) if w < bound), None)
        print(f"below {bound:g} from r = {first} px" if first is not None else f"never below {bound:g} within {RADII[-1]} px")


if __name__ == "__main__":
    main()

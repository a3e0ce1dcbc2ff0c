"""Tiled vs whole-image inference: max difference as a function of the context pad.

Run from the repository root:  python benchmarks/tile_pad.py [--size 160x224] [--tile 64]
Uses a random-weight model (no trained weights are needed to measure seams) on a synthetic bracket,
in float32 (bf16 rounding would hide the seams),
and prints, per pad, max |tiled - whole| / max |whole| and the mean absolute difference relative to
the mean of the whole-image result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adnet_cli.inference import MergeOptions, merge  # noqa: E402
from adnet_cli.model import ADNet  # noqa: E402
from tests.helpers import randomise, synthetic_bracket  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="160x224", help="HxW of the synthetic bracket")
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--pads", default="0,8,16,24,32,48,64")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    frames, times = synthetic_bracket(height, width)
    model = randomise(ADNet(deform_backend="torch"))
    cpu = torch.device("cpu")
    whole = merge(model, frames, times, "kalantari", cpu, MergeOptions(tile=0, dtype=torch.float32))
    print(f"{height}x{width}, tile {args.tile}, random weights; whole-image peak {whole.max():.4g}")
    print(f"{'pad':>4} {'max rel diff':>13} {'mean rel diff':>14} {'time s':>7}")
    for pad in (int(p) for p in args.pads.split(",")):
        start = time.perf_counter()
        tiled = merge(model, frames, times, "kalantari", cpu, MergeOptions(tile=args.tile, tile_pad=pad, dtype=torch.float32))
        diff = np.abs(tiled - whole)
        print(f"{pad:>4} {diff.max() / np.abs(whole).max():>13.2e} {diff.mean() / np.abs(whole).mean():>14.2e}"
              f" {time.perf_counter() - start:>7.2f}")


if __name__ == "__main__":
    main()

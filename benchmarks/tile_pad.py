"""Tiled vs whole-image inference: max difference as a function of the context pad.

Run from the repository root:
    python benchmarks/tile_pad.py [--weights shipped|random|FILE] [--scene example|moving|synthetic] [--tile 64]

The default measures the shipped (trained) weights on the example bracket (`examples/workshop/`,
a real photograph) and on a simulated moving bracket (`--scene moving`, shifts up to 16 px):
trained weights can see further than random ones, and motion makes the offsets reach further, so
the pad is chosen with them. Everything runs in float32 (bf16 rounding would hide the seams). Prints, per pad, max
|tiled - whole| / max |whole| and the mean absolute difference relative to the mean of the
whole-image result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from adnet_cli.formats.io import read_ldr  # noqa: E402
from adnet_cli.network.inference import MergeOptions, merge  # noqa: E402
from adnet_cli.network.model import ADNet  # noqa: E402
from adnet_cli.network.weights import load_weights  # noqa: E402
from adnet_cli.training.simulate import SimulatorConfig, simulate  # noqa: E402
from tests.helpers import randomise, synthetic_bracket  # noqa: E402

EXAMPLE = ROOT / "examples" / "workshop"
EXAMPLE_TIMES = (1 / 100, 1 / 25, 1 / 6)  # the example's EXIF (examples/make_bracket.py)


def scene(name: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    """(3, H, W, 3) float32 frames in [0, 1] and their exposure times."""
    if name == "example":
        frames = np.stack([read_ldr(EXAMPLE / f"{n}.png").pixels for n in ("short", "medium", "long")])
        return frames.astype(np.float32), EXAMPLE_TIMES
    if name == "moving":  # hand-held and moving objects, shifts up to 16 px: offsets reach further
        sample = simulate(7, SimulatorConfig(size=256, width=384, static_prob=0.0, max_shift=16.0))
        return sample.ldrs, tuple(float(t) for t in sample.exposures)
    return synthetic_bracket(256, 384)


def model_of(weights: str) -> tuple[ADNet, str]:
    if weights == "random":
        return randomise(ADNet(deform_backend="torch")), "kalantari"
    loaded = load_weights(None if weights == "shipped" else weights, deform_backend="torch")
    return loaded.model, loaded.convention


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="shipped", help="shipped, random (nf 64) or a weights file")
    parser.add_argument("--scene", default="example", choices=("example", "moving", "synthetic"))
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--pads", default="0,4,8,12,16,24,32,48")
    args = parser.parse_args()
    frames, times = scene(args.scene)
    model, convention = model_of(args.weights)
    model.eval()
    cpu, f32 = torch.device("cpu"), torch.float32
    whole = merge(model, frames, times, convention, cpu, MergeOptions(tile=0, dtype=f32))
    print(f"{args.scene} {frames.shape[2]}x{frames.shape[1]}, tile {args.tile}, weights {args.weights} "
          f"(nf {model.config.nf}); whole-image peak {whole.max():.4g}")
    print(f"{'pad':>4} {'max rel diff':>13} {'mean rel diff':>14} {'time s':>7}")
    for pad in (int(p) for p in args.pads.split(",")):
        start = time.perf_counter()
        tiled = merge(model, frames, times, convention, cpu, MergeOptions(tile=args.tile, tile_pad=pad, dtype=f32))
        diff = np.abs(tiled - whole)
        print(f"{pad:>4} {diff.max() / np.abs(whole).max():>13.2e} {diff.mean() / np.abs(whole).mean():>14.2e}"
              f" {time.perf_counter() - start:>7.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Peak memory and time of one tile window, to size the default tile.

Run from the repository root:
    python benchmarks/tile_memory.py [--sides 128,256,384,512] [--model shipped|paper] [--precision auto]
Each window runs in a fresh subprocess (no TTA, the allocator setting `adnet` uses), so its peak RSS
is its own. `--model shipped` is the shipped weights (their width, nf 32), `paper` the published
width (nf 64) with random weights.
Prints seconds per megapixel, peak RSS above the idle process, and bytes per pixel; the ratio column
compares s/MP with the first side measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import numpy as np, torch
from adnet_cli.runtime import keep_freed_memory, resolve_precision
from adnet_cli.network.inference import MergeOptions, merge
from adnet_cli.network.model import ADNet
from adnet_cli.network.weights import load_weights
from tests.helpers import randomise, synthetic_bracket
side, device = int(sys.argv[1]), torch.device(sys.argv[2])
dtype = resolve_precision(sys.argv[3], device)
keep_freed_memory()
model = randomise(ADNet(deform_backend="torch")) if sys.argv[4] == "paper" else load_weights(None, deform_backend="torch").model
frames, times = synthetic_bracket(side, side)
merge(model, frames[:, :16, :16], times, "kalantari", device, MergeOptions(tile=0, dtype=dtype))  # warm-up
idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
merge(model, frames, times, "kalantari", device, MergeOptions(tile=0, dtype=dtype))
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "idle_kb": idle, "peak_kb": peak}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="128,256,384,512")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", help="auto, float32, bfloat16, float16")
    parser.add_argument("--model", default="shipped", choices=("shipped", "paper"))
    args = parser.parse_args()
    code = CHILD.format(root=str(ROOT))
    print(f"{'side':>5} {'s/MP':>7} {'ratio':>6} {'peak MB':>8} {'B/px':>7}")
    first = None
    for side in (int(s) for s in args.sides.split(",")):
        command = [sys.executable, "-c", code, str(side), args.device, args.precision, args.model]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{side:>5} failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(done.stdout)
        mp = side * side / 1e6
        s_per_mp = r["seconds"] / mp
        first = first or s_per_mp
        extra = (r["peak_kb"] - r["idle_kb"]) * 1024
        print(f"{side:>5} {s_per_mp:>7.1f} {s_per_mp / first:>6.2f} {extra / 2**20:>8.0f} {extra / side**2:>7.0f}")


if __name__ == "__main__":
    main()

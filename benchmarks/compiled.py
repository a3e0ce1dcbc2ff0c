"""Eager against compiled forwards on the CPU: cold (first call, compilation included) and warm.

Run from the repository root:
    python benchmarks/compiled.py [--side 352] [--modes eager,jit-freeze,compile]

One window of the shipped weights' network (random inputs, float32), each mode in a fresh process:
``eager`` is what `adnet merge` runs; ``jit-freeze`` is torch.jit.trace + torch.jit.freeze;
``compile`` is torch.compile (inductor) with its weight freezing on. Printed per mode: the first
call's seconds (tracing or compiling included), the best warm s/MP of 3 calls, the max difference
to eager relative to its peak, and the s/MP a 4 MP and a 24 MP merge would average with the first
call's extra time spread over their windows (as many as the default tiles give a 2048 x 2048 and
a 6000 x 4000 bracket). A mode worth using has a warm rate below eager's and an amortised rate below
eager's at the size it is used for.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {4: (2048, 2048), 24: (4000, 6000)}


def default_windows(sizes: dict[int, tuple[int, int]]) -> dict[int, int]:
    """Windows `adnet merge` runs for images of these sizes with the shipped weights' defaults."""
    sys.path.insert(0, str(ROOT))
    import torch

    from adnet_cli.choices import DEFAULT_TILE_PAD
    from adnet_cli.network.inference import default_tile, plan_tiles
    from adnet_cli.network.weights import load_weights
    from adnet_cli.runtime import resolve_precision

    cpu = torch.device("cpu")
    nf = load_weights(None).model.config.nf
    tile = default_tile(cpu, DEFAULT_TILE_PAD, resolve_precision("auto", cpu), nf)
    return {size: len(plan_tiles(*shape, tile, DEFAULT_TILE_PAD)) for size, shape in sizes.items()}


def worker(mode: str, side: int) -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    from adnet_cli.network.weights import load_weights
    from adnet_cli.runtime import keep_freed_memory

    warnings.simplefilter("ignore")
    keep_freed_memory()
    model = load_weights(None, deform_backend="torch").model
    xs = [torch.rand(1, 6, side, side, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    with torch.inference_mode():
        reference = model(*xs)
    with torch.no_grad():
        start = time.perf_counter()
        if mode == "jit-freeze":
            run = torch.jit.freeze(torch.jit.trace(model.eval(), xs, check_trace=False))
        elif mode == "compile":
            import torch._inductor.config

            torch._inductor.config.freezing = True
            run = torch.compile(model)
        else:
            run = model
        out = run(*xs)
        first = time.perf_counter() - start
        warm = []
        for _ in range(3):
            start = time.perf_counter()
            run(*xs)
            warm.append(time.perf_counter() - start)
    diff = float((out - reference).abs().max() / reference.abs().max())
    print(json.dumps({"first": first, "warm": min(warm), "diff": diff}))


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=352)
    parser.add_argument("--modes", default="eager,jit-freeze,compile")
    args = parser.parse_args()
    mp = args.side**2 / 1e6
    windows = default_windows(SIZES)
    print(f"windows of a default merge: {windows[4]} at 4 MP, {windows[24]} at 24 MP")
    print(f"{'mode':<11} {'first s':>8} {'warm s/MP':>10} {'max diff':>9} {'4 MP s/MP':>10} {'24 MP s/MP':>11}")
    for mode in args.modes.split(","):
        done = subprocess.run([sys.executable, __file__, "--worker", mode, str(args.side)], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{mode:<11} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        extra = r["first"] - r["warm"]
        amortised = [(r["warm"] * n + extra) / (n * mp) for n in windows.values()]
        print(f"{mode:<11} {r['first']:>8.1f} {r['warm'] / mp:>10.1f} {r['diff']:>9.1e} {amortised[0]:>10.1f}"
              f" {amortised[1]:>11.1f}", flush=True)


if __name__ == "__main__":
    main()

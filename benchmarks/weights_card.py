"""Scores for a weights card: a checkpoint against classical merges on the fixed synthetic validation set.

Run from the repository root:
    python benchmarks/weights_card.py weights/adnet-synthetic.safetensors [--count 8] [--size 256]
Prints PSNR-mu and PSNR-l (Kalantari style, see adnet_cli/validation.py) for the checkpoint, OpenCV's
Debevec and Robertson merges and the medium frame alone, each run in this process on the same set,
plus the checkpoint's difference to the best classical method.
"""

from __future__ import annotations

import argparse
import time

import torch

from adnet_cli.classical import METHODS
from adnet_cli.validation import score, score_method, validation_set
from adnet_cli.weights import load_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    samples = validation_set(args.count, args.size)
    loaded = load_weights(args.weights)
    start = time.perf_counter()
    rows = {"adnet (" + loaded.path.name + ")": score(loaded.model, samples, loaded.convention, torch.device("cpu"))}
    seconds = time.perf_counter() - start
    rows.update({m: score_method(samples, m) for m in METHODS})
    print(f"fixed synthetic validation set: {args.count} brackets of {args.size}x{args.size}")
    print(f"{'method':<40} {'PSNR-mu dB':>10} {'PSNR-l dB':>10}")
    for name, s in rows.items():
        print(f"{name:<40} {s['psnr_mu']:>10.2f} {s['psnr_l']:>10.2f}")
    best = max(METHODS, key=lambda m: rows[m]["psnr_mu"])
    ours = next(iter(rows.values()))
    print(f"adnet - {best} (best classical by PSNR-mu): {ours['psnr_mu'] - rows[best]['psnr_mu']:+.2f} dB PSNR-mu,"
          f" {ours['psnr_l'] - rows[best]['psnr_l']:+.2f} dB PSNR-l; network time {seconds:.1f} s")


if __name__ == "__main__":
    main()

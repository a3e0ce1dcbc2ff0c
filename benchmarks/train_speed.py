"""Training-step speed on this machine: crops/s and px/s of one optimiser step, ratios to float32 eager.

Run from the repository root (one run, every row measured in this process, same batches):
    python benchmarks/train_speed.py [--crop 128] [--batch 4] [--steps 2] [--rows fp32,bf16,...]
Rows: fp32 (baseline: float32 eager, NCHW, torch's default threads), bf16 (bfloat16 autocast on the
forward), channels-last (float32, model and inputs channels_last), threads-1 (one intra-op thread),
small-fp32 (nf 32, growth 16), compile (torch.compile of the model, inductor; its first step is
reported apart as the compile time). Each row: one warm-up step, then the median of --steps steps.
The bf16 row also reports the largest relative difference of its gradients to float32's on one batch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.network.preprocess import build_inputs
from adnet_cli.runtime import native_bf16
from adnet_cli.training.train import hdr_loss
from adnet_cli.training.train_data import DataSpec, SampleSource, make_batch

ROWS = ("fp32", "bf16", "channels-last", "threads-1", "small-fp32", "compile")


def _step(model, optimizer, batch, dtype, channels_last: bool) -> float:
    start = time.perf_counter()
    inputs = build_inputs(batch.ldrs, batch.exposures, "kalantari")
    if channels_last:
        inputs = tuple(x.contiguous(memory_format=torch.channels_last) for x in inputs)
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        pred = model(*inputs)
    loss = hdr_loss(pred.float(), batch.hdr, batch.exposures, "kalantari")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def _gradients(config: ADNetConfig, batch, dtype) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = ADNet(config, deform_backend="torch")
    torch.nn.init.normal_(model.post_conv[2].weight, std=0.01)  # a live residual: every layer gets a gradient
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        pred = model(*build_inputs(batch.ldrs, batch.exposures, "kalantari"))
    hdr_loss(pred.float(), batch.hdr, batch.exposures, "kalantari").backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def measure(row: str, batches: list, steps: int) -> tuple[float, float | None]:
    """Median seconds per step of `row` and, for compile, the first (compiling) step's seconds."""
    config = ADNetConfig(nf=32, growth=16, base="merge") if row == "small-fp32" else ADNetConfig(base="merge")
    threads = torch.get_num_threads()
    if row == "threads-1":
        torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ADNet(config, deform_backend="torch").train()
    channels_last = row == "channels-last"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    run = torch.compile(model) if row == "compile" else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    dtype = torch.bfloat16 if row == "bf16" else None
    try:
        first = _step(run, optimizer, batches[0], dtype, channels_last)
        times = [_step(run, optimizer, batches[1 + i % (len(batches) - 1)], dtype, channels_last) for i in range(steps)]
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times), (first if row == "compile" else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--rows", default=",".join(ROWS))
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown or rows[:1] != ["fp32"]:
        parser.error(f"rows must start with fp32 (the baseline) and come from {', '.join(ROWS)}")
    source = SampleSource([DataSpec.parse("synthetic")], args.crop, 2.2)
    batches = [make_batch(source, 0, step, 0, args.batch) for step in range(3)]
    px = args.batch * args.crop**2
    print(f"train step, batch {args.batch} x {args.crop}x{args.crop}, base merge, {torch.get_num_threads()} threads, "
          f"native bf16: {'yes' if native_bf16() else 'no'}, torch {torch.__version__}")
    print(f"{'row':<14} {'s/step':>8} {'crops/s':>8} {'Mpx/s':>8} {'x fp32':>7}  note")
    base = None
    for row in rows:
        seconds, first = measure(row, batches, args.steps)
        base = base or seconds
        note = f"first (compiling) step {first:.1f} s" if first is not None else ""
        if row == "bf16":
            config = ADNetConfig(nf=16, growth=8, dense_layers=2, groups=2, base="merge")
            ref, low = _gradients(config, batches[0], None), _gradients(config, batches[0], torch.bfloat16)
            rel = max(float((a - b).norm() / a.norm().clamp(min=1e-12)) for a, b in zip(ref, low))
            note = f"largest per-tensor relative gradient difference to fp32 (small model): {rel:.3f}"
        print(f"{row:<14} {seconds:>8.2f} {args.batch / seconds:>8.3f} {px / seconds / 1e6:>8.4f} "
              f"{base / seconds:>7.2f}  {note}", flush=True)


if __name__ == "__main__":
    main()

"""CPU speed and memory of `adnet merge` against a plain baseline measured in the same run.

Run from the repository root:
    python benchmarks/cpu_merge.py [--sizes 0.25,1,4] [--configs baseline,default,float32,...]
    python benchmarks/cpu_merge.py --quality       # bf16 vs float32 PSNR-mu, shipped weights, validation set
    python benchmarks/cpu_merge.py --24mp          # one 6000x4000 bracket through the `adnet merge` CLI

Every (config, size) runs in a fresh subprocess so its peak RSS is its own; speed runs use random
weights on a synthetic bracket (speed does not depend on the weights). Printed per run: seconds per
megapixel, peak RSS of the process doing the work, the ratio of its s/MP to the baseline's, the
fraction of the compute floor it reaches (the network's FLOPs at the 3x3-conv rate measured in this
run, fp32 or bf16 to match the run), and its max |difference| to the baseline's output relative to
the output's peak. The baseline is a plain eager port: float32, whole image, the simplest
grid_sample deformable convolution (kept below), glibc's default allocator.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from adnet_cli import ops  # noqa: E402
from adnet_cli.inference import MergeOptions, merge  # noqa: E402
from adnet_cli.model import ADNet  # noqa: E402
from adnet_cli.runtime import (  # noqa: E402
    keep_freed_memory,  # noqa: E402
    precision_label,
    resolve_precision,
)
from tests.helpers import randomise, synthetic_bracket  # noqa: E402

# name -> (MergeOptions fields, with the precision by name; keep freed memory; baseline deform op)
CONFIGS: dict[str, tuple[dict, bool, bool]] = {
    "baseline": ({"tile": 0, "precision": "float32"}, False, True),
    "default": ({}, True, False),
    "float32": ({"precision": "float32"}, True, False),
    "bfloat16": ({"precision": "bfloat16"}, True, False),
    "whole-image": ({"tile": 0}, True, False),
    "no-allocator": ({}, False, False),
    "tta": ({"tta": True}, True, False),
}
SIDES = {0.25: (512, 512), 1.0: (1024, 1024), 4.0: (2048, 2048)}
# A whole-image window needs 5-12 KB per pixel: 4 MP would need 20-50 GB.
WHOLE_IMAGE_MAX_MP = 1.0


def baseline_deform_conv(x, offset, mask, weight, bias, padding, dilation, g, hout, wout):
    """The plain port: one grid_sample over every kernel point of the whole image, fp32 throughout."""
    b, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    k = kh * kw
    ki = torch.arange(kh, dtype=x.dtype).repeat_interleave(kw) * dilation
    kj = torch.arange(kw, dtype=x.dtype).repeat(kh) * dilation
    oy = torch.arange(hout, dtype=x.dtype) - padding
    ox = torch.arange(wout, dtype=x.dtype) - padding
    off = offset.reshape(b, g, k, 2, hout, wout)
    py = oy.view(hout, 1) + ki.view(k, 1, 1) + off[:, :, :, 0]
    px = ox.view(1, wout) + kj.view(k, 1, 1) + off[:, :, :, 1]
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1).reshape(b * g, k * hout, wout, 2)
    sampled = F.grid_sample(x.reshape(b * g, cin // g, h, w), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    cols = sampled.view(b, g, cin // g, k, hout * wout) * mask.view(b, g, 1, k, hout * wout)
    out = torch.matmul(weight.reshape(cout, cin * k), cols.reshape(b, cin * k, hout * wout))
    return out.view(b, cout, hout, wout) + bias.view(1, cout, 1, 1)


def worker(config: str, height: int, width: int, out_path: str) -> None:
    """Run one merge in this process and print a JSON line with its time and peak RSS."""
    fields, allocator, plain_op = CONFIGS[config]
    if allocator:
        keep_freed_memory()
    if plain_op:
        ops._deform_conv_torch = baseline_deform_conv
    model = randomise(ADNet(deform_backend="torch"))
    frames, times = synthetic_bracket(height, width)
    cpu, fields = torch.device("cpu"), dict(fields)
    dtype = resolve_precision(fields.pop("precision", "auto"), cpu)
    options = MergeOptions(**fields, dtype=dtype)
    merge(model, frames[:, :64, :64], times, "kalantari", cpu, options)  # warm-up: oneDNN kernels, weight casts
    start = time.perf_counter()
    out = merge(model, frames, times, "kalantari", cpu, options)
    seconds = time.perf_counter() - start
    np.save(out_path, out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "dtype": precision_label(options.dtype)}))


def network_gflop_per_mp() -> float:
    """FLOPs of one forward per megapixel: every convolution plus the deformable convs' products."""
    model, flop = ADNet(deform_backend="torch"), [0.0]

    def count(module, inputs, output):
        weight = module.weight
        flop[0] += 2 * weight[0].numel() * output.shape[-1] * output.shape[-2] * output.shape[1]

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) or type(module).__name__ == "DCNPack":
            module.register_forward_hook(count)
    side = 256
    with torch.inference_mode():
        model(*(torch.rand(1, 6, side, side) for _ in range(3)))
    return flop[0] / (side * side / 1e6) / 1e9


def conv_gflops(dtype: torch.dtype) -> float:
    """Measured rate of a 3x3 64->64 convolution on a 256x256 map (the network's commonest layer)."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(1, 64, 256, 256)
    flop = 2 * 64 * 64 * 9 * 256 * 256
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        conv(x)
        best = min(_timed(lambda: conv(x)) for _ in range(5))
    return flop / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _run(config: str, mp: float, tmp: Path) -> dict | None:
    height, width = SIDES[mp]
    out = tmp / f"{config}-{mp}.npy"
    cmd = [sys.executable, __file__, "--worker", config, str(height), str(width), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{config} at {mp} MP failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["out"] = out
    return result


def speed_table(sizes: list[float], configs: list[str]) -> None:
    keep_freed_memory()
    gflop = network_gflop_per_mp()
    rates = {"float32": conv_gflops(torch.float32), "bfloat16": conv_gflops(torch.bfloat16)}
    print(f"network: {gflop / 1000:.2f} TFLOP per MP; 3x3 64->64 conv: {rates['float32']:.0f} GFLOP/s fp32, "
          f"{rates['bfloat16']:.0f} GFLOP/s bf16 -> floors {gflop / rates['float32']:.1f} / "
          f"{gflop / rates['bfloat16']:.1f} s/MP; {torch.get_num_threads()} threads")
    print(f"{'MP':>5} {'config':<13} {'s/MP':>6} {'x base':>7} {'floor':>6} {'peak MB':>8} {'max diff':>9}")
    base_rate, ref = None, None
    with tempfile.TemporaryDirectory() as tmp:
        for mp in sizes:
            for config in configs:
                if CONFIGS[config][0].get("tile") == 0 and mp > WHOLE_IMAGE_MAX_MP:
                    print(f"{mp:>5} {config:<13} not run: a whole-image window of {mp:g} MP needs > 20 GB")
                    continue
                r = _run(config, mp, Path(tmp))
                if r is None:
                    continue
                rate = r["seconds"] / mp
                if config == "baseline":
                    base_rate, ref = rate, np.load(r["out"])
                elif ref is not None and ref.shape[0] != SIDES[mp][0]:
                    ref = None  # the baseline did not run at this size
                tta = 4 if CONFIGS[config][0].get("tta") else 1
                floor = gflop * tta / rates[r["dtype"]] / rate
                ratio = f"{base_rate / rate:.2f}" if base_rate else "-"
                diff = "-" if ref is None or tta > 1 else \
                    f"{np.abs(np.load(r['out']) - ref).max() / np.abs(ref).max():.1e}"
                print(f"{mp:>5} {config:<13} {rate:>6.1f} {ratio:>7} {floor:>6.2f} {r['peak_mb']:>8.0f} {diff:>9}",
                      flush=True)
    print("x base: the baseline's s/MP over this s/MP, against the baseline at the same size, or at the largest"
          " size it ran (its s/MP only grows with size); floor: share of the conv-rate floor reached;"
          " max diff: max |this - baseline| / max |baseline|")


def quality() -> None:
    """PSNR-mu / PSNR-l of the shipped weights in float32 and bfloat16 on the fixed validation set."""
    from adnet_cli.validation import score, scoring_engine, validation_set
    from adnet_cli.weights import load_weights

    keep_freed_memory()
    samples = validation_set(8, 256)
    loaded = load_weights(None)
    cpu, found = torch.device("cpu"), {}
    for precision in ("float32", "bfloat16"):
        start = time.perf_counter()
        found[precision] = score(scoring_engine(loaded.model, loaded.convention, cpu, getattr(torch, precision)), samples)["all"]
        found[precision]["seconds"] = time.perf_counter() - start
        print(f"{precision:<9} PSNR-mu {found[precision]['psnr_mu']:.3f} dB  PSNR-l {found[precision]['psnr_l']:.3f} dB"
              f"  {found[precision]['seconds']:.1f} s", flush=True)
    d = {k: found["bfloat16"][k] - found["float32"][k] for k in ("psnr_mu", "psnr_l")}
    print(f"bfloat16 - float32: {d['psnr_mu']:+.3f} dB PSNR-mu, {d['psnr_l']:+.3f} dB PSNR-l, "
          f"speed x{found['float32']['seconds'] / found['bfloat16']['seconds']:.2f}")


def write_bracket(folder: str, height: int, width: int) -> None:
    """Write short/medium/long.png of a synthetic scene (run in a child: see big())."""
    import cv2

    frames, _ = synthetic_bracket(height, width)
    for name, frame in zip(("short", "medium", "long"), frames):
        cv2.imwrite(str(Path(folder) / f"{name}.png"), np.round(frame[..., ::-1] * 255).astype(np.uint8))


def big(height: int = 4000, width: int = 6000) -> None:
    """One 24 MP bracket through the real CLI (default settings, shipped weights): time and peak RSS.

    The bracket is written by another child, and the peak is the CLI child's own (os.wait4): a forked
    child starts with its parent's RSS, so a process that held the float frames would set it."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, __file__, "--write-bracket", tmp, str(height), str(width)], check=True)
        names = [f"{tmp}/{name}.png" for name in ("short", "medium", "long")]
        cmd = [str(Path(sys.executable).with_name("adnet")), "merge", *names, "-e", "1,4,16",
               "-o", f"{tmp}/out.exr", "--preview", f"{tmp}/out.png", "--quiet"]
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        errors = child.stderr.read()
        _, status_code, usage = os.wait4(child.pid, 0)  # this child's own peak, not the writer's
        seconds = time.perf_counter() - start
        peak = usage.ru_maxrss / 1024
    status = "ok" if status_code == 0 else f"failed: {errors.strip()}"
    print(f"{width}x{height} ({height * width / 1e6:.0f} MP) `adnet merge` defaults: {seconds:.0f} s "
          f"({seconds / (height * width / 1e6):.1f} s/MP), peak RSS {peak:.0f} MB, {status}")


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    if sys.argv[1:2] == ["--write-bracket"]:
        write_bracket(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.25,1,4", help="megapixels, from 0.25, 1, 4")
    parser.add_argument("--configs", default="baseline,default,float32,whole-image,no-allocator")
    parser.add_argument("--quality", action="store_true", help="bf16 vs float32 on the validation set")
    parser.add_argument("--24mp", dest="big", action="store_true", help="one 6000x4000 bracket via the CLI")
    args = parser.parse_args()
    if args.quality:
        quality()
    elif args.big:
        big()
    else:
        speed_table([float(s) for s in args.sizes.split(",")], args.configs.split(","))


if __name__ == "__main__":
    main()

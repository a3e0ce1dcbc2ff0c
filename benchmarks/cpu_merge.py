"""CPU speed and memory of `adnet merge` against a plain baseline measured in the same run.

Run from the repository root:
    python benchmarks/cpu_merge.py [--model shipped|paper] [--sizes 0.25,1,4] [--configs baseline,default,...]
    python benchmarks/cpu_merge.py --quality       # bf16 vs float32 PSNR-mu, shipped weights, validation set
    python benchmarks/cpu_merge.py --24mp          # one 6000x4000 bracket through the `adnet merge` CLI
    python benchmarks/cpu_merge.py --startup       # `adnet merge` of a tiny bracket against `import torch`
    python benchmarks/cpu_merge.py --adaptive [--weights FILE] [--mp 1]  # --network auto vs everywhere, shake
    python benchmarks/cpu_merge.py --auto-tiles [--weights FILE]         # the window side of --network auto

`--model shipped` runs the shipped weights (their width, nf 32); `paper` the published width (nf 64)
with random weights (speed does not depend on the weights). Every (config, size) runs in a fresh
subprocess so its peak RSS is its own, on a synthetic bracket. Printed per run: seconds per
megapixel, peak RSS of the process doing the work, the ratio of its s/MP to the baseline's, its
s/MP over the compute floor measured in this run (`benchmarks/floor.py`: the network's
convolutions alone, each in its faster layout, in the run's dtype), and its max |difference| to the
baseline's output relative to the output's peak. The baseline is a plain eager port: float32, whole
image, the autograd path's out-of-place concatenations and additions, the simplest grid_sample
deformable convolution (kept below), glibc's default allocator. `before-tiles` is the tiling of the
previous default: 32 px of context and the largest tile whose window fits the CPU budget.
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
from adnet_cli.network import model as model_module  # noqa: E402
from adnet_cli.network import ops  # noqa: E402
from adnet_cli.network.inference import CPU_WINDOW_BYTES, MergeOptions, merge, window_bytes_per_pixel  # noqa: E402
from adnet_cli.runtime import keep_freed_memory, native_bf16, precision_label, resolve_precision  # noqa: E402
from benchmarks.floor import describe, floors, model_of  # noqa: E402
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
    "before-tiles": ({"tile_pad": 32}, True, False),  # the tiles of the previous default (see worker)
}
PREVIOUS_PAD = 32  # the context the default had before it was measured (benchmarks/tile_pad.py)
SIDES = {0.25: (512, 512), 1.0: (1024, 1024), 4.0: (2048, 2048)}
FLOOR_SIDE = 384  # about the default window (a 384 px tile and its context)
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


def worker(config: str, model_name: str, height: int, width: int, out_path: str) -> None:
    """Run one merge in this process and print a JSON line with its time and peak RSS."""
    fields, allocator, plain = CONFIGS[config]
    if allocator:
        keep_freed_memory()
    if plain:
        ops._deform_conv_torch = baseline_deform_conv
        model_module._inference = lambda: False  # the out-of-place forms, as a plain port has them
    model = model_of(model_name)
    model = randomise(model) if model_name == "paper" else model
    frames, times = synthetic_bracket(height, width)
    cpu, fields = torch.device("cpu"), dict(fields)
    dtype = resolve_precision(fields.pop("precision", "auto"), cpu)
    if config == "before-tiles":  # the previous rule: the largest window in the budget, pad 32
        side = int((CPU_WINDOW_BYTES / window_bytes_per_pixel(cpu, dtype, model.config.nf)) ** 0.5)
        fields["tile"] = (side - 2 * PREVIOUS_PAD) // 64 * 64
    options = MergeOptions(**fields, dtype=dtype)
    merge(model, frames[:, :64, :64], times, "kalantari", cpu, options)  # warm-up: oneDNN kernels, weight casts
    start = time.perf_counter()
    out = merge(model, frames, times, "kalantari", cpu, options)
    seconds = time.perf_counter() - start
    np.save(out_path, out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "dtype": precision_label(options.dtype)}))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _run(config: str, model_name: str, mp: float, tmp: Path) -> dict | None:
    height, width = SIDES[mp]
    out = tmp / f"{config}-{mp}.npy"
    cmd = [sys.executable, __file__, "--worker", config, model_name, str(height), str(width), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{config} at {mp} MP failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["out"] = out
    return result


def speed_table(model_name: str, sizes: list[float], configs: list[str], bf16_floor: bool) -> None:
    keep_freed_memory()
    model = model_of(model_name)
    floor = floors(model, FLOOR_SIDE, ("float32", "bfloat16") if native_bf16() or bf16_floor else ("float32",))
    print(f"{model_name} network (nf {model.config.nf}), {torch.get_num_threads()} threads, native bf16: "
          f"{native_bf16()}; floor at a {FLOOR_SIDE} px window:\n{describe(floor)}")
    best = min(v for k, v in floor.items() if k.endswith("/best"))
    print(f"{'MP':>5} {'config':<13} {'s/MP':>6} {'x base':>7} {'/floor':>6} {'/best':>6} {'peak MB':>8} {'max diff':>9}")
    base_rate, ref = None, None
    with tempfile.TemporaryDirectory() as tmp:
        for mp in sizes:
            for config in configs:
                if CONFIGS[config][0].get("tile") == 0 and mp > WHOLE_IMAGE_MAX_MP:
                    print(f"{mp:>5} {config:<13} not run: a whole-image window of {mp:g} MP needs > 20 GB")
                    continue
                if CONFIGS[config][0].get("precision") == "bfloat16" and not native_bf16() and mp > 0.25:
                    print(f"{mp:>5} {config:<13} not run: bfloat16 is emulated on this CPU (see the floor)")
                    continue
                r = _run(config, model_name, mp, Path(tmp))
                if r is None:
                    continue
                rate = r["seconds"] / mp
                if config == "baseline":
                    base_rate, ref = rate, np.load(r["out"])
                elif ref is not None and ref.shape[0] != SIDES[mp][0]:
                    ref = None  # the baseline did not run at this size
                tta = 4 if CONFIGS[config][0].get("tta") else 1
                over = rate / (floor.get(f"{r['dtype']}/best", float("nan")) * tta)
                ratio = f"{base_rate / rate:.2f}" if base_rate else "-"
                diff = "-" if ref is None or tta > 1 else \
                    f"{np.abs(np.load(r['out']) - ref).max() / np.abs(ref).max():.1e}"
                print(f"{mp:>5} {config:<13} {rate:>6.1f} {ratio:>7} {over:>6.2f} {rate / (best * tta):>6.2f}"
                      f" {r['peak_mb']:>8.0f} {diff:>9}", flush=True)
    print("x base: the baseline's s/MP over this s/MP, against the baseline at the same size, or at the largest"
          " size it ran (its s/MP only grows with size); /floor: this s/MP over the best-layout floor of its"
          " dtype; /best: over the lowest floor of any dtype and layout; max diff: max |this - baseline| /"
          " max |baseline|")


def quality() -> None:
    """PSNR-mu / PSNR-l of the shipped weights in float32 and bfloat16 on the fixed validation set."""
    from adnet_cli.network.weights import load_weights
    from adnet_cli.training.validation import score, scoring_engine, validation_set

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
    """Write short/medium/long.png of a synthetic scene (run in a child: see big()); from 2000 px on a
    side, the realistic camera's static bracket (noise, tone curve, JPEG) of a quarter of each side,
    mirror-tiled 4 x 4, as 8-bit codes (the simulator's brackets have exposures 1/r, 1, r: see big())."""
    import cv2

    if min(height, width) >= 2000:
        from benchmarks.brackets import mirror_tiled, static_bracket

        sample = static_bracket(height // 4, width // 4)
        frames = mirror_tiled(sample.ldrs, 4, 4)
        (Path(folder) / "exposures.txt").write_text(",".join(repr(float(t)) for t in sample.exposures))
    else:
        frames, _ = synthetic_bracket(height, width)
    for name, frame in zip(("short", "medium", "long"), frames):
        cv2.imwrite(str(Path(folder) / f"{name}.png"), np.round(frame[..., ::-1] * 255).astype(np.uint8))


def big(height: int = 4000, width: int = 6000, network: tuple[str, ...] = ()) -> None:
    """One 24 MP static bracket of the realistic camera through the real CLI (default settings, shipped
    weights; `network`: extra options such as ``("--network", "everywhere")``): time and peak RSS.

    The bracket is written by another child, and the peak is the CLI child's own (os.wait4): a forked
    child starts with its parent's RSS, so a process that held the float frames would set it."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, __file__, "--write-bracket", tmp, str(height), str(width)], check=True)
        names = [f"{tmp}/{name}.png" for name in ("short", "medium", "long")]
        times = Path(f"{tmp}/exposures.txt").read_text() if Path(f"{tmp}/exposures.txt").exists() else "1,4,16"
        cmd = [str(Path(sys.executable).with_name("adnet")), "merge", *names, "-e", times,
               "-o", f"{tmp}/out.exr", "--preview", f"{tmp}/out.png", "--quiet", *network]
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        errors = child.stderr.read()
        _, status_code, usage = os.wait4(child.pid, 0)  # this child's own peak, not the writer's
        seconds = time.perf_counter() - start
        peak = usage.ru_maxrss / 1024
    status = "ok" if status_code == 0 else f"failed: {errors.strip()}"
    print(f"{width}x{height} ({height * width / 1e6:.0f} MP) `adnet merge` {' '.join(network) or 'defaults'}: {seconds:.0f} s "
          f"({seconds / (height * width / 1e6):.1f} s/MP), peak RSS {peak:.0f} MB, {status}")


def startup(runs: int = 5) -> None:
    """Seconds from the command to its result for a 64 x 64 bracket (start-up dominates: imports,
    weights, planning, writing), against `python -c "import torch"` alone; the best of `runs`."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, __file__, "--write-bracket", tmp, "64", "64"], check=True)
        names = [f"{tmp}/{name}.png" for name in ("short", "medium", "long")]
        adnet = str(Path(sys.executable).with_name("adnet"))
        commands = {"import torch": [sys.executable, "-c", "import torch"],
                    "adnet merge 64x64": [adnet, "merge", *names, "-e", "1,4,16", "-o", f"{tmp}/o.exr",
                                          "--preview", f"{tmp}/o.png", "--quiet", "--overwrite"],
                    "adnet --help": [adnet, "--help"]}
        for label, cmd in commands.items():
            best = min(_timed(lambda: subprocess.run(cmd, check=True, capture_output=True)) for _ in range(runs))
            print(f"{label:<18} {best:.2f} s (best of {runs})")


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
        return
    if sys.argv[1:2] == ["--write-bracket"]:
        write_bracket(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.25,1,4", help="megapixels, from 0.25, 1, 4")
    parser.add_argument("--configs", default="baseline,default,before-tiles,whole-image,no-allocator,bfloat16")
    parser.add_argument("--model", default="shipped", choices=("shipped", "paper"))
    parser.add_argument("--startup", action="store_true", help="time to merge a tiny bracket vs import torch")
    parser.add_argument("--bf16-floor", action="store_true",
                        help="measure the bfloat16 floor on a CPU without bf16 instructions too (minutes: it is emulated)")
    parser.add_argument("--quality", action="store_true", help="bf16 vs float32 on the validation set")
    parser.add_argument("--24mp", dest="big", action="store_true", help="one 6000x4000 bracket via the CLI")
    parser.add_argument("--everywhere", action="store_true", help="with --24mp: --network everywhere too")
    parser.add_argument("--adaptive", action="store_true", help="--network auto vs everywhere (benchmarks/adaptive_merge.py)")
    parser.add_argument("--auto-tiles", action="store_true", help="window sides of --network auto")
    parser.add_argument("--weights", default=None, help="for --adaptive and --auto-tiles (default: the shipped)")
    parser.add_argument("--mp", type=float, default=1.0, help="bracket size for --adaptive and --auto-tiles")
    args = parser.parse_args()
    if args.adaptive or args.auto_tiles:
        from benchmarks import adaptive_merge

        if args.adaptive:
            adaptive_merge.speed_rows(args.weights, args.mp)
            adaptive_merge.shake_rows(args.weights, args.mp)
        else:
            adaptive_merge.tile_rows(args.weights, mp=args.mp)
    elif args.quality:
        quality()
    elif args.big:
        big()
        if args.everywhere:
            big(network=("--network", "everywhere"))
    elif args.startup:
        startup()
    else:
        speed_table(args.model, [float(s) for s in args.sizes.split(",")], args.configs.split(","), args.bf16_floor)


if __name__ == "__main__":
    main()

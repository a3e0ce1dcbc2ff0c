"""The GPU check: correctness, speed and training on a lent CUDA device, in one short run.

Run from the repository root, on the device (`run` of the device tool; $OUT comes back):
    python benchmarks/gpu_check.py --out "$OUT" [--minutes 4] [--scenes DIR] [--parts correctness,speed,training]
    python benchmarks/gpu_check.py --smoke      # seconds on the CPU, tiny sizes (tests/test_gpu_check.py runs it)
Parts, each printing as it goes:
1. correctness: torchvision's deform_conv2d against the pure-PyTorch op (forward, gradients; skipped,
   and said, where torchvision does not load); float16 and bfloat16 autocast against float32 on a
   1060 x 1900 bracket (max relative difference, PSNR-mu between them); an explicit --tile 512 against
   the whole image; --network auto against everywhere inside the mask.
2. speed: the 1060 x 1900 merge (network everywhere) timed with CUDA events after a warm-up, the median
   of --repeats runs, for a float32 eager baseline, the default path, the torchvision op, half,
   bfloat16, tile sizes, TTA, channels_last, torch.compile and CUDA graphs (compile's
   "reduce-overhead"); ms, MP/s, the ratio to the baseline, and the fraction of the bfloat16 roofline
   (the model's FLOPs from FlopCounterMode on the pure-PyTorch op; the matmul rate measured here).
3. training: continue from the shipped weights with their recipe in bfloat16 (on CUDA), at the
   largest batch of 256 px crops that fits, batches simulated by DataLoader workers; weights and log
   to OUT/train about every minute, stopping before --minutes; crops/s at 256 x 256.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from adnet_cli.evaluation.datasets import to_network_domain  # noqa: E402
from adnet_cli.evaluation.metrics import psnr_mu  # noqa: E402
from adnet_cli.network.adaptive import base_and_need, network_mask, run_network  # noqa: E402
from adnet_cli.network.bases import bracket_context  # noqa: E402
from adnet_cli.network.inference import MergeOptions, bracket_maps  # noqa: E402
from adnet_cli.network.model import ADNet  # noqa: E402
from adnet_cli.network.ops import _deform_conv_torch, available_backends, modulated_deform_conv2d  # noqa: E402
from adnet_cli.network.preprocess import build_inputs  # noqa: E402
from adnet_cli.network.weights import load_weights  # noqa: E402
from adnet_cli.runtime import native_bf16  # noqa: E402
from benchmarks.brackets import static_bracket, with_moving_area  # noqa: E402

FULL, SMOKE = (1060, 1900), (64, 96)


def say(line: str) -> None:
    print(line, flush=True)


# ----------------------------------------------------------------------------- correctness


def deform_ops(device: torch.device) -> None:
    if "torchvision" not in available_backends():
        say("deform op: torchvision's deform_conv2d does not load here: comparison skipped")
        return
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 32, 40, 56, generator=gen)
    offset = torch.randn(2, 8 * 18, 40, 56, generator=gen) * 2
    mask = torch.rand(2, 8 * 9, 40, 56, generator=gen)
    weight, bias = torch.randn(32, 32, 3, 3, generator=gen) * 0.05, torch.randn(32, generator=gen)
    grads = {}
    for backend in ("torch", "torchvision"):
        leaves = [t.to(device).requires_grad_() for t in (x, offset, mask, weight, bias)]
        out = modulated_deform_conv2d(*leaves, padding=1, backend=backend)
        (out * torch.linspace(-1, 1, out.numel(), device=device).view_as(out)).sum().backward()
        grads[backend] = [out.detach()] + [t.grad for t in leaves]
    names = ("output", "d input", "d offset", "d mask", "d weight", "d bias")
    for name, a, b in zip(names, grads["torch"], grads["torchvision"]):
        say(f"deform op {name}: max |torchvision - torch| / max |torch| = {float((a - b).abs().max() / a.abs().max()):.1e}")


def _psnr(a: np.ndarray, b: np.ndarray, exposures: np.ndarray) -> float:
    return psnr_mu(to_network_domain(a, exposures, "kalantari"), to_network_domain(b, exposures, "kalantari"))


def _merge(model: ADNet, frames: np.ndarray, exposures: np.ndarray, device: torch.device, **options) -> np.ndarray:
    return run_network(model, frames, tuple(exposures), "kalantari", device, MergeOptions(**options))[0]


def correctness(model: ADNet, size: tuple[int, int], device: torch.device, tile: int) -> None:
    deform_ops(device)
    sample = static_bracket(*size)
    frames, covered = with_moving_area(sample, 0.1)
    exposures = sample.exposures
    fp32 = _merge(model, frames, exposures, device, tile=0, network="everywhere")
    # Half precision is emulated on a CPU without bf16 instructions (minutes at this size): a corner there.
    small = device.type == "cpu" and not native_bf16()
    part = frames[:, :32, :48] if small else frames
    reference = _merge(model, part, exposures, device, tile=0, network="everywhere") if small else fp32
    for dtype in (torch.float16, torch.bfloat16):
        try:
            other = _merge(model, part, exposures, device, tile=0, network="everywhere", dtype=dtype)
        except RuntimeError as exc:
            say(f"{dtype}: autocast failed here: {str(exc).splitlines()[0]}")
            continue
        say(f"{str(dtype)[6:]} vs float32{' (a 48 x 32 corner)' if small else ''}: max relative difference "
            f"{np.abs(other - reference).max() / reference.max():.1e}, PSNR-mu between them "
            f"{_psnr(other, reference, exposures):.1f} dB")
    tiled = _merge(model, frames, exposures, device, tile=tile, network="everywhere")
    say(f"tile {tile} vs whole image: max |difference| / peak {np.abs(tiled - fp32).max() / fp32.max():.1e}")
    auto = _merge(model, frames, exposures, device, network="auto")
    _, need = base_and_need(model, frames, tuple(exposures), "kalantari", device, bracket_maps(frames))
    inside = network_mask(need)[: size[0], : size[1]] >= 1
    diff = float(np.abs(auto - fp32)[inside].max() / fp32.max()) if inside.any() else 0.0
    say(f"auto vs everywhere: max |difference| / peak inside the mask {diff:.1e} "
        f"({100 * inside.mean():.0f} % of pixels; {100 * covered:.0f} % moving)")


# ----------------------------------------------------------------------------- speed


def _timer(device: torch.device, run: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of `run` after one warm-up (CUDA events on a GPU)."""
    run()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            run()
            times.append(1e3 * (time.perf_counter() - t))
    return statistics.median(times)


def _flops(model: ADNet, size: tuple[int, int], device: torch.device) -> float:
    """FLOPs of one forward at `size`, counted on the pure-PyTorch deformable op (FlopCounterMode does
    not see torchvision's)."""
    from torch.utils.flop_counter import FlopCounterMode

    backend = model.align_module.cas_dcnpack.backend
    _set_backend(model, "torch")
    ldrs, times = torch.rand(1, 3, 3, *size, device=device), (0.25, 1.0, 4.0)
    xs = build_inputs(ldrs, times, "kalantari")
    context = bracket_context(ldrs, times, "kalantari", maps=True)  # a residual model's base needs it
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(*xs, context)
    _set_backend(model, backend)
    return float(counter.get_total_flops())


def _set_backend(model: ADNet, backend: str) -> None:
    for module in model.modules():
        if hasattr(module, "backend"):
            module.backend = backend


def _matmul_rate(device: torch.device, smoke: bool) -> float:
    n, dtype = (512, torch.float32) if smoke else (8192, torch.bfloat16)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    ms = _timer(device, lambda: a @ b, 5)
    return 2 * n**3 / (ms / 1e3)


def speed(model: ADNet, size: tuple[int, int], device: torch.device, repeats: int, smoke: bool, tiles: tuple[int, ...]) -> None:
    sample = static_bracket(*size)
    frames, exposures = sample.ldrs, tuple(sample.exposures)
    flops = _flops(model, (size[0] // 4 * 4, size[1] // 4 * 4), device)
    rate = _matmul_rate(device, smoke)
    say(f"network: {flops / 1e12:.4f} TFLOP per {size[1]}x{size[0]} forward; matmul {rate / 1e12:.3g} TFLOP/s "
        f"({'float32, smoke' if smoke else 'bfloat16'}): roofline {1e3 * flops / rate:.2f} ms")
    half = torch.float16 if device.type == "cuda" else torch.bfloat16
    rows: list[tuple[str, dict, Callable[[ADNet], contextlib.AbstractContextManager]]] = [
        ("baseline fp32 eager, torch op", {"dtype": torch.float32, "backend": "torch"}, _plain),
        ("default", {"dtype": torch.bfloat16 if device.type == "cuda" else torch.float32}, _plain),
        ("torchvision op fp32", {"dtype": torch.float32, "backend": "torchvision"}, _plain),
        ("float16", {"dtype": half}, _plain),
        ("bfloat16", {"dtype": torch.bfloat16}, _plain),
        *((f"bfloat16 tile {t}", {"dtype": torch.bfloat16, "tile": t}, _plain) for t in tiles),
        ("bfloat16 tta", {"dtype": torch.bfloat16, "tta": True}, _plain),
        ("bfloat16 channels_last", {"dtype": torch.bfloat16}, _channels_last),
        ("bfloat16 torch.compile", {"dtype": torch.bfloat16}, _compiled("default")),
        ("bfloat16 CUDA graphs", {"dtype": torch.bfloat16}, _compiled("reduce-overhead")),
    ]
    baseline = None
    for label, fields, setup in rows:
        backend = fields.pop("backend", "torchvision" if "torchvision" in available_backends() else "torch")
        if backend not in available_backends():
            say(f"{label}: skipped (torchvision's op does not load here)")
            continue
        if smoke and setup not in (_plain, _channels_last):
            say(f"{label}: skipped in --smoke (compiling takes minutes on a CPU)")
            continue
        if smoke and fields.get("dtype", torch.float32) != torch.float32 and not native_bf16():
            if label in ("float16", "bfloat16"):
                say(f"{label}: skipped in --smoke (half precision is emulated on this CPU: minutes)")
                continue
            fields["dtype"], label = torch.float32, f"{label} [float32 in --smoke: bf16 is emulated here]"
        options = MergeOptions(tile=fields.pop("tile", 0), network="everywhere", **fields)
        _set_backend(model, backend)
        try:
            with setup(model) as used:
                ms = _timer(device, lambda: run_network(used, frames, exposures, "kalantari", device, options), repeats)
        except Exception as exc:  # a path that fails here is reported, not fatal
            say(f"{label}: failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        baseline = baseline or ms
        tta = 4 if options.tta else 1
        say(f"{label}: {ms:.1f} ms, {size[0] * size[1] / 1e3 / ms:.3g} MP/s, x{baseline / ms:.2f} baseline, "
            f"{tta * 1e3 * flops / rate / ms:.2f} of the roofline")
    _set_backend(model, available_backends()[0])


@contextlib.contextmanager
def _plain(model: ADNet):  # type: ignore[no-untyped-def]
    yield model


@contextlib.contextmanager
def _channels_last(model: ADNet):  # type: ignore[no-untyped-def]
    yield model.to(memory_format=torch.channels_last)
    model.to(memory_format=torch.contiguous_format)


def _compiled(mode: str) -> Callable[[ADNet], contextlib.AbstractContextManager]:
    @contextlib.contextmanager
    def setup(model: ADNet):  # type: ignore[no-untyped-def]
        compiled = torch.compile(model, mode=mode, dynamic=False)
        compiled.config, compiled.linear_power = model.config, model.linear_power  # what the merge reads of it
        yield compiled

    return setup


# ----------------------------------------------------------------------------- training


def training(out: Path, minutes: float, scenes: Path | None, device: torch.device, smoke: bool) -> None:
    from adnet_cli.training.train import TrainConfig, train

    loaded = load_weights(None)
    crop = 32 if smoke else 256
    data = ("synthetic", *((f"hdr:{scenes}",) if scenes else ()))
    base = TrainConfig(out_dir=out / "train", data=data, crop=crop, lr=1e-4, model=loaded.model.config,
                       init=str(loaded.path), device=str(device), amp=True, static_share=0.1, val_count=2,
                       val_size=64 if smoke else 256, workers=0 if smoke else min(8, os.cpu_count() or 1))
    batch, step_s = _largest_batch(base, device, smoke)
    every = max(1, int(60 / step_s))  # about a minute between checkpoints
    config = dataclasses.replace(base, batch_size=batch, steps=2 if smoke else 10**6, checkpoint_every=every,
                                 val_every=every, max_minutes=minutes)
    say(f"training: batch {batch} of {crop} px crops ({step_s:.2f} s a step), checkpoint every {every} steps, "
        f"at most {minutes:g} min, to {config.out_dir}")
    start = time.perf_counter()
    def report(e) -> None:  # type: ignore[no-untyped-def]
        if e.kind == "validation":
            say(f"  validation at step {e.step}: synthetic PSNR-mu {e.values.get('synthetic.all.psnr_mu', float('nan')):.2f}")
        elif e.kind == "step" and e.step % every == 0:
            say(f"  step {e.step}: loss {e.values['loss']:.4f}, {e.values['images_per_s']:.1f} crops/s")

    metrics = train(config, report)
    seconds = time.perf_counter() - start
    log = (config.out_dir / "log.jsonl").read_text().splitlines()
    steps = sum('"event": "step"' in line for line in log)
    say(f"training: {steps} steps in {seconds:.0f} s, {steps * batch / seconds:.1f} crops/s of {crop} x {crop}; "
        f"last validation: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if ".all." in k))


def _largest_batch(config, device: torch.device, smoke: bool) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """The largest batch (doubling from 2) whose training step runs, and its seconds per step."""
    from adnet_cli.training.train import train

    best, seconds, batch = 2, float("nan"), 2
    while batch <= (2 if smoke else 256):
        with tempfile.TemporaryDirectory() as tmp:
            trial = dataclasses.replace(config, out_dir=Path(tmp), batch_size=batch, steps=2, val_every=10**6,
                                        checkpoint_every=10**6, workers=0, val_count=1)
            try:
                start = time.perf_counter()
                train(dataclasses.replace(trial, val_scenes=()), lambda e: None)
                best, seconds = batch, (time.perf_counter() - start) / 2
            except torch.OutOfMemoryError:
                break
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        batch *= 2
    return best, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check")))
    parser.add_argument("--minutes", type=float, default=4.0, help="training time budget")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenes", type=Path, default=None, help="HDR scenes for training (hdr: data)")
    parser.add_argument("--parts", default="correctness,speed,training")
    args = parser.parse_args()
    device = torch.device("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    if device.type != "cuda" and not args.smoke:
        raise SystemExit("no CUDA device here: run with --smoke for the CPU check")
    size, tile, tiles = (SMOKE, 32, (32,)) if args.smoke else (FULL, 512, (512, 1024))
    model = load_weights(None).model.to(device).eval()
    say(f"device {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu (smoke)'}, torch {torch.__version__}, "
        f"deformable backends {', '.join(available_backends())}")
    parts = args.parts.split(",")
    if "correctness" in parts:
        say("== 1. correctness")
        correctness(model, size, device, tile)
    if "speed" in parts:
        say("== 2. speed")
        speed(model, size, device, 2 if args.smoke else args.repeats, args.smoke, tiles)
    if "training" in parts:
        say("== 3. training")
        training(args.out, 0.05 if args.smoke else args.minutes, args.scenes, device, args.smoke)


if __name__ == "__main__":
    _ = _deform_conv_torch  # the pure-PyTorch op the FLOP count runs on (ops' "torch" backend)
    main()

"""The compute floor of a merge on this CPU: the network's convolutions alone, at their best layout.

Run from the repository root:
    python benchmarks/floor.py [--model shipped|paper] [--side 256]

Every convolution of one forward pass, and each deformable convolution's matrix product, is replayed
by itself on random data of its own shape: in NCHW and in channels_last, in float32 and in bfloat16
(weights and data stored in the dtype, no autocast), best of 3 runs. A layout's floor is the sum of
the layers' times per megapixel; the "best" floor takes each layer in whichever layout ran it faster.
Everything else the network does (sampling, concatenation, activations) counts as overhead above it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adnet_cli.network.model import ADNet, ADNetConfig  # noqa: E402

LAYOUTS = ("nchw", "channels_last")


@dataclass(frozen=True)
class Layer:
    """One product of the forward pass: a convolution (weight shape, input shape, stride, padding,
    dilation) or, with stride 0, a deformable conv's (Cout, Cin*9) x (Cin*9, pixels) product."""

    weight: tuple[int, ...]
    input: tuple[int, ...]
    stride: int
    padding: int
    dilation: int

    @property
    def flop(self) -> float:
        if self.stride == 0:
            return 2.0 * self.weight[0] * self.weight[1] * self.input[1]
        cout, cin, kh, kw = self.weight
        h = (self.input[2] + 2 * self.padding - self.dilation * (kh - 1) - 1) // self.stride + 1
        w = (self.input[3] + 2 * self.padding - self.dilation * (kw - 1) - 1) // self.stride + 1
        return 2.0 * cout * cin * kh * kw * h * w


def model_of(name: str) -> ADNet:
    """`shipped`: the shipped weights' network (nf 32); `paper`: the published width (nf 64)."""
    if name == "paper":
        return ADNet(ADNetConfig(), deform_backend="torch").eval()
    from adnet_cli.network.weights import load_weights

    return load_weights(None, deform_backend="torch").model


def layers_of(model: ADNet, side: int) -> list[Layer]:
    """Every product one forward pass of a side x side window computes, in order."""
    found: list[Layer] = []

    def conv(module, inputs, output):
        found.append(Layer(tuple(module.weight.shape), tuple(inputs[0].shape), module.stride[0],
                           module.padding[0], module.dilation[0]))

    def deform(module, inputs, output):
        w = module.weight
        found.append(Layer((w.shape[0], w[0].numel()), (1, output.shape[-2] * output.shape[-1]), 0, 0, 0))

    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks += [m.register_forward_hook(deform) for m in model.modules() if type(m).__name__ == "DCNPack"]
    with torch.inference_mode():
        model(*(torch.rand(1, 6, side, side) for _ in range(3)))
    for hook in hooks:
        hook.remove()
    return found


def _best_seconds(fn, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def layer_seconds(layer: Layer, dtype: torch.dtype, layout: str) -> float:
    """Best-of-3 seconds of one layer alone in `dtype` and `layout`."""
    if layer.stride == 0:
        a, b = torch.randn(layer.weight, dtype=dtype), torch.randn(layer.weight[1], layer.input[1], dtype=dtype)
        return _best_seconds(lambda: torch.matmul(a, b))
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    x = torch.randn(layer.input, dtype=dtype).contiguous(memory_format=fmt)
    w = torch.randn(layer.weight, dtype=dtype).contiguous(memory_format=fmt)
    bias = torch.randn(layer.weight[0], dtype=dtype)
    with torch.inference_mode():
        return _best_seconds(lambda: F.conv2d(x, w, bias, layer.stride, layer.padding, layer.dilation))


def floors(model: ADNet, side: int = 256, dtypes: tuple[str, ...] = ("float32", "bfloat16")) -> dict[str, float]:
    """s/MP of the network's products alone: keys like ``float32/nchw``, ``float32/channels_last``,
    ``float32/best`` and the same for bfloat16 (those of `dtypes`); plus ``tflop_per_mp``.

    On a CPU without bf16 instructions bfloat16 is emulated, some layers at under 1 GFLOP/s in NCHW:
    there it is replayed on a window of side / 4 (its floor is then a little pessimistic)."""
    from adnet_cli.runtime import keep_freed_memory, native_bf16

    keep_freed_memory()  # as `adnet` runs: without it every output is a fresh, zero-filled mmap
    result: dict[str, float] = {}
    for name in dtypes:
        dtype = getattr(torch, name)
        n = side if dtype == torch.float32 or native_bf16() else side // 4
        n = max(16, n // 16 * 16)  # the pyramid halves twice, and its upsampling must meet again
        layers, mp = layers_of(model, n), n * n / 1e6
        result.setdefault("tflop_per_mp", sum(layer.flop for layer in layers) / mp / 1e12)
        times = {layout: [layer_seconds(layer, dtype, layout) for layer in layers] for layout in LAYOUTS}
        for layout in LAYOUTS:
            result[f"{name}/{layout}"] = sum(times[layout]) / mp
        result[f"{name}/best"] = sum(map(min, *times.values())) / mp
    return result


def describe(result: dict[str, float]) -> str:
    """One line per dtype: the floors in s/MP and the rate each implies."""
    lines = [f"network: {result['tflop_per_mp']:.2f} TFLOP per MP; its products alone (s/MP, GFLOP/s):"]
    for dtype in ("float32", "bfloat16"):
        if f"{dtype}/best" not in result:
            lines.append(f"  {dtype:<9} not measured (emulated on this CPU: benchmarks/floor.py measures it)")
            continue
        cells = [f"{layout} {result[f'{dtype}/{layout}']:.1f} ({result['tflop_per_mp'] * 1e3 / result[f'{dtype}/{layout}']:.0f})"
                 for layout in (*LAYOUTS, "best")]
        lines.append(f"  {dtype:<9} " + ", ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shipped", choices=("shipped", "paper"))
    parser.add_argument("--side", type=int, default=256)
    args = parser.parse_args()
    model = model_of(args.model)
    print(f"{args.model} (nf {model.config.nf}), {args.side} px window, {torch.get_num_threads()} threads")
    print(describe(floors(model, args.side)))


if __name__ == "__main__":
    main()

"""Modulated deformable convolution (DCNv2) with two interchangeable backends.

``"torchvision"`` calls ``torchvision.ops.deform_conv2d`` (compiled kernels); ``"torch"`` is a
pure-PyTorch implementation built on ``grid_sample`` that runs wherever torch does (CPU, CUDA,
autocast) and supports autograd. Both follow torchvision's semantics and offset layout.
"""

from __future__ import annotations

import functools
import warnings

import torch
import torch.nn.functional as F

from adnet_cli.choices import DEFORM_BACKENDS as BACKENDS
from adnet_cli.errors import DeviceError


@functools.lru_cache(maxsize=None)
def _torchvision_works() -> bool:
    """Whether torchvision's deform_conv2d imports and gives the right answer on a tiny CPU call."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchvision.ops import deform_conv2d

            x = torch.arange(4.0).reshape(1, 1, 2, 2)
            out = deform_conv2d(x, torch.zeros(1, 2, 2, 2), torch.ones(1, 1, 1, 1),
                                mask=torch.ones(1, 1, 2, 2))
        return bool(torch.equal(out, x))
    except Exception:  # ImportError, or RuntimeError when its C++ operators fail to register
        return False


def available_backends() -> tuple[str, ...]:
    """The usable backends, preferred first: ``("torchvision", "torch")`` or ``("torch",)``."""
    return BACKENDS if _torchvision_works() else ("torch",)


def resolve_backend(name: str = "auto") -> str:
    """Turn ``"auto"``, ``"torchvision"`` or ``"torch"`` into a usable backend name.

    ``"auto"`` picks torchvision when it works, else torch. Raises DeviceError for an unknown
    name or an explicitly requested backend that is not available.
    """
    if name == "auto":
        return available_backends()[0]
    if name not in BACKENDS:
        raise DeviceError(f"unknown deformable-convolution backend {name!r} "
                          f"(choose auto, {', '.join(BACKENDS)})")
    if name not in available_backends():
        raise DeviceError(f"deformable-convolution backend {name!r} is not available "
                          "(torchvision.ops.deform_conv2d does not import or run); use 'torch'")
    return name


def _check_shapes(x, offset, mask, weight, bias, padding, dilation) -> tuple[int, int, int]:
    """Validate the shapes; returns (offset groups G, Hout, Wout)."""
    b, cin, h, w = x.shape
    cout, wcin, kh, kw = weight.shape
    k = kh * kw
    hout = h + 2 * padding - dilation * (kh - 1)
    wout = w + 2 * padding - dilation * (kw - 1)
    g = offset.shape[1] // (2 * k)
    if wcin != cin or (bias is not None and tuple(bias.shape) != (cout,)):
        raise ValueError(f"weight {tuple(weight.shape)} / bias do not fit input {tuple(x.shape)}")
    if g < 1 or cin % g or tuple(offset.shape) != (b, 2 * g * k, hout, wout):
        raise ValueError(f"offset {tuple(offset.shape)} does not fit input {tuple(x.shape)} "
                         f"and a {kh}x{kw} kernel (expected (B, 2*G*{k}, {hout}, {wout}))")
    if tuple(mask.shape) != (b, g * k, hout, wout):
        raise ValueError(f"mask {tuple(mask.shape)} != {(b, g * k, hout, wout)}")
    return g, hout, wout


# On the CPU the op runs over bands of output rows of about this many pixels, so its largest
# temporaries (9 samples of every input channel per pixel) stay in cache instead of costing
# 2.3 KB per pixel of the whole window.
CPU_BAND_PIXELS = 8192


def _sampling_grid(offset: torch.Tensor, g: int, kh: int, kw: int, h: int, w: int,
                   padding: int, dilation: int, row0: int) -> torch.Tensor:
    """grid_sample grid (B*G, K*rows, Wout, 2) of normalised (x, y) for each kernel point.

    offset: (B, 2*G*K, rows, Wout), the rows of the output starting at row0."""
    b, _, rows, wout = offset.shape
    k, ct, dev = kh * kw, offset.dtype, offset.device
    ki = torch.arange(kh, device=dev, dtype=ct).repeat_interleave(kw) * dilation  # (K,) row i of k
    kj = torch.arange(kw, device=dev, dtype=ct).repeat(kh) * dilation  # (K,) column j of k
    oy = torch.arange(row0, row0 + rows, device=dev, dtype=ct) - padding
    ox = torch.arange(wout, device=dev, dtype=ct) - padding
    # With align_corners=False grid_sample maps g -> ((g + 1) * size - 1) / 2, so (2p + 1)/size - 1
    # lands exactly on pixel p; padding_mode="zeros" then zeroes each out-of-image corner of the
    # bilinear stencil separately, which is torchvision's rule (0 once y <= -1 or y >= H).
    base_x = (2 * (ox.view(1, 1, wout) + kj.view(k, 1, 1)) + 1) / w - 1  # (K, 1, Wout)
    base_y = (2 * (oy.view(1, rows, 1) + ki.view(k, 1, 1)) + 1) / h - 1  # (K, rows, 1)
    off = offset.view(b, g, k, 2, rows, wout)  # channel g*2K + 2k + (0: dy, 1: dx)
    if torch.is_grad_enabled():
        grid = torch.stack((torch.add(base_x, off[:, :, :, 1], alpha=2 / w),
                            torch.add(base_y, off[:, :, :, 0], alpha=2 / h)), dim=-1)
    else:  # each coordinate written straight into its place: no two temporaries, no stacking copy
        grid = torch.empty(b, g, k, rows, wout, 2, dtype=ct, device=dev)
        torch.add(base_x, off[:, :, :, 1], alpha=2 / w, out=grid[..., 0])
        torch.add(base_y, off[:, :, :, 0], alpha=2 / h, out=grid[..., 1])
    return grid.view(b * g, k * rows, wout, 2)


def _deform_band(xg, offset, mask, w2, kh, kw, padding, dilation, row0):
    """(B, Cout, rows, Wout) output rows row0.. of the op without bias, from their offset/mask rows.
    xg: the input as (B*G, Cin/G, H, W) in the sampling dtype; w2: weight as (Cout, Cin*K)."""
    bg, cg, h, w = xg.shape
    b, _, rows, wout = offset.shape
    g, k, length = bg // b, kh * kw, rows * wout
    ct = xg.dtype
    grid = _sampling_grid(offset.to(ct), g, kh, kw, h, w, padding, dilation, row0)
    sampled = F.grid_sample(xg, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)  # (B*G, Cin/G, K*rows, Wout)
    cols, m = sampled.view(b, g, cg, k, length), mask.to(ct).view(b, g, 1, k, length)
    cols = cols * m if torch.is_grad_enabled() else cols.mul_(m)  # in place saves a full-size buffer
    # (B, Cin*K, L) with row cin*K + k, the order of weight.reshape(Cout, Cin*K).
    cols = cols.view(b, g * cg * k, length).to(w2.dtype)
    return torch.matmul(w2, cols).view(b, w2.shape[0], rows, wout)


def _deform_conv_torch(x, offset, mask, weight, bias, padding, dilation, g, hout, wout):
    b, cin, h, w = x.shape
    cout, _, kh, kw = weight.shape
    w2 = weight.reshape(cout, cin * kh * kw).to(x.dtype)
    # Sample in at least float32: a float16 grid cannot address pixels of a wide image exactly.
    xg = x.reshape(b * g, cin // g, h, w).to(torch.promote_types(x.dtype, torch.float32))
    rows = hout if x.device.type != "cpu" else max(1, CPU_BAND_PIXELS // wout)
    starts = range(0, hout, rows)

    def band(r: int) -> torch.Tensor:
        return _deform_band(xg, offset[:, :, r : r + rows], mask[:, :, r : r + rows], w2, kh, kw, padding, dilation, r)

    if len(starts) == 1:
        out = band(0)
    elif torch.is_grad_enabled():
        out = torch.cat([band(r) for r in starts], dim=2)
    else:  # each band is written into the output as it is made: no list of bands, no second copy
        first = band(0)
        out = first.new_empty(b, cout, hout, wout)  # the product's dtype (under autocast not x's)
        out[:, :, :rows] = first
        del first
        for r in starts[1:]:
            out[:, :, r : r + rows] = band(r)
    if bias is None:
        return out
    bias = bias.view(1, cout, 1, 1).to(out.dtype)
    return out + bias if torch.is_grad_enabled() else out.add_(bias)


def modulated_deform_conv2d(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor,
                            weight: torch.Tensor, bias: torch.Tensor | None, *, padding: int = 1,
                            dilation: int = 1, backend: str = "torch") -> torch.Tensor:
    """Stride-1 modulated deformable convolution, as ``torchvision.ops.deform_conv2d``.

    x: (B, Cin, H, W) float; weight: (Cout, Cin, kh, kw); bias: (Cout,) or None.
    offset: (B, 2*G*kh*kw, Hout, Wout), G offset groups over contiguous channel blocks of x
    (Cin % G == 0); channel g*2K + 2k is dy and g*2K + 2k + 1 is dx for kernel point
    k = i*kw + j, which samples x at (h - padding + i*dilation + dy, w - padding + j*dilation + dx).
    mask: (B, G*kh*kw, Hout, Wout), channel g*K + k, multiplied in as given (already sigmoid-ed).
    Hout = H + 2*padding - dilation*(kh - 1), likewise Wout. Returns (B, Cout, Hout, Wout).
    backend: "torch", "torchvision" or "auto", checked by resolve_backend (DeviceError).
    """
    backend = resolve_backend(backend)
    g, hout, wout = _check_shapes(x, offset, mask, weight, bias, padding, dilation)
    if backend == "torchvision":
        from torchvision.ops import deform_conv2d

        return deform_conv2d(x, offset, weight, bias, padding=(padding, padding),
                             dilation=(dilation, dilation), mask=mask)
    return _deform_conv_torch(x, offset, mask, weight, bias, padding, dilation, g, hout, wout)

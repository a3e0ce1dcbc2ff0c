"""Tests of adnet_cli.network.ops: modulated deformable convolution against slow references."""

import math
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from adnet_cli.errors import DeviceError
from adnet_cli.network import ops

no_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, no_cuda])]
needs_torchvision = pytest.mark.skipif("torchvision" not in ops.available_backends(),
                                       reason="torchvision.ops.deform_conv2d is not usable here")


def _bilinear_zero_corners(img, y, x):
    """img: list of H rows of W floats; each corner outside the image counts as 0."""
    h, w = len(img), len(img[0])
    y0, x0 = math.floor(y), math.floor(x)
    val = 0.0
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                val += wy * wx * img[yy][xx]
    return val


def _reference(x, offset, mask, weight, bias, padding, dilation):
    """Slow float64 DCNv2 written straight from the definition, with Python loops."""
    b_n, cin, _, _ = x.shape
    cout, _, kh, kw = weight.shape
    k_n = kh * kw
    _, _, hout, wout = offset.shape
    g_n = offset.shape[1] // (2 * k_n)
    xs, offs, ms, ws = x.tolist(), offset.tolist(), mask.tolist(), weight.tolist()
    out = torch.zeros(b_n, cout, hout, wout, dtype=torch.float64)
    for b in range(b_n):
        for co in range(cout):
            for h in range(hout):
                for w in range(wout):
                    acc = 0.0 if bias is None else float(bias[co])
                    for ci in range(cin):
                        g = ci // (cin // g_n)
                        for i in range(kh):
                            for j in range(kw):
                                k = i * kw + j
                                dy = offs[b][g * 2 * k_n + 2 * k][h][w]
                                dx = offs[b][g * 2 * k_n + 2 * k + 1][h][w]
                                y = h - padding + i * dilation + dy
                                xx = w - padding + j * dilation + dx
                                v = _bilinear_zero_corners(xs[b][ci], y, xx)
                                acc += ws[co][ci][i][j] * ms[b][g * k_n + k][h][w] * v
                    out[b, co, h, w] = acc
    return out


def _inputs(b, cin, cout, h, w, g, kh, kw, padding, dilation, *, dtype=torch.float64,
            max_offset=3.0, bias=True, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    hout, wout = h + 2 * padding - dilation * (kh - 1), w + 2 * padding - dilation * (kw - 1)
    k = kh * kw
    x = torch.rand(b, cin, h, w, generator=gen, dtype=dtype)
    offset = (torch.rand(b, 2 * g * k, hout, wout, generator=gen, dtype=dtype) * 2 - 1) * max_offset
    mask = torch.rand(b, g * k, hout, wout, generator=gen, dtype=dtype)
    weight = torch.randn(cout, cin, kh, kw, generator=gen, dtype=dtype) / math.sqrt(cin * k)
    b_ = torch.randn(cout, generator=gen, dtype=dtype) if bias else None
    return [t if t is None else t.to(device) for t in (x, offset, mask, weight, b_)]


@pytest.mark.parametrize("b, kh, kw, padding, dilation, bias", [
    (2, 3, 3, 1, 1, True), (1, 3, 3, 2, 2, True), (1, 2, 3, 1, 1, False)])
def test_matches_slow_reference(b, kh, kw, padding, dilation, bias):
    x, offset, mask, weight, bias_t = _inputs(b, 4, 3, 5, 6, 2, kh, kw, padding, dilation,
                                              bias=bias)
    got = ops.modulated_deform_conv2d(x, offset, mask, weight, bias_t, padding=padding,
                                      dilation=dilation)
    want = _reference(x, offset, mask, weight, bias_t, padding, dilation)
    assert got.shape == want.shape and got.dtype == torch.float64
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)


@pytest.mark.parametrize("autograd", [True, False], ids=["autograd", "inference"])
@pytest.mark.parametrize("band_pixels", [1, 7, 13])
def test_cpu_row_bands_match_slow_reference(monkeypatch, band_pixels, autograd):
    """The CPU path splits the output into bands of rows; bands of 1, 1 and 2 rows here (wout 6).
    With autograd the bands are concatenated, without it written into one output in place."""
    x, offset, mask, weight, bias = _inputs(2, 4, 3, 5, 6, 2, 3, 3, 1, 1)
    monkeypatch.setattr(ops, "CPU_BAND_PIXELS", band_pixels)
    with torch.set_grad_enabled(autograd):
        got = ops.modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1)
    torch.testing.assert_close(got, _reference(x, offset, mask, weight, bias, 1, 1), atol=1e-10, rtol=0)


def test_offsets_and_mask_may_be_channel_views_of_one_prediction(monkeypatch):
    """DCNPack passes the offsets and mask as slices of its predictor's output, not copies: with a
    batch of 2 those views are not contiguous."""
    x, offset, mask, weight, bias = _inputs(2, 4, 3, 5, 6, 2, 3, 3, 1, 1)
    monkeypatch.setattr(ops, "CPU_BAND_PIXELS", 12)
    prediction = torch.cat((offset, mask), 1)
    assert not prediction[:, : offset.shape[1]].is_contiguous()
    with torch.no_grad():
        got = ops.modulated_deform_conv2d(x, prediction[:, : offset.shape[1]], prediction[:, offset.shape[1] :],
                                          weight, bias, padding=1)
    torch.testing.assert_close(got, _reference(x, offset, mask, weight, bias, 1, 1), atol=1e-10, rtol=0)


def test_bands_equal_one_band_on_a_larger_map(monkeypatch):
    x, offset, mask, weight, bias = _inputs(1, 64, 32, 40, 52, 8, 3, 3, 1, 1, dtype=torch.float32)
    monkeypatch.setattr(ops, "CPU_BAND_PIXELS", 7 * 52)  # 6 bands of 7 rows, the last of 5
    banded = ops.modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1)
    monkeypatch.setattr(ops, "CPU_BAND_PIXELS", 10**9)
    whole = ops.modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1)
    torch.testing.assert_close(banded, whole, atol=1e-5, rtol=1e-5)


def test_reference_sees_samples_outside_the_image():
    # Guards the test above: the random offsets must exercise the zero-corner rule.
    x, offset, *_ = _inputs(2, 4, 3, 5, 6, 2, 3, 3, 1, 1)
    dy = offset.view(2, 2, 9, 2, 5, 6)[:, :, :, 0]
    y = torch.arange(5).view(5, 1) - 1 + torch.arange(3).repeat_interleave(3).view(9, 1, 1) + dy
    assert ((y > -1) & (y < 0)).any() and (y <= -1).any() and (y >= 5).any()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("padding, dilation", [(1, 1), (2, 2)])
def test_zero_offset_unit_mask_is_conv2d(device, padding, dilation):
    x, offset, mask, weight, bias = _inputs(2, 64, 64, 32, 32, 8, 3, 3, padding, dilation,
                                            dtype=torch.float32, device=device)
    got = ops.modulated_deform_conv2d(x, torch.zeros_like(offset), torch.ones_like(mask), weight,
                                      bias, padding=padding, dilation=dilation)
    want = F.conv2d(x, weight, bias, padding=padding, dilation=dilation)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (-2, 1)])
def test_integer_offset_is_shifted_conv2d(shift):
    sy, sx = shift
    p, d = 1, 1
    x, offset, mask, weight, bias = _inputs(1, 4, 3, 7, 8, 2, 3, 3, p, d, dtype=torch.float32)
    offset = offset.view(1, 2, 9, 2, 7, 8).clone()
    offset[:, :, :, 0], offset[:, :, :, 1] = sy, sx  # (dy, dx) for every group and kernel point
    got = ops.modulated_deform_conv2d(x, offset.view(1, 36, 7, 8), torch.ones_like(mask), weight,
                                      bias, padding=p, dilation=d)
    # Output (h, w) reads x[h - p + i + sy, w - p + j + sx]: pad (negative pads crop) and convolve.
    shifted = F.pad(x, (p - sx, p + sx, p - sy, p + sy))
    torch.testing.assert_close(got, F.conv2d(shifted, weight, bias, dilation=d), atol=1e-5, rtol=0)


@pytest.mark.parametrize("padding, dilation", [(1, 1), (2, 2)])
def test_gradcheck(padding, dilation):
    x, offset, mask, weight, bias = _inputs(1, 4, 2, 4, 5, 2, 3, 3, padding, dilation, seed=1)
    # Keep every sampling position 0.2..0.8 px from the integer grid: bilinear has kinks there.
    gen = torch.Generator().manual_seed(2)
    offset = (torch.randint(-2, 2, offset.shape, generator=gen)
              + 0.2 + 0.6 * torch.rand(offset.shape, generator=gen)).double()
    args = [t.requires_grad_() for t in (x, offset, mask, weight, bias)]

    def fn(*a):
        return ops.modulated_deform_conv2d(*a, padding=padding, dilation=dilation)

    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_autocast(device):
    low = torch.bfloat16 if device == "cpu" else torch.float16
    x, offset, mask, weight, bias = _inputs(1, 16, 8, 12, 12, 4, 3, 3, 1, 1, dtype=torch.float32,
                                            device=device)
    want = ops.modulated_deform_conv2d(x, offset, mask, weight, bias)
    with torch.autocast(device, dtype=low):
        got = ops.modulated_deform_conv2d(x, offset, mask, weight, bias)
    assert got.dtype == low and torch.isfinite(got).all()
    torch.testing.assert_close(got.float(), want, atol=0.05, rtol=0.02)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("autocast", [False, True])
def test_low_precision_input_samples_exactly(device, low, autocast):
    # Columns alternate 0/1, so the output tracks the sampling position at slope 1 per pixel: a
    # grid held in 16 bits would be off by up to ~1 px at W=256, far above the output's rounding.
    w = 256
    x = (torch.arange(w, device=device) % 2).view(1, 1, 1, w).repeat(1, 1, 2, 1).to(low)
    offset = torch.zeros(1, 2, 2, w, device=device)
    offset[:, 1] = torch.rand(2, w, generator=torch.Generator().manual_seed(0)).to(device) - 0.5
    offset = offset.to(low)
    mask = torch.ones(1, 1, 2, w, device=device, dtype=low)
    weight = torch.ones(1, 1, 1, 1, device=device, dtype=low)
    want = ops.modulated_deform_conv2d(*(t.double() for t in (x, offset, mask, weight)), None,
                                      padding=0)
    with torch.autocast(device, dtype=low, enabled=autocast):
        got = ops.modulated_deform_conv2d(x, offset, mask, weight, None, padding=0)
    assert got.dtype == low
    torch.testing.assert_close(got.double(), want, atol=4e-3, rtol=0)


@needs_torchvision
@pytest.mark.parametrize("device", DEVICES)
def test_torchvision_matches_torch(device):
    x, offset, mask, weight, bias = _inputs(2, 16, 8, 12, 13, 4, 3, 3, 1, 1, dtype=torch.float32,
                                            device=device)
    results = []
    for backend in ("torchvision", "torch"):
        args = [t.detach().clone().requires_grad_() for t in (x, offset, mask, weight, bias)]
        out = ops.modulated_deform_conv2d(*args, padding=1, dilation=1, backend=backend)
        out.backward(torch.linspace(-1, 1, out.numel(), device=device).view_as(out))
        results.append([out.detach()] + [a.grad for a in args])
    names = ("output", "x", "offset", "mask", "weight", "bias")
    diffs = {n: (a - b).abs().max().item() for n, a, b in zip(names, *results)}
    print(f"torchvision vs torch on {device}: max abs difference {diffs}")
    for name, tv, pure in zip(names, *results):
        torch.testing.assert_close(tv, pure, atol=1e-4, rtol=1e-4, msg=lambda m: f"{name}: {m}")


def test_rejects_mismatched_shapes():
    x, offset, mask, weight, bias = _inputs(1, 4, 3, 5, 6, 2, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="offset"):
        ops.modulated_deform_conv2d(x, offset[:, :-1], mask, weight, bias)
    with pytest.raises(ValueError, match="mask"):
        ops.modulated_deform_conv2d(x, offset, mask[:, :-1], weight, bias)


def test_resolve_backend():
    assert ops.resolve_backend("auto") in ops.available_backends()
    assert ops.resolve_backend() == ops.available_backends()[0]
    assert ops.resolve_backend("torch") == "torch"
    assert "torch" in ops.available_backends()
    assert set(ops.available_backends()) <= set(ops.BACKENDS)
    with pytest.raises(DeviceError):
        ops.resolve_backend("cudnn")
    with pytest.raises(DeviceError):
        ops.modulated_deform_conv2d(*_inputs(1, 4, 3, 5, 6, 2, 3, 3, 1, 1), backend="cuda")


@pytest.mark.skipif("torchvision" in ops.available_backends(), reason="torchvision is usable here")
def test_unavailable_torchvision_raises():
    with pytest.raises(DeviceError, match="torchvision"):
        ops.resolve_backend("torchvision")


@pytest.fixture
def fake_torchvision(monkeypatch):
    """Install a stand-in torchvision package; the probe's cache is cleared before and after."""
    def install(deform_conv2d):
        if deform_conv2d is None:  # not installed: importing it raises ImportError
            monkeypatch.setitem(sys.modules, "torchvision", None)
            monkeypatch.setitem(sys.modules, "torchvision.ops", None)
            ops._torchvision_works.cache_clear()
            return
        pkg, sub = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
        sub.deform_conv2d, pkg.ops = deform_conv2d, sub
        monkeypatch.setitem(sys.modules, "torchvision", pkg)
        monkeypatch.setitem(sys.modules, "torchvision.ops", sub)
        ops._torchvision_works.cache_clear()

    yield install
    ops._torchvision_works.cache_clear()


def _raises_operator_error(*args, **kwargs):
    raise RuntimeError("operator torchvision::deform_conv2d does not exist")


@pytest.mark.parametrize("deform_conv2d", [
    None,  # not installed
    _raises_operator_error,
    lambda x, *args, **kwargs: torch.zeros_like(x),  # imports and runs but computes nonsense
], ids=["missing", "broken", "wrong"])
def test_probe_rejects_unusable_torchvision(fake_torchvision, deform_conv2d):
    fake_torchvision(deform_conv2d)
    assert ops.available_backends() == ("torch",)
    assert ops.resolve_backend("auto") == "torch"
    with pytest.raises(DeviceError):
        ops.resolve_backend("torchvision")


def test_torchvision_backend_calls_documented_api(fake_torchvision):
    calls = []

    # Signature of torchvision.ops.deform_conv2d as documented; computed with the torch backend.
    def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1), mask=None):
        calls.append((stride, padding, dilation))
        return ops.modulated_deform_conv2d(input, offset, mask, weight, bias, padding=padding[0],
                                           dilation=dilation[0], backend="torch")

    fake_torchvision(deform_conv2d)
    assert ops.available_backends() == ("torchvision", "torch")
    assert ops.resolve_backend("auto") == "torchvision"
    x, offset, mask, weight, bias = _inputs(1, 4, 3, 5, 6, 2, 3, 3, 2, 2)
    got = ops.modulated_deform_conv2d(x, offset, mask, weight, bias, padding=2, dilation=2,
                                      backend="torchvision")
    assert calls[-1] == ((1, 1), (2, 2), (2, 2))
    torch.testing.assert_close(got, _reference(x, offset, mask, weight, bias, 2, 2),
                               atol=1e-10, rtol=0)

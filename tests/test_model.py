"""ADNet against the original release's key layout and a functional re-reading of its forward pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import original_layout, random_original_state

from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.network.ops import modulated_deform_conv2d


def test_layout_has_110_tensors_with_original_names_and_shapes():
    layout = original_layout()
    assert len(layout) == 110
    ours = {k: tuple(v.shape) for k, v in ADNet(deform_backend="torch").state_dict().items()}
    assert ours == layout


def test_parameter_count_matches_the_paper():
    assert sum(p.numel() for p in ADNet(deform_backend="torch").parameters()) == 2_956_483


def test_config_changes_width():
    small = ADNet(ADNetConfig(nf=16, growth=8, dense_layers=2, groups=2), deform_backend="torch")
    sd = small.state_dict()
    assert sd["conv1.weight"].shape == (16, 96, 3, 3)
    assert sd["RDB1.conv_1x1.weight"].shape == (16, 32, 1, 1)
    assert sd["align_module.L1_dcnpack.conv_offset_mask.weight"].shape == (54, 16, 3, 3)
    assert "RDB1.dense_layers.2.conv.weight" not in sd


# --- an independent, functional reading of adnet-forward.md on the raw state dict ---------------


def _c(s, name, x, stride=1, padding=1, dilation=1):
    return F.conv2d(x, s[name + ".weight"], s[name + ".bias"], stride, padding, dilation)


def _dcn(s, name, x, feat):
    om = _c(s, name + ".conv_offset_mask", feat)
    third = om.shape[1] // 3
    offset, mask = om[:, : 2 * third], torch.sigmoid(om[:, 2 * third :])
    return modulated_deform_conv2d(x, offset, mask, s[name + ".weight"], s[name + ".bias"], backend="torch")


def _pyramid(s, x):
    l1 = F.leaky_relu(F.conv2d(x, s["pyramid_feats.conv1.0.weight"], s["pyramid_feats.conv1.0.bias"]), 0.1)
    r = F.relu(_c(s, "pyramid_feats.feature_extraction.0.conv1", l1))
    l1 = l1 + _c(s, "pyramid_feats.feature_extraction.0.conv2", r)
    levels = [l1]
    for d in ("downsample1", "downsample2"):
        y = F.leaky_relu(_c(s, f"pyramid_feats.{d}.0", levels[-1], stride=2), 0.1)
        levels.append(F.leaky_relu(_c(s, f"pyramid_feats.{d}.2", y), 0.1))
    return levels


def _align(s, nbr, ref):
    a = "align_module."
    lr = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731
    up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
    off3 = lr(_c(s, a + "L3_offset_conv2", lr(_c(s, a + "L3_offset_conv1", torch.cat([nbr[2], ref[2]], 1)))))
    fea3 = lr(_dcn(s, a + "L3_dcnpack", nbr[2], off3))
    off2 = lr(_c(s, a + "L2_offset_conv1", torch.cat([nbr[1], ref[1]], 1)))
    off2 = lr(_c(s, a + "L2_offset_conv2", torch.cat([off2, up(off3) * 2], 1)))
    off2 = lr(_c(s, a + "L2_offset_conv3", off2))
    fea2 = _dcn(s, a + "L2_dcnpack", nbr[1], off2)
    fea2 = lr(_c(s, a + "L2_fea_conv", torch.cat([fea2, up(fea3)], 1)))
    off1 = lr(_c(s, a + "L1_offset_conv1", torch.cat([nbr[0], ref[0]], 1)))
    off1 = lr(_c(s, a + "L1_offset_conv2", torch.cat([off1, up(off2) * 2], 1)))
    off1 = lr(_c(s, a + "L1_offset_conv3", off1))
    fea1 = _dcn(s, a + "L1_dcnpack", nbr[0], off1)
    fea1 = _c(s, a + "L1_fea_conv", torch.cat([fea1, up(fea2)], 1))
    off = lr(_c(s, a + "cas_offset_conv2", lr(_c(s, a + "cas_offset_conv1", torch.cat([fea1, ref[0]], 1)))))
    return lr(_dcn(s, a + "cas_dcnpack", fea1, off))


def _drdb(s, name, x):
    y = x
    for i in range(5):
        y = torch.cat([y, F.relu(_c(s, f"{name}.dense_layers.{i}.conv", y, padding=2, dilation=2))], 1)
    return x + F.conv2d(y, s[f"{name}.conv_1x1.weight"], s[f"{name}.conv_1x1.bias"])


def functional_adnet(s, x1, x2, x3):
    f1, f2, f3 = (F.relu(_c(s, "feat_exract.0", x[:, :3])) for x in (x1, x2, x3))

    def att(name, f):
        a = F.leaky_relu(_c(s, f"{name}.att1", torch.cat([f, f2], 1)), 0.01)
        return f * torch.sigmoid(_c(s, f"{name}.att2", a))

    p1, p2, p3 = (_pyramid(s, x[:, 3:]) for x in (x1, x2, x3))
    fused = torch.cat([_align(s, p1, p2), att("att_module_l", f1), p2[0], f2, _align(s, p3, p2), att("att_module_h", f3)], 1)
    r1 = _drdb(s, "RDB1", _c(s, "conv1", fused))
    r2 = _drdb(s, "RDB2", r1)
    r3 = _drdb(s, "RDB3", r2)
    y = F.conv2d(torch.cat([r1, r2, r3], 1), s["conv2.0.weight"], s["conv2.0.bias"])
    y = _c(s, "conv2.1", y) + p2[0]
    y = F.leaky_relu(_c(s, "post_conv.0", y), 0.01)
    return F.relu(_c(s, "post_conv.2", y))


@pytest.fixture(scope="module")
def original_state():
    return random_original_state()


def test_original_checkpoint_gives_the_documented_forward(original_state):
    model = ADNet(deform_backend="torch").eval()
    model.load_state_dict(original_state, strict=True)
    gen = torch.Generator().manual_seed(1)
    xs = [torch.rand(1, 6, 20, 28, generator=gen) for _ in range(3)]
    with torch.no_grad():
        ours = model(*xs)
        reference = functional_adnet(original_state, *xs)
    assert ours.shape == (1, 3, 20, 28)
    assert reference.abs().max() > 1e-3  # the comparison is not between two zero images
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("base", ["none", "deghost"])
@pytest.mark.parametrize("batch", [1, 2])
def test_the_in_place_inference_path_gives_what_the_autograd_path_gives(original_state, monkeypatch, base, batch):
    """Without autograd the forward overwrites temporaries and appends the dense blocks' features to
    one buffer (`model._inference`); with it, the out-of-place forms training needs. Both must agree,
    with the deformable convs in several row bands (as in a real window) and a batch of 2, whose
    channel slices are not contiguous."""
    from adnet_cli.network import ops

    monkeypatch.setattr(ops, "CPU_BAND_PIXELS", 3 * 28)
    model = ADNet(ADNetConfig(base=base), deform_backend="torch").eval()
    model.load_state_dict(original_state, strict=True)
    gen = torch.Generator().manual_seed(3)
    xs = [torch.rand(batch, 6, 20, 28, generator=gen) for _ in range(3)]
    kept = [x.clone() for x in xs]
    with torch.no_grad():
        fast = model(*xs)
    slow = model(*xs)
    assert slow.requires_grad and slow.abs().max() > 1e-3
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-6, atol=1e-7)
    assert all(torch.equal(x, k) for x, k in zip(xs, kept))  # the inputs are never overwritten


def test_in_place_and_autograd_paths_agree_under_bfloat16_autocast(monkeypatch):
    """The in-place forms keep autocast's dtypes: bf16 temporaries are written into bf16 buffers and
    nothing is promoted differently (a small width: bf16 is emulated on CPUs without it)."""
    from adnet_cli.network import ops

    monkeypatch.setattr(ops, "CPU_BAND_PIXELS", 3 * 28)
    model = ADNet(ADNetConfig(nf=16, growth=8, dense_layers=2, groups=2, base="deghost"), deform_backend="torch")
    torch.nn.init.normal_(model.post_conv[2].weight, std=0.05)  # a live residual
    gen = torch.Generator().manual_seed(4)
    xs = [torch.rand(1, 6, 20, 28, generator=gen) for _ in range(3)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with torch.no_grad():
            fast = model.eval()(*xs)
        slow = model(*xs).detach()
    assert fast.dtype == slow.dtype == torch.float32  # the residual's sum is taken with the float32 base
    torch.testing.assert_close(fast, slow, rtol=0, atol=0)


def test_training_gradients_equal_the_functional_readings(original_state):
    """Backward through the training path (in-place activations on fresh convolution outputs only)
    gives every parameter the gradient the out-of-place functional reading gives it."""
    model = ADNet(deform_backend="torch")
    model.load_state_dict(original_state, strict=True)
    state = {name: t.clone().requires_grad_(True) for name, t in original_state.items()}
    gen = torch.Generator().manual_seed(5)
    xs = [torch.rand(1, 6, 12, 16, generator=gen) for _ in range(3)]
    weight = torch.rand(1, 3, 12, 16, generator=gen)
    (model(*xs) * weight).sum().backward()
    (functional_adnet(state, *xs) * weight).sum().backward()
    grads = dict(model.named_parameters())
    assert sum(int(g.grad.abs().max() > 0) for g in grads.values()) > 100  # nearly all of the 110 learn
    for name, p in grads.items():
        torch.testing.assert_close(p.grad, state[name].grad, rtol=1e-4, atol=1e-7, msg=name)


def test_offsets_reach_the_deformable_convs(original_state):
    """Perturbing an offset predictor changes the output: the DCN packs are wired in."""
    model = ADNet(deform_backend="torch").eval()
    model.load_state_dict(original_state, strict=True)
    xs = [torch.rand(1, 6, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    with torch.no_grad():
        before = model(*xs)
        model.align_module.cas_dcnpack.conv_offset_mask.bias[:144] += 0.7
        after = model(*xs)
    assert (before - after).abs().max() > 1e-4

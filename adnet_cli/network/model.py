"""The ADNet network: attention-guided deformable alignment and dilated residual dense fusion.

Parameter names match the original release's state dict (`../shared/reference/`), so its
checkpoints load with `strict=True` and no key map. Inputs are three (B, 6, H, W) tensors built by
`adnet_cli.network.preprocess`; H and W must be multiples of 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adnet_cli.network.bases import BracketContext, base_image
from adnet_cli.network.config import ADNetConfig
from adnet_cli.network.ops import modulated_deform_conv2d, resolve_backend
from adnet_cli.network.preprocess import Convention, linear_power


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1)


def _inference() -> bool:
    """Whether autograd is off, so a temporary may be overwritten in place: each in-place step saves a
    full-size buffer of the window (`benchmarks/tile_memory.py` measures the peak). Training keeps
    the out-of-place forms autograd needs; only activations of a convolution's fresh output (which
    the convolution's backward does not keep) are in place in both."""
    return not torch.is_grad_enabled()


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.1) of a temporary: x is a convolution's fresh output at every call."""
    return F.leaky_relu(x, 0.1, inplace=_inference())


def _add(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y + x, written into the temporary y when autograd is off and no type promotion is needed."""
    return y.add_(x) if _inference() and y.dtype == x.dtype else y + x


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class DCNPack(nn.Module):
    """3x3 modulated deformable conv whose offsets and mask are predicted from a separate feature."""

    def __init__(self, nf: int, groups: int, backend: str) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nf, nf, 3, 3))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.conv_offset_mask = _conv3(nf, groups * 3 * 9)
        # Zero-init so an untrained pack starts as a plain conv (DCNv2 practice).
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)
        self.backend = backend

    def forward(self, x: torch.Tensor, offset_feat: torch.Tensor) -> torch.Tensor:
        # The predictor's channels are (dy, dx pairs of the first 9G) + (the next 9G) + (9G mask
        # logits): the offsets are its first 18G channels as they stand, so they are a view.
        om = self.conv_offset_mask(offset_feat)
        split = om.shape[1] * 2 // 3
        mask = om[:, split:].sigmoid_() if _inference() else torch.sigmoid(om[:, split:])
        return modulated_deform_conv2d(
            x, om[:, :split], mask, self.weight, self.bias, padding=1, backend=self.backend
        )


class PCDAlign(nn.Module):
    """Pyramid, cascading and deformable alignment of a non-reference pyramid to the reference one."""

    def __init__(self, nf: int, groups: int, backend: str) -> None:
        super().__init__()
        for level in ("L3", "L2", "L1"):
            setattr(self, f"{level}_offset_conv1", _conv3(2 * nf, nf))
            if level == "L3":
                setattr(self, "L3_offset_conv2", _conv3(nf, nf))
            else:
                setattr(self, f"{level}_offset_conv2", _conv3(2 * nf, nf))
                setattr(self, f"{level}_offset_conv3", _conv3(nf, nf))
                setattr(self, f"{level}_fea_conv", _conv3(2 * nf, nf))
            setattr(self, f"{level}_dcnpack", DCNPack(nf, groups, backend))
        self.cas_offset_conv1 = _conv3(2 * nf, nf)
        self.cas_offset_conv2 = _conv3(nf, nf)
        self.cas_dcnpack = DCNPack(nf, groups, backend)

    def forward(self, nbr: list[torch.Tensor], ref: list[torch.Tensor]) -> torch.Tensor:
        """nbr, ref: pyramids [L1 (B,nf,H,W), L2 (H/2), L3 (H/4)] -> aligned L1 feature (B, nf, H, W)."""
        off = _lrelu(self.L3_offset_conv1(torch.cat((nbr[2], ref[2]), 1)))
        off = _lrelu(self.L3_offset_conv2(off))
        fea = _lrelu(self.L3_dcnpack(nbr[2], off))
        for i, level in ((1, "L2"), (0, "L1")):
            new_off = _lrelu(getattr(self, f"{level}_offset_conv1")(torch.cat((nbr[i], ref[i]), 1)))
            # Offsets are in pixels of their own level: doubling the resolution doubles them.
            new_off = _lrelu(getattr(self, f"{level}_offset_conv2")(torch.cat((new_off, _up2(off) * 2), 1)))
            off = _lrelu(getattr(self, f"{level}_offset_conv3")(new_off))
            new_fea = getattr(self, f"{level}_dcnpack")(nbr[i], off)
            fea = getattr(self, f"{level}_fea_conv")(torch.cat((new_fea, _up2(fea)), 1))
            if level == "L2":
                fea = _lrelu(fea)
        off = _lrelu(self.cas_offset_conv1(torch.cat((fea, ref[0]), 1)))
        off = _lrelu(self.cas_offset_conv2(off))
        return _lrelu(self.cas_dcnpack(fea, off))


class ResidualBlock(nn.Module):
    """conv-ReLU-conv plus the input (no scaling)."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = _conv3(nf, nf)
        self.conv2 = _conv3(nf, nf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _add(self.conv2(F.relu(self.conv1(x), inplace=True)), x)


class Pyramid(nn.Module):
    """Three-level feature pyramid of the HDR-domain channels: (B,3,H,W) -> [H, H/2, H/4]."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, nf, 1), nn.LeakyReLU(0.1, inplace=True))
        self.feature_extraction = nn.Sequential(ResidualBlock(nf))
        self.downsample1 = self._down(nf)
        self.downsample2 = self._down(nf)

    @staticmethod
    def _down(nf: int) -> nn.Sequential:
        return nn.Sequential(_conv3(nf, nf, 2), nn.LeakyReLU(0.1, inplace=True), _conv3(nf, nf),
                             nn.LeakyReLU(0.1, inplace=True))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        l1 = self.feature_extraction(self.conv1(x))
        l2 = self.downsample1(l1)
        return [l1, l2, self.downsample2(l2)]


class SpatialAttention(nn.Module):
    """Attention map for a non-reference feature, conditioned on the reference feature."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.att1 = _conv3(2 * nf, 2 * nf)
        self.att2 = _conv3(2 * nf, nf)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        a = F.leaky_relu(self.att1(torch.cat((x, ref), 1)), 0.01, inplace=True)
        if _inference() and x.dtype == a.dtype:
            return self.att2(a).sigmoid_().mul_(x)
        return x * torch.sigmoid(self.att2(a))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, growth, 3, 1, padding=2, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, F.relu(self.conv(x))), 1)


class DRDB(nn.Module):
    """Dilated residual dense block: dense dilated convs, 1x1 fusion, plus the input."""

    def __init__(self, nf: int, growth: int, layers: int) -> None:
        super().__init__()
        self.dense_layers = nn.Sequential(*(DenseLayer(nf + i * growth, growth) for i in range(layers)))
        self.conv_1x1 = nn.Conv2d(nf + layers * growth, nf, 1)

    def forward(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, nf, H, W) -> (B, nf, H, W); without autograd written into `out` (a view of that
        shape) when given."""
        if not _inference():  # autograd takes neither out= nor the appended buffer
            return x + self.conv_1x1(self.dense_layers(x))
        # Without autograd the growing concatenation is one buffer that each layer appends to: the
        # first c channels of a batch-1 tensor are contiguous, so every layer reads its input in
        # place, where torch.cat would copy all earlier features again at every layer.
        c = x.shape[1]
        dense = x.new_empty(x.shape[0], self.conv_1x1.in_channels, *x.shape[2:])
        dense[:, :c] = x
        for layer in self.dense_layers:
            cin = layer.conv.in_channels
            dense[:, cin : cin + layer.conv.out_channels] = F.relu(layer.conv(dense[:, :cin]), inplace=True)
        fused = self.conv_1x1(dense)
        del dense
        return torch.add(fused, x, out=out) if out is not None else _add(fused, x)


RESIDUAL_FLOOR = 0.25  # a residual model's output is at least this share of its base (2 stops below)


class ADNet(nn.Module):
    """Merges (short, medium, long) (B, 6, H, W) inputs into a (B, 3, H, W) non-negative HDR estimate.

    The output's meaning depends on the convention the weights were trained with; see
    `adnet_cli.network.preprocess.to_linear`.
    """

    def __init__(self, config: ADNetConfig = ADNetConfig(), deform_backend: str = "auto",
                 convention: Convention = "kalantari") -> None:
        """convention: the pre-processing the weights are trained for (`adnet_cli.network.preprocess`); the
        deghost base uses it to compare frames in linear light."""
        super().__init__()
        nf, backend = config.nf, resolve_backend(deform_backend)
        self.config = config
        self.linear_power = linear_power(convention)
        self.feat_exract = nn.Sequential(_conv3(3, nf), nn.ReLU(inplace=True))
        self.att_module_l = SpatialAttention(nf)
        self.att_module_h = SpatialAttention(nf)
        self.pyramid_feats = Pyramid(nf)
        self.align_module = PCDAlign(nf, config.groups, backend)
        self.conv1 = _conv3(6 * nf, nf)
        self.RDB1 = DRDB(nf, config.growth, config.dense_layers)
        self.RDB2 = DRDB(nf, config.growth, config.dense_layers)
        self.RDB3 = DRDB(nf, config.growth, config.dense_layers)
        self.conv2 = nn.Sequential(nn.Conv2d(3 * nf, nf, 1), _conv3(nf, nf))
        self.post_conv = nn.Sequential(_conv3(nf, nf), nn.LeakyReLU(0.01, inplace=True), _conv3(nf, 3),
                                       nn.ReLU(inplace=True))
        if config.base == "none":
            # Start training with the final ReLU open: where it is closed no gradient flows at all.
            nn.init.constant_(self.post_conv[2].bias, 0.1)
        else:
            self.zero_residual()

    def zero_residual(self) -> None:
        """Zero the last conv, so that a residual model outputs exactly its base (how new residual
        models start, and how `train --init` turns other weights into a residual starting point)."""
        nn.init.zeros_(self.post_conv[2].weight)
        nn.init.zeros_(self.post_conv[2].bias)

    @property
    def deform_backend(self) -> str:
        return self.align_module.cas_dcnpack.backend

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor,
                context: BracketContext | None = None) -> torch.Tensor:
        """x1, x2, x3: short, medium (reference), long frames, (B, 6, H, W); H, W multiples of 4.
        context: what the ``optimal`` base needs of the whole bracket (`adnet_cli.network.bases.bracket_context`)."""
        # Features of the non-reference frames are made as arguments and locals are dropped once
        # used, so each dies as soon as it can: the peak memory of a window is about halved.
        f2 = self.feat_exract(x2[:, :3])
        att1 = self.att_module_l(self.feat_exract(x1[:, :3]), f2)
        att3 = self.att_module_h(self.feat_exract(x3[:, :3]), f2)
        p2 = self.pyramid_feats(x2[:, 3:])
        aligned1 = self.align_module(self.pyramid_feats(x1[:, 3:]), p2)
        aligned3 = self.align_module(self.pyramid_feats(x3[:, 3:]), p2)
        ref = p2[0]
        del p2
        f0 = self.conv1(torch.cat((aligned1, att1, ref, f2, aligned3, att3), 1))
        del aligned1, att1, f2, aligned3, att3
        nf = f0.shape[1]
        # Without autograd the blocks write their outputs into the one tensor conv2 reads.
        blocks = f0.new_empty(f0.shape[0], 3 * nf, *f0.shape[2:]) if _inference() else None
        slots = [None] * 3 if blocks is None else [blocks[:, i * nf : (i + 1) * nf] for i in range(3)]
        r1 = self.RDB1(f0, out=slots[0])
        del f0
        r2 = self.RDB2(r1, out=slots[1])
        r3 = self.RDB3(r2, out=slots[2])
        blocks = torch.cat((r1, r2, r3), 1) if blocks is None else blocks
        del r1, r2, r3, slots
        fused = _add(self.conv2(blocks), ref)
        del blocks, ref
        base = base_image(x1, x2, x3, self.config.base, self.linear_power, context)
        if base is None:
            return self.post_conv(fused)
        # The base is float32 (built from the float32 inputs), so under autocast the sum is too. The
        # final ReLU's floor is a fraction of the (non-negative) base rather than 0: a correction may
        # darken a pixel by RESIDUAL_FLOOR at most, never to black where the frames hold signal.
        return torch.maximum(self.post_conv[:3](fused) + base, RESIDUAL_FLOOR * base.clamp(min=0))

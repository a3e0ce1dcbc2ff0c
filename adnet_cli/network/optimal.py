"""The noise-optimal merge of N frames (Granados et al., CVPR 2010; Hasinoff et al., CVPR 2010), with
moving content gated out through intensity mapping functions (Grossberg and Nayar, PAMI 2003).

Each frame i gives a radiance estimate ``L_i = scale_i * ldr_i**gamma``. Where it neither clips nor sits
in the black floor, its weight is the inverse of its variance under a shot + read + quantisation noise
model (:class:`NoiseModel`), evaluated at the signal the frame *expects* from a first estimate (the
measured signal would favour frames that happen to read dark: a downward bias, Granados section 4).

A frame other than the reference also has to agree with it. Camera tone curves are not the curve the
merge assumes (on real JPEG brackets, after the sRGB inverse, 85-94 % of static pixels differ by more
than the gate allows), so the frames are not compared through their radiance. Instead each frame's
levels are predicted from the reference's by an intensity mapping function, estimated once per
bracket by matching the two frames' histograms per channel: this needs neither the response nor
registration, and moving content is too small a share of the pixels to move a histogram much. The
prediction and the frame are compared on local means (5 x 5), in linear light, as ``gating.agreement``
does; disagreement sends the frame's weight to the reference.

Everything is per pixel or 5 x 5 local, given the maps: so the merge commutes with tiling (windows
with context) and with flips and transposes, as long as every window gets the same maps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from adnet_cli.network.gating import BLACK_FROM, BLACK_FULL, CLIPPED, GATE_WINDOW, smoothstep

LEVELS = 256  # entries of an intensity map: one per 8-bit code, interpolated between them
MAX_SAMPLES = 1 << 18  # pixels per frame the maps are estimated from (a regular subsample beyond)
RINGING = 0.8  # LDR level from which a pixel beside a clipped one counts as clipped (_near_clip)
CLIP_FROM = 0.90  # LDR level (max over channels) from which a frame's weight fades, to 0 at CLIPPED
FLOOR_FROM, FLOOR_FULL = 1.0 / 255, 3.0 / 255  # LDR levels (max over channels): black floor, then full weight
PILOT_PASSES = 2  # weights from the measured signal, then from the signal the first estimate predicts
# Deviations of the local means at which a gate starts to close, and is shut; chosen with TOLERANCE on
# brackets that are not the validation sets (benchmarks/optimal_gate.py).
Z_FROM, Z_FULL = 2.0, 4.0
TOLERANCE = 0.02  # relative error of the maps and of the assumed curve, added to the noise
NOISE_CORRELATION = 4.0  # pixels per independent noise sample (demosaicing, chroma blotches, JPEG)
FALLBACK = 1e-4  # weight (x its own inverse variance) of the frame used where no frame is valid


@dataclass(frozen=True)
class NoiseModel:
    """Variance of a frame's linear signal s (1.0 = saturation): ``s / fullwell + read**2`` plus the
    code step's quantisation noise taken through the response, ``(gamma s**(1 - 1/gamma) step)**2 / 12``.

    The constants are the simulator's camera (`adnet_cli.training.simulate`): full wells of 2,000-20,000
    electrons (6,300 is their geometric mean) and read noise of 5e-4 to 3e-3 of white (1.2e-3), and
    8-bit codes. Real sensors at base ISO hold 20,000-80,000 electrons (phones 3,000-10,000) with read
    noise near 1e-4 of white, but JPEG's denoising and compression add error of about a code step, so
    in-camera JPEGs sit inside the simulator's range. Only the ratios between frames' weights matter:
    the merge is insensitive to these constants within a factor of a few."""

    fullwell: float = 6300.0
    read: float = 1.2e-3
    step: float = 1.0 / 255

    def variance(self, signal: torch.Tensor, gamma: torch.Tensor | float) -> torch.Tensor:
        """Variance of the linear signal (any shape, in [0, 1]); gamma broadcasts against it."""
        s = signal.clamp(1e-6, 1.0)
        slope = gamma * s ** (1 - 1 / gamma)  # d signal / d code value of the response s = v**gamma
        return s / self.fullwell + self.read**2 + (slope * self.step) ** 2 / 12


@dataclass(frozen=True)
class OptimalMerge:
    """radiance: (B, 3, H, W) float32 linear, on the scales' unit. need: (B, 1, H, W) in [0, 1], how
    much of the weight a non-reference frame would have had was gated out for disagreeing (the
    motion-adaptive merge runs the network there). used: (B, N, 1, H, W) each frame's share."""

    radiance: torch.Tensor
    need: torch.Tensor
    used: torch.Tensor


def estimate_maps(ldrs: torch.Tensor, ref: int, max_samples: int = MAX_SAMPLES) -> torch.Tensor:
    """Intensity mapping functions from the reference's levels to each frame's, by histogram matching.

    ldrs: (B, N, 3, H, W) float in [0, 1], the bracket as encoded. Returns (B, N, 3, LEVELS) float32:
    entry k of frame i, channel c is the frame's level at the rank the reference's level k / 255 holds
    (the middle of that level's pixels), non-decreasing in k; the reference's own map is the identity.
    Estimated from a regular subsample of at most `max_samples` pixels. Pass the maps of the whole image
    to every window: maps estimated per window would not commute with tiling."""
    b, n = ldrs.shape[:2]
    stride = max(1, math.ceil((ldrs.shape[-2] * ldrs.shape[-1] / max_samples) ** 0.5))
    flat = ldrs[..., ::stride, ::stride].float().clamp(0, 1).reshape(b, n, 3, -1)
    ordered = flat.sort(-1).values
    count = ordered.shape[-1]
    levels = torch.arange(LEVELS, dtype=torch.float32, device=ldrs.device) / (LEVELS - 1)
    half = 0.5 / (LEVELS - 1)
    reference = ordered[:, ref].contiguous()
    below = torch.searchsorted(reference, (levels - half).expand(b, 3, LEVELS).contiguous())
    upto = torch.searchsorted(reference, (levels + half).expand(b, 3, LEVELS).contiguous(), right=True)
    position = ((below + upto).float() / 2 - 0.5).clamp(0, count - 1)  # the level's middle rank
    low = position.floor().long()
    frac = position - low
    high = (low + 1).clamp(max=count - 1)
    gather = lambda idx: ordered.gather(-1, idx.unsqueeze(1).expand(b, n, 3, LEVELS))  # noqa: E731
    maps = gather(low) * (1 - frac.unsqueeze(1)) + gather(high) * frac.unsqueeze(1)
    maps[:, ref] = levels
    return maps


def apply_map(table: torch.Tensor, ldr: torch.Tensor) -> torch.Tensor:
    """Levels predicted through a map: table (B, 3, LEVELS), ldr (B, 3, H, W) in [0, 1] -> (B, 3, H, W)."""
    b, c, h, w = ldr.shape
    position = ldr.float().clamp(0, 1).reshape(b, c, -1) * (table.shape[-1] - 1)
    low = position.floor().long().clamp(max=table.shape[-1] - 2)
    frac = position - low
    table = table.float()
    out = table.gather(-1, low) * (1 - frac) + table.gather(-1, low + 1) * frac
    return out.reshape(b, c, h, w)


def _near_clip(level: torch.Tensor) -> torch.Tensor:
    """A pixel's level, or for a bright pixel the brightest within its 3 x 3 neighbourhood: JPEG rings
    around a clipped plateau, so bright pixels beside one read below the clip level but are no
    measurement either (dark ones beside it are). (B, 1, H, W)."""
    return torch.where(level >= RINGING, F.max_pool2d(level, 3, 1, 1), level)


def _valid(level: torch.Tensor, near_clip: torch.Tensor) -> torch.Tensor:
    """How far a frame's pixel counts, from its brightest channel and :func:`_near_clip` of it: 0 where
    it (or a neighbour) clips or where it sits in the floor."""
    unclipped = 1 - smoothstep((near_clip - CLIP_FROM) / (CLIPPED - CLIP_FROM))
    return unclipped * smoothstep((level - FLOOR_FROM) / (FLOOR_FULL - FLOOR_FROM))


def _box_sums(*maps: torch.Tensor) -> list[torch.Tensor]:
    """GATE_WINDOW x GATE_WINDOW sums of (B, 1, H, W) maps over the pixels inside the image, in one
    grouped convolution (5x faster on the CPU than an average pool per map; where the caller divides
    one sum by another, as every local mean here does, the window's pixel count cancels)."""
    stacked = torch.cat(maps, 1)
    kernel = stacked.new_ones(stacked.shape[1], 1, GATE_WINDOW, GATE_WINDOW)
    sums = F.conv2d(stacked, kernel, padding=GATE_WINDOW // 2, groups=stacked.shape[1])
    return list(sums.split(1, 1))


def _agreement(frame: torch.Tensor, predicted: torch.Tensor, valid: torch.Tensor, variance: torch.Tensor,
               one_sided: bool = False) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: 1 where the frame's local mean agrees with the predicted one within the
    noise of both and TOLERANCE of their level (the maps' and the curve's own error), 0 from Z_FULL such
    deviations. frame, predicted, variance: (B, 1, H, W) linear signal and its noise variance (both
    frames' together); valid: (B, 1, H, W) the pixels counted; a window with none of them agrees.
    one_sided: only a frame darker than predicted disagrees."""
    count, a, b, v = _box_sums(valid, frame * valid, predicted * valid, variance * valid)
    count = count.clamp(min=1e-6)
    a, b = a / count, b / count
    spread = (v / count / (count / NOISE_CORRELATION) + (TOLERANCE * (a + b) / 2) ** 2).sqrt() + 1e-12
    diff = (b - a).clamp(min=0) if one_sided else (a - b).abs()
    return 1 - smoothstep((diff / spread - Z_FROM) / (Z_FULL - Z_FROM))


@dataclass(frozen=True)
class _Frame:
    """What the gate and the weights share of one frame: its LDR values (B, 3, H, W), linear signal
    (B, 3, H, W) and its channel mean (B, 1, H, W), brightest channel (B, 1, H, W) and that of
    :func:`_near_clip`, and the noise variance of the signal it measured (B, 1, H, W)."""

    ldr: torch.Tensor
    linear: torch.Tensor
    signal: torch.Tensor
    level: torch.Tensor
    near_clip: torch.Tensor
    variance: torch.Tensor


def _frame(ldr: torch.Tensor, gamma: torch.Tensor | float, noise: NoiseModel) -> _Frame:
    linear = ldr**gamma
    signal = linear.mean(1, keepdim=True)
    level = ldr.amax(1, keepdim=True)
    return _Frame(ldr, linear, signal, level, _near_clip(level), noise.variance(signal, gamma))


def _gate(frame: _Frame, ref: _Frame, table: torch.Tensor, gamma: torch.Tensor | float, ratio: torch.Tensor,
          shorter: bool) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: how far the frame agrees with the levels the reference predicts for it.

    ratio: (B, 1, 1, 1) the frame's exposure over the reference's (its signal per unit of the
    reference's). A frame shorter than the reference is compared both ways where the reference is
    unclipped, and where the reference clips it must not read darker than the reference's last
    unclipped level predicts (a clipped pixel bounds the radiance from below). A longer frame is
    compared where it is itself unclipped; where the reference is nearly black it measures nothing to
    disagree with. Compared in linear light (channel means)."""
    variance = frame.variance + ratio**2 * ref.variance
    predicted = apply_map(table, ref.ldr) ** gamma
    if shorter:
        ref_unclipped = (ref.near_clip < CLIPPED).to(frame.ldr.dtype)
        both = _agreement(frame.signal, predicted.mean(1, keepdim=True), ref_unclipped, variance)
        # The map at the clip level, where the reference clips: the prediction of ref.ldr.clamp(max=CLIPPED).
        last = apply_map(table, torch.full_like(ref.ldr[:, :, :1, :1], CLIPPED)) ** gamma
        bound = torch.where(ref.ldr >= CLIPPED, last, predicted).mean(1, keepdim=True)
        return torch.minimum(both, _agreement(frame.signal, bound, 1 - ref_unclipped, variance, one_sided=True))
    unclipped = (frame.near_clip < CLIPPED).to(frame.ldr.dtype)
    agree = _agreement(frame.signal, predicted.mean(1, keepdim=True), unclipped, variance)
    level_sum, count = _box_sums(ref.level, torch.ones_like(ref.level))
    black = 1 - smoothstep((level_sum / count - BLACK_FROM) / (BLACK_FULL - BLACK_FROM))
    return torch.maximum(agree, black)


def _exponent(gamma: torch.Tensor) -> torch.Tensor | float:
    """gamma (B,) as the exponent of a (B, C, H, W) power: a number where the batch shares it (a
    power with a scalar exponent runs 2x faster than with a tensor one)."""
    g = gamma.float().reshape(-1)
    return float(g[0]) if bool((g == g[0]).all()) else g.view(-1, 1, 1, 1)


def optimal_merge(ldrs: torch.Tensor, scales: torch.Tensor, gamma: torch.Tensor, ref: int,
                  maps: torch.Tensor | None = None, noise: NoiseModel = NoiseModel()) -> OptimalMerge:
    """The variance-weighted merge of a bracket, moving content gated out (see the module docstring).

    ldrs: (B, N, 3, H, W) float in [0, 1], ordered from the shortest exposure to the longest;
    ``scales[:, i] * ldrs[:, i]**gamma`` is frame i's linear radiance estimate. scales: (B, N) positive,
    decreasing (a longer frame needs less radiance per unit of signal). gamma: (B,) positive. ref: the
    reference frame's index (never gated out). maps: :func:`estimate_maps` of the whole image, or None
    to estimate them from `ldrs` itself (a training crop). Where no frame counts, the shortest frame is
    used where the reference is bright and the longest where it is dark (all clipped, or all black)."""
    if maps is None:
        maps = estimate_maps(ldrs, ref)
    ldrs = ldrs.float().clamp(0, 1)
    n, g = ldrs.shape[1], _exponent(gamma)
    scale = scales.float().view(*scales.shape[:2], 1, 1, 1)
    frames = [_frame(ldrs[:, i], g, noise) for i in range(n)]
    valid = [_valid(f.level, f.near_clip) for f in frames]
    gates = [torch.ones_like(valid[ref]) if i == ref else
             _gate(frames[i], frames[ref], maps[:, i], g, scale[:, ref] / scale[:, i], i < ref) for i in range(n)]
    bright = smoothstep((frames[ref].level - 0.5) / 0.4)
    fallback = [FALLBACK * ((bright if i == 0 else 0) + (1 - bright if i == n - 1 else 0)) for i in range(n)]
    # Pass 1 weighs each frame by the variance of the signal it measured; pass 2 by the variance of
    # the signal pass 1's estimate predicts for it. A frame's weight that its gate takes away goes to
    # the reference, clipped or not: moving content follows the reference, as in ``deghost``.
    variance = [f.variance for f in frames]
    for step in range(PILOT_PASSES):
        inverse = [1 / (scale[:, i] ** 2 * variance[i]) for i in range(n)]
        ungated = [valid[i] * inverse[i] for i in range(n)]
        weights = [ungated[i] * gates[i] + fallback[i] * inverse[i] for i in range(n)]
        weights[ref] = weights[ref] + sum(ungated[i] * (1 - gates[i]) for i in range(n) if i != ref)
        total = sum(weights)
        estimate = torch.zeros_like(frames[ref].linear)
        for i, (w, f) in enumerate(zip(weights, frames)):
            estimate.addcmul_(f.linear, w * (scale[:, i] / total))
        if step + 1 < PILOT_PASSES:
            variance = [noise.variance((estimate.mean(1, keepdim=True) / scale[:, i]).clamp(0, 1), g) for i in range(n)]
    need = torch.stack([ungated[i] * (1 - gates[i]) for i in range(n) if i != ref]).amax(0) / sum(ungated).clamp(min=1e-30)
    used = torch.stack([w / total for w in weights], 1)
    return OptimalMerge(estimate, need.clamp(0, 1), used)

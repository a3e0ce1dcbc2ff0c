"""The fixed synthetic validation set and how a model or a classical merge is scored on it.

Scores are Kalantari-style PSNR-mu and PSNR-l on linear HDR expressed with 1.0 = the shortest
frame's white level (the range Kalantari's ground truth uses), clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from adnet_cli.classical import classical_merge
from adnet_cli.datasets import to_network_domain
from adnet_cli.inference import MergeOptions, merge
from adnet_cli.metrics import psnr_l, psnr_mu
from adnet_cli.model import ADNet
from adnet_cli.preprocess import Convention
from adnet_cli.simulate import Sample, SimulatorConfig, simulate

VALIDATION_SEED = 1_000_003  # fixed forever: numbers in weights cards refer to this set


def validation_set(count: int = 8, size: int = 256) -> list[Sample]:
    """`count` simulated brackets of size x size, the same on every machine and every run."""
    return [simulate(VALIDATION_SEED + i, SimulatorConfig(size=size)) for i in range(count)]


def _mean_scores(predictions: list[np.ndarray], samples: list[Sample]) -> dict[str, float]:
    mu, lin = [], []
    for pred, sample in zip(predictions, samples):
        p = to_network_domain(pred, sample.exposures, "kalantari")
        t = to_network_domain(sample.hdr, sample.exposures, "kalantari")
        mu.append(psnr_mu(p, t))
        lin.append(psnr_l(p, t))
    return {"psnr_mu": float(np.mean(mu)), "psnr_l": float(np.mean(lin))}


def score(
    model: ADNet, samples: list[Sample], convention: Convention, device: torch.device, precision: str = "float32"
) -> dict[str, float]:
    """Mean PSNR-mu / PSNR-l (dB) of `model` over `samples`, run as `adnet merge` runs it (whole image),
    in float32 unless `precision` says otherwise (the numbers in weights cards are float32)."""
    was_training = model.training
    model.eval()
    preds = [merge(model, s.ldrs, tuple(s.exposures), convention, device, MergeOptions(tile=0, precision=precision))
             for s in samples]
    model.train(was_training)
    return _mean_scores(preds, samples)


def score_method(samples: list[Sample], method: str, gamma: float = 2.24) -> dict[str, float]:
    """The same scores for a classical merge ("debevec", "robertson", "medium")."""
    return _mean_scores([classical_merge(s.ldrs, s.exposures, method, gamma) for s in samples], samples)

"""The fixed validation sets and how a model, its base or a classical merge is scored on them.

Two sets, both fixed forever (numbers in weights cards refer to them):

- ``synthetic``: 8 dead-leaves brackets of 256 x 256 from the simulator's gamma camera (the set the
  first weights were scored on).
- ``real``: brackets simulated from real HDR photographs held out of training
  (`adnet_cli.training.scene_sources.VALIDATION_SCENES`, which ``--data hdr:`` leaves out), each scene once
  static and once moving, 256 x 384, through the realistic camera (tone curves, clipping channels,
  chroma noise, JPEG), exposure ratios 2-16.

Scores are Kalantari-style PSNR-mu and PSNR-l on linear HDR expressed with 1.0 = the shortest
frame's white level (the range Kalantari's ground truth uses), clipped to [0, 1]; each set is scored
whole and split into its static and moving brackets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from adnet_cli.curves import NTIRE_GAMMA
from adnet_cli.evaluation.datasets import to_network_domain
from adnet_cli.evaluation.metrics import psnr_l, psnr_mu
from adnet_cli.merge.classical import classical_merge
from adnet_cli.merge.engine import Engine
from adnet_cli.network.bases import base_image, bracket_context
from adnet_cli.network.inference import MergeOptions
from adnet_cli.network.model import ADNet
from adnet_cli.network.preprocess import GAMMA, Convention, build_inputs, linear_power, to_linear
from adnet_cli.training.scene_sources import VALIDATION_SCENES, HdrFolderSource
from adnet_cli.training.simulate import Sample, SimulatorConfig, simulate

VALIDATION_SEED = 1_000_003  # fixed forever: numbers in weights cards refer to this set
REAL_VALIDATION_SEED = 2_000_003
REAL_SHAPE = (256, 384)
REAL_RATIOS = (2.0, 16.0)
SETS: tuple[str, ...] = ("synthetic", "real")
SUBSETS: tuple[str, ...] = ("all", "static", "moving")


def validation_set(count: int = 8, size: int = 256) -> list[Sample]:
    """`count` simulated dead-leaves brackets of size x size, the same on every machine and every run."""
    return [simulate(VALIDATION_SEED + i, SimulatorConfig(size=size)) for i in range(count)]


def real_validation_set(scene_files: Sequence[Path]) -> list[Sample]:
    """Two brackets (static, then moving) of each HDR file in `scene_files`, in the given order; a
    VALIDATION_SCENES file's brackets are seeded by its place in that list (the same whichever of
    them are at hand), any other file's by its place in `scene_files`."""
    samples = []
    for i, path in enumerate(map(Path, scene_files)):
        i = VALIDATION_SCENES.index(path.name) if path.name in VALIDATION_SCENES else i
        source = HdrFolderSource(path.parent, only=(path,))
        for moving in (0, 1):
            config = SimulatorConfig(size=REAL_SHAPE[0], width=REAL_SHAPE[1], camera="realistic",
                                     ratio_range=REAL_RATIOS, static_prob=1.0 - moving)
            samples.append(simulate(REAL_VALIDATION_SEED + 2 * i + moving, config, [source], procedural_share=0.0))
    return samples


@dataclass(frozen=True)
class ValidationSets:
    """The samples of both sets (`real` is empty where the held-out scenes are not at hand)."""

    synthetic: list[Sample]
    real: list[Sample]

    def named(self) -> dict[str, list[Sample]]:
        return {name: samples for name, samples in zip(SETS, (self.synthetic, self.real)) if samples}

    def score(self, engine: Engine) -> dict[str, float]:
        """:func:`score` on each set, flattened: ``psnr_mu``/``psnr_l`` (the synthetic set, as logs have
        always said) and ``<set>.<subset>.psnr_mu``/``.psnr_l`` for every set and subset."""
        flat: dict[str, float] = {}
        for name, samples in self.named().items():
            flat.update(flatten(name, score(engine, samples)))
        flat.update({k: flat[f"synthetic.all.{k}"] for k in ("psnr_mu", "psnr_l") if f"synthetic.all.{k}" in flat})
        return flat


def flatten(name: str, scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """{subset: {metric: dB}} of set `name` as the training log's keys, ``<set>.<subset>.<metric>``."""
    return {f"{name}.{subset}.{k}": v for subset, values in scores.items() for k, v in values.items()}


def validation_sets(count: int = 8, size: int = 256, scene_files: Sequence[str | Path] = ()) -> ValidationSets:
    return ValidationSets(validation_set(count, size), real_validation_set([Path(f) for f in scene_files]))


def _mean_scores(predictions: list[np.ndarray], samples: list[Sample]) -> dict[str, dict[str, float]]:
    """{subset: {"psnr_mu", "psnr_l"}} means over all samples and over the static and moving ones."""
    per = []
    for pred, sample in zip(predictions, samples):
        p = to_network_domain(pred, sample.exposures, "kalantari")
        t = to_network_domain(sample.hdr, sample.exposures, "kalantari")
        per.append((sample.static, psnr_mu(p, t), psnr_l(p, t)))
    out = {}
    for subset in SUBSETS:
        chosen = [(mu, lin) for static, mu, lin in per if subset == "all" or static == (subset == "static")]
        if chosen:
            out[subset] = {"psnr_mu": float(np.mean([c[0] for c in chosen])),
                           "psnr_l": float(np.mean([c[1] for c in chosen]))}
    return out


def _scored(merge_one: Callable[[Sample], np.ndarray], samples: list[Sample]) -> dict[str, dict[str, float]]:
    return _mean_scores([merge_one(s) for s in samples], samples)


def scoring_engine(model: ADNet, convention: Convention, device: torch.device,
                   dtype: torch.dtype = torch.float32) -> Engine:
    """The engine weights cards are scored with: whole images (no tiles), the network everywhere,
    float32 unless `dtype`."""
    return Engine(model, convention, device, MergeOptions(tile=0, dtype=dtype, network="everywhere"))


def score(engine: Engine, samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Mean PSNR-mu / PSNR-l (dB) of the engine's merges over `samples` per subset (the engine is
    `adnet merge`'s; :func:`scoring_engine` makes the one weights cards use)."""
    model = engine.model
    was_training = model.training
    model.eval()
    try:
        return _scored(lambda s: engine.merge_arrays(s.ldrs, s.exposures), samples)
    finally:
        model.train(was_training)


def score_method(samples: list[Sample], method: str, gamma: float = NTIRE_GAMMA) -> dict[str, dict[str, float]]:
    """The same scores for a classical merge ("debevec", "robertson", "medium")."""
    return _scored(lambda s: classical_merge(s.ldrs, s.exposures, method, gamma), samples)


def base_merge(sample: Sample, base: str, convention: Convention) -> np.ndarray:
    """A residual model's parameter-free base (`adnet_cli.network.bases.base_image`) on `sample`, as linear
    (H, W, 3) float32 HDR on the project's scale: what an untrained residual model outputs."""
    if base == "none":
        raise ValueError("base none has no base image")
    ldrs = torch.from_numpy(np.ascontiguousarray(sample.ldrs)).permute(0, 3, 1, 2).unsqueeze(0)
    exposures = tuple(sample.exposures)
    inputs = build_inputs(ldrs, exposures, convention, GAMMA[convention])
    context = bracket_context(ldrs, exposures, convention, GAMMA[convention], maps=True)
    linear = to_linear(torch.relu(base_image(*inputs, base, linear_power(convention), context)), exposures, convention)
    return linear[0].permute(1, 2, 0).numpy()


def score_base(samples: list[Sample], base: str, convention: Convention) -> dict[str, dict[str, float]]:
    """The same scores for a residual model's base alone."""
    return _scored(lambda s: base_merge(s, base, convention), samples)

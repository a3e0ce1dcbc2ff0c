"""The training settings, declared once: the command line takes its options' defaults from here and
builds a :class:`TrainConfig` by name (no torch import, so `adnet train --help` stays fast)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from adnet_cli.network.config import ADNetConfig, Convention


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Defaults follow the paper where it says (crop, lr, loss)."""

    out_dir: Path
    data: tuple[str, ...] = ("synthetic",)
    steps: int = 1000
    batch_size: int = 16
    crop: int = 256
    lr: float = 1e-4
    lr_decay_every: int = 0  # steps between x0.1 decays; 0 = at 2/3 of the run
    seed: int = 0
    convention: Convention = "kalantari"
    model: ADNetConfig = ADNetConfig()
    val_every: int = 200
    val_count: int = 8
    val_size: int = 256
    checkpoint_every: int = 100
    amp: bool = True  # bf16 autocast on CUDA (runtime.training_dtype)
    channels_last: bool = True  # NHWC activations on the CPU: 1.15x per step (benchmarks/train_speed.py)
    init: str | None = None  # weights to fine-tune from
    device: str = "auto"
    camera: str = "realistic"  # the simulator's camera (adnet_cli.training.simulate.CAMERAS)
    max_ratio: float = 64.0  # largest simulated exposure ratio between neighbouring frames (smallest: 2)
    static_share: float = 0.25  # share of simulated brackets with no camera or object motion
    holdout: bool = True  # leave the real-scene validation files out of hdr: data
    snapshots: bool = False  # also keep OUT/snapshots/step-N.safetensors of every validated step
    max_minutes: float = 0.0  # stop once training (validation excluded) has taken this long; 0 = no limit
    val_scenes: tuple[str, ...] = ()  # HDR files of the real-scene validation set (validation.real_validation_set)
    workers: int = 0  # processes that simulate the next batches while the model trains (0: in the loop)
    extra: dict[str, str] = field(default_factory=dict)


def default(name: str) -> object:
    """The default of TrainConfig's field `name` (what the command line shows)."""
    found = next(f for f in fields(TrainConfig) if f.name == name)
    return found.default_factory() if found.default is MISSING else found.default  # type: ignore[misc]

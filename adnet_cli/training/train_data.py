"""Training batches from the simulator and from standard datasets, deterministic per (seed, step, rank).

Each sample is a function of its seed alone, so a resumed run sees exactly the batches it would have
seen without stopping, and each DDP rank sees different ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from adnet_cli.errors import InputError
from adnet_cli.evaluation.datasets import Scene, SceneRef, detect_layout, find_scenes
from adnet_cli.training.scene_sources import sources_from_folder
from adnet_cli.training.simulate import SimulatorConfig, simulate

DATA_KINDS = ("synthetic", "hdr", "kalantari", "ntire")
GAMMA_DISTURB_PROB = 0.3
GAMMA_DISTURB = 0.1
SCENE_CACHE = 8


@dataclass(frozen=True)
class DataSpec:
    """One training source: ``synthetic``, ``hdr:PATH``, ``kalantari:PATH`` or ``ntire:PATH``."""

    kind: str
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> "DataSpec":
        kind, _, path = text.partition(":")
        if kind not in DATA_KINDS:
            raise ValueError(f"unknown data source {text!r}; use synthetic, hdr:PATH, kalantari:PATH or ntire:PATH")
        if (kind == "synthetic") != (not path):
            raise ValueError(f"{kind} takes {'no path' if kind == 'synthetic' else 'a path, e.g. ' + kind + ':DIR'}")
        return cls(kind, Path(path) if path else None)


@dataclass(frozen=True)
class Batch:
    """ldrs (B, 3, 3, S, S) float32 in [0, 1]; exposures (B, 3) float64; hdr (B, 3, S, S) float32 linear,
    1.0 = medium white; gamma (B,) float32, the gamma to build the inputs with."""

    ldrs: torch.Tensor
    exposures: torch.Tensor
    hdr: torch.Tensor
    gamma: torch.Tensor


class SampleSource:
    """Draws (frames (3,S,S,3), exposures (3,), hdr (S,S,3), input gamma) for a seed."""

    def __init__(self, specs: list[DataSpec], crop: int, nominal_gamma: float, camera: str = "gamma",
                 ratio_range: tuple[float, float] = (2.0, 8.0), holdout: bool = True, static_share: float = 0.25) -> None:
        """camera, ratio_range, static_share (its static_prob): the simulator's (`SimulatorConfig`);
        holdout: leave the real-scene validation files (`VALIDATION_SCENES`) out of hdr: folders."""
        self.crop, self.nominal_gamma = crop, nominal_gamma
        self.sim_config = SimulatorConfig(size=crop, camera=camera, ratio_range=ratio_range, static_prob=static_share)
        try:
            self.sim_sources = [s for spec in specs if spec.kind == "hdr" for s in sources_from_folder(spec.path, holdout)]
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        # hdr:DIR alone means the user's scenes only; with synthetic too, half are dead leaves.
        self.procedural_share = 0.5 if any(spec.kind == "synthetic" for spec in specs) else 0.0
        self.kinds = sorted({"simulated" if spec.kind in ("synthetic", "hdr") else "real" for spec in specs})
        # The exposure ratios the simulator draws, or None when every sample comes from a dataset.
        self.simulated_ratios = self.sim_config.ratio_range if "simulated" in self.kinds else None
        self.scenes: list[SceneRef] = [ref for spec in specs if spec.kind in ("kalantari", "ntire") for ref in _scenes(spec)]
        self._cache: dict[int, Scene] = {}
        if "real" in self.kinds and not self.scenes:
            raise InputError("no scenes found in the given dataset folders")

    def draw(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        rng = np.random.default_rng(seed)
        if self.kinds[rng.integers(len(self.kinds))] == "real":
            frames, exposures, hdr = self._real_crop(rng)
            gamma = self.nominal_gamma
            if rng.random() < GAMMA_DISTURB_PROB:  # the paper's disturbance, for data whose response is fixed
                gamma += rng.uniform(-GAMMA_DISTURB, GAMMA_DISTURB)
            return frames, exposures, hdr, gamma
        # Simulated samples already vary the camera's response gamma; the inputs use the nominal one.
        sample = simulate(int(rng.integers(2**62)), self.sim_config, self.sim_sources, self.procedural_share)
        return sample.ldrs, sample.exposures, sample.hdr, self.nominal_gamma

    def _load(self, index: int) -> Scene:
        """Decoded scenes are kept for reuse, at most SCENE_CACHE of them."""
        if index not in self._cache:
            if len(self._cache) >= SCENE_CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[index] = self.scenes[index].load()
        return self._cache[index]

    def _real_crop(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scene = self._load(int(rng.integers(len(self.scenes))))
        height, width = scene.hdr.shape[:2]
        if min(height, width) < self.crop:
            raise InputError(f"scene {scene.name} ({width}x{height}) is smaller than the crop {self.crop}")
        y, x = rng.integers(height - self.crop + 1), rng.integers(width - self.crop + 1)
        frames = scene.frames[:, y : y + self.crop, x : x + self.crop]
        hdr = scene.hdr[y : y + self.crop, x : x + self.crop]
        if rng.random() < 0.5:
            frames, hdr = frames[:, :, ::-1], hdr[:, ::-1]
        if rng.random() < 0.5:
            frames, hdr = frames.transpose(0, 2, 1, 3), hdr.transpose(1, 0, 2)
        return np.ascontiguousarray(frames), np.asarray(scene.exposures, np.float64), np.ascontiguousarray(hdr)


def _scenes(spec: DataSpec) -> list[SceneRef]:
    """The scenes of a kalantari:/ntire: source, in the layout its kind names (never auto-detected)."""
    if spec.kind == "kalantari":
        return find_scenes(spec.path, "kalantari")
    layout = detect_layout(spec.path)
    if layout not in ("ntire", "ntire-folders"):
        raise InputError(f"ntire:{spec.path} holds a {layout} dataset, not an NTIRE one")
    return find_scenes(spec.path, layout)


def sample_seed(seed: int, step: int, rank: int, index: int) -> int:
    """A well-mixed seed for sample `index` of `rank`'s batch at `step`."""
    return int(np.random.SeedSequence([seed, step, rank, index]).generate_state(1, np.uint64)[0] >> 1)


def make_batch(source: SampleSource, seed: int, step: int, rank: int, batch_size: int) -> Batch:
    """The batch of `rank` at `step`: a pure function of its arguments."""
    draws = [source.draw(sample_seed(seed, step, rank, i)) for i in range(batch_size)]
    return Batch(
        ldrs=torch.from_numpy(np.stack([d[0] for d in draws])).permute(0, 1, 4, 2, 3).float(),
        exposures=torch.from_numpy(np.stack([d[1] for d in draws])).double(),
        hdr=torch.from_numpy(np.stack([d[2] for d in draws])).permute(0, 3, 1, 2).float(),
        gamma=torch.tensor([d[3] for d in draws], dtype=torch.float32),
    )

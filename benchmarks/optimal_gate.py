"""How the optimal base's gate constants were chosen: PSNR-mu of `base optimal` over a grid of
(Z_FROM, Z_FULL, TOLERANCE) on tuning brackets that are *not* the validation sets (other seeds, and
scenes used in training), so the weights card stays an honest held-out score.

Run from the repository root (needs ../shared/datasets/hdr for the realistic-camera rows):
    python benchmarks/optimal_gate.py [--scenes ../shared/datasets/hdr] [--count 6]
Prints one row per setting: synthetic (gamma camera) and realistic-camera static / moving means, and
the share of pixels whose `need` exceeds 0.25 on the static brackets (false alarms of the mask).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

from adnet_cli.network import optimal
from adnet_cli.network.bases import bracket_context, optimal_base
from adnet_cli.network.preprocess import build_inputs
from adnet_cli.training.scene_sources import VALIDATION_SCENES, HdrFolderSource
from adnet_cli.training.simulate import SimulatorConfig, simulate
from adnet_cli.training.validation import _mean_scores, base_merge

TUNING_SEED = 3_000_017  # not a validation seed


def tuning_brackets(scenes: Path | None, count: int) -> dict[str, list]:
    synthetic = [simulate(TUNING_SEED + i, SimulatorConfig(size=256, static_prob=0.5)) for i in range(2 * count)]
    sets = {"synthetic": synthetic}
    if scenes and scenes.is_dir():
        files = [p for p in sorted(scenes.glob("*.hdr")) if p.name not in VALIDATION_SCENES][:count]
        real = []
        for i, path in enumerate(files):
            for moving in (0, 1):
                config = SimulatorConfig(size=256, width=384, camera="realistic", ratio_range=(2.0, 16.0),
                                         static_prob=1.0 - moving)
                real.append(simulate(TUNING_SEED + 100 + 2 * i + moving, config,
                                     [HdrFolderSource(path.parent, only=(path,))], procedural_share=0.0))
        sets["realistic"] = real
    return sets


def false_alarms(samples: list) -> float:
    shares = []
    for s in (s for s in samples if s.static):
        ldrs = torch.from_numpy(np.ascontiguousarray(s.ldrs)).permute(0, 3, 1, 2).unsqueeze(0)
        context = bracket_context(ldrs, s.exposures, "kalantari", maps=True)
        need = optimal_base(*build_inputs(ldrs, s.exposures, "kalantari"), context).need
        shares.append(float((need > 0.25).float().mean()))
    return float(np.mean(shares)) if shares else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/hdr")
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    sets = tuning_brackets(args.scenes, args.count)
    print("| z_from | z_full | tolerance | " + " | ".join(f"{n} static | {n} moving | {n} alarms" for n in sets) + " |")
    print("|" + " --- |" * (3 + 3 * len(sets)))
    grid = itertools.product([(1.0, 2.0), (1.5, 3.0), (2.0, 4.0), (3.0, 6.0), (4.0, 8.0)], [0.01, 0.02, 0.03, 0.05])
    for (z_from, z_full), tolerance in grid:
        optimal.Z_FROM, optimal.Z_FULL, optimal.TOLERANCE = z_from, z_full, tolerance
        cells = []
        for samples in sets.values():
            scores = _mean_scores([base_merge(s, "optimal", "kalantari") for s in samples], samples)
            cells += [f"{scores['static']['psnr_mu']:.2f}", f"{scores['moving']['psnr_mu']:.2f}",
                      f"{100 * false_alarms(samples):.1f} %"]
        print(f"| {z_from:g} | {z_full:g} | {tolerance:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

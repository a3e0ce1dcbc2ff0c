"""Scores for a weights card: checkpoints against their bases and the classical merges, on both fixed
validation sets, static and moving brackets apart.

Run from the repository root:
    python benchmarks/weights_card.py adnet_cli/checkpoints/adnet-synthetic.safetensors [OTHER.safetensors ...]
        [--scenes ../shared/datasets/hdr] [--json FILE]
Prints one markdown table per set (synthetic dead leaves; real scenes held out of training, when
--scenes holds them; the example bracket examples/workshop/, static, made from a held-out scene) with PSNR-mu
and PSNR-l (Kalantari style, see adnet_cli/training/validation.py) over all,
static and moving brackets for each checkpoint (whole images, the network everywhere; and for residual
weights a second row, "auto": `adnet merge`'s default, tiled, the network only where the frames
disagree), each residual checkpoint's base alone, OpenCV's Debevec and Robertson merges, the
noise-optimal merge and the medium frame alone, all computed in this process; then each checkpoint
row's margin over the best of the others by PSNR-mu, per subset.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from adnet_cli.formats.io import read_hdr, read_ldr
from adnet_cli.merge.classical import METHODS
from adnet_cli.merge.engine import Engine
from adnet_cli.network.inference import MergeOptions
from adnet_cli.network.weights import load_weights
from adnet_cli.training.scene_sources import validation_scene_files
from adnet_cli.training.simulate import Sample
from adnet_cli.training.validation import SUBSETS, score, score_base, score_method, scoring_engine, validation_sets

ROOT = Path(__file__).resolve().parent.parent
SHARED_SCENES = ROOT.parent / "shared" / "datasets" / "hdr"
EXAMPLE = ROOT / "examples" / "workshop"
EXAMPLE_TIMES = (1 / 100, 1 / 25, 1 / 6)  # the frames' EXIF ExposureTime (examples/make_bracket.py)
Scores = dict[str, dict[str, float]]


def example_bracket() -> Sample:
    """The shipped example as a static validation sample: frames, EXIF times, ground truth (1.0 =
    the medium frame's white, as the simulator's)."""
    ldrs = np.stack([read_ldr(EXAMPLE / f"{n}.png").pixels for n in ("short", "medium", "long")]).astype(np.float32)
    times = np.array(EXAMPLE_TIMES) / EXAMPLE_TIMES[1]
    return Sample(ldrs, times, read_hdr(EXAMPLE / "reference.hdr").astype(np.float32), 2.2, True)


def card(weights: list[str], sets: dict[str, list[Sample]]) -> dict[str, dict[str, Scores]]:
    """{set: {row name: {subset: {"psnr_mu", "psnr_l"}}}} for every checkpoint, base and method. The
    classical merges assume gamma 2.24 (the simulated cameras' nominal response), the example's 2.2."""
    loaded = [load_weights(w) for w in weights]
    out: dict[str, dict[str, Scores]] = {}
    for name, samples in sets.items():
        rows: dict[str, Scores] = {}
        for w in loaded:
            engines = {f"adnet {w.path.name}": scoring_engine(w.model, w.convention, torch.device("cpu"))}
            if w.model.config.base != "none":  # what `adnet merge` runs by default: tiled, the network where needed
                engines[f"adnet {w.path.name} auto"] = Engine(w.model, w.convention, torch.device("cpu"), MergeOptions())
            for row, engine in engines.items():
                start = time.perf_counter()
                rows[row] = score(engine, samples)
                rows[row]["seconds"] = {"psnr_mu": time.perf_counter() - start, "psnr_l": 0.0}
            base = w.model.config.base
            if base != "none" and f"base ({base})" not in rows:
                rows[f"base ({base})"] = score_base(samples, base, w.convention)
        gamma = 2.2 if name == "example" else 2.24
        rows.update({m: score_method(samples, m, gamma) for m in METHODS})
        out[name] = rows
    return out


def print_card(result: dict[str, dict[str, Scores]], counts: dict[str, tuple[int, int]]) -> None:
    for name, rows in result.items():
        static, moving = counts[name]
        print(f"\n{name} set: {static + moving} brackets ({static} static, {moving} moving); PSNR-mu / PSNR-l dB")
        print("| method | all | static | moving |")
        print("| --- | --- | --- | --- |")
        for row, scores in rows.items():
            cells = [f"{scores[s]['psnr_mu']:.2f} / {scores[s]['psnr_l']:.2f}" if s in scores else "-" for s in SUBSETS]
            print(f"| {row} | {' | '.join(cells)} |")
        for row, scores in rows.items():
            if not row.startswith("adnet "):
                continue
            others = [r for r in rows if not r.startswith("adnet ")]
            margins = []
            for s in SUBSETS:
                if s in scores:
                    best = max(others, key=lambda r: rows[r].get(s, {}).get("psnr_mu", -1e9))
                    margins.append(f"{s} {scores[s]['psnr_mu'] - rows[best][s]['psnr_mu']:+.2f} vs {best}")
            print(f"{row}: {'; '.join(margins)} (network time {scores['seconds']['psnr_mu']:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+")
    parser.add_argument("--scenes", type=Path, default=SHARED_SCENES, help="folder holding the held-out HDR scenes")
    parser.add_argument("--json", type=Path, help="also write the scores here")
    args = parser.parse_args()
    files = validation_scene_files([args.scenes])
    sets = {**validation_sets(scene_files=files).named(), "example": [example_bracket()]}
    if not files:
        print(f"note: no held-out scenes under {args.scenes}: the real-scene set is not scored")
    counts = {n: (sum(s.static for s in v), sum(not s.static for s in v)) for n, v in sets.items()}
    result = card(args.weights, sets)
    print_card(result, counts)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

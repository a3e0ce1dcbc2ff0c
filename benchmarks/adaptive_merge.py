"""The motion-adaptive merge against the network everywhere, in one run (`cpu_merge.py --adaptive`).

Run from the repository root:
    python benchmarks/cpu_merge.py --adaptive [--weights FILE] [--mp 1]   # static / 10 % moving, shake
    python benchmarks/cpu_merge.py --auto-tiles [--weights FILE]          # window side of `auto`
Brackets come from the realistic camera (benchmarks/brackets.py). Rows: seconds, s/MP, windows that
ran the network, the speed-up over `everywhere` on the same bracket, PSNR-mu against the ground truth
(Kalantari style, as the weights card), and max |auto - everywhere| / peak where the mask is 1.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from adnet_cli.evaluation.datasets import to_network_domain
from adnet_cli.evaluation.metrics import psnr_mu
from adnet_cli.formats.io import unit_float
from adnet_cli.merge.align import align_frames
from adnet_cli.network.adaptive import AUTO_TILE, base_and_need, network_mask, run_network
from adnet_cli.network.inference import MergeOptions, bracket_maps
from adnet_cli.network.weights import load_weights
from adnet_cli.runtime import keep_freed_memory
from benchmarks.brackets import handheld_bracket, static_bracket, with_moving_area

CPU = torch.device("cpu")


def _score(hdr: np.ndarray, truth: np.ndarray, exposures: np.ndarray) -> float:
    return psnr_mu(to_network_domain(hdr, exposures, "kalantari"), to_network_domain(truth, exposures, "kalantari"))


def _run(model, frames: np.ndarray, exposures: np.ndarray, mode: str, tile: int | None = None):
    options = MergeOptions(network=mode, tile=tile)
    run_network(model, frames[:, :64, :64], tuple(exposures), "kalantari", CPU, options)  # warm-up
    start = time.perf_counter()
    hdr, stats = run_network(model, frames, tuple(exposures), "kalantari", CPU, options)
    return hdr, stats, time.perf_counter() - start


def _inside(model, frames: np.ndarray, exposures: np.ndarray) -> np.ndarray:
    _, need = base_and_need(model, frames, tuple(exposures), "kalantari", CPU, bracket_maps(frames))
    return network_mask(need)[: frames.shape[1], : frames.shape[2]] >= 1.0


def speed_rows(weights: str | None, mp: float = 1.0, share: float = 0.1) -> None:
    """Static and moving-area brackets of `mp` megapixels, auto against everywhere."""
    keep_freed_memory()
    loaded = load_weights(weights)
    side = int(round(1024 * mp**0.5 / 4)) * 4
    sample = static_bracket(side, side)
    moving, covered = with_moving_area(sample, share)
    print(f"weights {loaded.path.name} (base {loaded.model.config.base}), {torch.get_num_threads()} threads, "
          f"{side}x{side}, auto windows of {AUTO_TILE} px")
    print("| bracket | network | s | s/MP | windows run | x everywhere | PSNR-mu dB | max diff in mask |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, frames in (("static", sample.ldrs), (f"{100 * covered:.0f} % moving", moving)):
        every, every_stats, every_s = _run(loaded.model, frames, sample.exposures, "everywhere")
        auto, stats, auto_s = _run(loaded.model, frames, sample.exposures, "auto")
        inside = _inside(loaded.model, frames, sample.exposures)
        diff = float(np.abs(auto - every)[inside].max() / every.max()) if inside.any() else 0.0
        for mode, hdr, st, s in (("everywhere", every, every_stats, every_s), ("auto", auto, stats, auto_s)):
            print(f"| {label} | {mode} | {s:.1f} | {s / (side * side / 1e6):.1f} | {st.ran} of {st.windows} | "
                  f"{every_s / s:.2f} | {_score(hdr, sample.hdr, sample.exposures):.2f} | "
                  f"{diff if mode == 'auto' else 0:.1e} |", flush=True)


def shake_rows(weights: str | None, mp: float = 1.0, seeds: tuple[int, ...] = (21, 22, 23)) -> None:
    """Hand-held brackets (shake alone): windows run and PSNR-mu, with and without --align."""
    keep_freed_memory()
    loaded = load_weights(weights)
    side = int(round(1024 * mp**0.5 / 4)) * 4
    print("| bracket | --align | network | windows run | PSNR-mu dB | s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for seed in seeds:
        sample = handheld_bracket(side, side, seed)
        aligned = align_frames(unit_float(sample.ldrs), sample.exposures, 1, gamma=2.2).frames
        for align, frames in (("no", sample.ldrs), ("yes", aligned)):
            for mode in ("auto", "everywhere"):
                hdr, stats, s = _run(loaded.model, frames, sample.exposures, mode)
                print(f"| shake seed {seed} | {align} | {mode} | {stats.ran} of {stats.windows} | "
                      f"{_score(hdr, sample.hdr, sample.exposures):.2f} | {s:.1f} |", flush=True)


def tile_rows(weights: str | None, tiles: tuple[int, ...] = (64, 96, 128, 192, 256, 384), mp: float = 1.0) -> None:
    """The window side of `auto` on the moving-area bracket: time and windows run for each side."""
    keep_freed_memory()
    loaded = load_weights(weights)
    side = int(round(1024 * mp**0.5 / 4)) * 4
    sample = static_bracket(side, side)
    moving, covered = with_moving_area(sample, 0.1)
    print(f"{side}x{side}, {100 * covered:.0f} % moving; | tile | windows run | share of pixels in run windows | s |")
    print("| --- | --- | --- | --- |")
    for tile in tiles:
        _, stats, s = _run(loaded.model, moving, sample.exposures, "auto", tile)
        share = stats.ran * tile * tile / (side * side)
        print(f"| {tile} | {stats.ran} of {stats.windows} | {min(1.0, share):.2f} | {s:.1f} |", flush=True)

"""Scoring merges against ground-truth datasets, one process or many (torchrun).

Every method (the network or a classical merge) produces linear HDR on the project's scale
(1.0 = reference white); :func:`score_prediction` converts prediction and ground truth into each
metric's domain through the one shared definition (`preprocess.from_linear`):

- Kalantari-style PSNR-l / PSNR-mu / SSIM-l / SSIM-mu on linear HDR with 1.0 = the shortest frame's
  white level (the range of Kalantari's ground truth);
- the NTIRE 2021 pair on the gamma-encoded images aligned to the medium frame.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch.distributed as dist

from adnet_cli.errors import AdnetError, OutputError, error_line
from adnet_cli.evaluation.datasets import KALANTARI_METRICS, LAYOUT_TABLE, NTIRE_METRICS, Scene, SceneRef, to_network_domain
from adnet_cli.evaluation.metrics import METRICS
from adnet_cli.formats.atomic import write_text
from adnet_cli.formats.io import write_hdr_image, write_ldr_image
from adnet_cli.formats.tonemap import MU, preview
from adnet_cli.merge.classical import classical_merge
from adnet_cli.merge.engine import Engine

Merger = Callable[[Scene], np.ndarray]
Saver = Callable[[str, str, np.ndarray], None]


@dataclass(frozen=True)
class Result:
    """One method on one scene: metrics by label, or the reason it failed."""

    scene: str
    method: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def primary_metrics(layout: str) -> tuple[str, ...]:
    """The metrics a paper on this dataset reports first."""
    return LAYOUT_TABLE[layout].headline_metrics


def score_prediction(pred: np.ndarray, scene: Scene) -> dict[str, float]:
    """All metrics of `pred` ((H, W, 3) linear, 1.0 = reference white) against the scene's ground truth."""
    scores = {}
    for convention, names in (("kalantari", KALANTARI_METRICS), ("ntire", NTIRE_METRICS)):
        p = to_network_domain(pred, scene.exposures, convention)
        t = to_network_domain(scene.hdr, scene.exposures, convention)
        scores.update({name: float(METRICS[name](p, t)) for name in names})
    return scores


def classical_merger(method: str, gamma: float) -> Merger:
    """Scene -> (H, W, 3) linear HDR by an OpenCV merge (or the medium frame) with this response gamma."""
    return lambda scene: classical_merge(scene.frames, scene.exposures, method, gamma)


def network_merger(engine: Engine) -> Merger:
    """Scene -> (H, W, 3) linear HDR by the network, through the engine `adnet merge` runs."""
    return lambda scene: engine.merge_arrays(scene.frames, scene.exposures)


def evaluate_scene(ref: SceneRef, mergers: dict[str, Merger], save: Saver | None = None) -> list[Result]:
    """Run every method on one scene; failures become Results with an error, never exceptions."""
    try:
        scene = ref.load()
    except Exception as exc:  # an unreadable scene fails alone
        return [Result(ref.name, m, error=error_line(exc)) for m in mergers]
    results = []
    for method, merger in mergers.items():
        start = time.perf_counter()
        try:
            pred = merger(scene)
            metrics = score_prediction(pred, scene)
            if save is not None:
                save(ref.name, method, pred)
        except Exception as exc:
            results.append(Result(ref.name, method, error=error_line(exc)))
            continue
        results.append(Result(ref.name, method, metrics, seconds=time.perf_counter() - start))
    return results


def evaluate(
    refs: Sequence[SceneRef],
    mergers: dict[str, Merger],
    save: Saver | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """Results of this process's share of `refs` (all of them outside torchrun), gathered on every rank
    in the order of `refs`. progress(done, total) counts this process's scenes."""
    rank, world = _rank_world()
    mine = list(refs)[rank::world]
    results: list[Result] = []
    for i, ref in enumerate(mine):
        if progress:
            progress(i, len(mine))
        results.extend(evaluate_scene(ref, mergers, save))
    if progress:
        progress(len(mine), len(mine))
    if world > 1:
        gathered: list[list[Result] | None] = [None] * world
        dist.all_gather_object(gathered, results)
        order = {ref.name: i for i, ref in enumerate(refs)}
        results = sorted((r for part in gathered for r in part or []), key=lambda r: order[r.scene])
    return results


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def agree_or_raise(check: Callable[[], None]) -> None:
    """Run `check` on every rank; if it raised anywhere, raise everywhere (no rank is left waiting)."""
    error: Exception | None = None
    try:
        check()
    except Exception as exc:
        error = exc
    if dist.is_available() and dist.is_initialized():
        flags: list[str | None] = [None] * dist.get_world_size()
        dist.all_gather_object(flags, None if error is None else str(error))
        first = next((f for f in flags if f is not None), None)
        if error is None and first is not None:
            error = AdnetError(first)
    if error is not None:
        raise error


def means(results: Sequence[Result]) -> dict[str, dict[str, float]]:
    """Mean of each metric per method over the scenes that succeeded."""
    out: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(r.method for r in results):
        ok = [r.metrics for r in results if r.method == method and r.error is None]
        out[method] = {k: float(np.mean([m[k] for m in ok])) for k in (ok[0] if ok else {})}
    return out


def prediction_path(save_dir: Path, scene: str, method: str, suffix: str = ".exr") -> Path:
    """Where a saved prediction goes: SAVE_DIR/METHOD/SCENE.exr, scene path separators as '__'."""
    return save_dir / method / (scene.replace("/", "__") + suffix)


def check_outputs(json_path: Path | None, csv_path: Path | None, save_dir: Path | None, overwrite: bool) -> None:
    """Refuse report files and a predictions folder that cannot be written (before any scene is merged)."""
    if json_path is not None and csv_path is not None and json_path.resolve() == csv_path.resolve():
        raise OutputError("--json and --csv name the same file")
    for path, suffix in ((json_path, ".json"), (csv_path, ".csv")):
        if path is None:
            continue
        if path.suffix.lower() != suffix:
            raise OutputError(f"{path}: expected a {suffix} file")
        if not path.parent.is_dir():
            raise OutputError(f"{path}: folder {path.parent} does not exist")
        if path.exists() and not overwrite:
            raise OutputError(f"{path} exists; pass --overwrite to replace it")
    if save_dir is not None:
        if save_dir.is_dir() and any(save_dir.iterdir()) and not overwrite:
            raise OutputError(f"{save_dir} is not empty; pass --overwrite to replace predictions in it")
        existing = next(p for p in (save_dir, *save_dir.parents) if p.exists())
        try:  # found now, not after every scene is scored (and nothing created yet)
            if not existing.is_dir():
                raise NotADirectoryError(20, "Not a directory", str(existing))
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as exc:
            raise OutputError(f"--save-dir {save_dir}: cannot write there ({exc.strerror or exc})") from exc


def prediction_saver(save_dir: Path) -> Saver:
    """A Saver writing SAVE_DIR/METHOD/SCENE.exr and its mu-law .png preview (mu = 5000 for every
    method and scene, so the previews compare side by side)."""

    def save(scene: str, method: str, pred: np.ndarray) -> None:
        path = prediction_path(save_dir, scene, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_hdr_image(path, pred, overwrite=True)
        write_ldr_image(path.with_suffix(".png"), preview(pred, mu=MU), overwrite=True)  # one curve: comparable

    return save


def write_reports(found: Sequence[Result], dataset: Path, layout: str, json_path: Path | None,
                  csv_path: Path | None) -> None:
    """Every result (one row per scene and method) as JSON (with the means) and/or CSV."""
    rows = [{"scene": r.scene, "method": r.method, "error": r.error, "seconds": r.seconds, **r.metrics} for r in found]
    if json_path:
        report = {"dataset": str(dataset), "layout": layout, "results": rows, "mean": means(found)}
        write_text(json_path, json.dumps(report, indent=2, allow_nan=True), overwrite=True)
    if csv_path:
        keys = ["scene", "method", "error", "seconds", *dict.fromkeys(k for r in found for k in r.metrics)]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        write_text(csv_path, buffer.getvalue(), overwrite=True)

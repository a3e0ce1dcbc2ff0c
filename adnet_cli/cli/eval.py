"""`adnet eval`: score the network and classical merges against a ground-truth dataset."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from adnet_cli.classical import METHODS as CLASSICAL
from adnet_cli.cli.common import Debug, console, reported_errors, results, tile_progress
from adnet_cli.cli.merge import PRECISION_HELP, BackendChoice, ConventionChoice, PrecisionChoice, precision_name
from adnet_cli.datasets import LAYOUTS, detect_layout, find_scenes
from adnet_cli.errors import OutputError
from adnet_cli.evaluate import (
    DATASET_GAMMA, KALANTARI_METRICS, NTIRE_METRICS, Merger, Result, Saver, classical_merger, evaluate,
    agree_or_raise, finish_distributed, init_distributed, means, network_merger, prediction_path, primary_metrics,
)
from adnet_cli.inference import DEFAULT_TILE_PAD, MergeOptions, resolve_device
from adnet_cli.io import write_hdr_image, write_ldr_image, write_text
from adnet_cli.tonemap import preview
from adnet_cli.weights import load_weights

Layout = Enum("Layout", {name.replace("-", "_"): name for name in ("auto", *LAYOUTS)}, type=str)  # type: ignore[misc]
METRIC_ORDER = (*KALANTARI_METRICS, *NTIRE_METRICS)
Method = Enum("Method", {name: name for name in ("adnet", *CLASSICAL)}, type=str)  # type: ignore[misc]


def eval_command(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="Dataset root (Kalantari SIG17 or NTIRE 2021 layout).")],
    method: Annotated[Optional[list[Method]], typer.Option(help="adnet, debevec, robertson, medium; repeat for several.")] = None,
    layout: Annotated[Layout, typer.Option(help="Dataset layout; auto detects it.")] = Layout.auto,  # type: ignore[attr-defined]
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write all results as JSON.")] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Write all results as CSV.")] = None,
    save_dir: Annotated[Optional[Path], typer.Option(help="Save predictions as SAVE_DIR/METHOD/SCENE.exr (+ .png preview).")] = None,
    weights: Annotated[Optional[str], typer.Option(help="Checkpoint path or hf://owner/repo/file.")] = None,
    convention: Annotated[ConventionChoice, typer.Option(help="Pre-processing of the weights.")] = ConventionChoice.auto,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps (under torchrun: cuda:LOCAL_RANK).")] = "auto",
    tile: Annotated[Optional[int], typer.Option(min=0, help="Tile side; 0 = whole image.")] = None,
    tile_pad: Annotated[int, typer.Option(min=0, help="Context pixels around each tile.")] = DEFAULT_TILE_PAD,
    tta: Annotated[bool, typer.Option("--tta", help="4x test-time augmentation.")] = False,
    precision: Annotated[PrecisionChoice, typer.Option(help=PRECISION_HELP)] = PrecisionChoice.auto,
    half: Annotated[bool, typer.Option("--half", help="Same as --precision float16 (CUDA only).")] = False,
    deform_backend: Annotated[BackendChoice, typer.Option(help="Deformable conv implementation.")] = BackendChoice.auto,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing report files and predictions.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    debug: Debug = False,
) -> None:
    """Score merges of every scene against its ground truth (one row per scene, plus the mean)."""
    with reported_errors(debug):
        rank, world, local_rank = init_distributed()
        try:
            methods = [m.value for m in (method or [Method.adnet])]  # type: ignore[attr-defined]
            agree_or_raise(lambda: _check_outputs(json_path, csv_path, save_dir, overwrite))
            layout_name = detect_layout(dataset) if layout.value == "auto" else layout.value
            refs = find_scenes(dataset, layout_name)
            options = MergeOptions(tile=tile, tile_pad=tile_pad, tta=tta, precision=precision_name(precision, half))
            mergers = _mergers(methods, layout_name, weights, convention, device, local_rank, options, deform_backend)
            saver = _saver(save_dir) if save_dir else None
            with tile_progress(f"scenes (rank {rank})" if world > 1 else "scenes", quiet or rank != 0) as progress:
                found = evaluate(refs, mergers, saver, progress)
            if rank == 0:
                _report(found, methods, layout_name, dataset, json_path, csv_path)
        finally:
            finish_distributed()
        if any(r.error for r in found):
            raise typer.Exit(1)


def _check_outputs(json_path: Path | None, csv_path: Path | None, save_dir: Path | None, overwrite: bool) -> None:
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
    if save_dir is not None and save_dir.is_dir() and any(save_dir.iterdir()) and not overwrite:
        raise OutputError(f"{save_dir} is not empty; pass --overwrite to replace predictions in it")


def _mergers(methods: list[str], layout: str, weights: str | None, convention: ConventionChoice, device: str,
             local_rank: int, options: MergeOptions, backend: BackendChoice) -> dict[str, Merger]:
    mergers: dict[str, Merger] = {}
    for name in methods:
        if name == "adnet":
            conv = None if convention is ConventionChoice.auto else convention.value
            loaded = load_weights(weights, convention=conv, deform_backend=backend.value)
            target = resolve_device(device, local_rank)
            mergers[name] = network_merger(loaded.model, loaded.convention, target, options)
        else:
            mergers[name] = classical_merger(name, DATASET_GAMMA[layout])
    return mergers


def _saver(save_dir: Path) -> Saver:
    def save(scene: str, method: str, pred: np.ndarray) -> None:
        path = prediction_path(save_dir, scene, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_hdr_image(path, pred, overwrite=True)
        write_ldr_image(path.with_suffix(".png"), preview(pred), overwrite=True)

    return save


def _means_table(mean: dict[str, dict[str, float]], layout: str) -> Table:
    """Mean of every metric per method; the layout's customary metrics first."""
    names = [*primary_metrics(layout), *(n for n in METRIC_ORDER if n not in primary_metrics(layout))]
    table = Table(title="mean over scenes (PSNR in dB; definitions in the README)", title_justify="left")
    table.add_column("method")
    for n in names:
        table.add_column(n.replace("NTIRE ", "NTIRE\n"), justify="right")
    for method, values in mean.items():
        table.add_row(method, *[_fmt(values[n]) if n in values else "-" for n in names])
    return table


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) <= 1.0 else f"{value:.2f}"


def _report(found: list[Result], methods: list[str], layout: str, dataset: Path, json_path: Path | None,
            csv_path: Path | None) -> None:
    headline = primary_metrics(layout)[0]
    table = Table(title=f"{headline} (dB) per scene, {layout} layout: {dataset}", title_justify="left")
    table.add_column("scene")
    for m in methods:
        table.add_column(m, justify="right")
    by_scene: dict[str, dict[str, Result]] = {}
    for r in found:
        by_scene.setdefault(r.scene, {})[r.method] = r
    for scene, row in by_scene.items():
        table.add_row(scene, *[("failed" if row[m].error else _fmt(row[m].metrics[headline])) for m in methods])
    mean = means(found)
    table.add_row("[bold]mean[/]", *[_fmt(mean[m][headline]) if headline in mean[m] else "-" for m in methods])
    results.print(table)
    results.print(_means_table(mean, layout))
    for r in found:
        if r.error:
            console.print(f"failed: {r.scene} ({r.method}): {r.error}", markup=False, soft_wrap=True)
    rows = [{"scene": r.scene, "method": r.method, "error": r.error, "seconds": r.seconds, **r.metrics} for r in found]
    if json_path:
        report = {"dataset": str(dataset), "layout": layout, "results": rows, "mean": mean}
        write_text(json_path, json.dumps(report, indent=2, allow_nan=True), overwrite=True)
    if csv_path:
        keys = ["scene", "method", "error", "seconds", *dict.fromkeys(k for r in found for k in r.metrics)]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        write_text(csv_path, buffer.getvalue(), overwrite=True)

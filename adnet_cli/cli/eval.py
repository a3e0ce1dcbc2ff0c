"""`adnet eval`: score the network and classical merges against a ground-truth dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from adnet_cli import tables
from adnet_cli.choices import DEFAULT_TILE_PAD, FUSION
from adnet_cli.cli.common import console, reported_errors, results, tile_progress
from adnet_cli.cli.options import (
    BF16,
    TTA,
    BackendChoice,
    Convention,
    ConventionChoice,
    Debug,
    DeformBackend,
    Device,
    Half,
    LayoutChoice,
    MethodChoice,
    Network,
    NetworkChoice,
    Overwrite,
    Precision,
    PrecisionChoice,
    Quiet,
    Tile,
    TilePad,
    Weights,
    network_engine,
    table_help,
)
from adnet_cli.errors import InputError

if TYPE_CHECKING:
    from adnet_cli.evaluation.evaluate import Merger, Result


def eval_command(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="Dataset root (Kalantari SIG17 or NTIRE 2021 layout).")],
    method: Annotated[
        Optional[list[MethodChoice]],
        typer.Option(  # type: ignore[valid-type]
            help=table_help(tables.METHODS, "Repeat for several (mertens, a display image, has no score). ")
        ),
    ] = None,
    layout: Annotated[LayoutChoice, typer.Option(help="Dataset layout; auto detects it.")] = LayoutChoice.auto,  # type: ignore[attr-defined,valid-type]
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write all results as JSON.")] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Write all results as CSV.")] = None,
    save_dir: Annotated[
        Optional[Path], typer.Option(help="Save predictions as SAVE_DIR/METHOD/SCENE.exr (+ .png preview).")
    ] = None,
    overwrite: Overwrite = False,
    weights: Weights = None,
    convention: Convention = ConventionChoice.auto,  # type: ignore[attr-defined]
    device: Device = "auto",
    tile: Tile = None,
    tile_pad: TilePad = DEFAULT_TILE_PAD,
    tta: TTA = False,
    network: Network = NetworkChoice.auto,  # type: ignore[attr-defined]
    precision: Precision = PrecisionChoice.auto,  # type: ignore[attr-defined]
    half: Half = False,
    bf16: BF16 = False,
    deform_backend: DeformBackend = BackendChoice.auto,  # type: ignore[attr-defined]
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Score merges of every scene against its ground truth (one row per scene, plus the mean)."""
    with reported_errors(debug):
        from adnet_cli.evaluation.datasets import LAYOUT_TABLE, detect_layout, find_scenes
        from adnet_cli.evaluation.evaluate import (
            agree_or_raise,
            classical_merger,
            evaluate,
            network_merger,
            prediction_saver,
            write_reports,
        )
        from adnet_cli.evaluation.evaluate import check_outputs as check_report_outputs
        from adnet_cli.runtime import join_torchrun, leave_torchrun

        launch = join_torchrun()
        rank, world, local_rank = launch.rank, launch.world, launch.local_rank
        try:
            methods = [m.value for m in (method or [MethodChoice.adnet])]  # type: ignore[attr-defined]
            if FUSION in methods:
                raise InputError(f"--method {FUSION}: an exposure fusion is a display image with no radiance, so it has no "
                                 "score against HDR ground truth; see it beside the others with merge --method mertens")
            agree_or_raise(lambda: check_report_outputs(json_path, csv_path, save_dir, overwrite))
            layout_name = detect_layout(dataset) if layout.value == "auto" else layout.value
            refs = find_scenes(dataset, layout_name)
            mergers: dict[str, Merger] = {}
            for name in methods:
                if name == "adnet":
                    engine = network_engine(weights, convention=convention, device=device, tile=tile, tile_pad=tile_pad,
                                            tta=tta, network=network, precision=precision, half=half, bf16=bf16,
                                            deform_backend=deform_backend, local_rank=local_rank)
                    mergers[name] = network_merger(engine)
                else:
                    mergers[name] = classical_merger(name, LAYOUT_TABLE[layout_name].gamma)
            saver = prediction_saver(save_dir) if save_dir else None
            with tile_progress(f"scenes (rank {rank})" if world > 1 else "scenes", quiet or rank != 0) as progress:
                found = evaluate(refs, mergers, saver, progress)
            if rank == 0:
                _report(found, methods, layout_name, dataset)
                write_reports(found, dataset, layout_name, json_path, csv_path)
        finally:
            leave_torchrun()
        if any(r.error for r in found):
            raise typer.Exit(1)


def _means_table(mean: dict[str, dict[str, float]], layout: str) -> Table:
    """Mean of every metric per method; the layout's customary metrics first."""
    from adnet_cli.evaluation.evaluate import KALANTARI_METRICS, NTIRE_METRICS, primary_metrics

    names = [
        *primary_metrics(layout),
        *(n for n in (*KALANTARI_METRICS, *NTIRE_METRICS) if n not in primary_metrics(layout)),
    ]
    table = Table(title="mean over scenes (PSNR in dB; definitions in the README)", title_justify="left")
    table.add_column("method")
    for n in names:
        table.add_column(n.replace("NTIRE ", "NTIRE\n"), justify="right")
    for method, values in mean.items():
        table.add_row(method, *[_fmt(values[n]) if n in values else "-" for n in names])
    return table


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) <= 1.0 else f"{value:.2f}"


def _report(found: list[Result], methods: list[str], layout: str, dataset: Path) -> None:
    """The per-scene and mean tables on stdout, failures on stderr."""
    from adnet_cli.evaluation.evaluate import means, primary_metrics

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
    table.add_row(Text("mean", style="bold"), *[_fmt(mean[m][headline]) if headline in mean[m] else "-" for m in methods])
    results.print(table)
    results.print(_means_table(mean, layout))
    for r in found:
        if r.error:
            console.print(f"failed: {r.scene} ({r.method}): {r.error}", markup=False, soft_wrap=True)

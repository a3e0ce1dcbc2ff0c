"""`adnet train`: train or fine-tune weights; under torchrun, one process per GPU (or CPU gloo ranks)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from adnet_cli import tables
from adnet_cli.choices import CONVENTIONS
from adnet_cli.cli.common import console, reported_errors
from adnet_cli.cli.options import BaseChoice, CameraChoice, Debug, Device, Quiet, choice, table_help
from adnet_cli.errors import AdnetError
from adnet_cli.network.config import ADNetConfig
from adnet_cli.training.config import TrainConfig
from adnet_cli.training.config import default as D

if TYPE_CHECKING:
    from adnet_cli.training.train import TrainEvent

TrainConvention = choice("TrainConvention", CONVENTIONS)  # no auto: new weights need a convention


def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the run's weights, state and JSON-lines log.")],
    data: Annotated[
        Optional[list[str]],
        typer.Option(help="synthetic | hdr:DIR | kalantari:DIR | ntire:DIR; repeat to mix \\[default: synthetic]."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Total optimiser steps, counting those of a resumed run.")] = D("steps"),
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per step and process.")] = D("batch_size"),
    crop: Annotated[int, typer.Option(min=16, help="Training crop side (multiple of 4).")] = D("crop"),
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = D("lr"),
    lr_decay_every: Annotated[
        int, typer.Option(help="Steps between x0.1 decays; 0 = once, at 2/3 of the run.")
    ] = D("lr_decay_every"),
    convention: Annotated[
        TrainConvention,
        typer.Option(  # type: ignore[valid-type]
            help="Pre-processing convention of the new weights."
        ),
    ] = TrainConvention(D("convention")),  # type: ignore[call-arg]
    val_every: Annotated[int, typer.Option(min=1, help="Score the fixed validation sets every N steps.")] = D("val_every"),
    val_count: Annotated[int, typer.Option(min=1, help="Validation brackets.")] = D("val_count"),
    val_size: Annotated[
        int, typer.Option(min=16, help="Validation bracket side (the fixed set is 8 x 256).")
    ] = D("val_size"),
    checkpoint_every: Annotated[
        int, typer.Option(min=1, help="Write weights and state every N steps.")
    ] = D("checkpoint_every"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/state.pt.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start afresh in an OUT that holds a run.")] = False,
    init: Annotated[
        Optional[str],
        typer.Option(help="Fine-tune from these weights: a path, or hf://owner/repo/file (as --weights takes)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialisation and data.")] = D("seed"),
    device: Device = D("device"),
    amp: Annotated[bool, typer.Option(help="bf16 autocast on CUDA.")] = D("amp"),
    width: Annotated[
        str, typer.Option(help="Network width: nf, growth, dense layers, groups, comma-separated (the paper's: 64,32,5,8).")
    ] = "64,32,5,8",
    base: Annotated[
        BaseChoice,
        typer.Option(help=table_help(tables.BASES, "What the network's output is added to. ")),
    ] = BaseChoice.optimal,
    camera: Annotated[
        CameraChoice, typer.Option(help="Simulated camera: realistic (tone curves, JPEG, chroma noise) or gamma.")
    ] = CameraChoice(D("camera")),  # type: ignore[call-arg]
    max_ratio: Annotated[
        float, typer.Option(min=2.0, help="Largest simulated exposure ratio between neighbouring frames.")
    ] = D("max_ratio"),
    static_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of simulated brackets with no motion at all (tripod, still scene).")
    ] = D("static_share"),
    holdout: Annotated[
        bool, typer.Option(help="Leave the real-scene validation scenes out of hdr: data (and validate on them).")
    ] = D("holdout"),
    max_minutes: Annotated[
        float,
        typer.Option(min=0.0, help="Stop after this many minutes of training (validation excluded); 0 = no limit."),
    ] = D("max_minutes"),
    snapshots: Annotated[
        bool, typer.Option("--snapshots", help="Keep the weights of every validated step (in OUT/snapshots/).")
    ] = D("snapshots"),
    workers: Annotated[
        int, typer.Option(min=0, help="Processes simulating the next batches while the model trains (0: in the loop).")
    ] = D("workers"),
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train ADNet on simulated brackets and/or standard datasets with the paper's recipe."""
    with reported_errors(debug):
        from adnet_cli.runtime import torchrun_launch
        from adnet_cli.training.scene_sources import validation_scene_files
        from adnet_cli.training.train import train as run_training

        specs = [_data_spec(d) for d in (data or ["synthetic"])]
        folders = [spec.path for spec in specs if spec.kind == "hdr"]
        if crop % 4:
            raise AdnetError(f"--crop must be a multiple of 4, got {crop}")
        config = TrainConfig(
            out_dir=out, data=tuple(data or ["synthetic"]), steps=steps, batch_size=batch_size, crop=crop, lr=lr,
            lr_decay_every=lr_decay_every, seed=seed, convention=convention.value, model=_model(width, base.value),
            val_every=val_every, val_count=val_count, val_size=val_size, checkpoint_every=checkpoint_every, amp=amp,
            init=init, device=device, camera=camera.value, max_ratio=max_ratio, static_share=static_share,
            holdout=holdout, snapshots=snapshots, max_minutes=max_minutes, workers=workers,
            val_scenes=tuple(str(p) for p in validation_scene_files(folders)) if holdout else (),
        )
        state = out / "state.pt"
        if resume and not state.is_file():
            raise AdnetError(f"--resume: {state} does not exist")
        if not resume and not overwrite and any((out / n).exists() for n in ("state.pt", "weights.safetensors")):
            raise AdnetError(f"{out} already holds a run: pass --resume to continue it or --overwrite to start over")
        show = not quiet and torchrun_launch().rank == 0
        with _progress(steps, show) as report:
            metrics = run_training(config, report, resume=state if resume else None)
        if show:
            console.print(
                f"weights: {out / 'weights.safetensors'}; validation "
                + ", ".join(f"{k} {v:.2f} dB" for k, v in metrics.items() if "." not in k or ".all." in k)
            )


def _data_spec(text: str):  # type: ignore[no-untyped-def]
    from adnet_cli.training.train_data import DataSpec

    try:
        return DataSpec.parse(text)
    except ValueError as exc:
        raise AdnetError(str(exc).splitlines()[0]) from exc


def _model(width: str, base: str) -> ADNetConfig:
    """--width nf,growth,dense_layers,groups and --base as the network's configuration."""
    try:
        values = [int(v) for v in width.split(",")]
        if len(values) != 4:
            raise ValueError(f"--width takes 4 numbers nf,growth,dense_layers,groups, got {width!r}")
        return ADNetConfig(*values, base=base)
    except (ValueError, TypeError) as exc:
        raise AdnetError(str(exc).splitlines()[0]) from exc


class _progress:
    """A rich bar fed by training events: loss, lr, images/s and the latest validation."""

    def __init__(self, steps: int, show: bool) -> None:
        self.steps, self.show, self.val = steps, show, ""
        columns = (
            TextColumn("step"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.bar = Progress(*columns, console=console, disable=not show)

    def __enter__(self):
        self.bar.__enter__()
        self.task = self.bar.add_task("train", total=self.steps, info="")
        return self.report

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def report(self, event: TrainEvent) -> None:
        v = event.values
        if event.kind == "validation":
            real = f" real {v['real.all.psnr_mu']:.2f}" if "real.all.psnr_mu" in v else ""
            self.val = f" | val PSNR-mu {v['psnr_mu']:.2f}{real} PSNR-l {v['psnr_l']:.2f}"
        if event.kind == "step":
            info = f"loss {v['loss']:.4f} lr {v['lr']:.1e} {v['images_per_s']:.2f} img/s{self.val}"
            self.bar.update(self.task, completed=event.step, info=info)

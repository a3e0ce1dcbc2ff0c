"""`adnet merge`: three bracketed frames -> linear HDR (.exr / .hdr) and a tonemapped preview."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

import numpy as np
import torch

from adnet_cli.bracket import Bracket, load_bracket
from adnet_cli.cli.common import Debug, console, note, reported_errors, tile_progress
from adnet_cli.errors import OutputError
from adnet_cli.inference import DEFAULT_TILE_PAD, MergeOptions, merge as run_merge, resolve_device
from adnet_cli.io import HDR_SUFFIXES, PREVIEW_SUFFIXES, check_output_path, write_hdr_image, write_ldr_image
from adnet_cli.tonemap import preview as tonemap_preview
from adnet_cli.weights import LoadedWeights, load_weights


class ConventionChoice(str, Enum):
    auto = "auto"
    kalantari = "kalantari"
    ntire = "ntire"


class BackendChoice(str, Enum):
    auto = "auto"
    torch = "torch"
    torchvision = "torchvision"


def merge(
    frames: Annotated[list[Path], typer.Argument(metavar="FRAMES", help="Three bracketed frames (PNG, TIFF or JPEG), any order.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HDR output: .exr (half float) or .hdr (RGBE).")],
    exposures: Annotated[
        Optional[str], typer.Option("--exposures", "-e", help="Exposure times in seconds, e.g. 1/100,1/25,1/6.")
    ] = None,
    ev: Annotated[Optional[str], typer.Option("--ev", help="Exposures in stops instead, e.g. -2,0,2.")] = None,
    preview: Annotated[
        Optional[Path], typer.Option("--preview", "-p", help="Also write a mu-law tonemapped .png/.jpg.")
    ] = None,
    weights: Annotated[
        Optional[str], typer.Option(help="Checkpoint path or hf://owner/repo/file (default: the shipped weights).")
    ] = None,
    convention: Annotated[
        ConventionChoice, typer.Option(help="Pre-processing of the weights; auto reads the file's metadata.")
    ] = ConventionChoice.auto,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    tile: Annotated[
        Optional[int], typer.Option(min=0, help="Tile side in pixels; 0 = whole image (default: from free memory).")
    ] = None,
    tile_pad: Annotated[int, typer.Option(min=0, help="Context pixels around each tile.")] = DEFAULT_TILE_PAD,
    tta: Annotated[bool, typer.Option("--tta", help="Average 4 flips/transposes (4x slower).")] = False,
    half: Annotated[bool, typer.Option("--half", help="fp16 autocast (CUDA only).")] = False,
    float32: Annotated[bool, typer.Option("--float32", help="Write EXR as 32-bit float instead of half.")] = False,
    deform_backend: Annotated[BackendChoice, typer.Option(help="Deformable conv implementation.")] = BackendChoice.auto,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    debug: Debug = False,
) -> None:
    """Merge a bracket of three exposures into one linear HDR image (1.0 = reference white level)."""
    with reported_errors(debug):
        _check_outputs(frames, output, preview, overwrite)
        bracket = load_bracket(frames, exposures=exposures, ev=ev)
        conv = None if convention is ConventionChoice.auto else convention.value
        loaded = load_weights(weights, convention=conv, deform_backend=deform_backend.value)
        target = resolve_device(device)
        options = MergeOptions(tile=tile, tile_pad=tile_pad, tta=tta, half=half)
        if not quiet:
            for line in bracket.notes:
                note(line)
            _describe(bracket, loaded, target)
        start = time.perf_counter()
        with tile_progress("merging", quiet) as progress:
            hdr = run_merge(loaded.model, bracket.frames, bracket.exposures, loaded.convention, target, options, progress)
        _write(output, preview, hdr, float32, overwrite)
        if not quiet:
            written = ", ".join(str(p) for p in (output, preview) if p is not None)
            console.print(f"wrote {written} in {time.perf_counter() - start:.1f} s", highlight=False)


def _write(output: Path, preview: Path | None, hdr: np.ndarray, float32: bool, overwrite: bool) -> None:
    """Both files or neither: a new HDR is removed again if its preview cannot be written."""
    shown = None if preview is None else tonemap_preview(hdr)
    existed = output.exists()
    write_hdr_image(output, hdr, float32=float32, overwrite=overwrite)
    if preview is None:
        return
    try:
        write_ldr_image(preview, shown, overwrite=overwrite)
    except BaseException:
        if not existed:
            output.unlink(missing_ok=True)
        raise


def _check_outputs(frames: list[Path], output: Path, preview: Path | None, overwrite: bool) -> None:
    check_output_path(output, HDR_SUFFIXES, overwrite=overwrite)
    if preview is None:
        return
    check_output_path(preview, PREVIEW_SUFFIXES, overwrite=overwrite)
    if preview.resolve() == output.resolve():
        raise OutputError("--output and --preview name the same file")
    inputs = {p.resolve() for p in frames}
    if preview.resolve() in inputs:
        raise OutputError(f"refusing to overwrite input frame {preview}")


def _describe(bracket: Bracket, loaded: LoadedWeights, target: torch.device) -> None:
    names = ", ".join(f"{p.name} ({t:g})" for p, t in zip(bracket.paths, bracket.exposures))
    console.print(f"frames short->long: {names}; exposures from {bracket.source}; reference {bracket.reference.name}")
    console.print(
        f"weights {loaded.path.name} ({loaded.convention} convention), device {target}, "
        f"deform backend {loaded.model.deform_backend}"
    )

"""`adnet merge`: bracketed frames -> linear HDR (.exr / .hdr) and a tonemapped preview, for one bracket
or, in batch mode, for every bracket found in folders of photos."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

import numpy as np
import torch

from adnet_cli.align import align_frames, crop_frames
from adnet_cli.bracket import (
    FRAMES, Bracket, network_frames, output_scale, parse_frame_indices, parse_scale, plan_bracket, read_bracket,
)
from adnet_cli.cli.batch import BatchSettings, Job, Merger, check_batch_output, plan_batch, print_plan, run_batch
from adnet_cli.cli.common import Debug, console, note, reported_errors, tile_progress
from adnet_cli.cpu import release_freed_memory
from adnet_cli.errors import InputError, OutputError
from adnet_cli.grouping import DEFAULT_GAP
from adnet_cli.inference import (
    DEFAULT_TILE_PAD,
    MergeOptions,
    Progress,
    merge as run_merge,
    resolve_device,
    resolve_precision,
)
from adnet_cli.io import (
    HDR_SUFFIXES,
    PREVIEW_SUFFIXES,
    check_output_path,
    unit_float,
    write_hdr_image,
    write_ldr_image,
)
from adnet_cli.preprocess import GAMMA
from adnet_cli.tonemap import preview as tonemap_preview
from adnet_cli.weights import LoadedWeights, load_weights


class ConventionChoice(str, Enum):
    auto = "auto"
    kalantari = "kalantari"
    ntire = "ntire"


class PrecisionChoice(str, Enum):
    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


PRECISION_HELP = "Compute precision: auto = bfloat16 on CPUs with native bf16, else float32."


def precision_name(precision: PrecisionChoice, half: bool, bf16: bool = False) -> str:
    """--precision, or its shorthands --half (float16) and --bf16; conflicting choices are refused."""
    chosen = {precision.value} - {"auto"} | ({"float16"} if half else set()) | ({"bfloat16"} if bf16 else set())
    if len(chosen) > 1:
        raise InputError(f"conflicting precisions: {', '.join(sorted(chosen))}")
    return chosen.pop() if chosen else "auto"


class BackendChoice(str, Enum):
    auto = "auto"
    torch = "torch"
    torchvision = "torchvision"


class FormatChoice(str, Enum):
    exr = "exr"
    hdr = "hdr"


class ResponseChoice(str, Enum):
    gamma = "gamma"
    srgb = "srgb"
    calibrate = "calibrate"


@dataclass(frozen=True)
class Request:
    """The options that say what to merge and how to write it, shared by single and batch mode."""

    exposures: str | None
    ev: str | None
    frames: tuple[int, int, int] | None  # --frames, indices into the bracket sorted by exposure
    float32: bool
    overwrite: bool
    dry_run: bool
    quiet: bool
    crop: bool = False  # --crop: with --align, keep only what every frame covers


@dataclass(frozen=True)
class Engine:
    """Loaded weights and run settings for every bracket of one command."""

    loaded: LoadedWeights
    device: torch.device
    options: MergeOptions
    fixed: float | None  # --scale fixed:T (seconds); None = reference
    response: str  # --response: gamma | srgb | calibrate
    align: bool  # --align: register the frames to the reference before the network


def merge(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS",
            help="Bracketed frames (PNG, TIFF, JPEG), any order; or folders of brackets (batch mode).",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="HDR file (.exr half float, .hdr RGBE); in batch mode a folder."),
    ],
    exposures: Annotated[
        Optional[str], typer.Option("--exposures", "-e", help="Exposure times in seconds, e.g. 1/100,1/25,1/6.")
    ] = None,
    ev: Annotated[Optional[str], typer.Option("--ev", help="Exposures in stops instead, e.g. -2,0,2.")] = None,
    frames: Annotated[
        Optional[str],
        typer.Option("--frames", help="With more than 3 frames: which three, as indices sorted by exposure (0,2,4)."),
    ] = None,
    scale: Annotated[
        str,
        typer.Option(help="reference: 1.0 = the reference frame's white; fixed:T: the white of a T-second exposure."),
    ] = "reference",
    response: Annotated[
        ResponseChoice,
        typer.Option(help="Response of PNG/TIFF/JPEG frames: gamma (as decoded), srgb, or calibrate from the bracket."),
    ] = ResponseChoice.gamma,
    align: Annotated[
        bool, typer.Option("--align/--no-align", help="Register hand-held frames to the reference first (homography).")
    ] = False,
    crop: Annotated[
        bool,
        typer.Option("--crop", help="With --align: crop to the area every frame covers (default: fill the borders)."),
    ] = False,
    preview: Annotated[
        Optional[Path], typer.Option("--preview", "-p", help="Also write a mu-law tonemapped .png/.jpg.")
    ] = None,
    no_preview: Annotated[bool, typer.Option("--no-preview", help="Batch mode: no OUT/<reference>.png.")] = False,
    fmt: Annotated[Optional[FormatChoice], typer.Option("--format", help="Batch mode: HDR type (default exr).")] = None,
    gap: Annotated[
        Optional[float],
        typer.Option(min=0.0, help=f"Batch mode: a pause (s) that starts a new bracket (default {DEFAULT_GAP:g})."),
    ] = None,
    group_size: Annotated[
        Optional[int], typer.Option(min=FRAMES, help="Batch mode: brackets of N consecutive files instead.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the brackets, frames and outputs; merge nothing.")
    ] = False,
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
    precision: Annotated[PrecisionChoice, typer.Option(help=PRECISION_HELP)] = PrecisionChoice.auto,
    half: Annotated[bool, typer.Option("--half", help="Same as --precision float16 (CUDA only).")] = False,
    bf16: Annotated[bool, typer.Option("--bf16", help="Same as --precision bfloat16.")] = False,
    float32: Annotated[bool, typer.Option("--float32", help="Write EXR as 32-bit float instead of half.")] = False,
    deform_backend: Annotated[BackendChoice, typer.Option(help="Deformable conv implementation.")] = BackendChoice.auto,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    debug: Debug = False,
) -> None:
    """Merge bracketed exposures into linear HDR (1.0 = reference white level, see --scale).

    Three or more files and -o FILE.exr/.hdr: one bracket. Folders, or -o a folder: batch mode, files
    grouped into brackets by capture time and exposure pattern, one OUT/<reference>.exr per bracket.
    """
    with reported_errors(debug):
        pick = None if frames is None else parse_frame_indices(frames)
        compute = precision_name(precision, half, bf16)
        fixed = parse_scale(scale)
        if fixed is not None and ev is not None:
            raise InputError("--scale fixed needs exposure times in seconds (EXIF or --exposures), not --ev")
        if crop and not align:
            raise InputError("--crop crops what --align leaves uncovered; give it with --align")
        request = Request(exposures, ev, pick, float32, overwrite, dry_run, quiet, crop)
        conv = None if convention is ConventionChoice.auto else convention.value

        def engine() -> Engine:
            loaded = load_weights(weights, convention=conv, deform_backend=deform_backend.value)
            options = MergeOptions(tile=tile, tile_pad=tile_pad, tta=tta, precision=compute)
            target = resolve_device(device)
            resolve_precision(compute, target)  # a precision the device lacks fails before any work
            return Engine(loaded, target, options, fixed, response.value, align)

        if is_batch(inputs, output):
            if preview is not None:
                raise InputError("--preview names one file; batch mode writes OUT/<reference>.png (--no-preview: none)")
            settings = BatchSettings(
                exposures=exposures,
                ev=ev,
                frames=pick,
                gap=DEFAULT_GAP if gap is None else gap,
                group_size=group_size,
                suffix=f".{(fmt or FormatChoice.exr).value}",
                preview=not no_preview,
                overwrite=overwrite,
            )
            _merge_batch(inputs, output, settings, request, engine, debug)
        else:
            _refuse_batch_options(output, preview, no_preview, fmt, gap, group_size)
            _merge_single(inputs, output, preview, request, engine)


def is_batch(inputs: list[Path], output: Path) -> bool:
    """Batch mode: a folder among the inputs or as --output, or an --output without an HDR extension
    that has no extension at all or is given with more than three files."""
    if output.is_dir() or any(p.is_dir() for p in inputs):
        return True
    return output.suffix.lower() not in HDR_SUFFIXES and (not output.suffix or len(inputs) > FRAMES)


def _refuse_batch_options(
    output: Path,
    preview: Path | None,
    no_preview: bool,
    fmt: FormatChoice | None,
    gap: float | None,
    group_size: int | None,
) -> None:
    if gap is not None or group_size is not None:
        raise InputError("--gap and --group-size apply to batch mode (a folder input, or --output a folder)")
    if no_preview and preview is not None:
        raise InputError("give either --preview or --no-preview, not both")
    if fmt is not None and output.suffix.lower() != f".{fmt.value}":
        raise OutputError(f"{output}: the extension does not match --format {fmt.value}")


def _merge_single(
    inputs: list[Path], output: Path, preview: Path | None, request: Request, engine: Callable[[], Engine]
) -> None:
    _check_outputs(inputs, output, preview, request.overwrite)
    plan = plan_bracket(inputs, exposures=request.exposures, ev=request.ev, frames=request.frames)
    if request.dry_run:
        print_plan([Job(1, (), plan, output, preview)])
        return
    bracket = read_bracket(plan)
    ready = engine()
    if not request.quiet:
        for line in bracket.notes:
            note(line)
        _describe(bracket)
        _describe_engine(ready)
    start = time.perf_counter()
    with tile_progress("merging", request.quiet) as progress:
        hdr, said = merge_scaled(ready, bracket, progress, crop=request.crop)
    if not request.quiet:
        for line in said:
            note(line)
    _write(output, preview, hdr, request.float32, request.overwrite)
    if not request.quiet:
        written = ", ".join(str(p) for p in (output, preview) if p is not None)
        console.print(f"wrote {written} in {time.perf_counter() - start:.1f} s", highlight=False)


def _merge_batch(
    inputs: list[Path],
    folder: Path,
    settings: BatchSettings,
    request: Request,
    engine: Callable[[], Engine],
    debug: bool,
) -> None:
    if (request.exposures is not None or request.ev is not None) and settings.group_size is None:
        raise InputError("in batch mode --exposures / --ev need --group-size N (they apply to every group of N files)")
    check_batch_output(folder)
    jobs, file_notes = plan_batch(inputs, folder, settings)
    for line in [] if request.quiet else file_notes:
        note(line)
    if request.dry_run:
        print_plan(jobs)
        return

    def prepare() -> Merger:
        ready = engine()
        if not request.quiet:
            _describe_engine(ready)

        def merge_one(bracket: Bracket, hdr: Path, preview: Path | None) -> None:
            result, said = merge_scaled(ready, bracket, crop=request.crop)
            if not request.quiet:
                for line in said:
                    note(f"{bracket.reference.name}: {line}")
            _write(hdr, preview, result, request.float32, request.overwrite)

        return merge_one

    run_batch(jobs, folder, prepare, request.quiet, debug)


def merge_scaled(
    engine: Engine, bracket: Bracket, progress: Progress | None = None, crop: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The network's merge of `bracket` on the scale --scale asks for: (H, W, 3) float32 linear, and
    lines saying how the frames were prepared (response mapping, alignment, crop).

    crop: with ``engine.align``, merge only the largest rectangle every aligned frame covers (H and W
    then shrink); otherwise uncovered borders are filled from the reference (see :mod:`adnet_cli.align`)."""
    frames, said = _network_input(engine, bracket, crop)
    loaded = engine.loaded
    hdr = run_merge(loaded.model, frames, bracket.exposures, loaded.convention, engine.device, engine.options, progress)
    release_freed_memory()  # the window buffers, before the result is written in other sizes
    factor = output_scale(bracket, engine.fixed)
    return (hdr if factor == 1.0 else hdr * np.float32(factor)), said


def _network_input(engine: Engine, bracket: Bracket, crop: bool) -> tuple[np.ndarray, list[str]]:
    """The three frames in the network's convention, aligned to the reference when --align (and
    cropped to what every frame covers when `crop`)."""
    gamma = GAMMA[engine.loaded.convention]
    frames, how = network_frames(bracket, engine.response, gamma)
    said = [how] if how else []
    if not engine.align:
        return frames, said
    aligned = align_frames(unit_float(frames), bracket.exposures, 1, gamma=gamma)
    for motion in (m for m in aligned.motions if m.model != "reference"):
        name = bracket.paths[motion.index].name
        said.append(f"{name}: {motion.summary()}" if motion.model == "none" else f"aligned {name}: {motion.summary()}")
    if not crop:
        return aligned.frames, said
    cropped, _, how = crop_frames(aligned)
    return cropped, [*said, how]


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


def _describe(bracket: Bracket) -> None:
    names = ", ".join(f"{p.name} ({t:g})" for p, t in zip(bracket.paths, bracket.exposures))
    console.print(f"frames short->long: {names}; exposures from {bracket.source}; reference {bracket.reference.name}")


def _describe_engine(engine: Engine) -> None:
    loaded = engine.loaded
    console.print(
        f"weights {loaded.path.name} ({loaded.convention} convention), device {engine.device}, "
        f"{str(resolve_precision(engine.options.precision, engine.device)).removeprefix('torch.')}, "
        f"deform backend {loaded.model.deform_backend}"
    )

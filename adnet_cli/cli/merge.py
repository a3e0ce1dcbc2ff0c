"""`adnet merge`: bracketed frames -> linear HDR (.exr / .hdr) and a tonemapped preview, for one bracket
or, in batch mode, for every bracket found in folders of photos.

This module parses and prints; the work is the library's (:mod:`adnet_cli.merge.engine`, :mod:`adnet_cli.merge.batch`),
imported when the command runs so that ``--help`` does not load torch.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from adnet_cli import tables
from adnet_cli.choices import DEFAULT_GAP, DEFAULT_TILE_PAD, FRAMES, FUSION, HDR_SUFFIXES, TYPICAL_RATIOS
from adnet_cli.cli.batch import print_plan, run_batch
from adnet_cli.cli.common import check_json_target, console, emit_json, note, reported_errors, tile_progress
from adnet_cli.cli.options import (
    BF16,
    INPUTS,
    OUTPUTS,
    TTA,
    WORKFLOW,
    BackendChoice,
    BitsChoice,
    Convention,
    ConventionChoice,
    Debug,
    DeformBackend,
    Device,
    FormatChoice,
    Half,
    JsonReport,
    MethodChoice,
    Network,
    NetworkChoice,
    OperatorChoice,
    Overwrite,
    Precision,
    PrecisionChoice,
    Quiet,
    ResponseChoice,
    Tile,
    TilePad,
    Weights,
    network_engine,
    precision_name,
    table_help,
)
from adnet_cli.errors import InputError, OutputError

if TYPE_CHECKING:
    from adnet_cli.merge.bracket import Bracket
    from adnet_cli.merge.engine import BracketRequest, Merges
    from adnet_cli.merge.outputs import Outputs


EXAMPLES = """\
[bold]Examples[/]

  adnet merge a.jpg b.jpg c.jpg -o out.exr -p out.png      [dim]# exposures from EXIF[/]
  adnet merge f1.png f2.png f3.png -e 1/100,1/25,1/6 -o out.hdr
  adnet merge IMG_01.CR2 IMG_02.CR2 IMG_03.CR2 --align -o out.exr
  adnet merge shoot/ -o merged/ --dry-run                 [dim]# batch: list the brackets found[/]
  adnet merge shoot/ -o merged/ --tta                     [dim]# batch: merge them all[/]
"""


def merge(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS",
            help="Bracketed frames (PNG, TIFF, JPEG, camera RAW), any order; or folders of brackets (batch mode).",
        ),
    ],
    exposures: Annotated[
        Optional[str],
        typer.Option(
            "--exposures",
            "-e",
            help="Exposure times in seconds, e.g. 1/100,1/25,1/6 (default: EXIF).",
            rich_help_panel=INPUTS,
        ),
    ] = None,
    ev: Annotated[Optional[str], typer.Option(help="Exposures in stops instead, e.g. -2,0,2.", rich_help_panel=INPUTS)] = None,
    frames: Annotated[
        Optional[str],
        typer.Option(help="With more than 3 frames: which three, as indices sorted by exposure (0,2,4).", rich_help_panel=INPUTS),
    ] = None,
    response: Annotated[
        ResponseChoice,
        typer.Option(  # type: ignore[valid-type]
            help="Response of PNG/TIFF/JPEG frames: auto (srgb for in-camera 8-bit files, else gamma), gamma (as "
            "decoded), srgb, or calibrate from the bracket (after --align).",
            rich_help_panel=INPUTS,
        ),
    ] = ResponseChoice.auto,  # type: ignore[attr-defined]
    align: Annotated[
        bool,
        typer.Option(
            "--align/--no-align",
            help="Register hand-held frames to the reference first (the simplest of shift, rotation, homography that fits).",
            rich_help_panel=WORKFLOW,
        ),
    ] = False,
    crop: Annotated[
        bool,
        typer.Option(
            "--crop",
            help="With --align: crop to the area every frame covers (default: fill the borders).",
            rich_help_panel=WORKFLOW,
        ),
    ] = False,
    scale: Annotated[
        str,
        typer.Option(
            help="reference: 1.0 = the reference frame's white; fixed:T: the white of a T-second exposure.",
            rich_help_panel=WORKFLOW,
        ),
    ] = "reference",
    gap: Annotated[
        Optional[float],
        typer.Option(
            min=0.0,
            help=f"Batch mode: a pause (s) that starts a new bracket (default {DEFAULT_GAP:g}).",
            rich_help_panel=WORKFLOW,
        ),
    ] = None,
    group_size: Annotated[
        Optional[int],
        typer.Option(min=FRAMES, help="Batch mode: brackets of N consecutive files instead.", rich_help_panel=WORKFLOW),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the brackets, frames and outputs; merge nothing.", rich_help_panel=WORKFLOW),
    ] = False,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="HDR file (.exr half float, .hdr RGBE, .tif 32-bit float); in batch mode a folder.",
            rich_help_panel=OUTPUTS,
        ),
    ] = ...,
    preview: Annotated[
        Optional[Path],
        typer.Option("--preview", "-p", help="Also write a mu-law tonemapped .png/.jpg.", rich_help_panel=OUTPUTS),
    ] = None,
    no_preview: Annotated[
        bool, typer.Option("--no-preview", help="Batch mode: no OUT/<reference>.png.", rich_help_panel=OUTPUTS)
    ] = False,
    fmt: Annotated[
        Optional[FormatChoice],
        typer.Option(  # type: ignore[valid-type]
            "--format", help="Batch mode: HDR type (default exr).", rich_help_panel=OUTPUTS
        ),
    ] = None,
    float32: Annotated[
        bool, typer.Option("--float32", help="Write EXR as 32-bit float instead of half.", rich_help_panel=OUTPUTS)
    ] = False,
    tonemap: Annotated[
        OperatorChoice,
        typer.Option(help="The preview's tonemapping (as adnet tonemap --operator).", rich_help_panel=OUTPUTS),
    ] = OperatorChoice.mu,  # type: ignore[attr-defined]
    preview_bits: Annotated[
        BitsChoice,
        typer.Option("--preview-bits", help="Bits per channel of the preview: 8, or 16 (.png, .tif).", rich_help_panel=OUTPUTS),
    ] = BitsChoice("8"),  # type: ignore[call-arg]
    method: Annotated[
        MethodChoice,
        typer.Option(  # type: ignore[valid-type]
            help=table_help(tables.METHODS),
            rich_help_panel=WORKFLOW,
        ),
    ] = MethodChoice.adnet,  # type: ignore[attr-defined]
    overwrite: Overwrite = False,
    json_report: JsonReport = None,
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
    """Merge bracketed exposures into linear HDR (1.0 = reference white level, see --scale).

    Three or more files and -o FILE.exr/.hdr: one bracket. Folders, or -o a folder: batch mode, files
    grouped into brackets by capture time and exposure pattern, one OUT/<reference>.exr per bracket.
    """
    with reported_errors(debug):
        from adnet_cli.formats.paths import check_input_files

        inputs = expand_inputs(inputs)
        check_json_target(json_report, inputs, [p for p in (output, preview) if p is not None])
        if str(output) == "-":
            raise InputError("-o -: the HDR cannot go to stdout; name an .exr or .hdr file (or a folder)")
        check_input_files(inputs)  # before torch and OpenCV load: a missing file answers at once

        from adnet_cli.merge.batch import PREVIEW_SUFFIX
        from adnet_cli.merge.bracket import parse_frame_indices, parse_scale
        from adnet_cli.merge.engine import BracketRequest, ClassicalMerger
        from adnet_cli.network.weights import trained_ratios

        pick = None if frames is None else parse_frame_indices(frames)
        learned = method.value == "adnet"
        request = BracketRequest(exposures, ev, pick, response.value, align, crop, parse_scale(scale),
                                 trained_ratios(weights) if learned and pick is None else TYPICAL_RATIOS)
        precision_name(precision, half, bf16)  # conflicting shorthands are refused here, before any work
        fusion = method.value == FUSION
        if fusion and tonemap.value != "mu":
            raise InputError("--tonemap: mertens writes a display image already; there is no HDR to tonemap")

        def engine() -> Merges:
            if not learned:
                return ClassicalMerger(method.value)
            return network_engine(weights, convention=convention, device=device, tile=tile, tile_pad=tile_pad, tta=tta,
                                  network=network, precision=precision, half=half, bf16=bf16,
                                  deform_backend=deform_backend)

        if is_batch(inputs, output):
            if preview is not None:
                raise InputError("--preview names one file; batch mode writes OUT/<reference>.png (--no-preview: none)")
            from adnet_cli.merge.batch import BatchSettings

            if fusion and fmt is not None:
                raise InputError("--format: mertens writes OUT/<reference>.png, a display image")
            settings = BatchSettings(
                DEFAULT_GAP if gap is None else gap,
                group_size,
                PREVIEW_SUFFIX if fusion else f".{(fmt or FormatChoice.exr).value}",
                not no_preview and not fusion,
                overwrite,
                slow=gap is None,  # a --gap given is kept to, even for hand-timed brackets
                float32=float32,
                tonemap=tonemap.value,
                bits=int(preview_bits.value),
            )  # type: ignore[attr-defined]
            run_batch(inputs, output, settings, request, engine, dry_run=dry_run, quiet=quiet, debug=debug,
                      json_report=json_report)
        else:
            _refuse_batch_options(output, preview, no_preview, fmt, gap, group_size)
            from adnet_cli.merge.outputs import Outputs

            outputs = Outputs(output, preview, float32, overwrite, tonemap.value, int(preview_bits.value))
            _merge_single(inputs, outputs, fusion, request, engine, dry_run, quiet, json_report)


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """The inputs with quoted wildcards expanded (a Windows shell passes `shoot/*.jpg` as it is);
    a name that does not exist and is `true`/`false` was meant as a flag's value, which flags take not."""
    expanded: list[Path] = []
    for path in inputs:
        text = str(path)
        if path.exists() or not any(c in text for c in "*?["):
            if not path.exists() and text.lower() in ("true", "false"):
                raise InputError(f"{text}: not a file; flags take no value (write --tta, not --tta {text})")
            expanded.append(path)
            continue
        matches = sorted(Path(p) for p in glob.glob(text))
        if not matches:
            raise InputError(f"{text}: the pattern matched no file")
        expanded.extend(matches)
    return expanded


def is_batch(inputs: list[Path], output: Path) -> bool:
    """Batch mode: a folder among the inputs or as --output, or an --output without an HDR extension
    that has no extension at all or is given with more than three files."""
    try:
        if output.is_dir() or any(p.is_dir() for p in inputs):
            return True
    except OSError as exc:  # a name too long, a link loop
        raise InputError(f"{exc.filename}: {exc.strerror or exc}") from exc
    return output.suffix.lower() not in HDR_SUFFIXES and (not output.suffix or len(inputs) > FRAMES)


def _refuse_batch_options(
    output: Path,
    preview: Path | None,
    no_preview: bool,
    fmt: FormatChoice | None,  # type: ignore[valid-type]
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
    inputs: list[Path],
    out: Outputs,
    fusion: bool,
    request: BracketRequest,
    engine: Callable[[], Merges],
    dry_run: bool,
    quiet: bool,
    json_report: str | None,
) -> None:
    from adnet_cli.merge.batch import Job
    from adnet_cli.merge.grouping import read_shot
    from adnet_cli.merge.report import engine_record, merge_record, plan_record

    output, preview = out.output, out.preview
    out.check(inputs, display=fusion)
    plan = request.plan(inputs)
    # The capture times, as batch mode shows them: read again only for the plan's text or the report.
    shots = tuple(read_shot(p) for p in plan.paths) if dry_run or json_report is not None else ()
    times = {s.path: s.capture_time for s in shots}
    outputs = out.paths
    bracket_record = {**plan_record(plan, times), "outputs": [str(p) for p in outputs]}
    if dry_run:
        if json_report != "-":  # stdout holds the JSON then
            print_plan([Job(1, shots, plan, output, preview)])
        emit_json(json_report, {"command": "merge", "dry_run": True, "brackets": [bracket_record]})
        return
    ready = engine()

    def describe(bracket: Bracket) -> None:
        for line in bracket.notes:
            note(line)
        names = ", ".join(f"{p.name} ({bracket.unit.format(t)})" for p, t in zip(bracket.paths, bracket.exposures))
        console.print(
            f"frames short->long: {names}; exposures from {bracket.source}; reference {bracket.reference.name}", markup=False
        )
        console.print(ready.describe(), markup=False)

    start = time.perf_counter()
    with tile_progress("merging", quiet) as progress:  # each step's note as it happens, before the network's tiles
        result = ready.merge_plan(plan, request, progress, read=None if quiet else describe, noted=None if quiet else note)
    result.save(out)
    bracket_record["merge"] = merge_record(result, outputs, time.perf_counter() - start)
    emit_json(json_report, {"command": "merge", "dry_run": False, "engine": engine_record(ready), "brackets": [bracket_record]})
    if not quiet:
        written = ", ".join(str(p) for p in outputs)
        console.print(f"wrote {written} in {time.perf_counter() - start:.1f} s", highlight=False)

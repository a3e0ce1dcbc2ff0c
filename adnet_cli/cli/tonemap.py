"""`adnet tonemap`: linear HDR images (.hdr / .exr) -> 8- or 16-bit PNG / JPEG for display."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from adnet_cli.cli.common import console, error, failure_line, note, reported_errors, tile_progress
from adnet_cli.cli.options import BitsChoice, Debug, OperatorChoice, Overwrite, PreviewFormatChoice, Quiet
from adnet_cli.errors import AdnetError, InputError, OutputError

if TYPE_CHECKING:
    from adnet_cli.formats.convert import ToneSettings


def tonemap(
    inputs: Annotated[
        list[Path], typer.Argument(metavar="INPUTS", help="Linear HDR images: .hdr (Radiance) or .exr (half or float).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="One input: a .png/.jpg file. Several inputs (or an existing folder): a folder, created if missing.",
        ),
    ],
    operator: Annotated[
        OperatorChoice,
        typer.Option(help="mu: the paper's mu-law (mu = 5000, gentler for bright scenes); or OpenCV's reinhard, drago, mantiuk."),
    ] = OperatorChoice.mu,
    mu: Annotated[
        Optional[float],
        typer.Option(min=0.001, help="Strength of the mu curve (5000: the paper's, always) [default: 5000, lower when the "
                     "median would show above 0.8]."),
    ] = None,
    exposure: Annotated[
        float,
        typer.Option(
            min=-20.0,
            max=20.0,
            help="Stops: x 2**STOPS on the normalised input (mu) or on the output's linear light (OpenCV operators).",
        ),
    ] = 0.0,
    gamma: Annotated[
        Optional[float],
        typer.Option(min=0.1, max=10.0, help="Display gamma (default: 2.2 for OpenCV operators, none on top of mu)."),
    ] = None,
    bits: Annotated[BitsChoice, typer.Option(help="Bits per channel; 16 needs PNG or TIFF.")] = BitsChoice("8"),  # type: ignore[call-arg]
    fmt: Annotated[
        Optional[PreviewFormatChoice], typer.Option("--format", help="File type written into a folder (default: png).")  # type: ignore[valid-type]
    ] = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Tonemap linear HDR images (.hdr, .exr) to PNG or JPEG for display.

    Each image is first normalised so that the 99th percentile of its per-pixel max channel
    is 1 (with mu, that level and above is white; a bright scene gets a gentler curve, so that its
    median shows at 0.8 rather than near white). NaN, -inf and negative values become 0,
    +inf the brightest finite value; how many pixels were repaired is noted.
    """
    with reported_errors(debug):
        from adnet_cli.formats.convert import ToneSettings, check_file_output, folder_jobs

        if mu is not None and operator.value != "mu":
            raise InputError(f"--mu sets the mu curve; it has no meaning with --operator {operator.value}")
        settings = ToneSettings(operator.value, exposure, gamma, int(bits.value), overwrite, mu)
        chosen = None if fmt is None else fmt.value
        if len(inputs) == 1 and not output.is_dir():
            check_file_output(inputs[0], output, chosen, settings.bits, overwrite)
            _tonemap_one(inputs[0], output, settings)
            if not quiet:
                console.print(f"wrote {output}", soft_wrap=True)
            return
        jobs = folder_jobs(inputs, output, chosen, settings.bits, overwrite)
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{output}: cannot create folder ({exc.strerror or exc})") from exc
        failed = _run_batch(jobs, settings, quiet, debug)
        if not quiet:
            console.print(f"wrote {len(jobs) - failed} of {len(jobs)} images to {output}", soft_wrap=True)
        if failed:
            raise typer.Exit(1)


def _tonemap_one(src: Path, dst: Path, settings: ToneSettings) -> None:
    from adnet_cli.formats.convert import tonemap_file

    bad_pixels = tonemap_file(src, dst, settings)
    if bad_pixels:
        plural = "pixel" if bad_pixels == 1 else "pixels"
        note(
            f"{src}: {bad_pixels} non-finite or negative {plural} replaced (NaN and negatives -> 0, +inf -> brightest)"
        )


def _run_batch(jobs: list[tuple[Path, Path]], settings: ToneSettings, quiet: bool, debug: bool) -> int:
    """Tonemap every job under a progress bar; a failing input is one error line. Returns the failures."""
    failed = 0
    with tile_progress("tonemapping", quiet) as progress:
        progress(0, len(jobs))
        for done, (src, dst) in enumerate(jobs, start=1):
            try:
                _tonemap_one(src, dst, settings)
            except AdnetError as exc:
                failed += 1
                error(str(exc))
            except Exception as exc:  # a bug or an environment problem: the other inputs still run
                if debug:
                    raise
                failed += 1
                error(f"{src}: {failure_line(exc)}")
            progress(done, len(jobs))
    return failed

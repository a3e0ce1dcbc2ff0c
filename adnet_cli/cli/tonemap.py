"""`adnet tonemap`: linear HDR images (.hdr / .exr) -> 8- or 16-bit PNG / JPEG for display."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from adnet_cli.cli.common import Debug, console, note, reported_errors, tile_progress
from adnet_cli.errors import AdnetError, OutputError
from adnet_cli.io import PREVIEW_SUFFIXES, check_output_path, read_hdr, write_ldr_image
from adnet_cli.tonemap import quantise, tonemap as tonemap_image

JPEG_SUFFIXES = (".jpg", ".jpeg")


class OperatorChoice(str, Enum):
    mu = "mu"
    reinhard = "reinhard"
    drago = "drago"
    mantiuk = "mantiuk"


class FormatChoice(str, Enum):
    png = "png"
    jpg = "jpg"


class BitsChoice(str, Enum):
    eight = "8"
    sixteen = "16"


@dataclass(frozen=True)
class _Settings:
    """What every image of one run is tonemapped and written with."""

    operator: str
    exposure: float
    gamma: float | None
    bits: int
    overwrite: bool


def tonemap(
    inputs: Annotated[list[Path], typer.Argument(metavar="INPUTS", help="Linear HDR images: .hdr (Radiance) or .exr (half or float).")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o",
            help="One input: a .png/.jpg file. Several inputs (or an existing folder): a folder, created if missing.",
        ),
    ],
    operator: Annotated[
        OperatorChoice, typer.Option(help="mu: the paper's mu-law (mu = 5000); or OpenCV's reinhard, drago, mantiuk.")
    ] = OperatorChoice.mu,
    exposure: Annotated[
        float,
        typer.Option(
            min=-20.0, max=20.0,
            help="Stops: x 2**STOPS on the normalised input (mu) or on the output's linear light (OpenCV operators).",
        ),
    ] = 0.0,
    gamma: Annotated[
        Optional[float],
        typer.Option(min=0.1, max=10.0, help="Display gamma (default: 2.2 for OpenCV operators, none on top of mu)."),
    ] = None,
    bits: Annotated[BitsChoice, typer.Option(help="Bits per channel; 16 needs PNG.")] = BitsChoice.eight,
    fmt: Annotated[
        Optional[FormatChoice], typer.Option("--format", help="File type written into a folder (default: png).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
    debug: Debug = False,
) -> None:
    """Tonemap linear HDR images (.hdr, .exr) to PNG or JPEG for display.

    Each image is first normalised so that the 99th percentile of its per-pixel max channel
    is 1 (with mu, that level and above is white). NaN, -inf and negative values become 0,
    +inf the brightest finite value; how many pixels were repaired is noted.
    """
    with reported_errors(debug):
        settings = _Settings(operator.value, exposure, gamma, int(bits.value), overwrite)
        if len(inputs) == 1 and not output.is_dir():
            _check_file_output(output, fmt, settings.bits, overwrite)
            _tonemap_file(inputs[0], output, settings)
            if not quiet:
                console.print(f"wrote {output}", soft_wrap=True)
            return
        jobs = _folder_jobs(inputs, output, fmt, settings.bits, overwrite)
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{output}: cannot create folder ({exc.strerror or exc})") from exc
        failed = _run_batch(jobs, settings, quiet, debug)
        if not quiet:
            console.print(f"wrote {len(jobs) - failed} of {len(jobs)} images to {output}", soft_wrap=True)
        if failed:
            raise typer.Exit(1)


def _output_suffixes(bits: int) -> tuple[str, ...]:
    return PREVIEW_SUFFIXES if bits == 8 else (".png",)


def _check_file_output(output: Path, fmt: FormatChoice | None, bits: int, overwrite: bool) -> None:
    """Refuse an output file that is JPEG with --bits 16, disagrees with --format, or cannot be written."""
    suffix = output.suffix.lower()
    if bits == 16 and suffix in JPEG_SUFFIXES:
        raise OutputError(f"{output}: --bits 16 needs a .png output; JPEG holds 8 bits only")
    if fmt is not None and suffix in PREVIEW_SUFFIXES and (suffix == ".png") != (fmt is FormatChoice.png):
        raise OutputError(f"{output}: the extension does not match --format {fmt.value}")
    check_output_path(output, _output_suffixes(bits), overwrite=overwrite)


def _folder_jobs(
    inputs: list[Path], folder: Path, fmt: FormatChoice | None, bits: int, overwrite: bool
) -> list[tuple[Path, Path]]:
    """(input, output) pairs for folder mode, every output checked before any work is done."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: not a folder; with several inputs --output names a folder")
    if not folder.exists() and folder.suffix.lower() in PREVIEW_SUFFIXES:
        raise OutputError(f"{folder}: with several inputs --output must be a folder, not an image file")
    suffix = f".{(fmt or FormatChoice.png).value}"
    if bits == 16 and suffix in JPEG_SUFFIXES:
        raise OutputError("--bits 16 needs --format png; JPEG holds 8 bits only")
    sources: dict[Path, Path] = {}
    for src in inputs:
        dst = folder / f"{src.stem}{suffix}"
        if dst in sources:
            raise OutputError(f"{sources[dst]} and {src} would both be written to {dst}")
        if dst.resolve() == src.resolve():
            raise OutputError(f"refusing to overwrite input {src}")
        if folder.is_dir():
            check_output_path(dst, _output_suffixes(bits), overwrite=overwrite)
        sources[dst] = src
    return [(src, dst) for dst, src in sources.items()]


def _tonemap_file(src: Path, dst: Path, settings: _Settings) -> None:
    """Read one HDR image, tonemap it, note repaired pixels and write it atomically."""
    hdr = read_hdr(src)
    tone, bad_pixels = tonemap_image(hdr, settings.operator, exposure=settings.exposure, gamma=settings.gamma)
    if bad_pixels:
        plural = "pixel" if bad_pixels == 1 else "pixels"
        note(f"{src}: {bad_pixels} non-finite or negative {plural} replaced "
             "(NaN and negatives -> 0, +inf -> brightest)")
    write_ldr_image(dst, quantise(tone, settings.bits), overwrite=settings.overwrite)


def _run_batch(jobs: list[tuple[Path, Path]], settings: _Settings, quiet: bool, debug: bool) -> int:
    """Tonemap every job under a progress bar; a failing input is one error line. Returns the failures."""
    failed = 0
    with tile_progress("tonemapping", quiet) as progress:
        progress(0, len(jobs))
        for done, (src, dst) in enumerate(jobs, start=1):
            try:
                _tonemap_file(src, dst, settings)
            except AdnetError as exc:
                failed += 1
                _report_failure(str(exc))
            except Exception as exc:  # a bug or an environment problem: the other inputs still run
                if debug:
                    raise
                failed += 1
                first = str(exc).splitlines()[0] if str(exc) else ""
                _report_failure(f"{src}: {type(exc).__name__}: {first} (run with --debug for details)")
            progress(done, len(jobs))
    return failed


def _report_failure(message: str) -> None:
    """One error line on stderr, styled like the errors of reported_errors."""
    console.print(Text.assemble(("error: ", "bold red"), " ".join(message.split())), soft_wrap=True)

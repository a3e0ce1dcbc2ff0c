"""`adnet tonemap`'s work: linear HDR files (.hdr / .exr) -> 8- or 16-bit PNG / JPEG for display,
one file or many into a folder, every output checked before any is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adnet_cli.choices import PREVIEW_SUFFIXES, PREVIEW_SUFFIXES_16BIT
from adnet_cli.errors import OutputError
from adnet_cli.formats.atomic import same_file
from adnet_cli.formats.io import check_output_path, read_hdr, write_ldr_image
from adnet_cli.formats.tonemap import quantise, tonemap

JPEG_SUFFIXES = (".jpg", ".jpeg")


@dataclass(frozen=True)
class ToneSettings:
    """What every image of one run is tonemapped and written with: an operator of
    :data:`adnet_cli.choices.TONEMAP_OPERATORS`, exposure in stops, display gamma (None: the
    operator's), 8 or 16 bits, and whether existing outputs may be replaced."""

    operator: str = "mu"
    exposure: float = 0.0
    gamma: float | None = None
    bits: int = 8
    overwrite: bool = False
    mu: float | None = None  # the mu-law's strength; None: 5000, gentler for bright scenes (tonemap.adaptive_mu)


def output_suffixes(bits: int) -> tuple[str, ...]:
    return PREVIEW_SUFFIXES if bits == 8 else PREVIEW_SUFFIXES_16BIT


def check_file_output(src: Path, output: Path, fmt: str | None, bits: int, overwrite: bool) -> None:
    """Refuse an output file that is the input, is JPEG with --bits 16, disagrees with --format, or
    cannot be written."""
    if same_file(output, src):
        raise OutputError(f"refusing to overwrite input {src}")
    suffix = output.suffix.lower()
    if bits == 16 and suffix in JPEG_SUFFIXES:
        raise OutputError(f"{output}: --bits 16 needs a .png or .tif output; JPEG holds 8 bits only")
    if fmt is not None and suffix in PREVIEW_SUFFIXES and (suffix == ".png") != (fmt == "png"):
        raise OutputError(f"{output}: the extension does not match --format {fmt}")
    check_output_path(output, output_suffixes(bits), overwrite=overwrite)


def folder_jobs(inputs: Sequence[Path], folder: Path, fmt: str | None, bits: int, overwrite: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs for folder mode, every output checked before any work is done."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: not a folder; with several inputs --output names a folder")
    if not folder.exists() and folder.suffix.lower() in PREVIEW_SUFFIXES:
        raise OutputError(f"{folder}: with several inputs --output must be a folder, not an image file")
    suffix = f".{fmt or 'png'}"
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
            check_output_path(dst, output_suffixes(bits), overwrite=overwrite)
        sources[dst] = src
    return [(src, dst) for dst, src in sources.items()]


def tonemap_file(src: Path, dst: Path, settings: ToneSettings = ToneSettings()) -> int:
    """Read one HDR image, tonemap it and write it atomically. Returns how many non-finite or
    negative pixels were repaired (NaN and negatives -> 0, +inf -> the brightest finite value)."""
    tone, bad_pixels = tonemap(read_hdr(src), settings.operator, exposure=settings.exposure, gamma=settings.gamma,
                               mu=settings.mu)
    write_ldr_image(dst, quantise(tone, settings.bits), overwrite=settings.overwrite)
    return bad_pixels

"""What a merge writes, and writing it: the HDR (or a fusion's display image) and its preview, with the
metadata the merge recorded, all or nothing. Single merges, batch mode and the Python API write here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adnet_cli.choices import HDR_SUFFIXES, PREVIEW_SUFFIXES, PREVIEW_SUFFIXES_16BIT
from adnet_cli.errors import OutputError
from adnet_cli.formats.atomic import all_or_nothing, same_file
from adnet_cli.formats.io import check_output_path, write_hdr_image, write_ldr_image
from adnet_cli.formats.metadata import OutputMetadata
from adnet_cli.formats.tonemap import preview as tonemap_preview
from adnet_cli.formats.tonemap import quantise
from adnet_cli.formats.tonemap import tonemap as tonemap_image


@dataclass(frozen=True)
class Outputs:
    """Where and how a merge is written: `output` an HDR file (.exr half, or float with `float32`;
    .hdr; .tif 32-bit float), or a display image for an exposure fusion (.png/.jpg/.tif); `preview` a
    display file tonemapped with `tonemap` (:data:`adnet_cli.choices.TONEMAP_OPERATORS`) at `bits`
    (8, or 16 for .png/.tif), or None; `overwrite`: replace existing files (never an input)."""

    output: Path
    preview: Path | None = None
    float32: bool = False
    overwrite: bool = False
    tonemap: str = "mu"
    bits: int = 8

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.output, self.preview) if p is not None]

    def check(self, inputs: Sequence[Path], display: bool = False) -> None:
        """Refuse these outputs before any work (see :func:`check_outputs`); display: a fusion's."""
        check_outputs(inputs, self.output, self.preview, overwrite=self.overwrite, display=display, preview_bits=self.bits)

    def write(self, hdr: np.ndarray, metadata: OutputMetadata | None = None, display: bool = False) -> None:
        """Write a merge's image (:func:`write_outputs`) with what it records."""
        write_outputs(hdr, self.output, self.preview, float32=self.float32, overwrite=self.overwrite, metadata=metadata,
                      tonemap=self.tonemap, display=display, preview_bits=self.bits)


def check_outputs(inputs: Sequence[Path], output: Path, preview: Path | None, *, overwrite: bool,
                  display: bool = False, preview_bits: int = 8) -> None:
    """Refuse outputs that would replace an input (whatever --overwrite says), name each other, or
    have the wrong type (`display`: the output is a display image, .png/.jpg); an existing output
    needs `overwrite`."""
    for path in (p for p in (output, preview) if p is not None):
        if any(same_file(path, frame) for frame in inputs):
            raise OutputError(f"refusing to overwrite input frame {path}")
    if display and preview is not None:
        raise OutputError("--preview: an exposure fusion is one display image, written to -o (.png or .jpg)")
    shown = PREVIEW_SUFFIXES if preview_bits == 8 else PREVIEW_SUFFIXES_16BIT
    check_output_path(output, shown if display else HDR_SUFFIXES, overwrite=overwrite)
    if preview is not None:
        check_output_path(preview, shown, overwrite=overwrite)
        if same_file(preview, output):
            raise OutputError("--output and --preview name the same file")


def write_outputs(hdr: np.ndarray, output: Path, preview: Path | None = None, *, float32: bool = False,
                  overwrite: bool = False, metadata: OutputMetadata | None = None, tonemap: str = "mu",
                  display: bool = False, preview_bits: int = 8) -> None:
    """Write the HDR (``.exr`` half, or float with `float32`; ``.hdr``) and a preview tonemapped with
    `tonemap` (:data:`adnet_cli.choices.TONEMAP_OPERATORS`; mu: the mu-law preview); both files or
    neither: each is written to a temporary file, and both are renamed into place only when both are
    complete, so a failure leaves any earlier result untouched. metadata: what both record
    (``MergeResult.metadata``); the preview gets its camera EXIF. display: `hdr` is a display
    image in [0, 1] (``MergeResult.display``), written to `output` (.png/.jpg/.tif) alone.
    preview_bits: 8, or 16 for a .png/.tif preview (or display image)."""
    exif = metadata.exif if metadata else None
    if display:  # write_ldr_image checks the suffix (.png, .jpg, .tif) and the overwrite
        write_ldr_image(output, quantise(hdr, preview_bits), overwrite=overwrite, exif=exif)
        return
    shown = None
    if preview is not None:  # the mu-law preview of 8 bits streams in row blocks: less memory on big images
        fast = tonemap == "mu" and preview_bits == 8
        shown = tonemap_preview(hdr) if fast else quantise(tonemap_image(hdr, tonemap)[0], preview_bits)
    with all_or_nothing():
        write_hdr_image(output, hdr, float32=float32, overwrite=overwrite, metadata=metadata)
        if preview is not None:
            write_ldr_image(preview, shown, overwrite=overwrite, exif=exif)

"""One table per kind of choice: each row holds a choice's name, its implementation, what it can do
and its help, as spandrel keeps an architecture's name, detection and loading together.

A row names its implementation as ``"module:attribute"`` and imports it on first use, so this leaf
module imports nothing heavy: ``adnet --help`` lists the choices without loading torch or OpenCV. The
command line's enums and help, the library's error messages and the README's tables
(:func:`markdown`, checked by ``tests/test_tables.py``) all come from these rows. Adding a file
format, a tone-mapping operator, a merge method or a base is a row here, its implementation, and
its tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


class _Implemented:
    """A row whose ``implementation`` names its code (None: nothing to run)."""

    implementation: str | None  # declared by each row's dataclass; this plain class adds no field

    def load(self) -> Any:
        return _load(self.implementation) if self.implementation else None


@dataclass(frozen=True)
class FileFormat:
    """An image file type. suffixes: the first is what outputs get. hdr: how it stores radiance
    (None: it does not); bits: the display depths it holds (8, 16; empty: none); frame: a bracket's
    frame can be one; reader/writer: its HDR reader ``(path) -> (H, W, 3) float32`` and writer
    ``(rgb, float32, metadata) -> writer callback`` (`adnet_cli.formats.io`); tag: what adds EXIF
    to its encoded display bytes; records: the metadata its files carry."""

    name: str
    suffixes: tuple[str, ...]
    hdr: str | None
    bits: tuple[int, ...]
    frame: bool
    records: str
    reader: str | None = None
    writer: str | None = None
    tag: str | None = None

    def read(self) -> Any:
        return _load(self.reader) if self.reader else None

    def write(self) -> Any:
        return _load(self.writer) if self.writer else None

    def tagger(self) -> Any:
        return _load(self.tag) if self.tag else None


FORMATS: tuple[FileFormat, ...] = (
    FileFormat("hdr", (".hdr",), "RGBE (Radiance, RLE; about 1 % precision)", (), False,
               "SOFTWARE= and EXPOSURE= lines",
               "adnet_cli.formats.io:read_radiance", "adnet_cli.formats.io:radiance_writer"),
    FileFormat("exr", (".exr",), "half (ZIP; `--float32`: 32-bit float)", (), False,
               "software, capture date, exposure, ISO, aperture, owner, comments, sRGB chromaticities",
               "adnet_cli.formats.io:read_openexr", "adnet_cli.formats.io:exr_writer"),
    FileFormat("png", (".png",), None, (8, 16), True, "an sRGB chunk and EXIF (previews)",
               tag="adnet_cli.formats.metadata:tag_png"),
    FileFormat("jpg", (".jpg", ".jpeg"), None, (8,), True, "EXIF (previews)", tag="adnet_cli.formats.metadata:tag_jpeg"),
    FileFormat("tif", (".tif", ".tiff"), "32-bit float RGB (as Photoshop and Affinity open HDR)", (8, 16), True,
               "nothing yet",
               "adnet_cli.formats.io:read_float_tiff", "adnet_cli.formats.io:float_tiff_writer"),
)


@dataclass(frozen=True)
class ToneOperator(_Implemented):
    """A tone-mapping operator for previews and `adnet tonemap`. implementation: for ``mu`` the curve
    ``(x, mu) -> display``; for the others OpenCV's maker ``(gamma) -> Tonemap``."""

    name: str
    implementation: str
    help: str


TONE_OPERATORS: tuple[ToneOperator, ...] = (
    ToneOperator("mu", "adnet_cli.formats.tonemap:mu_law",
                 "the paper's mu-law (mu = 5000; gentler for bright scenes), after the 99th percentile maps to white"),
    ToneOperator("reinhard", "cv2:createTonemapReinhard", "OpenCV's Reinhard (2005) global operator, default settings"),
    ToneOperator("drago", "cv2:createTonemapDrago", "OpenCV's Drago (2003) adaptive logarithmic operator"),
    ToneOperator("mantiuk", "cv2:createTonemapMantiuk", "OpenCV's Mantiuk (2006) contrast-domain operator"),
)


@dataclass(frozen=True)
class MergeMethod(_Implemented):
    """What `merge --method` and `eval --method` run. radiance: it makes linear HDR (False: a display
    image, which has no score against ground truth); weights: it loads a network. implementation:
    ``(frames (3, H, W, 3), exposures, gamma) -> (H, W, 3)`` for the merges without weights."""

    name: str
    implementation: str
    radiance: bool
    weights: bool
    help: str


METHODS: tuple[MergeMethod, ...] = (
    MergeMethod("adnet", "adnet_cli.merge.engine:create_engine", True, True,
                "the network (its base where the frames agree, with `--network auto`)"),
    MergeMethod("debevec", "adnet_cli.merge.classical:debevec", True, False,
                "OpenCV's Debevec merge with the plain-gamma response the frames are prepared in"),
    MergeMethod("robertson", "adnet_cli.merge.classical:robertson", True, False, "OpenCV's Robertson merge, likewise"),
    MergeMethod("medium", "adnet_cli.merge.classical:medium", True, False, "the reference frame alone, linearised"),
    MergeMethod("optimal", "adnet_cli.merge.classical:optimal", True, False,
                "the noise-optimal merge of the three frames, moving content gated out (the shipped weights' base)"),
    MergeMethod("mertens", "adnet_cli.merge.classical:mertens_fusion", False, False,
                "OpenCV's exposure fusion: a display image (.png/.jpg/.tif), not radiance"),
)


@dataclass(frozen=True)
class Base(_Implemented):
    """A residual model's parameter-free base (`ADNetConfig.base`). implementation:
    ``(x1, x2, x3, linear_power, context) -> (B, 3, H, W)`` in the output domain; None for ``none``."""

    name: str
    implementation: str | None
    help: str


BASES: tuple[Base, ...] = (
    Base("none", None, "no base: the network predicts the HDR image itself (the original release's form)"),
    Base("reference", "adnet_cli.network.bases:reference_base", "the reference frame in the HDR domain"),
    Base("merge", "adnet_cli.network.bases:merge_base",
         "a reference-guided exposure merge: the short frame where the reference nears clipping, the long where it is dark"),
    Base("deghost", "adnet_cli.network.bases:deghost_base",
         "that merge with each other frame used only where its 5 x 5 local mean agrees with the reference's"),
    Base("optimal", "adnet_cli.network.bases:optimal_base_image",
         "the noise-optimal merge of all frames, gated through the bracket's intensity maps (`adnet_cli.network.optimal`)"),
)


def names(table: tuple[Any, ...]) -> tuple[str, ...]:
    """The rows' names, in the table's order."""
    return tuple(row.name for row in table)


def row(table: tuple[Any, ...], name: str, kind: str) -> Any:
    """The row called `name`, or ValueError naming the choices of this `kind` (e.g. "merge method")."""
    for found in table:
        if found.name == name:
            return found
    raise ValueError(f"unknown {kind} {name!r}; expected one of {', '.join(names(table))}")


def suffixes(*, hdr: bool | None = None, bits: int | None = None, frame: bool | None = None) -> tuple[str, ...]:
    """The suffixes of the formats that store radiance (`hdr`), hold display images of `bits`, or can
    be a bracket's frame, in the table's order."""
    chosen = [f for f in FORMATS if (hdr is None or (f.hdr is not None) == hdr)
              and (bits is None or bits in f.bits) and (frame is None or f.frame == frame)]
    return tuple(s for f in chosen for s in f.suffixes)


def format_for(suffix: str) -> FileFormat | None:
    """The format whose suffixes hold `suffix` (case-insensitive), or None."""
    return next((f for f in FORMATS if suffix.lower() in f.suffixes), None)


def markdown(table: tuple[Any, ...]) -> str:
    """The README's table of a kind of choice (tests/test_tables.py keeps the README's equal to it)."""
    if table is FORMATS:
        lines = ["| format | suffixes | radiance | display bits | a frame | records |", "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| `{f.name}` | {' '.join(f.suffixes)} | {f.hdr or '-'} | {', '.join(map(str, f.bits)) or '-'} | "
                  f"{'yes' if f.frame else 'no'} | {f.records} |" for f in table]
    elif table is METHODS:
        lines = ["| `--method` | makes | loads weights | what it is |", "| --- | --- | --- | --- |"]
        lines += [f"| `{m.name}` | {'radiance' if m.radiance else 'a display image'} | {'yes' if m.weights else 'no'} | "
                  f"{m.help} |" for m in table]
    else:
        title = {TONE_OPERATORS: "`--tonemap` / `--operator`", BASES: "`--base`"}[table]
        lines = [f"| {title} | what it is |", "| --- | --- |"] + [f"| `{r.name}` | {r.help} |" for r in table]
    return "\n".join(lines)

"""The merge engine: bracketed frames -> linear HDR, the one path that `adnet merge`, its batch mode,
`adnet eval --method adnet`, the training's validation and the Python API all run.

An :class:`Engine` is a frozen value made once per command by :func:`create_engine`: the loaded
network, the device and compute dtype (resolved there, once), and the tiling and TTA settings. A
:class:`BracketRequest` says what to merge and how to prepare it (exposures, which frames, the
camera response, alignment, the output's scale); :meth:`Engine.merge_files` reads the frames, runs
the steps in order (read -> response -> align -> network -> scale) and returns a
:class:`MergeResult` whose notes say, as data, what it assumed and did. Nothing here prints.

Example::

    engine = create_engine()                      # the shipped weights, best device
    result = engine.merge_files(["a.jpg", "b.jpg", "c.jpg"])
    result.save("out.exr", preview="out.png")     # with the metadata the merge recorded
"""

from __future__ import annotations

import abc
import functools
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from adnet_cli.choices import (
    FUSION,
    MERGE_METHODS,
    TYPICAL_RATIOS,
)
from adnet_cli.errors import InputError, WeightsError
from adnet_cli.exposure import ExposureUnit
from adnet_cli.formats.io import unit_float
from adnet_cli.formats.metadata import OutputMetadata, camera_exif
from adnet_cli.merge.bracket import (
    Bracket,
    BracketPlan,
    output_scale,
    plan_bracket,
    read_bracket,
    read_capture,
)
from adnet_cli.merge.classical import classical_merge, mertens_fusion
from adnet_cli.merge.outputs import Outputs
from adnet_cli.merge.prepare import Noted, prepare_frames, stack_frames
from adnet_cli.network.adaptive import NetworkStats, run_network
from adnet_cli.network.inference import DEFAULT_TILE_PAD, MergeOptions, Progress
from adnet_cli.network.model import ADNet
from adnet_cli.network.preprocess import GAMMA, Convention
from adnet_cli.network.weights import load_weights, ratios_from_metadata
from adnet_cli.runtime import precision_label, release_freed_memory, resolve_device, resolve_precision
from adnet_cli.version import __version__

Exposures = str | Sequence[float] | None


@dataclass(frozen=True)
class BracketRequest:
    """What to merge from a bracket of files and how to prepare it; the defaults are `adnet merge`'s.

    exposures: seconds per file, as text ("1/100,1/25,1/6") or numbers; ev: stops instead; neither:
    EXIF. frames: with more than three files, which three (indices sorted by exposure); None picks
    within ratios, the steps between neighbouring frames the weights were trained on (None: the
    engine's weights' recorded range when an engine plans, else TYPICAL_RATIOS).
    response: "auto" | "gamma" | "srgb" | "calibrate" (:func:`adnet_cli.merge.bracket.resolve_response`).
    align: register the frames to the reference first; crop: then keep only what every frame covers. scale: None = 1.0 is the
    reference frame's white; T = the white of a T-second exposure (needs seconds, not EV)."""

    exposures: Exposures = None
    ev: Exposures = None
    frames: tuple[int, int, int] | None = None
    response: str = "auto"
    align: bool = False
    crop: bool = False
    scale: float | None = None
    ratios: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.crop and not self.align:
            raise InputError("--crop crops what --align leaves uncovered; give it with --align")
        if self.scale is not None and self.ev is not None:
            raise InputError("--scale fixed needs exposure times in seconds (EXIF or --exposures), not --ev")

    def plan(self, paths: Sequence[str | os.PathLike]) -> BracketPlan:
        """The bracket's exposures and the three frames to merge, from EXIF or the request (no pixels read).
        A --scale whose factor float32 cannot hold is refused here, before anything runs."""
        plan = plan_bracket([Path(p) for p in paths], _as_text(self.exposures), _as_text(self.ev), self.frames,
                            self.ratios or TYPICAL_RATIOS)
        if self.scale is not None:
            factor = self.scale / plan.exposures[plan.chosen[1]]  # as output_scale computes it
            if not (np.isfinite(np.float32(factor)) and np.float32(factor) > 0):
                raise InputError(f"--scale: a factor of {factor:.3g} is outside float32's range")
        return plan


def _as_text(values: Exposures) -> str | None:
    return values if values is None or isinstance(values, str) else ",".join(repr(float(v)) for v in values)


@dataclass(frozen=True)
class MergeResult:
    """hdr: (H, W, 3) float32 linear radiance on the requested scale (1.0 = the reference frame's
    white unless ``scale``). bracket: the three frames merged, short to long (its own notes say what
    reading assumed: EXIF fallbacks, the frame choice). notes: how the frames were then prepared,
    one line each (response mapping, alignment, crop). metadata: what its files record (the merger,
    the bracket, the reference's capture settings and camera EXIF); :meth:`save` writes them."""

    hdr: np.ndarray
    bracket: Bracket
    notes: tuple[str, ...]
    display: bool = False  # hdr holds a display image in [0, 1] (an exposure fusion), not radiance
    network: NetworkStats | None = None  # where the network ran (None: a classical merge)
    metadata: OutputMetadata | None = None

    def save(self, outputs: Outputs | str | os.PathLike, preview: str | os.PathLike | None = None) -> list[Path]:
        """Write this merge with its metadata: to `outputs` (an :class:`Outputs`), or to the HDR file
        `outputs` with the default mu-law `preview` (None: none). All or nothing; returns the paths."""
        if not isinstance(outputs, Outputs):
            outputs = Outputs(Path(outputs), None if preview is None else Path(preview))
        outputs.write(self.hdr, self.metadata, self.display)
        return outputs.paths


class Merges(abc.ABC):
    """What every merger offers on top of its ``merge_bracket``: planning and reading files, and the
    metadata of the outputs. Subclasses also give ``software`` and ``trained_ratios``."""

    software: str
    trained_ratios: tuple[float, float]

    @abc.abstractmethod
    def merge_bracket(self, bracket: Bracket, request: BracketRequest = BracketRequest(),
                      progress: Progress | None = None, noted: Noted | None = None) -> MergeResult:
        """Merge a read bracket (its frames prepared as `request` says); progress(done, total) and
        noted(line) as they happen."""

    def merge_plan(self, plan: BracketPlan, request: BracketRequest = BracketRequest(), progress: Progress | None = None,
                   read: Callable[[Bracket], None] | None = None, noted: Noted | None = None) -> MergeResult:
        """Read the planned bracket's three frames and merge them; `read` is called with the bracket
        once its frames are read, before the network runs (its notes say what reading assumed);
        `noted` as for :meth:`merge_bracket`."""
        bracket = read_bracket(plan)
        if read:
            read(bracket)
        return self.merge_bracket(bracket, request, progress, noted)

    def merge_files(self, paths: Sequence[str | os.PathLike], request: BracketRequest = BracketRequest(),
                    progress: Progress | None = None, noted: Noted | None = None) -> MergeResult:
        """Plan, read and merge a bracket of 3 or more image files (PNG, TIFF, JPEG or camera RAW)."""
        if request.ratios is None:
            request = replace(request, ratios=self.trained_ratios)
        return self.merge_plan(request.plan(paths), request, progress, noted=noted)

    def output_metadata(self, result: MergeResult, request: BracketRequest = BracketRequest()) -> OutputMetadata:
        """What the merge's files record (:mod:`adnet_cli.formats.metadata`): this engine, the bracket, and the
        reference frame's capture settings and camera EXIF."""
        bracket = result.bracket
        capture = read_capture(bracket.reference)
        frames = ", ".join(f"{p.name} {bracket.unit.format(t)}"
                           for p, t in zip(bracket.paths, bracket.exposures))
        seconds = bracket.unit is ExposureUnit.SECONDS
        return OutputMetadata(
            software=self.software,
            comments=f"merged by adnet from {frames} (exposures from {bracket.source}); reference {bracket.reference.name}",
            capture_time=capture.capture_time,
            exposure_time=capture.exposure_time,
            iso=capture.iso,
            f_number=capture.f_number,
            owner=capture.owner,
            exposure=(request.scale or bracket.exposures[1]) if seconds else None,
            exif=camera_exif(bracket.reference, self.software),
        )


@dataclass(frozen=True)
class Engine(Merges):
    """A network ready to merge and how to run it. `options.dtype` is the compute dtype, already
    resolved for `device`; `weights` is the checkpoint file (None for a model in training)."""

    model: ADNet
    convention: Convention
    device: torch.device
    options: MergeOptions = MergeOptions()
    weights: Path | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @functools.cached_property
    def software(self) -> str:
        """What wrote the outputs: "adnet VERSION; weights NAME (sha256 HEX)"."""
        if self.weights is None:
            return f"adnet {__version__}; model in memory"
        digest = hashlib.sha256(self.weights.read_bytes()).hexdigest()
        return f"adnet {__version__}; weights {self.weights.name} (sha256 {digest})"

    @property
    def trained_ratios(self) -> tuple[float, float]:
        """The steps between neighbouring frames the weights were trained on (their metadata)."""
        return ratios_from_metadata(dict(self.metadata))

    def __repr__(self) -> str:  # the dataclass's would print the whole network
        name = self.weights.name if self.weights else "model in memory"
        return (f"Engine(weights={name!r}, convention={self.convention!r}, device={str(self.device)!r}, "
                f"dtype={precision_label(self.options.dtype)!r}, network={self.options.network!r})")

    def describe(self) -> str:
        """One line: weights, convention, device, precision and deformable-conv backend."""
        name = self.weights.name if self.weights else "model in memory"
        return (f"weights {name} ({self.convention} convention), device {self.device}, "
                f"{precision_label(self.options.dtype)}, deform backend {self.model.deform_backend}")

    def merge_arrays(self, frames: Sequence[np.ndarray] | np.ndarray, exposures: Sequence[float],
                     progress: Progress | None = None, *, channel_order: str = "rgb",
                     noted: Noted | None = None) -> np.ndarray:
        """The network's merge of three frames already in its input convention (the weights' gamma).

        frames: three (H, W, 3) frames, float32 in [0, 1] or uint8/uint16 codes, in any order (sorted
        by exposure, said to `noted`), RGB or, with channel_order="bgr", as OpenCV reads them; or a
        (3, H, W, 3) stack. exposures: their exposure times, any common unit. Returns (H, W, 3)
        float32 linear RGB, 1.0 = radiance that saturates the reference (middle) frame.
        progress(done_tiles, total_tiles)."""
        stack, times = stack_frames(frames, exposures, channel_order, noted or (lambda line: None))
        return self.run_network(stack, times, progress)[0]

    def run_network(self, frames: np.ndarray, exposures: Sequence[float],
                    progress: Progress | None = None) -> tuple[np.ndarray, NetworkStats]:
        """:meth:`merge_arrays`, and where the network ran (``options.network``: `adnet_cli.network.adaptive`)."""
        times = tuple(float(t) for t in exposures)
        if len(times) != 3:
            raise InputError(f"the network merges 3 frames; got {len(times)} exposures")
        return run_network(self.model, frames, times, self.convention, self.device, self.options, progress)  # type: ignore[arg-type]

    def merge_bracket(self, bracket: Bracket, request: BracketRequest = BracketRequest(),
                      progress: Progress | None = None, noted: Noted | None = None) -> MergeResult:
        """Merge a read bracket: response mapping, alignment (and crop), the network, the scale.
        `noted(line)` hears each preparation step's line as it is done (also in the result's notes),
        then where the network ran (``MergeResult.network``)."""
        factor = np.float32(output_scale(bracket, request.scale))
        noted = noted or (lambda line: None)
        frames, said = prepare_frames(bracket, request, GAMMA[self.convention], noted)
        hdr, stats = self.run_network(frames, bracket.exposures, progress)
        noted(stats.summary())
        if hint := stats.shake_hint(request.align):
            noted(hint)
        release_freed_memory()  # the window buffers, before the result is written in other sizes
        _check_output(hdr, self.weights, self.options.dtype)
        scaled = hdr if factor == 1.0 else hdr * factor
        if factor != 1.0 and hdr.max() > 0 and not (np.isfinite(scaled).all() and scaled.max() > 0):
            raise InputError(f"--scale: a factor of {float(factor):.3g} takes the result outside float32's range")
        result = MergeResult(scaled, bracket, tuple(said), network=stats)
        return replace(result, metadata=self.output_metadata(result, request))


@dataclass(frozen=True)
class ClassicalMerger(Merges):
    """A parameter-free merge through the same planning, preparation and outputs as the network:
    OpenCV's Debevec or Robertson, the reference frame alone ("medium"), the noise-optimal merge
    ("optimal", `adnet_cli.network.optimal`: the base of today's residual weights), or Mertens' exposure fusion,
    whose result is a display image (``MergeResult.display``). The frames are prepared in `convention`'s
    plain gamma, the response these merges assume."""

    method: str
    convention: Convention = "kalantari"
    trained_ratios: tuple[float, float] = TYPICAL_RATIOS

    def __post_init__(self) -> None:
        if self.method not in MERGE_METHODS[1:]:
            raise InputError(f"unknown merge method {self.method!r}; expected one of {', '.join(MERGE_METHODS)}")

    @property
    def _implementation(self) -> str:
        return "adnet's own" if self.method == "optimal" else f"OpenCV {cv2.__version__}"

    @property
    def software(self) -> str:
        return f"adnet {__version__}; {self._implementation} {self.method} (no network)"

    def describe(self) -> str:
        return f"classical merge: {self.method} ({self._implementation}), no network"

    def merge_bracket(self, bracket: Bracket, request: BracketRequest = BracketRequest(),
                      progress: Progress | None = None, noted: Noted | None = None) -> MergeResult:
        """As :meth:`Engine.merge_bracket`, with the classical merge in the network's place."""
        frames, said = prepare_frames(bracket, request, GAMMA[self.convention], noted or (lambda line: None))
        if progress:
            progress(0, 1)
        if self.method == FUSION:
            result = MergeResult(mertens_fusion(unit_float(frames)), bracket, tuple(said), display=True)
        else:
            hdr = classical_merge(frames, bracket.exposures, self.method, GAMMA[self.convention])
            result = MergeResult(hdr * np.float32(output_scale(bracket, request.scale)), bracket, tuple(said))
        if progress:
            progress(1, 1)
        return replace(result, metadata=self.output_metadata(result, request))


def _check_output(hdr: np.ndarray, weights: Path | None, dtype: torch.dtype) -> None:
    """Refuse to hand on a merge that is not finite (never a file of zeros)."""
    bad = int(hdr.size - np.count_nonzero(np.isfinite(hdr)))
    if bad:
        name = weights.name if weights else "the model"
        cause = f"{name} is broken" if dtype == torch.float32 else f"{precision_label(dtype)} overflowed, or {name} is broken"
        raise WeightsError(f"the network's output has {bad} non-finite values: {cause} (try --precision float32)")


def create_engine(
    weights: str | os.PathLike | None = None,
    *,
    device: str = "auto",
    precision: str = "auto",
    convention: Convention | None = None,
    deform_backend: str = "auto",
    tile: int | None = None,
    tile_pad: int = DEFAULT_TILE_PAD,
    tta: bool = False,
    network: str = "auto",
    local_rank: int = 0,
) -> Engine:
    """Load `weights` (None: the shipped checkpoint or ``ADNET_WEIGHTS``; a path; ``hf://...``) and
    resolve the device and precision once (:mod:`adnet_cli.runtime`; bad choices fail here, before any
    work). tile: window side in pixels, 0 = whole image, None = from free memory; tta: average the
    four flips and transposes (4x the time); network: ``auto`` (a residual model's network only where
    the frames disagree) or ``everywhere`` (`adnet_cli.network.adaptive`)."""
    target = resolve_device(device, local_rank)
    dtype = resolve_precision(precision, target)
    loaded = load_weights(None if weights is None else str(weights), convention=convention, deform_backend=deform_backend)
    options = MergeOptions(tile=tile, tile_pad=tile_pad, tta=tta, dtype=dtype, network=network)
    return Engine(loaded.model.to(target), loaded.convention, target, options, loaded.path, loaded.metadata)

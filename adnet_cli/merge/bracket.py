"""A bracket of three or more frames with exposure times: parsing exposures, choosing the three the
network takes, reading them (PNG/TIFF/JPEG or camera RAW), mapping them to the network's input, and
the radiometric scale of the result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from adnet_cli.choices import FRAMES, TYPICAL_RATIOS
from adnet_cli.errors import InputError
from adnet_cli.exposure import EV_SOURCE, ExposureUnit, format_seconds
from adnet_cli.formats.exif import ExifExposure, read_exif_exposure
from adnet_cli.formats.io import LDR_INPUT_SUFFIXES, read_ldr_codes, stored_size, unit_float
from adnet_cli.formats.raw import RAW_SUFFIXES, is_raw, read_raw, read_raw_exposure
from adnet_cli.merge.response import linear_to_network, to_network_frames
from adnet_cli.merge.selection import exposedness, select_frames

MAX_EV = 30.0  # 2**30 keeps every exposure ratio finite and non-zero in float32
FRAME_SUFFIXES: tuple[str, ...] = (*LDR_INPUT_SUFFIXES, *RAW_SUFFIXES)


@dataclass(frozen=True)
class BracketPlan:
    """All frames of one bracket sorted by exposure (short to long) and the three the network takes.

    chosen: indices into ``paths``: (short, reference, long), ascending.
    """

    paths: tuple[Path, ...]
    exposures: tuple[float, ...]  # seconds (at the reference's ISO and aperture), or relative units for --ev
    chosen: tuple[int, int, int]
    source: str  # where the exposures came from: "--exposures", "--ev", "EXIF ..."
    notes: tuple[str, ...] = ()  # assumptions made, e.g. an ISO tag missing from some frames

    @property
    def reference(self) -> Path:
        return self.paths[self.chosen[1]]

    @property
    def unit(self) -> ExposureUnit:
        return ExposureUnit.of(self.source)

    def selection_note(self) -> str | None:
        """One line saying which frames are used when the bracket has more than three, else None."""
        if len(self.paths) == FRAMES:
            return None
        short, ref, long = (f"#{i} {self.paths[i].name}" for i in self.chosen)
        return (
            f"{len(self.paths)} frames: using {short}, {ref} (reference), {long} "
            "(#: sorted by exposure; --frames to choose)"
        )


@dataclass(frozen=True)
class Bracket:
    """Three frames sorted by exposure: short, medium (the reference), long.

    frames: (3, H, W, 3) RGB. From PNG/TIFF/JPEG: the code values as decoded (camera response), uint8
    when every frame is 8-bit, else uint16 (8-bit codes x 257), kept as integers to save memory
    (:func:`adnet_cli.formats.io.unit_float` gives [0, 1]). From camera RAW (``linear``): float32, linear,
    1.0 = sensor white. :func:`network_frames` maps either to the network's input.
    """

    frames: np.ndarray
    exposures: tuple[float, float, float]  # seconds, or relative units when given as EV
    paths: tuple[Path, Path, Path]
    source: str  # where the exposures came from: "--exposures", "--ev", "EXIF ..."
    notes: tuple[str, ...]
    linear: bool = False

    @property
    def reference(self) -> Path:
        return self.paths[1]

    @property
    def unit(self) -> ExposureUnit:
        return ExposureUnit.of(self.source)


def parse_exposures(text: str) -> list[float]:
    """``"1/100,1/25,1/6"`` or ``"0.01, 0.04, 0.16"`` -> exposure times in seconds."""
    try:
        return [float(Fraction(part.strip())) for part in text.split(",")]
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise InputError(f"--exposures: cannot parse {text!r}; expected e.g. 1/100,1/25,1/6") from exc


def parse_ev(text: str) -> list[float]:
    """``"-2,0,2"`` (stops, each within +-MAX_EV) -> relative exposure times 2**ev."""
    try:
        stops = [float(part.strip()) for part in text.split(",")]
    except ValueError as exc:
        raise InputError(f"--ev: cannot parse {text!r}; expected stops, e.g. -2,0,2") from exc
    if any(not abs(ev) <= MAX_EV for ev in stops):
        raise InputError(f"--ev: stops must lie within +-{MAX_EV:g}, got {text!r}")
    return [2.0**ev for ev in stops]


def parse_frame_indices(text: str) -> tuple[int, int, int]:
    """``"0,2,4"`` -> three distinct indices >= 0, ascending (the middle one is the reference).

    Indices count from 0 in the bracket sorted by exposure, short to long."""
    try:
        indices = sorted(int(part.strip()) for part in text.split(","))
    except ValueError as exc:
        raise InputError(f"--frames: cannot parse {text!r}; expected three indices, e.g. 0,2,4") from exc
    if len(indices) != FRAMES or len(set(indices)) != FRAMES or indices[0] < 0:
        raise InputError(f"--frames: need three different indices >= 0, got {text!r}")
    return indices[0], indices[1], indices[2]


def read_capture(path: Path) -> ExifExposure:
    """Capture settings of one frame: EXIF, plus LibRaw's metadata for camera RAW files."""
    return read_raw_exposure(path) if is_raw(path) else read_exif_exposure(path)


# EXIF settings besides ExposureTime that scale a frame's brightness: (field, tag name, power).
EXPOSURE_FACTORS: tuple[tuple[str, str, float], ...] = (("iso", "ISO", 1.0), ("f_number", "FNumber", -2.0))


@dataclass(frozen=True)
class ExifTimes:
    """Exposures of a bracket's frames from EXIF, in the order of the paths given.

    values: ExposureTime (s) x ISO / FNumber**2, each factor included only when it differs across the
        frames (any common unit: only ratios matter until :func:`plan_bracket` rescales them).
    seconds: ExposureTime (s) of each frame.
    source: e.g. "EXIF ExposureTime" or "EXIF ExposureTime x ISO ...".
    notes: the fallbacks taken for missing ISO / FNumber tags.
    """

    values: list[float]
    seconds: list[float]
    source: str
    notes: tuple[str, ...]


def exif_exposures(paths: Sequence[Path]) -> ExifTimes:
    """Exposure per frame from EXIF (or a RAW file's metadata): ExposureTime, times ISO and divided by
    FNumber**2 when those differ across the frames.

    A missing ISO or FNumber is assumed equal to the other frames' (said in ``notes``) unless the
    frames that have it disagree, which raises InputError, as does a missing ExposureTime."""
    tags = [read_capture(p) for p in paths]
    missing = [p.name for p, t in zip(paths, tags) if not t.exposure_time or t.exposure_time <= 0]
    if missing:
        raise InputError(f"no exposure time in EXIF of {', '.join(missing)}; give --exposures or --ev")
    seconds = [float(t.exposure_time) for t in tags]  # type: ignore[arg-type]
    values, used, notes = list(seconds), [], []
    for field, label, power in EXPOSURE_FACTORS:
        factors = [getattr(t, field) for t in tags]
        lacking = [p.name for p, f in zip(paths, factors) if not f]
        known = sorted({f for f in factors if f})
        if len(known) > 1 and lacking:
            raise InputError(
                f"{label} differs across frames ({', '.join(f'{k:g}' for k in known)}) but the EXIF of "
                f"{', '.join(lacking)} has no {label}; give --exposures"
            )
        if len(known) > 1:
            values = [v * f**power for v, f in zip(values, factors)]
            used.append(label)
        elif lacking and known:
            notes.append(f"no {label} in the EXIF of {', '.join(lacking)}: assumed {known[0]:g} like the other frames")
        elif lacking:
            notes.append(f"no {label} in EXIF: assumed the same in every frame")
    if not used:
        return ExifTimes(values, seconds, "EXIF ExposureTime", tuple(notes))
    factor = {"ISO": " x ISO", "FNumber": " / FNumber^2"}
    source = (
        f"EXIF ExposureTime{''.join(factor[u] for u in used)} ({' and '.join(used)} "
        f"{'differs' if len(used) == 1 else 'differ'} across frames; "
        "as seconds at the reference frame's settings)"
    )
    return ExifTimes(values, seconds, source, tuple(notes))


def plan_bracket(
    paths: Sequence[Path],
    exposures: str | None = None,
    ev: str | None = None,
    frames: tuple[int, int, int] | None = None,
    trained: tuple[float, float] = TYPICAL_RATIOS,
) -> BracketPlan:
    """Exposures of 3 or more frames (from `exposures`, `ev`, or EXIF, in that order of preference),
    sorted short to long, and the three to merge: `frames` (indices into that order) or
    :func:`select_frames` within `trained`, the weights' range of steps between neighbouring frames.
    Exposures from EXIF that include ISO / aperture changes are expressed as seconds at the reference
    frame's ISO and aperture (its own value is its ExposureTime), so that ``--scale fixed`` keeps its
    meaning. Reads EXIF, and with more than three frames to choose from, a reduced copy of each
    frame's pixels (how well exposed it is). Raises InputError on any inconsistency."""
    if len(paths) < FRAMES:
        raise InputError(f"ADNet needs at least 3 frames; got {len(paths)}")
    seen: set[Path] = set()
    for p in paths:
        if Path(p).resolve() in seen:
            raise InputError(f"{p}: given twice")
        seen.add(Path(p).resolve())
    times, seconds, source, notes = _exposure_values(paths, exposures, ev)
    check_exposure_values(times, len(paths))
    order = sorted(range(len(paths)), key=lambda i: times[i])
    ordered = [times[i] for i in order]
    if frames is not None and frames[-1] >= len(paths):
        count = len(paths)
        raise InputError(f"--frames: index {frames[-1]} out of range; this bracket has {count} frames (0-{count - 1})")
    warning = None
    if frames is not None:
        chosen = frames
    else:
        exposed = [None if is_raw(paths[i]) else exposedness(Path(paths[i])) for i in order] if len(paths) > FRAMES else None
        chosen, warning = select_frames(ordered, trained, None if exposed is None or None in exposed else exposed)
    _check_chosen([ordered[i] for i in chosen])
    _check_sizes([Path(paths[order[i]]) for i in chosen])
    notes = (*notes, *([warning] if warning else []))
    if seconds is not None:  # rescale so that the reference's value is its exposure time in seconds
        reference = order[chosen[1]]
        ordered = [t * (seconds[reference] / times[reference]) for t in ordered]
    return BracketPlan(tuple(Path(paths[i]) for i in order), tuple(ordered), chosen, source, notes)


def _exposure_values(
    paths: Sequence[Path], exposures: str | None, ev: str | None
) -> tuple[list[float], list[float] | None, str, tuple[str, ...]]:
    """(values, seconds when EXIF values include ISO / aperture factors else None, source, notes)."""
    if exposures is not None and ev is not None:
        raise InputError("give either --exposures or --ev, not both")
    if exposures is not None:
        values = parse_exposures(exposures)
        return values, None, "--exposures", _disagreement(paths, values, "--exposures")
    if ev is not None:
        values = parse_ev(ev)
        return values, None, EV_SOURCE, _disagreement(paths, values, "--ev")
    found = exif_exposures(paths)
    scaled = found.values != found.seconds
    return found.values, found.seconds if scaled else None, found.source, found.notes


def _disagreement(paths: Sequence[Path], given: list[float], option: str) -> tuple[str, ...]:
    """A note when the frames' own EXIF exposures order them differently from `given` (values in
    the order of `paths`): an --ev typed in file order for a camera that shoots 0, -2, +2, say."""
    if len(given) != len(paths):
        return ()  # check_exposure_values says so
    try:
        exif = exif_exposures(paths).values
    except InputError:  # no (complete) EXIF: nothing to compare with
        return ()
    order = lambda values: sorted(range(len(values)), key=lambda i: values[i])  # noqa: E731
    if order(exif) == order(given) or len(set(exif)) != len(exif):
        return ()
    shown = ", ".join(f"{p.name} {format_seconds(t)}" for p, t in zip(paths, exif))
    return (f"{option} orders the frames differently from their EXIF exposure times ({shown}); check the order",)


def check_exposure_values(times: list[float], count: int) -> None:
    """InputError unless there are `count` exposure values, all finite and positive."""
    if len(times) != count:
        raise InputError(f"need {count} exposure values, got {len(times)}")
    if any(not np.isfinite(t) or t <= 0 for t in times):
        raise InputError(f"exposure times must be positive, got {', '.join(f'{t:g}' for t in times)}")


def _check_chosen(times: list[float]) -> None:
    listing = ", ".join(f"{t:g}" for t in times)
    if max(times) / min(times) > 2**MAX_EV:
        raise InputError(f"exposure times span more than {MAX_EV:g} stops, got {listing}")
    if len(set(times)) != FRAMES:
        raise InputError(f"exposure times must differ, got {listing}")


def _check_sizes(paths: Sequence[Path]) -> None:
    """InputError when the headers say the frames differ in size (upright, after EXIF orientation), as
    :func:`read_bracket` would find only once it decodes them; files without a readable header pass."""
    sizes = {}
    for path in paths:
        size = None if is_raw(path) else stored_size(path)
        if size is not None:
            turned = (read_exif_exposure(path).orientation or 1) >= 5  # 5-8 swap height and width
            sizes[path] = size[::-1] if turned else size
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{path.name} {w}x{h}" for path, (h, w) in sizes.items())
        raise InputError(f"frames differ in size: {listing}")


def read_bracket(plan: BracketPlan) -> Bracket:
    """Read the three chosen frames of `plan` (the others are not opened). Raises InputError."""
    paths = [plan.paths[i] for i in plan.chosen]
    pixels, notes, linear = _read_frames(paths)
    if len({p.shape[:2] for p in pixels}) > 1:
        listing = ", ".join(f"{path.name} {p.shape[1]}x{p.shape[0]}" for path, p in zip(paths, pixels))
        raise InputError(f"frames differ in size: {listing}")
    selection = plan.selection_note()
    return Bracket(
        frames=np.stack(pixels),
        exposures=tuple(plan.exposures[i] for i in plan.chosen),  # type: ignore[arg-type]
        paths=tuple(paths),  # type: ignore[arg-type]
        source=plan.source,
        notes=(*plan.notes, *notes, *([selection] if selection else [])),
        linear=linear,
    )


def _read_frames(paths: Sequence[Path]) -> tuple[list[np.ndarray], list[str], bool]:
    """All camera RAW (linear, True) or all PNG/TIFF/JPEG (as decoded, False): pixels and notes."""
    raws = [is_raw(p) for p in paths]
    if any(raws) and not all(raws):
        raise InputError(f"a bracket mixes camera RAW and other files: {', '.join(p.name for p in paths)}")
    if all(raws):
        decoded = [read_raw(p) for p in paths]
        return [d.linear for d in decoded], [n for d in decoded for n in d.notes], True
    images = [read_ldr_codes(p) for p in paths]
    codes = [img.codes for img in images]
    if len({c.dtype for c in codes}) > 1:  # 8- and 16-bit frames: k / 255 == 257 k / 65535 exactly
        codes = [c if c.dtype == np.uint16 else c.astype(np.uint16) * np.uint16(257) for c in codes]
    return codes, [n for img in images for n in img.notes], False


def resolve_response(bracket: Bracket, response: str) -> tuple[str, str | None]:
    """The response curve to use and, for ``auto``, why (else None).

    auto: ``srgb`` for 8-bit frames whose reference carries a camera's EXIF (ColorSpace sRGB or a
    Make: in-camera JPEGs and their conversions); ``gamma`` (the weights' own) for 16-bit frames and
    8-bit ones without such EXIF; camera RAW is linear whatever is chosen."""
    if response != "auto":
        return response, None
    if bracket.linear:
        return "gamma", None
    if bracket.frames.dtype != np.uint8:
        return "gamma", "16-bit frames"
    tags = read_exif_exposure(bracket.reference)
    if tags.color_space == 1 or tags.make:
        tagged = "tagged EXIF ColorSpace sRGB" if tags.color_space == 1 else f"from a {tags.make} camera"
        return "srgb", f"8-bit frames {tagged}"
    return "gamma", "8-bit frames without a camera's EXIF"


def network_frames(
    bracket: Bracket, response: str, gamma: float, curve_frames: np.ndarray | None = None
) -> tuple[np.ndarray, str | None]:
    """The bracket's frames in the network's input convention (``v**gamma`` proportional to exposure x
    radiance), and a line saying how, or None when the frames are used as decoded.

    response: "gamma" | "srgb" | "calibrate" (see :mod:`adnet_cli.merge.response`; resolve "auto" with
    :func:`resolve_response` first); ignored for RAW frames, which are linear already. gamma: the
    checkpoint convention's input gamma. curve_frames: what ``calibrate`` estimates from (default the
    frames as they are; see :func:`adnet_cli.merge.response.to_network_frames`)."""
    if bracket.linear:
        unused = "" if response == "gamma" else f" (--response {response} applies to PNG/TIFF/JPEG only)"
        return linear_to_network(bracket.frames, gamma), f"camera RAW: linear, encoded with gamma {gamma:g}{unused}"
    if response == "gamma":
        return bracket.frames, None
    result = to_network_frames(unit_float(bracket.frames), bracket.exposures, response, gamma, curve_frames)
    return result.frames, result.description


def parse_scale(text: str) -> float | None:
    """``--scale``: ``"reference"`` -> None; ``"fixed:T"`` (T in seconds, fractions allowed) -> T > 0."""
    if text.strip() == "reference":
        return None
    kind, _, value = text.partition(":")
    try:
        seconds = float(Fraction(value.strip())) if kind.strip() == "fixed" else math.nan
    except (ValueError, ZeroDivisionError, OverflowError):
        seconds = math.nan
    if not (np.isfinite(seconds) and seconds > 0):
        raise InputError(f"--scale: expected reference or fixed:SECONDS (e.g. fixed:1/60), got {text!r}")
    return seconds


def output_scale(bracket: Bracket, fixed: float | None) -> float:
    """Factor taking a merge (1.0 = radiance that saturates the reference frame) to the requested scale.

    fixed None: 1. fixed = T seconds: a T-second exposure saturates at t_reference / T times the radiance
    that saturates the reference, so the factor is T / t_reference and 1.0 then means the radiance that
    saturates a T-second exposure at the reference frame's ISO and aperture. Raises InputError for --ev brackets.
    """
    if fixed is None:
        return 1.0
    if bracket.unit is ExposureUnit.RELATIVE:
        raise InputError("--scale fixed needs exposure times in seconds (EXIF or --exposures), not --ev")
    return fixed / bracket.exposures[1]

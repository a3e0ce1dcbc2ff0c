"""A bracket of three LDR frames with exposure times: parsing, reading and ordering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from adnet_cli.errors import InputError
from adnet_cli.io import ExifExposure, read_exif_exposure, read_ldr

FRAMES = 3
MAX_EV = 30.0  # 2**30 keeps every exposure ratio finite and non-zero in float32


@dataclass(frozen=True)
class Bracket:
    """Three frames sorted by exposure: short, medium (the reference), long."""

    frames: np.ndarray  # (3, H, W, 3) float32 RGB in [0, 1]
    exposures: tuple[float, float, float]  # seconds, or relative units when given as EV
    paths: tuple[Path, Path, Path]
    source: str  # where the exposures came from: "--exposures", "--ev", "EXIF ..."
    notes: tuple[str, ...]

    @property
    def reference(self) -> Path:
        return self.paths[1]


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


def exif_exposures(paths: Sequence[Path]) -> tuple[list[float], str]:
    """Exposure per frame from EXIF: ExposureTime, scaled by ISO / FNumber**2 when those differ."""
    tags = [read_exif_exposure(p) for p in paths]
    missing = [p.name for p, t in zip(paths, tags) if not t.exposure_time or t.exposure_time <= 0]
    if missing:
        raise InputError(f"no exposure time in EXIF of {', '.join(missing)}; give --exposures or --ev")
    times = [float(t.exposure_time) for t in tags]  # type: ignore[arg-type]
    if not (_differs(tags, "iso") or _differs(tags, "f_number")):
        return times, "EXIF ExposureTime"
    incomplete = [p.name for p, t in zip(paths, tags) if not t.iso or not t.f_number]
    if incomplete:
        raise InputError(
            f"ISO or f-number differ across frames but {', '.join(incomplete)} lacks one; give --exposures"
        )
    scaled = [t * tag.iso / tag.f_number**2 for t, tag in zip(times, tags)]  # type: ignore[operator]
    return scaled, "EXIF ExposureTime x ISO / FNumber^2 (ISO or aperture differ across frames)"


def _differs(tags: Sequence[ExifExposure], field: str) -> bool:
    values = {getattr(t, field) for t in tags if getattr(t, field)}
    return len(values) > 1


def load_bracket(paths: Sequence[Path], exposures: str | None = None, ev: str | None = None) -> Bracket:
    """Read three frames and their exposures (from `exposures`, `ev`, or EXIF, in that order of
    preference) and sort them short to long. Raises InputError on any inconsistency."""
    if len(paths) != FRAMES:
        raise InputError(f"ADNet merges exactly 3 frames; got {len(paths)}")
    if exposures is not None and ev is not None:
        raise InputError("give either --exposures or --ev, not both")
    if exposures is not None:
        times, source = parse_exposures(exposures), "--exposures"
    elif ev is not None:
        times, source = parse_ev(ev), "--ev"
    else:
        times, source = exif_exposures(paths)
    _check_times(times)
    images = [read_ldr(p) for p in paths]
    sizes = {img.pixels.shape[:2] for img in images}
    if len(sizes) > 1:
        listing = ", ".join(f"{p.name} {img.pixels.shape[1]}x{img.pixels.shape[0]}" for p, img in zip(paths, images))
        raise InputError(f"frames differ in size: {listing}")
    order = sorted(range(FRAMES), key=lambda i: times[i])
    notes = tuple(n for img in images for n in img.notes)
    return Bracket(
        frames=np.stack([images[i].pixels for i in order]),
        exposures=tuple(times[i] for i in order),  # type: ignore[arg-type]
        paths=tuple(Path(paths[i]) for i in order),  # type: ignore[arg-type]
        source=source,
        notes=notes,
    )


def _check_times(times: list[float]) -> None:
    if len(times) != FRAMES:
        raise InputError(f"need 3 exposure values, got {len(times)}")
    listing = ", ".join(f"{t:g}" for t in times)
    if any(not np.isfinite(t) or t <= 0 for t in times):
        raise InputError(f"exposure times must be positive, got {listing}")
    if max(times) / min(times) > 2**MAX_EV:
        raise InputError(f"exposure times span more than {MAX_EV:g} stops, got {listing}")
    if len(set(times)) != FRAMES:
        raise InputError(f"exposure times must differ, got {listing}")

"""Camera RAW input through rawpy (LibRaw): demosaiced, white-balanced, linear RGB.

A RAW frame skips the camera's tone curve entirely, so it enters the network through
:func:`adnet_cli.merge.response.linear_to_network` rather than a response curve.

Decoding settings (:data:`POSTPROCESS`), and why:

- ``gamma=(1, 1)``, ``output_bps=16``: linear 16-bit output, divided by 65535 so that
  **1.0 is the sensor's white level** (after black-level subtraction).
- ``no_auto_bright=True`` and ``adjust_maximum_thr=0``: a fixed scale. LibRaw would otherwise
  brighten each frame, and lower the white level to a frame's brightest pixel when that is
  above 75% of it, so the frames of one bracket would end up on different scales.
- ``use_camera_wb=True``: the white balance the camera recorded, as in its own JPEGs.
- ``output_color=sRGB``: linear values with sRGB / Rec. 709 primaries, the same primaries as
  JPEG/PNG brackets and as the network's training data (the camera's native space would give
  colour casts).
- highlight mode Clip (LibRaw's default): a saturated photosite gives white, 1.0 in every channel.
- ``user_flip`` left unset: LibRaw turns the image as the camera recorded (its orientation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import rawpy

from adnet_cli.errors import InputError
from adnet_cli.formats.exif import ExifExposure, read_exif_exposure

RAW_SUFFIXES: tuple[str, ...] = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2")

POSTPROCESS: dict[str, object] = {
    "use_camera_wb": True,
    "no_auto_bright": True,
    "adjust_maximum_thr": 0.0,
    "output_bps": 16,
    "gamma": (1, 1),
    "output_color": rawpy.ColorSpace.sRGB,
}

# LibRaw's flip code -> the equivalent EXIF Orientation value.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}
_RAWPY_ERRORS = (rawpy.LibRawError, rawpy.NotSupportedError, OSError)


@dataclass(frozen=True)
class RawFrame:
    """A decoded RAW frame.

    linear: (H, W, 3) float32 in [0, 1], linear RGB with sRGB primaries, camera white balance,
        upright; 1.0 = the sensor's white level (saturation).
    notes: human-readable remarks, e.g. that the camera's orientation was applied.
    """

    linear: np.ndarray
    notes: tuple[str, ...]


def is_raw(path: Path) -> bool:
    """True when ``path``'s extension (any case) is one of :data:`RAW_SUFFIXES`."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def raw_to_linear(rgb16: np.ndarray) -> np.ndarray:
    """LibRaw's linear 16-bit output -> float32 with 1.0 = white.

    rgb16: (H, W, 3) uint16, as from ``postprocess(**POSTPROCESS)`` (65535 = sensor white level).
    Returns (H, W, 3) float32 in [0, 1]; the input is not modified.
    """
    if rgb16.dtype != np.uint16 or rgb16.ndim != 3 or rgb16.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint16 array, got {rgb16.dtype} {rgb16.shape}")
    return rgb16.astype(np.float32) / np.float32(65535.0)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")


def read_raw(path: Path) -> RawFrame:
    """Decode a camera RAW file with LibRaw (settings in the module docstring).

    Returns a :class:`RawFrame`. Raises InputError (one line naming the file) when the file is
    missing or LibRaw cannot decode it (not a RAW file, unsupported camera, truncated data).
    """
    path = Path(path)
    _check_file(path)
    try:
        with open(path, "rb") as fh, rawpy.imread(fh) as raw:  # a file object: any legal name
            rgb16 = raw.postprocess(**POSTPROCESS)
            flip = int(raw.sizes.flip)
    except _RAWPY_ERRORS as exc:
        detail = exc.args[0] if exc.args else ""
        reason = (detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)).strip()
        reason = reason or type(exc).__name__
        raise InputError(f"{path}: not a RAW file LibRaw can decode ({reason})") from exc
    notes = ()
    if flip:
        orientation = _FLIP_TO_ORIENTATION.get(flip, flip)
        notes = (f"{path}: turned upright as the camera recorded (orientation {orientation})",)
    return RawFrame(linear=raw_to_linear(rgb16), notes=notes)


def _positive(value: float) -> float | None:
    return float(value) if np.isfinite(value) and value > 0 else None


def read_raw_exposure(path: Path) -> ExifExposure:
    """Capture settings of a RAW file: EXIF first (exifread), LibRaw's metadata for what is missing.

    exifread reads TIFF-based RAWs (DNG, NEF, CR2, ARW, ORF, RW2) but not CR3 or RAF; LibRaw
    parses all of them. Fields neither can supply are None. Raises InputError only when the file
    cannot be opened; a file LibRaw rejects just keeps the EXIF values.
    """
    path = Path(path)
    exif = read_exif_exposure(path)
    if None not in (exif.exposure_time, exif.iso, exif.f_number, exif.capture_time, exif.orientation):
        return exif
    try:
        with open(path, "rb") as fh, rawpy.imread(fh) as raw:
            other, flip = getattr(raw, "other", None), int(raw.sizes.flip)  # older rawpy lacks .other
    except _RAWPY_ERRORS:
        return exif
    stamp = getattr(other, "timestamp", None)
    stamp = stamp if isinstance(stamp, datetime) else None
    return ExifExposure(
        exposure_time=exif.exposure_time or _positive(getattr(other, "shutter_speed", 0.0)),
        iso=exif.iso or _positive(getattr(other, "iso_speed", 0.0)),
        f_number=exif.f_number or _positive(getattr(other, "aperture", 0.0)),
        capture_time=exif.capture_time or (stamp if stamp and stamp.year > 1970 else None),
        orientation=exif.orientation or _FLIP_TO_ORIENTATION.get(flip),
        color_space=exif.color_space,
        make=exif.make,
        focal_length=exif.focal_length,
        owner=exif.owner,
    )

"""EXIF: capture settings (exposure, ISO, aperture, time) and orientation of image and RAW files.

A leaf module (numpy, exifread and :mod:`adnet_cli.errors`); read through exifread, which knows
JPEG, PNG (eXIf), TIFF and the TIFF-based RAW formats.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import exifread
import numpy as np

from adnet_cli.errors import InputError
from adnet_cli.formats.paths import check_readable_file


@dataclass(frozen=True)
class ExifExposure:
    """Capture settings from a file's EXIF block; ``None`` where a tag is absent or unusable.

    exposure_time: seconds (ExposureTime), > 0.
    iso: ISOSpeedRatings / PhotographicSensitivity, > 0.
    f_number: FNumber, > 0.
    capture_time: DateTimeOriginal plus SubSecTimeOriginal when present; naive (camera clock,
        no time zone). DateTime (the last-modified time) is deliberately not used.
    orientation: the Orientation tag, 1-8 (1 = stored upright; applied by :func:`adnet_cli.formats.io.read_ldr`).
    color_space: ColorSpace (1 = sRGB, 65535 = uncalibrated). make: the camera maker (Make), or "".
    focal_length: FocalLength, mm. owner: Copyright, else Artist, or "".
    """

    exposure_time: float | None
    iso: float | None
    f_number: float | None
    capture_time: datetime | None = None
    orientation: int | None = None
    color_space: int | None = None
    make: str = ""
    focal_length: float | None = None
    owner: str = ""


# EXIF Orientation value -> (what is done, how) to display the stored pixels upright.
ORIENTATIONS: dict[int, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    2: ("mirrored left-right", lambda a: a[:, ::-1]),
    3: ("rotated 180 degrees", lambda a: a[::-1, ::-1]),
    4: ("mirrored top-bottom", lambda a: a[::-1]),
    5: ("transposed (mirrored about the main diagonal)", lambda a: a.swapaxes(0, 1)),
    6: ("rotated 90 degrees clockwise", lambda a: np.rot90(a, k=-1)),
    7: ("transversed (mirrored about the anti-diagonal)", lambda a: a.swapaxes(0, 1)[::-1, ::-1]),
    8: ("rotated 90 degrees counter-clockwise", lambda a: np.rot90(a, k=1)),
}


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored (H, W, ...) pixels upright for EXIF Orientation 1-8; any dtype, a new array."""
    turn = ORIENTATIONS[orientation][1] if orientation in ORIENTATIONS else None
    return np.ascontiguousarray(img if turn is None else turn(img))


def _tag_float(tags: dict, names: tuple[str, ...]) -> float | None:
    """First value of the first tag present in ``names`` as a positive finite float, else None."""
    for name in names:
        tag = tags.get(name)
        values = getattr(tag, "values", None)
        if not values or isinstance(values, (str, bytes)):
            continue
        try:
            value = float(values[0])
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if np.isfinite(value) and value > 0:
            return value
    return None


def tag_orientation(tags: dict) -> int | None:
    """The Orientation tag (1-8), or None when absent or out of range."""
    value = _tag_float(tags, ("Image Orientation",))
    return int(value) if value in range(1, 9) else None


def _tag_text(tags: dict, names: tuple[str, ...]) -> str:
    """The first present tag in ``names`` as stripped text, or ""."""
    for name in names:
        text = str(getattr(tags.get(name), "values", "") or "").strip("\x00 ")
        if text:
            return text
    return ""


def _tag_capture_time(tags: dict) -> datetime | None:
    """DateTimeOriginal (``YYYY:MM:DD HH:MM:SS``) plus SubSecTimeOriginal, or None if unusable."""
    text = _tag_text(tags, ("EXIF DateTimeOriginal", "Image DateTimeOriginal"))  # IFD0 in some RAWs
    try:
        stamp = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # absent, blank ("    :  :  ") or malformed
        return None
    subsec = _tag_text(tags, ("EXIF SubSecTimeOriginal", "Image SubSecTimeOriginal"))
    if subsec.isdigit():
        stamp = stamp.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    return stamp


def read_tags(path: Path) -> dict:
    """All EXIF tags exifread finds in ``path`` ({} when none or the block is corrupt).

    Works for JPEG, PNG (eXIf), TIFF and the TIFF-based RAW formats (DNG, NEF, CR2, ARW, ORF,
    RW2); CR3 and RAF give {}. Raises InputError only when the file cannot be read.
    """
    logger = logging.getLogger("exifread")
    previous_level = logger.level
    logger.setLevel(logging.ERROR)  # exifread warns "no exif data" through logging
    try:
        with open(path, "rb") as fh:
            return exifread.process_file(fh, details=False)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except Exception:  # noqa: BLE001 - exifread raises assorted errors on corrupt blocks
        return {}
    finally:
        logger.setLevel(previous_level)


def read_exif_exposure(path: Path) -> ExifExposure:
    """Read ExposureTime (s), ISO, FNumber, capture time and orientation from a file's EXIF.

    Any file exifread understands: JPEG, PNG, TIFF and TIFF-based RAW files (see
    :func:`read_tags`). Fields are None when the file has no EXIF, the tag is missing, or its
    value is unusable (a corrupt EXIF block counts as no EXIF). Raises InputError only when
    the file itself cannot be opened.
    """
    path = Path(path)
    check_readable_file(path)
    tags = read_tags(path)
    return ExifExposure(
        exposure_time=_tag_float(tags, ("EXIF ExposureTime", "Image ExposureTime")),
        iso=_tag_float(
            tags,
            (
                "EXIF ISOSpeedRatings",
                "EXIF PhotographicSensitivity",
                "Image ISOSpeedRatings",
                "Image PhotographicSensitivity",
            ),
        ),
        f_number=_tag_float(tags, ("EXIF FNumber", "Image FNumber")),
        capture_time=_tag_capture_time(tags),
        orientation=tag_orientation(tags),
        color_space=int(_tag_float(tags, ("EXIF ColorSpace",)) or 0) or None,
        make=_tag_text(tags, ("Image Make",)),
        focal_length=_tag_float(tags, ("EXIF FocalLength", "Image FocalLength")),
        owner=_tag_text(tags, ("Image Copyright", "Image Artist")),
    )

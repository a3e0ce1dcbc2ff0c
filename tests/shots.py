"""Small photos with EXIF capture settings (exposure, ISO, f-number, capture time) for the grouping
and batch tests: one smooth scene, exposed through a gamma-2.2 response."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

START = datetime(2024, 5, 1, 12, 0, 0)
HEIGHT, WIDTH = 16, 24


def scene(seed: int = 0) -> np.ndarray:
    """(16, 24, 3) float32 radiance in [0.02, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    channels = [0.51 + 0.49 * np.sin(xx / (4 + c) + yy / 5 + rng.uniform(0, 6)) for c in range(3)]
    return np.stack(channels, -1).astype(np.float32)


def exposed(radiance: np.ndarray, seconds: float, white: float = 20.0) -> np.ndarray:
    """What a camera with a gamma-2.2 response records: (radiance x seconds x white)**(1/2.2), clipped."""
    return np.clip(radiance * seconds * white, 0, 1) ** (1 / 2.2)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1) of values in [0, 1], as in-camera JPEGs often carry."""
    x = np.clip(linear, 0, 1).astype(np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _exif_ifd(exposure: Fraction | None, when: datetime | None, iso: int | None, f_number: Fraction | None) -> dict:
    tags: dict = {}
    if iso is not None:
        tags[0x8827] = iso
    if f_number is not None:
        tags[0x829D] = IFDRational(f_number.numerator, f_number.denominator)
    if exposure is not None:
        tags[0x829A] = IFDRational(exposure.numerator, exposure.denominator)
    if when is not None:
        tags[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
        tags[0x9291] = f"{when.microsecond // 10_000:02d}"
    return tags


def write_jpeg(
    path: Path,
    pixels: np.ndarray,
    exposure: Fraction | None,
    when: datetime | None,
    iso: int | None = 100,
    f_number: Fraction | None = Fraction(28, 10),
    make: str | None = None,
    color_space: int | None = None,
) -> Path:
    """An 8-bit JPEG of (H, W, 3) pixels in [0, 1] with the EXIF tags given (None: tag left out);
    make and color_space (1 = sRGB) as a camera writes them."""
    exif = Image.Exif()
    exif.get_ifd(0x8769).update(_exif_ifd(exposure, when, iso, f_number))
    if color_space is not None:
        exif.get_ifd(0x8769)[0xA001] = color_space
    if make is not None:
        exif[0x010F] = make
    Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(path, exif=exif.tobytes(), quality=95)
    return path


def write_tiff16(
    path: Path, pixels: np.ndarray, exposure: Fraction, when: datetime, iso: int = 100, f_number: Fraction = Fraction(28, 10)
) -> Path:
    """A 16-bit RGB TIFF with ExposureTime, ISO, FNumber, DateTimeOriginal, SubSecTimeOriginal in IFD0."""
    subsec = f"{when.microsecond // 10_000:02d}"
    tags = [
        (33434, 5, 1, (exposure.numerator, exposure.denominator), True),
        (34855, 3, 1, iso, True),
        (33437, 5, 1, (f_number.numerator, f_number.denominator), True),
        (36867, 2, 20, when.strftime("%Y:%m:%d %H:%M:%S"), True),
        (37521, 2, len(subsec) + 1, subsec, True),
    ]
    tifffile.imwrite(path, np.round(pixels * 65535).astype(np.uint16), photometric="rgb", extratags=tags)
    return path


def corrupt_keeping_exif(path: Path) -> None:
    """Cut a JPEG right after its EXIF (APP1) segment: the tags still read, the image does not decode."""
    data = path.read_bytes()
    pos = 2
    while data[pos + 1] != 0xE1:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    path.write_bytes(data[:end] + b"\x00" * 64)


# One afternoon's shoot: two 3-frame brackets 0.3 s apart, then a 5-frame one ten seconds later
# (capture offset in seconds, exposure time).
SESSION = [
    (0.0, Fraction(1, 100)), (0.3, Fraction(1, 400)), (0.6, Fraction(1, 25)),
    (0.9, Fraction(1, 100)), (1.2, Fraction(1, 400)), (1.5, Fraction(1, 25)),
    (11.0, Fraction(1, 1600)), (11.3, Fraction(1, 800)), (11.6, Fraction(1, 200)), (11.9, Fraction(1, 50)),
    (12.2, Fraction(1, 12)),
]


def write_session(folder: Path) -> Path:
    """`SESSION` as JPEGs IMG_0001.jpg .. IMG_0011.jpg in `folder` (created) of one scene."""
    folder.mkdir()
    radiance = scene()
    for i, (offset, t) in enumerate(SESSION, start=1):
        write_jpeg(folder / f"IMG_{i:04d}.jpg", exposed(radiance, float(t)), t, START + timedelta(seconds=offset))
    return folder

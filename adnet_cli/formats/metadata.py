"""What a merge's files say about themselves: OpenEXR header attributes, Radiance header lines, and
the sRGB tag and camera EXIF of the previews (a leaf: numpy-free, no printing).

- EXR (OpenEXR's standard attributes, which OpenImageIO shows as software, DateTime, ExposureTime,
  FNumber, isoSpeed, Copyright, ImageDescription, chromaticities): ``software``, ``capDate``,
  ``expTime``, ``isoSpeed``, ``aperture``, ``owner``, ``comments``, ``chromaticities``.
- ``.hdr``: ``SOFTWARE=`` and ``EXPOSURE=`` lines. Radiance's EXPOSURE is the factor the values were
  multiplied by; here the values are radiance in units of what saturates a one-second exposure at the
  reference frame's ISO and aperture, multiplied by EXPOSURE seconds (the reference's exposure time,
  or --scale fixed's), so a value of 1 saturates that exposure.
- Previews: PNG gets an ``sRGB`` chunk; PNG and JPEG get the reference frame's camera EXIF (Make,
  Model, LensModel, DateTimeOriginal, GPS; Orientation 1, since the pixels are upright), copied with
  Pillow's EXIF codec, never invented.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# Rec. 709 / sRGB primaries and the D65 white point, as OpenEXR's chromaticities (red, green, blue, white xy).
REC709_D65 = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
# EXIF tags copied from the reference frame into previews: IFD0 and the Exif sub-IFD.
COPIED_IFD0 = {0x010F: "Make", 0x0110: "Model", 0x013B: "Artist", 0x8298: "Copyright"}
COPIED_EXIF = {0x9003: "DateTimeOriginal", 0x9011: "OffsetTimeOriginal", 0xA433: "LensMake", 0xA434: "LensModel"}
EXIF_IFD, GPS_IFD, ORIENTATION, SOFTWARE = 0x8769, 0x8825, 0x0112, 0x0131


@dataclass(frozen=True)
class OutputMetadata:
    """What a merge's outputs record. software: e.g. "adnet 0.1.0; weights W.safetensors (sha256 ...)".
    capture_time, exposure_time (s), iso, f_number: the reference frame's, None where unknown.
    owner: the reference's EXIF Copyright or Artist, or "". comments: the bracket's files and exposures.
    exposure: the Radiance EXPOSURE (see the module docstring), None when the exposures are relative.
    exif: the previews' EXIF block (:func:`camera_exif`), or None."""

    software: str
    comments: str = ""
    capture_time: datetime | None = None
    exposure_time: float | None = None
    iso: float | None = None
    f_number: float | None = None
    owner: str = ""
    exposure: float | None = None
    exif: bytes | None = None


def exr_attributes(meta: OutputMetadata) -> dict[str, object]:
    """OpenEXR header attributes for `meta` (only those known), chromaticities always (sRGB, D65)."""
    found: dict[str, object] = {"software": _utf8(meta.software), "chromaticities": REC709_D65}
    if meta.comments:
        found["comments"] = _utf8(meta.comments)
    if meta.owner:
        found["owner"] = _utf8(meta.owner)
    if meta.capture_time is not None:
        found["capDate"] = meta.capture_time.strftime("%Y:%m:%d %H:%M:%S")  # the form the standard gives
    for name, value in (("expTime", meta.exposure_time), ("isoSpeed", meta.iso), ("aperture", meta.f_number)):
        if value is not None:
            found[name] = float(value)
    return found


def radiance_header(data: bytes, meta: OutputMetadata) -> bytes:
    """A Radiance file as OpenCV encodes it, with SOFTWARE= (and EXPOSURE=) lines added to its header."""
    first = data.index(b"\n") + 1  # "#?RADIANCE"
    lines = [f"SOFTWARE={_one_line(meta.software)}\n"]
    if meta.exposure is not None:
        lines.append(f"EXPOSURE={meta.exposure:.9g}\n")
    return data[:first] + "".join(lines).encode("ascii", "replace") + data[first:]


@contextlib.contextmanager
def pillow_headers() -> Iterator[None]:
    """Let Pillow open images of any size: only headers and tags are read here, never the pixels, so its
    decompression-bomb guard (an error above 179 MP, where OpenCV allows 1074 MP) does not apply."""
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def camera_exif(path: Path, software: str) -> bytes:
    """An EXIF block ("Exif\\0\\0" + TIFF) for a preview: Software (what wrote it: batch mode knows
    its own outputs by it) and the copied tags of `path`'s EXIF (COPIED_IFD0, COPIED_EXIF, the GPS
    block) with Orientation 1; Software alone when the file has none or Pillow cannot read it (RAW)."""
    from PIL import Image, UnidentifiedImageError

    source, exif_ifd, gps = Image.Exif(), {}, {}
    try:
        with pillow_headers(), Image.open(path) as img:
            source = img.getexif()
            exif_ifd, gps = dict(source.get_ifd(EXIF_IFD)), dict(source.get_ifd(GPS_IFD))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    out = Image.Exif()
    out[SOFTWARE] = _utf8(software)
    for tag in COPIED_IFD0:
        if tag in source:
            out[tag] = source[tag]
    copied = {tag: exif_ifd[tag] for tag in COPIED_EXIF if tag in exif_ifd}
    out[ORIENTATION] = 1
    if copied:
        out.get_ifd(EXIF_IFD).update(copied)
    if gps:
        out.get_ifd(GPS_IFD).update(gps)
    return out.tobytes()


def tag_png(data: bytes, exif: bytes | None) -> bytes:
    """A PNG with an sRGB chunk (rendering intent: perceptual) after IHDR and, given one, the EXIF
    block as an eXIf chunk (its TIFF part, as the PNG spec stores it)."""
    ihdr_end = 8 + 25  # signature, then IHDR: length, type, 13 bytes, CRC
    chunks = _chunk(b"sRGB", b"\x00")
    if exif:
        chunks += _chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    return data[:ihdr_end] + chunks + data[ihdr_end:]


def tag_jpeg(data: bytes, exif: bytes | None) -> bytes:
    """A JPEG with the EXIF block as an APP1 segment after its JFIF header (if any); unchanged without."""
    if not exif:
        return data
    block = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
    if len(block) + 2 > 0xFFFF:
        return data  # APP1 holds 64 KiB: a block that large (a maker note) is left out rather than cut
    at = 2  # after SOI; after APP0 (JFIF) when present
    if data[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:at] + b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block + data[at:]


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _utf8(text: str) -> str:
    """`text` as valid UTF-8 text: a file name's undecodable bytes (surrogate escapes) become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _one_line(text: str) -> str:
    return " ".join(text.split())

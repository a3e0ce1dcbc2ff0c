"""Reading and writing the images the CLI handles: bracketed LDR inputs, HDR results, previews.

A leaf module: it imports only numpy, OpenCV, OpenEXR and the project's leaves (errors, exif, choices,
cvlog, atomic), and never prints. Problems a user can fix raise :class:`InputError` /
:class:`OutputError` with one line that names the file; harmless conversions are reported as ``notes``.
Files are read by Python and decoded from their bytes, so every legal file name works.

Every write is atomic (:mod:`adnet_cli.formats.atomic`): the data goes to a hidden temporary file in the
target folder, which is then renamed over the target. On any failure the temporary file is removed
and nothing is left behind; an existing file that was to be overwritten stays intact.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import OpenEXR

from adnet_cli import tables
from adnet_cli.choices import FRAME_SUFFIXES, HDR_SUFFIXES, PREVIEW_SUFFIXES, PREVIEW_SUFFIXES_16BIT
from adnet_cli.errors import InputError, OutputError
from adnet_cli.formats.atomic import write_atomically
from adnet_cli.formats.cvlog import codec_messages, quiet_opencv
from adnet_cli.formats.exif import ORIENTATIONS, apply_orientation, read_tags, tag_orientation
from adnet_cli.formats.metadata import (
    REC709_D65,
    OutputMetadata,
    exr_attributes,
    pillow_headers,
    radiance_header,
)
from adnet_cli.formats.paths import check_readable_file

LDR_INPUT_SUFFIXES: tuple[str, ...] = FRAME_SUFFIXES  # from the format table (adnet_cli.tables)
LDR_OUTPUT_SUFFIXES_8BIT: tuple[str, ...] = PREVIEW_SUFFIXES
LDR_OUTPUT_SUFFIXES_16BIT: tuple[str, ...] = PREVIEW_SUFFIXES_16BIT

JPEG_QUALITY = 95
HALF_MAX = float(np.finfo(np.float16).max)  # 65504
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Largest value Radiance RGBE can hold: mantissa 255/256 at exponent 2**127. OpenCV's encoder
# wraps the exponent to 0 (black pixel) above it, so HDR data is clipped here.
RGBE_MAX = 255.0 / 256.0 * 2.0**127
_ROWS_PER_BLOCK = 256


@dataclass(frozen=True)
class LdrImage:
    """A decoded low-dynamic-range input.

    pixels: (H, W, 3) float32 RGB in [0, 1] (code value / 255 or / 65535, not linearised).
    bit_depth: 8 or 16, the sample depth of the file.
    notes: human-readable warnings about conversions, e.g. "a.png: alpha channel dropped".
    """

    pixels: np.ndarray
    bit_depth: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class LdrCodes:
    """A decoded low-dynamic-range input as stored: (H, W, 3) uint8 or uint16 RGB code values,
    upright, and the notes of :class:`LdrImage`. A quarter (8-bit) or half (16-bit) the memory of
    float32 pixels; :func:`unit_float` converts."""

    codes: np.ndarray
    notes: tuple[str, ...]


def unit_float(frames: np.ndarray) -> np.ndarray:
    """uint8 / uint16 codes -> float32 in [0, 1] (code / 255 or / 65535); float arrays as float32."""
    if frames.dtype == np.uint8:
        return frames.astype(np.float32) / np.float32(255)
    if frames.dtype == np.uint16:
        return frames.astype(np.float32) / np.float32(65535)
    return frames.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- reading


def _to_rgb(img: np.ndarray, path: Path) -> tuple[np.ndarray, list[str]]:
    """OpenCV layout (H, W), (H, W, 1|2|3|4) in BGR(A) order -> (H, W, 3) RGB plus notes."""
    notes: list[str] = []
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 2:  # gray + alpha
        notes.append(f"{path}: alpha channel dropped")
        img = img[:, :, 0]
    if img.ndim == 2:
        notes.append(f"{path}: grayscale expanded to RGB")
        return np.repeat(img[:, :, None], 3, axis=2), notes
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise InputError(f"{path}: unsupported image layout {img.shape}")
    if img.shape[2] == 4:
        notes.append(f"{path}: alpha channel dropped")
    return np.ascontiguousarray(img[:, :, 2::-1]), notes


def read_ldr(path: Path) -> LdrImage:
    """:func:`read_ldr_codes` as an :class:`LdrImage`: (H, W, 3) float32 RGB in [0, 1]."""
    found = read_ldr_codes(path)
    bit_depth = 8 if found.codes.dtype == np.uint8 else 16
    return LdrImage(pixels=unit_float(found.codes), bit_depth=bit_depth, notes=found.notes)


def read_ldr_codes(path: Path) -> LdrCodes:
    """Read an 8/16-bit PNG or TIFF or an 8-bit JPEG as RGB code values, upright.

    The file's bytes are decoded with ``cv2.imdecode(..., IMREAD_UNCHANGED)``, then the EXIF Orientation
    tag (2-8) is applied, as photo viewers do (noted; the result is then H and W swapped for
    5-8). Grayscale is replicated to three channels and alpha is dropped (both noted).

    Returns :class:`LdrCodes`: (H, W, 3) uint8 or uint16.
    Raises InputError for a missing file, a directory, anything OpenCV cannot decode, and
    sample types other than uint8/uint16 (e.g. float or 32-bit TIFF).
    """
    path = Path(path)
    check_readable_file(path)
    tags = read_tags(path)
    orientation = tag_orientation(tags)
    with quiet_opencv(), codec_messages() as codec:
        img = _decode_unturned(path, tags.get("Image Orientation"))
    codec = [line.replace(" warning: ", ": ").replace(" error: ", ": ") for line in codec]
    if img is None:
        raise InputError(f"{path}: not an image OpenCV can read" + (f" ({codec[-1]})" if codec else ""))
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(
            f"{path}: unsupported sample type {img.dtype} (only 8-bit and 16-bit integer images)"
        )
    rgb, notes = _to_rgb(img, path)
    notes[:0] = [f"{path}: the decoder warned ({line})" for line in codec]
    if orientation is not None and orientation != 1:
        rgb = apply_orientation(rgb, orientation)
        notes.append(f"{path}: {ORIENTATIONS[orientation][0]} (EXIF orientation {orientation})")
    return LdrCodes(codes=rgb, notes=tuple(notes))


def stored_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of the pixels as stored (before any EXIF orientation), from the file's header
    alone (Pillow); None for formats Pillow does not know (camera RAW) or cannot parse."""
    from PIL import Image, UnidentifiedImageError

    check_readable_file(Path(path))
    try:
        with pillow_headers(), Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return height, width


def _decode_unturned(path: Path, orientation_tag: object) -> np.ndarray | None:
    """The stored pixels (``IMREAD_UNCHANGED``), never turned; None if undecodable.

    Decoded from the file's bytes, read by Python: OpenCV's own path handling crashes on names that
    are not valid UTF-8. A JPEG or PNG whose data stops early is refused (libjpeg would pad it with
    grey and only warn). IMREAD_UNCHANGED leaves a JPEG's or PNG's EXIF orientation alone, but
    OpenCV's TIFF decoder (libtiff's RGBA reader) applies Orientation 2-4 itself and fails on 5-8, so
    a TIFF with an Orientation other than 1 is decoded from a copy whose tag says 1.
    """
    data = bytearray(path.read_bytes())
    _check_complete(path, data)
    offset = getattr(orientation_tag, "field_offset", None)
    size = getattr(orientation_tag, "field_length", None)
    if path.suffix.lower() in (".tif", ".tiff") and offset is not None and size in (2, 4):
        endian = ">" if data[:2] == b"MM" else "<"
        struct.pack_into(endian + ("H" if size == 2 else "I"), data, offset, 1)
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # its assertion text is no message
        if "validateInputImageSize" in str(exc):
            raise InputError(f"{path}: more pixels than OpenCV decodes (its limit is CV_IO_MAX_IMAGE_PIXELS, "
                             "2^30 unless set in the environment)") from exc
        raise InputError(f"{path}: OpenCV cannot decode it (malformed)") from exc


def _check_complete(path: Path, data: bytes) -> None:
    """InputError for a JPEG without an end-of-image marker after its last scan, or a PNG without
    its IEND chunk: the file was cut short (a copy or download that stopped). Entropy-coded JPEG
    data never holds the bytes FF DA or FF D9 (0xFF is stuffed), so the search cannot be fooled."""
    if data[:3] == b"\xff\xd8\xff":
        last_scan = data.rfind(b"\xff\xda")
        complete = last_scan != -1 and data.find(b"\xff\xd9", last_scan) != -1
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        complete = data.rfind(b"IEND") != -1
    else:
        return
    if not complete:
        raise InputError(f"{path}: the file is truncated (its image data stops early)")


def read_radiance(path: Path) -> np.ndarray:
    """Decode a Radiance .hdr with OpenCV -> (H, W, 3) float32 RGB."""
    # From bytes: OpenCV's path handling crashes on names that are not UTF-8.
    with quiet_opencv(), codec_messages():
        img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    if img is None or img.dtype != np.float32 or img.ndim != 3:
        raise InputError(f"{path}: not a Radiance HDR image OpenCV can read")
    return np.ascontiguousarray(img[:, :, ::-1])


def read_openexr(path: Path) -> np.ndarray:
    """Decode the R, G, B channels of an OpenEXR file's first part -> (H, W, 3) float32."""
    try:
        # separate_channels=True: the default coalescing mode refuses mixed half/float channels.
        with open(path, "rb") as fh, OpenEXR.File(fh, separate_channels=True) as exr:  # any legal name
            channels = {name: ch.pixels for name, ch in exr.channels().items()}
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not an OpenEXR file OpenEXR can read ({exc})") from exc
    for group in ("RGB", "RGBA"):  # in case the bindings hand back a coalesced group
        if group in channels and getattr(channels[group], "ndim", 0) == 3:
            return np.asarray(channels[group][:, :, :3], dtype=np.float32)
    if not all(c in channels for c in "RGB"):
        found = ", ".join(sorted(channels)) or "none"
        raise InputError(f"{path}: no R, G, B channels (channels: {found})")
    planes = [channels[c] for c in "RGB"]
    if any(p.ndim != 2 or p.shape != planes[0].shape for p in planes):
        raise InputError(f"{path}: R, G, B channels differ in size (subsampled channels)")
    if any(p.dtype.kind != "f" for p in planes):
        raise InputError(f"{path}: R, G, B must be half or float channels, not UINT")
    return np.stack(planes, axis=-1).astype(np.float32)


def read_hdr(path: Path) -> np.ndarray:
    """Read a .hdr (Radiance RGBE), .exr (OpenEXR) or 32-bit float .tif file as linear RGB.

    Returns (H, W, 3) float32, linear, values as stored (non-finite values are passed
    through). EXR files may store R, G, B as half or float, as separate channels or an
    "RGB" group; alpha and other channels are ignored. Raises InputError.
    """
    path = Path(path)
    found = tables.format_for(path.suffix)
    if found is None or found.reader is None:
        raise InputError(f"{path}: unknown HDR extension '{path.suffix}'; expected {', '.join(HDR_SUFFIXES)}")
    check_readable_file(path)
    return found.read()(path)


def read_float_tiff(path: Path) -> np.ndarray:
    """A 32-bit float RGB(A) TIFF -> (H, W, 3) float32 RGB; an 8/16-bit TIFF is a frame, not HDR."""
    with quiet_opencv(), codec_messages():
        img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 3 or img.shape[2] not in (3, 4):
        raise InputError(f"{path}: not an RGB TIFF OpenCV can read")
    if img.dtype != np.float32:
        raise InputError(f"{path}: a {img.dtype} TIFF holds display values, not HDR; an HDR TIFF is 32-bit float")
    return np.ascontiguousarray(img[:, :, 2::-1])


# ----------------------------------------------------------------------------- writing


def check_output_path(path: Path, suffixes: tuple[str, ...], *, overwrite: bool) -> None:
    """Raise OutputError unless ``path`` can be written.

    Checks, in order: the extension (case-insensitive) is one of ``suffixes``; the path is
    not a directory; it does not exist unless ``overwrite``; its parent folder exists.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        shown = path.suffix or "(none)"
        raise OutputError(f"{path}: unknown extension {shown}; use one of {', '.join(suffixes)}")
    try:
        if path.is_dir():
            raise OutputError(f"{path}: is a directory")
        if path.exists() and not overwrite:
            raise OutputError(f"{path}: already exists (overwriting was not requested)")
        parent = path.parent
        if not parent.is_dir():
            raise OutputError(f"{path}: folder {parent} does not exist")
    except OSError as exc:  # a name too long, a link loop ...
        raise OutputError(f"{path}: cannot be written ({exc.strerror or exc})") from exc


def _check_rgb_array(rgb: np.ndarray, kinds: str) -> None:
    """Raise ValueError unless ``rgb`` is an (H, W, 3) array whose dtype kind is in ``kinds``."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", type(rgb).__name__)
        raise ValueError(f"expected an (H, W, 3) array, got {shape}")
    if rgb.dtype.kind not in kinds or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"unsupported image array: dtype {rgb.dtype}, shape {rgb.shape}")


def _sanitise_hdr(rgb: np.ndarray, max_value: float) -> np.ndarray:
    """NaN -> 0, negatives and -inf -> 0, +inf and values above ``max_value`` -> max_value.

    Returns a new C-contiguous float32 array (the input is not modified).
    """
    work = rgb if rgb.dtype.kind == "f" and rgb.dtype.itemsize >= 4 else rgb.astype(np.float32)
    clean = np.nan_to_num(work, nan=0.0, posinf=max_value, neginf=0.0)
    np.clip(clean, 0.0, max_value, out=clean)
    return np.ascontiguousarray(clean, dtype=np.float32)


def _sanitised(rgb: np.ndarray, max_value: float, dtype: type, bgr: bool = False) -> np.ndarray:
    """:func:`_sanitise_hdr` into a new C-contiguous array of `dtype` (channels reversed when
    `bgr`), a block of rows at a time so a large image needs no full-size float temporaries."""
    out = np.empty(rgb.shape, dtype)
    for r in range(0, rgb.shape[0], _ROWS_PER_BLOCK):
        block = _sanitise_hdr(rgb[r : r + _ROWS_PER_BLOCK], max_value)
        out[r : r + _ROWS_PER_BLOCK] = block[:, :, ::-1] if bgr else block
    return out


def _cv2_writer(
    suffix: str, image: np.ndarray, params: list[int], finish: Callable[[bytes], bytes] = lambda data: data
) -> Callable[[BinaryIO], None]:
    """Writer that encodes ``image`` (OpenCV BGR layout) with ``cv2.imencode``, then ``finish``es the
    bytes (header lines, tags).

    ``imencode`` returns ok=False on failure (it does not raise): that becomes RuntimeError,
    which the atomic writer turns into OutputError naming the file.
    """

    def write(fh: BinaryIO) -> None:
        with quiet_opencv():
            ok, buf = cv2.imencode(suffix, image, params)
        if not ok or buf is None:
            raise RuntimeError(f"OpenCV could not encode a {suffix} image")
        fh.write(finish(buf.tobytes()))

    return write


def _exr_writer(rgb: np.ndarray, float32: bool, attributes: dict[str, object]) -> Callable[[BinaryIO], None]:
    """Writer for an OpenEXR scanline file, ZIP compression, one "RGB" group (R, G, B), with `attributes`."""
    # The bindings ignore numpy strides: the array must be C-contiguous (it is) or it is scrambled.
    pixels = _sanitised(rgb, FLOAT32_MAX, np.float32) if float32 else _sanitised(rgb, HALF_MAX, np.float16)
    header = {**attributes, "compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}

    def write(fh: BinaryIO) -> None:
        OpenEXR.File(header, {"RGB": pixels}).write(fh)

    return write


def write_hdr_image(
    path: Path, rgb: np.ndarray, *, float32: bool = False, overwrite: bool = False, metadata: OutputMetadata | None = None
) -> None:
    """Write linear RGB as .exr (OpenEXR) or .hdr (Radiance RGBE), chosen by extension.

    rgb: (H, W, 3) real array, linear RGB (float32 typical). NaN and negatives are written
    as 0; +inf and values beyond the format's range are clipped to its largest value
    (65504 for half EXR, float32 max for float EXR, ~1.69e38 for RGBE).
    .exr: scanline, ZIP compression, half by default or float32 when ``float32``.
    .hdr: RLE RGBE via OpenCV (about 1% relative precision; ``float32`` is ignored).
    .tif/.tiff: 32-bit float RGB TIFF via OpenCV (``float32`` implied; no metadata).
    metadata: recorded in the header (:mod:`adnet_cli.formats.metadata`); EXR files always name their
    primaries (sRGB / Rec. 709, D65).
    Raises OutputError (path checks, write failures) or ValueError (bad array).
    """
    path = Path(path)
    check_output_path(path, HDR_SUFFIXES, overwrite=overwrite)
    _check_rgb_array(rgb, "fiu")
    write_atomically(path, tables.format_for(path.suffix).write()(rgb, float32, metadata))


def exr_writer(rgb: np.ndarray, float32: bool, metadata: OutputMetadata | None) -> Callable[[BinaryIO], None]:
    """The .exr writer of the format table: half or `float32`, the metadata's attributes (its primaries always)."""
    return _exr_writer(rgb, float32, exr_attributes(metadata) if metadata else {"chromaticities": REC709_D65})


def float_tiff_writer(rgb: np.ndarray, float32: bool, metadata: OutputMetadata | None) -> Callable[[BinaryIO], None]:
    """The .tif writer: 32-bit float RGB (what Photoshop and Affinity open as HDR; `float32` implied)."""
    return _cv2_writer(".tiff", _sanitised(rgb, FLOAT32_MAX, np.float32, bgr=True), [])


def radiance_writer(rgb: np.ndarray, float32: bool, metadata: OutputMetadata | None) -> Callable[[BinaryIO], None]:
    """The .hdr writer: RLE RGBE (`float32` ignored) with SOFTWARE= and EXPOSURE= lines from the metadata."""
    bgr = _sanitised(rgb, RGBE_MAX, np.float32, bgr=True)
    params = [cv2.IMWRITE_HDR_COMPRESSION, cv2.IMWRITE_HDR_COMPRESSION_RLE]
    return _cv2_writer(".hdr", bgr, params, (lambda data: radiance_header(data, metadata)) if metadata else _same)


def write_ldr_image(path: Path, rgb: np.ndarray, *, overwrite: bool = False, exif: bytes | None = None) -> None:
    """Write an 8-bit or 16-bit RGB image, display-referred: PNGs carry an sRGB chunk; PNG and JPEG
    carry `exif`, an EXIF block (:func:`adnet_cli.formats.metadata.camera_exif`), when given.

    rgb: (H, W, 3) uint8 -> .png, .jpg/.jpeg (quality 95), .tif/.tiff;
         (H, W, 3) uint16 -> .png (16-bit PNG), .tif/.tiff.
    Raises OutputError (extension not allowed for the dtype, path checks, write failures)
    or ValueError (not an (H, W, 3) uint8/uint16 array).
    """
    path = Path(path)
    _check_rgb_array(rgb, "u")
    if rgb.dtype == np.uint8:
        suffixes = LDR_OUTPUT_SUFFIXES_8BIT
    elif rgb.dtype == np.uint16:
        suffixes = LDR_OUTPUT_SUFFIXES_16BIT
    else:
        raise ValueError(f"expected uint8 or uint16 pixels, got {rgb.dtype}")
    suffix = path.suffix.lower()
    if suffix in LDR_OUTPUT_SUFFIXES_8BIT and suffix not in suffixes:
        allowed = ", ".join(suffixes)
        raise OutputError(f"{path}: 16-bit images cannot be saved as {suffix}; use one of {allowed}")
    check_output_path(path, suffixes, overwrite=overwrite)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix in (".jpg", ".jpeg") else []
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    tag = tables.format_for(suffix).tagger()
    write_atomically(path, _cv2_writer(suffix, bgr, params, (lambda data: tag(data, exif)) if tag else _same))


def _same(data: bytes) -> bytes:
    return data

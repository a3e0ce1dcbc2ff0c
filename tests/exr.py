"""Independent pure-numpy OpenEXR decoder, used to check files the app writes.

Supports single-part scanline files with NO_COMPRESSION, ZIPS_COMPRESSION (1 scanline per
block) or ZIP_COMPRESSION (16 scanlines per block) and HALF/FLOAT channels. Layout follows
the OpenEXR file-layout spec and ImfZip.cpp; nothing here uses the OpenEXR library.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

MAGIC = 20000630
NO_COMPRESSION, ZIPS_COMPRESSION, ZIP_COMPRESSION = 0, 2, 3
LINES_PER_BLOCK = {NO_COMPRESSION: 1, ZIPS_COMPRESSION: 1, ZIP_COMPRESSION: 16}
HALF, FLOAT = 1, 2
DTYPES = {HALF: np.dtype("<f2"), FLOAT: np.dtype("<f4")}  # UINT (0) is unsupported


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    """Return the NUL-terminated string at pos and the position after its NUL."""
    end = data.index(b"\0", pos)
    return data[pos:end].decode("ascii"), end + 1


def _chlist(value: bytes) -> dict[str, int]:
    """Parse a chlist attribute into {channel name: pixel type}; reject subsampled channels."""
    channels, pos = {}, 0
    while value[pos] != 0:
        name, pos = _cstring(value, pos)
        ptype, _plinear, xs, ys = struct.unpack_from("<iB3xii", value, pos)
        pos += 16
        if (xs, ys) != (1, 1):
            raise ValueError(f"channel {name!r} is subsampled ({xs}, {ys})")
        channels[name] = ptype
    return channels


def read_header(data: bytes) -> tuple[dict, int]:
    """Parse magic, version and header attributes; return (header dict, offset-table position).

    The header dict holds "channels" ({name: pixel type}), "compression", "dataWindow"
    ((xmin, ymin, xmax, ymax)) and "lineOrder". Raise ValueError if unsupported.
    """
    magic, version = struct.unpack_from("<ii", data, 0)
    if magic != MAGIC:
        raise ValueError(f"not an OpenEXR file (magic {magic})")
    if version & 0xFF != 2 or version & ~0xFF:  # flags: tiled, long names, deep, multipart
        raise ValueError(f"unsupported version field {version:#x}")
    header, pos = {}, 8
    while data[pos] != 0:
        name, pos = _cstring(data, pos)
        atype, pos = _cstring(data, pos)
        (size,) = struct.unpack_from("<i", data, pos)
        value, pos = data[pos + 4 : pos + 4 + size], pos + 4 + size
        if name == "channels" and atype == "chlist":
            header[name] = _chlist(value)
        elif name in ("compression", "lineOrder"):
            header[name] = value[0]
        elif name == "dataWindow" and atype == "box2i":
            header[name] = struct.unpack("<4i", value)
    missing = {"channels", "compression", "dataWindow", "lineOrder"} - header.keys()
    if missing:
        raise ValueError(f"missing header attributes {sorted(missing)}")
    if header["compression"] not in LINES_PER_BLOCK:
        raise ValueError(f"unsupported compression {header['compression']}")
    if header["lineOrder"] not in (0, 1):  # INCREASING_Y, DECREASING_Y
        raise ValueError(f"unsupported lineOrder {header['lineOrder']}")
    bad = {n: t for n, t in header["channels"].items() if t not in DTYPES}
    if bad:
        raise ValueError(f"unsupported pixel types {bad}")
    return header, pos + 1


def unzip_block(packed: bytes, raw_size: int) -> bytes:
    """Undo OpenEXR ZIP: zlib inflate, undo the delta predictor, then re-interleave.

    The writer puts even-index bytes in the first (n + 1) // 2 bytes and odd-index bytes
    after them, then stores d[0] = t[0] and d[i] = (t[i] - t[i-1] + 128) & 0xff for i >= 1.
    """
    d = np.frombuffer(zlib.decompress(packed), np.uint8)
    if d.size != raw_size:
        raise ValueError(f"ZIP block inflates to {d.size} bytes, expected {raw_size}")
    delta = d.astype(np.int64)
    delta[1:] -= 128
    t = (np.cumsum(delta) & 0xFF).astype(np.uint8)
    out = np.empty_like(t)
    half = (t.size + 1) // 2
    out[0::2], out[1::2] = t[:half], t[half:]
    return out.tobytes()


def read_exr(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Decode a file; return ({channel: (H, W) float16/float32 array}, header dict)."""
    data = Path(path).read_bytes()
    header, pos = read_header(data)
    xmin, ymin, xmax, ymax = header["dataWindow"]
    width, height = xmax - xmin + 1, ymax - ymin + 1
    names = sorted(header["channels"])  # blocks store channels in alphabetical order
    dtypes = [DTYPES[header["channels"][n]] for n in names]
    row_bytes = sum(dt.itemsize for dt in dtypes) * width
    lines = LINES_PER_BLOCK[header["compression"]]
    n_blocks = -(-height // lines)
    offsets = struct.unpack_from(f"<{n_blocks}Q", data, pos)
    out = {n: np.full((height, width), np.nan, dt) for n, dt in zip(names, dtypes)}
    for offset in offsets:
        y, size = struct.unpack_from("<ii", data, offset)
        n_rows = min(lines, ymax + 1 - y)
        if (y - ymin) % lines or n_rows <= 0:
            raise ValueError(f"bad block start y={y}")
        raw_size, block = n_rows * row_bytes, data[offset + 8 : offset + 8 + size]
        if size < raw_size and header["compression"] != NO_COMPRESSION:
            block = unzip_block(block, raw_size)  # else stored raw: zip would not shrink it
        if len(block) != raw_size:
            raise ValueError(f"block y={y} holds {len(block)} bytes, expected {raw_size}")
        pos = 0
        for row in range(y - ymin, y - ymin + n_rows):
            for name, dt in zip(names, dtypes):
                out[name][row] = np.frombuffer(block, dt, width, pos)
                pos += dt.itemsize * width
    return out, header


def read_rgb(path: Path) -> np.ndarray:
    """Decode an R, G, B file into an (H, W, 3) float32 array."""
    channels, _ = read_exr(path)
    if sorted(channels) != ["B", "G", "R"]:
        raise ValueError(f"expected channels R, G, B, got {sorted(channels)}")
    return np.stack([channels[c] for c in "RGB"], axis=-1).astype(np.float32)

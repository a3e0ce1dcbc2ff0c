"""Independent pure-numpy Radiance RGBE (.hdr) decoder, used to check files the app writes.

Supports the standard "-Y H +X W" orientation, new-style run-length-encoded scanlines and
flat (uncompressed) scanlines. Decoding follows Greg Ward's rgbe.c, as OpenCV does:
value = mantissa * 2**(exponent - 136), and exponent 0 means black.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _parse_header(data: bytes) -> tuple[int, int, int]:
    """Return (height, width, offset of the first scanline); raise ValueError if malformed."""
    if not data.startswith(b"#?"):
        raise ValueError("not a Radiance file (no '#?' magic)")
    end = data.find(b"\n\n")
    if end < 0:
        raise ValueError("header is not terminated by a blank line")
    for line in data[:end].split(b"\n")[1:]:
        if line.startswith(b"FORMAT=") and line != b"FORMAT=32-bit_rle_rgbe":
            raise ValueError(f"unsupported {line.decode()}")
    res_end = data.index(b"\n", end + 2)
    parts = data[end + 2 : res_end].split()
    if len(parts) != 4 or parts[0] != b"-Y" or parts[2] != b"+X":
        raise ValueError(f"unsupported resolution line {data[end + 2 : res_end]!r}")
    return int(parts[1]), int(parts[3]), res_end + 1


def _rle_scanline(data: bytes, pos: int, width: int, out: np.ndarray) -> int:
    """Decode one new-style RLE scanline (4 component planes) into out (W, 4); return new pos."""
    for comp in range(4):
        x = 0
        while x < width:
            count = data[pos]
            pos += 1
            if count > 128:  # run of one repeated byte
                count -= 128
                out[x : x + count, comp] = data[pos]
                pos += 1
            else:  # literal bytes
                out[x : x + count, comp] = np.frombuffer(data, np.uint8, count, pos)
                pos += count
            if count == 0 or x + count > width:
                raise ValueError("corrupt run-length data")
            x += count
    return pos


def read_rgbe(path: Path) -> np.ndarray:
    """Decode a Radiance .hdr file -> (H, W, 3) float32 RGB."""
    data = Path(path).read_bytes()
    height, width, pos = _parse_header(data)
    rgbe = np.zeros((height, width, 4), np.uint8)
    for y in range(height):
        is_rle = (
            8 <= width < 32768
            and data[pos : pos + 2] == b"\x02\x02"
            and (data[pos + 2] << 8 | data[pos + 3]) == width
        )
        if is_rle:
            pos = _rle_scanline(data, pos + 4, width, rgbe[y])
        else:
            rgbe[y] = np.frombuffer(data, np.uint8, 4 * width, pos).reshape(width, 4)
            pos += 4 * width
    exponent = rgbe[:, :, 3].astype(np.int32)
    scale = np.where(exponent == 0, 0.0, np.ldexp(1.0, exponent - 136))
    return (rgbe[:, :, :3] * scale[:, :, None]).astype(np.float32)


def assert_rgbe_close(decoded: np.ndarray, rgb: np.ndarray) -> None:
    """RGBE keeps 8 mantissa bits of each pixel's max channel: error < that max / 128."""
    tol = rgb.max(axis=-1, keepdims=True) / 128.0
    assert decoded.shape == rgb.shape
    assert np.all(np.abs(decoded - rgb) <= tol)

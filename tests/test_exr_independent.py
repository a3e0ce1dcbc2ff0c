"""Check EXR files written by adnet_cli.formats.io with an independent decoder (tests/exr.py)."""

from __future__ import annotations

import ast
import struct
import zlib
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from adnet_cli.formats.io import write_hdr_image

try:  # tests/ on sys.path (pytest's default rootdir-relative import mode)
    import exr
    from exr import read_exr, read_rgb
except ImportError:  # tests/ imported as a package
    from tests import exr
    from tests.exr import read_exr, read_rgb

H, W = 37, 53  # 37 = 2 * 16 + 5 rows: the last ZIP block is partial


def _gradient_image() -> np.ndarray:
    """R: log x-gradient 1e-4..6e4, G: log y-gradient 1e-4..6e4, B: x*y ramp; all distinct."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 1e-4 * (6e8 ** (x / (W - 1)))
    g = 1e-4 * (6e8 ** (y / (H - 1)))
    b = (x + 1) * (y + 1) * 3.17
    rgb = np.stack([r, g, b], axis=-1).astype(np.float32)
    rgb[0, 0] = [0.0, 65504.0, 1.0]  # exact zero and the half maximum
    return rgb


def _block_sizes(path: Path) -> tuple[dict, list[int]]:
    """Header dict and each block's stored data size, read from the offset table."""
    data = path.read_bytes()
    header, pos = exr.read_header(data)
    n_blocks = -(-H // exr.LINES_PER_BLOCK[header["compression"]])
    offsets = struct.unpack_from(f"<{n_blocks}Q", data, pos)
    return header, [struct.unpack_from("<i", data, off + 4)[0] for off in offsets]


@pytest.mark.parametrize("float32", [False, True])
def test_app_exr_decodes_independently(tmp_path: Path, float32: bool) -> None:
    rgb = _gradient_image()
    path = tmp_path / "out.exr"
    write_hdr_image(path, rgb, float32=float32)

    channels, header = read_exr(path)
    ptype = exr.FLOAT if float32 else exr.HALF
    assert header["channels"] == {"R": ptype, "G": ptype, "B": ptype}
    assert header["compression"] == exr.ZIP_COMPRESSION
    assert header["dataWindow"] == (0, 0, W - 1, H - 1)
    assert header["lineOrder"] == 0
    assert all(c.dtype == (np.float32 if float32 else np.float16) for c in channels.values())
    _, sizes = _block_sizes(path)
    raw_sizes = [rows * W * 3 * (4 if float32 else 2) for rows in (16, 16, 5)]
    assert len(sizes) == 3 and all(s < raw for s, raw in zip(sizes, raw_sizes))  # really zipped

    expected = rgb if float32 else rgb.astype(np.float16).astype(np.float32)
    got = read_rgb(path)
    assert got.shape == (H, W, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # Orientation and channel order, stated directly: R grows along x, G along y.
    r, g = got[1:, 1:, 0], got[1:, 1:, 1]
    assert np.all(np.diff(r, axis=1) > 0) and np.all(np.ptp(r, axis=0) == 0)
    assert np.all(np.diff(g, axis=0) > 0) and np.all(np.ptp(g, axis=1) == 0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize(
    "compression", [OpenEXR.NO_COMPRESSION, OpenEXR.ZIPS_COMPRESSION, OpenEXR.ZIP_COMPRESSION]
)
def test_bindings_compressions_decode(tmp_path: Path, compression: int, dtype: type) -> None:
    rgb = _gradient_image().astype(dtype)
    path = tmp_path / "direct.exr"
    header = {"compression": compression, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": rgb}).write(str(path))

    channels, header = read_exr(path)
    assert header["compression"] == int(compression)
    assert {c.dtype for c in channels.values()} == {np.dtype(dtype)}
    np.testing.assert_array_equal(read_rgb(path), rgb.astype(np.float32))


def test_incompressible_zip_blocks_stored_raw(tmp_path: Path) -> None:
    """Noise does not shrink, so OpenEXR stores such ZIP blocks raw; the decoder must cope."""
    rgb = (np.random.default_rng(7).random((H, W, 3)) * 1e4).astype(np.float32)
    path = tmp_path / "noise.exr"
    write_hdr_image(path, rgb, float32=True)
    _, sizes = _block_sizes(path)
    assert sizes[0] == 16 * W * 3 * 4  # the raw-block path is really exercised
    np.testing.assert_array_equal(read_rgb(path), rgb)


def test_unzip_block_hand_computed() -> None:
    """Raw 01 02 03 04 05 -> reordered 01 03 05 | 02 04 -> predicted 01 82 82 7d 82."""
    packed = zlib.compress(bytes([0x01, 0x82, 0x82, 0x7D, 0x82]))
    assert exr.unzip_block(packed, 5) == bytes([1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="inflates"):
        exr.unzip_block(packed, 6)


def test_unsupported_files_raise(tmp_path: Path) -> None:
    rgb = _gradient_image().astype(np.float16)
    piz = tmp_path / "piz.exr"
    OpenEXR.File({"compression": OpenEXR.PIZ_COMPRESSION}, {"RGB": rgb}).write(str(piz))
    with pytest.raises(ValueError, match="compression"):
        read_rgb(piz)
    tiled = tmp_path / "tiled.exr"
    tiles = {"type": OpenEXR.tiledimage, "tiles": OpenEXR.TileDescription()}
    OpenEXR.File(tiles, {"RGB": rgb}).write(str(tiled))
    with pytest.raises(ValueError, match="version"):
        read_rgb(tiled)
    junk = tmp_path / "junk.exr"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="magic"):
        read_rgb(junk)


def test_decoder_imports_only_stdlib_and_numpy() -> None:
    """The decoder must stay independent of OpenEXR (and of any other image library)."""
    tree = ast.parse(Path(exr.__file__).read_text())
    nodes = list(ast.walk(tree))
    imported = {a.name.split(".")[0] for n in nodes if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in nodes if isinstance(n, ast.ImportFrom)}
    assert imported == {"__future__", "struct", "zlib", "pathlib", "numpy"}

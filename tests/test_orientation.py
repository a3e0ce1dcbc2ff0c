"""EXIF orientation in read_ldr and the capture fields of read_exif_exposure (time, orientation)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageOps

from adnet_cli.formats.exif import ExifExposure, read_exif_exposure
from adnet_cli.formats.io import read_ldr

ORIENTATION_TAG = 0x0112


def _asymmetric(h: int = 6, w: int = 10, top: int = 255) -> np.ndarray:
    """(H, W, 3) image with no symmetry, so every flip/rotation gives a different array."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 7 + y, y * 11 + 2 * x, (x * y) % 13], -1)
    return (rgb * (top // int(rgb.max()))).astype(np.uint8 if top == 255 else np.uint16)


def _upright_by_pillow(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Pillow's independent implementation of the EXIF orientation (ImageOps.exif_transpose)."""
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[ORIENTATION_TAG] = orientation
    img.info["exif"] = exif.tobytes()
    return np.asarray(ImageOps.exif_transpose(img))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_read_ldr_applies_orientation_lossless(tmp_path: Path, suffix: str, orientation: int) -> None:
    rgb = _asymmetric()
    path = tmp_path / f"o{orientation}{suffix}"
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    Image.fromarray(rgb).save(path, exif=exif)
    img = read_ldr(path)
    expected = _upright_by_pillow(rgb, orientation).astype(np.float32) / 255
    np.testing.assert_array_equal(img.pixels, expected)
    assert img.pixels.shape == ((10, 6, 3) if orientation >= 5 else (6, 10, 3))
    rotated_notes = [n for n in img.notes if "EXIF orientation" in n]
    assert len(rotated_notes) == (orientation != 1)
    assert read_exif_exposure(path).orientation == orientation


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_read_ldr_applies_orientation_jpeg(tmp_path: Path, orientation: int) -> None:
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:8, :8] = 255  # a white block in the stored top-left corner
    path = tmp_path / "o.jpg"
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    Image.fromarray(rgb).save(path, exif=exif, quality=100)
    px = read_ldr(path).pixels
    expected = _upright_by_pillow(rgb, orientation).astype(np.float32) / 255
    assert px.shape == expected.shape
    assert np.abs(px - expected).max() < 0.1


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("orientation", [2, 6, 7])
def test_read_ldr_applies_orientation_16bit_tiff(tmp_path: Path, orientation: int, byteorder: str) -> None:
    """OpenCV's TIFF decoder turns 2-4 itself and fails on 5-8: read_ldr must still turn exactly once."""
    rgb = _asymmetric(top=65535)
    path = tmp_path / "o16.tif"
    tag = (ORIENTATION_TAG, "H", 1, orientation, True)
    tifffile.imwrite(path, rgb, photometric="rgb", byteorder=byteorder, extratags=[tag])
    before = path.read_bytes()
    img = read_ldr(path)
    assert img.bit_depth == 16
    stored = rgb.astype(np.float32) / 65535
    turned = {2: stored[:, ::-1], 6: np.rot90(stored, -1), 7: np.rot90(stored, -1)[::-1]}[orientation]
    np.testing.assert_array_equal(img.pixels, turned)
    assert path.read_bytes() == before  # the tag is patched in memory only


def test_read_ldr_without_orientation_has_no_note(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 4)).save(path)
    img = read_ldr(path)
    assert img.pixels.shape == (4, 8, 3) and img.notes == ()
    assert read_exif_exposure(path).orientation is None


def _jpeg_with_exif(path: Path, exif_ifd: dict, orientation: int | None = None) -> Path:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif).update(exif_ifd)
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    return path


def test_capture_time_with_subseconds(tmp_path: Path) -> None:
    tags = {ExifTags.Base.DateTimeOriginal: "2024:05:01 12:34:56", ExifTags.Base.SubsecTimeOriginal: "07"}
    got = read_exif_exposure(_jpeg_with_exif(tmp_path / "a.jpg", tags, orientation=6))
    assert got.capture_time == datetime(2024, 5, 1, 12, 34, 56, 70000)
    assert got.orientation == 6
    assert got.exposure_time is None


def test_capture_time_without_subseconds(tmp_path: Path) -> None:
    tags = {ExifTags.Base.DateTimeOriginal: "2023:12:31 23:59:59"}
    assert read_exif_exposure(_jpeg_with_exif(tmp_path / "a.jpg", tags)).capture_time == datetime(
        2023, 12, 31, 23, 59, 59
    )


@pytest.mark.parametrize("text", ["    :  :     :  :  ", "garbage", "2024:13:01 00:00:00"])
def test_capture_time_unusable_is_none(tmp_path: Path, text: str) -> None:
    got = read_exif_exposure(_jpeg_with_exif(tmp_path / "a.jpg", {ExifTags.Base.DateTimeOriginal: text}))
    assert got.capture_time is None


def test_exif_exposure_positional_constructor_still_works() -> None:
    assert ExifExposure(0.25, None, None) == ExifExposure(0.25, None, None, None, None)

"""Tests for adnet_cli.formats.raw: RAW decoding through rawpy/LibRaw, on tiny synthetic DNG files.

The DNGs are written with tifffile: an RGGB Bayer mosaic of a known linear scene, a camera whose
primaries are sRGB's (ColorMatrix1 = XYZ -> linear sRGB, D65) and neutral AsShotNeutral, so
LibRaw's sRGB output should reproduce the scene itself.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from helpers import as_network
from shots import srgb_encode, write_jpeg
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.errors import InputError
from adnet_cli.formats import raw as raw_module
from adnet_cli.formats.exif import ExifExposure
from adnet_cli.formats.io import read_hdr, read_ldr, unit_float
from adnet_cli.formats.raw import RAW_SUFFIXES, is_raw, raw_to_linear, read_raw, read_raw_exposure
from adnet_cli.merge.response import linear_to_network, to_network_frames

SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def _rationals(values) -> list[int]:
    """Signed or unsigned TIFF RATIONALs (numerator, denominator pairs) with denominator 10000."""
    return [v for x in values for v in (int(round(x * 10000)), 10000)]


def write_dng(path: Path, linear: np.ndarray, *, white: int = 4095, black: int = 0, extra: list | None = None) -> Path:
    """A minimal DNG of ``linear`` ((H, W, 3), H and W even, 1.0 = white) as an RGGB mosaic."""
    mosaic = np.empty(linear.shape[:2], np.float64)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    codes = np.round(black + np.clip(mosaic, 0, 1) * (white - black)).astype(np.uint16)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "Synthetic sRGB camera", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50717, "I", 1, white, True),  # WhiteLevel
        (50714, "I", 1, black, True),  # BlackLevel
        (50721, "2i", 9, _rationals(np.linalg.inv(SRGB_TO_XYZ).ravel()), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        *(extra or []),
    ]
    tifffile.imwrite(path, codes, photometric=32803, subfiletype=0, extratags=tags)
    return path


def _scene(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth linear scene (demosaicing is then near exact), values 0.05 .. 0.95."""
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w], np.float64)[:, None, None]
    return np.stack([0.05 + 0.9 * xx, 0.1 + 0.6 * yy, 0.3 + 0.2 * xx * yy + 0.1 * np.sin(6 * xx)], -1)


def _interior(a: np.ndarray, margin: int = 4) -> np.ndarray:
    return a[margin:-margin, margin:-margin]


def test_suffixes() -> None:
    assert ".dng" in RAW_SUFFIXES and ".cr3" in RAW_SUFFIXES
    assert is_raw(Path("a/IMG_1.CR2")) and not is_raw(Path("a.jpg"))


def test_raw_to_linear_scale() -> None:
    rgb16 = np.array([[[0, 32768, 65535]]], np.uint16)
    got = raw_to_linear(rgb16)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[[0.0, 32768 / 65535, 1.0]]])
    with pytest.raises(ValueError):
        raw_to_linear(rgb16.astype(np.uint8))


@pytest.mark.parametrize(("white", "black"), [(4095, 0), (16383, 512)])
def test_read_raw_reproduces_linear_scene(tmp_path: Path, white: int, black: int) -> None:
    scene = _scene()
    frame = read_raw(write_dng(tmp_path / "scene.dng", scene, white=white, black=black))
    assert frame.linear.dtype == np.float32 and frame.linear.shape == scene.shape
    np.testing.assert_allclose(_interior(frame.linear), _interior(scene), atol=2e-3)
    assert frame.notes == ()


def test_scale_does_not_follow_image_content(tmp_path: Path) -> None:
    """A dim frame (max 0.8 of white) must not be stretched: brackets need one fixed scale."""
    dim = np.full((32, 32, 3), 0.8)
    frame = read_raw(write_dng(tmp_path / "dim.dng", dim))
    np.testing.assert_allclose(frame.linear, 0.8, atol=1e-3)


def test_saturated_photosites_are_white(tmp_path: Path) -> None:
    scene = np.full((32, 32, 3), 0.2)
    scene[:, 16:] = (3.0, 1.5, 2.0)  # clipped at the sensor
    frame = read_raw(write_dng(tmp_path / "sat.dng", scene))
    np.testing.assert_allclose(frame.linear[:, 19:], 1.0, atol=1e-4)


def test_camera_orientation_is_applied(tmp_path: Path) -> None:
    scene = _scene()
    path = write_dng(tmp_path / "turned.dng", scene, extra=[(274, "H", 1, 6, True)])
    frame = read_raw(path)
    upright = np.rot90(scene, -1)  # orientation 6: turn 90 degrees clockwise
    assert frame.linear.shape == upright.shape
    np.testing.assert_allclose(_interior(frame.linear), _interior(upright), atol=2e-3)
    assert len(frame.notes) == 1 and "orientation 6" in frame.notes[0]


@pytest.mark.parametrize(("bits", "atol"), [(16, 2e-3), (8, 1.5 / 255)])
def test_raw_and_png_enter_the_network_at_the_same_scale(tmp_path: Path, bits: int, atol: float) -> None:
    """The same linear scene as RAW and as a gamma-encoded PNG gives the same network input."""
    gamma, scene = 2.2, _scene()
    top = 2**bits - 1
    encoded = np.round(scene ** (1 / gamma) * top).astype(np.uint16 if bits == 16 else np.uint8)
    png = tmp_path / "scene.png"
    assert cv2.imwrite(str(png), encoded[:, :, ::-1])
    from_png = to_network_frames(read_ldr(png).pixels[None], [1.0], "gamma", gamma).frames[0]
    from_raw = linear_to_network(read_raw(write_dng(tmp_path / "scene.dng", scene, white=65535)).linear, gamma)
    np.testing.assert_allclose(_interior(from_raw), _interior(from_png), atol=atol)


@pytest.mark.parametrize("content", [b"", b"not a raw file at all" * 10, b"\xff\xd8\xff\xe0 jpeg-ish"])
def test_undecodable_file_is_one_line_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.nef"
    path.write_bytes(content)
    with pytest.raises(InputError, match="broken.nef") as info:
        read_raw(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="gone.dng: no such file"):
        read_raw(tmp_path / "gone.dng")


EXPOSURE_TAGS = [
    (33434, "2I", 1, (1, 250), True),  # ExposureTime
    (33437, "2I", 1, (56, 10), True),  # FNumber
    (34855, "H", 1, 200, True),  # ISOSpeedRatings
    (36867, "s", 0, "2024:06:01 10:20:30", True),  # DateTimeOriginal
]


def test_raw_exposure_from_exif(tmp_path: Path) -> None:
    path = write_dng(tmp_path / "shot.dng", np.full((32, 32, 3), 0.5), extra=EXPOSURE_TAGS)
    got = read_raw_exposure(path)
    assert got.exposure_time == pytest.approx(1 / 250)
    assert got.iso == 200 and got.f_number == pytest.approx(5.6)
    assert got.capture_time == datetime(2024, 6, 1, 10, 20, 30)


def test_raw_exposure_falls_back_to_libraw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CR3/RAF have no EXIF exifread can find: LibRaw's own metadata fills the gaps."""
    path = write_dng(tmp_path / "shot.dng", np.full((32, 32, 3), 0.5), extra=EXPOSURE_TAGS)
    monkeypatch.setattr(raw_module, "read_exif_exposure", lambda p: ExifExposure(None, None, None))
    got = read_raw_exposure(path)
    assert got.exposure_time == pytest.approx(1 / 250)
    assert got.f_number == pytest.approx(5.6)
    # LibRaw looks for ISO and the capture time in the Exif sub-IFD, which this DNG lacks.
    assert got.iso is None and got.capture_time is None
    assert got.orientation == 1


def test_raw_exposure_of_undecodable_file_is_all_none(tmp_path: Path) -> None:
    path = tmp_path / "x.cr3"
    path.write_bytes(b"nothing here")
    assert read_raw_exposure(path) == ExifExposure(None, None, None)


def _classical_merge(model, frames, exposures, *args) -> np.ndarray:
    """A stand-in for the network that uses every frame: each linearised (gamma 2.2, the Kalantari
    convention), brought to the reference's exposure, averaged where not clipped or near black."""
    encoded = unit_float(frames)
    linear = encoded**2.2 * (exposures[1] / np.asarray(exposures, np.float32))[:, None, None, None]
    weight = ((encoded > 0.1) & (encoded < 0.95)).astype(np.float32) + 1e-4
    return (weight * linear).sum(0) / weight.sum(0)


@pytest.mark.parametrize("response", ["gamma", "srgb"])
def test_raw_and_jpeg_brackets_merge_to_the_same_scale(tmp_path, random_checkpoint, monkeypatch, response) -> None:
    """One scene shot as RAW and as in-camera JPEGs (plain gamma 2.2 or the sRGB curve), exposures from
    EXIF: `adnet merge --scale fixed:1/30` gives the same radiance for both."""
    monkeypatch.setattr(importlib.import_module("adnet_cli.merge.engine"), "run_network", as_network(_classical_merge))
    scene, times = _scene(), (Fraction(1, 400), Fraction(1, 100), Fraction(1, 25))
    encode = (lambda x: x ** (1 / 2.2)) if response == "gamma" else srgb_encode
    raws, jpegs = [], []
    for i, t in enumerate(times):
        linear = np.clip(scene * 0.5 * float(t) * 100, 0, 1)  # 1.0 = white; the reference (1/100 s) reaches 0.48
        tag = [(33434, "2I", 1, (t.numerator, t.denominator), True)]
        raws.append(write_dng(tmp_path / f"r{i}.dng", linear, white=65535, extra=tag))
        jpegs.append(write_jpeg(tmp_path / f"j{i}.jpg", encode(linear), t, None))
    merged, said = {}, {}
    for kind, paths in (("raw", raws), ("jpeg", jpegs)):
        out = tmp_path / f"{kind}.exr"
        args = ["merge", *map(str, paths), "-o", str(out), "--scale", "fixed:1/30", "--float32", "--response", response]
        result = CliRunner().invoke(app, [*args, "--weights", str(random_checkpoint)])
        assert result.exit_code == 0, result.output
        merged[kind], said[kind] = _interior(read_hdr(out)), result.stderr
    assert "camera RAW: linear, encoded with gamma 2.2" in said["raw"]
    assert ("sRGB curve inverted" in said["jpeg"]) == (response == "srgb")
    truth = _interior(scene * 0.5 * 100 / 30)  # radiance relative to what saturates a 1/30 s exposure
    for kind in ("raw", "jpeg"):
        assert np.median(merged[kind] / truth) == pytest.approx(1.0, abs=0.01), kind
    ratio = merged["raw"].mean(axis=(0, 1)) / merged["jpeg"].mean(axis=(0, 1))
    np.testing.assert_allclose(ratio, 1.0, atol=0.01)  # the same scale in every channel
    np.testing.assert_allclose(merged["raw"], merged["jpeg"], rtol=0.08, atol=2e-3)  # JPEG's chroma subsampling

"""Tests for adnet_cli.formats.io: LDR/HDR reading, EXIF exposure, atomic HDR/LDR writing."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from adnet_cli.errors import InputError, OutputError
from adnet_cli.formats import atomic, io
from adnet_cli.formats.exif import ExifExposure, read_exif_exposure
from adnet_cli.formats.io import (
    check_output_path,
    read_hdr,
    read_ldr,
    write_hdr_image,
    write_ldr_image,
)

try:  # tests/ on sys.path (pytest's default rootdir-relative import mode)
    from rgbe import assert_rgbe_close, read_rgbe
except ImportError:  # tests/ imported as a package
    from tests.rgbe import assert_rgbe_close, read_rgbe

RNG = np.random.default_rng(1234)


def _rgb(dtype: type, h: int = 5, w: int = 7) -> np.ndarray:
    top = np.iinfo(dtype).max
    return RNG.integers(0, top, (h, w, 3), endpoint=True).astype(dtype)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


# ------------------------------------------------------------------------------ read_ldr


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize(("dtype", "depth"), [(np.uint8, 8), (np.uint16, 16)])
def test_read_ldr_png_tiff_exact(tmp_path: Path, suffix: str, dtype: type, depth: int) -> None:
    rgb = _rgb(dtype)
    path = tmp_path / f"img{suffix}"
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])  # OpenCV wants BGR
    before = _digest(path)
    img = read_ldr(path)
    assert img.bit_depth == depth
    assert img.notes == ()
    assert img.pixels.dtype == np.float32 and img.pixels.shape == (5, 7, 3)
    expected = rgb.astype(np.float32) / np.float32(np.iinfo(dtype).max)
    np.testing.assert_array_equal(img.pixels, expected)
    assert _digest(path) == before  # input untouched


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_read_ldr_channel_order_pure_red(tmp_path: Path, suffix: str) -> None:
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    path = tmp_path / f"red{suffix}"
    Image.fromarray(red, "RGB").save(path)  # Pillow writes RGB natively
    px = read_ldr(path).pixels
    assert px[..., 0].min() > 0.95
    assert px[..., 1:].max() < 0.05


def _smooth_rgb() -> np.ndarray:
    """(32, 48, 3) uint8 gradients: JPEG-friendly content."""
    y, x = np.mgrid[0:32, 0:48]
    return np.stack([x * 5, y * 7, 255 - x * 5], axis=-1).astype(np.uint8)


def test_read_ldr_jpeg_within_tolerance(tmp_path: Path) -> None:
    rgb = _smooth_rgb()
    path = tmp_path / "grad.jpg"
    Image.fromarray(rgb, "RGB").save(path, quality=95)
    img = read_ldr(path)
    assert img.bit_depth == 8 and img.notes == ()
    assert np.abs(img.pixels - rgb / 255.0).max() < 8 / 255
    assert np.abs(img.pixels - rgb / 255.0).mean() < 2 / 255


@pytest.mark.parametrize(("dtype", "depth"), [(np.uint8, 8), (np.uint16, 16)])
def test_read_ldr_grayscale_expanded(tmp_path: Path, dtype: type, depth: int) -> None:
    gray = _rgb(dtype)[:, :, 0]
    path = tmp_path / "gray.png"
    assert cv2.imwrite(str(path), gray)
    img = read_ldr(path)
    expected = gray.astype(np.float32) / np.float32(np.iinfo(dtype).max)
    for c in range(3):
        np.testing.assert_array_equal(img.pixels[..., c], expected)
    assert img.bit_depth == depth
    assert img.notes == (f"{path}: grayscale expanded to RGB",)


def test_read_ldr_rgba_drops_alpha(tmp_path: Path) -> None:
    rgba = _rgb(np.uint8, 6, 9)
    rgba = np.concatenate([rgba, np.full((6, 9, 1), 77, np.uint8)], axis=-1)
    path = tmp_path / "kodim.png"
    Image.fromarray(rgba, "RGBA").save(path)
    img = read_ldr(path)
    np.testing.assert_array_equal(img.pixels, rgba[..., :3].astype(np.float32) / np.float32(255))
    assert img.notes == (f"{path}: alpha channel dropped",)


def test_read_ldr_gray_alpha_png(tmp_path: Path) -> None:
    la = np.stack([np.full((4, 5), 100, np.uint8), np.full((4, 5), 200, np.uint8)], -1)
    path = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(path)
    img = read_ldr(path)  # OpenCV hands this back as 4-channel BGRA
    np.testing.assert_array_equal(img.pixels, np.full((4, 5, 3), np.float32(100) / 255))
    assert any("alpha channel dropped" in n for n in img.notes)


def test_read_ldr_two_channel_array(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ga.tif"
    path.write_bytes(b"placeholder")
    ga = np.stack([np.full((2, 3), 10, np.uint16), np.full((2, 3), 9, np.uint16)], -1)
    monkeypatch.setattr(io.cv2, "imdecode", lambda *_args: ga)
    img = read_ldr(path)
    np.testing.assert_array_equal(img.pixels, np.full((2, 3, 3), np.float32(10) / 65535))
    assert img.bit_depth == 16
    assert sorted(img.notes) == sorted(
        [f"{path}: alpha channel dropped", f"{path}: grayscale expanded to RGB"]
    )


def _make_bad_input(tmp_path: Path, kind: str) -> Path:
    if kind == "missing":
        return tmp_path / "nope.png"
    if kind == "text":
        (tmp_path / "short.png").write_text("this is not a PNG\n")
        return tmp_path / "short.png"
    if kind == "directory":
        (tmp_path / "dir.png").mkdir()
        return tmp_path / "dir.png"
    assert cv2.imwrite(str(tmp_path / "float.tif"), np.ones((4, 4, 3), np.float32))
    return tmp_path / "float.tif"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "nope.png: no such file"),
        ("text", "short.png: not an image OpenCV can read"),
        ("directory", "dir.png: is a directory"),
        ("float_tiff", r"float\.tif: unsupported sample type float32"),
    ],
)
def test_read_ldr_errors(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_ldr(_make_bad_input(tmp_path, kind))


def test_read_ldr_keeps_opencv_quiet(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.png"
    assert cv2.imwrite(str(good), _rgb(np.uint8))
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:8] + b"\x00" * 40 + good.read_bytes()[-12:])  # magic, junk, IEND
    capfd.readouterr()
    with pytest.raises(InputError, match="broken.png: not an image"):
        read_ldr(broken)
    assert capfd.readouterr() == ("", "")  # OpenCV logs its decoder errors to stderr


# ------------------------------------------------------------------------ EXIF exposure

EXPOSURE_TAGS = {
    ExifTags.Base.ExposureTime: IFDRational(1, 100),
    ExifTags.Base.ISOSpeedRatings: 400,
    ExifTags.Base.FNumber: IFDRational(28, 10),
}


def test_exif_from_jpeg(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif).update(EXPOSURE_TAGS)
    path = tmp_path / "shot.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    got = read_exif_exposure(path)
    assert got == ExifExposure(exposure_time=pytest.approx(0.01), iso=400.0, f_number=2.8)


def test_exif_from_tiff(tmp_path: Path) -> None:
    path = tmp_path / "shot.tif"
    # Pillow's TIFF writer drops an Exif() sub-IFD; a dict under tag 0x8769 is written.
    Image.new("RGB", (8, 8)).save(path, tiffinfo={ExifTags.IFD.Exif: dict(EXPOSURE_TAGS)})
    got = read_exif_exposure(path)
    assert got.exposure_time == pytest.approx(0.01)
    assert got.iso == 400.0
    assert got.f_number == pytest.approx(2.8)


def test_exif_partial_tags_give_none(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] = IFDRational(1, 4)
    path = tmp_path / "partial.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    assert read_exif_exposure(path) == ExifExposure(0.25, None, None)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_exif_absent_gives_all_none(
    tmp_path: Path, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / f"plain{suffix}"
    Image.new("RGB", (8, 8)).save(path)
    caplog.set_level(logging.WARNING, logger="exifread")
    assert read_exif_exposure(path) == ExifExposure(None, None, None)
    # exifread logs "PNG file does not have exif data." at WARNING; without a handler
    # Python's last-resort handler would print it to stderr.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert logging.getLogger("exifread").level == logging.WARNING  # level restored


def test_exif_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="gone.jpg"):
        read_exif_exposure(tmp_path / "gone.jpg")


# ------------------------------------------------------------------------------- EXR


def _gradient(h: int = 6, w: int = 10) -> np.ndarray:
    """Linear RGB test image: R grows along x, G along y, B constant; values up to ~40."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x * 4.0 + 0.125, y * 0.3, np.full_like(x, 0.7)], axis=-1)


def _read_exr_direct(path: Path) -> tuple[dict, dict]:
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        chans = {n: (c.pixels.copy(), c.type()) for n, c in exr.channels().items()}
        return chans, dict(exr.header())


@pytest.mark.parametrize(
    ("float32", "ptype", "dtype"),
    [(False, OpenEXR.HALF, np.float16), (True, OpenEXR.FLOAT, np.float32)],
)
def test_write_exr_read_back_with_openexr(
    tmp_path: Path, float32: bool, ptype: object, dtype: type
) -> None:
    rgb = _gradient()
    path = tmp_path / "scene.exr"
    write_hdr_image(path, rgb, float32=float32)
    chans, header = _read_exr_direct(path)
    assert set(chans) == {"R", "G", "B"}
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    for i, name in enumerate("RGB"):
        pixels, pixel_type = chans[name]
        assert pixel_type == ptype and pixels.dtype == dtype
        assert pixels.shape == (6, 10)  # (H, W): not transposed
        np.testing.assert_array_equal(pixels, rgb[..., i].astype(dtype))
    r = chans["R"][0].astype(np.float32)
    assert np.all(np.diff(r, axis=1) > 0) and np.all(np.diff(r, axis=0) == 0)
    assert _leftovers(tmp_path) == []


def test_write_exr_non_contiguous_input(tmp_path: Path) -> None:
    # The OpenEXR bindings ignore numpy strides; a transposed view must not come out scrambled.
    rgb = _gradient(10, 6).transpose(1, 0, 2)[:, ::-1]
    assert not rgb.flags.c_contiguous
    path = tmp_path / "view.exr"
    write_hdr_image(path, rgb, float32=True)
    np.testing.assert_array_equal(read_hdr(path), rgb)


def test_read_hdr_separate_channels_mixed_types(tmp_path: Path) -> None:
    rgb = _gradient()
    path = tmp_path / "other_tool.exr"
    channels = {
        "R": np.ascontiguousarray(rgb[..., 0]),
        "G": np.ascontiguousarray(rgb[..., 1]).astype(np.float16),
        "B": np.ascontiguousarray(rgb[..., 2]),
        "A": np.ones(rgb.shape[:2], np.float16),
    }
    OpenEXR.File({"compression": OpenEXR.PIZ_COMPRESSION}, channels).write(str(path))
    out = read_hdr(path)
    assert out.dtype == np.float32 and out.shape == (6, 10, 3)
    np.testing.assert_array_equal(out[..., 0], rgb[..., 0])
    np.testing.assert_array_equal(out[..., 1], rgb[..., 1].astype(np.float16))
    np.testing.assert_array_equal(out[..., 2], rgb[..., 2])


def test_read_hdr_exr_roundtrip_half(tmp_path: Path) -> None:
    rgb = _gradient()
    path = tmp_path / "rt.exr"
    write_hdr_image(path, rgb)
    np.testing.assert_allclose(read_hdr(path), rgb, rtol=2**-10)


def test_read_hdr_exr_without_rgb(tmp_path: Path) -> None:
    path = tmp_path / "lum.exr"
    OpenEXR.File({}, {"Y": np.ones((3, 4), np.float32)}).write(str(path))
    with pytest.raises(InputError, match=r"lum\.exr: no R, G, B channels \(channels: Y\)"):
        read_hdr(path)


@pytest.mark.parametrize("name", ["junk.exr", "junk.hdr"])
def test_read_hdr_corrupt(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        read_hdr(path)


def test_read_hdr_missing_and_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="x.exr: no such file"):
        read_hdr(tmp_path / "x.exr")
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(InputError, match="unknown HDR extension"):
        read_hdr(tmp_path / "x.png")


# -------------------------------------------------------------------- Radiance .hdr


def test_rgbe_decoder_on_hand_built_files(tmp_path: Path) -> None:
    head = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n"
    flat = tmp_path / "flat.hdr"
    flat.write_bytes(head + b"-Y 1 +X 2\n" + bytes([128, 64, 0, 129, 0, 0, 0, 0]))
    np.testing.assert_array_equal(read_rgbe(flat), [[[1.0, 0.5, 0.0], [0, 0, 0]]])
    # One RLE scanline, width 8: R = run of 8 x 128, G = 8 literals, B = run of 0, E = 136.
    line = bytes([2, 2, 0, 8, 136, 128, 8, *range(8), 136, 0, 136, 136])
    rle = tmp_path / "rle.hdr"
    rle.write_bytes(head + b"-Y 1 +X 8\n" + line)
    expected = np.stack([np.full(8, 128.0), np.arange(8.0), np.zeros(8)], -1)[None]
    np.testing.assert_array_equal(read_rgbe(rle), expected)


@pytest.mark.parametrize(("h", "w"), [(6, 40), (5, 4)])  # RLE scanlines and flat (w < 8)
def test_write_radiance_hdr_independent_decoder(tmp_path: Path, h: int, w: int) -> None:
    rgb = _gradient(h, w) * RNG.uniform(0.5, 2.0, (h, 1, 1)).astype(np.float32)
    path = tmp_path / "scene.hdr"
    write_hdr_image(path, rgb)
    assert path.read_bytes().startswith(b"#?")
    assert f"-Y {h} +X {w}\n".encode() in path.read_bytes()[:200]
    decoded = read_rgbe(path)
    assert_rgbe_close(decoded, rgb)
    assert np.all(np.diff(decoded[..., 0], axis=1) > 0)  # gradient still along x, in R
    np.testing.assert_array_equal(read_hdr(path), decoded)  # OpenCV decodes the same
    assert _leftovers(tmp_path) == []


def test_rgbe_decoder_flat_file_from_opencv(tmp_path: Path) -> None:
    rgb = _gradient(4, 12)
    path = tmp_path / "flat.hdr"
    params = [cv2.IMWRITE_HDR_COMPRESSION, cv2.IMWRITE_HDR_COMPRESSION_NONE]
    assert cv2.imwrite(str(path), rgb[:, :, ::-1], params)
    assert_rgbe_close(read_rgbe(path), rgb)


# ------------------------------------------------------------------ non-finite values


def _dirty() -> np.ndarray:
    rgb = np.ones((2, 9, 3), np.float32)
    rgb[0, 0] = [np.nan, -1.0, np.inf]
    rgb[0, 1] = [-np.inf, 1e6, 2.0]
    return rgb


@pytest.mark.parametrize("float32", [False, True])
def test_exr_sanitises_non_finite(tmp_path: Path, float32: bool) -> None:
    top = np.finfo(np.float32 if float32 else np.float16).max  # float32 max or 65504
    source = _dirty()
    write_hdr_image(tmp_path / "dirty.exr", source, float32=float32)
    out = read_hdr(tmp_path / "dirty.exr")
    np.testing.assert_array_equal(out[0, 0], [0.0, 0.0, top])
    np.testing.assert_array_equal(out[0, 1], [0.0, 1e6 if float32 else 65504.0, 2.0])
    assert np.all(out[1] == 1.0)
    assert np.isnan(source[0, 0, 0])  # the caller's array is not modified


def test_radiance_sanitises_non_finite(tmp_path: Path) -> None:
    path = tmp_path / "dirty.hdr"
    write_hdr_image(path, _dirty())
    out = read_rgbe(path)
    assert np.all(np.isfinite(out)) and np.all(out >= 0)
    assert out[0, 0, 0] == 0.0 and out[0, 0, 1] == 0.0
    assert out[0, 0, 2] > 1e38  # +inf -> the largest RGBE value, not black
    assert_rgbe_close(out[1:], np.ones((1, 9, 3), np.float32))


# ------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("name", ["scene.exr", "scene.hdr", "p.png"])
def test_existing_without_overwrite_keeps_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"precious")
    with pytest.raises(OutputError, match=f"{name}: already exists"):
        if name.endswith(".png"):
            write_ldr_image(path, _rgb(np.uint8))
        else:
            write_hdr_image(path, _gradient())
    assert path.read_bytes() == b"precious"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["scene.exr", "scene.hdr"])
def test_hdr_overwrite_replaces(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"old")
    write_hdr_image(path, _gradient(), overwrite=True)
    assert path.read_bytes() != b"old"
    assert_rgbe_close(read_hdr(path), _gradient())  # within RGBE (and so half) precision


def test_unknown_extension_rejected(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"use one of \.hdr, \.exr, \.tif, \.tiff"):
        write_hdr_image(tmp_path / "scene.png", _gradient())
    with pytest.raises(OutputError, match=r"\.png, \.jpg, \.jpeg, \.tif, \.tiff"):
        write_ldr_image(tmp_path / "p.bmp", _rgb(np.uint8))
    with pytest.raises(OutputError, match=r"16-bit .*use one of \.png, \.tif, \.tiff"):
        write_ldr_image(tmp_path / "p.jpg", _rgb(np.uint16))
    assert list(tmp_path.iterdir()) == []


def test_check_output_path_cases(tmp_path: Path) -> None:
    check_output_path(tmp_path / "ok.PNG", (".png",), overwrite=False)  # case-insensitive
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(tmp_path / "no" / "x.png", (".png",), overwrite=False)
    (tmp_path / "d.png").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(tmp_path / "d.png", (".png",), overwrite=True)
    (tmp_path / "e.png").write_bytes(b"")
    check_output_path(tmp_path / "e.png", (".png",), overwrite=True)
    with pytest.raises(OutputError, match="e.png: already exists"):
        check_output_path(tmp_path / "e.png", (".png",), overwrite=False)


@pytest.mark.parametrize("name", ["scene.exr", "scene.hdr", "prev.png"])
def test_failure_mid_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        assert Path(src).exists() and Path(src).name.endswith(Path(name).suffix)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    path = tmp_path / name
    with pytest.raises(OutputError, match="No space left on device"):
        if name.endswith(".png"):
            write_ldr_image(path, _rgb(np.uint8))
        else:
            write_hdr_image(path, _gradient())
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scene.exr"
    path.write_bytes(b"old")

    def half_written(rgb: np.ndarray, float32: bool, attributes: dict) -> object:
        def write(fh: object) -> None:
            fh.write(b"partial")  # type: ignore[attr-defined]
            raise RuntimeError("encoder exploded")

        return write

    monkeypatch.setattr(io, "_exr_writer", half_written)
    with pytest.raises(OutputError, match="scene.exr: could not write"):
        write_hdr_image(path, _gradient(), overwrite=True)
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_opencv_encode_failure_is_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io.cv2, "imencode", lambda *_args: (False, None))
    with pytest.raises(OutputError, match="p.png"):
        write_ldr_image(tmp_path / "p.png", _rgb(np.uint8))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------- write_ldr_image


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_ldr_lossless_roundtrip(tmp_path: Path, suffix: str, dtype: type) -> None:
    rgb = _rgb(dtype)
    path = tmp_path / f"out{suffix}"
    write_ldr_image(path, rgb)
    back = np.asarray(Image.open(path)) if dtype == np.uint8 else None
    if back is not None:  # Pillow decodes RGB order independently of OpenCV
        np.testing.assert_array_equal(back, rgb)
    img = read_ldr(path)
    assert img.bit_depth == np.iinfo(dtype).bits
    np.testing.assert_array_equal(img.pixels, rgb / np.float32(np.iinfo(dtype).max))


def test_write_ldr_jpeg_quality(tmp_path: Path) -> None:
    rgb = _smooth_rgb()
    path = tmp_path / "prev.jpeg"
    write_ldr_image(path, rgb)
    back = np.asarray(Image.open(path)).astype(int)
    assert np.abs(back - rgb).max() <= 8
    assert _leftovers(tmp_path) == [] and os.path.getsize(path) > 0


def test_write_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_ldr_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        write_hdr_image(tmp_path / "a.exr", np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("suffix", [".exr", ".hdr"])
def test_hdr_writers_stream_row_blocks_without_changing_a_byte(tmp_path, monkeypatch, suffix):
    rgb = RNG.lognormal(0.0, 3.0, (23, 9, 3)).astype(np.float32)
    rgb[2, 3] = [np.nan, -1.0, np.inf]
    write_hdr_image(tmp_path / f"one{suffix}", rgb)
    monkeypatch.setattr(io, "_ROWS_PER_BLOCK", 4)
    write_hdr_image(tmp_path / f"blocks{suffix}", rgb)
    assert (tmp_path / f"one{suffix}").read_bytes() == (tmp_path / f"blocks{suffix}").read_bytes()


def test_all_or_nothing_keeps_earlier_files_when_a_later_write_fails(tmp_path):
    """An HDR and its preview are renamed into place together: when the preview cannot be written,
    the HDR already on disk is the old one, and no temporary file is left."""
    from adnet_cli.errors import OutputError
    from adnet_cli.formats.atomic import all_or_nothing
    from adnet_cli.formats.io import read_hdr, write_hdr_image, write_ldr_image

    old, new = np.full((4, 5, 3), 0.25, np.float32), np.full((4, 5, 3), 0.5, np.float32)
    hdr = tmp_path / "out.exr"
    write_hdr_image(hdr, old)
    with pytest.raises(OutputError):
        with all_or_nothing():
            write_hdr_image(hdr, new, overwrite=True)
            write_ldr_image(tmp_path / "missing-folder" / "p.png", np.zeros((4, 5, 3), np.uint8))
    np.testing.assert_array_equal(read_hdr(hdr), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.exr"]
    with all_or_nothing():
        write_hdr_image(hdr, new, overwrite=True)
        write_ldr_image(tmp_path / "p.png", np.zeros((4, 5, 3), np.uint8))
        np.testing.assert_array_equal(read_hdr(hdr), old)  # not yet renamed
    np.testing.assert_array_equal(read_hdr(hdr), new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.exr", "p.png"]

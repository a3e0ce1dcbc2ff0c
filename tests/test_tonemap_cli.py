"""`adnet tonemap` end to end: operators, exposure, gamma, bit depth, batches, bad pixels, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from helpers import fails_cleanly
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.formats.io import read_hdr, write_hdr_image
from adnet_cli.formats.tonemap import OPERATORS, preview

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, ["tonemap", *(str(a) for a in args)])


def succeeds(result) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def scene(height: int = 24, width: int = 32) -> np.ndarray:
    """(H, W, 3) float32 linear RGB: brightness rising left to right over 1e-3 .. 50, coloured by row."""
    ramp = np.geomspace(1e-3, 50.0, width, dtype=np.float32)
    tint = np.stack([np.linspace(0.4, 1.0, height), np.full(height, 0.8), np.linspace(1.0, 0.4, height)], -1)
    return (ramp[None, :, None] * tint[:, None, :]).astype(np.float32)


def write(path: Path, rgb: np.ndarray, float32: bool = True) -> Path:
    """.hdr through cv2.imwrite (BGR float32), .exr through the project's writer (half or float)."""
    if path.suffix == ".hdr":
        assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1], dtype=np.float32))
    else:
        write_hdr_image(path, rgb, float32=float32)
    return path


def write_raw_exr(path: Path, rgb: np.ndarray) -> Path:
    """A float32 EXR holding the values as given, NaN and inf included (write_hdr_image would repair them)."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"RGB": np.ascontiguousarray(rgb, dtype=np.float32)}).write(str(path))
    return path


def read_png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img[:, :, ::-1]


def luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64).mean(axis=-1)


# ----------------------------------------------------------------------------- operators


@pytest.mark.parametrize("kind", ["hdr", "exr-half", "exr-float"])
@pytest.mark.parametrize("operator", OPERATORS)
def test_every_operator_reads_every_format(tmp_path, operator, kind):
    suffix, float32 = (".hdr", True) if kind == "hdr" else (".exr", kind == "exr-float")
    src = write(tmp_path / f"scene{suffix}", scene(), float32=float32)
    out = tmp_path / "scene.png"
    succeeds(invoke(src, "-o", out, "--operator", operator))
    img = read_png(out)
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    brightness = luma(img)
    # Sensible: dark on the left, bright on the right, neither all black nor all white.
    assert brightness[:, :4].mean() + 40 < brightness[:, -4:].mean()
    assert 20 < brightness.mean() < 235
    assert len(np.unique(img)) > 20


def test_mu_is_the_preview_and_the_99th_percentile_is_white(tmp_path):
    # 100 pixels of brightness 1, 2, ..., 98, 99, 99: the 99th percentile is exactly 99.
    values = np.append(np.arange(1, 100, dtype=np.float32), np.float32(99.0)).reshape(10, 10)
    hdr = np.stack([values * 0.5, values, values * 0.25], -1)
    src = write(tmp_path / "ramp.exr", hdr)
    out = tmp_path / "ramp.png"
    succeeds(invoke(src, "-o", out))
    img = read_png(out)
    np.testing.assert_array_equal(img, preview(read_hdr(src)))
    assert img[9, 8, 1] == 255 and img[9, 9, 1] == 255  # the two pixels at the percentile
    # 97/99 is just below white (mu-law rounds x > 0.984 to 255); so is the dimmer red channel.
    assert img[9, 6, 1] < 255 and img[9, 8, 0] < 255
    assert img[0, 0, 1] < img[5, 0, 1] < img[9, 6, 1]


def test_mu_is_monotone_in_input_brightness(tmp_path):
    ramp = np.geomspace(1e-4, 20.0, 200, dtype=np.float32)
    src = write(tmp_path / "ramp.exr", np.repeat(ramp[None, :, None], 3, axis=2))
    out = tmp_path / "ramp.png"
    succeeds(invoke(src, "-o", out))
    row = read_png(out)[0, :, 0].astype(int)
    assert np.all(np.diff(row) >= 0)
    assert row[0] < 10 and row[-1] == 255
    assert len(np.unique(row)) > 100


@pytest.mark.parametrize("operator", OPERATORS)
def test_positive_exposure_brightens_and_negative_darkens(tmp_path, operator):
    src = write(tmp_path / "scene.exr", scene())
    means = {}
    for stops in ("-1", "0", "1"):
        out = tmp_path / f"{stops}.png"
        succeeds(invoke(src, "-o", out, "--operator", operator, "--exposure", stops))
        means[stops] = luma(read_png(out)).mean()
    assert means["-1"] + 5 < means["0"] < means["1"] - 5


def test_gamma(tmp_path):
    src = write(tmp_path / "scene.exr", scene())

    def mean(*options: str) -> float:
        out = tmp_path / f"{'_'.join(options) or 'default'}.png"
        succeeds(invoke(src, "-o", out, *options, "--overwrite"))
        return luma(read_png(out)).mean()

    # mu takes no extra gamma by default; a display gamma of 2.2 lifts its mid-tones.
    assert mean("--gamma", "2.2") > mean() + 5
    np.testing.assert_array_equal(read_png(tmp_path / "default.png"), preview(read_hdr(src)))
    # The OpenCV operators default to 2.2: gamma 1 is darker, and 2.2 given explicitly is the default.
    assert mean("--operator", "drago", "--gamma", "1") + 10 < mean("--operator", "drago")
    assert mean("--operator", "drago", "--gamma", "2.2") == mean("--operator", "drago")


@pytest.mark.parametrize("operator", ["mu", "mantiuk"])
def test_16_bit_png(tmp_path, operator):
    src = write(tmp_path / "scene.exr", scene())
    out8, out16 = tmp_path / "8.png", tmp_path / "16.png"
    succeeds(invoke(src, "-o", out8, "--operator", operator))
    succeeds(invoke(src, "-o", out16, "--operator", operator, "--bits", "16"))
    img16 = cv2.imread(str(out16), cv2.IMREAD_UNCHANGED)
    assert img16.dtype == np.uint16 and img16.shape == (24, 32, 3)
    assert img16.max() > 60000
    img8 = cv2.imread(str(out8), cv2.IMREAD_UNCHANGED)
    assert np.abs(img16 / 257.0 - img8).max() <= 0.51  # the same image, finer steps
    assert len(np.unique(img16)) > len(np.unique(img8))


def test_single_input_into_an_existing_folder(tmp_path):
    src = write(tmp_path / "scene.hdr", scene())
    folder = tmp_path / "out"
    folder.mkdir()
    succeeds(invoke(src, "-o", folder, "--format", "jpg"))
    assert sorted(p.name for p in folder.iterdir()) == ["scene.jpg"]


# ----------------------------------------------------------------------------- batches


def three_inputs(tmp_path: Path) -> list[Path]:
    return [
        write(tmp_path / "a.hdr", scene()),
        write(tmp_path / "b.exr", scene() * 2, float32=False),
        write(tmp_path / "c.exr", scene() * 3, float32=True),
    ]


@pytest.mark.parametrize("fmt", [None, "jpg"])
def test_batch_writes_one_file_per_input_into_a_new_folder(tmp_path, fmt):
    folder = tmp_path / "new" / "out"
    options = ["--format", fmt] if fmt else []
    result = invoke(*three_inputs(tmp_path), "-o", folder, *options)
    succeeds(result)
    suffix = f".{fmt or 'png'}"
    assert sorted(p.name for p in folder.iterdir()) == [f"{n}{suffix}" for n in "abc"]
    for path in folder.iterdir():
        img = cv2.imread(str(path))
        assert img.shape == (24, 32, 3) and img.max() > 150
    assert "wrote 3 of 3 images" in result.stderr


@pytest.mark.parametrize("bad", ["corrupt.exr", "corrupt.hdr", "missing.exr", "notes.txt"])
def test_one_bad_input_does_not_stop_the_others(tmp_path, bad):
    good = three_inputs(tmp_path)
    bad_path = tmp_path / bad
    if not bad.startswith("missing"):
        bad_path.write_bytes(b"this is not an image\n" * 10)
    folder = tmp_path / "out"
    result = invoke(good[0], bad_path, *good[1:], "-o", folder)
    assert result.exit_code != 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "c.png"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and bad in errors[0], result.stderr
    assert "wrote 3 of 4 images" in result.stderr
    assert "Traceback" not in result.output


def test_batch_checks_every_output_before_writing(tmp_path):
    inputs = three_inputs(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "c.png").write_bytes(b"keep me")
    fails_cleanly(invoke(*inputs, "-o", folder), "already exists")
    assert sorted(p.name for p in folder.iterdir()) == ["c.png"]
    assert (folder / "c.png").read_bytes() == b"keep me"
    succeeds(invoke(*inputs, "-o", folder, "--overwrite"))
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "c.png"]
    assert cv2.imread(str(folder / "c.png")) is not None


def test_batch_refuses_two_inputs_with_one_output_name(tmp_path):
    one = write(tmp_path / "x.hdr", scene())
    other = write(tmp_path / "x.exr", scene())
    fails_cleanly(invoke(one, other, "-o", tmp_path / "out"), "would both be written")
    assert not (tmp_path / "out").exists()


def test_batch_output_must_be_a_folder(tmp_path):
    inputs = three_inputs(tmp_path)
    fails_cleanly(invoke(*inputs, "-o", tmp_path / "all.png"), "must be a folder")
    (tmp_path / "file").write_bytes(b"")
    fails_cleanly(invoke(*inputs, "-o", tmp_path / "file"), "not a folder")
    assert not (tmp_path / "all.png").exists()


# ----------------------------------------------------------------------------- bad pixels


def test_non_finite_and_negative_pixels_are_repaired_and_counted(tmp_path):
    hdr = scene()
    hdr[0, 0] = np.nan
    hdr[1, 1, 1] = np.inf
    hdr[2, 2, 2] = -np.inf
    hdr[3, 3] = [-1.0, 0.5, 0.5]
    hdr[4, 4, 0] = np.nan
    src = write_raw_exr(tmp_path / "scene.exr", hdr)
    assert np.isnan(read_hdr(src)[0, 0]).all()  # the file really holds them
    # What the documentation promises: NaN, -inf and negatives -> 0, +inf -> the brightest finite value.
    repaired = np.nan_to_num(hdr, nan=0.0, posinf=float(hdr[np.isfinite(hdr)].max()), neginf=0.0).clip(0, None)
    by_hand = write_raw_exr(tmp_path / "by_hand.exr", repaired)
    for operator in OPERATORS:
        out, expected = tmp_path / f"{operator}.png", tmp_path / f"{operator}_by_hand.png"
        result = invoke(src, "-o", out, "--operator", operator)
        succeeds(result)
        warnings = [line for line in result.stderr.splitlines() if "non-finite or negative" in line]
        assert len(warnings) == 1 and "scene.exr: 5 non-finite or negative pixels" in warnings[0], result.stderr
        succeeds(invoke(by_hand, "-o", expected, "--operator", operator))
        img = read_png(out)
        assert img.shape == (24, 32, 3) and img.max() > 150
        # Equal up to the 99th percentile, which ignores the repaired pixels (mu only; the
        # OpenCV operators ignore scale).
        assert np.abs(img.astype(int) - read_png(expected)).max() <= 2, operator
        np.testing.assert_array_equal(img[0, 0], [0, 0, 0])
    img = read_png(tmp_path / "mu.png")
    assert img[1, 1, 1] == 255  # +inf -> the brightest value, white with mu
    assert img[3, 3, 0] == 0 and img[3, 3, 1] > 0  # only the negative channel is 0


def test_clean_input_gives_no_warning(tmp_path):
    result = invoke(write(tmp_path / "scene.exr", scene()), "-o", tmp_path / "scene.png")
    succeeds(result)
    assert "non-finite" not in result.stderr


# ----------------------------------------------------------------------------- errors


@pytest.fixture
def hdr_file(tmp_path: Path) -> Path:
    return write(tmp_path / "scene.exr", scene())


def no_images_in(folder: Path) -> bool:
    """No .png/.jpg output and no temporary file left behind."""
    return not [p for p in folder.iterdir() if p.suffix in (".png", ".jpg") or ".tmp-" in p.name]


def test_missing_input(tmp_path):
    fails_cleanly(invoke(tmp_path / "nothing.exr", "-o", tmp_path / "x.png"), "no such file")
    assert no_images_in(tmp_path)


@pytest.mark.parametrize("name", ["fake.exr", "fake.hdr"])
def test_input_that_is_not_hdr(tmp_path, name):
    src = tmp_path / name
    src.write_bytes(b"\x89PNG not really\n" * 20)
    fails_cleanly(invoke(src, "-o", tmp_path / "x.png"), name)
    assert no_images_in(tmp_path)


def test_unknown_input_extension(tmp_path):
    src = tmp_path / "photo.png"
    cv2.imwrite(str(src), np.zeros((4, 4, 3), np.uint8))
    fails_cleanly(invoke(src, "-o", tmp_path / "x.png"), "unknown HDR extension")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("name", ["x.bmp", "x.exr", "x"])
def test_unknown_output_extension(tmp_path, hdr_file, name):
    fails_cleanly(invoke(hdr_file, "-o", tmp_path / name), "unknown extension")
    assert not (tmp_path / name).exists()


def test_existing_output_needs_overwrite(tmp_path, hdr_file):
    out = tmp_path / "x.png"
    out.write_bytes(b"old")
    fails_cleanly(invoke(hdr_file, "-o", out), "already exists")
    assert out.read_bytes() == b"old"
    succeeds(invoke(hdr_file, "-o", out, "--overwrite"))
    assert cv2.imread(str(out)).shape == (24, 32, 3)


@pytest.mark.parametrize("args", [["-o", "x.jpg"], ["-o", "x.jpeg"], ["-o", "out", "--format", "jpg"]])
def test_16_bits_refuses_jpeg(tmp_path, hdr_file, args):
    target = [str(tmp_path / a) if a.startswith(("x", "out")) else a for a in args]
    inputs = [hdr_file] if target[1].endswith(("jpg", "jpeg")) else [hdr_file, write(tmp_path / "b.hdr", scene())]
    fails_cleanly(invoke(*inputs, *target, "--bits", "16"), "8 bits only")
    assert no_images_in(tmp_path) and not (tmp_path / "out").exists()


def test_format_must_match_the_output_file(tmp_path, hdr_file):
    fails_cleanly(invoke(hdr_file, "-o", tmp_path / "x.png", "--format", "jpg"), "--format jpg")
    assert no_images_in(tmp_path)


def test_debug_shows_the_traceback(tmp_path):
    result = invoke(tmp_path / "nothing.exr", "-o", tmp_path / "x.png", "--debug")
    assert result.exit_code != 0
    assert result.exception is not None and "no such file" in str(result.exception)


def test_a_bright_scene_gets_the_gentler_curve_unless_mu_is_given(tmp_path):
    rng = np.random.default_rng(5)
    bright = (rng.uniform(0.5, 1.0, (24, 32, 1)) * np.array([0.8, 0.9, 1.0])).astype(np.float32)  # all sky
    src = write(tmp_path / "sky.exr", bright)
    succeeds(invoke(src, "-o", tmp_path / "auto.png"))
    succeeds(invoke(src, "-o", tmp_path / "paper.png", "--mu", "5000"))
    hdr = read_hdr(src)
    np.testing.assert_array_equal(read_png(tmp_path / "auto.png"), preview(hdr))  # merge's preview rule
    np.testing.assert_array_equal(read_png(tmp_path / "paper.png"), preview(hdr, mu=5000.0))
    assert luma(read_png(tmp_path / "auto.png")).mean() + 10 < luma(read_png(tmp_path / "paper.png")).mean()
    fails_cleanly(invoke(src, "-o", tmp_path / "d.png", "--operator", "drago", "--mu", "10"), "no meaning with --operator drago")

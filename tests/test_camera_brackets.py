"""Real-camera behaviour around the network, on synthetic brackets written as cameras write them:
the response default (--response auto) and calibration after alignment."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scenes import radiance
from shots import START, srgb_encode, write_jpeg, write_tiff16

from adnet_cli.merge.bracket import plan_bracket, read_bracket, resolve_response
from adnet_cli.merge.engine import BracketRequest
from adnet_cli.merge.prepare import prepare_frames

TIMES = (Fraction(1, 400), Fraction(1, 100), Fraction(1, 25))

def camera_jpegs(folder: Path, shifts: tuple[int, int, int] = (0, 0, 0), **tags) -> list[Path]:
    """Three sRGB-encoded JPEGs 2 EV apart; frame i shifted `shifts[i]` pixels to the right."""
    paths = []
    for i, t in enumerate(TIMES):
        scene = np.roll(radiance(), shifts[i], axis=1)
        pixels = srgb_encode(scene * float(t) * 100)
        paths.append(write_jpeg(folder / f"IMG_{i}.jpg", pixels, t, START + timedelta(seconds=i / 4), **tags))
    return paths


@pytest.mark.parametrize(
    ("tags", "expected", "why"),
    [
        ({"make": "Canon"}, "srgb", "8-bit frames from a Canon camera"),
        ({"color_space": 1}, "srgb", "8-bit frames tagged EXIF ColorSpace sRGB"),
        ({}, "gamma", "8-bit frames without a camera's EXIF"),
    ],
)
def test_auto_response_reads_the_camera_from_exif(tmp_path, tags, expected, why):
    bracket = read_bracket(plan_bracket(camera_jpegs(tmp_path, **tags)))
    assert resolve_response(bracket, "auto") == (expected, why)
    assert resolve_response(bracket, "calibrate") == ("calibrate", None)  # a named curve is kept


def test_auto_response_takes_16_bit_files_as_plain_gamma(tmp_path):
    paths = [write_tiff16(tmp_path / f"f{i}.tif", np.clip(radiance() * float(t) * 100, 0, 1) ** (1 / 2.2), t, START)
             for i, t in enumerate(TIMES)]
    assert resolve_response(read_bracket(plan_bracket(paths)), "auto") == ("gamma", "16-bit frames")


def test_auto_gives_the_network_what_srgb_gives_and_says_so(tmp_path):
    bracket = read_bracket(plan_bracket(camera_jpegs(tmp_path, make="Canon")))
    auto, said = prepare_frames(bracket, BracketRequest(), 2.2)
    srgb, _ = prepare_frames(bracket, BracketRequest(response="srgb"), 2.2)
    np.testing.assert_array_equal(auto, srgb)
    assert said == ["response: sRGB curve inverted, re-encoded with gamma 2.2 (auto: 8-bit frames from a Canon camera)"]


def _reference_error(paths: list[Path], truth: np.ndarray, align: bool) -> float:
    """Mean |network input of the reference frame - the true sRGB-inverted one| under calibration."""
    bracket = read_bracket(plan_bracket(paths))
    frames, _ = prepare_frames(bracket, BracketRequest(response="calibrate", align=align), 2.2)
    return float(np.abs(frames[1] - truth).mean())


def test_calibration_runs_on_aligned_frames(tmp_path):
    """Hand-held: frames 12 px apart. Debevec's calibration assumes each pixel sees one radiance in every
    frame; run after --align, the curve it finds is the one the static bracket gives."""
    (tmp_path / "held").mkdir()
    (tmp_path / "still").mkdir()
    held, still = camera_jpegs(tmp_path / "held", (-12, 0, 12)), camera_jpegs(tmp_path / "still")
    still_frames, _ = prepare_frames(read_bracket(plan_bracket(still)), BracketRequest(response="calibrate"), 2.2)
    truth = still_frames[1]  # the reference frame never moves: only the curve changes it
    after, before = _reference_error(held, truth, True), _reference_error(held, truth, False)
    assert after < 0.5 * before, (after, before)
    _, said = prepare_frames(read_bracket(plan_bracket(held)), BracketRequest(response="calibrate", align=True), 2.2)
    assert said[0].startswith("aligned IMG_0.jpg: translation, shift (-12.0") and said[-1].endswith("(after --align)")


def test_the_dry_run_catches_frames_of_different_sizes(tmp_path):
    """A portrait frame among landscape ones (its pixels stored turned, EXIF Orientation 6, are fine)."""
    from helpers import fails_cleanly, invoke
    from PIL import Image

    paths = camera_jpegs(tmp_path, make="Canon")
    with Image.open(paths[2]) as img:
        exif = img.getexif()
        turned = img.transpose(Image.Transpose.ROTATE_90)
    exif[0x0112] = 6  # stored 96 wide, 128 high: upright it is 128 x 96 like the others
    turned.save(paths[2], exif=exif.tobytes(), quality=95)
    result = invoke("merge", *paths, "-o", tmp_path / "x.exr", "--dry-run", "--weights", tmp_path / "absent.safetensors")
    assert result.exit_code == 0, result.output
    cropped = tmp_path / "small.jpg"
    with Image.open(paths[1]) as img:
        img.crop((0, 0, 120, 96)).save(cropped, exif=img.getexif().tobytes(), quality=95)
    result = invoke("merge", paths[0], cropped, paths[2], "-o", tmp_path / "x.exr", "--dry-run")
    fails_cleanly(result, "frames differ in size: IMG_0.jpg 128x96, small.jpg 120x96, IMG_2.jpg 128x96")

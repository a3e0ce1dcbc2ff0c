"""merge --method (the classical merges through the same inputs and outputs) and merge --tonemap."""

from __future__ import annotations

import cv2
import numpy as np
from helpers import EXPOSURES, fails_cleanly, invoke, write_bracket

from adnet_cli.formats.io import read_hdr
from adnet_cli.formats.tonemap import quantise, tonemap
from adnet_cli.merge.classical import classical_merge, mertens_fusion

TIMES = (0.01, 0.04, 0.16)


def frames_of(paths) -> np.ndarray:
    return np.stack([cv2.imread(str(p))[..., ::-1] for p in paths]).astype(np.float32) / 255


def read_rgb(path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]


def test_a_classical_method_is_the_classical_merge_of_the_same_frames(tmp_path):
    frames = write_bracket(tmp_path)
    out = tmp_path / "d.exr"
    absent = tmp_path / "absent.safetensors"  # no network: no weights are loaded
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "--float32", "--method", "debevec", "--weights", absent)
    assert result.exit_code == 0, result.output
    assert "classical merge: debevec" in result.stderr
    expected = classical_merge(frames_of(frames), TIMES, "debevec", 2.2)  # PNGs without EXIF: plain gamma 2.2
    np.testing.assert_allclose(read_hdr(out), expected, rtol=1e-6, atol=1e-7)


def test_mertens_writes_the_fusion_as_the_one_display_image(tmp_path):
    frames = write_bracket(tmp_path)
    out = tmp_path / "fused.png"
    assert invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "--method", "mertens").exit_code == 0
    np.testing.assert_array_equal(read_rgb(out), quantise(mertens_fusion(frames_of(frames))))
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "f.exr", "--method", "mertens"), "use one of .png")
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "f.png", "-p", tmp_path / "p.png",
                         "--method", "mertens"), "one display image")
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "f.png", "--method", "mertens",
                         "--tonemap", "drago"), "no HDR to tonemap")


def test_batch_mode_runs_a_classical_method_per_group(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, path in enumerate(write_bracket(folder)):
        path.rename(folder / f"{i}_{path.name}")
    out = tmp_path / "out"
    result = invoke("merge", folder, "-o", out, "--ev", "-2,0,2", "--group-size", "3", "--method", "mertens")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["1_medium.png"]  # the display image, no HDR


def test_the_preview_takes_the_chosen_operator(tmp_path, random_checkpoint):
    frames = write_bracket(tmp_path)
    out, preview = tmp_path / "o.exr", tmp_path / "o.png"
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "-p", preview, "--float32", "--tonemap", "drago",
                    "--weights", random_checkpoint)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_rgb(preview), quantise(tonemap(read_hdr(out), "drago")[0]))


def test_eval_says_why_an_exposure_fusion_has_no_score(tmp_path):
    fails_cleanly(invoke("eval", tmp_path, "--method", "mertens"), "no score against HDR ground truth")


def test_a_tif_output_is_32_bit_float_and_previews_can_be_16_bit(tmp_path, random_checkpoint):
    import tifffile

    frames = write_bracket(tmp_path)
    exr, tif, preview = tmp_path / "o.exr", tmp_path / "o.tif", tmp_path / "p.tif"
    args = ["-e", EXPOSURES, "--weights", random_checkpoint]
    assert invoke("merge", *frames, "-o", exr, "--float32", *args).exit_code == 0
    result = invoke("merge", *frames, "-o", tif, "-p", preview, "--preview-bits", "16", *args)
    assert result.exit_code == 0, result.output
    stored = tifffile.imread(tif)  # an independent reader: RGB order, float32, the merge itself
    assert stored.dtype == np.float32 and np.array_equal(stored, read_hdr(exr)) and np.array_equal(read_hdr(tif), stored)
    shown = read_rgb(preview)  # LZW-compressed, which tifffile reads only with imagecodecs
    assert shown.dtype == np.uint16 and np.array_equal(shown, quantise(tonemap(stored, "mu")[0], 16))
    png16 = tmp_path / "p16.png"
    assert invoke("merge", *frames, "-o", tmp_path / "q.exr", "-p", png16, "--preview-bits", "16", *args).exit_code == 0
    assert read_rgb(png16).dtype == np.uint16
    fails_cleanly(invoke("merge", *frames, "-o", tmp_path / "r.exr", "-p", tmp_path / "r.jpg", "--preview-bits", "16", *args),
                  "unknown extension .jpg")
    # adnet tonemap reads the float TIFF; an 8-bit TIFF is a photo, not HDR
    assert invoke("tonemap", tif, "-o", tmp_path / "t.png").exit_code == 0
    cv2.imwrite(str(tmp_path / "photo.tif"), np.zeros((4, 4, 3), np.uint8))
    fails_cleanly(invoke("tonemap", tmp_path / "photo.tif", "-o", tmp_path / "x.png"), "an HDR TIFF is 32-bit float")

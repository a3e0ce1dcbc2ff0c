"""`adnet merge` and `adnet info` end to end, and every bad-input case the merge issue names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import EXPOSURES, fails_cleanly, invoke, write_bracket

from adnet_cli.formats.io import read_hdr
from adnet_cli.network.inference import MergeOptions, merge
from adnet_cli.network.weights import load_weights


def digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


@pytest.fixture
def bracket(tmp_path: Path) -> list[Path]:
    return write_bracket(tmp_path)


def test_merge_writes_exr_and_preview_matching_the_library(tmp_path, bracket, random_checkpoint):
    before = digest(bracket)
    out, preview = tmp_path / "scene.exr", tmp_path / "scene.png"
    # Frames given out of order: the CLI sorts them by exposure.
    args = [bracket[2], bracket[0], bracket[1], "-e", "4/25,1/100,1/25", "-o", out, "--preview", preview]
    result = invoke("merge", *args, "--weights", random_checkpoint, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert digest(bracket) == before
    loaded = load_weights(str(random_checkpoint))
    frames = np.stack([cv2.imread(str(p))[..., ::-1].astype(np.float32) / 255 for p in bracket])
    expected = merge(loaded.model, frames, (1, 4, 16), "kalantari", torch.device("cpu"), MergeOptions())
    np.testing.assert_allclose(read_hdr(out), expected, rtol=2e-3, atol=1e-4)  # half-float EXR
    shown = cv2.imread(str(preview))
    assert shown.shape == (24, 36, 3) and shown.max() > 0
    assert "short.png" in result.stderr and "reference medium.png" in result.stderr


def test_merge_reads_exposures_from_exif_and_writes_hdr(tmp_path, random_checkpoint):
    paths = write_bracket(tmp_path, exif=True)
    out = tmp_path / "scene.hdr"
    result = invoke("merge", *paths, "-o", out, "--weights", random_checkpoint, "--tile", 16, "--tta")
    assert result.exit_code == 0, result.output
    assert "exposures from EXIF ExposureTime" in result.stderr
    assert read_hdr(out).shape == (24, 36, 3)


def test_merge_refuses_without_weights(tmp_path, bracket, monkeypatch):
    monkeypatch.setenv("ADNET_WEIGHTS", str(tmp_path / "absent.safetensors"))
    out = tmp_path / "scene.exr"
    fails_cleanly(invoke("merge", *bracket, "-e", EXPOSURES, "-o", out), "no weights")
    assert not out.exists()


@pytest.mark.parametrize(
    ("mutate", "extra", "message"),
    [
        (lambda p: p[0].unlink(), [], "no such file"),
        (lambda p: p[1].write_text("hello"), [], "not an image"),
        (lambda p: cv2.imwrite(str(p[2]), np.zeros((10, 12, 3), np.uint8)), [], "differ in size"),
        (lambda p: None, ["-e", "1/100,1/100,1/25"], "must differ"),
        (lambda p: None, ["-e", "0,1/25,1/6"], "must be positive"),
        (lambda p: None, ["-e", "fast,slow,1"], "cannot parse"),
        (lambda p: None, ["-e", "1/100,1/25"], "need 3 exposure values"),
        (lambda p: None, ["--ev", "2000,0,1"], "within +-30"),
        (lambda p: None, ["-e", "1e-300,1,1e300"], "span more than"),
        (lambda p: None, ["--ev", "-2,0,2", "-e", EXPOSURES], "not both"),
        (lambda p: None, ["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
    ],
)
def test_bad_input_fails_with_one_line(tmp_path, bracket, random_checkpoint, mutate, extra, message):
    mutate(bracket)
    out = tmp_path / "scene.exr"
    args = extra if ("-e" in extra or "--ev" in extra) else [*extra, "-e", EXPOSURES]
    fails_cleanly(invoke("merge", *bracket, *args, "-o", out, "--weights", random_checkpoint), message)
    assert not out.exists() and not list(tmp_path.glob(".scene*"))


def test_no_exposure_information(tmp_path, bracket, random_checkpoint):
    fails_cleanly(invoke("merge", *bracket, "-o", tmp_path / "x.exr", "--weights", random_checkpoint), "no exposure time")


@pytest.mark.parametrize(("count", "message"), [(2, "at least 3 frames"), (4, "given twice")])
def test_wrong_number_of_frames(tmp_path, bracket, random_checkpoint, count, message):
    frames = (bracket + bracket)[:count]  # four: a bracket of more than three frames, one named twice
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "x.exr"), message)


def test_unknown_output_extension(tmp_path, bracket, random_checkpoint):
    fails_cleanly(invoke("merge", *bracket, "-e", EXPOSURES, "-o", tmp_path / "x.bmp"), ".exr")
    fails_cleanly(
        invoke("merge", *bracket, "-e", EXPOSURES, "-o", tmp_path / "x.exr", "--preview", tmp_path / "p.gif"), ".png"
    )


def test_existing_output_needs_overwrite(tmp_path, bracket, random_checkpoint):
    out = tmp_path / "scene.hdr"
    out.write_bytes(b"keep me")
    args = ["merge", *bracket, "-e", EXPOSURES, "-o", out, "--weights", random_checkpoint]
    fails_cleanly(invoke(*args), "exists")
    assert out.read_bytes() == b"keep me"
    assert invoke(*args, "--overwrite").exit_code == 0
    assert read_hdr(out).shape == (24, 36, 3)


def test_preview_may_not_replace_an_input(tmp_path, bracket, random_checkpoint):
    before = digest(bracket)
    args = ["merge", *bracket, "-e", EXPOSURES, "-o", tmp_path / "x.exr", "--preview", bracket[1], "--overwrite"]
    fails_cleanly(invoke(*args, "--weights", random_checkpoint), "input frame")
    assert digest(bracket) == before


def test_unloadable_weights(tmp_path, bracket):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    out = tmp_path / "x.exr"
    fails_cleanly(invoke("merge", *bracket, "-e", EXPOSURES, "-o", out, "--weights", bad), "cannot read weights")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    fails_cleanly(
        invoke("merge", *bracket, "-e", EXPOSURES, "-o", out, "--weights", tmp_path / "partial.pth"), "missing keys"
    )
    assert not out.exists()


def test_debug_shows_the_traceback(tmp_path, bracket):
    bracket[0].unlink()
    result = invoke("merge", *bracket, "-e", EXPOSURES, "-o", tmp_path / "x.exr", "--debug")
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception) and "no such file" in str(result.exception)


def test_info_reports_backend_device_and_weights(random_checkpoint):
    result = invoke("info", "--weights", random_checkpoint)
    assert result.exit_code == 0, result.output
    for word in ("torch", "deform backend", "device", "random.safetensors", "kalantari"):
        assert word in result.stdout


def test_failed_preview_leaves_no_hdr_behind(tmp_path, bracket, random_checkpoint, monkeypatch):
    import importlib

    from adnet_cli.errors import OutputError

    def broken(*args, **kwargs):
        raise OutputError("disk full")

    monkeypatch.setattr(importlib.import_module("adnet_cli.merge.outputs"), "write_ldr_image", broken)
    out = tmp_path / "scene.exr"
    result = invoke("merge", *bracket, "-e", EXPOSURES, "-o", out, "-p", tmp_path / "p.png", "--weights", random_checkpoint, "-q")
    fails_cleanly(result, "disk full")
    assert not out.exists()
    out.write_bytes(b"the earlier result")  # with --overwrite the old file survives the failed preview
    result = invoke("merge", *bracket, "-e", EXPOSURES, "-o", out, "-p", tmp_path / "p.png", "--overwrite",
                    "--weights", random_checkpoint, "-q")
    fails_cleanly(result, "disk full")
    assert out.read_bytes() == b"the earlier result"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("flag", [["--precision", "float32"], ["--precision", "bfloat16"], ["--bf16"]])
def test_precision_options_reach_the_library(tmp_path, bracket, random_checkpoint, flag):
    out = tmp_path / "scene.exr"
    result = invoke("merge", *bracket, "-e", "1/100,1/25,4/25", "-o", out, "--weights", random_checkpoint, *flag)
    assert result.exit_code == 0, result.output
    precision = "float32" if "float32" in flag else "bfloat16"
    assert f"cpu, {precision}," in result.stderr
    loaded = load_weights(str(random_checkpoint))
    frames = np.stack([cv2.imread(str(p))[..., ::-1].astype(np.float32) / 255 for p in bracket])
    options = MergeOptions(dtype=getattr(torch, precision))
    expected = merge(loaded.model, frames, (1, 4, 16), "kalantari", torch.device("cpu"), options)
    np.testing.assert_allclose(read_hdr(out), expected, rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--precision", "float16"], "float16 (--half) needs a CUDA device"),
        (["--half", "--bf16"], "conflicting precisions: bfloat16, float16"),
        (["--precision", "float32", "--bf16"], "conflicting precisions: bfloat16, float32"),
    ],
)
def test_bad_precision_fails_with_one_line(tmp_path, bracket, random_checkpoint, flags, message):
    if torch.cuda.is_available() and flags == ["--precision", "float16"]:
        pytest.skip("CUDA present")
    result = invoke("merge", *bracket, "-e", "1/100,1/25,4/25", "-o", tmp_path / "x.exr", "--weights", random_checkpoint, *flags)
    fails_cleanly(result, message)
    assert not (tmp_path / "x.exr").exists()


def test_info_reports_the_precision():
    result = invoke("info")
    assert result.exit_code == 0
    assert "precision" in result.stdout and ("bfloat16 (auto" in result.stdout or "float32 (auto" in result.stdout)


def test_exposures_given_against_the_exif_order_are_noted(tmp_path, random_checkpoint):
    """A camera shoots 0, -2, +2 EV; --ev typed as if it were -2, 0, +2 in file order gets one warning line."""
    paths = write_bracket(tmp_path, exif=True)  # EXIF: 1/100, 1/25, 4/25 s
    wrong = invoke("merge", *paths, "--ev", "0,-2,2", "-o", tmp_path / "a.exr", "--dry-run")
    assert wrong.exit_code == 0 and "--ev orders the frames differently from their EXIF" in wrong.stdout
    assert "short.png 1/100 s" in wrong.stdout
    right = invoke("merge", *paths, "--ev", "-2,0,2", "-o", tmp_path / "b.exr", "--dry-run")
    assert right.exit_code == 0 and "differently" not in right.stdout


def test_the_summary_shows_exposures_as_photographers_write_them(tmp_path, bracket, random_checkpoint):
    result = invoke("merge", *bracket, "-e", "1/3049,1/762,4/762", "-o", tmp_path / "s.exr", "--weights",
                    random_checkpoint)
    assert result.exit_code == 0, result.output
    assert "short.png (1/3049 s)" in result.stderr and "0.000328" not in result.stderr


def test_sharp_edges_of_the_command_line(tmp_path, bracket, random_checkpoint):
    """`-o -`, a quoted wildcard (as a Windows shell passes it) and a flag given a value."""
    fails_cleanly(invoke("merge", *bracket, "-e", EXPOSURES, "-o", "-"), "cannot go to stdout")
    assert not Path("-").exists()
    pattern = tmp_path / "*.png"
    result = invoke("merge", pattern, "-e", EXPOSURES, "-o", tmp_path / "glob.exr", "--weights", random_checkpoint, "-q")
    assert result.exit_code == 0, result.output
    fails_cleanly(invoke("merge", tmp_path / "*.jpg", "-o", tmp_path / "x.exr"), "matched no file")
    fails_cleanly(invoke("merge", *bracket, "--tta", "true", "-e", EXPOSURES, "-o", tmp_path / "y.exr"),
                  "flags take no value")


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path, bracket, random_checkpoint):
    """A log file gets a line per tenth of the tiles (percent, count, elapsed, remaining), no bar."""
    result = invoke("merge", *bracket, "-e", EXPOSURES, "-o", tmp_path / "p.exr", "--tile", 16, "--tile-pad", 8,
                    "--weights", random_checkpoint)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("merging: ")]
    percents = [int(line.split()[1].rstrip("%")) for line in lines]
    assert percents == sorted(percents) and percents[-1] == 100 and len(lines) >= 2, result.stderr
    assert "left" in lines[0] and "left" not in lines[-1]
    assert "\x1b[" not in result.stderr and "━" not in result.stderr

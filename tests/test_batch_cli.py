"""`adnet merge` in batch mode (folders -> one HDR per bracket), brackets of more than three frames,
and --scale, end to end through the CLI."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import as_network, fails_cleanly
from shots import START, corrupt_keeping_exif, exposed, scene, write_jpeg, write_tiff16
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.formats.io import read_hdr, unit_float
from adnet_cli.merge import engine as engine_module

runner = CliRunner()

# Three brackets shot in one session: two AEB bursts (0, -2, +2 EV) back to back, split by the repeated
# pattern; after a 10 s pause a five-frame bracket whose exposures repeat none of theirs, split by the gap.
REFERENCES = ["IMG_0001", "IMG_0004", "IMG_0010"]


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_dry_run_prints_the_grouping_and_writes_nothing(tmp_path, shoot):
    before = snapshot(tmp_path)
    result = invoke("merge", shoot, "-o", tmp_path / "out", "--dry-run", "--weights", tmp_path / "absent.safetensors")
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()
    out = result.stdout
    assert "group 1: 3 frames, exposures from EXIF ExposureTime" in out
    assert "  #0  IMG_0002.jpg  1/400 s  -2.0 EV  12:00:00.30  short\n" in out  # columns line up
    assert "  #1  IMG_0001.jpg  1/100 s  +0.0 EV  12:00:00.00  reference\n" in out
    assert "  #2  IMG_0003.jpg  1/25 s   +2.0 EV  12:00:00.60  long\n" in out
    assert "group 3: 5 frames" in out
    # 1/50 s is the best-exposed frame with steps of 2-8x either side: the reference
    assert "  #1  IMG_0008.jpg  1/800 s   -4.0 EV  12:00:11.30  unused\n" in out
    assert "  #3  IMG_0010.jpg  1/50 s    +0.0 EV  12:00:11.90  reference\n" in out
    assert "  #4  IMG_0011.jpg  1/12 s    +2.1 EV  12:00:12.20  long\n" in out
    for stem in REFERENCES:
        assert f"-> {tmp_path / 'out' / stem}.exr, {tmp_path / 'out' / stem}.png" in out
    assert "11 files in 3 groups: 3 to merge, 0 skipped (output exists), 0 cannot be merged" in out


def test_batch_writes_one_output_per_group_then_skips_existing(tmp_path, shoot, random_checkpoint):
    inputs = snapshot(shoot)
    out = tmp_path / "out"
    result = invoke("merge", shoot, "-o", out, "--weights", random_checkpoint, "--device", "cpu", "--format", "hdr")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}{ext}" for s in REFERENCES for ext in (".hdr", ".png"))
    assert read_hdr(out / "IMG_0010.hdr").shape == (16, 24, 3)
    assert "group 1 (IMG_0001.jpg .. IMG_0003.jpg): 3 frames -> IMG_0001.hdr\n" in result.stderr  # the grouping
    assert "group 3 (IMG_0007.jpg .. IMG_0011.jpg): 5 frames, using IMG_0009.jpg, IMG_0010.jpg, IMG_0011.jpg" in result.stderr
    assert "group 3: 5 frames: using #2 IMG_0009.jpg, #3 IMG_0010.jpg (reference), #4 IMG_0011.jpg" in result.stderr
    assert f"merged 3 of 3 groups into {out}" in result.stderr
    assert snapshot(shoot) == inputs
    written = snapshot(out)
    # Again: every output exists, so nothing is merged and no weights are even loaded.
    again = invoke("merge", shoot, "-o", out, "--weights", tmp_path / "absent.safetensors", "--format", "hdr")
    assert again.exit_code == 0, again.output
    assert "merged 0 of 3 groups" in again.stderr and "skipped 3 whose output exists" in again.stderr
    assert snapshot(out) == written


def test_a_corrupt_file_fails_its_group_only(tmp_path, shoot, random_checkpoint):
    corrupt_keeping_exif(shoot / "IMG_0005.jpg")
    out = tmp_path / "out"
    result = invoke("merge", shoot, "-o", out, "--weights", random_checkpoint, "--device", "cpu", "--no-preview")
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["IMG_0001.exr", "IMG_0010.exr"]
    assert "merged 2 of 3 groups" in result.stderr and "1 failed" in result.stderr
    assert "group 3 (IMG_0007.jpg .. IMG_0011.jpg): 5 frames, using " in result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(failures) == 1
    assert "group 2 (IMG_0004.jpg .. IMG_0006.jpg)" in failures[0] and "IMG_0005.jpg: the file is truncated" in failures[0]
    assert "IMG_0005.jpg: the file is truncated" not in result.stderr.replace(failures[0], "")  # said once
    assert "Traceback" not in result.output


def test_group_size_with_ev_for_files_without_exif(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    radiance = scene()
    for i, t in enumerate([0.04, 0.01, 0.16] * 2):
        cv2.imwrite(str(folder / f"f{i}.png"), np.round(exposed(radiance, t) * 255).astype(np.uint8)[..., ::-1])
    out = tmp_path / "out"
    result = invoke("merge", folder, "-o", out, "--ev", "0,-2,2", "--group-size", 3, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "6 files in 2 groups: 2 to merge" in result.stdout
    assert "  #0  f1.png  -2 EV  -  short\n" in result.stdout and "  #1  f3.png  +0 EV  -  reference\n" in result.stdout
    assert "ordered by file name" in result.stderr
    fails_cleanly(invoke("merge", folder, "-o", out, "--ev", "0,-2,2"), "need --group-size")


def test_short_groups_are_reported_and_fail(tmp_path, shoot):
    result = invoke("merge", shoot, "-o", tmp_path / "out", "--group-size", 4, "--dry-run")
    assert result.exit_code == 0
    assert "11 files in 3 groups: 3 to merge" in result.stdout  # 4 + 4 + 3
    result = invoke("merge", shoot, "-o", tmp_path / "out", "--group-size", 5, "--dry-run")
    assert result.exit_code == 1  # the dry run fails as the run would
    assert ("group 3 (IMG_0011.jpg): 1 frame: cannot merge: ADNet needs at least 3 frames; got 1 (what --group-size "
            "5 leaves over at the end)") in result.stdout
    assert "2 to merge, 0 skipped (output exists), 1 cannot be merged" in result.stdout
    result = invoke("merge", shoot, "-o", tmp_path / "out", "--group-size", 5, "--weights", tmp_path / "absent.st")
    fails_cleanly(result, "weights file not found")  # the two good groups need weights: the whole run stops


def five_frames(folder: Path) -> list[Path]:
    radiance, paths = scene(), []
    for name, t in (("a", 0.16), ("b", 0.01), ("c", 0.04), ("d", 0.0025), ("e", 0.64)):
        paths.append(folder / f"{name}.png")
        cv2.imwrite(str(paths[-1]), np.round(exposed(radiance, t) * 255).astype(np.uint8)[..., ::-1])
    return paths


def test_single_bracket_of_five_frames(tmp_path, random_checkpoint):
    paths = five_frames(tmp_path)
    exposures = "0.16,0.01,0.04,0.0025,0.64"
    out = tmp_path / "x.exr"
    result = invoke("merge", *paths, "-e", exposures, "-o", out, "--weights", random_checkpoint, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "5 frames: using #1 b.png, #2 c.png (reference), #3 a.png" in result.stderr  # 4x steps, not 16x
    assert "reference c.png" in result.stderr and read_hdr(out).shape == (16, 24, 3)
    picked = invoke("merge", *paths, "-e", exposures, "-o", tmp_path / "y.exr", "--frames", "1,3,4", "--dry-run")
    assert picked.exit_code == 0, picked.output
    assert "  #3  a.png  0.16 s   +0.0 EV  -  reference\n" in picked.stdout
    assert "  #2  c.png  1/25 s   -2.0 EV  -  unused\n" in picked.stdout
    fails_cleanly(invoke("merge", *paths, "-e", exposures, "-o", tmp_path / "y.exr", "--frames", "0,2,7"), "out of range")
    fails_cleanly(invoke("merge", *paths, "-e", exposures, "-o", tmp_path / "y.exr", "--frames", "0,2"), "--frames")


def test_response_and_alignment_are_applied_and_said(tmp_path, shoot, random_checkpoint):
    files = sorted(shoot.iterdir())[:3]
    out = tmp_path / "x.exr"
    args = ["-o", out, "--response", "srgb", "--align", "--weights", random_checkpoint, "--device", "cpu"]
    result = invoke("merge", *files, *args)
    assert result.exit_code == 0, result.output
    assert "sRGB curve inverted" in result.stderr
    assert "aligned IMG_0002.jpg" in result.stderr and "aligned IMG_0003.jpg" in result.stderr
    assert read_hdr(out).shape == (16, 24, 3)
    # Each step is said as it happens: the alignment before the network's progress, not after it.
    lines = result.stderr.splitlines()
    aligned = next(i for i, line in enumerate(lines) if "aligned IMG_0002.jpg" in line)
    assert aligned < next(i for i, line in enumerate(lines) if line.startswith("merging: "))


def test_batch_progress_in_a_pipe_is_plain_lines_of_groups_and_tiles(tmp_path, shoot, random_checkpoint):
    """Not a terminal (as in a pipe or a log): a line per tenth of the groups, and of each group's tiles."""
    result = invoke("merge", shoot, "-o", tmp_path / "out", "--weights", random_checkpoint, "--device", "cpu",
                    "--tile", "16", "--tile-pad", "4", "--no-preview")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    tiles = [line for line in lines if line.startswith("  tiles of the group: ")]
    groups = [line for line in lines if line.startswith("merging groups: ")]
    assert [line.split(" (")[0] for line in groups] == ["merging groups: 33%", "merging groups: 66%", "merging groups: 100%"]
    assert sum(line.startswith("  tiles of the group: 100% (2/2)") for line in tiles) == 3  # 16 x 24 px: two 16 px tiles
    assert all(len(line) < 100 and "\r" not in line for line in tiles + groups)


def test_three_files_and_an_output_folder_is_batch_mode(tmp_path, shoot):
    files = sorted(shoot.iterdir())[:3]
    result = invoke("merge", *files, "-o", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"-> {tmp_path / 'out' / 'IMG_0001'}.exr" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{tmp}/out", "--preview", "{tmp}/p.png"], "--preview names one file"),
        (["-o", "{tmp}/out.png"], "must be a folder"),
        (["-o", "{shoot}/IMG_0001.jpg"], "not a folder"),
        (["-o", "{tmp}/out", "--scale", "fixed:1/60", "--ev", "0,-2,2", "--group-size", "3"], "not --ev"),
        (["-o", "{tmp}/out", "--scale", "absolute"], "--scale"),
    ],
)
def test_bad_batch_options_fail_with_one_line(tmp_path, shoot, args, message):
    filled = [a.format(tmp=tmp_path, shoot=shoot) for a in args]
    fails_cleanly(invoke("merge", shoot, *filled, "--dry-run"), message)


def test_single_mode_refuses_batch_options(tmp_path, shoot):
    files = sorted(shoot.iterdir())[:3]
    fails_cleanly(invoke("merge", *files, "-o", tmp_path / "x.exr", "--gap", 5), "batch mode")
    fails_cleanly(invoke("merge", *files, "-o", tmp_path / "x.exr", "--format", "hdr"), "does not match --format")


def reference_linearised(model, frames, *args) -> np.ndarray:
    """A stand-in for the network: the reference frame linearised, 1.0 = its white level."""
    return unit_float(frames[1]) ** np.float32(2.2)


def test_fixed_scale_puts_brackets_of_one_scene_on_one_scale(tmp_path, shoot, random_checkpoint, monkeypatch):
    # An ideal merge for this test: the reference frame linearised (1.0 = its white level), so that the
    # scaling is what is tested, not the random network.
    monkeypatch.setattr(engine_module, "run_network", as_network(reference_linearised))
    folder = tmp_path / "tiffs"
    folder.mkdir()
    radiance = scene(seed=3)
    brackets = {
        "A": (Fraction(1, 100), Fraction(1, 25), Fraction(4, 25)),
        "B": (Fraction(1, 200), Fraction(1, 50), Fraction(2, 25)),
    }
    for start, (name, times) in zip((0, 10), brackets.items()):
        for i, t in enumerate(times):
            write_tiff16(folder / f"{name}{i}.tif", exposed(radiance, float(t)), t, START + timedelta(seconds=start + i / 2))
    values = {}
    for scale in ("reference", "fixed:1/30"):
        out = tmp_path / scale.replace(":", "_").replace("/", "_")
        args = ["merge", folder, "-o", out, "--scale", scale, "--float32", "--no-preview", "--weights", random_checkpoint]
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        values[scale] = (read_hdr(out / "A1.exr"), read_hdr(out / "B1.exr"))
    first, second = values["reference"]  # references at 1/25 s and 1/50 s: the second is half as bright
    np.testing.assert_allclose(first, np.clip(radiance * 20 / 25, 0, 1), atol=1e-3)  # 1.0 = the reference's white
    np.testing.assert_allclose(second, first / 2, rtol=2e-3, atol=1e-5)
    first, second = values["fixed:1/30"]
    np.testing.assert_allclose(second, first, rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(first, values["reference"][0] * 25 / 30, rtol=1e-5)


def test_iso_changes_and_missing_tags_are_shown_in_the_dry_run(tmp_path):
    folder = tmp_path / "iso"
    folder.mkdir()
    radiance = scene()
    # One bracket at 1/100 s ISO 100 and 400 and 1/25 s ISO 400 (auto ISO), then one without ISO tags.
    shots = [(Fraction(1, 100), 100), (Fraction(1, 100), 400), (Fraction(1, 25), 400),
             (Fraction(1, 400), None), (Fraction(1, 100), None), (Fraction(1, 25), None)]
    for i, (t, iso) in enumerate(shots):
        when = START + timedelta(seconds=i / 4 + 10 * (i >= 3))
        write_jpeg(folder / f"P{i}.jpg", exposed(radiance, float(t) * (iso or 100) / 100), t, when, iso=iso)
    result = invoke("merge", folder, "-o", tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "group 1: 3 frames, exposures from EXIF ExposureTime x ISO (ISO differs across frames" in out
    assert "  #0  P0.jpg  1/400 s  -2.0 EV  12:00:00.00  short\n" in out  # 1/100 s at ISO 100 = 1/400 s at 400
    assert "  #1  P1.jpg  1/100 s  +0.0 EV  12:00:00.25  reference\n" in out
    assert "group 2: 3 frames, exposures from EXIF ExposureTime\n" in out
    assert out.count("  note: no ISO in EXIF: assumed the same in every frame\n") == 1
    assert "6 files in 2 groups: 2 to merge" in out


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 radiance with texture at every scale alignment needs, about 0.05 .. 2."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).normal(size=(height, width)).astype(np.float32), (0, 0), 2.0)
    return (0.4 * np.exp(0.6 * noise / noise.std()))[..., None] * np.array([1.0, 0.9, 0.8], np.float32)


def test_align_with_crop_merges_what_every_frame_covers(tmp_path, random_checkpoint, monkeypatch):
    monkeypatch.setattr(engine_module, "run_network", as_network(reference_linearised))
    height, width, margin = 96, 128, 10
    canvas = textured(height + 2 * margin, width + 2 * margin)
    # Hand-held: the short frame's view moved 6 px right, the long frame's 5 px up, so the left 6 columns
    # and the bottom 5 rows of the reference's view are missing from one of them.
    views = {"h0.tif": (0, 6, Fraction(1, 400)), "h1.tif": (0, 0, Fraction(1, 100)), "h2.tif": (-5, 0, Fraction(1, 25))}
    paths = []
    for i, (name, (dy, dx, t)) in enumerate(views.items()):
        view = canvas[margin + dy : margin + dy + height, margin + dx : margin + dx + width]
        paths.append(write_tiff16(tmp_path / name, exposed(view, float(t)), t, START + timedelta(seconds=i / 4)))
    fails_cleanly(invoke("merge", *paths, "-o", tmp_path / "x.exr", "--crop"), "give it with --align")
    args = ["--align", "--float32", "--weights", random_checkpoint]
    filled = invoke("merge", *paths, "-o", tmp_path / "filled.exr", *args)
    assert filled.exit_code == 0, filled.output
    assert read_hdr(tmp_path / "filled.exr").shape == (height, width, 3)
    result = invoke("merge", *paths, "-o", tmp_path / "cropped.exr", *args, "--crop")
    assert result.exit_code == 0, result.output
    assert "aligned h0.tif: translation, shift (-6.0, +0.0) px" in result.stderr
    assert "aligned h2.tif: translation, shift (+0.0, +5.0) px" in result.stderr
    found = re.search(r"cropped 128x96 to (\d+)x(\d+) at x (\d+), y (\d+)", result.stderr)
    assert found, result.stderr
    w, h, x0, y0 = map(int, found.groups())
    assert 6 <= x0 <= 7 and y0 == 0 and 121 <= w <= 122 and 90 <= h <= 91
    cropped = read_hdr(tmp_path / "cropped.exr")
    assert cropped.shape == (h, w, 3)
    # The stand-in network returns the reference, so the crop must be its pixels at (x0, y0).
    np.testing.assert_allclose(cropped, read_hdr(tmp_path / "filled.exr")[y0 : y0 + h, x0 : x0 + w], atol=1e-6)


def test_an_existing_preview_fails_its_group_before_any_work(tmp_path, shoot, random_checkpoint, monkeypatch):
    monkeypatch.setattr(engine_module, "run_network", as_network(reference_linearised))
    out = tmp_path / "out"
    out.mkdir()
    (out / "IMG_0004.png").write_bytes(b"someone else's picture")  # group 2's preview is in the way
    planned = invoke("merge", shoot, "-o", out, "--dry-run")
    assert planned.exit_code == 1
    preview = out / "IMG_0004.png"
    assert f"-> {out / 'IMG_0004'}.exr, {preview} (cannot merge: {preview} exists (--overwrite" in planned.stdout
    result = invoke("merge", shoot, "-o", out, "--weights", random_checkpoint)
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(failures) == 1 and "group 2 (IMG_0004.jpg .. IMG_0006.jpg)" in failures[0]
    assert "IMG_0004.png exists (--overwrite to replace it, --no-preview to write none)" in failures[0]
    assert (out / "IMG_0004.png").read_bytes() == b"someone else's picture" and not (out / "IMG_0004.exr").exists()
    assert invoke("merge", shoot, "-o", out, "--weights", random_checkpoint, "--overwrite").exit_code == 0
    assert (out / "IMG_0004.exr").exists()


def test_previews_written_into_the_input_folder_are_not_frames(tmp_path, shoot, random_checkpoint, monkeypatch):
    monkeypatch.setattr(engine_module, "run_network", as_network(reference_linearised))
    first = invoke("merge", shoot, "-o", shoot, "--weights", random_checkpoint)
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in shoot.glob("*.png")) == [f"{stem}.png" for stem in REFERENCES]
    again = invoke("merge", shoot, "-o", shoot, "--dry-run")
    assert again.exit_code == 0, again.output
    assert "ordered by file name" not in again.stderr  # a preview has no capture time: it would break the order
    assert "11 files in 3 groups: 0 to merge, 3 skipped (output exists), 0 cannot be merged" in again.stdout


def test_the_single_bracket_dry_run_shows_capture_times(tmp_path, shoot):
    files = sorted(shoot.iterdir())[:3]  # taken 0.0, 0.3 and 0.6 s after START
    result = runner.invoke(app, ["merge", *map(str, files), "-o", str(tmp_path / "x.exr"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "12:00:00.00" in result.stdout and "12:00:00.30" in result.stdout and "12:00:00.60" in result.stdout


def test_a_hand_timed_bracket_is_one_group_and_a_lone_frame_says_how_to_join_it(tmp_path):
    """A night bracket timed by hand (a minute between frames, one ISO), then one more frame 20 minutes
    later at another ISO: the bracket is found by its exposure pattern, the lone frame fails the dry run
    with the options that would group it."""
    folder = tmp_path / "night"
    folder.mkdir()
    radiance = scene()
    for i, (offset, t) in enumerate([(0, Fraction(1, 30)), (70, Fraction(1, 4)), (150, Fraction(2))]):
        write_jpeg(folder / f"N{i}.jpg", exposed(radiance, float(t), white=0.5), t, START + timedelta(seconds=offset))
    write_jpeg(folder / "N3.jpg", exposed(radiance, 2.0, white=0.5), Fraction(2), START + timedelta(seconds=1350), iso=800)
    result = invoke("merge", folder, "-o", tmp_path / "out", "--dry-run", "--weights", tmp_path / "absent.safetensors")
    assert result.exit_code == 1, result.output
    assert "group 1: 3 frames, exposures from EXIF ExposureTime" in result.stdout
    assert ("group 2 (N3.jpg): 1 frame: cannot merge: ADNet needs at least 3 frames; got 1 (the nearest other file "
            "was taken 1.2e+03 s away: --gap 1200 joins them, or --group-size N takes every N files in capture order "
            "as one bracket)") in result.stdout
    assert "1 to merge, 0 skipped (output exists), 1 cannot be merged" in result.stdout

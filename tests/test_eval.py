"""`adnet eval` end to end on tiny datasets stored exactly as the real ones, and its scoring."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from layouts import radiance as small_radiance
from layouts import write_kalantari, write_ntire
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.evaluation.datasets import find_scenes
from adnet_cli.evaluation.evaluate import score_prediction
from adnet_cli.formats.io import read_hdr

runner = CliRunner()


def radiance(seed: int) -> np.ndarray:
    """(16, 24, 3) test radiance: big enough for SSIM's 11 x 11 window."""
    return small_radiance(seed).repeat(2, axis=0).repeat(2, axis=1)
ALL = ["--method", "adnet", "--method", "debevec", "--method", "robertson", "--method", "medium"]


@pytest.fixture
def kalantari(tmp_path: Path) -> Path:
    root = tmp_path / "sig17"
    write_kalantari(root / "Test" / "PAPER" / "001", radiance(1), (-2.0, 0.0, 2.0), 16)
    write_kalantari(root / "Test" / "EXTRA" / "002", radiance(2), (0.0, 2.0, 4.0), 8)
    return root


@pytest.fixture
def ntire(tmp_path: Path) -> Path:
    root = tmp_path / "ntire"
    for i in range(3):
        write_ntire(root, f"{i:04d}_", radiance(10 + i), ("short.png", "medium.png", "long.png"))
    return root


def run_eval(*args: object):
    return runner.invoke(app, ["eval", *(str(a) for a in args)])


def test_perfect_prediction_scores_infinite_psnr_and_unit_ssim(kalantari):
    scene = find_scenes(kalantari)[0].load()
    scores = score_prediction(scene.hdr, scene)
    assert all(scores[k] == float("inf") for k in ("PSNR-l", "PSNR-mu", "NTIRE PSNR-L", "NTIRE PSNR-mu"))
    assert scores["SSIM-l"] == pytest.approx(1.0) and scores["SSIM-mu"] == pytest.approx(1.0)
    worse = score_prediction(scene.hdr * 1.1, scene)
    assert np.isfinite(worse["PSNR-mu"]) and worse["PSNR-mu"] > 20


def test_kalantari_all_methods_table_json_csv_and_predictions(tmp_path, kalantari, random_checkpoint):
    out_json, out_csv, saved = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "pred"
    result = run_eval(kalantari, *ALL, "--weights", random_checkpoint, "--json", out_json, "--csv", out_csv,
                      "--save-dir", saved, "--device", "cpu")
    assert result.exit_code == 0, result.output
    for word in ("Test/PAPER/001", "Test/EXTRA/002", "mean", "PSNR-mu", "debevec", "kalantari layout"):
        assert word in result.stdout
    report = json.loads(out_json.read_text())
    assert len(report["results"]) == 8 and report["layout"] == "kalantari"
    means = report["mean"]
    # Noise-free data through the dataset's own response: Debevec recovers it well, and the medium
    # frame alone loses its clipped highlights.
    assert means["debevec"]["PSNR-mu"] > 35 and means["debevec"]["PSNR-mu"] > means["medium"]["PSNR-mu"] + 3
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 8 and {"PSNR-l", "SSIM-mu", "NTIRE PSNR-mu"} <= set(rows[0])
    exr = saved / "debevec" / "Test__PAPER__001.exr"
    assert read_hdr(exr).shape == (16, 24, 3) and exr.with_suffix(".png").is_file()


def test_ntire_flat_and_folder_layouts(tmp_path, ntire):
    out = tmp_path / "n.json"
    result = run_eval(ntire, "--method", "debevec", "--method", "medium", "--json", out)
    assert result.exit_code == 0, result.output
    assert "NTIRE PSNR-mu" in result.stdout and "0002" in result.stdout
    report = json.loads(out.read_text())
    assert report["layout"] == "ntire" and report["mean"]["debevec"]["NTIRE PSNR-mu"] > 30
    folders = tmp_path / "folders"
    write_ntire(folders / "sceneA", "", radiance(30), ("0.png", "1.png", "2.png"))
    assert run_eval(folders, "--method", "medium").exit_code == 0


def test_a_failing_scene_is_reported_and_the_others_scored(tmp_path, kalantari):
    (kalantari / "Test" / "EXTRA" / "002" / "HDRImg.hdr").unlink()
    out = tmp_path / "r.json"
    result = run_eval(kalantari, "--method", "debevec", "--json", out)
    assert result.exit_code == 1
    assert "failed" in result.stdout and "Test/EXTRA/002" in result.stderr and "HDRImg.hdr" in result.stderr
    rows = json.loads(out.read_text())["results"]
    assert [r["error"] is None for r in rows] == [False, True]  # EXTRA sorts before PAPER


def test_existing_report_needs_overwrite(tmp_path, kalantari):
    out = tmp_path / "r.json"
    out.write_text("keep")
    result = run_eval(kalantari, "--method", "medium", "--json", out)
    assert result.exit_code != 0 and "exists" in result.stderr and out.read_text() == "keep"
    assert run_eval(kalantari, "--method", "medium", "--json", out, "--overwrite").exit_code == 0


def test_unknown_dataset_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_eval(tmp_path / "empty")
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1


def test_torchrun_two_processes_gather_one_report(tmp_path, ntire):
    single, multi = tmp_path / "single.json", tmp_path / "multi.json"
    assert run_eval(ntire, "--method", "debevec", "--method", "medium", "--json", single).exit_code == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29544",
           "-m", "adnet_cli", "eval", str(ntire), "--method", "debevec", "--method", "medium", "--json", str(multi), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = json.loads(single.read_text()), json.loads(multi.read_text())
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(b["results"]) == strip(a["results"]) and len(b["results"]) == 6


def test_an_unwritable_save_dir_is_found_before_any_scene_is_scored(tmp_path, kalantari, monkeypatch):
    from helpers import fails_cleanly

    from adnet_cli.evaluation import evaluate

    monkeypatch.setattr(evaluate, "evaluate_scene", lambda *a, **k: pytest.fail("a scene was scored"))
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    fails_cleanly(run_eval(kalantari, "--method", "medium", "--save-dir", blocker / "pred", "-q"), "--save-dir")

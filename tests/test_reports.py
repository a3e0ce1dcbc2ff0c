"""--json reports: what a pipeline reads instead of the text, parsed back as JSON."""

from __future__ import annotations

import json

from helpers import EXPOSURES, fails_cleanly, invoke, write_bracket


def test_a_merge_reports_its_frames_preparation_engine_and_outputs(tmp_path, random_checkpoint):
    frames = write_bracket(tmp_path)
    report = tmp_path / "report.json"
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "o.exr", "-p", tmp_path / "o.png", "--align",
                    "--weights", random_checkpoint, "--json", report)
    assert result.exit_code == 0, result.output
    found = json.loads(report.read_text())
    assert found["schema"] == 1 and found["command"] == "merge" and found["dry_run"] is False
    assert found["engine"]["weights"] == str(random_checkpoint) and found["engine"]["precision"] == "float32"
    assert "sha256" in found["engine"]["software"]
    (bracket,) = found["brackets"]
    assert [f["role"] for f in bracket["frames"]] == ["short", "reference", "long"]
    assert [f["exposure_s"] for f in bracket["frames"]] == [0.01, 0.04, 0.16] and bracket["exposures_from"] == "--exposures"
    merged = bracket["merge"]
    assert merged["outputs"] == [str(tmp_path / "o.exr"), str(tmp_path / "o.png")] and merged["size"] == [36, 24]
    assert any(line.startswith("aligned ") for line in merged["preparation"]) and merged["seconds"] > 0


def test_a_dry_run_report_on_stdout_is_the_only_thing_there(tmp_path):
    frames = write_bracket(tmp_path)
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "o.exr", "--dry-run", "--json", "-")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)  # no plan text mixed in
    assert found["dry_run"] is True and found["brackets"][0]["outputs"] == [str(tmp_path / "o.exr")]
    assert not (tmp_path / "o.exr").exists()


def test_a_batch_report_has_every_group_with_its_merge_or_error(tmp_path, shoot, random_checkpoint):  # noqa: F811
    report = tmp_path / "batch.json"
    result = invoke("merge", shoot, "-o", tmp_path / "out", "--group-size", 5, "--weights", random_checkpoint,
                    "--no-preview", "--json", report)
    assert result.exit_code == 1  # the last group has one frame
    groups = json.loads(report.read_text())["groups"]
    assert [g["group"] for g in groups] == [1, 2, 3]
    assert all(g["merge"]["outputs"] for g in groups[:2]) and groups[2]["error"].startswith("ADNet needs at least 3")
    planned = json.loads(invoke("merge", shoot, "-o", tmp_path / "out2", "--dry-run", "--json", "-").stdout)
    assert [len(g["files"]) for g in planned["groups"]] == [3, 3, 5]
    assert planned["groups"][2]["plan"]["frames"][3]["role"] == "reference"


def test_info_reports_as_json_and_a_report_never_replaces_an_input(tmp_path, random_checkpoint):
    found = json.loads(invoke("info", "--weights", random_checkpoint, "--json", "-").stdout)
    assert found["command"] == "info" and found["weights_load"] is True and "torch" in found["versions"]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    broken = invoke("info", "--weights", bad, "--json", "-")
    assert broken.exit_code == 1 and json.loads(broken.stdout)["weights_load"] is False
    frames = write_bracket(tmp_path)
    fails_cleanly(invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "o.exr", "--json", frames[0]),
                  "refusing to overwrite an input")

"""Training: the loss goes down, resuming continues the same curve, DDP runs on two CPU processes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY, TINY_ARGS, tiny_config
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.errors import AdnetError
from adnet_cli.network.model import ADNet
from adnet_cli.network.preprocess import build_inputs, from_linear
from adnet_cli.network.weights import load_weights
from adnet_cli.training.train import hdr_loss, train
from adnet_cli.training.train_data import DataSpec, SampleSource, make_batch


def losses(out: Path) -> list[float]:
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [e["loss"] for e in lines if e["event"] == "step"]


def test_loss_is_zero_for_a_perfect_prediction_and_positive_otherwise():
    hdr = torch.rand(2, 3, 8, 8) * 3
    exposures = torch.tensor([[0.25, 1.0, 4.0]] * 2, dtype=torch.float64)
    for convention in ("kalantari", "ntire"):
        perfect = from_linear(hdr, exposures, convention)
        assert hdr_loss(perfect, hdr, exposures, convention).item() == pytest.approx(0, abs=1e-7)
        assert hdr_loss(perfect * 1.5, hdr, exposures, convention).item() > 1e-3


def test_a_few_steps_on_a_fixed_batch_lower_the_loss():
    torch.manual_seed(0)
    model = ADNet(TINY, deform_backend="torch")
    source = SampleSource([DataSpec.parse("synthetic")], crop=32, nominal_gamma=2.2)
    batch = make_batch(source, seed=5, step=0, rank=0, batch_size=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    values = []
    for _ in range(20):
        pred = model(*build_inputs(batch.ldrs, batch.exposures, "kalantari", batch.gamma))
        loss = hdr_loss(pred, batch.hdr, batch.exposures, "kalantari")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        values.append(loss.item())
    assert min(values[-3:]) < 0.75 * values[0], values


def test_batches_are_a_function_of_seed_step_and_rank():
    source = SampleSource([DataSpec.parse("synthetic")], crop=32, nominal_gamma=2.2)
    a, b = make_batch(source, 1, 3, 0, 2), make_batch(source, 1, 3, 0, 2)
    assert torch.equal(a.ldrs, b.ldrs) and torch.equal(a.hdr, b.hdr)
    assert not torch.equal(a.ldrs, make_batch(source, 1, 3, 1, 2).ldrs)
    assert not torch.equal(a.ldrs, make_batch(source, 1, 4, 0, 2).ldrs)


class Killed(Exception):
    pass


def kill_after(kind: str, step: int):
    def report(event):
        if event.kind == kind and event.step == step:
            raise Killed

    return report


@pytest.mark.parametrize("kill", [("checkpoint", 2), ("step", 3)])
def test_resume_continues_the_same_loss_curve(tmp_path: Path, kill):
    """A run killed after its step-2 checkpoint (or one step later, which the resume redoes) and resumed
    matches one that never stopped; the log holds each step once."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(tiny_config(straight, 4))
    with pytest.raises(Killed):
        train(tiny_config(split, 4), kill_after(*kill))
    assert len(losses(split)) == kill[1]
    train(tiny_config(split, 4), resume=split / "state.pt")
    assert len(losses(straight)) == 4
    assert losses(split) == pytest.approx(losses(straight), rel=1e-6, abs=1e-7)
    a = load_weights(str(straight / "weights.safetensors")).model.state_dict()
    b = load_weights(str(split / "weights.safetensors")).model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_refuses_changed_settings_and_takes_the_new_schedule(tmp_path: Path):
    out = tmp_path / "run"
    train(tiny_config(out, 2))
    with pytest.raises(AdnetError, match="seed: 0 -> 7"):
        train(tiny_config(out, 4, seed=7), resume=out / "state.pt")
    lrs = []
    train(tiny_config(out, 5, lr_decay_every=4), lambda e: e.kind == "step" and lrs.append(e.values["lr"]),
          resume=out / "state.pt")
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-4])  # steps 3, 4, 5 under the new decay period


def test_cli_train_writes_loadable_weights_with_validation(tmp_path: Path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--out", str(out), "--steps", "2", "--val-every", "2", *TINY_ARGS])
    assert result.exit_code == 0, result.output
    loaded = load_weights(str(out / "weights.safetensors"))
    # new runs are residual on the optimal base by default (the shipped weights' base), and say what they were trained on
    assert loaded.convention == "kalantari" and loaded.model.config == dataclasses.replace(TINY, base="optimal")
    assert loaded.metadata["adnet.ratio_range"] == "2,64"
    assert loaded.metadata["adnet.steps"] == "2" and "adnet.val.psnr_mu" in loaded.metadata
    events = [json.loads(line)["event"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert events.count("step") == 2 and "validation" in events and "checkpoint" in events
    again = CliRunner().invoke(app, ["train", "--out", str(out), "--steps", "2", *TINY_ARGS])
    assert again.exit_code != 0 and "already holds a run" in again.stderr


@pytest.mark.parametrize(("args", "message"), [(["--data", "imagenet"], "unknown data source"),
                                                (["--resume"], "does not exist"), (["--crop", "30"], "multiple of 4"),
                                                (["--width", "64,32"], "4 numbers")])
def test_cli_train_bad_options(tmp_path: Path, args, message):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "x"), *TINY_ARGS, *args])
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.output


def test_ddp_on_two_cpu_processes(tmp_path: Path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           "-m", "adnet_cli", "train", "--out", str(out), "--steps", "2", "--quiet", *TINY_ARGS]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(losses(out)) == 2  # rank 0 logs the all-reduced loss once per step
    assert load_weights(str(out / "weights.safetensors")).metadata["adnet.images_seen"] == "8"  # 2 steps x 2 ranks x 2


def test_real_dataset_crops_keep_frames_and_ground_truth_together(tmp_path: Path):
    """kalantari:/ntire: sources: crops, flips and transposes apply to frames and ground truth alike."""
    from layouts import radiance, write_kalantari, write_ntire

    from adnet_cli.errors import InputError

    write_kalantari(tmp_path / "sig17" / "001", radiance(1), (-2.0, 0.0, 2.0), 16)
    write_ntire(tmp_path / "ntire", "0000_", radiance(2), ("short.png", "medium.png", "long.png"))
    for spec, gamma in (("kalantari", 2.2), ("ntire", 2.24)):
        folder = tmp_path / ("sig17" if spec == "kalantari" else "ntire")
        source = SampleSource([DataSpec.parse(f"{spec}:{folder}")], crop=8, nominal_gamma=gamma)
        for seed in range(6):
            frames, exposures, hdr, g = source.draw(seed)
            assert frames.shape == (3, 8, 8, 3) and hdr.shape == (8, 8, 3)
            assert exposures[1] / exposures[0] == pytest.approx(4)
            assert abs(g - gamma) <= 0.1 + 1e-9
            unsaturated = frames[1] < 0.95  # the medium frame sees hdr * 1 through the dataset's response
            assert np.abs(frames[1][unsaturated] ** gamma - hdr[unsaturated]).max() < 0.02
    with pytest.raises(InputError, match="not an NTIRE one"):
        SampleSource([DataSpec.parse(f"ntire:{tmp_path / 'sig17'}")], crop=8, nominal_gamma=2.24)
    with pytest.raises(InputError, match="smaller than the crop"):
        SampleSource([DataSpec.parse(f"kalantari:{tmp_path / 'sig17'}")], crop=16, nominal_gamma=2.2).draw(0)


def test_held_out_scenes_are_left_out_of_training_and_validate_the_run(tmp_path: Path):
    from scenes import write_scene_folder

    from adnet_cli.training.scene_sources import VALIDATION_SCENES

    scenes = write_scene_folder(tmp_path / "hdr", ["train_a.hdr", VALIDATION_SCENES[0], VALIDATION_SCENES[2]])
    source = SampleSource([DataSpec.parse(f"hdr:{scenes}")], crop=16, nominal_gamma=2.2, camera="realistic")
    assert [p.name for p in source.sim_sources[0].files] == ["train_a.hdr"]
    every = SampleSource([DataSpec.parse(f"hdr:{scenes}")], crop=16, nominal_gamma=2.2, holdout=False)
    assert len(every.sim_sources[0].files) == 3
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--steps", "1", "--data", f"hdr:{scenes}", "--val-size", "16", *TINY_ARGS]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    validation = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()
                  if json.loads(line)["event"] == "validation"][-1]
    # two held-out scenes, each static and moving, scored apart; and the synthetic set as always
    assert {"real.static.psnr_mu", "real.moving.psnr_mu", "real.all.psnr_l", "synthetic.moving.psnr_mu",
            "psnr_mu"} <= set(validation)


def test_a_time_budget_stops_the_run_and_is_kept_across_a_resume(tmp_path: Path):
    config = tiny_config(tmp_path / "run", steps=1000, max_minutes=1e-9, val_every=1000, checkpoint_every=1000,
                         snapshots=True)
    train(config)
    snapshot = load_weights(str(tmp_path / "run" / "snapshots" / "step-0000001.safetensors"))
    assert snapshot.metadata["adnet.steps"] == "1" and "adnet.val.psnr_mu" in snapshot.metadata
    first = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in first if e["event"] == "step"] == [1]  # out of time after one step
    assert {e["event"] for e in first} == {"step", "validation", "checkpoint"}
    train(dataclasses.replace(config, max_minutes=1e-9), resume=tmp_path / "run" / "state.pt")
    again = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [e for e in again if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2]
    # the resumed run adds its step's seconds (batch / images per second) to the first run's
    assert steps[1]["train_seconds"] == pytest.approx(steps[0]["train_seconds"] + 2 / steps[1]["images_per_s"])


def test_channels_last_training_gives_the_nchw_gradient():
    """The CPU training step's fast path (channels-last activations) against the plain NCHW step."""
    source = SampleSource([DataSpec.parse("synthetic")], crop=32, nominal_gamma=2.2, camera="realistic")
    batch = make_batch(source, 0, 0, 0, 2)

    def gradients(nhwc: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = ADNet(dataclasses.replace(TINY, base="merge"), deform_backend="torch")
        torch.nn.init.normal_(model.post_conv[2].weight, std=0.01)  # a live residual: every layer gets a gradient
        inputs = build_inputs(batch.ldrs, batch.exposures, "kalantari")
        if nhwc:
            model = model.to(memory_format=torch.channels_last)
            inputs = tuple(x.contiguous(memory_format=torch.channels_last) for x in inputs)
        hdr_loss(model(*inputs), batch.hdr, batch.exposures, "kalantari").backward()
        return [p.grad for p in model.parameters()]

    plain, nhwc = gradients(False), gradients(True)
    assert sum(int(a.norm() > 0) for a in plain) >= 0.75 * len(plain)  # the zero-init offset branches: none
    for a, b in zip(plain, nhwc):
        assert float((a - b).norm()) <= 1e-4 * float(a.norm()) + 1e-12


def test_a_run_saved_before_bases_and_cameras_existed_resumes_with_its_own_settings(tmp_path: Path):
    out = tmp_path / "run"
    old = tiny_config(out, steps=1, camera="gamma", max_ratio=8.0, holdout=False)
    train(old)
    state = torch.load(out / "state.pt", weights_only=True)
    identity = json.loads(state["run"])
    for key in ("camera", "max_ratio", "holdout", "static_share"):
        identity.pop(key)
    identity["model"].pop("base")  # as a state.pt of the first release wrote it
    state["run"] = json.dumps(identity)
    torch.save(state, out / "state.pt")
    train(dataclasses.replace(old, steps=2), resume=out / "state.pt")  # the same settings: accepted
    with pytest.raises(AdnetError, match="camera: gamma -> realistic"):
        train(dataclasses.replace(old, steps=3, camera="realistic"), resume=out / "state.pt")
    with pytest.raises(AdnetError, match="static_share: 0.25 -> 0.5"):
        train(dataclasses.replace(old, steps=3, static_share=0.5), resume=out / "state.pt")


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_static_share_sets_the_simulators_share_of_still_brackets(tmp_path: Path, share: float):
    from adnet_cli.training.simulate import simulate

    source = SampleSource([DataSpec.parse("synthetic")], crop=32, nominal_gamma=2.2, static_share=share)
    assert {simulate(seed, source.sim_config).static for seed in range(12)} == {bool(share)}
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--out", str(out), "--steps", "1", "--static-share", str(share), *TINY_ARGS])
    assert result.exit_code == 0, result.output
    assert load_weights(str(out / "weights.safetensors")).metadata["adnet.static_share"] == f"{share:g}"


def test_static_share_outside_zero_one_is_refused(tmp_path: Path):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "x"), "--static-share", "1.5", *TINY_ARGS])
    assert result.exit_code == 2 and "--static-share" in result.stderr and not (tmp_path / "x").exists()

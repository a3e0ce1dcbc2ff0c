"""Checkpoint loading: formats, wrappers, prefixes, strict key checks and hub addresses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import random_original_state, randomise

from adnet_cli.choices import TYPICAL_RATIOS
from adnet_cli.errors import WeightsError
from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.network.weights import (
    config_from_state_dict,
    load_weights,
    read_state_dict,
    resolve_weights,
    save_weights,
    trained_ratios,
)


def _same_output(a: ADNet, b: ADNet) -> bool:
    xs = [torch.rand(1, 6, 12, 16, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    with torch.no_grad():
        return torch.equal(a(*xs), b(*xs))


def test_safetensors_round_trip_keeps_convention_and_config(tmp_path: Path):
    small = randomise(ADNet(ADNetConfig(nf=16, growth=8, dense_layers=3, groups=2), deform_backend="torch"))
    path = tmp_path / "small.safetensors"
    save_weights(path, small, "ntire")
    loaded = load_weights(str(path), deform_backend="torch")
    assert loaded.convention == "ntire"
    assert loaded.model.config == small.config
    assert _same_output(loaded.model, small)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"params": {f"module.{k}": v for k, v in sd.items()}},
        lambda sd: {"model": {f"_orig_mod.{k}": v for k, v in sd.items()}},
    ],
)
def test_original_release_pth_files_load_strictly(tmp_path: Path, wrap):
    state = random_original_state(seed=3)
    path = tmp_path / "original.pth"
    torch.save(wrap(state), path)
    loaded = load_weights(str(path), deform_backend="torch")
    assert loaded.convention == "ntire"  # the original release's, for bare files
    reference = ADNet(deform_backend="torch").eval()
    reference.load_state_dict(state, strict=True)
    assert _same_output(loaded.model, reference)


def test_convention_option_overrides_bare_files(tmp_path: Path):
    path = tmp_path / "original.pt"
    torch.save(random_original_state(), path)
    assert load_weights(str(path), convention="kalantari", deform_backend="torch").convention == "kalantari"


def test_missing_and_unexpected_keys_are_named(tmp_path: Path):
    state = random_original_state()
    del state["post_conv.2.bias"]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"1 missing keys \(post_conv.2.bias\); 1 unexpected keys \(extra.weight\)"):
        load_weights(str(path), deform_backend="torch")


def test_shape_mismatch_is_reported(tmp_path: Path):
    state = random_original_state()
    state["conv2.1.weight"] = torch.zeros(64, 64, 1, 1)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match="size mismatch.*conv2.1.weight"):
        load_weights(str(path), deform_backend="torch")


def test_pickled_objects_are_refused(tmp_path: Path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": random_original_state(), "cfg": ADNetConfig()}, path)  # a class: not weights_only-safe
    with pytest.raises(WeightsError, match="cannot read weights"):
        read_state_dict(path)


def test_garbage_and_missing_files(tmp_path: Path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_weights(str(junk))
    with pytest.raises(WeightsError, match="not found"):
        resolve_weights(str(tmp_path / "absent.pth"))


def test_no_default_weights_is_a_clear_refusal(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ADNET_WEIGHTS", str(tmp_path / "none.safetensors"))
    with pytest.raises(WeightsError, match="no weights"):
        resolve_weights(None)


def test_config_is_read_off_shapes():
    model = ADNet(ADNetConfig(nf=24, growth=12, dense_layers=4, groups=4), deform_backend="torch")
    assert config_from_state_dict(model.state_dict()) == ADNetConfig(nf=24, growth=12, dense_layers=4, groups=4)


def _hub_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}


def _resolve_in_subprocess(spec: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import sys; from adnet_cli.network.weights import resolve_weights; print(resolve_weights(sys.argv[1]))"
    return subprocess.run([sys.executable, "-c", code, spec], env=env, capture_output=True, text=True)


def test_hub_address_resolves_from_the_offline_cache(tmp_path: Path):
    """A file in the Hugging Face cache layout is found with HF_HUB_OFFLINE=1 (no network)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--someone--adnet"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "w.safetensors").write_bytes(b"x")
    done = _resolve_in_subprocess("hf://someone/adnet/w.safetensors", _hub_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).read_bytes() == b"x"


def test_hub_address_offline_and_uncached_is_a_clear_error(tmp_path: Path):
    done = _resolve_in_subprocess("hf://someone/adnet/w.safetensors", _hub_env(tmp_path))
    assert done.returncode != 0
    assert "not in the local Hugging Face cache" in done.stderr
    with pytest.raises(WeightsError, match=r"expected hf://owner/repo\[@revision\]/file"):
        resolve_weights("hf://only-owner")


def _cache_file(tmp_path: Path, revision: str, commit: str, payload: bytes) -> None:
    """A file in the Hugging Face cache layout for someone/adnet at `revision`."""
    repo = tmp_path / "hf" / "hub" / "models--someone--adnet"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "w.safetensors").write_bytes(payload)


def test_hub_address_pins_a_revision(tmp_path: Path):
    """hf://owner/repo@revision/file is parsed by huggingface_hub and takes that revision's file."""
    _cache_file(tmp_path, "main", "0" * 40, b"main")
    _cache_file(tmp_path, "v1", "1" * 40, b"v1")
    for spec, payload in (("hf://someone/adnet/w.safetensors", b"main"), ("hf://someone/adnet@v1/w.safetensors", b"v1")):
        done = _resolve_in_subprocess(spec, _hub_env(tmp_path))
        assert done.returncode == 0, done.stderr
        assert Path(done.stdout.strip()).read_bytes() == payload


def test_hub_unreachable_and_uncached_fails_fast_in_one_line(tmp_path: Path):
    """Not offline by setting, but the endpoint does not answer: one clear error, no half-minute of retries."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    for name in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    start = time.monotonic()
    done = _resolve_in_subprocess("hf://someone/adnet/w.safetensors", env)
    assert done.returncode != 0
    assert "not in the local Hugging Face cache, and http://127.0.0.1:9 cannot be reached" in done.stderr
    assert "Retrying" not in done.stderr
    assert time.monotonic() - start < 20  # generous: a subprocess start; the hub's own retries take 24 s


def test_a_checkpoint_that_contains_itself_is_refused(tmp_path: Path):
    nested: dict = {"note": "x"}
    nested["state_dict"] = nested
    path = tmp_path / "loop.pth"
    torch.save(nested, path)
    with pytest.raises(WeightsError, match="levels of wrapping"):
        read_state_dict(path)


def test_info_exits_non_zero_when_its_weights_cannot_load(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from adnet_cli.cli import app

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(app, ["info", "--weights", str(bad)])
    assert result.exit_code == 1 and "cannot be loaded" in result.stderr
    monkeypatch.setenv("ADNET_WEIGHTS", str(tmp_path / "absent.safetensors"))
    assert CliRunner().invoke(app, ["info"]).exit_code == 1


def test_the_trained_exposure_steps_are_read_from_the_header(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("ADNET_WEIGHTS", raising=False)
    model = randomise(ADNet(ADNetConfig(nf=8, growth=4, dense_layers=1, groups=1)))
    wide, bare, odd = tmp_path / "wide.safetensors", tmp_path / "bare.safetensors", tmp_path / "odd.safetensors"
    save_weights(wide, model, "kalantari", extra={"adnet.ratio_range": "2,32"})
    save_weights(bare, model, "kalantari")
    save_weights(odd, model, "kalantari", extra={"adnet.ratio_range": "32"})
    assert trained_ratios(str(wide)) == (2.0, 32.0)
    for spec in (bare, odd, tmp_path / "absent.safetensors"):  # none recorded, malformed, missing
        assert trained_ratios(str(spec)) == TYPICAL_RATIOS
    assert trained_ratios(None) == (2.0, 64.0)  # the shipped weights' simulator drew steps up to 64x

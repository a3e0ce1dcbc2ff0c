"""Checkpoint loading: formats, wrappers, prefixes, strict key checks and hub addresses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import randomise
from test_model import random_original_state

from adnet_cli.errors import WeightsError
from adnet_cli.model import ADNet, ADNetConfig
from adnet_cli.weights import config_from_state_dict, load_weights, read_state_dict, resolve_weights, save_weights


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
    code = "import sys; from adnet_cli.weights import resolve_weights; print(resolve_weights(sys.argv[1]))"
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
    with pytest.raises(WeightsError, match="expected hf://owner/repo/filename"):
        resolve_weights("hf://only-owner")

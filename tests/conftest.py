"""Shared fixtures: random-weight models and checkpoints for plumbing tests (helpers: tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import randomise

from adnet_cli.model import ADNet
from adnet_cli.weights import save_weights


@pytest.fixture(scope="session")
def random_model() -> ADNet:
    return randomise(ADNet(deform_backend="torch"))


@pytest.fixture
def random_checkpoint(tmp_path: Path, random_model: ADNet) -> Path:
    """A safetensors checkpoint of random weights (plumbing only), Kalantari convention."""
    path = tmp_path / "random.safetensors"
    save_weights(path, random_model, "kalantari", {"adnet.note": "random weights for tests"})
    return path

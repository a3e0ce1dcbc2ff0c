"""Shared fixtures: random-weight models and checkpoints for plumbing tests, and a folder of one
shoot's JPEGs (helpers: tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import randomise
from shots import write_session

from adnet_cli.network.model import ADNet
from adnet_cli.network.weights import save_weights


@pytest.fixture(scope="session")
def random_model() -> ADNet:
    return randomise(ADNet(deform_backend="torch"))


@pytest.fixture
def random_checkpoint(tmp_path: Path, random_model: ADNet) -> Path:
    """A safetensors checkpoint of random weights (plumbing only), Kalantari convention."""
    path = tmp_path / "random.safetensors"
    save_weights(path, random_model, "kalantari", {"adnet.note": "random weights for tests"})
    return path


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    """A folder of `shots.SESSION`: brackets of 3, 3 and 5 frames, told apart by capture time."""
    return write_session(tmp_path / "shoot")

"""The checkpoint shipped in weights/: it loads as the default and merges the example bracket."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.formats.io import read_hdr
from adnet_cli.network.weights import load_weights, shipped_weights_path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "workshop"


def test_default_weights_are_trained_and_state_their_convention(monkeypatch):
    monkeypatch.delenv("ADNET_WEIGHTS", raising=False)
    loaded = load_weights(None)
    assert loaded.path == shipped_weights_path()
    assert loaded.path.parent.name == "checkpoints" and loaded.path.parent.parent.name == "adnet_cli"
    assert loaded.convention == "kalantari"
    assert int(loaded.metadata["adnet.steps"]) > 0 and "adnet.val.psnr_mu" in loaded.metadata


def test_readme_example_merges_with_the_shipped_weights(tmp_path, monkeypatch):
    """The quick start's merge, on a 64-row strip of the example bracket to keep the test short."""
    monkeypatch.delenv("ADNET_WEIGHTS", raising=False)
    import cv2

    strips = []
    for name in ("short", "medium", "long"):
        image = cv2.imread(str(EXAMPLE / f"{name}.png"))
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), image[96:160])
        strips.append(path)
    out = tmp_path / "strip.exr"
    args = ["merge", *map(str, strips), "-e", "1/100,1/25,1/6", "-o", str(out), "-p", str(tmp_path / "p.png")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    hdr = read_hdr(out)
    reference = read_hdr(EXAMPLE / "reference.hdr")[96:160]
    assert hdr.shape == reference.shape and np.isfinite(hdr).all()
    # The radiometric chain (exposures -> convention -> 1.0 = reference white) holds end to end:
    # the merge's median brightness is within a factor 2 of the ground truth's.
    assert 0.5 < np.median(hdr) / np.median(reference) < 2.0


def test_no_channel_is_exactly_zero_where_every_frame_has_signal(monkeypatch):
    """Dark simulated scenes (the realistic camera's underexposed brackets): wherever all three frames
    hold a non-zero code in a channel, the shipped weights' merge is positive in that channel."""
    monkeypatch.delenv("ADNET_WEIGHTS", raising=False)
    import torch

    from adnet_cli.network.inference import MergeOptions, merge
    from adnet_cli.training.simulate import SimulatorConfig, simulate

    loaded = load_weights(None)
    config = SimulatorConfig(size=64, camera="realistic", ratio_range=(2.0, 8.0))
    darks = [s for s in (simulate(seed, config) for seed in range(60)) if s.dark][:3]
    assert len(darks) == 3
    for s in darks:
        out = merge(loaded.model, s.ldrs, tuple(s.exposures), loaded.convention, torch.device("cpu"),
                    MergeOptions(tile=0, dtype=torch.float32))
        signal = (s.ldrs > 0).all(0)
        assert signal.mean() > 0.3  # the case is really exercised
        assert (out[signal] > 0).all(), f"{int((out[signal] <= 0).sum())} zero channels in a dark scene"

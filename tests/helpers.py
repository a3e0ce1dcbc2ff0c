"""Test helpers (plain functions, imported by tests and benchmarks): random-weight models for plumbing
tests, the original release's key layout, tiny synthetic brackets written as PNGs, the CLI runner, the
check that a command failed cleanly, and oracles (simple references) for the library's fast paths."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from typer.testing import CliRunner

from adnet_cli.cli import app
from adnet_cli.network.inference import EDGE_CONTEXT, _padding
from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.training.train import TrainConfig


def randomise(model: ADNet, seed: int = 0) -> ADNet:
    """Random weights of realistic scale, including non-zero offset predictors (so alignment matters)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 64
            p.copy_(torch.randn(p.shape, generator=gen) * (0.5 / fan_in**0.5))
            if name.endswith("post_conv.2.bias"):
                p.fill_(0.05)  # keep the final ReLU mostly open so outputs are not all zero
    return model.eval()


def pad_for_network(frames: np.ndarray, edge: int = EDGE_CONTEXT) -> np.ndarray:
    """Oracle of inference.padded_window: the whole of (..., H, W, C) inside its mirrored border, by
    np.pad ("reflect", or "edge" where the image is too small to reflect); the image starts at
    (edge, edge) and both padded sides are multiples of 4."""
    h, w = frames.shape[-3:-1]
    bottom, right, reflect = _padding(h, w, edge)
    widths = [(0, 0)] * (frames.ndim - 3) + [(edge, bottom), (edge, right), (0, 0)]
    return np.pad(frames, widths, mode="reflect" if reflect else "edge")


def synthetic_bracket(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, tuple[float, float, float]]:
    """(3, H, W, 3) float32 frames of one smooth random scene at exposures 1, 4, 16 (static, no noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radiance = np.stack(
        [0.02 + 0.3 * (1 + np.sin(xx / (5 + 3 * c) + yy / 7 + rng.uniform(0, 6))) ** 2 for c in range(3)], -1
    )
    radiance *= rng.uniform(0.5, 2.0, size=(height, width, 1)).astype(np.float32) ** 2
    times = (1.0, 4.0, 16.0)
    frames = np.stack([np.clip(radiance * t / 4, 0, 1) ** (1 / 2.2) for t in times])
    return np.round(frames * 255).astype(np.float32) / 255, times


def as_network(merge_fn):
    """`merge_fn(model, frames, exposures, ...) -> (H, W, 3)` wrapped in `run_network`'s contract,
    ``(hdr, NetworkStats)``, so that a test can stand it in for the network."""
    from adnet_cli.network.adaptive import NetworkStats

    def run(model, frames, *args, **kwargs):
        return merge_fn(model, frames, *args), NetworkStats("everywhere", 1, 1, 1.0)

    return run


def fails_cleanly(result, match: str) -> None:
    """A CLI result that exited non-zero with exactly one stderr line containing `match`, no traceback."""
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert match in lines[0], lines[0]
    assert "Traceback" not in result.output


REFERENCE_KEYS = Path(__file__).parent / "data" / "original_state_dict.txt"


def original_layout() -> dict[str, tuple[int, ...]]:
    """Names and shapes of the original release's 110 tensors (copied from shared/reference)."""
    layout = {}
    for line in REFERENCE_KEYS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, shape = line.split(" ", 1)
        layout[name] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    return layout


def random_original_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the original names and shapes, random values of realistic scale."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in original_layout().items():
        fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 64
        state[name] = torch.randn(shape, generator=gen) * (0.5 / fan_in**0.5)
    return state


runner = CliRunner()


EXPOSURES = "1/100,1/25,4/25"  # ratios 1 : 4 : 16, as synthetic_bracket


def write_bracket(folder: Path, height: int = 24, width: int = 36, exif: bool = False) -> list[Path]:
    frames, _ = synthetic_bracket(height, width)
    paths = []
    for name, frame, t in zip(("short", "medium", "long"), frames, ((1, 100), (1, 25), (4, 25))):
        path = folder / f"{name}.png"
        pixels = np.round(frame * 255).astype(np.uint8)
        if exif:
            tags = Image.Exif()
            tags.get_ifd(0x8769)[0x829A] = IFDRational(*t)
            Image.fromarray(pixels).save(path, exif=tags.tobytes())
        else:
            cv2.imwrite(str(path), pixels[..., ::-1])
        paths.append(path)
    return paths


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


# A tiny network for training plumbing tests, as a config and as `adnet train` arguments.
TINY = ADNetConfig(nf=16, growth=8, dense_layers=2, groups=2)
TINY_ARGS = ["--width", "16,8,2,2", "--crop", "32", "--batch-size", "2", "--val-count", "1", "--val-size", "64",
             "--device", "cpu"]


def tiny_config(out: Path, steps: int, **kw) -> TrainConfig:
    base = dict(out_dir=out, steps=steps, batch_size=2, crop=32, model=TINY, val_every=1000, val_count=1,
                val_size=64, checkpoint_every=2, device="cpu", lr=1e-3)
    return TrainConfig(**{**base, **kw})

"""Training ADNet: the paper's recipe (mu-law L1, Adam, step decay), single process or DDP under torchrun.

Outputs in ``out_dir``: ``weights.safetensors`` (for ``adnet merge --weights``), ``state.pt`` (model,
optimiser state, step and run settings, for resuming) and ``log.jsonl`` (one JSON object per logged event).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import torch
import torch.distributed as dist

from adnet_cli.errors import AdnetError, error_line
from adnet_cli.formats.tonemap import MU
from adnet_cli.network.bases import bracket_context
from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.network.preprocess import GAMMA, Convention, build_inputs, from_linear
from adnet_cli.network.weights import META_RATIOS, load_weights, save_weights
from adnet_cli.runtime import autocast, join_torchrun, leave_torchrun, resolve_device, torchrun_launch, training_dtype
from adnet_cli.training.config import TrainConfig
from adnet_cli.training.scene_sources import VALIDATION_SCENES
from adnet_cli.training.train_data import DataSpec, SampleSource, make_batch
from adnet_cli.training.validation import ValidationSets, scoring_engine, validation_sets


@dataclass(frozen=True)
class TrainEvent:
    """What the loop reports: kind is "step", "validation" or "checkpoint"."""

    kind: str
    step: int
    values: dict[str, float | str]


def mu_tonemap(x: torch.Tensor) -> torch.Tensor:
    """Differentiable T(x) = log(1 + mu x) / log(1 + mu), mu = 5000 (tonemap.MU), on any tensor;
    negative values clamp to 0, values above 1 are not clipped (the loss keeps their gradient)."""
    return torch.log1p(MU * x.clamp(min=0)) / math.log1p(MU)


def hdr_loss(pred: torch.Tensor, hdr: torch.Tensor, exposures: torch.Tensor, convention: Convention) -> torch.Tensor:
    """Mu-law L1 between the prediction and the ground truth in the network's output domain.

    pred: (B, 3, H, W) network output; hdr: (B, 3, H, W) linear ground truth, 1.0 = medium white;
    exposures: (B, 3) exposure times. Returns a scalar tensor.

    kalantari: T(x) directly (the domain is linear, 1.0 = shortest frame's white).
    ntire: as the NTIRE code, linearise (gamma 2.24), divide by the ground truth's 99th percentile,
    bound with tanh, then T.
    """
    target = from_linear(hdr, exposures, convention)
    if convention == "kalantari":
        return (mu_tonemap(pred) - mu_tonemap(target)).abs().mean()
    g = GAMMA["ntire"]
    norm = torch.quantile(hdr.flatten(1), 0.99, dim=1).clamp(min=1e-6).view(-1, 1, 1, 1)
    p, t = pred.clamp(min=0).pow(g) / norm, target.pow(g) / norm
    return (mu_tonemap(torch.tanh(p)) - mu_tonemap(torch.tanh(t))).abs().mean()


@dataclass
class _Run:
    """The mutable pieces of one run (not carried between runs)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step: int


def _nhwc(config: TrainConfig, device: torch.device) -> bool:
    return config.channels_last and device.type == "cpu"


def _build(config: TrainConfig, device: torch.device, resume: Path | None) -> _Run:
    torch.manual_seed(config.seed)
    model = ADNet(config.model, deform_backend="auto", convention=config.convention)
    if config.init and resume is None:
        start = load_weights(config.init).model
        if replace(start.config, base=config.model.base) != config.model:
            raise AdnetError(f"--init {config.init} has width {start.config}, the run {config.model}")
        if start.config.base != "none" and config.model.base == "none":
            raise AdnetError(f"--init {config.init} is a residual model (base {start.config.base}); "
                             "its tensors alone are a correction, not an image: train with --base "
                             f"{start.config.base}")
        model.load_state_dict(start.state_dict(), strict=True)
        if config.model.base != start.config.base and config.model.base != "none":
            model.zero_residual()  # its features, but a residual model that starts at its base
    model = model.to(device)
    if _nhwc(config, device):
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
    run = _Run(model, optimizer, 0)
    if resume is not None:
        try:
            state = torch.load(resume, map_location=device, weights_only=True)
            saved = json.loads(state.get("run", "{}"))
        except Exception as exc:  # truncated, garbage, or not a state.pt at all
            raise AdnetError(f"--resume: {resume} is not a training state adnet can read ({error_line(exc)})") from exc
        _check_resumable(saved, _identity(config))
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        run.step = int(state["step"])
    return run


def learning_rate(config: TrainConfig, step: int) -> float:
    """The paper's step decay as a function of the step (0-based), so a resumed run needs no
    scheduler state: lr x 0.1 every `lr_decay_every` steps (0: once, at 2/3 of `steps`)."""
    decay = config.lr_decay_every or max(1, (2 * config.steps) // 3)
    return config.lr * 0.1 ** (step // decay)


def _identity(config: TrainConfig) -> dict[str, object]:
    """What a resumed run must share with the run it continues (steps and schedule may change)."""
    return {"data": list(config.data), "batch_size": config.batch_size, "crop": config.crop, "seed": config.seed,
            "convention": config.convention, "model": json.loads(config.model.to_json()), "camera": config.camera,
            "max_ratio": config.max_ratio, "holdout": config.holdout, "static_share": config.static_share}


# What a state.pt written before these settings existed was trained with.
_LEGACY_IDENTITY = {"camera": "gamma", "max_ratio": 8.0, "holdout": False, "static_share": 0.25}


def _check_resumable(saved: dict[str, object], current: dict[str, object]) -> None:
    saved = {**_LEGACY_IDENTITY, **saved}
    if isinstance(saved.get("model"), dict):  # a config from before `base` existed reads as base none
        saved["model"] = json.loads(ADNetConfig.from_json(json.dumps(saved["model"])).to_json())
    changed = [k for k in current if k in saved and saved[k] != current[k]]
    if changed:
        listing = "; ".join(f"{k}: {saved[k]} -> {current[k]}" for k in changed)
        raise AdnetError(f"--resume with different settings than the saved run ({listing})")


def _metadata(config: TrainConfig, run: _Run, metrics: dict[str, float], images: int,
              ratios: tuple[float, float] | None) -> dict[str, str]:
    return {
        "adnet.steps": str(run.step),
        "adnet.images_seen": str(images),
        "adnet.data": ",".join(config.data),
        "adnet.crop": str(config.crop),
        "adnet.static_share": f"{config.static_share:g}",
        **({META_RATIOS: f"{ratios[0]:g},{ratios[1]:g}"} if ratios else {}),
        "adnet.holdout": ",".join(VALIDATION_SCENES) if config.holdout else "none",
        **{f"adnet.val.{k}": f"{v:.4f}" for k, v in metrics.items()},
        **config.extra,
    }


def _snapshot(config: TrainConfig, run: _Run, metrics: dict[str, float], images: int,
              ratios: tuple[float, float] | None) -> None:
    """The validated weights of this step, kept beside the others (to pick the best, not the last)."""
    folder = config.out_dir / "snapshots"
    folder.mkdir(exist_ok=True)
    extra = _metadata(config, run, metrics, images, ratios)
    save_weights(folder / f"step-{run.step:07d}.safetensors", _unwrap(run.model), config.convention, extra)


def _save(config: TrainConfig, run: _Run, metrics: dict[str, float], images: int,
          ratios: tuple[float, float] | None) -> Path:
    out = config.out_dir
    model = _unwrap(run.model)
    extra = _metadata(config, run, metrics, images, ratios)
    save_weights(out / "weights.safetensors", model, config.convention, extra)
    state = {
        "model": model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "step": run.step,
        "run": json.dumps(_identity(config)),
    }
    tmp = out / ".state.pt.tmp"
    try:
        torch.save(state, tmp)
        os.replace(tmp, out / "state.pt")
    except BaseException:  # a full disk, or a signal: the last complete state.pt stays
        tmp.unlink(missing_ok=True)
        raise
    return out / "weights.safetensors"


def train(
    config: TrainConfig, report: Callable[[TrainEvent], None] = lambda e: None, resume: Path | None = None
) -> dict[str, float]:
    """Run (or continue) training; returns the last validation metrics (rank 0; {} elsewhere).

    Under torchrun (WORLD_SIZE > 1) each process trains on its own batches of `batch_size`
    (so the global batch is world_size x batch_size) with DistributedDataParallel.
    """
    device = resolve_device(config.device, torchrun_launch().local_rank)
    launch = join_torchrun(device)
    world, rank = launch.world, launch.rank
    _check_settings(config)
    run = _build(config, device, resume)  # --init and state.pt are read, and the data found, before
    source = SampleSource([DataSpec.parse(d) for d in config.data], config.crop, GAMMA[config.convention],
                          config.camera, (2.0, config.max_ratio), config.holdout, config.static_share)
    try:  # only now is anything created: a refused run leaves nothing
        config.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AdnetError(f"--out {config.out_dir}: cannot create it ({exc.strerror or exc})") from exc
    if world > 1:
        device_ids = [device.index] if device.type == "cuda" else None
        run.model = torch.nn.parallel.DistributedDataParallel(run.model, device_ids=device_ids)
    val = validation_sets(config.val_count, config.val_size, config.val_scenes) if rank == 0 else ValidationSets([], [])
    metrics: dict[str, float] = {}
    trained = _logged_seconds(config.out_dir / "log.jsonl", run.step) if resume and rank == 0 else 0.0
    log = _open_log(config.out_dir / "log.jsonl", run.step if resume else 0) if rank == 0 else None
    try:
        batches = iter(_batches(config, source, run.step, rank))
        while run.step < config.steps:
            loss, seconds = _train_step(config, run, batches, device)
            if not math.isfinite(loss):  # before this step is saved: the files on disk stay the last finite ones
                raise AdnetError(f"training diverged at step {run.step} (loss {loss}); {config.out_dir} keeps the "
                                 "last checkpoint written before it (lower --lr, or --resume from it)")
            trained += seconds
            images = run.step * config.batch_size * world
            values = {"loss": loss, "lr": learning_rate(config, run.step - 1),
                      "images_per_s": config.batch_size * world / seconds, "train_seconds": trained}
            _emit(report, log, TrainEvent("step", run.step, values), rank)
            last = run.step == config.steps or _out_of_time(config, trained, world, device)
            if rank == 0 and (run.step % config.val_every == 0 or last) and val.synthetic:
                metrics = val.score(scoring_engine(_unwrap(run.model), config.convention, device))
                _emit(report, log, TrainEvent("validation", run.step, {**metrics, "train_seconds": trained}), rank)
                if config.snapshots:
                    _snapshot(config, run, metrics, images, source.simulated_ratios)
            if rank == 0 and (run.step % config.checkpoint_every == 0 or last):
                path = _save(config, run, metrics, images, source.simulated_ratios)
                _emit(report, log, TrainEvent("checkpoint", run.step, {"path": str(path)}), rank)
            if last:
                break
    finally:
        if log:
            log.close()
        if world > 1:
            leave_torchrun()
    return metrics


def _check_settings(config: TrainConfig) -> None:
    """Refuse numbers no run can use, before anything is created."""
    if not (math.isfinite(config.lr) and config.lr > 0):
        raise AdnetError(f"--lr must be a positive finite number, got {config.lr}")
    if config.lr_decay_every < 0:
        raise AdnetError(f"--lr-decay-every must be 0 (once, at 2/3 of the run) or a positive step count, "
                         f"got {config.lr_decay_every}")


def _out_of_time(config: TrainConfig, trained: float, world: int, device: torch.device) -> bool:
    """Whether the run's training-time budget is spent; under DDP rank 0 decides for all ranks (on
    `device`: NCCL takes no CPU tensors)."""
    if config.max_minutes <= 0:  # the same on every rank: no collective needed
        return False
    out = torch.tensor([trained >= 60 * config.max_minutes], dtype=torch.int32, device=device)
    if world > 1 and dist.is_initialized():
        dist.broadcast(out, 0)
    return bool(out.item())


def _logged_seconds(log_path: Path, until: int) -> float:
    """Training seconds a resumed run had spent by step `until` (its log's last step event)."""
    seconds = 0.0
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "step" and event["step"] <= until:
                seconds = float(event.get("train_seconds", seconds))
    return seconds


def _open_log(path: Path, keep_until: int) -> TextIO:
    """The JSON-lines log, keeping only events up to step `keep_until` (a resumed run rewinds to its
    checkpoint, so later lines of the killed run would otherwise appear twice)."""
    kept = []
    if keep_until > 0 and path.exists():
        kept = [line for line in path.read_text().splitlines(keepends=True) if json.loads(line)["step"] <= keep_until]
    log = path.open("w")
    log.writelines(kept)
    return log


def _unwrap(model: torch.nn.Module) -> ADNet:
    return model.module if hasattr(model, "module") else model  # type: ignore[return-value]


class _StepBatches(torch.utils.data.IterableDataset):
    """The batches of steps [start, stop) of one rank, in order; with DataLoader workers, worker k
    makes steps start + k, start + k + n, ... and the loader hands them out round-robin, in order."""

    def __init__(self, source: SampleSource, config: TrainConfig, start: int, rank: int) -> None:
        self.source, self.config, self.start, self.rank = source, config, start, rank

    def __iter__(self):  # type: ignore[no-untyped-def]
        info = torch.utils.data.get_worker_info()
        k, n = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.start + k, self.config.steps, n):
            yield make_batch(self.source, self.config.seed, step, self.rank, self.config.batch_size)


def _batches(config: TrainConfig, source: SampleSource, start: int, rank: int):  # type: ignore[no-untyped-def]
    """Each step's batch (a pure function of seed, step and rank, so resuming sees the same ones),
    simulated in `config.workers` processes ahead of the model, or in the loop."""
    batches = _StepBatches(source, config, start, rank)
    if config.workers <= 0:
        return batches
    return torch.utils.data.DataLoader(batches, batch_size=None, num_workers=config.workers, prefetch_factor=2)


def _train_step(config: TrainConfig, run: _Run, batches, device: torch.device) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    batch = next(batches)
    ldrs, hdr = batch.ldrs.to(device), batch.hdr.to(device)
    exposures, gamma = batch.exposures.to(device), batch.gamma.to(device)
    run.model.train()
    dtype = training_dtype(config.amp, device)
    inputs = build_inputs(ldrs, exposures, config.convention, gamma)
    context = bracket_context(ldrs, exposures, config.convention, gamma)  # a crop is its whole bracket: maps from it
    if _nhwc(config, device):
        inputs = tuple(x.contiguous(memory_format=torch.channels_last) for x in inputs)
    with autocast(device, dtype):
        pred = run.model(*inputs, context)
    loss = hdr_loss(pred.float(), hdr, exposures, config.convention)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(config, run.step)
    run.optimizer.step()
    run.step += 1
    value = loss.detach()
    if dist.is_initialized():
        dist.all_reduce(value)
        value /= dist.get_world_size()
    return float(value), time.perf_counter() - start


def _emit(report: Callable[[TrainEvent], None], log: TextIO | None, event: TrainEvent, rank: int) -> None:
    if rank != 0:
        return
    if log is not None:
        log.write(json.dumps({"event": event.kind, "step": event.step, **event.values, "time": time.time()}) + "\n")
        log.flush()
    report(event)

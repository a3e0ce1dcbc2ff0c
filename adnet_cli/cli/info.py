"""`adnet info`: versions, device, deformable-conv backend and weights in use."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from adnet_cli.cli.common import check_json_target, emit_json, error, reported_errors, results
from adnet_cli.cli.options import Debug, Device, JsonReport, Weights
from adnet_cli.version import __version__

if TYPE_CHECKING:
    import torch

_PACKAGES = ("torch", "torchvision", "numpy", "opencv-python-headless", "OpenEXR", "safetensors", "huggingface-hub")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _weights_row(spec: str | None) -> tuple[str, bool]:
    """What the weights `spec` would load as, and whether they load (the model is built, strictly)."""
    from adnet_cli.errors import AdnetError
    from adnet_cli.network.weights import META_RATIOS, load_weights

    try:
        loaded = load_weights(spec)
    except AdnetError as exc:
        return str(exc), False
    config, meta = loaded.model.config, loaded.metadata
    ratios = meta.get(META_RATIOS, "not stated").replace(",", "-")
    return (
        f"{loaded.path} (convention: {loaded.convention}; base: {config.base}; "
        f"width: nf {config.nf}, growth {config.growth}; trained exposure ratios: {ratios})"
    ), True


def _precision_row(target: torch.device) -> str:
    from adnet_cli.runtime import keep_freed_memory, native_bf16, precision_label, resolve_precision

    auto = precision_label(resolve_precision("auto", target))
    if target.type != "cpu":
        return f"{auto} (auto)"
    allocator = "glibc keeps freed memory" if keep_freed_memory() else "default allocator"
    return f"{auto} (auto; native bf16: {'yes' if native_bf16() else 'no'}; {allocator})"


def info(weights: Weights = None, device: Device = "auto", json_report: JsonReport = None, debug: Debug = False) -> None:
    """Show versions, the compute device, the deformable-conv backend and the weights in use.

    Exits 1 when those weights cannot be loaded.
    """
    with reported_errors(debug):
        from adnet_cli.network.ops import available_backends, resolve_backend
        from adnet_cli.network.weights import default_weights_path
        from adnet_cli.runtime import cpu_threads, resolve_device

        target = resolve_device(device)
        weights_row, loads = _weights_row(weights)
        rows = [
            ("adnet", __version__),
            ("python", platform.python_version()),
            *((package, _version(package)) for package in _PACKAGES),
            ("device", f"{target} ({cpu_threads()} CPU threads)" if target.type == "cpu" else str(target)),
            ("precision", _precision_row(target)),
            ("deform backend", f"{resolve_backend('auto')} (available: {', '.join(available_backends())})"),
            ("weights", weights_row),
            ("default weights", str(default_weights_path())),
        ]
        check_json_target(json_report)
        if json_report is not None:
            versions = {key: value for key, value in rows[:2 + len(_PACKAGES)]}
            rest = {key.replace(" ", "_"): value for key, value in rows[2 + len(_PACKAGES):]}
            emit_json(json_report, {"command": "info", "versions": versions, **rest, "weights_load": loads})
        width = max(len(key) for key, _ in rows)
        for key, value in [] if json_report == "-" else rows:
            results.print(Text.assemble((f"{key:<{width}}  ", "bold"), value), soft_wrap=True)
        if not loads:
            error(f"the weights cannot be loaded: {weights_row}")
            raise typer.Exit(1)

"""`adnet info`: versions, device, deformable-conv backend and weights in use."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Annotated, Optional

import typer
from rich.text import Text

from adnet_cli import __version__
from adnet_cli.cli.common import Debug, reported_errors, results
from adnet_cli.errors import AdnetError
from adnet_cli.cpu import keep_freed_memory, native_bf16
from adnet_cli.inference import cpu_threads, resolve_device, resolve_precision
from adnet_cli.ops import available_backends, resolve_backend
from adnet_cli.weights import META_RATIOS, default_weights_path, model_config, read_state_dict, resolve_weights

_PACKAGES = ("torch", "torchvision", "numpy", "opencv-python-headless", "OpenEXR", "safetensors", "huggingface-hub")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _weights_row(spec: str | None) -> str:
    try:
        path = resolve_weights(spec)
        state, meta = read_state_dict(path)
        config = model_config(state, meta, path)
    except AdnetError as exc:
        return str(exc)
    ratios = meta.get(META_RATIOS, "not stated").replace(",", "-")
    return (f"{path} (convention: {meta.get('adnet.convention', 'not stated')}; base: {config.base}; "
            f"width: nf {config.nf}, growth {config.growth}; trained exposure ratios: {ratios})")


def _precision_row(target) -> str:
    auto = str(resolve_precision("auto", target)).removeprefix("torch.")
    if target.type != "cpu":
        return f"{auto} (auto)"
    allocator = "glibc keeps freed memory" if keep_freed_memory() else "default allocator"
    return f"{auto} (auto; native bf16: {'yes' if native_bf16() else 'no'}; {allocator})"


def info(
    weights: Annotated[Optional[str], typer.Option(help="Describe this checkpoint instead of the default.")] = None,
    device: Annotated[str, typer.Option(help="Device to report on.")] = "auto",
    debug: Debug = False,
) -> None:
    """Show versions, the compute device, the deformable-conv backend and the weights in use."""
    with reported_errors(debug):
        target = resolve_device(device)
        rows = [
            ("adnet", __version__),
            ("python", platform.python_version()),
            *((package, _version(package)) for package in _PACKAGES),
            ("device", f"{target} ({cpu_threads()} CPU threads)" if target.type == "cpu" else str(target)),
            ("precision", _precision_row(target)),
            ("deform backend", f"{resolve_backend('auto')} (available: {', '.join(available_backends())})"),
            ("weights", _weights_row(weights)),
            ("default weights", str(default_weights_path())),
        ]
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            results.print(Text.assemble((f"{key:<{width}}  ", "bold"), value), soft_wrap=True)

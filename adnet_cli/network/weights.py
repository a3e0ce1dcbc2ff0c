"""Finding, reading and writing ADNet checkpoints.

Safetensors is the preferred format; its metadata carries the pre-processing convention. Bare
PyTorch files (as the original release's training code writes them) are read only through
``torch.load(weights_only=True)`` and take their convention from the caller.
"""

from __future__ import annotations

import math
import os
import re
import socket
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import torch

from adnet_cli.choices import TYPICAL_RATIOS
from adnet_cli.errors import WeightsError
from adnet_cli.network.model import ADNet, ADNetConfig
from adnet_cli.network.preprocess import CONVENTIONS, Convention

DEFAULT_WEIGHTS_NAME = "adnet-synthetic.safetensors"  # package data: adnet_cli/checkpoints/ (weights/README.md is its card)
ORIGINAL_RELEASE_CONVENTION: Convention = "ntire"  # the original code was the NTIRE 2021 entry
_WRAPPERS = ("state_dict", "params_ema", "params", "model", "net", "generator")
_PREFIXES = ("module.", "_orig_mod.")
_MAX_WRAPPERS = 4  # e.g. {"params_ema": {"state_dict": ...}}; real checkpoints use one or two
META_CONVENTION = "adnet.convention"
META_CONFIG = "adnet.config"
META_RATIOS = "adnet.ratio_range"  # "lo,hi": the exposure ratios (medium/short, long/medium) trained on


@dataclass(frozen=True)
class LoadedWeights:
    """A ready model and what is known about the file it came from."""

    model: ADNet
    convention: Convention
    path: Path
    metadata: dict[str, str]


def shipped_weights_path() -> Path:
    """The checkpoint installed with the package (``importlib.resources``: a checkout, an editable or
    a wheel install alike)."""
    return Path(str(resources.files("adnet_cli") / "checkpoints" / DEFAULT_WEIGHTS_NAME))


def default_weights_path() -> Path:
    """The file named by the ``ADNET_WEIGHTS`` environment variable, else the shipped checkpoint."""
    return Path(os.environ["ADNET_WEIGHTS"]) if os.environ.get("ADNET_WEIGHTS") else shipped_weights_path()


def resolve_weights(spec: str | None) -> Path:
    """A local path for `spec`: None (the default checkpoint), a file path, or ``hf://owner/repo/file``."""
    if spec is None:
        path = default_weights_path()
        if not path.is_file():
            where = "ADNET_WEIGHTS names" if os.environ.get("ADNET_WEIGHTS") else "the shipped checkpoint"
            raise WeightsError(f"no weights: {path} ({where}) is not there; pass --weights PATH or hf://owner/repo/file")
        return path
    if spec.startswith("hf://"):
        return _from_hub(spec)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    return path


def _from_hub(spec: str) -> Path:
    """``hf://owner/repo[@revision]/path`` (huggingface_hub's own URI grammar) -> the cached file.

    Online, the Hub client fetches it (or confirms the cached copy is current). Offline
    (``HF_HUB_OFFLINE``), or when a quick probe finds the Hub unreachable, the local cache serves it
    or one line says it is not there: without the probe the client retries for half a minute."""
    from huggingface_hub import constants, hf_hub_download, parse_hf_uri

    try:
        uri = parse_hf_uri(spec)
    except ValueError as exc:
        raise WeightsError(f"bad weights address {spec!r}: expected hf://owner/repo[@revision]/file ({exc})") from exc
    if uri.type != "model" or not uri.path_in_repo:
        raise WeightsError(f"bad weights address {spec!r}: expected hf://owner/repo[@revision]/file in a model repository")
    where = dict(repo_id=uri.id, filename=uri.path_in_repo, revision=uri.revision)
    offline = bool(constants.HF_HUB_OFFLINE)
    if not offline and (_proxied() or _reachable(constants.ENDPOINT)):
        try:
            return Path(hf_hub_download(**where))
        except Exception as exc:  # the hub raises many types; all mean "could not get the file"
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise WeightsError(f"cannot fetch {spec}: {type(exc).__name__}: {first}") from exc
    try:
        return Path(hf_hub_download(**where, local_files_only=True))
    except Exception as exc:  # not cached (the hub raises several types for it)
        why = "HF_HUB_OFFLINE is set" if offline else f"{constants.ENDPOINT} cannot be reached"
        raise WeightsError(f"cannot fetch {spec}: not in the local Hugging Face cache, and {why}") from exc


def _proxied() -> bool:
    """Whether a proxy is configured: then only the Hub client's own request can tell reachability."""
    return any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                                           "all_proxy"))


def _reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the endpoint's host opens within `timeout` seconds."""
    url = urlsplit(endpoint)
    try:
        with socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)), timeout):
            return True
    except OSError:
        return False


def trained_ratios(spec: str | None) -> tuple[float, float]:
    """The steps between neighbouring frames (lo, hi) that the weights `spec` (as :func:`resolve_weights`
    takes it) were trained on, read from their safetensors header alone; TYPICAL_RATIOS when they
    record none or cannot be read (loading them says why)."""
    try:
        path = resolve_weights(spec)
        if path.suffix != ".safetensors":
            return TYPICAL_RATIOS
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as f:
            return ratios_from_metadata(f.metadata() or {})
    except Exception:  # noqa: BLE001 - any unreadable file: loading the weights reports it
        return TYPICAL_RATIOS


def ratios_from_metadata(metadata: dict[str, str]) -> tuple[float, float]:
    """``adnet.ratio_range`` ("2,64") as (lo, hi), or TYPICAL_RATIOS when absent or malformed."""
    try:
        lo, hi = (float(v) for v in metadata[META_RATIOS].split(","))
    except (KeyError, ValueError):
        return TYPICAL_RATIOS
    return (lo, hi) if 1.0 < lo <= hi and math.isfinite(hi) else TYPICAL_RATIOS


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a checkpoint, wrappers (``state_dict``, ``params``...) and
    ``module.``/``_orig_mod.`` prefixes removed. Metadata is empty for ``.pth``/``.pt`` files."""
    metadata: dict[str, str] = {}
    if path.stat().st_size == 0:
        raise WeightsError(f"cannot read weights {path}: the file is empty")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as f:
                metadata = dict(f.metadata() or {})
                state = {k: f.get_tensor(k) for k in f.keys()}
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"cannot read weights {path}: {_unreadable_reason(exc)}") from exc
    for _ in range(_MAX_WRAPPERS + 1):  # bounded: a checkpoint can contain itself
        if not isinstance(state, dict) or _is_tensor_dict(state):
            break
        inner = next((state[k] for k in _WRAPPERS if isinstance(state.get(k), dict)), None)
        if inner is None:
            raise WeightsError(f"{path}: no tensors found (top-level keys: {', '.join(map(str, list(state)[:8]))})")
        state = inner
    else:
        raise WeightsError(f"{path}: no tensors within {_MAX_WRAPPERS} levels of wrapping (state_dict, params ...)")
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: not a state dict")
    return {_strip(k): v for k, v in state.items()}, metadata


def _unreadable_reason(exc: Exception) -> str:
    """Why torch or safetensors refused a file, in the project's words (torch's own message for a
    pickle with Python objects is pages long, coloured, and advises weights_only=False)."""
    text = str(exc)
    if "weights_only" in text or "Unsupported global" in text:
        return "it holds Python objects, not only tensors, and adnet loads checkpoints with weights_only=True only"
    first = re.sub(r"\x1b\[[0-9;]*m", "", text).strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first


def _is_tensor_dict(d: dict) -> bool:
    return len(d) > 0 and all(isinstance(v, torch.Tensor) for v in d.values())


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def model_config(state: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> ADNetConfig:
    """The network config of a checkpoint: its ``adnet.config`` metadata where present (the only
    record of the output base), else read off the tensor shapes with no base (the original release)."""
    if META_CONFIG not in metadata:
        return config_from_state_dict(state)
    try:
        return ADNetConfig.from_json(metadata[META_CONFIG])
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from exc


def config_from_state_dict(state: dict[str, torch.Tensor]) -> ADNetConfig:
    """Network width read off the tensor shapes; the default config where a key is missing."""
    try:
        nf = state["feat_exract.0.weight"].shape[0]
        growth = state["RDB1.dense_layers.0.conv.weight"].shape[0]
        layers = sum(1 for k in state if k.startswith("RDB1.dense_layers.") and k.endswith(".conv.weight"))
        groups = state["align_module.L3_dcnpack.conv_offset_mask.weight"].shape[0] // 27
        return ADNetConfig(nf=nf, growth=growth, dense_layers=layers, groups=groups)
    except KeyError:
        return ADNetConfig()
    except ValueError as exc:  # shapes no ADNet has (e.g. nf not divisible by the groups)
        raise WeightsError(f"not an ADNet state dict: {exc}") from exc


def load_weights(
    spec: str | None, *, convention: Convention | None = None, deform_backend: str = "auto"
) -> LoadedWeights:
    """Resolve `spec`, read it and build an :class:`ADNet` in eval mode on the CPU.

    convention: overrides the file's metadata; required knowledge for bare ``.pth`` files, which
    default to the original release's (NTIRE) convention.
    """
    path = resolve_weights(spec)
    state, metadata = read_state_dict(path)
    conv = convention or metadata.get(META_CONVENTION) or ORIGINAL_RELEASE_CONVENTION
    if conv not in CONVENTIONS:
        raise WeightsError(f"{path}: unknown convention {conv!r} in metadata")
    model = ADNet(model_config(state, metadata, path), deform_backend=deform_backend, convention=conv)
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise WeightsError(f"{path}: {len(broken)} tensors hold NaN or inf (first: {broken[0]}); the weights are broken")
    missing, unexpected = _key_mismatch(model, state)
    if missing or unexpected:
        raise WeightsError(f"{path} does not fit ADNet: {_describe(missing, unexpected)}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        shape_lines = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line]
        raise WeightsError(f"{path} does not fit ADNet: {'; '.join(shape_lines[:3]) or exc}") from exc
    return LoadedWeights(model.eval(), conv, path, metadata)


def _key_mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    expected = set(model.state_dict())
    return sorted(expected - set(state)), sorted(set(state) - expected)


def _describe(missing: list[str], unexpected: list[str], limit: int = 5) -> str:
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
            parts.append(f"{len(keys)} {label} keys ({', '.join(keys[:limit])}{more})")
    return "; ".join(parts)


def save_weights(path: Path, model: ADNet, convention: Convention, extra: dict[str, str] | None = None) -> None:
    """Write `model`'s tensors as safetensors with the convention and config in the metadata."""
    from safetensors.torch import save_file

    metadata = {META_CONVENTION: convention, META_CONFIG: model.config.to_json(), **(extra or {})}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(state, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    except BaseException:  # a full disk, or a signal: no half-written file left behind
        tmp.unlink(missing_ok=True)
        raise

"""adnet: multi-frame HDR merging with ADNet (attention-guided deformable convolution, CVPRW 2021).

The Python API (what `adnet merge` runs)::

    import adnet_cli as adnet

    engine = adnet.create_engine()                  # shipped weights; device and precision: auto
    result = engine.merge_files(["short.jpg", "mid.jpg", "long.jpg"])
    adnet.write_outputs(result.hdr, Path("out.exr"), Path("out.png"))

Names are imported on first use, so ``import adnet_cli`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adnet_cli.version import __version__

# Public name -> (module, name there). tonemap() is exported as tonemap_image: `adnet_cli.tonemap`
# is also the submodule, which the import system binds on the package once anything imports it.
_API = {
    "create_engine": ("adnet_cli.engine", "create_engine"),
    "Engine": ("adnet_cli.engine", "Engine"),
    "BracketRequest": ("adnet_cli.engine", "BracketRequest"),
    "MergeResult": ("adnet_cli.engine", "MergeResult"),
    "write_outputs": ("adnet_cli.engine", "write_outputs"),
    "load_weights": ("adnet_cli.weights", "load_weights"),
    "read_hdr": ("adnet_cli.io", "read_hdr"),
    "read_ldr": ("adnet_cli.io", "read_ldr"),
    "write_hdr_image": ("adnet_cli.io", "write_hdr_image"),
    "tonemap_image": ("adnet_cli.tonemap", "tonemap"),
    "tonemap_file": ("adnet_cli.convert", "tonemap_file"),
    "preview": ("adnet_cli.tonemap", "preview"),
    "AdnetError": ("adnet_cli.errors", "AdnetError"),
}
__all__ = [  # the keys of _API (tests/test_api.py checks)
    "__version__", "create_engine", "Engine", "BracketRequest", "MergeResult", "write_outputs", "load_weights",
    "read_hdr", "read_ldr", "write_hdr_image", "tonemap_image", "tonemap_file", "preview", "AdnetError",
]

if TYPE_CHECKING:
    from adnet_cli.convert import tonemap_file
    from adnet_cli.engine import BracketRequest, Engine, MergeResult, create_engine, write_outputs
    from adnet_cli.errors import AdnetError
    from adnet_cli.io import read_hdr, read_ldr, write_hdr_image
    from adnet_cli.tonemap import preview
    from adnet_cli.tonemap import tonemap as tonemap_image
    from adnet_cli.weights import load_weights


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'adnet_cli' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

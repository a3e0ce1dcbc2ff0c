"""adnet: multi-frame HDR merging with ADNet (attention-guided deformable convolution, CVPRW 2021).

The Python API (what `adnet merge` runs)::

    import adnet_cli as adnet

    engine = adnet.create_engine()                  # shipped weights; device and precision: auto
    result = engine.merge_files(["short.jpg", "mid.jpg", "long.jpg"])
    result.save("out.exr", preview="out.png")       # the HDR and its preview, with their metadata

Names are imported on first use, so ``import adnet_cli`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adnet_cli.version import __version__

# Public name -> (module, name there). tonemap() is exported as tonemap_image: `adnet_cli.formats.tonemap`
# is also the submodule, which the import system binds on the package once anything imports it.
_API = {
    "create_engine": ("adnet_cli.merge.engine", "create_engine"),
    "Engine": ("adnet_cli.merge.engine", "Engine"),
    "BracketRequest": ("adnet_cli.merge.engine", "BracketRequest"),
    "MergeResult": ("adnet_cli.merge.engine", "MergeResult"),
    "write_outputs": ("adnet_cli.merge.outputs", "write_outputs"),
    "Outputs": ("adnet_cli.merge.outputs", "Outputs"),
    "load_weights": ("adnet_cli.network.weights", "load_weights"),
    "read_hdr": ("adnet_cli.formats.io", "read_hdr"),
    "read_ldr": ("adnet_cli.formats.io", "read_ldr"),
    "write_hdr_image": ("adnet_cli.formats.io", "write_hdr_image"),
    "tonemap_image": ("adnet_cli.formats.tonemap", "tonemap"),
    "tonemap_file": ("adnet_cli.formats.convert", "tonemap_file"),
    "preview": ("adnet_cli.formats.tonemap", "preview"),
    "AdnetError": ("adnet_cli.errors", "AdnetError"),
    "ToneSettings": ("adnet_cli.formats.convert", "ToneSettings"),
    "OutputMetadata": ("adnet_cli.formats.metadata", "OutputMetadata"),
}
__all__ = [  # the keys of _API (tests/test_api.py checks)
    "__version__", "create_engine", "Engine", "BracketRequest", "MergeResult", "Outputs", "write_outputs", "load_weights",
    "read_hdr", "read_ldr", "write_hdr_image", "tonemap_image", "tonemap_file", "preview", "AdnetError",
    "ToneSettings", "OutputMetadata",
]

if TYPE_CHECKING:
    from adnet_cli.errors import AdnetError
    from adnet_cli.formats.convert import ToneSettings, tonemap_file
    from adnet_cli.formats.io import read_hdr, read_ldr, write_hdr_image
    from adnet_cli.formats.metadata import OutputMetadata
    from adnet_cli.formats.tonemap import preview
    from adnet_cli.formats.tonemap import tonemap as tonemap_image
    from adnet_cli.merge.engine import BracketRequest, Engine, MergeResult, create_engine
    from adnet_cli.merge.outputs import Outputs, write_outputs
    from adnet_cli.network.weights import load_weights


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'adnet_cli' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""The network's configuration and input conventions as plain values, with no torch import (so the
command line and the training settings can name them before torch loads)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from adnet_cli.choices import BASES

Convention = Literal["kalantari", "ntire"]  # see adnet_cli.network.preprocess


@dataclass(frozen=True)
class ADNetConfig:
    """Network width and output form. The default is the published model (nf 64, growth 32, 5 dense
    layers, 8 groups, no base): the original release's checkpoints are of this form.

    base: what the last conv's output is added to before the final ReLU (`adnet_cli.network.bases`):
    ``none`` (the original: the network predicts the HDR image itself), ``reference``, ``merge``,
    ``deghost`` or ``optimal`` (the network predicts a correction to a parameter-free image, as EDVR
    adds its upsampled centre frame; see `adnet_cli.network.bases`). It adds no parameters, so every base loads the
    same 110 tensors.
    """

    nf: int = 64
    growth: int = 32
    dense_layers: int = 5
    groups: int = 8
    base: str = "none"

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise ValueError(f"unknown base {self.base!r}; expected one of {', '.join(BASES)}")
        if min(self.nf, self.growth, self.dense_layers, self.groups) < 1 or self.nf % self.groups:
            raise ValueError(f"need positive widths with nf divisible by groups, got {self}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ADNetConfig":
        """Inverse of :meth:`to_json`; a file written before `base` existed reads as ``none``."""
        try:
            return cls(**json.loads(text))
        except (TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"bad network config {text[:120]!r}: {exc}") from exc

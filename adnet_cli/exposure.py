"""Exposure values and their unit: seconds (EXIF or --exposures), or relative to each other (--ev), in
one place, with the one way each is printed and reported (a leaf)."""

from __future__ import annotations

import math
from enum import Enum

EV_SOURCE = "--ev"  # a bracket's exposure source when exposures are relative (stops), not seconds


def format_seconds(seconds: float) -> str:
    """A photographer's notation: 1/400 s, 0.3 s, 15 s."""
    if seconds < 1 and abs(1 / seconds - round(1 / seconds)) < 1e-3 * (1 / seconds):
        return f"1/{round(1 / seconds)} s"
    return f"{seconds:.3g} s"


class ExposureUnit(Enum):
    """How a bracket's exposures are known: SECONDS (exposure times), or RELATIVE (factors 2**EV)."""

    SECONDS = "seconds"
    RELATIVE = "relative"

    @classmethod
    def of(cls, source: str) -> "ExposureUnit":
        """The unit of exposures read from `source` (a bracket's ``source``: "EXIF", "--exposures", "--ev")."""
        return cls.RELATIVE if source == EV_SOURCE else cls.SECONDS

    def format(self, value: float) -> str:
        """One exposure as people read it: "1/100 s", or "+2 EV" for a relative factor of 4."""
        return format_seconds(value) if self is ExposureUnit.SECONDS else f"{math.log2(value):+g} EV"

    @property
    def key(self) -> str:
        """The exposure's field name in --json reports: exposure_s, or exposure_relative (a factor)."""
        return "exposure_s" if self is ExposureUnit.SECONDS else "exposure_relative"

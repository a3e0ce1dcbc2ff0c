"""Which three frames of a longer bracket the network takes: steps it was trained on, a well-exposed
reference, the widest span."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from adnet_cli.choices import FRAMES, TYPICAL_RATIOS
from adnet_cli.errors import InputError
from adnet_cli.formats.cvlog import codec_messages, quiet_opencv
from adnet_cli.formats.paths import check_readable_file

RATIO_TOLERANCE = 1.1  # slack on TYPICAL_RATIOS and trained ranges for EXIF's rounded times
WELL_EXPOSED_SIGMA = 0.2  # Mertens et al.'s well-exposedness: exp(-(v - 0.5)^2 / (2 sigma^2)), v in [0, 1]


def select_frames(
    exposures: Sequence[float],
    trained: tuple[float, float] = TYPICAL_RATIOS,
    exposed: Sequence[float] | None = None,
) -> tuple[tuple[int, int, int], str | None]:
    """The three frames the network takes from a bracket sorted by exposure (ascending, >= 3 values),
    and a warning when no three fit the network's range (else None).

    A triple's two steps (medium/short, long/medium) are ranked, best first: both within
    TYPICAL_RATIOS (where most training brackets step), both within `trained` (the weights' recorded
    range), or neither (least log-excess over `trained` first, with the warning). Within a rank: the
    best-exposed reference (`exposed`: each frame's :func:`adnet_cli.formats.io.exposedness`, in 0.05 steps), then
    the widest span, then the reference nearest the bracket's middle in stops, then the shorter.
    """
    if len(exposures) < FRAMES:
        raise InputError(f"ADNet needs at least 3 frames; got {len(exposures)}")
    logs = [math.log2(t) for t in exposures]
    middle = (logs[0] + logs[-1]) / 2

    def rank(triple: tuple[int, int, int]) -> tuple[float, ...]:
        i, j, k = triple
        steps = (exposures[j] / exposures[i], exposures[k] / exposures[j])
        tier = 0 if _within(steps, TYPICAL_RATIOS) else 1 if _within(steps, trained) else 2
        excess = sum(_excess(r, trained) for r in steps) if tier == 2 else 0.0
        share = round(exposed[j] * 20) if exposed else 0
        return tier, excess, -share, logs[i] - logs[k], abs(logs[j] - middle), j

    distinct = [t for t in itertools.combinations(range(len(exposures)), FRAMES)
                if exposures[t[0]] < exposures[t[1]] < exposures[t[2]]]
    if not distinct:
        raise InputError(f"exposure times must differ: no three of {', '.join(f'{t:g}' for t in exposures)} do")
    best = min(distinct, key=rank)
    if rank(best)[0] < 2:
        return best, None
    i, j, k = best
    steps = f"{exposures[j] / exposures[i]:.3g}x and {exposures[k] / exposures[j]:.3g}x"
    return best, (f"no three frames step by {trained[0]:g}-{trained[1]:g}x, the weights' trained range: merging "
                  f"#{i}, #{j}, #{k} ({steps}), which the network may handle poorly")


def _within(steps: Sequence[float], bounds: tuple[float, float]) -> bool:
    """Each ratio within `bounds`, up to RATIO_TOLERANCE (EXIF times are rounded: 1/30 s to 1/8 s is 3.75x)."""
    return all(bounds[0] / RATIO_TOLERANCE <= r <= bounds[1] * RATIO_TOLERANCE for r in steps)


def _excess(ratio: float, bounds: tuple[float, float]) -> float:
    """How many stops `ratio` lies outside `bounds` (0 inside)."""
    return max(0.0, math.log2(bounds[0] / ratio), math.log2(ratio / bounds[1]))


def exposedness(path: Path) -> float | None:
    """How well exposed a frame is, in [0, 1]: the mean of Mertens et al.'s well-exposedness weight
    over a 1/4-size grey decode (1 when every pixel sits at mid-grey, near 0 when all are black or
    clipped); None for files OpenCV cannot decode (camera RAW)."""
    path = Path(path)
    check_readable_file(path)
    with quiet_opencv(), codec_messages():
        try:
            grey = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
        except cv2.error:
            grey = None
    if grey is None or grey.size == 0:
        return None
    v = grey.astype(np.float32) / 255.0
    return float(np.mean(np.exp(-((v - 0.5) ** 2) / (2 * WELL_EXPOSED_SIGMA**2))))

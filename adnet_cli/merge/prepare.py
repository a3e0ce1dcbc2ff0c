"""Preparing a read bracket for a merge: the camera response, then alignment and crop, each step said."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from adnet_cli.errors import InputError
from adnet_cli.formats.io import unit_float
from adnet_cli.merge.align import Alignment, align_frames, apply_motions, crop_box, crop_frames
from adnet_cli.merge.bracket import Bracket, check_exposure_values, network_frames, resolve_response

Noted = Callable[[str], None]  # hears one line per preparation step, as it is done


class Preparation(Protocol):
    """What preparing reads of a request (:class:`adnet_cli.merge.engine.BracketRequest` has it): the
    response name ("auto", "gamma", "srgb", "calibrate"), whether to align, whether to crop."""

    response: str
    align: bool
    crop: bool


def prepare_frames(bracket: Bracket, request: Preparation, gamma: float,
                   noted: Noted = lambda line: None) -> tuple[np.ndarray, list[str]]:
    """The bracket's frames in the network's convention (``v**gamma`` proportional to exposure x
    radiance): the response curve, then --align and --crop; and a line for each step, also told to
    `noted` as it is done. Calibration needs the frames registered: it then follows --align, which
    runs on a provisional sRGB mapping, and the motions found are applied to the calibrated frames.
    Returns ((3, H, W, 3) float32 in [0, 1] or the decoded integer codes, the lines)."""
    response, why = resolve_response(bracket, request.response)
    calibrate_first = response == "calibrate" and request.align and not bracket.linear
    frames, how = network_frames(bracket, "srgb" if calibrate_first else response, gamma)
    if why:
        how = f"{how or f'response: plain gamma {gamma:g}, frames as decoded'} (auto: {why})"
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        noted(line)

    if how and not calibrate_first:
        say(how)
    if not request.align:
        return frames, said
    aligned = align_frames(unit_float(frames), bracket.exposures, 1, gamma=gamma)
    for motion in (m for m in aligned.motions if m.model != "reference"):
        name = bracket.paths[motion.index].name
        say(f"{name}: {motion.summary()}" if motion.model == "none" else f"aligned {name}: {motion.summary()}")
    if calibrate_first:
        aligned, how = _calibrated(bracket, aligned, gamma)
        say(how)
    if not request.crop:
        return aligned.frames, said
    cropped, _, how = crop_frames(aligned)
    say(how)
    return cropped, said


def _calibrated(bracket: Bracket, aligned: Alignment, gamma: float) -> tuple[Alignment, str]:
    """The bracket calibrated on its registered frames (what every frame covers), re-aligned with the
    motions found in `aligned`, and the response line."""
    decoded = unit_float(bracket.frames)
    registered = apply_motions(decoded, aligned.motions, bracket.exposures, 1)  # gamma: only the fill
    y0, y1, x0, x1 = crop_box(aligned.valid)
    common = registered.frames[:, y0:y1, x0:x1] if y1 - y0 >= 16 and x1 - x0 >= 16 else registered.frames
    frames, how = network_frames(bracket, "calibrate", gamma, curve_frames=common)
    return apply_motions(unit_float(frames), aligned.motions, bracket.exposures, 1, gamma), f"{how} (after --align)"


def stack_frames(frames: Sequence[np.ndarray] | np.ndarray, exposures: Sequence[float], channel_order: str = "rgb",
                 noted: Noted = lambda line: None) -> tuple[np.ndarray, tuple[float, ...]]:
    """Frames as the API takes them -> the (N, H, W, 3) RGB stack, short to long, and its exposures.

    frames: a sequence (or stack) of (H, W, 3) uint8, uint16 or float [0, 1] frames, any order, as an
    OpenCV user holds them (channel_order "bgr") or RGB. exposures: one per frame, any common unit.
    Frames out of order are sorted with their exposures (said); equal or non-positive exposures and
    frames of different shapes are refused."""
    arrays = [np.asarray(f) for f in frames]
    if channel_order not in ("rgb", "bgr"):
        raise InputError(f"channel_order {channel_order!r}: expected 'rgb' or 'bgr'")
    if any(a.ndim != 3 or a.shape[-1] != 3 for a in arrays):
        raise InputError("each frame must be H x W x 3 (colour); got shapes " + ", ".join(str(a.shape) for a in arrays))
    if len({a.shape for a in arrays}) > 1:
        raise InputError("the frames differ in size: " + ", ".join(str(a.shape) for a in arrays))
    times = tuple(float(t) for t in exposures)
    if len(times) != len(arrays):
        raise InputError(f"{len(arrays)} frames but {len(times)} exposures")
    check_exposure_values(list(times), len(times))
    if len(set(times)) != len(times):
        raise InputError(f"exposures must be distinct; got {', '.join(f'{t:g}' for t in times)}")
    order = sorted(range(len(times)), key=times.__getitem__)
    if order != list(range(len(times))):
        noted(f"frames sorted by exposure: given in the order {', '.join(str(i) for i in order)} of short to long")
    stack = np.stack([arrays[i] for i in order])
    return (stack[..., ::-1] if channel_order == "bgr" else stack), tuple(times[i] for i in order)

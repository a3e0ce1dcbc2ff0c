"""Batch mode: collect image files, order them by capture time and split them into brackets.

A new bracket starts where the exposure settings repeat ones already in the current bracket
(auto-exposure bracketing shoots the same pattern again, e.g. 0,-2,+2, 0,-2,+2), or where the gap
between two capture times exceeds ``gap`` seconds, unless the shot continues a hand-timed bracket:
a run of exposure times stepping one way by MIN_STEP or more, at one ISO, aperture and focal length,
at most SLOW_GAP seconds apart. ``group_size`` instead cuts fixed-size consecutive groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adnet_cli.choices import DEFAULT_GAP
from adnet_cli.errors import InputError
from adnet_cli.formats.raw import is_raw
from adnet_cli.merge.bracket import FRAME_SUFFIXES, read_capture

Setting = tuple[float | None, float | None, float | None]  # EXIF exposure time (s), ISO, f-number
MIN_STEP = 1.5  # exposure ratio between the frames of a hand-timed bracket: over half a stop
SLOW_GAP = 300.0  # seconds (after the previous frame's own exposure) a hand-timed bracket may pause


@dataclass(frozen=True)
class Shot:
    """One image file of a batch. capture_time: EXIF DateTimeOriginal + SubSecTimeOriginal, or None."""

    path: Path
    capture_time: datetime | None
    setting: Setting
    focal_length: float | None = None  # mm

    @property
    def has_exposure(self) -> bool:
        return self.setting[0] is not None


def collect_images(inputs: Sequence[Path]) -> list[Path]:
    """Image files (PNG, TIFF, JPEG, camera RAW) named in `inputs`: files as given, folders'
    non-hidden files with a known suffix (not recursive, name order). A file given twice counts once.
    Raises InputError for a missing path, a named file of another type, or nothing found."""
    found: list[Path] = []
    seen: set[Path] = set()
    for item in map(Path, inputs):
        if item.is_dir():
            candidates = sorted(p for p in item.iterdir() if _is_image(p))
        elif item.is_file():
            if item.suffix.lower() not in FRAME_SUFFIXES:
                raise InputError(f"{item}: not a supported image; expected one of {', '.join(FRAME_SUFFIXES)}")
            candidates = [item]
        else:
            raise InputError(f"{item}: no such file or folder")
        for path in candidates:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(path)
    if not found:
        raise InputError(f"no image files ({', '.join(FRAME_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    return found


def prefer_raw(paths: Sequence[Path]) -> tuple[list[Path], str | None]:
    """Drop the PNG/TIFF/JPEG twin of a camera RAW file (same folder and name, RAW+JPEG shooting): the
    RAW is the better source and one shot must not count twice. Returns the kept paths, in the order
    given, and a note naming how many were dropped (None when none)."""
    raw_stems = {(p.parent.resolve(), p.stem.lower()) for p in paths if is_raw(p)}
    twin = [not is_raw(p) and (p.parent.resolve(), p.stem.lower()) in raw_stems for p in paths]
    kept = [p for p, t in zip(paths, twin) if not t]
    dropped = [p for p, t in zip(paths, twin) if t]
    if not dropped:
        return kept, None
    count = f"{len(dropped)} files (e.g. {dropped[0].name}) have" if len(dropped) > 1 else f"{dropped[0].name} has"
    return kept, f"{count} a camera RAW file of the same name: using the RAW files"


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in FRAME_SUFFIXES


def read_shot(path: Path) -> Shot:
    """Capture time and exposure settings of one file, from EXIF (and LibRaw for RAW files); what is
    missing or corrupt is None."""
    exif = read_capture(path)
    return Shot(Path(path), exif.capture_time, (exif.exposure_time, exif.iso, exif.f_number), exif.focal_length)


def order_shots(shots: Sequence[Shot]) -> tuple[list[Shot], str | None]:
    """Shots by capture time (then file name). A shot without one keeps its place in file-name order:
    it follows the shot before it by name (the first by name: the first in time), with a note."""
    by_name = sorted(shots, key=lambda s: (s.path.name, str(s.path)))
    timed = [s.capture_time for s in by_name if s.capture_time is not None]
    if not timed:
        return by_name, f"no capture time (EXIF DateTimeOriginal) in any of {len(shots)} files: ordered by file name"
    missing = [s for s in by_name if s.capture_time is None]
    keys, last, follows = [], min(timed), -1  # -1: before every timed shot by name, so first
    for rank, shot in enumerate(by_name):
        if shot.capture_time is not None:
            last, follows = shot.capture_time, 1
        keys.append((last, 0 if shot.capture_time is not None else follows, rank))
    ordered = [shot for _, shot in sorted(zip(keys, by_name), key=lambda pair: pair[0])]
    if not missing:
        return ordered, None
    return ordered, (
        f"no capture time (EXIF DateTimeOriginal) in {len(missing)} of {len(shots)} files "
        f"(e.g. {missing[0].path.name}): each placed after the file before it by name"
    )


def group_shots(shots: Sequence[Shot], gap: float = DEFAULT_GAP, group_size: int | None = None,
                slow: bool = True) -> list[list[Shot]]:
    """Split shots (already in capture order) into brackets (see the module docstring).

    group_size: consecutive groups of that many (the last may be shorter). Otherwise a group ends
    before a shot whose exposure settings already occur in it, or one taken more than `gap` seconds
    after the previous one (when both have a capture time) that does not continue a hand-timed
    bracket (:func:`_continues_slowly`; `slow` False: none does, as when --gap is given); shots
    without an exposure time never start one by settings."""
    if group_size is not None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        return [list(shots[i : i + group_size]) for i in range(0, len(shots), group_size)]
    groups: list[list[Shot]] = []
    for shot in shots:
        if not groups or _starts_group(groups[-1], shot, gap, slow):
            groups.append([shot])
        else:
            groups[-1].append(shot)
    return groups


def pause_before(shot: Shot, previous: Shot) -> float | None:
    """Seconds between two shots' capture times, or None when either lacks one."""
    if shot.capture_time is None or previous.capture_time is None:
        return None
    return (shot.capture_time - previous.capture_time).total_seconds()


def _starts_group(group: list[Shot], shot: Shot, gap: float, slow: bool) -> bool:
    if shot.has_exposure and any(shot.setting == other.setting for other in group):
        return True
    timed = [s for s in group if s.capture_time is not None]  # a file without a time measures no pause
    pause = pause_before(shot, timed[-1]) if timed else None
    return pause is not None and pause > gap and not (slow and _continues_slowly(group, shot, pause))


def _continues_slowly(group: list[Shot], shot: Shot, pause: float) -> bool:
    """Whether `shot`, `pause` seconds after the group's last, is the next frame of a hand-timed
    bracket: every frame has an exposure time, ISO, aperture and focal length agree, the times step
    one way by MIN_STEP or more, and the pause is at most SLOW_GAP after the last frame's exposure."""
    frames = [*group, shot]
    if pause > SLOW_GAP + (group[-1].setting[0] or 0.0) or not all(s.has_exposure for s in frames):
        return False
    if any(s.setting[1:] != shot.setting[1:] or s.focal_length != shot.focal_length for s in group):
        return False
    steps = [b.setting[0] / a.setting[0] for a, b in zip(frames, frames[1:])]  # type: ignore[operator]
    return all(r >= MIN_STEP for r in steps) or all(r <= 1 / MIN_STEP for r in steps)

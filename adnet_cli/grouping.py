"""Batch mode: collect image files, order them by capture time and split them into brackets.

A new bracket starts where the gap between two capture times exceeds ``gap`` seconds, or where the
exposure settings repeat ones already in the current bracket (auto-exposure bracketing shoots the same
pattern again, e.g. 0,-2,+2, 0,-2,+2); ``group_size`` instead cuts fixed-size consecutive groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from adnet_cli.bracket import FRAME_SUFFIXES, read_capture
from adnet_cli.choices import DEFAULT_GAP
from adnet_cli.errors import InputError
from adnet_cli.raw import is_raw

Setting = tuple[float | None, float | None, float | None]  # EXIF exposure time (s), ISO, f-number


@dataclass(frozen=True)
class Shot:
    """One image file of a batch. capture_time: EXIF DateTimeOriginal + SubSecTimeOriginal, or None."""

    path: Path
    capture_time: datetime | None
    setting: Setting

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
    return Shot(Path(path), exif.capture_time, (exif.exposure_time, exif.iso, exif.f_number))


def order_shots(shots: Sequence[Shot]) -> tuple[list[Shot], str | None]:
    """Shots by capture time (then file name) when every one has it; otherwise by file name, with a note."""
    by_name = sorted(shots, key=lambda s: (s.path.name, str(s.path)))
    missing = [s for s in shots if s.capture_time is None]
    if not missing:
        return sorted(by_name, key=lambda s: s.capture_time), None  # type: ignore[arg-type, return-value]
    return by_name, (
        f"no capture time (EXIF DateTimeOriginal) in {len(missing)} of {len(shots)} files "
        f"(e.g. {missing[0].path.name}): ordered by file name"
    )


def group_shots(shots: Sequence[Shot], gap: float = DEFAULT_GAP, group_size: int | None = None) -> list[list[Shot]]:
    """Split shots (already in capture order) into brackets.

    group_size: consecutive groups of that many (the last may be shorter). Otherwise a group ends
    before a shot taken more than `gap` seconds after the previous one (when both have a capture
    time) or whose exposure settings already occur in the group (shots without an exposure time
    never start one)."""
    if group_size is not None:
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        return [list(shots[i : i + group_size]) for i in range(0, len(shots), group_size)]
    groups: list[list[Shot]] = []
    for shot in shots:
        if not groups or _starts_group(groups[-1], shot, gap):
            groups.append([shot])
        else:
            groups[-1].append(shot)
    return groups


def _starts_group(group: list[Shot], shot: Shot, gap: float) -> bool:
    before = group[-1].capture_time
    if before is not None and shot.capture_time is not None:
        if (shot.capture_time - before).total_seconds() > gap:
            return True
    return shot.has_exposure and any(shot.setting == other.setting for other in group)

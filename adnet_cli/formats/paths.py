"""Checks on input paths that need nothing but the standard library, so that the command line can make
them before torch, OpenCV or the weights load (a missing file answers at once)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from adnet_cli.errors import InputError


def check_readable_file(path: Path) -> None:
    """Raise InputError unless ``path`` is an existing regular file we may open (a FIFO or device
    would block the read or never end, so only regular files, or links to them, are accepted)."""
    try:
        if not path.exists():
            raise InputError(f"{path}: no such file (or a link that leads nowhere)")
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not an image file")
        if not path.is_file():
            raise InputError(f"{path}: not a regular file (a pipe, device or socket)")
    except OSError as exc:  # a name too long, a link loop ...
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from exc


def check_input_files(paths: Iterable[Path]) -> None:
    """:func:`check_readable_file` for every path that is not a folder (folders are batch mode's, read
    later); the first bad one raises."""
    for path in paths:
        try:
            if path.is_dir():
                continue
        except OSError:
            pass  # a name too long, a link loop: check_readable_file says which
        check_readable_file(path)

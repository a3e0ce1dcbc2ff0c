"""Keeping OpenCV's own logging off stderr (the library never prints)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import cv2


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's stderr logging (decoder and MatExpr warnings) for the duration of the block."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    previous = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(previous)

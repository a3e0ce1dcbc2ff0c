"""Keeping OpenCV's and its codecs' own messages off stderr (the library never prints)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import BinaryIO

import cv2

# Lines the image codecs inside OpenCV write straight to file descriptor 2 (libpng's default warning
# handler, libjpeg's and libtiff's): OpenCV's log level does not reach them.
CODEC_PREFIXES = (b"libpng ", b"libjpeg", b"libtiff", b"Corrupt JPEG data", b"Premature end of JPEG",
                  b"Invalid SOS", b"TIFFRead", b"TIFFFetch")
_CAPTURE = threading.Lock()  # descriptor 2 is the process's: one capture at a time


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


@contextlib.contextmanager
def codec_messages() -> Iterator[list[str]]:
    """Collect what the codecs write to file descriptor 2 during the block, instead of letting it reach
    the terminal: the yielded list is filled, once the block ends, with the codec lines (text, without
    the newline). Anything else written to descriptor 2 meanwhile (another thread's progress bar) is
    passed on unchanged. One capture at a time (a lock); without a usable descriptor 2 or a
    temporary file the block runs uncaptured."""
    found: list[str] = []
    with _CAPTURE:
        try:
            sys.stderr.flush()
            sink = tempfile.TemporaryFile()
        except (OSError, AttributeError, ValueError):
            yield found
            return
        with sink:
            try:
                saved = os.dup(2)
            except OSError:
                yield found
                return
            try:
                os.dup2(sink.fileno(), 2)
                yield found
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                _sort_out(sink, found)


def _sort_out(sink: BinaryIO, found: list[str]) -> None:
    """Codec lines into `found`; the rest written to descriptor 2 as it came."""
    sink.seek(0)
    passed = []
    for line in sink.read().splitlines(keepends=True):
        if line.startswith(CODEC_PREFIXES):
            found.append(line.decode("utf-8", "replace").rstrip())
        else:
            passed.append(line)
    if passed:
        os.write(2, b"".join(passed))

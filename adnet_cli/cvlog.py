"""Keeping OpenCV's and its codecs' own messages off stderr (the library never prints)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

import cv2

# Lines the image codecs inside OpenCV write straight to file descriptor 2 (libpng's default warning
# handler, libjpeg's and libtiff's): OpenCV's log level does not reach them.
CODEC_PREFIXES = (b"libpng ", b"libjpeg", b"libtiff", b"Corrupt JPEG data", b"Premature end of JPEG",
                  b"Invalid SOS", b"TIFFRead", b"TIFFFetch")


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
    passed on unchanged. Without a usable descriptor 2 the block runs uncaptured."""
    found: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield found
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield found
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            passed = []
            for line in sink.read().splitlines(keepends=True):
                if line.startswith(CODEC_PREFIXES):
                    found.append(line.decode("utf-8", "replace").rstrip())
                else:
                    passed.append(line)
            if passed:
                os.write(2, b"".join(passed))

"""The `adnet` entry point: signal handling first, then the command line (whose import takes a
moment: an interrupt during it must not print a traceback either)."""

from __future__ import annotations

import signal
import sys
import warnings
from types import FrameType

from adnet_cli.errors import Terminated


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    if "--debug" not in sys.argv:  # library warnings (torch's, for one) are noise before a one-line error
        warnings.simplefilter("ignore")
    for stream in (sys.stdout, sys.stderr):  # a file name the terminal's encoding cannot show is escaped
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        from adnet_cli.cli import main as run
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        raise SystemExit(143 if terminated else 130) from None
    run()

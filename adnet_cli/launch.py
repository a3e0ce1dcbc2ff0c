"""The `adnet` entry point: signal handling first, then the command line (whose import takes a
moment: an interrupt during it must not print a traceback either)."""

from __future__ import annotations

import signal
import sys
import warnings
from types import FrameType

from adnet_cli.errors import Terminated, interruption

_signalled: list[int] = []  # SIGTERM seen (Typer turns an interrupt outside a command into exit 130)


def _terminate(signum: int, frame: FrameType | None) -> None:
    _signalled.append(signum)
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
        line, status = interruption(exc)
        print(line, file=sys.stderr)  # the one print outside cli/
        raise SystemExit(status) from None
    try:
        run()
    except SystemExit as exc:
        if _signalled and exc.code == 130:  # SIGTERM while Typer parsed the arguments
            line, status = interruption(Terminated())
            print(line, file=sys.stderr)
            raise SystemExit(status) from None
        raise

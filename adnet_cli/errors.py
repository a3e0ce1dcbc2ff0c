"""Exceptions the library raises for problems a user can fix.

The CLI turns each of them into one line on stderr and a non-zero exit; anything else is a bug
and keeps its traceback.
"""


class AdnetError(Exception):
    """Base class: a problem with the user's input, options or environment."""


class InputError(AdnetError):
    """An input image or exposure value is missing, unreadable or inconsistent."""


class OutputError(AdnetError):
    """An output path cannot be written (exists, unknown extension, no permission)."""


class WeightsError(AdnetError):
    """A checkpoint is missing, cannot be fetched, or does not fit the model."""


class DeviceError(AdnetError):
    """The requested device or deformable-convolution backend is not available."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (as SIGINT raises KeyboardInterrupt), so that the same
    clean-up runs: temporary files removed, one line, exit status 143."""


def interruption(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The line and exit status of an interrupt: ("terminated", 143) for SIGTERM, else ("interrupted", 130)."""
    return ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)


def error_line(exc: BaseException) -> str:
    """A failure in one line: an AdnetError's own message; anything else (a bug or an environment
    problem) as ``TypeName: first line of its message``."""
    text = str(exc).splitlines()[0].strip() if str(exc).strip() else ""
    return text if isinstance(exc, AdnetError) and text else f"{type(exc).__name__}: {text}".rstrip(": ")

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

"""Writing files whole or not at all: each file goes to a temporary name next to it and is renamed
into place when complete; inside :func:`all_or_nothing`, several files are renamed together. A leaf
module (the standard library and :mod:`adnet_cli.errors` only)."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from adnet_cli.errors import OutputError

# (temporary, final) pairs of the innermost all_or_nothing() block; None outside one.
_staged: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar("staged", default=None)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """Files written inside the block stay at their temporary names until it ends; then all are
    renamed onto their paths. If the block raises, every temporary file is removed and no path is
    touched, so an earlier result survives a failed command whole (an HDR and its preview)."""
    staged: list[tuple[Path, Path]] = []
    token = _staged.set(staged)
    try:
        yield
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    finally:
        _staged.reset(token)
    with _signals_held():  # the renames are one step: a signal cannot fall between them
        for done, (tmp, path) in enumerate(staged):
            try:
                os.replace(tmp, path)
            except OSError as exc:  # rare (the target became a folder...): no temporary is left
                for left, _ in staged[done:]:
                    with contextlib.suppress(OSError):
                        left.unlink()
                renamed = ", ".join(str(p) for _, p in staged[:done])
                written = f"; {renamed} already replaced" if renamed else ""
                raise OutputError(f"{path}: could not be put in place ({exc.strerror or exc}){written}") from exc


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (where the platform can hold signals)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a new temporary file next to ``path``, then rename it over ``path`` (at the
    end of the enclosing :func:`all_or_nothing` block, if any).

    The temporary name keeps the real extension last. Any failure removes the temporary
    file and raises OutputError (KeyboardInterrupt and the like are cleaned up and re-raised).
    """
    token, suffix = secrets.token_hex(4), path.suffix.lower()
    name = f".{path.name}.tmp-{token}{suffix}"
    if len(os.fsencode(name)) > 255:  # a name near the limit (NAME_MAX) must not fail for its temporary's sake
        name = f".adnet-{token}.tmp{suffix}"
    tmp = path.with_name(name)
    staged = _staged.get()
    try:
        with open(tmp, "xb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if staged is None:
            os.replace(tmp, path)
        else:
            staged.append((tmp, path))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OutputError) or not isinstance(exc, Exception):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OutputError(f"{path}: could not write ({reason.strip()})") from exc


def write_text(path: Path, text: str, *, overwrite: bool = False) -> None:
    """Write a UTF-8 text file (a report) atomically; OutputError if it exists and not overwrite."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists (overwriting was not requested)")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same resolved path, or the same file through a link (an
    output must never be an input). OutputError for a loop of links; other errors (a name too long, a
    file not there yet) count as different files, and writing or reading then says what is wrong."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return os.path.samefile(a, b)
    except RuntimeError as exc:  # a link loop before Python 3.13
        raise OutputError(f"{a} or {b}: cannot be resolved (a loop of links?)") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{a} or {b}: cannot be resolved (a loop of links?)") from exc
        return False

"""What every command shares: the stderr console, error reporting and the progress bar."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from adnet_cli.errors import AdnetError, Terminated, error_line

# Markup off: every string printed holds user text (paths, scene names) in which [brackets] are literal.
console = Console(stderr=True, highlight=False, markup=False)  # messages and progress
results = Console(highlight=False, markup=False)  # what a command reports as its answer (stdout)


@contextlib.contextmanager
def reported_errors(debug: bool) -> Iterator[None]:
    """Turn failures into one line on stderr and exit code 1 (2 for bad usage), unless --debug."""
    try:
        yield
    except typer.Exit:
        raise
    except AdnetError as exc:
        if debug:
            raise
        error(str(exc))
        raise typer.Exit(1) from None
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM as Terminated (see adnet_cli.launch)
        terminated = isinstance(exc, Terminated)
        console.print("terminated" if terminated else "interrupted")
        raise typer.Exit(143 if terminated else 130) from None
    except Exception as exc:  # a bug or an environment problem: still one line without --debug
        if debug:
            raise
        error(failure_line(exc))
        raise typer.Exit(1) from None


def failure_line(exc: BaseException) -> str:
    """The one line a failure is reported in: the library's message, and for anything that is not
    an AdnetError (a bug or an environment problem) where to see more."""
    return error_line(exc) if isinstance(exc, AdnetError) else f"{error_line(exc)} (run with --debug for details)"


def error(message: str) -> None:
    """One error line on stderr, as reported_errors prints it (also for failures that do not stop a batch)."""
    console.print(Text.assemble(("error: ", "bold red"), " ".join(message.split())), soft_wrap=True)


def note(message: str) -> None:
    """A warning or remark for the user, on stderr."""
    console.print(Text.assemble(("note: ", "yellow"), message), soft_wrap=True)


@contextlib.contextmanager
def tile_progress(description: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress callback `(done, total)` shown as a rich progress bar on stderr."""
    if quiet:
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update

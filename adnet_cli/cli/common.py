"""What every command shares: the stderr console, error reporting and the progress bar."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from adnet_cli.errors import AdnetError, error_line, interruption

# Markup off: every string printed holds user text (paths, scene names) in which [brackets] are literal.
REPORT_SCHEMA = 1  # --json reports: bumped when a field changes meaning
# soft_wrap: lines are never hard-wrapped at the terminal's (or a pipe's 80) columns.
console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)  # messages and progress
results = Console(highlight=False, markup=False, soft_wrap=True)  # what a command reports as its answer (stdout)


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
        line, status = interruption(exc)
        console.print(line)
        raise typer.Exit(status) from None
    except Exception as exc:  # a bug or an environment problem: still one line without --debug
        if debug:
            raise
        error(failure_line(exc))
        raise typer.Exit(1) from None


def check_json_target(target: str | None, inputs: Sequence[Path] = (), outputs: Sequence[Path] = ()) -> None:
    """Refuse a --json FILE that cannot be written, names an input or one of the command's outputs,
    before any work (an existing report is replaced, as eval's are)."""
    if target is None or target == "-":
        return
    from adnet_cli.errors import OutputError

    path = Path(target)
    if path.is_dir():
        raise OutputError(f"--json {path}: is a folder; name a file (or - for stdout)")
    if not path.parent.is_dir():
        raise OutputError(f"--json {path}: folder {path.parent} does not exist")
    if any(path.resolve() == Path(p).resolve() for p in inputs):
        raise OutputError(f"--json {path}: refusing to overwrite an input")
    if any(path.resolve() == Path(p).resolve() for p in outputs):
        raise OutputError(f"--json {path}: names an output of this command too")


def emit_json(target: str | None, record: dict) -> None:
    """The report as JSON: to stdout for "-", else written atomically to the file (replacing it)."""
    if target is None:
        return
    text = json.dumps({"schema": REPORT_SCHEMA, **record}, indent=2, allow_nan=True) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from adnet_cli.formats.atomic import write_text

    write_text(Path(target), text, overwrite=True)


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
    """A progress callback `(done, total)`: on a terminal a rich bar on stderr (percent, count,
    elapsed, remaining); otherwise (a log file, a pipe) a plain line at every tenth of the way."""
    if quiet:
        yield lambda done, total: None
        return
    if not console.is_terminal:
        yield _progress_lines(description)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def batch_progress(quiet: bool) -> Iterator[tuple[Callable[[int, int], None], Callable[[int, int], None]]]:
    """Two progress callbacks `(done, total)` for a batch: its groups, and the current group's tiles
    (a 24 MP bracket takes minutes). On a terminal two rich bars; otherwise plain lines as
    :func:`tile_progress` prints them, the tiles' starting again with each group."""
    if quiet:
        yield (lambda done, total: None), (lambda done, total: None)
        return
    if not console.is_terminal:
        yield _progress_lines("merging groups"), _progress_lines("  tiles of the group")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        groups, tiles = bar.add_task("merging groups", total=None), bar.add_task("  tiles of the group", total=None)

        def update_tiles(done: int, total: int) -> None:
            if done == 0:
                bar.reset(tiles, total=total)
            bar.update(tiles, completed=done, total=total)

        yield (lambda done, total: bar.update(groups, completed=done, total=total)), update_tiles


def _progress_lines(description: str) -> Callable[[int, int], None]:
    """Progress as one line per tenth reached, e.g. ``merging: 40% (4/10), 1 min 12 s, about 1 min 48 s left``;
    a call with done 0 starts the count (and the clock) again."""
    start, shown = [time.monotonic()], [0]

    def update(done: int, total: int) -> None:
        if done == 0:
            start[0], shown[0] = time.monotonic(), 0
        if total <= 0 or done <= 0:
            return
        tenth = done * 10 // total
        if tenth <= shown[0] and done < total:
            return
        shown[0] = tenth
        elapsed = time.monotonic() - start[0]
        left = "" if done >= total else f", about {_duration(elapsed * (total - done) / done)} left"
        console.print(f"{description}: {done * 100 // total}% ({done}/{total}), {_duration(elapsed)}{left}",
                      soft_wrap=True)

    return update


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"

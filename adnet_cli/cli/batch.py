"""Batch mode of `adnet merge`: folders (or -o a folder) -> one HDR per automatically found bracket."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

from adnet_cli.bracket import EV_SOURCE, FRAMES, Bracket, BracketPlan, plan_bracket, read_bracket
from adnet_cli.cli.common import console, error, note, results, tile_progress
from adnet_cli.errors import AdnetError, InputError, OutputError
from adnet_cli.grouping import Shot, collect_images, group_shots, order_shots, prefer_raw, read_shot
from adnet_cli.io import HDR_SUFFIXES, PREVIEW_SUFFIXES

PREVIEW_SUFFIX = ".png"
# Merges one bracket into the given HDR file (and preview, when not None): inference, scale, writing.
Merger = Callable[[Bracket, Path, Path | None], None]


@dataclass(frozen=True)
class BatchSettings:
    """What every group of one batch is planned and written with."""

    exposures: str | None  # applied to every group, in capture order (needs group_size)
    ev: str | None
    frames: tuple[int, int, int] | None
    gap: float
    group_size: int | None
    suffix: str  # ".exr" or ".hdr"
    preview: bool
    overwrite: bool


@dataclass(frozen=True)
class Job:
    """One group of a batch: its plan and outputs, or why it cannot be merged."""

    number: int  # from 1, in capture order
    shots: tuple[Shot, ...]
    plan: BracketPlan | None
    hdr: Path | None
    preview: Path | None
    error: str | None = None
    skipped: bool = False  # its HDR output exists and --overwrite was not given

    @property
    def label(self) -> str:
        names = [s.path.name for s in self.shots] or ["-"]
        return f"group {self.number} ({names[0]}{' .. ' + names[-1] if len(names) > 1 else ''})"


def check_batch_output(folder: Path) -> None:
    """Refuse an --output that cannot be the batch's folder."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: not a folder; in batch mode --output names a folder")
    if not folder.exists() and folder.suffix.lower() in (*HDR_SUFFIXES, *PREVIEW_SUFFIXES, ".tif", ".tiff"):
        raise OutputError(f"{folder}: in batch mode --output must be a folder, not an image file")


def plan_batch(inputs: Sequence[Path], folder: Path, settings: BatchSettings) -> tuple[list[Job], list[str]]:
    """Collect, order and group the images; plan each group. Returns the jobs and notes on the files
    (RAW+JPEG twins, order by name when capture times are missing)."""
    found = [p for p in collect_images(inputs) if not _own_preview(p, folder)]
    images, twin_note = prefer_raw(found)
    if not images:
        raise InputError(f"no image files to merge in {', '.join(map(str, inputs))} (only previews of earlier merges)")
    shots, order_note = order_shots([read_shot(p) for p in images])
    groups = group_shots(shots, settings.gap, settings.group_size)
    protected = {p.resolve() for p in found}
    claimed: dict[Path, int] = {}
    jobs = [_plan_job(n, group, folder, settings, protected, claimed) for n, group in enumerate(groups, start=1)]
    return jobs, [n for n in (twin_note, order_note) if n]


def _own_preview(path: Path, folder: Path) -> bool:
    """True for a preview an earlier batch wrote: OUT/<name>.png next to OUT/<name>.exr or .hdr, found
    when the output folder is also an input folder (it is never a frame of a bracket)."""
    if path.suffix.lower() != PREVIEW_SUFFIX or path.parent.resolve() != folder.resolve():
        return False
    return any(path.with_suffix(suffix).is_file() for suffix in HDR_SUFFIXES)


def _plan_job(
    number: int,
    shots: list[Shot],
    folder: Path,
    settings: BatchSettings,
    protected: set[Path],  # resolved input files, never to be written
    claimed: dict[Path, int],  # resolved HDR outputs of earlier groups -> their group number
) -> Job:
    try:
        plan = plan_bracket([s.path for s in shots], settings.exposures, settings.ev, settings.frames)
    except AdnetError as exc:
        return Job(number, tuple(shots), None, None, None, error=str(exc))
    stem = plan.reference.stem
    hdr = folder / f"{stem}{settings.suffix}"
    preview = folder / f"{stem}{PREVIEW_SUFFIX}" if settings.preview else None
    job = Job(number, tuple(shots), plan, hdr, preview)
    for path in (hdr, preview):
        if path is not None and path.resolve() in protected:
            return _failed(job, f"refusing to overwrite input frame {path}")
    if hdr.resolve() in claimed:
        return _failed(job, f"{hdr} is already the output of group {claimed[hdr.resolve()]}")
    claimed[hdr.resolve()] = number
    skipped = hdr.exists() and not settings.overwrite
    if not skipped and preview is not None and preview.exists() and not settings.overwrite:
        return _failed(job, f"{preview} exists (--overwrite to replace it, --no-preview to write none)")
    return Job(number, tuple(shots), plan, hdr, preview, skipped=skipped)


def _failed(job: Job, reason: str) -> Job:
    return Job(job.number, job.shots, job.plan, job.hdr, job.preview, error=reason)


def print_plan(jobs: Sequence[Job]) -> None:
    """The dry run on stdout: each group's frames (sorted by exposure, with the indices --frames takes),
    the three used, the reference and the outputs; then a summary line."""
    for job in jobs:
        if job.plan is None:
            count = f"{len(job.shots)} frame{'s' if len(job.shots) != 1 else ''}"
            results.print(f"{job.label}: {count}: cannot merge: {job.error}", markup=False, soft_wrap=True)
            continue
        times = {s.path: s.capture_time for s in job.shots}
        header = f"group {job.number}: {len(job.plan.paths)} frames, exposures from {job.plan.source}"
        results.print(header, markup=False, soft_wrap=True)
        for line in [*plan_lines(job.plan, times), *(f"note: {n}" for n in job.plan.notes)]:
            results.print(f"  {line}", markup=False, soft_wrap=True)
        outputs = ", ".join(str(p) for p in (job.hdr, job.preview) if p is not None)
        status = " (exists: skipped; --overwrite to redo)" if job.skipped else ""
        status = f" (cannot merge: {job.error})" if job.error else status
        results.print(f"  -> {outputs}{status}", markup=False, soft_wrap=True)
    files = sum(len(j.plan.paths) if j.plan else len(j.shots) for j in jobs)
    skipped, failing = sum(j.skipped for j in jobs), sum(j.error is not None for j in jobs)
    results.print(
        f"{files} files in {len(jobs)} group{'s' if len(jobs) != 1 else ''}: {len(jobs) - skipped - failing} to merge, "
        f"{skipped} skipped (output exists), {failing} cannot be merged",
        markup=False,
        soft_wrap=True,
    )


def plan_lines(plan: BracketPlan, times: dict | None = None) -> list[str]:
    """One line per frame, in aligned columns: index (for --frames), file name, exposure, stops from the
    reference (not for --ev, which is in stops already), capture time, role (short/reference/long/unused)."""
    roles = dict(zip(plan.chosen, ("short", "reference", "long")))
    reference = plan.exposures[plan.chosen[1]]
    rows = []
    for i, (path, t) in enumerate(zip(plan.paths, plan.exposures)):
        stamp = (times or {}).get(path)
        clock = stamp.strftime("%H:%M:%S.%f")[:-4] if stamp else "-"
        stops = [] if plan.source == EV_SOURCE else [f"{math.log2(t / reference):+.1f} EV"]
        rows.append([f"#{i}", path.name, format_exposure(t, plan.source), *stops, clock, roles.get(i, "unused")])
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def format_exposure(value: float, source: str) -> str:
    """1/400 s, 0.3 s, or +2 EV for relative exposures (--ev)."""
    if source == EV_SOURCE:
        return f"{math.log2(value):+g} EV"
    if value < 1 and abs(1 / value - round(1 / value)) < 1e-3:
        return f"1/{round(1 / value)} s"
    return f"{value:.4g} s"


def group_line(job: Job) -> str:
    """The grouping in one line per group, shown before a batch merges (the dry run shows more): its
    files (capture order),
    the three frames used when there are more, and the output, or why it is not merged."""
    if job.error is not None or job.plan is None or job.hdr is None:
        return f"{job.label}: cannot merge (reason below)"
    if job.skipped:
        return f"{job.label}: {job.hdr.name} exists, skipped"
    used = "" if len(job.plan.paths) == FRAMES else ", using " + ", ".join(job.plan.paths[i].name for i in job.plan.chosen)
    return f"{job.label}: {len(job.plan.paths)} frames{used} -> {job.hdr.name}"


def run_batch(jobs: Sequence[Job], folder: Path, prepare: Callable[[], Merger], quiet: bool, debug: bool) -> None:
    """Show the grouping (:func:`group_line`), then merge every mergeable, not skipped job under one
    progress bar; a failing group is reported at the end and the others still run. Exits 1 when any
    group failed."""
    todo = [j for j in jobs if j.error is None and not j.skipped]
    failures = [(j, j.error) for j in jobs if j.error is not None]
    if todo:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create folder ({exc.strerror or exc})") from exc
        merger = prepare()  # loads weights: a failure here stops the batch
        for job in [] if quiet else jobs:
            console.print(group_line(job), markup=False, soft_wrap=True)
        failures += _merge_jobs(todo, merger, quiet, debug)
    _report(jobs, folder, failures, quiet)
    if failures:
        raise typer.Exit(1)


def _merge_jobs(todo: Sequence[Job], merger: Merger, quiet: bool, debug: bool) -> list[tuple[Job, str]]:
    failures = []
    with tile_progress("merging groups", quiet) as progress:
        progress(0, len(todo))
        for done, job in enumerate(todo, start=1):
            try:
                bracket = read_bracket(job.plan)  # type: ignore[arg-type]
                if not quiet:
                    for line in bracket.notes:
                        note(f"group {job.number}: {line}")
                merger(bracket, job.hdr, job.preview)  # type: ignore[arg-type]
            except AdnetError as exc:
                failures.append((job, str(exc)))
            except Exception as exc:  # a bug or an environment problem: the other groups still run
                if debug:
                    raise
                first = str(exc).splitlines()[0] if str(exc) else ""
                failures.append((job, f"{type(exc).__name__}: {first} (run with --debug for details)"))
            progress(done, len(todo))
    return failures


def _report(jobs: Sequence[Job], folder: Path, failures: list[tuple[Job, str]], quiet: bool) -> None:
    skipped = sum(j.skipped for j in jobs)
    if not quiet:
        merged = len(jobs) - skipped - len(failures)
        line = f"merged {merged} of {len(jobs)} groups into {folder}"
        if skipped:
            line += f"; skipped {skipped} whose output exists (--overwrite to merge them again)"
        if failures:
            line += f"; {len(failures)} failed:"
        console.print(line, markup=False, soft_wrap=True)
    for job, reason in sorted(failures, key=lambda f: f[0].number):
        error(f"{job.label}: {reason}")


"""Batch mode of `adnet merge`, as the user sees it: the plan (--dry-run), the grouping, progress
and the summary. Finding the groups and merging them is :mod:`adnet_cli.merge.batch`'s."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adnet_cli.choices import FRAMES
from adnet_cli.cli.common import batch_progress, console, emit_json, error, failure_line, note, results
from adnet_cli.errors import OutputError
from adnet_cli.exposure import ExposureUnit

if TYPE_CHECKING:
    from adnet_cli.merge.batch import BatchSettings, Job
    from adnet_cli.merge.bracket import Bracket, BracketPlan
    from adnet_cli.merge.engine import BracketRequest, MergeResult, Merges


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
        stops = [] if plan.unit is ExposureUnit.RELATIVE else [f"{math.log2(t / reference):+.1f} EV"]
        rows.append([f"#{i}", path.name, plan.unit.format(t), *stops, clock, roles.get(i, "unused")])
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def group_line(job: Job) -> str:
    """The grouping in one line per group, shown before a batch merges (the dry run shows more): its
    files (capture order),
    the three frames used when there are more, and the output, or why it is not merged."""
    if job.error is not None or job.plan is None or job.hdr is None:
        return f"{job.label}: cannot merge (reason below)"
    if job.skipped:
        return f"{job.label}: {job.hdr.name} exists, skipped"
    used = (
        "" if len(job.plan.paths) == FRAMES else ", using " + ", ".join(job.plan.paths[i].name for i in job.plan.chosen)
    )
    return f"{job.label}: {len(job.plan.paths)} frames{used} -> {job.hdr.name}"


def run_batch(
    inputs: Sequence[Path],
    folder: Path,
    settings: BatchSettings,
    request: BracketRequest,
    engine: Callable[[], Merges],
    *,
    dry_run: bool,
    quiet: bool,
    debug: bool,
    json_report: str | None = None,
) -> None:
    """Plan the batch; print the plan (--dry-run), or show the grouping (:func:`group_line`) and merge
    every mergeable, not skipped group under one progress bar. A failing group is reported at the end
    and the others still run; exits 1 when any group failed."""
    from adnet_cli.merge.batch import check_batch_output, merge_jobs, plan_batch
    from adnet_cli.merge.report import engine_record, job_record, merge_record

    check_batch_output(folder)
    jobs, file_notes = plan_batch(inputs, folder, settings, request)
    for line in [] if quiet else file_notes:
        note(line)
    records = {job.number: job_record(job) for job in jobs}
    if dry_run:
        if json_report != "-":  # stdout holds the JSON then
            print_plan(jobs)
        emit_json(json_report, {"command": "merge", "dry_run": True, "notes": file_notes, "groups": list(records.values())})
        if any(j.error for j in jobs):  # what would fail now fails the dry run too
            raise typer.Exit(1)
        return
    todo = [j for j in jobs if j.error is None and not j.skipped]
    failures = [(j, j.error) for j in jobs if j.error is not None]
    if todo:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create folder ({exc.strerror or exc})") from exc
        ready = engine()  # loads weights: a failure here stops the batch
        started = [time.perf_counter()]

        def done(job: Job, result: MergeResult | None, why: str | None) -> None:
            if result is not None and why is None:
                outputs = [p for p in (job.hdr, job.preview) if p is not None]
                records[job.number]["merge"] = merge_record(result, outputs, time.perf_counter() - started[0])
            records[job.number]["error"] = why or records[job.number]["error"]
            started[0] = time.perf_counter()

        if not quiet:
            console.print(ready.describe(), markup=False)
        for job in [] if quiet else jobs:
            console.print(group_line(job), markup=False, soft_wrap=True)
        with batch_progress(quiet) as (progress, tiles):
            failures += merge_jobs(
                todo,
                ready,
                request,
                settings,
                noted=None if quiet else _print_note,
                done=done,
                read=None if quiet else _print_reading_notes,
                reason=failure_line,
                progress=progress,
                tiles=tiles,
                reraise=debug,
            )
    if json_report is not None:
        engine_part = {"engine": engine_record(ready)} if todo else {}
        emit_json(json_report, {"command": "merge", "dry_run": False, **engine_part, "notes": file_notes,
                                "groups": list(records.values())})
    _report(jobs, folder, failures, quiet)
    if failures:
        raise typer.Exit(1)


def _print_reading_notes(job: Job, bracket: Bracket) -> None:
    for line in bracket.notes:
        note(f"group {job.number}: {line}")


def _print_note(job: Job, line: str) -> None:
    note(f"{job.plan.reference.name if job.plan else job.label}: {line}")


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

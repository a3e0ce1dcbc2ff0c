"""Batch mode: folders of photos -> one HDR per bracket found in them, by capture time and exposure
pattern (:mod:`adnet_cli.merge.grouping`). Planning reads EXIF only; :func:`merge_jobs` then runs every
mergeable group through the one engine (:class:`adnet_cli.merge.engine.Engine`). Nothing here prints:
notes and failures come back as data and through callbacks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from adnet_cli.choices import FRAMES, HDR_SUFFIXES, PREVIEW_SUFFIXES, SCENE_SUFFIXES
from adnet_cli.errors import AdnetError, InputError, OutputError, error_line
from adnet_cli.formats.exif import read_tags
from adnet_cli.merge.bracket import Bracket, BracketPlan
from adnet_cli.merge.engine import BracketRequest, MergeResult, Merges
from adnet_cli.merge.grouping import Shot, collect_images, group_shots, order_shots, pause_before, prefer_raw, read_shot
from adnet_cli.merge.outputs import Outputs
from adnet_cli.network.inference import Progress

PREVIEW_SUFFIX = ".png"
# Called after each group: the job, its result (None when it failed) and why it failed (or None).
JobDone = Callable[["Job", MergeResult | None, str | None], None]


@dataclass(frozen=True)
class BatchSettings:
    """How one batch finds its groups and names and writes their outputs (what each group's bracket
    is planned with, exposures included, is the BracketRequest's)."""

    gap: float
    group_size: int | None
    suffix: str  # ".exr", ".hdr" or ".tif" (".png" for an exposure fusion)
    preview: bool
    overwrite: bool
    slow: bool = True  # hand-timed brackets continue past `gap` (grouping.group_shots); off for a --gap given
    float32: bool = False  # EXR as 32-bit float instead of half
    tonemap: str = "mu"  # the previews' operator
    bits: int = 8  # of the previews (or a fusion's display image)

    def outputs(self, job: "Job") -> Outputs:
        """What `job` writes, and how."""
        return Outputs(job.hdr, job.preview, self.float32, self.overwrite, self.tonemap, self.bits)  # type: ignore[arg-type]


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
    if not folder.exists() and folder.suffix.lower() in (*HDR_SUFFIXES, *PREVIEW_SUFFIXES):
        raise OutputError(f"{folder}: in batch mode --output must be a folder, not an image file")


def plan_batch(inputs: Sequence[Path], folder: Path, settings: BatchSettings,
               request: BracketRequest = BracketRequest()) -> tuple[list[Job], list[str]]:
    """Collect, order and group the images; plan each group with `request` (whose exposures, if
    given, apply to every group in capture order, so they need ``group_size``). Returns the jobs and
    notes on the files (RAW+JPEG twins, order by name when capture times are missing)."""
    if (request.exposures is not None or request.ev is not None) and settings.group_size is None:
        raise InputError("in batch mode --exposures / --ev need --group-size N (they apply to every group of N files)")
    found = [p for p in collect_images(inputs) if not _own_output(p, folder)]
    images, twin_note = prefer_raw(found)
    if not images:
        raise InputError(f"no image files to merge in {', '.join(map(str, inputs))} (only previews of earlier merges)")
    shots, order_note = order_shots([read_shot(p) for p in images])
    groups = group_shots(shots, settings.gap, settings.group_size, slow=settings.slow)
    protected = {p.resolve() for p in found}
    claimed: dict[Path, int] = {}
    jobs = [_plan_job(n, group, folder, settings, request, protected, claimed) for n, group in enumerate(groups, start=1)]
    jobs = [_with_hint(job, groups, i, settings) if job.error and len(job.shots) < FRAMES else job
            for i, job in enumerate(jobs)]
    return jobs, [n for n in (twin_note, order_note) if n]


def _with_hint(job: Job, groups: list[list[Shot]], index: int, settings: BatchSettings) -> Job:
    """A group too small to merge, its error extended with why it stands alone and the options that
    would join it to a neighbour."""
    if settings.group_size is not None:
        return replace(job, error=f"{job.error} (what --group-size {settings.group_size} leaves over at the end)")
    pauses = []
    if index > 0:
        pauses.append(pause_before(groups[index][0], groups[index - 1][-1]))
    if index + 1 < len(groups):
        pauses.append(pause_before(groups[index + 1][0], groups[index][-1]))
    known = [p for p in pauses if p is not None]
    hint = "--group-size N takes every N files in capture order as one bracket"
    if known and min(known) > settings.gap:
        nearest = min(known)
        hint = f"the nearest other file was taken {nearest:.3g} s away: --gap {math.ceil(nearest)} joins them, or {hint}"
    elif known:  # within the gap: a repeated setting split it off (an AEB sequence starting again)
        hint = f"its exposure settings repeat those of the files beside it, which starts a new bracket; {hint}"
    return replace(job, error=f"{job.error} ({hint})")


def _own_output(path: Path, folder: Path) -> bool:
    """True for a file an earlier merge wrote, found when its folder is also an input folder (it is
    never a frame of a bracket): a preview or fusion whose EXIF Software names adnet, a 32-bit float
    TIFF (an HDR), or OUT/<name>.png beside OUT/<name>.exr or .hdr (previews of older versions)."""
    tags = read_tags(path) if path.suffix.lower() in PREVIEW_SUFFIXES else {}
    if str(getattr(tags.get("Image Software"), "values", "")).startswith("adnet "):
        return True
    if getattr(tags.get("Image SampleFormat"), "values", None) in ([3], [3, 3, 3]):
        return True
    if path.suffix.lower() != PREVIEW_SUFFIX or path.parent.resolve() != folder.resolve():
        return False
    return any(path.with_suffix(suffix).is_file() for suffix in SCENE_SUFFIXES)  # the formats that are HDR alone


def _plan_job(
    number: int,
    shots: list[Shot],
    folder: Path,
    settings: BatchSettings,
    request: BracketRequest,
    protected: set[Path],  # resolved input files, never to be written
    claimed: dict[Path, int],  # resolved HDR outputs of earlier groups -> their group number
) -> Job:
    try:
        plan = request.plan([s.path for s in shots])
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


def merge_jobs(
    jobs: Sequence[Job],
    engine: Merges,
    request: BracketRequest,
    settings: BatchSettings,
    *,
    done: JobDone | None = None,
    progress: Progress | None = None,
    reraise: bool = False,
    read: Callable[[Job, Bracket], None] | None = None,
    reason: Callable[[BaseException], str] = error_line,
    tiles: Progress | None = None,
    noted: Callable[[Job, str], None] | None = None,
) -> list[tuple[Job, str]]:
    """Merge and write every job that has neither an error nor an existing output, in order, as
    `settings` says (:meth:`BatchSettings.outputs`); a failing group is recorded (job, one-line
    `reason` of its exception) and the others still run.
    progress(done_groups, groups); tiles(done, total): the current group's network tiles.
    `read(job, bracket)` is called once a group's frames are read, before its merge; `noted(job,
    line)` with each preparation step as it is done. `reraise`: let unexpected exceptions (bugs,
    not AdnetError) through instead, for --debug."""
    todo = [j for j in jobs if j.error is None and not j.skipped]
    failures = []
    if progress:
        progress(0, len(todo))
    for count, job in enumerate(todo, start=1):
        result, why = None, None
        hook = None if read is None else (lambda bracket, job=job: read(job, bracket))  # type: ignore[misc]
        say = None if noted is None else (lambda line, job=job: noted(job, line))  # type: ignore[misc]
        try:
            result = engine.merge_plan(job.plan, request, tiles, read=hook, noted=say)  # type: ignore[arg-type]
            result.save(settings.outputs(job))
        except AdnetError as exc:
            why = reason(exc)
        except Exception as exc:  # a bug or an environment problem: the other groups still run
            if reraise:
                raise
            why = reason(exc)
        if why is not None:
            failures.append((job, why))
        if done:
            done(job, result, why)
        if progress:
            progress(count, len(todo))
    return failures

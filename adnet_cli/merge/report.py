"""Machine-readable reports (``--json``): a bracket's plan, and what its merge did, as plain data.

Every record is JSON-ready (str, float, int, bool, None, lists and dicts). Paths are strings as
given; undecodable bytes of a file name are escaped as in the file system's own encoding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from adnet_cli.merge.batch import Job
from adnet_cli.merge.bracket import BracketPlan
from adnet_cli.merge.engine import ClassicalMerger, Engine, MergeResult, Merges
from adnet_cli.runtime import precision_label

ROLES = ("short", "reference", "long")


def _path(path: Path | None) -> str | None:
    return None if path is None else os.fsencode(path).decode("utf-8", "backslashreplace")


def plan_record(plan: BracketPlan, times: Mapping[Path, datetime | None] | None = None) -> dict[str, object]:
    """The plan: frames sorted short to long with exposure (seconds, or relative for --ev), capture
    time (ISO 8601, camera clock), role; the exposures' source; notes."""
    roles = dict(zip(plan.chosen, ROLES))
    frames = [
        {
            "index": i,
            "path": _path(path),
            plan.unit.key: t,
            "capture_time": stamp.isoformat() if (stamp := (times or {}).get(path)) else None,
            "role": roles.get(i, "unused"),
        }
        for i, (path, t) in enumerate(zip(plan.paths, plan.exposures))
    ]
    return {"frames": frames, "exposures_from": plan.source, "reference": _path(plan.reference), "notes": list(plan.notes)}


def job_record(job: Job) -> dict[str, object]:
    """A batch group's plan and outputs, or why it cannot be merged."""
    times = {s.path: s.capture_time for s in job.shots}
    return {
        "group": job.number,
        "files": [_path(s.path) for s in job.shots],
        "plan": None if job.plan is None else plan_record(job.plan, times),
        "outputs": [_path(p) for p in (job.hdr, job.preview) if p is not None],
        "skipped": job.skipped,
        "error": job.error,
    }


def engine_record(engine: Merges) -> dict[str, object]:
    """What merges: the method; for the network its weights (file, sha256 as the outputs record it),
    device, precision and backend."""
    if isinstance(engine, ClassicalMerger):
        return {"software": engine.software, "method": engine.method}
    assert isinstance(engine, Engine)
    return {
        "software": engine.software,
        "method": "adnet",
        "weights": _path(engine.weights),
        "convention": engine.convention,
        "device": str(engine.device),
        "precision": precision_label(engine.options.dtype),
        "deform_backend": engine.model.deform_backend,
        "tile": engine.options.tile,
        "tta": engine.options.tta,
        "network": engine.options.network,
    }


def merge_record(result: MergeResult, outputs: Sequence[Path], seconds: float) -> dict[str, object]:
    """What one merge did: the three frames with their exposures, the preparation (response, alignment,
    crop), where the network ran (windows run of those planned; None for a classical merge), the
    outputs written and the wall time (reading to writing, seconds)."""
    bracket = result.bracket
    return {
        "frames": [{"path": _path(p), "exposure": t, "role": role}
                   for p, t, role in zip(bracket.paths, bracket.exposures, ROLES)],
        "exposures_from": bracket.source,
        "reading_notes": list(bracket.notes),
        "preparation": list(result.notes),
        "network": None if result.network is None else {
            "mode": result.network.mode, "windows": result.network.windows, "windows_run": result.network.ran,
            "masked_share": round(result.network.masked, 4)},
        "size": list(result.hdr.shape[1::-1]),
        "outputs": [_path(p) for p in outputs],
        "seconds": round(seconds, 3),
    }

"""benchmarks/gpu_check.py keeps working before a GPU is lent: its --smoke mode runs every part on the CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_gpu_check_runs_every_part_in_smoke_mode(tmp_path: Path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for header in ("== 1. correctness", "== 2. speed", "== 3. training"):
        assert header in out
    for line in ("float16 vs float32", "bfloat16 vs float32", "tile 32 vs whole image", "auto vs everywhere",
                 "baseline fp32 eager", "crops/s"):
        assert line in out, out
    if "torchvision" not in out.splitlines()[0]:  # CI has no torchvision: the comparison says it was skipped
        assert "comparison skipped" in out
    assert (tmp_path / "train" / "weights.safetensors").is_file() and (tmp_path / "train" / "log.jsonl").is_file()

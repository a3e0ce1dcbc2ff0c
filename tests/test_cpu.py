"""Process-wide CPU settings: the allocator switch and native-bf16 detection."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adnet_cli.runtime import keep_freed_memory, native_bf16


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True),
        ("flags\t\t: fpu sse amx_bf16 amx_tile", True),
        ("Features\t: fp asimd bf16 i8mm", True),
        ("flags\t\t: fpu sse avx2 avx512f avx512bw", False),
    ],
)
def test_native_bf16_reads_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test\n{flags}\n")
    assert native_bf16(str(cpuinfo)) is expected


def test_native_bf16_is_false_without_cpuinfo(tmp_path):
    assert native_bf16(str(tmp_path / "missing")) is False


_FAULTS = """
import resource, sys, torch
from adnet_cli.runtime import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
conv = torch.nn.Conv2d(16, 16, 3, padding=1)
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    with torch.inference_mode():
        x = torch.rand(1, 16, 1024, 1024)  # 64 MB activations, as a forward pass frees and makes them
        for _ in range(4):
            x = torch.relu(conv(x)) + x
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(applied, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_keep_freed_memory_stops_the_kernel_zero_filling_every_activation():
    """Page faults of a second pass over 64 MB activations, each in a fresh process: glibc's default
    mmaps and faults in every block (~330k faults of 4 KB); after the call freed blocks are reused."""
    found = {}
    for mode in ("plain", "keep"):
        done = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True)
        applied, count = done.stdout.split()
        found[mode] = (applied, int(count))
    assert found["keep"][0] == "True"
    assert found["plain"][1] > 5 * found["keep"][1]
    assert keep_freed_memory() is True  # glibc here (the subprocess said so): a second call acts the same


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_release_freed_memory_returns_kept_memory_to_the_kernel():
    code = """
import resource, torch
from adnet_cli.runtime import keep_freed_memory, release_freed_memory
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
keep_freed_memory()
blocks = [torch.ones(16 << 20) for _ in range(8)]  # 512 MB
del blocks
kept = rss_mb()
print(release_freed_memory(), kept, rss_mb())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    released, kept, after = done.stdout.split()
    assert released == "True"
    assert float(kept) - float(after) > 400  # the freed 512 MB were held, then handed back

"""Where and how the network runs, decided once at the edge: the device, the compute precision,
the torchrun environment, and the process-wide CPU settings inference depends on for speed (the
allocator and native bf16).

torch is imported inside the functions that need it, so the command line's help and the allocator
switch (set before anything else) stay cheap.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adnet_cli.choices import PRECISIONS
from adnet_cli.errors import DeviceError

if TYPE_CHECKING:
    import torch

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_MAX = -4


@functools.lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the kernel.

    Each forward pass allocates and frees hundreds of MB-sized tensors. By default glibc serves
    every block over 32 MB with a fresh mmap, so the kernel zero-fills it page by page on first
    touch: on a 2-core machine that system time was 40 % of a 512 px window's run
    (benchmarks/cpu_merge.py measures it). With mmap off and trimming at 2 GB, freed blocks are
    reused. Peak RSS still follows the largest live set. Returns False where libc is not glibc.
    Safe to call more than once; only the first call acts.
    """
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


@functools.lru_cache(maxsize=None)
def _glibc() -> ctypes.CDLL | None:
    """The C library when it has glibc's mallopt and malloc_trim, else None (macOS, musl ...)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def release_freed_memory() -> bool:
    """Hand the memory glibc keeps (see :func:`keep_freed_memory`) back to the kernel, e.g. between
    the network's tiles and the writing of a large result, whose buffers have other sizes and would
    otherwise grow the heap. Returns False where libc has no malloc_trim."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 AVX512-BF16 / AMX, ARMv8.6 BF16


@functools.lru_cache(maxsize=None)
def native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bf16 arithmetic instructions (from `cpuinfo`'s flags), so bf16 autocast
    is faster than float32 rather than emulated. False where the file does not exist."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return not _BF16_FLAGS.isdisjoint(value.split())
    except OSError:
        pass
    return False


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps`` -> a usable device, or DeviceError.

    ``auto`` and a bare ``cuda`` mean GPU `local_rank` (this process's GPU under torchrun)."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        else:
            return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if name == "cuda":
        name = f"cuda:{local_rank}"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name} requested but CUDA is not available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"device {name} requested but only {torch.cuda.device_count()} CUDA devices exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device mps requested but MPS is not available")
    if device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {name!r}")
    return device


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype for `name` (one of :data:`PRECISIONS`) on `device`, or DeviceError.

    ``auto`` is bfloat16 on a CPU with native bf16 instructions (autocast: 1.6x faster there and
    -0.03 dB PSNR-mu on the validation set, see benchmarks/cpu_merge.py) and float32 elsewhere.
    ``float16`` needs CUDA; ``bfloat16`` a CPU or a CUDA GPU that supports it."""
    import torch

    if name == "auto":
        return torch.bfloat16 if device.type == "cpu" and native_bf16() else torch.float32
    if name not in PRECISIONS:
        raise DeviceError(f"unknown precision {name!r} (choose {', '.join(PRECISIONS)})")
    if name == "float16" and device.type != "cuda":
        raise DeviceError("float16 (--half) needs a CUDA device; on the CPU use bfloat16")
    if name == "bfloat16" and device.type not in ("cpu", "cuda"):
        raise DeviceError(f"bfloat16 is not supported on {device.type}")
    if name == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError(f"{device} does not support bfloat16")
    return getattr(torch, name)


def training_dtype(amp: bool, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a training forward pass: bfloat16 on CUDA when `amp`, else None (float32).

    Not on the CPU: on this project's CPU (no native bf16) a bf16 training step ran 0.02x the float32
    one (benchmarks/train_speed.py), and on CPUs with native bf16 it has not been measured yet."""
    import torch

    return torch.bfloat16 if amp and device.type == "cuda" else None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to `dtype` on `device` (a resolved compute dtype), or nothing for float32 / None."""
    import torch

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def precision_label(dtype: torch.dtype) -> str:
    """``float32``, ``bfloat16``... as the user names it."""
    return str(dtype).removeprefix("torch.")


def free_memory_bytes(device: torch.device) -> int:
    """Memory the next tile may use: free CUDA memory, or MemAvailable on the host."""
    if device.type == "cuda":
        import torch

        return torch.cuda.mem_get_info(device)[0]
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/meminfo") as f:
            line = next(ln for ln in f if ln.startswith("MemAvailable:"))
        return int(line.split()[1]) * 1024
    return 4 << 30


def cpu_threads() -> int:
    """Threads torch uses on the CPU."""
    import torch

    return torch.get_num_threads() or os.cpu_count() or 1


@dataclass(frozen=True)
class Launch:
    """This process's place in a torchrun launch (rank 0 of 1 when started plainly)."""

    rank: int
    world: int
    local_rank: int


def torchrun_launch() -> Launch:
    """RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them (defaults: a single process)."""
    env = os.environ
    return Launch(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def join_torchrun(device: torch.device | None = None) -> Launch:
    """This process's launch; under torchrun (WORLD_SIZE > 1) it also joins the process group, once:
    NCCL where the rank computes on CUDA, gloo elsewhere. device: the rank's device (None: its
    cuda:LOCAL_RANK where CUDA is available, else the CPU); a CUDA device becomes the current one,
    since collectives stage their data there."""
    import torch
    import torch.distributed as dist

    launch = torchrun_launch()
    if launch.world > 1 and not dist.is_initialized():
        cuda = device.type == "cuda" if device is not None else torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(device if device is not None else launch.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return launch


def leave_torchrun() -> None:
    """Leave the process group together (a rank that exits while others still talk to it aborts them)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

"""Process-wide CPU settings that inference depends on for speed: the allocator and native bf16.

A leaf module (standard library only).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

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

"""Process-wide settings for batch computation, applied by the entry points that profile windows (the CLI, the
Airflow profiling task) and never on import: the capture SDK runs inside model services.

- numpy's sort kernels: on AMD Zen 4 processors numpy's AVX-512 sort is about five times slower than its AVX2 sort
  (the AVX-512 compress instruction it relies on is microcoded there), and profiling sorts every numerical column.
  `NPY_DISABLE_CPU_FEATURES` is read once, when numpy is first imported: a value the user set is left alone, and
  nothing changes when numpy is already imported or on other processors.
- glibc's allocator keeps freed blocks of up to 32 MB, and up to 64 MB of free memory, for reuse instead of
  handing each back to the system: a column profiled in fresh arrays otherwise costs as much in page faults as its
  sort (measured: 10% of a run).
"""

from __future__ import annotations

import ctypes
import os
import sys

ZEN4_FAMILY = "25"  # AMD family 19h: Zen 3 (no AVX-512) and Zen 4
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
REUSED_BLOCK_BYTES = 32 << 20
KEPT_FREE_BYTES = 64 << 20


def tune_batch_process() -> None:
    prefer_avx2_sort()
    keep_freed_memory()


def prefer_avx2_sort() -> None:
    if "numpy" in sys.modules or "NPY_DISABLE_CPU_FEATURES" in os.environ:
        return
    if slow_avx512_sort(_cpu_fields()):
        os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V4"  # numpy >= 2.4's name for the AVX-512 kernel group


def slow_avx512_sort(fields: dict[str, str]) -> bool:
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family") == ZEN4_FAMILY
        and "avx512f" in fields.get("flags", "").split()
    )


def _cpu_fields() -> dict[str, str]:
    """The first processor's /proc/cpuinfo fields (they describe them all); empty where there is no such file."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def keep_freed_memory() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc; musl and others have no such knobs
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, REUSED_BLOCK_BYTES)
    mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)

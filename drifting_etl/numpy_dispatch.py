"""Choose numpy's sort kernels before numpy is imported.

On AMD Zen 4 processors numpy's AVX-512 sort is about five times slower than its AVX2 sort (the AVX-512 compress
instruction it relies on is microcoded there): profiling a window sorts every numerical column, so this decides
how fast a run is. `NPY_DISABLE_CPU_FEATURES` is read once, when numpy is first imported; a value the user set is
left alone, and nothing changes when numpy is already imported or on other processors.
"""

from __future__ import annotations

import os
import sys

ZEN4_FAMILY = "25"  # AMD family 19h: Zen 3 (no AVX-512) and Zen 4


def _cpu_fields() -> dict[str, str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            fields: dict[str, str] = {}
            for line in cpuinfo:
                if not line.strip():
                    break  # the first processor describes them all
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
            return fields
    except OSError:
        return {}


def slow_avx512_sort(fields: dict[str, str]) -> bool:
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family") == ZEN4_FAMILY
        and "avx512f" in fields.get("flags", "").split()
    )


def prefer_avx2_sort() -> None:
    if "numpy" in sys.modules or "NPY_DISABLE_CPU_FEATURES" in os.environ:
        return
    if slow_avx512_sort(_cpu_fields()):
        os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V4"  # numpy >= 2.4's name for the AVX-512 kernel group

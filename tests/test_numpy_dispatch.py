"""numpy's sort kernels are chosen before numpy loads: AVX2 on AMD Zen 4, where its AVX-512 sort is slow."""

from __future__ import annotations

import os
import subprocess
import sys

from drifting_etl.numpy_dispatch import slow_avx512_sort

ZEN4 = {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "17", "flags": "fpu sse2 avx2 avx512f avx512bw"}


def test_slow_avx512_sort_given_zen4_should_be_true_and_false_elsewhere() -> None:
    assert slow_avx512_sort(ZEN4)
    assert not slow_avx512_sort({**ZEN4, "flags": "fpu sse2 avx2"})  # Zen 3: family 25 without AVX-512
    assert not slow_avx512_sort({**ZEN4, "cpu family": "26"})
    assert not slow_avx512_sort({**ZEN4, "vendor_id": "GenuineIntel", "cpu family": "6"})
    assert not slow_avx512_sort({})


def _environment_after(code: str, **environment: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"} | environment
    script = f"import os\n{code}\nprint(os.environ.get('NPY_DISABLE_CPU_FEATURES', '<unset>'))"
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout


def test_prefer_avx2_sort_should_leave_a_user_setting_and_an_imported_numpy_alone() -> None:
    assert _environment_after("import drifting_etl", NPY_DISABLE_CPU_FEATURES="AVX512F").strip() == "AVX512F"
    assert _environment_after("import numpy, drifting_etl").strip() == "<unset>"

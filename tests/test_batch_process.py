"""Batch entry points tune the process: numpy's AVX2 sort on AMD Zen 4 (chosen before numpy loads), freed memory
kept for reuse. Importing drifting_etl alone (as a model service does for the capture SDK) changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from drifting_etl.core.process import slow_avx512_sort

ZEN4 = {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "17", "flags": "fpu sse2 avx2 avx512f avx512bw"}


def test_slow_avx512_sort_given_zen4_should_be_true_and_false_elsewhere() -> None:
    assert slow_avx512_sort(ZEN4)
    assert not slow_avx512_sort({**ZEN4, "flags": "fpu sse2 avx2"})  # Zen 3: family 25 without AVX-512
    assert not slow_avx512_sort({**ZEN4, "cpu family": "26"})
    assert not slow_avx512_sort({**ZEN4, "vendor_id": "GenuineIntel", "cpu family": "6"})
    assert not slow_avx512_sort({})


def _setting_after(code: str, **environment: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"} | environment
    script = f"import os\n{code}\nprint(os.environ.get('NPY_DISABLE_CPU_FEATURES', '<unset>'))"
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_tune_batch_process_should_leave_a_user_setting_and_an_imported_numpy_alone() -> None:
    assert _setting_after("import drifting_etl.cli.main", NPY_DISABLE_CPU_FEATURES="AVX512F") == "AVX512F"
    assert _setting_after("import numpy, drifting_etl.cli.main") == "<unset>"


def test_import_of_the_package_should_not_tune_the_process() -> None:
    assert _setting_after("import drifting_etl, drifting_etl.capture") == "<unset>"

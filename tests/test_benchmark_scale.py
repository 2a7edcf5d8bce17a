"""The scale benchmark in its small CI mode: it runs end to end and meets its direction checks and error bounds.

The benchmark script does the checking (run faster than Evidently, cached profiles faster than raw files, peak RSS
under 1 GiB, approximation errors within bounds and the same verdicts as the exact methods); this test only asserts
its exit code, so no wall-clock assertion lives in the test suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_scale_benchmark_given_small_mode_should_meet_its_checks(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/scale.py", "--small", "--workdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"

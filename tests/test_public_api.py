"""The package's public surface is explicit and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import drifting_etl


def test_public_api_given_package_should_export_exactly_the_documented_names() -> None:
    assert sorted(drifting_etl.__all__) == sorted(
        ["LogWriter", "LabelWriter", "Window", "run_window", "DriftingError", "__version__"]
    )
    for name in drifting_etl.__all__:
        assert getattr(drifting_etl, name) is not None


def test_package_import_given_fresh_interpreter_should_not_import_heavy_modules() -> None:
    code = "import sys, drifting_etl; print(sorted(m for m in ('pyarrow', 'pandas', 'sqlalchemy', 'scipy') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"

"""drifting-etl: scheduled batch ML monitoring from Parquet logs in object storage.

Public API (everything else is internal and may change):

- `LogWriter`, `LabelWriter` — the capture SDK a model service uses to write logs and late labels;
- `Window` — the half-open UTC interval one monitoring run covers;
- `run_window` — monitor one window of a project (what `drifting-etl run` and the Airflow tasks call);
- `DriftingError` and its subclasses in `drifting_etl.core.errors`.

Names are imported lazily so that `import drifting_etl` stays cheap (Airflow parses DAG files often).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "LogWriter": "drifting_etl.capture.writers",
    "LabelWriter": "drifting_etl.capture.writers",
    "Window": "drifting_etl.core.window",
    "run_window": "drifting_etl.pipeline.run",
    "DriftingError": "drifting_etl.core.errors",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata costs 30 ms of every command's start-up
        from importlib.metadata import version

        return version("drifting-etl")
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drifting_etl' has no attribute {name!r}")

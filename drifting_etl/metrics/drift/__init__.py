"""Drift of each monitored column between the reference and a window, and the dataset-level verdict.

Drift methods are a registry (NannyML's pattern): one class per method (`methods.py`, contract in `base.py`)
owning its name, the column types it accepts, its default threshold, its comparison, its exact computation and its
computation from a profile, and its Evidently name; `registry.py` registers them by the names core spells
(`core.drift_methods.DriftMethodName`). `auto.py` chooses as Evidently's DataDriftPreset does; `column.py`
dispatches one column through the registry; `configuration.py` checks a configuration's methods against the
columns' types. `frequencies.py` and `cell_model.py` are the shared computations the methods are made of.

Pure computation: no storage, no database, no report library.
"""

from __future__ import annotations

from drifting_etl.metrics.drift.auto import SMALL_REFERENCE_ROWS, auto_method, union_distinct
from drifting_etl.metrics.drift.base import Comparison, DriftMethod, MethodScore
from drifting_etl.metrics.drift.cell_model import CellModel
from drifting_etl.metrics.drift.column import ColumnDrift, DatasetDrift, column_drift, dataset_drift
from drifting_etl.metrics.drift.configuration import config_problems
from drifting_etl.metrics.drift.methods import jensenshannon, wasserstein_distance
from drifting_etl.metrics.drift.registry import REGISTRY, evidently_stattests, method_named, methods_table

__all__ = [
    "REGISTRY",
    "SMALL_REFERENCE_ROWS",
    "CellModel",
    "ColumnDrift",
    "Comparison",
    "DatasetDrift",
    "DriftMethod",
    "MethodScore",
    "auto_method",
    "column_drift",
    "config_problems",
    "dataset_drift",
    "evidently_stattests",
    "jensenshannon",
    "method_named",
    "methods_table",
    "union_distinct",
    "wasserstein_distance",
]

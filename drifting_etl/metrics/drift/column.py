"""Drift of one monitored column against the reference, through the registry, and the dataset-level verdict.

Pure computation: the method is resolved by name (or chosen by `auto`), computes its score, and judges it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.config import MultipleTesting
from drifting_etl.core.drift_methods import AUTO, DriftMethodName, ThresholdSource
from drifting_etl.core.errors import ConfigError
from drifting_etl.metrics.drift.auto import auto_method
from drifting_etl.metrics.drift.base import DriftMethod
from drifting_etl.metrics.drift.registry import REGISTRY
from drifting_etl.profiles.columns import ColumnProfile, ColumnReference


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    column_type: ColumnType
    method: DriftMethodName
    score: float
    """The value compared with the threshold: a p-value for ks / chisquare / ztest, else a distance."""
    statistic: float | None
    """The test statistic where there is one (KS D, chi-squared, z)."""
    threshold: float
    drifted: bool
    approximate: bool
    reference_rows: int
    current_rows: int
    score_low: float = math.nan
    """[score_low, score_high] contains the exact score (zero-width when the score is exact)."""
    score_high: float = math.nan
    decided: bool = True
    """Every score in the interval gets the verdict `drifted`; False sends the column to refinement."""
    refined: bool = False
    """Computed exactly in a second pass over the column's values, because its interval contained the threshold."""
    constant_reference: bool = False
    """The reference column holds a single value (Wasserstein is then normed by 0.001, as Evidently does)."""
    threshold_source: ThresholdSource = "method"
    """Where `threshold` came from: the method's default, the configuration, or calibration on the reference."""
    adjusted_score: float | None = None
    """The p-value adjusted across the window's tests (`drift.multiple_testing`), which `drifted` then compares."""
    multiple_testing: MultipleTesting | None = None


@dataclass(frozen=True)
class DatasetDrift:
    drifted_count: int
    feature_count: int
    drift_share: float
    drift_share_threshold: float
    drifted: bool


def column_drift(
    name: str,
    reference: ColumnReference,
    current: ColumnProfile,
    method: str = AUTO,
    threshold: float | None = None,
    *,
    refined: bool = False,
    threshold_source: ThresholdSource | None = None,
) -> ColumnDrift | None:
    """Drift of one column; None when the window has no usable value in it (reported as data quality instead).
    `refined`: `current` was profiled again with every value kept, to decide a verdict its interval left open."""
    if current.count == 0 or reference.count == 0:
        return None
    chosen = auto_method(reference, current) if method == AUTO else _registered(method, name, reference.column_type)
    limit = chosen.default_threshold if threshold is None else threshold
    result = chosen.compute(reference, current)
    statistic = result.statistic
    low, high = result.interval
    return ColumnDrift(
        column=name,
        column_type=reference.column_type,
        method=chosen.name,
        score=float(result.score),
        statistic=None if statistic is None or not math.isfinite(statistic) else float(statistic),
        threshold=float(limit),
        drifted=bool(chosen.is_drift(result.score, limit)),
        approximate=result.approximate,
        reference_rows=reference.count,
        current_rows=current.count,
        score_low=low,
        score_high=high,
        decided=chosen.decides(low, high, limit),
        refined=refined,
        constant_reference=reference.distinct == 1,
        threshold_source=threshold_source or ("method" if threshold is None else "config"),
    )


def _registered(method: str, column: str, column_type: ColumnType) -> DriftMethod:
    """The registered method `method`, checked against the column (a validated configuration never fails here)."""
    found = REGISTRY.get(method)  # type: ignore[call-overload]  # any string may come in; unknown ones are refused
    if found is None:
        raise ConfigError(
            f"unknown drift method {method!r} for column {column!r}",
            column=column,
            hint=f"use auto or one of {', '.join(REGISTRY)}",
        )
    if not found.accepts(column_type):
        accepted = [name for name, other in REGISTRY.items() if other.accepts(column_type)]
        raise ConfigError(
            f"drift method {method!r} does not accept the {column_type} column {column!r}",
            column=column,
            hint=f"use auto or one of {', '.join(accepted)} for it",
        )
    return found


def dataset_drift(drifts: Iterable[ColumnDrift], share_threshold: float) -> DatasetDrift:
    results = list(drifts)
    drifted = sum(result.drifted for result in results)
    share = drifted / len(results) if results else 0.0
    return DatasetDrift(drifted, len(results), share, share_threshold, bool(results) and share >= share_threshold)

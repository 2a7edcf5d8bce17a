"""Compute: a window's summary (merged from row-group summaries) and, from it, drift, data quality and performance.

`summarize` turns one row group's extracted rows into a `WindowSummary`; summaries merge, so any split of a
window into partitions or row groups gives the same result. `evaluate` derives every metric of the window from
the summary and the reference. Pure computation: no storage, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drifting_etl.config import ProjectConfig
from drifting_etl.drift import ColumnDrift, DatasetDrift, column_drift, dataset_drift
from drifting_etl.extract import LABEL
from drifting_etl.performance import ClassificationSummary, PerformanceSummary, RegressionSummary
from drifting_etl.profiles import (
    CategoricalProfile,
    CategoricalReference,
    ColumnType,
    NumericalProfile,
    ReferenceProfile,
    WindowProfile,
    category_key,
    numeric_array,
)


def monitored_columns(config: ProjectConfig) -> dict[str, ColumnType]:
    """Every column whose distribution is compared with the reference: the features, then the prediction."""
    columns: dict[str, ColumnType] = {name: config.column_type(name) for name in config.features.all}
    columns[config.columns.prediction] = "categorical" if config.task == "classification" else "numerical"
    return columns


def positive_label(config: ProjectConfig, reference: ReferenceProfile) -> str:
    if config.performance.positive_label is not None:
        return category_key(config.performance.positive_label)
    if config.task != "classification":
        return ""
    prediction = reference.columns[config.columns.prediction]
    classes = sorted(prediction.counts) if isinstance(prediction, CategoricalReference) else []
    for candidate in ("1", "True"):
        if candidate in classes:
            return candidate
    return classes[-1] if classes else "1"


@dataclass(frozen=True)
class WindowSummary:
    profile: WindowProfile
    performance: PerformanceSummary
    rows: int = 0
    labelled: int = 0

    @classmethod
    def empty(cls, config: ProjectConfig, reference: ReferenceProfile) -> WindowSummary:
        performance: PerformanceSummary = (
            ClassificationSummary() if config.task == "classification" else RegressionSummary()
        )
        return cls(WindowProfile.empty(reference), performance)

    def merge(self, other: WindowSummary) -> WindowSummary:
        return WindowSummary(
            profile=self.profile.merge(other.profile),
            performance=self.performance.merge(other.performance),  # type: ignore[arg-type]
            rows=self.rows + other.rows,
            labelled=self.labelled + other.labelled,
        )


class Rows(Protocol):
    """Extracted rows: a record batch, or a row group read a column at a time (extract.RowGroupRows)."""

    @property
    def num_rows(self) -> int: ...

    @property
    def column_names(self) -> list[str]: ...

    def column(self, name: str) -> pa.Array | pa.ChunkedArray: ...


def summarize(
    rows: Rows, config: ProjectConfig, reference: ReferenceProfile, positive: str, *, keep_values: bool = True
) -> WindowSummary:
    """The summary of some extracted rows (see extract.read_partition_row_groups); `keep_values=False` when they are
    part of more rows than are ever kept verbatim."""
    profile = WindowProfile.of(rows, reference, keep_values=keep_values)
    prediction = rows.column(config.columns.prediction)
    truth = rows.column(LABEL)
    # a row counts as labelled when it has both the truth and the model's prediction
    labelled_mask = pc.and_(pc.is_valid(truth), pc.is_valid(prediction))
    every_row = pc.all(labelled_mask).as_py() is not False

    def labelled(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        return column if every_row else column.filter(labelled_mask)

    truth, prediction = labelled(truth), labelled(prediction)
    performance: PerformanceSummary
    if config.task == "classification":
        proba = None
        proba_column = config.columns.prediction_proba
        if proba_column and proba_column in rows.column_names:
            proba = numeric_array(labelled(rows.column(proba_column)))
        performance = ClassificationSummary.of(truth, prediction, proba, positive)
        count = len(truth)
    else:
        truth_values, predicted = numeric_array(truth), numeric_array(prediction)
        usable = np.isfinite(truth_values) & np.isfinite(predicted)
        count = int(usable.sum())
        performance = RegressionSummary.of(truth_values[usable], predicted[usable])
    return WindowSummary(profile, performance, rows.num_rows, count)


@dataclass(frozen=True)
class QualityResult:
    feature: str
    column_type: Literal["numerical", "categorical"]
    row_count: int
    missing_count: int
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None
    non_finite_count: int = 0
    distinct_count: int | None = None


@dataclass(frozen=True)
class PerformanceResult:
    metric: str
    value: float | None
    threshold: float | None
    threshold_direction: Literal["min", "max"] | None
    breached: bool


@dataclass(frozen=True)
class WindowEvaluation:
    """Everything computed for one window."""

    rows: int
    labelled: int
    feature_drift: list[ColumnDrift]
    prediction_drift: ColumnDrift | None
    dataset: DatasetDrift
    quality: list[QualityResult]
    performance: list[PerformanceResult]
    undetermined: list[str] = field(default_factory=list)
    """Features without a single usable value in the window: no drift verdict (see data quality)."""

    @property
    def label_coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    @property
    def breached_metrics(self) -> list[PerformanceResult]:
        return [result for result in self.performance if result.breached]


def evaluate(
    config: ProjectConfig, reference: ReferenceProfile, summary: WindowSummary, positive: str
) -> WindowEvaluation:
    drifts: list[ColumnDrift] = []
    undetermined: list[str] = []
    for feature in config.features.all:
        settings = config.drift.for_feature(feature)
        result = column_drift(
            feature, reference.columns[feature], summary.profile.columns[feature], settings.method, settings.threshold
        )
        if result is None:
            undetermined.append(feature)
        else:
            drifts.append(result)
    prediction = config.columns.prediction
    prediction_drift = column_drift(
        prediction,
        reference.columns[prediction],
        summary.profile.columns[prediction],
        config.drift.method,
        config.drift.threshold,
    )
    return WindowEvaluation(
        rows=summary.rows,
        labelled=summary.labelled,
        feature_drift=drifts,
        prediction_drift=prediction_drift,
        dataset=dataset_drift(drifts, config.drift.dataset_drift_share),
        quality=[_quality(name, reference, summary.profile) for name in config.features.all],
        performance=_performance(config, summary, positive),
        undetermined=undetermined,
    )


def _quality(name: str, reference: ReferenceProfile, profile: WindowProfile) -> QualityResult:
    column = profile.columns[name]
    rows = column.rows
    missing_share = column.missing / rows if rows else 0.0
    if isinstance(column, NumericalProfile):
        below, above = column.below_above()
        return QualityResult(
            name,
            "numerical",
            rows,
            column.missing,
            missing_share,
            out_of_range_share=(below + above) / column.count if column.count else None,
            new_category_share=None,
            non_finite_count=column.non_finite,
        )
    assert isinstance(column, CategoricalProfile)
    known = reference.columns[name]
    assert isinstance(known, CategoricalReference)
    unseen = sum(n for key, n in column.counts.items() if key not in known.counts)
    return QualityResult(
        name,
        "categorical",
        rows,
        column.missing,
        missing_share,
        out_of_range_share=None,
        new_category_share=unseen / column.count if column.count else None,
        distinct_count=column.distinct,
    )


def _performance(config: ProjectConfig, summary: WindowSummary, positive: str) -> list[PerformanceResult]:
    values = summary.performance.metrics(positive)
    results = []
    for metric in config.metrics:
        value = values.get(metric)
        bound = config.performance.thresholds.get(metric)
        threshold, direction, breached = None, None, False
        if bound is not None:
            direction = "min" if bound.min is not None else "max"
            threshold = bound.min if bound.min is not None else bound.max
            if value is not None and threshold is not None:
                breached = value < threshold if direction == "min" else value > threshold
        results.append(PerformanceResult(metric, value, threshold, direction, breached))  # type: ignore[arg-type]
    return results

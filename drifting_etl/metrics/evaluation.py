"""A window's evaluation: drift, data quality and performance, derived from its merged summary and the reference.

Pure computation: no storage, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.config import ProjectConfig
from drifting_etl.metrics.drift import ColumnDrift, DatasetDrift, column_drift, dataset_drift
from drifting_etl.profiles.columns import (
    CategoricalProfile,
    CategoricalReference,
    ColumnProfile,
    NumericalProfile,
    ReferenceProfile,
    WindowProfile,
)
from drifting_etl.profiles.summary import WindowSummary

PROBABILITY_METRICS = ("roc_auc", "log_loss")
"""Classification metrics computed from the logged `prediction_proba`, not from the predicted class."""


@dataclass(frozen=True)
class QualityResult:
    feature: str
    column_type: ColumnType
    row_count: int
    missing_count: int
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None
    non_finite_count: int = 0
    distinct_count: int | None = None
    type_mismatch_count: int | None = None
    """Values logged with a type the column's declared type cannot hold (numerical: strings); 0 for categorical
    columns, whose values of any type are categories."""
    unreadable_count: int = 0
    """Of those, the values that are no number at all (counted in `missing_count` too)."""
    type_mismatch_example: str | None = None


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
    proba_values: int = 0
    """Rows with a logged `prediction_proba` value (classifiers): 0 when it is declared but never logged."""

    @property
    def label_coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    @property
    def undecided(self) -> list[str]:
        """Columns (features, then the prediction) whose score interval contains their threshold: the profile cannot
        tell their verdict, and the pipeline computes them exactly."""
        drifts = [*self.feature_drift, *([self.prediction_drift] if self.prediction_drift else [])]
        return [drift.column for drift in drifts if not drift.decided]

    @property
    def breached_metrics(self) -> list[PerformanceResult]:
        return [result for result in self.performance if result.breached]


def evaluate(
    config: ProjectConfig,
    reference: ReferenceProfile,
    summary: WindowSummary,
    positive: str,
) -> WindowEvaluation:
    drifts: list[ColumnDrift] = []
    undetermined: list[str] = []
    for feature in config.features.all:
        result = _drift_of(config, reference, feature, summary.profile.columns[feature])
        if result is None:
            undetermined.append(feature)
        else:
            drifts.append(result)
    prediction = config.columns.prediction
    prediction_drift = _drift_of(config, reference, prediction, summary.profile.columns[prediction])
    return WindowEvaluation(
        rows=summary.rows,
        labelled=summary.labelled,
        feature_drift=drifts,
        prediction_drift=prediction_drift,
        dataset=dataset_drift(drifts, config.drift.dataset_drift_share),
        quality=[_quality(name, reference, summary.profile) for name in config.features.all],
        performance=_performance(config, summary, positive),
        undetermined=undetermined,
        proba_values=summary.proba_values,
    )


def refined_evaluation(
    config: ProjectConfig,
    reference: ReferenceProfile,
    evaluation: WindowEvaluation,
    exact: Mapping[str, ColumnProfile],
) -> WindowEvaluation:
    """`evaluation` with the drift of the columns in `exact` computed again from their profiles that kept every value
    (pipeline/refine.py), so exactly (see `WindowEvaluation.undecided`); the dataset verdict follows."""

    def again(drift: ColumnDrift) -> ColumnDrift:
        if drift.column not in exact:
            return drift
        result = _drift_of(config, reference, drift.column, exact[drift.column], refined=True)
        assert result is not None, "a column with a drift result has values"
        return result

    drifts = [again(drift) for drift in evaluation.feature_drift]
    prediction = None if evaluation.prediction_drift is None else again(evaluation.prediction_drift)
    return replace(
        evaluation,
        feature_drift=drifts,
        prediction_drift=prediction,
        dataset=dataset_drift(drifts, config.drift.dataset_drift_share),
    )


def _drift_of(
    config: ProjectConfig, reference: ReferenceProfile, column: str, profile: ColumnProfile, *, refined: bool = False
) -> ColumnDrift | None:
    """The column's drift with its configured method and threshold: a feature's own (`drift.per_feature`), the
    prediction's those of `drift`."""
    settings = config.drift if column == config.columns.prediction else config.drift.for_feature(column)
    return column_drift(
        column, reference.columns[column], profile, settings.method, settings.threshold, refined=refined
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
            type_mismatch_count=column.type_mismatch,
            unreadable_count=column.unreadable,
            type_mismatch_example=column.mismatch_example,
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
        type_mismatch_count=0,  # any logged type is a category (1, 1.0, "1" and True are compared as text)
    )


def _performance(config: ProjectConfig, summary: WindowSummary, positive: str) -> list[PerformanceResult]:
    values = summary.performance.metrics(positive)
    results = []
    for metric in config.metrics:
        if metric not in values:  # not defined for what is logged (multiclass without per-class probabilities)
            continue
        value = values[metric]
        bound = config.performance.thresholds.get(metric)
        threshold, direction, breached = None, None, False
        if bound is not None:
            direction = "min" if bound.min is not None else "max"
            threshold = bound.min if bound.min is not None else bound.max
            if value is not None and threshold is not None:
                breached = value < threshold if direction == "min" else value > threshold
        results.append(PerformanceResult(metric, value, threshold, direction, breached))  # type: ignore[arg-type]
    return results

"""A window's evaluation: drift, data quality and performance, derived from its merged summary and the reference.

Pure computation: no storage, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.config import ProjectConfig, QualityAlerts
from drifting_etl.metrics.calibration import CalibratedThreshold
from drifting_etl.metrics.drift import ColumnDrift, DatasetDrift, auto_method, column_drift, dataset_drift
from drifting_etl.metrics.drift.policies import drifted_windows, with_multiple_testing
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
    alert: str | None = None
    """Why the feature's quality alerts (`alerts.data_quality`), e.g. 'missing 40.0%, 38.0 points above the
    reference (alerts.data_quality.missing_share_increase 0.1)'; None when it does not."""


@dataclass(frozen=True)
class PerformanceResult:
    metric: str
    value: float | None
    threshold: float | None
    threshold_direction: Literal["min", "max"] | None
    breached: bool


@dataclass(frozen=True)
class DriftHistory:
    """The drift verdicts of the windows loaded before this one, most recent first (`drift.persistence`)."""

    dataset: tuple[bool, ...] = ()
    columns: tuple[frozenset[str], ...] = ()
    """Per window, the columns (features and the prediction) that drifted."""


@dataclass(frozen=True)
class PersistentDrift:
    """`drift.persistence` applied to a window: how many of the last `windows` loaded windows drifted."""

    windows: int
    """Windows looked at: this one and those loaded before it, up to `drift.persistence.windows`."""
    min_drifted: int
    dataset_windows: int
    column_windows: Mapping[str, int]

    def persists(self, drifted: bool, count: int) -> bool:
        return drifted and count >= self.min_drifted


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
    unscored: int = 0
    """Rows with a label but no usable prediction (null or NaN): left out of performance."""
    persistence: PersistentDrift | None = None
    """With `drift.persistence`: the drifted windows behind each verdict (see `alert_*`)."""

    @property
    def drifts(self) -> list[ColumnDrift]:
        """The features' drift, then the prediction's."""
        return [*self.feature_drift, *([self.prediction_drift] if self.prediction_drift else [])]

    def persistent(self, drift: ColumnDrift) -> bool | None:
        """Drifted in this window and in enough of the last ones (None without `drift.persistence`)."""
        if self.persistence is None:
            return None
        return self.persistence.persists(drift.drifted, self.persistence.column_windows[drift.column])

    @property
    def dataset_persistent(self) -> bool | None:
        if self.persistence is None:
            return None
        return self.persistence.persists(self.dataset.drifted, self.persistence.dataset_windows)

    @property
    def alert_dataset_drift(self) -> bool:
        """Dataset drift that alerts and retrains: the window's, or with `drift.persistence` a persistent one."""
        persistent = self.dataset_persistent
        return self.dataset.drifted if persistent is None else persistent

    @property
    def alert_columns(self) -> list[str]:
        """Drifted columns that alert: every one, or with `drift.persistence` the persistent ones."""
        return [drift.column for drift in self.drifts if drift.drifted and self.persistent(drift) is not False]

    @property
    def label_coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    @property
    def undecided(self) -> list[str]:
        """Columns (features, then the prediction) whose score interval contains their threshold: the profile cannot
        tell their verdict, and the pipeline computes them exactly."""
        return [drift.column for drift in self.drifts if not drift.decided]

    @property
    def breached_metrics(self) -> list[PerformanceResult]:
        return [result for result in self.performance if result.breached]


def evaluate(
    config: ProjectConfig,
    reference: ReferenceProfile,
    summary: WindowSummary,
    positive: str,
    *,
    thresholds: Mapping[str, CalibratedThreshold] | None = None,
) -> WindowEvaluation:
    """`thresholds`: the features' thresholds calibrated on the reference (`drift.calibration`)."""
    calibrated = thresholds or {}
    drifts: list[ColumnDrift] = []
    undetermined: list[str] = []
    for feature in config.features.all:
        result = _drift_of(config, reference, feature, summary.profile.columns[feature], calibrated.get(feature))
        if result is None:
            undetermined.append(feature)
        else:
            drifts.append(result)
    drifts = with_multiple_testing(drifts, config.drift.multiple_testing)
    prediction = config.columns.prediction
    prediction_drift = _drift_of(config, reference, prediction, summary.profile.columns[prediction], None)
    return WindowEvaluation(
        rows=summary.rows,
        labelled=summary.labelled,
        feature_drift=drifts,
        prediction_drift=prediction_drift,
        dataset=dataset_drift(drifts, config.drift.dataset_drift_share),
        quality=[
            _quality(name, reference, summary.profile, config.alerts.data_quality) for name in config.features.all
        ],
        performance=_performance(config, summary, positive),
        undetermined=undetermined,
        proba_values=summary.proba_values,
        unscored=summary.unscored,
    )


def refined_evaluation(
    config: ProjectConfig,
    reference: ReferenceProfile,
    evaluation: WindowEvaluation,
    exact: Mapping[str, ColumnProfile],
    *,
    thresholds: Mapping[str, CalibratedThreshold] | None = None,
) -> WindowEvaluation:
    """`evaluation` with the drift of the columns in `exact` computed again from their profiles that kept every value
    (pipeline/refine.py), so exactly (see `WindowEvaluation.undecided`); multiple testing and the dataset verdict
    follow."""
    calibrated = thresholds or {}

    def again(drift: ColumnDrift) -> ColumnDrift:
        if drift.column not in exact:
            return drift
        result = _drift_of(
            config, reference, drift.column, exact[drift.column], calibrated.get(drift.column), refined=True
        )
        assert result is not None, "a column with a drift result has values"
        return result

    drifts = with_multiple_testing([again(drift) for drift in evaluation.feature_drift], config.drift.multiple_testing)
    prediction = None if evaluation.prediction_drift is None else again(evaluation.prediction_drift)
    return replace(
        evaluation,
        feature_drift=drifts,
        prediction_drift=prediction,
        dataset=dataset_drift(drifts, config.drift.dataset_drift_share),
    )


def with_persistence(config: ProjectConfig, evaluation: WindowEvaluation, history: DriftHistory) -> WindowEvaluation:
    """`evaluation` with `drift.persistence` applied: each verdict's drifted windows among this one and the loaded
    ones in `history` (unchanged without the policy)."""
    policy = config.drift.persistence
    if policy is None:
        return evaluation
    previous = policy.windows - 1
    columns = history.columns[:previous]
    return replace(
        evaluation,
        persistence=PersistentDrift(
            windows=1 + min(previous, len(history.dataset)),
            min_drifted=policy.min_drifted,
            dataset_windows=drifted_windows(evaluation.dataset.drifted, history.dataset[:previous]),
            column_windows={
                drift.column: drifted_windows(drift.drifted, [drift.column in drifted for drifted in columns])
                for drift in evaluation.drifts
            },
        ),
    )


def _drift_of(
    config: ProjectConfig,
    reference: ReferenceProfile,
    column: str,
    profile: ColumnProfile,
    calibrated: CalibratedThreshold | None,
    *,
    refined: bool = False,
) -> ColumnDrift | None:
    """The column's drift with its configured method and threshold: a feature's own (`drift.per_feature`), the
    prediction's those of `drift`; a threshold calibrated on the reference for the method it was calibrated for."""
    settings = config.drift if column == config.columns.prediction else config.drift.for_feature(column)
    known = reference.columns[column]
    method, threshold = settings.method, settings.threshold
    if calibrated is not None and profile.count and known.count:
        chosen = auto_method(known, profile).name if method == "auto" else method
        if chosen == calibrated.method:
            return column_drift(
                column, known, profile, chosen, calibrated.threshold, refined=refined, threshold_source="reference"
            )
    return column_drift(column, known, profile, method, threshold, refined=refined)


def _quality(name: str, reference: ReferenceProfile, profile: WindowProfile, alerts: QualityAlerts) -> QualityResult:
    column = profile.columns[name]
    rows = column.rows
    missing_share = column.missing / rows if rows else 0.0
    known = reference.columns[name]
    reference_missing = known.missing / (known.count + known.missing) if known.count + known.missing else 0.0
    if isinstance(column, NumericalProfile):
        below, above = column.below_above()
        result = QualityResult(
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
    else:
        assert isinstance(column, CategoricalProfile) and isinstance(known, CategoricalReference)
        unseen = sum(n for key, n in column.counts.items() if key not in known.counts)
        result = QualityResult(
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
    return replace(result, alert=quality_alert(result, reference_missing, alerts))


def quality_alert(result: QualityResult, reference_missing: float, alerts: QualityAlerts) -> str | None:
    """Why `result` alerts under `alerts` (its reasons joined by '; '), or None."""
    reasons = []
    if result.missing_share - reference_missing > alerts.missing_share_increase:
        reasons.append(
            f"missing {result.missing_share:.1%}, {100 * (result.missing_share - reference_missing):.1f} points above "
            f"the reference (alerts.data_quality.missing_share_increase {alerts.missing_share_increase:g})"
        )
    if result.out_of_range_share is not None and result.out_of_range_share > alerts.out_of_range_share:
        reasons.append(
            f"{result.out_of_range_share:.1%} outside the reference's range "
            f"(alerts.data_quality.out_of_range_share {alerts.out_of_range_share:g})"
        )
    if result.new_category_share is not None and result.new_category_share > alerts.new_category_share:
        reasons.append(
            f"{result.new_category_share:.1%} unseen categories "
            f"(alerts.data_quality.new_category_share {alerts.new_category_share:g})"
        )
    return "; ".join(reasons) or None


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

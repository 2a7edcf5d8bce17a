"""What the default report shows, built from the window's merged profile and the rows the metrics database holds for
it (and for the windows before it): no log file is read, and every figure is the stored one.

`read_stored` reads the database; `report_view` is pure: it turns those rows and the profiles into a `ReportView`
of plain numbers and strings, which `reports/report.html.j2` draws (tables, and charts as inline SVG).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from drifting_etl.core.window import Window
from drifting_etl.load.tables import ALL_ROWS
from drifting_etl.metrics.drift.policies import verdict_notes
from drifting_etl.profiles.columns import (
    OTHER_CATEGORY,
    CategoricalProfile,
    CategoricalReference,
    NumericalProfile,
    NumericalReference,
)
from drifting_etl.profiles.performance import ClassificationSummary

if TYPE_CHECKING:
    from drifting_etl.core.config import ProjectConfig
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.profiles.columns import ReferenceProfile
    from drifting_etl.profiles.summary import WindowSummary

DISPLAY_BINS = 24
"""Bars of a numerical feature's chart: the reference's fine cells, summed in groups."""
TOP_CATEGORIES = 12
"""Categories drawn one by one (the most frequent in the reference or the window); the rest as one bar."""
TREND_WINDOWS = 10
"""Windows in the trend charts: this one and those before it."""
CURVE_POINTS = 50
"""Points of the ROC curve (the profile holds the probability histogram in finer bins)."""
CALIBRATION_BINS = 10
"""Bins of predicted probability in the calibration curve; one with fewer than CALIBRATION_MIN_ROWS rows is left out."""
CALIBRATION_MIN_ROWS = 10


@dataclass(frozen=True)
class Bar:
    label: str
    reference: float
    """Share of the reference's rows with a value (0..1)."""
    window: float
    """Share of the window's rows with a value."""
    note: str = ""
    """'unseen' (no reference row has it), 'outside' (beyond the reference's range), 'other' (pooled)."""


@dataclass(frozen=True)
class TrendPoint:
    window_start: datetime
    value: float | None
    flagged: bool


@dataclass(frozen=True)
class FeatureView:
    name: str
    kind: str
    """'feature' or 'prediction'."""
    column_type: str
    method: str
    score: float
    score_low: float | None
    score_high: float | None
    approximate: bool
    refined: bool
    threshold: float
    threshold_source: str
    drifted: bool
    notes: tuple[str, ...]
    bars: tuple[Bar, ...]
    trend: tuple[TrendPoint, ...]


@dataclass(frozen=True)
class QualityView:
    feature: str
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None
    type_mismatch_count: int | None
    non_finite_count: int | None
    distinct_count: int | None
    alert: str | None = None


@dataclass(frozen=True)
class MetricView:
    metric: str
    value: float | None
    threshold: float | None
    direction: str | None
    breached: bool
    labelled_count: int
    label_coverage: float
    trend: tuple[TrendPoint, ...]


@dataclass(frozen=True)
class Curve:
    name: str
    points: tuple[tuple[float, float], ...]
    """(x, y) in 0..1."""


@dataclass(frozen=True)
class ReportView:
    project: str
    window: Window
    status: str
    row_count: int
    labelled_count: int
    task: str
    alert_policy: str | None
    dataset: Mapping[str, Any] | None
    features: tuple[FeatureView, ...]
    quality: tuple[QualityView, ...]
    metrics: tuple[MetricView, ...]
    confusion_classes: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()
    """confusion[i][j]: rows of true class i predicted as class j."""
    curves: tuple[Curve, ...] = ()
    dataset_trend: tuple[TrendPoint, ...] = ()
    warnings: tuple[str, ...] = ()
    previous_link: str | None = None
    next_link: str | None = None
    reference_rows: int = 0
    quality_thresholds: str = ""
    """`alerts.data_quality` in words."""


@dataclass(frozen=True)
class StoredRows:
    """The metrics database's rows for the report: this window's, and the trend windows' (oldest first)."""

    run: Mapping[str, Any] | None
    dataset: Mapping[str, Any] | None
    features: list[dict[str, Any]]
    quality: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    history_features: list[dict[str, Any]]
    history_datasets: list[dict[str, Any]]
    history_metrics: list[dict[str, Any]]


def read_stored(database: MetricsDatabase, project: str, window: Window, *, trend_windows: int) -> StoredRows:
    """This window's rows and those of the `trend_windows - 1` windows of the same length before it."""
    length = window.end - window.start
    since = window.start - (trend_windows - 1) * length

    def whole(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows over all rows of the window against the reference (not a slice or another comparison)."""
        return [
            row
            for row in rows
            if row.get("slice_key", ALL_ROWS) == ALL_ROWS and row.get("compared_with", "reference") == "reference"
        ]

    def of_window(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [row for row in rows if (row["window_start"], row["window_end"]) == (window.start, window.end)]

    history = {
        table: whole(database.rows(table, project, since, window.end))
        for table in ("feature_drift", "dataset_drift", "performance_metric")
    }
    datasets = of_window(history["dataset_drift"])
    return StoredRows(
        run=database.window_run(project, window.start, window.end),
        dataset=datasets[0] if datasets else None,
        features=of_window(history["feature_drift"]),
        quality=of_window(whole(database.rows("data_quality", project, window.start, window.end))),
        metrics=of_window(history["performance_metric"]),
        history_features=[row for row in history["feature_drift"] if row["window_end"] - row["window_start"] == length],
        history_datasets=[row for row in history["dataset_drift"] if row["window_end"] - row["window_start"] == length],
        history_metrics=[
            row for row in history["performance_metric"] if row["window_end"] - row["window_start"] == length
        ],
    )


def report_view(
    config: ProjectConfig,
    reference: ReferenceProfile,
    summary: WindowSummary,
    stored: StoredRows,
    window: Window,
    *,
    previous_link: str | None = None,
    next_link: str | None = None,
) -> ReportView:
    run = stored.run or {}
    profiles = summary.profile.columns
    features = []
    for row in sorted(stored.features, key=lambda r: (r["feature_kind"] != "feature", r["feature"])):
        name = row["feature"]
        features.append(
            FeatureView(
                name=name,
                kind=row["feature_kind"],
                column_type=row["column_type"],
                method=row["method"],
                score=row["score"],
                score_low=row.get("score_low"),
                score_high=row.get("score_high"),
                approximate=bool(row.get("approximate")),
                refined=bool(row.get("refined")),
                threshold=row["threshold"],
                threshold_source=row.get("threshold_source") or "method",
                drifted=bool(row["drifted"]),
                notes=_feature_notes(row),
                bars=_bars(reference.columns.get(name), profiles.get(name)),
                trend=_trend(stored.history_features, lambda r, n=name: r["feature"] == n, "score", "drifted"),
            )
        )
    quality = [
        QualityView(
            feature=row["feature"],
            missing_share=row["missing_share"],
            out_of_range_share=row.get("out_of_range_share"),
            new_category_share=row.get("new_category_share"),
            type_mismatch_count=row.get("type_mismatch_count"),
            non_finite_count=row.get("non_finite_count"),
            distinct_count=row.get("distinct_count"),
            alert=row.get("alert"),
        )
        for row in sorted(stored.quality, key=lambda r: r["feature"])
    ]
    metrics = [
        MetricView(
            metric=row["metric"],
            value=row["value"],
            threshold=row.get("threshold"),
            direction=row.get("threshold_direction"),
            breached=bool(row["breached"]),
            labelled_count=row["labelled_count"],
            label_coverage=row["label_coverage"],
            trend=_trend(stored.history_metrics, lambda r, m=row["metric"]: r["metric"] == m, "value", "breached"),
        )
        for row in sorted(stored.metrics, key=lambda r: r["metric"])
    ]
    classes, confusion, curves = _classification(summary)
    return ReportView(
        project=config.name,
        window=window,
        status=str(run.get("status") or "not loaded"),
        row_count=int(run.get("row_count") or summary.rows),
        labelled_count=int(run.get("labelled_count") or summary.labelled),
        task=config.task,
        alert_policy=run.get("alert_policy"),
        dataset=stored.dataset,
        features=tuple(features),
        quality=tuple(quality),
        metrics=tuple(metrics),
        confusion_classes=classes,
        confusion=confusion,
        curves=curves,
        dataset_trend=_trend(stored.history_datasets, lambda r: True, "drift_share", "drifted"),
        warnings=tuple(line for line in (run.get("warnings") or "").splitlines() if line),
        previous_link=previous_link,
        next_link=next_link,
        reference_rows=reference.row_count,
        quality_thresholds=(
            f"missing share more than {100 * config.alerts.data_quality.missing_share_increase:g} points above the "
            "reference's, "
            f"over {config.alerts.data_quality.out_of_range_share:.0%} outside the reference's range, over "
            f"{config.alerts.data_quality.new_category_share:.0%} unseen categories"
        ),
    )


def _feature_notes(row: Mapping[str, Any]) -> tuple[str, ...]:
    notes = verdict_notes(
        adjusted_score=row.get("adjusted_score"),
        multiple_testing=row.get("multiple_testing"),
        threshold_source=row.get("threshold_source") or "method",
        drifted=bool(row["drifted"]),
        drifted_windows=row.get("drifted_windows"),
        persistent=row.get("persistent"),
        number=_number,
    )
    if row.get("constant_reference"):
        notes.append("the reference holds one value")
    return tuple(notes)


def _trend(rows: Sequence[Mapping[str, Any]], wanted: Any, value: str, flag: str) -> tuple[TrendPoint, ...]:
    points = [
        TrendPoint(row["window_start"], _finite(row.get(value)), bool(row.get(flag))) for row in rows if wanted(row)
    ]
    return tuple(sorted(points, key=lambda point: point.window_start))


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _bars(reference: Any, window: Any) -> tuple[Bar, ...]:
    if isinstance(reference, NumericalReference) and isinstance(window, NumericalProfile):
        return _numerical_bars(reference, window)
    if isinstance(reference, CategoricalReference) and isinstance(window, CategoricalProfile):
        return _categorical_bars(reference, window)
    return ()


def _numerical_bars(reference: NumericalReference, window: NumericalProfile) -> tuple[Bar, ...]:
    """Bars over the reference's range, each a run of its fine cells (profiles.columns.cell_index: cell 0 lies
    below the first of the m edges, 2i+1 on edge i, 2i+2 between edges i and i+1, 2m above the last), and a bar for
    the window's values below and above that range."""
    edges = reference.edges
    m = len(edges)
    if m == 0 or len(window.cell_counts) != 2 * m + 1 or len(reference.cell_counts) != 2 * m + 1:
        return ()
    reference_total = max(float(reference.cell_counts.sum()), 1.0)
    window_total = max(float(window.cell_counts.sum()), 1.0)
    below, above = float(window.cell_counts[0]), float(window.cell_counts[-1])
    if m == 1:
        inside = [(f"= {_number(float(edges[0]))}", float(reference.cell_counts[1]), float(window.cell_counts[1]))]
    else:
        step = max(1, math.ceil((m - 1) / DISPLAY_BINS))
        bounds = np.unique(np.concatenate([np.arange(0, m - 1, step), [m - 1]]))
        interior = slice(1, 2 * m)  # cells on or between the edges
        starts = 2 * bounds[:-1]
        reference_counts = np.add.reduceat(reference.cell_counts[interior].astype(float), starts)
        window_counts = np.add.reduceat(window.cell_counts[interior].astype(float), starts)
        inside = [
            (f"{_number(float(edges[low]))} – {_number(float(edges[high]))}", float(r), float(w))
            for low, high, r, w in zip(
                bounds[:-1].tolist(), bounds[1:].tolist(), reference_counts, window_counts, strict=True
            )
        ]
    bars = []
    if below:
        bars.append(Bar(f"< {_number(float(edges[0]))}", 0.0, below / window_total, "outside"))
    bars += [Bar(label, r / reference_total, w / window_total) for label, r, w in inside]
    if above:
        bars.append(Bar(f"> {_number(float(edges[-1]))}", 0.0, above / window_total, "outside"))
    return tuple(bars)


def _categorical_bars(reference: CategoricalReference, window: CategoricalProfile) -> tuple[Bar, ...]:
    reference_total = max(sum(reference.counts.values()), 1)
    window_total = max(sum(window.counts.values()), 1)
    keys = set(reference.counts) | set(window.counts)
    ranked = sorted(
        keys - {OTHER_CATEGORY},
        key=lambda key: (
            -max(reference.counts.get(key, 0) / reference_total, window.counts.get(key, 0) / window_total),
            key,
        ),
    )
    shown, rest = ranked[:TOP_CATEGORIES], ranked[TOP_CATEGORIES:]
    bars = [
        Bar(
            key,
            reference.counts.get(key, 0) / reference_total,
            window.counts.get(key, 0) / window_total,
            "" if key in reference.counts else "unseen",
        )
        for key in shown
    ]
    pooled_reference = sum(reference.counts.get(key, 0) for key in rest)
    pooled_window = sum(window.counts.get(key, 0) for key in rest) + window.counts.get(OTHER_CATEGORY, 0)
    if pooled_reference or pooled_window:
        bars.append(Bar(f"{len(rest)} more", pooled_reference / reference_total, pooled_window / window_total, "other"))
    return tuple(bars)


def _classification(
    summary: WindowSummary,
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...], tuple[Curve, ...]]:
    performance = summary.performance
    if not isinstance(performance, ClassificationSummary) or not performance.labelled:
        return (), (), ()
    classes = tuple(sorted({truth for truth, _ in performance.confusion} | {p for _, p in performance.confusion}))
    matrix = tuple(tuple(performance.confusion.get((t, p), 0) for p in classes) for t in classes)
    curves: list[Curve] = []
    positives, negatives = performance.positive_histogram, performance.negative_histogram
    if positives.sum() and negatives.sum():
        bins = len(positives)
        group = max(1, bins // CURVE_POINTS)
        pos = np.add.reduceat(positives.astype(float), np.arange(0, bins, group))
        neg = np.add.reduceat(negatives.astype(float), np.arange(0, bins, group))
        # thresholds from high to low: the share of each class scored at or above them
        tpr = np.concatenate([[0.0], np.cumsum(pos[::-1]) / pos.sum()])
        fpr = np.concatenate([[0.0], np.cumsum(neg[::-1]) / neg.sum()])
        curves.append(Curve("ROC", tuple(zip(fpr.tolist(), tpr.tolist(), strict=True))))
        coarse = max(1, bins // CALIBRATION_BINS)
        pos = np.add.reduceat(positives.astype(float), np.arange(0, bins, coarse))
        neg = np.add.reduceat(negatives.astype(float), np.arange(0, bins, coarse))
        centres = (np.arange(len(pos)) + 0.5) / len(pos)
        filled = (pos + neg) >= CALIBRATION_MIN_ROWS
        observed = np.divide(pos, pos + neg, out=np.zeros_like(pos), where=filled)
        points = tuple(zip(centres[filled].tolist(), observed[filled].tolist(), strict=True))
        curves.append(Curve("calibration", points))
    return classes, matrix, tuple(curves)


def _number(value: float) -> str:
    return f"{value:.4g}"

"""A window's results read back from the metrics database, as the e-mail shows them (a `WindowDigest`).

Notifying runs in its own process (its own Airflow task), so it reads what was loaded instead of being handed it.
Reads the database only; composes and sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from drifting_etl.core.config import MultipleTesting
from drifting_etl.core.errors import ComposeError
from drifting_etl.core.window import Window
from drifting_etl.load.tables import ALL_ROWS
from drifting_etl.metrics.drift.policies import persistence_note, verdict_notes
from drifting_etl.notify.formatting import number_text, percent_text

if TYPE_CHECKING:
    from drifting_etl.load.database import MetricsDatabase


def alerting(drifted: bool, persistent: bool | None) -> bool:
    """Drift that alerts: drifted, and persistently so under `drift.persistence` (None: no such policy)."""
    return drifted and persistent is not False


@dataclass(frozen=True)
class DatasetLine:
    drifted: bool
    drifted_count: int
    feature_count: int
    drift_share: float
    threshold: float
    drifted_windows: int | None = None
    persistent: bool | None = None

    @property
    def alerting(self) -> bool:
        return alerting(self.drifted, self.persistent)

    @property
    def note(self) -> str | None:
        return persistence_note(self.drifted, self.drifted_windows, self.persistent)


@dataclass(frozen=True)
class DriftLine:
    feature: str
    column_type: str
    method: str
    score: float
    threshold: float
    drifted: bool
    approximate: bool
    adjusted_score: float | None = None
    multiple_testing: MultipleTesting | None = None
    threshold_source: str = "method"
    drifted_windows: int | None = None
    persistent: bool | None = None

    @property
    def alerting(self) -> bool:
        return alerting(self.drifted, self.persistent)

    @property
    def notes(self) -> list[str]:
        """What the alert policies say about this verdict, in words."""
        return verdict_notes(
            adjusted_score=self.adjusted_score,
            multiple_testing=self.multiple_testing,
            threshold_source=self.threshold_source,
            drifted=self.drifted,
            drifted_windows=self.drifted_windows,
            persistent=self.persistent,
            number=number_text,
        )


@dataclass(frozen=True)
class PerformanceLine:
    metric: str
    value: float | None
    threshold: float | None
    direction: str | None
    breached: bool
    estimated: bool
    previous: float | None
    change: float | None


@dataclass(frozen=True)
class QualityLine:
    feature: str
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None
    alert: str | None = None
    """Why the feature's quality alerts (`alerts.data_quality`); None when it does not."""

    @property
    def problems(self) -> list[str]:
        """'missing 5.2%', 'out of range 1.0%', 'new categories 3.0%' for the shares above zero."""
        shares = (
            ("missing", self.missing_share),
            ("out of range", self.out_of_range_share),
            ("new categories", self.new_category_share),
        )
        return [f"{name} {percent_text(share)}" for name, share in shares if share]


@dataclass(frozen=True)
class RetrainLine:
    dag_id: str
    dag_run_id: str | None
    reason: str


@dataclass(frozen=True)
class WindowDigest:
    """Everything the e-mail says about one window, read from the metrics database."""

    project: str
    window: Window
    status: str
    row_count: int | None
    labelled_count: int | None
    error: str | None
    report_location: str | None
    """As recorded on the run (`annotate_run(report_location=...)`), if any."""
    dataset: DatasetLine | None
    drifted_features: tuple[DriftLine, ...]
    features_checked: int
    prediction: DriftLine | None
    performance: tuple[PerformanceLine, ...]
    previous_window_found: bool
    quality: tuple[QualityLine, ...]
    retrain: tuple[RetrainLine, ...]
    run: Mapping[str, Any] = field(repr=False)
    warnings: tuple[str, ...] = ()
    """What the run wants its reader to know (`monitoring_run.warnings`, one per line)."""
    alert_policy: str | None = None
    """The project's alert policies in words (`monitoring_run.alert_policy`); None: Evidently's per-test verdicts."""

    @property
    def has_drift(self) -> bool:
        """Drift that alerts: the dataset's or a feature's (persistent ones only, under `drift.persistence`)."""
        return bool(self.dataset and self.dataset.alerting) or any(line.alerting for line in self.drifted_features)

    @property
    def has_breach(self) -> bool:
        return any(line.breached for line in self.performance)

    @property
    def has_quality_alert(self) -> bool:
        """A feature's data quality beyond `alerts.data_quality`'s thresholds."""
        return any(line.alert for line in self.quality)

    @property
    def alerts(self) -> bool:
        """Whether `alerts.send: on_drift` e-mails the window: drift, a breached metric, or a quality alert."""
        return self.has_drift or self.has_breach or self.has_quality_alert

    @property
    def headline(self) -> str:
        if self.status == "failed":
            return "RUN FAILED"
        if self.status == "no_data":
            return "NO DATA"
        parts = []
        if self.has_drift:
            kind = "DATA DRIFT" if self.dataset is not None and self.dataset.alerting else "FEATURE DRIFT"
            parts.append(f"{kind} {len(self.drifted_features)}/{self.features_checked} features")
        elif self.drifted_features:
            parts.append(f"drift not persistent {len(self.drifted_features)}/{self.features_checked} features")
        if self.has_breach:
            parts.append("PERFORMANCE BREACH")
        if self.has_quality_alert:
            parts.append(f"DATA QUALITY {sum(1 for line in self.quality if line.alert)} features")
        return ", ".join(parts) or "OK"

    @property
    def headline_color(self) -> str:
        if self.status == "success" and not self.alerts:
            return "#15803d"
        return "#6b7280" if self.status == "no_data" else "#b91c1c"

    @property
    def window_text(self) -> str:
        return window_label(self.window, long=True)

    @property
    def subject(self) -> str:
        return f"[drifting-etl] {self.project}: {self.headline} — {window_label(self.window)}"


def window_label(window: Window, *, long: bool = False) -> str:
    """'2026-01-04' for a calendar day, else '2026-01-04 06:00–12:00' (UTC); `long`: '[start, end) UTC'."""
    start, end = window.start, window.end
    midnight = start.hour == start.minute == start.second == start.microsecond == 0
    if midnight and end - start == timedelta(days=1):
        short = f"{start:%Y-%m-%d}"
    elif start.date() == end.date() or (end - start <= timedelta(days=1) and end.time() == datetime.min.time()):
        short = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    else:
        short = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    if not long:
        return short
    return f"[{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC"


def _this_window(rows: list[dict[str, Any]], window: Window, *, whole: bool = True) -> list[dict[str, Any]]:
    """Rows of exactly this window (`rows()` returns a range) over all rows ('*' slice)."""
    return [
        row
        for row in rows
        if row["window_start"] == window.start
        and row["window_end"] == window.end
        and (not whole or (row.get("slice_key", ALL_ROWS) == ALL_ROWS and row.get("slice_value", ALL_ROWS) == ALL_ROWS))
    ]


def _drift_line(row: Mapping[str, Any]) -> DriftLine:
    return DriftLine(
        feature=row["feature"],
        column_type=row["column_type"],
        method=row["method"],
        score=row["score"],
        threshold=row["threshold"],
        drifted=bool(row["drifted"]),
        approximate=bool(row["approximate"]),
        adjusted_score=row.get("adjusted_score"),
        multiple_testing=row.get("multiple_testing"),
        threshold_source=row.get("threshold_source") or "method",
        drifted_windows=row.get("drifted_windows"),
        persistent=None if row.get("persistent") is None else bool(row["persistent"]),
    )


def read_digest(database: MetricsDatabase, project_name: str, window: Window) -> WindowDigest:
    """Read what the e-mail reports about `window` from the metrics database.

    Raises NotifyError when the window has no run row (it was never loaded), so there is nothing to report.
    """
    start, end = window.start, window.end
    runs = _this_window(database.rows("monitoring_run", project_name, start, end), window, whole=False)
    if not runs:
        raise ComposeError(
            "no monitoring run is recorded for this window, so there is nothing to notify about",
            project=project_name,
            window=str(window),
            hint="run the window first (`drifting-etl run`, or the DAG's load_metrics task), then notify",
        )
    run = runs[0]
    success = run["status"] == "success"  # a failed run keeps an earlier attempt's rows: do not report them

    drift = _this_window(database.rows("feature_drift", project_name, start, end), window) if success else []
    features = [row for row in drift if row["feature_kind"] == "feature" and row["compared_with"] == "reference"]
    predictions = [row for row in drift if row["feature_kind"] == "prediction" and row["compared_with"] == "reference"]
    datasets = _this_window(database.rows("dataset_drift", project_name, start, end), window) if success else []
    datasets = [row for row in datasets if row["compared_with"] == "reference"]
    dataset = (
        DatasetLine(
            drifted=bool(datasets[0]["drifted"]),
            drifted_count=datasets[0]["drifted_count"],
            feature_count=datasets[0]["feature_count"],
            drift_share=datasets[0]["drift_share"],
            threshold=datasets[0]["drift_share_threshold"],
            drifted_windows=datasets[0].get("drifted_windows"),
            persistent=None if datasets[0].get("persistent") is None else bool(datasets[0]["persistent"]),
        )
        if datasets
        else None
    )

    performance_rows = (
        _this_window(database.rows("performance_metric", project_name, start, end), window) if success else []
    )
    previous = database.previous_performance(project_name, before=start) if performance_rows else {}
    performance = []
    for row in performance_rows:
        value, before = row["value"], None if row["estimated"] else previous.get(row["metric"])
        performance.append(
            PerformanceLine(
                metric=row["metric"],
                value=value,
                threshold=row["threshold"],
                direction=row["threshold_direction"],
                breached=bool(row["breached"]),
                estimated=bool(row["estimated"]),
                previous=before,
                change=None if value is None or before is None else value - before,
            )
        )

    quality_rows = _this_window(database.rows("data_quality", project_name, start, end), window) if success else []
    quality = [
        QualityLine(
            row["feature"], row["missing_share"], row["out_of_range_share"], row["new_category_share"], row.get("alert")
        )
        for row in quality_rows
        if (row["missing_share"] or 0) > 0
        or (row["out_of_range_share"] or 0) > 0
        or (row["new_category_share"] or 0) > 0
    ]
    triggers = [
        RetrainLine(dag_id=row["dag_id"], dag_run_id=row["dag_run_id"], reason=row["reason"])
        for row in database.retrain_triggers(project_name)
        if row["window_start"] == start and row["window_end"] == end
    ]
    return WindowDigest(
        project=project_name,
        window=window,
        status=run["status"],
        row_count=run["row_count"] if run["status"] != "failed" else None,
        labelled_count=run["labelled_count"] if run["status"] != "failed" else None,
        error=run["error"] if run["status"] == "failed" else None,
        report_location=run["report_location"],
        dataset=dataset,
        drifted_features=tuple(_drift_line(row) for row in features if row["drifted"]),
        features_checked=len(features),
        prediction=_drift_line(predictions[0]) if predictions else None,
        performance=tuple(performance),
        previous_window_found=bool(previous),
        quality=tuple(quality),
        retrain=tuple(triggers),
        run=run,
        warnings=tuple(line for line in (run.get("warnings") or "").splitlines() if line),
        alert_policy=run.get("alert_policy"),
    )

"""The rows the pipeline hands to the metrics database, one frozen dataclass per table, checked on construction.

This module owns what a valid row is: every field has its annotated type (numpy scalars are coerced to Python
values, since psycopg2 and sqlite3 cannot bind them), closed sets hold one of their values, datetimes are
timezone-aware (a naive one is rejected with ValueError, never guessed: treating it as UTC would hide a shifted
window) and a window starts before it ends. It builds no SQL and connects to nothing.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, get_args

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.config import AlertEvent, MultipleTesting
from drifting_etl.core.drift_methods import ThresholdSource
from drifting_etl.load.tables import (
    ALL_ROWS,
    DeliveryStatus,
    FeatureKind,
    NotificationStatus,
    PublishStatus,
    RunStatus,
    ThresholdDirection,
)

__all__ = [
    "AlertDeliveryRow",
    "DataQualityRow",
    "DatasetDriftRow",
    "FeatureDriftRow",
    "PerformanceRow",
    "RunRow",
    "check_row",
    "require_aware",
    "row_values",
]

# Annotations are strings (`from __future__ import annotations`): closed-set fields are checked by their alias name.
_LITERALS: dict[str, tuple[str, ...]] = {
    "RunStatus": get_args(RunStatus),
    "FeatureKind": get_args(FeatureKind),
    "ColumnType": get_args(ColumnType),
    "ThresholdDirection": get_args(ThresholdDirection),
    "NotificationStatus": get_args(NotificationStatus),
    "PublishStatus": get_args(PublishStatus),
    "ThresholdSource": get_args(ThresholdSource),
    "MultipleTesting": get_args(MultipleTesting),
    "AlertEvent": get_args(AlertEvent),
    "DeliveryStatus": get_args(DeliveryStatus),
}


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def check_row(row: Any) -> None:
    """Validate a row's fields against their annotations and coerce numpy scalars to Python types.

    Compute stages work in numpy; psycopg2 and sqlite3 cannot bind `numpy.int64` or `numpy.bool_`. NaN
    becomes None where the column is nullable (SQLite cannot store NaN; PostgreSQL could, and the two
    backends must agree) and is rejected where it is not.
    """
    name = type(row).__name__
    for field in fields(row):
        value = getattr(row, field.name)
        annotation = str(field.type)
        optional = annotation.endswith(" | None")
        base = annotation.removesuffix(" | None")
        where = f"{name}.{field.name}"
        if value is None:
            if not optional:
                raise TypeError(f"{where} must not be None")
            continue
        coerced: Any = value
        if base == "str":
            if not isinstance(value, str):
                raise TypeError(f"{where} must be a str, got {type(value).__name__}")
        elif base == "bool":
            if not _is_bool(value):
                raise TypeError(f"{where} must be a bool, got {type(value).__name__}")
            coerced = bool(value)
        elif base == "int":
            if _is_bool(value) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{where} must be an int, got {type(value).__name__}")
            coerced = int(value)
        elif base == "float":
            if _is_bool(value) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where} must be a float, got {type(value).__name__}")
            coerced = float(value)
            if math.isnan(coerced):
                if not optional:
                    raise ValueError(f"{where} is NaN")
                coerced = None
        elif base == "datetime":
            if not isinstance(value, datetime):
                raise TypeError(f"{where} must be a datetime, got {type(value).__name__}")
            if value.utcoffset() is None:
                raise ValueError(f"{where} is a naive datetime ({value.isoformat()}); use a timezone-aware UTC one")
        elif base in _LITERALS:
            if value not in _LITERALS[base]:
                raise ValueError(f"{where} must be one of {_LITERALS[base]}, got {value!r}")
        else:  # pragma: no cover - a new field type needs a rule here
            raise TypeError(f"{where}: no validation rule for {annotation!r}")
        if coerced is not value:
            object.__setattr__(row, field.name, coerced)
    if not row.window_start < row.window_end:
        raise ValueError(f"{name}: window_start {row.window_start} is not before window_end {row.window_end}")


def require_aware(name: str, value: datetime | None) -> None:
    """Raise ValueError unless `value` is None or a timezone-aware datetime (a naive one is a bug upstream)."""
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def row_values(row: Any) -> dict[str, Any]:
    """A checked row as the column values to insert."""
    return {field.name: getattr(row, field.name) for field in fields(row)}


@dataclass(frozen=True)
class RunRow:
    """One monitoring run of one window: what happened, and a summary of the metrics written with it."""

    project: str
    window_start: datetime
    window_end: datetime
    status: RunStatus
    row_count: int
    labelled_count: int
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    drifted: bool | None = None
    drift_share: float | None = None
    reference_version: str | None = None
    report_location: str | None = None
    notification_status: NotificationStatus | None = None
    notification_error: str | None = None
    airflow_run_id: str | None = None
    warnings: str | None = None
    """What the reader of a successful run should know (one per line), e.g. a declared column never logged."""
    alert_policy: str | None = None
    """The project's alert policies in words (multiple testing, persistence, calibrated thresholds); None: none."""
    unscored_count: int | None = None
    """Rows with a label but no usable prediction (null or NaN), left out of performance; None before a load."""
    outside_partition_count: int | None = None
    """Rows whose timestamp lies outside their hour folder (or is null), read into no window; None before a load."""
    publish_status: PublishStatus | None = None
    """'owed' from the load until the window's report and e-mail are done ('done'); None: not to be published."""
    quarantined_files: str | None = None
    """Log files left out of the window (`extract.max_bad_file_share`), one `path: reason` per line; None: none."""
    quarantined_file_count: int | None = None
    duplicate_count: int | None = None
    """Rows whose request id an earlier row of their hour partition has, left out of every figure; None before a load."""

    def __post_init__(self) -> None:
        check_row(self)


@dataclass(frozen=True)
class FeatureDriftRow:
    """Drift of one column (feature or prediction) in one window against the reference."""

    project: str
    window_start: datetime
    window_end: datetime
    feature: str
    feature_kind: FeatureKind
    column_type: ColumnType
    method: str
    score: float
    statistic: float | None
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    approximate: bool = False
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS
    compared_with: str = "reference"
    score_low: float | None = None
    """The certified interval [score_low, score_high] that contains the exact score (zero-width when exact)."""
    score_high: float | None = None
    refined: bool = False
    """The interval contained the threshold, so the column was computed exactly in a second pass."""
    constant_reference: bool = False
    """The reference column holds a single value."""
    threshold_source: ThresholdSource = "method"
    adjusted_score: float | None = None
    """The p-value adjusted across the window's tests (`drift.multiple_testing`); `drifted` compares it."""
    multiple_testing: MultipleTesting | None = None
    drifted_windows: int | None = None
    """With `drift.persistence`: of the last `windows` loaded windows (this one included), those that drifted."""
    persistent: bool | None = None
    """With `drift.persistence`: drifted in this window and in at least `min_drifted` of the last `windows`."""

    def __post_init__(self) -> None:
        check_row(self)


@dataclass(frozen=True)
class DatasetDriftRow:
    """Whether the window as a whole drifted: the share of drifted columns against a threshold."""

    project: str
    window_start: datetime
    window_end: datetime
    drifted_count: int
    feature_count: int
    drift_share: float
    drift_share_threshold: float
    drifted: bool
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS
    compared_with: str = "reference"
    drifted_windows: int | None = None
    persistent: bool | None = None

    def __post_init__(self) -> None:
        check_row(self)


@dataclass(frozen=True)
class DataQualityRow:
    """Missing values, out-of-range values and unseen categories of one column in one window."""

    project: str
    window_start: datetime
    window_end: datetime
    feature: str
    column_type: ColumnType
    row_count: int
    missing_count: int
    missing_share: float
    out_of_range_share: float | None
    new_category_share: float | None
    distinct_count: int | None = None
    type_mismatch_count: int | None = None
    """Values of a numerical column logged with another type (e.g. numbers as strings); 0 for categorical ones."""
    non_finite_count: int | None = None
    """+inf and -inf values of a numerical column (left out of drift, not counted as missing); None for categorical."""
    alert: str | None = None
    """Why the feature's quality alerts (`alerts.data_quality`); None when it does not."""
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS

    def __post_init__(self) -> None:
        check_row(self)


@dataclass(frozen=True)
class PerformanceRow:
    """One model performance metric in one window (None when it cannot be computed, e.g. no labels)."""

    project: str
    window_start: datetime
    window_end: datetime
    metric: str
    value: float | None
    labelled_count: int
    label_coverage: float
    threshold: float | None
    threshold_direction: ThresholdDirection | None
    breached: bool
    estimated: bool = False
    slice_key: str = ALL_ROWS
    slice_value: str = ALL_ROWS

    def __post_init__(self) -> None:
        check_row(self)


@dataclass(frozen=True)
class AlertDeliveryRow:
    """One alert about one window to one channel: sent, failed (after `attempts` POSTs) or skipped (sent before)."""

    project: str
    window_start: datetime
    window_end: datetime
    channel: str
    event: AlertEvent
    status: DeliveryStatus
    attempts: int
    recorded_at: datetime
    http_status: int | None = None
    """The status of the receiver's last answer; None without one (a timeout, a refused connection, no attempt)."""
    error: str | None = None
    """Why it failed (never a URL or secret); None unless failed."""
    reason: str | None = None
    """Why it was skipped; None unless skipped."""
    forced: bool = False
    """Sent again although sent before (`--notify`, the DAG run parameter force_notify)."""
    airflow_run_id: str | None = None

    def __post_init__(self) -> None:
        check_row(self)

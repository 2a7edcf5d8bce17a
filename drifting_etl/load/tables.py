"""The metrics tables: their SQLAlchemy Core definitions, the closed sets of values their columns hold, and UTC
timestamps on every backend.

These names and columns are a public contract (BI dashboards query them). The schema is created and changed only
by the migrations in `drifting_etl/load/migrations/versions`, never by `create_all`: the definitions here mirror
the migrations so queries can be built from them, and a test compares the two. This module defines; it connects to
nothing and runs no statement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import SchemaItem

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.config import AlertEvent
from drifting_etl.store.artifacts import ProjectStatus

__all__ = [
    "ALL_ROWS",
    "METRIC_TABLES",
    "NATURAL_KEYS",
    "DeliveryStatus",
    "FeatureKind",
    "MetricTable",
    "NotificationStatus",
    "RunStatus",
    "ThresholdDirection",
    "UTCDateTime",
    "alert_delivery",
    "data_quality",
    "dataset_drift",
    "feature_drift",
    "metadata",
    "monitored_project",
    "monitoring_run",
    "notification",
    "performance_metric",
    "retrain_trigger",
]

RunStatus = Literal["success", "failed", "no_data"]
FeatureKind = Literal["feature", "prediction"]
ThresholdDirection = Literal["min", "max"]
NotificationStatus = Literal["sent", "skipped", "failed"]
"""What became of a window's e-mail (`monitoring_run.notification_status`)."""
PublishStatus = Literal["owed", "done"]
"""Whether a loaded window's report, e-mail and alerts are still owed (`monitoring_run.publish_status`; NULL: not
meant to be published, e.g. `run --no-report --no-notify`)."""
DeliveryStatus = Literal["sent", "failed", "skipped"]
"""What became of one alert to one channel (`alert_delivery.status`): `skipped` when it was sent before."""
MetricTable = Literal["monitoring_run", "feature_drift", "dataset_drift", "data_quality", "performance_metric"]
METRIC_TABLES: tuple[MetricTable, ...] = get_args(MetricTable)
"""The five tables a window's run replaces, in the order `MetricsDatabase.rows` readers list them."""

ALL_ROWS = "*"  # slice_key/slice_value of metrics computed over the whole window


# ---------------------------------------------------------------------------------------------------- types
class UTCDateTime(sa.TypeDecorator[datetime]):
    """`TIMESTAMP WITH TIME ZONE` that always binds and returns timezone-aware UTC datetimes.

    SQLite has no timestamp type: values are stored as UTC text without an offset (sortable), and read back
    with UTC attached. PostgreSQL values are converted to UTC whatever the session time zone. Naive datetimes
    raise `ValueError`.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# ---------------------------------------------------------------------------------------------------- tables
# Change a name or a column only with a new migration, and keep these definitions in step (tests compare them).
metadata = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "monitoring_run": (),
    "feature_drift": ("slice_key", "slice_value", "compared_with", "feature"),
    "dataset_drift": ("slice_key", "slice_value", "compared_with"),
    "data_quality": ("slice_key", "slice_value", "feature"),
    "performance_metric": ("slice_key", "slice_value", "metric", "estimated"),
}
"""The natural key of a row within its (project, window_start, window_end); also the ORDER BY of `rows()`."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """The CHECK text allowing a closed set, derived from its Literal (the migrations spell the same text)."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def _id_and_window(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _slice_columns(*, compared_with: bool) -> list[sa.Column[Any]]:
    columns = [
        sa.Column("slice_key", sa.Text(), nullable=False, server_default=ALL_ROWS),
        sa.Column("slice_value", sa.Text(), nullable=False, server_default=ALL_ROWS),
    ]
    if compared_with:
        columns.append(sa.Column("compared_with", sa.Text(), nullable=False, server_default="reference"))
    columns.append(sa.Column("computed_at", UTCDateTime(), nullable=False, server_default=sa.func.now()))
    return columns


def _metric_table_extras(name: str) -> list[SchemaItem]:
    return [
        sa.UniqueConstraint("project", "window_start", "window_end", *NATURAL_KEYS[name], name=f"uq_{name}_key"),
        sa.Index(f"ix_{name}_project_window_start", "project", "window_start"),
    ]


monitoring_run = sa.Table(
    "monitoring_run",
    metadata,
    *_id_and_window("monitoring_run"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("row_count", sa.BigInteger(), nullable=False),
    sa.Column("labelled_count", sa.BigInteger(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("drifted", sa.Boolean(), nullable=True),
    sa.Column("drift_share", sa.Float(), nullable=True),
    sa.Column("reference_version", sa.Text(), nullable=True),
    sa.Column("report_location", sa.Text(), nullable=True),
    sa.Column("notification_status", sa.String(16), nullable=True),
    sa.Column("notification_error", sa.Text(), nullable=True),
    sa.Column("airflow_run_id", sa.String(250), nullable=True),
    sa.UniqueConstraint("project", "window_start", "window_end", name="uq_monitoring_run_window"),
    sa.Column("warnings", sa.Text(), nullable=True),  # migration 0006
    sa.Column("alert_policy", sa.Text(), nullable=True),  # migration 0009
    sa.Column("unscored_count", sa.BigInteger(), nullable=True),  # migration 0010
    sa.Column("outside_partition_count", sa.BigInteger(), nullable=True),
    sa.Column("publish_status", sa.String(16), nullable=True),
    sa.Column("quarantined_files", sa.Text(), nullable=True),  # migration 0011
    sa.Column("quarantined_file_count", sa.BigInteger(), nullable=True),
    sa.Column("duplicate_count", sa.BigInteger(), nullable=True),
    sa.CheckConstraint(_one_of("status", get_args(RunStatus)), name="ck_monitoring_run_status"),
    sa.Index("ix_monitoring_run_project_latest", "project", "window_end", "window_start"),  # migration 0002
)

feature_drift = sa.Table(
    "feature_drift",
    metadata,
    *_id_and_window("feature_drift"),
    sa.Column("feature", sa.Text(), nullable=False),
    sa.Column("feature_kind", sa.String(16), nullable=False),
    sa.Column("column_type", sa.String(16), nullable=False),
    sa.Column("method", sa.Text(), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("statistic", sa.Float(), nullable=True),
    sa.Column("threshold", sa.Float(), nullable=False),
    sa.Column("drifted", sa.Boolean(), nullable=False),
    sa.Column("reference_rows", sa.BigInteger(), nullable=False),
    sa.Column("current_rows", sa.BigInteger(), nullable=False),
    sa.Column("approximate", sa.Boolean(), nullable=False, server_default=sa.false()),
    *_slice_columns(compared_with=True),
    *_metric_table_extras("feature_drift"),
    sa.Column("score_low", sa.Float(), nullable=True),  # migration 0008
    sa.Column("score_high", sa.Float(), nullable=True),
    sa.Column("refined", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("constant_reference", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("threshold_source", sa.String(16), nullable=False, server_default="method"),  # migration 0009
    sa.Column("adjusted_score", sa.Float(), nullable=True),
    sa.Column("multiple_testing", sa.String(8), nullable=True),
    sa.Column("drifted_windows", sa.Integer(), nullable=True),
    sa.Column("persistent", sa.Boolean(), nullable=True),
    sa.CheckConstraint(_one_of("feature_kind", get_args(FeatureKind)), name="ck_feature_drift_feature_kind"),
    sa.CheckConstraint(_one_of("column_type", get_args(ColumnType)), name="ck_feature_drift_column_type"),
)

dataset_drift = sa.Table(
    "dataset_drift",
    metadata,
    *_id_and_window("dataset_drift"),
    sa.Column("drifted_count", sa.BigInteger(), nullable=False),
    sa.Column("feature_count", sa.BigInteger(), nullable=False),
    sa.Column("drift_share", sa.Float(), nullable=False),
    sa.Column("drift_share_threshold", sa.Float(), nullable=False),
    sa.Column("drifted", sa.Boolean(), nullable=False),
    *_slice_columns(compared_with=True),
    *_metric_table_extras("dataset_drift"),
    sa.Column("drifted_windows", sa.Integer(), nullable=True),  # migration 0009
    sa.Column("persistent", sa.Boolean(), nullable=True),
)

data_quality = sa.Table(
    "data_quality",
    metadata,
    *_id_and_window("data_quality"),
    sa.Column("feature", sa.Text(), nullable=False),
    sa.Column("column_type", sa.String(16), nullable=False),
    sa.Column("row_count", sa.BigInteger(), nullable=False),
    sa.Column("missing_count", sa.BigInteger(), nullable=False),
    sa.Column("missing_share", sa.Float(), nullable=False),
    sa.Column("out_of_range_share", sa.Float(), nullable=True),
    sa.Column("new_category_share", sa.Float(), nullable=True),
    *_slice_columns(compared_with=False),
    *_metric_table_extras("data_quality"),
    sa.Column("distinct_count", sa.BigInteger(), nullable=True),
    sa.Column("type_mismatch_count", sa.BigInteger(), nullable=True),  # migration 0006
    sa.Column("non_finite_count", sa.BigInteger(), nullable=True),  # migration 0007
    sa.Column("alert", sa.Text(), nullable=True),  # migration 0013
    sa.CheckConstraint(_one_of("column_type", get_args(ColumnType)), name="ck_data_quality_column_type"),
)

performance_metric = sa.Table(
    "performance_metric",
    metadata,
    *_id_and_window("performance_metric"),
    sa.Column("metric", sa.Text(), nullable=False),
    sa.Column("value", sa.Float(), nullable=True),
    sa.Column("labelled_count", sa.BigInteger(), nullable=False),
    sa.Column("label_coverage", sa.Float(), nullable=False),
    sa.Column("threshold", sa.Float(), nullable=True),
    sa.Column("threshold_direction", sa.String(8), nullable=True),
    sa.Column("breached", sa.Boolean(), nullable=False),
    sa.Column("estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
    *_slice_columns(compared_with=False),
    *_metric_table_extras("performance_metric"),
    sa.CheckConstraint(
        f"threshold_direction IS NULL OR {_one_of('threshold_direction', get_args(ThresholdDirection))}",
        name="ck_performance_metric_threshold_direction",
    ),
)

# Retraining triggers, claimed by `MetricsDatabase.claim_retrain_trigger` (at most one per cooldown).
retrain_trigger = sa.Table(
    "retrain_trigger",
    metadata,
    *_id_and_window("retrain_trigger"),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("metrics", _JSON, nullable=False),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("dag_run_id", sa.String(250), nullable=True),
    sa.Column("triggered_at", UTCDateTime(), nullable=False),
    sa.Index("ix_retrain_trigger_project_window_start", "project", "window_start"),
)

# E-mails sent about a window, recorded by `MetricsDatabase.record_notification` (migration 0004). Not a metric
# table: re-running a window keeps them, so a re-run with the same verdict is not e-mailed again.
notification = sa.Table(
    "notification",
    metadata,
    *_id_and_window("notification"),
    sa.Column("sent_at", UTCDateTime(), nullable=False),
    sa.Column("recipients", sa.Text(), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("verdict", sa.Text(), nullable=False),
    sa.Column("forced", sa.Boolean(), nullable=False),
    sa.Column("airflow_run_id", sa.String(250), nullable=True),
    sa.Index("ix_notification_project_window_start", "project", "window_start"),
)

# Alerts to the project's channels (Slack, webhooks), one row per (channel, event) each time a window is published,
# recorded by `MetricsDatabase.record_alert_delivery` (migration 0012). Not a metric table: re-running a window keeps
# them, so an event already sent to a channel is not sent again.
alert_delivery = sa.Table(
    "alert_delivery",
    metadata,
    *_id_and_window("alert_delivery"),
    sa.Column("channel", sa.String(63), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("http_status", sa.Integer(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("forced", sa.Boolean(), nullable=False),
    sa.Column("airflow_run_id", sa.String(250), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint(_one_of("event", get_args(AlertEvent)), name="ck_alert_delivery_event"),
    sa.CheckConstraint(_one_of("status", get_args(DeliveryStatus)), name="ck_alert_delivery_status"),
    sa.Index("ix_alert_delivery_project_window_start", "project", "window_start"),
)
"""`attempts`: POSTs made (0 when the channel's URL or secret could not be read); `http_status`: the last answer's
status (NULL without one: a timeout, a refused connection); `error`: why it failed; `reason`: why it was skipped."""

# The registered projects, as the store's index had them when last registered, paused, resumed or run (migration 0005):
# what v_projects_needing_attention reads for projects that never ran, the staleness horizon and paused projects.
monitored_project = sa.Table(
    "monitored_project",
    metadata,
    sa.Column("project", sa.String(63), nullable=False),
    sa.Column("schedule", sa.Text(), nullable=False),
    sa.Column("interval_seconds", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("registered_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("project", name="pk_monitored_project"),
    sa.CheckConstraint(_one_of("status", get_args(ProjectStatus)), name="ck_monitored_project_status"),
)
"""`interval_seconds`: `core.window.schedule_interval(schedule)`, the schedule's longest interval between ticks."""

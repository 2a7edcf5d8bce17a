"""Read queries on the metrics database, as SQLAlchemy statements: what the CLI, the e-mail and the report read
back about a project's windows; and the deletes that purge a project (`project_tables`, `delete_project_rows`).

Each function checks its arguments and returns a statement; `MetricsDatabase` runs it (and turns driver errors
into `DatabaseError`). Nothing here connects, writes or computes a metric.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from drifting_etl.core.errors import ConfigError
from drifting_etl.load.rows import require_aware
from drifting_etl.load.tables import (
    ALL_ROWS,
    METRIC_TABLES,
    NATURAL_KEYS,
    RunStatus,
    UTCDateTime,
    alert_delivery,
    dataset_drift,
    feature_drift,
    metadata,
    monitoring_run,
    notification,
    performance_metric,
    retrain_trigger,
)

__all__ = [
    "HEALTH_KEYS",
    "alert_deliveries",
    "attention",
    "delete_project_rows",
    "drifted_columns",
    "notifications",
    "owed_windows",
    "previous_dataset_drift",
    "previous_performance",
    "project_health",
    "project_tables",
    "retrain_triggers",
    "run_history",
    "runs",
    "window_conditions",
    "window_rows",
    "window_run",
]


def window_conditions(table: sa.Table, project: str, start: datetime, end: datetime) -> list[Any]:
    """WHERE conditions selecting exactly one window's rows of `table`."""
    return [table.c.project == project, table.c.window_start == start, table.c.window_end == end]


def runs(project: str) -> sa.Select[Any]:
    """Every run of `project`, oldest window first."""
    return (
        sa.select(monitoring_run)
        .where(monitoring_run.c.project == project)
        .order_by(monitoring_run.c.window_start, monitoring_run.c.window_end)
    )


def run_history(
    project: str, *, since: datetime | None = None, status: RunStatus | None = None, limit: int | None = None
) -> sa.Select[Any]:
    """`project`'s runs, newest window first, each with its whole-window dataset drift verdict against the reference
    (`dataset_drift`, `drifted_features`; NULL when the window has no such row).

    `since` keeps windows starting at or after it, `status` one run status, `limit` the newest N.
    """
    require_aware("since", since)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    run, drift = monitoring_run, dataset_drift
    verdict = sa.and_(
        drift.c.project == run.c.project,
        drift.c.window_start == run.c.window_start,
        drift.c.window_end == run.c.window_end,
        drift.c.slice_key == ALL_ROWS,
        drift.c.slice_value == ALL_ROWS,
        drift.c.compared_with == "reference",
    )
    conditions = [run.c.project == project]
    if since is not None:
        conditions.append(run.c.window_start >= since)
    if status is not None:
        conditions.append(run.c.status == status)
    statement = (
        sa.select(
            run.c.window_start,
            run.c.window_end,
            run.c.status,
            run.c.row_count,
            run.c.error,
            drift.c.drifted.label("dataset_drift"),
            drift.c.drifted_count.label("drifted_features"),
        )
        .select_from(run.outerjoin(drift, verdict))
        .where(*conditions)
        .order_by(run.c.window_start.desc(), run.c.window_end.desc())
    )
    return statement if limit is None else statement.limit(limit)


def window_run(project: str, window_start: datetime, window_end: datetime) -> sa.Select[Any]:
    """The run row of exactly one window of `project` (none when the window never ran)."""
    require_aware("window_start", window_start)
    require_aware("window_end", window_end)
    return sa.select(monitoring_run).where(*window_conditions(monitoring_run, project, window_start, window_end))


def window_rows(
    table: str, project: str, window_start: datetime | None = None, window_end: datetime | None = None
) -> sa.Select[Any]:
    """Rows of one of the five window tables for `project`, ordered by window then natural key.

    `window_start`/`window_end` bound a range: rows whose window starts at or after `window_start` and
    ends at or before `window_end` (pass both of one window to get exactly that window).
    """
    if table not in METRIC_TABLES:
        raise ConfigError(f"unknown metrics table {table!r}", hint=f"use one of {', '.join(METRIC_TABLES)}")
    require_aware("window_start", window_start)
    require_aware("window_end", window_end)
    source = metadata.tables[table]
    conditions = [source.c.project == project]
    if window_start is not None:
        conditions.append(source.c.window_start >= window_start)
    if window_end is not None:
        conditions.append(source.c.window_end <= window_end)
    order = [source.c.window_start, source.c.window_end, *(source.c[key] for key in NATURAL_KEYS[table]), source.c.id]
    return sa.select(source).where(*conditions).order_by(*order)


def owed_windows(project: str) -> sa.Select[Any]:
    """(window_start, window_end) of the project's successful or empty windows whose publishing is owed."""
    run = monitoring_run
    return (
        sa.select(run.c.window_start, run.c.window_end)
        .where(run.c.project == project, run.c.publish_status == "owed", run.c.status.in_(["success", "no_data"]))
        .order_by(run.c.window_start, run.c.window_end)
    )


def previous_dataset_drift(project: str, before: datetime, windows: int) -> sa.Select[Any]:
    """(window_start, window_end, drifted) of the latest `windows` successful windows ending at or before `before`,
    most recent first, from their whole-window dataset verdict against the reference."""
    require_aware("before", before)
    run, dataset = monitoring_run, dataset_drift
    return (
        sa.select(run.c.window_start, run.c.window_end, dataset.c.drifted)
        .select_from(
            run.join(
                dataset,
                sa.and_(
                    dataset.c.project == run.c.project,
                    dataset.c.window_start == run.c.window_start,
                    dataset.c.window_end == run.c.window_end,
                ),
            )
        )
        .where(
            run.c.project == project,
            run.c.status == "success",
            run.c.window_end <= before,
            dataset.c.slice_key == ALL_ROWS,
            dataset.c.slice_value == ALL_ROWS,
            dataset.c.compared_with == "reference",
        )
        .order_by(run.c.window_end.desc(), run.c.window_start.desc())
        .limit(windows)
    )


def drifted_columns(project: str, since: datetime, before: datetime) -> sa.Select[Any]:
    """(window_start, window_end, feature) of the columns that drifted against the reference, whole windows ending
    in [since, before]."""
    require_aware("since", since)
    require_aware("before", before)
    drift = feature_drift
    return sa.select(drift.c.window_start, drift.c.window_end, drift.c.feature).where(
        drift.c.project == project,
        drift.c.drifted.is_(True),
        drift.c.window_end >= since,
        drift.c.window_end <= before,
        drift.c.slice_key == ALL_ROWS,
        drift.c.slice_value == ALL_ROWS,
        drift.c.compared_with == "reference",
    )


def previous_performance(project: str, before: datetime) -> sa.Select[Any]:
    """(metric, value) of the measured whole-window metrics of the latest successful window ending at or before
    `before` that has any; windows without labels (all values None) are skipped.
    """
    require_aware("before", before)
    run, perf = monitoring_run, performance_metric
    measured = [
        perf.c.slice_key == ALL_ROWS,
        perf.c.slice_value == ALL_ROWS,
        perf.c.estimated.is_(False),
        perf.c.value.is_not(None),
    ]
    joined = perf.join(
        run,
        sa.and_(
            run.c.project == perf.c.project,
            run.c.window_start == perf.c.window_start,
            run.c.window_end == perf.c.window_end,
        ),
    )
    latest = (
        sa.select(perf.c.window_start, perf.c.window_end)
        .select_from(joined)
        .where(perf.c.project == project, perf.c.window_end <= before, run.c.status == "success", *measured)
        .order_by(perf.c.window_end.desc(), perf.c.window_start.desc())
        .limit(1)
        .subquery("latest")
    )
    # One statement, so a window being rewritten concurrently is seen either before or after, never half.
    return (
        sa.select(perf.c.metric, perf.c.value)
        .select_from(
            perf.join(
                latest,
                sa.and_(perf.c.window_start == latest.c.window_start, perf.c.window_end == latest.c.window_end),
            )
        )
        .where(perf.c.project == project, *measured)
        .order_by(perf.c.metric)
    )


def retrain_triggers(project: str) -> sa.Select[Any]:
    """Every recorded retraining trigger of `project`, oldest first."""
    table = retrain_trigger
    return sa.select(table).where(table.c.project == project).order_by(table.c.triggered_at, table.c.id)


def notifications(project: str, window_start: datetime, window_end: datetime) -> sa.Select[Any]:
    """The e-mails sent about one window, newest first."""
    return (
        sa.select(notification)
        .where(*window_conditions(notification, project, window_start, window_end))
        .order_by(notification.c.sent_at.desc(), notification.c.id.desc())
    )


def alert_deliveries(project: str, window_start: datetime, window_end: datetime) -> sa.Select[Any]:
    """The alerts recorded for one window's channels, newest first."""
    return (
        sa.select(alert_delivery)
        .where(*window_conditions(alert_delivery, project, window_start, window_end))
        .order_by(alert_delivery.c.recorded_at.desc(), alert_delivery.c.id.desc())
    )


HEALTH_KEYS = (
    "latest_window_start",
    "latest_window_end",
    "latest_status",
    "last_success_window_start",
    "last_success_window_end",
)
"""What `project_health` gives per project besides its name."""

# The views, declared for reading (their timestamps typed, so SQLite's text reads back as aware UTC datetimes).
_latest_run = sa.table(
    "v_latest_run",
    sa.column("project", sa.Text()),
    sa.column("window_start", UTCDateTime()),
    sa.column("window_end", UTCDateTime()),
    sa.column("status", sa.Text()),
)
_attention = sa.table("v_projects_needing_attention", sa.column("project", sa.Text()), sa.column("reasons", sa.Text()))


def project_health() -> sa.Select[Any]:
    """Each project with runs: its latest window (from v_latest_run) and its latest successful window (NULL when none
    succeeded), ordered by project."""
    run = monitoring_run
    ranked = (
        sa.select(
            run.c.project,
            run.c.window_start,
            run.c.window_end,
            sa.func.row_number()
            .over(partition_by=run.c.project, order_by=(run.c.window_end.desc(), run.c.window_start.desc()))
            .label("position"),
        )
        .where(run.c.status == "success")
        .subquery("ranked")
    )
    success = sa.select(ranked).where(ranked.c.position == 1).subquery("last_success")
    latest = _latest_run
    return (
        sa.select(
            latest.c.project,
            latest.c.window_start.label("latest_window_start"),
            latest.c.window_end.label("latest_window_end"),
            latest.c.status.label("latest_status"),
            sa.type_coerce(success.c.window_start, UTCDateTime()).label("last_success_window_start"),
            sa.type_coerce(success.c.window_end, UTCDateTime()).label("last_success_window_end"),
        )
        .select_from(latest.outerjoin(success, success.c.project == latest.c.project))
        .order_by(latest.c.project)
    )


def attention() -> sa.Select[Any]:
    """(project, reasons) of every row of v_projects_needing_attention."""
    return sa.select(_attention.c.project, _attention.c.reasons).order_by(_attention.c.project)


def project_tables() -> list[sa.Table]:
    """Every table of the schema with a `project` column, dependent tables before those they reference: whatever
    tables a migration adds, a purge covers them."""
    return [table for table in reversed(metadata.sorted_tables) if "project" in table.c]


def delete_project_rows(table: sa.Table, project: str) -> sa.Delete:
    """Delete every row of `project` from `table` (one of `project_tables()`)."""
    if "project" not in table.c:
        raise ConfigError(f"table {table.name!r} has no project column")
    return sa.delete(table).where(table.c.project == project)

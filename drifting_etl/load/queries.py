"""Read queries on the metrics database, as SQLAlchemy statements: what the CLI, the e-mail and the report read
back about a project's windows.

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
    metadata,
    monitoring_run,
    performance_metric,
    retrain_trigger,
)

__all__ = ["previous_performance", "retrain_triggers", "runs", "window_conditions", "window_rows"]


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

"""The metrics database: where each monitoring window's results are stored for dashboards and trends.

`MetricsDatabase` is the one object callers use. It owns the connection to one URL, the window writes
(`replace_window`, `record_failure`, `annotate_run`, `claim_retrain_trigger`, `record_notification`,
`record_alert_delivery`) and runs what its neighbours define: the migrations (`load.migrate`) and the read queries
(`load.queries`). The tables are in `load.tables`, the rows
and their checks in `load.rows`, the URL handling in `load.url`. It computes nothing and reads no artifact-store
data.

Rules it keeps:

- A window is written in one transaction: delete every row of the window, insert the new ones. Re-running a
  window leaves the same rows, and a failed write leaves the previous rows untouched.
- Datetimes are timezone-aware UTC on every backend. Naive datetimes are rejected (`ValueError`), never
  guessed: a naive value is a bug upstream, and treating it as UTC would hide a shifted window.
- Error messages never contain the database password.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from drifting_etl.core.window import schedule_interval
from drifting_etl.load import queries
from drifting_etl.load.engine import create_engine, translate_errors, window_text
from drifting_etl.load.migrate import check_revision, upgrade
from drifting_etl.load.queries import window_conditions
from drifting_etl.load.rows import (
    AlertDeliveryRow,
    DataQualityRow,
    DatasetDriftRow,
    FeatureDriftRow,
    PerformanceRow,
    RunRow,
    require_aware,
    row_values,
)
from drifting_etl.load.tables import (
    MetricTable,
    RunStatus,
    alert_delivery,
    metadata,
    monitored_project,
    monitoring_run,
    notification,
    retrain_trigger,
)
from drifting_etl.load.url import display_url, parse_url
from drifting_etl.store.artifacts import ProjectStatus

__all__ = ["MetricsDatabase"]


class MetricsDatabase:
    """The metrics database at one URL. Constructing one does no I/O; the engine is created on first use."""

    def __init__(self, url: str) -> None:
        self._url = parse_url(url)
        self._engine: Engine | None = None

    @property
    def display_url(self) -> str:
        """The URL with its password masked: the only form that may appear in messages and logs."""
        return display_url(self._url)

    @property
    def dialect_name(self) -> str:
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"MetricsDatabase({self.display_url!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use (for queries this class does not offer yet)."""
        if self._engine is None:
            self._engine = create_engine(self._url)
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections (call at the end of a task or CLI command)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _errors(
        self, action: str, *, project: str | None = None, window: str | None = None
    ) -> AbstractContextManager[None]:
        return translate_errors(action, url=self._url, project=project, window=window)

    def _read(
        self, statement: sa.Select[Any], action: str, *, project: str, window: str | None = None
    ) -> list[dict[str, Any]]:
        with self._errors(action, project=project, window=window), self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    # ------------------------------------------------------------------------------------------- schema
    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (idempotent)."""
        upgrade(self.engine, self._url)

    def check_schema(self) -> None:
        """Raise DatabaseError unless the database is migrated to the newest revision (`SCHEMA_REVISION`)."""
        check_revision(self.engine, self._url)

    # ------------------------------------------------------------------------------------------- reads
    def runs(self, project: str) -> list[dict[str, Any]]:
        """Every run of `project`, oldest window first."""
        return self._read(queries.runs(project), "read the runs", project=project)

    def run_history(
        self,
        project: str,
        *,
        since: datetime | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """`project`'s runs, newest window first, with each window's dataset drift verdict (`dataset_drift`,
        `drifted_features`, None without one); `since`, `status` and `limit` narrow them (see `queries.run_history`).
        """
        statement = queries.run_history(project, since=since, status=status, limit=limit)
        return self._read(statement, "read the run history", project=project)

    def owed_windows(self, project: str) -> list[tuple[datetime, datetime]]:
        """(start, end) of `project`'s loaded windows whose report and e-mail are still owed, oldest first."""
        statement = queries.owed_windows(project)
        return [
            (row["window_start"], row["window_end"])
            for row in self._read(statement, "read owed windows", project=project)
        ]

    def window_run(self, project: str, window_start: datetime, window_end: datetime) -> dict[str, Any] | None:
        """The run row of exactly one window, or None when that window never ran."""
        statement = queries.window_run(project, window_start, window_end)
        window = window_text(window_start, window_end)
        found = self._read(statement, "read the window's run", project=project, window=window)
        return found[0] if found else None

    def rows(
        self,
        table: MetricTable | str,
        project: str,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of one of the five window tables for `project`, ordered by window then natural key.

        `window_start`/`window_end` bound a range: rows whose window starts at or after `window_start` and
        ends at or before `window_end` (pass both of one window to get exactly that window).
        """
        statement = queries.window_rows(table, project, window_start, window_end)
        window = window_text(window_start, window_end)
        return self._read(statement, f"read {table}", project=project, window=window)

    def previous_performance(self, project: str, before: datetime) -> dict[str, float]:
        """Measured whole-window metrics (metric -> value) of the latest successful window ending at or
        before `before` that has any; windows without labels (all values None) are skipped.
        """
        statement = queries.previous_performance(project, before)
        rows = self._read(statement, "read the previous performance", project=project)
        return {row["metric"]: float(row["value"]) for row in rows}

    def previous_drift(self, project: str, before: datetime, windows: int) -> list[tuple[bool, frozenset[str]]]:
        """The latest `windows` successful windows ending at or before `before`, most recent first: each as (dataset
        drifted, the columns that drifted) against the reference (`drift.persistence`)."""
        if windows <= 0:
            return []
        runs = self._read(
            queries.previous_dataset_drift(project, before, windows), "read earlier drift", project=project
        )
        if not runs:
            return []
        since = min(row["window_end"] for row in runs)
        columns: dict[tuple[datetime, datetime], set[str]] = {
            (row["window_start"], row["window_end"]): set() for row in runs
        }
        statement = queries.drifted_columns(project, since, before)
        for row in self._read(statement, "read earlier drift", project=project):
            columns.get((row["window_start"], row["window_end"]), set()).add(row["feature"])
        return [(bool(row["drifted"]), frozenset(columns[(row["window_start"], row["window_end"])])) for row in runs]

    def project_health(self) -> dict[str, dict[str, Any]]:
        """Every project the database knows (runs or `monitored_project`) -> its latest window (`latest_window_start`,
        `latest_window_end`, `latest_status`, None when it never ran), its latest successful window
        (`last_success_window_start`, `last_success_window_end`) and its attention `reasons` from
        v_projects_needing_attention (a list, most urgent first; empty when the view does not list it)."""
        with self._errors("read the projects' health"), self.engine.connect() as connection:
            health: dict[str, dict[str, Any]] = {}
            empty = dict.fromkeys(queries.HEALTH_KEYS) | {"reasons": []}
            for row in connection.execute(queries.project_health()).mappings():
                health[row["project"]] = {**empty, **{key: row[key] for key in queries.HEALTH_KEYS}}
            for row in connection.execute(queries.attention()).mappings():
                entry = health.setdefault(row["project"], dict(empty))
                entry["reasons"] = row["reasons"].split(",") if row["reasons"] else []
            return health

    def retrain_triggers(self, project: str) -> list[dict[str, Any]]:
        """Every recorded retraining trigger of `project`, oldest first."""
        statement = queries.retrain_triggers(project)
        return self._read(statement, "read retraining triggers", project=project)

    # ------------------------------------------------------------------------------------------- writes
    def replace_window(
        self,
        run: RunRow,
        feature_drift: Sequence[FeatureDriftRow],
        dataset_drift: DatasetDriftRow | None,
        data_quality: Sequence[DataQualityRow],
        performance: Sequence[PerformanceRow],
    ) -> None:
        """Replace every row of `run`'s window, in one transaction: all new rows are stored, or none are.

        The window's stored report stays recorded when `run` brings none (a re-run with --no-report leaves the report
        file in place, and the e-mail links to it)."""
        window = (run.project, run.window_start, run.window_end)
        batches: list[tuple[sa.Table, list[dict[str, Any]]]] = []
        computed_at = datetime.now(UTC)
        # The parameters shadow the tables' names, hence metadata.tables.
        for name, rows in (
            ("feature_drift", feature_drift),
            ("dataset_drift", [dataset_drift] if dataset_drift is not None else []),
            ("data_quality", data_quality),
            ("performance_metric", performance),
        ):
            values = []
            for row in rows:
                if (row.project, row.window_start, row.window_end) != window:
                    raise ValueError(
                        f"{type(row).__name__} for {row.project} {window_text(row.window_start, row.window_end)} "
                        f"passed with the run of {run.project} {window_text(run.window_start, run.window_end)}"
                    )
                values.append({**row_values(row), "computed_at": computed_at})
            batches.append((metadata.tables[name], values))

        with (
            self._errors(
                "replace the window's metrics",
                project=run.project,
                window=window_text(run.window_start, run.window_end),
            ),
            self.engine.execution_options(sqlite_immediate=True).begin() as connection,
        ):
            # One load of a window at a time: two concurrent ones would each delete, then insert, and the second
            # would hit the unique key (PostgreSQL: an advisory lock per window; SQLite: BEGIN IMMEDIATE).
            if self.dialect_name == "postgresql":
                key = f"window {run.project} {run.window_start.isoformat()} {run.window_end.isoformat()}"
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(key.encode()))))
            run_values = row_values(run)
            if run.publish_status is None:  # a re-run that does not publish leaves an earlier debt on record
                run_values["publish_status"] = connection.execute(
                    sa.select(monitoring_run.c.publish_status).where(*window_conditions(monitoring_run, *window))
                ).scalar()
            if run.report_location is None:
                run_values["report_location"] = connection.execute(
                    sa.select(monitoring_run.c.report_location).where(*window_conditions(monitoring_run, *window))
                ).scalar()
            for table, _ in batches:
                connection.execute(sa.delete(table).where(*window_conditions(table, *window)))
            connection.execute(sa.delete(monitoring_run).where(*window_conditions(monitoring_run, *window)))
            connection.execute(sa.insert(monitoring_run), [run_values])
            for table, values in batches:
                if values:
                    connection.execute(sa.insert(table), values)

    def record_failure(
        self,
        project: str,
        window_start: datetime,
        window_end: datetime,
        started_at: datetime,
        finished_at: datetime,
        error: str,
        *,
        airflow_run_id: str | None = None,
    ) -> None:
        """Mark the window's run as failed, keeping the metric rows (and their summary) of an earlier run.

        Only the attempt's columns change on an existing run row: status, error, started_at, finished_at and
        airflow_run_id. row_count, drifted, … keep describing the metric rows that are still stored.
        """
        run = RunRow(
            project=project,
            window_start=window_start,
            window_end=window_end,
            status="failed",
            row_count=0,
            labelled_count=0,
            started_at=started_at,
            finished_at=finished_at,
            error=error,
            airflow_run_id=airflow_run_id,
        )
        insert = (postgresql.insert if self.dialect_name == "postgresql" else sqlite.insert)(monitoring_run)
        attempt = ("status", "error", "started_at", "finished_at", "airflow_run_id")
        statement = insert.values(row_values(run)).on_conflict_do_update(
            index_elements=["project", "window_start", "window_end"],
            set_={name: insert.excluded[name] for name in attempt},
        )
        with (
            self._errors("record the failed run", project=project, window=window_text(window_start, window_end)),
            self.engine.begin() as connection,
        ):
            connection.execute(statement)

    def annotate_run(self, project: str, window_start: datetime, window_end: datetime, **fields: str | None) -> None:
        """Set the report location or the notification outcome of a window's run (after its metrics were loaded)."""
        allowed = {"report_location", "notification_status", "notification_error", "publish_status"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"annotate_run sets only {sorted(allowed)}")
        window = window_text(window_start, window_end)
        statement = (
            sa.update(monitoring_run)
            .where(*window_conditions(monitoring_run, project, window_start, window_end))
            .values(**fields)
        )
        with (
            self._errors("annotate the run", project=project, window=window),
            self.engine.begin() as connection,
        ):
            connection.execute(statement)

    def record_project(
        self, project: str, *, schedule: str, status: ProjectStatus, now: datetime | None = None
    ) -> None:
        """Upsert the project's `monitored_project` row: its schedule, the schedule's interval length and its status as
        the store's index has them (on registering, pausing, resuming, and every run of a window)."""
        now = datetime.now(UTC) if now is None else now
        require_aware("now", now)
        values = {
            "project": project,
            "schedule": schedule,
            "interval_seconds": int(schedule_interval(schedule).total_seconds()),
            "status": status,
            "registered_at": now,
            "updated_at": now,
        }
        insert = (postgresql.insert if self.dialect_name == "postgresql" else sqlite.insert)(monitored_project)
        statement = insert.values(values).on_conflict_do_update(
            index_elements=["project"],
            set_={name: insert.excluded[name] for name in ("schedule", "interval_seconds", "status", "updated_at")},
        )
        with self._errors("record the monitored project", project=project), self.engine.begin() as connection:
            connection.execute(statement)

    def monitored_projects(self) -> dict[str, dict[str, Any]]:
        """Every `monitored_project` row, by project."""
        statement = sa.select(monitored_project).order_by(monitored_project.c.project)
        with self._errors("read the monitored projects"), self.engine.connect() as connection:
            return {row["project"]: dict(row) for row in connection.execute(statement).mappings()}

    # ------------------------------------------------------------------------------------------- e-mail
    def notifications(self, project: str, window_start: datetime, window_end: datetime) -> list[dict[str, Any]]:
        """The e-mails sent about one window (`record_notification`), newest first."""
        statement = queries.notifications(project, window_start, window_end)
        window = window_text(window_start, window_end)
        return self._read(statement, "read the window's e-mails", project=project, window=window)

    def record_notification(
        self,
        project: str,
        window_start: datetime,
        window_end: datetime,
        *,
        sent_at: datetime,
        recipients: Sequence[str],
        subject: str,
        verdict: str,
        forced: bool,
        airflow_run_id: str | None = None,
    ) -> None:
        """Record an e-mail that was sent about a window (kept when the window is re-run)."""
        for name, value in (("window_start", window_start), ("window_end", window_end), ("sent_at", sent_at)):
            require_aware(name, value)
        values = {
            "project": project,
            "window_start": window_start,
            "window_end": window_end,
            "sent_at": sent_at,
            "recipients": ", ".join(recipients),
            "subject": subject,
            "verdict": verdict,
            "forced": forced,
            "airflow_run_id": airflow_run_id,
        }
        window = window_text(window_start, window_end)
        with self._errors("record the e-mail", project=project, window=window), self.engine.begin() as connection:
            connection.execute(sa.insert(notification), [values])

    # ------------------------------------------------------------------------------------------- alert channels
    def alert_deliveries(self, project: str, window_start: datetime, window_end: datetime) -> list[dict[str, Any]]:
        """The alerts recorded for one window's channels (`record_alert_delivery`), newest first."""
        statement = queries.alert_deliveries(project, window_start, window_end)
        window = window_text(window_start, window_end)
        return self._read(statement, "read the window's alert deliveries", project=project, window=window)

    def record_alert_delivery(self, row: AlertDeliveryRow) -> None:
        """Record what became of one alert to one channel (kept when the window is re-run)."""
        window = window_text(row.window_start, row.window_end)
        with (
            self._errors("record the alert delivery", project=row.project, window=window),
            self.engine.begin() as connection,
        ):
            connection.execute(sa.insert(alert_delivery), [row_values(row)])

    def purge_project(self, project: str) -> dict[str, int]:
        """Delete every row of `project` from every table with a `project` column, in one transaction (all of them or
        none); the number of rows deleted per table."""
        deleted: dict[str, int] = {}
        with self._errors("purge the project's rows", project=project), self.engine.begin() as connection:
            for table in queries.project_tables():
                deleted[table.name] = connection.execute(queries.delete_project_rows(table, project)).rowcount
        return deleted

    # ------------------------------------------------------------------------------------------- retraining
    def claim_retrain_trigger(
        self,
        project: str,
        window_start: datetime,
        window_end: datetime,
        *,
        cooldown: timedelta,
        now: datetime,
        reason: str,
        metrics: dict[str, Any],
        dag_id: str,
        dag_run_id: str,
    ) -> bool:
        """Decide and record a retraining trigger atomically, so concurrent windows cannot both trigger.

        True when the window may trigger: it already did (a re-run; its recorded trigger is kept) or no trigger of
        the project lies within `cooldown`, in data time (window ends) or in wall-clock time (triggered_at); the
        trigger is then recorded. False otherwise.
        """
        for name, value in (("window_start", window_start), ("window_end", window_end), ("now", now)):
            require_aware(name, value)
        table = retrain_trigger
        window = window_text(window_start, window_end)
        with (
            self._errors("claim a retraining trigger", project=project, window=window),
            self.engine.execution_options(sqlite_immediate=True).begin() as connection,
        ):
            if self.dialect_name == "postgresql":  # serialise claims of one project
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(project.encode()))))
            earlier = connection.execute(sa.select(table).where(table.c.project == project)).mappings().all()
            for row in earlier:
                if (row["window_start"], row["window_end"], row["dag_id"]) == (window_start, window_end, dag_id):
                    return True
            for row in earlier:
                if abs(row["window_end"] - window_end) < cooldown or now - row["triggered_at"] < cooldown:
                    return False
            connection.execute(
                sa.insert(table),
                [
                    {
                        "project": project,
                        "window_start": window_start,
                        "window_end": window_end,
                        "reason": reason,
                        "metrics": metrics,
                        "dag_id": dag_id,
                        "dag_run_id": dag_run_id,
                        "triggered_at": now,
                    }
                ],
            )
            return True

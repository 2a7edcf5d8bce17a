"""The steps a scheduler runs for one window, as plain functions of (project, window) returning small JSON values.

Airflow's monitoring DAG (dags/drift_monitor.py) calls one function per task; each is idempotent, so a retried or
cleared task gives the same result. Partition summaries travel between tasks through the artifact store (the
partition cache of drifting_etl.partitions), never through XCom: `profile_partitions` returns their paths.

    plan_partitions ─▶ profile_partitions (one per group of hour partitions, mapped) ─▶ load_partitions ─▶ retrain_decision
                                                                                     (then the DAG triggers retraining)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from drifting_etl.core.errors import DataError
from drifting_etl.core.window import Window
from drifting_etl.extract.logs import window_partitions
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline import partitions
from drifting_etl.pipeline.run import RunOutcome, failures_recorded, load_summary
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_config_of, load_project

if TYPE_CHECKING:
    from drifting_etl.notify.window import NotificationResult

GROUP_BYTES = int(os.environ.get("DRIFTING_PARTITION_GROUP_BYTES", 64 * 2**20))
"""Partitions are profiled in groups of about this many Parquet bytes: one task per group, so small windows run in
one task and large ones fan out over workers."""


def plan_partitions(
    store: ArtifactStore, project_name: str, window: Window, *, group_bytes: int = GROUP_BYTES
) -> list[list[str]]:
    """The window's non-empty hour partitions, as groups of ISO hours (small enough for XCom and task mapping)."""
    load_config_of(store, project_name)  # fail early, with a clear message, on an unknown project
    groups: list[list[str]] = []
    size = group_bytes
    for partition in window_partitions(store, project_name, window):
        if size >= group_bytes:
            groups.append([])
            size = 0
        groups[-1].append(partition.hour.isoformat())
        size += partition.size
    return groups


def profile_partitions(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    hours: list[str],
    *,
    airflow_run_id: str | None = None,
) -> list[str]:
    """Summarise a group of the window's hour partitions (reusing cached summaries); returns the summaries' paths."""
    started_at = datetime.now(UTC)
    with failures_recorded(database, project_name, window, started_at, airflow_run_id):
        project = load_project(store, project_name)
        by_hour = {partition.hour: partition for partition in window_partitions(store, project_name, window)}
        group = []
        for hour in hours:
            partition = by_hour.get(datetime.fromisoformat(hour))
            if partition is None:
                raise DataError(
                    f"partition {hour} is gone", project=project_name, window=str(window), hint="re-run the window"
                )
            group.append(partition)
        window_bytes = sum(partition.size for partition in by_hour.values())
        planned = partitions.plan_window(store, project, window, group, window_bytes=window_bytes)
        return partitions.profile_partitions(store, project, planned).paths


def load_partitions(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    summary_paths: list[str],
    *,
    airflow_run_id: str | None = None,
) -> dict[str, Any]:
    """Merge the stored partition summaries, compute the window's metrics and load them; returns `outcome_json`."""
    started_at = datetime.now(UTC)
    with failures_recorded(database, project_name, window, started_at, airflow_run_id):
        project = load_project(store, project_name)
        summary = partitions.merge_window(store, project, window, summary_paths)
        outcome = load_summary(
            database,
            project,
            window,
            summary,
            partitions=len(summary_paths),
            started_at=started_at,
            airflow_run_id=airflow_run_id,
        )
    return outcome_json(outcome)


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    """What downstream tasks (report, notify, retraining decision) need to know about a loaded window."""
    evaluation = outcome.evaluation
    body: dict[str, Any] = {
        "project": outcome.project,
        "window_start": outcome.window.start.isoformat(),
        "window_end": outcome.window.end.isoformat(),
        "status": outcome.status,
        "rows": evaluation.rows if evaluation else 0,
        "labelled": evaluation.labelled if evaluation else 0,
        "dataset_drift": bool(evaluation and evaluation.dataset.drifted),
        "drift_share": evaluation.dataset.drift_share if evaluation else None,
        "drifted_features": [d.column for d in evaluation.feature_drift if d.drifted] if evaluation else [],
        "breached_metrics": {p.metric: p.value for p in evaluation.breached_metrics} if evaluation else {},
    }
    return body


def retrain_decision(
    store: ArtifactStore, database: MetricsDatabase, outcome: dict[str, Any], *, now: datetime
) -> dict[str, Any] | None:
    """The `conf` for the retraining DAG when the window breaches the project's policy and may trigger: at most one
    trigger per cooldown (in data time: window ends; and in wall-clock time, so one backfill triggers once). The
    trigger is recorded in `retrain_trigger` by the same atomic claim, with the DAG run id it will have."""
    config = load_config_of(store, outcome["project"])
    reasons = []
    if "dataset_drift" in config.retrain.on and outcome["dataset_drift"]:
        reasons.append("dataset_drift")
    if "performance" in config.retrain.on and outcome["breached_metrics"]:
        reasons.append("performance")
    if not reasons:
        return None
    window = Window(datetime.fromisoformat(outcome["window_start"]), datetime.fromisoformat(outcome["window_end"]))
    conf = {
        "project": config.name,
        "window_start": outcome["window_start"],
        "window_end": outcome["window_end"],
        "reason": ",".join(reasons),
        "metrics": {
            "drift_share": outcome["drift_share"],
            "drifted_features": outcome["drifted_features"],
            "breached_metrics": outcome["breached_metrics"],
        },
        "dag_id": config.retrain_dag_id,
        "dag_run_id": f"drift__{config.name}__{window.start:%Y%m%dT%H%M%S}",
    }
    claimed = database.claim_retrain_trigger(
        config.name,
        window.start,
        window.end,
        cooldown=config.retrain.cooldown,
        now=now,
        reason=conf["reason"],
        metrics=conf["metrics"],
        dag_id=conf["dag_id"],
        dag_run_id=conf["dag_run_id"],
    )
    return conf if claimed else None


def publish_report(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    sample_size: int | None = None,
) -> str:
    """Render the window's HTML drift report into the store and record where it is; returns its location."""
    from drifting_etl.report.evidently_report import DEFAULT_SAMPLE_SIZE, build_report

    result = build_report(store, project_name, window, sample_size=sample_size or DEFAULT_SAMPLE_SIZE)
    database.annotate_run(project_name, window.start, window.end, report_location=result.display)
    return result.display


def send_notification(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    send: Callable[[EmailMessage], None],
    report_location: str | None = None,
    airflow_run_url: str | None = None,
) -> NotificationResult:
    """E-mail the project's team about the window under its policy. Never raises for a failed send (it is recorded)."""
    from drifting_etl.notify.window import notify_window

    return notify_window(
        store,
        database,
        project_name,
        window,
        report_location=report_location,
        airflow_run_url=airflow_run_url,
        send=send,
    )

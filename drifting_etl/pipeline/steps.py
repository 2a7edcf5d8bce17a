"""The steps a scheduler runs for one window, as plain functions of (project, window) returning small JSON values.

Airflow's monitoring DAG (dags/drift_monitor.py) calls one function per task; each is idempotent, so a retried or
cleared task gives the same result. The window is planned once: `plan_partitions` stores the plan (partitions, their
files and label files, cache paths, the reference version) as JSON in the store and returns its path with one group
index per mapped task; a profiling task reads only that plan, the reference profile and the planned files. Partition
summaries travel between tasks through the artifact store (the partition cache of pipeline.partitions), never
through XCom: `profile_partitions` returns their paths.

    plan_partitions ─▶ profile_partitions (one per group of hour partitions, mapped) ─▶ load_partitions ─▶ retrain_decision
                                                                                     (then the DAG triggers retraining)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from drifting_etl.core.errors import DataError, DriftingError, NotFoundError
from drifting_etl.core.settings import DEFAULT_PARTITION_GROUP_BYTES
from drifting_etl.core.window import Window
from drifting_etl.extract.logs import window_partitions
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline import partitions
from drifting_etl.pipeline.calibration import calibrated_thresholds
from drifting_etl.pipeline.run import (
    RunOutcome,
    failures_recorded,
    load_summary,
    record_project,
    refiner,
    summarize_window,
)
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_config_of, load_project

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from drifting_etl.core.config import AlertEvent, ReportEngine
    from drifting_etl.notify.channel_alerts import ChannelDelivery
    from drifting_etl.notify.channel_targets import ConnectionLookup
    from drifting_etl.notify.window import NotificationResult
    from drifting_etl.report.build import ReportResult, WindowReport


def plan_partitions(
    store: ArtifactStore, project_name: str, window: Window, *, group_bytes: int = DEFAULT_PARTITION_GROUP_BYTES
) -> list[dict[str, Any]]:
    """Plan the window once: list its non-empty hour partitions and label files, key their cached summaries, group
    them (about `group_bytes` of Parquet per group: one mapped task each, so small windows run in one task and large
    ones fan out over workers), and store the plan (JSON) in the store. Returns one `{"plan": path, "group": index}`
    per group: small enough for XCom and task mapping, and all a profiling task needs."""
    project = load_project(store, project_name, reference_values=False)  # keys need the reference's version only
    planned = partitions.plan_window(store, project, window, window_partitions(store, project_name, window))
    plan = partitions.WindowPlan.of(project, window, planned, group_bytes)
    if not plan.groups:
        return []
    path = store.window_plan_path(project_name, window.start, plan.key)
    store.write_bytes(path, plan.to_json().encode("utf-8"))
    return [{"plan": path, "group": index} for index in range(len(plan.groups))]


def profile_partitions(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    plan_path: str,
    group: int,
    *,
    airflow_run_id: str | None = None,
    workers: int | None = None,
) -> list[str]:
    """Summarise one group of a stored plan's partitions (reusing cached summaries); returns the summaries' paths.

    Reads the plan, the configuration and the reference profile (bins and categories, not reference.parquet), and
    the planned log and label files: it lists nothing, so every mapped task works on the partitions planned."""
    started_at = datetime.now(UTC)
    with failures_recorded(database, project_name, window, started_at, airflow_run_id):
        project = load_project(store, project_name, reference_values=False)
        plan = read_plan(store, plan_path, project_name, window)
        if plan.reference_version != project.reference.version:
            raise DataError(
                f"the reference changed after the window was planned (planned with {plan.reference_version}, "
                f"now {project.reference.version})",
                project=project_name,
                window=str(window),
                path=store.display(plan_path),
                hint="run the window again (clear its plan_partitions task): it plans against the new reference",
            )
        if not 0 <= group < len(plan.groups):
            raise DataError(
                f"the plan has {len(plan.groups)} partition groups, not a group {group}",
                project=project_name,
                window=str(window),
                path=store.display(plan_path),
                hint="run the window again (clear its plan_partitions task)",
            )
        return partitions.profile_partitions(store, project, plan.groups[group], workers=workers).paths


def read_plan(store: ArtifactStore, path: str, project_name: str, window: Window) -> partitions.WindowPlan:
    """The stored plan at `path`, checked to be the plan of this project's window."""
    where = {"project": project_name, "window": str(window), "path": store.display(path)}
    try:
        plan = partitions.WindowPlan.from_json(store.read_text(path))
    except NotFoundError as exc:
        raise DataError(
            "the window's plan is gone", hint="run the window again (clear its plan_partitions task)", **where
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"unreadable window plan: {exc}", hint="run the window again (clear its plan_partitions task)", **where
        ) from exc
    if plan.project != project_name or plan.window != window:
        raise DataError(
            f"the plan is of project {plan.project!r}, window {plan.window}",
            hint="pass the plan that this window's plan_partitions task returned",
            **where,
        )
    return plan


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
        record_project(store, database, project)
        summary = partitions.merge_window(store, project, window, summary_paths)
        outcome = load_summary(
            database,
            project,
            window,
            summary,
            partitions=len(summary_paths),
            started_at=started_at,
            airflow_run_id=airflow_run_id,
            refine=refiner(store, project, window),
            thresholds=calibrated_thresholds(store, project),
            publish=True,  # the DAG's report and notify tasks follow; notify records it done
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
        "dataset_drift_alert": bool(evaluation and evaluation.alert_dataset_drift),
        "drift_share": evaluation.dataset.drift_share if evaluation else None,
        "drifted_features": [d.column for d in evaluation.feature_drift if d.drifted] if evaluation else [],
        "breached_metrics": {p.metric: p.value for p in evaluation.breached_metrics} if evaluation else {},
        "warnings": list(outcome.warnings),
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
    if "dataset_drift" in config.retrain.on and outcome["dataset_drift_alert"]:
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


def mark_published(database: MetricsDatabase, project_name: str, window: Window) -> None:
    """The window's report and e-mail are done: nothing is owed any more (`monitoring_run.publish_status`)."""
    database.annotate_run(project_name, window.start, window.end, publish_status="done")


def window_report(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    engine: ReportEngine | None = None,
    sample_size: int | None = None,
) -> WindowReport:
    """The window's report page, with `engine` (default: the project's `report.engine`). The profile engine merges
    the window's cached partition profiles (profiling only hours without one) and reads the metrics database; the
    Evidently engine samples `sample_size` of the window's rows. Writes nothing but the profile cache."""
    from drifting_etl.report.build import profile_window_report, render_window_report

    project = load_project(store, project_name)
    if (engine or project.config.report.engine) == "evidently":
        return render_window_report(store, project_name, window, sample_size=sample_size)
    summary, _ = summarize_window(store, project, window)
    return profile_window_report(store, database, project, window, summary)


def publish_report(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    engine: ReportEngine | None = None,
    sample_size: int | None = None,
) -> ReportResult:
    """Render the window's HTML drift report into the store and record where it is (`ReportResult.display`)."""
    from drifting_etl.report.build import store_report

    report = window_report(store, database, project_name, window, engine=engine, sample_size=sample_size)
    result = store_report(store, project_name, window, report)
    database.annotate_run(project_name, window.start, window.end, report_location=result.display)
    return result


def send_notification(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    send: Callable[[EmailMessage], None],
    report_location: str | None = None,
    airflow_run_url: str | None = None,
    airflow_run_id: str | None = None,
    force: bool = False,
) -> NotificationResult:
    """E-mail the project's team about the window under its policy, once per verdict unless `force`. Never raises
    for a failed send (it is recorded)."""
    from drifting_etl.notify.window import notify_window

    return notify_window(
        store,
        database,
        project_name,
        window,
        report_location=report_location,
        airflow_run_url=airflow_run_url,
        airflow_run_id=airflow_run_id,
        send=send,
        force=force,
    )


def send_alerts(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    events: Collection[AlertEvent] | None = None,
    report_location: str | None = None,
    airflow_run_url: str | None = None,
    airflow_run_id: str | None = None,
    force: bool = False,
    lookup_connection: ConnectionLookup | None = None,
) -> tuple[ChannelDelivery, ...]:
    """Alert the project's channels (`alerts.channels`) about the events the window fires, once per channel, window
    and event unless `force`; timeouts and attempts from DRIFTING_ALERT_*. Never raises for a failed delivery (it is
    recorded in `alert_delivery`)."""
    from drifting_etl.notify.channel_alerts import alert_channels

    return alert_channels(
        store,
        database,
        project_name,
        window,
        events=events,
        report_location=report_location,
        airflow_run_url=airflow_run_url,
        airflow_run_id=airflow_run_id,
        force=force,
        lookup_connection=lookup_connection,
    )


def send_failure_alerts(
    store: ArtifactStore,
    database: MetricsDatabase,
    project_name: str,
    window: Window,
    *,
    failed_since: datetime | None = None,
    force: bool = False,
    airflow_run_id: str | None = None,
    lookup_connection: ConnectionLookup | None = None,
) -> tuple[ChannelDelivery, ...]:
    """Alert the channels listing `failed` about a window whose run is recorded as failed (and finished at or after
    `failed_since`, when given: an older failure is not this attempt's). Called while the window's own error is being
    handled, so it never raises: what it cannot do is logged."""
    try:
        run = database.window_run(project_name, window.start, window.end)
        if run is None or run["status"] != "failed":
            return ()
        if failed_since is not None and run["finished_at"] < failed_since:
            return ()
        failed: tuple[AlertEvent, ...] = ("failed",)
        return send_alerts(
            store,
            database,
            project_name,
            window,
            events=failed,
            force=force,
            airflow_run_id=airflow_run_id,
            lookup_connection=lookup_connection,
        )
    except DriftingError as exc:
        logger.error("could not alert the channels of %s that window %s failed: %s", project_name, window, exc)
        return ()

"""Adapters between Airflow task instances and drifting_etl.pipeline.steps: they read the window from the task's
data interval, open the store and database from the environment, and turn errors that a retry cannot fix into
`AirflowFailException` so Airflow does not retry bad data. Imported inside tasks only (never at DAG parse time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from drifting_etl.core.errors import is_transient
from drifting_etl.core.process import tune_batch_process
from drifting_etl.core.settings import Settings
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.url import database_url
from drifting_etl.pipeline import steps
from drifting_etl.store.artifacts import ArtifactStore

T = TypeVar("T")


def _context() -> Any:
    from airflow.sdk import get_current_context

    return get_current_context()


def current_window() -> Window:
    """The task's data interval [data_interval_start, data_interval_end) as a Window."""
    context = _context()
    return Window(context["data_interval_start"], context["data_interval_end"])


def _run_id() -> str | None:
    run = _context().get("dag_run")
    return None if run is None else str(run.run_id)


def _environment() -> tuple[ArtifactStore, MetricsDatabase, Settings]:
    """The store, the metrics database and the settings, from the worker's DRIFTING_* environment."""
    settings = Settings.from_env()
    store = ArtifactStore(settings.storage_url)
    return store, MetricsDatabase(database_url(store)), settings


def _terminal_errors_fail(step: Callable[[], T]) -> T:
    try:
        return step()
    except Exception as exc:
        if is_transient(exc):
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def plan(project: str) -> list[dict[str, Any]]:
    """Plan the window once; one `{"plan": path, "group": index}` per mapped profiling task."""
    store, _, settings = _environment()
    return _terminal_errors_fail(
        lambda: steps.plan_partitions(store, project, current_window(), group_bytes=settings.partition_group_bytes)
    )


def profile(project: str, group: dict[str, Any]) -> list[str]:
    """Profile one group of the stored plan (`group` as `plan` returned it)."""
    tune_batch_process()
    store, database, settings = _environment()
    return _terminal_errors_fail(
        lambda: steps.profile_partitions(
            store,
            database,
            project,
            current_window(),
            str(group["plan"]),
            int(group["group"]),
            airflow_run_id=_run_id(),
            workers=settings.workers,
        )
    )


def load(project: str, summary_paths: list[list[str]]) -> dict[str, Any]:
    store, database, _ = _environment()
    paths = [path for group in summary_paths for path in group]
    return _terminal_errors_fail(
        lambda: steps.load_partitions(store, database, project, current_window(), paths, airflow_run_id=_run_id())
    )


def decide(outcome: dict[str, Any]) -> dict[str, Any] | None:
    store, database, _ = _environment()
    return _terminal_errors_fail(lambda: steps.retrain_decision(store, database, outcome, now=datetime.now(UTC)))


def report(project: str) -> str:
    store, database, _ = _environment()
    return _terminal_errors_fail(lambda: steps.publish_report(store, database, project, current_window()).display)


def notify(project: str, report_location: str | None) -> str:
    """E-mail through Airflow's `smtp_default` connection and record the outcome on the window's run; then alert the
    project's channels (`alerts.channels`) through the `ChannelNotifier`.

    A failed send or alert (no connection, the server down, a recipient or request refused) is recorded as 'failed'
    with its reason, logged as an error, and then fails this task without retries (each alert was already retried
    inside): the run turns red instead of looking like a success, while the metrics, loaded by the upstream task,
    stay. Clearing the task sends what failed again; what was sent is not sent twice.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from drifting_etl.airflow.notifier import ChannelNotifier
    from drifting_etl.airflow.smtp import send_with_airflow

    store, database, _ = _environment()
    window = current_window()
    result = _terminal_errors_fail(
        lambda: steps.send_notification(
            store,
            database,
            project,
            window,
            send=send_with_airflow,
            report_location=report_location,
            airflow_run_url=_run_url(),
            airflow_run_id=_run_id(),
            force=bool(_context().get("params", {}).get("force_notify", False)),
        )
    )
    notifier = ChannelNotifier(project, report_location=report_location)
    _terminal_errors_fail(lambda: notifier(_context()))
    failed_alerts = [delivery for delivery in notifier.deliveries if delivery.status == "failed"]
    if result.status != "failed" and not failed_alerts:  # a failed send stays owed: clearing this task sends it
        steps.mark_published(database, project, window)
    problems = [
        f"the {delivery.event} alert to channel {delivery.channel!r} failed (recorded in alert_delivery): {delivery.error}"
        for delivery in failed_alerts
    ]
    if result.status == "failed":
        problems.insert(
            0, f"the notification was not sent (recorded as 'failed' on its monitoring run): {result.error}"
        )
    if problems:
        message = f"project {project}, window {window} (its metrics are stored): " + "; ".join(problems)
        logging.getLogger(__name__).error("%s", message)
        raise AirflowFailException(message)
    return result.status


def _run_url() -> str | None:
    from drifting_etl.airflow.notifier import run_url

    return run_url(_context())


def retrain(project: str) -> dict[str, Any]:
    """Retrain `project` for the triggering window (`window_end` from the trigger's conf, else the run's interval
    end); terminal errors fail at once, storage hiccups are retried."""
    from airflow.sdk.exceptions import AirflowFailException

    from drifting_etl.core.window import parse_instant
    from drifting_etl.retrain.training import RetrainResult, retrain_project

    context = _context()
    dag_run = context["dag_run"]
    conf = dict(dag_run.conf or {})
    if conf.get("project", project) != project:
        raise AirflowFailException(f"conf names project {conf['project']!r}, but this DAG retrains {project!r}")

    def run() -> RetrainResult:
        if conf.get("window_end"):
            window_end = parse_instant(str(conf["window_end"]), field="window_end")
        else:
            moment = context.get("data_interval_end") or context.get("logical_date") or dag_run.run_after
            window_end = parse_instant(moment.isoformat(), field="window_end")
        reason = str(conf.get("reason") or "manual")
        return retrain_project(ArtifactStore.from_env(), project, window_end, reason=reason, trigger=conf)

    result = _terminal_errors_fail(run)
    logging.getLogger(__name__).info(
        "retrained %s: version %s, %s new %s vs current %s, promoted=%s",
        project,
        result.version,
        result.primary_metric,
        result.new_metrics.get(result.primary_metric),
        result.current_metrics.get(result.primary_metric),
        result.promoted,
    )
    return {
        "project": project,
        "version": result.version,
        "improved": result.improved,
        "promoted": result.promoted,
        "primary_metric": result.primary_metric,
        "new": result.new_metrics.get(result.primary_metric),
        "current": result.current_metrics.get(result.primary_metric),
        "model_path": result.model_path,
        "reference_version": result.reference_version,
    }

"""Reference retraining DAGs: one `retrain__<project>` per active project that uses the shipped retraining DAG.

A project uses it when its index entry's `retrain_dag_id` is `retrain__<name>` (the default of `retrain.dag_id`).
The monitoring DAG triggers it on a breach with

    conf = {"project": ..., "window_start": ISO, "window_end": ISO, "reason": ..., "metrics": {...}}

and the single task calls `drifting_etl.retrain.retrain_project` on the training window ending at `window_end`
(without one, at the run's data interval end / logical date / run_after). It fits the configured estimator,
compares it with the logged predictions of the current model, stores the version under
`projects/<name>/models/` and, when it is better, promotes it and replaces the project's reference.

This file only wires: parsing reads the small index (store.json) once; drifting_etl.retrain (scikit-learn, skops)
is imported inside the task. Set DRIFTING_STORAGE_URL in the scheduler's and workers' environment.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from drifting_etl.storage import ArtifactStore, IndexEntry

log = logging.getLogger(__name__)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "drifting-etl",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,  # 1 min, then 2 min
    "max_retry_delay": timedelta(minutes=30),
}


def retrain_dag_id(name: str) -> str:
    return f"retrain__{name}"


@task
def retrain(project: str) -> dict[str, Any]:
    """Retrain `project` for the triggering window; terminal errors fail at once, storage hiccups are retried."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from drifting_etl.errors import DriftingError
    from drifting_etl.retrain import retrain_project
    from drifting_etl.window import parse_instant

    context = get_current_context()
    dag_run = context["dag_run"]
    conf = dict(dag_run.conf or {})
    if conf.get("project", project) != project:
        raise AirflowFailException(f"conf names project {conf['project']!r}, but this DAG retrains {project!r}")
    try:
        if conf.get("window_end"):
            window_end = parse_instant(str(conf["window_end"]), field="window_end")
        else:
            moment = context.get("data_interval_end") or context.get("logical_date") or dag_run.run_after
            window_end = parse_instant(moment.isoformat(), field="window_end")
        result = retrain_project(
            ArtifactStore.from_env(), project, window_end, reason=str(conf.get("reason") or "manual"), trigger=conf
        )
    except DriftingError as exc:
        if exc.transient:
            raise
        raise AirflowFailException(str(exc)) from exc
    log.info(
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


def retrain_dag(entry: IndexEntry) -> DAG:
    with DAG(
        dag_id=retrain_dag_id(entry.name),
        schedule=None,
        catchup=False,
        default_args=DEFAULT_ARGS,
        max_active_runs=1,  # two retrainings of one project would race to replace its reference
        tags=["drifting-etl", "retrain"],
        doc_md=f"Retrains **{entry.name}** on its labelled logs when monitoring finds a breach; promotes the new "
        "model (and its training window as the reference) only if it beats the current one on the holdout.",
    ) as dag:
        retrain(entry.name)
    return dag


def broken_dag(entry: IndexEntry, error: Exception) -> DAG:
    """Stands in for a project whose DAG cannot be built, so a trigger fails visibly and the others still load."""
    message = f"the retraining DAG of project {entry.name!r} cannot be built: {error}"
    with DAG(
        dag_id=retrain_dag_id(entry.name),
        schedule=None,
        tags=["drifting-etl", "broken"],
        doc_md=f"**Broken:** {message}. Fix the project (`drifting-etl project register …`) and the DAG returns.",
    ) as dag:

        @task(task_id="configuration_error", retries=0)
        def configuration_error() -> None:
            raise ValueError(message)

        configuration_error()
    return dag


for _entry in ArtifactStore.from_env().read_index().values():
    if _entry.status != "active" or _entry.retrain_dag_id != retrain_dag_id(_entry.name):
        continue  # paused, or retrained by a DAG of the team's own
    try:
        globals()[retrain_dag_id(_entry.name)] = retrain_dag(_entry)
    except Exception as _error:  # one bad project must not drop every other project's DAG
        log.error("drifting-etl: cannot build the retraining DAG of project %s: %s", _entry.name, _error)
        try:
            globals()[retrain_dag_id(_entry.name)] = broken_dag(_entry, _error)
        except Exception:  # the id itself is unusable (a hand-edited index): the log line is all we can give
            log.exception("drifting-etl: project %s has no usable retraining DAG id", _entry.name)

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

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from drifting_etl.airflow.dag_docs import dag_docs
from drifting_etl.airflow.dag_factory import add_project_dags
from drifting_etl.core.names import retrain_dag_id
from drifting_etl.store.artifacts import IndexEntry

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "drifting-etl",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,  # 1 min, then 2 min
    "max_retry_delay": timedelta(minutes=30),
}


@task
def retrain(project: str) -> dict[str, Any]:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.retrain(project)


def retrain_dag(entry: IndexEntry) -> DAG:
    docs = dag_docs(entry, "retraining")
    with DAG(
        dag_id=retrain_dag_id(entry.name),
        schedule=None,
        catchup=False,
        default_args=DEFAULT_ARGS,
        max_active_runs=1,  # two retrainings of one project would race to replace its reference
        # unpaused: a run triggered by the monitoring DAG must run, not wait for someone to unpause the DAG
        is_paused_upon_creation=False,
        tags=["drifting-etl", "retrain"],
        description=docs.description,
        doc_md=docs.doc_md,
    ) as dag:
        retrain(entry.name)
    return dag


add_project_dags(
    globals(),
    dag_id=retrain_dag_id,
    # paused, or retrained by a DAG of the team's own: no reference retraining DAG
    wanted=lambda entry: entry.status == "active" and entry.retrain_dag_id == retrain_dag_id(entry.name),
    build=retrain_dag,
    what="retraining DAG",
)

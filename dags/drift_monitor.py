"""Monitoring DAGs: one `drift_monitor__<project>` per active project in the artifact store's index.

Each run covers its data interval [data_interval_start, data_interval_end), cut by the project's schedule
(CronDataIntervalTimetable, so windows have a real length), from the project's start_date with its catchup:

    plan_partitions ─▶ profile_partitions ×N (mapped over the stored plan's groups of hour partitions) ─▶ load_metrics
    load_metrics (emits drifting://<project>/metrics) ─▶ decide_retraining ─▶ trigger_retraining ─┐
    load_metrics ─▶ render_report ──────────────────────────────────────────────────────────────┴▶ notify_team

notify_team e-mails the team and alerts the project's channels (drift, breach); profile_partitions and load_metrics
alert the channels listening for `failed` when they fail for good (their on_failure_callback, a ChannelNotifier).

This file only wires: parsing reads the small index (store.json) once; the work happens in drifting_etl, imported
inside the tasks. Set DRIFTING_STORAGE_URL / DRIFTING_DATABASE_URL in the scheduler's and workers' environment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task

from drifting_etl.airflow.dag_docs import dag_docs, monitoring_dag_id
from drifting_etl.airflow.dag_factory import add_project_dags
from drifting_etl.airflow.notifier import failure_notifier
from drifting_etl.core.window import cron_expression
from drifting_etl.store.artifacts import IndexEntry

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "drifting-etl",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,  # a multiplier in Airflow 3: 30 s, 1 min, 2 min
    "max_retry_delay": timedelta(minutes=15),
}

FORCE_NOTIFY_HELP = "E-mail the team even when this window's verdict was already e-mailed (a re-run or a clear)."


@task
def plan_partitions(project: str) -> list[dict[str, Any]]:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.plan(project)


@task
def profile_partitions(project: str, group: dict[str, Any]) -> list[str]:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.profile(project, group)


@task(trigger_rule="none_failed")  # a window without partitions maps nothing (skipped): it is still loaded, as no_data
def load_metrics(project: str, summary_paths: list[list[str]]) -> dict[str, Any]:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.load(project, summary_paths)


@task
def render_report(project: str, outcome: dict[str, Any]) -> str:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.report(project)


@task(trigger_rule="none_failed")
def notify_team(project: str, report_location: str) -> str:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.notify(project, report_location)


@task.short_circuit(ignore_downstream_trigger_rules=False)
def decide_retraining(outcome: dict[str, Any]) -> dict[str, Any] | None:
    from drifting_etl.airflow import tasks as airflow_tasks

    return airflow_tasks.decide(outcome)


def monitoring_dag(entry: IndexEntry) -> DAG:
    start = datetime.fromisoformat(entry.start_date).replace(tzinfo=UTC)
    docs = dag_docs(entry, "monitoring")
    with DAG(
        dag_id=monitoring_dag_id(entry.name),
        schedule=CronDataIntervalTimetable(cron_expression(entry.schedule), timezone="UTC"),
        start_date=start,
        params={"force_notify": Param(False, type="boolean", description=FORCE_NOTIFY_HELP)},
        catchup=entry.catchup,
        default_args=DEFAULT_ARGS,
        max_active_runs=4,
        render_template_as_native_obj=True,
        tags=["drifting-etl", "monitoring"],
        description=docs.description,
        doc_md=docs.doc_md,
    ) as dag:
        # a window whose profiling or load fails is recorded as failed: its channels listening for `failed` hear of it
        failed = failure_notifier(entry.name)
        # the plan is stored once; each mapped task gets its path and one group index
        summaries = (
            profile_partitions.override(on_failure_callback=failed)
            .partial(project=entry.name)
            .expand(group=plan_partitions(entry.name))
        )
        outcome = load_metrics.override(
            outlets=[Asset(name=f"drifting_{entry.name}_metrics", uri=f"drifting://{entry.name}/metrics")],
            on_failure_callback=failed,
        )(entry.name, summaries)
        decision = decide_retraining(outcome)
        trigger_retraining = TriggerDagRunOperator(
            task_id="trigger_retraining",
            trigger_dag_id=entry.retrain_dag_id,
            conf="{{ ti.xcom_pull(task_ids='decide_retraining') }}",
            trigger_run_id="{{ ti.xcom_pull(task_ids='decide_retraining')['dag_run_id'] }}",
            skip_when_already_exists=True,  # a re-run of the window does not retrain twice
        )
        decision >> trigger_retraining
        # the e-mail says whether retraining was triggered, so it waits for the trigger (skipped or not)
        trigger_retraining >> notify_team(entry.name, render_report(entry.name, outcome))
    return dag


add_project_dags(
    globals(),
    dag_id=monitoring_dag_id,
    build=monitoring_dag,
    wanted=lambda entry: entry.status == "active",
    what="monitoring DAG",
)

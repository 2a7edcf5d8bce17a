"""The `description` and `doc_md` of a project's DAGs, built from its index entry (what the UI shows for a DAG).

Imported by the files in dags/ at parse time: it reads nothing (the entry is already in memory) and stays light
(croniter only), so that 200 projects still parse quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from drifting_etl.core.names import retrain_dag_id
from drifting_etl.core.window import cron_expression
from drifting_etl.store.artifacts import IndexEntry

DagKind = Literal["monitoring", "retraining"]

SMTP_CONN_ID = "smtp_default"
"""The Airflow connection the monitoring DAGs send their e-mail through."""


@dataclass(frozen=True)
class DagDocs:
    description: str
    """One line for the DAG list."""
    doc_md: str
    """The DAG's documentation panel (Markdown)."""


def monitoring_dag_id(project: str) -> str:
    return f"drift_monitor__{project}"


def dag_docs(entry: IndexEntry, kind: DagKind) -> DagDocs:
    """What the `kind` DAG of `entry`'s project does: what it monitors, its schedule and window, where its results
    go, and how to run past windows (backfill, or one window through the REST API)."""
    name = entry.name
    monitor_id = monitoring_dag_id(name)
    if kind == "retraining":  # needs no schedule: a project with a bad one still gets its retraining DAG
        return DagDocs(
            description=f"Retrains project {name} when {monitor_id} finds a breach (triggered, no schedule).",
            doc_md=f"""\
### Retraining of project `{name}`

**Triggered, no schedule** (schedule `None`): `{monitor_id}` triggers a run when a window breaches a retraining
rule, with conf `{{"project": "{name}", "window_start": …, "window_end": …, "reason": …, "metrics": {{…}}}}`.
The DAG is created **unpaused**, so a triggered run starts at once.

**What it does:** fits the configured estimator on the project's labelled logs of the training window ending at
`window_end`, compares it on the holdout with the predictions the current model logged, stores the version under
`projects/{name}/models/` in the artifact store (`DRIFTING_STORAGE_URL`) and, when it is better, promotes it and
makes its training window the project's reference.

**Run it by hand** (there is nothing to backfill):

```
airflow dags trigger {retrain_dag_id(name)} --conf '{{"window_end": "<end of the training window, ISO 8601>"}}'
```
""",
        )
    cron = cron_expression(entry.schedule)
    start = datetime.fromisoformat(entry.start_date).replace(tzinfo=UTC) if entry.start_date else None
    window_start, window_end = _first_window(cron, start) if start else ("<window start>", "<window end>")
    since = f"since {entry.start_date}" if entry.start_date else "(no start_date in the index)"
    catchup = (
        f"on: unpausing the DAG runs every window {since} up to now, after which a backfill over those dates "
        "creates nothing"
        if entry.catchup
        else "off: unpausing the DAG runs only the latest window; use a backfill for older ones"
    )
    retrains = (
        f"A breach of a retraining rule triggers `{entry.retrain_dag_id}`."
        if entry.retrain_dag_id
        else "No retraining DAG is configured."
    )
    return DagDocs(
        description=(
            f"Drift, data quality and performance of project {name}: one window per '{entry.schedule}' interval "
            f"{since}, metrics into the metrics database."
        ),
        doc_md=f"""\
### Monitoring of project `{name}`

**Monitors** the prediction logs that project `{name}`'s services write to the artifact store
(`DRIFTING_STORAGE_URL`): data drift against the project's reference, data quality and, where labels have arrived,
model performance.

**Schedule and window:** `{entry.schedule}` (cron `{cron}`, UTC). Each run covers its data interval
`[data_interval_start, data_interval_end)`: one window, from one schedule tick to the next, {since}. Catchup is
{catchup}.

**Where the results go:** one `monitoring_run` row per window and its metric rows in the metrics database
(`DRIFTING_DATABASE_URL`, else `metrics.db` in a local artifact store); the window's HTML report under `reports/` in
the artifact store; the asset `drifting://{name}/metrics` on every load; and an e-mail to the project's
`alerts.email` through the Airflow connection `{SMTP_CONN_ID}`. {retrains} Re-running a window replaces its rows.

**Backfill** (one run per window whose start lies in the range; the DAG must be unpaused for them to run):

```
airflow backfill create --dag-id {monitor_id} --from-date {entry.start_date or "<first day>"} --to-date <last day>
```

**One window through the REST API** (pass the interval: a bare `logical_date` runs the interval that *ends* there,
i.e. the previous window):

```
curl -X POST "$AIRFLOW_URL/api/v2/dags/{monitor_id}/dagRuns" -H "Authorization: Bearer $TOKEN" \\
  -H 'Content-Type: application/json' \\
  -d '{{"logical_date": "{window_start}", "data_interval_start": "{window_start}", "data_interval_end": "{window_end}"}}'
```
""",
    )


def _first_window(cron: str, start: datetime) -> tuple[str, str]:
    """The first data interval at or after `start`, as ISO instants (what a catchup run would do first)."""
    from croniter import croniter

    ticks = croniter(cron, start.replace(microsecond=0) - timedelta(seconds=1))
    begin = ticks.get_next(datetime)
    end = ticks.get_next(datetime)
    return begin.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()

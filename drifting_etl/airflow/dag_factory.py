"""Building one Airflow DAG per project of the index, so that one broken project never hides the others.

Imported by the files in dags/ at parse time: it must stay light (airflow.sdk and the storage index only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from airflow.sdk import DAG, task

from drifting_etl.store.artifacts import ArtifactStore, IndexEntry

log = logging.getLogger(__name__)


def add_project_dags(
    namespace: MutableMapping[str, Any],
    *,
    dag_id: Callable[[str], str],
    build: Callable[[IndexEntry], DAG],
    wanted: Callable[[IndexEntry], bool],
    what: str,
) -> None:
    """Put `build(entry)` into `namespace` (a DAG file's globals) for every wanted index entry. A project whose DAG
    cannot be built gets a stand-in DAG that shows the error in the UI and fails visibly when triggered."""
    for entry in ArtifactStore.from_env().read_index().values():
        if not wanted(entry):
            continue
        try:
            namespace[dag_id(entry.name)] = build(entry)
        except Exception as error:  # one bad project must not drop every other project's DAG
            log.error("drifting-etl: cannot build the %s of project %s: %s", what, entry.name, error)
            try:
                namespace[dag_id(entry.name)] = broken_dag(
                    dag_id(entry.name), f"the {what} of project {entry.name!r} cannot be built: {error}"
                )
            except Exception:  # the id itself is unusable (a hand-edited index): the log line is all we can give
                log.exception("drifting-etl: project %s has no usable DAG id", entry.name)


def broken_dag(dag_id: str, message: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        tags=["drifting-etl", "broken"],
        doc_md=f"**Broken:** {message}. Fix the project (`drifting-etl project register …`) and the DAG returns.",
    ) as dag:

        @task(task_id="configuration_error", retries=0)
        def configuration_error() -> None:
            raise ValueError(message)

        configuration_error()
    return dag

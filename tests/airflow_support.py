"""Running the repository's DAGs under a real Airflow 3: a throwaway AIRFLOW_HOME with a migrated SQLite metadata
database, and `dag.test()` in a subprocess (Airflow keeps global state that must not leak into the test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    from airflow.dag_processing.dagbag import DagBag

    request = json.loads(sys.argv[1])
    bag = DagBag(dag_folder=request["dags"])
    result = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dag_ids": sorted(bag.dags), "runs": []}
    for dag_id, logical_date, conf in request["runs"]:
        dag = bag.dags[dag_id]
        for task in dag.tasks:
            task.retries = 0  # a failure should fail the test now, not after exponential backoff
        run = dag.test(logical_date=datetime.fromisoformat(logical_date), run_conf=conf)
        result["runs"].append({
            "dag_id": dag_id, "state": str(run.state), "run_id": run.run_id,
            "data_interval_start": run.data_interval_start.isoformat(), "data_interval_end": run.data_interval_end.isoformat(),
        })
    print("RESULT " + json.dumps(result))
    """
)


@dataclass(frozen=True)
class Airflow:
    home: Path

    @property
    def metadata_url(self) -> str:
        return f"sqlite:///{self.home / 'airflow.db'}"

    def environment(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "DRIFTING_"))}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.metadata_url,
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            PYTHONWARNINGS="ignore",
        )
        env.update(extra)
        return env

    def migrate(self) -> None:
        airflow = Path(sys.executable).parent / "airflow"
        subprocess.run(
            [str(airflow), "db", "migrate"], env=self.environment(), check=True, capture_output=True, timeout=300
        )

    def run(self, runs: list[tuple[str, str, dict | None]], **env: str) -> dict:
        """Parse the dags folder and `dag.test()` each (dag_id, logical_date ISO, conf). Note that dag.test's
        logical date is the END of the data interval it runs (as for a manual run)."""
        request = json.dumps({"dags": str(DAGS), "runs": runs})
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, request],
            env=self.environment(**env),
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            raise AssertionError(f"dag.test failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}")
        result = json.loads(lines[-1].removeprefix("RESULT "))
        result["output"] = done.stdout[-8000:] + done.stderr[-8000:]  # task logs, for assertion messages
        return result

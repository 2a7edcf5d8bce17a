"""Running the repository's DAGs under a real Airflow 3: a throwaway AIRFLOW_HOME with a migrated SQLite metadata
database, and `dag.test()` in a subprocess (Airflow keeps global state that must not leak into the test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from click.testing import CliRunner

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"

START = datetime(2026, 4, 1, tzinfo=UTC)
CONFIG = """\
name: {name}
task: classification
schedule: "@daily"
start_date: 2026-04-01
features:
  numerical: [a, b]
  categorical: [c]
alerts:
  email: [fleet-team@example.com]
  send: on_drift
retrain:
  on: [dataset_drift]
  cooldown: 24h
"""


def _rows(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "a": rng.normal(1.5 if drifted else 0.0, 1, n),
            "b": rng.gamma(2.0, 3.0 if drifted else 2.0, n),
            "c": rng.choice(["x", "y", "z"], n),
        }
    )
    proba = 1 / (1 + np.exp(-frame["a"]))
    frame["prediction_proba"] = proba
    frame["prediction"] = (proba > 0.5).astype(int)
    frame["label"] = (rng.random(n) < proba).astype(float)
    frame.loc[frame.index % 3 == 0, "label"] = None  # a third of the traffic is not labelled yet
    return frame


class Inbox:
    """An aiosmtpd handler keeping the messages it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


def register_project(
    tmp_path: Path,
    storage: str,
    name: str,
    *,
    days: int = 3,
    drift_from_day: int = 1,
    config: str = CONFIG,
    database_url: str | None = None,
) -> None:
    """`name` registered in `storage` with `days` days of hourly logs from START (40 rows an hour), drifted from
    `drift_from_day` on; `database_url` is the metrics database (default: SQLite in a local store)."""
    rng = np.random.default_rng(7)
    reference = _rows(rng, 2000, False)
    reference.to_parquet(tmp_path / f"{name}.parquet")
    (tmp_path / f"{name}.yaml").write_text(config.format(name=name))
    with LogWriter(name, storage, max_rows=10**6) as writer:
        for hour in range(days * 24):
            frame = _rows(rng, 40, hour >= drift_from_day * 24)
            frame.insert(0, "timestamp", [START + timedelta(hours=hour, seconds=60 * i) for i in range(40)])
            writer.log_frame(frame)
    options = ["--storage", storage, *(["--database-url", database_url] if database_url else [])]
    runner = CliRunner()
    initialised = runner.invoke(main, [*options, "init"])
    assert initialised.exit_code == 0, initialised.output
    reference_path = str(tmp_path / f"{name}.parquet")
    result = runner.invoke(
        main, [*options, "project", "register", str(tmp_path / f"{name}.yaml"), "--reference", reference_path]
    )
    assert result.exit_code == 0, result.output


def stable_rows(rows: list[dict]) -> list[dict]:
    """Rows without what differs between two correct runs (ids, times, Airflow run ids, publishing), in one order."""
    ignored = (
        "id",
        "computed_at",
        "started_at",
        "finished_at",
        "airflow_run_id",
        "report_location",
        "notification_status",
        "publish_status",  # the DAG publishes each window; the CLI run it is compared with does not
    )
    return sorted(
        ({k: v for k, v in row.items() if k not in ignored} for row in rows),
        key=lambda row: json.dumps(row, default=str, sort_keys=True),
    )


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
        return self.result(self.start(runs, **env))

    def start(self, runs: list[tuple[str, str, dict | None]], **env: str) -> subprocess.Popen[str]:
        """`run`, started in the background: `result` waits for it."""
        request = json.dumps({"dags": str(DAGS), "runs": runs})
        return subprocess.Popen(
            [sys.executable, "-c", SCRIPT, request],
            env=self.environment(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def result(process: subprocess.Popen[str]) -> dict:
        stdout, stderr = process.communicate(timeout=600)
        lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
        if process.returncode != 0 or not lines:
            raise AssertionError(f"dag.test failed ({process.returncode}):\n{stdout[-6000:]}\n{stderr[-6000:]}")
        result = json.loads(lines[-1].removeprefix("RESULT "))
        result["output"] = stdout[-8000:] + stderr[-8000:]  # task logs, for assertion messages
        return result

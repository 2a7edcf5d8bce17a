"""The distributed path for real (issue 15): Airflow 3 with the CeleryExecutor, the broker on the local Redis,
PostgreSQL as the metadata and the metrics database, the artifact store on S3 (moto on loopback), two Celery workers
with one task at a time each, and every Airflow component a process of its own, started here.

The environment is docker-compose.yaml's (`compose_env.airflow_environment`, resolved with deploy/.env.example):
the test changes only what names the compose stack's hosts, and what it must isolate from other tests (a Redis
database and a Celery queue of its own, ports, a quick heartbeat timeout). A setting added to the compose file is
therefore run here too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.request import urlopen

import psutil
import pytest
import sqlalchemy as sa
from airflow_support import DAGS, START, Inbox, register_project, stable_rows
from click.testing import CliRunner
from compose_env import airflow_environment
from conftest import POSTGRES_ADMIN_URL, _free_port

from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import METRIC_TABLES

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CONFIG = """\
name: {name}
task: classification
schedule: "@daily"
start_date: 2026-04-01
catchup: false
features:
  numerical: [a, b]
  categorical: [c]
alerts:
  email: [fleet-team@example.com]
  send: on_drift
retrain:
  on: []  # a retraining run promoting a new reference mid-backfill fails the windows still in flight (by design)
"""
DAYS = 3
DAG_ID = "drift_monitor__fleet"
# the compose stack's host names (its services); a setting whose value names one is changed to this machine's
COMPOSE_HOST = re.compile(r'(?:^|@|//|")(?:postgres|redis|minio|mailpit|airflow-apiserver)(?:$|[:/"])')


@dataclass
class Stack:
    """Airflow's processes, each in a process group of its own, with their output in files."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    outputs: list[IO[bytes]] = field(default_factory=list)

    def airflow(self, *arguments: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [str(BIN / "airflow"), *arguments], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"airflow {' '.join(arguments)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, *arguments: str) -> None:
        output = (self.logs / f"{name}.log").open("wb")
        self.outputs.append(output)
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *arguments], env=self.env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def kill(self, name: str) -> None:
        """SIGKILL `name` and everything it started (its pool and the task processes under it)."""
        process = self.processes[name]
        family = [process.pid, *(child.pid for child in psutil.Process(process.pid).children(recursive=True))]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)

    def running_task(self, name: str) -> str | None:
        """The id of the task instance that worker `name` runs now (the task process's title), if any."""
        try:
            children = psutil.Process(self.processes[name].pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for child in children:
            try:
                title = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if title.startswith("airflow worker -- "):
                return title.removeprefix("airflow worker -- ").strip()
        return None

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        for output in self.outputs:
            output.close()

    def tails(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}" for path in self.logs.iterdir())


@pytest.fixture
def airflow_metadata_url() -> Iterator[str]:
    """A fresh PostgreSQL database for Airflow's metadata, dropped afterwards."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"airflow_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def local_environment(
    *, home: Path, metadata_url: str, metrics_url: str, store_url: str, s3_endpoint: str, smtp_port: int
) -> tuple[dict[str, str], int, str]:
    """docker-compose.yaml's Airflow environment pointed at this machine; (environment, api port, queue)."""
    compose = airflow_environment("airflow-worker")
    api_port, redis_db, queue = _free_port(), 1 + uuid.uuid4().int % 15, f"drifting-test-{uuid.uuid4().hex[:8]}"
    smtp = json.loads(compose["AIRFLOW_CONN_SMTP_DEFAULT"])
    smtp.update(host="127.0.0.1", port=smtp_port)
    hosts = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url.replace("+psycopg2", ""),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
        "AWS_ENDPOINT_URL": s3_endpoint,
        "DRIFTING_STORAGE_URL": store_url,
        "DRIFTING_DATABASE_URL": metrics_url,
        "DRIFTING_SMTP_HOST": "127.0.0.1",
        "DRIFTING_SMTP_PORT": str(smtp_port),
    }
    named_hosts = {key for key, value in compose.items() if COMPOSE_HOST.search(value)}
    assert named_hosts <= set(hosts) <= set(compose), "keep this test's environment in step with docker-compose.yaml"
    isolation = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),  # compose mounts ./dags at the image's dags folder
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,  # other Celery users of the local Redis never take our tasks
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(_free_port()),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",  # a lost worker's task is failed after 30 s
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "DRIFTING_PARTITION_GROUP_BYTES": "30000",  # a window's hours fan out over several mapped tasks
        "PYTHONWARNINGS": "ignore",
    }
    base = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "DRIFTING_"))}
    return {**base, **compose, **hosts, **isolation}, api_port, queue


def wait_for(what: str, check: Any, stack: Stack, *, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [name for name, process in stack.processes.items() if process.poll() is not None]
        if dead and dead != ["worker-1"]:  # worker-1 is killed on purpose
            raise AssertionError(f"{', '.join(dead)} exited while waiting for {what}\n{stack.tails()}")
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}\n{stack.tails()}")


def test_backfill_on_two_celery_workers_given_one_killed_mid_task_should_retry_on_the_other_and_equal_the_cli(
    tmp_path: Path,
    postgres_url: str,
    airflow_metadata_url: str,
    s3_store_url: str,
    s3_endpoint: str,
    mail_sink: tuple[Inbox, int],
) -> None:
    inbox, smtp_port = mail_sink
    register_project(tmp_path, s3_store_url, "fleet", days=DAYS, config=CONFIG, database_url=postgres_url)
    env, api_port, queue = local_environment(
        home=tmp_path / "airflow-home",
        metadata_url=airflow_metadata_url,
        metrics_url=postgres_url,
        store_url=s3_store_url,
        s3_endpoint=s3_endpoint,
        smtp_port=smtp_port,
    )
    logs = tmp_path / "processes"
    logs.mkdir()
    stack = Stack(env, logs)
    metadata = sa.create_engine(airflow_metadata_url)
    try:
        # what compose's airflow-init does (`drifting-etl init` ran in register_project), then a process per component
        stack.airflow("db", "migrate")
        assert (
            CliRunner().invoke(main, ["--storage", s3_store_url, "--database-url", postgres_url, "init"]).exit_code == 0
        )
        stack.start("api-server", "api-server", "--port", str(api_port), "--workers", "1")
        stack.start("scheduler", "scheduler")
        stack.start("dag-processor", "dag-processor")
        for worker in ("worker-1", "worker-2"):
            stack.start(worker, "celery", "worker", "--queues", queue, "--celery-hostname", f"{worker}@%h",
                        "--concurrency", "1", "--skip-serve-logs")  # fmt: skip

        def healthy() -> bool:
            try:
                with urlopen(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for("the api-server", healthy, stack, timeout=180)

        def serialized() -> bool:
            with metadata.connect() as connection:
                query = sa.text("SELECT count(*) FROM serialized_dag WHERE dag_id = :dag")
                return bool(connection.execute(query, {"dag": DAG_ID}).scalar_one())

        wait_for("the monitoring DAG to be parsed", serialized, stack, timeout=180)
        stack.airflow("dags", "unpause", DAG_ID)  # compose creates DAGs paused
        last = START + timedelta(days=DAYS - 1)
        stack.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", START.isoformat(),
                      "--to-date", last.isoformat())  # fmt: skip

        # kill worker-1 (SIGKILL, its whole process tree) while it profiles partitions; a retry gets a new id, so
        # the task is followed by its key
        def profiling_on_worker_1() -> tuple[str, int] | None:
            ti = stack.running_task("worker-1")
            if ti is None:
                return None
            with metadata.connect() as connection:
                query = sa.text("SELECT task_id, run_id, map_index FROM task_instance WHERE CAST(id AS TEXT) = :id")
                found = connection.execute(query, {"id": ti}).one_or_none()
            return (found.run_id, found.map_index) if found and found.task_id == "profile_partitions" else None

        killed = wait_for("worker-1 to profile partitions", profiling_on_worker_1, stack, timeout=300)
        stack.kill("worker-1")

        def finished() -> list[tuple[str, str]] | None:
            """The backfill's runs, once they and the scheduler's own run (catchup is off: the latest interval) end."""
            with metadata.connect() as connection:
                query = sa.text("SELECT run_id, run_type, state FROM dag_run WHERE dag_id = :dag ORDER BY logical_date")
                runs = connection.execute(query, {"dag": DAG_ID}).all()
            backfill = [(run.run_id, run.state) for run in runs if run.run_type == "backfill"]
            ended = all(run.state in ("success", "failed") for run in runs)
            return backfill if ended and len(backfill) == DAYS and len(runs) > DAYS else None

        runs = wait_for("the backfill's runs to finish", finished, stack, timeout=600)
        assert [state for _, state in runs] == ["success"] * DAYS, stack.tails()
        with metadata.connect() as connection:
            scheduled = (
                connection.execute(
                    sa.text("SELECT state FROM dag_run WHERE dag_id = :dag AND run_type = 'scheduled'"), {"dag": DAG_ID}
                )
                .scalars()
                .all()
            )
        assert scheduled and set(scheduled) == {"success"}, stack.tails()  # a window without logs is no failure
        with metadata.connect() as connection:
            key = {"dag": DAG_ID, "run": killed[0], "map_index": killed[1]}
            where = "dag_id = :dag AND run_id = :run AND task_id = 'profile_partitions' AND map_index = :map_index"
            lost = connection.execute(sa.text(f"SELECT state, try_number FROM task_instance WHERE {where}"), key).one()
            attempts = (
                connection.execute(
                    sa.text(f"SELECT state FROM task_instance_history WHERE {where} ORDER BY try_number"), key
                )
                .scalars()
                .all()
            )
            mapped = connection.execute(
                sa.text(
                    "SELECT run_id, count(*) FROM task_instance WHERE dag_id = :dag AND task_id = 'profile_partitions' "
                    "AND run_id LIKE 'backfill%' GROUP BY run_id"
                ),
                {"dag": DAG_ID},
            ).all()
    finally:
        stack.stop()
        metadata.dispose()
        import redis

        redis.Redis.from_url(env["AIRFLOW__CELERY__BROKER_URL"]).flushdb()

    # the lost attempt was failed by the heartbeat timeout and retried (on worker-2: worker-1 is gone)
    assert lost.state == "success" and lost.try_number >= 2 and "failed" in attempts, (lost, attempts)
    assert all(count > 1 for _, count in mapped) and len(mapped) == DAYS  # each window fanned out

    # exactly the CLI's rows
    reference_url = f"sqlite:///{tmp_path / 'cli.db'}"
    options = ["--storage", s3_store_url, "--database-url", reference_url]
    assert CliRunner().invoke(main, [*options, "init"]).exit_code == 0
    end = (START + timedelta(days=DAYS)).isoformat()
    backfill = CliRunner().invoke(main, [*options, "backfill", "fleet", "--start", START.isoformat(), "--end", end,
                                         "--no-report", "--no-notify"])  # fmt: skip
    assert backfill.exit_code == 0, backfill.output
    database, reference = MetricsDatabase(postgres_url), MetricsDatabase(reference_url)
    try:
        for table in METRIC_TABLES:
            rows = database.rows(table, "fleet", START, START + timedelta(days=DAYS))
            assert stable_rows(rows) == stable_rows(reference.rows(table, "fleet")), table
        statuses = [(run["window_start"], run["status"]) for run in database.runs("fleet")]
        # the scheduler's own run (a window without logs) is recorded as no_data
        expected = [(START + timedelta(days=day), "success") for day in range(DAYS)]
        assert statuses[:DAYS] == expected and {status for _, status in statuses[DAYS:]} == {"no_data"}, statuses
    finally:
        database.dispose()
        reference.dispose()
    assert len(inbox.messages) == DAYS - 1  # the drifted windows' e-mails, once each, despite the lost worker

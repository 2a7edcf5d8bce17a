"""Faults of the metrics database (issue 15), injected into a real PostgreSQL cluster the module creates on its own
free port — stopped, restarted, its backend terminated in the middle of a load — and met through the real CLI.

The shared cluster (127.0.0.1:5432) is never touched: this module's cluster is created with `pg_createcluster`
(trust auth, fsync off), started and stopped with `pg_ctlcluster`, and dropped afterwards. That needs root, which CI
and this machine's sessions have.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from test_faults import DAY, WINDOW, _cli, _free_port, _project

from drifting_etl.core.errors import DatabaseUnavailable, is_transient
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import METRIC_TABLES

END = DAY + timedelta(days=1)
VOLATILE = {"id", "computed_at", "started_at", "finished_at"}  # differ between any two runs of a window
WINDOW_LOCK_KEY = zlib.crc32(f"window faults {DAY.isoformat()} {END.isoformat()}".encode())  # see replace_window


@dataclass
class Cluster:
    """A PostgreSQL cluster of this module's own, driven by Debian's postgresql-common tools."""

    version: str
    name: str
    port: int

    def _tool(self, *command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _ctl(self, action: str, *options: str) -> None:
        self._tool("pg_ctlcluster", "--skip-systemctl-redirect", *options, self.version, self.name, action)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "--mode", "fast")  # fast: clients' connections are closed, not waited for

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return subprocess.run(["pg_ctlcluster", self.version, self.name, "status"], capture_output=True).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh database in the cluster; its URL."""
        name = f"faults_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        pytest.fail("no PostgreSQL server installed (/etc/postgresql is empty): apt-get install postgresql")
    if os.geteuid() != 0:
        pytest.fail("creating a PostgreSQL cluster of the test's own needs root (pg_createcluster): run as root")
    created = Cluster(versions[-1], f"drifting_faults_{uuid.uuid4().hex[:8]}", _free_port())
    try:
        created._tool(
            "pg_createcluster", created.version, created.name, "--port", str(created.port), "--start-conf", "manual",
            "-o", "fsync=off", "-o", "ssl=off", "--", "--auth=trust",
        )  # fmt: skip
        created.start()
        yield created
    finally:  # also after a half-created cluster
        subprocess.run(["pg_dropcluster", "--stop", created.version, created.name], capture_output=True, timeout=60)


@pytest.fixture
def database(cluster: Cluster) -> str:
    """A fresh database in the module's cluster, which is running (a failed test may have left it stopped)."""
    if not cluster.running:
        cluster.start()
    return cluster.create_database()


def _window(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the window in the five window tables, without the columns that differ between runs."""
    database = MetricsDatabase(url)
    try:
        return {
            table: [
                {k: v for k, v in row.items() if k not in VOLATILE} for row in database.rows(table, "faults", DAY, END)
            ]
            for table in METRIC_TABLES
        }
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def clean(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """The window's rows as a run that met no fault stores them."""
    tmp_path = tmp_path_factory.mktemp("clean")
    url = cluster.create_database()
    _project(tmp_path, str(tmp_path / "store"), url)
    _cli(str(tmp_path / "store"), url, "run", "faults", *WINDOW)
    rows = _window(url)
    assert rows["monitoring_run"][0]["status"] == "success" and rows["feature_drift"], rows
    return rows


def _flat(result: Result) -> str:
    return " ".join(result.output.split())


def _raised(result: Result) -> BaseException | None:
    """The error the command failed with (friendly_errors prints it and exits 1 inside its `except`)."""
    return result.exception.__context__ if isinstance(result.exception, SystemExit) else result.exception


def _assert_transient_failure(failed: Result, *phrases: str) -> None:
    flat = _flat(failed)
    assert failed.exit_code == 1 and "Traceback" not in failed.output, failed.output
    assert all(phrase in flat for phrase in phrases), flat
    assert flat.count("a retry may succeed once it is back") == 1, flat  # said, and said once
    error = _raised(failed)
    assert isinstance(error, DatabaseUnavailable) and is_transient(error), repr(error)  # Airflow retries it


def _after(target: str, action: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `action` once `target` (a function of drifting_etl.pipeline.run) has returned."""
    import drifting_etl.pipeline.run as pipeline

    original = getattr(pipeline, target)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        action()
        return result

    monkeypatch.setattr(pipeline, target, wrapped)


@pytest.mark.parametrize("when", ["before the run", "while the window is computed"])
def test_run_given_the_database_stopped_should_fail_as_transient_naming_the_cause_and_succeed_once_it_is_back(
    tmp_path: Path, cluster: Cluster, database: str, clean: dict[str, Any], monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """Stopped before the run, the schema check fails; stopped while the window is computed (after the check), the
    first write fails and so does recording the failure, and both say so."""
    store_url = str(tmp_path / "store")
    _project(tmp_path, store_url, database)
    if when == "before the run":
        cluster.stop()
    else:
        _after("summarize_window", cluster.stop, monkeypatch)
    failed = _cli(store_url, database, "run", "faults", *WINDOW, ok=False)
    monkeypatch.undo()
    _assert_transient_failure(failed, "Connection refused", f'"127.0.0.1", port {cluster.port}')
    if when == "before the run":
        assert "could not read the metrics database schema version" in _flat(failed)
    else:
        assert "recording its failure failed too" in _flat(failed)
        assert "the window's error: could not record the monitored project" in _flat(failed)

    cluster.start()
    assert _window(database) == {table: [] for table in METRIC_TABLES}  # nothing was written, not even half
    _cli(store_url, database, "run", "faults", *WINDOW)
    assert _window(database) == clean


@pytest.mark.slow
def test_run_given_the_database_restarted_under_its_pooled_connection_should_succeed(
    tmp_path: Path, cluster: Cluster, database: str, clean: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's engine keeps the connection of its schema check in its pool; the server restarts while the window
    is computed, so that connection is dead when the load checks it out (pool_pre_ping replaces it)."""
    store_url = str(tmp_path / "store")
    _project(tmp_path, store_url, database)
    invalidated: list[BaseException | None] = []

    def on_invalidate(_dbapi: Any, _record: Any, exception: BaseException | None) -> None:
        invalidated.append(exception)

    _after("summarize_window", cluster.restart, monkeypatch)
    sa.event.listen(sa.pool.Pool, "invalidate", on_invalidate)
    try:
        ran = _cli(store_url, database, "run", "faults", *WINDOW)
    finally:
        sa.event.remove(sa.pool.Pool, "invalidate", on_invalidate)
    assert invalidated, "the restart left no stale pooled connection: the test tested nothing"
    assert "computed in" in ran.output
    assert _window(database) == clean

    monkeypatch.undo()
    cluster.restart()  # and between two runs
    _cli(store_url, database, "run", "faults", *WINDOW)
    assert _window(database) == clean


def _waiting_for_a_lock(connection: sa.Connection, database: str) -> list[str]:
    """The statements of `database`'s backends that wait for a lock (pg_stat_activity read afresh: inside a
    transaction it would show what the transaction saw first)."""
    connection.execute(sa.select(sa.func.pg_stat_clear_snapshot()))
    statement = sa.text(
        "SELECT query FROM pg_stat_activity WHERE datname = :database AND wait_event_type = 'Lock' "
        "AND pid <> pg_backend_pid()"
    )
    return list(connection.execute(statement, {"database": database}).scalars())


@pytest.mark.parametrize(
    ("blocked_at", "statement"),
    [("window lock", "pg_advisory_xact_lock"), ("run row", "DELETE FROM monitoring_run")],
)
def test_run_given_its_backend_terminated_mid_load_should_fail_as_transient_and_leave_the_window_whole(
    tmp_path: Path, cluster: Cluster, database: str, clean: dict[str, Any], blocked_at: str, statement: str
) -> None:
    """Another session holds a lock the load needs, so the load waits inside its transaction; that session then
    terminates the load's backend (and every other one of the database but its own).

    - window lock: the window's first load waits for the window's advisory lock (replace_window), before it wrote;
    - run row: a re-load waits for the run row, which it deletes after it deleted all of the window's metric rows."""
    store_url = str(tmp_path / "store")
    name = database.rsplit("/", 1)[1]
    _project(tmp_path, store_url, database)
    if blocked_at == "run row":
        _cli(store_url, database, "run", "faults", *WINDOW)
    before = _window(database)

    holder = sa.create_engine(database)
    outcome: list[Result] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_cli(store_url, database, "run", "faults", *WINDOW, ok=False))
    )
    with holder.connect() as connection:
        if blocked_at == "window lock":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(WINDOW_LOCK_KEY)))
        else:
            connection.execute(sa.text("SELECT status FROM monitoring_run WHERE project = 'faults' FOR UPDATE"))
        worker.start()
        try:
            for _ in range(600):
                waiting = _waiting_for_a_lock(connection, name)
                if waiting:
                    break
                worker.join(0.1)
                assert worker.is_alive(), outcome[0].output if outcome else "the run ended without blocking"
            else:
                pytest.fail("the run never blocked in its load")
            assert len(waiting) == 1 and statement in waiting[0], waiting
            terminated = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :database "
                    "AND pid <> pg_backend_pid()"
                ),
                {"database": name},
            ).scalars()
            assert all(terminated)
        finally:
            connection.rollback()  # releases the lock: the run records its failure (or, in a failed test, goes on)
            worker.join(60)
    holder.dispose()

    _assert_transient_failure(outcome[0], "could not replace the window's metrics", "server closed the connection")
    after = _window(database)
    run = after.pop("monitoring_run")[0]
    assert after == {table: rows for table, rows in before.items() if table != "monitoring_run"}  # old rows, whole
    assert run["status"] == "failed" and "server closed the connection" in run["error"], run
    earlier = before["monitoring_run"][0] if before["monitoring_run"] else {"row_count": 0, "drifted": None}
    assert run["row_count"] == earlier["row_count"] and run["drifted"] == earlier["drifted"]  # the rows kept

    _cli(store_url, database, "run", "faults", *WINDOW)
    assert _window(database) == clean

"""Faults injected into the real components (issue 15): each has a defined outcome, and nothing is lost or
miscounted without a word. The README's fault table names the test of each row.

Object storage: moto's S3 server behind `FaultProxy` (tests/fault_proxy.py), a loopback proxy whose faults the test
switches on for the requests that read log files.
"""

from __future__ import annotations

import contextlib
import email
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from fault_proxy import FaultProxy

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.errors import DataError, StorageError, is_transient
from drifting_etl.core.retry import with_retries
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.store.artifacts import ArtifactStore

CONFIG = """\
name: faults
task: regression
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [a, b]
"""
DAY = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = ("--start", DAY.isoformat(), "--end", (DAY + timedelta(days=1)).isoformat(), "--no-report")


def _project(tmp_path: Path, store_url: str, database_url: str, *, config: str = CONFIG) -> None:
    """A registered project whose logs lie in two hours of DAY."""
    rng = np.random.default_rng(5)
    pd.DataFrame({name: rng.normal(size=600) for name in ("a", "b", "prediction")}).to_parquet(
        tmp_path / "reference.parquet"
    )
    seconds = np.sort(np.concatenate([rng.uniform(3600 * 9, 3600 * 10, 400), rng.uniform(3600 * 15, 3600 * 16, 400)]))
    logs = pd.DataFrame(
        {
            "timestamp": [DAY + timedelta(seconds=float(s)) for s in seconds],
            "a": rng.normal(0.2, 1, seconds.size),
            "b": rng.normal(size=seconds.size),
            "prediction": rng.normal(size=seconds.size),
        }
    )
    with LogWriter("faults", ArtifactStore(store_url), model_version="v1", max_rows=10**6) as writer:
        writer.log_frame(logs)
    (tmp_path / "faults.yaml").write_text(config)
    reference = str(tmp_path / "reference.parquet")
    _cli(store_url, database_url, "init")
    _cli(store_url, database_url, "project", "register", str(tmp_path / "faults.yaml"), "--reference", reference)


def _cli(store_url: str, database_url: str | None, *arguments: str, ok: bool = True) -> Result:
    options = ["--storage", store_url, *(["--database-url", database_url] if database_url else [])]
    result = CliRunner().invoke(main, [*options, *arguments])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _drift(database_url: str) -> dict[str, Any]:
    database = MetricsDatabase(database_url)
    try:
        rows = database.rows("feature_drift", "faults", DAY, DAY + timedelta(days=1))
        runs = database.rows("monitoring_run", "faults", DAY, DAY + timedelta(days=1))
    finally:
        database.dispose()
    return {"status": runs[0]["status"], "error": runs[0]["error"], "scores": {r["feature"]: r["score"] for r in rows}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def proxied_s3(s3_endpoint: str, s3_store_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The store's bucket reached through a FaultProxy in front of moto (s3fs follows AWS_ENDPOINT_URL). botocore
    makes one attempt per request (AWS_MAX_ATTEMPTS=1; its default retries make a lasting fault surface only after
    minutes), s3fs keeps its own retries."""
    import s3fs

    proxy = FaultProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("DRIFTING_STORAGE_ATTEMPTS", "2")
    s3fs.S3FileSystem.clear_instance_cache()
    yield proxy, s3_store_url
    proxy.close()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["reset", "http_503"])
def test_run_given_storage_faults_while_reading_logs_should_fail_as_transient_storage_errors_and_recover(
    tmp_path: Path, proxied_s3: tuple[FaultProxy, str], mode: str
) -> None:
    """Defect 1: a dropped connection (or a 5xx) while a log file was read was reported as bad data ("unreadable
    Parquet file ... move or delete the file"), which Airflow does not retry and a backfill walks past."""
    proxy, store_url = proxied_s3
    bucket = store_url.removeprefix("s3://").split("/", 1)[0]
    clean, faulty = (f"sqlite:///{tmp_path / name}.db" for name in ("clean", "faulty"))
    _project(tmp_path, store_url, clean)
    _cli(store_url, faulty, "init")
    _cli(store_url, clean, "run", "faults", *WINDOW, "--rescan")

    proxy.fault(mode, matching=f"GET /{bucket}/store/logs/", after_bytes=64)  # type: ignore[arg-type]
    failed = _cli(store_url, faulty, "run", "faults", *WINDOW, "--rescan", ok=False)
    assert failed.exit_code != 0 and proxy.faulted
    assert "could not read log file" in failed.output and "unreadable Parquet" not in failed.output
    assert "a retry may succeed" in failed.output
    recorded = _drift(faulty)
    assert recorded["status"] == "failed" and "could not read log file" in recorded["error"]
    assert "project=faults" in recorded["error"] and ".parquet" in recorded["error"]  # names the file

    proxy.heal()
    _cli(store_url, faulty, "run", "faults", *WINDOW, "--rescan")
    assert _drift(faulty) == _drift(clean)  # the same rows as a run that never saw the fault


def test_run_given_a_short_storage_outage_should_ride_it_out(
    tmp_path: Path, proxied_s3: tuple[FaultProxy, str]
) -> None:
    proxy, store_url = proxied_s3
    bucket = store_url.removeprefix("s3://").split("/", 1)[0]
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url)
    proxy.fault("reset", matching=f"GET /{bucket}/store/logs/", requests=3, after_bytes=64)
    _cli(store_url, url, "run", "faults", *WINDOW, "--rescan")
    assert len(proxy.faulted) == 3 and _drift(url)["status"] == "success"


def test_run_given_a_slow_store_should_wait_for_it_and_give_a_clean_runs_rows(
    tmp_path: Path, proxied_s3: tuple[FaultProxy, str]
) -> None:
    """Every read of a log file answered 0.3 s late (a store under load, far from a timeout): no error, no retry,
    the same rows."""
    proxy, store_url = proxied_s3
    bucket = store_url.removeprefix("s3://").split("/", 1)[0]
    clean, slow = (f"sqlite:///{tmp_path / name}.db" for name in ("clean", "slow"))
    _project(tmp_path, store_url, clean)
    _cli(store_url, slow, "init")
    _cli(store_url, clean, "run", "faults", *WINDOW, "--rescan")
    proxy.fault("slow", matching=f"GET /{bucket}/store/logs/", delay=0.3)
    _cli(store_url, slow, "run", "faults", *WINDOW, "--rescan")
    assert proxy.faulted and _drift(slow) == _drift(clean)


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "zero bytes"])
def test_run_given_a_corrupt_log_file_should_fail_once_as_bad_data_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    """Bytes that arrive but do not parse are bad data: terminal (no retry), and the file is named."""
    store_url = str(tmp_path / "store")
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url)
    store = ArtifactStore(store_url)
    hour = Path(store.log_partition_dir("faults", DAY.date(), 9))
    [whole] = hour.glob("*.parquet")
    content = {
        "corrupt": b"PAR1 this is not parquet PAR1",
        "truncated": whole.read_bytes()[: whole.stat().st_size // 2],  # a copy cut off halfway
        "zero bytes": b"",
    }[damage]
    bad = hour / f"{uuid.uuid4().hex}.parquet"
    bad.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="drifting_etl.core.retry"):
        failed = _cli(store_url, url, "run", "faults", *WINDOW, ok=False)
    assert "unreadable Parquet data" in failed.output and "move or delete the file" in failed.output
    assert bad.name in " ".join(failed.output.split())
    assert not [record for record in caplog.records if "retrying" in record.getMessage()]  # not retried
    assert _drift(url)["status"] == "failed"


def test_with_retries_should_retry_transient_errors_with_backoff_and_never_terminal_ones() -> None:
    waits: list[float] = []
    calls = {"storage": 0, "data": 0}

    def flaky() -> str:
        calls["storage"] += 1
        if calls["storage"] < 3:
            raise StorageError("could not read log file: ConnectionResetError: reset by peer")
        return "read"

    assert with_retries(flaky, attempts=3, what="reading", sleep=waits.append) == "read"
    assert waits == [1.0, 2.0]

    def bad() -> str:
        calls["data"] += 1
        raise DataError("unreadable Parquet data")

    with pytest.raises(DataError):
        with_retries(bad, attempts=3, what="reading", sleep=waits.append)
    assert calls["data"] == 1

    def down() -> str:
        calls["storage"] += 1
        raise StorageError("could not read log file: ConnectionRefusedError")

    calls["storage"] = 0
    with pytest.raises(StorageError) as raised:
        with_retries(down, attempts=2, what="reading", sleep=waits.append)
    assert calls["storage"] == 2 and is_transient(raised.value)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: a disk that fills up (mounting needs root, which CI and this machine's sessions have)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"could not mount a tmpfs for the full-disk test (run as root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Fill `disk` to its last byte; returns the filler file."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)
    return filler


def _leftovers(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.name.endswith(".tmp")]


def test_write_given_a_full_disk_should_say_no_space_left_and_leave_no_temporary_file(small_disk: Path) -> None:
    """Defect 6: each failed write left its temporary file behind, so a full disk stayed full, and the error did
    not say why."""
    store = ArtifactStore(str(small_disk / "store"))
    store.write_text(store.path("small.txt"), "fits")
    _fill(small_disk)
    for _ in range(3):  # retries must not pile up partial files
        with pytest.raises(StorageError, match="No space left on device") as raised:
            store.write_bytes(store.path("big.bin"), b"x" * 500_000)
        assert raised.value.transient
    assert _leftovers(small_disk) == [] and not (small_disk / "store" / "big.bin").exists()
    assert (small_disk / "store" / "small.txt").read_text() == "fits"  # what was there is intact


def test_run_given_a_full_disk_should_record_the_cause_and_succeed_once_space_is_freed(small_disk: Path) -> None:
    store_url = str(small_disk / "store")
    url = f"sqlite:///{small_disk.parent / 'metrics.db'}"  # the database lives elsewhere: only the store is full
    _project(small_disk.parent, store_url, url)
    filler = _fill(small_disk)
    failed = _cli(store_url, url, "run", "faults", *WINDOW, ok=False)
    assert "No space left on device" in failed.output
    recorded = _drift(url)
    assert recorded["status"] == "failed" and "No space left on device" in recorded["error"]
    assert _leftovers(small_disk) == []
    filler.unlink()
    _cli(store_url, url, "run", "faults", *WINDOW)
    assert _drift(url)["status"] == "success"


KILLED_AFTER_LOAD = """
import os, signal, sys
from datetime import datetime
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.run import run_window
from drifting_etl.store.artifacts import ArtifactStore

store, database = ArtifactStore(sys.argv[1]), MetricsDatabase(sys.argv[2])
run_window(store, database, "faults", Window(datetime.fromisoformat(sys.argv[3]), datetime.fromisoformat(sys.argv[4])),
           publish=True)
os.kill(os.getpid(), signal.SIGKILL)  # killed after loading, before the report and the e-mail
"""


def test_run_killed_after_loading_should_leave_its_publishing_owed_and_the_next_run_should_pay_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 8: a run killed after loading and before its report sent no e-mail, and nothing recorded that the
    alert was owed."""
    from aiosmtpd.controller import Controller

    from drifting_etl.notify.sink import Outbox

    store_url, url = str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url, config=CONFIG + "alerts:\n  email: [team@example.com]\n  send: always\n")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_LOAD, store_url, url, DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    database = MetricsDatabase(url)
    assert database.window_run("faults", DAY, DAY + timedelta(days=1))["publish_status"] == "owed"  # type: ignore[index]

    outbox = Outbox(tmp_path / "outbox")
    port = _free_port()
    controller = Controller(outbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DRIFTING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTING_SMTP_PORT", str(port))
    try:
        nxt = DAY + timedelta(days=1)
        ran = _cli(store_url, url, "run", "faults", "--start", nxt.isoformat(), "--end", (nxt + timedelta(days=1)).isoformat(),
                   "--no-report")  # fmt: skip
        assert "whose publishing was still owed" in " ".join(ran.output.split())
        again = _cli(store_url, url, "publish", "faults", "--no-report")
    finally:
        controller.stop()
    subjects = sorted(email.message_from_bytes(path.read_bytes())["Subject"] for path in outbox.received)
    assert len(subjects) == 2 and any("2026-03-02" in subject for subject in subjects)  # the owed one, once
    assert "nothing to publish" in again.output
    assert database.window_run("faults", DAY, DAY + timedelta(days=1))["publish_status"] == "done"  # type: ignore[index]
    database.dispose()


def test_run_given_the_database_fails_while_recording_a_failure_should_show_both_errors(
    tmp_path: Path, small_disk: Path
) -> None:
    """Defect 9: a database outage while recording a failed window hid the window's own error."""
    store_url, url = str(tmp_path / "store"), f"sqlite:///{small_disk / 'metrics.db'}"
    _project(tmp_path, store_url, url)
    hour = ArtifactStore(store_url).log_partition_dir("faults", DAY.date(), 9)
    (Path(hour) / f"{uuid.uuid4().hex}.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    _fill(small_disk)
    failed = _cli(store_url, url, "run", "faults", *WINDOW, ok=False)
    flat = " ".join(failed.output.split())
    assert "recording its failure failed too" in flat and "full" in flat  # the database's own reason
    assert "the window's error: unreadable Parquet data" in flat  # and the window's


@pytest.mark.slow
def test_run_given_the_store_unreachable_should_record_the_failed_window(
    tmp_path: Path, proxied_s3: tuple[FaultProxy, str]
) -> None:
    """Defect 9: an outage while the store's index and the project were read was not recorded in monitoring_run."""
    proxy, store_url = proxied_s3
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    _project(tmp_path, store_url, url)
    proxy.fault("refuse")
    failed = _cli(store_url, url, "run", "faults", *WINDOW, ok=False)
    assert "could not" in failed.output and "artifact store" in failed.output
    recorded = _drift(url)
    assert recorded["status"] == "failed" and "artifact store" in recorded["error"]
    proxy.heal()
    _cli(store_url, url, "run", "faults", *WINDOW)
    assert _drift(url)["status"] == "success"


# ------------------------------------------------------------------------------- kill -9 during profiling and loading

KILLABLE_RUN = """
import os, signal, sys

from drifting_etl.cli.main import main

# what the run imports on its way (the CLI imports lazily): imported here, the delays fall in the run itself
import fsspec.implementations.local, pandas, pyarrow.parquet, scipy.stats, sqlalchemy, sqlite3  # noqa


def die():
    os.kill(os.getpid(), signal.SIGKILL)


point = os.environ.get("DRIFTING_TEST_KILL_AT")
if point == "summary":  # the second hour's summary is in its temporary file, not yet renamed into place
    rename, summaries = os.replace, []

    def replace(source, destination):
        if str(destination).endswith(".profile"):
            summaries.append(destination)
            if len(summaries) == 2:
                die()
        rename(source, destination)

    os.replace = replace
elif point and point.startswith("load:"):  # inside the load's transaction, once it ran the statement named
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "after_cursor_execute")
    def after(connection, cursor, statement, parameters, context, executemany):
        if " ".join(statement.split()).upper().startswith(point.removeprefix("load:")):
            die()

print("ready", flush=True)  # imported: what follows is the run itself
main(sys.argv[1:])
"""
VOLATILE = {"id", "computed_at", "started_at", "finished_at"}
"""Columns that differ between any two runs of a window."""


def _window_rows(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of DAY's window in the five window tables, without the columns that differ between runs."""
    from drifting_etl.load.tables import METRIC_TABLES

    database = MetricsDatabase(database_url)
    try:
        return {
            table: [{k: v for k, v in row.items() if k not in VOLATILE} for row in database.rows(table, "faults", DAY, DAY + timedelta(days=1))]
            for table in METRIC_TABLES
        }  # fmt: skip
    finally:
        database.dispose()


def _busy_day(tmp_path: Path, store_url: str, database_url: str) -> None:
    """`_project`, with 8 more hours of logs (2 files of 12,000 rows each): profiling them takes a while."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _project(tmp_path, store_url, database_url)
    rng = np.random.default_rng(21)
    store = ArtifactStore(store_url)
    for hour in range(8):
        folder = Path(store.log_partition_dir("faults", DAY.date(), hour))
        folder.mkdir(parents=True, exist_ok=True)
        for part in range(2):
            offsets = np.sort(rng.integers(0, 3_600_000_000, 12_000)).astype("timedelta64[us]")
            moments = np.datetime64(DAY.replace(tzinfo=None) + timedelta(hours=hour), "us") + offsets
            columns = {name: rng.normal(0.1 * hour, 1, 12_000) for name in ("a", "b", "prediction")}
            timestamps = pa.array(moments).cast(pa.timestamp("us", tz="UTC"))
            pq.write_table(pa.table({"timestamp": timestamps, **columns}), folder / f"part-{part}.parquet")


def _run_killed(store_url: str, database_url: str, *, after: float | None = None, at: str = "") -> tuple[int, float]:
    """`drifting-etl run` of DAY's window in a process of its own, sent SIGKILL `after` seconds into the run (once its
    imports are done), or at the point `at` names (see KILLABLE_RUN). Returns its exit code and how long it ran."""
    arguments = ["--storage", store_url, "--database-url", database_url, "run", "faults", *WINDOW]
    process = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_RUN, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DRIFTING_TEST_KILL_AT": at, **({"DRIFTING_WORKERS": "1"} if at == "summary" else {})},
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n", process.communicate()[1]
        started = time.perf_counter()
        try:
            process.wait(timeout=120 if after is None else after)
        except subprocess.TimeoutExpired:
            if after is None:
                raise
            process.send_signal(signal.SIGKILL)
            process.wait()
        return process.returncode, time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_run_killed_during_profiling_or_loading_should_leave_the_window_whole_and_the_next_run_as_a_clean_one(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """kill -9 at random points of a run (seeded delays spread over a clean run's duration, after the imports), at
    the rename of an hour's summary into the cache, and inside the load's transaction. After each kill the window
    holds the rows it held before or those of one whole run, never a part; what the killed run left in the store
    (its cache, a hidden temporary file) is no trap: the next run loads exactly the clean run's rows."""
    store_url, clean_url = str(tmp_path / "store"), f"sqlite:///{tmp_path / 'clean.db'}"
    _busy_day(tmp_path, store_url, clean_url)
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'killed.db'}"
    _cli(store_url, url, "init")
    code, duration = _run_killed(store_url, clean_url)
    clean = _window_rows(clean_url)
    assert code == 0 and clean["monitoring_run"][0]["status"] == "success" and clean["feature_drift"]
    assert clean["monitoring_run"][0]["row_count"] == 800 + 8 * 24_000
    cache = Path(ArtifactStore(store_url).profiles_dir("faults"))
    assert len(list(cache.rglob("*.profile"))) == 10  # one summary per hour

    rng = np.random.default_rng(15)
    delays = np.sort(rng.uniform(0.05, 1.0, 3 if backend == "sqlite" else 1)) * duration
    kills: list[dict[str, Any]] = [{"after": float(delay)} for delay in delays]
    if backend == "sqlite":
        kills.append({"at": "summary"})
        kills.append({"at": "load:DELETE FROM MONITORING_RUN"})  # every row of the window deleted, none inserted
    kills.append({"at": "load:INSERT INTO FEATURE_DRIFT"})  # the new run row and some metrics inserted
    outcomes = []
    for kill in kills:
        shutil.rmtree(cache)  # each killed run profiles every hour again
        before = _window_rows(url)
        code, _ = _run_killed(store_url, url, **kill)
        left = _window_rows(url)
        assert left in (before, clean), kill  # never part of a window
        temporary = list(Path(store_url).rglob("*.tmp"))
        assert all(path.name.startswith(".") for path in temporary), temporary  # hidden: listings skip them
        summaries = len(list(cache.rglob("*.profile")))
        outcomes.append((kill, code, summaries, len(temporary), left == clean))
        if "at" in kill:
            assert code == -signal.SIGKILL, outcomes
        if kill.get("at") == "summary":  # one summary renamed, the second left in its temporary file (one worker)
            assert (summaries, len(temporary), left) == (1, 1, before), outcomes
        if kill.get("at", "").startswith("load:"):  # rolled back: the earlier run's rows are all there
            assert (summaries, left, before) == (10, clean, clean), outcomes

        _cli(store_url, url, "run", "faults", *WINDOW)  # the next run, over what the killed one left
        assert _window_rows(url) == clean, outcomes
        assert len(list(cache.rglob("*.profile"))) == 10

"""Tests of the capture SDK against a real local directory and a real S3 server (moto, through s3fs)."""

from __future__ import annotations

import gc
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.capture import writers as capture
from drifting_etl.core.errors import ConfigError, DataError, DriftingError, StorageError
from drifting_etl.core.settings import STORAGE_ENV
from drifting_etl.store.artifacts import ArtifactStore

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT = "churn"
DAY = date(2024, 3, 1)
FILE_NAME = re.compile(r"^[0-9a-f]{32}\.parquet$")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "store"))
    return ArtifactStore(request.getfixturevalue("s3_store_url"))


@pytest.fixture
def local_store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "store"))


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def read_files(store: ArtifactStore, directory: str) -> list[pa.Table]:
    return [pq.read_table(io.BytesIO(store.read_bytes(f.path))) for f in store.list_data_files(directory)]


def log_partitions(store: ArtifactStore, project: str = PROJECT) -> dict[tuple[str, str], list[pa.Table]]:
    """(date, hour) -> the tables of the files in that partition, found by walking the store."""
    found = {}
    for day, day_dir in store.walk_partitions(store.logs_dir(project), "date"):
        for hour, hour_dir in store.walk_partitions(day_dir, "hour"):
            found[(day, hour)] = read_files(store, hour_dir)
    return found


def all_rows(store: ArtifactStore, project: str = PROJECT) -> list[dict[str, Any]]:
    return [row for tables in log_partitions(store, project).values() for table in tables for row in table.to_pylist()]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)


def row(n: int, moment: datetime, **extra: object) -> dict[str, object]:
    return {"request_id": f"r{n}", "timestamp": moment, "age": 30 + n, "plan": "pro", "prediction": n % 2, **extra}


# ---------------------------------------------------------------- layout, values and types
def test_log_writer_given_rows_in_two_hours_should_write_two_partitions(store: ArtifactStore) -> None:
    with LogWriter(PROJECT, store, model_version="v1") as writer:
        writer.log(row(1, at(10, 5), prediction_proba=0.9))
        writer.log(row(2, at(10, 59), prediction_proba=0.2, model_version="v2"))
        writer.log(row(3, at(11, 0), prediction_proba=0.7))

    partitions = log_partitions(store)
    assert sorted(partitions) == [("2024-03-01", "10"), ("2024-03-01", "11")]
    assert [len(tables) for tables in partitions.values()] == [1, 1]
    hour_10 = store.log_partition_dir(PROJECT, DAY, 10)
    [stored] = store.list_data_files(hour_10)
    assert stored.path.endswith("logs/project=churn/date=2024-03-01/hour=10/" + stored.path.rsplit("/", 1)[1])
    assert FILE_NAME.match(stored.path.rsplit("/", 1)[1])

    table = partitions[("2024-03-01", "10")][0]
    assert table.schema.field("request_id").type == pa.string()
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("model_version").type == pa.string()
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("prediction_proba").type == pa.float64()
    assert table.column_names[:3] == ["request_id", "timestamp", "model_version"]
    assert table.to_pylist() == [
        {"request_id": "r1", "timestamp": at(10, 5), "model_version": "v1", "age": 31, "plan": "pro",
         "prediction": 1, "prediction_proba": 0.9},
        {"request_id": "r2", "timestamp": at(10, 59), "model_version": "v2", "age": 32, "plan": "pro",
         "prediction": 0, "prediction_proba": 0.2},
    ]  # fmt: skip
    assert partitions[("2024-03-01", "11")][0].column("request_id").to_pylist() == ["r3"]

    # The ETL can read the whole project as one hive-partitioned dataset.
    dataset = ds.dataset(store.logs_dir(PROJECT), filesystem=store.fs, format="parquet", partitioning="hive")
    assert sorted(dataset.to_table().column("request_id").to_pylist()) == ["r1", "r2", "r3"]


def test_log_writer_given_aware_naive_and_iso_timestamps_should_partition_by_utc_hour(
    local_store: ArtifactStore,
) -> None:
    paris_summer = timezone(timedelta(hours=2))
    with LogWriter(PROJECT, local_store) as writer:
        writer.log(row(1, datetime(2024, 3, 2, 0, 30, tzinfo=paris_summer)))  # 2024-03-01 22:30 UTC
        writer.log(row(2, datetime(2024, 3, 1, 23, 10)))  # naive: taken as UTC
        writer.log(row(3, "2024-03-01T22:45:00Z"))  # type: ignore[arg-type]
        writer.log(row(4, pd.Timestamp("2024-03-01 23:59:59.123456789", tz="UTC")))

    partitions = log_partitions(local_store)
    assert sorted(partitions) == [("2024-03-01", "22"), ("2024-03-01", "23")]
    assert partitions[("2024-03-01", "22")][0].column("timestamp").to_pylist() == [at(22, 30), at(22, 45)]
    hour_23 = partitions[("2024-03-01", "23")][0].column("timestamp").to_pylist()
    assert hour_23 == [at(23, 10), datetime(2024, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)]


def test_log_writer_given_missing_request_id_timestamp_and_model_version_should_fill_them(
    local_store: ArtifactStore,
) -> None:
    before = datetime.now(UTC)
    with LogWriter(PROJECT, local_store) as anonymous, LogWriter(PROJECT, local_store, model_version="v3") as versioned:
        first = anonymous.log({"age": 40, "prediction": 1})
        second = versioned.log({"age": 41, "prediction": 0})
    after = datetime.now(UTC)

    rows = {stored["request_id"]: stored for stored in all_rows(local_store)}
    assert set(rows) == {first, second}
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert rows[first]["model_version"] is None
    assert rows[second]["model_version"] == "v3"
    for stored in rows.values():
        assert before - timedelta(microseconds=1) <= stored["timestamp"] <= after


def test_log_writer_given_custom_column_names_should_use_them(local_store: ArtifactStore) -> None:
    with LogWriter(PROJECT, local_store, timestamp_column="ts", request_id_column="id") as writer:
        request_id = writer.log({"ts": at(7, 30), "prediction": 1})

    [table] = log_partitions(local_store)[("2024-03-01", "07")]
    assert table.column_names == ["id", "ts", "model_version", "prediction"]
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.column("id").to_pylist() == [request_id]


def test_log_frame_given_dataframe_should_store_rows_with_nulls_for_missing_values(local_store: ArtifactStore) -> None:
    frame = pd.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "timestamp": pd.to_datetime(["2024-03-01 11:15", "2024-03-01 11:20", None]).tz_localize("Europe/Paris"),
            "age": [30, 31, 32],
            "income": [1.5, float("nan"), 2.5],
            "plan": ["pro", None, "free"],
            "prediction": [1, 0, 1],
        }
    )
    with LogWriter(PROJECT, local_store) as writer:
        assert writer.log_frame(frame) == ["a", "b", "c"]

    rows = {stored["request_id"]: stored for stored in all_rows(local_store)}
    assert rows["a"]["timestamp"] == at(10, 15)  # 11:15 in Paris (UTC+1 in March) is 10:15 UTC
    assert rows["b"]["income"] is None
    assert rows["b"]["plan"] is None
    assert rows["c"]["timestamp"] is not None  # NaT means "not given": filled with now
    assert [rows[key]["age"] for key in "abc"] == [30, 31, 32]


# ---------------------------------------------------------------- when rows are flushed
def test_log_writer_given_max_rows_should_flush_without_explicit_call(store: ArtifactStore) -> None:
    writer = LogWriter(PROJECT, store, max_rows=5, max_interval=3600)
    try:
        writer.log_many([row(n, at(9)) for n in range(5)])
        wait_for(lambda: writer.pending == 0)
        assert len(all_rows(store)) == 5
        writer.log_many([row(n, at(9)) for n in range(5, 8)])
        time.sleep(0.2)
        assert writer.pending == 3  # below max_rows and younger than max_interval: still buffered
    finally:
        writer.close()
    assert len(all_rows(store)) == 8


def test_log_writer_given_small_max_interval_should_flush_old_rows_in_the_background(store: ArtifactStore) -> None:
    writer = LogWriter(PROJECT, store, max_interval=0.2)
    try:
        writer.log(row(1, at(9)))
        wait_for(lambda: writer.pending == 0)
        assert [stored["request_id"] for stored in all_rows(store)] == ["r1"]
        writer.log(row(2, at(9)))  # the timer keeps working after a flush
        wait_for(lambda: writer.pending == 0)
        assert len(all_rows(store)) == 2
    finally:
        writer.close()


def test_log_writer_given_context_manager_exit_or_close_should_flush(local_store: ArtifactStore) -> None:
    with LogWriter(PROJECT, local_store, max_interval=3600) as writer:
        writer.log(row(1, at(9)))
        assert all_rows(local_store) == []
    assert writer.closed
    assert len(all_rows(local_store)) == 1

    other = LogWriter(PROJECT, local_store, max_interval=3600)
    other.log(row(2, at(9)))
    other.close()
    other.close()  # idempotent
    assert len(all_rows(local_store)) == 2


def test_log_writer_given_closed_writer_should_refuse_rows(local_store: ArtifactStore) -> None:
    writer = LogWriter(PROJECT, local_store)
    writer.close()
    with pytest.raises(DriftingError, match="closed") as raised:
        writer.log(row(1, at(9)))
    assert raised.value.project == PROJECT  # type: ignore[attr-defined]
    assert writer.flush() == 0


def test_writers_given_process_exits_without_close_should_flush_at_exit(store: ArtifactStore) -> None:
    script = textwrap.dedent(
        """
        from datetime import datetime
        from drifting_etl.capture import LabelWriter, LogWriter

        logs = LogWriter("churn", max_interval=3600)  # store from DRIFTING_STORAGE_URL
        logs.log({"request_id": "exit-1", "timestamp": datetime(2024, 3, 1, 9), "prediction": 1})
        logs.log({"request_id": "exit-2", "timestamp": datetime(2024, 3, 1, 10), "prediction": 0})
        labels = LabelWriter("churn", max_interval=3600)
        labels.label("exit-1", 1, datetime(2024, 3, 1, 9))
        print(logs.pending, labels.pending)
        """
    )
    env = {**os.environ, STORAGE_ENV: store.url}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1"]  # still buffered when the script ended
    assert done.stderr == ""
    assert sorted(stored["request_id"] for stored in all_rows(store)) == ["exit-1", "exit-2"]
    [labels] = read_files(store, store.label_partition_dir(PROJECT, DAY))
    assert labels.column("request_id").to_pylist() == ["exit-1"]


def test_log_writer_given_storage_down_at_exit_should_report_the_loss_and_still_exit(tmp_path: Path) -> None:
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store directory should be")
    script = textwrap.dedent(
        """
        from datetime import datetime
        from drifting_etl.capture import LogWriter

        writer = LogWriter("churn", max_interval=3600)
        writer.log({"request_id": "exit-1", "timestamp": datetime(2024, 3, 1, 9), "prediction": 1})
        """
    )
    env = {**os.environ, STORAGE_ENV: str(blocker)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "could not write its 1 buffered rows; they are lost" in done.stderr
    assert "StorageError" in done.stderr


def test_log_writer_given_no_references_should_be_garbage_collected_and_flushed(local_store: ArtifactStore) -> None:
    writer = LogWriter(PROJECT, local_store, max_interval=3600)
    writer.log(row(1, at(9)))
    reference = weakref.ref(writer)
    del writer

    def collected() -> bool:
        gc.collect()
        return reference() is None

    wait_for(collected)  # neither the timer thread nor the exit hook keeps it alive
    assert [stored["request_id"] for stored in all_rows(local_store)] == ["r1"]


# ---------------------------------------------------------------- bad data
def test_log_writer_given_inconsistent_types_should_raise_data_error_naming_project_and_column(
    local_store: ArtifactStore,
) -> None:
    with LogWriter(PROJECT, local_store) as writer:
        writer.log(row(1, at(9)))
        with pytest.raises(DataError, match="'plan'") as raised:
            writer.log(row(2, at(9), plan=3))
        assert raised.value.project == PROJECT  # type: ignore[attr-defined]
        assert raised.value.column == "plan"  # type: ignore[attr-defined]
        with pytest.raises(DataError, match="'age'"):
            writer.log_many([row(3, at(9)), row(4, at(9), age="old")])  # all or none
        assert writer.pending == 1
        writer.log(row(5, at(9), age=30.5))  # ints and floats mix
        writer.log(row(6, at(9), plan=None))  # None always fits
        with pytest.raises(DataError, match="'timestamp'"):
            writer.log(row(7, 1709280000))  # type: ignore[arg-type]  # epoch numbers are ambiguous

    [table] = log_partitions(local_store)[("2024-03-01", "09")]
    assert table.schema.field("age").type == pa.float64()
    assert table.column("request_id").to_pylist() == ["r1", "r5", "r6"]
    assert table.column("plan").to_pylist() == ["pro", "pro", None]


# ---------------------------------------------------------------- atomicity and failures
def test_log_writer_given_local_store_should_leave_no_temporary_files(local_store: ArtifactStore) -> None:
    with LogWriter(PROJECT, local_store) as writer:
        writer.log_many([row(n, at(n % 3)) for n in range(30)])

    files = [name for _, _, names in os.walk(local_store.root) for name in names]
    assert len(files) == 3
    assert all(FILE_NAME.match(name) for name in files)


def test_store_given_hidden_temporary_file_in_partition_should_not_list_it(local_store: ArtifactStore) -> None:
    with LogWriter(PROJECT, local_store) as writer:
        writer.log(row(1, at(9)))
    directory = local_store.log_partition_dir(PROJECT, DAY, 9)
    Path(directory, f".{uuid.uuid4().hex}.parquet.{uuid.uuid4().hex}.tmp").write_bytes(b"PAR1 half a file")
    Path(directory, ".in-flight.parquet").write_bytes(b"PAR1 half a file")

    assert len(os.listdir(directory)) == 3
    [stored] = local_store.list_data_files(directory)
    assert FILE_NAME.match(stored.path.rsplit("/", 1)[1])


@pytest.fixture(params=["local", "s3"])
def broken_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ArtifactStore, Callable[[], None]]]:
    """A store whose writes really fail (also as root), and the repair that makes them succeed."""
    if request.param == "local":
        blocker = tmp_path / "store"
        blocker.write_text("a file where the store directory should be")
        yield ArtifactStore(str(blocker)), blocker.unlink
    else:
        import s3fs

        request.getfixturevalue("s3_endpoint")
        bucket = f"drifting-missing-{uuid.uuid4().hex[:8]}"
        yield ArtifactStore(f"s3://{bucket}/store"), lambda: s3fs.S3FileSystem().mkdir(bucket)


def test_log_writer_given_storage_failure_should_keep_rows_and_write_them_after_recovery(
    broken_store: tuple[ArtifactStore, Callable[[], None]],
) -> None:
    store, repair = broken_store
    writer = LogWriter(PROJECT, store, max_interval=3600)
    writer.log_many([row(n, at(9 + n % 2)) for n in range(4)])

    with pytest.raises(StorageError) as raised:
        writer.flush()
    assert raised.value.transient
    assert writer.pending == 4  # nothing lost
    with pytest.raises(StorageError):
        writer.close()  # closing flushes, fails the same way, and still keeps the rows
    assert writer.pending == 4

    repair()
    assert writer.flush() == 4
    assert sorted(stored["request_id"] for stored in all_rows(store)) == ["r0", "r1", "r2", "r3"]


def test_log_writer_given_failure_in_second_partition_should_not_duplicate_the_first_on_retry(
    local_store: ArtifactStore,
) -> None:
    blocked = Path(local_store.log_partition_dir(PROJECT, DAY, 11))
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the hour=11 partition should be")
    writer = LogWriter(PROJECT, local_store, max_interval=3600)
    writer.log_many([row(1, at(10)), row(2, at(11)), row(3, at(10)), row(4, at(11))])

    with pytest.raises(StorageError, match="hour=11"):
        writer.flush()
    assert writer.pending == 2  # only the rows of the partition that failed

    blocked.unlink()
    writer.close()
    partitions = log_partitions(local_store)
    assert {key: len(tables) for key, tables in partitions.items()} == {
        ("2024-03-01", "10"): 1,
        ("2024-03-01", "11"): 1,
    }
    assert sorted(stored["request_id"] for stored in all_rows(local_store)) == ["r1", "r2", "r3", "r4"]


def test_log_writer_given_many_threads_logging_concurrently_should_lose_nothing(store: ArtifactStore) -> None:
    writer = LogWriter(PROJECT, store, max_rows=150, max_interval=0.05)
    returned: list[list[str]] = []

    def serve(worker: int) -> None:
        ids = [writer.log({"timestamp": at(worker % 3), "worker": worker, "prediction": n}) for n in range(200)]
        returned.append(ids)

    threads = [threading.Thread(target=serve, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    stored = [stored["request_id"] for stored in all_rows(store)]
    expected = [request_id for ids in returned for request_id in ids]
    assert len(stored) == len(expected) == 1200
    assert sorted(stored) == sorted(expected)  # none lost, none written twice
    assert len(log_partitions(store)) == 3


# ---------------------------------------------------------------- labels
def test_label_writer_given_labelled_at_dates_should_partition_by_utc_date(store: ArtifactStore) -> None:
    with LabelWriter(PROJECT, store) as writer:
        writer.label("r1", 1, at(23, 30))
        writer.label("r2", 0, datetime(2024, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=2))))  # 22:30 UTC on 1 March
        writer.label_many({"r3": 1, "r4": 0}, datetime(2024, 3, 2, 10, 0))  # naive: UTC
        writer.label_many([("r5", 1)], labelled_at=at(1, day=date(2024, 3, 2)))

    days = [day for day, _ in store.walk_partitions(store.labels_dir(PROJECT), "date")]
    assert days == ["2024-03-01", "2024-03-02"]
    [first_day] = read_files(store, store.label_partition_dir(PROJECT, DAY))
    assert first_day.schema == pa.schema(
        [("request_id", pa.string()), ("label", pa.int64()), ("labelled_at", pa.timestamp("us", tz="UTC"))]
    )
    assert first_day.to_pylist() == [
        {"request_id": "r1", "label": 1, "labelled_at": at(23, 30)},
        {"request_id": "r2", "label": 0, "labelled_at": at(22, 30)},
    ]
    [second_day] = read_files(store, store.label_partition_dir(PROJECT, date(2024, 3, 2)))
    assert sorted(second_day.column("request_id").to_pylist()) == ["r3", "r4", "r5"]


def test_label_writer_given_no_labelled_at_should_use_now_and_flush_by_time(local_store: ArtifactStore) -> None:
    writer = LabelWriter(PROJECT, local_store, max_interval=0.1)
    try:
        before = datetime.now(UTC)
        writer.label("r1", "churned")
        wait_for(lambda: writer.pending == 0)
        days = list(local_store.walk_partitions(local_store.labels_dir(PROJECT), "date"))
        [(_, directory)] = days
        [table] = read_files(local_store, directory)
        assert table.column("label").to_pylist() == ["churned"]
        assert table.column("labelled_at")[0].as_py() >= before - timedelta(microseconds=1)
        with pytest.raises(DataError, match="'label'"):
            writer.label("r2", 3)  # the label column already holds strings
        with pytest.raises(DataError):
            writer.label("", "churned")
    finally:
        writer.close()


# ---------------------------------------------------------------- construction
def test_log_writer_constructor_should_do_no_io_and_start_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORAGE_ENV, str(tmp_path / "from-env"))
    writer = LogWriter("quiet-project")
    assert writer.store.url == str(tmp_path / "from-env")
    assert not (tmp_path / "from-env").exists()
    assert not any(thread.name.endswith("-quiet-project") for thread in threading.enumerate())
    assert LabelWriter("quiet-project", str(tmp_path / "other")).store.url == str(tmp_path / "other")
    writer.close()
    assert not (tmp_path / "from-env").exists()  # closing an empty writer writes nothing


@pytest.mark.parametrize(
    ("project", "options"),
    [("../escape", {}), ("Upper", {}), ("ok", {"max_rows": 0}), ("ok", {"max_interval": 0}),
     ("ok", {"timestamp_column": "request_id"})],
)  # fmt: skip
def test_log_writer_given_invalid_settings_should_raise_config_error(
    tmp_path: Path, project: str, options: dict[str, object]
) -> None:
    with pytest.raises(ConfigError):
        LogWriter(project, str(tmp_path), **options)  # type: ignore[arg-type]


def test_capture_should_export_only_the_two_writers() -> None:
    assert sorted(capture.__all__) == ["LabelWriter", "LogWriter"]


# ---------------------------------------------------------------- stopping the service
SERVICE = """
import signal, sys, threading, time
from datetime import datetime
from drifting_etl.capture import LogWriter
{before}
writer = LogWriter("churn", max_interval=3600)  # store from DRIFTING_STORAGE_URL
writer.log({{"request_id": "term-1", "timestamp": datetime(2024, 3, 1, 9), "prediction": 1}})
writer.log({{"request_id": "term-2", "timestamp": datetime(2024, 3, 1, 10), "prediction": 0}})
print("ready", writer.pending, flush=True)
{wait}
"""


def _service(store: ArtifactStore, *, before: str = "", wait: str = "time.sleep(60)") -> subprocess.Popen[str]:
    script = textwrap.dedent(SERVICE).format(before=textwrap.dedent(before), wait=textwrap.dedent(wait))
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, STORAGE_ENV: store.url},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().split() == ["ready", "2"]  # both rows still buffered
    return process


def test_log_writer_given_sigterm_should_write_its_buffered_rows_and_exit_143(store: ArtifactStore) -> None:
    """Issue 15, defect 5: SIGTERM (how Docker, Kubernetes and systemd stop a service) killed the process without
    its exit hooks, losing every buffered row."""
    process = _service(store)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert sorted(stored["request_id"] for stored in all_rows(store)) == ["term-1", "term-2"]


def test_log_writer_given_the_service_handles_sigterm_itself_should_leave_its_handler_and_flush_at_its_exit(
    store: ArtifactStore,
) -> None:
    before = """
    stopping = threading.Event()
    def graceful(signum, frame):
        print("service handler ran", flush=True)
        stopping.set()
    signal.signal(signal.SIGTERM, graceful)
    """
    wait = """
    stopping.wait(60)
    print("drained", flush=True)
    """
    process = _service(store, before=before, wait=wait)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stdout.split("\n")[:2] == ["service handler ran", "drained"]  # its own shutdown, in its own order
    assert sorted(stored["request_id"] for stored in all_rows(store)) == ["term-1", "term-2"]


def test_log_writer_given_sigkill_should_lose_only_the_rows_logged_since_the_last_flush(store: ArtifactStore) -> None:
    """SIGKILL cannot be caught (the README says so): what was flushed stays, what was buffered is lost."""
    process = _service(store, wait="writer.flush(); writer.log({'request_id': 'lost', 'prediction': 1}); "
                                   "print('flushed', flush=True); time.sleep(60)")  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "flushed"
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert sorted(stored["request_id"] for stored in all_rows(store)) == ["term-1", "term-2"]

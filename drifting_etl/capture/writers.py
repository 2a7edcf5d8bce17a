"""The capture SDK: what a model service imports to log predictions and ground-truth labels.

This module owns turning rows handed over by a serving process into Parquet files in the store's
`logs/` and `labels/` partitions (layout paths come from `drifting_etl.store.artifacts`, never built here):

    LogWriter     prediction logs  -> logs/project=<name>/date=YYYY-MM-DD/hour=HH/<uuid>.parquet
    LabelWriter   late labels      -> labels/project=<name>/date=YYYY-MM-DD/<uuid>.parquet

Both share one private base, `_BufferedWriter`: an in-memory buffer guarded by a lock (request threads
log concurrently), flushed when it holds `max_rows` rows, when its oldest row is `max_interval` seconds
old (a daemon thread watches), on `flush()`/`close()`/`with`-exit, when the writer is garbage-collected
(like a file object), at interpreter exit and on SIGTERM (see `_stop_on_sigterm`). A flush writes one file per partition with the store's
atomic write; if storage fails the unwritten rows go back into the buffer and a later flush retries them,
so a storage outage loses nothing and never duplicates a partition that was already written.

`log()` never does storage I/O (size and time flushes run on the background thread), so a slow or
failing store does not add latency or errors to a prediction request. A row whose value types conflict
with what the writer has already accepted for that column is rejected by `log()` with a DataError, so
every file a writer produces has one schema and a bad row never blocks the good ones.

It must not read the store, know about project configurations, or compute anything: validation against
a project's declared features is the ETL's job.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import signal
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Self

import pyarrow as pa
import pyarrow.parquet as pq

from drifting_etl.core.errors import ConfigError, DataError, DriftingError, UsageError
from drifting_etl.core.names import check_project_name
from drifting_etl.store.artifacts import ArtifactStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LabelWriter", "LogWriter"]

logger = logging.getLogger(__name__)

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
MODEL_VERSION_COLUMN = "model_version"
LABEL_COLUMNS = ("request_id", "label", "labelled_at")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FAST_TYPES: dict[type, pa.DataType] = {
    bool: pa.bool_(),
    float: pa.float64(),
    str: pa.string(),
    bytes: pa.binary(),
}
_ARROW_CONVERSION_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)

# Writers still alive; the exit hook flushes them. A WeakSet, so holding a writer here never keeps it alive.
_OPEN_WRITERS: weakref.WeakSet[_BufferedWriter] = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()


class _BufferedWriter:
    """Buffering, flushing, the background timer and the exit hook shared by LogWriter and LabelWriter.

    A subclass turns its input into row dicts (`_append`) and says how a row's time maps to a partition
    directory (`_partition_key`, `_partition_dir`); everything else lives here.
    """

    _kind = "writer"

    def __init__(
        self,
        project: str,
        store: ArtifactStore | str | None,
        *,
        max_rows: int,
        max_interval: float,
        fixed_types: dict[str, pa.DataType],
        time_column: str,
    ) -> None:
        self._project = check_project_name(project)
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ConfigError(f"max_rows must be a positive integer, got {max_rows!r}", project=project)
        if not isinstance(max_interval, int | float) or not math.isfinite(max_interval) or max_interval <= 0:
            raise ConfigError(
                f"max_interval must be a positive number of seconds, got {max_interval!r}", project=project
            )
        if store is None:
            store = ArtifactStore.from_env()
        elif isinstance(store, str):
            store = ArtifactStore(store)
        self._store = store
        self._max_rows = max_rows
        self._max_interval = float(max_interval)
        # After a failed flush the background thread waits this long before trying again (no hammering).
        self._retry_delay = min(max(self._max_interval, 1.0), 60.0)
        self._fixed_types = dict(fixed_types)
        self._time_column = time_column

        self._lock = threading.Lock()  # guards the buffer and the fields below; never held during I/O
        self._flush_lock = threading.Lock()  # one flush at a time, so a flush() returns after earlier rows are out
        self._rows: list[dict[str, Any]] = []
        self._oldest_at: float | None = None  # monotonic time the oldest buffered row arrived
        self._in_flight = 0  # rows taken out of the buffer by the flush that is writing them
        self._retry_at = 0.0
        self._closed = False
        # Column -> Arrow type for the writer's lifetime: fixed columns first, then others as first seen.
        self._types: dict[str, pa.DataType] = dict(fixed_types)
        self._wake = threading.Event()
        self._timer: threading.Thread | None = None  # started on the first row, so constructing spawns nothing

        with _REGISTRY_LOCK:
            _OPEN_WRITERS.add(self)
            _register_exit_hooks()

    # ---------------------------------------------------------------- public
    @property
    def project(self) -> str:
        return self._project

    @property
    def store(self) -> ArtifactStore:
        return self._store

    @property
    def pending(self) -> int:
        """Rows logged and not yet written (including those a flush is writing right now)."""
        with self._lock:
            return len(self._rows) + self._in_flight

    @property
    def closed(self) -> bool:
        return self._closed

    def flush(self) -> int:
        """Write every buffered row now and return how many were written.

        Raises StorageError if the store cannot be written; the unwritten rows stay buffered and a later
        flush (explicit, background or at exit) retries them. Allowed after close(), to retry.
        """
        with self._flush_lock:
            try:
                return self._flush_buffer()
            finally:
                if self._closed:
                    with _REGISTRY_LOCK, self._lock:
                        if not self._rows:  # nothing left for the exit hook to do
                            _OPEN_WRITERS.discard(self)

    def close(self) -> None:
        """Flush and stop accepting rows. Idempotent. If the flush fails the rows stay buffered (see flush)."""
        with self._lock:
            self._closed = True
        self._wake.set()
        try:
            self.flush()
        finally:
            timer = self._timer
            if timer is not None and timer is not threading.current_thread():
                timer.join(timeout=5.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Like a file object: dropping an unclosed writer flushes it rather than losing its rows.
        rows = getattr(self, "_rows", None)
        wake = getattr(self, "_wake", None)
        if wake is not None:
            self._closed = True
            wake.set()
        if not rows:
            return
        if _EXIT_STATE["interpreter"]:
            return  # the exit hook already tried and reported what it could not write
        if sys.is_finalizing():
            # Storage clients (thread pools, event loops) are torn down now; a write could block shutdown forever.
            logger.error("%r is collected during interpreter shutdown; %d buffered rows are lost", self, len(rows))
            return
        try:
            self.close()
        except Exception:
            logger.exception("%r was garbage-collected unclosed and its buffered rows could not be written", self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(project={self._project!r}, store={self._store!r}, pending={len(self._rows)})"

    # ---------------------------------------------------------------- for subclasses
    def _partition_key(self, moment: datetime) -> Hashable:
        raise NotImplementedError

    def _partition_dir(self, key: Any) -> str:
        raise NotImplementedError

    def _to_utc(self, value: Any, column: str) -> datetime | None:
        """A row time as an aware UTC datetime; naive values are taken as UTC. None (or NaT) stays None."""
        if value is None or (isinstance(value, datetime) and value != value):  # NaT is the only datetime != itself
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError as exc:
                raise DataError(
                    f"{column!r} is not an ISO 8601 date-time: {value!r}",
                    project=self._project,
                    column=column,
                    hint="pass a datetime or an ISO 8601 string",
                ) from exc
        if isinstance(value, datetime) and hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime(warn=False)  # pandas.Timestamp: nanoseconds do not fit timestamp[us]
        if not isinstance(value, datetime):
            raise DataError(
                f"{column!r} must be a datetime, got {type(value).__name__}",
                project=self._project,
                column=column,
                hint="pass a datetime (naive values are taken as UTC) or an ISO 8601 string",
            )
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def _append(self, records: list[dict[str, Any]]) -> None:
        """Buffer normalised rows, all or none: a type conflict anywhere rejects the whole call."""
        typed = [
            [
                (column, _arrow_type(value, self._project, column))
                for column, value in record.items()
                if column not in self._fixed_types
            ]
            for record in records
        ]
        with self._lock:
            if self._closed:
                raise UsageError(
                    f"this {type(self).__name__} is closed and accepts no more rows",
                    project=self._project,
                    hint="log before close() or the end of the with-block, or create a new writer",
                )
            changed: dict[str, pa.DataType] = {}  # applied only if every row fits: all or none
            for pairs in typed:
                for column, arrow_type in pairs:
                    current = changed.get(column) or self._types.get(column)
                    if current is not arrow_type:  # the common case (same primitive type) costs one lookup
                        merged = self._unify(column, current, arrow_type)
                        if merged is not current:
                            changed[column] = merged
            if changed:
                self._types = {**self._types, **changed}
            was_empty = not self._rows
            self._rows.extend(records)
            if was_empty and records:
                self._oldest_at = time.monotonic()
            full = len(self._rows) >= self._max_rows
            if self._timer is None or not self._timer.is_alive():  # also restarts it in a forked child
                self._timer = threading.Thread(
                    target=_run_timer,
                    args=(weakref.ref(self), self._wake),
                    name=f"drifting-{self._kind}-writer-{self._project}",
                    daemon=True,
                )
                self._timer.start()
        if (was_empty and records) or full:
            self._wake.set()

    # ---------------------------------------------------------------- internals
    def _unify(self, column: str, old: pa.DataType | None, new: pa.DataType) -> pa.DataType:
        merged = _unify_types(old, new)
        if merged is None:
            raise DataError(
                f"column {column!r} gets a {new} value but earlier rows of this writer hold {old}",
                project=self._project,
                column=column,
                hint="send one type per column (ints and floats mix; None is always allowed); the row was not logged",
            )
        return merged

    def _flush_buffer(self) -> int:
        with self._lock:
            if not self._rows:
                return 0
            batch, self._rows = self._rows, []
            oldest, self._oldest_at = self._oldest_at, None
            types = dict(self._types)
            self._in_flight = len(batch)
        try:
            written = self._write_batch(batch, oldest, types)
        finally:
            with self._lock:
                self._in_flight = 0
        self._retry_at = 0.0
        return written

    def _write_batch(self, batch: list[dict[str, Any]], oldest: float | None, types: dict[str, pa.DataType]) -> int:
        try:
            table = self._encode(batch, types)
        except DataError:
            # Terminal: the same rows would fail again and block everything logged after them.
            logger.error("dropping %d rows of project %r that cannot be written as Parquet", len(batch), self._project)
            raise
        groups: dict[Hashable, list[int]] = {}
        for index, row in enumerate(batch):
            groups.setdefault(self._partition_key(row[self._time_column]), []).append(index)
        keys = sorted(groups)  # type: ignore[type-var]  # keys of one writer share a comparable type
        written = 0
        for position, key in enumerate(keys):
            indices = groups[key]
            part = table if len(keys) == 1 else table.take(pa.array(indices, type=pa.int64()))
            try:
                self._store.write_bytes(self._store.new_data_file(self._partition_dir(key)), _parquet_bytes(part))
            except BaseException:  # storage down (StorageError), or interrupted: the unwritten rows go back
                unwritten = [batch[i] for later in keys[position:] for i in groups[later]]
                self._requeue(unwritten, oldest)
                logger.warning(
                    "could not write %d rows of project %r; they stay buffered and will be retried",
                    len(unwritten),
                    self._project,
                )
                raise
            written += len(indices)
        return written

    def _requeue(self, rows: list[dict[str, Any]], oldest: float | None) -> None:
        with self._lock:
            self._rows[:0] = rows
            candidates = [moment for moment in (oldest, self._oldest_at) if moment is not None]
            self._oldest_at = min(candidates) if candidates else time.monotonic()
            self._retry_at = time.monotonic() + self._retry_delay

    def _encode(self, batch: list[dict[str, Any]], types: dict[str, pa.DataType]) -> pa.Table:
        arrays = {}
        for column, arrow_type in types.items():
            try:
                arrays[column] = pa.array([row.get(column) for row in batch], type=arrow_type)
            except _ARROW_CONVERSION_ERRORS as exc:
                raise DataError(
                    f"column {column!r} cannot be written as {arrow_type}: {exc}",
                    project=self._project,
                    column=column,
                    hint=f"the {len(batch)} rows of this flush were dropped; send values of one type per column",
                ) from exc
        return pa.table(arrays)

    def _background_tick(self) -> float | None:
        """Flush if due; return how long the timer thread may sleep, or None when it should stop."""
        if self._closed:
            return None
        now = time.monotonic()
        with self._lock:
            count, oldest = len(self._rows), self._oldest_at
        due = count > 0 and now >= self._retry_at
        due = due and (count >= self._max_rows or (oldest is not None and now - oldest >= self._max_interval))
        if due:
            try:
                self.flush()
            except DriftingError as exc:
                logger.warning("background flush of %r failed: %s", self, exc)
            except Exception:  # the timer thread must survive anything, or time-based flushing stops silently
                logger.exception("background flush of %r failed unexpectedly", self)
                with self._lock:
                    self._retry_at = time.monotonic() + self._retry_delay
        with self._lock:
            count, oldest = len(self._rows), self._oldest_at
        if count == 0 or oldest is None:
            return self._max_interval  # the first row wakes us anyway
        wake_at = self._retry_at if count >= self._max_rows else max(oldest + self._max_interval, self._retry_at)
        return max(wake_at - time.monotonic(), 0.01)


def _run_timer(ref: weakref.ref[_BufferedWriter], wake: threading.Event) -> None:
    """The background thread: holds the writer only weakly, so an unreferenced writer can be collected."""
    while True:
        wake.clear()
        writer = ref()
        if writer is None:
            return
        timeout = writer._background_tick()
        del writer
        if timeout is None:
            return
        wake.wait(timeout)


# Exit hooks. Two, because remote filesystems stop working before `atexit` runs: s3fs/aiohttp resolve
# hosts on the event loop's default ThreadPoolExecutor, and `concurrent.futures` refuses new work once the
# main thread has finished (its hook is registered with `threading._register_atexit`). So:
#   1. when the main thread ends (threading's pre-join hooks, run last-registered-first): flush every open
#      writer while the storage client still works; other non-daemon threads may still be logging, so the
#      writers stay open;
#   2. at `atexit`, after every non-daemon thread has ended: close them (writes what was logged since; a
#      local store still works then, a remote one may not, and the loss is logged).
_EXIT_STATE = {"registered": False, "interpreter": False, "sigterm_warned": False}


def _register_exit_hooks() -> None:
    """Called with _REGISTRY_LOCK held by every new writer."""
    if not _EXIT_STATE["registered"]:
        import concurrent.futures.thread  # noqa: F401  # import it now so its hook is older than ours and runs after

        register_before_join = getattr(threading, "_register_atexit", None)
        if register_before_join is not None:
            # RuntimeError: a writer created while the interpreter is already shutting down.
            with contextlib.suppress(RuntimeError):
                register_before_join(_flush_open_writers)
        _EXIT_STATE["registered"] = True
    # `atexit` runs handlers last-registered-first; re-registering keeps ours ahead of handlers that libraries
    # registered since (e.g. weakref.finalize closing the s3fs session).
    atexit.unregister(_close_open_writers)
    atexit.register(_close_open_writers)
    _stop_on_sigterm()


SIGTERM_EXIT_CODE = 128 + signal.SIGTERM
"""The exit status after SIGTERM when nothing else handles it: what a shell reports for a process it killed."""


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(SIGTERM_EXIT_CODE)


def _stop_on_sigterm() -> None:
    """Make SIGTERM (what Docker, Kubernetes and systemd send to stop a service) end the process the way the end of
    the program does, so the exit hooks above write every buffered row. Python's default for SIGTERM kills the
    process without running any exit hook.

    Only the default is replaced: a handler the application installed (before or after the first writer), or an
    ignored SIGTERM, is left as it is, and a graceful shutdown that ends in a normal exit runs the same hooks. The
    rows are never written inside the handler itself, which may interrupt a `log()` holding a writer's lock: raising
    SystemExit unwinds the main thread first. Only the main thread may install handlers; a writer first created in
    another thread leaves SIGTERM alone (and says so). SIGKILL cannot be caught: rows logged since the last flush
    are lost."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    if threading.current_thread() is not threading.main_thread():
        if _EXIT_STATE["sigterm_warned"]:
            return
        _EXIT_STATE["sigterm_warned"] = True
        logger.warning(
            "the first writer was created outside the main thread, so SIGTERM keeps Python's default: call "
            "close() in the service's shutdown, or create a writer at start-up in the main thread"
        )
        return
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _flush_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.flush()
        except Exception as exc:  # the atexit hook tries once more and reports the loss with a traceback
            logger.warning("when the main thread ended, %r could not write its buffered rows: %s", writer, exc)


def _close_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception:
            logger.exception("at exit, %r could not write its %d buffered rows; they are lost", writer, writer.pending)
    _EXIT_STATE["interpreter"] = True


class LogWriter(_BufferedWriter):
    """Buffers prediction log rows of one project and writes them to hourly partitions.

    Each row is a mapping with one key per feature plus `prediction` (and optionally `prediction_proba`
    and `label`). `request_id` (default: a new uuid4 hex), `timestamp` (default: now; naive values are
    UTC) and `model_version` (default: the writer's) are filled in. Rows are partitioned by the UTC hour
    of their timestamp. Constructing a writer does no I/O; see the module docstring for when it flushes.
    """

    _kind = "log"

    def __init__(
        self,
        project: str,
        store: ArtifactStore | str | None = None,
        *,
        model_version: str | None = None,
        max_rows: int = 10_000,
        max_interval: float = 60.0,
        timestamp_column: str = "timestamp",
        request_id_column: str = "request_id",
    ) -> None:
        names = [request_id_column, timestamp_column, MODEL_VERSION_COLUMN]
        if any(not isinstance(name, str) or not name for name in names) or len(set(names)) != len(names):
            raise ConfigError(
                f"request_id_column, timestamp_column and {MODEL_VERSION_COLUMN!r} must be distinct column names",
                project=project,
            )
        super().__init__(
            project,
            store,
            max_rows=max_rows,
            max_interval=max_interval,
            fixed_types={
                request_id_column: pa.string(),
                timestamp_column: TIMESTAMP_TYPE,
                MODEL_VERSION_COLUMN: pa.string(),
            },
            time_column=timestamp_column,
        )
        self._model_version = None if model_version is None else str(model_version)
        self._request_id_column = request_id_column
        self._timestamp_column = timestamp_column

    @property
    def model_version(self) -> str | None:
        return self._model_version

    def log(self, row: Mapping[str, Any]) -> str:
        """Buffer one row and return its request_id (keep it to send the label later)."""
        record = self._record(row)
        self._append([record])
        return str(record[self._request_id_column])

    def log_many(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Buffer several rows (all or none) and return their request_ids in order."""
        records = [self._record(row) for row in rows]
        self._append(records)
        return [str(record[self._request_id_column]) for record in records]

    def log_frame(self, frame: pd.DataFrame) -> list[str]:
        """Buffer a DataFrame's rows (all or none); missing values (None, NaN, NaT, NA) become nulls."""
        import pandas as pd  # only services that log frames pay for the import

        if not all(isinstance(column, str) for column in frame.columns):
            raise DataError("DataFrame column names must be strings", project=self._project)

        def missing(value: Any) -> bool:
            return (
                value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
            )

        rows = [
            {column: None if missing(value) else value for column, value in row.items()}
            for row in frame.to_dict(orient="records")
        ]
        return self.log_many(rows)

    def _record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(row, Mapping):
            raise DataError(
                f"a log row must be a mapping of column to value, got {type(row).__name__}", project=self._project
            )
        record: dict[str, Any] = {}
        for column, value in row.items():
            if not isinstance(column, str) or not column:
                raise DataError("log row keys must be non-empty strings", project=self._project, column=repr(column))
            record[column] = value
        request_id = record.get(self._request_id_column)
        record[self._request_id_column] = uuid.uuid4().hex if request_id is None else str(request_id)
        moment = self._to_utc(record.get(self._timestamp_column), self._timestamp_column)
        record[self._timestamp_column] = moment or datetime.now(UTC)
        version = record.get(MODEL_VERSION_COLUMN)
        record[MODEL_VERSION_COLUMN] = self._model_version if version is None else str(version)
        return record

    def _partition_key(self, moment: datetime) -> tuple[date, int]:
        return moment.date(), moment.hour

    def _partition_dir(self, key: tuple[date, int]) -> str:
        return self._store.log_partition_dir(self._project, key[0], key[1])


class LabelWriter(_BufferedWriter):
    """Buffers ground-truth labels of one project and writes them to daily partitions.

    A label row is (`request_id`, `label`, `labelled_at`), partitioned by the UTC date of `labelled_at`
    (default: now; naive values are UTC). The ETL joins labels to logs by `request_id`.
    """

    _kind = "label"

    def __init__(
        self,
        project: str,
        store: ArtifactStore | str | None = None,
        *,
        max_rows: int = 10_000,
        max_interval: float = 60.0,
    ) -> None:
        request_id, label, labelled_at = LABEL_COLUMNS
        super().__init__(
            project,
            store,
            max_rows=max_rows,
            max_interval=max_interval,
            fixed_types={request_id: pa.string(), labelled_at: TIMESTAMP_TYPE},
            time_column=labelled_at,
        )
        # The label's type is inferred, but its column stays between request_id and labelled_at.
        self._types = {request_id: pa.string(), label: pa.null(), labelled_at: TIMESTAMP_TYPE}

    def label(self, request_id: str, label: Any, labelled_at: datetime | None = None) -> None:
        """Buffer the label of one logged request."""
        self._append([self._record(request_id, label, labelled_at)])

    def label_many(
        self, labels: Mapping[str, Any] | Iterable[tuple[str, Any]], labelled_at: datetime | None = None
    ) -> None:
        """Buffer several labels (all or none), as {request_id: label} or (request_id, label) pairs."""
        pairs = labels.items() if isinstance(labels, Mapping) else labels
        moment = self._to_utc(labelled_at, "labelled_at") or datetime.now(UTC)
        records = []
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise DataError(f"label_many takes (request_id, label) pairs, got {pair!r}", project=self._project)
            records.append(self._record(pair[0], pair[1], moment))
        self._append(records)

    def _record(self, request_id: Any, label: Any, labelled_at: datetime | None) -> dict[str, Any]:
        if request_id is None or request_id == "":
            raise DataError("a label needs the request_id of the logged prediction", project=self._project)
        if label is None:
            raise DataError("a label must not be None", project=self._project, request_id=str(request_id))
        moment = self._to_utc(labelled_at, "labelled_at") or datetime.now(UTC)
        return {"request_id": str(request_id), "label": label, "labelled_at": moment}

    def _partition_key(self, moment: datetime) -> date:
        return moment.date()

    def _partition_dir(self, key: date) -> str:
        return self._store.label_partition_dir(self._project, key)


# ---------------------------------------------------------------- Arrow typing
def _arrow_type(value: Any, project: str, column: str) -> pa.DataType:
    """The Arrow type one Python value would be stored as (null for None)."""
    if value is None:
        return pa.null()
    if type(value) is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise DataError(f"integer {value} in column {column!r} does not fit int64", project=project, column=column)
        return pa.int64()
    fast = _FAST_TYPES.get(type(value))
    if fast is not None:
        return fast
    try:
        return pa.scalar(value).type
    except _ARROW_CONVERSION_ERRORS as exc:
        raise DataError(
            f"column {column!r} holds a {type(value).__name__} value that cannot be stored in Parquet",
            project=project,
            column=column,
            hint="send numbers, strings, booleans, datetimes or lists of them",
        ) from exc


def _unify_types(old: pa.DataType | None, new: pa.DataType) -> pa.DataType | None:
    """The type that holds values of both types, or None when they conflict (ints widen to floats)."""
    if old is None or pa.types.is_null(old):
        return new
    if pa.types.is_null(new) or old.equals(new):
        return old
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        return pa.int64()
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(check(old) for check in numeric) and any(check(new) for check in numeric):
        return pa.float64()
    if pa.types.is_list(old) and pa.types.is_list(new):
        item = _unify_types(old.value_type, new.value_type)
        return None if item is None else pa.list_(item)
    return None


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())

"""Extract: find a window's log partitions and stream their rows, with labels joined by request id.

Only partitions whose hour overlaps the window are listed (pruning on date= and hour=), only the project's
columns are read, and rows are filtered to [start, end) on their timestamp. Rows come a row group at a time (and
for profiling a column at a time), so memory is bounded by a row group's column, not by the window. Nothing here
computes metrics.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drifting_etl.core.columns import LABEL
from drifting_etl.core.config import ProjectConfig
from drifting_etl.core.errors import DataError, StorageError, root_cause
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelTable
from drifting_etl.extract.request_ids import RequestIds
from drifting_etl.profiles.columns import fixed_width_values, is_text, valid_mask
from drifting_etl.store.artifacts import ArtifactStore, StoredFile

BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Partition:
    """One hour partition of a project's logs."""

    hour: datetime
    files: tuple[StoredFile, ...]

    @property
    def size(self) -> int:
        return sum(stored.size for stored in self.files)

    def cut(self, window: Window) -> Window:
        """The part of the partition's hour inside `window`: its rows are those logged then, and their labels those
        the label rule (extract.labels) offers for it."""
        return Window(max(window.start, self.hour), min(window.end, self.hour + timedelta(hours=1)))


def window_partitions(store: ArtifactStore, project: str, window: Window) -> list[Partition]:
    """The hour partitions that can hold rows of the window, with their files (empty hours omitted)."""
    wanted = set(window.hours())
    by_hour: dict[datetime, list[StoredFile]] = {}
    for day in window.days():
        for hour_name, hour_dir in store.walk_partitions(f"{store.logs_dir(project)}/date={day.isoformat()}", "hour"):
            try:
                hour = datetime(day.year, day.month, day.day, int(hour_name), tzinfo=window.start.tzinfo)
            except ValueError:
                continue  # not a partition of ours (e.g. hour=tmp); never guess
            if hour in wanted:
                by_hour.setdefault(hour, []).extend(store.list_data_files(hour_dir))
    return [Partition(hour, tuple(files)) for hour, files in sorted(by_hour.items()) if files]


def log_columns(config: ProjectConfig, *, with_request_id: bool) -> list[str]:
    columns = [config.columns.timestamp, *config.features.all, config.columns.prediction]
    if with_request_id:
        columns.append(config.columns.request_id)
    return columns


def read_partition(
    store: ArtifactStore,
    config: ProjectConfig,
    window: Window,
    partition: Partition,
    labels: LabelTable | None,
    request_ids: RequestIds | None = None,
) -> Iterator[pa.RecordBatch]:
    """The partition's rows inside the window: project columns, plus `__label__` (joined or inline label). Rows
    repeating a request id are left out (extract.request_ids; `request_ids`: the ids of the partition's rows read
    before, when it is read in parts)."""
    seen = request_ids if request_ids is not None else RequestIds()
    for stored in partition.files:
        with _open_log(store, config, window, stored, labels) as (parquet, columns, reads):
            with_ids = config.columns.request_id in parquet.schema_arrow.names
            if with_ids and config.columns.request_id not in columns:
                columns = [*columns, config.columns.request_id]
            try:
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                    keep, label, _ = _window_rows(
                        batch, config, window, labels, reads.where, seen if with_ids else None
                    )
                    yield (batch if keep is None else batch.filter(keep)).append_column(LABEL, label)
            except DataError:
                raise
            except Exception as exc:
                raise reads.error(exc) from exc


def read_partition_row_groups(
    store: ArtifactStore,
    config: ProjectConfig,
    window: Window,
    partition: Partition,
    labels: LabelTable | None,
    request_ids: RequestIds | None = None,
) -> Iterator[RowGroupRows]:
    """The partition's rows inside the window, a row group at a time, each read one column at a time: memory holds
    one column chunk whatever the size of the files (a row group of a million rows decodes to hundreds of MB).

    Rows whose timestamp lies outside the partition's hour (or is null) belong to no window: each row group counts
    them (`RowGroupRows.outside_partition`) in the window holding the start of the hour, so they are counted once.
    Rows repeating a request id are left out and counted (`RowGroupRows.duplicates`; see `read_partition`)."""
    hour = Window(partition.hour, partition.hour + timedelta(hours=1))
    seen = request_ids if request_ids is not None else RequestIds()
    counts_outside = window.start <= partition.hour < window.end
    for stored in partition.files:  # categories are counted by dictionary code, without hashing strings
        with _open_log(store, config, window, stored, labels, config.features.categorical) as (parquet, columns, reads):
            with_ids = config.columns.request_id in parquet.schema_arrow.names
            keys = [config.columns.timestamp, *([config.columns.request_id] if with_ids else [])]
            keys += [name for name in (config.columns.label,) if name in columns]
            for index in range(parquet.metadata.num_row_groups):
                try:
                    table = parquet.read_row_group(index, columns=keys, use_threads=False)
                except Exception as exc:
                    raise reads.error(exc) from exc
                keep, label, duplicates = _window_rows(
                    table, config, window, labels, reads.where, seen if with_ids else None
                )
                rows = RowGroupRows(parquet, index, columns, keep, label, reads, file_bytes=stored.size)
                rows.duplicates = duplicates
                if counts_outside:
                    inside = _inside(table.column(config.columns.timestamp), hour)
                    rows.outside_partition = 0 if inside is None else len(inside) - inside.true_count
                yield rows


class RowGroupRows:
    """The rows of one Parquet row group that lie inside the window, read on demand one column at a time.

    Offers what summaries use of a record batch: `num_rows`, `column_names` and `column(name)`."""

    def __init__(
        self,
        parquet: pq.ParquetFile,
        index: int,
        columns: list[str],
        keep: pa.Array | None,
        label: pa.Array,
        reads: StorageReads,
        *,
        file_bytes: int,
    ) -> None:
        self._parquet, self._index, self._keep, self._label, self._reads = parquet, index, keep, label, reads
        self.column_names = [*columns, LABEL]
        self.num_rows = len(label)
        self.file_rows: int = parquet.metadata.num_rows
        """Rows in the whole file (all row groups, inside the window or not)."""
        self.file_bytes = file_bytes
        self.outside_partition = 0
        """Rows of the row group whose timestamp lies outside the partition's hour, or is null (read into no window)."""
        self.duplicates = 0
        """Rows of the row group inside the window whose request id an earlier row of the partition has (left out)."""
        self._last: tuple[str, pa.ChunkedArray] | None = None
        """The column read last: the prediction is profiled, then scored."""

    def column(self, name: str) -> pa.Array | pa.ChunkedArray:
        if name == LABEL:
            return self._label
        if name not in self.column_names:
            raise KeyError(name)
        if self._last is not None and self._last[0] == name:
            return self._last[1]
        try:
            column = self._parquet.read_row_group(self._index, columns=[name], use_threads=False).column(0)
        except Exception as exc:
            raise self._reads.error(exc) from exc
        self._last = (name, column if self._keep is None else column.filter(self._keep))
        return self._last[1]


class StorageReads:
    """A log file's handle from the store, which remembers the error a read of it raised.

    pyarrow reads the file through it, so an error can be told apart by where it arose: one raised while bytes were
    fetched (a dropped connection, a timeout, a 5xx, throttling) is a StorageError, which a retry may fix; one raised
    about bytes that did arrive is bad data (a DataError): the file must be moved or deleted."""

    def __init__(self, handle: Any, where: dict[str, str]) -> None:
        self._handle, self.where = handle, where
        self.failure: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._handle.read(size)
        except Exception as exc:
            self.failure = exc
            raise

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._handle.seek(offset, whence)
        except Exception as exc:
            self.failure = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def error(self, exc: Exception) -> DataError | StorageError:
        """What `exc`, raised while the file was read or parsed, means."""
        if self.failure is not None:
            return StorageError(
                f"could not read log file: {root_cause(self.failure)}",
                hint="the store failed while the file was read, not the file: a retry may succeed "
                "(DRIFTING_STORAGE_ATTEMPTS; Airflow retries the task)",
                **self.where,
            )
        return DataError(f"unreadable Parquet data: {exc}", hint="move or delete the file, then re-run", **self.where)


@contextmanager
def _open_log(
    store: ArtifactStore,
    config: ProjectConfig,
    window: Window,
    stored: StoredFile,
    labels: LabelTable | None,
    dictionary_columns: Sequence[str] | None = None,
) -> Iterator[tuple[pq.ParquetFile, list[str], StorageReads]]:
    """An open log file, checked to have the project's columns; yields it, the columns to read, and its reads (which
    tell a storage fault from bad data). String columns in `dictionary_columns` are read as Parquet stores them:
    codes into a dictionary."""
    where = {"project": config.name, "window": str(window), "path": store.display(stored.path)}
    try:
        handle = store.fs.open(stored.path, "rb")
    except Exception as exc:
        raise StorageError(f"could not open log file: {root_cause(exc)}", **where) from exc
    with handle:
        reads = StorageReads(handle, where)
        try:
            parquet = pq.ParquetFile(reads, read_dictionary=dictionary_columns)
        except Exception as exc:
            if dictionary_columns and reads.failure is None:  # pyarrow cannot read a nested column as a dictionary
                _check_types(config, _schema(reads), where)
            raise reads.error(exc) from exc
        present = set(parquet.schema_arrow.names)
        required = log_columns(config, with_request_id=labels is not None)
        missing = [name for name in required if name not in present]
        if missing:
            keys = _config_keys(config)
            lacking = ", ".join(f"{name!r} ({keys.get(name, 'features')})" for name in missing)
            raise DataError(
                f"log file lacks column(s) {lacking}; it has {', '.join(parquet.schema_arrow.names) or 'no columns'}",
                hint="log the column(s), or set the key(s) named above in the project configuration to the service's "
                "column names",
                **where,
            )
        _check_types(config, parquet.schema_arrow, where)
        optional = [
            name for name in (config.columns.prediction_proba, config.columns.label) if name and name in present
        ]
        yield parquet, [*required, *optional], reads


def _check_types(config: ProjectConfig, schema: pa.Schema, where: dict[str, str]) -> None:
    """Raise a DataError naming the monitored columns (and an inline label) whose logged type cannot hold their
    values. Types may drift from file to file, and these are read: numbers as int in one file and float in another
    (all are used as float64), numbers as text (parsed and counted: profiles.parse_numbers), categories as int in one
    file and text in another (compared as text: profiles.category_key), a column of nulls (missing). These are not:
    a number logged as a date, a timestamp or bytes, and any column logged as a list, a map or a struct."""
    kinds = config.monitored_columns()
    keys = _config_keys(config)
    if config.columns.label:
        kinds[config.columns.label] = "numerical" if config.task == "regression" else "categorical"
        keys[config.columns.label] = "columns.label"
    wrong: list[str] = []
    numbers = True
    for name, kind in kinds.items():
        index = schema.get_field_index(name)
        if index < 0:
            continue
        logged = schema.field(index).type
        value = logged.value_type if pa.types.is_dictionary(logged) else logged
        if pa.types.is_nested(value) or (kind == "numerical" and not _holds_numbers(value)):
            wrong.append(f"{name!r} ({keys[name]}) has type {logged}")
            numbers = numbers and kind == "numerical"
    if wrong:
        expected = "a number (or a number as text)" if numbers else "one value (a number or a category)"
        raise DataError(
            f"log file column(s) {', '.join(wrong)}: expected {expected} per row",
            hint="log the column(s) with the type the project declares, or move the file out of its hour folder, "
            "then re-run",
            **where,
        )


def _schema(reads: StorageReads) -> pa.Schema:
    """The file's Arrow schema, read without dictionaries (an empty one when even that fails)."""
    try:
        return pq.ParquetFile(reads).schema_arrow
    except Exception:
        return pa.schema([])


def _holds_numbers(data_type: pa.DataType) -> bool:
    """Whether a log column of this type holds numbers: numbers, booleans, decimals, nulls, or text (parsed)."""
    checks = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal, pa.types.is_null)
    return is_text(data_type) or any(check(data_type) for check in checks)


def _inside(timestamps: pa.Array | pa.ChunkedArray, window: Window) -> pa.BooleanArray | None:
    """Which timestamps lie in the window (None: all of them). Compared as the int64 UTC instants Arrow stores (naive
    timestamps are UTC by contract; zoned ones are stored in UTC), with numpy: building an Arrow scalar for the
    bounds would import pandas, a fifth of a second of every run."""
    if isinstance(timestamps, pa.ChunkedArray):
        timestamps = timestamps.combine_chunks()
    unit = timestamps.type.unit
    instants = fixed_width_values(timestamps, np.int64)
    bounds = [
        calendar.timegm(edge.utctimetuple()) * 1_000_000 + edge.microsecond for edge in (window.start, window.end)
    ]
    if unit == "ns":
        start, end = (bound * 1000 for bound in bounds)
    else:
        instants = instants * {"s": 1_000_000, "ms": 1000, "us": 1}[unit]
        start, end = bounds
    inside = (instants >= start) & (instants < end)
    if timestamps.null_count:
        inside &= valid_mask(timestamps)
    if inside.all():
        return None
    bits = pa.py_buffer(np.packbits(inside, bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.bool_(), len(inside), [None, bits])


def _config_keys(config: ProjectConfig) -> dict[str, str]:
    """Which configuration key names each column a log file must have."""
    keys = {name: "features.numerical" for name in config.features.numerical}
    keys.update({name: "features.categorical" for name in config.features.categorical})
    for key in ("request_id", "prediction", "timestamp"):
        keys[getattr(config.columns, key)] = f"columns.{key}"
    return keys


def _window_rows(
    rows: pa.RecordBatch | pa.Table,
    config: ProjectConfig,
    window: Window,
    labels: LabelTable | None,
    where: dict[str, str],
    request_ids: RequestIds | None = None,
) -> tuple[pa.Array | None, pa.Array, int]:
    """Which rows are used (None: all of them): those inside the window, less those repeating a request id (with
    `request_ids`); the ground truth of those rows; and how many rows inside the window repeated an id."""
    timestamps = rows.column(config.columns.timestamp)
    if not pa.types.is_timestamp(timestamps.type):
        raise DataError(
            f"column {config.columns.timestamp!r} has type {timestamps.type}, expected a timestamp", **where
        )
    keep = _inside(timestamps, window)
    duplicates = 0
    if request_ids is not None:
        ids = rows.column(config.columns.request_id)
        first = request_ids.first(ids if keep is None else ids.filter(keep))
        if first is not None:
            duplicates = int(len(first) - first.sum())
            used = np.ones(len(ids), bool) if keep is None else keep.to_numpy(zero_copy_only=False)
            used[np.flatnonzero(used)[~first]] = False
            keep = pa.array(used)
    inline = rows.column(config.columns.label) if config.columns.label in rows.column_names else None
    if inline is not None and keep is not None:
        inline = inline.filter(keep)
    label = inline
    if labels is not None and labels.size:
        request_ids_column = rows.column(config.columns.request_id)
        joined = labels.lookup(request_ids_column if keep is None else request_ids_column.filter(keep))
        label = joined if inline is None else pc.coalesce(joined, pc.cast(inline, joined.type, safe=False))
    if label is None:
        label = pa.nulls(len(timestamps) if keep is None else keep.true_count)
    if isinstance(label, pa.ChunkedArray):
        label = label.combine_chunks()
    return keep, label, duplicates

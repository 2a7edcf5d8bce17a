"""Extract: find a window's log partitions and stream their rows, with labels joined by request id.

Only partitions whose hour overlaps the window are listed (pruning on date= and hour=), only the project's
columns are read, and rows are filtered to [start, end) on their timestamp. Batches are yielded one at a time,
so memory is bounded by a batch, not by the window. Nothing here computes metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drifting_etl.config import ProjectConfig
from drifting_etl.errors import DataError, StorageError
from drifting_etl.storage import ArtifactStore, StoredFile
from drifting_etl.window import Window

BATCH_ROWS = 65_536
LABEL = "__label__"
"""Name of the ground-truth column in extracted batches: the joined label, else the label logged inline."""


@dataclass(frozen=True)
class Partition:
    """One hour partition of a project's logs."""

    hour: datetime
    files: tuple[StoredFile, ...]

    @property
    def size(self) -> int:
        return sum(stored.size for stored in self.files)


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
) -> Iterator[pa.RecordBatch]:
    """The partition's rows inside the window: project columns, plus `__label__` (joined or inline label)."""
    for stored in partition.files:
        yield from _read_file(store, config, window, stored, labels)


def _read_file(
    store: ArtifactStore, config: ProjectConfig, window: Window, stored: StoredFile, labels: LabelTable | None
) -> Iterator[pa.RecordBatch]:
    where = {"project": config.name, "window": str(window), "path": store.display(stored.path)}
    try:
        handle = store.fs.open(stored.path, "rb")
    except Exception as exc:
        raise StorageError("could not open log file", **where) from exc
    with handle:
        try:
            parquet = pq.ParquetFile(handle)
        except Exception as exc:
            raise DataError(
                f"unreadable Parquet file: {exc}", hint="move or delete the file, then re-run", **where
            ) from exc
        present = set(parquet.schema_arrow.names)
        required = log_columns(config, with_request_id=labels is not None)
        missing = [name for name in required if name not in present]
        if missing:
            raise DataError(
                f"log file lacks column(s) {', '.join(missing)}",
                hint="the service must log every column the project configuration declares (see columns: and features:)",
                **where,
            )
        optional = [
            name for name in (config.columns.prediction_proba, config.columns.label) if name and name in present
        ]
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[*required, *optional]):
                yield _prepare(batch, config, window, labels, where)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"unreadable Parquet data: {exc}", hint="move or delete the file, then re-run", **where
            ) from exc


def _prepare(
    batch: pa.RecordBatch, config: ProjectConfig, window: Window, labels: LabelTable | None, where: dict[str, str]
) -> pa.RecordBatch:
    timestamps = batch.column(config.columns.timestamp)
    if not pa.types.is_timestamp(timestamps.type):
        raise DataError(
            f"column {config.columns.timestamp!r} has type {timestamps.type}, expected a timestamp", **where
        )
    if timestamps.type.tz is None:  # naive timestamps are UTC by contract
        timestamps = pc.assume_timezone(timestamps, "UTC")
    elif timestamps.type.tz != "UTC":  # same instants, compared in UTC
        timestamps = timestamps.cast(pa.timestamp(timestamps.type.unit, tz="UTC"))
    start = pa.scalar(window.start, type=pa.timestamp("us", tz="UTC"))
    end = pa.scalar(window.end, type=pa.timestamp("us", tz="UTC"))
    keep = pc.and_(pc.greater_equal(timestamps, start), pc.less(timestamps, end))
    batch = batch.filter(pc.fill_null(keep, False))
    inline = batch.column(config.columns.label) if config.columns.label in batch.schema.names else None
    label = inline
    if labels is not None and labels.size:
        joined = labels.lookup(batch.column(config.columns.request_id))
        label = joined if inline is None else pc.coalesce(joined, pc.cast(inline, joined.type, safe=False))
    if label is None:
        label = pa.nulls(batch.num_rows)
    return batch.append_column(LABEL, label)


@dataclass(frozen=True)
class LabelTable:
    """Ground truth that arrived in labels/: the latest label per request id."""

    request_ids: pa.Array
    labels: pa.Array

    @property
    def size(self) -> int:
        return len(self.request_ids)

    def lookup(self, request_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        positions = pc.index_in(pc.cast(request_ids, pa.string()), value_set=self.request_ids)
        return pc.take(self.labels, positions)


def load_labels(store: ArtifactStore, config: ProjectConfig, window: Window) -> LabelTable | None:
    """Labels that may belong to the window's rows: label partitions from its first day to `labels.max_delay` after it.

    Returns None when the project has no label partitions at all (then labels are only taken from the logs).
    """
    first: date = window.start.date()
    last: date = (window.end + config.labels.max_delay).date()
    tables = []
    for day_name, day_dir in store.walk_partitions(store.labels_dir(config.name), "date"):
        try:
            day = date.fromisoformat(day_name)
        except ValueError:
            continue
        if not first <= day <= last:
            continue
        for stored in store.list_data_files(day_dir):
            where = {"project": config.name, "window": str(window), "path": store.display(stored.path)}
            try:
                with store.fs.open(stored.path, "rb") as handle:
                    table = pq.read_table(handle, columns=["request_id", "label", "labelled_at"])
            except (pa.ArrowInvalid, KeyError, OSError) as exc:
                raise DataError(
                    f"unreadable label file: {exc}", hint="label files need request_id, label, labelled_at", **where
                ) from exc
            tables.append(
                table.cast(
                    pa.schema(
                        [
                            ("request_id", pa.string()),
                            ("label", table.schema.field("label").type),
                            ("labelled_at", pa.timestamp("us", tz="UTC")),
                        ]
                    )
                )
            )
    if not tables and not store.list_dirs(store.labels_dir(config.name)):
        return None
    if not tables:
        return LabelTable(pa.array([], pa.string()), pa.array([], pa.null()))
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"label files disagree on the label's type: {exc}", project=config.name, window=str(window)
        ) from exc
    # the latest label per request id wins (a correction overrides an earlier label)
    latest = (
        table.sort_by([("labelled_at", "ascending")])
        .group_by("request_id", use_threads=False)
        .aggregate([("label", "last")])
    )
    return LabelTable(latest.column("request_id").combine_chunks(), latest.column("label_last").combine_chunks())

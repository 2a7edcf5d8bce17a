"""Late ground truth: the label partitions of a project, which of them can hold a window's labels, and the latest label
per request id. Reads the store; computes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drifting_etl.core.config import ProjectConfig
from drifting_etl.core.errors import DataError
from drifting_etl.core.window import Window
from drifting_etl.store.artifacts import ArtifactStore, StoredFile


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


def label_days(store: ArtifactStore, config: ProjectConfig) -> dict[date, str] | None:
    """The project's label partitions (date -> directory); None when it has none at all (labels come from the logs)."""
    directory = store.labels_dir(config.name)
    days: dict[date, str] = {}
    for day_name, day_dir in store.walk_partitions(directory, "date"):
        try:
            days[date.fromisoformat(day_name)] = day_dir
        except ValueError:
            continue
    if not days and not store.list_dirs(directory):
        return None
    return days


def label_range(config: ProjectConfig, start: datetime, end: datetime) -> tuple[date, date]:
    """The label partitions that can hold ground truth for rows logged in [start, end): up to `labels.max_delay` on."""
    return start.date(), (end + config.labels.max_delay).date()


def load_labels(store: ArtifactStore, config: ProjectConfig, window: Window) -> LabelTable | None:
    """Labels that may belong to the window's rows (see `label_range`); None when the project has no label partitions."""
    days = label_days(store, config)
    if days is None:
        return None
    first, last = label_range(config, window.start, window.end)
    files = [
        stored for day, path in sorted(days.items()) if first <= day <= last for stored in store.list_data_files(path)
    ]
    return read_labels(store, config, files, window)


def read_labels(store: ArtifactStore, config: ProjectConfig, files: Sequence[StoredFile], window: Window) -> LabelTable:
    """The latest label per request id in the given label files."""
    tables = []
    for stored in files:
        where = {"project": config.name, "window": str(window), "path": store.display(stored.path)}
        try:
            with store.fs.open(stored.path, "rb") as handle:
                table = pq.ParquetFile(handle).read(columns=["request_id", "label", "labelled_at"])
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

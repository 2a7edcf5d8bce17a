"""Late ground truth: the label partitions of a project, the one rule saying which of them can hold a row's label,
and the latest label per request id. Reads the store; computes no metric.

The rule (the stored metrics, the report and the retraining input all follow it, through `LabelIndex`): a label
belongs to a row when its label partition's date lies between the date of the row's hour and the date
`labels.max_delay` after the end of that hour; among those, the latest label of the request wins. Readers apply it
per hour partition (`LabelIndex.files_for(partition.cut(window))`), never over a whole window at once, so a label
that arrived too late for one hour is not picked up because a later hour shares the window.
"""

from __future__ import annotations

import threading
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


def label_range(config: ProjectConfig, start: datetime, end: datetime) -> tuple[date, date]:
    """The dates of the label partitions that can hold ground truth for rows logged in [start, end): from the start's
    date to the date `labels.max_delay` after the end. Called with one hour partition's part of a window."""
    return start.date(), (end + config.labels.max_delay).date()


class LabelIndex:
    """A project's label partitions, listed once: which label files can hold truth for rows logged in [start, end),
    and the label table they make.

    The day directories are listed when the index is built; each day's files the first time a range needs them
    (then kept), so planning a month of hours lists every label day at most once. Tables are read through a
    `LabelTables` that keeps the last two (hours are read in order, and neighbouring hours share their files).
    Safe to share between threads."""

    def __init__(self, store: ArtifactStore, config: ProjectConfig, days: dict[date, str] | None) -> None:
        self._store, self._config, self._days = store, config, days
        self._files: dict[date, tuple[StoredFile, ...]] = {}
        self._lock = threading.Lock()
        self._tables = LabelTables(store, config, keep=2)

    @classmethod
    def listed(cls, store: ArtifactStore, config: ProjectConfig) -> LabelIndex:
        """List the project's label days (one listing of labels/project=<name>/)."""
        directory = store.labels_dir(config.name)
        days: dict[date, str] = {}
        for day_name, day_dir in store.walk_partitions(directory, "date"):
            try:
                days[date.fromisoformat(day_name)] = day_dir
            except ValueError:
                continue  # not a partition of ours; never guess
        has_labels = bool(days) or bool(store.list_dirs(directory))
        return cls(store, config, days if has_labels else None)

    def files_for(self, cut: Window) -> tuple[StoredFile, ...] | None:
        """The label files that can hold ground truth for rows logged in `cut` (see `label_range`), in date order;
        None when the project has no label partitions at all (its labels, if any, are logged inline)."""
        if self._days is None:
            return None
        first, last = label_range(self._config, cut.start, cut.end)
        found: list[StoredFile] = []
        for day, directory in sorted(self._days.items()):
            if first <= day <= last:
                with self._lock:
                    if day not in self._files:
                        self._files[day] = tuple(self._store.list_data_files(directory))
                found.extend(self._files[day])
        return tuple(found)

    def table_for(self, cut: Window) -> LabelTable | None:
        """The latest label per request id among `files_for(cut)`; None when the project has no label partitions."""
        return self._tables.get(self.files_for(cut), cut)


class LabelTables:
    """Label tables read once per distinct set of label files, shared by the partitions (and threads) needing them.

    `keep` bounds how many tables stay in memory (the most recently read), for readers that go through a long
    window's hours in order; None keeps every table."""

    def __init__(self, store: ArtifactStore, config: ProjectConfig, *, keep: int | None = None) -> None:
        self._store, self._config, self._keep = store, config, keep
        self._tables: dict[tuple[StoredFile, ...], LabelTable] = {}
        self._lock = threading.Lock()

    def get(self, files: tuple[StoredFile, ...] | None, cut: Window) -> LabelTable | None:
        """The latest label per request id in `files`; None when there are no label partitions (`files` is None).
        `cut` names the rows' window in error messages."""
        if files is None:
            return None
        with self._lock:  # label tables are read one at a time; each set of files once
            if files not in self._tables:
                if self._keep is not None:
                    while len(self._tables) >= max(self._keep, 1):
                        del self._tables[next(iter(self._tables))]
                self._tables[files] = read_labels(self._store, self._config, files, cut)
            return self._tables[files]


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

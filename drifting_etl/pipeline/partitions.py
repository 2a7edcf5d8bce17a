"""Partition profiles: each hour partition of a window is summarised once, cached in the store, then merged.

A partition's summary is stored at `profiles/project=<name>/date=<day>/hour=<hh>/<key>.profile` (see
summary_codec). The key hashes everything the summary depends on: the partition's log files (path, size,
version), the label files that can hold its ground truth, the reference version, the configuration that shapes a
summary, and where the window cuts the hour. So a later window over the same hours (a re-run, a backfill, a daily
window after hourly ones) merges cached summaries instead of reading logs, while a partition whose files changed
(late data, new labels) gets a new key and is read again. The cache can be deleted at any time.

    plan_window ─▶ profile_partitions (threads here; one Airflow task per group of partitions) ─▶ merge_profiles
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from drifting_etl.core.errors import DataError, NotFoundError
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelTable, label_days, label_range, read_labels
from drifting_etl.extract.logs import Partition, read_partition_row_groups, window_partitions
from drifting_etl.profiles import columns as profiles
from drifting_etl.profiles.codec import (
    FORMAT,
    PREFIX_BYTES,
    StoredValues,
    attach_values,
    decode_summary,
    encode_summary,
    profile_end,
)
from drifting_etl.profiles.columns import NumericalProfile
from drifting_etl.profiles.performance import EXACT_PAIRS_LIMIT, ClassificationSummary
from drifting_etl.profiles.summary import WindowSummary, positive_label, summarize
from drifting_etl.store.artifacts import ArtifactStore, StoredFile
from drifting_etl.store.projects import Project

logger = logging.getLogger(__name__)

WORKERS = max(1, int(os.environ.get("DRIFTING_WORKERS") or os.cpu_count() or 1))
"""Partitions profiled at once in one process. Reading Parquet and numpy's sorting release the GIL, so threads use
every core; memory grows by one column of a row group (and a scratch copy of it) per worker."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PlannedPartition:
    """One hour partition of a window, and where its summary is (or will be) cached."""

    partition: Partition
    cut: Window
    """The part of the hour inside the window."""
    label_files: tuple[StoredFile, ...] | None
    """The label files that can hold ground truth for its rows; None when the project has no label partitions."""
    path: str
    window_bytes: int
    """Log bytes of the whole window: with a file's rows per byte, an estimate of the window's rows."""


def plan_window(
    store: ArtifactStore,
    project: Project,
    window: Window,
    partitions: Iterable[Partition],
    *,
    window_bytes: int | None = None,
) -> list[PlannedPartition]:
    """Cache paths for the window's partitions (lists the label partitions once, and each label day it needs once).
    `window_bytes`: the log bytes of the whole window, when `partitions` are only some of its partitions."""
    config = project.config
    days = label_days(store, config)
    listed: dict[date, tuple[StoredFile, ...]] = {}

    def files_between(first: date, last: date) -> tuple[StoredFile, ...]:
        assert days is not None
        found: list[StoredFile] = []
        for day, directory in sorted(days.items()):
            if first <= day <= last:
                if day not in listed:
                    listed[day] = tuple(store.list_data_files(directory))
                found.extend(listed[day])
        return tuple(found)

    partitions = list(partitions)
    if window_bytes is None:
        window_bytes = sum(partition.size for partition in partitions)
    planned = []
    for partition in partitions:
        cut = Window(max(window.start, partition.hour), min(window.end, partition.hour + timedelta(hours=1)))
        labels = None if days is None else files_between(*label_range(config, cut.start, cut.end))
        key = partition_key(project, cut, partition.files, labels)
        path = store.partition_profile_path(config.name, partition.hour, key)
        planned.append(PlannedPartition(partition, cut, labels, path, window_bytes))
    return planned


def partition_key(
    project: Project, cut: Window, files: Iterable[StoredFile], label_files: Iterable[StoredFile] | None
) -> str:
    config = project.config
    shaping = {
        "format": FORMAT,
        "reference": project.reference.version,
        "task": config.task,
        "features": config.features.model_dump(mode="json"),
        "columns": config.columns.model_dump(mode="json"),
        "positive_label": positive_label(config, project.reference),
        "cut": [cut.start.isoformat(), cut.end.isoformat()],
        "labels": None if label_files is None else [[f.path, f.size, f.version] for f in label_files],
        "logs": [[f.path, f.size, f.version] for f in files],
    }
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]


class LabelTables:
    """Label tables read once per distinct set of label files and shared by the partitions (and threads) needing them."""

    def __init__(self, store: ArtifactStore, project: Project) -> None:
        self._store, self._project = store, project
        self._tables: dict[tuple[StoredFile, ...], LabelTable] = {}
        self._lock = threading.Lock()

    def get(self, planned: PlannedPartition) -> LabelTable | None:
        if planned.label_files is None:
            return None
        with self._lock:  # label tables are read one at a time; each set of files once
            if planned.label_files not in self._tables:
                self._tables[planned.label_files] = read_labels(
                    self._store, self._project.config, planned.label_files, planned.cut
                )
            return self._tables[planned.label_files]


def summarize_partition(
    store: ArtifactStore,
    project: Project,
    planned: PlannedPartition,
    labels: LabelTable | None,
    *,
    keep_values: bool | None = None,
) -> WindowSummary:
    """The summary of one partition's rows inside the window, streamed a row group and a column at a time.

    Raw values are kept for exact results unless the window is clearly too large to be exact (estimated from each
    file's rows per byte; `keep_values` overrides). A smaller window that needs them later reads the hour again."""
    config, reference = project.config, project.reference
    positive = positive_label(config, reference)
    summary = WindowSummary.empty(config, reference)
    whole_hour = planned.cut.end - planned.cut.start == timedelta(hours=1)
    for rows in read_partition_row_groups(store, config, planned.cut, planned.partition, labels):
        if rows.num_rows:
            keep = keep_values
            if keep is None:
                window_rows = rows.file_rows * planned.window_bytes / max(rows.file_bytes, 1)
                keep = not whole_hour or window_rows <= 2 * profiles.EXACT_VALUES_LIMIT
            summary = summary.merge(summarize(rows, config, reference, positive, keep_values=keep))
    return summary


def profile_partitions(
    store: ArtifactStore,
    project: Project,
    planned: list[PlannedPartition],
    *,
    rescan: bool = False,
    keep_values: bool | None = None,
    on_partition: Callable[[Partition], None] | None = None,
    workers: int = WORKERS,
) -> Profiled:
    """Make sure every planned partition has a cached summary (reading only those without one, or all with `rescan`)."""
    labels = LabelTables(store, project)

    def profile(item: PlannedPartition) -> bool:
        if not rescan and store.exists(item.path):
            return True
        summary = summarize_partition(store, project, item, labels.get(item), keep_values=keep_values)
        store.write_bytes(item.path, encode_summary(summary), durable=False)
        return False

    reused = 0
    for item, cached in zip(planned, ordered_map(profile, planned, workers), strict=True):
        reused += cached
        if on_partition is not None:
            on_partition(item.partition)
    return Profiled([item.path for item in planned], reused)


@dataclass(frozen=True)
class Profiled:
    paths: list[str]
    """The partitions' summaries, in partition order."""
    reused: int
    """How many of them were already cached."""


def merge_profiles(store: ArtifactStore, project: Project, window: Window, paths: list[str]) -> WindowSummary:
    """The window's summary from its partitions' cached summaries.

    Profiles are read first; raw values only for the columns whose window total is small enough to be computed
    exactly (see `profiles.EXACT_VALUES_LIMIT`), so a large window never reads them."""
    parts: list[tuple[str, WindowSummary, StoredValues]] = []
    unusable: dict[str, Exception] = {}
    for path in paths:
        try:
            profile = store.read_bytes(path, profile_end(store.read_bytes(path, PREFIX_BYTES)))
            summary, stored = decode_summary(profile, project.reference)
        except UNUSABLE as exc:
            unusable[path] = exc
            continue
        parts.append((path, summary, stored))
    if unusable:
        raise SummariesUnusable(unusable)
    totals: dict[str, int] = {}
    proba_rows = 0
    for _, summary, _ in parts:
        for name, column in summary.profile.columns.items():
            totals[name] = totals.get(name, 0) + column.count
        if isinstance(summary.performance, ClassificationSummary):
            proba_rows += summary.performance.proba_rows
    exact = {name for name, total in totals.items() if total <= profiles.EXACT_VALUES_LIMIT}
    lacking = {
        path: True
        for path, summary, stored in parts
        for name, column in summary.profile.columns.items()
        if isinstance(column, NumericalProfile) and name in exact and column.count and name not in stored.columns
    }
    if lacking:
        raise ValuesMissing(list(lacking))
    window_summary = WindowSummary.empty(project.config, project.reference)
    for path, summary, stored in parts:
        columns = stored.columns & exact
        pairs = stored.pairs and proba_rows <= EXACT_PAIRS_LIMIT
        if columns or pairs:  # a window small enough to be exact: read the rest of the file
            try:
                summary = attach_values(summary, store.read_bytes(path), columns, pairs=pairs)
            except UNUSABLE as exc:
                raise SummariesUnusable({path: exc}) from exc
        window_summary = window_summary.merge(summary)
    return window_summary


UNUSABLE = (ValueError, KeyError, OSError, NotFoundError)
"""What reading a cached summary raises when it is missing, truncated, corrupt or foreign."""


class ValuesMissing(Exception):
    """Summaries made for a larger window, without the raw values this (small enough to be exact) window needs."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(f"{len(paths)} partition summaries lack raw values")
        self.paths = paths


class SummariesUnusable(Exception):
    """Cached summaries that cannot be read (a crash while one was written, a foreign file): each with its error."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        super().__init__(f"{len(errors)} partition summaries unusable")
        self.errors = errors


def merge_window(
    store: ArtifactStore,
    project: Project,
    window: Window,
    paths: list[str],
    planned: list[PlannedPartition] | None = None,
) -> WindowSummary:
    """`merge_profiles`, reading the logs of some hours again: those whose cached summaries cannot be read (the cache
    mends itself), and, with their raw values, those whose summaries were made for a window too large to be exact
    (an hourly window after a daily one)."""
    rebuilt: set[str] = set()  # each kind of rebuild at most once
    while True:
        try:
            return merge_profiles(store, project, window, paths)
        except SummariesUnusable as unusable:
            if "unusable" in rebuilt:  # written again and still unreadable: the store itself is at fault
                path, exc = next(iter(unusable.errors.items()))
                raise _unusable(project, window, path, exc) from exc
            rebuilt.add("unusable")
            for path, exc in unusable.errors.items():
                logger.warning("rebuilding unusable partition summary %s (%s)", store.display(path), exc)
            again, keep_values = list(unusable.errors), None
        except ValuesMissing as missing:
            if "values" in rebuilt:
                raise DataError(
                    "partition summaries lack raw values even after their logs were read again",
                    project=project.config.name,
                    window=str(window),
                    hint="run the window again with --rescan",
                ) from missing
            rebuilt.add("values")
            again, keep_values = missing.paths, True
        planned = planned or plan_window(store, project, window, window_partitions(store, project.config.name, window))
        rebuild = [item for item in planned if item.path in again]
        if len(rebuild) != len(again):
            unknown = next(path for path in again if path not in {item.path for item in rebuild})
            raise DataError(
                "a partition summary to read again belongs to none of the window's hours: its logs changed meanwhile",
                project=project.config.name,
                window=str(window),
                path=unknown,
                hint="run the window again",
            )
        profile_partitions(store, project, rebuild, rescan=True, keep_values=keep_values)


def _unusable(project: Project, window: Window, path: str, exc: Exception) -> DataError:
    return DataError(
        f"unusable partition summary: {exc}",
        project=project.config.name,
        window=str(window),
        path=path,
        hint="check the store's permissions and space; profiles/ is a cache: delete the file and run the window again",
    )


def ordered_map(function: Callable[[T], R], items: list[T], workers: int) -> Iterator[R]:
    """`function` over `items` on up to `workers` threads, results in order, with at most 2 x workers in flight."""
    if workers <= 1 or len(items) <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="profile") as pool:
        pending: list[Future[R]] = []
        upcoming = iter(items)
        for item in upcoming:
            pending.append(pool.submit(function, item))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.pop(0).result()
            for item in upcoming:
                pending.append(pool.submit(function, item))
                break
            yield result

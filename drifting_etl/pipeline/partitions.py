"""Partition profiles: each hour partition of a window is summarised once, cached in the store, then merged.

A partition's summary is stored at `profiles/project=<name>/date=<day>/hour=<hh>/<key>.profile` (see
profiles.codec). The key hashes everything the summary depends on: the partition's log files (path, size,
version), the label files that can hold its ground truth, the reference version, the configuration that shapes a
summary, and where the window cuts the hour. So a later window over the same hours (a re-run, a backfill, a daily
window after hourly ones) merges cached summaries instead of reading logs, while a partition whose files changed
(late data, new labels) gets a new key and is read again. The cache can be deleted at any time.

    plan_window ─▶ profile_partitions (threads here; one Airflow task per group of partitions) ─▶ merge_profiles

Label files come from extract.labels.LabelIndex, the one label rule. In Airflow the plan is made once and stored
as a `WindowPlan` (JSON), so the profiling tasks work from it without listing the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from drifting_etl.core.errors import DataError, NotFoundError
from drifting_etl.core.retry import with_retries
from drifting_etl.core.settings import Settings
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelIndex, LabelTable, LabelTables
from drifting_etl.extract.logs import Partition, read_partition_row_groups, window_partitions
from drifting_etl.extract.request_ids import RequestIds
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
from drifting_etl.profiles.summary import WindowSummary, summarize
from drifting_etl.store.artifacts import ArtifactStore, StoredFile
from drifting_etl.store.projects import Project

logger = logging.getLogger(__name__)


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
    labels = LabelIndex.listed(store, config)
    partitions = list(partitions)
    if window_bytes is None:
        window_bytes = sum(partition.size for partition in partitions)
    planned = []
    for partition in partitions:
        cut = partition.cut(window)
        label_files = labels.files_for(cut)
        key = partition_key(project, cut, partition.files, label_files)
        path = store.partition_profile_path(config.name, partition.hour, key)
        planned.append(PlannedPartition(partition, cut, label_files, path, window_bytes))
    return planned


PLAN_FORMAT = 1


@dataclass(frozen=True)
class WindowPlan:
    """A window's planned partitions in groups (one mapped Airflow task each), with what they were planned against.

    Stored as JSON (never pickle) by the plan task and read by each profiling task, which so needs neither a
    listing of the store nor the reference's raw values: the files, label files and cache paths are all here."""

    project: str
    window: Window
    reference_version: str
    """The reference the cache keys were computed with; a profiling task refuses a project whose reference changed."""
    groups: list[list[PlannedPartition]]

    @classmethod
    def of(cls, project: Project, window: Window, planned: list[PlannedPartition], group_bytes: int) -> WindowPlan:
        """Group consecutive partitions into about `group_bytes` of log files each (a larger partition alone)."""
        groups: list[list[PlannedPartition]] = []
        size = group_bytes
        for item in planned:
            if size >= group_bytes:
                groups.append([])
                size = 0
            groups[-1].append(item)
            size += item.partition.size
        return cls(project.config.name, window, project.reference.version, groups)

    def to_json(self) -> str:
        def files(stored: Iterable[StoredFile]) -> list[list[str | int]]:
            return [[f.path, f.size, f.version] for f in stored]

        body = {
            "format": PLAN_FORMAT,
            "project": self.project,
            "window": [self.window.start.isoformat(), self.window.end.isoformat()],
            "reference_version": self.reference_version,
            "groups": [
                [
                    {
                        "hour": item.partition.hour.isoformat(),
                        "files": files(item.partition.files),
                        "labels": None if item.label_files is None else files(item.label_files),
                        "profile": item.path,
                        "window_bytes": item.window_bytes,
                    }
                    for item in group
                ]
                for group in self.groups
            ],
        }
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> WindowPlan:
        """Raises ValueError (or KeyError, TypeError) on a document that is not a plan of this format."""
        body = json.loads(text)
        if body.get("format") != PLAN_FORMAT:
            raise ValueError(f"plan format {body.get('format')!r}, expected {PLAN_FORMAT}")
        window = Window(datetime.fromisoformat(body["window"][0]), datetime.fromisoformat(body["window"][1]))

        def files(rows: list[list[Any]]) -> tuple[StoredFile, ...]:
            return tuple(StoredFile(str(path), int(size), str(version)) for path, size, version in rows)

        groups = []
        for group in body["groups"]:
            items = []
            for item in group:
                partition = Partition(datetime.fromisoformat(item["hour"]), files(item["files"]))
                labels = None if item["labels"] is None else files(item["labels"])
                items.append(
                    PlannedPartition(partition, partition.cut(window), labels, item["profile"], item["window_bytes"])
                )
            groups.append(items)
        return cls(str(body["project"]), window, str(body["reference_version"]), groups)

    @property
    def key(self) -> str:
        """A digest of the plan: where it is stored, so a re-plan (after late data) never overwrites a plan that
        profiling tasks of an earlier attempt still read."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:32]


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
        "positive_label": project.positive_label,
        "cut": [cut.start.isoformat(), cut.end.isoformat()],
        "labels": None if label_files is None else [[f.path, f.size, f.version] for f in label_files],
        "logs": [[f.path, f.size, f.version] for f in files],
    }
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]


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
    summary = WindowSummary.empty(config, reference)
    whole_hour = planned.cut.end - planned.cut.start == timedelta(hours=1)
    outside, duplicates, quarantined = 0, 0, []
    hour, request_ids = planned.partition.hour, RequestIds()
    for stored in planned.partition.files:  # a file at a time, so that a bad one can be left out whole
        before, counts_before, ids_before = summary, (outside, duplicates), request_ids.checkpoint()
        try:
            one_file = Partition(hour, (stored,))
            for rows in read_partition_row_groups(store, config, planned.cut, one_file, labels, request_ids):
                outside += rows.outside_partition
                duplicates += rows.duplicates
                if rows.num_rows:
                    keep = keep_values
                    if keep is None:
                        window_rows = rows.file_rows * planned.window_bytes / max(rows.file_bytes, 1)
                        keep = not whole_hour or window_rows <= 2 * profiles.EXACT_VALUES_LIMIT
                    summary = summary.merge(
                        summarize(rows, config, reference, project.positive_label, keep_values=keep)
                    )
        except DataError as exc:
            if config.extract.max_bad_file_share is None:
                raise
            (outside, duplicates), summary = counts_before, before  # nothing of the bad file is kept
            request_ids.forget_since(ids_before)
            quarantined.append(f"{store.display(stored.path)}: {exc.message}")
    return replace(
        summary,
        log_files=len(planned.partition.files),
        quarantined=tuple(quarantined),
        duplicates=duplicates,
        outside_partition=outside,
        outside_example=f"date={hour:%Y-%m-%d}/hour={hour:%H}" if outside else summary.outside_example,
    )


def profile_partitions(
    store: ArtifactStore,
    project: Project,
    planned: list[PlannedPartition],
    *,
    rescan: bool = False,
    keep_values: bool | None = None,
    on_partition: Callable[[Partition], None] | None = None,
    workers: int | None = None,
    attempts: int | None = None,
) -> Profiled:
    """Make sure every planned partition has a cached summary (reading only those without one, or all with `rescan`).
    A partition whose storage reads fail is tried `attempts` times (default DRIFTING_STORAGE_ATTEMPTS) with backoff.

    `workers` partitions are profiled at once (default: one per CPU core). Reading Parquet and numpy's sorting
    release the GIL, so threads use every core; memory grows by one column of a row group per worker."""
    labels = LabelTables(store, project.config)
    tries = attempts or Settings.from_env().storage_attempts

    def profile(item: PlannedPartition) -> bool:
        if not rescan and store.exists(item.path):
            return True
        label_table = labels.get(item.label_files, item.cut)
        summary = with_retries(
            lambda: summarize_partition(store, project, item, label_table, keep_values=keep_values),
            attempts=tries,
            what=f"profiling {project.config.name} partition {item.partition.hour:%Y-%m-%d %H:00}",
        )
        store.write_bytes(item.path, encode_summary(summary, key=store.partition_profile_key(item.path)), durable=False)
        return False

    reused = 0
    threads = workers or os.cpu_count() or 1
    for item, cached in zip(planned, ordered_map(profile, planned, threads), strict=True):
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
            summary, stored = decode_summary(profile, project.reference, key=store.partition_profile_key(path))
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


class ValuesMissing(DataError):
    """Summaries made for a larger window, without the raw values this (small enough to be exact) window needs.

    `merge_window` answers it by reading those hours again; it reaches a caller of `merge_profiles` only."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(f"{len(paths)} partition summaries lack raw values", hint="run the window again with --rescan")
        self.paths = paths


class SummariesUnusable(DataError):
    """Cached summaries that cannot be read (a crash while one was written, a foreign file): each with its error.

    `merge_window` answers it by rebuilding them; it reaches a caller of `merge_profiles` only."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        super().__init__(
            f"{len(errors)} partition summaries unusable",
            hint="profiles/ is a cache: delete the files and run the window again",
        )
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

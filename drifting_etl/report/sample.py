"""Sampling a window for the report: a bounded, uniformly random sample of its rows, and of the reference.

`sample_window` streams the window's partitions through a bottom-k sampler, so memory is bounded by the sample plus
one batch however large the window; `read_reference` samples the reference alike.

Every row gets a pseudo-random 64-bit key, a stable hash of its request id (else of its file and position) salted by
`seed`, and the sample is the k rows with the smallest keys (ties broken by the row's position hash). Keys are
independent and uniform, so every k-subset of the window is equally likely; the sample of a union is the bottom-k of
the per-part samples, so partitions can be sampled separately and merged exactly, in any order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drifting_etl.core.columns import LABEL
from drifting_etl.core.errors import DataError, DriftingError
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelIndex, LabelTable
from drifting_etl.extract.logs import Partition, read_partition, window_partitions
from drifting_etl.extract.request_ids import RequestIds
from drifting_etl.profiles.summary import probabilities
from drifting_etl.store.artifacts import ArtifactStore, StoredFile
from drifting_etl.store.projects import Project

DEFAULT_SAMPLE_SIZE = 50_000
TARGET = "label"
"""Name of the ground-truth column in samples (the joined label, else the label logged inline)."""

_NO_LABELS = LabelTable(pa.array([], pa.string()), pa.array([], pa.null()))


def _hash_key(seed: int) -> str:
    """pandas' SipHash key (16 characters) for a seed: the same seed gives the same keys in every process."""
    return hashlib.blake2b(str(seed).encode(), digest_size=8).hexdigest()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 that scatters consecutive integers uniformly."""
    x = values.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def row_keys(
    count: int, *, source: str, offset: int = 0, ids: pa.Array | pa.ChunkedArray | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(key, tie-break) of `count` consecutive rows of `source` (a file path) starting at row `offset`.

    The key is a hash of the row's id when it has one, else of (source, position); the tie-break is always
    the position hash, unique within a source, so the order of rows is total and the sample well defined.
    """
    hash_key = _hash_key(seed)
    source_hash = pd.util.hash_array(np.array([source], dtype=object), hash_key=hash_key, categorize=False)[0]
    positions = np.arange(offset + 1, offset + count + 1, dtype=np.uint64)
    ties = _mix(_mix(positions) ^ np.uint64(source_hash))
    if ids is None:
        return ties, ties
    strings = pc.cast(ids, pa.string())
    valid = np.asarray(pc.is_valid(strings).to_numpy(zero_copy_only=False), dtype=bool)
    keys = ties.copy()
    if valid.any():
        values = np.asarray(strings.to_numpy(zero_copy_only=False), dtype=object)[valid]
        keys[valid] = pd.util.hash_array(values, hash_key=hash_key, categorize=False)
    return keys, ties


@dataclass(frozen=True, eq=False)
class BottomK:
    """The `k` rows with the smallest (key, tie-break) among every row offered.

    `add` and `merge` return new samples; merging is exact (the bottom-k of a union is the bottom-k of the
    parts' bottom-k), associative and commutative, with `empty(k)` as identity. Memory: k rows plus the input.
    """

    k: int
    rows: pa.Table | None = None
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    ties: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    seen: int = 0
    """Rows offered so far (the population the sample is drawn from)."""

    @classmethod
    def empty(cls, k: int) -> BottomK:
        if k < 1:
            raise ValueError(f"sample size must be at least 1, got {k}")
        return cls(k)

    def add(self, rows: pa.Table | pa.RecordBatch, keys: np.ndarray, ties: np.ndarray) -> BottomK:
        """This sample with `rows` offered too (`keys`/`ties` from `row_keys`, one per row)."""
        if isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        if not (len(keys) == len(ties) == rows.num_rows):
            raise ValueError("one key and one tie-break per row")
        return self._combine(rows, keys, ties, rows.num_rows)

    def merge(self, other: BottomK) -> BottomK:
        if other.k != self.k:
            raise ValueError(f"cannot merge samples of size {self.k} and {other.k}")
        if other.rows is None:
            return BottomK(self.k, self.rows, self.keys, self.ties, self.seen + other.seen)
        return self._combine(other.rows, other.keys, other.ties, other.seen)

    def _combine(self, rows: pa.Table, keys: np.ndarray, ties: np.ndarray, seen: int) -> BottomK:
        if self.full:
            # only rows that beat the current k-th row can enter: filtering first keeps memory at k + input
            last_key, last_tie = self.keys[-1], self.ties[-1]
            beats = (keys < last_key) | ((keys == last_key) & (ties < last_tie))
            if not beats.any():
                return BottomK(self.k, self.rows, self.keys, self.ties, self.seen + seen)
            rows, keys, ties = rows.filter(pa.array(beats)), keys[beats], ties[beats]
        if self.rows is not None:
            rows = pa.concat_tables([self.rows, rows], promote_options="permissive")
            keys, ties = np.concatenate([self.keys, keys]), np.concatenate([self.ties, ties])
        if len(keys) < self.k:  # not full yet: keep everything, order later (no copy per batch)
            return BottomK(self.k, rows, keys, ties, self.seen + seen)
        order = np.lexsort((ties, keys))[: self.k]
        return BottomK(self.k, rows.take(pa.array(order)), keys[order], ties[order], self.seen + seen)

    @property
    def full(self) -> bool:
        """Whether k rows are kept (then they are in key order and a new row must beat the last one)."""
        return len(self.keys) >= self.k

    def table(self) -> pa.Table | None:
        """The sampled rows in key order (None if no row was offered)."""
        if self.rows is None or self.full:
            return self.rows
        return self.rows.take(pa.array(np.lexsort((self.ties, self.keys))))


# ============================================================================================== sampling (I/O)


def _positive_probability(batch: pa.RecordBatch, column: str, project: Project) -> pa.Array:
    """P(positive) per row, as the report shows it; null when not logged, or logged per class for more than two
    classes (the report then shows no probabilities; the metrics database has roc_auc and log_loss)."""
    if column not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.float64())
    values, classes = probabilities(batch.column(column), project.positive_label)
    if classes:
        return pa.nulls(batch.num_rows, pa.float64())
    return pa.array(values, type=pa.float64(), from_pandas=True)  # NaN -> null


def _sample_columns(batch: pa.RecordBatch, project: Project) -> pa.Table:
    """An extracted batch reduced to what the report shows: monitored columns, probability, label."""
    config = project.config
    names = list(config.monitored_columns())
    arrays = [batch.column(name) for name in names]
    proba = config.columns.prediction_proba
    if proba and proba not in names:
        names.append(proba)
        arrays.append(_positive_probability(batch, proba, project))
    names.append(target_column(project))
    arrays.append(batch.column(LABEL))
    arrays = [array.dictionary_decode() if pa.types.is_dictionary(array.type) else array for array in arrays]
    return pa.Table.from_arrays(arrays, names=names)


def target_column(project: Project) -> str:
    """`label`, unless a monitored column is already called that."""
    taken = {*project.config.monitored_columns(), project.config.columns.prediction_proba}
    return TARGET if TARGET not in taken else f"__{TARGET}__"


def _has_column(store: ArtifactStore, stored: StoredFile, name: str) -> bool:
    """Whether a log file has a column (read from its footer). Unreadable files say no: reading them fails later
    with the pipeline's own error message."""
    try:
        with store.fs.open(stored.path, "rb") as handle:
            return name in pq.read_schema(handle).names
    except Exception:
        return False


def _store_relative(store: ArtifactStore, path: str) -> str:
    """A path inside the store without the store's root: keys must not change when the store moves."""
    root = store.root.rstrip("/") + "/"
    return path[len(root) :] if path.startswith(root) else path


def sample_frame(sampler: BottomK, project: Project) -> pd.DataFrame:
    """A sample's rows as the DataFrame the report is rendered from (probability dropped when never logged)."""
    table = sampler.table()
    if table is None:
        columns = [*project.config.monitored_columns(), target_column(project)]
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    frame = table.to_pandas()
    proba = project.config.columns.prediction_proba
    if proba and proba in frame and proba not in project.config.monitored_columns() and frame[proba].isna().all():
        frame = frame.drop(columns=proba)  # not logged
    return frame


@contextmanager
def _as_data_error(project: str, window: Window, what: str) -> Iterator[None]:
    try:
        yield
    except DriftingError:
        raise
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DataError(f"cannot sample {what}: {exc}", project=project, window=str(window)) from exc


def sample_partition(
    store: ArtifactStore,
    project: Project,
    window: Window,
    partition: Partition,
    labels: LabelTable | None,
    size: int = DEFAULT_SAMPLE_SIZE,
    *,
    seed: int = 0,
    into: BottomK | None = None,
) -> BottomK:
    """The bottom-k sample of one hour partition's rows inside the window, streamed into `into` (else a new
    sample). `labels`: the partition's labels (`LabelIndex.table_for(partition.cut(window))`). Samples of separate
    partitions merge exactly into the window's sample."""
    config = project.config
    sampler = into if into is not None else BottomK.empty(size)
    cut = partition.cut(window)  # the partition's rows are those the stored metrics count: logged in its hour
    request_ids = RequestIds()  # the partition's rows are read a file at a time: one record of their ids
    with _as_data_error(config.name, window, "the window's rows"):
        for stored in partition.files:
            with_ids = labels is not None or _has_column(store, stored, config.columns.request_id)
            file_labels = labels if labels is not None else (_NO_LABELS if with_ids else None)
            source = _store_relative(store, stored.path)
            offset, before, ids_before = 0, sampler, request_ids.checkpoint()
            try:
                one_file = Partition(partition.hour, (stored,))
                for batch in read_partition(store, config, cut, one_file, file_labels, request_ids):
                    if not batch.num_rows:
                        continue
                    ids = batch.column(config.columns.request_id) if with_ids else None
                    keys, ties = row_keys(batch.num_rows, source=source, offset=offset, ids=ids, seed=seed)
                    sampler = sampler.add(_sample_columns(batch, project), keys, ties)
                    offset += batch.num_rows
            except DataError:
                if config.extract.max_bad_file_share is None:
                    raise
                sampler = before  # quarantined, as the window's metrics left it out (monitoring_run.quarantined_files)
                request_ids.forget_since(ids_before)
    return sampler


def sample_window(
    store: ArtifactStore, project: Project, window: Window, size: int = DEFAULT_SAMPLE_SIZE, *, seed: int = 0
) -> tuple[pd.DataFrame, int]:
    """A uniform random sample of at most `size` of the window's rows, and the window's row count.

    Columns: the monitored columns (features, prediction), `prediction_proba` when logged, and the label
    (joined from labels/, else logged inline) as `label`. Rows are streamed partition by partition, file by
    file into one sample: memory holds the sample plus one batch. The same data and seed give the same sample.
    Labels follow the one label rule (extract.labels), hour partition by hour partition, as the stored metrics do.
    """
    labels = LabelIndex.listed(store, project.config)
    sampler = BottomK.empty(size)
    for partition in window_partitions(store, project.config.name, window):
        partition_labels = labels.table_for(partition.cut(window))
        sampler = sample_partition(store, project, window, partition, partition_labels, size, seed=seed, into=sampler)
    return sample_frame(sampler, project), sampler.seen


def read_reference(
    store: ArtifactStore, project: Project, size: int = DEFAULT_SAMPLE_SIZE, *, seed: int = 0
) -> tuple[pd.DataFrame, int]:
    """The project's reference (monitored columns, probability and label when it has them), sampled down to
    `size` rows like a window, and its row count."""
    config = project.config
    path = store.reference_path(config.name)
    where = {"project": config.name, "path": store.display(path)}
    data = store.read_bytes(path)
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        present = set(parquet.schema_arrow.names)
        wanted = [*config.monitored_columns()]
        for extra in (config.columns.prediction_proba, config.columns.label):
            if extra and extra in present and extra not in wanted:
                wanted.append(extra)
        sampler = BottomK.empty(size)
        offset = 0
        for batch in parquet.iter_batches(batch_size=65_536, columns=wanted):
            table = pa.Table.from_batches([batch])
            for index, name in enumerate(table.column_names):
                if pa.types.is_dictionary(table.schema.field(name).type):
                    table = table.set_column(index, name, table.column(name).combine_chunks().dictionary_decode())
            if config.columns.label in present and config.columns.label not in config.monitored_columns():
                table = table.rename_columns(
                    [target_column(project) if name == config.columns.label else name for name in table.column_names]
                )
            keys, ties = row_keys(table.num_rows, source=_store_relative(store, path), offset=offset, seed=seed)
            sampler = sampler.add(table, keys, ties)
            offset += table.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"cannot read the reference for the report: {exc}", **where) from exc
    return sample_frame(sampler, project), sampler.seen


# ============================================================================================== rendering (pure)

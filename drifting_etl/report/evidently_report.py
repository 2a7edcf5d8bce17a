"""Report: an interactive HTML drift report of one window, rendered by Evidently 0.7 from a bounded random sample.

This module owns three steps, kept apart so each can be tested on its own:

- sampling (I/O): `sample_window` streams the window's partitions through a bottom-k sampler, so memory is
  bounded by the sample plus one batch however large the window; `read_reference` samples the reference alike;
- rendering (pure): `render_report` runs Evidently's `DataDriftPreset` (and `ClassificationPreset` /
  `RegressionPreset` on the labelled rows) with the project's drift settings, and wraps the result in a
  self-contained HTML page with a banner that says what was sampled;
- writing (I/O): `build_report` samples, renders and publishes the page at `store.report_path(...)` atomically.

It does not compute the metrics that go to the database: the report is a view on a sample; the full-data
figures are in the metrics database. Evidently is imported inside functions only (it takes seconds to import,
and the CLI and the Airflow DAG files must stay light).

Sampling. Every row gets a pseudo-random 64-bit key, a stable hash of its request id (else of its file and
position) salted by `seed`, and the sample is the k rows with the smallest keys (ties broken by the row's
position hash). Keys are independent and uniform, so every k-subset of the window is equally likely; the
sample of a union is the bottom-k of the per-part samples, so partitions can be sampled separately and merged
exactly, in any order.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drifting_etl.core.columns import LABEL
from drifting_etl.core.errors import ComputeError, DataError, DriftingError
from drifting_etl.core.window import Window
from drifting_etl.extract.labels import LabelIndex, LabelTable
from drifting_etl.extract.logs import Partition, read_partition, window_partitions
from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.metrics.drift import SMALL_REFERENCE_ROWS, evidently_stattests
from drifting_etl.profiles.columns import category_key
from drifting_etl.store.artifacts import ArtifactStore, StoredFile
from drifting_etl.store.projects import Project, load_project

if TYPE_CHECKING:
    from evidently.core.report import Snapshot

DEFAULT_SAMPLE_SIZE = 50_000
TARGET = "label"
"""Name of the ground-truth column in samples (the joined label, else the label logged inline)."""

EVIDENTLY_METHODS: dict[str, str] = {name: stattest for name, stattest in evidently_stattests().items()}
"""Our drift method names -> the names Evidently's stat-test registry knows them by (`StatTest.name`), from the
drift-method registry."""

logger = logging.getLogger(__name__)
_NO_LABELS = LabelTable(pa.array([], pa.string()), pa.array([], pa.null()))
_DATA_PLACEHOLDER = "<!-- no embedded data -->"
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)
_JSON_IN_SCRIPT = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


# ============================================================================================== sampling (pure)


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


def _sample_columns(batch: pa.RecordBatch, project: Project) -> pa.Table:
    """An extracted batch reduced to what the report shows: monitored columns, probability, label."""
    config = project.config
    names = list(config.monitored_columns())
    arrays = [batch.column(name) for name in names]
    proba = config.columns.prediction_proba
    if proba and proba not in names:
        names.append(proba)
        present = proba in batch.schema.names
        arrays.append(pc.cast(batch.column(proba), pa.float64()) if present else pa.nulls(batch.num_rows, pa.float64()))
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
    with _as_data_error(config.name, window, "the window's rows"):
        for stored in partition.files:
            with_ids = labels is not None or _has_column(store, stored, config.columns.request_id)
            file_labels = labels if labels is not None else (_NO_LABELS if with_ids else None)
            source = _store_relative(store, stored.path)
            offset = 0
            for batch in read_partition(store, config, cut, Partition(partition.hour, (stored,)), file_labels):
                if not batch.num_rows:
                    continue
                ids = batch.column(config.columns.request_id) if with_ids else None
                keys, ties = row_keys(batch.num_rows, source=source, offset=offset, ids=ids, seed=seed)
                sampler = sampler.add(_sample_columns(batch, project), keys, ties)
                offset += batch.num_rows
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


@dataclass(frozen=True)
class RenderedReport:
    html: str
    drifted_columns: frozenset[str]
    """Columns (features and the prediction) Evidently flags as drifted on the sample."""


@contextmanager
def _quiet_evidently() -> Iterator[None]:
    """Evidently (and libraries it imports) warn about their own deprecated internals; those warnings say nothing
    about our data, so they are silenced here, and only these categories from these modules."""
    with warnings.catch_warnings():
        # importing Evidently trips numpy's, its own and litestar's deprecation machinery
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        # pandas/numpy/scikit-learn notices raised from Evidently's computations (e.g. an undefined metric)
        libraries = r"(evidently|sklearn|scipy|numpy|pandas|plotly)(\.|$)"
        for category in (FutureWarning, UserWarning, RuntimeWarning):
            warnings.filterwarnings("ignore", category=category, module=libraries)
        yield


def _categorical(series: pd.Series) -> pd.Series:
    """Categories as the text our profiles compare them as (int 1, float 1.0 and '1' alike); missing stays None."""
    return series.map(lambda value: None if value is None or pd.isna(value) else category_key(value)).astype(object)


def _numerical(series: pd.Series) -> pd.Series:
    values = pd.to_numeric(series.astype("float64") if series.dtype == bool else series, errors="coerce")
    values = values.astype("float64")
    return values.where(np.isfinite(values))  # infinities are left out of drift, as missing values are


def _drift_frame(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: (_numerical(frame[name]) if kind == "numerical" else _categorical(frame[name]))
            for name, kind in kinds.items()
        },
        index=frame.index,
    ).reset_index(drop=True)


@dataclass(frozen=True)
class _Performance:
    current: pd.DataFrame
    reference: pd.DataFrame | None
    definition: Any
    preset: Any
    note: str


def _performance(project: Project, reference: pd.DataFrame, sample: pd.DataFrame) -> _Performance | str:
    """Evidently's datasets for the labelled rows, or a note saying why there is no performance section."""
    from evidently import BinaryClassification, DataDefinition, MulticlassClassification, Regression
    from evidently.presets import ClassificationPreset, RegressionPreset

    config = project.config
    target, prediction, proba = target_column(project), config.columns.prediction, config.columns.prediction_proba

    def labelled(frame: pd.DataFrame) -> pd.DataFrame | None:
        if target not in frame:
            return None
        if config.task == "classification":
            columns = {target: _categorical(frame[target]), prediction: _categorical(frame[prediction])}
            if proba and proba in frame:
                columns[proba] = _numerical(frame[proba])
            rows = pd.DataFrame(columns).reset_index(drop=True)
            return rows[rows[target].notna() & rows[prediction].notna()].reset_index(drop=True)
        rows = pd.DataFrame({target: _numerical(frame[target]), prediction: _numerical(frame[prediction])})
        return rows.dropna().reset_index(drop=True)

    current, past = labelled(sample), labelled(reference)
    if current is None or current.empty:
        return "no labelled rows in the sample: no model performance section"
    if past is not None and past.empty:
        past = None
    if config.task == "regression":
        definition = DataDefinition(
            numerical_columns=[target, prediction], regression=[Regression(target=target, prediction=prediction)]
        )
        note = f"model performance (RegressionPreset) on the {len(current):,} labelled rows of the sample"
        return _Performance(current, past, definition, RegressionPreset(), note)
    classes = set(current[target]) | set(current[prediction])
    if past is not None:
        classes |= set(past[target]) | set(past[prediction])
    positive = project.positive_label
    with_proba = bool(proba and proba in current and current[proba].notna().all())
    if with_proba and past is not None and not (proba in past and past[proba].notna().all()):
        past = past.drop(columns=[proba], errors="ignore")
        with_proba = False
    if len(classes | {positive}) <= 2:
        task: Any = BinaryClassification(
            target=target,
            prediction_labels=prediction,
            prediction_probas=proba if with_proba else None,
            pos_label=positive,
        )
        kind = "binary"
    else:
        task, kind, with_proba = (
            MulticlassClassification(target=target, prediction_labels=prediction),
            "multiclass",
            False,
        )
    keep = [target, prediction, *([proba] if with_proba and proba else [])]
    current = current[keep]
    past = past[keep] if past is not None else None
    definition = DataDefinition(
        categorical_columns=[target, prediction],
        numerical_columns=[proba] if with_proba and proba else [],
        classification=[task],
    )
    note = f"model performance (ClassificationPreset, {kind}) on the {len(current):,} labelled rows of the sample"
    return _Performance(current, past, definition, ClassificationPreset(), note)


def _drift_snapshot(
    project: Project, reference: pd.DataFrame, sample: pd.DataFrame
) -> tuple[Snapshot | None, list[str]]:
    """Evidently's drift report over the usable monitored columns, and the columns left out (no usable value)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    config = project.config
    kinds = config.monitored_columns()
    current, past = _drift_frame(sample, kinds), _drift_frame(reference, kinds)
    usable = [name for name in kinds if current[name].notna().any() and past[name].notna().any()]
    skipped = [name for name in kinds if name not in usable]
    features = [name for name in config.features.all if name in usable]
    prediction = config.columns.prediction
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    for feature in features:
        settings = config.drift.for_feature(feature)
        if settings.method != "auto":
            methods[feature] = EVIDENTLY_METHODS[settings.method]
        if settings.threshold is not None:
            thresholds[feature] = settings.threshold
    metrics: list[Any] = []
    if features:
        metrics.append(
            DataDriftPreset(
                columns=features,
                drift_share=config.drift.dataset_drift_share,
                per_column_method=methods or None,
                per_column_threshold=thresholds or None,
            )
        )
    if prediction in usable:  # reported on its own: like ours, Evidently's dataset drift share counts features only
        method = None if config.drift.method == "auto" else EVIDENTLY_METHODS[config.drift.method]
        metrics.append(ValueDrift(column=prediction, method=method, threshold=config.drift.threshold))
    if not metrics:
        return None, skipped
    definition = DataDefinition(
        numerical_columns=[name for name in usable if kinds[name] == "numerical"],
        categorical_columns=[name for name in usable if kinds[name] == "categorical"],
    )
    snapshot = Report(metrics, include_tests=True).run(
        Dataset.from_pandas(current[usable], data_definition=definition),
        Dataset.from_pandas(past[usable], data_definition=definition),
    )
    return snapshot, skipped


def _drifted(snapshot: Snapshot | None) -> frozenset[str]:
    """The columns whose ValueDrift test failed: Evidently's own verdict (p-value or distance vs threshold)."""
    if snapshot is None:
        return frozenset()
    flagged = set()
    for test in snapshot.dict()["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if str(params.get("type", "")).endswith(":ValueDrift") and str(test.get("status")).upper().endswith("FAIL"):
            flagged.add(str(params["column"]))
    return frozenset(flagged)


def _rows_text(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def banner_html(
    project: str,
    window: Window,
    *,
    sampled_rows: int,
    total_rows: int,
    reference_rows: int | None = None,
    reference_total: int | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The banner at the top of every report: what the page is built from, and where the exact figures are."""
    e = html.escape
    if total_rows == 0:
        scope = "The window has no rows."
    elif sampled_rows >= total_rows:
        scope = f"This report is built from <strong>all {e(_rows_text(total_rows))}</strong> of the window."
    else:
        scope = (
            "This report is built from a <strong>uniform random sample of "
            f"{sampled_rows:,} of {e(_rows_text(total_rows))}</strong> of the window."
        )
    if reference_rows is not None and reference_total is not None and reference_total:
        scope += (
            f" Reference: all {e(_rows_text(reference_total))}."
            if reference_rows >= reference_total
            else f" Reference: a uniform random sample of {reference_rows:,} of {e(_rows_text(reference_total))}."
        )
    tables = ", ".join(f"<code>{e(name)}</code>" for name in METRIC_TABLES)
    items = "".join(f"<li>{e(note)}</li>" for note in notes)
    return (
        '<div id="drifting-etl-banner" role="note" style="margin:0 0 12px 0;padding:12px 16px;'
        "background:#fff4ce;border-bottom:3px solid #c98a00;color:#1f1f1f;"
        'font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif">'
        f'<div style="font-size:17px;font-weight:600">drifting-etl drift report · project {e(project)} · '
        f"window {e(str(window))}</div>"
        f"<div>{scope} The metrics database (tables {tables}) holds the full-data figures; where they differ "
        "from this page, the database is right.</div>"
        + (f'<ul style="margin:4px 0 0 18px;padding:0">{items}</ul>' if items else "")
        + "</div><!-- /drifting-etl-banner -->"
    )


def empty_report_html(project: str, window: Window) -> str:
    """The page for a window without rows (no Evidently involved)."""
    e = html.escape
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8">'
        f"<title>{e(project)} {e(str(window))}: no data</title></head><body>"
        + banner_html(project, window, sampled_rows=0, total_rows=0)
        + '<p style="font:15px system-ui,sans-serif;margin:16px">No rows were logged in this window, so there is '
        "nothing to compare with the reference. The window is recorded as <code>no_data</code> in "
        "<code>monitoring_run</code>.</p></body></html>\n"
    )


def _page(sections: Sequence[tuple[str, Snapshot]], title: str, banner: str) -> str:
    """Evidently's standalone page (JS bundle and icon font inlined, so it needs no network) for several
    snapshots, with the data embedded safely and our banner injected right after <body>.

    Evidently embeds its data as raw JSON in a <script> element; a category value containing "</script>" would
    end the element and let the rest run as markup. We embed it ourselves with '<', '>' and '&' escaped as
    JSON unicode escapes (identical values for the JavaScript that reads them).
    """
    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.model.widget import AdditionalGraphInfo, BaseWidgetInfo
    from evidently.legacy.renderers.html_widgets import group_widget
    from evidently.legacy.utils import NumpyEncoder
    from evidently.legacy.utils.dashboard import TemplateParams, dashboard_info_to_json, file_html_template

    widgets: list[BaseWidgetInfo] = []
    for heading, snapshot in sections:
        model = snapshot.to_snapshot_model()
        widgets.append(group_widget(title=heading, widgets=list(model.widgets)))
        widgets.extend(model.tests_widgets)
    additional: dict[str, Any] = {}
    for widget in widgets:  # as evidently.core.metric_types.render_widgets collects them
        for graph in widget.get_additional_graphs():
            info = graph.params if isinstance(graph, AdditionalGraphInfo) else graph
            additional[f"{graph.id}"] = info.dict() if isinstance(info, BaseWidgetInfo) else info
    dashboard_id = "metric_" + uuid.uuid4().hex
    dashboard = DashboardInfo(name="Report", widgets=widgets)
    page = file_html_template(
        TemplateParams(dashboard_id=dashboard_id, dashboard_info=dashboard, additional_graphs={}, embed_data=False)
    )
    data = (
        "<script>\n"
        f"var {dashboard_id} = {dashboard_info_to_json(dashboard).translate(_JSON_IN_SCRIPT)};\n"
        f"var additional_graphs_{dashboard_id} = "
        f"{json.dumps(additional, cls=NumpyEncoder).translate(_JSON_IN_SCRIPT)};\n"
        "</script>"
    )
    body = _BODY_TAG.search(page)
    if page.count(_DATA_PLACEHOLDER) != 1 or body is None or "<head>" not in page:
        raise ValueError("Evidently's HTML template changed: cannot embed the data or the banner")
    page = page.replace(_DATA_PLACEHOLDER, data)
    body = _BODY_TAG.search(page)
    assert body is not None
    page = page[: body.end()] + "\n" + banner + page[body.end() :]
    return page.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)


def evaluate_report(
    project: Project,
    reference: pd.DataFrame,
    sample: pd.DataFrame,
    window: Window,
    *,
    total_rows: int,
    reference_total: int | None = None,
) -> RenderedReport:
    """The report page of a window's sample and Evidently's drift verdicts (pure: no I/O)."""
    name = project.config.name
    if sample.empty:
        return RenderedReport(empty_report_html(name, window), frozenset())
    try:
        with _quiet_evidently():
            from evidently import Dataset, Report

            drift, skipped = _drift_snapshot(project, reference, sample)
            sections: list[tuple[str, Snapshot]] = []
            notes = []
            if drift is not None:
                sections.append(("Data drift (features and prediction) against the reference", drift))
            if skipped:
                notes.append(f"no drift shown for {', '.join(skipped)}: no usable value in the sample or reference")
            performance = _performance(project, reference, sample)
            if isinstance(performance, str):
                notes.append(performance)
            else:
                try:
                    snapshot = Report([performance.preset]).run(
                        Dataset.from_pandas(performance.current, data_definition=performance.definition),
                        None
                        if performance.reference is None
                        else Dataset.from_pandas(performance.reference, data_definition=performance.definition),
                    )
                except Exception as exc:  # degenerate labelled rows (one class, classes Evidently mislabels, ...)
                    # the drift report is still worth having: say on the page why performance is missing
                    logger.warning("no performance section for %s %s: %s: %s", name, window, type(exc).__name__, exc)
                    notes.append(
                        f"no model performance section: Evidently could not compute it on the sample's labelled "
                        f"rows ({type(exc).__name__}: {exc}); performance_metric in the database has the figures"
                    )
                else:
                    sections.append((performance.note[0].upper() + performance.note[1:], snapshot))
                    unlabelled = "" if performance.reference is not None else " (the reference has no labels)"
                    notes.append(performance.note + unlabelled)
            banner = banner_html(
                name,
                window,
                sampled_rows=len(sample),
                total_rows=total_rows,
                reference_rows=len(reference),
                reference_total=reference_total if reference_total is not None else len(reference),
                notes=notes,
            )
            title = f"Drift report: {name} {window}"
            return RenderedReport(_page(sections, title, banner), _drifted(drift))
    except DriftingError:
        raise
    except Exception as exc:
        raise ComputeError(
            f"Evidently could not render the report: {type(exc).__name__}: {exc}",
            project=name,
            window=str(window),
            hint="the metrics in the database are unaffected; report this with the window's data if it persists",
        ) from exc


def render_report(
    project: Project, reference: pd.DataFrame, sample: pd.DataFrame, window: Window, *, total_rows: int
) -> str:
    """The HTML report of a window's sample against the reference (see `evaluate_report`)."""
    return evaluate_report(project, reference, sample, window, total_rows=total_rows).html


# ============================================================================================== building (I/O)


@dataclass(frozen=True)
class ReportResult:
    location: str
    """Path of the report in the artifact store."""
    display: str
    """The location as a user opens it (a path, or a URL with the store's scheme)."""
    sampled_rows: int
    total_rows: int
    drifted_columns: frozenset[str]
    """Columns Evidently flags as drifted on the sample (features and the prediction)."""
    size_bytes: int


def build_report(
    store: ArtifactStore, project_name: str, window: Window, *, sample_size: int = DEFAULT_SAMPLE_SIZE
) -> ReportResult:
    """Sample the window, render its report and publish it at `store.report_path(...)` (whole file at once)."""
    project = load_project(store, project_name)
    sample, total = sample_window(store, project, window, sample_size)
    if total == 0:
        rendered = RenderedReport(empty_report_html(project_name, window), frozenset())
    else:
        # Evidently's `auto` picks p-value tests for references of at most 1000 rows and distances above: sample
        # a larger reference to no fewer rows than that, so the report tests what the pipeline tests
        reference, reference_total = read_reference(store, project, max(sample_size, SMALL_REFERENCE_ROWS + 1))
        rendered = evaluate_report(
            project, reference, sample, window, total_rows=total, reference_total=reference_total
        )
    path = store.report_path(project_name, window.start, window.end)
    data = rendered.html.encode("utf-8")
    store.write_bytes(path, data)
    return ReportResult(
        location=path,
        display=store.display(path),
        sampled_rows=len(sample),
        total_rows=total,
        drifted_columns=rendered.drifted_columns,
        size_bytes=len(data),
    )

"""A window's summary: the profile of its rows and their performance summary, merged from row-group summaries.

`summarize` turns one row group's extracted rows into a `WindowSummary`; summaries merge, so any split of a
window into partitions or row groups gives the same result. Pure computation: no storage, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drifting_etl.core.columns import LABEL
from drifting_etl.core.config import ProjectConfig
from drifting_etl.profiles.columns import (
    CategoricalReference,
    ReferenceProfile,
    WindowProfile,
    category_key,
    numeric_array,
    parse_numbers,
)
from drifting_etl.profiles.performance import ClassificationSummary, PerformanceSummary, RegressionSummary


def positive_label(config: ProjectConfig, reference: ReferenceProfile) -> str:
    if config.performance.positive_label is not None:
        return category_key(config.performance.positive_label)
    if config.task != "classification":
        return ""
    prediction = reference.columns[config.columns.prediction]
    classes = sorted(prediction.counts) if isinstance(prediction, CategoricalReference) else []
    for candidate in ("1", "True"):
        if candidate in classes:
            return candidate
    return classes[-1] if classes else "1"


@dataclass(frozen=True)
class WindowSummary:
    profile: WindowProfile
    performance: PerformanceSummary
    rows: int = 0
    labelled: int = 0
    proba_values: int = 0
    """Rows (labelled or not) with a value in the `prediction_proba` column: 0 when a classifier never logs it."""
    unscored: int = 0
    """Rows with a label but no usable prediction (null, NaN; for regression also ±inf): left out of performance."""
    outside_partition: int = 0
    """Rows in the window's hour folders whose timestamp lies outside their folder's hour (or is null): read into
    no window, counted here."""
    outside_example: str | None = None
    """One folder holding such rows, as `date=YYYY-MM-DD/hour=HH`."""
    log_files: int = 0
    """Log files of the window's partitions, read or quarantined."""
    quarantined: tuple[str, ...] = ()
    """Log files left out because they cannot be read as the project's logs (`extract.max_bad_file_share`), each as
    `path: reason`."""
    duplicates: int = 0
    """Rows whose request id an earlier row of their hour partition already has: counted, left out of every figure."""

    @classmethod
    def empty(cls, config: ProjectConfig, reference: ReferenceProfile) -> WindowSummary:
        performance: PerformanceSummary = (
            ClassificationSummary() if config.task == "classification" else RegressionSummary()
        )
        return cls(WindowProfile.empty(reference), performance)

    def merge(self, other: WindowSummary) -> WindowSummary:
        return WindowSummary(
            profile=self.profile.merge(other.profile),
            performance=self.performance.merge(other.performance),  # type: ignore[arg-type]
            rows=self.rows + other.rows,
            labelled=self.labelled + other.labelled,
            proba_values=self.proba_values + other.proba_values,
            unscored=self.unscored + other.unscored,
            outside_partition=self.outside_partition + other.outside_partition,
            outside_example=self.outside_example or other.outside_example,
            log_files=self.log_files + other.log_files,
            quarantined=self.quarantined + other.quarantined,
            duplicates=self.duplicates + other.duplicates,
        )


class Rows(Protocol):
    """Extracted rows: a record batch, or a row group read a column at a time (extract.RowGroupRows)."""

    @property
    def num_rows(self) -> int: ...

    @property
    def column_names(self) -> list[str]: ...

    def column(self, name: str) -> pa.Array | pa.ChunkedArray: ...


def probabilities(column: pa.Array | pa.ChunkedArray, positive: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """The logged `prediction_proba` as numbers: P(positive) per row (a number column), or, when each row holds a
    mapping from class to probability (a struct column, one field per class), a column per class and the classes
    (two classes: P(positive), its field). Null rows and null fields are NaN."""
    if not pa.types.is_struct(column.type):
        return numeric_array(column), ()
    struct = column.type
    names = tuple(category_key(struct.field(index).name) for index in range(struct.num_fields))
    columns = [numeric_array(pc.struct_field(column, [index])) for index in range(struct.num_fields)]
    if len(names) == 2 and positive in names:
        return columns[names.index(positive)], ()
    return np.column_stack(columns) if columns else np.zeros((len(column), 0)), names


def summarize(
    rows: Rows, config: ProjectConfig, reference: ReferenceProfile, positive: str, *, keep_values: bool = True
) -> WindowSummary:
    """The summary of some extracted rows (see extract.read_partition_row_groups); `keep_values=False` when they are
    part of more rows than are ever kept verbatim."""
    profile = WindowProfile.of(rows, reference, keep_values=keep_values)
    prediction = rows.column(config.columns.prediction)
    truth = rows.column(LABEL)
    # a row counts as labelled when it has both the truth and the model's prediction (NaN is no value, as null)
    has_truth = _has_value(truth)
    labelled_mask = pc.and_(has_truth, _has_value(prediction))
    every_row = pc.all(labelled_mask).as_py() is not False
    unscored = int(pc.sum(pc.and_(has_truth, pc.invert(labelled_mask))).as_py() or 0)

    def labelled(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        return column if every_row else column.filter(labelled_mask)

    truth, prediction = labelled(truth), labelled(prediction)
    performance: PerformanceSummary
    proba_values = 0
    if config.task == "classification":
        proba = None
        proba_column = config.columns.prediction_proba
        classes: tuple[str, ...] = ()
        if proba_column and proba_column in rows.column_names:
            logged = rows.column(proba_column)
            proba_values = len(logged) - logged.null_count
            proba, classes = probabilities(labelled(logged), positive)
        performance = ClassificationSummary.of(truth, prediction, proba, positive, classes)
        count = len(truth)
    else:
        # numbers logged as text are read as profiles read them: "n/a" is no value (the profile counts it)
        truth_values, predicted = parse_numbers(truth).values, parse_numbers(prediction).values
        usable = np.isfinite(truth_values) & np.isfinite(predicted)
        count = int(usable.sum())
        unscored += int((np.isfinite(truth_values) & ~np.isfinite(predicted)).sum())
        performance = RegressionSummary.of(truth_values[usable], predicted[usable])
    return WindowSummary(profile, performance, rows.num_rows, count, proba_values, unscored)


def _has_value(column: pa.Array | pa.ChunkedArray) -> pa.BooleanArray | pa.ChunkedArray:
    """Which entries hold a value: not null, and not NaN (Evidently and scikit-learn users treat NaN as missing)."""
    present = pc.is_valid(column)
    if pa.types.is_floating(column.type):
        present = pc.and_kleene(present, pc.invert(pc.is_nan(column)))  # NaN of a null is null: not a value
    return present

"""Mergeable column profiles: the statistics of a set of rows that drift, quality and volume are computed from.

A `ReferenceProfile` is fitted once from the project's reference data and fixes the binning ("edges") for each
numerical column. A `WindowProfile` summarises any set of log rows against that binning; two window profiles
merge into a new one (associative, commutative, `WindowProfile.empty()` is the identity), so a window's profile
is the merge of its partitions' profiles and memory does not grow with the window.

Numerical columns keep, per cell of the reference binning (below the first edge, each edge value, each gap
between edges, above the last edge), the count and the sum of the values that fell there; counts and sums in fine
sub-bins beyond the reference's range; the window's values beyond the reference's `EXTREME_EDGES`-th edge from either end
(up to `EXTREMES_LIMIT`) and its `ENDS_KEPT` smallest and largest values. With edges at the reference's distinct
values (up to `EDGE_LIMIT` of them) that gives an exact Kolmogorov-Smirnov statistic; drift.CellModel turns the
rest into the window's distribution for Wasserstein, PSI and Jensen-Shannon. Up to `EXACT_VALUES_LIMIT` values per
column are also kept verbatim, so small windows are computed exactly, exactly as scipy does.

This module is pure computation: no storage, no database.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drifting_etl.core.columns import ColumnType

EDGE_LIMIT = 2048
"""Most bin edges per numerical column; a reference with more distinct values is binned at its quantiles."""
EXACT_VALUES_LIMIT = 200_000
"""Windows with at most this many values in a column keep them, and their drift is computed exactly."""
EXACT_TAIL_EDGES = 256
"""With quantile edges, the most extreme distinct reference values at each end are edges too."""
TAIL_BINS = 1024
"""Sub-bins beyond each end of the reference range, each 1/128 of the range wide (the last one open-ended)."""
EXTREME_EDGES = 16
EXTREMES_LIMIT = 16384
"""See `NumericalProfile.extremes`."""
ENDS_KEPT = 1024
"""See `NumericalProfile.lowest`."""
SMALL_COUNTS_LIMIT = 64
"""Distinct numerical values counted exactly (enough to pick a test by unique-value count, and for value-count tests)."""
SKETCH_BITS = 12
SKETCH_REGISTERS = 1 << SKETCH_BITS
"""HyperLogLog registers of a categorical column's distinct-count sketch."""
CATEGORY_LIMIT = 10_000
"""Distinct categories counted per column; rarer ones beyond this are pooled in `OTHER_CATEGORY`."""
OTHER_CATEGORY = "\x00other"


def numeric_array(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column as float64 numpy, nulls as NaN. Booleans count as 0/1."""
    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int8())
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    array = pc.cast(column, pa.float64(), safe=False)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return float_values(array)


@dataclass(frozen=True)
class ParsedNumbers:
    """A numerical column as float64 numpy (nulls and unreadable values as NaN), and what its logged type cost."""

    values: np.ndarray
    mismatched: int = 0
    """Non-null values logged with a type that is not numeric (strings): each one is a type mismatch."""
    unreadable: int = 0
    """Those of them that could not be read as a number: NaN in `values`, so counted missing."""
    example: str | None = None
    """One offending value, as logged (an unreadable one when there is one)."""


def parse_numbers(column: pa.Array | pa.ChunkedArray) -> ParsedNumbers:
    """A numerical column as numbers, counting the values logged as text: those that parse ("1.5") are used as the
    numbers they spell, those that do not ("n/a") become NaN, and both are counted, never silently coerced."""
    value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not is_text(value_type):
        return ParsedNumbers(numeric_array(column))
    if pa.types.is_dictionary(column.type) or pa.types.is_string_view(value_type):
        column = pc.cast(column, pa.string())
    text = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    mismatched = len(text) - text.null_count
    trimmed = pc.utf8_trim_whitespace(text)
    try:
        values = float_values(pc.cast(trimmed, pa.float64()))
        unreadable, example = 0, None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        strings = trimmed.to_pylist()
        values = np.array([_number_or_nan(value) for value in strings], dtype=np.float64)
        failed = [value for value in strings if value is not None and math.isnan(_number_or_nan(value))]
        failed = [value for value in failed if value.strip().lower() not in _NAN_TEXTS]
        unreadable, example = len(failed), (failed[0] if failed else None)
    if example is None and mismatched:
        example = next(value for value in text.to_pylist() if value is not None)
    return ParsedNumbers(values, mismatched, unreadable, example)


def is_text(data_type: pa.DataType) -> bool:
    """Whether an Arrow type holds text (numbers logged as text are parsed by `parse_numbers`)."""
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type)


_NAN_TEXTS = frozenset({"nan", "+nan", "-nan"})


def _number_or_nan(text: str | None) -> float:
    if text is None:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def float_values(array: pa.Array) -> np.ndarray:
    """A float64 Arrow array as numpy, nulls as NaN, read from its buffers (`Array.to_numpy` imports pandas: 0.2 s
    of every run's start-up)."""
    values = fixed_width_values(array, np.float64)
    if array.null_count:
        values = np.where(valid_mask(array), values, np.nan)
    return values


def valid_mask(array: pa.Array) -> np.ndarray:
    """Which entries of an Arrow array are not null, as a numpy boolean array."""
    if not array.null_count:
        return np.ones(len(array), dtype=bool)
    end = array.offset + len(array)
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], np.uint8), count=end, bitorder="little")
    return bits[array.offset :].astype(bool)


def fixed_width_values(array: pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """The data buffer of a fixed-width Arrow array as numpy (entries under nulls are undefined)."""
    if not len(array):
        return np.zeros(0, dtype)
    end = array.offset + len(array)
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=end)[array.offset :]


def category_counts(column: pa.Array | pa.ChunkedArray) -> tuple[dict[str, int], int]:
    """(count per category key, null count) of a column. Values sharing a key (0.0 and -0.0) are counted together."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    counts: dict[str, int] = {}
    missing = 0
    for chunk in chunks:
        missing += chunk.null_count
        if pa.types.is_dictionary(chunk.type):  # as Parquet stores strings: count codes, not strings
            codes = pc.drop_null(chunk.indices).cast(pa.int64())
            per_code = np.bincount(fixed_width_values(codes, np.int64), minlength=len(chunk.dictionary))
            present = np.flatnonzero(per_code)
            dictionary = chunk.dictionary.to_pylist()
            values, value_counts = [dictionary[code] for code in present], per_code[present].tolist()
        else:
            if pa.types.is_floating(chunk.type):  # NaN is missing, as a null is (and as Evidently drops it)
                nan = int(pc.sum(pc.is_nan(chunk)).as_py() or 0)
                missing += nan
                chunk = chunk.filter(pc.invert(pc.is_nan(chunk))) if nan else chunk
            if len(chunk) == chunk.null_count:
                continue
            distinct = pc.value_counts(chunk.drop_null())
            values, value_counts = distinct.field("values").to_pylist(), distinct.field("counts").to_pylist()
        for value, n in zip(values, value_counts, strict=True):
            key = category_key(value)
            counts[key] = counts.get(key, 0) + n
    return counts, missing


def category_key(value: Any) -> str:
    """The text a category value is compared as (logs and reference may store it as int, bool or string)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ====================================================================== reference


@dataclass(frozen=True)
class NumericalReference:
    """A reference column, with its values kept in memory for exact computations (they are not serialised)."""

    count: int
    missing: int
    distinct: int
    minimum: float
    maximum: float
    mean: float
    std: float
    edges: np.ndarray
    exact_edges: bool
    cell_counts: np.ndarray
    cell_sums: np.ndarray
    small_counts: dict[float, int] | None
    values: np.ndarray | None = field(default=None, compare=False, repr=False)

    column_type: ColumnType = "numerical"

    @classmethod
    def fit(cls, raw: np.ndarray) -> NumericalReference:
        missing = int(np.count_nonzero(~np.isfinite(raw)))
        values = np.sort(raw[np.isfinite(raw)])
        if values.size == 0:
            raise ValueError("no finite values")
        distinct_values = np.unique(values)
        if distinct_values.size <= EDGE_LIMIT:
            edges, exact = distinct_values, True
        else:  # quantiles in the body, every distinct value in the tails, where distributions are sparse
            body = np.quantile(values, np.linspace(0.0, 1.0, EDGE_LIMIT - 2 * EXACT_TAIL_EDGES))
            tails = np.concatenate([distinct_values[:EXACT_TAIL_EDGES], distinct_values[-EXACT_TAIL_EDGES:]])
            edges, exact = np.unique(np.concatenate([body, tails])), False
        counts, sums = cell_statistics(values, edges)
        small: dict[float, int] | None = None
        if distinct_values.size <= SMALL_COUNTS_LIMIT:
            uniques, unique_counts = np.unique(values, return_counts=True)
            small = {float(v): int(c) for v, c in zip(uniques, unique_counts, strict=True)}
        return cls(
            count=int(values.size),
            missing=missing,
            distinct=int(distinct_values.size),
            minimum=float(values[0]),
            maximum=float(values[-1]),
            mean=float(values.mean()),
            std=float(values.std()),
            edges=edges,
            exact_edges=exact,
            cell_counts=counts,
            cell_sums=sums,
            small_counts=small,
            values=values,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "numerical",
            "count": self.count,
            "missing": self.missing,
            "distinct": self.distinct,
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
            "std": self.std,
            "exact_edges": self.exact_edges,
            "edges": self.edges.tolist(),
            "cell_counts": self.cell_counts.tolist(),
            "cell_sums": self.cell_sums.tolist(),
            "small_counts": None if self.small_counts is None else [[v, c] for v, c in self.small_counts.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NumericalReference:
        small = data["small_counts"]
        return cls(
            count=data["count"],
            missing=data["missing"],
            distinct=data["distinct"],
            minimum=data["min"],
            maximum=data["max"],
            mean=data["mean"],
            std=data["std"],
            edges=np.asarray(data["edges"], dtype=np.float64),
            exact_edges=data["exact_edges"],
            cell_counts=np.asarray(data["cell_counts"], dtype=np.int64),
            cell_sums=np.asarray(data["cell_sums"], dtype=np.float64),
            small_counts=None if small is None else {float(v): int(c) for v, c in small},
        )


@dataclass(frozen=True)
class CategoricalReference:
    count: int
    missing: int
    counts: dict[str, int]

    column_type: ColumnType = "categorical"

    @property
    def distinct(self) -> int:
        return len(self.counts)

    @classmethod
    def fit(cls, column: pa.Array | pa.ChunkedArray) -> CategoricalReference:
        counts, missing = category_counts(column)
        if not counts:
            raise ValueError("no non-missing values")
        return cls(count=sum(counts.values()), missing=missing, counts=counts)

    def to_json(self) -> dict[str, Any]:
        return {"type": "categorical", "count": self.count, "missing": self.missing, "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CategoricalReference:
        return cls(count=data["count"], missing=data["missing"], counts=dict(data["counts"]))


ColumnReference = NumericalReference | CategoricalReference


@dataclass(frozen=True)
class ReferenceProfile:
    """Fitted statistics of the reference data: one entry per monitored column (features and prediction)."""

    version: str
    row_count: int
    columns: dict[str, ColumnReference]

    def to_json(self) -> str:
        body = {
            "format": 1,
            "version": self.version,
            "row_count": self.row_count,
            "columns": {name: column.to_json() for name, column in self.columns.items()},
        }
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        data = json.loads(text)
        columns: dict[str, ColumnReference] = {}
        for name, column in data["columns"].items():
            columns[name] = (NumericalReference if column["type"] == "numerical" else CategoricalReference).from_json(
                column
            )
        return cls(version=data["version"], row_count=data["row_count"], columns=columns)

    def with_values(self, table: pa.Table) -> ReferenceProfile:
        """Attach the reference's numerical values (for exact computations) from the reference table."""
        columns: dict[str, ColumnReference] = {}
        for name, column in self.columns.items():
            if isinstance(column, NumericalReference):
                raw = numeric_array(table.column(name))
                column = replace(column, values=np.sort(raw[np.isfinite(raw)]))
            columns[name] = column
        return replace(self, columns=columns)


def fit_reference(table: pa.Table, column_types: dict[str, ColumnType], *, source_digest: str) -> ReferenceProfile:
    """Fit the reference profile of the given columns. Raises ValueError naming the column on unusable data."""
    columns: dict[str, ColumnReference] = {}
    for name, kind in column_types.items():
        try:
            if kind == "numerical":
                columns[name] = NumericalReference.fit(numeric_array(table.column(name)))
            else:
                columns[name] = CategoricalReference.fit(table.column(name))
        except (ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"column {name!r}: {exc}") from exc
    digest = hashlib.sha256(source_digest.encode())
    digest.update(json.dumps(sorted(column_types.items())).encode())
    return ReferenceProfile(version=digest.hexdigest()[:16], row_count=table.num_rows, columns=columns)


# ====================================================================== window


def cell_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell of each finite value: 0 below edges[0], 2i+1 equal to edges[i], 2i+2 between edges[i] and edges[i+1],
    2m above the last of m edges."""
    right = np.searchsorted(edges, values, side="right")
    on_edge = edges[np.maximum(right - 1, 0)] == values
    return 2 * right - on_edge


def cell_bounds(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Where each cell starts and ends in sorted values: cell k holds ordered[bounds[k]:bounds[k + 1]].

    Finding the 2m edge positions in the sorted values is far cheaper than placing every value among the edges
    (numpy's vectorised sort is about 7x faster than a per-value binary search), and gives the same cells."""
    bounds = np.empty(2 * edges.size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, ordered.size
    bounds[1:-1:2] = np.searchsorted(ordered, edges, side="left")
    bounds[2:-1:2] = np.searchsorted(ordered, edges, side="right")
    return bounds


def cell_statistics(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count, sum) of the values in each cell (see `cell_index`); `values` must be finite."""
    return _sorted_cell_statistics(np.sort(values), edges)


def _sorted_cell_statistics(ordered: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bounds = cell_bounds(ordered, edges)
    starts, counts = bounds[:-1], np.diff(bounds)
    sums = np.zeros(counts.size)
    occupied = counts > 0
    if occupied.any():
        sums[occupied] = np.add.reduceat(ordered, starts[occupied])  # each occupied cell's run of sorted values
    return counts, sums


def _squared_deviations(values: np.ndarray, mean: float) -> float:
    deviations = np.subtract(values, mean, out=_scratch(1, values.size))
    return float(np.square(deviations, out=deviations).sum())  # not a BLAS dot: its idle threads spin on the cores


_scratch_buffers = threading.local()


def _scratch(slot: int, size: int) -> np.ndarray:
    """This thread's reusable float64 buffer number `slot` (0 or 1), `size` long. Profiling a column in fresh arrays
    costs as much in page faults as the sort itself (the allocator hands large blocks back to the system at once)."""
    buffers: list[np.ndarray] = getattr(_scratch_buffers, "buffers", None) or [np.empty(0), np.empty(0)]
    _scratch_buffers.buffers = buffers
    if buffers[slot].size < size:
        buffers[slot] = np.empty(size)
    return buffers[slot][:size]


def extreme_zone(edges: np.ndarray) -> tuple[int, int]:
    """Indexes of the edges that bound the extreme zones: values below edges[low] or above edges[high]."""
    low = min(EXTREME_EDGES, edges.size - 1)
    return low, max(edges.size - 1 - EXTREME_EDGES, low)


def _extremes(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray | None:
    low, high = extreme_zone(edges)
    below = int(np.searchsorted(ordered, edges[low], side="left"))
    above = int(np.searchsorted(ordered, edges[high], side="right"))
    if below + ordered.size - above > EXTREMES_LIMIT:
        return None
    return np.concatenate([ordered[:below], ordered[above:]])


def tail_width(edges: np.ndarray) -> float:
    span = float(edges[-1] - edges[0])
    return span / 128 if span > 0 else max(abs(float(edges[0])), 1.0) / 128


def _tail_statistics(below: np.ndarray, above: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count, sum) of the values below and above the reference range in `TAIL_BINS` sub-bins per side: each of shape
    (2, TAIL_BINS). Beyond the range the reference's CDF is 0 or 1, so these place the window's mass there exactly."""
    width = tail_width(edges)
    counts = np.zeros((2, TAIL_BINS), dtype=np.int64)
    sums = np.zeros((2, TAIL_BINS))
    for side, (values, distance) in enumerate(((below, edges[0] - below), (above, above - edges[-1]))):
        if distance.size:
            # capped before the cast: a value beyond 2**63 widths (1e300, a uint64 near its top) would wrap negative
            bins = np.minimum(distance / width, TAIL_BINS - 1).astype(np.int64)
            counts[side] = np.bincount(bins, minlength=TAIL_BINS)
            sums[side] = np.bincount(bins, weights=values, minlength=TAIL_BINS)
    return counts, sums


@dataclass(frozen=True)
class NumericalProfile:
    rows: int
    missing: int
    non_finite: int
    count: int
    minimum: float
    maximum: float
    mean: float
    m2: float
    cell_counts: np.ndarray
    cell_sums: np.ndarray
    tail_counts: np.ndarray
    tail_sums: np.ndarray
    """Count and sum of the values in each sub-bin beyond either end of the reference range (see `TAIL_BINS`)."""
    small_counts: dict[float, int] | None
    values: np.ndarray | None
    extremes: np.ndarray | None = field(default_factory=lambda: np.zeros(0))
    """The values beyond the reference's `EXTREME_EDGES`-th edge from either end, while there are at most
    `EXTREMES_LIMIT` of them (then None). A window like the reference has a few hundred; they decide the sparse
    outer bins of PSI and Jensen-Shannon, where a modelled count is off by a value or two."""
    lowest: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The window's `ENDS_KEPT` smallest finite values, sorted (and `highest` its largest): the histogram bins at the
    ends of its range may hold a handful of values, and PSI weighs a handful as heavily as thousands."""
    highest: np.ndarray = field(default_factory=lambda: np.zeros(0))
    type_mismatch: int = 0
    """Values logged with a non-numeric type (numbers sent as strings; see `parse_numbers`)."""
    unreadable: int = 0
    """Of those, the values that are not numbers at all: counted in `missing` too."""
    mismatch_example: str | None = None
    """One offending value, as logged (an unreadable one when there is one)."""

    column_type: ColumnType = "numerical"

    @classmethod
    def empty(cls, edges: np.ndarray) -> NumericalProfile:
        size = 2 * edges.size + 1
        return cls(
            0,
            0,
            0,
            0,
            math.inf,
            -math.inf,
            0.0,
            0.0,
            np.zeros(size, np.int64),
            np.zeros(size),
            np.zeros((2, TAIL_BINS), np.int64),
            np.zeros((2, TAIL_BINS)),
            {},
            np.zeros(0),
        )

    @classmethod
    def of(
        cls, raw: np.ndarray, edges: np.ndarray, *, keep_values: bool = True, values_limit: int | None = None
    ) -> NumericalProfile:
        """The profile of some values (NaN = missing, +-inf = non-finite), from one sort of them. `keep_values=False`
        when they are known to belong to more than `EXACT_VALUES_LIMIT` values (merging would drop them); a larger
        `values_limit` (default `EXACT_VALUES_LIMIT`) keeps more of them (sorted), as refinement does."""
        limit = EXACT_VALUES_LIMIT if values_limit is None else values_limit
        ordered = _scratch(0, raw.size)
        ordered[:] = raw
        ordered.sort()  # -inf first, then the finite values, +inf, and NaN last
        first_finite = int(np.searchsorted(ordered, -math.inf, side="right"))
        first_inf = int(np.searchsorted(ordered, math.inf, side="left"))
        first_nan = int(np.searchsorted(ordered, math.nan, side="left"))
        values = ordered[first_finite:first_inf]
        counts, sums = _sorted_cell_statistics(values, edges)
        count = int(values.size)
        mean = float(values.sum()) / count if count else 0.0
        small: dict[float, int] | None = None
        occupied_cells = int(np.count_nonzero(counts))  # distinct values >= occupied cells: often no need to look
        if (
            count
            and occupied_cells <= SMALL_COUNTS_LIMIT
            and np.count_nonzero(values[1:] != values[:-1]) < SMALL_COUNTS_LIMIT
        ):
            uniques, unique_counts = np.unique(values, return_counts=True)
            small = {float(v): int(c) for v, c in zip(uniques, unique_counts, strict=True)}
        elif not count:
            small = {}
        below = values[: counts[0]]
        above = values[count - counts[-1] :]
        tail_counts, tail_sums = _tail_statistics(below, above, edges)
        return cls(
            rows=int(raw.size),
            missing=int(raw.size - first_nan),
            non_finite=first_finite + first_nan - first_inf,
            count=count,
            minimum=float(values[0]) if count else math.inf,
            maximum=float(values[-1]) if count else -math.inf,
            mean=mean,
            m2=_squared_deviations(values, mean),
            cell_counts=counts,
            cell_sums=sums,
            tail_counts=tail_counts,
            tail_sums=tail_sums,
            small_counts=small,
            values=values.copy() if (keep_values and count <= limit) or not count else None,
            extremes=_extremes(values, edges),
            lowest=values[:ENDS_KEPT].copy(),
            highest=values[-ENDS_KEPT:].copy(),
        )

    def merge(self, other: NumericalProfile) -> NumericalProfile:
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count if count else 0.0
        m2 = self.m2 + other.m2 + (delta * delta * self.count * other.count / count if count else 0.0)
        small: dict[float, int] | None = None
        if self.small_counts is not None and other.small_counts is not None:
            small = dict(self.small_counts)
            for value, n in other.small_counts.items():
                small[value] = small.get(value, 0) + n
            if len(small) > SMALL_COUNTS_LIMIT:
                small = None
        values = None
        if self.values is not None and other.values is not None and count <= EXACT_VALUES_LIMIT:
            values = np.concatenate([self.values, other.values])
        extremes = None
        if self.extremes is not None and other.extremes is not None:
            extremes = np.concatenate([self.extremes, other.extremes])
            extremes = extremes if extremes.size <= EXTREMES_LIMIT else None
        return NumericalProfile(
            rows=self.rows + other.rows,
            missing=self.missing + other.missing,
            non_finite=self.non_finite + other.non_finite,
            count=count,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            mean=mean,
            m2=m2,
            cell_counts=self.cell_counts + other.cell_counts,
            cell_sums=self.cell_sums + other.cell_sums,
            tail_counts=self.tail_counts + other.tail_counts,
            tail_sums=self.tail_sums + other.tail_sums,
            small_counts=small,
            values=values,
            extremes=extremes,
            lowest=np.sort(np.concatenate([self.lowest, other.lowest]))[:ENDS_KEPT],
            highest=np.sort(np.concatenate([self.highest, other.highest]))[-ENDS_KEPT:],
            type_mismatch=self.type_mismatch + other.type_mismatch,
            unreadable=self.unreadable + other.unreadable,
            mismatch_example=self._example_with(other),
        )

    def _example_with(self, other: NumericalProfile) -> str | None:
        """An unreadable value rather than one that parsed, when either side has one."""
        if self.unreadable or not other.unreadable:
            return self.mismatch_example if self.mismatch_example is not None else other.mismatch_example
        return other.mismatch_example

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else math.nan

    def below_above(self) -> tuple[int, int]:
        """Values under the reference minimum and over its maximum."""
        return int(self.cell_counts[0]), int(self.cell_counts[-1])


@dataclass(frozen=True)
class CategoricalProfile:
    rows: int
    missing: int
    counts: dict[str, int]
    known: frozenset[str] = frozenset()
    """The reference's categories: always counted exactly. Only unseen categories are ever pooled."""
    sketch: np.ndarray = field(default_factory=lambda: np.zeros(SKETCH_REGISTERS, np.uint8), compare=False)
    """HyperLogLog registers of every category seen: the distinct count once rare categories are pooled."""

    column_type: ColumnType = "categorical"

    @classmethod
    def empty(cls, known: frozenset[str] = frozenset()) -> CategoricalProfile:
        return cls(0, 0, {}, known)

    @classmethod
    def of(cls, column: pa.Array | pa.ChunkedArray, known: frozenset[str] = frozenset()) -> CategoricalProfile:
        counts, missing = category_counts(column)
        return cls(len(column), missing, _capped(counts, known), known, distinct_sketch(counts))

    @property
    def count(self) -> int:
        return self.rows - self.missing

    @property
    def distinct(self) -> int:
        """Distinct categories: exact unless rare ones were pooled, then estimated (about 1.6% standard error)."""
        if OTHER_CATEGORY not in self.counts:
            return len(self.counts)
        return max(round(sketch_estimate(self.sketch)), len(self.counts) - 1)

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        counts = dict(self.counts)
        for key, n in other.counts.items():
            counts[key] = counts.get(key, 0) + n
        known = self.known | other.known
        return CategoricalProfile(
            self.rows + other.rows,
            self.missing + other.missing,
            _capped(counts, known),
            known,
            np.maximum(self.sketch, other.sketch),
        )


def distinct_sketch(keys: Iterable[str]) -> np.ndarray:
    """HyperLogLog registers of some category keys (64-bit BLAKE2b hashes: the same in every process)."""
    registers = np.zeros(SKETCH_REGISTERS, np.uint8)
    positions = [_sketch_position(key) for key in keys]
    if positions:
        indexes, ranks = zip(*positions, strict=True)
        np.maximum.at(registers, np.asarray(indexes), np.asarray(ranks, np.uint8))
    return registers


@functools.lru_cache(maxsize=1 << 16)
def _sketch_position(key: str) -> tuple[int, int]:
    """The register a key updates and the rank it offers (categories recur in every batch: hash each once)."""
    low_bits = 64 - SKETCH_BITS
    hashed = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return hashed >> low_bits, low_bits + 1 - (hashed & ((1 << low_bits) - 1)).bit_length()


def sketch_estimate(registers: np.ndarray) -> float:
    """The HyperLogLog estimate (Flajolet et al. 2007) with linear counting for small counts."""
    m = registers.size
    estimate = 0.7213 / (1 + 1.079 / m) * m * m / float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    zeros = int(np.count_nonzero(registers == 0))
    if estimate <= 2.5 * m and zeros:
        return m * math.log(m / zeros)
    return estimate


def _capped(counts: dict[str, int], known: frozenset[str]) -> dict[str, int]:
    """Pool the rarest unseen categories beyond `CATEGORY_LIMIT` of them into `OTHER_CATEGORY`.

    Reference categories and the total of unseen rows stay exact in any merge order; which unseen categories
    keep their own count can depend on the order (this only affects PSI, flagged approximate).
    """
    unseen = [(key, n) for key, n in counts.items() if key not in known and key != OTHER_CATEGORY]
    if len(unseen) < CATEGORY_LIMIT:
        return counts
    ranked = sorted(unseen, key=lambda item: (-item[1], item[0]))
    kept = {key: n for key, n in counts.items() if key in known}
    kept.update(ranked[: CATEGORY_LIMIT - 1])
    kept[OTHER_CATEGORY] = counts.get(OTHER_CATEGORY, 0) + sum(n for _, n in ranked[CATEGORY_LIMIT - 1 :])
    return kept


ColumnProfile = NumericalProfile | CategoricalProfile


@dataclass(frozen=True)
class WindowProfile:
    """Profiles of every monitored column over some set of rows, against one reference profile version."""

    reference_version: str
    rows: int
    columns: dict[str, ColumnProfile]

    @classmethod
    def empty(cls, reference: ReferenceProfile) -> WindowProfile:
        columns: dict[str, ColumnProfile] = {}
        for name, column in reference.columns.items():
            columns[name] = (
                NumericalProfile.empty(column.edges)
                if isinstance(column, NumericalReference)
                else CategoricalProfile.empty(frozenset(column.counts))
            )
        return cls(reference.version, 0, columns)

    @classmethod
    def of(cls, table: Any, reference: ReferenceProfile, *, keep_values: bool = True) -> WindowProfile:
        """Profile of some rows: anything with `num_rows` and `column(name)` (a table, a batch, extract.RowGroupRows)."""
        columns: dict[str, ColumnProfile] = {}
        for name, column_reference in reference.columns.items():
            column = table.column(name)
            if isinstance(column_reference, NumericalReference):
                parsed = parse_numbers(column)
                profile = NumericalProfile.of(parsed.values, column_reference.edges, keep_values=keep_values)
                if parsed.mismatched:
                    profile = replace(
                        profile,
                        type_mismatch=parsed.mismatched,
                        unreadable=parsed.unreadable,
                        mismatch_example=parsed.example,
                    )
                columns[name] = profile
            else:
                columns[name] = CategoricalProfile.of(column, frozenset(column_reference.counts))
        return cls(reference.version, table.num_rows, columns)

    def merge(self, other: WindowProfile) -> WindowProfile:
        if self.reference_version != other.reference_version:
            raise ValueError("cannot merge profiles fitted against different reference versions")
        merged = {name: column.merge(other.columns[name]) for name, column in self.columns.items()}  # type: ignore[arg-type]
        return WindowProfile(self.reference_version, self.rows + other.rows, merged)

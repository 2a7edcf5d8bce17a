"""Reference and window shares over common bins: what chisquare, ztest, psi and jensenshannon are computed from.

As Evidently's `get_binned_data` (without its zero filling, which PSI does itself): categories are compared value
by value; numerical columns with more than `BINNED_MIN_DISTINCT` reference values on Sturges bins over the
combined range, fewer by value. `exact_shares` gives the shares scipy / Evidently would count from the values, or
None when the window's profile cannot give them; `profile_shares` always gives them from the profile (modelled
where it must be: see `CellModel`).

Pure computation; it knows nothing of methods or thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from drifting_etl.metrics.drift.cell_model import CellModel
from drifting_etl.metrics.drift.count_bounds import count_below_bounds
from drifting_etl.profiles.columns import (
    OTHER_CATEGORY,
    CategoricalProfile,
    CategoricalReference,
    ColumnProfile,
    ColumnReference,
    NumericalProfile,
    NumericalReference,
)

BINNED_MIN_DISTINCT = 20  # Evidently bins a numerical column for PSI / Jensen-Shannon above this many reference values


@dataclass(frozen=True)
class Shares:
    reference: np.ndarray
    current: np.ndarray
    approximate: bool
    current_count: int = 0
    """The window's values over the bins (what `current` is a share of)."""
    below_low: np.ndarray | None = None
    """For modelled shares, the fewest and most window values below each inner bin boundary that the profile allows
    (count_bounds.py): certain bounds on the shares. None for exact shares, or when no bounds are known."""
    below_high: np.ndarray | None = None


def exact_shares(reference: ColumnReference, current: ColumnProfile) -> Shares | None:
    """The shares as counted from the values; None when the window's profile only models them."""
    if isinstance(reference, CategoricalReference):
        assert isinstance(current, CategoricalProfile)
        if OTHER_CATEGORY in current.counts:  # unseen categories pooled beyond the category limit
            return None
        return Shares(*_count_shares(reference.counts, reference.count, current.counts, current.count), False)
    assert isinstance(current, NumericalProfile)
    if reference.distinct > BINNED_MIN_DISTINCT:
        return None if current.values is None else _sturges_shares_of_values(reference, current)
    if reference.small_counts is not None:
        counts = value_counts(current)
        if counts is not None:
            return Shares(*_count_shares(reference.small_counts, reference.count, counts, current.count), False)
    return None


def profile_shares(reference: ColumnReference, current: ColumnProfile) -> Shares:
    """The shares from the window's profile: its counts where they are exact, its cell model otherwise."""
    if isinstance(reference, CategoricalReference):
        assert isinstance(current, CategoricalProfile)
        pooled = OTHER_CATEGORY in current.counts  # unseen categories pooled: exact for JS and chi-squared, not PSI
        return Shares(*_count_shares(reference.counts, reference.count, current.counts, current.count), pooled)
    assert isinstance(current, NumericalProfile)
    if reference.distinct > BINNED_MIN_DISTINCT:
        return _modelled_sturges_shares(reference, current)
    assert reference.small_counts is not None
    counts = value_counts(current)
    if counts is not None:
        return Shares(*_count_shares(reference.small_counts, reference.count, counts, current.count), False)
    # Many distinct window values, not kept, against a low-cardinality reference: values off the reference set are
    # pooled into one bin.
    points = current.cell_counts[1::2]
    ref_counts: dict[float | str, int] = {value: n for value, n in reference.small_counts.items()}
    cur_counts: dict[float | str, int] = {float(edge): int(n) for edge, n in zip(reference.edges, points, strict=True)}
    ref_counts["off-reference"] = 0
    cur_counts["off-reference"] = current.count - int(points.sum())
    return Shares(*_count_shares(ref_counts, reference.count, cur_counts, current.count), True)


def value_counts(current: NumericalProfile) -> Mapping[float, int] | None:
    """The window's count per distinct value, as Evidently bins a column whose reference has few values: from its
    small counts, else from its kept values (any number of distinct ones); None when it kept neither."""
    if current.small_counts is not None:
        return current.small_counts
    if current.values is None:
        return None
    values, counts = np.unique(current.values, return_counts=True)
    return {float(value): int(n) for value, n in zip(values, counts, strict=True)}


def _count_shares(ref: Mapping, ref_total: int, cur: Mapping, cur_total: int) -> tuple[np.ndarray, np.ndarray]:
    # sorted: the same data gives the same bits in any process (set order of strings varies with hash seeds)
    keys = sorted(ref.keys() | cur.keys(), key=lambda key: (isinstance(key, str), key))
    return (
        np.array([ref.get(key, 0) / ref_total for key in keys]),
        np.array([cur.get(key, 0) / cur_total for key in keys]),
    )


def _sturges_shares_of_values(reference: NumericalReference, current: NumericalProfile) -> Shares:
    assert reference.values is not None and current.values is not None
    values = current.values
    bins = np.histogram_bin_edges(np.concatenate([reference.values, values]), bins="sturges")
    cur_counts = np.histogram(values, bins)[0]
    ref_counts = np.histogram(reference.values, bins)[0]
    return Shares(ref_counts / reference.count, cur_counts / current.count, False)


def _modelled_sturges_shares(reference: NumericalReference, current: NumericalProfile) -> Shares:
    assert reference.values is not None
    low, high = min(reference.minimum, current.minimum), max(reference.maximum, current.maximum)
    bins = sturges_edges(low, high, reference.count + current.count)
    cur_counts = _spread_cells(current, reference.edges, bins)
    ref_counts = np.histogram(reference.values, bins)[0]
    below_low, below_high = count_below_bounds(current, reference.edges, bins[1:-1])
    return Shares(ref_counts / reference.count, cur_counts / current.count, True, current.count, below_low, below_high)


def sturges_edges(low: float, high: float, count: int) -> np.ndarray:
    """`np.histogram_bin_edges(data, "sturges")` of `count` values from `low` to `high`, from those three numbers
    alone. It repeats numpy's arithmetic — width = range / (log2 count + 1), then ceil(range / width) bins — rather
    than ceil(log2 count + 1): float rounding makes the two differ by one bin for some ranges when `count` is a
    power of two. A constant column gets numpy's one bin [value - 0.5, value + 0.5]."""
    if low == high:
        return np.array([low - 0.5, high + 0.5])
    width = (high - low) / (np.log2(count) + 1.0)
    return np.histogram_bin_edges(np.array([low, high]), bins=int(np.ceil((high - low) / width)), range=(low, high))


def _spread_cells(current: NumericalProfile, edges: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Window counts per histogram bin ([a, b), the last one [a, b], as np.histogram counts), from the cell model."""
    model = CellModel.of(current, edges)
    below = model.below(bins, inclusive=False)
    counts = np.diff(below)
    counts[-1] += model.below(bins[-1:], inclusive=True)[0] - below[-1]
    return counts

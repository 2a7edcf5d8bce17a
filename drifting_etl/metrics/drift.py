"""Drift of each monitored column between the reference and a window, and the dataset-level verdict.

`auto` reproduces Evidently's DataDriftPreset defaults (evidently 0.7, `_get_default_stattest`):

    reference rows <= 1000:  numerical with > 5 unique values -> ks;  else > 2 unique -> chisquare;  else ztest
    reference rows  > 1000:  numerical with > 5 unique values -> wasserstein;  else jensenshannon

where "rows" are the reference's non-missing finite values and "unique" counts the union of reference and window.
Thresholds default as there: p-value 0.05 for ks / chisquare / ztest (drift when p is below it; ks: at or below),
distance 0.1 for wasserstein (normed by the reference's std) / psi / jensenshannon (drift at or above it).
PSI and Jensen-Shannon bin numerical columns with more than 20 reference values on Sturges bins over the
combined range, and compare value frequencies otherwise, as Evidently does.

A window that kept its values (`NumericalProfile.values`) is computed exactly as scipy does. A larger window
is computed from its cell counts; the result says `approximate=True` (see profiles.py for the error sources).
Pure computation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from drifting_etl.core.columns import ColumnType
from drifting_etl.profiles.columns import (
    OTHER_CATEGORY,
    TAIL_BINS,
    CategoricalProfile,
    CategoricalReference,
    ColumnProfile,
    ColumnReference,
    NumericalProfile,
    NumericalReference,
    extreme_zone,
    tail_width,
)

Method = Literal["ks", "chisquare", "ztest", "psi", "wasserstein", "jensenshannon"]
METHODS: tuple[Method, ...] = ("ks", "chisquare", "ztest", "psi", "wasserstein", "jensenshannon")
DEFAULT_THRESHOLDS: dict[Method, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "ztest": 0.05,
    "psi": 0.1,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
}
P_VALUE_METHODS = frozenset({"ks", "chisquare", "ztest"})
SMALL_REFERENCE_ROWS = 1000
BINNED_MIN_DISTINCT = 20  # Evidently bins a numerical column for PSI / Jensen-Shannon above this many reference values


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    column_type: ColumnType
    method: Method
    score: float
    """The value compared with the threshold: a p-value for ks / chisquare / ztest, else a distance."""
    statistic: float | None
    """The test statistic where there is one (KS D, chi-squared, z)."""
    threshold: float
    drifted: bool
    approximate: bool
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class DatasetDrift:
    drifted_count: int
    feature_count: int
    drift_share: float
    drift_share_threshold: float
    drifted: bool


def auto_method(reference: ColumnReference, current: ColumnProfile) -> Method:
    unique = union_distinct(reference, current)
    if reference.count <= SMALL_REFERENCE_ROWS:
        if reference.column_type == "numerical" and unique > 5:
            return "ks"
        return "chisquare" if unique > 2 else "ztest"
    if reference.column_type == "numerical" and unique > 5:
        return "wasserstein"
    return "jensenshannon"


def union_distinct(reference: ColumnReference, current: ColumnProfile) -> int:
    """Distinct non-missing values of reference and window together (exact up to a few dozen, then 'many')."""
    if isinstance(reference, CategoricalReference):
        assert isinstance(current, CategoricalProfile)
        return len(reference.counts.keys() | current.counts.keys())
    assert isinstance(current, NumericalProfile)
    if reference.small_counts is None or current.small_counts is None:
        return max(reference.distinct, 10**9)
    return len(reference.small_counts.keys() | current.small_counts.keys())


def column_drift(
    name: str, reference: ColumnReference, current: ColumnProfile, method: str = "auto", threshold: float | None = None
) -> ColumnDrift | None:
    """Drift of one column; None when the window has no usable value in it (reported as data quality instead)."""
    if current.count == 0 or reference.count == 0:
        return None
    chosen: Method = auto_method(reference, current) if method == "auto" else method  # type: ignore[assignment]
    limit = DEFAULT_THRESHOLDS[chosen] if threshold is None else threshold
    approximate = False
    statistic: float | None = None
    if chosen == "ks":
        assert isinstance(reference, NumericalReference) and isinstance(current, NumericalProfile)
        statistic, score, approximate = _ks(reference, current)
    elif chosen == "wasserstein":
        assert isinstance(reference, NumericalReference) and isinstance(current, NumericalProfile)
        score, approximate = _wasserstein(reference, current)
    else:
        ref_freq, cur_freq, approximate = _frequencies(reference, current)
        if chosen == "chisquare":
            statistic, score = _chisquare(ref_freq, cur_freq, current.count)
        elif chosen == "ztest":
            statistic, score = _ztest(reference, current, ref_freq, cur_freq)
        elif chosen == "psi":
            score = _psi(ref_freq, cur_freq)
        else:
            score = jensenshannon(ref_freq, cur_freq)
    drifted = is_drift(chosen, score, limit)
    return ColumnDrift(
        column=name,
        column_type=reference.column_type,
        method=chosen,
        score=float(score),
        statistic=None if statistic is None or not math.isfinite(statistic) else float(statistic),
        threshold=float(limit),
        drifted=bool(drifted),
        approximate=approximate,
        reference_rows=reference.count,
        current_rows=current.count,
    )


def is_drift(method: Method, score: float, threshold: float) -> bool:
    """Evidently's verdicts: p <= threshold for KS, p < threshold for the other tests, distance >= threshold."""
    if method == "ks":
        return score <= threshold
    if method in P_VALUE_METHODS:
        return score < threshold
    return score >= threshold


def dataset_drift(drifts: Iterable[ColumnDrift], share_threshold: float) -> DatasetDrift:
    results = list(drifts)
    drifted = sum(result.drifted for result in results)
    share = drifted / len(results) if results else 0.0
    return DatasetDrift(drifted, len(results), share, share_threshold, bool(results) and share >= share_threshold)


# ---------------------------------------------------------------------------------------------------- methods


def _ks(reference: NumericalReference, current: NumericalProfile) -> tuple[float, float, bool]:
    from scipy import stats  # imported on first use: half a second that other commands need not pay

    if current.values is not None and reference.values is not None:
        result = stats.ks_2samp(reference.values, current.values)
        return float(result.statistic), float(result.pvalue), False
    # The reference CDF is a step function on its edges; between two edges the window CDF is monotone, so the
    # supremum is reached at an edge or at the end of a gap. Exact when the edges are every reference value.
    n1, n2 = reference.count, current.count
    ref_cum = np.cumsum(reference.cell_counts)
    cur_cum = np.cumsum(current.cell_counts)
    diffs = ref_cum / n1 - cur_cum / n2
    d = float(max(np.clip(-diffs.min(), 0, 1), diffs.max()))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return d, p, not reference.exact_edges


def _wasserstein(reference: NumericalReference, current: NumericalProfile) -> tuple[float, bool]:
    assert reference.values is not None
    norm = max(float(np.std(reference.values)), 0.001)
    if current.values is not None:
        return wasserstein_distance(reference.values, current.values) / norm, False
    return _modelled_wasserstein(reference, current) / norm, True


def _modelled_wasserstein(reference: NumericalReference, current: NumericalProfile, steps: int = 8) -> float:
    """The area between the reference's exact CDF and the window's modelled one (`CellModel`), by the trapezoidal
    rule on `steps` points per piece of the model, every edge, and both ranges' ends."""
    assert reference.values is not None
    model = CellModel.of(current, reference.edges)
    fractions = np.arange(steps) / steps
    inner = (model.low[:, None] + (model.high - model.low)[:, None] * fractions[None, :]).ravel()
    ends = [reference.minimum, reference.maximum, current.minimum, current.maximum]
    x = np.unique(np.concatenate([inner, model.points, model.high, ends]))
    n, m = reference.values.size, current.count
    ref_at = np.searchsorted(reference.values, x, side="right") / n  # on [x_j, x_j+1): right-continuous values
    ref_before = np.searchsorted(reference.values, x, side="left") / n  # left limits
    cur_at, cur_before = model.below(x, inclusive=True) / m, model.below(x, inclusive=False) / m
    left, right = np.abs(ref_at[:-1] - cur_at[:-1]), np.abs(ref_before[1:] - cur_before[1:])
    return float(np.sum(np.diff(x) * (left + right) / 2))


def wasserstein_distance(u: np.ndarray, v: np.ndarray) -> float:
    """The first Wasserstein distance of two 1-D distributions: the area between their CDFs (as scipy.stats defines
    it; computed here because importing scipy.stats costs half a second that large windows need not pay)."""
    points = np.sort(np.concatenate([u, v]), kind="mergesort")
    gaps = np.diff(points)
    return float(np.sum(np.abs(_cdf_at(u, points[:-1]) - _cdf_at(v, points[:-1])) * gaps))


def _cdf_at(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(values), points, side="right") / values.size


def jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (natural logarithm) of two histograms, as scipy.spatial.distance defines it."""
    p, q = p / np.sum(p), q / np.sum(q)
    middle = (p + q) / 2
    return float(np.sqrt((_relative_entropy(p, middle) + _relative_entropy(q, middle)) / 2))


def _relative_entropy(p: np.ndarray, q: np.ndarray) -> float:
    terms = np.zeros_like(p, dtype=np.float64)
    present = p > 0  # middle > 0 wherever p > 0
    terms[present] = p[present] * np.log(p[present] / q[present])
    return float(terms.sum())


def _frequencies(reference: ColumnReference, current: ColumnProfile) -> tuple[np.ndarray, np.ndarray, bool]:
    """Reference and window shares over common bins (Evidently's `get_binned_data` without zero filling)."""
    if isinstance(reference, CategoricalReference):
        assert isinstance(current, CategoricalProfile)
        pooled = OTHER_CATEGORY in current.counts  # unseen categories pooled: exact for JS and chi-squared, not PSI
        return (*_count_shares(reference.counts, reference.count, current.counts, current.count), pooled)
    assert isinstance(current, NumericalProfile)
    if reference.distinct > BINNED_MIN_DISTINCT:
        return _sturges_shares(reference, current)
    if current.small_counts is not None and reference.small_counts is not None:
        return (*_count_shares(reference.small_counts, reference.count, current.small_counts, current.count), False)
    # Many distinct window values against a low-cardinality reference: values off the reference set are pooled.
    assert reference.small_counts is not None
    points = current.cell_counts[1::2]
    ref_counts: dict[float | str, int] = {value: n for value, n in reference.small_counts.items()}
    cur_counts: dict[float | str, int] = {float(edge): int(n) for edge, n in zip(reference.edges, points, strict=True)}
    ref_counts["off-reference"] = 0
    cur_counts["off-reference"] = current.count - int(points.sum())
    return (*_count_shares(ref_counts, reference.count, cur_counts, current.count), True)


def _count_shares(ref: Mapping, ref_total: int, cur: Mapping, cur_total: int) -> tuple[np.ndarray, np.ndarray]:
    # sorted: the same data gives the same bits in any process (set order of strings varies with hash seeds)
    keys = sorted(ref.keys() | cur.keys(), key=lambda key: (isinstance(key, str), key))
    return (
        np.array([ref.get(key, 0) / ref_total for key in keys]),
        np.array([cur.get(key, 0) / cur_total for key in keys]),
    )


def _sturges_shares(reference: NumericalReference, current: NumericalProfile) -> tuple[np.ndarray, np.ndarray, bool]:
    assert reference.values is not None
    if current.values is not None:
        bins = np.histogram_bin_edges(np.concatenate([reference.values, current.values]), bins="sturges")
        cur_counts = np.histogram(current.values, bins)[0]
        approximate = False
    else:
        low, high = min(reference.minimum, current.minimum), max(reference.maximum, current.maximum)
        total = reference.count + current.count
        # np.histogram_bin_edges(..., "sturges") on the combined data, from its size and range alone
        bins = np.histogram_bin_edges(np.array([low, high]), bins=int(np.ceil(np.log2(total) + 1)), range=(low, high))
        cur_counts = _spread_cells(current, reference.edges, bins)
        approximate = True
    ref_counts = np.histogram(reference.values, bins)[0]
    return ref_counts / reference.count, cur_counts / current.count, approximate


def _spread_cells(current: NumericalProfile, edges: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Window counts per histogram bin ([a, b), the last one [a, b], as np.histogram counts), from the cell model."""
    model = CellModel.of(current, edges)
    below = model.below(bins, inclusive=False)
    counts = np.diff(below)
    counts[-1] += model.below(bins[-1:], inclusive=True)[0] - below[-1]
    return counts


@dataclass(frozen=True)
class CellModel:
    """A window's values as its profile knows them: the values equal to a reference edge exactly, and inside each
    gap between edges (and each tail sub-bin beyond them) a linear density with the gap's count and mean."""

    points: np.ndarray
    """Sorted locations of exact values (the edges; pieces too narrow for a density), with `point_counts`."""
    point_counts: np.ndarray
    low: np.ndarray
    """Pieces with a density, sorted and disjoint: [low, high) holding `mass` values with density slope `slope`."""
    high: np.ndarray
    mass: np.ndarray
    slope: np.ndarray
    lowest: np.ndarray
    """The window's smallest and largest values, known one by one (see NumericalProfile.lowest), and its count."""
    highest: np.ndarray
    count: int

    @classmethod
    def of(cls, current: NumericalProfile, edges: np.ndarray) -> CellModel:
        gap_counts = current.cell_counts[2:-1:2].astype(np.float64)
        gap_means = np.divide(
            current.cell_sums[2:-1:2], gap_counts, out=np.zeros_like(gap_counts), where=gap_counts > 0
        )
        width = tail_width(edges)
        steps = np.arange(TAIL_BINS, dtype=np.float64)
        below_high, above_low = edges[0] - steps * width, edges[-1] + steps * width
        low = np.concatenate([edges[:-1], np.append(below_high[1:], current.minimum), above_low])
        high = np.concatenate([edges[1:], below_high, np.append(above_low[1:], current.maximum)])
        # no value lies beyond the window's own extremes: a piece they cut holds its values on the inner part only
        low, high = np.maximum(low, current.minimum), np.minimum(high, current.maximum)
        mass = np.concatenate([gap_counts, current.tail_counts[0], current.tail_counts[1]]).astype(np.float64)
        mean = np.concatenate([gap_means, (low + high)[edges.size - 1 :] / 2])
        occupied = mass > 0
        edge_counts = current.cell_counts[1::2].astype(np.float64)
        extremes = np.zeros(0) if current.extremes is None else current.extremes
        if current.extremes is not None:  # the values in the outer zones are known one by one: model only the rest
            first, last = extreme_zone(edges)
            gap = np.arange(occupied.size)
            occupied &= (gap >= first) & (gap < last)  # the gaps between edges[first] and edges[last]; no tails
            edge_counts = np.where((np.arange(edges.size) >= first) & (np.arange(edges.size) <= last), edge_counts, 0)
        low, high, mass, mean = low[occupied], high[occupied], mass[occupied], mean[occupied]
        narrow = high <= low
        points = np.concatenate([edges, np.clip(low[narrow], current.minimum, current.maximum), extremes])
        point_counts = np.concatenate([edge_counts, mass[narrow], np.ones(extremes.size)])
        order = np.argsort(points, kind="stable")
        low, high, mass, mean = low[~narrow], high[~narrow], mass[~narrow], mean[~narrow]
        # density (1 + s(2u - 1)) / span on u = (x - low) / span has mean low + span (1/2 + s/6); its CDF u + s(u^2 - u)
        slope = np.clip(6 * ((mean - low) / (high - low) - 0.5), -1, 1)
        by_low = np.argsort(low, kind="stable")
        return cls(
            points[order],
            point_counts[order],
            low[by_low],
            high[by_low],
            mass[by_low],
            slope[by_low],
            current.lowest,
            current.highest,
            current.count,
        )

    def below(self, x: np.ndarray, *, inclusive: bool) -> np.ndarray:
        """How many values are below each of `x` (or at most each of `x`, when `inclusive`)."""
        side: Literal["left", "right"] = "right" if inclusive else "left"
        at_points = np.concatenate([[0.0], np.cumsum(self.point_counts)])[np.searchsorted(self.points, x, side=side)]
        piece = np.searchsorted(self.low, x, side="right") - 1
        before = np.concatenate([[0.0], np.cumsum(self.mass)])[np.maximum(piece, 0)]
        inside = np.maximum(piece, 0)
        span = self.high[inside] - self.low[inside] if self.low.size else np.ones_like(x)
        u = np.clip((x - self.low[inside]) / span, 0, 1) if self.low.size else np.zeros_like(x)
        partial = self.mass[inside] * (u + self.slope[inside] * (u * u - u)) if self.low.size else np.zeros_like(x)
        return self._exact_at_the_ends(x, at_points + np.where(piece >= 0, before + partial, 0.0), side)

    def _exact_at_the_ends(self, x: np.ndarray, modelled: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
        """Counts below `x` that the window's kept smallest and largest values decide, the model's elsewhere (kept
        within what those values allow, so counts stay monotone)."""
        if not self.lowest.size:
            return modelled
        # every value under the k-th smallest kept one is kept; so is every value over the k-th largest
        low_known = self.lowest[-1] > x if side == "right" else self.lowest[-1] >= x
        high_known = self.highest[0] <= x if side == "right" else self.highest[0] < x
        at_least = np.searchsorted(self.lowest, x, side=side).astype(np.float64)
        at_most = self.count - (self.highest.size - np.searchsorted(self.highest, x, side=side))
        bounded = np.minimum(np.maximum(modelled, at_least), at_most)
        return np.where(low_known, at_least, np.where(high_known, at_most, bounded))


def _chisquare(ref_freq: np.ndarray, cur_freq: np.ndarray, current_count: int) -> tuple[float, float]:
    from scipy import stats  # imported on first use: half a second that other commands need not pay

    # Evidently: observed = window counts, expected = reference counts scaled to the window's size.
    observed, expected = np.round(cur_freq * current_count), ref_freq * current_count
    if np.any((expected == 0) & (observed > 0)):
        return math.inf, 0.0  # a category the reference never had: infinitely unlikely under the reference
    keep = expected > 0
    result = stats.chisquare(observed[keep], expected[keep])
    return float(result.statistic), float(result.pvalue)


def _ztest(
    reference: ColumnReference, current: ColumnProfile, ref_freq: np.ndarray, cur_freq: np.ndarray
) -> tuple[float | None, float]:
    ref_values: Mapping[Any, int] = (
        reference.counts if isinstance(reference, CategoricalReference) else reference.small_counts or {}
    )
    cur_values: Mapping[Any, int] = (
        current.counts if isinstance(current, CategoricalProfile) else current.small_counts or {}
    )
    ref_present = [key for key, n in ref_values.items() if n]
    cur_present = [key for key, n in cur_values.items() if n]
    if len(ref_present) == 1 and len(cur_present) == 1 and ref_present[0] == cur_present[0]:
        return None, 1.0
    first = sorted(set(ref_present) | set(cur_present))[0]
    n1, n2 = reference.count, current.count
    p1 = (n1 - ref_values.get(first, 0)) / n1  # share of rows that are not the first value, as Evidently codes it
    p2 = (n2 - cur_values.get(first, 0)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    from scipy import stats

    return float(z), float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _psi(ref_freq: np.ndarray, cur_freq: np.ndarray) -> float:
    ref_freq, cur_freq = _fill_zeroes(ref_freq), _fill_zeroes(cur_freq)
    return float(np.sum((ref_freq - cur_freq) * np.log(ref_freq / cur_freq)))


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Evidently's zero filling for PSI: empty bins get a tiny share so the logarithm is finite."""
    shares = shares.astype(np.float64).copy()
    smallest = shares[shares != 0].min()
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares

"""The six drift methods, one class each, with the computations Evidently 0.7's stat tests define.

Thresholds and comparisons are Evidently's: p-value 0.05 for ks / chisquare / ztest (drift when p is below it; ks:
at or below), distance 0.1 for psi / wasserstein (normed by the reference's std) / jensenshannon (drift at or
above it). A window that kept its values (`NumericalProfile.values`) is computed exactly as scipy does; a larger
one from its profile, and the result says `approximate=True` (see profiles/columns.py for the error sources).

Pure computation. scipy is imported on first use: half a second that other commands need not pay.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from drifting_etl.core.columns import ColumnType
from drifting_etl.metrics.drift.base import DriftMethod, MethodScore
from drifting_etl.metrics.drift.cell_model import CellModel
from drifting_etl.metrics.drift.frequencies import Shares, exact_shares, profile_shares
from drifting_etl.profiles.columns import (
    CategoricalProfile,
    CategoricalReference,
    ColumnProfile,
    ColumnReference,
    NumericalProfile,
    NumericalReference,
)

_NUMERICAL: frozenset[ColumnType] = frozenset({"numerical"})
_ANY: frozenset[ColumnType] = frozenset({"numerical", "categorical"})


# ------------------------------------------------------------------------------------------ on the distribution


class KolmogorovSmirnov(DriftMethod):
    name = "ks"
    title = "Kolmogorov–Smirnov test's p-value"
    column_types = _NUMERICAL
    default_threshold = 0.05
    comparison = "<="
    evidently_stattest = "ks"

    def exact(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore | None:
        reference, current = _numerical(reference, current)
        if current.values is None or reference.values is None:
            return None
        from scipy import stats

        result = stats.ks_2samp(reference.values, current.values)
        return MethodScore(float(result.pvalue), float(result.statistic), False)

    def from_profile(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        from scipy import stats

        reference, current = _numerical(reference, current)
        # The reference CDF is a step function on its edges; between two edges the window CDF is monotone, so the
        # supremum is reached at an edge or at the end of a gap. Exact when the edges are every reference value.
        n1, n2 = reference.count, current.count
        ref_cum = np.cumsum(reference.cell_counts)
        cur_cum = np.cumsum(current.cell_counts)
        diffs = ref_cum / n1 - cur_cum / n2
        d = float(max(np.clip(-diffs.min(), 0, 1), diffs.max()))
        # scipy's asymptotic p-value, which its "auto" mode uses above 10,000 rows: a window reaches this path only
        # beyond EXACT_VALUES_LIMIT values
        m, n = sorted([float(n1), float(n2)], reverse=True)
        p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
        return MethodScore(p, d, not reference.exact_edges)


class Wasserstein(DriftMethod):
    name = "wasserstein"
    title = "Wasserstein distance normed by the reference's std"
    column_types = _NUMERICAL
    default_threshold = 0.1
    comparison = ">="
    evidently_stattest = "wasserstein"

    def exact(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore | None:
        reference, current = _numerical(reference, current)
        if current.values is None:
            return None
        return MethodScore(
            wasserstein_distance(_reference_values(reference), current.values) / _norm(reference), None, False
        )

    def from_profile(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        reference, current = _numerical(reference, current)
        return MethodScore(_modelled_wasserstein(reference, current) / _norm(reference), None, True)


def _norm(reference: NumericalReference) -> float:
    return max(float(np.std(_reference_values(reference))), 0.001)


def _modelled_wasserstein(reference: NumericalReference, current: NumericalProfile, steps: int = 8) -> float:
    """The area between the reference's exact CDF and the window's. Beyond the reference's range its CDF is 0 (below)
    or 1 (above), so there the area is exact from the count and sum of the window's values on each side:
    sum(first edge - v) over the values below it, sum(v - last edge) over those above. Inside the range the window's
    CDF is modelled (`CellModel`) and integrated by the trapezoidal rule on `steps` points per piece of the model,
    every edge, the range's ends and the reference's values that no piece covers."""
    values = _reference_values(reference)
    first, last = float(reference.edges[0]), float(reference.edges[-1])
    m = current.count
    below = float(current.cell_counts[0]) * first - float(current.cell_sums[0])
    above = float(current.cell_sums[-1]) - float(current.cell_counts[-1]) * last
    outside = (max(below, 0.0) + max(above, 0.0)) / m
    if last <= first:
        return outside
    model = CellModel.of(current, reference.edges)
    fractions = np.arange(steps) / steps
    inner = (model.low[:, None] + (model.high - model.low)[:, None] * fractions[None, :]).ravel()
    # where no piece of the model has mass both CDFs are steps: with the reference's values there as points too, the
    # trapezoids are exact
    piece = np.searchsorted(model.low, values, side="right") - 1
    uncovered = values[(piece < 0) | (values >= model.high[np.maximum(piece, 0)])] if model.low.size else values
    grid = np.concatenate([inner, model.points, model.high, uncovered, [first, last]])
    x = np.unique(np.clip(grid, first, last))
    n = values.size
    ref_at = np.searchsorted(values, x, side="right") / n  # on [x_j, x_j+1): right-continuous values
    ref_before = np.searchsorted(values, x, side="left") / n  # left limits
    cur_at, cur_before = model.below(x, inclusive=True) / m, model.below(x, inclusive=False) / m
    left, right = np.abs(ref_at[:-1] - cur_at[:-1]), np.abs(ref_before[1:] - cur_before[1:])
    return outside + float(np.sum(np.diff(x) * (left + right) / 2))


def wasserstein_distance(u: np.ndarray, v: np.ndarray) -> float:
    """The first Wasserstein distance of two 1-D distributions: the area between their CDFs (as scipy.stats defines
    it; computed here because importing scipy.stats costs half a second that large windows need not pay)."""
    points = np.sort(np.concatenate([u, v]), kind="mergesort")
    gaps = np.diff(points)
    return float(np.sum(np.abs(_cdf_at(u, points[:-1]) - _cdf_at(v, points[:-1])) * gaps))


def _cdf_at(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(values), points, side="right") / values.size


def _numerical(reference: ColumnReference, current: ColumnProfile) -> tuple[NumericalReference, NumericalProfile]:
    assert isinstance(reference, NumericalReference) and isinstance(current, NumericalProfile)
    return reference, current


def _reference_values(reference: NumericalReference) -> np.ndarray:
    assert reference.values is not None, "the reference's values are attached when a project is loaded"
    return reference.values


# ------------------------------------------------------------------------------------------ on binned shares


class _OnShares(DriftMethod):
    """A method computed from reference and window shares over common bins: exact when the shares are counted
    (categories; few distinct numbers; a window that kept its values), modelled from the profile otherwise."""

    def exact(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore | None:
        shares = exact_shares(reference, current)
        return None if shares is None else self._scored(shares, reference, current)

    def from_profile(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        return self._scored(profile_shares(reference, current), reference, current)

    def _scored(self, shares: Shares, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        statistic, score = self.on_shares(shares, reference, current)
        return MethodScore(score, statistic, shares.approximate)

    @abstractmethod
    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        """(statistic, score) from the shares."""


class ChiSquared(_OnShares):
    name = "chisquare"
    title = "chi-squared test's p-value"
    column_types = _ANY
    default_threshold = 0.05
    comparison = "<"
    evidently_stattest = "chisquare"

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        from scipy import stats

        # Evidently: observed = window counts, expected = reference counts scaled to the window's size.
        observed, expected = np.round(shares.current * current.count), shares.reference * current.count
        if np.any((expected == 0) & (observed > 0)):
            return math.inf, 0.0  # a category the reference never had: infinitely unlikely under the reference
        keep = expected > 0
        if keep.sum() < 2:
            # One category on both sides: nothing differs and the test has no degree of freedom. scipy (and
            # Evidently, evidently#1929) give NaN; a NaN p-value is never below the threshold, so both call it no
            # drift. Defined here as statistic 0, p-value 1.
            return 0.0, 1.0
        result = stats.chisquare(observed[keep], expected[keep])
        return float(result.statistic), float(result.pvalue)


class ZTest(_OnShares):
    """The two-proportion z-test on the share of rows that are not the first value, as Evidently codes it. It reads
    the value counts themselves; the shares decide only whether the result is approximate."""

    name = "ztest"
    title = "z-test for proportions' p-value"
    column_types = _ANY
    default_threshold = 0.05
    comparison = "<"
    evidently_stattest = "z"

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
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
        p1 = (n1 - ref_values.get(first, 0)) / n1
        p2 = (n2 - cur_values.get(first, 0)) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        from scipy import stats

        return float(z), float(2 * (1 - stats.norm.cdf(np.abs(z))))


class PopulationStabilityIndex(_OnShares):
    name = "psi"
    title = "population stability index"
    column_types = _ANY
    default_threshold = 0.1
    comparison = ">="
    evidently_stattest = "psi"

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        ref_freq, cur_freq = _fill_zeroes(shares.reference), _fill_zeroes(shares.current)
        return None, float(np.sum((ref_freq - cur_freq) * np.log(ref_freq / cur_freq)))


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Evidently's zero filling for PSI: empty bins get a tiny share so the logarithm is finite."""
    shares = shares.astype(np.float64).copy()
    smallest = shares[shares != 0].min()
    shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return shares


class JensenShannon(_OnShares):
    name = "jensenshannon"
    title = "Jensen–Shannon distance"
    column_types = _ANY
    default_threshold = 0.1
    comparison = ">="
    evidently_stattest = "jensenshannon"

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        return None, jensenshannon(shares.reference, shares.current)


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

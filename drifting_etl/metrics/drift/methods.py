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
from drifting_etl.metrics.drift.frequencies import Shares, exact_shares, profile_shares, value_counts
from drifting_etl.metrics.drift.share_bounds import convex_sum_bounds
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

        if max(reference.count, current.count) <= SCIPY_EXACT_KS_ROWS:
            result = stats.ks_2samp(reference.values, current.values)
            return MethodScore(float(result.pvalue), float(result.statistic), False)
        # scipy's asymptotic mode: the same D and p-value, from sorted values without sorting their union
        d = ks_statistic(reference.values, current.values)
        return MethodScore(_asymptotic_ks_p(d, reference.count, current.count), d, False)

    def from_profile(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:

        reference, current = _numerical(reference, current)
        low, estimate, high = ks_statistic_bounds(reference, current)
        # scipy's asymptotic p-value, which its "auto" mode uses above 10,000 rows: a window reaches this path only
        # beyond EXACT_VALUES_LIMIT values. The p-value falls as D grows: D's bounds give the p-value's.

        def p_value(d: float) -> float:
            return _asymptotic_ks_p(d, reference.count, current.count)

        if low == high:
            p = p_value(low)
            return MethodScore(p, low, False, low=p, high=p)
        return MethodScore(p_value(estimate), estimate, True, low=p_value(high), high=p_value(low))


SCIPY_EXACT_KS_ROWS = 10_000
"""scipy's ks_2samp (mode "auto") computes the exact distribution up to this many rows, the asymptotic one above."""


def _asymptotic_ks_p(d: float, n1: int, n2: int) -> float:
    """scipy's asymptotic two-sided p-value of D for samples of n1 and n2 values."""
    from scipy import stats

    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """The two-sample KS statistic of sorted samples, bit for bit as scipy computes it. Between two consecutive
    distinct reference values the reference's CDF is flat and the window's rises, so the largest difference is at
    the reference values themselves (the window's CDF there) or just before them: two binary searches of the
    reference's values in the window's, however long the window."""
    if np.any(current[1:] < current[:-1]):
        current = np.sort(current)
    values, first = np.unique(reference, return_index=True)
    n1, n2 = reference.size, current.size
    ref_at = np.append(first[1:], n1) / n1  # reference values <= each distinct one
    ref_before = first / n1
    cur_at = np.searchsorted(current, values, side="right") / n2
    cur_before = np.searchsorted(current, values, side="left") / n2
    return float(max(np.max(np.abs(ref_at - cur_at)), np.max(np.abs(ref_before - cur_before))))


def ks_statistic_bounds(reference: NumericalReference, current: NumericalProfile) -> tuple[float, float, float]:
    """(lower bound, estimate, upper bound) of the two-sample KS statistic D = sup |F_ref - F_cur| from the window's
    profile.

    Both CDFs are known exactly at every cell boundary (at each edge, and just before it), so D is at least their
    largest difference there. Inside the gap between two edges the window's CDF rises from c to d and the
    reference's from a to b (a = b when the edges are every reference value): no difference there exceeds b - c or
    d - a, which bounds D from above. The estimate adds the differences at the reference's values inside the gaps,
    the window's CDF taken from its cell model, and stays within the bounds."""
    n1, n2 = reference.count, current.count
    ref_cum = np.cumsum(reference.cell_counts) / n1
    cur_cum = np.cumsum(current.cell_counts) / n2
    diffs = ref_cum - cur_cum
    low = float(np.max(np.abs(diffs)))
    # gap g lies between edges g and g + 1: its CDFs start at cell 2g + 1 (the edge, inclusive) and end just before
    # edge g + 1 (cell 2g + 2)
    a, b = ref_cum[1:-2:2], ref_cum[2:-1:2]
    c, d = cur_cum[1:-2:2], cur_cum[2:-1:2]
    high = max(low, float(np.max(b - c, initial=0.0)), float(np.max(d - a, initial=0.0)))
    if high <= low or reference.values is None:
        return low, low, max(low, high)
    values = np.unique(reference.values)
    inside = values[(values > reference.edges[0]) & (values < reference.edges[-1])]
    inside = inside[~np.isin(inside, reference.edges)]
    estimate = low
    if inside.size:
        model = CellModel.of(current, reference.edges)
        ref_at = np.searchsorted(reference.values, inside, side="right") / n1
        cur_at = model.below(inside, inclusive=True) / n2
        estimate = max(low, float(np.max(np.abs(ref_at - cur_at))))
    return low, min(estimate, high), high


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
        norm = _norm(reference)
        low, high = wasserstein_bounds(reference, current)
        estimate = min(max(_modelled_wasserstein(reference, current), low), high)
        return MethodScore(estimate / norm, None, low < high, low=low / norm, high=high / norm)


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


def wasserstein_bounds(reference: NumericalReference, current: NumericalProfile) -> tuple[float, float]:
    """Bounds on the area between the reference's CDF and the window's, from the window's profile alone.

    Beyond the reference's range the area is exact (see `_modelled_wasserstein`), and so is it wherever the window
    holds values equal to an edge. Inside the gap between two edges the window's CDF F rises from c to d, and its
    integral is exact from the count k and sum s of the values there: c * width + (k * right edge - s) / m. With
    h = F - F_ref and H its integral, the area |h| is H + 2 * (area where F < F_ref) = 2 * (area where F > F_ref) - H;
    F >= c and F <= d bound those two areas, and |H| bounds the area from below."""
    values = _reference_values(reference)
    edges = reference.edges
    first, last = float(edges[0]), float(edges[-1])
    m, n = current.count, values.size
    below = float(current.cell_counts[0]) * first - float(current.cell_sums[0])
    above = float(current.cell_sums[-1]) - float(current.cell_counts[-1]) * last
    outside = (max(below, 0.0) + max(above, 0.0)) / m
    if last <= first:
        return outside, outside
    cur_cum = np.cumsum(current.cell_counts) / m
    c, d = cur_cum[1:-2:2], cur_cum[2:-1:2]
    counts, sums = current.cell_counts[2:-1:2].astype(np.float64), current.cell_sums[2:-1:2]
    widths = np.diff(edges)
    cur_integral = c * widths + (counts * edges[1:] - sums) / m
    # the reference's CDF is a step function: constant on each piece between consecutive edges and values
    grid = np.unique(np.concatenate([edges, values[(values > first) & (values < last)]]))
    steps = np.diff(grid)
    level = np.searchsorted(values, grid[:-1], side="right") / n
    gap = np.searchsorted(edges, grid[:-1], side="right") - 1
    gaps = widths.size
    ref_integral = np.bincount(gap, weights=level * steps, minlength=gaps)
    above_c = np.bincount(gap, weights=np.maximum(level - c[gap], 0.0) * steps, minlength=gaps)
    below_d = np.bincount(gap, weights=np.maximum(d[gap] - level, 0.0) * steps, minlength=gaps)
    h = cur_integral - ref_integral
    lower = np.abs(h)
    upper = np.maximum(np.minimum(h + 2 * above_c, 2 * below_d - h), lower)
    return outside + float(lower.sum()), outside + float(upper.sum())


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

    score_range: tuple[float, float]
    """Every score the method can give."""

    def exact(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore | None:
        shares = exact_shares(reference, current)
        return None if shares is None else self._scored(shares, reference, current)

    def from_profile(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        return self._scored(profile_shares(reference, current), reference, current)

    def _scored(self, shares: Shares, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        statistic, score = self.on_shares(shares, reference, current)
        if not shares.approximate:
            return MethodScore(score, statistic, False)
        bounds = self.bounds(shares) if shares.below_low is not None else None
        # without bounds, the interval is every score the method can give: the verdict is refined
        low, high = self.score_range if bounds is None else bounds
        low, high = max(low, self.score_range[0]), min(high, self.score_range[1])
        return MethodScore(min(max(score, low), high), statistic, True, low=low, high=high)

    def bounds(self, shares: Shares) -> tuple[float, float] | None:
        """Certain bounds on the score over every window the shares' count bounds allow; None when unknown."""
        return None

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
    score_range = (0.0, 1.0)

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
    score_range = (0.0, 1.0)

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        ref_values: Mapping[Any, int] = (
            reference.counts if isinstance(reference, CategoricalReference) else reference.small_counts or {}
        )
        cur_values: Mapping[Any, int] = (
            current.counts if isinstance(current, CategoricalProfile) else value_counts(current) or {}
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
    score_range = (0.0, math.inf)

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        ref_freq, cur_freq = _fill_zeroes(shares.reference), _fill_zeroes(shares.current)
        return None, float(np.sum((ref_freq - cur_freq) * np.log(ref_freq / cur_freq)))

    def bounds(self, shares: Shares) -> tuple[float, float] | None:
        assert shares.below_low is not None and shares.below_high is not None
        total = float(shares.current_count)
        lo = np.concatenate([[0.0], shares.below_low, [total]])
        hi = np.concatenate([[0.0], shares.below_high, [total]])
        fewest, most = (lo[1:] - hi[:-1]) / total, (hi[1:] - lo[:-1]) / total
        if np.any((fewest <= 0) & (most > 0)):
            return None  # a bin may be empty or not: the zero filling makes the score jump
        empty = most <= 0
        if empty.any() and fewest[~empty].min() <= 0.0001:
            return None  # the filling of empty bins would depend on the smallest share
        ref = _fill_zeroes(shares.reference)

        def term(k: np.ndarray, share: np.ndarray) -> np.ndarray:
            share = np.where(empty[k], 0.0001, share)
            with np.errstate(divide="ignore", invalid="ignore"):
                return (ref[k] - share) * np.log(ref[k] / share)

        def slope(k: np.ndarray, share: np.ndarray) -> np.ndarray:
            return np.where(empty[k], 0.0, np.log(share / ref[k]) - ref[k] / share + 1)

        return convex_sum_bounds(term, slope, shares.below_low, shares.below_high, total)


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
    score_range = (0.0, math.sqrt(math.log(2)))

    def on_shares(
        self, shares: Shares, reference: ColumnReference, current: ColumnProfile
    ) -> tuple[float | None, float]:
        return None, jensenshannon(shares.reference, shares.current)

    def bounds(self, shares: Shares) -> tuple[float, float] | None:
        assert shares.below_low is not None and shares.below_high is not None
        ref = shares.reference / shares.reference.sum()

        def term(k: np.ndarray, share: np.ndarray) -> np.ndarray:
            p, q = ref[k], np.maximum(share, 0.0)
            middle = (p + q) / 2
            with np.errstate(divide="ignore", invalid="ignore"):
                left = np.where(p > 0, p * np.log(p / middle), 0.0)
                right = np.where(q > 0, q * np.log(q / middle), 0.0)
            return (left + right) / 2

        def slope(k: np.ndarray, share: np.ndarray) -> np.ndarray:
            p, q = ref[k], share
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(2 * q / (p + q)) / 2

        found = convex_sum_bounds(term, slope, shares.below_low, shares.below_high, float(shares.current_count))
        if found is None:
            return None
        return float(np.sqrt(max(found[0], 0.0))), float(np.sqrt(max(found[1], 0.0)))


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

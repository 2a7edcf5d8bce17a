"""Certain bounds on a sum of convex per-bin terms when the window's bin counts are known only within bounds.

A binned score (PSI, the Jensen–Shannon divergence) is a sum over bins of a convex function of the window's share
in the bin. The window's cumulative counts at the inner bin boundaries are known to lie in boxes [lo, hi]
(count_bounds.py), and the score is convex in them. So its largest value over the boxes is at a corner, found by
dynamic programming along the chain of boundaries; and it is at least its value at any point plus the gradient's
most negative step within the boxes, which is tight at the minimum, approached here by coordinate descent.

Pure computation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Terms = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(bin index, window share) -> each bin's term (or its derivative in the share), elementwise."""


def convex_sum_bounds(
    term: Terms, slope: Terms, low: np.ndarray, high: np.ndarray, total: float, sweeps: int = 8
) -> tuple[float, float] | None:
    """(min, max) of sum_k term(k, (C[k+1] - C[k]) / total) over lo <= C <= hi at the inner boundaries, with
    C = 0 before the first bin and `total` after the last. None when the boxes overlap (bins narrower than what the
    profile resolves): the caller then refines."""
    lo, hi = np.concatenate([[0.0], low, [total]]), np.concatenate([[0.0], high, [total]])
    if np.any(hi[:-1] > lo[1:]):
        return None
    bins = np.arange(lo.size - 1)

    def value(cumulative: np.ndarray) -> float:
        return float(np.sum(term(bins, np.diff(cumulative) / total)))

    # largest: at a corner of the boxes; each bin's term depends on the two boundaries around it
    best = np.array([0.0, -np.inf])  # boundary 0 is fixed: its two "corners" coincide
    corners = np.stack([lo, hi])
    for k in bins:
        share = (corners[:, k + 1][None, :] - corners[:, k][:, None]) / total  # [from corner, to corner]
        steps = term(np.full_like(share, k, dtype=np.int64), share)
        best = np.max(best[:, None] + steps, axis=0)
    largest = float(np.max(best[np.isfinite(best)])) if np.isfinite(best).any() else float("inf")
    # smallest: coordinate descent to near the minimum, then the supporting hyperplane there
    point = (lo + hi) / 2
    inner = np.arange(1, lo.size - 1)
    for _ in range(sweeps):
        for parity in (1, 0):
            chosen = inner[inner % 2 == parity]
            a, b = lo[chosen].copy(), hi[chosen].copy()
            for _ in range(48):
                middle = (a + b) / 2
                trial = point.copy()
                trial[chosen] = middle
                rising = _gradient(slope, trial, total)[chosen] > 0
                b, a = np.where(rising, middle, b), np.where(rising, a, middle)
            point[chosen] = (a + b) / 2
    gradient = _gradient(slope, point, total)
    with np.errstate(invalid="ignore"):
        step = np.minimum(gradient * (lo - point), gradient * (hi - point))[1:-1]
        smallest = value(point) + float(np.sum(np.where(hi[1:-1] > lo[1:-1], step, 0.0)))
    if not np.isfinite(smallest):
        smallest = -np.inf
    return smallest, largest


def _gradient(slope: Terms, cumulative: np.ndarray, total: float) -> np.ndarray:
    """d score / d C at every boundary (the outer two are fixed: 0)."""
    bins = np.arange(cumulative.size - 1)
    gradient = np.zeros(cumulative.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = slope(bins, np.diff(cumulative) / total) / total
        gradient[1:-1] = slopes[:-1] - slopes[1:]  # NaN where a bin is empty on both sides: no bound from there
    return gradient

"""Certain bounds on how many of a window's values lie below given points, from its profile alone.

What the profile knows for sure: the count of values equal to each reference edge, the count and sum of the values
in each gap between edges and in each sub-bin beyond the reference's range, the window's extremes, and its smallest
and largest values one by one (`NumericalProfile`). Inside a piece [a, b] holding k values that sum to s, the number
t of them below x obeys t·a + (k − t)·x ≤ s ≤ t·x + (k − t)·b, which bounds t on both sides; every other piece lies
wholly on one side of x. Where kept values decide the count, it is exact.

Pure computation over a `NumericalProfile` and the reference's edges.
"""

from __future__ import annotations

import numpy as np

from drifting_etl.profiles.columns import TAIL_BINS, NumericalProfile, extreme_zone, tail_width

PAD = 1e-9
"""Relative padding of the tail sub-bins' bounds: a value's sub-bin was computed in floating point."""


def count_below_bounds(current: NumericalProfile, edges: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) possible number of the window's values strictly below each of `x`."""
    low, high, counts, sums = _pieces(current, edges)
    x = np.asarray(x, dtype=np.float64)
    lowest = np.zeros(x.size)
    highest = np.zeros(x.size)
    for index, point in enumerate(x):
        below = high < point
        inside = (low < point) & ~below
        k, s, a, b = counts[inside], sums[inside], low[inside], high[inside]
        at_least = np.where(point > a, (k * point - s) / np.maximum(point - a, 1e-300), 0.0)
        at_most = np.where(b > point, (k * b - s) / np.maximum(b - point, 1e-300), k)
        slack = 1e-9 * np.maximum(k, 1.0)
        t_low = np.clip(np.ceil(at_least - slack), 0, k)
        t_high = np.clip(np.floor(at_most + slack), 0, k)
        t_low = np.minimum(t_low, t_high)
        known = counts[below].sum()
        lowest[index], highest[index] = known + t_low.sum(), known + t_high.sum()
    return _kept(current, edges, x, lowest, highest)


def _pieces(current: NumericalProfile, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """Closed ranges [low, high] with the count and sum of the window's values in each: edges (as points), gaps,
    and tail sub-bins, clipped to the window's own range."""
    gap_counts = current.cell_counts[2:-1:2].astype(np.float64)
    edge_counts = current.cell_counts[1::2].astype(np.float64)
    width = tail_width(edges)
    steps = np.arange(TAIL_BINS, dtype=np.float64)
    pad = PAD * (np.abs(edges[[0, -1]]).max() + TAIL_BINS * width)
    below_high, below_low = edges[0] - steps * width + pad, edges[0] - (steps + 1) * width - pad
    above_low, above_high = edges[-1] + steps * width - pad, edges[-1] + (steps + 1) * width + pad
    below_low[-1], above_high[-1] = -np.inf, np.inf  # the last sub-bin is open-ended
    below_high[0], above_low[0] = np.nextafter(edges[0], -np.inf), np.nextafter(edges[-1], np.inf)
    low = np.concatenate([edges, edges[:-1], below_low, above_low])
    high = np.concatenate([edges, edges[1:], below_high, above_high])
    counts = np.concatenate([edge_counts, gap_counts, current.tail_counts[0], current.tail_counts[1]])
    sums = np.concatenate([edges * edge_counts, current.cell_sums[2:-1:2], current.tail_sums[0], current.tail_sums[1]])
    occupied = counts > 0
    low, high = np.maximum(low[occupied], current.minimum), np.minimum(high[occupied], current.maximum)
    return low, high, counts[occupied].astype(np.float64), sums[occupied]


def _kept(
    current: NumericalProfile, edges: np.ndarray, x: np.ndarray, lowest: np.ndarray, highest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The bounds made exact where the window's kept values decide the count."""
    exact = np.full(x.size, np.nan)
    if current.lowest.size:
        small = x <= current.lowest[-1]  # every value below the largest kept smallest value is kept
        exact[small] = np.searchsorted(current.lowest, x[small], side="left")
        large = x > current.highest[0]  # every value at or above the smallest kept largest value is kept
        exact[large] = current.count - (current.highest.size - np.searchsorted(current.highest, x[large], side="left"))
    if current.extremes is not None:
        first, last = extreme_zone(edges)
        extremes = np.sort(current.extremes)
        outer_low, outer_high = x <= edges[first], x > edges[last]
        exact[outer_low] = np.searchsorted(extremes, x[outer_low], side="left")
        exact[outer_high] = current.count - (extremes.size - np.searchsorted(extremes, x[outer_high], side="left"))
    known = ~np.isnan(exact)
    return np.where(known, exact, lowest), np.where(known, exact, highest)

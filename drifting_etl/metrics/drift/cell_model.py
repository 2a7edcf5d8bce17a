"""The window's distribution as its profile knows it (`CellModel`): what the profile paths of Wasserstein, PSI and
Jensen-Shannon integrate or count.

Pure computation over a `NumericalProfile` and the reference's edges; it knows nothing of methods or thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from drifting_etl.profiles.columns import TAIL_BINS, NumericalProfile, extreme_zone, tail_width


@dataclass(frozen=True)
class CellModel:
    """A window's values as its profile knows them: the values equal to a reference edge exactly, and inside each
    gap between edges (and each tail sub-bin beyond them) a linear density with the gap's (sub-bin's) count and mean."""

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
        tail_counts = current.tail_counts.ravel().astype(np.float64)
        tail_means = np.divide(
            current.tail_sums.ravel(), tail_counts, out=np.zeros_like(tail_counts), where=tail_counts > 0
        )
        mean = np.concatenate([gap_means, tail_means])
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

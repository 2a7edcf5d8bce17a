"""What a drift method is: the contract every registered method class fulfils, and the verdict's comparison.

A method owns its name, the column types it accepts, its default threshold, how its score is compared with the
threshold, its exact computation and its computation from a profile, and the name Evidently's stat-test registry
knows it by. `compute` is the one entry point callers use: exact when the window (and the reference) kept what an
exact computation needs, from the profile otherwise.

The two computations are kept apart on purpose: a method's profile path certifies an interval [low, high] around
the exact score, and its exact path refines a verdict the interval leaves open (the pipeline reads the column's
values again for it: see pipeline/refine.py).

Pure computation: no I/O, no registry (see registry.py), no choice of method (see auto.py).
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.drift_methods import DriftMethodName
from drifting_etl.profiles.columns import ColumnProfile, ColumnReference

ROUNDING = 1e-9
"""Relative widening of every interval computed from a profile."""

Comparison = Literal["<=", "<", ">="]
"""How a score is compared with the threshold for the column to drift (p-values: small; distances: large)."""

_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}
COMPARISON_SYMBOLS: dict[Comparison, str] = {"<=": "≤", "<": "<", ">=": "≥"}


@dataclass(frozen=True)
class MethodScore:
    """What a method computed for one column: the score compared with the threshold, and how it was obtained."""

    score: float
    """A p-value for the tests, a distance otherwise."""
    statistic: float | None
    """The test statistic where there is one (KS D, chi-squared, z)."""
    approximate: bool
    """True when computed from the profile's model of the window rather than from its values or exact counts."""
    low: float | None = None
    """The certified interval [low, high] that contains the exact score (None: the score itself, exact)."""
    high: float | None = None

    @property
    def interval(self) -> tuple[float, float]:
        low = self.score if self.low is None else self.low
        high = self.score if self.high is None else self.high
        return min(low, self.score), max(high, self.score)


class DriftMethod(ABC):
    """One drift method. Subclasses set the class attributes and implement `exact` and `from_profile`."""

    name: ClassVar[DriftMethodName]
    title: ClassVar[str]
    """What the score is, for people (the README's table)."""
    column_types: ClassVar[frozenset[ColumnType]]
    default_threshold: ClassVar[float]
    comparison: ClassVar[Comparison]
    evidently_stattest: ClassVar[str]
    """The name Evidently 0.7's stat-test registry knows this method by (`StatTest.name`): the report uses it."""

    @property
    def gives_p_value(self) -> bool:
        """The score is a test's p-value (drift when small), not a distance (drift when large)."""
        return self.comparison != ">="

    def accepts(self, column_type: ColumnType) -> bool:
        return column_type in self.column_types

    def is_drift(self, score: float, threshold: float) -> bool:
        """Evidently's verdict for this method's score against `threshold`."""
        return _COMPARE[self.comparison](score, threshold)

    def decides(self, low: float, high: float, threshold: float) -> bool:
        """Whether every score in [low, high] gets the same verdict (each comparison is monotone in the score)."""
        return self.is_drift(low, threshold) == self.is_drift(high, threshold)

    def compute(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        """The exact score when the profiles allow it, else the one computed from the window's profile (its interval
        widened by `ROUNDING`: its bounds are sums of floats, and so is the exact score)."""
        exact = self.exact(reference, current)
        if exact is not None:
            return exact
        modelled = self.from_profile(reference, current)
        low, high = modelled.interval
        return replace(modelled, low=low - ROUNDING * abs(low), high=high + ROUNDING * abs(high))

    @abstractmethod
    def exact(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore | None:
        """The score as scipy / Evidently compute it from the values (or exact counts); None when the window did not
        keep what that needs."""

    @abstractmethod
    def from_profile(self, reference: ColumnReference, current: ColumnProfile) -> MethodScore:
        """The score from the window's profile alone (its cell counts and model), for windows too large to keep,
        with an interval [low, high] certain to contain the exact score (see `MethodScore`)."""

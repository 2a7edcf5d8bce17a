"""`method: auto`: the drift method Evidently's DataDriftPreset would choose for a column (evidently 0.7,
`_get_default_stattest`), taken from the registry:

    reference rows <= 1000:  numerical with > 5 unique values -> ks;  else > 2 unique -> chisquare;  else ztest
    reference rows  > 1000:  numerical with > 5 unique values -> wasserstein;  else jensenshannon

where "rows" are the reference's non-missing finite values and "unique" counts the union of reference and window.
Pure computation.
"""

from __future__ import annotations

from drifting_etl.metrics.drift.base import DriftMethod
from drifting_etl.metrics.drift.registry import method_named
from drifting_etl.profiles.columns import (
    CategoricalProfile,
    CategoricalReference,
    ColumnProfile,
    ColumnReference,
    NumericalProfile,
)

SMALL_REFERENCE_ROWS = 1000
"""Evidently tests a column whose reference has at most this many values, and measures a distance above it."""


def auto_method(reference: ColumnReference, current: ColumnProfile) -> DriftMethod:
    unique = union_distinct(reference, current)
    if reference.count <= SMALL_REFERENCE_ROWS:
        if reference.column_type == "numerical" and unique > 5:
            return method_named("ks")
        return method_named("chisquare") if unique > 2 else method_named("ztest")
    if reference.column_type == "numerical" and unique > 5:
        return method_named("wasserstein")
    return method_named("jensenshannon")


def union_distinct(reference: ColumnReference, current: ColumnProfile) -> int:
    """Distinct non-missing values of reference and window together (exact up to a few dozen, then 'many')."""
    if isinstance(reference, CategoricalReference):
        assert isinstance(current, CategoricalProfile)
        return len(reference.counts.keys() | current.counts.keys())
    assert isinstance(current, NumericalProfile)
    if reference.small_counts is None or current.small_counts is None:
        return max(reference.distinct, 10**9)
    return len(reference.small_counts.keys() | current.small_counts.keys())

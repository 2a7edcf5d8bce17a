"""Property-based checks of the profiles (hypothesis): profiling any split of a window's rows, merged in any order,
equals profiling the whole; drift scores are finite and in their ranges; identical data never drifts."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from drifting_etl.metrics.drift import column_drift
from drifting_etl.profiles.columns import NumericalProfile, WindowProfile, fit_reference

REFERENCE = fit_reference(
    pa.table({"x": np.random.default_rng(3).normal(10, 3, 800)}), {"x": "numerical"}, source_digest="test"
)
REFERENCE_WITH_VALUES = REFERENCE.with_values(pa.table({"x": np.random.default_rng(3).normal(10, 3, 800)}))

values = st.lists(
    st.one_of(
        st.floats(-50, 70, allow_nan=False, allow_infinity=False),
        st.sampled_from([np.nan, np.inf, -np.inf, 10.0, 4.0]),  # missing, non-finite, ties
    ),
    min_size=1,
    max_size=300,
)
EXACT_FIELDS = ("rows", "missing", "non_finite", "count", "minimum", "maximum", "small_counts")
ARRAY_FIELDS = ("cell_counts", "tail_counts", "values", "extremes", "lowest", "highest")


def _profile(data: list[float]) -> NumericalProfile:
    column = WindowProfile.of(pa.table({"x": pa.array(data, type=pa.float64())}), REFERENCE).columns["x"]
    assert isinstance(column, NumericalProfile)
    return column


@settings(max_examples=80, deadline=None)
@given(data=values, cuts=st.lists(st.integers(0, 300), max_size=5), order=st.randoms(use_true_random=False))
def test_merge_given_any_split_in_any_order_should_equal_the_profile_of_the_whole(
    data: list[float], cuts: list[int], order: object
) -> None:
    bounds = sorted({0, len(data), *(min(cut, len(data)) for cut in cuts)})
    parts = [data[start:end] for start, end in pairwise(bounds)]
    order.shuffle(parts)  # type: ignore[attr-defined]
    merged = _profile(parts[0])
    for part in parts[1:]:
        merged = merged.merge(_profile(part))

    whole = _profile(data)

    for name in EXACT_FIELDS:
        assert getattr(merged, name) == getattr(whole, name), name
    for name in ARRAY_FIELDS:
        left, right = getattr(merged, name), getattr(whole, name)
        assert (left is None) == (right is None), name
        if left is not None:
            np.testing.assert_array_equal(np.sort(left), np.sort(right), err_msg=name)
    scale = max(1.0, float(np.nanmax(np.abs(np.nan_to_num(np.asarray(data), posinf=0, neginf=0)))))
    np.testing.assert_allclose(merged.cell_sums, whole.cell_sums, rtol=1e-9, atol=1e-9 * scale * len(data))
    np.testing.assert_allclose(merged.tail_sums, whole.tail_sums, rtol=1e-9, atol=1e-9 * scale * len(data))
    assert np.isclose(merged.mean, whole.mean, rtol=1e-9, atol=1e-9 * scale)
    assert np.isclose(merged.m2, whole.m2, rtol=1e-7, atol=1e-7 * scale**2 * len(data))


@settings(max_examples=60, deadline=None)
@given(data=values, method=st.sampled_from(["ks", "wasserstein", "psi", "jensenshannon", "auto"]))
def test_drift_given_any_window_should_give_a_finite_score_in_its_range(data: list[float], method: str) -> None:
    window = WindowProfile.of(pa.table({"x": pa.array(data, type=pa.float64())}), REFERENCE_WITH_VALUES)
    drift = column_drift("x", REFERENCE_WITH_VALUES.columns["x"], window.columns["x"], method)
    if not np.isfinite(np.asarray(data)).any():
        assert drift is None  # nothing to compare: a data-quality problem, not drift
        return
    assert drift is not None and np.isfinite(drift.score) and drift.score >= 0
    if drift.method in ("ks", "chisquare", "ztest"):
        assert drift.score <= 1  # a p-value
    if drift.method == "jensenshannon":
        assert drift.score <= np.sqrt(np.log(2)) + 1e-12


@settings(max_examples=40, deadline=None)
@given(
    sample=st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=30, max_size=300),
    method=st.sampled_from(["ks", "wasserstein", "psi", "jensenshannon"]),
)
def test_drift_given_identical_reference_and_window_should_never_drift(sample: list[float], method: str) -> None:
    table = pa.table({"x": pa.array(sample, type=pa.float64())})
    reference = fit_reference(table, {"x": "numerical"}, source_digest="same").with_values(table)
    window = WindowProfile.of(table, reference)

    drift = column_drift("x", reference.columns["x"], window.columns["x"], method)

    assert drift is not None and not drift.drifted, drift

"""Tests of the mergeable column profiles: merge laws, binning cells, limits and the reference's JSON form."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from drifting_etl.profiles import columns as profiles
from drifting_etl.profiles.columns import (
    OTHER_CATEGORY,
    CategoricalProfile,
    CategoricalReference,
    NumericalProfile,
    NumericalReference,
    ReferenceProfile,
    WindowProfile,
    category_key,
    cell_index,
    fit_reference,
)

COLUMN_TYPES: dict[str, profiles.ColumnType] = {"income": "numerical", "children": "numerical", "region": "categorical"}
REGIONS = np.array(["north", "south", "east", "west"])


# ---------------------------------------------------------------------------------------------------- helpers


def reference_table(rng: np.random.Generator, n: int = 3_000) -> pa.Table:
    return pa.table(
        {
            "income": np.round(rng.lognormal(10, 0.5, n), 2),
            "children": rng.integers(0, 5, n).astype(np.float64),
            "region": rng.choice(REGIONS, n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def window_table(rng: np.random.Generator, n: int = 2_000) -> pa.Table:
    """Shifted data with the awkward values: nulls, NaN, ±inf, values outside the reference, unseen categories."""
    income = np.round(rng.lognormal(10.2, 0.6, n), 2)
    income[rng.random(n) < 0.03] = np.nan
    income[rng.random(n) < 0.01] = np.inf
    income[rng.random(n) < 0.01] = -np.inf
    income_nulls = rng.random(n) < 0.02
    children = rng.integers(0, 7, n).astype(np.float64)
    regions = rng.choice(np.append(REGIONS, "atlantis"), n).astype(object)
    regions[rng.random(n) < 0.05] = None
    return pa.table(
        {
            "income": pa.array(income, mask=income_nulls),
            "children": pa.array(children),
            "region": pa.array(regions, pa.string()),
            "unmonitored": pa.array(np.arange(n)),
        }
    )


@pytest.fixture
def reference() -> ReferenceProfile:
    return fit_reference(reference_table(np.random.default_rng(7)), COLUMN_TYPES, source_digest="reference-v1")


@pytest.fixture
def window() -> pa.Table:
    return window_table(np.random.default_rng(8))


def random_splits(rng: np.random.Generator, n: int, parts: int) -> list[np.ndarray]:
    cuts = np.sort(rng.choice(np.arange(1, n), size=parts - 1, replace=False))
    return np.split(rng.permutation(n), cuts)


def profiles_of_splits(
    table: pa.Table, reference: ReferenceProfile, splits: Sequence[np.ndarray]
) -> list[WindowProfile]:
    return [WindowProfile.of(table.take(pa.array(index, pa.int64())), reference) for index in splits]


def merge_all(parts: Sequence[WindowProfile], start: WindowProfile) -> WindowProfile:
    merged = start
    for part in parts:
        merged = merged.merge(part)
    return merged


def assert_numerical_equal(actual: NumericalProfile, expected: NumericalProfile) -> None:
    assert (actual.rows, actual.missing, actual.non_finite, actual.count) == (
        expected.rows,
        expected.missing,
        expected.non_finite,
        expected.count,
    )
    assert actual.minimum == expected.minimum
    assert actual.maximum == expected.maximum
    assert actual.mean == pytest.approx(expected.mean, rel=1e-12, abs=1e-12)
    assert actual.m2 == pytest.approx(expected.m2, rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(actual.cell_counts, expected.cell_counts)
    np.testing.assert_allclose(actual.cell_sums, expected.cell_sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(actual.tail_counts, expected.tail_counts)
    np.testing.assert_allclose(actual.tail_sums, expected.tail_sums, rtol=1e-12, atol=1e-9)
    assert actual.small_counts == expected.small_counts
    if expected.values is None:
        assert actual.values is None
    else:
        assert actual.values is not None
        np.testing.assert_array_equal(np.sort(actual.values), np.sort(expected.values))  # as multisets


def assert_profiles_equal(actual: WindowProfile, expected: WindowProfile) -> None:
    assert actual.reference_version == expected.reference_version
    assert actual.rows == expected.rows
    assert list(actual.columns) == list(expected.columns)
    for name, column in expected.columns.items():
        other = actual.columns[name]
        assert type(other) is type(column), name
        if isinstance(column, NumericalProfile):
            assert isinstance(other, NumericalProfile)
            assert_numerical_equal(other, column)
        else:
            assert isinstance(other, CategoricalProfile)
            assert (other.rows, other.missing, other.counts) == (column.rows, column.missing, column.counts), name


def assert_plain_json(value: Any, where: str = "$") -> None:
    """Only JSON's own types: no pickled, base64 or numpy payloads hidden anywhere."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), where
            assert_plain_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_plain_json(item, f"{where}[{i}]")
    else:
        assert value is None or isinstance(value, bool | int | float | str), (where, type(value))
        if isinstance(value, str):
            assert len(value) < 100, f"{where}: suspiciously long string (an encoded blob?)"


# ------------------------------------------------------------------------------------------------ merge laws


@pytest.mark.parametrize(("seed", "parts"), [(1, 2), (2, 5), (3, 23)])
def test_window_profile_given_random_splits_should_merge_to_profile_of_all_rows(
    reference: ReferenceProfile, window: pa.Table, seed: int, parts: int
) -> None:
    rng = np.random.default_rng(seed)

    merged = merge_all(
        profiles_of_splits(window, reference, random_splits(rng, window.num_rows, parts)),
        WindowProfile.empty(reference),
    )

    assert_profiles_equal(merged, WindowProfile.of(window, reference))


def test_window_profile_merge_given_three_profiles_should_be_associative(
    reference: ReferenceProfile, window: pa.Table
) -> None:
    a, b, c = profiles_of_splits(window, reference, random_splits(np.random.default_rng(3), window.num_rows, 3))

    assert_profiles_equal(a.merge(b).merge(c), a.merge(b.merge(c)))


def test_window_profile_merge_given_two_profiles_should_be_commutative(
    reference: ReferenceProfile, window: pa.Table
) -> None:
    a, b = profiles_of_splits(window, reference, random_splits(np.random.default_rng(4), window.num_rows, 2))

    assert_profiles_equal(a.merge(b), b.merge(a))


def test_window_profile_empty_given_merge_on_either_side_should_be_identity(
    reference: ReferenceProfile, window: pa.Table
) -> None:
    profile = WindowProfile.of(window, reference)
    empty = WindowProfile.empty(reference)

    assert_profiles_equal(empty.merge(profile), profile)
    assert_profiles_equal(profile.merge(empty), profile)
    assert_profiles_equal(empty.merge(empty), empty)
    assert_profiles_equal(WindowProfile.of(window.slice(0, 0), reference), empty)


def test_window_profile_merge_given_profiles_of_different_references_should_raise(reference: ReferenceProfile) -> None:
    other = fit_reference(reference_table(np.random.default_rng(9)), COLUMN_TYPES, source_digest="reference-v2")

    with pytest.raises(ValueError, match="different reference versions"):
        WindowProfile.empty(reference).merge(WindowProfile.empty(other))


def test_numerical_profile_given_hour_without_values_should_not_make_a_small_window_approximate() -> None:
    edges = np.linspace(0.0, 1.0, 11)
    empty_hour = NumericalProfile.of(np.full(50, np.nan), edges, keep_values=False)  # kept or not: nothing to keep
    busy_hour = NumericalProfile.of(np.linspace(0.05, 0.95, 40), edges)
    merged = empty_hour.merge(busy_hour)
    assert merged.values is not None and np.array_equal(np.sort(merged.values), np.linspace(0.05, 0.95, 40))
    assert (merged.count, merged.missing) == (40, 50)


def test_numerical_profile_given_values_should_match_numpy_statistics(
    reference: ReferenceProfile, window: pa.Table
) -> None:
    raw = np.array(window.column("income").to_pylist(), dtype=np.float64)  # nulls become NaN
    finite = raw[np.isfinite(raw)]
    edges = reference.columns["income"].edges  # type: ignore[union-attr]
    parts = [NumericalProfile.of(raw[index], edges) for index in random_splits(np.random.default_rng(5), raw.size, 6)]

    for profile in (NumericalProfile.of(raw, edges), merge_numerical(parts, NumericalProfile.empty(edges))):
        assert profile.count == finite.size
        assert profile.minimum == finite.min()
        assert profile.maximum == finite.max()
        assert profile.mean == pytest.approx(np.mean(finite), rel=1e-12)
        assert profile.std == pytest.approx(np.std(finite), rel=1e-10)
        assert profile.cell_counts.sum() == finite.size
        assert profile.cell_sums.sum() == pytest.approx(finite.sum(), rel=1e-12)


def merge_numerical(parts: Sequence[NumericalProfile], start: NumericalProfile) -> NumericalProfile:
    merged = start
    for part in parts:
        merged = merged.merge(part)
    return merged


def test_numerical_profile_empty_should_have_no_values_and_nan_std() -> None:
    empty = NumericalProfile.empty(np.array([1.0, 2.0]))

    assert (empty.rows, empty.count, empty.cell_counts.tolist()) == (0, 0, [0, 0, 0, 0, 0])
    assert math.isnan(empty.std)


# ------------------------------------------------------------------------------------------------ cells


def test_cell_index_given_values_below_on_between_and_above_edges_should_number_cells_as_documented() -> None:
    edges = np.array([-1.0, 0.0, 2.5, 10.0])
    values = np.array([-5.0, -1.0, -0.5, 0.0, 1.0, 2.5, 3.0, 10.0, 11.0, -1.0 - 1e-12, 10.0 + 1e-12])

    cells = cell_index(values, edges)

    # below, =e0, (e0,e1), =e1, (e1,e2), =e2, (e2,e3), =e3, above, just below e0, just above e3
    assert cells.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 8]


def test_cell_index_given_single_edge_should_have_three_cells() -> None:
    assert cell_index(np.array([0.0, 1.0, 2.0]), np.array([1.0])).tolist() == [0, 1, 2]


def test_numerical_profile_given_values_should_count_and_sum_each_cell() -> None:
    edges = np.array([1.0, 2.0, 3.0])
    values = np.array([0.5, 1.0, 1.0, 1.5, 1.7, 3.0, 4.0, 9.0])

    profile = NumericalProfile.of(values, edges)

    assert profile.cell_counts.tolist() == [1, 2, 2, 0, 0, 1, 2]
    np.testing.assert_allclose(profile.cell_sums, [0.5, 2.0, 3.2, 0.0, 0.0, 3.0, 13.0])
    assert profile.below_above() == (1, 2)


def test_numerical_profile_given_nan_null_and_infinities_should_count_missing_and_non_finite() -> None:
    column = pa.array([1.0, float("nan"), None, float("inf"), float("-inf"), 2.0, float("nan")])

    profile = NumericalProfile.of(profiles.numeric_array(column), np.array([1.0, 2.0]))

    assert (profile.rows, profile.missing, profile.non_finite, profile.count) == (7, 3, 2, 2)
    assert profile.cell_counts.sum() == 2
    assert (profile.minimum, profile.maximum, profile.mean) == (1.0, 2.0, 1.5)
    assert profile.values is not None and sorted(profile.values.tolist()) == [1.0, 2.0]


def test_numerical_profile_given_only_missing_values_should_have_no_count_and_merge_cleanly() -> None:
    edges = np.array([0.0])
    nothing = NumericalProfile.of(np.array([np.nan, np.inf]), edges)
    some = NumericalProfile.of(np.array([-1.0, 1.0]), edges)

    merged = nothing.merge(some)

    assert (nothing.count, nothing.missing, nothing.non_finite) == (0, 1, 1)
    assert (merged.rows, merged.count, merged.mean, merged.m2) == (4, 2, 0.0, 2.0)
    assert (merged.minimum, merged.maximum) == (-1.0, 1.0)


def test_numerical_profile_given_values_outside_reference_range_should_count_them_in_tail_bins() -> None:
    edges = np.array([0.0, 64.0, 128.0])  # range 128: each tail bin is 1.0 wide
    values = np.array([-0.5, -3.2, -3.9, 10.0, 128.0, 130.5, 128.0 + 1e9, -1e9])

    profile = NumericalProfile.of(values, edges)

    expected = np.zeros((2, profiles.TAIL_BINS), dtype=np.int64)
    expected[0, 0] = 1  # -0.5
    expected[0, 3] = 2  # -3.2 and -3.9
    expected[0, -1] = 1  # -1e9, in the open-ended last bin
    expected[1, 2] = 1  # 130.5; 128.0 itself is the last edge, not beyond it
    expected[1, -1] = 1  # 128 + 1e9
    np.testing.assert_array_equal(profile.tail_counts, expected)
    expected_sums = np.zeros((2, profiles.TAIL_BINS))
    expected_sums[0, 0], expected_sums[0, 3], expected_sums[0, -1] = -0.5, -3.2 + -3.9, -1e9
    expected_sums[1, 2], expected_sums[1, -1] = 130.5, 128.0 + 1e9
    np.testing.assert_array_equal(profile.tail_sums, expected_sums)
    assert profile.below_above() == (4, 2)


# ------------------------------------------------------------------------------------------------ limits


def test_numerical_profile_merge_given_combined_count_above_exact_values_limit_should_drop_values_but_keep_exact_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 100)
    rng = np.random.default_rng(11)
    values = rng.normal(size=250)
    edges = np.quantile(values, [0.1, 0.5, 0.9])
    parts = [NumericalProfile.of(values[i], edges) for i in np.array_split(np.arange(values.size), 5)]  # 50 rows each
    assert all(part.values is not None for part in parts)

    two = parts[0].merge(parts[1])
    three = two.merge(parts[2])
    everything = merge_numerical(parts[1:], parts[0])

    assert two.values is not None and two.values.size == 100
    assert three.values is None
    assert everything.values is None
    assert NumericalProfile.of(values, edges).values is None
    expected_cells = np.bincount(independent_cells(values, edges), minlength=2 * edges.size + 1)
    assert everything.cell_counts.tolist() == expected_cells.tolist()
    assert everything.count == 250
    assert everything.mean == pytest.approx(values.mean(), rel=1e-12)


def independent_cells(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell numbers by the documented rule, one value at a time."""
    cells = []
    for value in values:
        cell = 2 * edges.size
        for i, edge in enumerate(edges):
            if value < edge:
                cell = 2 * i
                break
            if value == edge:
                cell = 2 * i + 1
                break
        cells.append(cell)
    return np.array(cells, dtype=np.int64)


def test_numerical_profile_given_more_distinct_values_than_small_counts_limit_should_drop_small_counts() -> None:
    edges = np.array([0.0, 100.0])
    few = np.repeat(np.arange(40.0), 3)
    other_few = np.repeat(np.arange(40.0, 80.0), 2)

    assert NumericalProfile.of(few, edges).small_counts == {float(v): 3 for v in range(40)}
    assert NumericalProfile.of(np.concatenate([few, other_few]), edges).small_counts is None
    assert NumericalProfile.of(few, edges).merge(NumericalProfile.of(other_few, edges)).small_counts is None
    assert NumericalProfile.of(few, edges).merge(NumericalProfile.of(few[:30], edges)).small_counts == Counter(
        np.concatenate([few, few[:30]]).tolist()
    )


def test_categorical_profile_given_more_categories_than_limit_should_pool_rarest_into_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiles, "CATEGORY_LIMIT", 4)
    values = ["a"] * 50 + ["b"] * 40 + ["c"] * 30 + ["d"] * 3 + ["e"] * 2 + ["f"] * 1 + [None] * 4

    profile = CategoricalProfile.of(pa.array(values))

    assert profile.counts == {"a": 50, "b": 40, "c": 30, OTHER_CATEGORY: 6}
    assert (profile.rows, profile.missing, profile.count) == (130, 4, 126)


def test_categorical_profile_merge_given_categories_beyond_limit_should_keep_total_and_commute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiles, "CATEGORY_LIMIT", 5)
    rng = np.random.default_rng(13)
    left = CategoricalProfile.of(
        pa.array(rng.choice(list("abcdefgh"), 300, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05]))
    )
    right = CategoricalProfile.of(pa.array(rng.choice(list("abcdefghij"), 200)))

    merged = left.merge(right)

    assert merged.counts == right.merge(left).counts
    assert len(merged.counts) <= 5
    assert OTHER_CATEGORY in merged.counts
    assert sum(merged.counts.values()) == merged.count == 500


def test_categorical_profile_merge_given_unseen_categories_beyond_limit_should_keep_reference_counts_and_unseen_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiles, "CATEGORY_LIMIT", 3)
    known = frozenset({"x", "y"})
    a = CategoricalProfile.of(pa.array(list("xxxxxyyyyzq")), known)
    b = CategoricalProfile.of(pa.array(list("wwwv")), known)
    c = CategoricalProfile.of(pa.array(list("zzzzzzu")), known)

    for merged in (a.merge(b.merge(c)), a.merge(b).merge(c), c.merge(a).merge(b)):
        assert (merged.counts["x"], merged.counts["y"]) == (5, 4)
        assert sum(n for key, n in merged.counts.items() if key not in known) == 13
        assert len([key for key in merged.counts if key not in known]) <= 3
        assert OTHER_CATEGORY in merged.counts


# ------------------------------------------------------------------------------------------------ categories


@pytest.mark.parametrize(
    ("value", "key"),
    [(1, "1"), (1.0, "1"), ("1", "1"), (np.int64(1), "1"), (np.float64(1.0), "1"), (True, "True"), (False, "False"),
     (np.bool_(True), "True"), (1.5, "1.5"), (-0.0, "0"), ("north", "north"), (0, "0")],
)  # fmt: skip
def test_category_key_given_value_of_any_type_should_normalise_to_text(value: Any, key: str) -> None:
    assert category_key(value) == key


def test_category_key_given_bool_should_not_collide_with_one() -> None:
    assert category_key(True) != category_key(1)
    assert category_key(1) == category_key(1.0) == category_key("1")


def test_categorical_profile_given_int_float_and_string_columns_should_count_under_the_same_keys() -> None:
    as_int = CategoricalProfile.of(pa.array([1, 2, 2, None]))
    as_float = CategoricalProfile.of(pa.array([1.0, 2.0, 2.0, None]))
    as_string = CategoricalProfile.of(pa.array(["1", "2", "2", None]))
    as_dictionary = CategoricalProfile.of(pa.array(["1", "2", "2", None]).dictionary_encode())
    as_bool = CategoricalProfile.of(pa.array([True, False, False, None]))

    assert as_int.counts == as_float.counts == as_string.counts == as_dictionary.counts == {"1": 1, "2": 2}
    assert as_bool.counts == {"True": 1, "False": 2}
    assert as_int.merge(as_string).counts == {"1": 2, "2": 4}


def test_categorical_profile_given_zero_and_negative_zero_should_count_every_row() -> None:
    column = pa.array([0.0, -0.0, 0.0, 1.0, None])

    profile = CategoricalProfile.of(column)
    fitted = CategoricalReference.fit(column)

    assert sum(profile.counts.values()) == profile.count == 4
    assert profile.counts == fitted.counts == {"0": 3, "1": 1}
    assert fitted.count == 4 and fitted.missing == 1


# ------------------------------------------------------------------------------------------------ reference


def test_reference_profile_json_given_round_trip_should_equal_except_in_memory_values(
    reference: ReferenceProfile,
) -> None:
    restored = ReferenceProfile.from_json(reference.to_json())

    assert (restored.version, restored.row_count, list(restored.columns)) == (
        reference.version,
        reference.row_count,
        list(reference.columns),
    )
    for name, column in reference.columns.items():
        other = restored.columns[name]
        assert type(other) is type(column)
        if isinstance(column, NumericalReference):
            assert isinstance(other, NumericalReference)
            assert column.values is not None and other.values is None
            for field in (
                "count",
                "missing",
                "distinct",
                "minimum",
                "maximum",
                "mean",
                "std",
                "exact_edges",
                "small_counts",
            ):
                assert getattr(other, field) == getattr(column, field), (name, field)
            for field in ("edges", "cell_counts", "cell_sums"):
                np.testing.assert_array_equal(getattr(other, field), getattr(column, field))
                assert getattr(other, field).dtype == getattr(column, field).dtype
        else:
            assert other == column
    # Serialising the restored profile gives the same text: nothing was lost but the values.
    assert restored.to_json() == reference.to_json()


def test_reference_profile_json_should_hold_only_plain_json_types(reference: ReferenceProfile) -> None:
    text = reference.to_json()

    data = json.loads(text)

    assert_plain_json(data)
    assert data["format"] == 1
    assert "values" not in data["columns"]["income"]


def test_reference_profile_with_values_given_reference_table_should_restore_sorted_finite_values(
    reference: ReferenceProfile,
) -> None:
    table = reference_table(np.random.default_rng(7))

    restored = ReferenceProfile.from_json(reference.to_json()).with_values(table)

    income = restored.columns["income"]
    assert isinstance(income, NumericalReference) and income.values is not None
    np.testing.assert_array_equal(income.values, np.sort(table.column("income").to_numpy()))


def test_fit_reference_given_same_inputs_should_give_same_version_and_other_digest_another() -> None:
    table = reference_table(np.random.default_rng(7))

    first = fit_reference(table, COLUMN_TYPES, source_digest="abc")

    assert fit_reference(table, COLUMN_TYPES, source_digest="abc").version == first.version
    assert fit_reference(table, COLUMN_TYPES, source_digest="abd").version != first.version
    assert fit_reference(table, {"income": "numerical"}, source_digest="abc").version != first.version


def test_fit_reference_given_column_without_values_should_raise_naming_it() -> None:
    table = pa.table({"income": pa.array([None, None], pa.float64())})

    with pytest.raises(ValueError, match="'income'"):
        fit_reference(table, {"income": "numerical"}, source_digest="x")


def test_numerical_reference_given_few_distinct_values_should_use_them_as_exact_edges() -> None:
    raw = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 3.0, np.inf, 3.0])

    fitted = NumericalReference.fit(raw)

    assert fitted.exact_edges
    assert fitted.edges.tolist() == [1.0, 2.0, 3.0]
    assert (fitted.count, fitted.missing, fitted.distinct) == (6, 2, 3)
    assert fitted.cell_counts.tolist() == [0, 1, 0, 2, 0, 3, 0]
    assert fitted.small_counts == {1.0: 1, 2.0: 2, 3.0: 3}
    assert fitted.std == pytest.approx(np.std([1.0, 2.0, 2.0, 3.0, 3.0, 3.0]))


def test_numerical_reference_given_more_distinct_values_than_edge_limit_should_use_quantile_edges() -> None:
    values = np.random.default_rng(17).normal(size=profiles.EDGE_LIMIT * 3)

    fitted = NumericalReference.fit(values)

    assert not fitted.exact_edges
    assert fitted.distinct == values.size
    assert fitted.edges.size <= profiles.EDGE_LIMIT
    assert fitted.edges[0] == values.min() and fitted.edges[-1] == values.max()
    ordered = np.sort(values)
    tails = np.concatenate([ordered[: profiles.EXACT_TAIL_EDGES], ordered[-profiles.EXACT_TAIL_EDGES :]])
    assert np.isin(tails, fitted.edges).all(), "the most extreme reference values should be edges themselves"
    assert np.all(np.diff(fitted.edges) > 0)
    assert fitted.small_counts is None
    assert fitted.cell_counts.sum() == values.size
    assert (
        fitted.cell_counts.tolist()
        == np.bincount(independent_cells(values, fitted.edges), minlength=fitted.cell_counts.size).tolist()
    )


def test_numerical_reference_given_small_edge_limit_should_place_edges_at_quantiles_and_tail_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiles, "EDGE_LIMIT", 9)
    monkeypatch.setattr(profiles, "EXACT_TAIL_EDGES", 2)
    values = np.arange(101.0)  # body quantiles at 0, 25, 50, 75, 100 exactly; tails 0, 1 and 99, 100

    fitted = NumericalReference.fit(values[::-1].copy())

    assert not fitted.exact_edges
    assert fitted.edges.tolist() == [0.0, 1.0, 25.0, 50.0, 75.0, 99.0, 100.0]
    assert fitted.cell_counts.tolist() == [0, 1, 0, 1, 23, 1, 24, 1, 24, 1, 23, 1, 0, 1, 0]
    np.testing.assert_allclose(fitted.cell_sums[4], sum(range(2, 25)))


def test_categorical_reference_given_column_should_count_categories_and_nulls() -> None:
    fitted = CategoricalReference.fit(pa.chunked_array([pa.array(["a", "b", None]), pa.array(["a", None, "a"])]))

    assert (fitted.count, fitted.missing, fitted.distinct, fitted.counts) == (4, 2, 2, {"a": 3, "b": 1})


def test_categorical_profile_given_float_nan_not_null_should_count_it_missing() -> None:
    column = pa.array(np.array([1.0, np.nan, 2.0, 1.0, np.nan]), from_pandas=False)
    assert column.null_count == 0  # written by numpy/pyarrow directly, NaN is a value, not a null
    profile = CategoricalProfile.of(column)
    assert (profile.counts, profile.missing, profile.count) == ({"1": 2, "2": 1}, 2, 3)


def test_categorical_distinct_given_pooled_categories_should_estimate_within_five_percent() -> None:
    keys = np.array([f"user-{i}" for i in range(60_000)])
    parts = [CategoricalProfile.of(pa.array(chunk)) for chunk in np.array_split(np.concatenate([keys, keys[:5000]]), 7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert OTHER_CATEGORY in merged.counts  # more than CATEGORY_LIMIT unseen categories: pooled
    assert merged.distinct == pytest.approx(60_000, rel=0.05)
    reversed_merge = parts[-1]
    for part in reversed(parts[:-1]):
        reversed_merge = reversed_merge.merge(part)
    assert np.array_equal(merged.sketch, reversed_merge.sketch)  # order-independent


def test_categorical_distinct_given_few_categories_should_be_exact() -> None:
    profile = CategoricalProfile.of(pa.array(["a", "b", None, "a", "c"])).merge(CategoricalProfile.of(pa.array(["d"])))
    assert profile.distinct == 4

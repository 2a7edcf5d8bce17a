"""Drift scores and verdicts against Evidently 0.7 (DataDriftPreset, computed independently in the test) and scipy."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from evidently_reference import evidently_drift
from scipy import stats

import drifting_etl.profiles.columns as profiles
from drifting_etl.metrics.drift import CellModel, column_drift, dataset_drift
from drifting_etl.metrics.drift.frequencies import profile_shares, sturges_edges
from drifting_etl.profiles.columns import ReferenceProfile, WindowProfile, fit_reference


def profile_of(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str], parts: int = 3
) -> tuple[ReferenceProfile, WindowProfile]:
    """Our profiles, the window built as the merge of `parts` partitions (as the pipeline does)."""
    reference_table = pa.Table.from_pandas(reference, preserve_index=False)
    fitted = fit_reference(reference_table, kinds, source_digest="test").with_values(reference_table)
    window = WindowProfile.empty(fitted)
    for chunk in np.array_split(np.arange(len(current)), parts):
        window = window.merge(WindowProfile.of(pa.Table.from_pandas(current.iloc[chunk], preserve_index=False), fitted))
    return fitted, window


def _numeric(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    return rng.normal(shift, 1.0, n)


def _column(kind: str, rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    if kind == "continuous":
        return rng.normal(0.4 if shifted else 0.0, 1.0, n)
    if kind == "skewed":
        return rng.lognormal(0.3 if shifted else 0.0, 0.8, n).round(3)
    if kind == "integers":  # few distinct numbers: value-count tests
        return rng.choice([1.0, 2.0, 3.0, 4.0], n, p=[0.4, 0.3, 0.2, 0.1] if shifted else [0.25] * 4)
    if kind == "binary number":
        return rng.choice([0.0, 1.0], n, p=[0.35, 0.65] if shifted else [0.5, 0.5])
    if kind == "categorical":
        return rng.choice(list("abcde"), n, p=[0.4, 0.2, 0.2, 0.1, 0.1] if shifted else [0.2] * 5)
    if kind == "binary category":
        return rng.choice(["yes", "no"], n, p=[0.62, 0.38] if shifted else [0.5, 0.5])
    raise AssertionError(kind)


KINDS = {
    "continuous": "numerical",
    "skewed": "numerical",
    "integers": "numerical",
    "binary number": "numerical",
    "categorical": "categorical",
    "binary category": "categorical",
}
METHODS_FOR = {
    "numerical": [None, "ks", "wasserstein", "psi", "jensenshannon"],
    "categorical": [None, "chisquare", "psi", "jensenshannon"],
}
CASES = [
    pytest.param(
        kind,
        sizes,
        shifted,
        method,
        id=f"{kind}-{sizes[0]}x{sizes[1]}-{'shifted' if shifted else 'same'}-{method or 'auto'}",
    )
    for kind in KINDS
    for sizes in [(600, 400), (4000, 2500)]
    for shifted in (False, True)
    for method in METHODS_FOR[KINDS[kind]]
]


@pytest.mark.parametrize(("kind", "sizes", "shifted", "method"), CASES)
def test_column_drift_given_matrix_case_should_match_evidently(
    kind: str, sizes: tuple[int, int], shifted: bool, method: str | None
) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{kind}{sizes}{shifted}".encode()))
    reference = pd.DataFrame({"x": _column(kind, rng, sizes[0], False)})
    current = pd.DataFrame({"x": _column(kind, rng, sizes[1], shifted)})
    column_type = KINDS[kind]
    expected = evidently_drift(reference, current, {"x": column_type}, method)
    fitted, window = profile_of(reference, current, {"x": column_type})

    ours = column_drift("x", fitted.columns["x"], window.columns["x"], method or "auto")

    assert ours is not None
    expected_method, expected_score = expected["columns"]["x"]
    assert ours.method == expected_method
    assert ours.score == pytest.approx(expected_score, rel=1e-9, abs=1e-12)
    assert ours.drifted == (expected["count"] == 1)
    assert not ours.approximate


def test_column_drift_given_clear_shift_should_flag_it_and_leave_stable_columns() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 3000), "c": rng.choice(list("abc"), 3000)})
    current = pd.DataFrame({"x": rng.normal(1.0, 1, 2000), "c": rng.choice(list("abc"), 2000)})
    fitted, window = profile_of(reference, current, {"x": "numerical", "c": "categorical"})
    x = column_drift("x", fitted.columns["x"], window.columns["x"])
    c = column_drift("c", fitted.columns["c"], window.columns["c"])
    assert x is not None and c is not None
    assert x.drifted and not c.drifted


def test_dataset_drift_given_three_of_five_drifted_should_match_evidently_share() -> None:
    rng = np.random.default_rng(11)
    kinds = {"a": "numerical", "b": "numerical", "c": "numerical", "d": "categorical", "e": "categorical"}
    reference = pd.DataFrame(
        {
            "a": rng.normal(0, 1, 3000),
            "b": rng.gamma(2, 2, 3000),
            "c": rng.normal(5, 2, 3000),
            "d": rng.choice(list("pqrs"), 3000),
            "e": rng.choice(list("xyz"), 3000),
        }
    )
    current = pd.DataFrame(
        {
            "a": rng.normal(0.8, 1, 1500),
            "b": rng.gamma(2, 2, 1500),
            "c": rng.normal(6.5, 2, 1500),
            "d": rng.choice(list("pqrs"), 1500, p=[0.7, 0.1, 0.1, 0.1]),
            "e": rng.choice(list("xyz"), 1500),
        }
    )
    expected = evidently_drift(reference, current, kinds)
    fitted, window = profile_of(reference, current, kinds)

    drifts = [column_drift(name, fitted.columns[name], window.columns[name]) for name in kinds]
    result = dataset_drift([d for d in drifts if d is not None], 0.5)

    assert result.drifted_count == expected["count"] == 3
    assert result.drift_share == pytest.approx(expected["share"])
    assert result.drifted
    assert {d.column for d in drifts if d and d.drifted} == {"a", "c", "d"}


def test_ks_given_small_samples_should_equal_scipy_exact_p_value() -> None:
    rng = np.random.default_rng(5)
    reference, current = rng.normal(0, 1, 300), rng.normal(0.25, 1, 120)
    fitted, window = profile_of(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}), {"x": "numerical"})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "ks")
    expected = stats.ks_2samp(reference, current)
    assert ours is not None
    assert ours.statistic == expected.statistic
    assert ours.score == expected.pvalue


def test_chisquare_given_small_samples_should_equal_scipy() -> None:
    rng = np.random.default_rng(6)
    reference = rng.choice(list("abc"), 500, p=[0.5, 0.3, 0.2])
    current = rng.choice(list("abc"), 200, p=[0.4, 0.3, 0.3])
    fitted, window = profile_of(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}), {"x": "categorical"})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "chisquare")
    keys = ["a", "b", "c"]
    observed = [int((current == k).sum()) for k in keys]
    expected_counts = [(reference == k).sum() * len(current) / len(reference) for k in keys]
    expected = stats.chisquare(observed, expected_counts)
    assert ours is not None
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert ours.score == pytest.approx(expected.pvalue, rel=1e-12)


def test_chisquare_given_category_unseen_in_reference_should_report_certain_drift() -> None:
    reference = pd.DataFrame({"x": ["a"] * 300 + ["b"] * 200})
    current = pd.DataFrame({"x": ["a"] * 100 + ["b"] * 80 + ["new"] * 20})
    fitted, window = profile_of(reference, current, {"x": "categorical"})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "chisquare")
    assert ours is not None
    assert ours.score == 0.0 and ours.drifted and ours.statistic is None


def test_column_drift_given_missing_and_infinite_values_should_ignore_them_like_evidently() -> None:
    rng = np.random.default_rng(8)
    ref_values = rng.normal(0, 1, 800)
    cur_values = rng.normal(0.3, 1, 500)
    ref_values[::17] = np.nan
    cur_values[::13] = np.inf
    cur_values[::11] = np.nan
    reference, current = pd.DataFrame({"x": ref_values}), pd.DataFrame({"x": cur_values})
    expected = evidently_drift(reference, current, {"x": "numerical"})
    fitted, window = profile_of(reference, current, {"x": "numerical"})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"])
    assert ours is not None
    assert (ours.method, ours.score) == (
        expected["columns"]["x"][0],
        pytest.approx(expected["columns"]["x"][1], rel=1e-9),
    )


def test_column_drift_given_window_without_values_should_give_no_verdict() -> None:
    reference = pd.DataFrame({"x": np.arange(50, dtype=float)})
    current = pd.DataFrame({"x": [np.nan] * 10})
    fitted, window = profile_of(reference, current, {"x": "numerical"}, parts=1)
    assert column_drift("x", fitted.columns["x"], window.columns["x"]) is None


# ------------------------------------------------------------------------------ approximations on large windows

LARGE_CASES = {
    "normal shifted": (lambda r: r.normal(0, 1, 60_000), lambda r: r.normal(0.1, 1.1, 200_000)),
    "normal same": (lambda r: r.normal(0, 1, 60_000), lambda r: r.normal(0, 1, 200_000)),
    "lognormal beyond range": (lambda r: r.lognormal(0, 1, 60_000), lambda r: r.lognormal(0.5, 1.2, 200_000)),
    "rounded": (lambda r: np.round(r.normal(50, 10, 60_000)), lambda r: np.round(r.normal(52, 10, 200_000))),
    # the window's range ends inside the reference's: the end bins hold a handful of values, which PSI weighs heavily
    "uniform shifted within range": (lambda r: r.uniform(0, 10, 60_000), lambda r: r.uniform(2, 12, 200_000)),
    "truncated within range": (lambda r: r.normal(0, 1, 60_000), lambda r: np.abs(r.normal(0, 1, 200_000)) - 0.5),
    "few distinct in reference": (
        lambda r: r.integers(0, 500, 900).astype(float),
        lambda r: r.integers(0, 520, 200_000).astype(float),
    ),
}


@pytest.mark.parametrize("case", list(LARGE_CASES))
def test_column_drift_given_window_beyond_exact_limit_should_stay_within_error_bounds(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(21)
    make_reference, make_current = LARGE_CASES[case]
    reference, current = pd.DataFrame({"x": make_reference(rng)}), pd.DataFrame({"x": make_current(rng)})
    fitted, exact_window = profile_of(reference, current, {"x": "numerical"}, parts=4)
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 1000)
    _, summarised_window = profile_of(reference, current, {"x": "numerical"}, parts=4)
    assert summarised_window.columns["x"].values is None  # type: ignore[union-attr]

    for method in ("ks", "wasserstein", "psi", "jensenshannon"):
        exact = column_drift("x", fitted.columns["x"], exact_window.columns["x"], method)
        approx = column_drift("x", fitted.columns["x"], summarised_window.columns["x"], method)
        assert exact is not None and approx is not None
        assert approx.drifted == exact.drifted, method
        if method == "ks":
            assert approx.statistic == pytest.approx(exact.statistic, abs=0.005)
        else:  # the bound (2% relative), on undrifted columns too, where the scores are near zero
            assert approx.score == pytest.approx(exact.score, rel=0.02), method


def test_ks_given_reference_edges_at_every_value_should_be_exact_from_summaries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": np.round(rng.normal(0, 1, 5000), 2)})
    current = pd.DataFrame({"x": np.round(rng.normal(0.05, 1, 40_000), 3)})
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 100)
    fitted, window = profile_of(reference, current, {"x": "numerical"})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "ks")
    expected = stats.ks_2samp(reference["x"], current["x"])
    assert ours is not None and fitted.columns["x"].exact_edges  # type: ignore[union-attr]
    assert ours.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert ours.score == pytest.approx(expected.pvalue, rel=1e-6)


def test_column_drift_given_numeric_codes_with_nan_declared_categorical_should_drop_nan_like_evidently() -> None:
    rng = np.random.default_rng(12)
    reference = pd.DataFrame({"x": rng.choice([1.0, 2.0, 3.0, np.nan], 700, p=[0.4, 0.3, 0.2, 0.1])})
    current = pd.DataFrame({"x": rng.choice([1.0, 2.0, 3.0, np.nan], 400, p=[0.2, 0.3, 0.3, 0.2])})
    expected = evidently_drift(reference, current, {"x": "categorical"})
    fitted, window = profile_of(reference, current, {"x": "categorical"})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"])
    assert ours is not None
    assert (ours.method, ours.current_rows) == (expected["columns"]["x"][0], int(current["x"].notna().sum()))
    assert ours.score == pytest.approx(expected["columns"]["x"][1], rel=1e-9)


def test_cell_model_given_points_among_the_windows_smallest_and_largest_values_should_count_them_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(8)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 60_000)})
    current = pd.DataFrame({"x": rng.uniform(-0.5, 3, 200_000)})  # starts inside the reference's range
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 1000)
    fitted, window = profile_of(reference, current, {"x": "numerical"}, parts=4)
    column, known = window.columns["x"], fitted.columns["x"]
    assert isinstance(column, profiles.NumericalProfile) and isinstance(known, profiles.NumericalReference)
    assert column.values is None
    model = CellModel.of(column, known.edges)
    ordered = np.sort(current["x"].to_numpy())
    pieces: list[np.ndarray] = []
    for end in (ordered[: profiles.ENDS_KEPT - 1], ordered[-profiles.ENDS_KEPT + 1 :]):
        pieces += [end, (end[1:] + end[:-1]) / 2]  # the values themselves and between them
    points = np.concatenate(pieces)
    assert np.array_equal(model.below(points, inclusive=False), np.searchsorted(ordered, points, side="left"))
    assert np.array_equal(model.below(points, inclusive=True), np.searchsorted(ordered, points, side="right"))


def test_sturges_edges_given_power_of_two_counts_should_equal_numpys_edges() -> None:
    """Issue 14 defect 4: ceil(log2 N + 1) bins is one short of numpy's for some ranges when N is a power of two."""
    rng = np.random.default_rng(4)
    differing = 0
    for count in [2**k for k in range(4, 18)] + [100, 1000, 12345]:
        for _ in range(40):
            low, high = sorted(rng.normal(0, 10 ** rng.uniform(-3, 6), 2))
            data = np.full(count, low)
            data[-1] = high
            expected = np.histogram_bin_edges(data, bins="sturges")
            np.testing.assert_array_equal(sturges_edges(low, high, count), expected)
            differing += len(expected) - 1 != int(np.ceil(np.log2(count) + 1))
    assert differing > 0  # the ranges where the old formula was wrong are among them
    np.testing.assert_array_equal(sturges_edges(3.0, 3.0, 64), np.histogram_bin_edges(np.full(64, 3.0), "sturges"))


def test_profile_shares_given_a_summarised_window_should_use_numpys_sturges_bins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    low, high = -3.19896010035901, 11.840618399267452  # 64 values over this range: numpy makes 8 bins, not 7
    reference = pd.DataFrame({"x": np.linspace(low, 5.0, 24)})
    current = pd.DataFrame({"x": np.linspace(0.0, high, 40)})
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 10)
    fitted, window = profile_of(reference, current, {"x": "numerical"}, parts=2)
    assert window.columns["x"].values is None  # type: ignore[union-attr]

    shares = profile_shares(fitted.columns["x"], window.columns["x"])

    combined = np.concatenate([reference["x"].to_numpy(), current["x"].to_numpy()])
    assert len(shares.reference) == len(np.histogram_bin_edges(combined, bins="sturges")) - 1 == 8


@pytest.mark.parametrize("method", ["psi", "jensenshannon"])
def test_column_drift_given_few_reference_values_and_many_kept_window_values_should_bin_by_value_like_evidently(
    method: str,
) -> None:
    """Issue 14 defect 3: ratings 1-5 against averaged ratings (hundreds of distinct values, all kept) were pooled into one
    off-reference bin; Evidently bins every distinct value on its own."""
    rng = np.random.default_rng(31)
    reference = pd.DataFrame({"x": rng.integers(1, 6, 3000).astype(float)})
    current = pd.DataFrame({"x": np.round(rng.uniform(1, 5, 1500), 2)})  # averaged ratings, 2 decimals
    assert current["x"].nunique() > 64
    expected = evidently_drift(reference, current, {"x": "numerical"}, method)
    fitted, window = profile_of(reference, current, {"x": "numerical"})
    assert window.columns["x"].values is not None and window.columns["x"].small_counts is None  # type: ignore[union-attr]

    ours = column_drift("x", fitted.columns["x"], window.columns["x"], method)

    assert ours is not None and not ours.approximate
    assert ours.score == pytest.approx(expected["columns"]["x"][1], rel=1e-9, abs=1e-12)
    assert ours.drifted == (expected["count"] == 1)


EDGE_RNG = np.random.default_rng(77)
EDGE_CASES = {
    # name: (reference, window, column type, methods); expected values are Evidently's, computed in the test
    "constant on both sides": (np.full(500, 3.0), np.full(400, 3.0), "numerical", ("ks", "wasserstein", "psi")),
    "fully disjoint": (np.linspace(0, 1, 500), np.linspace(10, 11, 400), "numerical", ("wasserstein", "psi")),
    "a category on one side only": (
        EDGE_RNG.choice(["a", "b"], 500),
        EDGE_RNG.choice(["a", "b", "c"], 400),
        "categorical",
        ("chisquare", "jensenshannon", "psi"),
    ),
    "±inf in the window": (
        EDGE_RNG.normal(0, 1, 500),
        np.r_[EDGE_RNG.normal(0, 1, 398), np.inf, -np.inf],
        "numerical",
        ("ks", "wasserstein"),
    ),
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_column_drift_given_edge_case_should_equal_evidently_where_it_is_finite(case: str) -> None:
    reference_values, window_values, kind, methods = EDGE_CASES[case]
    reference, current = pd.DataFrame({"x": reference_values}), pd.DataFrame({"x": window_values})
    fitted, window = profile_of(reference, current, {"x": kind})
    # Drift ignores ±inf, as Evidently's scores do; its drifted count does not always (with ±inf in the window it
    # counts a Wasserstein score below the threshold as drift), so the verdict is checked on the finite rows.
    finite = current[np.isfinite(current["x"])] if kind == "numerical" else current
    for method in methods:
        expected = evidently_drift(reference, finite, {"x": kind}, method)
        ours = column_drift("x", fitted.columns["x"], window.columns["x"], method)
        assert ours is not None and np.isfinite(ours.score), (case, method)
        assert ours.score == pytest.approx(expected["columns"]["x"][1], rel=1e-9, abs=1e-12), (case, method)
        assert ours.drifted == (expected["count"] == 1), (case, method)


def test_column_drift_given_edge_cases_where_evidently_gives_nan_or_fails_should_give_the_documented_answer() -> None:
    # one category on both sides: Evidently's (and scipy's) chi-squared p-value is NaN; ours is 1 (no drift)
    same = pd.DataFrame({"x": ["a"] * 500}), pd.DataFrame({"x": ["a"] * 400})
    assert np.isnan(evidently_drift(*same, {"x": "categorical"}, "chisquare")["columns"]["x"][1])
    fitted, window = profile_of(*same, {"x": "categorical"})
    chi = column_drift("x", fitted.columns["x"], window.columns["x"], "chisquare")
    assert chi is not None and (chi.score, chi.drifted) == (1.0, False)
    # fully disjoint: Jensen-Shannon distance at its maximum, sqrt(ln 2) (natural logarithm, as Evidently)
    disjoint = pd.DataFrame({"x": np.linspace(0, 1, 500)}), pd.DataFrame({"x": np.linspace(10, 11, 400)})
    fitted, window = profile_of(*disjoint, {"x": "numerical"})
    js = column_drift("x", fitted.columns["x"], window.columns["x"], "jensenshannon")
    assert js is not None and js.score == pytest.approx(np.sqrt(np.log(2)), rel=1e-6) and js.drifted
    # ±inf in the window: Evidently's PSI fails ("range of [-inf, inf] is not finite"); ours ignores them as KS does
    reference, current = (pd.DataFrame({"x": values}) for values in EDGE_CASES["±inf in the window"][:2])
    finite = current[np.isfinite(current["x"])]
    fitted, window = profile_of(reference, current, {"x": "numerical"})
    psi = column_drift("x", fitted.columns["x"], window.columns["x"], "psi")
    expected = evidently_drift(reference, finite, {"x": "numerical"}, "psi")["columns"]["x"][1]
    assert psi is not None and psi.score == pytest.approx(expected, rel=1e-9)
    # an all-missing window column: no verdict (a data-quality problem, not drift); Evidently raises
    fitted, window = profile_of(reference, pd.DataFrame({"x": [np.nan] * 400}), {"x": "numerical"})
    assert column_drift("x", fitted.columns["x"], window.columns["x"], "ks") is None


BEYOND_REFERENCE_CASES = {
    # (reference, window, relative tolerance): every window value beyond the reference's range, so the score is exact
    "window in other units (x100)": (
        lambda rng: rng.normal(50, 10, 5000),
        lambda rng: rng.normal(50, 10, 20_000) * 100,
        1e-9,
    ),
    "window spread around a constant reference": (
        lambda rng: np.full(5000, 3.0),
        lambda rng: rng.normal(3.0, 0.5, 20_000),
        1e-9,
    ),
    # about 0.06% of the window inside the reference's 0.0008-wide range, where it is modelled: error far below 1e-5
    "window spread around a jittered constant reference": (
        lambda rng: 3.0 + rng.normal(0, 1e-4, 5000),
        lambda rng: rng.normal(3.0, 0.5, 20_000),
        1e-5,
    ),
}


@pytest.mark.parametrize("case", BEYOND_REFERENCE_CASES)
def test_wasserstein_given_summarised_window_beyond_reference_range_should_equal_exact_value(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(14)
    make_reference, make_current, tolerance = BEYOND_REFERENCE_CASES[case]
    reference, current = make_reference(rng), make_current(rng)
    monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 1000)
    fitted, window = profile_of(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}), {"x": "numerical"})
    assert window.columns["x"].values is None  # type: ignore[union-attr]

    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "wasserstein")
    expected = stats.wasserstein_distance(reference, current) / max(float(np.std(reference)), 0.001)
    assert ours is not None
    assert ours.score == pytest.approx(expected, rel=tolerance)


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("ks", "numerical"),
        ("chisquare", "categorical"),
        ("ztest", "categorical"),
        ("psi", "numerical"),
        ("wasserstein", "numerical"),
        ("jensenshannon", "categorical"),
    ],
)
def test_column_drift_given_a_score_exactly_at_the_threshold_should_decide_as_evidentlys_stat_test(
    method: str, kind: str
) -> None:
    """The comparison operator of each method is Evidently's (ks: p <= t; chisquare, ztest: p < t; distances: >= t)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently.legacy.calculations.stattests import (
            chisquare_stattest,
            jensenshannon,
            ks_stattest,
            psi,
            wasserstein_distance_norm,
            z_stattest,
        )
        from evidently.legacy.core import ColumnType
    stattest = {
        "ks": ks_stattest._ks_stat_test,
        "chisquare": chisquare_stattest._chi_stat_test,
        "ztest": z_stattest._z_stat_test,
        "psi": psi._psi,
        "wasserstein": wasserstein_distance_norm._wasserstein_distance_norm,
        "jensenshannon": jensenshannon._jensenshannon,
    }[method]
    rng = np.random.default_rng(zlib.crc32(method.encode()))
    if kind == "numerical":
        reference, current = pd.Series(rng.normal(0, 1, 400)), pd.Series(rng.normal(0.1, 1, 300))
        evidently_type = ColumnType.Numerical
    else:
        options = ["a", "b"] if method == "ztest" else ["a", "b", "c"]
        reference, current = pd.Series(rng.choice(options, 400)), pd.Series(rng.choice(options, 300))
        evidently_type = ColumnType.Categorical
    fitted, window = profile_of(reference.to_frame("x"), current.to_frame("x"), {"x": kind})
    ours = column_drift("x", fitted.columns["x"], window.columns["x"], method)
    assert ours is not None
    theirs, _ = stattest(reference, current, evidently_type, 0.5)
    assert ours.score == pytest.approx(theirs, rel=1e-9, abs=1e-12)

    at_threshold = column_drift("x", fitted.columns["x"], window.columns["x"], method, threshold=ours.score)
    _, theirs_at_threshold = stattest(reference, current, evidently_type, theirs)

    assert at_threshold is not None and at_threshold.drifted == bool(theirs_at_threshold)
    assert at_threshold.drifted == (method not in ("chisquare", "ztest"))  # only these two compare strictly


@pytest.mark.parametrize("summarised", [False, True])
def test_ks_given_heavily_tied_values_should_equal_scipy(summarised: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten distinct values, thousands of rows: the KS statistic and p-value of scipy.stats.ks_2samp (as Evidently),
    from kept values and from a summarised window alike."""
    from scipy import stats

    rng = np.random.default_rng(12)
    reference = pd.DataFrame({"x": rng.integers(0, 10, 3000).astype(float)})
    # over 10,000 rows, as every summarised window is (> 200,000 values): scipy's "auto" mode is then asymptotic
    current = pd.DataFrame({"x": rng.choice(10, 12_000, p=[0.11] + [0.89 / 9] * 9).astype(float)})
    if summarised:
        monkeypatch.setattr(profiles, "EXACT_VALUES_LIMIT", 1000)
    fitted, window = profile_of(reference, current, {"x": "numerical"})
    assert (window.columns["x"].values is None) == summarised  # type: ignore[union-attr]

    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "ks")

    expected = stats.ks_2samp(reference["x"], current["x"])
    assert ours is not None and not ours.approximate
    assert ours.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert ours.score == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert ours.drifted == (expected.pvalue <= 0.05)


def test_psi_given_empty_bins_on_either_side_should_equal_evidentlys_epsilon() -> None:
    """PSI fills an empty bin's share with 0.0001 on the reference and on the window side alike, as Evidently."""
    reference = pd.DataFrame({"x": ["a"] * 300 + ["b"] * 200})  # no "c"
    current = pd.DataFrame({"x": ["a"] * 150 + ["c"] * 250})  # no "b"
    expected = evidently_drift(reference, current, {"x": "categorical"}, "psi")["columns"]["x"][1]
    fitted, window = profile_of(reference, current, {"x": "categorical"})

    ours = column_drift("x", fitted.columns["x"], window.columns["x"], "psi")

    shares = {"a": (0.6, 0.375), "b": (0.4, 0.0001), "c": (0.0001, 0.625)}
    by_hand = sum((cur - ref) * np.log(cur / ref) for ref, cur in shares.values())
    assert ours is not None and ours.score == pytest.approx(expected, rel=1e-12) == pytest.approx(by_hand, rel=1e-12)

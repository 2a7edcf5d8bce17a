"""Certified verdicts (issue 14): every score from a profile carries an interval that contains the exact score, and
a column whose interval contains its threshold is computed exactly in a second pass over its values.

Large windows here are real (beyond `EXACT_VALUES_LIMIT`, profiled without their values); the exact values are
computed in the tests, by scipy from the raw rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.metrics.drift import column_drift
from drifting_etl.profiles.columns import EDGE_LIMIT, EXACT_VALUES_LIMIT, NumericalProfile, NumericalReference
from drifting_etl.store.artifacts import ArtifactStore

WINDOW_ROWS = 300_000  # beyond EXACT_VALUES_LIMIT: scored from the profile
REFERENCE_ROWS = 40_000  # more distinct values than EDGE_LIMIT: quantile edges, where KS is not exact at the edges


def _exact_ks(reference: np.ndarray, window: np.ndarray) -> float:
    return float(stats.ks_2samp(reference, window).pvalue)


def _shift_at_p(reference: np.ndarray, base: np.ndarray, target: float) -> float:
    """The mean shift of `base` whose exact KS p-value against `reference` is `target` (bisection on scipy)."""
    low, high = 0.0, 0.05
    for _ in range(40):
        middle = (low + high) / 2
        if _exact_ks(reference, base + middle) > target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def test_ks_given_large_windows_within_half_a_percent_of_the_threshold_should_certify_or_refine_the_exact_verdict() -> (
    None
):
    """Defect 1: D was taken at cell boundaries only, below the exact D, so near-threshold drift was missed. Now
    the p-value's interval contains scipy's, and an interval that cannot decide sends the column to refinement."""
    rng = np.random.default_rng(14)
    raw = rng.normal(size=REFERENCE_ROWS)
    reference = NumericalReference.fit(raw)
    assert not reference.exact_edges and reference.edges.size <= EDGE_LIMIT
    base = rng.normal(size=WINDOW_ROWS)
    assert WINDOW_ROWS > EXACT_VALUES_LIMIT
    shift = _shift_at_p(reference.values, base, 0.05)  # type: ignore[arg-type]
    for target_shift in (shift * 0.995, shift * 1.005, shift):
        window = base + target_shift
        exact = _exact_ks(reference.values, window)  # type: ignore[arg-type]
        profile = NumericalProfile.of(window, reference.edges, keep_values=False)
        assert profile.values is None
        drift = column_drift("x", reference, profile, "ks")
        assert drift is not None and drift.approximate
        assert drift.score_low <= exact <= drift.score_high, (target_shift, exact, drift)
        if drift.decided:
            assert drift.drifted == (exact <= 0.05)
        # refinement: the same column profiled with every value kept (as pipeline/refine.py does) is scipy's result
        kept = NumericalProfile.of(window, reference.edges, values_limit=window.size)
        refined = column_drift("x", reference, kept, "ks", refined=True)
        assert refined is not None and refined.refined and not refined.approximate
        assert refined.score == pytest.approx(exact, rel=1e-9)
        assert refined.score_low == refined.score_high == refined.score and refined.decided


@pytest.mark.parametrize(
    "case",
    ["same distribution", "other units (x100)", "spread around a constant reference", "shifted beyond the range"],
)
def test_wasserstein_given_large_windows_should_certify_an_interval_containing_the_exact_score(case: str) -> None:
    rng = np.random.default_rng(2)
    raw = np.full(1000, 5.0) if case.startswith("spread") else rng.normal(10, 2, REFERENCE_ROWS)
    reference = NumericalReference.fit(raw)
    window = {
        "same distribution": lambda: rng.normal(10, 2, WINDOW_ROWS),
        "other units (x100)": lambda: rng.normal(10, 2, WINDOW_ROWS) * 100,
        "spread around a constant reference": lambda: rng.normal(5, 0.01, WINDOW_ROWS),
        "shifted beyond the range": lambda: rng.normal(30, 2, WINDOW_ROWS),
    }[case]()
    exact = stats.wasserstein_distance(reference.values, window) / max(np.std(reference.values), 0.001)  # type: ignore[arg-type]
    drift = column_drift("x", reference, NumericalProfile.of(window, reference.edges, keep_values=False), "wasserstein")
    assert drift is not None
    assert drift.score_low <= exact <= drift.score_high
    assert drift.score_low <= drift.score <= drift.score_high
    assert drift.score_high - drift.score_low <= 0.01 * drift.threshold  # narrow: only near-threshold columns refine
    assert drift.constant_reference == case.startswith("spread")


def test_column_drift_given_exact_values_should_give_a_zero_width_interval() -> None:
    rng = np.random.default_rng(3)
    reference = NumericalReference.fit(rng.normal(size=2000))
    profile = NumericalProfile.of(rng.normal(0.1, 1, 3000), reference.edges)
    for method in ("ks", "wasserstein", "psi", "jensenshannon", "chisquare"):
        drift = column_drift("x", reference, profile, method)
        assert drift is not None and not drift.approximate and drift.decided
        assert drift.score_low == drift.score == drift.score_high, method


CONFIG = """\
name: certified
task: regression
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [near, far, binned]
drift:
  per_feature:
    near: {method: ks}
    far: {method: ks}
    binned: {method: psi}
"""
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def _psi_of_values(reference: np.ndarray, window: np.ndarray) -> float:
    """Evidently's PSI on Sturges bins of both samples, written out from its definition."""
    bins = np.histogram_bin_edges(np.concatenate([reference, window]), bins="sturges")
    shares = [np.histogram(values, bins)[0] / values.size for values in (reference, window)]
    filled = []
    for share in shares:
        share = share.astype(float).copy()
        smallest = share[share != 0].min()
        share[share == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
        filled.append(share)
    return float(np.sum((filled[0] - filled[1]) * np.log(filled[0] / filled[1])))


@pytest.mark.slow
def test_run_given_a_large_window_should_store_intervals_and_refine_undecided_columns_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    reference = pd.DataFrame({name: rng.normal(size=REFERENCE_ROWS) for name in ("near", "far", "binned")})
    reference["prediction"] = rng.normal(size=REFERENCE_ROWS)
    reference_path = tmp_path / "reference.parquet"
    reference.to_parquet(reference_path)
    rows = 12_000 * 24
    near_base = rng.normal(size=rows)
    shift = _shift_at_p(reference["near"].to_numpy(), near_base, 0.05) * 1.004
    logs = pd.DataFrame(
        {
            "timestamp": [DAY + timedelta(seconds=s) for s in np.sort(rng.uniform(0, 86_399, rows))],
            "near": near_base + shift,
            "far": rng.normal(0.5, 1, rows),
            "binned": rng.normal(0.02, 1, rows),
            "prediction": rng.normal(size=rows),
        }
    )
    store = ArtifactStore(str(tmp_path / "store"))
    with LogWriter("certified", store, model_version="v1", max_rows=10**6) as writer:
        writer.log_frame(logs)
    (tmp_path / "certified.yaml").write_text(CONFIG)
    args = ["--storage", str(tmp_path / "store"), "--database-url", f"sqlite:///{tmp_path / 'metrics.db'}"]
    runner = CliRunner()

    def cli(*arguments: str) -> None:
        result = runner.invoke(main, [*args, *arguments], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    cli("init")
    cli("project", "register", str(tmp_path / "certified.yaml"), "--reference", str(reference_path))
    cli("run", "certified", "--start", DAY.isoformat(), "--end", (DAY + timedelta(days=1)).isoformat(), "--no-report")
    database = MetricsDatabase(f"sqlite:///{tmp_path / 'metrics.db'}")
    stored = {row["feature"]: row for row in database.rows("feature_drift", "certified", DAY, DAY + timedelta(days=1))}
    database.dispose()

    for name in ("near", "far"):
        exact = _exact_ks(reference[name].to_numpy(), logs[name].to_numpy())
        row = stored[name]
        assert row["score_low"] <= exact <= row["score_high"], name
        assert row["drifted"] == (exact <= 0.05), name
        if row["refined"]:
            assert row["score"] == pytest.approx(exact, rel=1e-9)
    assert stored["far"]["drifted"] and not stored["far"]["refined"]  # far from the threshold: decided by the profile
    near = stored["near"]  # 0.4% beyond the threshold: the profile's interval contains it, so it was refined
    assert near["refined"] and near["score_low"] == near["score"] == near["score_high"]
    binned = stored["binned"]  # far below the threshold: decided by its certified interval
    exact = _psi_of_values(reference["binned"].to_numpy(), logs["binned"].to_numpy())
    assert not binned["refined"] and binned["score_low"] <= exact <= binned["score_high"] < 0.1


@pytest.mark.parametrize(
    "window",
    [
        lambda rng: rng.normal(0, 1, WINDOW_ROWS),
        lambda rng: rng.normal(0.05, 1.02, WINDOW_ROWS),
        lambda rng: rng.normal(0.3, 1.5, WINDOW_ROWS),
        lambda rng: np.concatenate([rng.normal(0, 1, WINDOW_ROWS - 5000), rng.normal(6, 0.1, 5000)]),
        lambda rng: rng.standard_t(3, WINDOW_ROWS),
        lambda rng: np.round(rng.normal(0, 1, WINDOW_ROWS), 2),
    ],
    ids=["same", "slightly shifted", "shifted and wider", "with a far cluster", "heavy tails", "rounded"],
)
def test_psi_and_jensenshannon_given_large_windows_should_certify_intervals_containing_the_exact_scores(
    window: object,
) -> None:
    from scipy.spatial import distance

    rng = np.random.default_rng(5)
    reference = NumericalReference.fit(rng.normal(size=REFERENCE_ROWS))
    values = window(rng)  # type: ignore[operator]
    profile = NumericalProfile.of(values, reference.edges, keep_values=False)
    bins = np.histogram_bin_edges(np.concatenate([reference.values, values]), bins="sturges")  # type: ignore[list-item]
    ref_shares = np.histogram(reference.values, bins)[0] / reference.count  # type: ignore[arg-type]
    cur_shares = np.histogram(values, bins)[0] / values.size
    exact = {
        "psi": _psi_of_values(reference.values, values),  # type: ignore[arg-type]
        "jensenshannon": float(distance.jensenshannon(ref_shares, cur_shares)),
    }
    for method, expected in exact.items():
        drift = column_drift("x", reference, profile, method)
        assert drift is not None and drift.approximate
        assert drift.score_low <= expected <= drift.score_high, (method, expected, drift)
        assert drift.score_low <= drift.score <= drift.score_high

"""Near-threshold columns for the scale benchmark (issue 14): certified intervals and refinement, measured.

For every numerical method (ks, wasserstein, psi, jensenshannon) two columns are generated whose exact score lies
0.5% of the threshold on either side of it (a mean shift found by bisection on the exact computation), in a window
of 24 hour partitions too large to keep its values. `drifting-etl run` then scores the window; its stored verdicts
are compared with the exact ones (scipy's ks_2samp and wasserstein_distance, Evidently 0.7's psi and
jensenshannon stat tests, on the full arrays). Reported: verdict mismatches (must be 0), each column's interval
width from the profile (in % of the threshold), which columns were refined, and the time refinement adds to a run
of 20 columns of which one (5%) needs it (profiling from the raw logs, evaluating and loading; median of 3,
refined and unrefined alternating).

Run on its own (`.venv/bin/python benchmarks/near_threshold.py [--rows 2M] [--small]`) or as the last section of
benchmarks/scale.py.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAY = date(2026, 1, 5)
METHODS = ("ks", "wasserstein", "psi", "jensenshannon")
THRESHOLDS = {"ks": 0.05, "wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}
OFFSET = 0.005
"""How far from the threshold the exact scores are placed: 0.5% of it, on both sides."""
FAR_COLUMNS = 19
"""Columns of the cost project that the profile decides (one more is near the threshold: 5% need refinement)."""


@dataclass(frozen=True)
class NearColumn:
    name: str
    method: str
    target: float
    shift: float
    exact: float
    exact_drift: bool


@dataclass
class NearResult:
    rows: int
    columns: list[NearColumn]
    stored: dict[str, dict]
    widths: dict[str, float]
    """Width of each column's interval from the profile, in % of its threshold."""
    unrefined_seconds: float
    refined_seconds: float

    @property
    def mismatches(self) -> list[str]:
        return [c.name for c in self.columns if bool(self.stored[c.name]["drifted"]) != c.exact_drift]

    @property
    def refined(self) -> list[str]:
        return [c.name for c in self.columns if self.stored[c.name]["refined"]]

    @property
    def cost(self) -> float:
        return self.refined_seconds / self.unrefined_seconds - 1


def _sturges_shares(reference: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bins = np.histogram_bin_edges(np.concatenate([reference, window]), bins="sturges")
    return tuple(np.histogram(values, bins)[0] / values.size for values in (reference, window))  # type: ignore[return-value]


def _fast_score(method: str, reference: np.ndarray, window: np.ndarray) -> float:
    """The exact score, computed directly (for the bisection; the reported exact values come from `_exact`)."""
    from scipy import stats
    from scipy.spatial import distance

    if method == "ks":
        return float(stats.ks_2samp(reference, window).pvalue)
    if method == "wasserstein":
        return float(stats.wasserstein_distance(reference, window) / max(np.std(reference), 0.001))
    ref, cur = _sturges_shares(reference, window)
    if method == "jensenshannon":
        return float(distance.jensenshannon(ref, cur))
    ref, cur = (_filled(shares) for shares in (ref, cur))
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def _filled(shares: np.ndarray) -> np.ndarray:
    """Evidently's zero filling for PSI."""
    smallest = shares[shares != 0].min()
    return np.where(shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, shares)


def _exact(method: str, reference: np.ndarray, window: np.ndarray) -> tuple[float, bool]:
    """(score, drifted) as scipy (ks, wasserstein) and Evidently's stat tests (psi, jensenshannon) compute them."""
    if method in ("ks", "wasserstein"):
        score = _fast_score(method, reference, window)
        return score, (score <= THRESHOLDS[method] if method == "ks" else score >= THRESHOLDS[method])
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from evidently.legacy.calculations.stattests import jensenshannon_stat_test, psi_stat_test
        from evidently.legacy.core import ColumnType
    test = {"psi": psi_stat_test, "jensenshannon": jensenshannon_stat_test}[method]
    result = test(pd.Series(reference), pd.Series(window), ColumnType.Numerical, THRESHOLDS[method])
    return float(result.drift_score), bool(result.drifted)


def _shift_for(method: str, reference: np.ndarray, base: np.ndarray, target: float) -> float:
    """The mean shift of `base` whose exact score is `target` (bisection: scores move monotonically with it)."""
    score: Callable[[float], float] = lambda shift: _fast_score(method, reference, base + shift)  # noqa: E731
    rising = method != "ks"  # a p-value falls as the shift grows; a distance rises
    low, high = 0.0, 0.01
    while (score(high) < target) == rising and high < 10:
        high *= 2
    for _ in range(36):
        middle = (low + high) / 2
        if (score(middle) < target) == rising:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _config(name: str, columns: dict[str, str]) -> str:
    per_feature = "\n".join(f"    {column}: {{method: {method}}}" for column, method in columns.items())
    return (
        f'name: {name}\ntask: regression\nschedule: "@daily"\nstart_date: {DAY.isoformat()}\n'
        f"features:\n  numerical: [{', '.join(columns)}]\n"
        f"drift:\n  per_feature:\n{per_feature}\nalerts:\n  send: never\n"
    )


def _write_window(store: Path, project: str, frame: dict[str, np.ndarray], rows: int) -> None:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    bounds = np.linspace(0, rows, 25).astype(np.int64)
    for hour in range(24):
        low, high = int(bounds[hour]), int(bounds[hour + 1])
        stamps = start + timedelta(hours=hour)
        micros = int(stamps.timestamp() * 1e6) + np.linspace(0, 3_599_000_000, high - low).astype(np.int64)
        table = pa.table(
            {
                "timestamp": pa.array(micros, pa.timestamp("us", tz="UTC")),
                **{name: values[low:high] for name, values in frame.items()},
            }
        )
        path = store / "logs" / f"project={project}" / f"date={DAY.isoformat()}" / f"hour={hour:02d}"
        path.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path / "part-00000.parquet", row_group_size=128 * 1024, compression="zstd")


def _register(store: Path, database: str, workdir: Path, project: str, config: str, reference: dict) -> None:
    from drifting_etl.cli.main import main

    (workdir / f"{project}.yaml").write_text(config)
    pq.write_table(pa.table(reference), workdir / f"{project}-reference.parquet")
    common = ["--storage", str(store), "--database-url", database]
    main([*common, "init"], standalone_mode=False)
    args = [
        "project",
        "register",
        str(workdir / f"{project}.yaml"),
        "--reference",
        str(workdir / f"{project}-reference.parquet"),
    ]
    main([*common, *args], standalone_mode=False)


def measure_near_threshold(
    workdir: Path, rows: int, reference_rows: int, seed: int, progress: Callable[[str], None]
) -> NearResult:
    from drifting_etl.core.window import Window
    from drifting_etl.load.database import MetricsDatabase
    from drifting_etl.metrics.drift import column_drift
    from drifting_etl.pipeline.run import load_summary, refiner, run_window, summarize_window
    from drifting_etl.store.artifacts import ArtifactStore
    from drifting_etl.store.projects import load_project

    rng = np.random.default_rng([seed, 14])
    store_path, database_url = workdir / "near-store", f"sqlite:///{workdir / 'near-metrics.db'}"
    shutil.rmtree(store_path, ignore_errors=True)
    (workdir / "near-metrics.db").unlink(missing_ok=True)
    columns: list[NearColumn] = []
    reference: dict[str, np.ndarray] = {}
    window: dict[str, np.ndarray] = {}
    progress(f"near-threshold columns: placing exact scores 0.5% on either side of the thresholds ({rows:,} rows) …")
    for method in METHODS:
        for side, factor in (("drift", -1 if method == "ks" else 1), ("stable", 1 if method == "ks" else -1)):
            name = f"{method}_{side}"
            ref, base = rng.normal(size=reference_rows), rng.normal(size=rows)
            target = THRESHOLDS[method] * (1 + factor * OFFSET)
            shift = _shift_for(method, ref, base, target)
            exact, drifted = _exact(method, ref, base + shift)
            reference[name], window[name] = ref, base + shift
            columns.append(NearColumn(name, method, target, shift, exact, drifted))
    reference["prediction"], window["prediction"] = rng.normal(size=reference_rows), rng.normal(size=rows)
    config = _config("near", {c.name: c.method for c in columns})
    _register(store_path, database_url, workdir, "near", config, reference)
    _write_window(store_path, "near", window, rows)
    store = ArtifactStore(str(store_path))
    database = MetricsDatabase(database_url)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    day = Window(start, start + timedelta(days=1))
    progress("near-threshold columns: running the window …")
    run_window(store, database, "near", day)  # what `drifting-etl run` does (without the report and e-mail)
    stored = {row["feature"]: row for row in database.rows("feature_drift", "near", day.start, day.end)}
    project = load_project(store, "near")
    summary, _ = summarize_window(store, project, day)
    widths = {}
    for column in columns:
        drift = column_drift(
            column.name, project.reference.columns[column.name], summary.profile.columns[column.name], column.method
        )
        assert drift is not None
        width = drift.score_high - drift.score_low
        widths[column.name] = math.inf if not math.isfinite(width) else 100 * width / THRESHOLDS[column.method]

    # cost: 20 columns, one near its threshold
    progress("near-threshold columns: measuring the cost of refinement (1 of 20 columns) …")
    cost_columns = {f"far{i:02d}": "ks" for i in range(FAR_COLUMNS)} | {"near": "ks"}
    cost_reference = {name: rng.normal(size=reference_rows) for name in cost_columns}
    cost_window = {name: rng.normal(0.3, 1, rows) for name in cost_columns if name != "near"}
    cost_window["near"] = window["ks_drift"]
    cost_reference["near"] = reference["ks_drift"]
    cost_reference["prediction"], cost_window["prediction"] = reference["prediction"], window["prediction"]
    _register(store_path, database_url, workdir, "cost", _config("cost", cost_columns), cost_reference)
    _write_window(store_path, "cost", cost_window, rows)
    cost_project = load_project(store, "cost")
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(3):
        for refine in (False, True):
            started = time.perf_counter()
            summary, profiled = summarize_window(store, cost_project, day, rescan=True)
            outcome = load_summary(
                database,
                cost_project,
                day,
                summary,
                partitions=len(profiled.paths),
                started_at=datetime.now(UTC),
                refine=refiner(store, cost_project, day) if refine else None,
            )
            timings[refine].append(time.perf_counter() - started)
            assert outcome.evaluation is not None
            refined = [d.column for d in outcome.evaluation.feature_drift if d.refined]
            if refine and refined != ["near"]:
                raise RuntimeError(f"the cost project refined {refined}, not just its near-threshold column")
    database.dispose()
    return NearResult(rows, columns, stored, widths, float(np.median(timings[False])), float(np.median(timings[True])))


def report_lines(result: NearResult) -> list[str]:
    lines = [
        f"near-threshold columns ({result.rows:,} rows; exact scores at threshold x (1 +- {OFFSET:.1%})):",
        "",
        "| column | method | exact | drifts (exact) | stored score | interval width (% of threshold) | refined | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in result.columns:
        row = result.stored[c.name]
        verdict = "same" if bool(row["drifted"]) == c.exact_drift else "MISMATCH"
        width = result.widths[c.name]
        shown = "unbounded" if not math.isfinite(width) else f"{width:.3f}"
        lines.append(
            f"| {c.name} | {c.method} | {c.exact:.6g} | {c.exact_drift} | {row['score']:.6g} | {shown} |"
            f" {bool(row['refined'])} | {verdict} |"
        )
    lines += [
        "",
        f"verdict mismatches: {len(result.mismatches)}; refined: {len(result.refined)} of {len(result.columns)}",
        f"refinement cost, 1 of {FAR_COLUMNS + 1} columns refined: {result.unrefined_seconds:.2f} s unrefined,"
        f" {result.refined_seconds:.2f} s refined ({result.cost:+.1%})",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2M", help="window rows, like 250k or 2M [default: 2M]")
    parser.add_argument("--small", action="store_true", help="250k rows, reference 20k")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    text = "250k" if args.small else args.rows
    rows = int(float(text[:-1]) * {"k": 1e3, "M": 1e6}[text[-1]]) if text[-1] in "kM" else int(text)
    workdir = Path(tempfile.mkdtemp(prefix="drifting-near-"))
    try:
        result = measure_near_threshold(workdir, rows, 20_000 if args.small else 100_000, args.seed, print)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report_lines(result)))
    return 1 if result.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

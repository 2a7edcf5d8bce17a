"""Alert policies (issue 14): multiple-testing control, persistence and thresholds calibrated on the reference.

Adjusted p-values are checked against scipy and a step-by-step Holm; calibrated thresholds against scipy's KS on
the same chunks; persistence end to end through the CLI, the SQLite metrics database and a real SMTP server; and the
false-alarm and detection rates of every policy are measured on 200 stationary windows x 20 features.
"""

from __future__ import annotations

import email
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.config import ProjectConfig, parse_config
from drifting_etl.core.errors import ConfigError
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.metrics.calibration import _chunks, calibrate
from drifting_etl.metrics.drift import ColumnDrift
from drifting_etl.metrics.drift.policies import adjusted_p_values, with_multiple_testing
from drifting_etl.metrics.evaluation import DriftHistory, evaluate, with_persistence
from drifting_etl.profiles.columns import ReferenceProfile, fit_reference
from drifting_etl.profiles.summary import LABEL, WindowSummary, summarize
from drifting_etl.store.artifacts import ArtifactStore

FEATURES = [f"x{index:02d}" for index in range(20)]
REFERENCE_ROWS = 1000  # at most 1000: `auto` tests every numerical feature with KS, as Evidently does
WINDOW_ROWS = 200
STATIONARY_WINDOWS = 200
DRIFTED_WINDOWS = 100
SHIFT = 0.5
"""The injected drift: the mean of SHIFTED features moves by half a standard deviation."""
SMALL_SHIFT = 0.3
"""A smaller drift, measured and printed (not bound): where the policies trade detection for quiet."""
SHIFTED = 4


def _config(**drift: Any) -> ProjectConfig:
    data = {
        "name": "policies",
        "task": "regression",
        "start_date": "2026-01-01",
        "features": {"numerical": FEATURES},
        "drift": drift,
    }
    return parse_config(yaml.safe_dump(data), source="policies.yaml")


def _table(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pa.Table:
    columns = {name: rng.normal(shift if index < SHIFTED else 0.0, 1.0, rows) for index, name in enumerate(FEATURES)}
    columns["prediction"] = rng.normal(size=rows)
    columns[LABEL] = np.full(rows, np.nan)
    return pa.table(columns)


# ---------------------------------------------------------------------------------------------- multiple testing


def _holm_step_down(p_values: list[float]) -> list[float]:
    """Holm's adjusted p-values written out step by step from the procedure's definition."""
    count = len(p_values)
    order = sorted(range(count), key=lambda index: p_values[index])
    adjusted = [0.0] * count
    running = 0.0
    for step, index in enumerate(order):
        running = max(running, min(1.0, (count - step) * p_values[index]))
        adjusted[index] = running
    return adjusted


@pytest.mark.parametrize("seed", range(5))
def test_adjusted_p_values_should_equal_scipy_bh_and_a_step_down_holm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p_values = [*(rng.uniform(size=25) ** 3), 0.0, 1.0, 0.01, 0.01]  # ties, both ends
    assert adjusted_p_values(p_values, "bh") == pytest.approx(list(stats.false_discovery_control(p_values)), abs=1e-15)
    assert adjusted_p_values(p_values, "holm") == pytest.approx(_holm_step_down(p_values), abs=1e-15)
    assert adjusted_p_values(p_values, "none") == p_values
    assert adjusted_p_values([], "bh") == []


def _drift(column: str, score: float, low: float | None = None, high: float | None = None, *, method: str = "ks"):
    low = score if low is None else low
    high = score if high is None else high
    threshold = 0.05 if method == "ks" else 0.1
    return ColumnDrift(
        column,
        "numerical",
        method,
        score,
        None,
        threshold,
        score <= threshold if method == "ks" else score >= threshold,
        False,
        100,
        100,
        score_low=low,
        score_high=high,
        decided=True,
    )


def test_with_multiple_testing_should_judge_the_adjusted_p_values_and_leave_distances_alone() -> None:
    raw = {"a": 0.001, "b": 0.04, "c": 0.045, "e": 0.6}
    drifts = [_drift(name, value) for name, value in raw.items()] + [_drift("d", 0.5, method="wasserstein")]
    judged = {drift.column: drift for drift in with_multiple_testing(drifts, "bh")}
    expected = stats.false_discovery_control(list(raw.values()))  # 0.004, 0.06, 0.06, 0.6
    for (name, value), adjusted in zip(raw.items(), expected, strict=True):
        assert judged[name].adjusted_score == pytest.approx(adjusted) and judged[name].multiple_testing == "bh"
        assert judged[name].drifted == (adjusted <= 0.05) and judged[name].score == value
    assert judged["a"].drifted and not judged["b"].drifted and not judged["c"].drifted  # b, c drift one at a time
    assert judged["d"] == drifts[-1]  # a distance: not a p-value, not adjusted


def test_with_multiple_testing_given_an_open_adjusted_interval_should_send_every_inexact_test_to_refinement() -> None:
    # c's raw interval is decided (all below 0.05), but its adjusted interval depends on b's, which straddles
    drifts = [_drift("a", 0.001), _drift("b", 0.02, 0.015, 0.06), _drift("c", 0.03, 0.029, 0.031)]
    judged = {drift.column: drift for drift in with_multiple_testing(drifts, "holm")}
    assert judged["a"].decided  # exact: its verdict is settled once the others are refined
    assert not judged["b"].decided and not judged["c"].decided
    exact = [_drift("a", 0.001), _drift("b", 0.02), _drift("c", 0.03)]
    assert all(drift.decided for drift in with_multiple_testing(exact, "holm"))


def test_config_given_conflicting_or_impossible_policies_should_name_the_field() -> None:
    with pytest.raises(ConfigError, match="min_drifted"):
        _config(persistence={"windows": 2, "min_drifted": 3})
    with pytest.raises(ConfigError, match=r"drift\.threshold or drift\.calibration"):
        _config(threshold=0.01, calibration={"window_rows": 100})
    with pytest.raises(ConfigError, match=r"multiple_testing or drift\.calibration"):
        _config(multiple_testing="bh", calibration={"window_rows": 100})
    with pytest.raises(ConfigError, match="multiple_testing"):
        _config(multiple_testing="bonferroni")
    assert _config().drift.multiple_testing == "none"  # the default stays Evidently's per-test verdicts


# ---------------------------------------------------------------------------------------------- calibration


def test_calibrate_should_set_the_threshold_at_the_quantile_of_scipy_scores_on_reference_chunks() -> None:
    rng = np.random.default_rng(3)
    table = _table(rng, REFERENCE_ROWS)
    config = _config(calibration={"window_rows": WINDOW_ROWS, "chunks": 40, "quantile": 0.95})
    reference = fit_reference(table, config.monitored_columns(), source_digest="t").with_values(table)
    thresholds = calibrate(table, reference, config)
    assert set(thresholds) == set(FEATURES)
    chunks = _chunks(REFERENCE_ROWS, config.drift.calibration)  # type: ignore[arg-type]
    for name in ("x00", "x13"):
        values = table.column(name).to_numpy()
        scores = []
        for rows in chunks:
            inside = np.zeros(REFERENCE_ROWS, dtype=bool)
            inside[rows] = True
            assert not set(rows) & set(np.flatnonzero(~inside))  # a chunk is never part of its own reference
            scores.append(stats.ks_2samp(values[~inside], values[inside]).pvalue)
        calibrated = thresholds[name]
        assert calibrated.method == "ks" and calibrated.chunks == 40
        assert calibrated.threshold == pytest.approx(np.quantile(scores, 0.05), rel=1e-9)


def test_calibrate_given_a_reference_too_small_for_the_window_should_say_what_to_change() -> None:
    rng = np.random.default_rng(4)
    table = _table(rng, 300)
    config = _config(calibration={"window_rows": 200})
    reference = fit_reference(table, config.monitored_columns(), source_digest="t")
    with pytest.raises(ValueError, match="window_rows is 200 but the reference has 300 rows"):
        calibrate(table, reference.with_values(table), config)


# ---------------------------------------------------------------------------------------------- rates


POLICIES: dict[str, dict[str, Any]] = {
    "none (Evidently)": {},
    "bh": {"multiple_testing": "bh"},
    "holm": {"multiple_testing": "holm"},
    "persistence 2 of 3": {"persistence": {"windows": 3, "min_drifted": 2}},
    "calibrated q=0.99": {"calibration": {"window_rows": WINDOW_ROWS, "chunks": 200, "quantile": 0.99}},
    "calibrated mean+3sd": {"calibration": {"window_rows": WINDOW_ROWS, "chunks": 200, "rule": "mean_3sd"}},
}


@pytest.fixture(scope="module")
def windows() -> tuple[pa.Table, ReferenceProfile, list[pa.Table], list[pa.Table], list[pa.Table]]:
    rng = np.random.default_rng(2026)
    table = _table(rng, REFERENCE_ROWS)
    reference = fit_reference(table, _config().monitored_columns(), source_digest="rates").with_values(table)
    stationary = [_table(rng, WINDOW_ROWS) for _ in range(STATIONARY_WINDOWS)]
    drifted = [_table(rng, WINDOW_ROWS, SHIFT) for _ in range(DRIFTED_WINDOWS)]
    slightly = [_table(rng, WINDOW_ROWS, SMALL_SHIFT) for _ in range(DRIFTED_WINDOWS)]
    return table, reference, stationary, drifted, slightly


def _alerts(config: ProjectConfig, reference: ReferenceProfile, summaries: list[WindowSummary], thresholds: Any):
    """Per window in order, the features that alert under `config`'s policies (persistence looks back on the
    windows before it in the list)."""
    history = DriftHistory()
    alerting = []
    for summary in summaries:
        evaluation = evaluate(config, reference, summary, "1", thresholds=thresholds)
        evaluation = with_persistence(config, evaluation, history)
        drifted = frozenset(drift.column for drift in evaluation.feature_drift if drift.drifted)
        history = DriftHistory((evaluation.dataset.drifted, *history.dataset), (drifted, *history.columns))
        alerting.append(set(evaluation.alert_columns) - {config.columns.prediction})
    return alerting


def test_policies_false_alarm_and_detection_rates_on_200_stationary_windows_of_20_features(
    windows: tuple[pa.Table, ReferenceProfile, list[pa.Table], list[pa.Table], list[pa.Table]],
) -> None:
    """Run with -s to see the table the README quotes. A false alarm: a stationary window in which any feature
    alerts (what an `on_drift` e-mail would announce). Detection: the share of (shifted feature, drifted window)
    pairs that alert, from the window where persistence can first be met."""
    table, reference, stationary, drifted, slightly = windows
    base = _config()
    summaries = {
        name: [summarize(window, base, reference, "1") for window in group]
        for name, group in (("stationary", stationary), ("drifted", drifted), ("slightly", slightly))
    }
    shifted = set(FEATURES[:SHIFTED])

    def detection(alerts: list[set[str]], delay: int) -> float:
        counted = alerts[delay:]
        return sum(len(found & shifted) for found in counted) / (len(counted) * SHIFTED)

    rates = {}
    for name, drift in POLICIES.items():
        config = _config(**drift)
        thresholds = calibrate(table, reference, config) if config.drift.calibration else None
        delay = config.drift.persistence.min_drifted - 1 if config.drift.persistence else 0
        quiet = _alerts(config, reference, summaries["stationary"], thresholds)
        loud = _alerts(config, reference, summaries["drifted"], thresholds)
        rates[name] = {
            "false alarm / window": sum(bool(found) for found in quiet) / len(quiet),
            "false alarm / feature-window": sum(len(found) for found in quiet) / (len(quiet) * len(FEATURES)),
            f"detection, shift {SHIFT}": detection(loud, delay),
            f"detection, shift {SMALL_SHIFT}": detection(
                _alerts(config, reference, summaries["slightly"], thresholds), delay
            ),
        }
    print(f"\n| {'policy':<20} |" + "".join(f" {key:>28} |" for key in next(iter(rates.values()))))
    for name, row in rates.items():
        print(f"| {name:<20} |" + "".join(f" {value:>28.1%} |" for value in row.values()))

    # Evidently's per-test verdicts flag about one feature-window in twenty: most windows alert somewhere
    evidently = rates["none (Evidently)"]
    assert 0.03 <= evidently["false alarm / feature-window"] <= 0.07 and evidently["false alarm / window"] > 0.4
    assert rates["bh"]["false alarm / window"] <= 0.05  # the bound: BH at q = 0.05
    assert rates["holm"]["false alarm / window"] <= 0.05
    assert rates["persistence 2 of 3"]["false alarm / window"] < evidently["false alarm / window"] / 2
    assert rates["calibrated q=0.99"]["false alarm / feature-window"] <= 0.03
    for name, row in rates.items():
        assert row[f"detection, shift {SHIFT}"] >= 0.95, name


# ---------------------------------------------------------------------------------------------- end to end

E2E_CONFIG = """\
name: lasting
task: regression
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [a, b]
drift:
  per_feature:
    a: {method: ks}
    b: {method: ks}
  multiple_testing: holm
  persistence: {windows: 3, min_drifted: 2}
alerts:
  email: [team@example.com]
  send: on_drift
"""
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lasting_logs(tmp_path: Path, *, reference_rows: int = 800) -> Path:
    """A reference, and four days of logs in which feature a drifts on the second and third day only."""
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({name: rng.normal(size=reference_rows) for name in ("a", "b", "prediction")})
    reference.to_parquet(tmp_path / "reference.parquet")
    frames = []
    for day, shift in enumerate([0.0, 1.0, 1.0, 0.0]):
        start = DAY + timedelta(days=day)
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": [start + timedelta(seconds=int(s)) for s in np.sort(rng.uniform(0, 86_399, 500))],
                    "a": rng.normal(shift, 1, 500),
                    "b": rng.normal(0, 1, 500),
                    "prediction": rng.normal(size=500),
                }
            )
        )
    store_dir = tmp_path / "store"
    with LogWriter("lasting", ArtifactStore(str(store_dir)), model_version="v1", max_rows=10**6) as writer:
        writer.log_frame(pd.concat(frames, ignore_index=True))
    return store_dir


def _cli(*arguments: str) -> str:
    result = CliRunner().invoke(main, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_run_given_persistence_should_alert_only_on_lasting_drift_and_store_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    from drifting_etl.notify.sink import Outbox

    store_dir = _lasting_logs(tmp_path)
    (tmp_path / "lasting.yaml").write_text(E2E_CONFIG)
    port = _free_port()
    outbox = Outbox(tmp_path / "outbox")
    controller = Controller(outbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DRIFTING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTING_SMTP_PORT", str(port))
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    args = ["--storage", str(store_dir), "--database-url", url]
    runner = CliRunner()
    try:
        for arguments in (
            ["init"],
            ["project", "register", str(tmp_path / "lasting.yaml"), "--reference", str(tmp_path / "reference.parquet")],
            [
                "backfill",
                "lasting",
                "--start",
                DAY.isoformat(),
                "--end",
                (DAY + timedelta(days=4)).isoformat(),
                "--no-report",
            ],
        ):
            result = runner.invoke(main, [*args, *arguments], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    finally:
        controller.stop()

    database = MetricsDatabase(url)
    rows = {
        (row["window_start"].date().day, row["feature"]): row
        for row in database.rows("feature_drift", "lasting", DAY, DAY + timedelta(days=4))
    }
    runs = database.rows("monitoring_run", "lasting", DAY, DAY + timedelta(days=4))
    database.dispose()
    a = [rows[(day, "a")] for day in (2, 3, 4, 5)]
    assert [row["drifted"] for row in a] == [False, True, True, False]
    assert [row["drifted_windows"] for row in a] == [0, 1, 2, 2]
    assert [row["persistent"] for row in a] == [False, False, True, False]  # alerting needs drift in the window too
    for row in a:
        assert row["multiple_testing"] == "holm" and row["threshold_source"] == "method"
        assert row["adjusted_score"] == pytest.approx(
            _holm_step_down([row["score"], rows[(row["window_start"].day, "b")]["score"]])[0]
        )
    assert all(
        "persistence: alert and retrain on drift in this window and in at least 2 of the last 3" in run["alert_policy"]
        for run in runs
    )

    messages = [email.message_from_bytes(path.read_bytes()) for path in sorted(outbox.received)]
    assert len(messages) == 1, [message["Subject"] for message in messages]  # day 4 only: drift in 2 of 3 windows
    assert "2026-03-04" in messages[0]["Subject"] and "DATA DRIFT" in messages[0]["Subject"]
    text = next(part for part in messages[0].walk() if part.get_content_type() == "text/plain").get_payload(decode=True)
    body = text.decode()
    assert "Alert policy: multiple testing: Holm" in body and "a [numerical]" in body
    assert "drifted in 2 recent windows: persistent" in body
    # b drifted by chance that day (Holm-adjusted p 0.032), for the first time: shown, but it alerts no one
    assert rows[(4, "b")]["drifted"] and not rows[(4, "b")]["persistent"]
    assert "drifted in 1 recent window: not persistent yet, so no alert" in body


def test_retrain_decision_given_persistence_should_trigger_on_persistent_dataset_drift_only(tmp_path: Path) -> None:
    from drifting_etl.pipeline import steps
    from drifting_etl.pipeline.run import run_window

    store_dir = _lasting_logs(tmp_path)
    config = E2E_CONFIG.replace("alerts:", "retrain:\n  on: [dataset_drift]\nalerts:")
    (tmp_path / "lasting.yaml").write_text(config)
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    args = ("--storage", str(store_dir), "--database-url", url)
    _cli(*args, "init")
    _cli(
        *args, "project", "register", str(tmp_path / "lasting.yaml"), "--reference", str(tmp_path / "reference.parquet")
    )
    store, database = ArtifactStore(str(store_dir)), MetricsDatabase(url)
    decisions = []
    for day in range(4):
        window = Window(DAY + timedelta(days=day), DAY + timedelta(days=day + 1))
        outcome = steps.outcome_json(run_window(store, database, "lasting", window))
        decisions.append((outcome["dataset_drift"], outcome["dataset_drift_alert"]))
        decision = steps.retrain_decision(store, database, outcome, now=datetime.now(UTC) + timedelta(days=day * 2))
        decisions[-1] += (decision is not None,)
    triggers = database.retrain_triggers("lasting")
    database.dispose()
    # the dataset drifts on days 3 and 4 (one feature of two); persistent, so retraining, on day 4 only
    assert decisions == [(False, False, False), (True, False, False), (True, True, True), (False, False, False)]
    assert [row["window_start"] for row in triggers] == [DAY + timedelta(days=2)]


def test_register_given_calibration_should_calibrate_once_and_runs_should_use_the_reference_thresholds(
    tmp_path: Path,
) -> None:
    store_dir = _lasting_logs(tmp_path, reference_rows=3000)
    config = E2E_CONFIG.replace("  multiple_testing: holm\n", "  calibration: {window_rows: 500, chunks: 20}\n")
    (tmp_path / "lasting.yaml").write_text(config)
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    args = ("--storage", str(store_dir), "--database-url", url)
    _cli(*args, "init")
    output = _cli(
        *args, "project", "register", str(tmp_path / "lasting.yaml"), "--reference", str(tmp_path / "reference.parquet")
    )
    assert "calibrated the thresholds of 2 features" in output
    stored = ArtifactStore(str(store_dir))
    path = Path(stored.calibration_path("lasting"))
    calibrated = {item["feature"]: item for item in json.loads(path.read_text())["thresholds"]}
    written = path.stat().st_mtime_ns
    _cli(
        *args,
        "run",
        "lasting",
        "--start",
        DAY.isoformat(),
        "--end",
        (DAY + timedelta(days=1)).isoformat(),
        "--no-report",
    )
    assert path.stat().st_mtime_ns == written  # computed once: the run reads it
    database = MetricsDatabase(url)
    rows = {row["feature"]: row for row in database.rows("feature_drift", "lasting", DAY, DAY + timedelta(days=1))}
    database.dispose()
    for name in ("a", "b"):
        assert rows[name]["threshold_source"] == "reference" and rows[name]["method"] == "ks"
        assert rows[name]["threshold"] == pytest.approx(calibrated[name]["threshold"])
        assert 0 < rows[name]["threshold"] < 0.05  # the 0.99 quantile of no-drift p-values: stricter than 0.05
    assert rows["prediction"]["threshold_source"] == "method"  # the prediction keeps its configured threshold


def test_register_given_a_reference_too_small_to_calibrate_should_refuse_it_and_store_nothing(tmp_path: Path) -> None:
    store_dir = _lasting_logs(tmp_path, reference_rows=600)
    config = E2E_CONFIG.replace("  multiple_testing: holm\n", "  calibration: {window_rows: 500}\n")
    (tmp_path / "lasting.yaml").write_text(config)
    result = CliRunner().invoke(
        main,
        [
            "--storage",
            str(store_dir),
            "project",
            "register",
            str(tmp_path / "lasting.yaml"),
            "--reference",
            str(tmp_path / "reference.parquet"),
        ],
    )
    assert result.exit_code != 0
    assert "window_rows is 500 but the reference has 600 rows" in result.output
    assert "lower drift.calibration.window_rows" in result.output
    assert not ArtifactStore(str(store_dir)).exists(ArtifactStore(str(store_dir)).configuration_path("lasting"))

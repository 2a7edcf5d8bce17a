"""The pipeline end to end through the CLI, on real storage (local directory, S3 API) and real databases
(SQLite, PostgreSQL), with the expected values computed independently from the raw rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from evidently_reference import evidently_drift
from scipy import stats
from sklearn import metrics

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.store.artifacts import ArtifactStore

DAY = datetime(2026, 3, 2, tzinfo=UTC)
CONFIG = """\
name: shop-churn
task: classification
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [age, basket]
  categorical: [channel]
drift:
  per_feature:
    basket: {method: ks}
performance:
  metrics: [accuracy, precision, recall, f1, roc_auc, log_loss]
  thresholds:
    accuracy: {min: 0.99}
"""


@dataclass
class Shop:
    """A registered project with one day of logs (drift in `age` from noon) and labels for some requests."""

    runner: CliRunner
    args: list[str]
    store: ArtifactStore
    database_url: str
    reference: pd.DataFrame
    logs: pd.DataFrame
    labels: pd.Series

    def cli(self, *arguments: str) -> Result:
        return self.runner.invoke(main, [*self.args, *arguments], catch_exceptions=False)

    def database(self) -> MetricsDatabase:
        return MetricsDatabase(self.database_url)


def _rows(rng: np.random.Generator, n: int, age_shift: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "age": rng.normal(40 + age_shift, 8, n).round(1),
            "basket": rng.gamma(2.0, 20.0, n).round(2),
            "channel": rng.choice(["web", "app", "store"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    proba = 1 / (1 + np.exp(-(frame["basket"] - 40) / 15))
    frame["prediction_proba"] = proba.round(4)
    frame["prediction"] = (proba >= 0.5).astype(int)
    frame["truth"] = (rng.random(n) < proba).astype(int)
    return frame


def make_shop(tmp_path: Path, storage: str, database_url: str) -> Shop:
    rng = np.random.default_rng(42)
    reference = _rows(rng, 3000, 0.0)
    reference_path = tmp_path / "reference.parquet"
    reference.drop(columns="truth").assign(label=reference["truth"]).to_parquet(reference_path)
    config_path = tmp_path / "shop-churn.yaml"
    config_path.write_text(CONFIG)

    store = ArtifactStore(storage)
    frames = []
    for hour in range(24):
        frame = _rows(rng, 150, 9.0 if hour >= 12 else 0.0)
        frame.insert(
            0, "timestamp", [DAY + timedelta(hours=hour, seconds=s) for s in np.sort(rng.uniform(0, 3599, 150))]
        )
        frames.append(frame)
    logs = pd.concat(frames, ignore_index=True)
    # rows exactly on the window's edges: the start belongs to it, the end does not
    logs.loc[0, "timestamp"] = DAY
    with LogWriter("shop-churn", store, model_version="v3", max_rows=10**6) as writer:
        logs["request_id"] = writer.log_frame(logs.drop(columns="truth"))
        edge = _rows(rng, 1, 0.0).drop(columns="truth").assign(timestamp=DAY + timedelta(days=1))
        writer.log_frame(edge)
    labelled = logs.sample(frac=0.4, random_state=1)
    with LabelWriter("shop-churn", store) as writer:
        # a wrong label first, corrected later: the latest one counts
        writer.label_many(
            [(rid, 1 - t) for rid, t in zip(labelled["request_id"][:50], labelled["truth"][:50], strict=True)],
            labelled_at=DAY + timedelta(hours=30),
        )
        writer.label_many(
            list(zip(labelled["request_id"], labelled["truth"], strict=True)), labelled_at=DAY + timedelta(days=2)
        )
    args = ["--storage", storage, "--database-url", database_url]
    shop = Shop(CliRunner(), args, store, database_url, reference, logs, labelled.set_index("request_id")["truth"])
    assert shop.cli("init").exit_code == 0
    result = shop.cli("project", "register", str(config_path), "--reference", str(reference_path))
    assert result.exit_code == 0, result.output
    return shop


@pytest.fixture(params=["local+sqlite", "local+postgres", "s3+postgres", "s3+sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    storage_kind, database_kind = request.param.split("+")
    storage = str(tmp_path / "store") if storage_kind == "local" else request.getfixturevalue("s3_store_url")
    if database_kind == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'metrics.db'}"
    built = make_shop(tmp_path, storage, database_url)
    yield built
    built.database().dispose()


def _stable(rows: list[dict]) -> list[dict]:
    return sorted(
        ({k: v for k, v in row.items() if k not in ("id", "computed_at", "started_at", "finished_at")} for row in rows),
        key=lambda row: json.dumps(row, default=str, sort_keys=True),
    )


@pytest.mark.slow
def test_run_given_day_of_logs_should_load_metrics_equal_to_independent_computation(shop: Shop) -> None:
    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03")
    assert result.exit_code == 0, result.output
    assert "age" in result.output and "DRIFT" in result.output

    window = shop.logs  # every generated row lies in [start, end); the extra row at `end` must be left out
    database = shop.database()
    [run] = database.runs("shop-churn")
    assert run["status"] == "success"
    assert run["row_count"] == len(window)
    assert run["labelled_count"] == len(shop.labels)
    assert run["window_start"] == DAY and run["window_end"] == DAY + timedelta(days=1)

    drift = {row["feature"]: row for row in database.rows("feature_drift", "shop-churn")}
    assert set(drift) == {"age", "basket", "channel", "prediction"}
    kinds = {"age": "numerical", "channel": "categorical", "prediction": "categorical"}
    expected = evidently_drift(shop.reference[list(kinds)], window[list(kinds)], kinds)
    for feature, (method, score) in expected["columns"].items():
        assert drift[feature]["method"] == method
        assert drift[feature]["score"] == pytest.approx(score, rel=1e-9)
    ks = stats.ks_2samp(shop.reference["basket"], window["basket"])
    assert drift["basket"]["method"] == "ks"
    assert drift["basket"]["statistic"] == pytest.approx(ks.statistic, rel=1e-12)
    assert drift["basket"]["score"] == pytest.approx(ks.pvalue, rel=1e-9)
    assert drift["age"]["drifted"] and not drift["channel"]["drifted"]
    assert drift["prediction"]["feature_kind"] == "prediction"

    [dataset] = database.rows("dataset_drift", "shop-churn")
    assert dataset["feature_count"] == 3
    assert dataset["drifted_count"] == sum(drift[f]["drifted"] for f in ("age", "basket", "channel"))

    labelled = window.set_index("request_id").loc[shop.labels.index]
    truth, predicted, proba = (
        shop.labels.to_numpy(),
        labelled["prediction"].to_numpy(),
        labelled["prediction_proba"].to_numpy(),
    )
    performance = {row["metric"]: row for row in database.rows("performance_metric", "shop-churn")}
    assert performance["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(truth, predicted), rel=1e-12)
    assert performance["f1"]["value"] == pytest.approx(metrics.f1_score(truth, predicted), rel=1e-12)
    assert performance["roc_auc"]["value"] == pytest.approx(metrics.roc_auc_score(truth, proba), rel=1e-12)
    assert performance["log_loss"]["value"] == pytest.approx(metrics.log_loss(truth, proba), rel=1e-9)
    assert performance["accuracy"]["breached"] and performance["accuracy"]["threshold_direction"] == "min"
    assert performance["accuracy"]["label_coverage"] == pytest.approx(len(shop.labels) / len(window))

    quality = {row["feature"]: row for row in database.rows("data_quality", "shop-churn")}
    age_max = shop.reference["age"].max()
    assert quality["age"]["out_of_range_share"] == pytest.approx(
        ((window["age"] > age_max) | (window["age"] < shop.reference["age"].min())).mean()
    )
    assert quality["channel"]["new_category_share"] == 0.0
    assert quality["channel"]["distinct_count"] == window["channel"].nunique() == 3
    assert quality["age"]["distinct_count"] is None

    # re-running the window replaces its rows: same rows, no duplicates
    before = {table: _stable(database.rows(table, "shop-churn")) for table in METRIC_TABLES}
    assert shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03").exit_code == 0
    after = {table: _stable(database.rows(table, "shop-churn")) for table in METRIC_TABLES}
    assert after == before


def local_shop(tmp_path: Path) -> Shop:
    return make_shop(tmp_path, str(tmp_path / "store"), f"sqlite:///{tmp_path / 'metrics.db'}")


def test_backfill_given_three_days_should_load_each_window_and_mark_empty_ones_no_data(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    result = shop.cli("backfill", "shop-churn", "--start", "2026-03-01", "--end", "2026-03-04")
    assert result.exit_code == 0, result.output
    runs = shop.database().runs("shop-churn")
    assert [(r["window_start"].day, r["status"], r["row_count"]) for r in runs] == [
        (1, "no_data", 0),
        (2, "success", len(shop.logs)),
        (3, "success", 1),
    ]
    assert shop.database().rows("feature_drift", "shop-churn", DAY - timedelta(days=1), DAY) == []
    # again: nothing duplicated
    assert shop.cli("backfill", "shop-churn", "--start", "2026-03-01", "--end", "2026-03-04").exit_code == 0
    assert len(shop.database().runs("shop-churn")) == 3


def test_run_given_corrupt_file_outside_window_should_not_read_it(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    outside = shop.store.log_partition_dir("shop-churn", (DAY - timedelta(days=1)).date(), 23)
    shop.store.write_bytes(f"{outside}/garbage.parquet", b"not parquet")
    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03")
    assert result.exit_code == 0, result.output


def test_run_given_unreadable_parquet_should_fail_naming_file_and_record_failure(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    partition = shop.store.log_partition_dir("shop-churn", DAY.date(), 5)
    shop.store.write_bytes(f"{partition}/broken.parquet", b"PAR1 this is not a parquet file")
    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03")
    assert result.exit_code == 1
    assert "broken.parquet" in result.output and "shop-churn" in result.output and "2026-03-02" in result.output
    [run] = shop.database().runs("shop-churn")
    assert run["status"] == "failed" and "broken.parquet" in run["error"]


def test_run_given_log_without_declared_feature_should_fail_naming_column_and_file(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    with LogWriter("shop-churn", shop.store) as writer:
        writer.log({"timestamp": DAY + timedelta(hours=3), "age": 30.0, "channel": "web", "prediction": 1})
    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03")
    assert result.exit_code == 1
    assert "basket" in result.output and "hour=03" in result.output
    assert shop.database().runs("shop-churn")[0]["status"] == "failed"


def test_run_given_log_without_timestamp_column_should_name_the_key_the_file_and_its_columns(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    shop = local_shop(tmp_path)
    partition = shop.store.log_partition_dir("shop-churn", DAY.date(), 3)
    table = pa.table(
        {"request_id": ["r1"], "ts": [DAY], "age": [30.0], "basket": [2.0], "channel": ["web"], "prediction": [1]}
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    shop.store.write_bytes(f"{partition}/no-timestamp.parquet", sink.getvalue().to_pybytes())

    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03")

    assert result.exit_code == 1
    output = " ".join(result.output.split())  # rich wraps long lines
    assert (
        "log file lacks column(s) 'timestamp' (columns.timestamp); it has request_id, ts, age, basket, channel, prediction"
        in output
    )
    assert "no-timestamp.parquet" in output


def test_run_given_unknown_project_should_fail_listing_known_ones(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    result = shop.cli("run", "nope", "--start", "2026-03-02", "--end", "2026-03-03")
    assert result.exit_code == 1
    assert "unknown project 'nope'" in result.output and "shop-churn" in result.output


def test_register_given_invalid_config_should_name_file_and_field(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("task: classification", "task: ranking"))
    result = shop.cli("project", "register", str(bad), "--reference", str(tmp_path / "reference.parquet"))
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "task" in result.output


def test_register_given_reference_without_feature_should_fail_naming_column(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    thin = tmp_path / "thin.parquet"
    shop.reference.drop(columns=["channel"]).to_parquet(thin)
    result = shop.cli("project", "register", str(tmp_path / "shop-churn.yaml"), "--reference", str(thin))
    assert result.exit_code == 1
    assert "channel" in result.output and "thin.parquet" in result.output


def test_project_commands_given_pause_and_resume_should_update_index(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    assert shop.cli("project", "pause", "shop-churn").exit_code == 0
    index = json.loads(shop.store.read_text(shop.store.index_path))
    assert index["projects"]["shop-churn"]["status"] == "paused"
    assert index["projects"]["shop-churn"]["schedule"] == "@daily"
    listed = shop.cli("project", "list")
    assert "shop-churn" in listed.output and "paused" in listed.output
    assert shop.cli("project", "resume", "shop-churn").exit_code == 0
    shown = shop.cli("project", "show", "shop-churn")
    assert shown.exit_code == 0 and "status=active" in shown.output


def test_storage_layout_given_registered_project_should_follow_contract(tmp_path: Path) -> None:
    local_shop(tmp_path)
    root = tmp_path / "store"
    project = root / "projects" / "shop-churn"
    assert (root / "store.json").is_file()
    assert {p.name for p in project.iterdir()} == {"configuration.yaml", "reference.parquet", "reference_profile.json"}
    profile = json.loads((project / "reference_profile.json").read_text())
    assert set(profile["columns"]) == {"age", "basket", "channel", "prediction"}
    hours = sorted(p.relative_to(root).parent.as_posix() for p in root.glob("logs/project=shop-churn/*/*/*.parquet"))
    assert hours[0] == "logs/project=shop-churn/date=2026-03-02/hour=00"
    assert hours[-1] == "logs/project=shop-churn/date=2026-03-03/hour=00"
    labels = sorted(p.parent.name for p in root.glob("labels/project=shop-churn/*/*.parquet"))
    assert labels == ["date=2026-03-03", "date=2026-03-04"]


@pytest.mark.slow
def test_report_command_given_output_should_write_only_the_file_and_without_it_store_and_record(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    assert shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03").exit_code == 0
    stored = Path(shop.store.report_path("shop-churn", DAY, DAY + timedelta(days=1)))
    linked = stored.read_bytes()  # the report the team's e-mail links to
    copy = tmp_path / "report.html"
    window = ["--start", "2026-03-02", "--end", "2026-03-03"]
    result = shop.cli(
        "report", "shop-churn", *window, "-o", str(copy), "--engine", "evidently", "--sample-size", "1000"
    )
    assert result.exit_code == 0, result.output
    assert "a sample of 1000 of 3600 rows" in result.output and f"written to {copy}" in result.output
    assert copy.read_bytes() != linked and b"uniform random sample of 1,000 of 3,600 rows" in copy.read_bytes()
    assert stored.read_bytes() == linked  # -o writes only the file
    [run] = shop.database().runs("shop-churn")
    assert run["report_location"] == str(stored)

    stored.unlink()
    assert shop.cli("run", "shop-churn", *window, "--no-report").exit_code == 0
    result = shop.cli("report", "shop-churn", *window, "--engine", "evidently", "--sample-size", "1000")
    assert result.exit_code == 0, result.output
    assert f"stored at {stored}" in result.output and b"1,000 of 3,600 rows" in stored.read_bytes()
    [run] = shop.database().runs("shop-churn")
    assert run["report_location"] == str(stored)


@pytest.mark.slow
def test_run_given_no_report_should_keep_the_stored_report_recorded(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    window = ["--start", "2026-03-02", "--end", "2026-03-03"]
    assert shop.cli("run", "shop-churn", *window).exit_code == 0
    stored = shop.store.report_path("shop-churn", DAY, DAY + timedelta(days=1))
    [run] = shop.database().runs("shop-churn")
    assert run["report_location"] == stored

    assert shop.cli("run", "shop-churn", *window, "--no-report").exit_code == 0
    [run] = shop.database().runs("shop-churn")
    assert run["report_location"] == stored and Path(stored).exists()


def test_run_given_logs_written_by_hand_with_other_timestamp_types_should_window_them_in_utc(tmp_path: Path) -> None:
    shop = local_shop(tmp_path)
    hand = shop.reference.drop(columns=["truth", "label"], errors="ignore").head(6).copy()
    # 23:30 in Amsterdam on 2026-03-02 is 22:30 UTC: inside the window; the naive 2026-03-03 00:30 is outside
    hand["timestamp"] = pd.to_datetime(["2026-03-02 23:30"] * 3 + ["2026-03-03 00:30"] * 3)
    zoned = hand.iloc[:3].assign(
        timestamp=hand["timestamp"]
        .iloc[:3]
        .dt.tz_localize("Europe/Amsterdam")
        .astype("datetime64[ms, Europe/Amsterdam]")
    )
    partition = shop.store.log_partition_dir("shop-churn", DAY.date(), 22)
    shop.store.write_bytes(
        f"{partition}/by-hand.parquet", zoned.assign(request_id=["h1", "h2", "h3"]).to_parquet(index=False)
    )
    result = shop.cli("run", "shop-churn", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report")
    assert result.exit_code == 0, result.output
    assert shop.database().runs("shop-churn")[0]["row_count"] == len(shop.logs) + 3

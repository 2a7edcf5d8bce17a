"""Silent cases (issue 13, defect 8): a declared `prediction_proba` that is never logged, numbers logged as strings,
and a multiclass model's probability metrics. Each says so, or counts it, instead of passing unnoticed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from scipy import stats
from sklearn import metrics as skm

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.store.artifacts import ArtifactStore

DAY = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = ("--start", "2026-03-02", "--end", "2026-03-03", "--no-report")
WINDOW_TEXT = "[2026-03-02T00:00:00+00:00, 2026-03-03T00:00:00+00:00)"
CONFIG = """\
name: quiet-model
task: classification
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [age, income]
  categorical: [channel]
"""


class Project:
    """A registered classifier; its logs carry an inline label, so performance is computed in every window."""

    def __init__(self, tmp_path: Path, *, classes: int = 2, config: str = CONFIG) -> None:
        self.tmp_path, self.classes = tmp_path, classes
        self.store = ArtifactStore(str(tmp_path / "store"))
        self.database_url = f"sqlite:///{tmp_path / 'metrics.db'}"
        self.runner = CliRunner()
        self.rng = np.random.default_rng(13)
        reference_path = tmp_path / "reference.parquet"
        self.reference = self.rows(2000)
        self.reference.to_parquet(reference_path)
        config_path = tmp_path / "quiet-model.yaml"
        config_path.write_text(config)
        assert self.cli("init").exit_code == 0
        registered = self.cli("project", "register", str(config_path), "--reference", str(reference_path))
        assert registered.exit_code == 0, registered.output

    def rows(self, n: int) -> pd.DataFrame:
        rng = self.rng
        label = rng.integers(0, self.classes, n)
        prediction = np.where(rng.random(n) < 0.7, label, rng.integers(0, self.classes, n))
        return pd.DataFrame(
            {
                "age": rng.normal(40, 8, n).round(1),
                "income": rng.gamma(2.0, 20_000.0, n).round(0),
                "channel": rng.choice(["web", "app", "store"], n),
                "prediction": prediction,
                "label": label,
            }
        )

    def log_day(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.insert(0, "timestamp", [DAY + timedelta(minutes=int(m)) for m in np.linspace(0, 1439, len(frame))])
        with LogWriter("quiet-model", self.store, max_rows=10**6) as writer:
            writer.log_frame(frame)
        return frame

    def log_records(self, records: list[dict[str, Any]]) -> None:
        minutes = np.linspace(0, 1439, len(records))
        with LogWriter("quiet-model", self.store, max_rows=10**6) as writer:
            writer.log_many(
                [{**r, "timestamp": DAY + timedelta(minutes=float(m))} for r, m in zip(records, minutes, strict=True)]
            )

    def cli(self, *arguments: str) -> Result:
        args = ["--storage", str(self.tmp_path / "store"), "--database-url", self.database_url]
        return self.runner.invoke(main, [*args, *arguments], catch_exceptions=False)

    def table(self, name: str) -> list[dict[str, Any]]:
        return MetricsDatabase(self.database_url).rows(name, "quiet-model", DAY, DAY + timedelta(days=1))

    def run_record(self) -> dict[str, Any]:
        [run] = MetricsDatabase(self.database_url).runs("quiet-model")
        return run


# ------------------------------------------------------------------------------------- (a) prediction_proba not logged


def test_run_given_prediction_proba_declared_but_not_logged_should_warn_in_summary_and_run_record(
    tmp_path: Path,
) -> None:
    project = Project(tmp_path)
    project.log_day(project.rows(400))  # no prediction_proba column, though columns.prediction_proba defaults to it

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    # roc_auc / log_loss cannot be computed: the summary says why, naming project, window, column and what to do
    flat = " ".join(result.output.split())
    assert "warning: quiet-model window " + WINDOW_TEXT in flat
    assert "'prediction_proba'" in flat and "columns.prediction_proba" in flat
    assert "log it" in flat and "roc_auc" in flat
    run = project.run_record()
    assert run["status"] == "success"
    assert run["warnings"] is not None
    assert "quiet-model" in run["warnings"] and WINDOW_TEXT in run["warnings"]
    assert "'prediction_proba'" in run["warnings"] and "columns.prediction_proba" in run["warnings"]
    performance = {row["metric"]: row["value"] for row in project.table("performance_metric")}
    assert performance["roc_auc"] is None and performance["accuracy"] is not None


def test_run_given_prediction_proba_logged_should_not_warn(tmp_path: Path) -> None:
    project = Project(tmp_path)
    frame = project.rows(400)
    frame["prediction_proba"] = np.clip(frame["label"] * 0.6 + project.rng.random(400) * 0.4, 0, 1)
    logged = project.log_day(frame)

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert project.run_record()["warnings"] is None
    performance = {row["metric"]: row["value"] for row in project.table("performance_metric")}
    assert performance["roc_auc"] == pytest.approx(
        skm.roc_auc_score(logged["label"], logged["prediction_proba"]), abs=1e-12
    )


# --------------------------------------------------------------------------------- (b) numbers logged as strings


def test_run_given_numbers_logged_as_strings_should_count_type_mismatches_and_warn(tmp_path: Path) -> None:
    project = Project(tmp_path)
    frame = project.rows(300)
    income = frame["income"].to_numpy()
    text = [f"{value:.1f}" for value in income]
    unreadable = [5, 77, 150]  # values that are not numbers at all
    for index in unreadable:
        text[index] = "n/a"
    frame["income"] = text  # the service sent strings: the Parquet column is of string type
    frame.loc[10, "income"] = None  # and one value is missing
    project.log_day(frame)

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    quality = {row["feature"]: row for row in project.table("data_quality")}
    # every non-null value of the numerical column came as a string: each is a type mismatch
    assert quality["income"]["type_mismatch_count"] == 299
    assert quality["age"]["type_mismatch_count"] == 0
    assert quality["channel"]["type_mismatch_count"] == 0
    # values that cannot be read as numbers are counted missing (the null, and the three 'n/a')
    assert quality["income"]["missing_count"] == 1 + len(unreadable)
    flat = " ".join(result.output.split())
    assert "warning: quiet-model window " + WINDOW_TEXT in flat
    assert "'income'" in flat and "299" in flat and "'n/a'" in flat and "3 of them" in flat
    assert "'income'" in project.run_record()["warnings"]
    # the values that parse are still used for drift, exactly as if they had been logged as numbers
    parsed = np.delete(income, [*unreadable, 10])
    drift = {row["feature"]: row for row in project.table("feature_drift")}
    reference = project.reference["income"].to_numpy()
    expected = stats.wasserstein_distance(reference, parsed) / np.std(reference)
    assert drift["income"]["method"] == "wasserstein"
    assert drift["income"]["current_rows"] == len(parsed)
    assert drift["income"]["score"] == pytest.approx(expected, rel=1e-9)


def test_run_given_numbers_logged_as_numbers_should_count_no_type_mismatch(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.log_day(project.rows(200))

    assert project.cli("run", "quiet-model", *WINDOW).exit_code == 0

    quality = {row["feature"]: row for row in project.table("data_quality")}
    assert {name: row["type_mismatch_count"] for name, row in quality.items()} == {"age": 0, "income": 0, "channel": 0}


# ------------------------------------------------------------------------------ (c) multiclass probability metrics

MULTICLASS_CONFIG = CONFIG + "performance:\n  metrics: [accuracy, f1, roc_auc, log_loss]\n"


def test_run_given_multiclass_without_per_class_probabilities_should_write_no_probability_metric_rows(
    tmp_path: Path,
) -> None:
    project = Project(tmp_path, classes=3, config=MULTICLASS_CONFIG + "columns:\n  prediction_proba: null\n")
    logged = project.log_day(project.rows(600))

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    performance = {row["metric"]: row["value"] for row in project.table("performance_metric")}
    assert set(performance) == {"accuracy", "f1"}  # no NULL roc_auc / log_loss rows
    assert performance["f1"] == pytest.approx(skm.f1_score(logged["label"], logged["prediction"], average="macro"))


def test_run_given_multiclass_with_per_class_probabilities_should_match_sklearn(tmp_path: Path) -> None:
    project = Project(tmp_path, classes=3, config=MULTICLASS_CONFIG)
    rng = np.random.default_rng(17)
    frame = project.rows(900)
    proba = rng.dirichlet([1.0, 1.0, 1.0], len(frame))
    proba[np.arange(len(frame)), frame["label"]] += 0.6  # informative, not perfect
    proba /= proba.sum(axis=1, keepdims=True)
    frame["prediction"] = proba.argmax(axis=1)
    records = frame.to_dict(orient="records")
    for record, row in zip(records, proba, strict=True):
        # the logging convention: one probability per class, keyed by the class as text
        record["prediction_proba"] = {str(k): float(p) for k, p in enumerate(row)}
    project.log_records(records)

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    performance = {row["metric"]: row["value"] for row in project.table("performance_metric")}
    labels = frame["label"].to_numpy()
    assert performance["roc_auc"] == pytest.approx(
        skm.roc_auc_score(labels, proba, multi_class="ovr", average="macro"), abs=1e-9
    )
    assert performance["log_loss"] == pytest.approx(skm.log_loss(labels, y_proba=proba, labels=[0, 1, 2]), abs=1e-9)
    # a second run reads the cached partition summaries: the same values
    assert project.cli("run", "quiet-model", *WINDOW).exit_code == 0
    again = {row["metric"]: row["value"] for row in project.table("performance_metric")}
    assert again == performance
    # the report renders too (it shows no per-class probabilities; the metrics database has them)
    reported = project.cli("run", "quiet-model", *WINDOW[:-1])
    assert reported.exit_code == 0 and "report failed" not in reported.output, reported.output
    assert list((tmp_path / "store" / "reports" / "project=quiet-model").glob("*.html"))


def test_scheduler_steps_given_numbers_logged_as_strings_should_record_the_warning_and_return_it(
    tmp_path: Path,
) -> None:
    from drifting_etl.core.window import Window
    from drifting_etl.pipeline import steps

    project = Project(tmp_path)
    frame = project.rows(200)
    frame["age"] = [f"{value}" for value in frame["age"]]
    frame.loc[3, "age"] = "forty"
    project.log_day(frame)
    window = Window(DAY, DAY + timedelta(days=1))
    database = MetricsDatabase(project.database_url)

    groups = steps.plan_partitions(project.store, "quiet-model", window)
    paths = [
        path
        for group in groups
        for path in steps.profile_partitions(
            project.store, database, "quiet-model", window, group["plan"], group["group"]
        )
    ]
    outcome = steps.load_partitions(project.store, database, "quiet-model", window, paths)
    database.dispose()

    [age_warning] = [warning for warning in outcome["warnings"] if "'age'" in warning]
    assert "200 values logged as strings" in age_warning and "'forty'" in age_warning
    assert age_warning in project.run_record()["warnings"].splitlines()
    quality = {row["feature"]: row for row in project.table("data_quality")}
    assert (quality["age"]["type_mismatch_count"], quality["age"]["missing_count"]) == (200, 1)


def test_numerical_profile_given_strings_in_some_parts_should_count_them_and_prefer_an_unreadable_example() -> None:
    import pyarrow as pa

    from drifting_etl.profiles.columns import NumericalProfile, parse_numbers

    edges = np.array([0.0, 1.0, 2.0])
    parts = [pa.array([0.5, 1.5]), pa.array(["1.5", " 2 ", None]), pa.array(["0.25", "n/a", "", None])]
    profiles = []
    for part in parts:
        parsed = parse_numbers(part)
        profile = NumericalProfile.of(parsed.values, edges)
        profiles.append(
            NumericalProfile(
                **{
                    **profile.__dict__,
                    "type_mismatch": parsed.mismatched,
                    "unreadable": parsed.unreadable,
                    "mismatch_example": parsed.example,
                }
            )
        )
    merged = profiles[0].merge(profiles[1]).merge(profiles[2])

    assert (merged.type_mismatch, merged.unreadable, merged.mismatch_example) == (5, 2, "n/a")
    assert merged.missing == 2 + 2  # two nulls, and the two strings that are no number ("n/a", "")
    assert sorted(merged.values.tolist()) == [0.25, 0.5, 1.5, 1.5, 2.0]


def test_run_given_infinite_values_should_count_them_in_data_quality_apart_from_missing(tmp_path: Path) -> None:
    """±inf are left out of drift (as Evidently does); data quality counts them (`non_finite_count`), not as missing."""
    project = Project(tmp_path, config=CONFIG + "columns:\n  prediction_proba: null\n")
    frame = project.rows(500)
    frame["age"] = frame["age"].astype(float)
    frame.loc[[3, 70, 71], "age"] = [np.inf, -np.inf, np.inf]
    frame.loc[[5, 6], "age"] = np.nan
    project.log_day(frame)

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    quality = {row["feature"]: row for row in project.table("data_quality")}
    assert (quality["age"]["non_finite_count"], quality["age"]["missing_count"]) == (3, 2)
    assert quality["income"]["non_finite_count"] == 0 and quality["channel"]["non_finite_count"] is None
    [age] = [row for row in project.table("feature_drift") if row["feature"] == "age"]
    assert age["current_rows"] == 500 - 3 - 2  # drift reads the finite values only


def test_e_mail_given_a_window_with_warnings_should_list_them_escaped(tmp_path: Path) -> None:
    """The run's warnings (here: numbers logged as strings) reach the team in both parts of the e-mail."""
    project = Project(
        tmp_path,
        config=CONFIG + "columns:\n  prediction_proba: null\nalerts:\n  email: [t@example.com]\n  send: always\n",
    )
    frame = project.rows(300)
    frame["age"] = frame["age"].astype(str)
    frame.loc[4, "age"] = "<b>n/a</b>"
    project.log_day(frame)
    inbox: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            inbox.append(envelope.original_content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = project.runner.invoke(
            main,
            [
                "--storage",
                str(tmp_path / "store"),
                "--database-url",
                project.database_url,
                "run",
                "quiet-model",
                *WINDOW,
            ],
            env={"DRIFTING_SMTP_HOST": "127.0.0.1", "DRIFTING_SMTP_PORT": str(port)},
            catch_exceptions=False,
        )
    finally:
        controller.stop()

    assert result.exit_code == 0, result.output
    [raw] = inbox
    message = BytesParser(policy=default_policy).parsebytes(raw)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    [warning] = project.run_record()["warnings"].splitlines()
    assert "numerical column 'age' has 300 values logged as strings" in warning
    assert "Warnings:" in text and warning in text
    assert "&lt;b&gt;n/a&lt;/b&gt;" in html and "<b>n/a</b>" not in html


# ------------------------------------------------------------------------------------- NaN predictions (issue 15)


def test_run_given_nan_predictions_should_leave_them_out_of_performance_and_count_them(tmp_path: Path) -> None:
    """Issue 15, defect 4: a NaN prediction was scored as a class of its own (precision 0.77 -> 0.52 on a demo
    window). Rows without a usable prediction are left out of performance, counted and reported."""
    project = Project(tmp_path)
    frame = project.rows(600)
    frame["prediction"] = frame["prediction"].astype(float)
    missing = project.rng.random(600) < 0.15
    frame.loc[missing, "prediction"] = np.nan
    project.log_day(frame)

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    scored = frame[~missing]
    truth, predicted = scored["label"].astype(int), scored["prediction"].astype(int)
    performance = {row["metric"]: row["value"] for row in project.table("performance_metric")}
    assert performance["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted), abs=1e-12)
    assert performance["precision"] == pytest.approx(skm.precision_score(truth, predicted), abs=1e-12)
    assert performance["recall"] == pytest.approx(skm.recall_score(truth, predicted), abs=1e-12)
    run = project.run_record()
    assert run["labelled_count"] == len(scored) and run["unscored_count"] == int(missing.sum())
    flat = " ".join(result.output.split())
    assert f"{int(missing.sum())} labelled rows have no usable prediction" in flat
    assert f"{int(missing.sum())} labelled rows have no usable prediction" in run["warnings"]


def test_run_given_rows_outside_their_hour_partition_should_count_them_not_drop_them_silently(tmp_path: Path) -> None:
    """Issue 15, defect 4: rows whose timestamp lies outside their hour folder were dropped without a counter.
    The rule: they are not read into any window (their folder says another hour than they do), and they are counted
    in the window holding their folder's hour, with a warning."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    project = Project(tmp_path)
    project.log_day(project.rows(480))
    hour = Path(project.store.log_partition_dir("quiet-model", DAY.date(), 9))
    [logged] = list(hour.glob("*.parquet"))
    table = pq.read_table(logged)
    shifted = table.slice(0, 7)
    timestamps = pc.add(shifted.column("timestamp"), pa.scalar(timedelta(hours=3), pa.duration("us")))
    shifted = shifted.set_column(
        shifted.schema.get_field_index("timestamp"), "timestamp", timestamps.cast(table.schema.field("timestamp").type)
    )
    request_ids = pa.array([f"moved-{index}" for index in range(7)])
    shifted = shifted.set_column(shifted.schema.get_field_index("request_id"), "request_id", request_ids)
    pq.write_table(shifted, hour / "late-writer.parquet")

    result = project.cli("run", "quiet-model", *WINDOW)

    assert result.exit_code == 0, result.output
    run = project.run_record()
    assert run["outside_partition_count"] == 7 and run["row_count"] == 480  # not read into 12:00, not lost silently
    flat = " ".join(result.output.split())
    assert "7 rows lie outside the hour of their partition folder" in flat and "date=2026-03-02/hour=09" in flat
    assert "7 rows lie outside the hour of their partition folder" in run["warnings"]

"""A new project's first week (issue 13): windows before any label exists, columns that are all null, and
failures that are recorded per window while a backfill goes on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from click.testing import CliRunner, Result
from scipy import stats

from drifting_etl.capture import LogWriter
from drifting_etl.cli.main import main
from drifting_etl.core.errors import ComputeError
from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.pipeline.run import failures_recorded
from drifting_etl.store.artifacts import ArtifactStore

DAY = datetime(2026, 3, 2, tzinfo=UTC)
CONFIG = """\
name: new-model
task: {task}
schedule: "@daily"
start_date: 2026-03-01
features:
  numerical: [age, income]
  categorical: [channel]
"""


class NewProject:
    """A registered project whose logs have no `label` column and whose store has no labels/ folder."""

    def __init__(self, tmp_path: Path, task: str) -> None:
        self.tmp_path, self.task = tmp_path, task
        self.store = ArtifactStore(str(tmp_path / "store"))
        self.database_url = f"sqlite:///{tmp_path / 'metrics.db'}"
        self.runner = CliRunner()
        rng = np.random.default_rng(3)
        reference = self.rows(rng, 2000)
        reference_path = tmp_path / "reference.parquet"
        reference.to_parquet(reference_path)
        config_path = tmp_path / "new-model.yaml"
        config_path.write_text(CONFIG.format(task=task))
        assert self.cli("init").exit_code == 0
        registered = self.cli("project", "register", str(config_path), "--reference", str(reference_path))
        assert registered.exit_code == 0, registered.output
        self.rng = rng

    def rows(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "age": rng.normal(40, 8, n).round(1),
                "income": rng.gamma(2.0, 20_000.0, n).round(0),
                "channel": rng.choice(["web", "app", "store"], n),
            }
        )
        if self.task == "classification":
            frame["prediction"] = rng.integers(0, 2, n)
        else:
            frame["prediction"] = rng.normal(30, 5, n).round(2)
        return frame

    def log_day(self, day: datetime, frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.insert(0, "timestamp", [day + timedelta(minutes=int(m)) for m in np.linspace(0, 1439, len(frame))])
        with LogWriter("new-model", self.store, max_rows=10**6) as writer:
            writer.log_frame(frame)
        return frame

    def cli(self, *arguments: str) -> Result:
        args = ["--storage", str(self.tmp_path / "store"), "--database-url", self.database_url]
        return self.runner.invoke(main, [*args, *arguments], catch_exceptions=False)

    def runs(self) -> list[dict]:
        return MetricsDatabase(self.database_url).runs("new-model")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_run_given_no_labels_anywhere_should_succeed_with_drift_and_quality(tmp_path: Path, task: str) -> None:
    project = NewProject(tmp_path, task)
    logged = project.log_day(DAY, project.rows(project.rng, 500))

    result = project.cli("run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report")

    assert result.exit_code == 0, result.output
    assert "no labelled rows yet" in result.output
    [run] = project.runs()
    assert (run["status"], run["row_count"], run["labelled_count"]) == ("success", 500, 0)
    database = MetricsDatabase(project.database_url)
    drift = {row["feature"]: row for row in database.rows("feature_drift", "new-model", DAY, DAY + timedelta(days=1))}
    assert set(drift) == {"age", "income", "channel", "prediction"}
    quality = {row["feature"]: row for row in database.rows("data_quality", "new-model", DAY, DAY + timedelta(days=1))}
    assert quality["age"]["missing_count"] == 0 and quality["age"]["row_count"] == 500
    reference = pd.read_parquet(tmp_path / "reference.parquet")
    # a 2000-row reference: Wasserstein normed by the reference's std (Evidently's choice above 1000 rows)
    expected = stats.wasserstein_distance(reference["age"], logged["age"]) / np.std(reference["age"])
    assert drift["age"]["method"] == "wasserstein"
    assert drift["age"]["score"] == pytest.approx(expected, rel=1e-9)
    performance = database.rows("performance_metric", "new-model", DAY, DAY + timedelta(days=1))
    assert all(row["value"] is None and row["labelled_count"] == 0 for row in performance)


@pytest.mark.parametrize("column", ["age", "channel", "prediction"])
def test_run_given_a_column_that_is_all_null_should_record_it_missing_and_succeed(tmp_path: Path, column: str) -> None:
    project = NewProject(tmp_path, "classification")
    frame = project.rows(project.rng, 300)
    frame[column] = None  # written as a column of Arrow type null
    project.log_day(DAY, frame)
    [path] = [p for p in (tmp_path / "store" / "logs").rglob("*.parquet")][:1] or [None]
    assert path is not None and pa.types.is_null(pq.read_schema(path).field(column).type)

    result = project.cli("run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report")

    assert result.exit_code == 0, result.output
    [run] = project.runs()
    assert (run["status"], run["row_count"]) == ("success", 300)
    database = MetricsDatabase(project.database_url)
    quality = {row["feature"]: row for row in database.rows("data_quality", "new-model", DAY, DAY + timedelta(days=1))}
    if column != "prediction":
        assert quality[column]["missing_count"] == 300 and quality[column]["missing_share"] == 1.0
        assert f"{column}: no usable values in the window" in result.output
    drift = {row["feature"] for row in database.rows("feature_drift", "new-model", DAY, DAY + timedelta(days=1))}
    assert column not in drift and len(drift) == 3


def test_backfill_given_a_bad_window_should_record_its_own_error_go_on_and_count_failures(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    for offset in range(3):
        project.log_day(DAY + timedelta(days=offset), project.rows(project.rng, 200))
    # an earlier failure of the middle window, with another error, must not survive its re-run
    MetricsDatabase(project.database_url).record_failure(
        "new-model", DAY + timedelta(days=1), DAY + timedelta(days=2), DAY, DAY, "an older, different error"
    )
    bad_hour = tmp_path / "store" / "logs" / "project=new-model" / "date=2026-03-03" / "hour=05"
    bad_hour.mkdir(parents=True, exist_ok=True)
    (bad_hour / "garbage.parquet").write_bytes(b"this is not parquet")

    result = project.cli("backfill", "new-model", "--start", "2026-03-02", "--end", "2026-03-05", "--no-report")

    assert result.exit_code == 1
    assert "1 of 3 windows failed" in result.output
    runs = {run["window_start"].date().isoformat(): run for run in project.runs()}
    assert [runs[day]["status"] for day in ("2026-03-02", "2026-03-03", "2026-03-04")] == [
        "success",
        "failed",
        "success",
    ]
    assert "garbage.parquet" in runs["2026-03-03"]["error"]
    assert "older, different error" not in runs["2026-03-03"]["error"]


@pytest.mark.parametrize(
    ("raised", "expected"),
    [(KeyError("prediction"), ComputeError), (ConnectionResetError("reset by peer"), ConnectionResetError)],
)
def test_failures_recorded_given_a_foreign_exception_should_record_it_and_classify_it(
    tmp_path: Path, raised: Exception, expected: type[Exception]
) -> None:
    project = NewProject(tmp_path, "classification")
    database = MetricsDatabase(project.database_url)
    window = Window(DAY, DAY + timedelta(days=1))

    with pytest.raises(expected) as caught, failures_recorded(database, "new-model", window, DAY):
        raise raised

    [run] = project.runs()
    assert run["status"] == "failed" and run["error"] == f"{type(raised).__name__}: {raised}"
    if expected is ComputeError:
        assert caught.value.__cause__ is raised and "new-model" in str(caught.value)


def test_run_given_window_before_start_date_should_warn_naming_window_and_start_date(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")

    result = project.cli("run", "new-model", "--start", "2026-01-04", "--end", "2026-01-05", "--no-report")

    assert result.exit_code == 0, result.output
    assert "warning: window [2026-01-04T00:00:00+00:00, 2026-01-05T00:00:00+00:00) ends before" in result.output
    assert "start_date 2026-03-01" in result.output
    [run] = project.runs()
    assert run["status"] == "no_data"


def test_run_given_window_without_log_partitions_should_warn_naming_the_store(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    project.log_day(DAY, project.rows(project.rng, 50))

    result = project.cli("run", "new-model", "--start", "2026-03-05", "--end", "2026-03-06", "--no-report")

    assert result.exit_code == 0, result.output
    logs = tmp_path / "store" / "logs" / "project=new-model"
    assert "warning: no log partitions of new-model for window" in result.output and str(logs) in result.output
    backfill = project.cli("backfill", "new-model", "--start", "2026-03-02", "--end", "2026-03-04", "--no-report")
    assert backfill.exit_code == 0 and backfill.output.count("warning: no log partitions") == 1


def test_backfill_without_a_terminal_should_print_a_line_per_window_and_name_each_e_mail_once(
    tmp_path: Path,
) -> None:
    project = NewProject(tmp_path, "classification")
    config = tmp_path / "new-model.yaml"
    config.write_text(CONFIG.format(task="classification") + "alerts:\n  email: [team@example.com]\n  send: always\n")
    registered = project.cli("project", "register", str(config), "--reference", str(tmp_path / "reference.parquet"))
    assert registered.exit_code == 0, registered.output
    for offset in (0, 2):
        project.log_day(DAY + timedelta(days=offset), project.rows(project.rng, 200))
    bad_hour = tmp_path / "store" / "logs" / "project=new-model" / "date=2026-03-03" / "hour=05"
    bad_hour.mkdir(parents=True)
    (bad_hour / "garbage.parquet").write_bytes(b"this is not parquet")
    with socket.socket() as probe:  # a port nothing listens on: every send fails
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DRIFTING_")}
    environment |= {"DRIFTING_SMTP_HOST": "127.0.0.1", "DRIFTING_SMTP_PORT": str(port)}
    command = [str(Path(sys.executable).parent / "drifting-etl"), "--storage", str(tmp_path / "store")]
    command += ["--database-url", project.database_url, "backfill", "new-model"]
    command += ["--start", "2026-03-02", "--end", "2026-03-05", "--no-report"]

    # a real process with pipes (no terminal, as under cron), where an unhandled log record would reach stderr
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    lines = [line for line in done.stdout.splitlines() if line.startswith("[2026-03-0")]
    assert [line.split()[2] for line in lines] == ["success", "failed", "success"], output
    assert "rows=200" in lines[0] and "garbage.parquet" in lines[1]
    for day in ("2026-03-02", "2026-03-04"):
        notices = [line for line in output.splitlines() if f"e-mail for [{day}T00:00:00+00:00" in line]
        assert len(notices) == 1 and "failed" in notices[0], output
    assert "could not send the notification" not in output  # the log line would say it a second time


def test_project_list_given_an_empty_store_should_name_the_store_it_looked_in(tmp_path: Path) -> None:
    store = tmp_path / "empty-store"

    result = CliRunner().invoke(main, ["--storage", str(store), "project", "list"], catch_exceptions=False)

    assert result.exit_code == 0
    assert f"no projects registered in {store}" in result.output


class _Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        message = BytesParser(policy=default_policy).parsebytes(envelope.original_content or b"")
        self.subjects.append(str(message["Subject"]))
        return "250 OK"


def test_run_again_given_the_same_verdict_should_e_mail_once_unless_forced_or_changed(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    config = tmp_path / "new-model.yaml"
    config.write_text(CONFIG.format(task="classification") + "alerts:\n  email: [team@example.com]\n  send: always\n")
    registered = project.cli("project", "register", str(config), "--reference", str(tmp_path / "reference.parquet"))
    assert registered.exit_code == 0, registered.output
    project.log_day(DAY, project.rows(project.rng, 400))
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    environment = {"DRIFTING_SMTP_HOST": "127.0.0.1", "DRIFTING_SMTP_PORT": str(port)}
    window = ["run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report"]

    def run(*extra: str) -> str:
        result = project.runner.invoke(
            main,
            ["--storage", str(tmp_path / "store"), "--database-url", project.database_url, *window, *extra],
            env=environment,
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return result.output

    try:
        first = run()
        again = run()
        forced = run("--notify")
        drifted = project.rows(project.rng, 2000)
        drifted["age"] += 30
        project.log_day(DAY, drifted)  # more logs for the same day: the verdict changes
        changed = run()
    finally:
        controller.stop()

    assert "sent" in first and len(inbox.subjects) == 3
    assert "already e-mailed at" in again and "with the same verdict" in again and "--notify" in again
    assert "sent" in forced and "sent" in changed
    sent = MetricsDatabase(project.database_url).notifications("new-model", DAY, DAY + timedelta(days=1))
    assert [row["forced"] for row in sent] == [False, True, False]  # newest first
    # 1 of 3 drifted; shifted by 30, nearly every age lies outside the reference's range: a data-quality alert too
    assert sent[0]["verdict"] == "success; no dataset drift; drifted: age; no breached metrics; quality: age"
    assert (
        sent[1]["verdict"]
        == sent[2]["verdict"]
        == ("success; no dataset drift; no drifted features; no breached metrics")
    )
    assert all(row["recipients"] == "team@example.com" and row["subject"] for row in sent)
    assert sent[0]["subject"] == inbox.subjects[2]

"""The read-only CLI that answers "what happened" (issue 13): `runs`, `show`, and `project list` on an empty store,
through click's runner on a real store and SQLite database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_first_week import DAY, NewProject

from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase

END = DAY + timedelta(days=3)


@pytest.fixture
def project(tmp_path: Path) -> NewProject:
    """Three daily windows from 2026-03-02: the middle one fails on a log file that is not Parquet."""
    project = NewProject(tmp_path, "classification")
    for offset in range(3):
        project.log_day(DAY + timedelta(days=offset), project.rows(project.rng, 200 + offset))
    bad_hour = tmp_path / "store" / "logs" / "project=new-model" / "date=2026-03-03" / "hour=05"
    bad_hour.mkdir(parents=True, exist_ok=True)
    (bad_hour / "garbage.parquet").write_bytes(b"this is not parquet")
    result = project.cli("backfill", "new-model", "--start", "2026-03-02", "--end", "2026-03-05", "--no-report")
    assert result.exit_code == 1 and "1 of 3 windows failed" in result.output
    return project


def test_runs_json_should_list_windows_newest_first_with_verdict_rows_and_own_error(project: NewProject) -> None:
    result = project.cli("runs", "new-model", "--json")

    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert result.stderr == ""
    assert [r["window_start"] for r in records] == [
        "2026-03-04T00:00:00+00:00",
        "2026-03-03T00:00:00+00:00",
        "2026-03-02T00:00:00+00:00",
    ]
    assert [r["status"] for r in records] == ["success", "failed", "success"]
    database = MetricsDatabase(project.database_url)
    for record in (records[0], records[2]):
        start = datetime.fromisoformat(record["window_start"])
        [drift] = database.rows("dataset_drift", "new-model", start, start + timedelta(days=1))
        assert record["window_end"] == (start + timedelta(days=1)).isoformat()
        assert (record["dataset_drift"], record["drifted_features"]) == (drift["drifted"], drift["drifted_count"])
        assert isinstance(record["dataset_drift"], bool)
        assert record["error"] is None
    assert (records[0]["rows"], records[2]["rows"]) == (202, 200)
    failed = records[1]
    assert "garbage.parquet" in failed["error"]
    assert (failed["dataset_drift"], failed["drifted_features"], failed["rows"]) == (None, None, None)
    assert set(failed) == {
        "window_start",
        "window_end",
        "status",
        "dataset_drift",
        "drifted_features",
        "rows",
        "error",
    }


def test_runs_should_filter_by_status_since_and_limit(project: NewProject) -> None:
    failed = project.cli("runs", "new-model", "--status", "failed")
    assert failed.exit_code == 0, failed.output
    assert "2026-03-03 00:00 → 03-04 00:00" in failed.stdout and "garbage.parquet" in failed.stdout
    assert "2026-03-02 00:00" not in failed.stdout and "2026-03-04 00:00" not in failed.stdout
    [only] = json.loads(project.cli("runs", "new-model", "--status", "failed", "--json").stdout)
    assert only["window_start"] == "2026-03-03T00:00:00+00:00"

    since = json.loads(project.cli("runs", "new-model", "--since", "2026-03-03", "--json").stdout)
    assert [r["window_start"][:10] for r in since] == ["2026-03-04", "2026-03-03"]
    limited = json.loads(project.cli("runs", "new-model", "--limit", "1", "--json").stdout)
    assert [r["window_start"][:10] for r in limited] == ["2026-03-04"]
    assert json.loads(project.cli("runs", "new-model", "--status", "no_data", "--json").stdout) == []


def test_runs_given_unregistered_project_should_say_so(project: NewProject) -> None:
    result = project.runner.invoke(
        main, ["--storage", str(project.tmp_path / "store"), "--database-url", project.database_url, "runs", "nope"]
    )
    assert result.exit_code == 1
    assert "project not registered" in result.stderr and "project=nope" in result.stderr


def test_show_json_should_hold_the_stored_rows_of_exactly_that_window(project: NewProject) -> None:
    start, end = DAY, DAY + timedelta(days=1)
    result = project.cli("show", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert result.stderr == ""
    assert set(shown) == {
        "project",
        "window_start",
        "window_end",
        "run",
        "dataset_drift",
        "feature_drift",
        "performance",
        "data_quality",
    }
    assert (shown["project"], shown["window_start"], shown["window_end"]) == (
        "new-model",
        start.isoformat(),
        end.isoformat(),
    )
    database = MetricsDatabase(project.database_url)

    def plain(row: dict) -> dict:
        skip = {"id", "project", "window_start", "window_end"}
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items() if k not in skip}

    [run] = [r for r in database.runs("new-model") if r["window_start"] == start]
    assert shown["run"] == plain(run)
    assert shown["run"]["status"] == "success" and shown["run"]["row_count"] == 200
    [dataset] = database.rows("dataset_drift", "new-model", start, end)
    assert shown["dataset_drift"] == plain(dataset)
    for key, table in (
        ("feature_drift", "feature_drift"),
        ("performance", "performance_metric"),
        ("data_quality", "data_quality"),
    ):
        stored = [plain(row) for row in database.rows(table, "new-model", start, end)]
        assert stored and shown[key] == stored
    assert {row["feature"] for row in shown["feature_drift"]} == {"age", "income", "channel", "prediction"}

    table = project.cli("show", "new-model", "--start", "2026-03-02", "--end", "2026-03-03")
    assert table.exit_code == 0, table.output
    age = next(row for row in shown["feature_drift"] if row["feature"] == "age")
    assert f"{age['score']:.4g}" in table.stdout and age["method"] in table.stdout


def test_show_given_the_failed_window_should_show_its_error(project: NewProject) -> None:
    shown = json.loads(
        project.cli("show", "new-model", "--start", "2026-03-03", "--end", "2026-03-04", "--json").stdout
    )
    assert shown["run"]["status"] == "failed" and "garbage.parquet" in shown["run"]["error"]
    assert shown["feature_drift"] == [] and shown["dataset_drift"] is None


def test_show_given_a_window_never_run_should_name_it_and_point_to_runs(project: NewProject) -> None:
    result = project.runner.invoke(
        main,
        [
            "--storage",
            str(project.tmp_path / "store"),
            "--database-url",
            project.database_url,
            "show",
            "new-model",
            "--start",
            "2026-04-01",
            "--end",
            "2026-04-02",
            "--json",
        ],
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    assert "never run" in message and "project=new-model" in message
    assert "2026-04-01T00:00:00+00:00" in message and "drifting-etl runs new-model" in message


def test_project_list_given_nothing_registered_should_name_the_store(tmp_path: Path) -> None:
    store = tmp_path / "empty-store"
    result = CliRunner().invoke(
        main, ["--storage", str(store), "--database-url", f"sqlite:///{tmp_path / 'm.db'}", "project", "list"]
    )
    assert result.exit_code == 0, result.output
    assert f"no projects registered in {store};" in result.stdout


def test_run_history_given_a_naive_since_should_be_rejected() -> None:
    from drifting_etl.load.queries import run_history

    with pytest.raises(ValueError, match="since"):
        run_history("new-model", since=datetime(2026, 3, 2))
    assert run_history("new-model", since=datetime(2026, 3, 2, tzinfo=UTC)) is not None

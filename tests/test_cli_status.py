"""`drifting-etl status` (issue 13, the CLI): every registered project's health from the store's index and the metrics
database, through click's runner on a real store, with windows run by the pipeline (SQLite, and one PostgreSQL case).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_first_week import DAY, NewProject

from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase


def register_copy(project: NewProject, name: str) -> None:
    """Register `name` with new-model's configuration and reference (it never runs)."""
    config = project.tmp_path / f"{name}.yaml"
    config.write_text((project.tmp_path / "new-model.yaml").read_text().replace("name: new-model", f"name: {name}"))
    result = project.cli("project", "register", str(config), "--reference", str(project.tmp_path / "reference.parquet"))
    assert result.exit_code == 0, result.output


def break_day(project: NewProject, day: str) -> None:
    """A log file that is not Parquet in one hour of `day`: that day's window fails."""
    hour = project.tmp_path / "store" / "logs" / "project=new-model" / f"date={day}" / "hour=05"
    hour.mkdir(parents=True, exist_ok=True)
    (hour / "garbage.parquet").write_bytes(b"this is not parquet")


def last_success_drifted(database_url: str, start: Any) -> bool:
    """Whether the window's whole-window verdict has dataset drift or any drifted feature (read from the table)."""
    database = MetricsDatabase(database_url)
    [drift] = database.rows("dataset_drift", "new-model", start, start + timedelta(days=1))
    database.dispose()
    return bool(drift["drifted"]) or drift["drifted_count"] > 0


@pytest.fixture
def project(tmp_path: Path) -> NewProject:
    """new-model: daily windows 03-02..03-04 succeed, 03-05 fails (its latest); other-model registered and never run;
    parked-model registered, then paused."""
    project = NewProject(tmp_path, "classification")
    for offset in range(4):
        project.log_day(DAY + timedelta(days=offset), project.rows(project.rng, 200 + offset))
    backfill = project.cli("backfill", "new-model", "--start", "2026-03-02", "--end", "2026-03-05", "--no-report")
    assert backfill.exit_code == 0, backfill.output
    break_day(project, "2026-03-05")
    failed = project.cli("run", "new-model", "--start", "2026-03-05", "--end", "2026-03-06", "--no-report")
    assert failed.exit_code == 1
    register_copy(project, "other-model")
    register_copy(project, "parked-model")
    assert project.cli("project", "pause", "parked-model").exit_code == 0
    return project


def test_status_json_should_give_every_projects_status_schedule_windows_and_reasons(project: NewProject) -> None:
    result = project.cli("status", "--json")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    records = {record["project"]: record for record in json.loads(result.stdout)}
    assert list(records) == ["new-model", "other-model", "parked-model"]
    last_success_start = DAY + timedelta(days=2)
    expected_reasons = ["failing", "stale"]  # 03-05 failed; its last success ended in March 2026, > 2 days ago
    if last_success_drifted(project.database_url, last_success_start):
        expected_reasons.append("drifted")
    assert records["new-model"] == {
        "project": "new-model",
        "status": "active",
        "schedule": "@daily",
        "last_window": {
            "window_start": "2026-03-05T00:00:00+00:00",
            "window_end": "2026-03-06T00:00:00+00:00",
            "status": "failed",
        },
        "last_success": {"window_start": "2026-03-04T00:00:00+00:00", "window_end": "2026-03-05T00:00:00+00:00"},
        "reasons": expected_reasons,
    }
    assert records["other-model"] == {
        "project": "other-model",
        "status": "active",
        "schedule": "@daily",
        "last_window": None,
        "last_success": None,
        "reasons": ["never_ran"],
    }
    assert records["parked-model"]["status"] == "paused"
    assert records["parked-model"]["reasons"] == []  # paused and never run: nothing expected of it


def test_status_should_print_one_table_row_per_project(project: NewProject) -> None:
    result = project.cli("status")  # piped: rows are not wrapped

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if "-model" in line}
    # windows by their start (daily windows: the date), then the latest run's status and the last success
    assert lines["new-model"][:7] == ["new-model", "active", "@daily", "2026-03-05", "failed", "2026-03-04", "failing,"]
    assert lines["other-model"] == ["other-model", "active", "@daily", "never", "-", "never", "never_ran"]
    assert lines["parked-model"] == ["parked-model", "paused", "@daily", "never", "-", "never", "ok"]
    assert result.stdout.split()[:7] == ["project", "status", "schedule", "last", "window", "run", "last"]
    assert sum("-model" in line for line in result.stdout.splitlines()) == 3


def test_status_should_read_only(project: NewProject) -> None:
    database = MetricsDatabase(project.database_url)
    before = (database.monitored_projects(), database.runs("new-model"))
    assert project.cli("status").exit_code == 0
    assert project.cli("status", "--json").exit_code == 0
    assert (database.monitored_projects(), database.runs("new-model")) == before
    database.dispose()


def test_register_pause_resume_and_runs_should_keep_monitored_project_in_step(project: NewProject) -> None:
    database = MetricsDatabase(project.database_url)
    rows = database.monitored_projects()
    assert {name: (row["schedule"], row["interval_seconds"], row["status"]) for name, row in rows.items()} == {
        "new-model": ("@daily", 86400, "active"),
        "other-model": ("@daily", 86400, "active"),
        "parked-model": ("@daily", 86400, "paused"),
    }
    assert project.cli("project", "resume", "parked-model").exit_code == 0
    assert database.monitored_projects()["parked-model"]["status"] == "active"

    # a project registered before migration 0005 has no row: its next run records it
    with database.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM monitored_project WHERE project = 'new-model'"))
    assert project.cli("run", "new-model", "--start", "2026-03-03", "--end", "2026-03-04", "--no-report").exit_code == 0
    row = database.monitored_projects()["new-model"]
    assert (row["schedule"], row["interval_seconds"], row["status"]) == ("@daily", 86400, "active")
    assert row["registered_at"] == row["updated_at"]
    database.dispose()


def test_status_given_empty_store_should_say_no_projects_registered_in_the_store(tmp_path: Path) -> None:
    store = tmp_path / "empty-store"
    args = ["--storage", str(store), "--database-url", f"sqlite:///{tmp_path / 'metrics.db'}"]
    result = CliRunner().invoke(main, [*args, "status"])
    assert result.exit_code == 0, result.output
    assert f"no projects registered in {store}" in result.stdout.replace("\n", "")
    assert "drifting-etl project register" in result.stdout
    as_json = CliRunner().invoke(main, [*args, "status", "--json"])
    assert (as_json.exit_code, json.loads(as_json.stdout), as_json.stderr) == (0, [], "")


def test_status_on_postgresql_should_list_a_project_registered_before_the_database_after_its_next_run(
    tmp_path: Path, postgres_url: str
) -> None:
    project = NewProject(tmp_path, "classification")  # registered with the SQLite database only
    project.log_day(DAY, project.rows(project.rng, 300))
    project.database_url = postgres_url
    assert project.cli("init").exit_code == 0

    [before] = json.loads(project.cli("status", "--json").stdout)
    assert (before["last_window"], before["reasons"]) == (None, ["never_ran"])

    result = project.cli("run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report")
    assert result.exit_code == 0, result.output
    [after] = json.loads(project.cli("status", "--json").stdout)
    expected = ["stale", "drifted"] if last_success_drifted(postgres_url, DAY) else ["stale"]
    assert after == {
        "project": "new-model",
        "status": "active",
        "schedule": "@daily",
        "last_window": {
            "window_start": "2026-03-02T00:00:00+00:00",
            "window_end": "2026-03-03T00:00:00+00:00",
            "status": "success",
        },
        "last_success": {"window_start": "2026-03-02T00:00:00+00:00", "window_end": "2026-03-03T00:00:00+00:00"},
        "reasons": expected,
    }
    [row] = MetricsDatabase(postgres_url).monitored_projects().values()
    assert (row["project"], row["interval_seconds"], row["status"]) == ("new-model", 86400, "active")


def test_register_before_init_should_register_with_a_note_and_create_no_database(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    project = NewProject(tmp_path / "first", "classification")  # for its configuration and reference files
    store, database = tmp_path / "store", tmp_path / "metrics.db"
    args = ["--storage", str(store), "--database-url", f"sqlite:///{database}"]
    config, reference = project.tmp_path / "new-model.yaml", project.tmp_path / "reference.parquet"

    result = CliRunner().invoke(main, [*args, "project", "register", str(config), "--reference", str(reference)])

    assert result.exit_code == 0, result.output
    assert "registered new-model" in result.stdout
    assert "new-model is not recorded in the metrics database yet" in result.stderr.replace("\n", "")
    assert "drifting-etl init" in result.stderr.replace("\n", "")  # the database error's hint
    assert not database.exists()  # checking the schema created no empty file


def test_airflow_steps_load_should_record_the_project_like_run_does(tmp_path: Path) -> None:
    """The Airflow path (plan -> profile -> load, pipeline.steps) records the project too."""
    from drifting_etl.core.window import Window
    from drifting_etl.pipeline import steps

    project = NewProject(tmp_path, "classification")
    project.log_day(DAY, project.rows(project.rng, 300))
    assert project.cli("project", "pause", "new-model").exit_code == 0  # a paused project run by hand stays paused
    database = MetricsDatabase(project.database_url)
    with database.engine.begin() as connection:  # as if registered before migration 0005
        connection.execute(sa.text("DELETE FROM monitored_project"))
    window = Window(DAY, DAY + timedelta(days=1))

    paths = [
        path
        for group in steps.plan_partitions(project.store, "new-model", window)
        for path in steps.profile_partitions(
            project.store, database, "new-model", window, group["plan"], group["group"]
        )
    ]
    outcome = steps.load_partitions(project.store, database, "new-model", window, paths)

    assert outcome["status"] == "success"
    row = database.monitored_projects()["new-model"]
    assert (row["schedule"], row["interval_seconds"], row["status"]) == ("@daily", 86400, "paused")
    database.dispose()


def test_project_record_given_project_paused_in_the_store_should_drop_stale_but_keep_failing() -> None:
    """The store's index is the registry: a pause the database missed (it was down) does not make the project stale."""
    from drifting_etl.cli.status import project_record
    from drifting_etl.store.artifacts import IndexEntry

    paused = IndexEntry(name="churn", status="paused", schedule="@hourly", updated_at="2026-03-02T00:00:00+00:00")
    record = project_record(paused, {"reasons": ["failing", "stale", "drifted"]})
    assert record["reasons"] == ["failing", "drifted"]
    assert project_record(paused, None)["reasons"] == []
    active = IndexEntry(name="churn", status="active", schedule="@hourly", updated_at="2026-03-02T00:00:00+00:00")
    assert project_record(active, None)["reasons"] == ["never_ran"]

"""`--json` on `project list`, `project show`, `run` and `backfill` (issue 13): one JSON document on stdout and
nothing else, checked field by field against the store, the metrics database and scikit-learn; and --storage /
--database-url accepted after the subcommand too."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.metrics import accuracy_score
from test_first_week import CONFIG, DAY, NewProject
from test_notify import SmtpServer, smtp, smtp_server  # noqa: F401  (the real loopback SMTP server)

from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase


def _labelled_day(project: NewProject, day: datetime, n: int) -> dict:
    frame = project.rows(project.rng, n)
    frame["label"] = project.rng.integers(0, 2, n)
    logged = project.log_day(day, frame)
    return {"label": logged["label"].tolist(), "prediction": logged["prediction"].tolist()}


def _with_alerts(project: NewProject, tmp_path: Path, alerts: str) -> None:
    config = tmp_path / "new-model.yaml"
    config.write_text(CONFIG.format(task="classification") + alerts)
    registered = project.cli("project", "register", str(config), "--reference", str(tmp_path / "reference.parquet"))
    assert registered.exit_code == 0, registered.output


def test_project_list_json_should_hold_each_index_entry(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    assert project.cli("project", "pause", "new-model").exit_code == 0

    result = project.cli("project", "list", "--json")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    [listed] = json.loads(result.stdout)
    index = json.loads((tmp_path / "store" / "store.json").read_text())["projects"]["new-model"]
    assert listed == {"name": "new-model", **index}
    assert (listed["status"], listed["schedule"], listed["start_date"]) == ("paused", "@daily", "2026-03-01")
    assert datetime.fromisoformat(listed["updated_at"]).utcoffset() == timedelta(0)


def test_project_list_json_given_an_empty_store_should_print_an_empty_list(tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["project", "list", "--json", "--storage", str(tmp_path / "empty")])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == [] and done.stderr == ""


def test_project_show_json_should_hold_configuration_locations_and_latest_runs(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    for offset in range(2):
        project.log_day(DAY + timedelta(days=offset), project.rows(project.rng, 100 + offset))
    assert (
        project.cli("backfill", "new-model", "--start", "2026-03-02", "--end", "2026-03-04", "--no-report").exit_code
        == 0
    )

    result = project.cli("project", "show", "new-model", "--json")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    shown = json.loads(result.stdout)
    store = tmp_path / "store"
    assert shown["name"] == "new-model" and shown["status"] == "active" and shown["schedule"] == "@daily"
    assert shown["configuration_location"] == str(store / "projects" / "new-model" / "configuration.yaml")
    assert shown["reference_location"] == str(store / "projects" / "new-model" / "reference.parquet")
    configuration = shown["configuration"]
    assert configuration["name"] == "new-model" and configuration["task"] == "classification"
    assert configuration["features"]["numerical"] == ["age", "income"]
    assert configuration["features"]["categorical"] == ["channel"]
    assert configuration["start_date"] == "2026-03-01"
    assert configuration["labels"]["max_delay"] == "30d"  # the dumped form, as `project show` prints it
    runs = json.loads(project.cli("runs", "new-model", "--json").stdout)
    assert shown["latest_runs"] == runs  # the same records as `runs --json`, newest first
    assert [(r["window_start"], r["rows"]) for r in shown["latest_runs"]] == [
        ("2026-03-03T00:00:00+00:00", 101),
        ("2026-03-02T00:00:00+00:00", 100),
    ]


def test_project_show_json_given_unknown_project_should_error_on_stderr(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    result = project.runner.invoke(
        main, ["project", "show", "new-modle", "--json", "--storage", str(tmp_path / "store")]
    )
    assert result.exit_code == 1
    assert result.stdout == "" and "unknown project 'new-modle'" in result.stderr


def test_run_json_should_print_the_window_outcome_with_performance_and_the_e_mail(
    tmp_path: Path,
    smtp: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = NewProject(tmp_path, "classification")
    _with_alerts(project, tmp_path, "alerts:\n  email: [team@example.com]\n  send: always\n")
    logged = _labelled_day(project, DAY, 400)
    monkeypatch.setenv("DRIFTING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTING_SMTP_PORT", str(smtp.port))

    result = project.cli("run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--json")

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert "e-mail for" not in result.stdout
    start, end = DAY, DAY + timedelta(days=1)
    database = MetricsDatabase(project.database_url)
    [run] = database.runs("new-model")
    [dataset] = database.rows("dataset_drift", "new-model", start, end)
    drift = database.rows("feature_drift", "new-model", start, end)
    assert (record["project"], record["window_start"], record["window_end"]) == (
        "new-model",
        "2026-03-02T00:00:00+00:00",
        "2026-03-03T00:00:00+00:00",
    )
    assert (record["status"], record["rows"], record["labelled"], record["error"]) == ("success", 400, 400, None)
    assert record["dataset_drift"] is dataset["drifted"] and record["drifted_features"] == dataset["drifted_count"]
    assert record["drift_share"] == dataset["drift_share"]
    assert record["drifted_feature_names"] == [
        row["feature"] for row in drift if row["drifted"] and row["feature_kind"] == "feature"
    ]
    [prediction] = [row for row in drift if row["feature_kind"] == "prediction"]
    assert record["prediction_drift"] is prediction["drifted"]
    metrics = {row["metric"]: row for row in record["performance"]}
    assert metrics["accuracy"]["value"] == pytest.approx(
        accuracy_score(logged["label"], logged["prediction"]), abs=1e-12
    )
    assert metrics["accuracy"]["labelled_count"] == 400 and metrics["accuracy"]["estimated"] is False
    stored = {r["metric"]: r for r in database.rows("performance_metric", "new-model", start, end)}
    assert set(metrics) == set(stored)
    assert all(metrics[name]["value"] == stored[name]["value"] for name in metrics)
    # the project logs no probabilities while its metrics (all, by default) include roc_auc and log_loss
    [warning] = record["warnings"]
    assert "column 'prediction_proba'" in warning and "roc_auc and log_loss cannot be computed" in warning
    report = tmp_path / "store" / "reports" / "project=new-model" / "20260302T000000Z--20260303T000000Z.html"
    assert record["report_location"] == run["report_location"] == str(report) and report.exists()
    assert record["report_error"] is None
    notification = record["notification"]
    assert notification["status"] == "sent" and notification["recipients"] == ["team@example.com"]
    assert (notification["reason"], notification["error"]) == (None, None)
    assert len(smtp.mailbox.envelopes) == 1

    window = ["--start", "2026-03-02", "--end", "2026-03-03"]
    again = project.cli("run", "new-model", *window, "--json", "--no-report", "--no-notify")
    assert again.exit_code == 0, again.output
    repeated = json.loads(again.stdout)
    assert repeated["notification"] is None  # nothing was sent or decided
    assert repeated["report_location"] == str(report)  # --no-report keeps the stored report
    assert len(smtp.mailbox.envelopes) == 1


def test_run_json_given_a_policy_that_sends_nothing_should_say_why(
    tmp_path: Path,
    smtp: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = NewProject(tmp_path, "classification")
    _with_alerts(project, tmp_path, "alerts:\n  email: [team@example.com]\n  send: never\n")
    project.log_day(DAY, project.rows(project.rng, 100))
    monkeypatch.setenv("DRIFTING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DRIFTING_SMTP_PORT", str(smtp.port))

    result = project.cli("run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report", "--json")

    assert result.exit_code == 0, result.output
    notification = json.loads(result.stdout)["notification"]
    assert notification["status"] == "skipped" and notification["recipients"] == ["team@example.com"]
    assert "alerts.send is never" in notification["reason"] and notification["error"] is None
    assert "e-mail for" not in result.stdout and smtp.mailbox.envelopes == []


def test_run_json_given_no_log_partitions_should_carry_the_warning_on_stderr_and_in_the_record(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")

    result = project.cli("run", "new-model", "--start", "2026-03-05", "--end", "2026-03-06", "--no-report", "--json")

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "no_data" and record["rows"] == 0 and record["labelled"] == 0
    assert (record["dataset_drift"], record["drifted_features"], record["drift_share"]) == (None, None, None)
    assert record["performance"] == [] and record["notification"] is None
    [warning] = record["warnings"]
    assert "no log partitions of new-model" in warning
    assert "warning: no log partitions of new-model" in result.stderr


def test_backfill_json_should_list_every_window_and_exit_1_with_the_failed_count(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    for offset in (0, 2):
        project.log_day(DAY + timedelta(days=offset), project.rows(project.rng, 200 + offset))
    bad_hour = tmp_path / "store" / "logs" / "project=new-model" / "date=2026-03-03" / "hour=05"
    bad_hour.mkdir(parents=True)
    (bad_hour / "garbage.parquet").write_bytes(b"this is not parquet")

    result = project.cli(
        "backfill", "new-model", "--start", "2026-03-02", "--end", "2026-03-05", "--no-report", "--json"
    )

    assert result.exit_code == 1
    document = json.loads(result.stdout)  # the progress lines went to stderr
    assert (document["project"], document["windows"], document["failed"]) == ("new-model", 3, 1)
    first, failed, last = document["results"]
    assert [r["window_start"] for r in document["results"]] == [
        "2026-03-02T00:00:00+00:00",
        "2026-03-03T00:00:00+00:00",
        "2026-03-04T00:00:00+00:00",
    ]
    assert set(failed) == {"window_start", "window_end", "status", "error"}
    assert failed["status"] == "failed" and "garbage.parquet" in failed["error"]
    assert failed["window_end"] == "2026-03-04T00:00:00+00:00"
    database = MetricsDatabase(project.database_url)
    for record, rows in ((first, 200), (last, 202)):
        start = datetime.fromisoformat(record["window_start"])
        [dataset] = database.rows("dataset_drift", "new-model", start, start + timedelta(days=1))
        assert (record["status"], record["rows"], record["labelled"]) == ("success", rows, 0)
        assert record["dataset_drift"] is dataset["drifted"] and record["drifted_features"] == dataset["drifted_count"]
        assert all(metric["value"] is None for metric in record["performance"])  # no labels yet
        assert record["notification"] is None and record["report_location"] is None
    assert "1 of 3 windows failed" in result.stderr and "garbage.parquet" in result.stderr
    assert "[2026-03-02T00:00:00+00:00" in result.stderr  # a line per window, on stderr


@pytest.mark.parametrize("place", ["before", "after"])
def test_storage_and_database_url_should_be_accepted_after_the_subcommand_too(tmp_path: Path, place: str) -> None:
    project = NewProject(tmp_path, "classification")
    project.log_day(DAY, project.rows(project.rng, 50))
    locations = ["--storage", str(tmp_path / "store"), "--database-url", project.database_url]
    command = ["run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report", "--json"]

    result = project.runner.invoke(main, [*locations, *command] if place == "before" else [*command, *locations])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 50
    assert [r["row_count"] for r in MetricsDatabase(project.database_url).runs("new-model")] == [50]


def test_a_subcommand_s_storage_should_win_over_the_group_s(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    elsewhere = ["--storage", str(tmp_path / "elsewhere"), "--database-url", f"sqlite:///{tmp_path / 'other.db'}"]
    here = ["--storage", str(tmp_path / "store"), "--database-url", project.database_url]

    listed = project.runner.invoke(main, [*elsewhere, "project", "list", "--json", *here])
    assert [p["name"] for p in json.loads(listed.stdout)] == ["new-model"]
    nested = project.runner.invoke(main, [*elsewhere, "project", *here, "list", "--json"])
    assert [p["name"] for p in json.loads(nested.stdout)] == ["new-model"]
    overridden = project.runner.invoke(main, [*here, "project", "list", "--json", *elsewhere])
    assert json.loads(overridden.stdout) == []
    runs = project.runner.invoke(main, [*elsewhere, "runs", "new-model", "--json", *here])
    assert runs.exit_code == 0, runs.output
    assert [r["window_start"] for r in json.loads(runs.stdout)] == []
    for command in main.commands.values():  # every subcommand, including nested ones
        subcommands = getattr(command, "commands", {}).values()
        for each in (command, *subcommands):
            flags = {flag for parameter in each.params for flag in parameter.opts}
            assert {"--storage", "--database-url"} <= flags, each.name


def test_run_json_given_a_window_that_fails_should_print_nothing_on_stdout(tmp_path: Path) -> None:
    project = NewProject(tmp_path, "classification")
    bad_hour = tmp_path / "store" / "logs" / "project=new-model" / "date=2026-03-02" / "hour=05"
    bad_hour.mkdir(parents=True)
    (bad_hour / "garbage.parquet").write_bytes(b"this is not parquet")

    result = project.cli("run", "new-model", "--start", "2026-03-02", "--end", "2026-03-03", "--no-report", "--json")

    assert result.exit_code == 1
    assert result.stdout == "" and "garbage.parquet" in result.stderr
    [run] = project.runs()
    assert run["status"] == "failed" and "garbage.parquet" in run["error"]

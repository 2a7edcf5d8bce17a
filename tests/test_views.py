"""Tests of the BI views (migration 0002, texts in drifting_etl/load/sql_views), on SQLite and on the real PostgreSQL.

Windows are loaded with `MetricsDatabase.replace_window` / `record_failure` / `claim_retrain_trigger`, the same
writers the pipeline uses, so the views are checked against rows shaped exactly like production rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.migrate import SCHEMA_REVISION, VERSION_TABLE, alembic_config
from drifting_etl.load.rows import DataQualityRow, DatasetDriftRow, FeatureDriftRow, PerformanceRow, RunRow
from drifting_etl.load.tables import metadata

# The view names are a contract with dashboards.
VIEWS = {
    "v_latest_run",
    "v_feature_drift_trend",
    "v_dataset_drift_timeline",
    "v_performance_trend",
    "v_data_quality_trend",
    "v_retraining_history",
    "v_projects_needing_attention",
}
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Windows near "now" are fresh; the views compare against the database's clock, which is this machine's.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
LONG_AGO = datetime(2020, 1, 6, tzinfo=UTC)
TIMESTAMP_COLUMNS = {
    "window_start",
    "window_end",
    "started_at",
    "finished_at",
    "triggered_at",
    "latest_window_start",
    "latest_window_end",
    "last_success_window_start",
    "last_success_window_end",
}


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetricsDatabase]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/metrics.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    database = MetricsDatabase(url)
    database.migrate()
    yield database
    database.dispose()


# ---------------------------------------------------------------------------------------------------- helpers
def load_window(
    db: MetricsDatabase,
    project: str,
    start: datetime,
    end: datetime | None = None,
    *,
    drifted: bool = False,
    breached: bool = False,
    status: str = "success",
    dataset_drift: bool | None = None,
) -> None:
    """One window as the pipeline writes it: 'age' drifts when `drifted`, accuracy breaches when `breached`; the
    dataset drifts with it unless `dataset_drift` says otherwise (one drifted feature of two, below a higher share).

    Every window also carries rows the views must leave out: a per-slice drift row, a window-over-window drift
    row, a per-slice quality row and an estimated (breached) performance row.
    """
    end = end or start + HOUR
    dataset_drifted = drifted if dataset_drift is None else dataset_drift
    window: dict[str, Any] = {"project": project, "window_start": start, "window_end": end}
    run = RunRow(
        **window,
        status=status,  # type: ignore[arg-type]
        row_count=1000 if status == "success" else 0,
        labelled_count=800 if status == "success" else 0,
        started_at=end,
        finished_at=end + timedelta(seconds=5),
        drifted=dataset_drifted if status == "success" else None,
        drift_share=(0.5 if drifted else 0.0) if status == "success" else None,
        report_location=f"file:///reports/{project}/{start:%Y%m%dT%H}.html",
    )
    if status != "success":
        db.replace_window(run, [], None, [], [])
        return

    def drift(feature: str, **changes: Any) -> FeatureDriftRow:
        values: dict[str, Any] = dict(
            feature=feature,
            feature_kind="feature",
            column_type="numerical",
            method="wasserstein",
            score=0.3 if drifted and feature == "age" else 0.02,
            statistic=None,
            threshold=0.1,
            drifted=drifted and feature == "age",
            reference_rows=5000,
            current_rows=1000,
        )
        return FeatureDriftRow(**window, **{**values, **changes})

    def quality(feature: str, **changes: Any) -> DataQualityRow:
        values: dict[str, Any] = dict(
            feature=feature,
            column_type="numerical",
            row_count=1000,
            missing_count=10,
            missing_share=0.01,
            out_of_range_share=0.2 if drifted else 0.0,
            new_category_share=None,
        )
        return DataQualityRow(**window, **{**values, **changes})

    def performance(metric: str, value: float, **changes: Any) -> PerformanceRow:
        values: dict[str, Any] = dict(
            metric=metric,
            value=value,
            labelled_count=800,
            label_coverage=0.8,
            threshold=None,
            threshold_direction=None,
            breached=False,
        )
        return PerformanceRow(**window, **{**values, **changes})

    db.replace_window(
        run,
        [
            drift("age"),
            drift("income"),
            drift("age", slice_key="region", slice_value="north", score=0.9, drifted=True),
            drift("age", compared_with="previous", score=0.9, drifted=True),
        ],
        DatasetDriftRow(
            **window,
            drifted_count=1 if drifted else 0,
            feature_count=2,
            drift_share=0.5 if drifted else 0.0,
            drift_share_threshold=0.5 if dataset_drifted or not drifted else 0.75,
            drifted=dataset_drifted,
        ),
        [quality("age"), quality("age", slice_key="region", slice_value="north", missing_share=0.9)],
        [
            performance(
                "accuracy", 0.6 if breached else 0.9, threshold=0.8, threshold_direction="min", breached=breached
            ),
            performance("roc_auc", 0.85),
            performance("accuracy", 0.1, threshold=0.8, threshold_direction="min", breached=True, estimated=True),
        ],
    )
    # Set afterwards, as the pipeline does once the e-mail went out (RunRow cannot validate a Literal | None field).
    db.annotate_run(project, start, end, notification_status="sent" if drifted else "skipped")


def fail_window(db: MetricsDatabase, project: str, start: datetime, end: datetime | None = None) -> None:
    end = end or start + HOUR
    db.record_failure(project, start, end, end, end + timedelta(seconds=2), "StorageError: timeout")


def query(db: MetricsDatabase, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a view as plain dicts; SQLite's timestamp text becomes aware UTC datetimes like PostgreSQL's."""
    with db.engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(sa.text(sql), params).mappings()]
    for row in rows:
        for key in TIMESTAMP_COLUMNS & row.keys():
            value = row[key]
            if isinstance(value, str):
                # UTCDateTime's SQLite storage format: UTC text without an offset.
                assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", value), value
                row[key] = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return rows


def view_names(db: MetricsDatabase) -> set[str]:
    with db.engine.connect() as connection:
        return set(sa.inspect(connection).get_view_names())


def run_alembic(db: MetricsDatabase, action: str, revision: str) -> None:
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


# ---------------------------------------------------------------------------------------------------- migration
def test_migrate_should_create_every_view_and_no_table(db: MetricsDatabase) -> None:
    assert view_names(db) == VIEWS
    with db.engine.connect() as connection:
        assert not VIEWS & set(sa.inspect(connection).get_table_names())
        assert connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == SCHEMA_REVISION
    for view in VIEWS:
        assert query(db, f"SELECT * FROM {view}") == []


def test_migrations_given_views_should_still_match_table_definitions(db: MetricsDatabase) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []


def test_downgrade_to_0001_should_drop_views_and_keep_tables_and_upgrade_should_recreate(db: MetricsDatabase) -> None:
    load_window(db, "churn", NOW - HOUR)
    run_alembic(db, "downgrade", "0001")
    assert view_names(db) == set()
    # read as 0001 has it (db.runs reads the columns of the newest revision)
    assert [
        row["status"]
        for row in query(db, "SELECT status FROM monitoring_run WHERE project = :project", project="churn")
    ] == ["success"]
    run_alembic(db, "upgrade", "head")
    assert view_names(db) == VIEWS
    db.check_schema()
    assert [row["project"] for row in query(db, "SELECT project FROM v_latest_run")] == ["churn"]


def test_view_files_should_ship_in_the_package_one_create_view_each() -> None:
    folder = files("drifting_etl.load").joinpath("sql_views")
    texts = {path.name: path.read_text(encoding="utf-8") for path in folder.iterdir() if path.name.endswith(".sql")}
    assert set(texts) == {f"{view}.sql" for view in VIEWS}
    for dialect_folder in (folder, folder.joinpath("sqlite")):
        for path in dialect_folder.iterdir():
            if path.name.endswith(".sql"):
                text = path.read_text(encoding="utf-8")
                assert re.findall(r"CREATE VIEW (\w+) AS", text) == [path.name.removesuffix(".sql")]
                code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
                assert ";" not in code.strip().removesuffix(";"), "one statement per file"
                # op.execute() turns the text into sa.text(): a ':name' would become a bind parameter.
                assert not re.search(r"(?<![:\w]):\w", text), path.name


def test_offline_migration_should_emit_the_postgresql_views(capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config("postgresql://postgres@db/metrics"), "head", sql=True)
    sql = capsys.readouterr().out
    for view in VIEWS:
        assert f"CREATE VIEW {view} AS" in sql
    assert "string_agg(p.metric" in sql


# ---------------------------------------------------------------------------------------------------- views
def test_v_latest_run_given_several_windows_should_return_each_projects_latest_window(db: MetricsDatabase) -> None:
    load_window(db, "churn", NOW - 3 * HOUR, drifted=True)
    load_window(db, "churn", NOW - HOUR)  # loaded before the middle one: latest means latest window, not last write
    load_window(db, "churn", NOW - 2 * HOUR, drifted=True)
    load_window(db, "credit", NOW - 2 * HOUR)
    fail_window(db, "credit", NOW - HOUR)
    rows = query(db, "SELECT * FROM v_latest_run ORDER BY project")
    assert [(row["project"], row["window_start"], row["window_end"]) for row in rows] == [
        ("churn", NOW - HOUR, NOW),
        ("credit", NOW - HOUR, NOW),
    ]
    churn, credit = rows
    assert churn == {
        "project": "churn",
        "window_start": NOW - HOUR,
        "window_end": NOW,
        "status": "success",
        "row_count": 1000,
        "labelled_count": 800,
        "drifted": False,
        "drift_share": 0.0,
        "error": None,
        "report_location": f"file:///reports/churn/{NOW - HOUR:%Y%m%dT%H}.html",
        "notification_status": "skipped",
        "airflow_run_id": None,
        "started_at": NOW,
        "finished_at": NOW + timedelta(seconds=5),
    }
    assert (credit["status"], credit["error"], credit["row_count"]) == ("failed", "StorageError: timeout", 0)


def test_v_feature_drift_trend_should_list_whole_window_rows_against_the_reference(db: MetricsDatabase) -> None:
    load_window(db, "churn", LONG_AGO)
    load_window(db, "churn", LONG_AGO + HOUR, drifted=True)
    load_window(db, "other", LONG_AGO, drifted=True)
    rows = query(
        db,
        "SELECT feature, window_start, method, score, threshold, drifted FROM v_feature_drift_trend "
        "WHERE project = :project ORDER BY feature, window_start",
        project="churn",
    )
    assert [tuple(row.values()) for row in rows] == [
        ("age", LONG_AGO, "wasserstein", 0.02, 0.1, False),
        ("age", LONG_AGO + HOUR, "wasserstein", 0.3, 0.1, True),
        ("income", LONG_AGO, "wasserstein", 0.02, 0.1, False),
        ("income", LONG_AGO + HOUR, "wasserstein", 0.02, 0.1, False),
    ]
    columns = query(db, "SELECT * FROM v_feature_drift_trend WHERE project = :project", project="other")[0].keys()
    assert list(columns) == [
        "project", "feature", "feature_kind", "column_type", "window_start", "window_end", "method", "score",
        "threshold", "drifted",
    ]  # fmt: skip


def test_v_dataset_drift_timeline_should_give_one_verdict_per_window(db: MetricsDatabase) -> None:
    load_window(db, "churn", LONG_AGO)
    load_window(db, "churn", LONG_AGO + HOUR, drifted=True)
    rows = query(
        db, "SELECT * FROM v_dataset_drift_timeline WHERE project = :project ORDER BY window_start", project="churn"
    )
    assert rows == [
        {
            "project": "churn",
            "window_start": LONG_AGO,
            "window_end": LONG_AGO + HOUR,
            "drifted_count": 0,
            "feature_count": 2,
            "drift_share": 0.0,
            "drift_share_threshold": 0.5,
            "drifted": False,
        },
        {
            "project": "churn",
            "window_start": LONG_AGO + HOUR,
            "window_end": LONG_AGO + 2 * HOUR,
            "drifted_count": 1,
            "feature_count": 2,
            "drift_share": 0.5,
            "drift_share_threshold": 0.5,
            "drifted": True,
        },
    ]


def test_v_performance_trend_should_list_measured_metrics_only(db: MetricsDatabase) -> None:
    load_window(db, "churn", LONG_AGO)
    load_window(db, "churn", LONG_AGO + HOUR, breached=True)
    rows = query(
        db, "SELECT * FROM v_performance_trend WHERE project = :project ORDER BY window_start, metric", project="churn"
    )
    assert [(row["window_start"], row["metric"], row["value"], row["breached"]) for row in rows] == [
        (LONG_AGO, "accuracy", 0.9, False),
        (LONG_AGO, "roc_auc", 0.85, False),
        (LONG_AGO + HOUR, "accuracy", 0.6, True),
        (LONG_AGO + HOUR, "roc_auc", 0.85, False),
    ]
    assert rows[2] == {
        "project": "churn",
        "metric": "accuracy",
        "window_start": LONG_AGO + HOUR,
        "window_end": LONG_AGO + 2 * HOUR,
        "value": 0.6,
        "threshold": 0.8,
        "threshold_direction": "min",
        "breached": True,
        "labelled_count": 800,
        "label_coverage": 0.8,
    }


def test_v_data_quality_trend_should_list_whole_window_rows(db: MetricsDatabase) -> None:
    load_window(db, "churn", LONG_AGO, drifted=True)
    rows = query(db, "SELECT * FROM v_data_quality_trend WHERE project = :project", project="churn")
    assert rows == [
        {
            "project": "churn",
            "feature": "age",
            "column_type": "numerical",
            "window_start": LONG_AGO,
            "window_end": LONG_AGO + HOUR,
            "row_count": 1000,
            "missing_share": 0.01,
            "out_of_range_share": 0.2,
            "new_category_share": None,
        }
    ]


def test_v_retraining_history_should_list_claimed_triggers(db: MetricsDatabase) -> None:
    for start in (LONG_AGO, LONG_AGO + HOUR):  # the second lies within the cooldown: not triggered
        assert db.claim_retrain_trigger(
            "churn",
            start,
            start + HOUR,
            cooldown=DAY,
            now=start + 2 * HOUR,
            reason="dataset_drift",
            metrics={"drift_share": 0.5},
            dag_id="retrain__churn",
            dag_run_id=f"drifting__{start:%Y%m%dT%H}",
        ) == (start == LONG_AGO)
    assert query(db, "SELECT * FROM v_retraining_history") == [
        {
            "project": "churn",
            "window_start": LONG_AGO,
            "window_end": LONG_AGO + HOUR,
            "reason": "dataset_drift",
            "dag_id": "retrain__churn",
            "dag_run_id": f"drifting__{LONG_AGO:%Y%m%dT%H}",
            "triggered_at": LONG_AGO + 2 * HOUR,
        }
    ]


def test_v_projects_needing_attention_should_give_each_projects_reasons(db: MetricsDatabase) -> None:
    # healthy: drifted earlier, clean and fresh now -> not listed
    load_window(db, "healthy", NOW - 2 * HOUR, drifted=True, breached=True)
    load_window(db, "healthy", NOW - HOUR)
    # drifted: the latest *successful* window drifted; a later window had no data
    load_window(db, "drifted", NOW - 2 * HOUR, drifted=True)
    load_window(db, "drifted", NOW - HOUR, status="no_data")
    # breached and drifted: breached is the more urgent
    load_window(db, "breached", NOW - HOUR, drifted=True, breached=True)
    # failing: latest run failed after a fresh success
    load_window(db, "failing", NOW - 2 * HOUR)
    fail_window(db, "failing", NOW - HOUR)
    # never succeeded: failing, and stale as there is no successful window at all
    fail_window(db, "broken", NOW - HOUR)
    # stale: nothing since 2020
    load_window(db, "stale", LONG_AGO)
    # daily windows: 2 days since the last success is within 3 window lengths, 4 days is not
    load_window(db, "daily-recent", NOW - 3 * DAY, NOW - 2 * DAY)
    load_window(db, "daily-late", NOW - 5 * DAY, NOW - 4 * DAY)

    rows = {row["project"]: row for row in query(db, "SELECT * FROM v_projects_needing_attention")}
    assert {project: (row["reason"], row["reasons"]) for project, row in rows.items()} == {
        "drifted": ("drifted", "drifted"),
        "breached": ("breached", "breached,drifted"),
        "failing": ("failing", "failing"),
        "broken": ("failing", "failing,stale"),
        "stale": ("stale", "stale"),
        "daily-late": ("stale", "stale"),
    }
    assert rows["drifted"] == {
        "project": "drifted",
        "reason": "drifted",
        "reasons": "drifted",
        "latest_window_start": NOW - HOUR,
        "latest_window_end": NOW,
        "latest_status": "no_data",
        "latest_error": None,
        "last_success_window_start": NOW - 2 * HOUR,
        "last_success_window_end": NOW - HOUR,
        "drifted_count": 1,
        "feature_count": 2,
        "drift_share": 0.5,
        "drift_share_threshold": 0.5,
        "breached_metrics": None,
        "status": None,  # never recorded in monitored_project: run before migration 0005
        "schedule": None,
        "interval_seconds": None,
    }
    assert rows["breached"]["breached_metrics"] == "accuracy"  # the estimated breach is not counted
    assert (rows["failing"]["latest_status"], rows["failing"]["latest_error"]) == ("failed", "StorageError: timeout")
    assert rows["failing"]["last_success_window_end"] == NOW - HOUR
    assert rows["broken"]["last_success_window_start"] is None
    assert rows["stale"]["last_success_window_end"] == LONG_AGO + HOUR


def test_v_projects_needing_attention_given_several_breaches_should_list_them_sorted(db: MetricsDatabase) -> None:
    start = NOW - HOUR
    window: dict[str, Any] = {"project": "churn", "window_start": start, "window_end": NOW}
    metric: dict[str, Any] = dict(labelled_count=800, label_coverage=0.8, threshold_direction="max", breached=True)
    db.replace_window(
        RunRow(**window, status="success", row_count=1, labelled_count=1, started_at=NOW, finished_at=NOW),
        [],
        None,
        [],
        [
            PerformanceRow(**window, metric="log_loss", value=0.9, threshold=0.5, **metric),
            PerformanceRow(**window, metric="brier", value=0.4, threshold=0.2, **metric),
        ],
    )
    (row,) = query(db, "SELECT reasons, breached_metrics, drift_share FROM v_projects_needing_attention")
    assert row == {"reasons": "breached", "breached_metrics": "brier,log_loss", "drift_share": None}


# ---------------------------------------------------------------------------------------------------- monitored_project
def attention(db: MetricsDatabase) -> dict[str, dict[str, Any]]:
    return {row["project"]: row for row in query(db, "SELECT * FROM v_projects_needing_attention")}


def test_record_project_should_upsert_schedule_interval_and_status_keeping_registered_at(db: MetricsDatabase) -> None:
    first, later = NOW - DAY, NOW
    db.record_project("churn", schedule="@hourly", status="active", now=first)
    db.record_project("churn", schedule="0 9 * * 1-5", status="paused", now=later)
    db.record_project("credit", schedule="@daily", status="active", now=later)
    rows = db.monitored_projects()
    assert rows["churn"] == {
        "project": "churn",
        "schedule": "0 9 * * 1-5",
        "interval_seconds": 3 * 24 * 3600,  # Friday 09:00 -> Monday 09:00, the longest interval
        "status": "paused",
        "registered_at": first,
        "updated_at": later,
    }
    assert (rows["credit"]["interval_seconds"], rows["credit"]["registered_at"]) == (24 * 3600, later)


def test_v_projects_needing_attention_given_registered_project_without_runs_should_say_never_ran(
    db: MetricsDatabase,
) -> None:
    db.record_project("fresh", schedule="@hourly", status="active")
    db.record_project("parked", schedule="@hourly", status="paused")  # paused: nothing expected of it

    rows = attention(db)

    assert set(rows) == {"fresh"}
    assert rows["fresh"] == {
        "project": "fresh",
        "reason": "never_ran",
        "reasons": "never_ran",
        "latest_window_start": None,
        "latest_window_end": None,
        "latest_status": None,
        "latest_error": None,
        "last_success_window_start": None,
        "last_success_window_end": None,
        "drifted_count": None,
        "feature_count": None,
        "drift_share": None,
        "drift_share_threshold": None,
        "breached_metrics": None,
        "status": "active",
        "schedule": "@hourly",
        "interval_seconds": 3600,
    }
    load_window(db, "fresh", NOW - HOUR)
    assert attention(db) == {}  # once it ran (fresh, clean) nothing is left to report


def test_v_projects_needing_attention_should_measure_stale_by_two_schedule_intervals(db: MetricsDatabase) -> None:
    # hourly schedule, latest window ended 2.5 h ago: older than 2 intervals (the window-length rule allowed 3)
    db.record_project("hourly-late", schedule="@hourly", status="active")
    load_window(db, "hourly-late", NOW - 3 * HOUR - HOUR / 2)
    # daily schedule, hourly windows run by hand, latest ended 30 h ago: within 2 days
    db.record_project("daily-ok", schedule="@daily", status="active")
    load_window(db, "daily-ok", NOW - 31 * HOUR)
    # weekly schedule, latest window ended 8 days ago: within 2 weeks
    db.record_project("weekly-ok", schedule="@weekly", status="active")
    load_window(db, "weekly-ok", NOW - 15 * DAY, NOW - 8 * DAY)
    # daily schedule, latest window ended 3 days ago: stale
    db.record_project("daily-late", schedule="@daily", status="active")
    load_window(db, "daily-late", NOW - 4 * DAY, NOW - 3 * DAY)

    rows = attention(db)

    assert {project: (row["reason"], row["reasons"]) for project, row in rows.items()} == {
        "hourly-late": ("stale", "stale"),
        "daily-late": ("stale", "stale"),
    }
    assert (rows["daily-late"]["schedule"], rows["daily-late"]["interval_seconds"]) == ("@daily", 86400)
    assert rows["daily-late"]["latest_window_end"] == NOW - 3 * DAY


def test_v_projects_needing_attention_given_paused_project_should_not_report_it_stale(db: MetricsDatabase) -> None:
    db.record_project("paused-old", schedule="@hourly", status="paused")
    load_window(db, "paused-old", LONG_AGO)
    db.record_project("paused-drifted", schedule="@hourly", status="paused")
    load_window(db, "paused-drifted", LONG_AGO, drifted=True)
    db.record_project("paused-failing", schedule="@hourly", status="paused")
    fail_window(db, "paused-failing", LONG_AGO)
    db.record_project("active-old", schedule="@hourly", status="active")
    load_window(db, "active-old", LONG_AGO)

    rows = attention(db)

    assert {project: (row["reason"], row["reasons"], row["status"]) for project, row in rows.items()} == {
        "paused-drifted": ("drifted", "drifted", "paused"),  # its last verdict still stands
        "paused-failing": ("failing", "failing", "paused"),  # and so does its failure
        "active-old": ("stale", "stale", "active"),
    }


def test_v_projects_needing_attention_given_drifted_features_without_dataset_drift_should_say_drifted(
    db: MetricsDatabase,
) -> None:
    db.record_project("some-drift", schedule="@hourly", status="active")
    load_window(db, "some-drift", NOW - HOUR, drifted=True, dataset_drift=False)  # 1 of 2 drifted, share 0.5 < 0.75
    db.record_project("no-drift", schedule="@hourly", status="active")
    load_window(db, "no-drift", NOW - HOUR)

    rows = attention(db)

    assert set(rows) == {"some-drift"}
    row = rows["some-drift"]
    assert (row["reason"], row["reasons"]) == ("drifted", "drifted")
    assert (row["drifted_count"], row["feature_count"], row["drift_share"], row["drift_share_threshold"]) == (
        1,
        2,
        0.5,
        0.75,
    )
    [timeline] = query(db, "SELECT drifted FROM v_dataset_drift_timeline WHERE project = 'some-drift'")
    assert not timeline["drifted"]  # no dataset drift: only the feature count makes it 'drifted'


def test_downgrade_to_0004_should_drop_monitored_project_and_restore_the_0002_view(db: MetricsDatabase) -> None:
    db.record_project("fresh", schedule="@hourly", status="active")
    load_window(db, "stale", LONG_AGO)
    run_alembic(db, "downgrade", "0004")
    with db.engine.connect() as connection:
        assert "monitored_project" not in sa.inspect(connection).get_table_names()
    assert view_names(db) == VIEWS
    rows = attention(db)
    assert {project: row["reasons"] for project, row in rows.items()} == {"stale": "stale"}
    assert "status" not in rows["stale"]  # 0002's columns
    run_alembic(db, "upgrade", "head")
    assert {project: row["reasons"] for project, row in attention(db).items()} == {"stale": "stale"}
    db.check_schema()

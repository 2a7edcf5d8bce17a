"""Tests of the metrics database layer, on SQLite (in tmp_path) and on the real local PostgreSQL server."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from drifting_etl.core.errors import ConfigError, DatabaseError
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.migrate import SCHEMA_REVISION, VERSION_TABLE, alembic_config
from drifting_etl.load.rows import DataQualityRow, DatasetDriftRow, FeatureDriftRow, PerformanceRow, RunRow
from drifting_etl.load.tables import METRIC_TABLES, metadata
from drifting_etl.load.url import DATABASE_ENV, database_url
from drifting_etl.store.artifacts import ArtifactStore

PROJECT = "churn"
START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = START + timedelta(hours=1)
STARTED = datetime(2026, 3, 1, 11, 5, 0, 123456, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=42)
ROW_TYPES = {
    "monitoring_run": RunRow,
    "feature_drift": FeatureDriftRow,
    "dataset_drift": DatasetDriftRow,
    "data_quality": DataQualityRow,
    "performance_metric": PerformanceRow,
}


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/not/yet/created/metrics.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def fresh(url: str) -> Iterator[MetricsDatabase]:
    """A database nobody has migrated."""
    database = MetricsDatabase(url)
    yield database
    database.dispose()


@pytest.fixture
def db(fresh: MetricsDatabase) -> MetricsDatabase:
    fresh.migrate()
    return fresh


# ---------------------------------------------------------------------------------------------------- row builders
def run_row(start: datetime = START, end: datetime = END, **changes: Any) -> RunRow:
    values: dict[str, Any] = dict(
        project=PROJECT,
        window_start=start,
        window_end=end,
        status="success",
        row_count=1000,
        labelled_count=800,
        started_at=STARTED,
        finished_at=FINISHED,
        drifted=True,
        drift_share=0.5,
        reference_version="2026-02-01T00:00:00Z",
        report_location="/store/reports/churn/2026-03-01T10.html",
        airflow_run_id="scheduled__2026-03-01T10:00:00+00:00",
    )
    return RunRow(**{**values, **changes})


def drift_row(feature: str, start: datetime = START, end: datetime = END, **changes: Any) -> FeatureDriftRow:
    values: dict[str, Any] = dict(
        project=PROJECT,
        window_start=start,
        window_end=end,
        feature=feature,
        feature_kind="feature",
        column_type="numerical",
        method="wasserstein",
        score=0.25,
        statistic=None,
        threshold=0.1,
        drifted=True,
        reference_rows=5000,
        current_rows=1000,
    )
    return FeatureDriftRow(**{**values, **changes})


def dataset_row(start: datetime = START, end: datetime = END, **changes: Any) -> DatasetDriftRow:
    values: dict[str, Any] = dict(
        project=PROJECT,
        window_start=start,
        window_end=end,
        drifted_count=1,
        feature_count=2,
        drift_share=0.5,
        drift_share_threshold=0.5,
        drifted=True,
    )
    return DatasetDriftRow(**{**values, **changes})


def quality_row(feature: str, start: datetime = START, end: datetime = END, **changes: Any) -> DataQualityRow:
    values: dict[str, Any] = dict(
        project=PROJECT,
        window_start=start,
        window_end=end,
        feature=feature,
        column_type="categorical",
        row_count=1000,
        missing_count=12,
        missing_share=0.012,
        out_of_range_share=None,
        new_category_share=0.03,
    )
    return DataQualityRow(**{**values, **changes})


def perf_row(metric: str, value: float | None, start: datetime = START, end: datetime = END, **changes: Any):
    values: dict[str, Any] = dict(
        project=PROJECT,
        window_start=start,
        window_end=end,
        metric=metric,
        value=value,
        labelled_count=800,
        label_coverage=0.8,
        threshold=0.7,
        threshold_direction="min",
        breached=False,
    )
    return PerformanceRow(**{**values, **changes})


def write_window(
    db: MetricsDatabase, start: datetime = START, end: datetime = END, *, features: tuple[str, ...] = ("age", "plan")
) -> None:
    db.replace_window(
        run_row(start, end),
        [drift_row(feature, start, end) for feature in features],
        dataset_row(start, end),
        [quality_row(feature, start, end) for feature in features],
        [perf_row("roc_auc", 0.81, start, end), perf_row("accuracy", 0.9, start, end)],
    )


def contents(db: MetricsDatabase, project: str = PROJECT) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows without the columns a rewrite is allowed to change."""
    return {
        table: [{k: v for k, v in row.items() if k not in ("id", "computed_at")} for row in db.rows(table, project)]
        for table in METRIC_TABLES
    }


def sqlite_file(database: MetricsDatabase) -> Path | None:
    url = sa.make_url(database.display_url)
    return Path(url.database or "") if url.get_backend_name() == "sqlite" else None


def table_names(db: MetricsDatabase) -> set[str]:
    with db.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


# ---------------------------------------------------------------------------------------------------- database_url
def test_database_url_given_override_should_win_over_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(DATABASE_ENV, "postgresql://postgres@db/from_env")
    store = ArtifactStore(str(tmp_path))
    assert database_url(store, "sqlite:///override.db") == "sqlite:///override.db"


def test_database_url_given_environment_should_use_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(DATABASE_ENV, "postgresql://postgres@db/from_env")
    assert database_url(ArtifactStore(str(tmp_path))) == "postgresql://postgres@db/from_env"


def test_database_url_given_local_store_should_default_to_sqlite_in_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    assert database_url(ArtifactStore(str(tmp_path))) == f"sqlite:///{tmp_path}/metrics.db"


def test_database_url_given_remote_store_and_no_url_should_raise_config_error(monkeypatch) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    with pytest.raises(ConfigError, match="set DRIFTING_DATABASE_URL or pass --database-url"):
        database_url(ArtifactStore("memory://bucket/store"))


# ---------------------------------------------------------------------------------------------------- construction
def test_metrics_database_given_unreachable_url_should_do_no_io_until_used() -> None:
    database = MetricsDatabase("postgresql://postgres@127.0.0.1:1/nowhere")
    assert database.display_url == "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"
    database.dispose()


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db"])
def test_metrics_database_given_url_without_driver_should_use_psycopg2(url: str) -> None:
    assert MetricsDatabase(url).engine.dialect.driver == "psycopg2"


def test_metrics_database_given_invalid_or_unsupported_url_should_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL") as invalid:
        MetricsDatabase("no url: hunter2")
    assert "hunter2" not in str(invalid.value)
    with pytest.raises(ConfigError, match="unsupported metrics database 'mysql'") as unsupported:
        MetricsDatabase("mysql://user:hunter2@host/db")
    assert "hunter2" not in str(unsupported.value)


def test_database_error_given_password_in_url_should_not_show_it(tmp_path: Path) -> None:
    database = MetricsDatabase("postgresql+psycopg2://postgres:hunter2-secret@127.0.0.1:1/metrics")
    assert "hunter2-secret" not in repr(database)
    for operation in (database.migrate, database.check_schema, lambda: database.runs(PROJECT)):
        with pytest.raises(DatabaseError) as caught:
            operation()
        assert "hunter2-secret" not in str(caught.value)
        assert "postgresql+psycopg2://postgres:***@127.0.0.1:1/metrics" in str(caught.value)
        assert caught.value.transient
    database.dispose()


# ---------------------------------------------------------------------------------------------------- migrations
def test_migrate_given_twice_should_be_idempotent(fresh: MetricsDatabase) -> None:
    fresh.migrate()
    fresh.migrate()
    fresh.check_schema()
    with fresh.engine.connect() as connection:
        versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    assert versions == [SCHEMA_REVISION]


def test_migrate_given_fresh_database_should_create_tables_and_columns(db: MetricsDatabase) -> None:
    with db.engine.connect() as connection:
        inspector = sa.inspect(connection)
        tables = set(inspector.get_table_names())
        columns = {table: {column["name"] for column in inspector.get_columns(table)} for table in tables}
        indexes = {table: {index["name"] for index in inspector.get_indexes(table)} for table in tables}
    assert tables == {
        *METRIC_TABLES, "retrain_trigger", "notification", "alert_delivery", "monitored_project", VERSION_TABLE
    }  # fmt: skip
    for table, row_type in ROW_TYPES.items():
        expected = {"id", *(field.name for field in dataclasses.fields(row_type))}
        if table != "monitoring_run":
            expected.add("computed_at")
            assert f"ix_{table}_project_window_start" in indexes[table]
        assert columns[table] == expected
    assert columns["retrain_trigger"] == {
        "id", "project", "window_start", "window_end", "reason", "metrics", "dag_id", "dag_run_id", "triggered_at"
    }  # fmt: skip
    assert columns["monitored_project"] == {
        "project", "schedule", "interval_seconds", "status", "registered_at", "updated_at"
    }  # fmt: skip
    assert columns["notification"] == {
        "id", "project", "window_start", "window_end", "sent_at", "recipients", "subject", "verdict", "forced",
        "airflow_run_id",
    }  # fmt: skip
    assert "ix_notification_project_window_start" in indexes["notification"]
    assert columns["alert_delivery"] == {
        "id", "project", "window_start", "window_end", "channel", "event", "status", "attempts", "http_status",
        "error", "reason", "forced", "airflow_run_id", "recorded_at",
    }  # fmt: skip
    assert "ix_alert_delivery_project_window_start" in indexes["alert_delivery"]


def test_migrate_should_use_own_version_table_and_leave_airflows_alone(fresh: MetricsDatabase) -> None:
    path = sqlite_file(fresh)
    if path is not None:
        path.parent.mkdir(parents=True)
    with fresh.engine.begin() as connection:  # what Airflow's `airflow db migrate` leaves behind
        connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('29ce7909c52b')"))
    fresh.migrate()
    with fresh.engine.connect() as connection:
        airflow = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        ours = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    assert airflow == ["29ce7909c52b"]
    assert ours == [SCHEMA_REVISION]


def test_migrate_given_fresh_database_should_not_create_alembic_version(db: MetricsDatabase) -> None:
    assert "alembic_version" not in table_names(db)
    assert VERSION_TABLE in table_names(db)


def test_migrations_given_head_should_match_table_definitions(db: MetricsDatabase) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []


def test_migrations_given_head_should_hold_the_check_constraints_the_closed_sets_derive(tmp_path: Path) -> None:
    # compare_metadata ignores CHECK constraints; SQLite keeps their text verbatim, so compare it here.
    database = MetricsDatabase(f"sqlite:///{tmp_path / 'metrics.db'}")
    database.migrate()
    inspector = sa.inspect(database.engine)
    migrated = {
        (table, check["name"]): check["sqltext"]
        for table in metadata.tables
        for check in inspector.get_check_constraints(table)
    }
    defined = {
        (table.name, constraint.name): str(constraint.sqltext)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, sa.CheckConstraint)
    }
    database.dispose()
    assert len(defined) == 8
    assert migrated == defined


def test_migrations_given_downgrade_to_base_should_drop_every_table(db: MetricsDatabase) -> None:
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert table_names(db) <= {VERSION_TABLE}
    db.migrate()
    db.check_schema()


def test_alembic_config_given_url_should_upgrade_and_find_no_pending_changes(url: str) -> None:
    path = sqlite_file(MetricsDatabase(url))
    if path is not None:
        path.parent.mkdir(parents=True)
    command.upgrade(alembic_config(url), "head")
    command.check(alembic_config(url))  # autogenerate finds nothing: migrations and metadata agree
    database = MetricsDatabase(url)
    database.check_schema()
    database.dispose()


def test_migrations_given_offline_mode_should_emit_postgresql_sql(capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config("postgresql://postgres:hunter2@db/metrics"), "head", sql=True)
    sql = capsys.readouterr().out
    assert "CREATE TABLE drifting_alembic_version" in sql
    assert "window_start TIMESTAMP WITH TIME ZONE NOT NULL" in sql
    assert "CONSTRAINT uq_feature_drift_key UNIQUE" in sql
    assert "hunter2" not in sql


def test_check_schema_given_unmigrated_database_should_raise_with_init_hint(fresh: MetricsDatabase) -> None:
    with pytest.raises(DatabaseError, match="drifting-etl init") as caught:
        fresh.check_schema()
    assert not caught.value.transient
    path = sqlite_file(fresh)
    assert path is None or not path.exists(), "a check must not create the SQLite file"


def test_check_schema_given_empty_existing_database_should_raise_not_up_to_date(fresh: MetricsDatabase) -> None:
    path = sqlite_file(fresh)
    if path is not None:
        path.parent.mkdir(parents=True)
        path.touch()
    with pytest.raises(DatabaseError, match=rf"not up to date \(at no revision, expected {SCHEMA_REVISION}\)"):
        fresh.check_schema()


def test_check_schema_given_newer_revision_should_say_upgrade_drifting_etl(db: MetricsDatabase) -> None:
    with db.engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(DatabaseError, match="upgrade drifting-etl"):
        db.check_schema()


def test_readers_given_unmigrated_database_should_hint_init(fresh: MetricsDatabase) -> None:
    path = sqlite_file(fresh)
    if path is not None:
        path.parent.mkdir(parents=True)
    with pytest.raises(DatabaseError, match="drifting-etl init") as caught:
        fresh.runs(PROJECT)
    assert caught.value.context["project"] == PROJECT


# ---------------------------------------------------------------------------------------------------- replace_window
def test_replace_window_given_rerun_should_leave_same_rows(db: MetricsDatabase) -> None:
    write_window(db)
    first = contents(db)
    write_window(db)
    assert contents(db) == first
    assert [len(first[table]) for table in METRIC_TABLES] == [1, 2, 1, 2, 2]


def test_replace_window_given_different_rows_should_replace_them(db: MetricsDatabase) -> None:
    write_window(db, features=("age", "plan", "region"))
    db.replace_window(
        run_row(status="no_data", row_count=0, labelled_count=0, drifted=None, drift_share=None),
        [],
        None,
        [quality_row("age", missing_count=0, missing_share=0.0)],
        [],
    )
    rows = contents(db)
    assert [run["status"] for run in rows["monitoring_run"]] == ["no_data"]
    assert rows["feature_drift"] == rows["dataset_drift"] == rows["performance_metric"] == []
    assert [(row["feature"], row["missing_count"]) for row in rows["data_quality"]] == [("age", 0)]


def test_replace_window_given_other_windows_should_leave_them_alone(db: MetricsDatabase) -> None:
    write_window(db, START, END)
    write_window(db, END, END + timedelta(hours=1))
    db.replace_window(run_row(), [drift_row("age")], None, [], [])
    by_window = {(row["window_start"], row["feature"]) for row in db.rows("feature_drift", PROJECT)}
    assert by_window == {(START, "age"), (END, "age"), (END, "plan")}
    assert len(db.rows("data_quality", PROJECT, END, END + timedelta(hours=1))) == 2


def test_replace_window_given_failing_insert_should_keep_previous_rows(db: MetricsDatabase) -> None:
    write_window(db)
    before = contents(db)
    with pytest.raises(DatabaseError, match="could not replace the window's metrics") as caught:
        db.replace_window(
            run_row(row_count=5),
            [drift_row("age", score=0.9), drift_row("age", score=0.8)],  # violates uq_feature_drift_key
            dataset_row(drifted=False),
            [],
            [],
        )
    assert contents(db) == before
    assert caught.value.context["project"] == PROJECT
    assert caught.value.context["window"] == f"{START.isoformat()}/{END.isoformat()}"
    assert not caught.value.transient


def test_replace_window_given_row_of_another_window_should_raise_before_writing(db: MetricsDatabase) -> None:
    write_window(db)
    before = contents(db)
    with pytest.raises(ValueError, match="passed with the run of churn"):
        db.replace_window(run_row(), [drift_row("age", END, END + timedelta(hours=1))], None, [], [])
    assert contents(db) == before


def test_replace_window_should_round_trip_every_field(db: MetricsDatabase) -> None:
    rows: dict[str, list[Any]] = {
        "monitoring_run": [run_row(error="partial labels", reference_version=None)],
        "feature_drift": [
            drift_row("age", statistic=3.5, approximate=True, drifted=False),
            drift_row("prediction", feature_kind="prediction", column_type="categorical", method="jensenshannon"),
        ],
        "dataset_drift": [dataset_row()],
        "data_quality": [quality_row("plan", out_of_range_share=0.25, column_type="numerical")],
        "performance_metric": [
            perf_row("accuracy", 0.9),
            perf_row("f1", None, threshold=None, threshold_direction=None),
            perf_row("rmse", 1.5, estimated=True, threshold_direction="max", breached=True),
        ],
    }
    db.replace_window(
        rows["monitoring_run"][0],
        rows["feature_drift"],
        rows["dataset_drift"][0],
        rows["data_quality"],
        rows["performance_metric"],
    )
    for table, written in rows.items():
        stored = db.rows(table, PROJECT, START, END)
        expected = sorted((dataclasses.asdict(row) for row in written), key=repr)
        actual = sorted(({k: v for k, v in row.items() if k not in ("id", "computed_at")} for row in stored), key=repr)
        assert actual == expected, table
        for row in stored:
            for name, value in row.items():
                if isinstance(value, datetime):
                    assert value.utcoffset() == timedelta(0), (table, name)
            booleans = [value for name, value in row.items() if name in ("drifted", "approximate", "breached")]
            assert all(isinstance(value, bool) or value is None for value in booleans)
    computed_at = db.rows("feature_drift", PROJECT)[0]["computed_at"]
    assert computed_at.tzinfo is not None and abs(datetime.now(UTC) - computed_at) < timedelta(minutes=5)


def test_timestamps_given_other_timezone_should_round_trip_as_utc(db: MetricsDatabase) -> None:
    plus_two = timezone(timedelta(hours=2))
    local_start = START.astimezone(plus_two)
    db.replace_window(run_row(local_start, END.astimezone(plus_two)), [], None, [], [])
    (run,) = db.runs(PROJECT)
    assert run["window_start"] == START
    assert run["window_start"].tzinfo == UTC
    assert run["started_at"] == STARTED  # microseconds survive
    assert db.rows("monitoring_run", PROJECT, local_start, END)[0]["id"] == run["id"]


def test_rows_given_naive_datetime_should_raise_value_error() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        run_row(START.replace(tzinfo=None))


def test_rows_given_numpy_scalars_should_store_python_values(db: MetricsDatabase) -> None:
    row = drift_row("age", score=np.float64(0.5), drifted=np.bool_(True), current_rows=np.int64(7))
    assert type(row.drifted) is bool and type(row.current_rows) is int
    db.replace_window(run_row(row_count=np.int64(7)), [row], None, [], [perf_row("mae", float("nan"))])
    assert db.rows("feature_drift", PROJECT)[0]["current_rows"] == 7
    assert db.rows("performance_metric", PROJECT)[0]["value"] is None


def test_rows_given_invalid_literal_should_raise_value_error() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        run_row(status="done")


def test_rows_given_unknown_table_should_raise_config_error(db: MetricsDatabase) -> None:
    with pytest.raises(ConfigError, match="unknown metrics table 'retrain_trigger'"):
        db.rows("retrain_trigger", PROJECT)


# ---------------------------------------------------------------------------------------------------- record_failure
def test_record_failure_given_earlier_success_should_keep_metric_rows(db: MetricsDatabase) -> None:
    write_window(db)
    before = contents(db)
    retry_start = STARTED + timedelta(days=1)
    db.record_failure(PROJECT, START, END, retry_start, retry_start + timedelta(seconds=3), "StorageError: timeout")
    after = contents(db)
    (run,) = after.pop("monitoring_run")
    expected_run = before.pop("monitoring_run")[0]
    assert after == before
    assert run == {
        **expected_run,
        "status": "failed",
        "error": "StorageError: timeout",
        "started_at": retry_start,
        "finished_at": retry_start + timedelta(seconds=3),
        "airflow_run_id": None,
    }


def test_record_failure_given_no_earlier_run_should_insert_failed_run(db: MetricsDatabase) -> None:
    db.record_failure(PROJECT, START, END, STARTED, FINISHED, "DataError: bad column", airflow_run_id="manual__1")
    db.record_failure(PROJECT, START, END, STARTED, FINISHED, "DataError: bad column", airflow_run_id="manual__2")
    (run,) = db.runs(PROJECT)
    assert (run["status"], run["error"], run["row_count"], run["airflow_run_id"]) == (
        "failed",
        "DataError: bad column",
        0,
        "manual__2",
    )
    write_window(db)
    assert [run["status"] for run in db.runs(PROJECT)] == ["success"]


# ---------------------------------------------------------------------------------------------------- readers
def test_runs_should_be_ordered_by_window_and_scoped_to_project(db: MetricsDatabase) -> None:
    later = END + timedelta(hours=1)
    write_window(db, END, later)
    write_window(db, START, END)
    db.replace_window(run_row(project="other"), [], None, [], [])
    assert [run["window_start"] for run in db.runs(PROJECT)] == [START, END]
    assert [run["project"] for run in db.runs("other")] == ["other"]
    assert db.runs("nobody") == []


def test_previous_performance_given_history_should_return_latest_successful_window(db: MetricsDatabase) -> None:
    hour = timedelta(hours=1)
    w1, w2, w3, w4 = (START + i * hour for i in range(4))
    db.replace_window(run_row(w1, w1 + hour), [], None, [], [perf_row("roc_auc", 0.7, w1, w1 + hour)])
    db.replace_window(
        run_row(w2, w2 + hour),
        [],
        None,
        [],
        [
            perf_row("roc_auc", 0.8, w2, w2 + hour),
            perf_row("accuracy", 0.9, w2, w2 + hour),
            perf_row("f1", None, w2, w2 + hour),
            perf_row("roc_auc", 0.5, w2, w2 + hour, estimated=True),
            perf_row("roc_auc", 0.1, w2, w2 + hour, slice_key="region", slice_value="eu"),
        ],
    )
    # w3 had metrics, then a failed re-run: not successful. w4 succeeded without labels.
    db.replace_window(run_row(w3, w3 + hour), [], None, [], [perf_row("roc_auc", 0.6, w3, w3 + hour)])
    db.record_failure(PROJECT, w3, w3 + hour, STARTED, FINISHED, "boom")
    db.replace_window(run_row(w4, w4 + hour), [], None, [], [perf_row("roc_auc", None, w4, w4 + hour)])

    assert db.previous_performance(PROJECT, w4 + hour) == {"accuracy": 0.9, "roc_auc": 0.8}
    assert db.previous_performance(PROJECT, w2 + hour) == {"accuracy": 0.9, "roc_auc": 0.8}
    assert db.previous_performance(PROJECT, w2 + hour - timedelta(seconds=1)) == {"roc_auc": 0.7}
    assert db.previous_performance(PROJECT, w1) == {}
    assert db.previous_performance("other", w4 + hour) == {}


def test_readers_given_naive_datetime_should_raise_value_error(db: MetricsDatabase) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        db.rows("feature_drift", PROJECT, START.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        db.previous_performance(PROJECT, END.replace(tzinfo=None))


def test_schema_revision_given_packaged_migrations_should_be_alembic_head() -> None:
    from alembic.script import ScriptDirectory

    from drifting_etl.load.migrate import SCHEMA_REVISION, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [SCHEMA_REVISION]


def test_replace_window_given_concurrent_loads_of_one_window_should_leave_one_clean_successful_run(
    db: MetricsDatabase, url: str
) -> None:
    """Issue 15, defect 3: two loads of one window both deleted, then inserted; on PostgreSQL the second hit the
    unique key and its failure record overwrote the winner's `success`. Loads of one window are now serialised."""
    write_window(db)
    expected = contents(db)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def load() -> None:
        database = MetricsDatabase(url)
        try:
            start.wait()
            for _ in range(12):
                write_window(database)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            database.dispose()

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert contents(db) == expected and [run["status"] for run in db.rows("monitoring_run", PROJECT)] == ["success"]

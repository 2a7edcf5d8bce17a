"""`drifting-etl project delete NAME [--yes] [--purge]` (issue 13), on a real store and SQLite database holding two
projects built by the real pipeline: what goes, what stays, and that the other project is untouched."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_first_week import CONFIG, DAY, NewProject

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.queries import project_tables
from drifting_etl.load.tables import metadata
from drifting_etl.store.artifacts import ArtifactStore

OTHER = "other-model"


class TwoProjects(NewProject):
    """`new-model` and `other-model` in one store and database, each with two daily windows run (with reports), a
    label partition and a retraining trigger."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        self._chosen_database = database_url
        super().__init__(tmp_path, "classification")
        config = tmp_path / f"{OTHER}.yaml"
        config.write_text(CONFIG.format(task="classification").replace("name: new-model", f"name: {OTHER}"))
        registered = self.cli("project", "register", str(config), "--reference", str(tmp_path / "reference.parquet"))
        assert registered.exit_code == 0, registered.output
        database = MetricsDatabase(self.database_url)
        for name in ("new-model", OTHER):
            for offset in range(2):
                frame = self.rows(self.rng, 100)
                frame.insert(0, "timestamp", [DAY + timedelta(days=offset, minutes=m) for m in range(100)])
                frame.insert(0, "request_id", [f"{name}-{offset}-{i}" for i in range(100)])
                with LogWriter(name, self.store, max_rows=10**6) as writer:
                    writer.log_frame(frame)
            with LabelWriter(name, self.store) as labels:
                labels.label_many({f"{name}-0-{i}": 1 for i in range(10)}, labelled_at=DAY + timedelta(hours=12))
            backfill = self.cli("backfill", name, "--start", "2026-03-02", "--end", "2026-03-04")
            assert backfill.exit_code == 0, backfill.output
            assert database.claim_retrain_trigger(
                name,
                DAY,
                DAY + timedelta(days=1),
                cooldown=timedelta(days=1),
                now=DAY + timedelta(days=2),
                reason="test",
                metrics={"accuracy": 0.5},
                dag_id=f"retrain__{name}",
                dag_run_id="manual",
            )

    @property  # type: ignore[override]
    def database_url(self) -> str:
        return self._database_url

    @database_url.setter
    def database_url(self, default: str) -> None:  # NewProject sets its SQLite file: keep the chosen database
        self._database_url = self._chosen_database or default

    def data_dirs(self, name: str) -> list[Path]:
        root = self.tmp_path / "store"
        return [root / part / f"project={name}" for part in ("logs", "labels", "profiles", "reports")]

    def row_counts(self, name: str) -> dict[str, int]:
        engine = sa.create_engine(self.database_url)
        with engine.connect() as connection:
            counts = {
                table.name: connection.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.project == name)
                ).scalar_one()
                for table in metadata.sorted_tables
                if "project" in table.c
            }
        engine.dispose()
        return counts

    def files(self, name: str) -> dict[str, bytes]:
        root = self.tmp_path / "store"
        paths = [p for d in (*self.data_dirs(name), root / "projects" / name) for p in d.rglob("*") if p.is_file()]
        return {str(p): p.read_bytes() for p in paths}


@pytest.fixture
def projects(tmp_path: Path) -> TwoProjects:
    return TwoProjects(tmp_path)


def test_delete_purge_should_remove_files_and_rows_and_leave_the_other_project_alone(projects: TwoProjects) -> None:
    other_files, other_rows = projects.files(OTHER), projects.row_counts(OTHER)
    before = projects.row_counts("new-model")
    assert all(path.is_dir() and any(path.rglob("*.*")) for path in projects.data_dirs("new-model"))
    assert before["monitoring_run"] == 2 and before["retrain_trigger"] == 1 and before["feature_drift"] > 0

    result = projects.cli("project", "delete", "new-model", "--yes", "--purge")

    assert result.exit_code == 0, result.output
    root = projects.tmp_path / "store"
    assert not (root / "projects" / "new-model").exists()
    for path in projects.data_dirs("new-model"):
        assert not path.exists(), path
    assert "new-model" not in json.loads((root / "store.json").read_text())["projects"]
    assert set(projects.row_counts("new-model").values()) == {0}
    assert f"removed {sum(before.values())} rows" in result.stdout
    assert projects.files(OTHER) == other_files and projects.row_counts(OTHER) == other_rows
    listed = json.loads(projects.cli("project", "list", "--json").stdout)
    assert [entry["name"] for entry in listed] == [OTHER]


def test_delete_purge_on_postgresql_should_remove_only_that_project_s_rows(tmp_path: Path, postgres_url: str) -> None:
    projects = TwoProjects(tmp_path, postgres_url)
    other = projects.row_counts(OTHER)
    assert projects.row_counts("new-model")["monitoring_run"] == 2

    result = projects.cli("project", "delete", "new-model", "--yes", "--purge")

    assert result.exit_code == 0, result.output
    assert set(projects.row_counts("new-model").values()) == {0}
    assert projects.row_counts(OTHER) == other and other["monitoring_run"] == 2


def test_purge_should_cover_every_table_with_a_project_column() -> None:
    expected = {table.name for table in metadata.tables.values() if "project" in table.c}
    assert {table.name for table in project_tables()} == expected
    assert {"monitoring_run", "feature_drift", "retrain_trigger"} <= expected


def test_delete_without_purge_should_say_what_was_kept_and_purge_later(projects: TwoProjects) -> None:
    rows = projects.row_counts("new-model")

    result = projects.cli("project", "delete", "new-model", "--yes")

    assert result.exit_code == 0, result.output
    root = projects.tmp_path / "store"
    definition = root / "projects" / "new-model"
    assert not (definition / "configuration.yaml").exists() and not (definition / "reference.parquet").exists()
    assert not definition.exists()  # nothing else was in it
    assert "new-model" not in json.loads((root / "store.json").read_text())["projects"]
    assert all(path.is_dir() for path in projects.data_dirs("new-model"))
    assert projects.row_counts("new-model") == rows
    output = " ".join(result.stdout.split())
    for path in projects.data_dirs("new-model"):
        assert f"kept {path}" in output
    assert f"kept its rows in the metrics database {projects.database_url}" in output
    assert "drifting-etl project delete new-model --purge" in output
    shown = projects.cli("runs", "new-model", "--json")
    assert shown.exit_code == 0 and len(json.loads(shown.stdout)) == 2  # the metrics are still there

    purged = projects.cli("project", "delete", "new-model", "--yes", "--purge")

    assert purged.exit_code == 0, purged.output
    assert not any(path.exists() for path in projects.data_dirs("new-model"))
    assert set(projects.row_counts("new-model").values()) == {0}
    assert projects.row_counts(OTHER)["monitoring_run"] == 2


def test_delete_without_a_terminal_and_without_yes_should_say_to_pass_yes(projects: TwoProjects) -> None:
    files = projects.files("new-model")
    arguments = ["--storage", str(projects.tmp_path / "store"), "--database-url", projects.database_url]

    result = projects.runner.invoke(main, [*arguments, "project", "delete", "new-model", "--purge"])

    assert result.exit_code == 1
    assert "pass --yes" in result.stderr and "project=new-model" in result.stderr
    assert result.stdout == ""
    assert projects.files("new-model") == files and projects.row_counts("new-model")["monitoring_run"] == 2


@pytest.mark.parametrize(("answer", "deleted"), [("n\n", False), ("y\n", True)])
def test_delete_should_ask_and_do_what_the_answer_says(projects: TwoProjects, answer: str, deleted: bool) -> None:
    arguments = ["--storage", str(projects.tmp_path / "store"), "--database-url", projects.database_url]

    result = projects.runner.invoke(main, [*arguments, "project", "delete", "new-model"], input=answer)

    assert "Delete project new-model" in result.stderr
    assert result.exit_code == (0 if deleted else 1), result.output
    registered = json.loads((projects.tmp_path / "store" / "store.json").read_text())["projects"]
    assert ("new-model" in registered) is not deleted
    if not deleted:
        assert "project new-model not deleted" in result.stderr


def test_delete_given_an_unknown_name_should_suggest_the_closest(projects: TwoProjects) -> None:
    result = projects.runner.invoke(
        main,
        ["project", "delete", "new-modle", "--yes", "--storage", str(projects.tmp_path / "store")],
    )

    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "unknown project 'new-modle' — did you mean 'new-model'?" in message
    assert "registered projects: new-model, other-model" in message


@pytest.mark.parametrize("name", ["../projects", "..", "new-model/../other-model", "/etc"])
def test_delete_given_a_name_that_is_not_a_slug_should_delete_nothing(projects: TwoProjects, name: str) -> None:
    files = {**projects.files("new-model"), **projects.files(OTHER)}

    result = projects.runner.invoke(
        main, ["project", "delete", name, "--yes", "--purge", "--storage", str(projects.tmp_path / "store")]
    )

    assert result.exit_code == 1
    assert "invalid project name" in result.stderr
    assert {**projects.files("new-model"), **projects.files(OTHER)} == files


def test_store_remove_should_refuse_paths_outside_its_root(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    outside = tmp_path / "keep.txt"
    outside.write_text("keep")
    for path in (str(outside), store.root, f"{store.root}/../keep.txt", f"{store.root}x/file"):
        with pytest.raises(ValueError, match="refusing to delete"):
            store.remove(path)
    assert outside.read_text() == "keep"
    assert store.remove(store.path("projects", "nothing-here")) is False

"""The monitoring DAGs under a real Airflow 3 (dag.test, SQLite metadata) with a real PostgreSQL metrics database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from airflow_support import DAGS, START, Airflow, Inbox, register_project, stable_rows

from drifting_etl.core.window import Window
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.tables import METRIC_TABLES
from drifting_etl.pipeline.run import run_window
from drifting_etl.store.artifacts import ArtifactStore


@pytest.mark.slow
def test_monitoring_dag_given_three_windows_should_load_them_idempotently_and_trigger_retraining_once(
    airflow: Airflow, tmp_path: Path, postgres_url: str, mail_sink: tuple[Inbox, int]
) -> None:
    storage = str(tmp_path / "store")
    register_project(tmp_path, storage, "fleet")
    inbox, port = mail_sink
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com"},
    }
    # small partition groups, so that each window fans out over several mapped tasks
    env = {
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(connection),
        "DRIFTING_STORAGE_URL": storage,
        "DRIFTING_DATABASE_URL": postgres_url,
        "DRIFTING_PARTITION_GROUP_BYTES": "100000",
    }
    MetricsDatabase(postgres_url).migrate()
    # dag.test's logical date is the end of the interval it runs
    days = [(START + timedelta(days=d + 1)).isoformat() for d in range(3)]
    result = airflow.run([("drift_monitor__fleet", day, None) for day in days], **env)

    assert result["import_errors"] == {}
    assert "drift_monitor__fleet" in result["dag_ids"]
    assert [run["state"] for run in result["runs"]] == ["success"] * 3, result["output"]
    windows = [Window(START + timedelta(days=d), START + timedelta(days=d + 1)) for d in range(3)]
    assert [(r["data_interval_start"], r["data_interval_end"]) for r in result["runs"]] == [
        (w.start.isoformat(), w.end.isoformat()) for w in windows
    ]

    database = MetricsDatabase(postgres_url)
    runs = database.runs("fleet")
    assert [(r["window_start"], r["status"], r["row_count"]) for r in runs] == [
        (w.start, "success", 960) for w in windows
    ]
    assert [r["airflow_run_id"] for r in runs] == [r["run_id"] for r in result["runs"]]

    # every window has its stored report; the team got one e-mail per drifted window, linking to it
    for run in runs:
        assert run["report_location"] == ArtifactStore(storage).report_path(
            "fleet", run["window_start"], run["window_end"]
        )
        assert "Built from the window's merged profile" in Path(run["report_location"]).read_text()  # the default
    assert [r["notification_status"] for r in runs] == ["skipped", "sent", "sent"]
    assert [r["publish_status"] for r in runs] == ["done", "done", "done"]  # nothing owed once notify ran
    assert len(inbox.messages) == 2
    for message, run in zip(inbox.messages, runs[1:], strict=True):
        assert message["To"] == "fleet-team@example.com" and "fleet" in message["Subject"]
        body = message.get_body(preferencelist=("html",)).get_content()
        assert Path(run["report_location"]).as_uri() in body
        assert "retrain" in body.lower()

    # the mapped, distributed path gives exactly what the in-process CLI path gives
    reference_db = MetricsDatabase(f"sqlite:///{tmp_path / 'reference.db'}")
    reference_db.migrate()
    for window in windows:
        run_window(ArtifactStore(storage), reference_db, "fleet", window)
    for table in METRIC_TABLES:
        assert stable_rows(database.rows(table, "fleet")) == stable_rows(reference_db.rows(table, "fleet")), table
    assert [r["drifted"] for r in database.rows("dataset_drift", "fleet")] == [False, True, True]

    # two drifted windows within the cooldown: exactly one retraining, for the first one
    [trigger] = database.retrain_triggers("fleet")
    assert (trigger["window_start"], trigger["reason"]) == (windows[1].start, "dataset_drift")
    assert trigger["dag_id"] == "retrain__fleet" and trigger["dag_run_id"] == "drift__fleet__20260402T000000"
    metadata = sa.create_engine(airflow.metadata_url)
    with metadata.connect() as connection:
        triggered = connection.execute(
            sa.text("SELECT run_id, run_type, conf FROM dag_run WHERE dag_id = 'retrain__fleet'")
        ).all()
        mapped = connection.execute(
            sa.text(
                "SELECT count(DISTINCT map_index) FROM task_instance WHERE dag_id = 'drift_monitor__fleet' "
                "AND task_id = 'profile_partitions' AND run_id = :run"
            ),
            {"run": result["runs"][1]["run_id"]},
        ).scalar_one()
        events = connection.execute(
            sa.text(
                "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = 'drifting://fleet/metrics'"
            )
        ).scalar_one()
    assert mapped > 1
    # the report is drawn from the cached profiles now: no longer the slowest task of a run (it sampled every row
    # and ran Evidently: 30-50 s on 2 cores)
    with metadata.connect() as connection:
        durations = connection.execute(
            sa.text(
                "SELECT task_id, max(duration) FROM task_instance WHERE dag_id = 'drift_monitor__fleet' "
                "AND run_id = :run GROUP BY task_id"
            ),
            {"run": result["runs"][1]["run_id"]},
        ).all()
    slowest = max(durations, key=lambda row: row[1])
    assert slowest[0] != "render_report", durations
    assert len(triggered) == 1
    run_id, run_type, conf = triggered[0]
    conf = json.loads(conf) if isinstance(conf, str) else conf
    assert (run_id, run_type) == ("drift__fleet__20260402T000000", "operator_triggered")
    assert conf["project"] == "fleet" and conf["reason"] == "dataset_drift"
    assert conf["window_start"] == windows[1].start.isoformat()
    assert events == 3

    # re-running a window leaves the same rows and no second trigger
    before = {table: stable_rows(database.rows(table, "fleet")) for table in METRIC_TABLES}
    again = airflow.run([("drift_monitor__fleet", days[1], None)], **env)
    assert again["runs"][0]["state"] == "success"
    for table in METRIC_TABLES:
        after = stable_rows(database.rows(table, "fleet"))
        assert after == before[table], [(x, y) for x, y in zip(after, before[table], strict=False) if x != y][:2]
    assert len(database.retrain_triggers("fleet")) == 1
    # ... and no second e-mail for the same verdict, unless the run is triggered with force_notify
    assert len(inbox.messages) == 2
    assert database.window_run("fleet", windows[1].start, windows[1].end)["notification_status"] == "skipped"
    forced = airflow.run([("drift_monitor__fleet", days[1], {"force_notify": True})], **env)
    assert forced["runs"][0]["state"] == "success" and len(inbox.messages) == 3
    sent = database.notifications("fleet", windows[1].start, windows[1].end)
    assert [row["forced"] for row in sent] == [True, False]
    assert [row["airflow_run_id"] for row in sent] == [forced["runs"][0]["run_id"], result["runs"][1]["run_id"]]
    with metadata.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT count(*) FROM dag_run WHERE dag_id = 'retrain__fleet'")).scalar_one()
            == 1
        )
    database.dispose()
    reference_db.dispose()


def _index(storage: Path, names: list[str], **overrides: dict) -> None:
    projects = {
        name: {
            "status": "active",
            "schedule": "@hourly",
            "start_date": "2026-01-01",
            "catchup": True,
            "retrain_dag_id": f"retrain__{name}",
            "updated_at": "2026-01-01T00:00:00+00:00",
            **overrides.get(name, {}),
        }
        for name in names
    }
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "store.json").write_text(json.dumps({"version": 1, "projects": projects}))


PARSE = textwrap.dedent(
    """
    import runpy, sys
    namespace = runpy.run_path(sys.argv[1])
    from airflow.sdk import DAG
    heavy = [name for name in ("pandas", "scipy", "sklearn", "evidently") if name in sys.modules]
    print(sum(isinstance(value, DAG) for value in namespace.values()), ",".join(heavy) or "-")
    """
)


def test_dag_factory_given_200_projects_should_build_them_from_the_index_without_heavy_imports(
    airflow: Airflow, tmp_path: Path
) -> None:
    """Parsing reads store.json and builds DAGs; computing libraries load only inside tasks. The parse time itself is
    measured by benchmarks/dag_parse.py (timing does not belong in a unit test)."""
    storage = tmp_path / "store"
    _index(storage, [f"project-{i:03d}" for i in range(200)])
    env = airflow.environment(DRIFTING_STORAGE_URL=str(storage))
    done = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAGS / "drift_monitor.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    dags, heavy = done.stdout.split()[-2:]
    assert int(dags) == 200
    assert heavy == "-"


def test_dag_files_given_paused_and_broken_projects_should_import_cleanly_with_one_dag_per_active_project(
    airflow: Airflow, tmp_path: Path
) -> None:
    storage = tmp_path / "store"
    _index(storage, ["alpha", "beta", "gamma", "delta"], beta={"status": "paused"}, gamma={"schedule": "every tuesday"})
    result = airflow.run([], DRIFTING_STORAGE_URL=str(storage))
    assert result["import_errors"] == {}
    monitoring = [dag_id for dag_id in result["dag_ids"] if dag_id.startswith("drift_monitor__")]
    assert monitoring == ["drift_monitor__alpha", "drift_monitor__delta", "drift_monitor__gamma"]
    probe = textwrap.dedent(
        """
        import sys
        from airflow.dag_processing.dagbag import DagBag
        dag = DagBag(dag_folder=sys.argv[1]).dags["drift_monitor__gamma"]
        print(sorted(dag.tags), type(dag.timetable).__name__, "every tuesday" in (dag.doc_md or ""))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(DAGS)],
        env=airflow.environment(DRIFTING_STORAGE_URL=str(storage)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split("\n")[-2] == "['broken', 'drifting-etl'] NullTimetable True"


def test_dag_factory_given_empty_store_should_build_no_dags(airflow: Airflow, tmp_path: Path) -> None:
    result = airflow.run([], DRIFTING_STORAGE_URL=str(tmp_path / "nothing-here"))
    assert result["import_errors"] == {}
    assert [d for d in result["dag_ids"] if d.startswith("drift_monitor__")] == []


DAG_ATTRIBUTES = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print("RESULT " + json.dumps({
        dag_id: {"paused": dag.is_paused_upon_creation, "description": dag.description, "doc_md": dag.doc_md}
        for dag_id, dag in bag.dags.items()
    }))
    """
)


def _dag_attributes(airflow: Airflow, storage: Path) -> dict[str, dict[str, Any]]:
    env = airflow.environment(DRIFTING_STORAGE_URL=str(storage))
    env.pop("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION")  # Airflow's default: new DAGs start paused
    done = subprocess.run(
        [sys.executable, "-c", DAG_ATTRIBUTES, str(DAGS)], env=env, capture_output=True, text=True, check=True
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_retrain_dags_given_default_airflow_config_should_be_unpaused_on_creation_so_triggered_runs_run(
    airflow: Airflow, tmp_path: Path
) -> None:
    _index(tmp_path / "store", ["alpha", "beta"])
    dags = _dag_attributes(airflow, tmp_path / "store")
    assert {dag_id: dag["paused"] for dag_id, dag in dags.items() if dag_id.startswith("retrain__")} == {
        "retrain__alpha": False,
        "retrain__beta": False,
    }
    # monitoring DAGs keep Airflow's default: unpausing a catchup DAG runs every window since start_date
    assert dags["drift_monitor__alpha"]["paused"] is None


def test_dag_docs_given_an_index_should_describe_project_schedule_results_and_backfill_of_each_dag(
    airflow: Airflow, tmp_path: Path
) -> None:
    _index(
        tmp_path / "store",
        ["alpha", "beta"],
        beta={"schedule": "0 */6 * * *", "start_date": "2026-03-15", "catchup": False},
    )
    dags = _dag_attributes(airflow, tmp_path / "store")
    alpha, beta = dags["drift_monitor__alpha"], dags["drift_monitor__beta"]
    assert alpha["description"] == (
        "Drift, data quality and performance of project alpha: one window per '@hourly' interval since 2026-01-01, "
        "metrics into the metrics database."
    )
    for doc, name, schedule, start, first_end in (
        (alpha["doc_md"], "alpha", "@hourly", "2026-01-01", "2026-01-01T01:00:00+00:00"),
        (beta["doc_md"], "beta", "0 */6 * * *", "2026-03-15", "2026-03-15T06:00:00+00:00"),
    ):
        assert f"Monitoring of project `{name}`" in doc
        assert f"`{schedule}`" in doc and "[data_interval_start, data_interval_end)" in doc
        assert "metrics database" in doc and f"drifting://{name}/metrics" in doc and "smtp_default" in doc
        assert f"airflow backfill create --dag-id drift_monitor__{name} --from-date {start} --to-date" in doc
        assert f"/api/v2/dags/drift_monitor__{name}/dagRuns" in doc
        start_iso = f"{start}T00:00:00+00:00"
        assert f'"data_interval_start": "{start_iso}", "data_interval_end": "{first_end}"' in doc
    assert "Catchup is\non: unpausing the DAG runs every window since 2026-01-01" in alpha["doc_md"]
    assert "Catchup is\noff" in beta["doc_md"]
    retrain = dags["retrain__alpha"]
    assert (
        retrain["description"]
        == "Retrains project alpha when drift_monitor__alpha finds a breach (triggered, no schedule)."
    )
    assert "Retraining of project `alpha`" in retrain["doc_md"] and "unpaused" in retrain["doc_md"]
    assert "airflow dags trigger retrain__alpha --conf" in retrain["doc_md"]


SKOPS_IMPORT = """
import airflow.sdk  # inside a task Airflow, and its deprecated-module shims, are loaded before our code
import {module}
"""


def test_retrain_module_given_airflow_loaded_should_import_skops_without_deprecated_import_warnings(
    airflow: Airflow,
) -> None:
    def warnings_of(module: str) -> int:
        done = subprocess.run(
            [sys.executable, "-W", "default", "-c", SKOPS_IMPORT.format(module=module)],
            env=airflow.environment(PYTHONWARNINGS="default"),
            capture_output=True,
            text=True,
            check=True,
        )
        return (done.stdout + done.stderr).count("DeprecatedImportWarning")

    assert warnings_of("skops.io") > 1000  # what a task logged before: skops walking Airflow's deprecated modules
    assert warnings_of("drifting_etl.retrain.training") == 0


@pytest.mark.slow
def test_notify_task_given_no_smtp_default_connection_should_record_failed_and_fail_visibly_keeping_the_metrics(
    airflow: Airflow, tmp_path: Path, postgres_url: str
) -> None:
    storage = str(tmp_path / "store")
    register_project(tmp_path, storage, "quiet", days=2)
    MetricsDatabase(postgres_url).migrate()
    env = {"DRIFTING_STORAGE_URL": storage, "DRIFTING_DATABASE_URL": postgres_url}  # and no AIRFLOW_CONN_SMTP_DEFAULT
    # the second day drifts, so its policy (on_drift) sends an e-mail
    result = airflow.run([("drift_monitor__quiet", (START + timedelta(days=2)).isoformat(), None)], **env)

    [run] = result["runs"]
    assert run["state"] == "failed", result["output"]
    with sa.create_engine(airflow.metadata_url).connect() as connection:
        states = dict(
            connection.execute(
                sa.text("SELECT task_id, state FROM task_instance WHERE run_id = :run AND map_index = -1"),
                {"run": run["run_id"]},
            ).all()
        )
    assert states["load_metrics"] == "success" and states["render_report"] == "success"
    assert states["notify_team"] == "failed"

    database = MetricsDatabase(postgres_url)
    [monitoring_run] = database.runs("quiet")
    assert (monitoring_run["status"], monitoring_run["row_count"]) == ("success", 960)  # the metrics stay
    assert [r["drifted"] for r in database.rows("dataset_drift", "quiet")] == [True]
    assert monitoring_run["notification_status"] == "failed"
    error = monitoring_run["notification_error"]
    assert "the Airflow connection 'smtp_default' does not exist" in error
    assert "airflow connections add smtp_default --conn-type smtp" in error
    # the task log says so as an error, not as a green task
    output = result["output"]
    [logged] = [
        line for line in output.splitlines() if "[error" in line and "was not sent (recorded as 'failed'" in line
    ]
    assert "the Airflow connection 'smtp_default' does not exist" in logged
    assert "→ create it: airflow connections add smtp_default" in output
    database.dispose()


@pytest.mark.slow
def test_monitoring_dag_given_a_window_without_logs_should_record_no_data_and_succeed(
    airflow: Airflow, tmp_path: Path, postgres_url: str
) -> None:
    """A window whose plan has no partitions maps profile_partitions over nothing, which Airflow marks skipped: the
    load ran only on success of all upstream tasks, so nothing was recorded and notify_team failed the run."""
    storage = str(tmp_path / "store")
    register_project(tmp_path, storage, "empty", days=1)
    MetricsDatabase(postgres_url).migrate()
    env = {"DRIFTING_STORAGE_URL": storage, "DRIFTING_DATABASE_URL": postgres_url}
    result = airflow.run([("drift_monitor__empty", (START + timedelta(days=3)).isoformat(), None)], **env)

    [run] = result["runs"]
    assert run["state"] == "success", result["output"]
    database = MetricsDatabase(postgres_url)
    [monitoring_run] = database.runs("empty")
    assert (monitoring_run["window_start"], monitoring_run["status"]) == (START + timedelta(days=2), "no_data")
    assert monitoring_run["notification_status"] == "skipped"
    database.dispose()


@pytest.mark.slow
def test_a_cli_run_and_an_airflow_run_of_one_window_at_once_should_load_one_after_the_other_as_one_clean_run(
    airflow: Airflow, tmp_path: Path, postgres_url: str
) -> None:
    """Concurrent runs of one window, the CLI against Airflow (issue 15): the test holds the window's advisory lock
    until both loads wait for it, then lets them go; the window ends with one clean run's rows, status success."""
    import zlib

    storage = str(tmp_path / "store")
    register_project(tmp_path, storage, "both", days=1)
    MetricsDatabase(postgres_url).migrate()
    window = Window(START, START + timedelta(days=1))
    key = zlib.crc32(f"window both {window.start.isoformat()} {window.end.isoformat()}".encode())  # replace_window
    env = {"DRIFTING_STORAGE_URL": storage, "DRIFTING_DATABASE_URL": postgres_url}
    database_name = postgres_url.rsplit("/", 1)[1]
    holder = sa.create_engine(postgres_url)
    with holder.connect() as lock, holder.connect() as watch:
        lock.execute(sa.select(sa.func.pg_advisory_lock(key)))
        dag_run = airflow.start([("drift_monitor__both", window.end.isoformat(), None)], **env)
        cli = subprocess.Popen(
            [str(Path(sys.executable).parent / "drifting-etl"), "--storage", storage, "--database-url", postgres_url,
             "run", "both", "--start", window.start.isoformat(), "--end", window.end.isoformat(), "--no-report",
             "--no-notify"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        waiting: list[str] = []
        for _ in range(240):  # both loads reach the lock: Airflow's first dag.test takes a while
            watch.execute(sa.select(sa.func.pg_stat_clear_snapshot()))
            waiting = list(
                watch.execute(
                    sa.text(
                        "SELECT query FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock' "
                        "AND query LIKE '%pg_advisory_xact_lock%'"
                    ),
                    {"db": database_name},
                ).scalars()
            )
            if len(waiting) == 2 or dag_run.poll() is not None or cli.poll() is not None:
                break
            time.sleep(0.5)
        lock.execute(sa.select(sa.func.pg_advisory_unlock(key)))
        lock.commit()
    holder.dispose()
    assert len(waiting) == 2, waiting  # the two loads were inside replace_window at once
    cli_output, _ = cli.communicate(timeout=300)
    assert cli.returncode == 0, cli_output
    result = Airflow.result(dag_run)
    assert [run["state"] for run in result["runs"]] == ["success"], result["output"]

    database = MetricsDatabase(postgres_url)
    reference = MetricsDatabase(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.migrate()
    run_window(ArtifactStore(storage), reference, "both", window)
    for table in METRIC_TABLES:
        assert stable_rows(database.rows(table, "both")) == stable_rows(reference.rows(table, "both")), table
    [run] = database.runs("both")
    assert run["status"] == "success"
    database.dispose()
    reference.dispose()


def test_smtp_sink_module_given_messages_should_save_them_after_the_outbox_files_and_listen_on_loopback_only(
    tmp_path: Path,
) -> None:
    """`make airflow` runs `python -m drifting_etl.notify.sink`; the demo's messages stay, new ones follow them."""
    import smtplib
    import time

    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "001.eml").write_bytes(b"Subject: from the demo\r\n\r\nkept\r\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = subprocess.Popen(
        [sys.executable, "-m", "drifting_etl.notify.sink", "--outbox", str(outbox), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        else:
            pytest.fail("the sink did not start listening")
        with client:
            for number in (1, 2):
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = "a@example.com", "team@example.com", f"n{number}"
                message.set_content(f"body {number}")
                client.send_message(message)
        ss = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
        listening = [line.split()[3] for line in ss.splitlines() if f"pid={sink.pid}," in line]
        assert listening == [f"127.0.0.1:{port}"]
    finally:
        sink.terminate()
        output, _ = sink.communicate(timeout=30)
    assert sink.returncode == 0, output
    assert sorted(path.name for path in outbox.iterdir()) == ["001.eml", "002.eml", "003.eml"]
    parsed = [BytesParser(policy=policy.default).parsebytes((outbox / f"00{n}.eml").read_bytes()) for n in (2, 3)]
    assert [(m["Subject"], m.get_content().strip()) for m in parsed] == [("n1", "body 1"), ("n2", "body 2")]
    assert (outbox / "001.eml").read_bytes().endswith(b"kept\r\n")
    assert f"listening on 127.0.0.1:{port}" in output

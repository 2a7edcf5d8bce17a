"""Consistency of the deployment files: docker-compose.yaml, deploy/ (Dockerfile, .env.example, PostgreSQL init,
Grafana provisioning and dashboard).

There is no Docker engine in CI, so the stack is not started. Instead the files are checked against each other and
against the repository (services, mounts, variables, anchors, no hard-coded secrets), and every SQL text Grafana
would send — each panel's rawSql, the `project` variable and the retraining annotation, with Grafana's macros
substituted — is run against a real PostgreSQL metrics database migrated by `MetricsDatabase.migrate()` and filled
with a few windows written by the pipeline's own writers. deploy/postgres/init.sql is run with psql against the
local server, and the read-only Grafana role it creates is checked to read the views and not to write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml
from compose_env import COMPOSE_FILE, ENV_EXAMPLE, REPO, VARIABLE_REF, parse_env_file, resolve, service_env

from drifting_etl.load.database import MetricsDatabase
from drifting_etl.load.rows import DataQualityRow, DatasetDriftRow, FeatureDriftRow, PerformanceRow, RunRow

DEPLOY = REPO / "deploy"
DASHBOARD_FILE = DEPLOY / "grafana" / "dashboards" / "drifting-etl.json"
DATASOURCE_FILE = DEPLOY / "grafana" / "provisioning" / "datasources" / "metrics.yaml"
DASHBOARD_PROVIDER_FILE = DEPLOY / "grafana" / "provisioning" / "dashboards" / "drifting-etl.yaml"
INIT_SQL = DEPLOY / "postgres" / "init.sql"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
DATASOURCE_UID = "drifting-metrics"
PROJECT = "demo-project"
# settings that hold a secret or a URL that may carry credentials
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|ACCESS_KEY|_CONN|BROKER_URL|RESULT_BACKEND|DATABASE_URL")


# ---------------------------------------------------------------------------------------------------- helpers
def grafana_sql(sql: str) -> str:
    """A panel's rawSql as Grafana's PostgreSQL datasource would send it (fixed time range, one project)."""
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 BETWEEN '2000-01-01' AND '2100-01-01'", sql)
    sql = re.sub(r"\$__time\((\w+)\)", r"\1 AS time", sql)
    sql = sql.replace("$__timeFrom()", "'2000-01-01'").replace("$__timeTo()", "'2100-01-01'")
    sql = sql.replace("${project}", "'demo-project'").replace("$project", "'demo-project'")
    assert "$" not in sql, f"a Grafana macro or variable is left that the test does not substitute:\n{sql}"
    return sql


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, _, rest = volume.partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":")[0]))
    return mounts


def datasource_uids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        source = node.get("datasource")
        if isinstance(source, dict) and source.get("type") != "grafana":
            yield source.get("uid")
        for value in node.values():
            yield from datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasource_uids(value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


def panel_sql(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, rawSql) of every panel target, the variables' queries and the SQL annotations."""
    texts = [
        (f"panel {panel['title']!r}", target["rawSql"]) for panel in dashboard["panels"] for target in panel["targets"]
    ]
    texts += [(f"variable {v['name']!r}", v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]
    texts += [
        (f"annotation {a['name']!r}", a["target"]["rawSql"]) for a in dashboard["annotations"]["list"] if "target" in a
    ]
    return texts


# ---------------------------------------------------------------------------------------------------- compose
def test_every_service_should_have_an_image_or_a_build_whose_dockerfile_exists(services: dict[str, Any]) -> None:
    assert {"postgres", "redis", "minio", "minio-init", "mailpit", "grafana", "demo-loader"} | AIRFLOW_SERVICES <= set(
        services
    )
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name} has neither image nor build"
        build = service.get("build")
        if build is not None:
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        if service.get("image") and not build:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), f"{name}: pin the image tag"


def test_airflow_dockerfile_should_build_from_airflow_3_3_2_and_install_this_package() -> None:
    text = (DEPLOY / "airflow" / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11\s*$", text, re.MULTILINE)
    assert re.search(r"pip install .*apache-airflow==3\.3\.2", text)
    for source in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.MULTILINE):
        for path in source.split():
            assert (REPO / path).exists(), f"the Dockerfile copies {path}, which is not in the repository"
    for needed in ("pyproject.toml", "uv.lock", "drifting_etl/", "dags/", "reports/"):
        assert needed in text


def test_every_bind_mounted_host_path_should_exist(services: dict[str, Any]) -> None:
    mounts = [(name, source) for name, service in services.items() for source, _ in bind_mounts(service)]
    assert mounts
    for name, source in mounts:
        assert not source.startswith(("/", "~")), f"{name} mounts {source}, outside the repository"
        assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"


def test_every_depends_on_should_name_a_defined_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", [])
        for dependency in depends_on:
            assert dependency in services, f"{name} depends on undefined service {dependency}"
            if isinstance(depends_on, dict):
                condition = depends_on[dependency]["condition"]
                if condition == "service_healthy":
                    assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s healthcheck"
                if condition == "service_completed_successfully":
                    assert services[dependency].get("restart") == "no", f"{dependency} is one-shot"


def test_named_volumes_should_be_declared(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if not source.startswith((".", "/", "~")):
                assert source in compose.get("volumes", {}), f"{name} uses undeclared volume {source}"


def test_airflow_services_should_share_one_environment_and_image(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    anchor = compose["x-airflow-env"]
    common = compose["x-airflow-common"]
    text = COMPOSE_FILE.read_text().split("\nservices:\n", 1)[1]
    for name in [*sorted(AIRFLOW_SERVICES), "demo-loader"]:
        service = services[name]
        assert service_env(service).items() >= service_env({"environment": anchor}).items(), name
        assert service["image"] == common["image"] and service["build"] == common["build"], name
        block = re.search(rf"^  {re.escape(name)}:.*?(?=^  \S|\Z)", text, re.MULTILINE | re.DOTALL)
        assert block and "<<: *airflow-common" in block.group(), f"{name} does not use the airflow-common anchor"
    commands = {name: str(services[name].get("command")) for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    init = commands["airflow-init"]
    assert "airflow db migrate" in init and "connections add smtp_default" in init and "drifting-etl init" in init
    assert services["demo-loader"]["profiles"] == ["demo"] and "drifting-etl demo" in str(
        services["demo-loader"]["command"]
    )


def test_airflow_environment_should_point_at_defined_services(
    compose: dict[str, Any], services: dict[str, Any], env_example: dict[str, str]
) -> None:
    env = {
        key: resolve(value, env_example)
        for key, value in service_env({"environment": compose["x-airflow-env"]}).items()
    }

    def host(url: str) -> str:
        hostname = urlsplit(url).hostname
        assert hostname in services, f"{url} points at {hostname}, which is not a service"
        return hostname

    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert host(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) == "postgres"
    assert (metadata.username, metadata.password, metadata.path) == (
        env_example["POSTGRES_USER"],
        env_example["POSTGRES_PASSWORD"],
        f"/{env_example['POSTGRES_DB']}",
    )
    assert (
        env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        and host(env["AIRFLOW__CELERY__BROKER_URL"]) == "redis"
    )
    assert host(env["AIRFLOW__CELERY__RESULT_BACKEND"]) == "postgres"
    assert host(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]) == "airflow-apiserver"

    assert env["DRIFTING_STORAGE_URL"] == "s3://drifting/prod"
    bucket = urlsplit(env["DRIFTING_STORAGE_URL"]).hostname
    assert bucket == env_example["DRIFTING_BUCKET"]  # the bucket minio-init creates
    assert host(env["AWS_ENDPOINT_URL"]) == "minio"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
        env_example["MINIO_ROOT_USER"],
        env_example["MINIO_ROOT_PASSWORD"],
    )
    metrics = urlsplit(env["DRIFTING_DATABASE_URL"])
    assert metrics.scheme == "postgresql+psycopg2" and host(env["DRIFTING_DATABASE_URL"]) == "postgres"
    assert (metrics.username, metrics.password, metrics.path) == (
        env_example["METRICS_DB_USER"],
        env_example["METRICS_DB_PASSWORD"],
        f"/{env_example['METRICS_DB_NAME']}",
    )
    assert metrics.path != metadata.path, "the metrics live in their own database"

    smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert smtp["conn_type"] == "smtp" and smtp["host"] == "mailpit" and smtp["host"] in services
    assert smtp["extra"]["disable_ssl"] is True and smtp["extra"]["disable_tls"] is True
    assert env["DRIFTING_SMTP_HOST"] == "mailpit"
    assert "local/$$DRIFTING_BUCKET" in str(services["minio-init"]["command"])


def test_every_referenced_variable_should_be_in_env_example(env_example: dict[str, str]) -> None:
    referenced = set(VARIABLE_REF.findall(COMPOSE_FILE.read_text()))
    names = {name for name, _, _ in referenced}
    assert names, "docker-compose.yaml takes its settings from variables"
    missing = names - set(env_example)
    assert not missing, f"referenced in docker-compose.yaml but not in deploy/.env.example: {sorted(missing)}"
    # every variable without a default (${VAR:?...} or bare ${VAR}) has a value in the example
    for name, operator, _ in referenced:
        if not operator.endswith("-"):
            assert env_example[name], f"{name} is required but empty in deploy/.env.example"


def test_grafana_provisioning_variables_should_reach_the_grafana_container(
    services: dict[str, Any], env_example: dict[str, str]
) -> None:
    grafana_env = service_env(services["grafana"])
    for path in (DATASOURCE_FILE, DASHBOARD_PROVIDER_FILE):
        for name, _, _ in VARIABLE_REF.findall(path.read_text()):
            assert name in grafana_env, f"{path.name} uses ${{{name}}}, not set in the grafana service"
    datasource = yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"][0]
    resolved = {key: resolve(value, env_example) for key, value in grafana_env.items()}
    assert datasource["uid"] == DATASOURCE_UID and datasource["type"] == "grafana-postgresql-datasource"
    assert resolve(datasource["url"], resolved).split(":")[0] in services
    assert resolve(datasource["jsonData"]["database"], resolved) == env_example["METRICS_DB_NAME"]
    assert datasource["secureJsonData"]["password"] == "${METRICS_DB_GRAFANA_PASSWORD}"


def test_grafana_mounts_should_match_provisioning_paths(services: dict[str, Any]) -> None:
    mounts = {target: source for source, target in bind_mounts(services["grafana"])}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = yaml.safe_load(DASHBOARD_PROVIDER_FILE.read_text())["providers"][0]
    dashboards_dir = provider["options"]["path"]
    assert mounts[dashboards_dir] == "./deploy/grafana/dashboards"
    home = service_env(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_dir + "/")
    assert (REPO / mounts[dashboards_dir] / home.removeprefix(dashboards_dir + "/")).is_file()
    init_mounts = {target: source for source, target in bind_mounts(services["postgres"])}
    assert any(
        t.startswith("/docker-entrypoint-initdb.d/") and s == "./deploy/postgres/init.sql"
        for t, s in init_mounts.items()
    )


def test_no_secret_should_be_hard_coded_outside_env_example(
    compose: dict[str, Any], services: dict[str, Any], env_example: dict[str, str]
) -> None:
    # 1. secret-looking settings in compose are only ${VAR} references, never with a non-empty default
    environments = {"x-airflow-env": service_env({"environment": compose["x-airflow-env"]})}
    environments |= {name: service_env(service) for name, service in services.items()}
    for where, environment in environments.items():
        for key, value in environment.items():
            if SECRET_NAME.search(key):
                match = VARIABLE_REF.fullmatch(value)
                assert match, f"{where}: {key} is hard-coded; take it from deploy/.env (${{{key}}})"
                operator, default = match.group(2) or "", match.group(3) or ""
                assert not (operator.endswith("-") and default), f"{where}: {key} has a built-in default {default!r}"
    # 2. none of the example's secret values, and no inline URL credentials or keys, appear in any other file
    secret_values = {value for key, value in env_example.items() if re.search(r"PASSWORD|SECRET", key) and value}
    files = [COMPOSE_FILE, *(path for path in DEPLOY.rglob("*") if path.is_file() and path != ENV_EXAMPLE)]
    for path in files:
        text = path.read_text()
        for value in secret_values:
            assert value not in text, f"{path.relative_to(REPO)} contains a secret from .env.example"
        for url in re.findall(r"[a-z0-9+]+://[^\s'\"]+", text):
            password = urlsplit(url).password
            assert not password or password.startswith(("${", "…", "...", "<")), f"{path.name}: credentials in {url}"
        assert not re.search(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY", text), path.name
        assert not re.search(r"PASSWORD\s+'[^']+'", text), f"{path.name}: literal SQL password"
    # 3. the example's secrets are visibly local-only placeholders
    assert "LOCAL-ONLY" in ENV_EXAMPLE.read_text()
    for key, value in env_example.items():
        if re.search(r"PASSWORD|SECRET", key) and value:
            assert "local" in value.lower(), f"{key} in .env.example should be a marked local-only placeholder"


# ---------------------------------------------------------------------------------------------------- dashboard
def test_dashboard_should_have_the_project_variable_and_the_panels(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 39 and dashboard["uid"] and dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    project = variables["project"]
    assert project["type"] == "query" and project["datasource"]["uid"] == DATASOURCE_UID
    assert "monitoring_run" in project["query"] and project["multi"] and project["includeAll"]

    def panels(view: str) -> list[dict[str, Any]]:
        return [p for p in dashboard["panels"] if any(view in t["rawSql"] for t in p["targets"])]

    assert {p["type"] for p in panels("v_feature_drift_trend")} == {"heatmap"}
    drift_share = panels("v_dataset_drift_timeline")
    assert [p["type"] for p in drift_share] == ["timeseries"]
    assert "drift_share_threshold" in drift_share[0]["targets"][0]["rawSql"]
    assert drift_share[0]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    performance = panels("v_performance_trend")
    assert [p["type"] for p in performance] == ["timeseries"] and "threshold" in performance[0]["targets"][0]["rawSql"]
    assert panels("v_data_quality_trend") and {p["type"] for p in panels("v_data_quality_trend")} == {"timeseries"}
    assert [p["type"] for p in panels("v_projects_needing_attention")] == ["table"]
    annotations = [
        a for a in dashboard["annotations"]["list"] if "v_retraining_history" in a.get("target", {}).get("rawSql", "")
    ]
    assert len(annotations) == 1 and annotations[0]["enable"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(p.get("gridPos") for p in dashboard["panels"])


def test_every_dashboard_query_should_use_the_metrics_datasource_and_macros(dashboard: dict[str, Any]) -> None:
    assert set(datasource_uids(dashboard)) == {DATASOURCE_UID}
    for what, sql in panel_sql(dashboard):
        if what.startswith("variable"):
            continue
        assert "$project" in sql, f"{what} ignores the project variable"
        if "v_projects_needing_attention" not in sql:  # the attention table is the current state, not a range
            assert "$__timeFilter(window_start)" in sql, f"{what} ignores the dashboard's time range"


# ---------------------------------------------------------------------------------------------------- SQL on PostgreSQL
HOUR = timedelta(hours=1)


def load_window(db: MetricsDatabase, project: str, start: datetime, *, drifted: bool, breached: bool) -> None:
    """One whole window, shaped as the pipeline writes it (two numerical features, one categorical, two metrics)."""
    end = start + HOUR
    window: dict[str, Any] = {"project": project, "window_start": start, "window_end": end}
    features = [
        ("age", "numerical", "wasserstein", 0.1),
        ("income", "numerical", "ks", 0.05),
        ("region", "categorical", "jensenshannon", 0.1),
    ]
    drift_rows = []
    for feature, column_type, method, threshold in features:
        moved = drifted and feature != "age"
        score = (0.3 if moved else 0.02) if method != "ks" else (0.001 if moved else 0.6)
        drift_rows.append(
            FeatureDriftRow(
                **window,
                feature=feature,
                feature_kind="feature",
                column_type=column_type,
                method=method,
                score=score,
                statistic=None,
                threshold=threshold,
                drifted=moved,
                reference_rows=5000,
                current_rows=1000,
            )
        )
    drifted_count = sum(row.drifted for row in drift_rows)
    db.replace_window(
        RunRow(
            **window,
            status="success",
            row_count=1000,
            labelled_count=800,
            started_at=end,
            finished_at=end + timedelta(seconds=5),
            drifted=drifted,
            drift_share=drifted_count / 3,
        ),
        drift_rows,
        DatasetDriftRow(
            **window,
            drifted_count=drifted_count,
            feature_count=3,
            drift_share=drifted_count / 3,
            drift_share_threshold=0.5,
            drifted=drifted_count / 3 >= 0.5,
        ),
        [
            DataQualityRow(
                **window,
                feature=feature,
                column_type=column_type,
                row_count=1000,
                missing_count=10,
                missing_share=0.01,
                out_of_range_share=(0.2 if drifted else 0.0) if column_type == "numerical" else None,
                new_category_share=(0.1 if drifted else 0.0) if column_type == "categorical" else None,
            )
            for feature, column_type, _, _ in features
        ],
        [
            PerformanceRow(
                **window,
                metric="accuracy",
                value=0.6 if breached else 0.9,
                labelled_count=800,
                label_coverage=0.8,
                threshold=0.8,
                threshold_direction="min",
                breached=breached,
            ),
            PerformanceRow(
                **window,
                metric="roc_auc",
                value=0.85,
                labelled_count=800,
                label_coverage=0.8,
                threshold=None,
                threshold_direction=None,
                breached=False,
            ),
        ],
    )


@pytest.fixture
def metrics_db(postgres_url: str) -> Iterator[MetricsDatabase]:
    db = MetricsDatabase(postgres_url)
    db.migrate()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    starts = [now - HOUR * n for n in range(4, 0, -1)]
    for index, start in enumerate(starts):
        last = index == len(starts) - 1
        load_window(db, PROJECT, start, drifted=index >= 2, breached=last)
        load_window(db, "other-project", start, drifted=False, breached=False)
    assert db.claim_retrain_trigger(
        PROJECT,
        starts[2],
        starts[2] + HOUR,
        cooldown=timedelta(days=1),
        now=now,
        reason="dataset_drift",
        metrics={"drift_share": 0.67},
        dag_id=f"retrain__{PROJECT}",
        dag_run_id="drift__demo__1",
    )
    yield db
    db.dispose()


def test_every_dashboard_query_should_run_on_a_migrated_postgresql_database(
    dashboard: dict[str, Any], metrics_db: MetricsDatabase
) -> None:
    results: dict[str, list[dict[str, Any]]] = {}
    with metrics_db.engine.connect() as connection:
        for what, sql in panel_sql(dashboard):
            rows = [dict(row) for row in connection.execute(sa.text(grafana_sql(sql))).mappings()]
            assert rows, f"{what} returned no rows"
            results[what] = rows
            if "$__time(" in sql:
                assert all(isinstance(row["time"], datetime) for row in rows), what
            if not what.startswith("variable"):
                assert {row.get("project", PROJECT) for row in rows} == {PROJECT}, f"{what} ignores $project"

    variable = results["variable 'project'"]
    assert [row[next(iter(row))] for row in variable] == [PROJECT, "other-project"]  # every project, sorted
    heatmap = next(rows for what, rows in results.items() if "Feature drift" in what)
    assert {row["metric"] for row in heatmap} == {f"{PROJECT} / {f}" for f in ("age", "income", "region")}
    assert sum(row["value"] for row in heatmap) == 4  # income and region drifted in two windows
    attention = next(rows for what, rows in results.items() if "attention" in what)
    assert [(row["project"], row["reason"], row["breached_metrics"]) for row in attention] == [
        (PROJECT, "breached", "accuracy")
    ]
    annotation = next(rows for what, rows in results.items() if what.startswith("annotation"))
    assert len(annotation) == 1 and {"time", "timeend", "text", "tags"} <= annotation[0].keys()
    assert "retrain__demo-project" in annotation[0]["text"] and annotation[0]["timeend"] > annotation[0]["time"]


# ---------------------------------------------------------------------------------------------------- init.sql
@pytest.mark.skipif(shutil.which("psql") is None, reason="needs the psql client (PostgreSQL 15+ for \\getenv)")
def test_init_sql_should_create_the_metrics_database_and_a_read_only_grafana_role(postgres_url: str) -> None:
    admin_url = postgres_url.rsplit("/", 1)[0] + "/postgres"
    admin = sa.engine.make_url(admin_url)
    suffix = uuid.uuid4().hex[:10]
    names = {
        "METRICS_DB_NAME": f"drifting_init_{suffix}",
        "METRICS_DB_USER": f"drifting_writer_{suffix}",
        "METRICS_DB_PASSWORD": "test-only",
        "METRICS_DB_GRAFANA_USER": f"drifting_reader_{suffix}",
        "METRICS_DB_GRAFANA_PASSWORD": "test-only",
    }
    psql = [
        "psql",
        "-X",
        "-q",
        "-h",
        admin.host or "127.0.0.1",
        "-p",
        str(admin.port or 5432),
        "-U",
        admin.username or "postgres",
        "-d",
        "postgres",
    ]
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        completed = subprocess.run(
            [*psql, "-f", str(INIT_SQL)], env={**os.environ, **names}, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr

        def url(user: str) -> str:
            return str(
                admin.set(username=user, password=None, database=names["METRICS_DB_NAME"]).render_as_string(
                    hide_password=False
                )
            )

        writer = MetricsDatabase(url(names["METRICS_DB_USER"]))
        writer.migrate()  # as `drifting-etl init` does, as the metrics role
        load_window(writer, PROJECT, datetime(2026, 1, 1, tzinfo=UTC), drifted=True, breached=False)
        writer.dispose()
        reader = sa.create_engine(url(names["METRICS_DB_GRAFANA_USER"]))
        try:
            with reader.connect() as connection:
                assert connection.execute(sa.text("SELECT count(*) FROM v_dataset_drift_timeline")).scalar_one() == 1
                assert connection.execute(sa.text("SELECT count(*) FROM monitoring_run")).scalar_one() == 1
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                    connection.execute(sa.text("DELETE FROM monitoring_run"))
        finally:
            reader.dispose()
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{names["METRICS_DB_NAME"]}" WITH (FORCE)'))
            for role in (names["METRICS_DB_GRAFANA_USER"], names["METRICS_DB_USER"]):
                connection.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


@pytest.mark.slow
def test_every_dashboard_query_should_run_on_a_metrics_database_filled_by_the_demo(
    dashboard: dict[str, Any], postgres_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from drifting_etl.cli.main import main

    arguments = ["--storage", str(tmp_path / "store"), "--database-url", postgres_url]
    result = CliRunner().invoke(main, [*arguments, "demo", "--days", "4", "--end", "2026-02-09", "--no-report"])
    assert result.exit_code == 0, result.output
    database = MetricsDatabase(postgres_url)
    with database.engine.connect() as connection:
        for what, sql in panel_sql(dashboard):
            text = grafana_sql(sql).replace("'demo-project'", "'credit-default'")
            rows = connection.execute(sa.text(text)).all()
            # the CLI demo triggers no retraining (that is Airflow's), so only those panels may be empty
            assert rows or "etrain" in what, f"{what} returned no rows for the demo"
    database.dispose()

"""Dashboard query times at realistic size: one year of hourly windows for 50 projects x 30 features in PostgreSQL.

    .venv/bin/python benchmarks/bi_queries.py [--postgres postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]

Creates the database `drifting_bench_bi` (dropped first if it exists), migrates it with drifting-etl's migrations,
fills it with generate_series (about 13 M rows each in feature_drift and data_quality), then runs every query of the
Grafana dashboard (deploy/grafana/dashboards/drifting-etl.json) for one project over the last 7 and 30 days, and
prints the median of 5 runs per query. Leaves the database for inspection (`--drop` removes it).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import sqlalchemy as sa

from drifting_etl.load.database import MetricsDatabase

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "drifting-etl.json"
NAME = "drifting_bench_bi"
PROJECTS, FEATURES, HOURS = 50, 30, 365 * 24
YEAR_START = "2025-01-01 00:00:00+00"

FILL = [
    f"""INSERT INTO monitoring_run (project, window_start, window_end, status, row_count, labelled_count, started_at,
        finished_at, drifted, drift_share, reference_version)
    SELECT 'project-' || lpad(p::text, 2, '0'), w, w + interval '1 hour', 'success', 1000, 400, w + interval '1 hour',
        w + interval '1 hour 1 minute', (p + h) % 97 = 0, ((p * 7 + h) % 31) / 30.0, 'v1'
    FROM generate_series(0, {PROJECTS - 1}) p,
         generate_series(0, {HOURS - 1}) h,
         LATERAL (SELECT timestamptz '{YEAR_START}' + h * interval '1 hour' AS w) t""",
    f"""INSERT INTO feature_drift (project, window_start, window_end, feature, feature_kind, column_type, method, score,
        statistic, threshold, drifted, reference_rows, current_rows, approximate, slice_key, slice_value,
        compared_with, computed_at)
    SELECT 'project-' || lpad(p::text, 2, '0'), w, w + interval '1 hour', 'feature_' || lpad(f::text, 2, '0'),
        'feature', 'numerical', 'wasserstein', ((p * 13 + f * 7 + h) % 100) / 400.0, NULL, 0.1,
        (p * 13 + f * 7 + h) % 100 >= 40, 5000, 1000, false, '*', '*', 'reference', now()
    FROM generate_series(0, {PROJECTS - 1}) p,
         generate_series(0, {HOURS - 1}) h,
         generate_series(0, {FEATURES - 1}) f,
         LATERAL (SELECT timestamptz '{YEAR_START}' + h * interval '1 hour' AS w) t""",
    f"""INSERT INTO data_quality (project, window_start, window_end, feature, column_type, row_count, missing_count,
        missing_share, out_of_range_share, new_category_share, slice_key, slice_value, computed_at)
    SELECT 'project-' || lpad(p::text, 2, '0'), w, w + interval '1 hour', 'feature_' || lpad(f::text, 2, '0'),
        'numerical', 1000, (f + h) % 5, ((f + h) % 5) / 1000.0, ((p + f + h) % 7) / 1000.0, NULL, '*', '*', now()
    FROM generate_series(0, {PROJECTS - 1}) p,
         generate_series(0, {HOURS - 1}) h,
         generate_series(0, {FEATURES - 1}) f,
         LATERAL (SELECT timestamptz '{YEAR_START}' + h * interval '1 hour' AS w) t""",
    f"""INSERT INTO dataset_drift (project, window_start, window_end, drifted_count, feature_count, drift_share,
        drift_share_threshold, drifted, slice_key, slice_value, compared_with, computed_at)
    SELECT 'project-' || lpad(p::text, 2, '0'), w, w + interval '1 hour', (p * 7 + h) % 31, 30,
        ((p * 7 + h) % 31) / 30.0, 0.5, ((p * 7 + h) % 31) >= 15, '*', '*', 'reference', now()
    FROM generate_series(0, {PROJECTS - 1}) p,
         generate_series(0, {HOURS - 1}) h,
         LATERAL (SELECT timestamptz '{YEAR_START}' + h * interval '1 hour' AS w) t""",
    f"""INSERT INTO performance_metric (project, window_start, window_end, metric, value, labelled_count,
        label_coverage, threshold, threshold_direction, breached, estimated, slice_key, slice_value, computed_at)
    SELECT 'project-' || lpad(p::text, 2, '0'), w, w + interval '1 hour', m, 0.7 + ((p + h) % 30) / 100.0, 400, 0.4,
        CASE WHEN m = 'roc_auc' THEN 0.75 END, CASE WHEN m = 'roc_auc' THEN 'min' END,
        m = 'roc_auc' AND 0.7 + ((p + h) % 30) / 100.0 < 0.75, false, '*', '*', now()
    FROM generate_series(0, {PROJECTS - 1}) p,
         generate_series(0, {HOURS - 1}) h,
         unnest(ARRAY['accuracy', 'roc_auc']) m,
         LATERAL (SELECT timestamptz '{YEAR_START}' + h * interval '1 hour' AS w) t""",
]


def dashboard_queries() -> dict[str, str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = {panel["title"]: target["rawSql"] for panel in dashboard["panels"] for target in panel.get("targets", [])}
    for annotation in dashboard["annotations"]["list"]:
        if "target" in annotation and "rawSql" in annotation["target"]:
            queries[f"annotation: {annotation.get('name', 'retraining')}"] = annotation["target"]["rawSql"]
    queries["variable: project"] = dashboard["templating"]["list"][0]["query"]
    return queries


def as_sent(sql: str, days: int) -> str:
    """A panel's SQL as Grafana sends it for project-07 over the last `days` days of the year."""
    start = f"timestamptz '2025-12-31 23:00:00+00' - interval '{days} days'"
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN {start} AND timestamptz '2026-01-01 00:00:00+00'", sql)
    sql = re.sub(r"\$__time\((\w+)\)", r"\1 AS time", sql)
    sql = sql.replace("$__timeFrom()", start).replace("$__timeTo()", "timestamptz '2026-01-01 00:00:00+00'")
    return sql.replace("${project}", "'project-07'").replace("$project", "'project-07'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true", help="time the queries on the database a previous run filled")
    args = parser.parse_args()
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    url = args.postgres.rsplit("/", 1)[0] + f"/{NAME}"
    engine = sa.create_engine(url)
    if not args.reuse:
        fill(admin, url, engine)
    time_queries(engine)
    engine.dispose()
    if args.drop:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))


def fill(admin: sa.Engine, url: str, engine: sa.Engine) -> None:
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{NAME}"'))
    MetricsDatabase(url).migrate()
    started = time.perf_counter()
    with engine.begin() as connection:
        for statement in FILL:
            table = statement.split()[2]
            step = time.perf_counter()
            count = connection.execute(sa.text(statement)).rowcount
            print(f"filled {table:<18} {count:>11,} rows in {time.perf_counter() - step:6.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    print(f"filled and analysed in {time.perf_counter() - started:.0f} s\n")


def time_queries(engine: sa.Engine) -> None:
    print(f"{'query (project-07)':<46} {'7 days':>10} {'30 days':>10} {'rows (30 d)':>12}")
    with engine.connect() as connection:
        for title, sql in dashboard_queries().items():
            cells = []
            for days in (7, 30):
                timings = []
                for _ in range(5):
                    step = time.perf_counter()
                    rows = connection.execute(sa.text(as_sent(sql, days))).all()
                    timings.append(time.perf_counter() - step)
                cells.append(f"{statistics.median(timings) * 1000:8.1f} ms")
            print(f"{title[:46]:<46} {cells[0]:>10} {cells[1]:>10} {len(rows):>12,}", flush=True)


if __name__ == "__main__":
    main()

-- v_latest_run: the run of each project's latest window (greatest window_end, then window_start), whatever its
-- status. Created by migration 0002 (drifting_etl/migrations/versions/0002_bi_views.py); documented in sql/README.md.
-- LATERAL ... LIMIT 1 reads each project's latest run through ix_monitoring_run_project_latest instead of ranking
-- every run (SQLite text: sqlite/v_latest_run.sql).
CREATE VIEW v_latest_run AS
SELECT
    r.project,
    r.window_start,
    r.window_end,
    r.status,
    r.row_count,
    r.labelled_count,
    r.drifted,
    r.drift_share,
    r.error,
    r.report_location,
    r.notification_status,
    r.airflow_run_id,
    r.started_at,
    r.finished_at
FROM (SELECT DISTINCT project FROM monitoring_run) AS project_list
CROSS JOIN LATERAL (
    SELECT *
    FROM monitoring_run AS latest
    WHERE latest.project = project_list.project
    ORDER BY latest.window_end DESC, latest.window_start DESC
    LIMIT 1
) AS r

-- v_latest_run: the run of each project's latest window (greatest window_end, then window_start), whatever its
-- status. SQLite text (no LATERAL there); the PostgreSQL text is ../v_latest_run.sql. Created by migration 0002.
CREATE VIEW v_latest_run AS
SELECT
    project,
    window_start,
    window_end,
    status,
    row_count,
    labelled_count,
    drifted,
    drift_share,
    error,
    report_location,
    notification_status,
    airflow_run_id,
    started_at,
    finished_at
FROM (
    SELECT
        r.*,
        ROW_NUMBER() OVER (PARTITION BY r.project ORDER BY r.window_end DESC, r.window_start DESC) AS position
    FROM monitoring_run AS r
) AS ranked
WHERE position = 1

-- v_retraining_history: every retraining the monitoring triggered (one row per claimed trigger).
-- Created by migration 0002; documented in sql/README.md.
CREATE VIEW v_retraining_history AS
SELECT
    project,
    window_start,
    window_end,
    reason,
    dag_id,
    dag_run_id,
    triggered_at
FROM retrain_trigger

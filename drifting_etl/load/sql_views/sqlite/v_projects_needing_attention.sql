-- v_projects_needing_attention: one row per project that needs a look, with the most urgent reason first.
-- Reasons, most urgent first: 'failing' (latest run failed), 'never_ran' (registered, no window run yet), 'stale' (no
-- successful window recently), 'breached' (latest successful window breached a performance threshold), 'drifted'
-- (latest successful window has dataset drift, or at least one drifted feature without dataset drift).
-- Projects: those with runs and those registered in monitored_project. Stale: a project whose latest successful window
-- ended more than 2 schedule intervals (monitored_project.interval_seconds) before now, or that never succeeded;
-- this includes a latest window older than that (the schedule stopped). A project not yet in monitored_project (not
-- run since migration 0005) is measured as before: 3 lengths of its latest window. Paused projects are never 'stale'
-- nor 'never_ran'. Created by migration 0005 (0002's text: history/0002/); documented in sql/README.md.
-- SQLite text of ../v_projects_needing_attention.sql: julianday() arithmetic for 'stale', group_concat for the list.
CREATE VIEW v_projects_needing_attention AS
WITH ranked AS (
    SELECT
        r.project,
        r.window_start,
        r.window_end,
        r.status,
        r.error,
        ROW_NUMBER() OVER (PARTITION BY r.project ORDER BY r.window_end DESC, r.window_start DESC) AS position,
        ROW_NUMBER() OVER (
            PARTITION BY r.project, r.status = 'success' ORDER BY r.window_end DESC, r.window_start DESC
        ) AS success_position
    FROM monitoring_run AS r
),
latest AS (
    SELECT project, window_start, window_end, status, error FROM ranked WHERE position = 1
),
latest_success AS (
    SELECT project, window_start, window_end FROM ranked WHERE status = 'success' AND success_position = 1
),
projects AS (
    SELECT project FROM monitoring_run
    UNION
    SELECT project FROM monitored_project
),
checked AS (
    SELECT
        project_list.project,
        l.window_start AS latest_window_start,
        l.window_end AS latest_window_end,
        l.status AS latest_status,
        l.error AS latest_error,
        s.window_start AS last_success_window_start,
        s.window_end AS last_success_window_end,
        d.drifted_count,
        d.feature_count,
        d.drift_share,
        d.drift_share_threshold,
        (
            SELECT group_concat(metric, ',')
            FROM (
                SELECT p.metric
                FROM performance_metric AS p
                WHERE p.project = s.project
                    AND p.window_start = s.window_start
                    AND p.window_end = s.window_end
                    AND p.slice_key = '*'
                    AND p.slice_value = '*'
                    AND NOT p.estimated
                    AND p.breached
                ORDER BY p.metric
            ) AS breached
        ) AS breached_metrics,
        m.status,
        m.schedule,
        m.interval_seconds,
        COALESCE(l.status = 'failed', FALSE) AS is_failing,
        (l.project IS NULL AND COALESCE(m.status, 'active') <> 'paused') AS is_never_ran,
        (
            l.project IS NOT NULL
            AND COALESCE(m.status, 'active') <> 'paused'
            AND (
                s.window_end IS NULL
                OR julianday(s.window_end) < julianday('now') - CASE
                    WHEN m.interval_seconds IS NOT NULL THEN 2 * m.interval_seconds / 86400.0
                    ELSE 3 * (julianday(l.window_end) - julianday(l.window_start))
                END
            )
        ) AS is_stale,
        (COALESCE(d.drifted, FALSE) OR COALESCE(d.drifted_count, 0) > 0) AS is_drifted
    FROM projects AS project_list
    LEFT JOIN monitored_project AS m ON m.project = project_list.project
    LEFT JOIN latest AS l ON l.project = project_list.project
    LEFT JOIN latest_success AS s ON s.project = project_list.project
    LEFT JOIN dataset_drift AS d
        ON d.project = s.project
        AND d.window_start = s.window_start
        AND d.window_end = s.window_end
        AND d.slice_key = '*'
        AND d.slice_value = '*'
        AND d.compared_with = 'reference'
)
SELECT
    project,
    CASE
        WHEN is_failing THEN 'failing'
        WHEN is_never_ran THEN 'never_ran'
        WHEN is_stale THEN 'stale'
        WHEN breached_metrics IS NOT NULL THEN 'breached'
        ELSE 'drifted'
    END AS reason,
    rtrim(
        CASE WHEN is_failing THEN 'failing,' ELSE '' END
        || CASE WHEN is_never_ran THEN 'never_ran,' ELSE '' END
        || CASE WHEN is_stale THEN 'stale,' ELSE '' END
        || CASE WHEN breached_metrics IS NOT NULL THEN 'breached,' ELSE '' END
        || CASE WHEN is_drifted THEN 'drifted,' ELSE '' END,
        ','
    ) AS reasons,
    latest_window_start,
    latest_window_end,
    latest_status,
    latest_error,
    last_success_window_start,
    last_success_window_end,
    drifted_count,
    feature_count,
    drift_share,
    drift_share_threshold,
    breached_metrics,
    status,
    schedule,
    interval_seconds
FROM checked
WHERE is_failing OR is_never_ran OR is_stale OR breached_metrics IS NOT NULL OR is_drifted

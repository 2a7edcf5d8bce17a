-- v_projects_needing_attention: one row per project that needs a look, with the most urgent reason first.
-- Reasons, most urgent first: 'failing' (latest run failed), 'never_ran' (registered, no window run yet), 'stale' (no
-- successful window recently), 'breached' (latest successful window breached a performance threshold), 'drifted'
-- (latest successful window has dataset drift, or at least one drifted feature without dataset drift).
-- Projects: those with runs and those registered in monitored_project. Stale: a project whose latest successful window
-- ended more than 2 schedule intervals (monitored_project.interval_seconds) before now(), or that never succeeded;
-- this includes a latest window older than that (the schedule stopped). A project not yet in monitored_project (not
-- run since migration 0005) is measured as before: 3 lengths of its latest window. Paused projects are never 'stale'
-- nor 'never_ran'. Created by migration 0005 (0002's text: history/0002/); documented in sql/README.md.
-- SQLite text: sqlite/ (julianday, group_concat).
CREATE VIEW v_projects_needing_attention AS
WITH projects AS (
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
            SELECT string_agg(p.metric, ',' ORDER BY p.metric)
            FROM performance_metric AS p
            WHERE p.project = s.project
                AND p.window_start = s.window_start
                AND p.window_end = s.window_end
                AND p.slice_key = '*'
                AND p.slice_value = '*'
                AND NOT p.estimated
                AND p.breached
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
                OR s.window_end < now() - CASE
                    WHEN m.interval_seconds IS NOT NULL THEN 2 * m.interval_seconds * INTERVAL '1 second'
                    ELSE 3 * (l.window_end - l.window_start)
                END
            )
        ) AS is_stale,
        (COALESCE(d.drifted, FALSE) OR COALESCE(d.drifted_count, 0) > 0) AS is_drifted
    FROM projects AS project_list
    LEFT JOIN monitored_project AS m ON m.project = project_list.project
    -- LATERAL ... LIMIT 1 reads each project's latest rows through ix_monitoring_run_project_latest instead of
    -- ranking every run of every project (one year of hourly runs for 50 projects: ~10 ms instead of ~1 s)
    LEFT JOIN LATERAL (
        SELECT r.project, r.window_start, r.window_end, r.status, r.error
        FROM monitoring_run AS r
        WHERE r.project = project_list.project
        ORDER BY r.window_end DESC, r.window_start DESC
        LIMIT 1
    ) AS l ON TRUE
    LEFT JOIN LATERAL (
        SELECT r.project, r.window_start, r.window_end
        FROM monitoring_run AS r
        WHERE r.project = project_list.project AND r.status = 'success'
        ORDER BY r.window_end DESC, r.window_start DESC
        LIMIT 1
    ) AS s ON TRUE
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

-- v_performance_trend: measured (not estimated) model performance of every window over all rows (slice '*').
-- value is NULL when a window had no labels. Created by migration 0002; documented in sql/README.md.
CREATE VIEW v_performance_trend AS
SELECT
    project,
    metric,
    window_start,
    window_end,
    value,
    threshold,
    threshold_direction,
    breached,
    labelled_count,
    label_coverage
FROM performance_metric
WHERE slice_key = '*' AND slice_value = '*' AND NOT estimated

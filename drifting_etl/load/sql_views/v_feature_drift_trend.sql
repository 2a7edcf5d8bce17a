-- v_feature_drift_trend: drift of every column in every window, over all rows (slice '*') and against the
-- reference. Created by migration 0002; documented in sql/README.md.
CREATE VIEW v_feature_drift_trend AS
SELECT
    project,
    feature,
    feature_kind,
    column_type,
    window_start,
    window_end,
    method,
    score,
    threshold,
    drifted
FROM feature_drift
WHERE slice_key = '*' AND slice_value = '*' AND compared_with = 'reference'

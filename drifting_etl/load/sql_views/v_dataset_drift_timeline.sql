-- v_dataset_drift_timeline: the dataset-drift verdict of every window, over all rows (slice '*') and against the
-- reference. Created by migration 0002; documented in sql/README.md.
CREATE VIEW v_dataset_drift_timeline AS
SELECT
    project,
    window_start,
    window_end,
    drifted_count,
    feature_count,
    drift_share,
    drift_share_threshold,
    drifted
FROM dataset_drift
WHERE slice_key = '*' AND slice_value = '*' AND compared_with = 'reference'

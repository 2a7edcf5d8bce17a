-- v_data_quality_trend: missing, out-of-range and unseen-category shares of every column in every window, over all
-- rows (slice '*'). Created by migration 0002; documented in sql/README.md.
CREATE VIEW v_data_quality_trend AS
SELECT
    project,
    feature,
    column_type,
    window_start,
    window_end,
    row_count,
    missing_share,
    out_of_range_share,
    new_category_share
FROM data_quality
WHERE slice_key = '*' AND slice_value = '*'

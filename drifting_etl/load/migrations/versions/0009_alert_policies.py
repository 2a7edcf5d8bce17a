"""Alert policies: multiple testing, persistence and calibrated thresholds (`drift.multiple_testing`,
`drift.persistence`, `drift.calibration`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

feature_drift gains `threshold_source` (method, config or reference), `adjusted_score` and `multiple_testing`
(the p-value adjusted across the window's tests, which `drifted` then compares), and, with `dataset_drift`,
`drifted_windows` and `persistent` (drifted in this window and in at least `min_drifted` of the last `windows`).
monitoring_run gains `alert_policy`, the policy in words. Rows written before this revision have NULLs and
threshold_source 'method' or 'config' as the configuration said, which the revision cannot know: it writes 'method'.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FEATURE_COLUMNS = ("threshold_source", "adjusted_score", "multiple_testing", "drifted_windows", "persistent")
DATASET_COLUMNS = ("drifted_windows", "persistent")


def upgrade() -> None:
    op.add_column(
        "feature_drift", sa.Column("threshold_source", sa.String(16), nullable=False, server_default="method")
    )
    op.add_column("feature_drift", sa.Column("adjusted_score", sa.Float(), nullable=True))
    op.add_column("feature_drift", sa.Column("multiple_testing", sa.String(8), nullable=True))
    for table in ("feature_drift", "dataset_drift"):
        op.add_column(table, sa.Column("drifted_windows", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("persistent", sa.Boolean(), nullable=True))
    op.add_column("monitoring_run", sa.Column("alert_policy", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE monitoring_run DROP COLUMN alert_policy")
    for column in reversed(DATASET_COLUMNS):
        op.execute(f"ALTER TABLE dataset_drift DROP COLUMN {column}")
    for column in reversed(FEATURE_COLUMNS):
        op.execute(f"ALTER TABLE feature_drift DROP COLUMN {column}")

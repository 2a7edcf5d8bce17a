"""data_quality.alert: why a feature's data quality alerts (`alerts.data_quality` thresholds), or NULL.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

A feature alerts when its missing share rises more than `missing_share_increase` above the reference's, or more
than `out_of_range_share` of its values lie outside the reference's range, or more than `new_category_share` are
categories the reference never had. NULL in rows written before, and for features that do not alert.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("data_quality", sa.Column("alert", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE data_quality DROP COLUMN alert")

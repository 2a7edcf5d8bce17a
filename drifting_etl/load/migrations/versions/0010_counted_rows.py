"""monitoring_run.unscored_count and outside_partition_count: rows that were counted, not silently dropped.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

A row with a label whose prediction is null or NaN (for regression also ±inf) is left out of performance and
counted in unscored_count; before this revision a NaN prediction was scored as a class of its own. A row whose
timestamp lies outside its hour folder (or is null) is read into no window and counted in outside_partition_count.
`publish_status` is 'owed' from a window's load until its report and e-mail are done: a run killed in between
leaves the debt on record, and the next run (or `drifting-etl publish`) pays it. NULL in rows written before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("monitoring_run", sa.Column("unscored_count", sa.BigInteger(), nullable=True))
    op.add_column("monitoring_run", sa.Column("outside_partition_count", sa.BigInteger(), nullable=True))
    op.add_column("monitoring_run", sa.Column("publish_status", sa.String(16), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE monitoring_run DROP COLUMN publish_status")
    op.execute("ALTER TABLE monitoring_run DROP COLUMN outside_partition_count")
    op.execute("ALTER TABLE monitoring_run DROP COLUMN unscored_count")

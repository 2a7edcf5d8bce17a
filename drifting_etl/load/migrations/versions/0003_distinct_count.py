"""data_quality.distinct_count: distinct categories of a categorical column in the window.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Exact while the window has at most 10 000 unseen categories, estimated with a HyperLogLog sketch beyond (about
1.6% standard error). NULL for numerical columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("data_quality", sa.Column("distinct_count", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE data_quality DROP COLUMN distinct_count")

"""data_quality.non_finite_count: +inf and -inf values of a numerical column in the window.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

They are left out of drift (as Evidently does) and were not stored anywhere: now they are counted here, apart from
`missing_count` (NaN and null). NULL for categorical columns and in rows written before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("data_quality", sa.Column("non_finite_count", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE data_quality DROP COLUMN non_finite_count")

"""monitoring_run.quarantined_files, quarantined_file_count and duplicate_count.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

With `extract.max_bad_file_share` a log file that cannot be read as the project's logs is left out of its window
instead of failing it: quarantined_files names each (`path: reason`, one per line), quarantined_file_count counts
them. A row whose request id an earlier row of its hour partition already has is a duplicate: left out of every
figure and counted in duplicate_count. NULL in rows written before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("monitoring_run", sa.Column("quarantined_files", sa.Text(), nullable=True))
    op.add_column("monitoring_run", sa.Column("quarantined_file_count", sa.BigInteger(), nullable=True))
    op.add_column("monitoring_run", sa.Column("duplicate_count", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE monitoring_run DROP COLUMN duplicate_count")
    op.execute("ALTER TABLE monitoring_run DROP COLUMN quarantined_file_count")
    op.execute("ALTER TABLE monitoring_run DROP COLUMN quarantined_files")

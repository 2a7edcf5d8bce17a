"""data_quality.type_mismatch_count and monitoring_run.warnings: silent cases made visible (issue 13, defect 8).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

`type_mismatch_count`: values of a numerical column that were logged with another type (numbers sent as strings);
those that parse as numbers are used, the others count as missing. Always 0 for categorical columns (a value of any
type is a category); NULL in rows written before this revision. `warnings`: what
a successful run wants its reader to know (a declared `prediction_proba` never logged, values logged with the wrong
type), one per line; NULL when there is nothing to say.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("data_quality", sa.Column("type_mismatch_count", sa.BigInteger(), nullable=True))
    op.add_column("monitoring_run", sa.Column("warnings", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    op.execute("ALTER TABLE monitoring_run DROP COLUMN warnings")
    op.execute("ALTER TABLE data_quality DROP COLUMN type_mismatch_count")

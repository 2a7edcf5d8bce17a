"""feature_drift.score_low / score_high / refined / constant_reference: certified verdicts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Every score now carries an interval that contains the exact score (zero-width when it was computed exactly);
`refined` says the engine computed the column exactly in a second pass because the interval contained the
threshold, and `constant_reference` that the reference column holds a single value (Wasserstein is then normed by
0.001, as Evidently does). Intervals are NULL in rows written before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("score_low", "score_high", "refined", "constant_reference")


def upgrade() -> None:
    op.add_column("feature_drift", sa.Column("score_low", sa.Float(), nullable=True))
    op.add_column("feature_drift", sa.Column("score_high", sa.Float(), nullable=True))
    op.add_column("feature_drift", sa.Column("refined", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column(
        "feature_drift", sa.Column("constant_reference", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 has it): a batch copy of the table would break the views reading it.
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE feature_drift DROP COLUMN {column}")

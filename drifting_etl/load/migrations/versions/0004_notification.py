"""notification: the e-mails sent about each window, so a re-run with the same verdict is not e-mailed again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

One row per e-mail that was sent (failed sends stay on monitoring_run.notification_status/_error). `verdict` is
the text the send policy compares (`notify.policy.verdict_of`): run status, dataset drift, drifted features and
breached metrics. Re-running a window does not delete these rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("airflow_run_id", sa.String(250), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
    )
    op.create_index("ix_notification_project_window_start", "notification", ["project", "window_start"])


def downgrade() -> None:
    op.drop_index("ix_notification_project_window_start", table_name="notification")
    op.drop_table("notification")

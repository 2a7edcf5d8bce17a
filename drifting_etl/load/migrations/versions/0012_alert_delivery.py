"""alert_delivery: every alert to a project's channels (Slack, signed webhooks), so an event is sent once per window.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

One row per (channel, event) each time a window is published: `status` sent, failed (after `attempts` POSTs; the
receiver's last HTTP status in `http_status`, why in `error`) or skipped (`reason`: sent before, not forced). An
event whose channel has a `sent` row is not sent to it again unless forced. Re-running a window does not delete
these rows. URLs and secrets are never stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("channel", sa.String(63), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("airflow_run_id", sa.String(250), nullable=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_delivery"),
        sa.CheckConstraint("event IN ('drift', 'breach', 'quality', 'failed')", name="ck_alert_delivery_event"),
        sa.CheckConstraint("status IN ('sent', 'failed', 'skipped')", name="ck_alert_delivery_status"),
    )
    op.create_index("ix_alert_delivery_project_window_start", "alert_delivery", ["project", "window_start"])


def downgrade() -> None:
    op.drop_index("ix_alert_delivery_project_window_start", table_name="alert_delivery")
    op.drop_table("alert_delivery")

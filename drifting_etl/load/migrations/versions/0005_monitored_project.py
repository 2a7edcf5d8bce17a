"""monitored_project: the registered projects, and v_projects_needing_attention re-created on it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

One row per project (`project` is the key): its schedule, the schedule's interval length in seconds (the longest gap
between two ticks, `core.window.schedule_interval`), its status ('active' or 'paused') and when it was first and
last recorded (UTC). `MetricsDatabase.record_project` upserts it when a project is registered, paused or resumed, and
on every run of a window, so a project registered before this revision appears after its next run.

The view then also lists registered projects that never ran ('never_ran'), measures 'stale' by two schedule
intervals, counts drifted features without dataset drift as 'drifted', and reports no paused project as stale.
Its text is the current sql_views/v_projects_needing_attention.sql (and sqlite/); a later change to that file must
keep this revision's text in sql_views/history/0005/ and read it from there, as 0002 does.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "v_projects_needing_attention"


def _view_sql(dialect: str, *, history: str | None = None) -> str:
    """The view's `CREATE VIEW` text for `dialect`: the current one, or revision `history`'s (sql_views/history/)."""
    folder = files("drifting_etl.load").joinpath("sql_views")
    if history is not None:
        folder = folder.joinpath("history", history)
    specific = folder.joinpath(dialect, f"{VIEW}.sql")
    source = specific if specific.is_file() else folder.joinpath(f"{VIEW}.sql")
    return source.read_text(encoding="utf-8").strip().removesuffix(";")


def upgrade() -> None:
    op.create_table(
        "monitored_project",
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", name="pk_monitored_project"),
        sa.CheckConstraint("status IN ('active', 'paused')", name="ck_monitored_project_status"),
    )
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(_view_sql(op.get_context().dialect.name))


def downgrade() -> None:
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(_view_sql(op.get_context().dialect.name, history="0002"))
    op.drop_table("monitored_project")

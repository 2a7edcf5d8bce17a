"""BI views: the documented read-only views dashboards point at (`v_latest_run`, `v_projects_needing_attention`, …).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The view texts are SQL files shipped inside the package, in `drifting_etl/load/sql_views/<view>.sql` (PostgreSQL dialect,
one `CREATE VIEW` statement per file), with `drifting_etl/load/sql_views/sqlite/<view>.sql` where SQLite needs a
different text. They live in the package, not in the repository's `sql/` folder, so the same path works from a
checkout and from an installed wheel; `sql/README.md` documents every view.

Migrations are frozen history, but this one reads files that may be edited later. The rule that keeps it honest:
a later change to a view is a new revision that drops and re-creates the view from a new file (or from text kept in
that revision), and the text 0002 reads must keep depending only on the 0001 tables. When a later revision changes a
view's current text (`SUPERSEDED`), 0002's own text of it is kept in `sql_views/history/0002/` and read from there:
0005 re-created `v_projects_needing_attention` on its `monitored_project` table.

Views are not tables: Alembic's autogenerate ignores them, so `alembic check` still compares only the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Creation order; dropped in reverse. Each view reads tables only, never another view.
VIEWS: tuple[str, ...] = (
    "v_latest_run",
    "v_feature_drift_trend",
    "v_dataset_drift_timeline",
    "v_performance_trend",
    "v_data_quality_trend",
    "v_retraining_history",
    "v_projects_needing_attention",
)


# Views whose current text reads tables of a later revision: created here from sql_views/history/0002/.
SUPERSEDED: frozenset[str] = frozenset({"v_projects_needing_attention"})


def view_sql(name: str, dialect: str, *, history: str | None = None) -> str:
    """The `CREATE VIEW` text of `name` for `dialect` ('postgresql' or 'sqlite'): the current one, or with `history`
    the text revision `history` created (kept in sql_views/history/<history>/)."""
    folder = files("drifting_etl.load").joinpath("sql_views")
    if history is not None:
        folder = folder.joinpath("history", history)
    specific = folder.joinpath(dialect, f"{name}.sql")
    source = specific if specific.is_file() else folder.joinpath(f"{name}.sql")
    return source.read_text(encoding="utf-8").strip().removesuffix(";")


def upgrade() -> None:
    # each project's latest (successful) run, looked up by v_projects_needing_attention and v_latest_run
    op.create_index("ix_monitoring_run_project_latest", "monitoring_run", ["project", "window_end", "window_start"])
    dialect = op.get_context().dialect.name
    for name in VIEWS:
        op.execute(view_sql(name, dialect, history="0002" if name in SUPERSEDED else None))


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index("ix_monitoring_run_project_latest", table_name="monitoring_run")

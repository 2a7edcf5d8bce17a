"""Initial schema: monitoring runs, feature/dataset drift, data quality, performance, retrain triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Migrations are frozen history: column types are spelled out here rather than imported from
drifting_etl.load.tables, whose definitions will keep moving. Every timestamp is TIMESTAMP WITH TIME ZONE
(text in UTC on SQLite). slice_key/slice_value ('*' = all rows) and compared_with ('reference') are in the
unique keys so per-slice and previous-window metrics fit later without a schema rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _id_and_window(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _slices(*, compared_with: bool) -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = [
        sa.Column("slice_key", sa.Text(), nullable=False, server_default="*"),
        sa.Column("slice_value", sa.Text(), nullable=False, server_default="*"),
    ]
    if compared_with:
        columns.append(sa.Column("compared_with", sa.Text(), nullable=False, server_default="reference"))
    columns.append(sa.Column("computed_at", TIMESTAMP, nullable=False, server_default=sa.func.now()))
    return columns


def _trend_index(table: str) -> None:
    op.create_index(f"ix_{table}_project_window_start", table, ["project", "window_start"])


def upgrade() -> None:
    op.create_table(
        "monitoring_run",
        *_id_and_window("monitoring_run"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("labelled_count", sa.BigInteger(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=True),
        sa.Column("drift_share", sa.Float(), nullable=True),
        sa.Column("reference_version", sa.Text(), nullable=True),
        sa.Column("report_location", sa.Text(), nullable=True),
        sa.Column("notification_status", sa.String(16), nullable=True),
        sa.Column("notification_error", sa.Text(), nullable=True),
        sa.Column("airflow_run_id", sa.String(250), nullable=True),
        sa.UniqueConstraint("project", "window_start", "window_end", name="uq_monitoring_run_window"),
        sa.CheckConstraint("status IN ('success', 'failed', 'no_data')", name="ck_monitoring_run_status"),
    )

    op.create_table(
        "feature_drift",
        *_id_and_window("feature_drift"),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("feature_kind", sa.String(16), nullable=False),
        sa.Column("column_type", sa.String(16), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("reference_rows", sa.BigInteger(), nullable=False),
        sa.Column("current_rows", sa.BigInteger(), nullable=False),
        sa.Column("approximate", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_slices(compared_with=True),
        sa.UniqueConstraint(
            "project",
            "window_start",
            "window_end",
            "slice_key",
            "slice_value",
            "compared_with",
            "feature",
            name="uq_feature_drift_key",
        ),
        sa.CheckConstraint("feature_kind IN ('feature', 'prediction')", name="ck_feature_drift_feature_kind"),
        sa.CheckConstraint("column_type IN ('numerical', 'categorical')", name="ck_feature_drift_column_type"),
    )
    _trend_index("feature_drift")

    op.create_table(
        "dataset_drift",
        *_id_and_window("dataset_drift"),
        sa.Column("drifted_count", sa.BigInteger(), nullable=False),
        sa.Column("feature_count", sa.BigInteger(), nullable=False),
        sa.Column("drift_share", sa.Float(), nullable=False),
        sa.Column("drift_share_threshold", sa.Float(), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        *_slices(compared_with=True),
        sa.UniqueConstraint(
            "project",
            "window_start",
            "window_end",
            "slice_key",
            "slice_value",
            "compared_with",
            name="uq_dataset_drift_key",
        ),
    )
    _trend_index("dataset_drift")

    op.create_table(
        "data_quality",
        *_id_and_window("data_quality"),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("column_type", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("missing_count", sa.BigInteger(), nullable=False),
        sa.Column("missing_share", sa.Float(), nullable=False),
        sa.Column("out_of_range_share", sa.Float(), nullable=True),
        sa.Column("new_category_share", sa.Float(), nullable=True),
        *_slices(compared_with=False),
        sa.UniqueConstraint(
            "project",
            "window_start",
            "window_end",
            "slice_key",
            "slice_value",
            "feature",
            name="uq_data_quality_key",
        ),
        sa.CheckConstraint("column_type IN ('numerical', 'categorical')", name="ck_data_quality_column_type"),
    )
    _trend_index("data_quality")

    op.create_table(
        "performance_metric",
        *_id_and_window("performance_metric"),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("labelled_count", sa.BigInteger(), nullable=False),
        sa.Column("label_coverage", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("threshold_direction", sa.String(8), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_slices(compared_with=False),
        sa.UniqueConstraint(
            "project",
            "window_start",
            "window_end",
            "slice_key",
            "slice_value",
            "metric",
            "estimated",
            name="uq_performance_metric_key",
        ),
        sa.CheckConstraint(
            "threshold_direction IS NULL OR threshold_direction IN ('min', 'max')",
            name="ck_performance_metric_threshold_direction",
        ),
    )
    _trend_index("performance_metric")

    op.create_table(
        "retrain_trigger",
        *_id_and_window("retrain_trigger"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("metrics", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("dag_run_id", sa.String(250), nullable=True),
        sa.Column("triggered_at", TIMESTAMP, nullable=False),
    )
    _trend_index("retrain_trigger")


def downgrade() -> None:
    for table in ("retrain_trigger", "performance_metric", "data_quality", "dataset_drift", "feature_drift"):
        op.drop_index(f"ix_{table}_project_window_start", table_name=table)
        op.drop_table(table)
    op.drop_table("monitoring_run")

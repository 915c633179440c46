"""Add metric rollups: the step range and value extremes of every 1024 steps.

The rows of metrics logged before this revision are computed here, in one
pass over the metrics table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-21 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Kept here rather than imported, so this revision stays as it was written.
ROLLUP_STEPS = 1024


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=False),
        sa.Column("max_step", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "key", "bucket"),
    )
    op.execute(_backfill(op.get_bind().dialect.name))


def _backfill(dialect: str) -> str:
    """Return the INSERT … SELECT that summarises the stored points.

    The bucket rounds down for negative steps as well: the step minus its
    non-negative remainder divides exactly. PostgreSQL keeps NaN as a value,
    so it is turned into NULL there to stay out of the extremes; SQLite
    already stores NaN as NULL.
    """
    size = ROLLUP_STEPS
    bucket = f"(step - ((step % {size}) + {size}) % {size}) / {size}"
    value = "NULLIF(value, 'NaN'::float8)" if dialect == "postgresql" else "value"
    return (
        "INSERT INTO metric_rollups (run_id, key, bucket, min_step, max_step,"
        " min_value, max_value, points)"
        f" SELECT run_id, key, {bucket}, MIN(step), MAX(step),"
        f" MIN({value}), MAX({value}), COUNT(*)"
        f" FROM metrics GROUP BY run_id, key, {bucket}"
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")

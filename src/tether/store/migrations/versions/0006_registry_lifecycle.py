"""Add version status, description, tags, trust, deletion marks and test results.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(
            sa.Column(
                "status",
                sa.String(length=20),
                nullable=False,
                server_default="candidate",
            )
        )
        batch.add_column(
            sa.Column("description", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "trusted", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(
            sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("test_suite", sa.JSON(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "model_version_tags",
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("version_id", "key"),
    )
    op.create_table(
        "model_test_results",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=250), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("required_passed", sa.Boolean(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_model_test_results_version",
        "model_test_results",
        ["version_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_model_test_results_version", table_name="model_test_results")
    op.drop_table("model_test_results")
    op.drop_table("model_version_tags")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("test_suite")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("trusted")
        batch.drop_column("description")
        batch.drop_column("status")

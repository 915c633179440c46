"""Add tags to dataset versions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_version_tags",
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["dataset_versions.id"]),
        sa.PrimaryKeyConstraint("version_id", "key"),
    )
    op.create_index(
        "ix_dataset_version_tags_key", "dataset_version_tags", ["key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_dataset_version_tags_key", table_name="dataset_version_tags")
    op.drop_table("dataset_version_tags")

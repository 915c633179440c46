"""Add the team server's accounts: workspaces, users, API tokens and memberships.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 00:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    workspaces = op.create_table(
        "workspaces",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user"], ["users.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_tokens_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_user", "api_tokens", ["user"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("workspace", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user"], ["users.name"]),
        sa.ForeignKeyConstraint(["workspace"], ["workspaces.name"]),
        sa.PrimaryKeyConstraint("user", "workspace"),
    )
    op.create_index(
        "ix_memberships_workspace", "memberships", ["workspace"], unique=False
    )
    # The default workspace is the server's own store, so it always exists.
    op.bulk_insert(
        workspaces,
        [
            {
                "name": "default",
                "description": "The server's own store.",
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_memberships_workspace", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index("ix_api_tokens_user", table_name="api_tokens")
    op.drop_index("ix_api_tokens_hash", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("workspaces")

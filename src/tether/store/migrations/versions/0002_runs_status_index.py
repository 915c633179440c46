"""Index runs by status.

Every process that starts a run looks for runs left RUNNING by dead
processes. Without this index that query reads every run in the store.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_status", "runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_runs_status", table_name="runs")

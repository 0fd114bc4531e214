"""A project's own monthly budget and retention.

Revision ID: b7d2e4f6a8c1
Revises: a5c9e2d7b3f1
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d2e4f6a8c1"
down_revision: str | None = "a5c9e2d7b3f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("monthly_budget_usd", sa.Float(), nullable=True))
    op.add_column("projects", sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("projects", "retention_days")
    op.drop_column("projects", "monthly_budget_usd")

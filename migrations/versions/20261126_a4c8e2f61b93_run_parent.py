"""runs.parent_id: the run a replay was made from

`POST /runs/{id}/replay` makes a new run with the prompts (and by default the contenders) of
another; `parent_id` names that run (SET NULL when it is deleted). `GET /runs?parent=ID` lists
a run's replays, newest first, through `ix_runs_parent_id` in that order.

Revision ID: a4c8e2f61b93
Revises: f3c8a1d5b7e9
Create Date: 2026-11-26 11:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c8e2f61b93"
down_revision: str | None = "f3c8a1d5b7e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("parent_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_runs_parent_id_runs"), "runs", "runs", ["parent_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index(
        "ix_runs_parent_id",
        "runs",
        ["parent_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("parent_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_parent_id", table_name="runs")
    op.drop_constraint(op.f("fk_runs_parent_id_runs"), "runs", type_="foreignkey")
    op.drop_column("runs", "parent_id")

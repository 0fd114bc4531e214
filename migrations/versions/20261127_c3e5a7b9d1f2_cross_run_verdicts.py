"""votes.other_run_id, judgements.other_run_id: verdicts on two runs' paired answers

A diff's win rate of run b over run a (`GET /runs/{a}/diff/{b}`) counts votes and judgements
that compare an answer of one run with its paired answer in the other; `other_run_id` names
the run of the `b` side (null: both answers are of one run, as before). Deleting either run
deletes them. Partial indexes: only cross-run rows are looked up by it.

Revision ID: c3e5a7b9d1f2
Revises: c4e8a2f6d0b3
Create Date: 2026-11-26 15:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e5a7b9d1f2"
down_revision: str | None = "c4e8a2f6d0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("votes", "judgements")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("other_run_id", sa.UUID(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_other_run_id_runs"),
            table,
            "runs",
            ["other_run_id"],
            ["id"],
            ondelete="CASCADE",
        )
        op.create_index(
            f"ix_{table}_other_run_id",
            table,
            ["other_run_id"],
            postgresql_where=sa.text("other_run_id IS NOT NULL"),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_other_run_id", table_name=table)
        op.drop_constraint(op.f(f"fk_{table}_other_run_id_runs"), table, type_="foreignkey")
        op.drop_column(table, "other_run_id")

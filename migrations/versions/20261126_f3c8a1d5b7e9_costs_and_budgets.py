"""costs and budgets

Each answer's cost (`responses.cost_usd`), a budgeted run's worst case per pair
(`responses.max_cost_usd`), a run's cost and budget (`runs.cost_usd`, `runs.budget_usd`),
ix_runs_cost_usd_id for listing runs by cost, and ix_responses_budgeted_in_flight for the
claims of budgeted runs. Runs stored before have no cost (NULL: unknown).

Revision ID: f3c8a1d5b7e9
Revises: a4c8e2f61b07
Create Date: 2026-11-26 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3c8a1d5b7e9"
down_revision: str | None = "a4c8e2f61b07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and without defaults: adding them rewrites no row.
    op.add_column("responses", sa.Column("cost_usd", sa.Float(), nullable=True))
    op.add_column("responses", sa.Column("max_cost_usd", sa.Float(), nullable=True))
    op.add_column("runs", sa.Column("cost_usd", sa.Float(), nullable=True))
    op.add_column("runs", sa.Column("budget_usd", sa.Float(), nullable=True))
    op.create_index(
        "ix_runs_cost_usd_id",
        "runs",
        [sa.text("cost_usd DESC"), sa.text("id DESC")],
        unique=False,
        postgresql_where=sa.text("cost_usd IS NOT NULL"),
    )
    op.create_index(
        "ix_responses_budgeted_in_flight",
        "responses",
        ["run_id"],
        unique=False,
        postgresql_where=sa.text("status = 'running' AND max_cost_usd IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_responses_budgeted_in_flight", table_name="responses")
    op.drop_index("ix_runs_cost_usd_id", table_name="runs")
    op.drop_column("runs", "budget_usd")
    op.drop_column("runs", "cost_usd")
    op.drop_column("responses", "max_cost_usd")
    op.drop_column("responses", "cost_usd")

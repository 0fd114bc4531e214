"""indexes that need no statistics

The queue is ordered by (created_at, id), which only ix_responses_queued provides, so the
planner can no longer walk the primary key past every answered row to find queued ones.
ix_responses_run_id_status becomes ix_responses_unfinished: only the pairs still to do, keyed
on finished_at, which no queue query and no reader of a run's answers mentions, so none of
them is offered an index it would have to read in full. A check constraint makes sure every
pending pair is unfinished.

Revision ID: cb4152d3d64a
Revises: d25bdd8fe9bb
Create Date: 2026-11-26 06:51:59.181111+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cb4152d3d64a"
down_revision: str | None = "d25bdd8fe9bb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_check_constraint(
        op.f("ck_responses_pending_is_unfinished"),
        "responses",
        "finished_at IS NULL OR NOT status IN ('queued', 'running')",
    )
    op.drop_index("ix_responses_run_id_status", table_name="responses")
    op.drop_index("ix_responses_queued", table_name="responses")
    op.create_index(
        "ix_responses_queued",
        "responses",
        ["model", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_responses_unfinished",
        "responses",
        ["run_id"],
        unique=False,
        postgresql_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_responses_unfinished", table_name="responses")
    op.drop_index("ix_responses_queued", table_name="responses")
    op.create_index(
        "ix_responses_queued",
        "responses",
        ["model", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index("ix_responses_run_id_status", "responses", ["run_id", "status"], unique=False)
    op.drop_constraint(op.f("ck_responses_pending_is_unfinished"), "responses", type_="check")

"""The prompts' search index without a pending list: new prompts go straight into it

With `fastupdate` on (e3a5af2ce945 kept it, its list within 64 kB), new rows wait in a search
index's pending list until it is merged, and every scan of the index reads the whole list and
matches each of its rows against the query. A search probes a run's prompts first, for each
run it lists, so each probe went through the prompts of the runs accepted last: about a third
of what a search first asked cost the database. Prompts are written once, when their run is
accepted, so adding them to the index at once costs little; answers, written all the time,
keep their list (merged in bulk, cheaper for the writer).

Revision ID: a7f3c9e1b5d2
Revises: 9d4b6e2a1c73
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a7f3c9e1b5d2"
down_revision: str | None = "9d4b6e2a1c73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER INDEX ix_prompts_search SET (fastupdate = off)")
    op.execute("ALTER INDEX ix_prompts_search RESET (gin_pending_list_limit)")
    # Turning it off leaves the rows already pending there (until a vacuum): merge them.
    op.execute("SELECT gin_clean_pending_list('ix_prompts_search'::regclass)")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_prompts_search RESET (fastupdate)")
    op.execute("ALTER INDEX ix_prompts_search SET (gin_pending_list_limit = 64)")

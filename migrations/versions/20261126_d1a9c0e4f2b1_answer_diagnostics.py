"""answer diagnostics

Each answer's diagnostics (app/diagnostics.py): its flags, repetition, prompt overlap and
words, and the version of the rules that computed them. The dispatcher writes them with each
answer from now on; answers stored before stay NULL until `llm-compare diagnose` computes
them, in batches, without holding up this migration. ix_responses_flagged finds a run's
prompts with a flagged answer.

Revision ID: d1a9c0e4f2b1
Revises: cb4152d3d64a
Create Date: 2026-11-26 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d1a9c0e4f2b1"
down_revision: str | None = "cb4152d3d64a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and without defaults: adding them rewrites no row.
    op.add_column("responses", sa.Column("flags", postgresql.ARRAY(sa.Text()), nullable=True))
    op.add_column("responses", sa.Column("repetition", sa.Float(), nullable=True))
    op.add_column("responses", sa.Column("prompt_overlap", sa.Float(), nullable=True))
    op.add_column("responses", sa.Column("words", sa.Integer(), nullable=True))
    op.add_column("responses", sa.Column("diagnostics_version", sa.SmallInteger(), nullable=True))
    op.create_index(
        "ix_responses_flagged",
        "responses",
        ["run_id", "prompt_position"],
        unique=False,
        postgresql_where=sa.text("flags <> '{}'"),
    )


def downgrade() -> None:
    op.drop_index("ix_responses_flagged", table_name="responses")
    op.drop_column("responses", "diagnostics_version")
    op.drop_column("responses", "words")
    op.drop_column("responses", "prompt_overlap")
    op.drop_column("responses", "repetition")
    op.drop_column("responses", "flags")
